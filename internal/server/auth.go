package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
)

const sessionKey ctxKey = iota + 100

// touchEvery bounds how often a session's last-seen time is written, so
// that every request does not turn into a database write.
const touchEvery = time.Minute

// authed wraps a handler that needs a valid session. The session is put in
// the request context; handlers get it with sessionFrom.
func (s *Server) authed(h func(http.ResponseWriter, *http.Request, *meta.Session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), sessionKey, sess)), sess)
	})
}

// bearerHash returns the SHA-256 of the request's bearer token, or
// errUnauthorized if it has none of the right form. Only the hash is
// stored, so a leaked database yields no usable token; looking up a
// SHA-256 by index leaks nothing useful by timing.
func bearerHash(r *http.Request) ([]byte, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, errUnauthorized
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != tokenSize {
		return nil, errUnauthorized
	}
	h := sha256.Sum256(raw)
	return h[:], nil
}

func (s *Server) authenticate(r *http.Request) (*meta.Session, error) {
	h, err := bearerHash(r)
	if err != nil {
		return nil, err
	}
	sess, err := s.store.SessionByTokenHash(r.Context(), h)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) {
		return nil, errExpired
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		sess.LastSeenAt = now
		sess.ExpiresAt = s.expiry(sess.CreatedAt, now)
		if err := s.store.TouchSession(r.Context(), sess.ID, sess.LastSeenAt, sess.ExpiresAt); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return sess, nil
}

// tokenSize is the size of session and device tokens: 256 random bits.
const tokenSize = 32

// expiry is when a session created at created and last active at now ends:
// after SessionIdle without activity, and after SessionMax in any case.
func (s *Server) expiry(created, now time.Time) time.Time {
	e := now.Add(s.opts.SessionIdle)
	if limit := created.Add(s.opts.SessionMax); limit.Before(e) {
		return limit
	}
	return e
}

// newSession creates a session for the user and returns it with its bearer
// token. It fails with meta.ErrConflict if the account's credentials changed
// since epoch, the one the login was proven against.
func (s *Server) newSession(ctx context.Context, userID int64, epoch uint32, device string, unlockKey []byte) (*meta.Session, string, error) {
	tok, err := randomBytes(tokenSize)
	if err != nil {
		return nil, "", err
	}
	idb, err := randomBytes(12)
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(tok)
	now := s.now()
	sess := &meta.Session{
		ID:         base64.RawURLEncoding.EncodeToString(idb),
		UserID:     userID,
		TokenHash:  h[:],
		DeviceName: device,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  s.expiry(now, now),
		UnlockKey:  unlockKey,
	}
	if err := s.store.CreateSession(ctx, sess, epoch); err != nil {
		return nil, "", fmt.Errorf("create session: %w", err)
	}
	return sess, base64.RawURLEncoding.EncodeToString(tok), nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	if err := s.store.DeleteSession(r.Context(), sess.UserID, sess.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
		s.writeError(w, r, fmt.Errorf("delete session: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	u, err := s.store.UserByID(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("load user: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.Me{
		User: u.Name, SessionID: sess.ID, UnlockKey: sess.UnlockKey,
		Epoch: u.Epoch, PublicBundle: u.PublicBundle,
	})
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	list, err := s.store.ListSessions(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list sessions: %w", err))
		return
	}
	out := api.SessionList{Sessions: make([]api.Session, 0, len(list))}
	now := s.now()
	for _, x := range list {
		if !now.Before(x.ExpiresAt) {
			continue
		}
		out.Sessions = append(out.Sessions, api.Session{
			ID: x.ID, DeviceName: x.DeviceName, CreatedAt: x.CreatedAt.UTC(),
			LastSeenAt: x.LastSeenAt.UTC(), ExpiresAt: x.ExpiresAt.UTC(), Current: x.ID == sess.ID,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	id := r.PathValue("id")
	// A session of another account answers exactly like one that does not
	// exist, and stays untouched.
	err := s.store.DeleteSession(r.Context(), sess.UserID, id)
	if errors.Is(err, meta.ErrNotFound) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: "no such session"})
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("revoke session: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.Empty{})
}

func (s *Server) handleUserBundle(w http.ResponseWriter, r *http.Request, _ *meta.Session) {
	name := r.PathValue("name")
	if err := api.CheckUserName(name); err != nil {
		s.writeError(w, r, badRequest("%v", err))
		return
	}
	u, err := s.store.UserByName(r.Context(), name)
	if errors.Is(err, meta.ErrNotFound) {
		s.writeError(w, r, &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no user %q", name)})
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("load user: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, api.BundleResponse{User: u.Name, PublicBundle: u.PublicBundle})
}
