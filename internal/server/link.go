package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/meta"
	"github.com/coffer-drive/coffer/internal/srp"
)

// Public links (docs/api.md "Public links", docs/crypto.md 13.13). The
// owner's client makes the link: an SRP verifier over the link's secret
// and password, a payload sealed under a key derived from them, and a
// record sealed to the owner. The server never sees the secret, the
// password or a key; it gates the link with SRP, counts, expires, revokes
// and rate-limits it, and confines a link session to the linked node.

// challengeLink is the kind of a link's SRP handshake.
const challengeLink = "link"

// Failed proofs of link passwords are limited like a token bucket: burst
// at once, then one every interval (docs/api.md), per link and per client
// address.
const (
	linkProofBurst = 5
	linkProofEvery = 12 * time.Second
	addrProofBurst = 20
	addrProofEvery = 6 * time.Second
)

// Handshakes begun (login/start) are limited per client address the same
// way, and never taken back: each costs a modular exponentiation and a
// stored challenge, whether or not a proof follows. A browser opening a
// link begins one.
const (
	addrStartBurst = 30
	addrStartEvery = 2 * time.Second
)

// routeLinks registers the link endpoints.
func (s *Server) routeLinks(mux *http.ServeMux) {
	mux.Handle("POST "+api.PathLinks, s.authed(s.handleCreateLink))
	mux.Handle("GET "+api.PathLinks, s.authed(s.handleListLinks))
	mux.Handle("DELETE "+api.PathLink, s.authed(s.handleRevokeLink))
	mux.Handle("GET "+api.PathLink, s.publicLink(s.handleLinkInfo))
	mux.Handle("POST "+api.PathLinkLoginStart, s.publicLink(s.handleLinkLoginStart))
	mux.Handle("POST "+api.PathLinkLoginFinish, s.publicLink(s.handleLinkLoginFinish))
	mux.Handle("GET "+api.PathLinkNode, s.linkSession(api.LinkRead, s.handleLinkNode))
	mux.Handle("GET "+api.PathLinkChildren, s.linkSession(api.LinkRead, s.handleLinkChildren))
	mux.Handle("GET "+api.PathLinkBlock, s.linkSession(api.LinkRead, s.handleLinkGetBlock))
	mux.Handle("PUT "+api.PathLinkBlock, s.linkSession(api.LinkUpload, s.handleLinkPutBlock))
	mux.Handle("POST "+api.PathLinkDrops, s.linkSession(api.LinkUpload, s.handleLinkDrop))
}

// linkAuthor is the link's name as an author of drops and as its SRP
// identity: "link:" || b64url(link_id) (crypto.LinkAuthor). Account
// names cannot contain ':', so it is no account's.
func linkAuthor(id []byte) string {
	return "link:" + base64.RawURLEncoding.EncodeToString(id)
}

func errNoSuchLink() *httpError {
	return &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: "no such link"}
}

func parseLinkID(raw string) ([]byte, error) {
	id, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(id) != idSize {
		return nil, badRequest("link ID must be %d bytes in unpadded base64url", idSize)
	}
	return id, nil
}

// linkState is the state of a link at now, as the owner's listing shows
// it. Revocation says the most, then a node that is gone, then expiry.
func linkState(l *meta.Link, now time.Time) string {
	switch {
	case !l.RevokedAt.IsZero():
		return api.LinkRevoked
	case l.NodeGone:
		return api.LinkGone
	case !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt):
		return api.LinkExpired
	case l.Kind == api.LinkRead && l.MaxDownloads > 0 && l.Downloads >= l.MaxDownloads:
		return api.LinkExhausted
	}
	return api.LinkActive
}

// errLinkState is the 410 answer of a link in state, nil for an active one.
func errLinkState(state string) error {
	gone := func(code, msg string) error {
		return &httpError{status: http.StatusGone, code: code, message: msg}
	}
	switch state {
	case api.LinkRevoked:
		return gone(api.CodeLinkRevoked, "this link was turned off by its owner")
	case api.LinkGone:
		return gone(api.CodeLinkGone, "the shared item was deleted")
	case api.LinkExpired:
		return gone(api.CodeLinkExpired, "this link has expired")
	case api.LinkExhausted:
		return gone(api.CodeLinkExhausted, "this link has reached its download limit")
	}
	return nil
}

