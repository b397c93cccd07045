package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Sharing with a user and write-only folders (docs/crypto.md section 13).

const (
	shareListVersion   = 0x01
	shareGrantVersion  = 0x01
	shareAcceptVersion = 0x01
)

// Sizes of the sharing constructions.
const (
	// MaxShareMembers bounds a share's member list, so that a list the
	// server serves cannot make a client allocate without limit.
	MaxShareMembers = 1000
	// SealedInboxKeySize is the length of an inbox private key sealed under
	// its folder's keys (SealInboxKey): an envelope of a 32-byte seed.
	SealedInboxKeySize = envelopeOverhead + SeedSize
	// minSealedShareGrantSize and maxSealedShareGrantSize bound a grant:
	// HPKE overhead || version || node key || a padded name of one to nine
	// 32-byte buckets.
	minSealedShareGrantSize = hpkeOverhead + 1 + 32 + namePad
	maxSealedShareGrantSize = hpkeOverhead + 1 + 32 + (2+MaxNameLen+namePad-1)/namePad*namePad
)

// Role is a share member's role. The signed member list carries it, and
// clients check every author in a shared subtree against it: a record
// signed by a viewer is refused. Cryptography enforces the uploader's
// limit too: an uploader never receives the node key, only the inbox
// public key.
type Role uint8

// Roles. Zero is not a role, so a member left unset is refused.
const (
	RoleViewer   Role = 1 // read
	RoleEditor   Role = 2 // read and write
	RoleUploader Role = 3 // add files only, through the folder's inbox key; cannot read
)

var roleNames = [...]string{RoleViewer: "viewer", RoleEditor: "editor", RoleUploader: "uploader"}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r >= RoleViewer && r <= RoleUploader }

