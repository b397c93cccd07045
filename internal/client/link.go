package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
	"github.com/coffer-drive/coffer/internal/srp"
)

// Public links (docs/crypto.md 13.13): the owner's side makes, lists and
// revokes links and accepts what anonymous uploaders drop through them;
// the recipient's side (OpenLink) needs no account.

// LinkOptions are the settings of a new link.
type LinkOptions struct {
	// Password is the link's second secret, sent separately; empty for
	// none.
	Password string
	// Expires, if not zero, ends the link that long after it is made.
	Expires time.Duration
	// MaxDownloads, if not zero, ends a read link after that many
	// openings.
	MaxDownloads int64
	// Upload makes a file request: a folder others can drop files into
	// without seeing what is there.
	Upload bool
	// MaxFiles and MaxBytes limit what a file request takes (0: only the
	// owner's quota).
	MaxFiles, MaxBytes int64
}

// LinkInfo is one of the account's links as its owner sees it.
type LinkInfo struct {
	ID string
	// URL is the link again, from the owner's own sealed record; empty if
	// that record does not open (Problem says why).
	URL      string
	Path     string
	Upload   bool
	Password bool
	Created  time.Time
	Expires  *time.Time
	State    string
	// Downloads counts openings of a read link; Files and Bytes what was
	// dropped into a file request.
	Downloads, MaxDownloads   int64
	Files, MaxFiles           int64
	Bytes, MaxBytes           int64
	Problem                   string
	volume, node, ownerRecord []byte
}

// linkInbox is one upload link of the owner, as its inbox: the key its
// anonymous uploads are signed with and the key that opens them.
type linkInbox struct {
	sign crypto.VerifyKey
	key  *crypto.InboxKey
}

// linkView makes a Drive a public link's view (OpenLink).
type linkView struct {
	id []byte
	// owner is the payload's owner: the only writer a link vouches for.
	owner string
	// walked are the folders a download went through: a server that
	// serves a cycle (records of a folder under itself) is caught.
	walked map[string]bool
}

// path is p under the link's endpoints.
func (l *linkView) path(p string) string { return "/v1/links/" + b64(l.id) + p }

// childrenPath is where a folder's children are listed.
func (d *Drive) childrenPath(id []byte) string {
	if d.link != nil {
		return d.link.path("/nodes/" + b64(id) + "/children")
	}
	return "/v1/nodes/" + b64(id) + "/children"
}

func linkKind(upload bool) byte {
	if upload {
		return api.LinkUpload
	}
	return api.LinkRead
}