// usableLink loads link rawID and refuses one that is unknown (404) or
// can no longer be used (410). For a link session, a download limit
// reached does not count: the limit bounds how many sessions open, and
// the one that took the last download must still download.
func (s *Server) usableLink(ctx context.Context, rawID string, session bool) (*meta.Link, error) {
	id, err := parseLinkID(rawID)
	if err != nil {
		return nil, err
	}
	l, err := s.store.Link(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errNoSuchLink()
	}
	if err != nil {
		return nil, fmt.Errorf("load link: %w", err)
	}
	state := linkState(l, s.now())
	if session && state == api.LinkExhausted {
		state = api.LinkActive
	}
	if err := errLinkState(state); err != nil {
		return nil, err
	}
	return l, nil
}

// closedLinkErr answers a write that the store refused because the link
// was revoked or expired meanwhile, with the link's state read again.
func (s *Server) closedLinkErr(ctx context.Context, id []byte) error {
	l, err := s.store.Link(ctx, id)
	if err != nil {
		return fmt.Errorf("load link: %w", err)
	}
	if err := errLinkState(linkState(l, s.now())); err != nil {
		return err
	}
	return errLinkState(api.LinkRevoked)
}

// publicLink wraps a handler of a link's public endpoints: the link must
// be known and usable.
func (s *Server) publicLink(h func(http.ResponseWriter, *http.Request, *meta.Link)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, err := s.usableLink(r.Context(), r.PathValue("id"), false)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r, l)
	})
}

// linkSession wraps a handler of a link session's endpoints: the link
// must be known and usable, the bearer token a live session of this very
// link (an account's token, or another link's, is not), and the link of
// the kind the endpoint serves.
func (s *Server) linkSession(kind int, h func(http.ResponseWriter, *http.Request, *meta.Link)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		l, err := s.usableLink(ctx, r.PathValue("id"), true)
		if err == nil {
			err = s.authenticateLink(r, l)
		}
		if err == nil && l.Kind != kind {
			err = errLinkKind(l.Kind)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r, l)
	})
}

func errLinkKind(kind int) error {
	msg := "this is an upload link: it can add files to its folder, not list or read anything"
	if kind == api.LinkRead {
		msg = "this is a read link: it cannot add anything"
	}
	return &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: msg}
}

// authenticateLink checks that the request carries a live session token
// of link l.
func (s *Server) authenticateLink(r *http.Request, l *meta.Link) error {
	h, err := bearerHash(r)
	if err != nil {
		return err
	}
	ls, err := s.store.LinkSessionByTokenHash(r.Context(), h)
	if errors.Is(err, meta.ErrNotFound) {
		return errUnauthorized
	}
	if err != nil {
		return fmt.Errorf("look up link session: %w", err)
	}
	if string(ls.LinkID) != string(l.ID) {
		return errUnauthorized
	}
	if !s.now().Before(ls.ExpiresAt) {
		return &httpError{status: http.StatusUnauthorized, code: api.CodeUnauthorized, message: "link session expired; open the link again"}
	}
	return nil
}

func toAPILink(l *meta.Link, now time.Time) api.Link {
	return api.Link{
		ID: l.ID, Volume: l.VolumeID, Node: l.NodeID, Kind: l.Kind, Password: l.Password,
		CreatedAt: l.CreatedAt.UTC(), ExpiresAt: optionalTime(l.ExpiresAt), RevokedAt: optionalTime(l.RevokedAt),
		MaxDownloads: l.MaxDownloads, Downloads: l.Downloads, MaxFiles: l.MaxFiles, Files: l.Files,
		MaxBytes: l.MaxBytes, Bytes: l.Bytes, OwnerRecord: l.OwnerRecord, State: linkState(l, now),
	}
}

