package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// SharedDir is the top-level folder under which what others share with
// this account appears: /shared/OWNER/NAME. It is not a node; nothing of
// the account's own can be created under this name at the root.
const SharedDir = "shared"

// writerSet is who may sign records at some place in a tree: accounts
// with their identity keys, plus those of the enclosing places.
type writerSet struct {
	keys map[string]crypto.VerifyKey
	up   *writerSet
}

func (w *writerSet) lookup(name string) (crypto.VerifyKey, bool) {
	for ; w != nil; w = w.up {
		if k, ok := w.keys[name]; ok {
			return k, true
		}
	}
	return crypto.VerifyKey{}, false
}

// keyCache holds other accounts' identity keys, each checked against the
// fingerprint that vouches for it (a signed member list or a pin).
type keyCache struct {
	mu sync.Mutex
	t  *transport
	m  map[string]crypto.VerifyKey // by user and fingerprint
}

// bundle fetches user's public bundle and checks it against fp.
func (c *keyCache) bundle(ctx context.Context, user string) (*crypto.PublicBundle, error) {
	if err := api.CheckUserName(user); err != nil {
		return nil, err
	}
	var resp api.BundleResponse
	if err := c.t.do(ctx, http.MethodGet, "/v1/users/"+user+"/bundle", nil, &resp); err != nil {
		return nil, fmt.Errorf("fetch the key of %s: %w", user, err)
	}
	b, err := crypto.OpenBundle(resp.PublicBundle, user)
	if err != nil {
		return nil, fmt.Errorf("the server sent a bad key bundle for %s: %w", user, err)
	}
	return b, nil
}

// key returns user's identity key if the server's bundle for user has
// fingerprint fp.
func (c *keyCache) key(ctx context.Context, user string, fp [32]byte) (crypto.VerifyKey, error) {
	ck := user + "\x00" + string(fp[:])
	c.mu.Lock()
	k, ok := c.m[ck]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	b, err := c.bundle(ctx, user)
	if err != nil {
		return k, err
	}
	if got := b.FingerprintBytes(); got != fp {
		return k, fmt.Errorf("the server presents a key for %s that is not the one vouched for (fingerprint %s): %w", user, b.Fingerprint(), ErrTampered)
	}
	if k, err = crypto.NewVerifyKey(b.Identity); err != nil {
		return k, fmt.Errorf("key of %s: %w", user, err)
	}
	c.mu.Lock()
	c.m[ck] = k
	c.mu.Unlock()
	return k, nil
}

// ownedShare is a verified share of the account's own drive.
type ownedShare struct {
	share api.Share
	list  *crypto.ShareList
	// editors are the list's editors with their keys.
	editors map[string]crypto.VerifyKey
	inbox   *inbox
	// problems are members whose keys the server now presents differently
	// from the list: their signatures are refused.
	problems []string
}

// inbox is a shared folder's inbox: uploaders seal new files to its
// public key (drops); those who can read the folder open its private key.
type inbox struct {
	public, sealed []byte
	// uploaders may sign drops into the folder, and nothing else.
	uploaders map[string]crypto.VerifyKey
	mu        sync.Mutex
	key       *crypto.InboxKey
	// filed is set once this run has filed the folder's drops, so that
	// looking up a missing name does not list the folder again.
	filed bool
	// links are the owner's upload links into the folder, by their
	// anonymous author name: each has its own signing and inbox key,
	// from the owner's own record of the link (docs/crypto.md 13.13).
	links map[string]*linkInbox
}

// uploader returns the key of a signer of drops into the folder: an
// uploader of its share, or one of its upload links.
func (in *inbox) uploader(author string) (crypto.VerifyKey, bool) {
	if k, ok := in.uploaders[author]; ok {
		return k, true
	}
	if l := in.links[author]; l != nil {
		return l.sign, true
	}
	return crypto.VerifyKey{}, false
}

// keyFor returns the private key that opens a drop by author: its
// link's, or the share's inbox key.
func (in *inbox) keyFor(folder *Entry, author string) (*crypto.InboxKey, error) {
	if l := in.links[author]; l != nil {
		return l.key, nil
	}
	if len(in.public) == 0 {
		return nil, errors.New("the folder has no inbox for this uploader")
	}
	return in.open(folder)
}

// open returns the inbox's private key, opened under the folder's keys.
func (in *inbox) open(folder *Entry) (*crypto.InboxKey, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.key != nil {
		return in.key, nil
	}
	fk, err := folder.nodeKeys()
	if err != nil {
		return nil, err
	}
	k, err := crypto.OpenInboxKey(fk, folder.vol, folder.ID, in.public, in.sealed)
	if err != nil {
		return nil, fmt.Errorf("the folder's inbox key does not open: %w", err)
	}
	in.key = k
	return k, nil
}

// newInbox builds the inbox of a verified list, with its uploaders' keys.
func (d *Drive) newInbox(ctx context.Context, l *crypto.ShareList, sealed []byte) (*inbox, error) {
	if len(l.InboxPublic) == 0 {
		return nil, nil
	}
	in := &inbox{public: l.InboxPublic, sealed: sealed, uploaders: map[string]crypto.VerifyKey{}}
	for _, m := range l.Members {
		if m.Role != crypto.RoleUploader {
			continue
		}
		if m.Name == d.acc.Session.User {
			in.uploaders[m.Name] = d.ownKey
			continue
		}
		k, err := d.keys.key(ctx, m.Name, m.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("share %s, uploader %s: %w", b64(l.Share), m.Name, err)
		}
		in.uploaders[m.Name] = k
	}
	return in, nil
}

// memberShare is a verified share of another account, as a member.
type memberShare struct {
	share api.Share
	list  *crypto.ShareList
	me    api.ShareMember
	role  crypto.Role
	inbox *inbox
	// name is what the share is called, from the grant (uploaders get
	// none and see the share by its ID).
	name string
	key  crypto.NodeKey
	root api.Node
	// accepted is true when the member's own signed consent is on record.
	accepted bool
	writers  *writerSet
}

// shareID is how a share is named to the user: hex, which (unlike
// base64url) never starts with "-" and so is never taken for a flag.
func shareID(id []byte) string { return hex.EncodeToString(id) }

// listFingerprint identifies a signed list and who signed it, for the
// rollback defence (seenVersions).
func listFingerprint(owner []byte, list, sig []byte) string {
	h := sha256.New()
	h.Write([]byte("coffer-client/v1/verified-share-list\x00"))
	for _, part := range [][]byte{owner, list, sig} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(part))))
		h.Write(part)
	}
	return base64.RawStdEncoding.EncodeToString(h.Sum(nil)[:18])
}

// verifyList checks a share's signed list against what the server says
// of it and the owner's key, and refuses a list older than one seen.
func (d *Drive) verifyList(sh *api.Share, owner crypto.VerifyKey) (*crypto.ShareList, error) {
	fail := func(why string, err error) (*crypto.ShareList, error) {
		return nil, fmt.Errorf("share %s of %s: %s: %w", b64(sh.ID), sh.Owner, why, tampered(err))
	}
	l, err := crypto.ParseShareList(sh.List)
	if err != nil {
		return fail("malformed member list", err)
	}
	if string(l.Share) != string(sh.ID) || string(l.Volume) != string(sh.Volume) || string(l.Node) != string(sh.Node) || l.Owner != sh.Owner {
		return fail("the member list is another share's", nil)
	}
	if err := l.VerifyWith(owner, sh.Signature); err != nil {
		return fail("the member list is not signed by its owner", err)
	}
	if err := d.seen.check(sh.ID, l.Version, listFingerprint(owner.Public(), sh.List, sh.Signature)); err != nil {
		return fail("member list rolled back", err)
	}
	return l, nil
}

