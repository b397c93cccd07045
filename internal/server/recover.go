package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/meta"
)

// Recovery takes three requests: a challenge; a signature over it by the key
// derived from the recovery key, which releases the recovery-sealed keys
// and the epoch; and a signature over the new credentials. Nothing that
// differs between a real account and a name with none is released before
// the second step's proof.

// unlockDigest stands in for a credentials digest in the unlock step's
// signed message, where no credentials exist yet.
var unlockDigest [32]byte

var errRecoverFailed = &httpError{status: http.StatusUnauthorized, code: api.CodeAuthFailed, message: "wrong user name or recovery key"}

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
	if err := s.charge(ctx, s.ipKeys(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.account(ctx, req.User)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.recoverChallenge(r, "recover", u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) recoverChallenge(r *http.Request, kind string, u *meta.User) (api.RecoverChallenge, error) {
	challenge, err := randomBytes(challengeBytes)
	if err != nil {
		return api.RecoverChallenge{}, err
	}
	id, err := s.newChallenge(r.Context(), kind, u, challenge)
	if err != nil {
		return api.RecoverChallenge{}, err
	}
	return api.RecoverChallenge{ChallengeID: id, Challenge: challenge}, nil
}

// proveRecovery consumes a challenge and checks a signature by the recovery
// auth key over it and over digest(user name). Names with no account are
// checked against a fake key, so the work and the answer are the same.
func (s *Server) proveRecovery(r *http.Request, id, kind string, digest func(user string) [32]byte, sig []byte) (*meta.User, error) {
	ctx := r.Context()
	ch, err := s.takeChallenge(ctx, id, kind)
	if err != nil {
		return nil, err
	}
	u, err := s.account(ctx, ch.UserName)
	if err != nil {
		return nil, err
	}
	ok := crypto.VerifyRecoveryMessage(u.RecoveryAuthPub, u.Name, ch.Data, digest(u.Name), sig)
	if !ok || u.ID == 0 || u.ID != ch.UserID || u.Epoch != ch.Epoch {
		return nil, errRecoverFailed
	}
	return u, nil
}

func (s *Server) handleRecoverUnlock(w http.ResponseWriter, r *http.Request) {
	var req api.RecoverUnlockRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.proveRecovery(r, req.ChallengeID, "recover", func(string) [32]byte { return unlockDigest }, req.Signature)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.succeeded(r.Context(), s.ipKeys(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	fin, err := s.recoverChallenge(r, "recover-finish", u)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.RecoverUnlockResponse{RecoverySealedKeys: u.RecoverySealedKeys, Epoch: u.Epoch, Finish: fin})
}

func (s *Server) handleRecoverFinish(w http.ResponseWriter, r *http.Request) {
	var req api.RecoverFinishRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	digest := func(user string) [32]byte { return credentialsDigest(user, req.New) }
	u, err := s.proveRecovery(r, req.ChallengeID, "recover-finish", digest, req.Signature)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkCredentials(req.New, u.Epoch+1); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.ReplaceCredentials(ctx, u.ID, u.Epoch, toMetaCreds(req.New), ""); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			s.writeError(w, r, errChangedMeanwhile)
			return
		}
		s.writeError(w, r, fmt.Errorf("replace credentials: %w", err))
		return
	}
	s.log.InfoContext(ctx, "account recovered", "user_id", u.ID)
	writeJSON(w, http.StatusOK, api.Empty{})
}
