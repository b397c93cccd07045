// Package client is Coffer's client: it speaks the API of internal/api,
// does all cryptography on the user's side and keeps its session in a
// config folder. It trusts nothing the server says that it cannot verify.
package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/srp"
)

// Errors a caller may want to tell apart.
var (
	// ErrRollback means the server served account key material older than
	// this device has already seen.
	ErrRollback = errors.New("the server sent older account keys than this device has seen before (rollback attack?)")
	// ErrServerProof means the server could not prove it knows the
	// account's verifier: it is not the server the account was made on,
	// or someone tampered with the exchange.
	ErrServerProof = errors.New("the server failed to prove it knows this account (impostor server or tampering)")
	// ErrKeyChanged means a peer's key no longer matches the fingerprint
	// the user verified.
	ErrKeyChanged = errors.New("key changed")
)

// Client runs account operations against servers, keeping state in a Config.
type Client struct {
	cfg  *Config
	http *http.Client
	// DeviceName labels the sessions this client creates.
	DeviceName string
}

// New returns a Client keeping state in cfg. hc may be nil for a default client.
func New(cfg *Config, hc *http.Client) *Client {
	return &Client{cfg: cfg, http: hc, DeviceName: "coffer"}
}

// checkServer refuses a server that speaks another protocol version or SRP group.
func (c *Client) checkServer(ctx context.Context, t *transport) error {
	var info api.Info
	if err := t.do(ctx, http.MethodGet, api.PathInfo, nil, &info); err != nil {
		return err
	}
	if info.Version != api.Version {
		return fmt.Errorf("server speaks protocol version %d; this client speaks only %d", info.Version, api.Version)
	}
	if info.SRP != api.SRPGroup {
		return fmt.Errorf("server offers SRP parameters %q; this client accepts only %q", info.SRP, api.SRPGroup)
	}
	return nil
}

// newCredentials derives everything the server stores for a password.
func newCredentials(user string, password []byte, keys *crypto.AccountKeys, epoch uint32) (api.Credentials, error) {
	salt, err := crypto.NewSalt()
	if err != nil {
		return api.Credentials{}, err
	}
	p := crypto.DefaultKDF
	pk, err := crypto.DerivePasswordKeys(password, user, salt, p)
	if err != nil {
		return api.Credentials{}, err
	}
	defer pk.Wipe()
	sealed, err := crypto.SealAccountKeys(pk.KEK, user, epoch, keys)
	if err != nil {
		return api.Credentials{}, err
	}
	return api.Credentials{
		Salt:       salt,
		KDF:        api.KDF{Alg: api.KDFArgon2id, MemoryKiB: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism},
		Verifier:   srp.Group3072().Verifier(pk.SRPX),
		SealedKeys: sealed,
		Epoch:      epoch,
	}, nil
}

func digestOf(user string, c api.Credentials) [32]byte {
	return crypto.CredentialsDigest(user, c.Salt, kdfParams(c.KDF), c.Verifier, c.SealedKeys, c.Epoch)
}

func kdfParams(k api.KDF) crypto.KDFParams {
	return crypto.KDFParams{MemoryKiB: k.MemoryKiB, Iterations: k.Iterations, Parallelism: k.Parallelism}
}

// Signup creates the account and returns its recovery key, which the
// caller must show the user once. It does not log in.
func (c *Client) Signup(ctx context.Context, server, user string, password []byte) (crypto.RecoveryKey, error) {
	var rk crypto.RecoveryKey
	server, err := normalizeServer(server)
	if err != nil {
		return rk, err
	}
	if err := api.CheckUserName(user); err != nil {
		return rk, err
	}
	if len(password) == 0 {
		return rk, errors.New("the password is empty")
	}
	t := newTransport(server, "", c.http)
	if err := c.checkServer(ctx, t); err != nil {
		return rk, err
	}
	keys, err := crypto.GenerateAccountKeys()
	if err != nil {
		return rk, err
	}
	creds, err := newCredentials(user, password, keys, 1)
	if err != nil {
		return rk, err
	}
	rk, err = crypto.NewRecoveryKey()
	if err != nil {
		return rk, err
	}
	recSealed, err := crypto.SealRecoveryKeys(rk, user, keys)
	if err != nil {
		return rk, err
	}
	bundle, err := keys.SignBundle(user, time.Now().Unix())
	if err != nil {
		return rk, err
	}
	req := api.SignupRequest{
		User: user, Credentials: creds, RecoverySealedKeys: recSealed,
		RecoveryAuthPub: rk.AuthKey(user).Public().(ed25519.PublicKey), PublicBundle: bundle,
	}
	if err := t.do(ctx, http.MethodPost, api.PathSignup, req, nil); err != nil {
		return rk, fmt.Errorf("sign up %s: %w", user, err)
	}
	return rk, nil
}