// loadOwnedShares verifies the shares of the account's own drive, so that
// records their editors sign are accepted below the shared nodes.
func (d *Drive) loadOwnedShares(ctx context.Context) error {
	var list api.ShareList
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathShares, nil, &list); err != nil {
		return fmt.Errorf("list your shares: %w", err)
	}
	d.owned = make(map[string]*ownedShare, len(list.Shares))
	d.broken = map[string]error{}
	me := d.acc.Session.User
	for i := range list.Shares {
		sh := &list.Shares[i]
		if sh.Owner != me || string(sh.Volume) != string(d.root.vol) {
			return fmt.Errorf("share %s: the server lists it as yours, but it names %s's drive %s: %w", b64(sh.ID), sh.Owner, b64(sh.Volume), ErrTampered)
		}
		l, err := d.verifyList(sh, d.ownKey)
		if errors.Is(err, ErrTampered) {
			// Fail closed for this share only: nobody but the owner is
			// a writer below its node, and changing it is refused, while
			// the rest of the drive works.
			d.broken[string(sh.Node)] = err
			continue
		}
		if err != nil {
			return err
		}
		own := &ownedShare{share: *sh, list: l, editors: map[string]crypto.VerifyKey{}}
		for _, m := range l.Members {
			if m.Role != crypto.RoleEditor {
				continue
			}
			k, err := d.keys.key(ctx, m.Name, m.Fingerprint)
			if errors.Is(err, ErrTampered) {
				// Not this editor's key any more: what it signs is
				// refused (fail closed), but the owner can still work,
				// and remove it.
				own.problems = append(own.problems, fmt.Sprintf("editor %s: %v", m.Name, err))
				continue
			}
			if err != nil {
				return fmt.Errorf("share %s, editor %s: %w", b64(sh.ID), m.Name, err)
			}
			own.editors[m.Name] = k
		}
		if own.inbox, err = d.newInbox(ctx, l, sh.SealedInboxPrivate); err != nil {
			return err
		}
		if err := d.addGraces(ctx, own); err != nil {
			return err
		}
		if prev := d.owned[string(sh.Node)]; prev != nil {
			d.broken[string(sh.Node)] = fmt.Errorf("the server lists two shares of node %s: %w", b64(sh.Node), ErrTampered)
			delete(d.owned, string(sh.Node))
			continue
		}
		d.owned[string(sh.Node)] = own
	}
	return d.seen.save()
}

// addGraces adds to a share's editors those being removed whose records
// the owner has not yet signed again (State.Graces).
func (d *Drive) addGraces(ctx context.Context, own *ownedShare) error {
	st, err := d.cfg.State()
	if err != nil {
		return err
	}
	prefix := graceKey(d.acc.Session.Server, d.acc.Session.User, own.share.ID, "")
	for k, hexFP := range st.Graces {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		if _, editor := own.editors[name]; editor {
			continue
		}
		b, err := hex.DecodeString(hexFP)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("damaged local state for %s in share %s", name, b64(own.share.ID))
		}
		k, err := d.keys.key(ctx, name, [32]byte(b))
		if err != nil {
			return fmt.Errorf("share %s, former editor %s: %w", b64(own.share.ID), name, err)
		}
		own.editors[name] = k
	}
	return nil
}

// removeEditor takes an editor out of a share without a rotation: the
// new list first (the server refuses the editor from then on), then every
// record the editor signed below the shared node, in the trash too, is
// signed again by the owner. Until that is done the editor's signature
// is still accepted on this device (a grace kept in the local state), so
// an interrupted removal is finished by running it again.
func (d *Drive) removeEditor(ctx context.Context, p string, old *ownedShare, user string, fp [32]byte, next *crypto.ShareList, inboxSealed []byte, grants map[string][]byte) (*ownedShare, error) {
	gk := graceKey(d.acc.Session.Server, d.acc.Session.User, old.share.ID, user)
	sh := old
	if next != nil {
		if err := d.cfg.UpdateState(func(s *State) { s.Graces[gk] = hex.EncodeToString(fp[:]) }); err != nil {
			return nil, err
		}
		var err error
		if sh, err = d.putShare(ctx, next, old.list.Version, inboxSealed, grants); err != nil {
			return nil, err
		}
	}
	if err := d.adoptAll(ctx, p, user); err != nil {
		return nil, fmt.Errorf("sign again what %s wrote in %s (run the command again to finish): %w", user, p, err)
	}
	if err := d.cfg.UpdateState(func(s *State) { delete(s.Graces, gk) }); err != nil {
		return nil, err
	}
	if err := d.loadOwnedShares(ctx); err != nil {
		return nil, err
	}
	return d.owned[string(sh.share.Node)], nil
}

// adoptAll signs again every record author signed at p or below, and of
// the items in the trash that came from there.
func (d *Drive) adoptAll(ctx context.Context, p, author string) error {
	e, err := d.Resolve(ctx, p)
	if err != nil {
		return err
	}
	if err := d.adopt(ctx, e, author); err != nil {
		return err
	}
	var trash api.NodeList
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathTrash, nil, &trash); err != nil {
		return fmt.Errorf("list trash: %w", err)
	}
	for i := range trash.Nodes {
		parent, err := d.byID(ctx, trash.Nodes[i].Parent)
		if err != nil {
			return err
		}
		if parent.path != e.path && !strings.HasPrefix(parent.path, strings.TrimSuffix(e.path, "/")+"/") {
			continue
		}
		item, err := d.verifyChildHead(parent, &trash.Nodes[i], false)
		if err != nil {
			return err
		}
		if err := d.adopt(ctx, item, author); err != nil {
			return err
		}
	}
	return d.seen.save()
}

// inherit gives a new entry its parent's place: volume, writers and the
// share it was reached through. Below a share of the account's own, that
// share's editors write too.
func (d *Drive) inherit(e, parent *Entry) {
	e.vol, e.writers, e.via, e.inFolder = parent.vol, parent.writers, parent.via, parent.inbox
	if parent.via == nil {
		if sh := d.owned[string(e.ID)]; sh != nil {
			if len(sh.editors) > 0 {
				e.writers = &writerSet{keys: sh.editors, up: parent.writers}
			}
			e.inbox = sh.inbox
		}
		if e.inbox == nil {
			e.inbox = d.linkInboxes[string(e.ID)]
		}
	}
}

// placeOf returns the place whose writers may sign the record of node id
// in folder parent: the folder's, and for a node of the account's own
// that it shared, its editors too (they may give a shared file new
// versions).
func (d *Drive) placeOf(parent *Entry, id []byte) *Entry {
	if parent.via != nil {
		return parent
	}
	sh := d.owned[string(id)]
	if sh == nil || len(sh.editors) == 0 {
		return parent
	}
	return &Entry{writers: &writerSet{keys: sh.editors, up: parent.writers}}
}