// String returns "viewer", "editor" or "uploader", or "role(N)" for a value
// that is not a role, so that a bad value is visible in a message rather
// than shown as a real role.
func (r Role) String() string {
	if r.Valid() {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole is the inverse of String for the three roles. It is exact (no
// case folding), so that one role has one spelling on every client.
func ParseRole(s string) (Role, error) {
	for r := RoleViewer; r <= RoleUploader; r++ {
		if s == roleNames[r] {
			return r, nil
		}
	}
	return 0, fmt.Errorf("coffer/crypto: unknown role %q (want viewer, editor or uploader)", s)
}

// ShareMember is one entry of a signed member list.
type ShareMember struct {
	// Name is the member's account name, 1 to MaxAuthorLen bytes.
	Name string
	// Fingerprint is PublicBundle.FingerprintBytes() of the member's
	// bundle as the owner pinned it. A client trusts a member's signature
	// only under the bundle with this fingerprint, so the server cannot
	// slip in another key for a member name.
	Fingerprint [32]byte
	Role        Role
}

// ShareList is the owner-signed description of one share: which node is
// shared, with whom, in which role, and the keys that the members need to
// check. The server stores it and reads the roles from it
// (ParseShareList) to enforce them; clients verify its signature under the
// owner's pinned identity key and refuse a Version lower than the highest
// they have seen for Share (docs/crypto.md section 13.2).
type ShareList struct {
	// Share is the share's ID, IDSize random bytes chosen by the owner.
	Share []byte
	// Volume is the owner's volume and Node the shared node (IDSize each).
	Volume, Node []byte
	// Owner is the owner's account name (1 to MaxAuthorLen bytes).
	Owner string
	// Version starts at 1 and rises by 1 on every change (member added or
	// removed, role changed, keys rotated), so that a client can refuse an
	// older list, and with it a removed member's or an old role's rights.
	Version uint64
	// KeyCheck is ShareKeyCheck of the shared node's key. It is how a
	// member knows that the node key in its grant is the owner's: anyone,
	// the server included, can seal a grant to a member's public key
	// (HPKE base mode does not authenticate the sender), but only the
	// owner signs this list. Without it a server could hand an editor a
	// key of its own and read whatever the editor then writes. It is a
	// PRF output of a 256-bit random key, so it reveals nothing of the key.
	KeyCheck [32]byte
	// InboxPublic is the shared folder's inbox HPKE (X-Wing) public key,
	// EncryptionPublicKeySize bytes; empty when no member is an uploader.
	// It is required (non-empty) exactly when some member is an uploader.
	InboxPublic []byte
	// Members are sorted by Name (bytewise), with unique names, without
	// the owner, 0 to MaxShareMembers entries.
	Members []ShareMember
}

// Validate reports why l cannot be signed or trusted, as an error wrapping
// ErrBadRecord, or nil. The rules (docs/crypto.md section 13.2):
//
//   - Share, Volume and Node are IDSize bytes;
//   - Owner is 1 to MaxAuthorLen bytes; Version is at least 1;
//   - KeyCheck is not all zeros;
//   - InboxPublic is empty, or an X-Wing public key of
//     EncryptionPublicKeySize bytes that parses; it is non-empty exactly
//     when some member is an uploader;
//   - there are at most MaxShareMembers members, sorted strictly by Name
//     as bytes (so names are unique), none of them the owner; each has a
//     Name of 1 to MaxAuthorLen bytes, a Fingerprint that is not all
//     zeros (what FingerprintBytes returns for a bundle that cannot be
//     encoded) and a valid Role.
func (l *ShareList) Validate() error {
	if err := l.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return nil
}

func (l *ShareList) validate() error {
	if l == nil {
		return errors.New("nil share list")
	}
	if err := checkID("share ID", l.Share); err != nil {
		return err
	}
	if err := checkID("volume ID", l.Volume); err != nil {
		return err
	}
	if err := checkID("node ID", l.Node); err != nil {
		return err
	}
	if err := checkAuthor(l.Owner); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	if l.Version == 0 {
		return errors.New("version 0 (versions start at 1)")
	}
	if l.KeyCheck == ([32]byte{}) {
		return errors.New("no key check")
	}
	if len(l.Members) > MaxShareMembers {
		return fmt.Errorf("%d members, limit %d", len(l.Members), MaxShareMembers)
	}
	uploaders := false
	for i, m := range l.Members {
		if err := checkAuthor(m.Name); err != nil {
			return fmt.Errorf("member %d: %w", i, err)
		}
		if i > 0 && l.Members[i-1].Name >= m.Name {
			return fmt.Errorf("member %d: members not sorted by name, or a name repeated", i)
		}
		if m.Name == l.Owner {
			return fmt.Errorf("member %d: the owner is not a member of its own share", i)
		}
		if m.Fingerprint == ([32]byte{}) {
			return fmt.Errorf("member %d: no fingerprint", i)
		}
		if !m.Role.Valid() {
			return fmt.Errorf("member %d: unknown role %d", i, m.Role)
		}
		uploaders = uploaders || m.Role == RoleUploader
	}
	switch {
	case uploaders && len(l.InboxPublic) == 0:
		return errors.New("an uploader is a member but there is no inbox key")
	case !uploaders && len(l.InboxPublic) != 0:
		return errors.New("an inbox key but no uploader")
	case uploaders:
		if len(l.InboxPublic) != EncryptionPublicKeySize {
			return fmt.Errorf("inbox key is %d bytes, want %d", len(l.InboxPublic), EncryptionPublicKeySize)
		}
		if _, err := kem().NewPublicKey(l.InboxPublic); err != nil {
			return errors.New("inbox key does not parse")
		}
	}
	return nil
}

// Marshal returns the canonical encoding that Sign signs and that the
// server stores:
//
//	0x01 || LP(share) || LP(volume) || LP(node) || LP(owner) || u64(version) ||
//	key_check (32) || LP(inbox_public) || u32(count) ||
//	count × (LP(name) || fingerprint (32) || u8(role))
//
// It returns nil for a list that Validate refuses, so that a malformed list
// can never be signed or verified. ParseShareList is its strict inverse.
func (l *ShareList) Marshal() []byte {
	if l.validate() != nil {
		return nil
	}
	return l.encode()
}

// encode is Marshal without validation, for Marshal and for vectors that
// show validly signed but malformed lists being refused.
func (l *ShareList) encode() []byte {
	n := 1 + 4*5 + len(l.Share) + len(l.Volume) + len(l.Node) + len(l.Owner) + 8 + 32 + len(l.InboxPublic) + 4
	for _, m := range l.Members {
		n += 4 + len(m.Name) + 32 + 1
	}
	b := make([]byte, 0, n)
	b = append(b, shareListVersion)
	b = appendLP(b, l.Share)
	b = appendLP(b, l.Volume)
	b = appendLP(b, l.Node)
	b = appendLP(b, []byte(l.Owner))
	b = binary.BigEndian.AppendUint64(b, l.Version)
	b = append(b, l.KeyCheck[:]...)
	b = appendLP(b, l.InboxPublic)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Members)))
	for _, m := range l.Members {
		b = appendLP(b, []byte(m.Name))
		b = append(b, m.Fingerprint[:]...)
		b = append(b, byte(m.Role))
	}
	return b
}

