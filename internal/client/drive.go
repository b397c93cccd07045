package client

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// ErrTampered marks a record that failed verification: the server (or
// someone between) changed, swapped, replayed or invented it.
var ErrTampered = errors.New("tampered")

// tampered wraps the cause of a failed verification with ErrTampered, on
// one line.
func tampered(cause error) error {
	if cause == nil {
		return ErrTampered
	}
	return fmt.Errorf("%w (%w)", ErrTampered, cause)
}

// ErrNotExist means a path names nothing in the drive.
var ErrNotExist = errors.New("no such file or folder")

// Drive is the account's verified view of its volume.
type Drive struct {
	acc  *Account
	cfg  *Config
	root *Entry
	// seen is the highest record version verified per node, this run and
	// before (the rollback defence).
	seen *seenVersions
	// cache holds prefetched blocks (by ID) until fetchBlock takes them.
	cache sync.Map
	// ownKey is the account's identity key, checked once.
	ownKey crypto.VerifyKey
	// owned holds the verified shares of this account's own drive, by
	// shared node ID: below those nodes, their editors write too.
	owned map[string]*ownedShare
	// broken holds, by node ID, the shares whose lists failed to verify
	// (tampered or rolled back): nobody but the owner writes below them.
	broken map[string]error
	// keys caches other accounts' identity keys, checked against the
	// fingerprints that vouch for them.
	keys keyCache
	// warnings are things a command should tell the user but that do
	// not stop it (Warnings).
	warnMu   sync.Mutex
	warnings []string
	// dropInbox, set only by tests, replaces the inbox key uploads are
	// sealed to, to play a misbehaving uploader.
	dropInbox []byte
	// skipLocalChecks turns off the refusals by role that this client
	// makes before asking the server; only tests set it, to play a
	// modified client.
	skipLocalChecks bool
	// link is set when the drive is a public link's view of another
	// account's node (OpenLink): it reads through the link's endpoints
	// and has no account.
	link *linkView
	// linkInboxes are the inboxes of this account's upload links, by
	// folder node ID, for folders that have no share inbox (a share's
	// inbox takes its folder's links in).
	linkInboxes map[string]*inbox
}

// Entry is a node whose record, name and key this client has verified.
type Entry struct {
	ID     []byte
	Parent []byte
	Kind   int
	Name   string
	Author string
	Record api.Node
	// For files, the verified head revision and its attributes.
	Head  *api.Revision
	Attrs crypto.Attrs
	key   crypto.NodeKey
	keys  *crypto.NodeKeys
	path  string
	// vol is the volume the node is in: the account's own, or the
	// owner's of the share it was reached through.
	vol []byte
	// writers are the accounts whose records are accepted below this
	// entry.
	writers *writerSet
	// via is the share of another account the entry was reached
	// through, nil in the account's own drive.
	via *memberShare
	// virtual marks the folders of /shared that are not nodes: "root"
	// for /shared, "owner" for /shared/OWNER.
	virtual string
	// inbox is set on a shared folder that has uploaders; inFolder on
	// the items in it, whose first revision an uploader may have signed.
	inbox, inFolder *inbox
	// drop marks a file an uploader added, sealed to the folder's inbox
	// and not yet filed by a writer: it cannot be found by name.
	drop bool
}

// IsDir reports whether the entry is a folder.
func (e *Entry) IsDir() bool { return e.Kind == api.KindFolder }

// Writer is who wrote the entry: for a file, the author of its content
// (the head revision), who may differ from the record's signer (a filed
// upload, a file another writer renamed); for a folder, its signer.
func (e *Entry) Writer() string {
	if e.Head != nil {
		return e.Head.Author
	}
	return e.Author
}

// Path is the entry's absolute path in the drive, as it was resolved.
func (e *Entry) Path() string { return e.path }

func (e *Entry) nodeKeys() (*crypto.NodeKeys, error) {
	if e.keys == nil {
		k, err := e.key.Derive()
		if err != nil {
			return nil, err
		}
		e.keys = k
	}
	return e.keys, nil
}

