package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
)

// A password change takes two requests. The first proves the current
// password and earns a one-time grant; the client checks the server's proof
// M2 before the second request sends anything derived from the new
// password, so an impostor server never gets material to guess it offline.

func (s *Server) handlePasswordProof(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.PasswordProofRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	p, err := s.proveLogin(ctx, r, req.HandshakeID, req.M1, req.DeviceToken)
	if err == nil && p.user.ID != sess.UserID {
		// A proof for another account does not authorise this one.
		err = errAuthFailed
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// The grant holds K, to check the binding of the new credentials, and
	// the session it belongs to.
	grant, err := s.newChallenge(ctx, "passwd", p.user, append(p.key, sess.ID...))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.PasswordProofResponse{M2: p.m2, GrantID: grant})
}

func (s *Server) handlePassword(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.PasswordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	ch, err := s.takeChallenge(ctx, req.GrantID, "passwd")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	const keySize = 32
	if ch.UserID != sess.UserID || len(ch.Data) < keySize || !bytes.Equal(ch.Data[keySize:], []byte(sess.ID)) {
		s.writeError(w, r, &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: "this password-change grant belongs to another session"})
		return
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("load user: %w", err))
		return
	}
	if u.Epoch != ch.Epoch {
		s.writeError(w, r, errChangedMeanwhile)
		return
	}
	if err := s.checkCredentials(req.New, u.Epoch+1); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !crypto.VerifyPasswdBinding(ch.Data[:keySize], credentialsDigest(u.Name, req.New), req.Binding) {
		s.writeError(w, r, badRequest("new credentials are not bound to the proof of the current password"))
		return
	}
	if err := s.store.ReplaceCredentials(ctx, u.ID, u.Epoch, toMetaCreds(req.New), sess.ID); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			s.writeError(w, r, errChangedMeanwhile)
			return
		}
		s.writeError(w, r, fmt.Errorf("replace credentials: %w", err))
		return
	}
	s.log.InfoContext(ctx, "password changed", "user_id", u.ID)
	writeJSON(w, http.StatusOK, api.Empty{})
}

var errChangedMeanwhile = &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "the password was changed meanwhile; try again"}

func credentialsDigest(user string, c api.Credentials) [32]byte {
	return crypto.CredentialsDigest(user, c.Salt, kdfParams(c.KDF), c.Verifier, c.SealedKeys, c.Epoch)
}