// ParseShareList is the strict inverse of Marshal: it refuses, with an
// error wrapping ErrBadRecord, anything that Marshal would not have
// produced (an unknown version, a truncated field, trailing bytes, or a
// list that Validate refuses, such as unsorted or repeated members). It
// does not verify a signature: the server uses it to read the roles, and
// a client must call Verify on the result before trusting any of it.
func ParseShareList(b []byte) (*ShareList, error) {
	l, err := parseShareList(b)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: parse share list: %w: %w", ErrBadRecord, err)
	}
	return l, nil
}

func parseShareList(b []byte) (*ShareList, error) {
	r := reader{b: b}
	v, ok := r.uint8()
	if !ok {
		return nil, errors.New("empty")
	}
	if v != shareListVersion {
		return nil, fmt.Errorf("%w %#02x", ErrUnsupportedVersion, v)
	}
	var l ShareList
	var owner, keyCheck []byte
	var count uint32
	ok = true
	read := func(f func() bool) {
		if ok {
			ok = f()
		}
	}
	read(func() (ok bool) { l.Share, ok = r.lp(); return })
	read(func() (ok bool) { l.Volume, ok = r.lp(); return })
	read(func() (ok bool) { l.Node, ok = r.lp(); return })
	read(func() (ok bool) { owner, ok = r.lp(); return })
	read(func() (ok bool) { l.Version, ok = r.uint64(); return })
	read(func() (ok bool) { keyCheck, ok = r.bytes(32); return })
	read(func() (ok bool) { l.InboxPublic, ok = r.lp(); return })
	read(func() (ok bool) { count, ok = r.uint32(); return })
	if !ok {
		return nil, errors.New("truncated")
	}
	// Each member takes at least 4+1+32+1 bytes; checking the count
	// against both the limit and the bytes left bounds the allocation.
	if count > MaxShareMembers {
		return nil, fmt.Errorf("%d members, limit %d", count, MaxShareMembers)
	}
	if uint64(count)*(4+1+32+1) > uint64(len(r.b)) {
		return nil, errors.New("truncated")
	}
	l.Owner = string(owner)
	copy(l.KeyCheck[:], keyCheck)
	if count > 0 {
		l.Members = make([]ShareMember, count)
	}
	for i := range l.Members {
		m := &l.Members[i]
		name, ok := r.lp()
		if !ok {
			return nil, errors.New("truncated")
		}
		fp, ok := r.bytes(32)
		if !ok {
			return nil, errors.New("truncated")
		}
		role, ok := r.uint8()
		if !ok {
			return nil, errors.New("truncated")
		}
		m.Name, m.Role = string(name), Role(role)
		copy(m.Fingerprint[:], fp)
	}
	if !r.empty() {
		return nil, errors.New("trailing bytes")
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	// Copy the byte fields out of b, so that the caller may reuse b.
	l.Share, l.Volume, l.Node = bytes.Clone(l.Share), bytes.Clone(l.Volume), bytes.Clone(l.Node)
	if len(l.InboxPublic) == 0 {
		l.InboxPublic = nil
	} else {
		l.InboxPublic = bytes.Clone(l.InboxPublic)
	}
	return &l, nil
}

// Sign returns Ed25519-Sign(identity key, tagged("coffer/v1/share-list",
// Marshal())), after checking the list with Validate. The caller is the
// owner and sets Owner to its own account name.
func (l *ShareList) Sign(keys *AccountKeys) ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign share list: %w", err)
	}
	if !keys.usable() {
		return nil, fmt.Errorf("coffer/crypto: sign share list %x: no account keys", l.Share)
	}
	return ed25519.Sign(keys.identity, tagged(labelShareList, l.encode())), nil
}