func b64(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// Drive opens the account's drive, creating it on first use. The root
// record must be signed by the account itself and its key sealed to the
// account's own key.
func (c *Client) Drive(ctx context.Context) (*Drive, error) {
	acc, err := c.Open(ctx)
	if err != nil {
		return nil, err
	}
	d := &Drive{acc: acc, cfg: c.cfg, keys: keyCache{t: acc.t, m: map[string]crypto.VerifyKey{}}}
	if d.ownKey, err = crypto.NewVerifyKey(acc.Keys.IdentityPublic()); err != nil {
		return nil, err
	}
	st, err := c.cfg.State()
	if err != nil {
		return nil, err
	}
	acct := accountKey(acc.Session.Server, acc.Session.User)
	known := st.Volumes[acct]
	var vr api.VolumeResponse
	err = acc.t.do(ctx, http.MethodGet, api.PathVolume, nil, &vr)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		// A drive this device has seen does not vanish: making a new
		// one would hide the old one behind fresh keys.
		if known != nil {
			return nil, fmt.Errorf("the server says this account has no drive, but this device has seen drive %s: %w", b64(known), ErrTampered)
		}
		// Another device of the account may create it at the same
		// moment: then its drive is the one, read as any other.
		if err := d.create(ctx); err != nil && !IsConflict(err) {
			return nil, err
		}
		err = acc.t.do(ctx, http.MethodGet, api.PathVolume, nil, &vr)
	}
	if err != nil {
		return nil, fmt.Errorf("open drive: %w", err)
	}
	if known != nil && string(known) != string(vr.Volume) {
		return nil, fmt.Errorf("the server presents drive %s, but this device knows this account's drive as %s: %w", b64(vr.Volume), b64(known), ErrTampered)
	}
	if known == nil {
		if err := c.cfg.UpdateState(func(s *State) { s.Volumes[acct] = vr.Volume }); err != nil {
			return nil, err
		}
	}
	d.seen, err = loadSeen(c.cfg, acc.Session, vr.Volume)
	if err != nil {
		return nil, err
	}
	if err := d.verifyRoot(&vr); err != nil {
		return nil, err
	}
	if err := d.loadOwnedShares(ctx); err != nil {
		return nil, err
	}
	if err := d.loadLinkInboxes(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// create makes the account's volume and root folder. The root key is
// sealed to the account's own encryption key.
func (d *Drive) create(ctx context.Context) error {
	vol, err := crypto.NewID()
	if err != nil {
		return err
	}
	id, err := crypto.NewID()
	if err != nil {
		return err
	}
	key, err := crypto.NewNodeKey()
	if err != nil {
		return err
	}
	sealedKey, err := crypto.SealRootKey(d.acc.Keys.EncryptionPublic(), vol, id, key)
	if err != nil {
		return err
	}
	rec := crypto.NodeRecord{Volume: vol, Node: id, Kind: crypto.KindFolder, SealedKey: sealedKey, Author: d.acc.Session.User, Version: 1}
	sig, err := rec.Sign(d.acc.Keys)
	if err != nil {
		return err
	}
	req := api.CreateVolumeRequest{Volume: vol, Root: toWire(&rec, sig)}
	if err := d.acc.t.do(ctx, http.MethodPost, api.PathVolume, req, nil); err != nil {
		return fmt.Errorf("create drive: %w", err)
	}
	return nil
}

func toWire(r *crypto.NodeRecord, sig []byte) api.Node {
	return api.Node{
		ID: r.Node, Volume: r.Volume, Parent: r.Parent, Kind: int(r.Kind), NameHash: r.NameHash[:],
		SealedName: r.SealedName, SealedKey: r.SealedKey, Author: r.Author, Version: r.Version,
		Revision: r.Revision, RevisionSeq: r.RevisionSeq, Signature: sig,
		RevisionDigest: digestOrNil(r.RevisionDigest), KeyHistory: r.KeyHistory,
	}
}

func digestOrNil(d [32]byte) []byte {
	if d == ([32]byte{}) {
		return nil
	}
	return d[:]
}

func (d *Drive) verifyRoot(vr *api.VolumeResponse) error {
	n := &vr.Root
	fail := func(why string, err error) error {
		return fmt.Errorf("drive root %s: %s: %w", b64(n.ID), why, tampered(err))
	}
	if string(n.Volume) != string(vr.Volume) || n.Parent != nil || n.Kind != api.KindFolder {
		return fail("not a root folder of this volume", nil)
	}
	if n.Author != d.acc.Session.User {
		return fail("signed by "+n.Author+", not by this account", nil)
	}
	rec, err := api.RecordOf(n)
	if err != nil {
		return fail("malformed", err)
	}
	if err := rec.Verify(d.acc.Keys.IdentityPublic(), n.Signature); err != nil {
		return fail("bad signature", err)
	}
	if err := d.seen.check(n.ID, n.Version, recordFingerprint(d.acc.Keys.IdentityPublic(), rec, n.Signature)); err != nil {
		return fail("rolled back", err)
	}
	key, err := crypto.OpenRootKey(d.acc.Keys, n.Volume, n.ID, n.SealedKey)
	if err != nil {
		return fail("root key does not open", err)
	}
	d.root = &Entry{
		ID: n.ID, Kind: api.KindFolder, Name: "/", Author: n.Author, Record: *n, key: key, path: "/",
		vol: vr.Volume, writers: &writerSet{keys: map[string]crypto.VerifyKey{d.acc.Session.User: d.ownKey}},
	}
	return nil
}

// authorKey returns the key a record's author signs with, if the author
// may write at place: the account itself in its own drive, the owner of a
// share and the editors its signed member list names. Anyone else's
// record is an injection (or a viewer's write that got past the server).
func (d *Drive) authorKey(place *Entry, author string) (crypto.VerifyKey, error) {
	if k, ok := place.writers.lookup(author); ok {
		return k, nil
	}
	return crypto.VerifyKey{}, fmt.Errorf("signed by %q, who may not write here", author)
}

// verifyChild checks a record the server presents as a child of parent:
// where it sits, who signed it, that it is not older than one seen before,
// and that its name, key and (for files) head revision open under the
// parent's keys. It returns the verified entry.
func (d *Drive) verifyChild(parent *Entry, n *api.Node) (*Entry, error) {
	return d.verifyChildHead(parent, n, true)
}

// verifyChildHead is verifyChild; without withHead a file's head revision
// is not checked (and the entry has no Head or Attrs), for listings that
// show only names.
func (d *Drive) verifyChildHead(parent *Entry, n *api.Node, withHead bool) (*Entry, error) {
	name := "?"
	fail := func(why string, err error) (*Entry, error) {
		return nil, fmt.Errorf("%s: entry %s (%s): %s: %w", Printable(parent.path), b64(n.ID), Printable(name), why, tampered(err))
	}
	// leaveOut is a failure that leaves the entry out with a warning
	// instead of failing the listing. For a drop, that is anything its
	// uploader controls: whoever holds an upload link signs as it, and
	// the server cannot check (an uploader could otherwise make the
	// folder unlistable). Nothing of such an entry is trusted or shown.
	leaveOut := func(why string, err error) (*Entry, error) {
		_, ferr := fail(why, err)
		return nil, &unreadableDrop{err: ferr}
	}
	if string(n.Volume) != string(parent.vol) || string(n.Parent) != string(parent.ID) {
		return fail("does not belong in this folder", nil)
	}
	drop := len(n.SealedName) == 0
	if d.link != nil && drop {
		// A link gives what its owner wrote; uploads waiting to be
		// filed are the owner's to read, not the link's.
		return nil, &unreadableDrop{err: fmt.Errorf("%s: an upload waiting to be filed by the owner", Printable(parent.path))}
	}
	var pub crypto.VerifyKey
	var err error
	if drop {
		pub, err = d.dropAuthorKey(parent, n.Author)
	} else {
		pub, err = d.authorKey(d.placeOf(parent, n.ID), n.Author)
	}
	if err != nil && d.link != nil {
		// Under a link only the owner's records count (docs/crypto.md
		// 13.13): another writer's (an editor of a share) is left out.
		return nil, &unreadableDrop{err: fmt.Errorf("%s: entry %s: written by %q, not by the owner; links give only what the owner wrote", Printable(parent.path), b64(n.ID), Printable(n.Author))}
	}
	if err != nil && drop {
		return leaveOut("upload by an unknown signer", err)
	}
	if err != nil {
		return fail("unknown signer", err)
	}
	rec, err := api.RecordOf(n)
	if err == nil {
		err = rec.Validate()
	}
	if err == nil && drop != rec.IsDrop() {
		err = errors.New("neither an ordinary record nor an inbox drop")
	}
	if err == nil && drop && n.Version != 1 {
		// Uploaders cannot change what they added: a drop has only a
		// first version, and once filed it never becomes one again.
		err = fmt.Errorf("an inbox upload at version %d", n.Version)
	}
	if err == nil && len(n.Signature) != ed25519.SignatureSize {
		err = fmt.Errorf("signature is %d bytes", len(n.Signature))
	}
	if err != nil && drop {
		return leaveOut("malformed upload", err)
	}
	if err != nil {
		return fail("malformed record", err)
	}
	// A record verified before (same bytes, same signer) is not checked
	// again: that makes a repeated listing cheap. The record validated
	// above, so its bytes are its canonical encoding.
	fp := recordFingerprint(pub.Public(), rec, n.Signature)
	if !d.seen.known(n.ID, n.Version, fp) {
		if err := rec.VerifyWith(pub, n.Signature); err != nil {
			if drop {
				return leaveOut("upload with a bad signature", err)
			}
			return fail("bad signature", err)
		}
	}
	ref := crypto.NodeRef{Volume: n.Volume, Parent: parent.ID, Node: n.ID}
	var (
		nm  string
		key crypto.NodeKey
	)
	if drop {
		ik, err := parent.inbox.keyFor(parent, n.Author)
		if err != nil {
			return fail("inbox", err)
		}
		if key, nm, err = crypto.OpenInboxDrop(ik, ref, n.SealedKey); err != nil {
			// Signed by an uploader, who can seal anything: its own
			// doing, not the server's.
			return leaveOut("upload does not open (sealed for another folder?)", err)
		}
		name = nm
	} else {
		pk, err := parent.nodeKeys()
		if err != nil {
			return nil, err
		}
		if nm, err = crypto.OpenName(pk, ref, n.SealedName); err != nil {
			return fail("name does not open (moved or renamed by the server?)", err)
		}
		name = nm
		if h := crypto.NameHash(pk, nm); string(h[:]) != string(n.NameHash) {
			return fail("name hash does not match the name", nil)
		}
		if key, err = crypto.UnwrapNodeKey(pk, ref, n.SealedKey); err != nil {
			return fail("key does not open", err)
		}
	}
	if err := d.seen.check(n.ID, n.Version, fp); err != nil {
		return fail("rolled back", err)
	}
	e := &Entry{ID: n.ID, Parent: parent.ID, Kind: n.Kind, Name: nm, Author: n.Author, Record: *n, key: key, path: path.Join(parent.path, nm), drop: drop}
	d.inherit(e, parent)
	if n.Kind == api.KindFile && withHead {
		if n.Head == nil {
			return fail("file without content", nil)
		}
		attrs, err := d.verifyHead(e, rec, n.Head)
		var other *otherWriter
		switch {
		case errors.As(err, &other):
			return nil, &unreadableDrop{err: fmt.Errorf("%s: %w", e.path, err)}
		case err != nil && drop:
			return leaveOut("head revision", err)
		case err != nil:
			return fail("head revision", err)
		}
		e.Head, e.Attrs = n.Head, attrs
	}
	return e, nil
}

// unreadableDrop is an entry a listing leaves out with a warning rather
// than failing: an upload that does not verify or open (an uploader can
// seal and sign anything, so this is the uploader's doing, and failing
// would let any uploader make the folder unlistable), or, under a link,
// an entry the link does not vouch for.
type unreadableDrop struct{ err error }

// otherWriter is a file under a link whose content someone other than
// the owner wrote (an editor, a filed upload).
type otherWriter struct{ author string }

func (o *otherWriter) Error() string {
	return fmt.Sprintf("its content was written by %q, not by the owner; links give only what the owner wrote", Printable(AnonymousAuthor(o.author)))
}

func (u *unreadableDrop) Error() string { return u.err.Error() }
func (u *unreadableDrop) Unwrap() error { return u.err }

// verifyHead checks the revision served as a file's head against the
// digest its verified node record signs, which covers every field of the
// revision; the revision's own signature then adds nothing, unless another
// account wrote it (docs/crypto.md, checking a head by its digest).
func (d *Drive) verifyHead(e *Entry, rec *crypto.NodeRecord, r *api.Revision) (crypto.Attrs, error) {
	if err := checkBlockIDs(r); err != nil {
		return crypto.Attrs{}, err
	}
	rr := revisionRecord(r)
	if err := rr.MatchesHead(rec); err != nil {
		return crypto.Attrs{}, fmt.Errorf("not the revision its record names: %w", err)
	}
	if d.link != nil && rr.Author != d.link.owner {
		// The owner's record vouches for it by digest, but a link gives
		// only content the owner wrote (docs/crypto.md 13.13), as the
		// browser does.
		return crypto.Attrs{}, &otherWriter{author: rr.Author}
	}
	// Another writer's revision must carry its author's valid signature.
	// A former member's no longer can be checked (their key no longer
	// counts here); the record's signer, who may write, vouches for it
	// through the digest (docs/crypto.md, revocation).
	if _, ok := e.writers.lookup(rr.Author); ok && rr.Author != rec.Author {
		return d.verifyRevision(e, r)
	}
	return d.openRevision(e, r, rr)
}

// verifyRevision checks a revision of e: signature, place, content key,
// attributes and block count. It returns the attributes.
func (d *Drive) verifyRevision(e *Entry, r *api.Revision) (crypto.Attrs, error) {
	var a crypto.Attrs
	if string(r.Node) != string(e.ID) || string(r.Volume) != string(e.vol) {
		return a, errors.New("revision of another file")
	}
	if err := checkBlockIDs(r); err != nil {
		return a, err
	}
	pub, err := d.authorKey(e, r.Author)
	if err != nil && e.inFolder != nil && r.Seq == 1 {
		// An uploader writes a file's first revision only (it came as
		// a drop); it can write nothing later.
		if k, ok := e.inFolder.uploader(r.Author); ok {
			pub, err = k, nil
		}
	}
	if err != nil {
		return a, err
	}
	rr := revisionRecord(r)
	if err := rr.Verify(pub.Public(), r.Signature); err != nil {
		return a, fmt.Errorf("bad signature: %w", err)
	}
	return d.openRevision(e, r, rr)
}

// openRevision opens a verified revision's attributes and checks its block
// count against them.
func (d *Drive) openRevision(e *Entry, r *api.Revision, rr *crypto.RevisionRecord) (crypto.Attrs, error) {
	var a crypto.Attrs
	ck, err := d.contentKey(e, r)
	if err != nil {
		return a, err
	}
	a, err = crypto.OpenAttrs(ck, e.vol, e.ID, r.ID, r.SealedAttrs)
	if err != nil {
		return a, fmt.Errorf("attributes do not open: %w", err)
	}
	if err := crypto.CheckManifest(rr, a); err != nil {
		return a, err
	}
	return a, nil
}

// contentKey opens a revision's content key under the file's key, or,
// for a revision written before a key rotation, under one of the earlier
// keys its record keeps (docs/crypto.md 12.1).
func (d *Drive) contentKey(e *Entry, r *api.Revision) (crypto.ContentKey, error) {
	nk, err := e.nodeKeys()
	if err != nil {
		return crypto.ContentKey{}, err
	}
	ck, err := crypto.OpenContentKey(nk, e.vol, e.ID, r.ID, r.SealedContentKey)
	if err == nil || len(e.Record.KeyHistory) == 0 {
		if err != nil {
			return ck, fmt.Errorf("content key does not open: %w", err)
		}
		return ck, nil
	}
	prev, herr := crypto.OpenKeyHistory(nk, e.vol, e.ID, e.Record.KeyHistory)
	if herr != nil {
		return ck, fmt.Errorf("key history does not open: %w", herr)
	}
	for _, k := range prev {
		pk, derr := k.Derive()
		if derr != nil {
			return ck, derr
		}
		if ck, err = crypto.OpenContentKey(pk, e.vol, e.ID, r.ID, r.SealedContentKey); err == nil {
			return ck, nil
		}
	}
	return ck, fmt.Errorf("content key does not open under the file's key or its earlier ones: %w", err)
}

// checkBlockIDs refuses a revision whose block IDs are not 32 bytes, so
// that revisionRecord neither cuts nor pads what the server sent.
func checkBlockIDs(r *api.Revision) error {
	for i, b := range r.Blocks {
		if len(b) != 32 {
			return fmt.Errorf("block %d's ID is %d bytes, not 32", i, len(b))
		}
	}
	return nil
}

// revisionRecord is the crypto record of a wire revision, its origins
// (docs/crypto.md 12.6) included as the server sent them: the record's
// rules, then its digest or signature, judge them.
func revisionRecord(r *api.Revision) *crypto.RevisionRecord {
	rr := &crypto.RevisionRecord{
		Volume: r.Volume, Node: r.Node, Revision: r.ID, Seq: r.Seq,
		SealedContentKey: r.SealedContentKey, SealedAttrs: r.SealedAttrs, Author: r.Author,
		Blocks: make([][32]byte, len(r.Blocks)), BlockOrigins: r.BlockOrigins,
	}
	for i, b := range r.Blocks {
		copy(rr.Blocks[i][:], b)
	}
	for _, o := range r.Origins {
		rr.Origins = append(rr.Origins, crypto.Origin{Revision: o.Revision, SealedKey: o.SealedKey})
	}
	return rr
}

// List returns the verified children of a folder, files with their
// verified head revision and attributes. Verification runs on every core:
// each child costs a signature check and a few AEAD opens.
func (d *Drive) List(ctx context.Context, dir *Entry) ([]*Entry, error) {
	return d.list(ctx, dir, true)
}

// ListNames is List for a listing of names only: the records, names and
// keys are verified, the files' contents are not looked at (entries have
// no Head or Attrs).
func (d *Drive) ListNames(ctx context.Context, dir *Entry) ([]*Entry, error) {
	return d.list(ctx, dir, false)
}

func (d *Drive) list(ctx context.Context, dir *Entry, withHeads bool) ([]*Entry, error) {
	if !dir.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir.path)
	}
	if dir.virtual != "" {
		return d.listShared(ctx, dir)
	}
	if dir.via != nil && dir.via.role == crypto.RoleUploader && !d.skipLocalChecks {
		return nil, fmt.Errorf("list %s: you are an uploader of %q shared by %s; you can add files to it, not list or read it", dir.path, dir.via.name, dir.via.share.Owner)
	}
	var list api.NodeList
	if err := d.acc.t.do(ctx, http.MethodGet, d.childrenPath(dir.ID), nil, &list); err != nil {
		return nil, fmt.Errorf("list %s: %w", dir.path, err)
	}
	if _, err := dir.nodeKeys(); err != nil {
		return nil, err
	}
	out := make([]*Entry, len(list.Nodes))
	errs := make([]error, len(list.Nodes))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(list.Nodes)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(list.Nodes); i += workers {
				out[i], errs[i] = d.verifyChildHead(dir, &list.Nodes[i], withHeads)
			}
		})
	}
	wg.Wait()
	seenNames := make(map[string]bool, len(out))
	kept := out[:0]
	for i, err := range errs {
		var bad *unreadableDrop
		if errors.As(err, &bad) {
			d.warn(bad.err.Error() + "; left out")
			continue
		}
		if err != nil {
			return nil, err
		}
		kept = append(kept, out[i])
		if out[i].drop {
			// The server cannot keep drops' names unique; filing them
			// does (fileDrops).
			continue
		}
		if seenNames[out[i].Name] {
			return nil, fmt.Errorf("%s: two entries named %q: %w", dir.path, out[i].Name, ErrTampered)
		}
		seenNames[out[i].Name] = true
	}
	out = kept
	if err := d.fileDrops(ctx, dir, out, seenNames); err != nil {
		return nil, err
	}
	return out, d.seen.save()
}