// sameWriters reports whether two places have the same writers.
func sameWriters(a, b *writerSet) bool {
	flat := func(w *writerSet) map[string]bool {
		m := map[string]bool{}
		for ; w != nil; w = w.up {
			for name := range w.keys {
				m[name] = true
			}
		}
		return m
	}
	fa, fb := flat(a), flat(b)
	if len(fa) != len(fb) {
		return false
	}
	for name := range fa {
		if !fb[name] {
			return false
		}
	}
	return true
}

// resignFor signs again, as this account, the records at and below e
// whose authors may not write at dest (e's writers at its destination).
func (d *Drive) resignFor(ctx context.Context, e *Entry, dest *writerSet) error {
	return d.resignWalk(ctx, e, dest, func(author string, w *writerSet) bool {
		_, ok := w.lookup(author)
		return !ok
	})
}

// resignWalk signs again, as this account, the records at and below e
// whose authors must(author, writers) picks; writers starts as w and, for
// a node below e that the account shared with editors, takes them in too.
func (d *Drive) resignWalk(ctx context.Context, e *Entry, w *writerSet, must func(author string, w *writerSet) bool) error {
	if must(e.Author, w) {
		if err := d.resign(ctx, e); err != nil {
			return err
		}
	}
	if !e.IsDir() {
		return nil
	}
	kids, err := d.ListNames(ctx, e)
	if err != nil {
		return err
	}
	for _, k := range kids {
		kw := w
		if sh := d.owned[string(k.ID)]; sh != nil && len(sh.editors) > 0 && k.via == nil {
			kw = &writerSet{keys: sh.editors, up: w}
		}
		if err := d.resignWalk(ctx, k, kw, must); err != nil {
			return err
		}
	}
	return nil
}

// writable refuses, before asking the server, a change the account's role
// does not allow at e. what describes the change for the error.
func (d *Drive) writable(e *Entry, what string) error {
	switch {
	case d.skipLocalChecks:
		return nil
	case e.virtual != "":
		return fmt.Errorf("%s: %s holds what others share with you; it cannot be changed", what, "/"+SharedDir)
	case e.via == nil:
		return nil
	case e.via.role == crypto.RoleViewer:
		return fmt.Errorf("%s: you are a viewer of %q shared by %s; you can read it, not change it", what, e.via.name, e.via.share.Owner)
	case e.via.role == crypto.RoleUploader:
		return fmt.Errorf("%s: you are an uploader of %q shared by %s; you can add files to it, not read or change anything", what, e.via.name, e.via.share.Owner)
	}
	return nil
}

// isShareRoot reports whether e is the node a share of another account
// gives access to: its name and place belong to the owner.
func isShareRoot(e *Entry) bool {
	// (A test's modified client still cannot rename a share root: it
	// lacks the owner's parent key.)
	return e.via != nil && e.virtual == "" && string(e.ID) == string(e.via.share.Node)
}

// peer returns user's bundle, pinning it on first use. A bundle whose
// fingerprint differs from a pinned one is refused with ErrKeyChanged
// until the user verifies the new one. firstUse is true if this call
// pinned it.
func (d *Drive) peer(ctx context.Context, user string) (b *crypto.PublicBundle, firstUse bool, err error) {
	return d.peerPin(ctx, user, true)
}