// Verify checks that sig is owner's signature over the list. owner is the
// identity key of l.Owner from that account's pinned bundle, never a key
// served alongside the list. Every failure wraps ErrBadSignature: a
// malformed list (also ErrBadRecord), an unacceptable key (also
// ErrBadEd25519Key), or a signature that does not verify.
//
// A valid signature proves that the owner wrote this list, not that it is
// current: the caller still checks that Share, Volume and Node are the
// share it asked for and that Version is not below the highest it has
// seen for Share.
func (l *ShareList) Verify(owner ed25519.PublicKey, sig []byte) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if err := verifyEd25519(owner, tagged(labelShareList, l.encode()), sig); err != nil {
		return fmt.Errorf("%w: share list %x by %q: %w", ErrBadSignature, l.Share, l.Owner, err)
	}
	return nil
}

// VerifyWith is Verify with a key checked once beforehand.
func (l *ShareList) VerifyWith(owner VerifyKey, sig []byte) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	if err := owner.verify(tagged(labelShareList, l.encode()), sig); err != nil {
		return fmt.Errorf("%w: share list %x by %q: %w", ErrBadSignature, l.Share, l.Owner, err)
	}
	return nil
}

// Member returns the member called name, and whether there is one. The
// owner is not a member: callers treat l.Owner separately. Members must be
// sorted, as Validate requires; on a list that Validate refuses the answer
// means nothing.
func (l *ShareList) Member(name string) (ShareMember, bool) {
	if l == nil {
		return ShareMember{}, false
	}
	i := sort.Search(len(l.Members), func(i int) bool { return l.Members[i].Name >= name })
	if i < len(l.Members) && l.Members[i].Name == name {
		return l.Members[i], true
	}
	return ShareMember{}, false
}

// GrantRef returns the GrantRef of member's grant in this share, with
// KeyCheck taken from the list. Call it on a verified list, so that
// OpenShareGrant compares the key against the owner's signed check value.
func (l *ShareList) GrantRef(member string) GrantRef {
	return GrantRef{Share: l.Share, Volume: l.Volume, Node: l.Node, Member: member, KeyCheck: l.KeyCheck}
}

// ShareKeyCheck returns HKDF(ikm = node key, info =
// tagged("coffer/v1/share-key-check", LP(share) || LP(volume) || LP(node)),
// 32): the value that a ShareList carries so that members can tell the
// owner's node key from one that someone else sealed to them. It is bound
// to the share, so two shares of one node do not show equal values.
func ShareKeyCheck(share, volume, node []byte, key NodeKey) ([32]byte, error) {
	if err := checkIDs(share, volume, node); err != nil {
		return [32]byte{}, fmt.Errorf("coffer/crypto: share key check: %w", err)
	}
	kc, err := hkdf32(key[:], labelShareKeyCheck, string(idFields(share, volume, node)))
	if err != nil {
		return [32]byte{}, fmt.Errorf("coffer/crypto: share key check: %w", err)
	}
	return kc, nil
}

func checkIDs(share, volume, node []byte) error {
	if err := checkID("share ID", share); err != nil {
		return err
	}
	if err := checkID("volume ID", volume); err != nil {
		return err
	}
	return checkID("node ID", node)
}

// GrantRef names what a share grant is bound to.
type GrantRef struct {
	// Share, Volume and Node are the share's IDs (IDSize each).
	Share, Volume, Node []byte
	// Member is the recipient's account name.
	Member string
	// KeyCheck is the verified ShareList's KeyCheck; ShareList.GrantRef
	// fills it in. OpenShareGrant returns a key only if it matches, and
	// SealShareGrant refuses a key that does not.
	KeyCheck [32]byte
}

// info returns LP(share) || LP(volume) || LP(node) || LP(member), after
// checking the IDs, the member name and that KeyCheck is set.
func (ref GrantRef) info() ([]byte, error) {
	b, err := ref.fields()
	if err != nil {
		return nil, err
	}
	if ref.KeyCheck == ([32]byte{}) {
		return nil, errors.New("no key check (take the GrantRef from the verified share list)")
	}
	return b, nil
}