// child looks up one name in a folder, or returns ErrNotExist.
func (d *Drive) child(ctx context.Context, dir *Entry, name string) (*Entry, error) {
	if dir.via != nil && dir.via.role == crypto.RoleUploader && !d.skipLocalChecks {
		// An uploader cannot look into the folder: to it, every name
		// is free (a clash is resolved when the upload is filed).
		return nil, fmt.Errorf("%s: %w", path.Join(dir.path, name), ErrNotExist)
	}
	pk, err := dir.nodeKeys()
	if err != nil {
		return nil, err
	}
	h := crypto.NameHash(pk, name)
	var list api.NodeList
	if err := d.acc.t.do(ctx, http.MethodGet, d.childrenPath(dir.ID)+"?name_hash="+b64(h[:]), nil, &list); err != nil {
		return nil, fmt.Errorf("look up %s: %w", path.Join(dir.path, name), err)
	}
	if len(list.Nodes) == 0 {
		if dir.inbox != nil && !dir.inbox.filed && (dir.via == nil || dir.via.role == crypto.RoleEditor) {
			// The name may be an upload waiting in the folder's inbox,
			// which cannot be found by name until it is filed.
			dir.inbox.filed = true
			if _, err := d.ListNames(ctx, dir); err != nil {
				return nil, err
			}
			return d.child(ctx, dir, name)
		}
		return nil, fmt.Errorf("%s: %w", path.Join(dir.path, name), ErrNotExist)
	}
	if len(list.Nodes) > 1 {
		return nil, fmt.Errorf("%s: the server sent %d entries for one name: %w", path.Join(dir.path, name), len(list.Nodes), ErrTampered)
	}
	e, err := d.verifyChild(dir, &list.Nodes[0])
	if err != nil {
		return nil, err
	}
	if e.Name != name {
		return nil, fmt.Errorf("%s: the server answered with %q: %w", path.Join(dir.path, name), e.Name, ErrTampered)
	}
	return e, nil
}

