package server

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
)

// challengeTTL is how long a login handshake or recovery challenge stays open.
const challengeTTL = 2 * time.Minute

// Bounds on opaque blobs, so a client cannot make the server store junk of
// any size.
const (
	maxSealedKeys  = 4096
	maxBundle      = 8192
	maxDeviceName  = 100
	unlockKeySize  = 32
	challengeBytes = 32
)

func toMetaCreds(c api.Credentials) meta.Credentials {
	return meta.Credentials{
		Salt: c.Salt, Verifier: c.Verifier, SealedKeys: c.SealedKeys, Epoch: c.Epoch, KDF: metaKDF(c.KDF),
	}
}

func metaKDF(k api.KDF) meta.KDF {
	return meta.KDF{MemoryKiB: k.MemoryKiB, Iterations: k.Iterations, Parallelism: k.Parallelism}
}

func kdfParams(k api.KDF) crypto.KDFParams {
	return crypto.KDFParams{MemoryKiB: k.MemoryKiB, Iterations: k.Iterations, Parallelism: k.Parallelism}
}

func apiKDF(k meta.KDF) api.KDF {
	return api.KDF{Alg: api.KDFArgon2id, MemoryKiB: k.MemoryKiB, Iterations: k.Iterations, Parallelism: k.Parallelism}
}

// checkCredentials validates new credentials. The server cannot check that
// they match a password (it never sees one) but refuses malformed or weak
// ones, so a buggy client cannot lock its user out.
func (s *Server) checkCredentials(c api.Credentials, wantEpoch uint32) error {
	if err := checkKDF(c.Salt, c.KDF); err != nil {
		return err
	}
	if len(c.Verifier) != s.group.Size() {
		return badRequest("verifier must be %d bytes", s.group.Size())
	}
	if len(c.SealedKeys) == 0 || len(c.SealedKeys) > maxSealedKeys {
		return badRequest("sealed keys must be 1 to %d bytes", maxSealedKeys)
	}
	if c.Epoch != wantEpoch {
		return badRequest("credential epoch must be %d", wantEpoch)
	}
	return nil
}

// checkKDF refuses a salt and Argon2id parameters that clients would
// refuse: outside the floor and ceiling of docs/crypto.md §3, which
// accounts and links share.
func checkKDF(salt []byte, k api.KDF) error {
	if len(salt) != crypto.SaltSize {
		return badRequest("salt must be %d bytes", crypto.SaltSize)
	}
	if k.Alg != api.KDFArgon2id {
		return badRequest("unsupported KDF %q; want %q", k.Alg, api.KDFArgon2id)
	}
	if err := kdfParams(k).Check(); err != nil {
		return badRequest("KDF parameters: %v", err)
	}
	return nil
}