// CreateLink makes a link to the item at p in the account's own drive and
// returns it with its URL. The secret, the password and every key stay on
// this side: the server gets a verifier, the sealed payload and the
// owner's sealed record.
func (d *Drive) CreateLink(ctx context.Context, p string, opt LinkOptions) (*LinkInfo, error) {
	e, err := d.ownItem(ctx, p)
	if err != nil {
		return nil, err
	}
	if e.Parent == nil {
		return nil, errors.New("the root of the drive cannot be linked; link a folder or file in it")
	}
	if opt.Upload && !e.IsDir() {
		return nil, fmt.Errorf("%s is a file; a file request needs a folder", e.path)
	}
	if !opt.Upload && (opt.MaxFiles != 0 || opt.MaxBytes != 0) {
		return nil, errors.New("file and size limits apply to file requests (--upload-only) only")
	}
	if opt.Upload && opt.MaxDownloads != 0 {
		return nil, errors.New("a download limit applies to read links only, not to file requests")
	}
	if opt.MaxDownloads < 0 || opt.MaxFiles < 0 || opt.MaxBytes < 0 || opt.Expires < 0 {
		return nil, errors.New("link limits cannot be negative")
	}
	id, err := crypto.NewLinkID()
	if err != nil {
		return nil, err
	}
	secret, err := crypto.NewLinkSecret()
	if err != nil {
		return nil, err
	}
	salt, err := crypto.NewSalt()
	if err != nil {
		return nil, err
	}
	kdf := crypto.DefaultKDF
	lk, err := crypto.DeriveLinkKeys(secret, opt.Password, id, salt, kdf)
	if err != nil {
		return nil, err
	}
	kind := linkKind(opt.Upload)
	payload := &crypto.LinkPayload{
		Kind: kind, Owner: d.acc.Session.User, OwnerIdentity: d.ownKey,
		MinVersion: e.Record.Version, Name: e.Name,
	}
	rec := &crypto.LinkOwnerRecord{Secret: secret, Password: opt.Password}
	if opt.Upload {
		ik, err := crypto.NewInboxKey()
		if err != nil {
			return nil, err
		}
		payload.InboxPublic = ik.Public()
		rec.SignPublic = lk.SignPublic()
		rec.InboxSeed = ik.Seed()
	} else {
		payload.NodeKey = e.key
	}
	sealed, err := crypto.SealLinkPayload(lk, id, e.vol, e.ID, payload)
	if err != nil {
		return nil, err
	}
	self, err := crypto.SelfKey(d.acc.Keys, d.acc.Session.User)
	if err != nil {
		return nil, err
	}
	ownerRecord, err := crypto.SealLinkOwnerRecord(self, id, e.vol, e.ID, kind, rec)
	if err != nil {
		return nil, err
	}
	req := api.CreateLinkRequest{
		ID: id, Volume: e.vol, Node: e.ID, Kind: int(kind), Salt: salt,
		KDF:      api.KDF{Alg: api.KDFArgon2id, MemoryKiB: kdf.MemoryKiB, Iterations: kdf.Iterations, Parallelism: kdf.Parallelism},
		Verifier: lk.Verifier(), Payload: sealed, OwnerRecord: ownerRecord,
		Password: opt.Password != "", MaxDownloads: opt.MaxDownloads, MaxFiles: opt.MaxFiles, MaxBytes: opt.MaxBytes,
	}
	if opt.Expires > 0 {
		t := time.Now().Add(opt.Expires).UTC()
		req.ExpiresAt = &t
	}
	var l api.Link
	if err := d.acc.t.do(ctx, http.MethodPost, api.PathLinks, req, &l); err != nil {
		return nil, fmt.Errorf("create a link to %s: %w", e.path, err)
	}
	info := d.linkInfo(&l)
	info.Path = e.path
	return info, nil
}

// linkInfo describes a link of the account's, with its URL from the
// owner record when that opens.
func (d *Drive) linkInfo(l *api.Link) *LinkInfo {
	info := &LinkInfo{
		ID: b64(l.ID), Upload: l.Kind == api.LinkUpload, Password: l.Password, Created: l.CreatedAt,
		Expires: l.ExpiresAt, State: l.State, Downloads: l.Downloads, MaxDownloads: l.MaxDownloads,
		Files: l.Files, MaxFiles: l.MaxFiles, Bytes: l.Bytes, MaxBytes: l.MaxBytes,
		volume: l.Volume, node: l.Node, ownerRecord: l.OwnerRecord,
	}
	rec, err := d.openOwnerRecord(l)
	if err != nil {
		info.Problem = err.Error()
		return info
	}
	u, err := crypto.FormatLinkURL(d.acc.Session.Server, l.ID, rec.Secret)
	if err != nil {
		info.Problem = err.Error()
		return info
	}
	info.URL = u
	return info
}

// openOwnerRecord opens the account's own record of one of its links.
func (d *Drive) openOwnerRecord(l *api.Link) (*crypto.LinkOwnerRecord, error) {
	if l.Kind != api.LinkRead && l.Kind != api.LinkUpload {
		return nil, fmt.Errorf("link %s: unknown kind %d", b64(l.ID), l.Kind)
	}
	self, err := crypto.SelfKey(d.acc.Keys, d.acc.Session.User)
	if err != nil {
		return nil, err
	}
	rec, err := crypto.OpenLinkOwnerRecord(self, l.ID, l.Volume, l.Node, byte(l.Kind), l.OwnerRecord)
	if err != nil {
		return nil, fmt.Errorf("link %s: the record of it does not open: %w", b64(l.ID), tampered(err))
	}
	return rec, nil
}

// links fetches the account's links.
func (d *Drive) links(ctx context.Context) ([]api.Link, error) {
	var list api.LinkList
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathLinks, nil, &list); err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	return list.Links, nil
}