// SplitPath checks an absolute drive path and returns its normalised
// components.
func SplitPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("drive path %q must start with /", p)
	}
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		n, err := crypto.NormalizeName(s)
		if err != nil {
			return nil, fmt.Errorf("drive path %q: %w", p, err)
		}
		parts = append(parts, n)
	}
	return parts, nil
}

// start returns where a path's walk starts, and the components left to
// walk from there: the root of the account's drive, or for a path under
// /shared the shared item (or a folder of /shared itself).
func (d *Drive) start(ctx context.Context, parts []string) (*Entry, []string, error) {
	if len(parts) == 0 || parts[0] != SharedDir || d.link != nil {
		return d.root, parts, nil
	}
	n := min(len(parts), 3)
	e, err := d.resolveShared(ctx, parts[1:n])
	if err != nil {
		return nil, nil, err
	}
	return e, parts[n:], nil
}

// Resolve walks an absolute path from the root, verifying every step.
func (d *Drive) Resolve(ctx context.Context, p string) (*Entry, error) {
	parts, err := SplitPath(p)
	if err != nil {
		return nil, err
	}
	e, rest, err := d.start(ctx, parts)
	if err != nil {
		return nil, err
	}
	for _, name := range rest {
		if !e.IsDir() {
			return nil, fmt.Errorf("%s is a file, not a folder", e.path)
		}
		if e, err = d.child(ctx, e, name); err != nil {
			return nil, err
		}
	}
	if err := d.seen.save(); err != nil {
		return nil, err
	}
	return e, nil
}