func (s *Server) handleSignup(w http.ResponseWriter, r *http.Request) {
	var req api.SignupRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := api.CheckUserName(req.User); err != nil {
		s.writeError(w, r, badRequest("%v", err))
		return
	}
	if err := s.checkCredentials(req.Credentials, 1); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.RecoverySealedKeys) == 0 || len(req.RecoverySealedKeys) > maxSealedKeys {
		s.writeError(w, r, badRequest("recovery sealed keys must be 1 to %d bytes", maxSealedKeys))
		return
	}
	if err := crypto.CheckEd25519PublicKey(req.RecoveryAuthPub); err != nil {
		s.writeError(w, r, badRequest("recovery auth key: %v", err))
		return
	}
	if len(req.PublicBundle) > maxBundle {
		s.writeError(w, r, badRequest("public bundle is too large"))
		return
	}
	// Sign-ups are counted per IP like failed logins, so one address
	// cannot mass-register (or squat) names.
	if err := s.charge(r.Context(), s.signupKeys(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Clients verify bundles themselves; checking here only keeps a broken
	// client from publishing one nobody can use.
	if _, err := crypto.OpenBundle(req.PublicBundle, req.User); err != nil {
		s.writeError(w, r, badRequest("public bundle: %v", err))
		return
	}
	u := &meta.User{
		Name: req.User, CreatedAt: s.now(), Credentials: toMetaCreds(req.Credentials),
		RecoverySealedKeys: req.RecoverySealedKeys, RecoveryAuthPub: req.RecoveryAuthPub, PublicBundle: req.PublicBundle,
	}
	id, err := s.store.CreateUser(r.Context(), u)
	if err != nil {
		if errors.Is(err, meta.ErrExists) {
			s.writeError(w, r, &httpError{status: http.StatusConflict, code: api.CodeConflict, message: fmt.Sprintf("user name %q is taken", req.User)})
			return
		}
		s.writeError(w, r, fmt.Errorf("create user: %w", err))
		return
	}
	// The numeric ID, not the name: names are personal data, and a log
	// travels further than the database.
	s.log.InfoContext(r.Context(), "account created", "user_id", id)
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// fake derives n stable pseudo-random bytes for a name that holds no
// account, so that answers for it look like those for a real account and
// stay the same across requests and instances.
func (s *Server) fake(label, name string, n int) []byte {
	b, err := hkdf.Key(sha256.New, s.fakeKey, nil, "coffer/v1/fake-"+label+"\x00"+name, n)
	if err != nil {
		// Only possible for n beyond HKDF's 255·32-byte limit, a programming error.
		panic(fmt.Sprintf("fake %s: %v", label, err))
	}
	return b
}

// account returns the account for name, or a stand-in with UserID 0 and
// stable fake credentials if there is none.
func (s *Server) account(ctx context.Context, name string) (*meta.User, error) {
	u, err := s.store.UserByName(ctx, name)
	if err == nil {
		return u, nil
	}
	if !errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("load user: %w", err)
	}
	v := s.fake("verifier", name, s.group.Size())
	v[0] &= 0x7f // below N, whose top bits are all ones
	def := crypto.DefaultKDF
	return &meta.User{
		Name: name,
		Credentials: meta.Credentials{
			Salt:     s.fake("salt", name, crypto.SaltSize),
			KDF:      meta.KDF{MemoryKiB: def.MemoryKiB, Iterations: def.Iterations, Parallelism: def.Parallelism},
			Verifier: v,
			Epoch:    1,
		},
		// A valid key nobody holds, so a recovery proof for this name
		// costs the same verification as for a real one, and fails.
		RecoveryAuthPub: ed25519.NewKeyFromSeed(s.fake("recovery-auth", name, ed25519.SeedSize)).Public().(ed25519.PublicKey),
	}, nil
}

func (s *Server) signupKeys(r *http.Request) throttleKeys {
	var tk throttleKeys
	tk.add("signup:"+s.clientIP(r), s.throttle.FreeSignup)
	return tk
}

// newChallenge stores a one-time challenge for the account u (which may be
// a stand-in for a name with no account) and returns its ID.
func (s *Server) newChallenge(ctx context.Context, kind string, u *meta.User, data []byte) (string, error) {
	idb, err := randomBytes(16)
	if err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(idb)
	c := &meta.Challenge{ID: id, Kind: kind, UserName: u.Name, UserID: u.ID, Epoch: u.Epoch, Data: data, ExpiresAt: s.now().Add(challengeTTL)}
	if err := s.store.PutChallenge(ctx, c); err != nil {
		return "", fmt.Errorf("store challenge: %w", err)
	}
	return id, nil
}

// takeChallenge consumes a challenge. An unknown, used or expired one gets
// the same answer.
func (s *Server) takeChallenge(ctx context.Context, id, kind string) (*meta.Challenge, error) {
	c, err := s.store.TakeChallenge(ctx, id, kind, s.now())
	if errors.Is(err, meta.ErrNotFound) {
		return nil, &httpError{status: http.StatusUnauthorized, code: api.CodeAuthFailed, message: "handshake expired or already used; start again"}
	}
	if err != nil {
		return nil, fmt.Errorf("take challenge: %w", err)
	}
	return c, nil
}
