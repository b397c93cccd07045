package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"unicode"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/srp"
)

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
	// The attempt is charged now, atomically with the block check, so that
	// handshakes opened in parallel cannot outrun the limit.
	tk, err := s.loginKeys(ctx, r, req.User, u.ID, req.DeviceToken)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.charge(ctx, tk); err != nil {
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

// srpProof is a verified SRP proof: the account (as it was when the
// handshake began), the server's proof M2, the shared key K, and the
// counters the attempt was charged to.
type srpProof struct {
	user *meta.User
	m2   []byte
	key  []byte
	tk   throttleKeys
}

// proveLogin checks the SRP proof M1 of a login handshake. The attempt was
// charged when the handshake began; every failure gets the same answer.
func (s *Server) proveLogin(ctx context.Context, r *http.Request, handshakeID string, m1, deviceToken []byte) (*srpProof, error) {
	ch, err := s.takeChallenge(ctx, handshakeID, "login")
	if err != nil {
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
		return nil, errAuthFailed
	}
	tk, err := s.loginKeys(ctx, r, u.Name, u.ID, deviceToken)
	if err != nil {
		return nil, err
	}
	if err := s.succeeded(ctx, tk); err != nil {
		return nil, err
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
	// Both writes check that the credentials are still the ones the proof
	// was made against.
	var (
		sess *meta.Session
		tok  string
	)
	device, err := s.rememberDevice(ctx, u.ID, u.Epoch, req.DeviceToken)
	if err == nil {
		sess, tok, err = s.newSession(ctx, u.ID, u.Epoch, req.DeviceName, req.UnlockKey)
	}
	if errors.Is(err, meta.ErrConflict) {
		// The password changed while this login was in flight; a session
		// proven with the old one must not outlive the change.
		s.writeError(w, r, errAuthFailed)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(ctx, "login", "user_id", u.ID, "session", sess.ID)
	writeJSON(w, http.StatusOK, api.LoginFinishResponse{
		M2: p.m2, SessionID: sess.ID, Token: tok, DeviceToken: device,
		SealedKeys: u.SealedKeys, Epoch: u.Epoch, PublicBundle: u.PublicBundle,
	})
}

// rememberDevice returns the device token to keep: the client's own if it
// is already known for the account, else a new one.
func (s *Server) rememberDevice(ctx context.Context, userID int64, epoch uint32, token []byte) ([]byte, error) {
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
	if err := s.store.AddDevice(ctx, userID, h[:], s.now(), epoch); err != nil {
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