func (d *Drive) warn(msg string) {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	d.warnings = append(d.warnings, msg)
}

// Warnings returns, and forgets, what the drive met that the user should
// know but that did not stop the command.
func (d *Drive) Warnings() []string {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	w := d.warnings
	d.warnings = nil
	return w
}

// Root returns the drive's root folder.
func (d *Drive) Root() *Entry { return d.root }

// newChild makes the record of a new node named name under parent, with a
// fresh ID and node key.
func (d *Drive) newChild(parent *Entry, name string, kind crypto.NodeKind) (*Entry, *crypto.NodeRecord, error) {
	return d.newChildWith(parent, name, kind, nil, nil)
}

// newChildWith is newChild with a given ID and key (both nil: fresh ones),
// for resuming an upload begun earlier.
func (d *Drive) newChildWith(parent *Entry, name string, kind crypto.NodeKind, id []byte, k *crypto.NodeKey) (*Entry, *crypto.NodeRecord, error) {
	if parent == d.root && name == SharedDir {
		return nil, nil, fmt.Errorf("/%s is where what others share with you appears; choose another name", SharedDir)
	}
	if parent.via != nil && parent.via.role == crypto.RoleUploader && isShareRoot(parent) && kind == crypto.KindFile {
		return d.newDrop(parent, name, id, k)
	}
	if err := d.writable(parent, "create "+path.Join(parent.path, name)); err != nil {
		return nil, nil, err
	}
	pk, err := parent.nodeKeys()
	if err != nil {
		return nil, nil, err
	}
	id, key, err := idAndKey(id, k)
	if err != nil {
		return nil, nil, err
	}
	ref := crypto.NodeRef{Volume: parent.vol, Parent: parent.ID, Node: id}
	sealedName, err := crypto.SealName(pk, ref, name)
	if err != nil {
		return nil, nil, err
	}
	sealedKey, err := crypto.WrapNodeKey(pk, ref, key)
	if err != nil {
		return nil, nil, err
	}
	rec := &crypto.NodeRecord{
		Volume: parent.vol, Node: id, Parent: parent.ID, Kind: kind, NameHash: crypto.NameHash(pk, name),
		SealedName: sealedName, SealedKey: sealedKey, Author: d.acc.Session.User, Version: 1,
	}
	e := &Entry{ID: id, Parent: parent.ID, Kind: int(kind), Name: name, Author: rec.Author, key: key, path: path.Join(parent.path, name)}
	d.inherit(e, parent)
	return e, rec, nil
}