// fields returns LP(share) || LP(volume) || LP(node) || LP(member), after
// checking the IDs and the member name but not KeyCheck: uploader grants
// (SealUploaderGrant) carry no key and ignore it.
func (ref GrantRef) fields() ([]byte, error) {
	if err := checkIDs(ref.Share, ref.Volume, ref.Node); err != nil {
		return nil, err
	}
	if err := checkAuthor(ref.Member); err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	b := idFields(ref.Share, ref.Volume, ref.Node)
	return appendLP(b, []byte(ref.Member)), nil
}

// matches reports, in constant time, whether key is the key that
// ref.KeyCheck commits to.
func (ref GrantRef) matches(key NodeKey) bool {
	kc, err := ShareKeyCheck(ref.Share, ref.Volume, ref.Node, key)
	return err == nil && hmac.Equal(kc[:], ref.KeyCheck[:])
}

// SealShareGrant seals the shared node's key and the name it is shared
// under to a member's X-Wing encryption public key (from the member's
// pinned bundle): 0x01 || HPKE base-mode Seal (same suite as SealRootKey)
// with info = tagged("coffer/v1/share-grant", LP(share) || LP(volume) ||
// LP(node) || LP(member)) of the plaintext 0x01 || node key (32) ||
// u16(len) || NFC name || zero padding to the next multiple of 32 bytes.
// The name is normalised and refused (ErrBadName) as SealName does, and
// padded the same way so that a grant's size leaks little of the name's
// length. key must match ref.KeyCheck, so that an owner cannot send a key
// that its members would refuse.
func SealShareGrant(memberEncryptionPublic []byte, ref GrantRef, key NodeKey, name string) ([]byte, error) {
	info, err := ref.info()
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal share grant: %w", err)
	}
	n, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal share grant of share %x: %w", ref.Share, err)
	}
	if !ref.matches(key) {
		return nil, fmt.Errorf("coffer/crypto: seal share grant of share %x: the node key does not match the key check", ref.Share)
	}
	pt := make([]byte, 0, 1+len(key)+2+len(n)+namePad)
	pt = append(pt, shareGrantVersion)
	pt = append(pt, key[:]...)
	pt = append(pt, namePlaintext(n)...)
	defer clear(pt)
	sealed, err := hpkeSeal(memberEncryptionPublic, labelShareGrant, info, pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal share grant of share %x for %q: %w", ref.Share, ref.Member, err)
	}
	return sealed, nil
}

// OpenShareGrant opens a grant sealed by SealShareGrant to keys'
// encryption key under the same ref, and returns the node key and the
// name. A grant changed in any byte, sealed under another ref or to
// another recipient, whose plaintext is not canonical, or whose key does
// not match ref.KeyCheck gives an error wrapping ErrDecrypt, and no key.
// ref must come from a verified ShareList (ShareList.GrantRef): the key
// check is what makes the key the owner's.
func OpenShareGrant(keys *AccountKeys, ref GrantRef, sealed []byte) (NodeKey, string, error) {
	info, err := ref.info()
	if err != nil {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant: %w", err)
	}
	if !keys.usable() {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant of share %x: no account keys", ref.Share)
	}
	// A grant of a size SealShareGrant never makes is refused before the
	// X-Wing decapsulation; an unknown version byte is left to hpkeOpen,
	// which reports it as such.
	if n := len(sealed); (n < minSealedShareGrantSize || n > maxSealedShareGrantSize) && (n == 0 || sealed[0] == hpkeVersion) {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant of share %x: %w", ref.Share, ErrDecrypt)
	}
	pt, err := hpkeOpen(keys.encryption, labelShareGrant, info, sealed)
	if err != nil {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant of share %x: %w", ref.Share, err)
	}
	defer clear(pt)
	if len(pt) < 1+32 || pt[0] != shareGrantVersion {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant of share %x: %w", ref.Share, ErrDecrypt)
	}
	name, err := parseNamePlaintext(pt[1+32:])
	if err != nil {
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant of share %x: %w: %w: %w", ref.Share, ErrDecrypt, ErrBadName, err)
	}
	key := NodeKey(pt[1 : 1+32])
	if !ref.matches(key) {
		clear(key[:])
		return NodeKey{}, "", fmt.Errorf("coffer/crypto: open share grant of share %x: %w: the node key is not the one the share list commits to", ref.Share, ErrDecrypt)
	}
	return key, name, nil
}