// optionalTime is t in UTC, or nil for the zero time.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	var req api.CreateLinkRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	l, err := s.checkNewLink(ctx, sess, &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.PutLink(ctx, l); err != nil {
		switch {
		case errors.Is(err, meta.ErrExists):
			err = &httpError{status: http.StatusConflict, code: api.CodeConflict, message: "a link with this ID exists already"}
		case errors.Is(err, meta.ErrInvalid):
			// Checked above; the item changed meanwhile.
			err = errNotLinkable()
		default:
			err = fmt.Errorf("create link: %w", err)
		}
		s.writeError(w, r, err)
		return
	}
	// Never the link's ID: it is half of the link's URL, and a log
	// travels further than the database.
	s.log.InfoContext(ctx, "link created", "user_id", sess.UserID, "kind", l.Kind, "session", sess.ID)
	writeJSON(w, http.StatusCreated, toAPILink(l, s.now()))
}

func errNotLinkable() *httpError {
	return &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: "only an item of your own drive that is not in the trash can be linked"}
}

// checkNewLink checks a new link from its owner (docs/api.md) and returns
// it as the store keeps it.
func (s *Server) checkNewLink(ctx context.Context, sess *meta.Session, req *api.CreateLinkRequest) (*meta.Link, error) {
	if err := s.checkLinkFields(req); err != nil {
		return nil, err
	}
	node, err := s.linkableNode(ctx, sess, req)
	if err != nil {
		return nil, err
	}
	if req.Kind == api.LinkUpload && node.Kind != api.KindFolder {
		return nil, badRequest("an upload link adds files to a folder; this is a file")
	}
	l := &meta.Link{
		ID: req.ID, OwnerID: sess.UserID, VolumeID: req.Volume, NodeID: req.Node, Kind: req.Kind,
		Salt: req.Salt, KDF: metaKDF(req.KDF), Verifier: req.Verifier, Payload: req.Payload,
		OwnerRecord: req.OwnerRecord, Password: req.Password, CreatedAt: s.now(),
		MaxDownloads: req.MaxDownloads, MaxFiles: req.MaxFiles, MaxBytes: req.MaxBytes,
	}
	if req.ExpiresAt != nil {
		l.ExpiresAt = req.ExpiresAt.UTC()
	}
	return l, nil
}

// checkLinkFields checks what a new link's request says on its own.
func (s *Server) checkLinkFields(req *api.CreateLinkRequest) error {
	switch {
	case len(req.ID) != idSize:
		return badRequest("link ID must be %d bytes", idSize)
	case len(req.Volume) != idSize || len(req.Node) != idSize:
		return badRequest("volume and node IDs must be %d bytes", idSize)
	case req.Kind != api.LinkRead && req.Kind != api.LinkUpload:
		return badRequest("link kind must be %d (read) or %d (upload)", api.LinkRead, api.LinkUpload)
	}
	if err := checkKDF(req.Salt, req.KDF); err != nil {
		return err
	}
	switch {
	case len(req.Verifier) != s.group.Size():
		return badRequest("verifier must be %d bytes", s.group.Size())
	case len(req.Payload) == 0 || len(req.Payload) > api.MaxLinkSealed:
		return badRequest("payload must be 1 to %d bytes", api.MaxLinkSealed)
	case len(req.OwnerRecord) == 0 || len(req.OwnerRecord) > api.MaxLinkSealed:
		return badRequest("owner record must be 1 to %d bytes", api.MaxLinkSealed)
	case req.ExpiresAt != nil && !req.ExpiresAt.After(s.now()):
		return badRequest("expires_at must be in the future")
	case req.MaxDownloads < 0 || req.MaxFiles < 0 || req.MaxBytes < 0:
		return badRequest("limits must not be negative (0 is no limit)")
	case req.Kind == api.LinkRead && (req.MaxFiles != 0 || req.MaxBytes != 0):
		return badRequest("a read link has no upload limits (max_files and max_bytes must be 0)")
	case req.Kind == api.LinkUpload && req.MaxDownloads != 0:
		return badRequest("an upload link has no download limit (max_downloads must be 0)")
	}
	return nil
}