// sign signs rec as this account: whoever last signed a record, the one
// who changes it signs the new one.
// idAndKey returns id and *k, or fresh ones for those that are nil.
func idAndKey(id []byte, k *crypto.NodeKey) ([]byte, crypto.NodeKey, error) {
	var err error
	if id == nil {
		if id, err = crypto.NewID(); err != nil {
			return nil, crypto.NodeKey{}, err
		}
	}
	if k != nil {
		return id, *k, nil
	}
	key, err := crypto.NewNodeKey()
	return id, key, err
}

func (d *Drive) sign(rec *crypto.NodeRecord) (api.Node, error) {
	rec.Author = d.acc.Session.User
	sig, err := rec.Sign(d.acc.Keys)
	if err != nil {
		return api.Node{}, err
	}
	return toWire(rec, sig), nil
}

// Mkdir creates a folder. With parents, missing folders on the way are
// created and an existing folder is not an error.
func (d *Drive) Mkdir(ctx context.Context, p string, parents bool) (*Entry, error) {
	parts, err := SplitPath(p)
	if err != nil {
		return nil, err
	}
	e, rest, err := d.start(ctx, parts)
	if err != nil {
		return nil, err
	}
	if len(rest) == 0 {
		if parents && e.IsDir() {
			return e, nil
		}
		return nil, fmt.Errorf("%s exists", e.path)
	}
	for i, name := range rest {
		if !e.IsDir() {
			return nil, fmt.Errorf("%s is a file, not a folder", e.path)
		}
		next, err := d.child(ctx, e, name)
		last := i == len(rest)-1
		switch {
		case err == nil && !next.IsDir():
			return nil, fmt.Errorf("%s exists and is a file", next.path)
		case err == nil && last && !parents:
			return nil, fmt.Errorf("%s already exists", next.path)
		case err == nil:
			e = next
			continue
		case !errors.Is(err, ErrNotExist):
			return nil, err
		case !last && !parents:
			return nil, fmt.Errorf("%s does not exist (use -p to create it)", path.Join(e.path, name))
		}
		nd, err := d.mkdirIn(ctx, e, name)
		if err != nil {
			return nil, err
		}
		e = nd
	}
	return e, d.seen.save()
}

func (d *Drive) mkdirIn(ctx context.Context, parent *Entry, name string) (*Entry, error) {
	if err := d.writable(parent, "create "+path.Join(parent.path, name)); err != nil {
		return nil, err
	}
	e, rec, err := d.newChild(parent, name, crypto.KindFolder)
	if err != nil {
		return nil, err
	}
	wire, err := d.sign(rec)
	if err != nil {
		return nil, err
	}
	if err := d.acc.t.do(ctx, http.MethodPost, api.PathNodes, api.CreateNodesRequest{Items: []api.NewNode{{Node: wire}}}, nil); err != nil {
		return nil, fmt.Errorf("create folder %s: %w", e.path, err)
	}
	e.Record = wire
	d.seen.record(e.ID, 1, d.fingerprint(rec, wire.Signature))
	return e, nil
}

// Move renames and/or moves src to dst. If dst is an existing folder, src
// goes inside it under its own name.
func (d *Drive) Move(ctx context.Context, src, dst string) error {
	e, err := d.Resolve(ctx, src)
	if err != nil {
		return err
	}
	// MoveEntry checks these too; here they come before the destination
	// is looked at, so the refusal names the real problem.
	if err := d.writable(e, "move "+e.path); err != nil {
		return err
	}
	if e.Parent == nil {
		return errors.New("the root cannot be moved")
	}
	if isShareRoot(e) {
		return fmt.Errorf("%s is shared with you by %s; only they can rename or move it", e.path, e.via.share.Owner)
	}
	parent, name, err := d.target(ctx, dst, e.Name)
	if err != nil {
		return err
	}
	_, err = d.MoveEntry(ctx, e, parent, name)
	return err
}