// srpStart begins an SRP handshake and checks the parameters the server
// chose before any work is spent on them.
func (c *Client) srpStart(ctx context.Context, t *transport, user string, device []byte) (*srp.Client, *api.LoginStartResponse, error) {
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		return nil, nil, err
	}
	var start api.LoginStartResponse
	if err := t.do(ctx, http.MethodPost, api.PathLoginStart, api.LoginStartRequest{User: user, A: sc.A(), DeviceToken: device}, &start); err != nil {
		return nil, nil, fmt.Errorf("log in as %s: %w", user, err)
	}
	if start.KDF.Alg != api.KDFArgon2id {
		return nil, nil, fmt.Errorf("log in as %s: server asks for KDF %q; only %q is accepted", user, start.KDF.Alg, api.KDFArgon2id)
	}
	if err := kdfParams(start.KDF).Check(); err != nil {
		return nil, nil, fmt.Errorf("log in as %s: server offered password-hashing parameters this client refuses (downgrade attack?): %w", user, err)
	}
	if len(start.Salt) != crypto.SaltSize {
		return nil, nil, fmt.Errorf("log in as %s: server sent a %d-byte salt; want %d", user, len(start.Salt), crypto.SaltSize)
	}
	return sc, &start, nil
}

// Login runs SRP-6a, checks the server's proof, unseals and checks the
// account keys and saves the session in the config folder.
func (c *Client) Login(ctx context.Context, server, user string, password []byte) (*SessionFile, error) {
	server, err := normalizeServer(server)
	if err != nil {
		return nil, err
	}
	if err := api.CheckUserName(user); err != nil {
		return nil, err
	}
	t := newTransport(server, "", c.http)
	if err := c.checkServer(ctx, t); err != nil {
		return nil, err
	}
	st, err := c.cfg.State()
	if err != nil {
		return nil, err
	}
	acct := accountKey(server, user)
	device := st.Devices[acct]

	sc, start, err := c.srpStart(ctx, t, user, device)
	if err != nil {
		return nil, err
	}
	pk, err := crypto.DerivePasswordKeys(password, user, start.Salt, kdfParams(start.KDF))
	if err != nil {
		return nil, err
	}
	defer pk.Wipe()
	m1, err := sc.Finish([]byte(user), start.Salt, pk.SRPX, start.B)
	if err != nil {
		return nil, fmt.Errorf("log in as %s: %w", user, err)
	}
	unlock := make([]byte, 32)
	if _, err := rand.Read(unlock); err != nil {
		return nil, err
	}
	var fin api.LoginFinishResponse
	req := api.LoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1, DeviceName: c.DeviceName, DeviceToken: device, UnlockKey: unlock}
	if err := t.do(ctx, http.MethodPost, api.PathLoginFinish, req, &fin); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", user, err)
	}
	// From here on a failure leaves a session open on the server; revoke
	// it so that it does not linger unseen.
	revoke := func(cause error) error {
		rt := newTransport(server, fin.Token, c.http)
		_ = rt.do(context.WithoutCancel(ctx), http.MethodPost, api.PathLogout, nil, nil)
		return fmt.Errorf("log in as %s: %w", user, cause)
	}
	if err := sc.VerifyServer(fin.M2); err != nil {
		return nil, revoke(ErrServerProof)
	}
	if fin.Epoch < st.Epochs[acct] {
		return nil, revoke(fmt.Errorf("%w: epoch %d, seen %d", ErrRollback, fin.Epoch, st.Epochs[acct]))
	}
	keys, err := crypto.OpenAccountKeys(pk.KEK, user, fin.Epoch, fin.SealedKeys)
	if err != nil {
		return nil, revoke(fmt.Errorf("account keys from the server do not open with this password (tampered or swapped): %w", err))
	}
	if _, err := checkOwnBundle(keys, user, fin.PublicBundle); err != nil {
		return nil, revoke(err)
	}
	cache, err := crypto.SealLocalKeys(unlock, server, user, fin.SessionID, keys)
	if err != nil {
		return nil, revoke(err)
	}
	sess := &SessionFile{
		Server: server, User: user, SessionID: fin.SessionID, Token: fin.Token,
		Epoch: fin.Epoch, PublicBundle: fin.PublicBundle, KeyCache: cache,
	}
	if old, err := c.cfg.Session(); err == nil && old.Token != "" {
		// Logging in again replaces the old session; end it on its server.
		ot := newTransport(old.Server, old.Token, c.http)
		_ = ot.do(ctx, http.MethodPost, api.PathLogout, nil, nil)
	}
	if err := c.cfg.SaveSession(sess); err != nil {
		return nil, revoke(err)
	}
	if err := c.cfg.UpdateState(func(s *State) {
		s.Epochs[acct] = max(s.Epochs[acct], fin.Epoch)
		s.Devices[acct] = fin.DeviceToken
	}); err != nil {
		return nil, err
	}
	return sess, nil
}