// Acceptance is a member's signed consent to a share, so that a server
// cannot push a share into a user's tree: a client shows a share only with
// its own acceptance signature.
type Acceptance struct {
	// Share, Volume and Node are the share's IDs (IDSize each).
	Share, Volume, Node []byte
	// Owner is the owner's and Member the accepting member's account name.
	Owner, Member string
}

// message returns tagged("coffer/v1/share-accept", 0x01 || LP(share) ||
// LP(volume) || LP(node) || LP(owner) || LP(member)).
func (a *Acceptance) message() ([]byte, error) {
	if a == nil {
		return nil, errors.New("nil acceptance")
	}
	if err := checkIDs(a.Share, a.Volume, a.Node); err != nil {
		return nil, err
	}
	if err := checkAuthor(a.Owner); err != nil {
		return nil, fmt.Errorf("owner: %w", err)
	}
	if err := checkAuthor(a.Member); err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if a.Owner == a.Member {
		return nil, errors.New("the owner is not a member of its own share")
	}
	return tagged(labelShareAccept, a.encode()), nil
}

func (a *Acceptance) encode() []byte {
	b := []byte{shareAcceptVersion}
	b = append(b, idFields(a.Share, a.Volume, a.Node)...)
	b = appendLP(b, []byte(a.Owner))
	return appendLP(b, []byte(a.Member))
}

// Sign returns Ed25519-Sign(member's identity key,
// tagged("coffer/v1/share-accept", 0x01 || LP(share) || LP(volume) ||
// LP(node) || LP(owner) || LP(member))). The caller is the member.
func (a *Acceptance) Sign(keys *AccountKeys) ([]byte, error) {
	msg, err := a.message()
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign acceptance: %w: %w", ErrBadRecord, err)
	}
	if !keys.usable() {
		return nil, fmt.Errorf("coffer/crypto: sign acceptance of share %x: no account keys", a.Share)
	}
	return ed25519.Sign(keys.identity, msg), nil
}

// Verify checks that sig is member's signature over the acceptance; member
// is the identity key of a.Member from that account's pinned bundle. Every
// failure wraps ErrBadSignature (a malformed acceptance also ErrBadRecord,
// an unacceptable key also ErrBadEd25519Key).
func (a *Acceptance) Verify(member ed25519.PublicKey, sig []byte) error {
	msg, err := a.message()
	if err != nil {
		return fmt.Errorf("%w: %w: %w", ErrBadSignature, ErrBadRecord, err)
	}
	if err := verifyEd25519(member, msg, sig); err != nil {
		return fmt.Errorf("%w: acceptance of share %x by %q: %w", ErrBadSignature, a.Share, a.Member, err)
	}
	return nil
}

// VerifyWith is Verify with a key checked once beforehand.
func (a *Acceptance) VerifyWith(member VerifyKey, sig []byte) error {
	msg, err := a.message()
	if err != nil {
		return fmt.Errorf("%w: %w: %w", ErrBadSignature, ErrBadRecord, err)
	}
	if err := member.verify(msg, sig); err != nil {
		return fmt.Errorf("%w: acceptance of share %x by %q: %w", ErrBadSignature, a.Share, a.Member, err)
	}
	return nil
}

// InboxKey is a write-only folder's inbox key pair: an X-Wing HPKE key
// pair whose public half the share list gives to uploaders and whose
// private seed is sealed under the folder's node keys (SealInboxKey), so
// that whoever can read the folder can read what uploaders put in it, and
// uploaders cannot.
type InboxKey struct {
	seed [SeedSize]byte
	priv hpke.PrivateKey
	pub  []byte
}

// NewInboxKey returns a fresh random inbox key pair.
func NewInboxKey() (*InboxKey, error) {
	var seed [SeedSize]byte
	defer clear(seed[:])
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("coffer/crypto: generate inbox key: %w", err)
	}
	return newInboxKey(seed[:])
}