// MoveEntry renames and/or moves e to name in folder parent, if e's
// record is still the one e holds (else a conflict, see IsConflict), and
// returns the moved entry.
func (d *Drive) MoveEntry(ctx context.Context, e, parent *Entry, name string) (*Entry, error) {
	moved, err := d.moveEntry(ctx, e, parent, name)
	if err != nil {
		return nil, err
	}
	return moved, d.seen.save()
}

func (d *Drive) moveEntry(ctx context.Context, e, parent *Entry, name string) (*Entry, error) {
	if err := d.writable(e, "move "+e.path); err != nil {
		return nil, err
	}
	if e.Parent == nil {
		return nil, errors.New("the root cannot be moved")
	}
	if isShareRoot(e) {
		return nil, fmt.Errorf("%s is shared with you by %s; only they can rename or move it", e.path, e.via.share.Owner)
	}
	if err := d.writable(parent, "move into "+parent.path); err != nil {
		return nil, err
	}
	if string(parent.vol) != string(e.vol) {
		return nil, fmt.Errorf("cannot move %s to %s: they are in different drives (copy it instead)", e.path, parent.path)
	}
	if parent == d.root && name == SharedDir {
		return nil, fmt.Errorf("/%s is where what others share with you appears; choose another name", SharedDir)
	}
	// Moving between places with different writers (into or out of a
	// share with editors): records signed by someone who may not write
	// at the destination are signed again by this account first, or they
	// would stop verifying there.
	from, err := d.Resolve(ctx, path.Dir(e.path))
	if err != nil {
		return nil, err
	}
	if !sameWriters(from.writers, parent.writers) {
		if err := d.resignFor(ctx, e, d.placeOf(parent, e.ID).writers); err != nil {
			return nil, fmt.Errorf("move %s: sign again what others wrote in it: %w", e.path, err)
		}
	}
	for p := parent; ; {
		if string(p.ID) == string(e.ID) {
			return nil, fmt.Errorf("cannot move %s into itself", e.path)
		}
		if p.Parent == nil {
			break
		}
		if p, err = d.Resolve(ctx, path.Dir(p.path)); err != nil {
			return nil, err
		}
	}
	pk, err := parent.nodeKeys()
	if err != nil {
		return nil, err
	}
	rec, err := api.RecordOf(&e.Record)
	if err != nil {
		return nil, err
	}
	ref := crypto.NodeRef{Volume: parent.vol, Parent: parent.ID, Node: e.ID}
	if rec.SealedName, err = crypto.SealName(pk, ref, name); err != nil {
		return nil, err
	}
	if rec.SealedKey, err = crypto.WrapNodeKey(pk, ref, e.key); err != nil {
		return nil, err
	}
	rec.Parent, rec.NameHash, rec.Version = parent.ID, crypto.NameHash(pk, name), e.Record.Version+1
	wire, err := d.sign(rec)
	if err != nil {
		return nil, err
	}
	req := api.UpdateNodeRequest{Node: wire, ExpectVersion: e.Record.Version}
	if err := d.acc.t.do(ctx, http.MethodPut, "/v1/nodes/"+b64(e.ID), req, nil); err != nil {
		return nil, fmt.Errorf("move %s to %s: %w", e.path, path.Join(parent.path, name), err)
	}
	d.seen.record(e.ID, rec.Version, d.fingerprint(rec, wire.Signature))
	moved := *e
	moved.Parent, moved.Name, moved.Record, moved.Author = parent.ID, name, wire, rec.Author
	moved.path = path.Join(parent.path, name)
	d.inherit(&moved, parent)
	return &moved, nil
}

// fingerprint is the seen-versions fingerprint of a record this account signed.
func (d *Drive) fingerprint(rec *crypto.NodeRecord, sig []byte) string {
	return recordFingerprint(d.ownKey.Public(), rec, sig)
}