// checkOwnBundle verifies the account's own signed bundle and that it
// belongs to exactly these private keys.
func checkOwnBundle(keys *crypto.AccountKeys, user string, signed []byte) (*crypto.PublicBundle, error) {
	b, err := crypto.OpenBundle(signed, user)
	if err != nil {
		return nil, fmt.Errorf("the server sent a bad public key bundle for %s: %w", user, err)
	}
	if !keys.MatchesBundle(b) {
		return nil, fmt.Errorf("the server sent a public key bundle for %s that does not match the account's keys (swapped)", user)
	}
	return b, nil
}

// Account is a logged-in session with its unlocked keys.
type Account struct {
	Session *SessionFile
	Keys    *crypto.AccountKeys
	Bundle  *crypto.PublicBundle
	t       *transport
}

// Open returns the current session with its keys unlocked: it fetches the
// unlock key from the server, which also proves the session is still valid.
func (c *Client) Open(ctx context.Context) (*Account, error) {
	sess, err := c.cfg.Session()
	if err != nil {
		return nil, err
	}
	t := newTransport(sess.Server, sess.Token, c.http)
	var me api.Me
	if err := t.do(ctx, http.MethodGet, api.PathMe, nil, &me); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			return nil, fmt.Errorf("session on %s ended (%s); run `coffer login`", sess.Server, ae.Message)
		}
		return nil, err
	}
	if me.User != sess.User || me.SessionID != sess.SessionID {
		return nil, fmt.Errorf("the server answered for %s/%s, not this session's %s/%s", me.User, me.SessionID, sess.User, sess.SessionID)
	}
	keys, err := crypto.OpenLocalKeys(me.UnlockKey, sess.Server, sess.User, sess.SessionID, sess.KeyCache)
	if err != nil {
		return nil, fmt.Errorf("unlock the local key cache: %w; run `coffer login`", err)
	}
	b, err := checkOwnBundle(keys, sess.User, sess.PublicBundle)
	if err != nil {
		return nil, err
	}
	return &Account{Session: sess, Keys: keys, Bundle: b, t: t}, nil
}

// Logout ends the session on the server and forgets it locally. The local
// session is forgotten even if the server cannot be reached.
func (c *Client) Logout(ctx context.Context) error {
	sess, err := c.cfg.Session()
	if err != nil {
		return err
	}
	t := newTransport(sess.Server, sess.Token, c.http)
	rerr := t.do(ctx, http.MethodPost, api.PathLogout, nil, nil)
	if err := c.cfg.DeleteSession(); err != nil {
		return err
	}
	var ae *APIError
	if rerr != nil && !(errors.As(rerr, &ae) && ae.Status == http.StatusUnauthorized) {
		return fmt.Errorf("forgot the local session, but could not end it on the server: %w", rerr)
	}
	return nil
}

// Sessions lists the account's sessions.
func (c *Client) Sessions(ctx context.Context) ([]api.Session, error) {
	sess, err := c.cfg.Session()
	if err != nil {
		return nil, err
	}
	var out api.SessionList
	if err := newTransport(sess.Server, sess.Token, c.http).do(ctx, http.MethodGet, api.PathSessions, nil, &out); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out.Sessions, nil
}

// RevokeSession ends one of the account's sessions.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	sess, err := c.cfg.Session()
	if err != nil {
		return err
	}
	if err := newTransport(sess.Server, sess.Token, c.http).do(ctx, http.MethodDelete, "/v1/sessions/"+url.PathEscape(id), nil, nil); err != nil {
		return fmt.Errorf("revoke session %s: %w", id, err)
	}
	if id == sess.SessionID {
		return c.cfg.DeleteSession()
	}
	return nil
}