// peerPin is peer; without pin, a key not pinned yet is only checked, not
// pinned (for shares the user has not accepted: pinning is the user's
// decision, made when it accepts, and shown then).
func (d *Drive) peerPin(ctx context.Context, user string, pin bool) (b *crypto.PublicBundle, firstUse bool, err error) {
	if b, err = d.keys.bundle(ctx, user); err != nil {
		return nil, false, err
	}
	fp := b.Fingerprint()
	key := pinKey(d.acc.Session.Server, d.acc.Session.User, user)
	st, err := d.cfg.State()
	if err != nil {
		return nil, false, err
	}
	if pin, ok := st.Pins[key]; ok {
		if !crypto.FingerprintEqual(pin.Fingerprint, fp) {
			return nil, false, fmt.Errorf("%w: the server now presents a key for %s with fingerprint %s, but you verified %s before; nothing is shared with or accepted from %s until you have checked the new fingerprint with %s out of band and run `coffer verify %s FINGERPRINT`",
				ErrKeyChanged, user, fp, pin.Fingerprint, user, user, user)
		}
		return b, false, nil
	}
	if !pin {
		return b, false, nil
	}
	if err := d.cfg.UpdateState(func(s *State) { s.Pins[key] = Pin{Fingerprint: fp} }); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// ShareMemberInfo is one member of a share, as its owner sees it.
type ShareMemberInfo struct {
	User  string
	Role  crypto.Role
	State string
}

// ShareInfo is one share of the account's own drive.
type ShareInfo struct {
	ID      string
	Path    string
	Version uint64
	Members []ShareMemberInfo
	// Problems are members whose keys no longer match the list.
	Problems []string
	// FirstUse names a member whose key was pinned by this call, with its
	// fingerprint, for the user to compare out of band.
	FirstUse, FirstUseFingerprint string
}

func (d *Drive) shareInfo(ctx context.Context, sh *ownedShare) (*ShareInfo, error) {
	e, err := d.byID(ctx, sh.share.Node)
	if err != nil {
		return nil, err
	}
	info := &ShareInfo{ID: shareID(sh.share.ID), Path: e.path, Version: sh.list.Version, Problems: sh.problems}
	states := map[string]string{}
	for _, m := range sh.share.Members {
		states[m.User] = m.State
	}
	for _, m := range sh.list.Members {
		st := states[m.Name]
		if st == "" {
			st = api.StatePending
		}
		info.Members = append(info.Members, ShareMemberInfo{User: m.Name, Role: m.Role, State: st})
	}
	return info, nil
}

// ownShareTarget resolves p for sharing: an item of the account's own
// drive other than its root, whose share (if any) verifies.
func (d *Drive) ownShareTarget(ctx context.Context, p string) (*Entry, error) {
	e, err := d.ownItem(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := d.broken[string(e.ID)]; err != nil {
		return nil, err
	}
	return e, nil
}

// ownItem resolves p to an item of the account's own drive other than
// its root.
func (d *Drive) ownItem(ctx context.Context, p string) (*Entry, error) {
	e, err := d.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	switch {
	case (e.virtual != "" || e.via != nil) && !d.skipLocalChecks:
		return nil, fmt.Errorf("%s is shared with you; only its owner can share it", p)
	case e.Parent == nil:
		return nil, errors.New("share a folder or file, not your whole drive")
	}
	return e, nil
}

// ShareAdd shares p with user in role, or changes user's role if p is
// shared with them already. user's key is pinned on first use; a key that
// changed since it was pinned stops the share with ErrKeyChanged.
func (d *Drive) ShareAdd(ctx context.Context, p, user string, role crypto.Role) (*ShareInfo, error) {
	if !role.Valid() {
		return nil, fmt.Errorf("unknown role %d", role)
	}
	if user == d.acc.Session.User {
		return nil, errors.New("you cannot share with yourself")
	}
	e, err := d.ownShareTarget(ctx, p)
	if err != nil {
		return nil, err
	}
	if role == crypto.RoleUploader && !e.IsDir() {
		return nil, errors.New("uploaders add files to a folder; share a folder with them")
	}
	b, firstUse, err := d.peer(ctx, user)
	if err != nil {
		return nil, err
	}
	old := d.owned[string(e.ID)]
	if old != nil {
		if m, ok := old.list.Member(user); ok && m.Role == crypto.RoleUploader && role != crypto.RoleUploader {
			// File the drops waiting in the folder first: they are
			// sealed to an inbox that may go with the last uploader.
			if _, err := d.ListNames(ctx, e); err != nil {
				return nil, fmt.Errorf("file the uploads waiting in %s: %w", e.path, err)
			}
		}
	}
	next := &crypto.ShareList{Volume: e.vol, Node: e.ID, Owner: d.acc.Session.User, Version: 1}
	var (
		expect      uint64
		inboxSealed []byte
	)
	if old != nil {
		inboxSealed = old.share.SealedInboxPrivate
		cp := *old.list
		next = &cp
		next.Members = slices.Clone(old.list.Members)
		expect = old.list.Version
		next.Version = old.list.Version + 1
	} else {
		if next.Share, err = crypto.NewID(); err != nil {
			return nil, err
		}
		if next.KeyCheck, err = crypto.ShareKeyCheck(next.Share, next.Volume, next.Node, e.key); err != nil {
			return nil, err
		}
	}
	m := crypto.ShareMember{Name: user, Fingerprint: b.FingerprintBytes(), Role: role}
	next.Members = slices.DeleteFunc(next.Members, func(x crypto.ShareMember) bool { return x.Name == user })
	next.Members = append(next.Members, m)
	slices.SortFunc(next.Members, func(a, b crypto.ShareMember) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	if role == crypto.RoleUploader && len(next.InboxPublic) == 0 {
		ik, err := crypto.NewInboxKey()
		if err != nil {
			return nil, err
		}
		fk, err := e.nodeKeys()
		if err != nil {
			return nil, err
		}
		if inboxSealed, err = crypto.SealInboxKey(fk, e.vol, e.ID, ik); err != nil {
			return nil, err
		}
		next.InboxPublic = ik.Public()
	}
	if !hasUploader(next) {
		// A former uploader's drops were filed when they left (ShareRemove).
		next.InboxPublic, inboxSealed = nil, nil
	}
	var grant []byte
	if role == crypto.RoleUploader {
		grant, err = crypto.SealUploaderGrant(b.Encryption, next.GrantRef(user), e.Name)
	} else {
		grant, err = crypto.SealShareGrant(b.Encryption, next.GrantRef(user), e.key, e.Name)
	}
	if err != nil {
		return nil, err
	}
	var sh *ownedShare
	if was, ok := d.formerRole(old, user); ok && was.Role == crypto.RoleEditor && role != crypto.RoleEditor {
		// No longer an editor: what they wrote is signed again by the
		// owner, as when they are removed.
		sh, err = d.removeEditor(ctx, e.path, old, user, was.Fingerprint, next, inboxSealed, map[string][]byte{user: grant})
	} else {
		sh, err = d.putShare(ctx, next, expect, inboxSealed, map[string][]byte{user: grant})
	}
	if err != nil {
		return nil, err
	}
	info, err := d.shareInfo(ctx, sh)
	if err != nil {
		return nil, err
	}
	if firstUse {
		info.FirstUse, info.FirstUseFingerprint = user, b.Fingerprint()
	}
	return info, nil
}

// putShare signs and saves a member list, with grants for the members
// named in grants (others keep theirs), and remembers it as verified.
func hasUploader(l *crypto.ShareList) bool {
	for _, m := range l.Members {
		if m.Role == crypto.RoleUploader {
			return true
		}
	}
	return false
}

func (d *Drive) putShare(ctx context.Context, l *crypto.ShareList, expect uint64, inboxSealed []byte, grants map[string][]byte) (*ownedShare, error) {
	sig, err := l.Sign(d.acc.Keys)
	if err != nil {
		return nil, err
	}
	body := l.Marshal()
	sh := api.Share{
		ID: l.Share, Volume: l.Volume, Node: l.Node, Owner: l.Owner, Version: l.Version,
		List: body, Signature: sig, Members: make([]api.ShareMember, 0, len(l.Members)),
		InboxPublic: l.InboxPublic, SealedInboxPrivate: inboxSealed,
	}
	for _, m := range l.Members {
		sh.Members = append(sh.Members, api.ShareMember{User: m.Name, Role: int(m.Role), Grant: grants[m.Name]})
	}
	if err := d.acc.t.do(ctx, http.MethodPost, api.PathShares, api.PutShareRequest{Share: sh, ExpectVersion: expect}, nil); err != nil {
		return nil, fmt.Errorf("save the share: %w", err)
	}
	d.seen.record(l.Share, l.Version, listFingerprint(d.ownKey.Public(), body, sig))
	if err := d.seen.save(); err != nil {
		return nil, err
	}
	// Read it back as every later command will, states included.
	if err := d.loadOwnedShares(ctx); err != nil {
		return nil, err
	}
	own := d.owned[string(l.Node)]
	if own == nil || own.list.Version != l.Version {
		return nil, fmt.Errorf("the server does not list the share just saved: %w", ErrTampered)
	}
	return own, nil
}

// ShareRemove revokes user's access to p: the member list is signed again
// without them, and records they signed below p are signed again by the
// owner, so that they stay valid once the former member's signature no
// longer counts. Run again after an interruption, it finishes the job.
//
// With rotate, every node below p also gets a new key, in the same server
// transaction as the new list, so that the former member's keys open
// nothing written afterwards. If user is no longer a member (a rotation
// that was interrupted after its commit, or one wanted later), only the
// rotation runs.
func (d *Drive) ShareRemove(ctx context.Context, p, user string, rotate bool) (*ShareInfo, error) {
	e, err := d.ownShareTarget(ctx, p)
	if err != nil {
		return nil, err
	}
	old := d.owned[string(e.ID)]
	if old == nil {
		return nil, fmt.Errorf("%s is not shared", e.path)
	}
	m, member := old.list.Member(user)
	if !member && !rotate {
		if d.hasGrace(old, user) {
			// An earlier removal was interrupted: finish it.
			sh, err := d.removeEditor(ctx, e.path, old, user, [32]byte{}, nil, nil, nil)
			if err != nil {
				return nil, err
			}
			return d.shareInfo(ctx, sh)
		}
		return nil, fmt.Errorf("%s is not shared with %s", e.path, user)
	}
	switch {
	case member && m.Role == crypto.RoleUploader:
		// Listing the folder files the drops waiting in it, the
		// leaving uploader's among them, as the owner's records.
		if _, err := d.ListNames(ctx, e); err != nil {
			return nil, fmt.Errorf("file the uploads waiting in %s: %w", e.path, err)
		}
	}
	next := *old.list
	next.Members = slices.DeleteFunc(slices.Clone(old.list.Members), func(x crypto.ShareMember) bool { return x.Name == user })
	next.Version = old.list.Version + 1
	inboxSealed := old.share.SealedInboxPrivate
	if !hasUploader(&next) {
		next.InboxPublic, inboxSealed = nil, nil
	}
	if rotate {
		if err := d.rotate(ctx, e, &next, inboxSealed); err != nil {
			return nil, err
		}
		own := d.owned[string(e.ID)]
		if own == nil || own.list.Version != next.Version {
			return nil, fmt.Errorf("the server does not list the share just rotated: %w", ErrTampered)
		}
		return d.shareInfo(ctx, own)
	}
	if member && m.Role == crypto.RoleEditor {
		sh, err := d.removeEditor(ctx, e.path, old, user, m.Fingerprint, &next, inboxSealed, nil)
		if err != nil {
			return nil, err
		}
		return d.shareInfo(ctx, sh)
	}
	sh, err := d.putShare(ctx, &next, old.list.Version, inboxSealed, nil)
	if err != nil {
		return nil, err
	}
	return d.shareInfo(ctx, sh)
}

// formerRole returns user's entry in the share's current list, if any.
func (d *Drive) formerRole(old *ownedShare, user string) (crypto.ShareMember, bool) {
	if old == nil {
		return crypto.ShareMember{}, false
	}
	return old.list.Member(user)
}

// hasGrace reports whether a removal of user from the share is unfinished.
func (d *Drive) hasGrace(own *ownedShare, user string) bool {
	st, err := d.cfg.State()
	if err != nil {
		return false
	}
	_, ok := st.Graces[graceKey(d.acc.Session.Server, d.acc.Session.User, own.share.ID, user)]
	return ok
}

// rotNode is a node of a subtree being rotated: its verified entry and
// its new key.
type rotNode struct {
	e       *Entry
	parent  *rotNode
	key     crypto.NodeKey
	keys    *crypto.NodeKeys
	trashed bool // in the trash: re-wrapped under its parent's new key, not re-keyed
}

// rotate gives every node of the subtree at top a new key: folders'
// children re-wrapped and their names sealed again, files' earlier keys
// kept in their key history for their old revisions, top's key wrapped
// again under its (unchanged) parent; and every share in the subtree a new
// list (top's is next) with the new key check, new grants for its viewers
// and editors and its inbox key sealed under the new folder key. All of it
// goes to the server as one transaction (docs/crypto.md 13.11).
func (d *Drive) rotate(ctx context.Context, top *Entry, next *crypto.ShareList, topInbox []byte) error {
	parent, err := d.Resolve(ctx, path.Dir(top.path))
	if err != nil {
		return err
	}
	root := &rotNode{e: top}
	all := []*rotNode{root}
	folders := map[string]*rotNode{}
	for i := 0; i < len(all); i++ {
		n := all[i]
		if !n.e.IsDir() || n.trashed {
			continue
		}
		folders[string(n.e.ID)] = n
		kids, err := d.ListNames(ctx, n.e)
		if err != nil {
			return err
		}
		for _, k := range kids {
			all = append(all, &rotNode{e: k, parent: n})
		}
		if len(all) > api.MaxRotateNodes {
			return fmt.Errorf("%s holds more than %d items, too many to rotate in one step", top.path, api.MaxRotateNodes)
		}
	}
	// Items in the trash keep their keys but must open under their
	// folder's new key, to be restorable.
	var trash api.NodeList
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathTrash, nil, &trash); err != nil {
		return fmt.Errorf("list trash: %w", err)
	}
	for i := range trash.Nodes {
		if f := folders[string(trash.Nodes[i].Parent)]; f != nil {
			e, err := d.verifyChildHead(f.e, &trash.Nodes[i], false)
			if err != nil {
				return err
			}
			all = append(all, &rotNode{e: e, parent: f, trashed: true, key: e.key})
		}
	}
	for _, n := range all {
		if !n.trashed {
			if n.key, err = crypto.NewNodeKey(); err != nil {
				return err
			}
		}
		if n.keys, err = n.key.Derive(); err != nil {
			return err
		}
	}
	var req api.RotateRequest
	recs := make([]*crypto.NodeRecord, len(all))
	for i, n := range all {
		rec, err := d.rotatedRecord(n, parent)
		if err != nil {
			return fmt.Errorf("%s: %w", n.e.path, err)
		}
		wire, err := d.sign(rec)
		if err != nil {
			return err
		}
		recs[i] = rec
		req.Nodes = append(req.Nodes, api.NodeReplace{Node: wire, ExpectVersion: n.e.Record.Version, Rekeyed: n.e.IsDir() && !n.trashed})
	}
	var lists []*crypto.ShareList
	for _, n := range all {
		sh := d.owned[string(n.e.ID)]
		if sh == nil || n.trashed {
			continue
		}
		l, inboxSealed := *sh.list, sh.share.SealedInboxPrivate
		if n == root {
			l, inboxSealed = *next, topInbox
		}
		l.Version = sh.list.Version + 1
		sr, err := d.rotatedShare(ctx, n, sh, &l, inboxSealed)
		if err != nil {
			return fmt.Errorf("share of %s: %w", n.e.path, err)
		}
		req.Shares = append(req.Shares, *sr)
		lists = append(lists, &l)
	}
	if err := d.acc.t.do(ctx, http.MethodPost, api.PathRotate, req, nil); err != nil {
		return fmt.Errorf("rotate the keys of %s: %w", top.path, err)
	}
	for i, n := range all {
		d.seen.record(n.e.ID, recs[i].Version, d.fingerprint(recs[i], req.Nodes[i].Node.Signature))
	}
	for i, l := range lists {
		d.seen.record(l.Share, l.Version, listFingerprint(d.ownKey.Public(), req.Shares[i].Share.List, req.Shares[i].Share.Signature))
	}
	if err := d.seen.save(); err != nil {
		return err
	}
	return d.loadOwnedShares(ctx)
}

// rotatedRecord is n's record under the new keys, unsigned.
func (d *Drive) rotatedRecord(n *rotNode, topParent *Entry) (*crypto.NodeRecord, error) {
	rec, err := api.RecordOf(&n.e.Record)
	if err != nil {
		return nil, err
	}
	pk, err := topParent.nodeKeys()
	if err != nil {
		return nil, err
	}
	if n.parent != nil {
		pk = n.parent.keys
	}
	ref := rec.Ref()
	if n.parent != nil {
		// Top keeps its name under its unchanged parent.
		if rec.SealedName, err = crypto.SealName(pk, ref, n.e.Name); err != nil {
			return nil, err
		}
		rec.NameHash = crypto.NameHash(pk, n.e.Name)
	}
	if rec.SealedKey, err = crypto.WrapNodeKey(pk, ref, n.key); err != nil {
		return nil, err
	}
	if n.e.Kind == api.KindFile && !n.trashed {
		old, err := n.e.nodeKeys()
		if err != nil {
			return nil, err
		}
		prev := []crypto.NodeKey{n.e.key}
		if len(rec.KeyHistory) > 0 {
			h, err := crypto.OpenKeyHistory(old, rec.Volume, rec.Node, rec.KeyHistory)
			if err != nil {
				return nil, fmt.Errorf("key history does not open: %w", tampered(err))
			}
			prev = append(prev, h...)
		}
		if rec.KeyHistory, err = crypto.SealKeyHistory(n.keys, rec.Volume, rec.Node, prev); err != nil {
			return nil, err
		}
	}
	rec.Version = n.e.Record.Version + 1
	return rec, nil
}

// rotatedShare is the share of n with list l for n's new key: key check,
// grants for viewers and editors (each to the key its fingerprint names),
// and the inbox key sealed under the folder's new key.
func (d *Drive) rotatedShare(ctx context.Context, n *rotNode, sh *ownedShare, l *crypto.ShareList, inboxSealed []byte) (*api.PutShareRequest, error) {
	var err error
	if l.KeyCheck, err = crypto.ShareKeyCheck(l.Share, l.Volume, l.Node, n.key); err != nil {
		return nil, err
	}
	if len(l.InboxPublic) > 0 {
		// A new inbox too: the former member may have opened the old
		// one, and with it every upload sealed to it from now on. The
		// walk has filed the uploads waiting in the old one.
		ik, err := crypto.NewInboxKey()
		if err != nil {
			return nil, err
		}
		if inboxSealed, err = crypto.SealInboxKey(n.keys, l.Volume, l.Node, ik); err != nil {
			return nil, err
		}
		l.InboxPublic = ik.Public()
	}
	grants := map[string][]byte{}
	for _, m := range l.Members {
		if m.Role == crypto.RoleUploader {
			continue // its grant holds only the name; it is kept
		}
		b, err := d.keys.bundle(ctx, m.Name)
		if err != nil {
			return nil, err
		}
		if b.FingerprintBytes() != m.Fingerprint {
			return nil, fmt.Errorf("the server presents a key for %s that is not the one in the list: %w", m.Name, ErrKeyChanged)
		}
		if grants[m.Name], err = crypto.SealShareGrant(b.Encryption, l.GrantRef(m.Name), n.key, n.e.Name); err != nil {
			return nil, err
		}
	}
	sig, err := l.Sign(d.acc.Keys)
	if err != nil {
		return nil, err
	}
	out := &api.PutShareRequest{ExpectVersion: sh.list.Version, Share: api.Share{
		ID: l.Share, Volume: l.Volume, Node: l.Node, Owner: l.Owner, Version: l.Version,
		List: l.Marshal(), Signature: sig, InboxPublic: l.InboxPublic, SealedInboxPrivate: inboxSealed,
	}}
	for _, m := range l.Members {
		out.Share.Members = append(out.Share.Members, api.ShareMember{User: m.Name, Role: int(m.Role), Grant: grants[m.Name]})
	}
	return out, nil
}

// adopt signs again, as the account, every record below (and including)
// e that author signed: the same fields with a higher version. Revisions
// keep their author's signature; the adopted record vouches for the head
// by its digest.
func (d *Drive) adopt(ctx context.Context, e *Entry, author string) error {
	return d.resignWalk(ctx, e, e.writers, func(a string, _ *writerSet) bool { return a == author })
}

func (d *Drive) resign(ctx context.Context, e *Entry) error {
	rec, err := api.RecordOf(&e.Record)
	if err != nil {
		return err
	}
	rec.Version = e.Record.Version + 1
	wire, err := d.sign(rec)
	if err != nil {
		return err
	}
	req := api.UpdateNodeRequest{Node: wire, ExpectVersion: e.Record.Version}
	if err := d.acc.t.do(ctx, http.MethodPut, "/v1/nodes/"+b64(e.ID), req, nil); err != nil {
		return fmt.Errorf("sign %s again: %w", e.path, err)
	}
	d.seen.record(e.ID, rec.Version, d.fingerprint(rec, wire.Signature))
	e.Record, e.Author = wire, wire.Author
	return d.seen.save()
}

// Shares lists the shares of the account's own drive; with p, only the
// share of p.
func (d *Drive) Shares(ctx context.Context, p string) ([]*ShareInfo, error) {
	var only []byte
	if p != "" {
		e, err := d.ownItem(ctx, p)
		if err != nil {
			return nil, err
		}
		only = e.ID
	}
	var out []*ShareInfo
	for node, err := range d.broken {
		if only != nil && node != string(only) {
			continue
		}
		info := &ShareInfo{Path: "(node " + b64([]byte(node)) + ")", Problems: []string{err.Error()}}
		if e, perr := d.byID(ctx, []byte(node)); perr == nil {
			info.Path = e.path
		}
		out = append(out, info)
	}
	for _, sh := range d.owned {
		if only != nil && string(sh.share.Node) != string(only) {
			continue
		}
		info, err := d.shareInfo(ctx, sh)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b *ShareInfo) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return out, nil
}

// SharedInfo is a share of another account, as this account sees it.
type SharedInfo struct {
	ID    string
	Owner string
	Name  string
	Role  crypto.Role
	Kind  int
	State string
	// Path is where an accepted share appears: /shared/OWNER/NAME.
	Path string
	// FirstUse is set when the owner's key was pinned by this call, with
	// its fingerprint, for the user to compare out of band.
	FirstUse, FirstUseFingerprint string
}

// sharedWithMe fetches and verifies everything shared with the account.
// The owner's key is pinned on first use. Each share's list must be
// signed by its owner and name this account with its own key; the grant
// must open to the key the list commits to; an accepted share must carry
// this account's own signed consent, so that a server cannot push a share
// into the tree.
func (d *Drive) sharedWithMe(ctx context.Context) ([]*memberShare, map[string]string, error) {
	var list api.SharedList
	if err := d.acc.t.do(ctx, http.MethodGet, api.PathShared, nil, &list); err != nil {
		return nil, nil, fmt.Errorf("list what is shared with you: %w", err)
	}
	me := d.acc.Session.User
	myFP := d.acc.Bundle.FingerprintBytes()
	firstUse := map[string]string{}
	var out []*memberShare
	for i := range list.Items {
		it := &list.Items[i]
		sh := &it.Share
		fail := func(why string, err error) error {
			return fmt.Errorf("share %s from %s: %s: %w", b64(sh.ID), sh.Owner, why, tampered(err))
		}
		if sh.Owner == me {
			return nil, nil, fail("listed as shared with you by yourself", nil)
		}
		// The owner's key is pinned once the share is accepted (it was
		// shown when accepting); before, it is only checked against a pin.
		ob, first, err := d.peerPin(ctx, sh.Owner, it.Member.State == api.StateAccepted)
		if err != nil {
			return nil, nil, err
		}
		if first {
			firstUse[sh.Owner] = ob.Fingerprint()
		}
		ownerKey, err := crypto.NewVerifyKey(ob.Identity)
		if err != nil {
			return nil, nil, fail("the owner's key is unusable", err)
		}
		l, err := d.verifyList(sh, ownerKey)
		if err != nil {
			return nil, nil, err
		}
		m, ok := l.Member(me)
		if !ok {
			return nil, nil, fail("the owner's signed list does not name you", nil)
		}
		if m.Fingerprint != myFP {
			return nil, nil, fail("the owner's signed list names another key for you than yours (was your key swapped when it was shared?)", nil)
		}
		ms := &memberShare{share: *sh, list: l, me: it.Member, role: m.Role, root: it.Root}
		if m.Role == crypto.RoleUploader {
			if ms.name, err = crypto.OpenUploaderGrant(d.acc.Keys, l.GrantRef(me), it.Member.Grant); err != nil {
				return nil, nil, fail("your grant does not open", err)
			}
		} else if ms.key, ms.name, err = crypto.OpenShareGrant(d.acc.Keys, l.GrantRef(me), it.Member.Grant); err != nil {
			return nil, nil, fail("your key grant does not open to the owner's key", err)
		}
		if ms.inbox, err = d.newInbox(ctx, l, sh.SealedInboxPrivate); err != nil {
			return nil, nil, err
		}
		if it.Member.State == api.StateAccepted {
			acc := crypto.Acceptance{Share: sh.ID, Volume: sh.Volume, Node: sh.Node, Owner: sh.Owner, Member: me}
			if err := acc.VerifyWith(d.ownKey, it.Member.Acceptance); err != nil {
				return nil, nil, fail("marked accepted, but you never accepted it", err)
			}
			ms.accepted = true
		}
		ws := &writerSet{keys: map[string]crypto.VerifyKey{sh.Owner: ownerKey}}
		for _, x := range l.Members {
			if x.Role != crypto.RoleEditor {
				continue
			}
			if x.Name == me {
				ws.keys[me] = d.ownKey
				continue
			}
			k, err := d.keys.key(ctx, x.Name, x.Fingerprint)
			if err != nil {
				return nil, nil, fmt.Errorf("share %s from %s, editor %s: %w", b64(sh.ID), sh.Owner, x.Name, err)
			}
			ws.keys[x.Name] = k
		}
		ms.writers = ws
		out = append(out, ms)
	}
	return out, firstUse, d.seen.save()
}

func (ms *memberShare) info() *SharedInfo {
	st := ms.me.State
	if st == api.StateAccepted && !ms.accepted {
		st = api.StatePending
	}
	si := &SharedInfo{ID: shareID(ms.share.ID), Owner: ms.share.Owner, Name: ms.name, Role: ms.role, Kind: ms.root.Kind, State: st}
	if ms.accepted && ms.name != "" {
		si.Path = path.Join("/", SharedDir, ms.share.Owner, ms.name)
	}
	return si
}

// Shared lists what others share with the account, in every state.
func (d *Drive) Shared(ctx context.Context) ([]*SharedInfo, error) {
	shares, firstUse, err := d.sharedWithMe(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*SharedInfo, 0, len(shares))
	for _, ms := range shares {
		si := ms.info()
		if fp, ok := firstUse[si.Owner]; ok {
			si.FirstUse, si.FirstUseFingerprint = si.Owner, fp
		}
		out = append(out, si)
	}
	return out, nil
}

func (d *Drive) findShared(ctx context.Context, id string) (*memberShare, error) {
	shares, _, err := d.sharedWithMe(ctx)
	if err != nil {
		return nil, err
	}
	for _, ms := range shares {
		if shareID(ms.share.ID) == strings.ToLower(id) {
			return ms, nil
		}
	}
	return nil, fmt.Errorf("nothing is shared with you under ID %s (see `coffer shared`)", id)
}

// Accept accepts a share: the account signs its consent, and the share
// appears under /shared/OWNER/NAME.
func (d *Drive) Accept(ctx context.Context, id string) (*SharedInfo, error) {
	ms, err := d.findShared(ctx, id)
	if err != nil {
		return nil, err
	}
	all, _, err := d.sharedWithMe(ctx)
	if err != nil {
		return nil, err
	}
	for _, other := range accepted(all) {
		if other.share.Owner == ms.share.Owner && other.name == ms.name && string(other.share.ID) != string(ms.share.ID) {
			return nil, fmt.Errorf("you already have %s from %s; decline that one first", ms.name, ms.share.Owner)
		}
	}
	acc := crypto.Acceptance{Share: ms.share.ID, Volume: ms.share.Volume, Node: ms.share.Node, Owner: ms.share.Owner, Member: d.acc.Session.User}
	sig, err := acc.Sign(d.acc.Keys)
	if err != nil {
		return nil, err
	}
	if err := d.acc.t.do(ctx, http.MethodPost, "/v1/shared/"+b64(ms.share.ID)+"/accept", api.AcceptShareRequest{Acceptance: sig}, nil); err != nil {
		return nil, fmt.Errorf("accept share %s: %w", id, err)
	}
	ms.accepted, ms.me.State = true, api.StateAccepted
	si := ms.info()
	ob, first, err := d.peer(ctx, ms.share.Owner)
	if err != nil {
		return nil, err
	}
	if first {
		si.FirstUse, si.FirstUseFingerprint = ms.share.Owner, ob.Fingerprint()
	}
	return si, nil
}

// Decline declines a share (or leaves one accepted before): it disappears
// from /shared.
func (d *Drive) Decline(ctx context.Context, id string) error {
	ms, err := d.findShared(ctx, id)
	if err != nil {
		return err
	}
	if err := d.acc.t.do(ctx, http.MethodPost, "/v1/shared/"+b64(ms.share.ID)+"/decline", nil, nil); err != nil {
		return fmt.Errorf("decline share %s: %w", id, err)
	}
	return nil
}

// accepted returns those of a verified listing the account accepted.
func accepted(all []*memberShare) []*memberShare {
	var out []*memberShare
	for _, ms := range all {
		if ms.accepted && ms.name != "" {
			out = append(out, ms)
		}
	}
	return out
}

// resolveShared resolves the components of a path below /shared.
func (d *Drive) resolveShared(ctx context.Context, parts []string) (*Entry, error) {
	root := &Entry{Kind: api.KindFolder, Name: SharedDir, path: "/" + SharedDir, virtual: "root"}
	if len(parts) == 0 {
		return root, nil
	}
	all, _, err := d.sharedWithMe(ctx)
	if err != nil {
		return nil, err
	}
	mine := accepted(all)
	owner := parts[0]
	ownerDir := &Entry{Kind: api.KindFolder, Name: owner, path: path.Join(root.path, owner), virtual: "owner"}
	var found bool
	for _, ms := range mine {
		found = found || ms.share.Owner == owner
	}
	if !found {
		return nil, fmt.Errorf("%s: %w (shares appear here once you accept them; see `coffer shared`)", ownerDir.path, ErrNotExist)
	}
	if len(parts) == 1 {
		return ownerDir, nil
	}
	var e *Entry
	for _, ms := range mine {
		if ms.share.Owner == owner && ms.name == parts[1] {
			if e != nil {
				return nil, fmt.Errorf("%s: two accepted shares go by this name; decline one of them (see `coffer shared`)", path.Join(ownerDir.path, parts[1]))
			}
			if e, err = d.shareRoot(ms); err != nil {
				return nil, err
			}
		}
	}
	if e == nil {
		return nil, fmt.Errorf("%s: %w", path.Join(ownerDir.path, parts[1]), ErrNotExist)
	}
	for i, name := range parts[2:] {
		if !e.IsDir() {
			return nil, fmt.Errorf("%s is a file, not a folder", path.Join(append([]string{"/", SharedDir}, parts[:2+i]...)...))
		}
		if e, err = d.child(ctx, e, name); err != nil {
			return nil, err
		}
	}
	return e, d.seen.save()
}

// shareRoot verifies the shared node's record: in the share's volume,
// signed by someone who may write there, not older than seen; its key is
// the grant's, which the owner's signed list vouches for.
func (d *Drive) shareRoot(ms *memberShare) (*Entry, error) {
	n := &ms.root
	p := path.Join("/", SharedDir, ms.share.Owner, ms.name)
	fail := func(why string, err error) (*Entry, error) {
		return nil, fmt.Errorf("%s: %s: %w", p, why, tampered(err))
	}
	if string(n.ID) != string(ms.share.Node) || string(n.Volume) != string(ms.share.Volume) || n.Parent == nil {
		return fail("the server sent another node than the one shared", nil)
	}
	k, ok := ms.writers.lookup(n.Author)
	if !ok {
		return fail(fmt.Sprintf("signed by %q, who may not write here", n.Author), nil)
	}
	rec, err := api.RecordOf(n)
	if err != nil {
		return fail("malformed record", err)
	}
	if err := rec.VerifyWith(k, n.Signature); err != nil {
		return fail("bad signature", err)
	}
	if err := d.seen.check(n.ID, n.Version, recordFingerprint(k.Public(), rec, n.Signature)); err != nil {
		return fail("rolled back", err)
	}
	e := &Entry{
		ID: n.ID, Parent: n.Parent, Kind: n.Kind, Name: ms.name, Author: n.Author, Record: *n, key: ms.key, path: p,
		vol: ms.share.Volume, writers: ms.writers, via: ms, inbox: ms.inbox,
	}
	if n.Kind == api.KindFile {
		if n.Head == nil {
			return fail("file without content", nil)
		}
		attrs, err := d.verifyHead(e, rec, n.Head)
		if err != nil {
			return fail("head revision", err)
		}
		e.Head, e.Attrs = n.Head, attrs
	}
	return e, nil
}

// listShared lists a folder of /shared: the owners, or one owner's shares.
func (d *Drive) listShared(ctx context.Context, dir *Entry) ([]*Entry, error) {
	all, _, err := d.sharedWithMe(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Entry
	seenOwner := map[string]bool{}
	for _, ms := range accepted(all) {
		switch dir.virtual {
		case "root":
			if !seenOwner[ms.share.Owner] {
				seenOwner[ms.share.Owner] = true
				out = append(out, &Entry{Kind: api.KindFolder, Name: ms.share.Owner, path: path.Join(dir.path, ms.share.Owner), virtual: "owner"})
			}
		case "owner":
			if ms.share.Owner != dir.Name {
				continue
			}
			e, err := d.shareRoot(ms)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, d.seen.save()
}

// dropAuthorKey returns the key of a drop's signer: an uploader of the
// folder's share, or a writer there.
func (d *Drive) dropAuthorKey(folder *Entry, author string) (crypto.VerifyKey, error) {
	if folder.inbox == nil {
		return crypto.VerifyKey{}, errors.New("an inbox upload in a folder that has no inbox")
	}
	if k, ok := folder.inbox.uploader(author); ok {
		return k, nil
	}
	return d.authorKey(folder, author)
}

// newDrop makes the record of a file an uploader adds: its key and name
// sealed to the folder's inbox, so that the uploader itself cannot list
// or read the folder, and a random name hash (the folder's hash key is
// not the uploader's to know).
func (d *Drive) newDrop(parent *Entry, name string, id []byte, k *crypto.NodeKey) (*Entry, *crypto.NodeRecord, error) {
	id, key, err := idAndKey(id, k)
	if err != nil {
		return nil, nil, err
	}
	ref := crypto.NodeRef{Volume: parent.vol, Parent: parent.ID, Node: id}
	inboxKey := parent.via.list.InboxPublic
	if d.dropInbox != nil {
		inboxKey = d.dropInbox
	}
	sealed, err := crypto.SealInboxDrop(inboxKey, ref, key, name)
	if err != nil {
		return nil, nil, err
	}
	rec := &crypto.NodeRecord{
		Volume: parent.vol, Node: id, Parent: parent.ID, Kind: crypto.KindFile,
		SealedKey: sealed, Author: d.acc.Session.User, Version: 1,
	}
	if _, err := rand.Read(rec.NameHash[:]); err != nil {
		return nil, nil, err
	}
	e := &Entry{ID: id, Parent: parent.ID, Kind: api.KindFile, Name: name, Author: rec.Author, key: key, path: path.Join(parent.path, name), drop: true}
	d.inherit(e, parent)
	return e, rec, nil
}

// fileDrops turns the drops among a folder's verified entries into
// ordinary records, if this account may write there: name and key sealed
// under the folder's keys, signed by this account. A name already taken
// gets a number: "report (2).pdf". The revision keeps its uploader's
// signature; the new record vouches for it through its digest.
func (d *Drive) fileDrops(ctx context.Context, dir *Entry, entries []*Entry, taken map[string]bool) error {
	if dir.via != nil && dir.via.role != crypto.RoleEditor {
		return nil
	}
	for _, e := range entries {
		if !e.drop {
			continue
		}
		err := d.fileDrop(ctx, dir, e, taken)
		if errors.Is(err, errNoFreeName) {
			// Uploaders chose the names: many uploads of one name must
			// not make the folder unlistable. The upload stays listed,
			// unfiled, until names are freed.
			d.warn(fmt.Sprintf("the upload %s is not filed: %v", e.path, err))
			continue
		}
		if err != nil {
			return fmt.Errorf("file the upload %s: %w", e.path, err)
		}
	}
	return nil
}

func (d *Drive) fileDrop(ctx context.Context, dir *Entry, e *Entry, taken map[string]bool) error {
	pk, err := dir.nodeKeys()
	if err != nil {
		return err
	}
	ik, err := dir.inbox.keyFor(dir, e.Author)
	if err != nil {
		return err
	}
	drop, err := api.RecordOf(&e.Record)
	if err != nil {
		return err
	}
	for i := 1; i <= 100; i++ {
		name := numbered(e.Name, i)
		if taken[name] {
			continue
		}
		rec, err := crypto.AdoptDrop(pk, ik, drop, name, d.acc.Session.User)
		if err != nil {
			return err
		}
		wire, err := d.sign(rec)
		if err != nil {
			return err
		}
		err = d.acc.t.do(ctx, http.MethodPut, "/v1/nodes/"+b64(e.ID), api.UpdateNodeRequest{Node: wire, ExpectVersion: e.Record.Version}, nil)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusConflict {
			// The name is taken (by a file this listing did not see),
			// or another writer filed the drop meanwhile: then leave it
			// to the next listing.
			var cur api.Node
			if gerr := d.acc.t.do(ctx, http.MethodGet, "/v1/nodes/"+b64(e.ID), nil, &cur); gerr != nil {
				return gerr
			}
			if cur.Version != e.Record.Version {
				return nil
			}
			taken[name] = true
			continue
		}
		if err != nil {
			return err
		}
		taken[name] = true
		d.seen.record(e.ID, rec.Version, d.fingerprint(rec, wire.Signature))
		e.Name, e.Record, e.Author, e.drop = name, wire, wire.Author, false
		e.path = path.Join(dir.path, name)
		return nil
	}
	return errNoFreeName
}

// errNoFreeName means a drop's name and its numbered variants are all
// taken in the folder.
var errNoFreeName = errors.New("no free name after 100 tries (or another device keeps filing it)")

// numbered returns name for i == 1, else name with " (i)" before its
// extension.
func numbered(name string, i int) string {
	if i == 1 {
		return name
	}
	ext := path.Ext(name)
	if ext == name || len(ext) > 32 {
		ext = ""
	}
	base := strings.TrimSuffix(name, ext)
	suffix := fmt.Sprintf(" (%d)%s", i, ext)
	// Names are at most 255 bytes: shorten the base, on a rune boundary.
	for len(base)+len(suffix) > 255 {
		_, size := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-size]
	}
	return base + suffix
}