// target resolves where something named name goes for destination dst:
// inside dst if it is a folder, else as dst's last component in its parent.
func (d *Drive) target(ctx context.Context, dst, name string) (*Entry, string, error) {
	e, err := d.Resolve(ctx, dst)
	if err == nil {
		if e.IsDir() {
			return e, name, nil
		}
		return nil, "", fmt.Errorf("%s already exists", e.path)
	}
	if !errors.Is(err, ErrNotExist) {
		return nil, "", err
	}
	parts, err := SplitPath(dst)
	if err != nil {
		return nil, "", err
	}
	parent, err := d.Resolve(ctx, "/"+strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if !parent.IsDir() {
		return nil, "", fmt.Errorf("%s is a file, not a folder", parent.path)
	}
	return parent, parts[len(parts)-1], nil
}

// Remove moves a path to the trash. A folder needs recursive.
func (d *Drive) Remove(ctx context.Context, p string, recursive bool) error {
	e, err := d.Resolve(ctx, p)
	if err != nil {
		return err
	}
	if err := d.writable(e, "remove "+e.path); err != nil {
		return err
	}
	if e.Parent == nil {
		return errors.New("the root cannot be removed")
	}
	if isShareRoot(e) {
		return fmt.Errorf("%s is shared with you by %s; only they can remove it (to leave the share, decline it)", e.path, e.via.share.Owner)
	}
	if e.IsDir() && !recursive {
		return fmt.Errorf("%s is a folder (use -r)", e.path)
	}
	if err := d.acc.t.do(ctx, http.MethodPost, "/v1/nodes/"+b64(e.ID)+"/trash", nil, nil); err != nil {
		return fmt.Errorf("remove %s: %w", e.path, err)
	}
	return nil
}

// Trash lists the trash. Each item's name is opened under its parent, so
// the parent must still be readable.
func (d *Drive) Trash(ctx context.Context) ([]*Entry, error) {
	var list api.NodeList
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathTrash, nil, &list); err != nil {
		return nil, fmt.Errorf("list trash: %w", err)
	}
	var out []*Entry
	parents := map[string]*Entry{}
	for i := range list.Nodes {
		n := &list.Nodes[i]
		parent, ok := parents[string(n.Parent)]
		if !ok {
			var err error
			if parent, err = d.byID(ctx, n.Parent); err != nil {
				return nil, err
			}
			parents[string(n.Parent)] = parent
		}
		e, err := d.verifyChild(parent, n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, d.seen.save()
}

// byID loads and verifies a folder by ID, walking its ancestors up to the
// root (each is verified against its own parent).
func (d *Drive) byID(ctx context.Context, id []byte) (*Entry, error) {
	if string(id) == string(d.root.ID) {
		return d.root, nil
	}
	var chain []api.Node
	for cur := id; string(cur) != string(d.root.ID); {
		var n api.Node
		if err := d.acc.t.do(ctx, http.MethodGet, "/v1/nodes/"+b64(cur), nil, &n); err != nil {
			return nil, fmt.Errorf("load folder %s: %w", b64(cur), err)
		}
		if string(n.ID) != string(cur) || n.Parent == nil || len(chain) > 4096 {
			return nil, fmt.Errorf("folder %s: the server sent a broken chain of parents: %w", b64(cur), ErrTampered)
		}
		chain = append(chain, n)
		cur = n.Parent
	}
	e := d.root
	for i := len(chain) - 1; i >= 0; i-- {
		next, err := d.verifyChild(e, &chain[i])
		if err != nil {
			return nil, err
		}
		e = next
	}
	return e, nil
}

// RestoreFromTrash brings back the trashed item whose original path is p.
func (d *Drive) RestoreFromTrash(ctx context.Context, p string) error {
	items, err := d.Trash(ctx)
	if err != nil {
		return err
	}
	for _, e := range items {
		if e.path == path.Clean(p) {
			if err := d.acc.t.do(ctx, http.MethodPost, "/v1/nodes/"+b64(e.ID)+"/restore", nil, nil); err != nil {
				return fmt.Errorf("restore %s: %w", p, err)
			}
			return nil
		}
	}
	return fmt.Errorf("%s is not in the trash", p)
}

// EmptyTrash deletes everything in the trash for good.
func (d *Drive) EmptyTrash(ctx context.Context) (int, error) {
	var resp api.EmptyTrashResponse
	if err := d.acc.t.do(ctx, http.MethodDelete, api.PathTrash, nil, &resp); err != nil {
		return 0, fmt.Errorf("empty trash: %w", err)
	}
	return resp.Deleted, nil
}

// Version is one verified revision of a file.
type Version struct {
	Seq     uint64
	Attrs   crypto.Attrs
	Author  string
	Created time.Time
	Head    bool
	rev     api.Revision
}

// Versions lists a file's revisions, oldest first.
func (d *Drive) Versions(ctx context.Context, p string) ([]Version, error) {
	e, err := d.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	if e.IsDir() {
		return nil, fmt.Errorf("%s is a folder", e.path)
	}
	var list api.RevisionList
	if err := d.acc.t.do(ctx, http.MethodGet, "/v1/nodes/"+b64(e.ID)+"/revisions", nil, &list); err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", e.path, err)
	}
	rec, err := api.RecordOf(&e.Record)
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(list.Revisions))
	for _, r := range list.Revisions {
		var a crypto.Attrs
		var err error
		if string(r.ID) == string(e.Record.Revision) {
			// The head is vouched for by the verified record's digest,
			// whoever wrote it (an uploader, a former member).
			a, err = d.verifyHead(e, rec, &r)
		} else {
			a, err = d.verifyRevision(e, &r)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: version %d: %w", e.path, r.Seq, tampered(err))
		}
		out = append(out, Version{Seq: r.Seq, Attrs: a, Author: r.Author, Created: r.CreatedAt, Head: string(r.ID) == string(e.Record.Revision), rev: r})
	}
	return out, nil
}

// RestoreVersion makes an earlier revision the file's head again, with a
// new signed record (so the record's version still only goes up).
func (d *Drive) RestoreVersion(ctx context.Context, p string, seq uint64) error {
	vs, err := d.Versions(ctx, p)
	if err != nil {
		return err
	}
	e, err := d.Resolve(ctx, p)
	if err != nil {
		return err
	}
	if err := d.writable(e, "restore a version of "+e.path); err != nil {
		return err
	}
	for _, v := range vs {
		if v.Seq != seq {
			continue
		}
		if string(v.rev.Node) != string(e.ID) {
			// Versions resolved the path on its own: the server may have
			// answered with another file of that name since.
			return fmt.Errorf("%s changed while its versions were read; run the command again: %w", e.path, ErrTampered)
		}
		rec, err := api.RecordOf(&e.Record)
		if err != nil {
			return err
		}
		rec.Revision, rec.RevisionSeq, rec.Version = v.rev.ID, v.rev.Seq, e.Record.Version+1
		rec.RevisionDigest = revisionRecord(&v.rev).Digest()
		wire, err := d.sign(rec)
		if err != nil {
			return err
		}
		req := api.UpdateNodeRequest{Node: wire, ExpectVersion: e.Record.Version}
		if err := d.acc.t.do(ctx, http.MethodPut, "/v1/nodes/"+b64(e.ID), req, nil); err != nil {
			return fmt.Errorf("restore version %d of %s: %w", seq, e.path, err)
		}
		d.seen.record(e.ID, rec.Version, d.fingerprint(rec, wire.Signature))
		return d.seen.save()
	}
	return fmt.Errorf("%s has no version %d", e.path, seq)
}

// Usage returns the account's storage use.
func (d *Drive) Usage(ctx context.Context) (api.Usage, error) {
	var u api.Usage
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathUsage, nil, &u); err != nil {
		return u, fmt.Errorf("read usage: %w", err)
	}
	return u, nil
}
