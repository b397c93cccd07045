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
	"unicode"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/srp"
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
		Salt: c.Salt, Verifier: c.Verifier, SealedKeys: c.SealedKeys, Epoch: c.Epoch,
		KDF: meta.KDF{MemoryKiB: c.KDF.MemoryKiB, Iterations: c.KDF.Iterations, Parallelism: c.KDF.Parallelism},
	}
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
	if len(c.Salt) != crypto.SaltSize {
		return badRequest("salt must be %d bytes", crypto.SaltSize)
	}
	if c.KDF.Alg != api.KDFArgon2id {
		return badRequest("unsupported KDF %q; want %q", c.KDF.Alg, api.KDFArgon2id)
	}
	if err := kdfParams(c.KDF).Check(); err != nil {
		return badRequest("KDF parameters: %v", err)
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
	if len(req.RecoveryAuthPub) != ed25519.PublicKeySize {
		s.writeError(w, r, badRequest("recovery auth key must be %d bytes", ed25519.PublicKeySize))
		return
	}
	if len(req.PublicBundle) > maxBundle {
		s.writeError(w, r, badRequest("public bundle is too large"))
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
	if _, err := s.store.CreateUser(r.Context(), u); err != nil {
		if errors.Is(err, meta.ErrExists) {
			s.writeError(w, r, &httpError{status: http.StatusConflict, code: api.CodeConflict, message: fmt.Sprintf("user name %q is taken", req.User)})
			return
		}
		s.writeError(w, r, fmt.Errorf("create user: %w", err))
		return
	}
	s.log.InfoContext(r.Context(), "account created", "user", req.User)
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
		RecoverySealedKeys: s.fake("recovery-keys", name, crypto.SealedAccountKeysSize),
	}, nil
}

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

func (s *Server) handleLoginStart(w http.ResponseWriter, r *http.Request) {
	var req api.LoginStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := api.CheckUserName(req.User); err != nil {
		s.writeError(w, r, badRequest("%v", err))
		return
	}
	ctx := r.Context()
	u, err := s.account(ctx, req.User)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tk, err := s.keysFor(ctx, r, req.User, u.ID, req.DeviceToken)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkThrottle(ctx, tk); err != nil {
		s.writeError(w, r, err)
		return
	}
	sv, err := srp.NewServer(s.group, u.Verifier, req.A)
	if err != nil {
		s.writeError(w, r, badRequest("SRP: %v", err))
		return
	}
	id, err := s.newChallenge(ctx, "login", u, sv.MarshalState())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.LoginStartResponse{HandshakeID: id, Salt: u.Salt, KDF: apiKDF(u.KDF), B: sv.B()})
}

// srpProof is a verified SRP proof: the account, the server's proof M2, the
// shared key K and the throttle keys the attempt was charged to.
type srpProof struct {
	user *meta.User
	m2   []byte
	key  []byte
	tk   throttleKeys
}

// proveLogin checks the SRP proof M1 of a login handshake. Every failure is
// counted against the throttle and answered alike.
func (s *Server) proveLogin(ctx context.Context, r *http.Request, handshakeID string, m1, deviceToken []byte) (*srpProof, error) {
	ch, err := s.takeChallenge(ctx, handshakeID, "login")
	if err != nil {
		return nil, err
	}
	tk, err := s.keysFor(ctx, r, ch.UserName, ch.UserID, deviceToken)
	if err != nil {
		return nil, err
	}
	if err := s.checkThrottle(ctx, tk); err != nil {
		return nil, err
	}
	u, err := s.account(ctx, ch.UserName)
	if err != nil {
		return nil, err
	}
	sv, err := srp.UnmarshalServerState(s.group, ch.Data)
	if err != nil {
		return nil, fmt.Errorf("load SRP state: %w", err)
	}
	m2, verr := sv.Verify([]byte(ch.UserName), u.Salt, m1)
	// A password change between start and finish makes the handshake stale.
	if verr != nil || u.ID == 0 || u.ID != ch.UserID || u.Epoch != ch.Epoch {
		if err := s.recordFailure(ctx, tk); err != nil {
			return nil, err
		}
		return nil, errAuthFailed
	}
	return &srpProof{user: u, m2: m2, key: sv.Key(), tk: tk}, nil
}

func (s *Server) handleLoginFinish(w http.ResponseWriter, r *http.Request) {
	var req api.LoginFinishRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkDeviceName(req.DeviceName); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.UnlockKey) != unlockKeySize {
		s.writeError(w, r, badRequest("unlock key must be %d bytes", unlockKeySize))
		return
	}
	ctx := r.Context()
	p, err := s.proveLogin(ctx, r, req.HandshakeID, req.M1, req.DeviceToken)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u := p.user
	if err := s.clearAccountThrottle(ctx, p.tk); err != nil {
		s.writeError(w, r, err)
		return
	}
	device, err := s.rememberDevice(ctx, u.ID, req.DeviceToken)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, tok, err := s.newSession(ctx, u.ID, req.DeviceName, req.UnlockKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(ctx, "login", "user", u.Name, "session", sess.ID)
	writeJSON(w, http.StatusOK, api.LoginFinishResponse{
		M2: p.m2, SessionID: sess.ID, Token: tok, DeviceToken: device,
		SealedKeys: u.SealedKeys, Epoch: u.Epoch, PublicBundle: u.PublicBundle,
	})
}