// ChangePassword re-seals the account keys under a new password. The
// server authorises it by a fresh SRP proof of the old password and revokes
// every other session. The server must prove itself (M2) before anything
// derived from the new password is sent.
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword []byte) error {
	if len(newPassword) == 0 {
		return errors.New("the new password is empty")
	}
	acc, err := c.Open(ctx)
	if err != nil {
		return err
	}
	sess := acc.Session
	acct := accountKey(sess.Server, sess.User)
	st, err := c.cfg.State()
	if err != nil {
		return err
	}
	device := st.Devices[acct]
	sc, start, err := c.srpStart(ctx, acc.t, sess.User, device)
	if err != nil {
		return err
	}
	pk, err := crypto.DerivePasswordKeys(oldPassword, sess.User, start.Salt, kdfParams(start.KDF))
	if err != nil {
		return err
	}
	defer pk.Wipe()
	m1, err := sc.Finish([]byte(sess.User), start.Salt, pk.SRPX, start.B)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	var proof api.PasswordProofResponse
	req := api.PasswordProofRequest{HandshakeID: start.HandshakeID, M1: m1, DeviceToken: device}
	if err := acc.t.do(ctx, http.MethodPost, api.PathPasswordProof, req, &proof); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Code == api.CodeAuthFailed {
			return errors.New("change password: the current password is wrong")
		}
		return fmt.Errorf("change password: %w", err)
	}
	if err := sc.VerifyServer(proof.M2); err != nil {
		return fmt.Errorf("change password: %w", ErrServerProof)
	}
	var me api.Me
	if err := acc.t.do(ctx, http.MethodGet, api.PathMe, nil, &me); err != nil {
		return err
	}
	epoch, err := nextEpoch(me.Epoch, st.Epochs[acct])
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	creds, err := newCredentials(sess.User, newPassword, acc.Keys, epoch)
	if err != nil {
		return err
	}
	change := api.PasswordRequest{GrantID: proof.GrantID, New: creds, Binding: crypto.PasswdBinding(sc.Key(), digestOf(sess.User, creds))}
	if err := acc.t.do(ctx, http.MethodPost, api.PathPassword, change, nil); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	sess.Epoch = creds.Epoch
	if err := c.cfg.SaveSession(sess); err != nil {
		return err
	}
	return c.cfg.UpdateState(func(s *State) { s.Epochs[acct] = max(s.Epochs[acct], creds.Epoch) })
}

// nextEpoch returns the epoch of new credentials, given the server's
// current one and the highest this device has seen.
func nextEpoch(server, seen uint32) (uint32, error) {
	if server < seen {
		return 0, fmt.Errorf("%w: epoch %d, seen %d", ErrRollback, server, seen)
	}
	if server == math.MaxUint32 {
		return 0, errors.New("the account's credential epoch is exhausted")
	}
	return server + 1, nil
}

// unlockDigest stands in for the credentials digest in the signed message
// that unlocks a recovery, before any new credentials exist.
var unlockDigest [32]byte

// Recover sets a new password with the recovery key, then logs in with it.
// The server checks signatures by a key derived from the recovery key; the
// recovery key itself never leaves this machine.
func (c *Client) Recover(ctx context.Context, server, user string, rk crypto.RecoveryKey, newPassword []byte) (*SessionFile, error) {
	server, err := normalizeServer(server)
	if err != nil {
		return nil, err
	}
	if err := api.CheckUserName(user); err != nil {
		return nil, err
	}
	if len(newPassword) == 0 {
		return nil, errors.New("the new password is empty")
	}
	t := newTransport(server, "", c.http)
	if err := c.checkServer(ctx, t); err != nil {
		return nil, err
	}
	st, err := c.cfg.State()
	if err != nil {
		return nil, err
	}
	auth := rk.AuthKey(user)
	var start api.RecoverChallenge
	if err := t.do(ctx, http.MethodPost, api.PathRecoverStart, api.RecoverStartRequest{User: user}, &start); err != nil {
		return nil, fmt.Errorf("recover %s: %w", user, err)
	}
	var unlock api.RecoverUnlockResponse
	ureq := api.RecoverUnlockRequest{ChallengeID: start.ChallengeID, Signature: ed25519.Sign(auth, crypto.RecoveryMessage(user, start.Challenge, unlockDigest))}
	if err := t.do(ctx, http.MethodPost, api.PathRecoverUnlock, ureq, &unlock); err != nil {
		return nil, fmt.Errorf("recover %s: %w", user, err)
	}
	keys, err := crypto.OpenRecoveryKeys(rk, user, unlock.RecoverySealedKeys)
	if err != nil {
		return nil, fmt.Errorf("recover %s: the account keys the server sent do not open with this recovery key (tampered or swapped)", user)
	}
	epoch, err := nextEpoch(unlock.Epoch, st.Epochs[accountKey(server, user)])
	if err != nil {
		return nil, fmt.Errorf("recover %s: %w", user, err)
	}
	creds, err := newCredentials(user, newPassword, keys, epoch)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(auth, crypto.RecoveryMessage(user, unlock.Finish.Challenge, digestOf(user, creds)))
	req := api.RecoverFinishRequest{ChallengeID: unlock.Finish.ChallengeID, New: creds, Signature: sig}
	if err := t.do(ctx, http.MethodPost, api.PathRecoverFinish, req, nil); err != nil {
		return nil, fmt.Errorf("recover %s: %w", user, err)
	}
	return c.Login(ctx, server, user, newPassword)
}