// linkableNode returns the node of a new link: an active node of the
// caller's own drive, or 403.
func (s *Server) linkableNode(ctx context.Context, sess *meta.Session, req *api.CreateLinkRequest) (*meta.Node, error) {
	v, err := s.store.VolumeByOwner(ctx, sess.UserID)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, errNotLinkable()
	}
	if err != nil {
		return nil, fmt.Errorf("load volume: %w", err)
	}
	if string(req.Volume) != string(v.ID) {
		return nil, errNotLinkable()
	}
	n, err := s.store.Node(ctx, req.Node)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && string(n.VolumeID) != string(v.ID)) {
		return nil, errNotLinkable()
	}
	if err != nil {
		return nil, fmt.Errorf("load node: %w", err)
	}
	// Active, and not in the trash by way of a folder above it either.
	active, err := s.store.ActiveBelow(ctx, n.ID, v.RootID)
	if err != nil {
		return nil, fmt.Errorf("check node state: %w", err)
	}
	if !active {
		return nil, errNotLinkable()
	}
	return n, nil
}

func (s *Server) handleListLinks(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	list, err := s.store.LinksOfOwner(r.Context(), sess.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("list links: %w", err))
		return
	}
	now := s.now()
	out := api.LinkList{Links: make([]api.Link, 0, len(list))}
	for i := range list {
		out.Links = append(out.Links, toAPILink(&list[i], now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleRevokeLink(w http.ResponseWriter, r *http.Request, sess *meta.Session) {
	id, err := parseLinkID(r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	// Another account's link answers like one that does not exist.
	err = s.store.RevokeLink(ctx, sess.UserID, id, s.now())
	if errors.Is(err, meta.ErrNotFound) {
		s.writeError(w, r, errNoSuchLink())
		return
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("revoke link: %w", err))
		return
	}
	s.log.InfoContext(ctx, "link revoked", "user_id", sess.UserID, "session", sess.ID)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleLinkInfo(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	writeJSON(w, http.StatusOK, api.LinkInfo{
		ID: l.ID, Kind: l.Kind, Password: l.Password, Salt: l.Salt, KDF: apiKDF(l.KDF),
		ExpiresAt: optionalTime(l.ExpiresAt), MaxFiles: l.MaxFiles, MaxBytes: l.MaxBytes,
		Files: l.Files, Bytes: l.Bytes,
	})
}

func (s *Server) handleLinkLoginStart(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	var req api.LinkLoginStartRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	// A client that could not prove anything now is told before it
	// spends a handshake; the proof is what is counted (finish).
	if err := s.proofAllowed(ctx, s.proofKeys(r, l)); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The handshake itself is counted against the address, so that
	// starts alone cannot make the server compute and store at will.
	if err := s.chargeBuckets(ctx, s.startKeys(r), errTooManyStarts); err != nil {
		s.writeError(w, r, err)
		return
	}
	sv, err := srp.NewServer(s.group, l.Verifier, req.A)
	if err != nil {
		s.writeError(w, r, badRequest("SRP: %v", err))
		return
	}
	id, err := s.newChallenge(ctx, challengeLink, &meta.User{Name: linkAuthor(l.ID)}, sv.MarshalState())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.LinkLoginStartResponse{HandshakeID: id, B: sv.B()})
}

// errWrongLinkPassword answers a failed proof of a link's password.
var errWrongLinkPassword = &httpError{status: http.StatusUnauthorized, code: api.CodeAuthFailed, message: "wrong password"}

func (s *Server) handleLinkLoginFinish(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	var req api.LinkLoginFinishRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	m2, err := s.proveLink(ctx, r, l, req.HandshakeID, req.M1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, ls, err := s.newLinkSession(ctx, l)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(ctx, "link opened", "owner_id", l.OwnerID, "kind", l.Kind)
	writeJSON(w, http.StatusOK, api.LinkLoginFinishResponse{
		M2: m2, Token: tok, Volume: l.VolumeID, Node: l.NodeID, Kind: l.Kind,
		Payload: l.Payload, ExpiresAt: ls.ExpiresAt.UTC(),
	})
}

// proveLink checks the proof M1 of a link handshake and returns the
// server's proof M2. Every proof is counted against the link's and the
// address's limits before it is checked, so that proofs sent in parallel
// cannot outrun them; a correct one is taken back.
func (s *Server) proveLink(ctx context.Context, r *http.Request, l *meta.Link, handshakeID string, m1 []byte) ([]byte, error) {
	ch, err := s.takeChallenge(ctx, handshakeID, challengeLink)
	if err != nil {
		return nil, err
	}
	identity := linkAuthor(l.ID)
	if ch.UserName != identity {
		// A handshake begun for another link: as good as unknown.
		return nil, &httpError{status: http.StatusUnauthorized, code: api.CodeAuthFailed, message: "handshake expired or already used; start again"}
	}
	keys := s.proofKeys(r, l)
	if err := s.chargeProof(ctx, keys); err != nil {
		return nil, err
	}
	sv, err := srp.UnmarshalServerState(s.group, ch.Data)
	if err != nil {
		return nil, fmt.Errorf("load SRP state: %w", err)
	}
	m2, err := sv.Verify([]byte(identity), l.Salt, m1)
	if err != nil {
		return nil, errWrongLinkPassword
	}
	if err := s.refundProof(ctx, keys); err != nil {
		return nil, err
	}
	return m2, nil
}

// newLinkSession opens a session of link l after a correct proof, and
// for a read link counts the download, atomically with the check of the
// limit. It returns the bearer token.
func (s *Server) newLinkSession(ctx context.Context, l *meta.Link) (string, *meta.LinkSession, error) {
	tok, err := randomBytes(tokenSize)
	if err != nil {
		return "", nil, err
	}
	h := sha256.Sum256(tok)
	now := s.now()
	ls := &meta.LinkSession{TokenHash: h[:], LinkID: l.ID, CreatedAt: now, ExpiresAt: now.Add(api.LinkSessionLifetime)}
	if !l.ExpiresAt.IsZero() && l.ExpiresAt.Before(ls.ExpiresAt) {
		ls.ExpiresAt = l.ExpiresAt
	}
	err = s.store.CreateLinkSession(ctx, ls, l.Kind == api.LinkRead)
	switch {
	case errors.Is(err, meta.ErrLimit):
		return "", nil, errLinkState(api.LinkExhausted)
	case errors.Is(err, meta.ErrLinkClosed):
		return "", nil, s.closedLinkErr(ctx, l.ID)
	case errors.Is(err, meta.ErrNotFound):
		return "", nil, errNoSuchLink()
	case err != nil:
		return "", nil, fmt.Errorf("create link session: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tok), ls, nil
}

// proofKey is one counter of failed link proofs: its throttle key and
// its bucket.
type proofKey struct {
	key   string
	burst int
	every time.Duration
}

// proofKeys are the counters a proof of link l from r's address is
// charged to: the address first, so that an address over its limit does
// not use up the link's.
func (s *Server) proofKeys(r *http.Request, l *meta.Link) []proofKey {
	return []proofKey{
		{key: "linkip:" + s.clientIP(r), burst: addrProofBurst, every: addrProofEvery},
		{key: "link:" + base64.RawURLEncoding.EncodeToString(l.ID), burst: linkProofBurst, every: linkProofEvery},
	}
}

// startKeys is the counter a handshake begun from r's address is
// charged to.
func (s *Server) startKeys(r *http.Request) []proofKey {
	return []proofKey{{key: "linkstart:" + s.clientIP(r), burst: addrStartBurst, every: addrStartEvery}}
}

// The proof counters are kept in the store's throttles, so that every
// instance sees the same counts, as a GCRA token bucket: BlockedUntil
// holds the bucket's theoretical arrival time (TAT), which each proof
// moves one interval later, and a proof is refused while the TAT is more
// than burst-1 intervals ahead of now. LastFailure is the latest proof,
// so that stale counters are swept like the others.

// wait is how long the bucket k, at TAT tat, refuses a proof at now.
func (k proofKey) wait(tat, now time.Time) time.Duration {
	if tat.Before(now) {
		tat = now
	}
	return tat.Sub(now) - time.Duration(k.burst-1)*k.every
}

// chargeProof counts a proof against every counter, or refuses it with
// 429 if one of them has none left, and then counts it against none.
func (s *Server) chargeProof(ctx context.Context, keys []proofKey) error {
	return s.chargeBuckets(ctx, keys, errTooManyProofs)
}

// chargeBuckets counts one attempt against every counter of keys, or
// refuses it with tooMany(wait) if one of them has none left, and then
// counts it against none.
func (s *Server) chargeBuckets(ctx context.Context, keys []proofKey, tooMany func(time.Duration) error) error {
	now := s.now()
	for i, k := range keys {
		var wait time.Duration
		_, err := s.store.UpdateThrottle(ctx, k.key, func(t meta.Throttle) meta.Throttle {
			if wait = k.wait(t.BlockedUntil, now); wait > 0 {
				return t
			}
			tat := t.BlockedUntil
			if tat.Before(now) {
				tat = now
			}
			t.BlockedUntil = tat.Add(k.every)
			t.Failures++
			t.LastFailure = now
			return t
		})
		if err == nil && wait > 0 {
			err = tooMany(wait)
		}
		if err != nil {
			if rerr := s.refundProof(ctx, keys[:i]); rerr != nil {
				s.log.WarnContext(ctx, "take back a link proof", "err", rerr)
			}
			var he *httpError
			if errors.As(err, &he) {
				return err
			}
			return fmt.Errorf("count link proof: %w", err)
		}
	}
	return nil
}

// refundProof takes a counted proof back from the counters.
func (s *Server) refundProof(ctx context.Context, keys []proofKey) error {
	for _, k := range keys {
		_, err := s.store.UpdateThrottle(ctx, k.key, func(t meta.Throttle) meta.Throttle {
			t.BlockedUntil = t.BlockedUntil.Add(-k.every)
			t.Failures = max(t.Failures-1, 0)
			return t
		})
		if err != nil {
			return fmt.Errorf("take back link proof: %w", err)
		}
	}
	return nil
}

// proofAllowed refuses with 429, without counting anything, when a proof
// now would be refused.
func (s *Server) proofAllowed(ctx context.Context, keys []proofKey) error {
	now := s.now()
	for _, k := range keys {
		t, err := s.store.GetThrottle(ctx, k.key)
		if err != nil {
			return fmt.Errorf("read link proof counter: %w", err)
		}
		if wait := k.wait(t.BlockedUntil, now); wait > 0 {
			return errTooManyProofs(wait)
		}
	}
	return nil
}

func errTooManyProofs(wait time.Duration) error {
	return errTooMany("too many wrong passwords", wait)
}

func errTooManyStarts(wait time.Duration) error {
	return errTooMany("too many attempts to open links", wait)
}

func errTooMany(what string, wait time.Duration) error {
	return &httpError{
		status: http.StatusTooManyRequests, code: api.CodeTooManyRequests,
		message:    fmt.Sprintf("%s; try again in %s", what, wait.Round(time.Second)),
		retryAfter: int(math.Ceil(wait.Seconds())),
	}
}

// linkNode returns node rawID of a read link's session: the linked node
// or an active node below it. Anything else answers as if it did not
// exist, and so do inbox drops not yet accepted by the owner (records
// with no sealed name, isDrop): they are the owner's to look at, and a
// read link's client could not open them anyway.
func (s *Server) linkNode(ctx context.Context, l *meta.Link, rawID string) (*meta.Node, error) {
	id, err := parseNodeID(rawID)
	if err != nil {
		return nil, err
	}
	ok, err := s.store.ActiveBelow(ctx, id, l.NodeID)
	if err != nil {
		return nil, fmt.Errorf("check node under link: %w", err)
	}
	if !ok {
		return nil, errNoSuchNode()
	}
	n, err := s.store.Node(ctx, id)
	if errors.Is(err, meta.ErrNotFound) || (err == nil && isDrop(n) && string(n.ID) != string(l.NodeID)) {
		return nil, errNoSuchNode()
	}
	if err != nil {
		return nil, fmt.Errorf("load node: %w", err)
	}
	return n, nil
}

// isDrop reports whether n is an inbox drop not yet accepted: a node
// with a parent but no sealed name (docs/crypto.md 13.9). A volume's
// root has no name either, and no parent.
func isDrop(n *meta.Node) bool {
	return n.ParentID != nil && len(n.SealedName) == 0
}

func (s *Server) handleLinkNode(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	ctx := r.Context()
	n, err := s.linkNode(ctx, l, r.PathValue("node"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.withHead(ctx, n)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleLinkChildren(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	ctx := r.Context()
	n, err := s.linkNode(ctx, l, r.PathValue("node"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.childList(ctx, n, r.URL.Query().Get("name_hash"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Inbox drops are left out, as linkNode refuses them.
	kids := out.Nodes[:0]
	for _, c := range out.Nodes {
		if len(c.SealedName) != 0 {
			kids = append(kids, c)
		}
	}
	out.Nodes = kids
	writeJSON(w, http.StatusOK, out)
}

// handleLinkGetBlock sends a block of the head revision of a file the
// read link reaches; the request names the file, because a block alone
// does not say which node it belongs to.
func (s *Server) handleLinkGetBlock(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	ctx := r.Context()
	id, err := parseBlockID(r.PathValue("block"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	raw := r.URL.Query().Get("node")
	if raw == "" {
		s.writeError(w, r, badRequest("name the file the block belongs to: ?node=FILE"))
		return
	}
	n, err := s.linkNode(ctx, l, raw)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noBlock := &httpError{status: http.StatusNotFound, code: api.CodeNotFound, message: fmt.Sprintf("no block %s in this file", id)}
	if n.Kind != api.KindFile || n.RevisionID == nil {
		s.writeError(w, r, noBlock)
		return
	}
	// One lookup in the head's references, not the head's whole list of
	// blocks for every block of a large file.
	in, err := s.store.BlockInRevision(ctx, id[:], n.RevisionID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("check block %s in head revision: %w", id, err))
		return
	}
	if !in {
		s.writeError(w, r, noBlock)
		return
	}
	s.sendBlock(w, r, id)
}

// handleLinkPutBlock stores a block uploaded through an upload link. It
// is the owner's from the start: it counts against the owner's quota, and
// against the link's byte limit as pending until a drop takes it (or it
// is collected as garbage).
func (s *Server) handleLinkPutBlock(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	ctx := r.Context()
	id, err := parseBlockID(r.PathValue("block"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkLinkRoom(ctx, l, r.ContentLength); err != nil {
		s.writeError(w, r, err)
		return
	}
	n, err := s.receiveBlock(w, r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Recorded even if the client hangs up now, as recordBlocks does.
	ctx = context.WithoutCancel(ctx)
	info := meta.BlockInfo{ID: id[:], Size: n}
	err = s.settleBlocks(ctx, []meta.BlockInfo{info}, s.store.AddLinkBlock(ctx, l.ID, info, s.now()))
	switch {
	case errors.Is(err, meta.ErrLimit):
		err = errLinkBytes(l)
	case errors.Is(err, meta.ErrLinkClosed):
		err = s.closedLinkErr(ctx, l.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// checkLinkRoom refuses early, before reading a body, a block that cannot
// fit in the link's byte limit or the owner's quota.
func (s *Server) checkLinkRoom(ctx context.Context, l *meta.Link, size int64) error {
	if size > api.MaxBlockBytes {
		return &httpError{status: http.StatusRequestEntityTooLarge, code: api.CodeTooLarge, message: fmt.Sprintf("a block is at most %d bytes", api.MaxBlockBytes)}
	}
	if l.MaxBytes > 0 && size > l.MaxBytes-l.Bytes-l.PendingBytes {
		return errLinkBytes(l)
	}
	return s.checkRoom(ctx, l.OwnerID, size)
}

func errLinkBytes(l *meta.Link) error {
	return &httpError{status: http.StatusRequestEntityTooLarge, code: api.CodeTooLarge, message: fmt.Sprintf("this link takes at most %d bytes in all, uploads not yet dropped included", l.MaxBytes)}
}

// handleLinkDrop adds one file to an upload link's folder, as an inbox
// drop by the link (docs/crypto.md 13.9 and 13.13).
func (s *Server) handleLinkDrop(w http.ResponseWriter, r *http.Request, l *meta.Link) {
	var req api.LinkDropRequest
	if err := decodeJSONLimit(w, r, &req, 16<<20); err != nil {
		s.writeError(w, r, err)
		return
	}
	item, err := s.checkLinkDrop(l, &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	err = s.store.CreateLinkDrop(ctx, l.ID, item, s.now())
	switch {
	case errors.Is(err, meta.ErrLimit):
		err = s.dropLimitErr(ctx, l.ID)
	case errors.Is(err, meta.ErrMissingBlocks):
		err = badRequest("drop: %v; upload them through this link first", err)
	case errors.Is(err, meta.ErrLinkClosed):
		err = s.closedLinkErr(ctx, l.ID)
	case err != nil:
		err = driveErr(err, "drop")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, api.Empty{})
}

// dropLimitErr answers a drop that the store refused at a limit: the
// file limit (403), or, though pending blocks fit by construction, the
// byte limit (413), as the link read again says.
func (s *Server) dropLimitErr(ctx context.Context, id []byte) error {
	l, err := s.store.Link(ctx, id)
	if err != nil {
		return fmt.Errorf("load link: %w", err)
	}
	if l.MaxFiles > 0 && l.Files >= l.MaxFiles {
		return &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: fmt.Sprintf("this link takes at most %d files", l.MaxFiles)}
	}
	return errLinkBytes(l)
}

// checkLinkDrop checks a drop through upload link l and returns it as the
// store takes it: one file, as an inbox drop, directly in the linked
// folder, by the link, at version 1. Its signature is the owner's client's
// to check: only it knows the link's signing key.
func (s *Server) checkLinkDrop(l *meta.Link, req *api.LinkDropRequest) (meta.NewFile, error) {
	n, rev := &req.Node, &req.Revision
	forbidden := func(msg string) error {
		return &httpError{status: http.StatusForbidden, code: api.CodeForbidden, message: msg}
	}
	if n.Kind != api.KindFile {
		return meta.NewFile{}, forbidden("an upload link adds files only")
	}
	if err := checkNode(n, linkAuthor(l.ID)); err != nil {
		return meta.NewFile{}, err
	}
	switch {
	case string(n.Parent) != string(l.NodeID) || string(n.Volume) != string(l.VolumeID):
		return meta.NewFile{}, forbidden("an upload link adds files directly into its own folder")
	case len(n.SealedName) != 0:
		return meta.NewFile{}, forbidden("a file uploaded through a link is an inbox drop: its name is sealed with its key to the link's inbox key")
	case n.Version != 1:
		return meta.NewFile{}, badRequest("a drop's record has version 1")
	}
	rec, err := api.RecordOf(n)
	if err == nil {
		err = rec.Validate()
	}
	if err != nil {
		return meta.NewFile{}, badRequest("drop record: %v", err)
	}
	if !rec.IsDrop() {
		return meta.NewFile{}, forbidden("a file uploaded through a link is an inbox drop")
	}
	if err := checkRevision(rev, n); err != nil {
		return meta.NewFile{}, err
	}
	now := s.now()
	mn, mr := toMetaNode(n), toMetaRevision(rev)
	mn.CreatedAt, mn.UpdatedAt, mr.CreatedAt = now, now, now
	return meta.NewFile{Node: mn, Revision: mr}, nil
}