// Links lists the account's links, newest first, with the path of what
// each gives where it can still be found.
func (d *Drive) Links(ctx context.Context) ([]*LinkInfo, error) {
	list, err := d.links(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*LinkInfo, 0, len(list))
	for i := range list {
		info := d.linkInfo(&list[i])
		if string(list[i].Volume) == string(d.root.vol) {
			if e, err := d.byID(ctx, list[i].Node); err == nil {
				info.Path = e.path
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// RemoveLink revokes one of the account's links by its ID.
func (d *Drive) RemoveLink(ctx context.Context, id string) error {
	raw, err := parseLinkID(id)
	if err != nil {
		return err
	}
	if err := d.acc.t.do(ctx, http.MethodDelete, "/v1/links/"+b64(raw), nil, nil); err != nil {
		return fmt.Errorf("revoke link %s: %w", id, err)
	}
	return nil
}

func parseLinkID(id string) ([]byte, error) {
	if _, rawID, _, err := crypto.ParseLinkURL(id); err == nil {
		return rawID, nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil || len(raw) != 16 {
		// Not echoed: it may be a mangled URL with its secret.
		return nil, errors.New("not a link ID (22 characters, as `coffer link ls` shows) nor a link URL")
	}
	return raw, nil
}

// loadLinkInboxes makes the inboxes of the account's upload links, so
// that what anonymous uploaders dropped is verified under the link's own
// signing key and opened with its inbox key, both from the owner's
// record, never from the server. Revoked links count too: what came
// through them before stays readable.
func (d *Drive) loadLinkInboxes(ctx context.Context) error {
	list, err := d.links(ctx)
	if err != nil {
		return err
	}
	d.linkInboxes = map[string]*inbox{}
	for i := range list {
		l := &list[i]
		if l.Kind != api.LinkUpload || string(l.Volume) != string(d.root.vol) {
			continue
		}
		rec, err := d.openOwnerRecord(l)
		if err != nil {
			d.warn(err.Error() + "; uploads through it are left out")
			continue
		}
		sign, err := crypto.NewVerifyKey(rec.SignPublic)
		if err != nil {
			d.warn(fmt.Sprintf("link %s: %v; uploads through it are left out", b64(l.ID), err))
			continue
		}
		ik, err := rec.InboxKey()
		if err != nil {
			d.warn(fmt.Sprintf("link %s: %v; uploads through it are left out", b64(l.ID), err))
			continue
		}
		in := d.linkInboxes[string(l.Node)]
		if sh := d.owned[string(l.Node)]; sh != nil && sh.inbox != nil {
			in = sh.inbox
		}
		if in == nil {
			in = &inbox{uploaders: map[string]crypto.VerifyKey{}}
			d.linkInboxes[string(l.Node)] = in
		}
		if in.links == nil {
			in.links = map[string]*linkInbox{}
		}
		in.links[crypto.LinkAuthor(l.ID)] = &linkInbox{sign: sign, key: ik}
	}
	if in := d.linkInboxes[string(d.root.ID)]; in != nil && d.root.inbox == nil {
		d.root.inbox = in
	}
	return nil
}

// AnonymousAuthor says how an author is shown: an upload through a link
// is anonymous, and is shown with the link it came through.
func AnonymousAuthor(author string) string {
	if id, ok := strings.CutPrefix(author, "link:"); ok {
		return "anonymous (link " + id + ")"
	}
	return author
}

// ErrLinkPassword means a link needs its password and none was given.
var ErrLinkPassword = errors.New("this link is protected by a password")

// LinkSession is an open public link: a read link's verified view of
// the item it gives, or a file request's folder.
type LinkSession struct {
	// Upload is set for a file request.
	Upload bool
	// Name is the linked item's name; Owner whose it is.
	Name, Owner string
	d           *Drive
	root        *Entry
	id          []byte
	keys        *crypto.LinkKeys
	payload     *crypto.LinkPayload
	info        api.LinkInfo
	vol, node   []byte
}

// OpenLink opens a link with no account: it parses the URL (the secret is
// in its fragment), runs the link's SRP handshake, checks the server's
// proof, opens the sealed payload and, for a read link, verifies the
// linked item's record under the owner's key the payload names.
// password is asked only if the link has one.
func (c *Client) OpenLink(ctx context.Context, rawURL string, password func() (string, error)) (*LinkSession, error) {
	base, id, secret, err := crypto.ParseLinkURL(rawURL)
	if err != nil {
		return nil, err
	}
	t := newTransport(base, "", c.http)
	if err := c.checkServer(ctx, t); err != nil {
		return nil, err
	}
	lp := "/v1/links/" + b64(id)
	var info api.LinkInfo
	if err := t.do(ctx, http.MethodGet, lp, nil, &info); err != nil {
		return nil, linkError(err)
	}
	if info.Kind != api.LinkRead && info.Kind != api.LinkUpload {
		return nil, fmt.Errorf("the server says the link is of kind %d, which this client does not know", info.Kind)
	}
	if info.KDF.Alg != api.KDFArgon2id {
		return nil, fmt.Errorf("the server asks for KDF %q; only %q is accepted", info.KDF.Alg, api.KDFArgon2id)
	}
	var pw string
	if info.Password {
		if password == nil {
			return nil, ErrLinkPassword
		}
		if pw, err = password(); err != nil {
			return nil, err
		}
		if pw == "" {
			return nil, ErrLinkPassword
		}
	}
	// DeriveLinkKeys checks the KDF parameters against the floor before
	// it runs them: a server cannot make the password cheap to guess.
	lk, err := crypto.DeriveLinkKeys(secret, pw, id, info.Salt, kdfParams(info.KDF))
	if err != nil {
		return nil, fmt.Errorf("open the link: %w", err)
	}
	sc, err := srp.NewClient(srp.Group3072())
	if err != nil {
		return nil, err
	}
	var start api.LinkLoginStartResponse
	if err := t.do(ctx, http.MethodPost, lp+"/login/start", api.LinkLoginStartRequest{A: sc.A()}, &start); err != nil {
		return nil, linkError(err)
	}
	m1, err := sc.Finish([]byte(crypto.LinkAuthor(id)), info.Salt, lk.SRPX, start.B)
	if err != nil {
		return nil, fmt.Errorf("open the link: %w", err)
	}
	var fin api.LinkLoginFinishResponse
	if err := t.do(ctx, http.MethodPost, lp+"/login/finish", api.LinkLoginFinishRequest{HandshakeID: start.HandshakeID, M1: m1}, &fin); err != nil {
		return nil, linkError(err)
	}
	if err := sc.VerifyServer(fin.M2); err != nil {
		return nil, fmt.Errorf("open the link: the server failed to prove it knows the link: %w", ErrTampered)
	}
	if fin.Kind != info.Kind {
		return nil, fmt.Errorf("open the link: the server changed the link's kind: %w", ErrTampered)
	}
	p, err := crypto.OpenLinkPayload(lk, id, fin.Volume, fin.Node, byte(fin.Kind), fin.Payload)
	if err != nil {
		return nil, fmt.Errorf("open the link: what the server gives for it does not open (tampered, or a payload of another link or item): %w", tampered(err))
	}
	lt := newTransport(base, fin.Token, c.http)
	s := &LinkSession{
		Upload: fin.Kind == api.LinkUpload, Name: p.Name, Owner: p.Owner, id: id, keys: lk,
		payload: p, info: info, vol: fin.Volume, node: fin.Node,
	}
	owner := p.OwnerIdentity
	s.d = &Drive{
		acc: &Account{t: lt}, seen: &seenVersions{v: map[string]seenRecord{}},
		keys: keyCache{t: lt, m: map[string]crypto.VerifyKey{}}, ownKey: owner,
		owned: map[string]*ownedShare{}, broken: map[string]error{}, link: &linkView{id: id, owner: p.Owner, walked: map[string]bool{}},
	}
	if s.Upload {
		return s, nil
	}
	if s.root, err = s.verifyRoot(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// linkError words the server's refusals of a link.
func linkError(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch {
	case ae.Status == http.StatusNotFound && ae.Code == api.CodeNotFound:
		return fmt.Errorf("no such link (wrong address, or it was deleted): %w", err)
	case ae.Code == api.CodeAuthFailed:
		return fmt.Errorf("wrong link password: %w", err)
	case ae.Status == http.StatusTooManyRequests:
		return fmt.Errorf("too many wrong passwords; try again in %s seconds: %w", ae.RetryAfter, err)
	}
	return err
}

// verifyRoot checks the linked node's record: the payload's node, signed
// by the payload's owner, no older than when the link was made. Its name
// and key are the payload's (its own are sealed under a folder the link
// does not give).
func (s *LinkSession) verifyRoot(ctx context.Context) (*Entry, error) {
	var n api.Node
	if err := s.d.acc.t.do(ctx, http.MethodGet, s.d.link.path("/nodes/"+b64(s.node)), nil, &n); err != nil {
		return nil, fmt.Errorf("read the linked item: %w", linkError(err))
	}
	fail := func(why string, err error) (*Entry, error) {
		return nil, fmt.Errorf("the linked item %q: %s: %w", Printable(s.Name), why, tampered(err))
	}
	if string(n.ID) != string(s.node) || string(n.Volume) != string(s.vol) {
		return fail("the server presents another item", nil)
	}
	if n.Author != s.Owner {
		return fail(fmt.Sprintf("signed by %q, not by its owner %q", Printable(n.Author), s.Owner), nil)
	}
	rec, err := api.RecordOf(&n)
	if err == nil {
		err = rec.Validate()
	}
	if err != nil {
		return fail("malformed record", err)
	}
	if rec.IsDrop() {
		return fail("an inbox upload cannot be linked", nil)
	}
	if err := rec.VerifyWith(s.d.ownKey, n.Signature); err != nil {
		return fail("bad signature", err)
	}
	if n.Version < s.payload.MinVersion {
		return fail(fmt.Sprintf("record version %d is older than version %d the link was made at (rollback)", n.Version, s.payload.MinVersion), nil)
	}
	e := &Entry{
		ID: n.ID, Parent: n.Parent, Kind: n.Kind, Name: s.Name, Author: n.Author, Record: n,
		key: s.payload.NodeKey, path: "/" + s.Name, vol: s.vol,
		writers: &writerSet{keys: map[string]crypto.VerifyKey{s.Owner: s.d.ownKey}},
	}
	if n.Kind == api.KindFile {
		if n.Head == nil {
			return fail("file without content", nil)
		}
		a, err := s.d.verifyHead(e, rec, n.Head)
		var other *otherWriter
		if errors.As(err, &other) {
			return nil, fmt.Errorf("the linked file %q: %w", Printable(s.Name), err)
		}
		if err != nil {
			return fail("head revision", err)
		}
		e.Head, e.Attrs = n.Head, a
	}
	s.d.root = e
	return e, nil
}

// Root is the linked item of a read link.
func (s *LinkSession) Root() *Entry { return s.root }

// List returns a folder's verified children under a read link.
func (s *LinkSession) List(ctx context.Context, dir *Entry) ([]*Entry, error) {
	return s.d.List(ctx, dir)
}

// Warnings are what the user should know: uploads left out and the like.
func (s *LinkSession) Warnings() []string { return s.d.Warnings() }

// Get downloads what a read link gives to local: into it if it is an
// existing folder, else as local itself; local "" is the item's name in
// the current folder. Nothing is written before it checks out.
func (s *LinkSession) Get(ctx context.Context, local string, opt GetOptions) error {
	if s.Upload {
		return errors.New("this link is a file request: you can upload into it (coffer put FILE URL), not download")
	}
	if filepath.Base(s.Name) != s.Name || !filepath.IsLocal(s.Name) {
		return fmt.Errorf("the name %q cannot be written on this system", s.Name)
	}
	if local == "" {
		local = s.Name
	} else if st, err := os.Stat(local); err == nil && st.IsDir() {
		local = filepath.Join(local, s.Name)
	}
	return s.d.getEntry(ctx, s.root, local, opt.counter())
}

// Cat writes a linked file to w.
func (s *LinkSession) Cat(ctx context.Context, w io.Writer) error {
	if s.Upload || s.root.IsDir() {
		return errors.New("only a link to a file can be written out")
	}
	return s.d.stream(ctx, s.root, w, func(int) {})
}

// Put uploads local files into a file request. Each file is sealed to
// the folder's inbox key from the payload, and signed with the link's
// anonymous key: the uploader sees nothing of what is in the folder.
func (s *LinkSession) Put(ctx context.Context, locals []string, opt PutOptions) error {
	if !s.Upload {
		return errors.New("this link gives a file to read, not a folder to upload into (coffer get URL)")
	}
	if len(locals) == 0 {
		return errors.New("nothing to upload")
	}
	folder := &Entry{ID: s.node, Kind: api.KindFolder, Name: s.Name, path: "/" + s.Name, vol: s.vol}
	u := &uploader{d: s.d, opt: opt}
	for _, l := range locals {
		if err := s.putOne(ctx, u, folder, l); err != nil {
			return err
		}
	}
	return nil
}

// putOne uploads one local file as an anonymous drop.
func (s *LinkSession) putOne(ctx context.Context, u *uploader, folder *Entry, local string) error {
	f, err := openNoFollow(local)
	if err != nil {
		return fmt.Errorf("open %s: %w", local, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", local, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file; a file request takes files only", local)
	}
	name := filepath.Base(filepath.Clean(local))
	if _, err := crypto.NormalizeName(name); err != nil {
		return fmt.Errorf("%s: %w", local, err)
	}
	id, err := crypto.NewID()
	if err != nil {
		return err
	}
	key, err := crypto.NewNodeKey()
	if err != nil {
		return err
	}
	ref := crypto.NodeRef{Volume: s.vol, Parent: s.node, Node: id}
	sealed, err := crypto.SealInboxDrop(s.payload.InboxPublic, ref, key, name)
	if err != nil {
		return err
	}
	author := crypto.LinkAuthor(s.id)
	e := &Entry{ID: id, Parent: s.node, Kind: api.KindFile, Name: name, Author: author, key: key, path: path.Join(folder.path, name), vol: s.vol, drop: true}
	rev, ck, sealedCK, err := u.newRevision(e)
	if err != nil {
		return err
	}
	sealer, err := crypto.NewBlockSealer(ck, s.vol, id, rev)
	if err != nil {
		return err
	}
	size := info.Size()
	ids := make([][32]byte, (size+crypto.BlockSize-1)/crypto.BlockSize)
	sum, err := u.sendBlocks(ctx, f, local, size, sealer, ids, nil, func(int, [32]byte) {}, nil)
	if err != nil {
		return err
	}
	sealedAttrs, err := crypto.SealAttrs(ck, s.vol, id, rev, crypto.Attrs{Size: uint64(size), ModTime: info.ModTime().UnixNano(), SHA256: sum})
	if err != nil {
		return err
	}
	rr := &crypto.RevisionRecord{
		Volume: s.vol, Node: id, Revision: rev, Seq: 1, SealedContentKey: sealedCK,
		Blocks: ids, SealedAttrs: sealedAttrs, Author: author,
	}
	rsig, err := rr.SignLink(s.keys)
	if err != nil {
		return err
	}
	rec := &crypto.NodeRecord{
		Volume: s.vol, Node: id, Parent: s.node, Kind: crypto.KindFile, SealedKey: sealed,
		Author: author, Version: 1, Revision: rev, RevisionSeq: 1, RevisionDigest: rr.Digest(),
	}
	if _, err := rand.Read(rec.NameHash[:]); err != nil {
		return err
	}
	nsig, err := rec.SignLink(s.keys)
	if err != nil {
		return err
	}
	ar := api.Revision{ID: rev, Node: id, Volume: s.vol, Seq: 1, SealedContentKey: sealedCK, SealedAttrs: sealedAttrs, Author: author, Signature: rsig}
	for _, b := range ids {
		ar.Blocks = append(ar.Blocks, append([]byte(nil), b[:]...))
	}
	req := api.LinkDropRequest{Node: toWire(rec, nsig), Revision: ar}
	if err := s.d.acc.t.do(ctx, http.MethodPost, s.d.link.path("/drops"), req, nil); err != nil {
		return fmt.Errorf("upload %s: %w", local, linkError(err))
	}
	return nil
}