// rememberDevice returns the device token to keep: the client's own if it
// is already known for the account, else a new one.
func (s *Server) rememberDevice(ctx context.Context, userID int64, token []byte) ([]byte, error) {
	if len(token) == tokenSize {
		h := sha256.Sum256(token)
		known, err := s.store.DeviceKnown(ctx, userID, h[:])
		if err != nil {
			return nil, fmt.Errorf("look up device: %w", err)
		}
		if known {
			return token, nil
		}
	}
	token, err := randomBytes(tokenSize)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(token)
	if err := s.store.AddDevice(ctx, userID, h[:], s.now()); err != nil {
		return nil, fmt.Errorf("add device: %w", err)
	}
	return token, nil
}

func checkDeviceName(name string) error {
	if name == "" || len(name) > maxDeviceName {
		return badRequest("device name must be 1 to %d bytes", maxDeviceName)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return badRequest("device name must not contain control characters")
		}
	}
	return nil
}

func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.PasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	p, err := s.proveLogin(ctx, r, req.HandshakeID, req.M1, nil)
	if err == nil && p.user.ID != sess.UserID {
		// A proof for another account does not authorise this one.
		if err = s.recordFailure(ctx, p.tk); err == nil {
			err = errAuthFailed
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u := p.user
	if err := s.checkCredentials(req.New, u.Epoch+1); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !crypto.VerifyPasswdBinding(p.key, credentialsDigest(u.Name, req.New), req.Binding) {
		s.writeError(w, r, badRequest("new credentials are not bound to the login proof"))
		return
	}
	if err := s.clearAccountThrottle(ctx, p.tk); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.ReplaceCredentials(ctx, u.ID, u.Epoch, toMetaCreds(req.New), sess.ID); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			s.writeError(w, r, &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "the password was changed meanwhile; try again"})
			return
		}
		s.writeError(w, r, fmt.Errorf("replace credentials: %w", err))
		return
	}
	s.log.InfoContext(ctx, "password changed", "user", u.Name)
	writeJSON(w, http.StatusOK, api.PasswordResponse{M2: p.m2})
}

func credentialsDigest(user string, c api.Credentials) [32]byte {
	return crypto.CredentialsDigest(user, c.Salt, kdfParams(c.KDF), c.Verifier, c.SealedKeys, c.Epoch)
}

func (s *Server) handleRecoverStart(w http.ResponseWriter, r *http.Request) {
	var req api.RecoverStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := api.CheckUserName(req.User); err != nil {
		s.writeError(w, r, badRequest("%v", err))
		return
	}
	ctx := r.Context()
	u, err := s.account(ctx, req.User)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tk, err := s.keysFor(ctx, r, req.User, 0, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkThrottle(ctx, tk); err != nil {
		s.writeError(w, r, err)
		return
	}
	challenge, err := randomBytes(challengeBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := s.newChallenge(ctx, "recover", u, challenge)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.RecoverStartResponse{ChallengeID: id, Challenge: challenge, RecoverySealedKeys: u.RecoverySealedKeys, Epoch: u.Epoch})
}

func (s *Server) handleRecoverFinish(w http.ResponseWriter, r *http.Request) {
	var req api.RecoverFinishRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	ch, err := s.takeChallenge(ctx, req.ChallengeID, "recover")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tk, err := s.keysFor(ctx, r, ch.UserName, 0, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkThrottle(ctx, tk); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.account(ctx, ch.UserName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok := u.ID != 0 && u.ID == ch.UserID && u.Epoch == ch.Epoch && len(u.RecoveryAuthPub) == ed25519.PublicKeySize &&
		ed25519.Verify(u.RecoveryAuthPub, crypto.RecoveryMessage(u.Name, ch.Data, credentialsDigest(u.Name, req.New)), req.Signature)
	if !ok {
		if err := s.recordFailure(ctx, tk); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeError(w, r, &httpError{status: http.StatusUnauthorized, code: api.CodeAuthFailed, message: "wrong user name or recovery key"})
		return
	}
	if err := s.checkCredentials(req.New, u.Epoch+1); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.clearAccountThrottle(ctx, tk); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.ReplaceCredentials(ctx, u.ID, u.Epoch, toMetaCreds(req.New), ""); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			s.writeError(w, r, &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "the password was changed meanwhile; try again"})
			return
		}
		s.writeError(w, r, fmt.Errorf("replace credentials: %w", err))
		return
	}
	s.log.InfoContext(ctx, "account recovered", "user", u.Name)
	writeJSON(w, http.StatusOK, api.Empty{})
}