// newInboxKey expands a 32-byte seed as NewAccountKeysFromSeeds does for
// the account encryption key.
func newInboxKey(seed []byte) (*InboxKey, error) {
	priv, err := kem().NewPrivateKey(seed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: inbox key from seed: %w", err)
	}
	k := &InboxKey{priv: priv, pub: priv.PublicKey().Bytes()}
	copy(k.seed[:], seed)
	return k, nil
}

func (k *InboxKey) usable() bool {
	return k != nil && k.priv != nil && len(k.pub) == EncryptionPublicKeySize
}

// Public returns the inbox public key (EncryptionPublicKeySize bytes), for
// ShareList.InboxPublic; nil if k holds no key.
func (k *InboxKey) Public() []byte {
	if !k.usable() {
		return nil
	}
	return bytes.Clone(k.pub)
}

// inboxKeyFields returns LP(volume) || LP(node) || public key.
func inboxKeyFields(volume, node, public []byte) ([]byte, error) {
	if err := checkID("volume ID", volume); err != nil {
		return nil, err
	}
	if err := checkID("node ID", node); err != nil {
		return nil, err
	}
	if len(public) != EncryptionPublicKeySize {
		return nil, fmt.Errorf("inbox public key is %d bytes, want %d", len(public), EncryptionPublicKeySize)
	}
	return append(idFields(volume, node), public...), nil
}

// SealInboxKey seals k's private seed under the folder's inbox-key-wrap
// sub-key, in an envelope (version, random nonce, AES-256-GCM) with AD =
// tagged("coffer/v1/inbox-key", LP(volume) || LP(node) || public key).
// Binding the public key means a sealed seed cannot be paired with another
// public key in the share list. The result is SealedInboxKeySize bytes.
func SealInboxKey(folder *NodeKeys, volume, node []byte, k *InboxKey) ([]byte, error) {
	return sealInboxKey(folder, volume, node, k, nil)
}

func sealInboxKey(folder *NodeKeys, volume, node []byte, k *InboxKey, nonce *[nonceSize]byte) ([]byte, error) {
	if !k.usable() {
		return nil, errors.New("coffer/crypto: seal inbox key: no inbox key")
	}
	fields, err := inboxKeyFields(volume, node, k.pub)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal inbox key: %w", err)
	}
	if !folder.usable() || folder.inbox == nil {
		return nil, fmt.Errorf("coffer/crypto: seal inbox key of node %x: %w", node, errNoNodeKeys)
	}
	sealed, err := sealWith(folder.inbox, nonce, labelInboxKey, fields, k.seed[:])
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal inbox key of node %x: %w", node, err)
	}
	return sealed, nil
}

// OpenInboxKey opens an inbox key sealed by SealInboxKey under the same
// folder keys, volume, node and public key, and checks that the opened
// key's public half is public. Any mismatch or change gives an error
// wrapping ErrDecrypt.
func OpenInboxKey(folder *NodeKeys, volume, node []byte, public, sealed []byte) (*InboxKey, error) {
	fields, err := inboxKeyFields(volume, node, public)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open inbox key: %w", err)
	}
	if !folder.usable() || folder.inbox == nil {
		return nil, fmt.Errorf("coffer/crypto: open inbox key of node %x: %w", node, errNoNodeKeys)
	}
	pt, err := openWith(folder.inbox, labelInboxKey, fields, sealed)
	if err == nil && len(pt) != SeedSize {
		err = ErrDecrypt
	}
	if err != nil {
		clear(pt)
		return nil, fmt.Errorf("coffer/crypto: open inbox key of node %x: %w", node, err)
	}
	defer clear(pt)
	k, err := newInboxKey(pt)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open inbox key of node %x: %w", node, ErrDecrypt)
	}
	// The AD already binds public; a mismatch means the sealer (a holder
	// of the folder key) paired a seed with the wrong public key, and the
	// pair must not be used.
	if !bytes.Equal(k.pub, public) {
		return nil, fmt.Errorf("coffer/crypto: open inbox key of node %x: %w: public key does not match", node, ErrDecrypt)
	}
	return k, nil
}
