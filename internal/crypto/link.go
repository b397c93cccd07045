package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/coffer-drive/coffer/internal/srp"
)

// Public links (docs/crypto.md section 13.13).

// Labels of public links (docs/crypto.md section 2, "Labels").
const (
	labelLinkSRPX    = "coffer/v1/link-srp-x"   // HKDF info: a link's SRP private value x
	labelLinkKey     = "coffer/v1/link-key"     // HKDF info: the key that seals a link's payload
	labelLinkSign    = "coffer/v1/link-sign"    // HKDF info: the Ed25519 seed of a link's anonymous uploads
	labelLinkPayload = "coffer/v1/link-payload" // AD of a link's payload
	labelSelfKey     = "coffer/v1/self-key"     // HKDF info: an account's key for records only it reads
	labelLinkOwner   = "coffer/v1/link-owner"   // AD of a link's owner record
)

// Sizes and limits of public links.
const (
	// LinkIDSize is the length of a link ID: public, the server's name
	// for the link.
	LinkIDSize = 16
	// LinkSecretSize is the length of a link secret, which lives in the
	// URL's fragment and never reaches the server.
	LinkSecretSize = 32
	// MaxLinkPasswordLen is the longest link password in bytes, after
	// NFC: the most an owner record holds.
	MaxLinkPasswordLen = 1024
)

// Kinds of public links, as in the payload, its AD and the API.
const (
	LinkRead   byte = 1 // read access to a file or a folder's subtree
	LinkUpload byte = 2 // drop files into a folder (a file request)
)

const (
	linkPayloadVersion = 0x01
	linkOwnerVersion   = 0x01
	linkAuthorPrefix   = "link:"
)

// ErrBadLinkURL reports a string that ParseLinkURL refuses, or a base
// that FormatLinkURL refuses. Its messages say what is wrong and never
// repeat the secret.
var ErrBadLinkURL = errors.New("coffer/crypto: not a valid link URL")

// linkB64 is RFC 4648 base64url without padding, strict about the unused
// low bits of the last character.
var linkB64 = base64.RawURLEncoding.Strict()

// decodeLinkPart returns the n bytes that s encodes in canonical base64url,
// or false. Re-encoding catches what the decoder skips (it ignores CR and
// LF), so each byte string has exactly one accepted spelling.
func decodeLinkPart(s string, n int) ([]byte, bool) {
	if len(s) != linkB64.EncodedLen(n) {
		return nil, false
	}
	b, err := linkB64.DecodeString(s)
	if err != nil || len(b) != n || linkB64.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// NewLinkID returns a fresh random link ID of LinkIDSize bytes whose
// base64url spelling does not begin with '-'. Users pass IDs to
// `coffer link rm ID` in scripts, and an ID read as a flag would fail
// there one time in 64. Re-drawing such IDs costs 0.02 bits of the 128.
func NewLinkID() ([]byte, error) {
	for {
		id, err := randomLinkBytes("link ID", LinkIDSize)
		if err != nil {
			return nil, err
		}
		if id[0]>>2 != 62 { // base64url's 62nd letter is '-'
			return id, nil
		}
	}
}

// NewLinkSecret returns a fresh random link secret of LinkSecretSize bytes.
func NewLinkSecret() ([]byte, error) {
	return randomLinkBytes("link secret", LinkSecretSize)
}

func randomLinkBytes(what string, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("coffer/crypto: generate %s: %w", what, err)
	}
	return b, nil
}

// LinkAuthor returns "link:" || base64url(id), the author of a link's
// anonymous uploads and its SRP identity. For a LinkIDSize ID it is 27
// bytes, within MaxAuthorLen; account names cannot contain ':', so it
// never names an account.
func LinkAuthor(id []byte) string {
	return linkAuthorPrefix + linkB64.EncodeToString(id)
}

// ParseLinkAuthor returns the link ID of an author that LinkAuthor made
// from a LinkIDSize ID, or false for any other author (an account name,
// or a "link:" author that is not canonical).
func ParseLinkAuthor(author string) ([]byte, bool) {
	s, ok := strings.CutPrefix(author, linkAuthorPrefix)
	if !ok {
		return nil, false
	}
	return decodeLinkPart(s, LinkIDSize)
}

// FormatLinkURL returns base || "/s/" || base64url(id) || "#" ||
// base64url(secret). base is the server's origin, "https://host" or
// "http://host:port" (one trailing '/' is dropped); it must be what
// ParseLinkURL accepts as a base: no user info, path, query or fragment.
func FormatLinkURL(base string, id, secret []byte) (string, error) {
	base = strings.TrimSuffix(base, "/")
	if err := checkLinkBase(base); err != nil {
		return "", fmt.Errorf("%w: base: %w", ErrBadLinkURL, err)
	}
	if err := checkID("link ID", id); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadLinkURL, err)
	}
	if len(secret) != LinkSecretSize {
		return "", fmt.Errorf("%w: link secret is %d bytes, want %d", ErrBadLinkURL, len(secret), LinkSecretSize)
	}
	return base + "/s/" + linkB64.EncodeToString(id) + "#" + linkB64.EncodeToString(secret), nil
}

// ParseLinkURL splits a link URL into its base (scheme and host, as
// FormatLinkURL takes it), link ID and secret. It is strict (docs/crypto.md
// section 13.13): the scheme is "https" or "http" in lower case; the host
// is ASCII (an international name in its xn-- form), with no user info and
// an optional port of 1 to 65535; the path is exactly "/s/" and 22
// characters of canonical base64url for 16 bytes, with an optional
// trailing '/'; there is no query; the fragment is exactly 43 characters
// of canonical base64url for 32 bytes (no padding, no escapes, the unused
// low bits of the last character zero). Every error wraps ErrBadLinkURL,
// names what is wrong and never repeats the fragment.
//
// FormatLinkURL(ParseLinkURL(s)) is s without the optional trailing '/'.
func ParseLinkURL(s string) (base string, id, secret []byte, err error) {
	fail := func(format string, args ...any) (string, []byte, []byte, error) {
		return "", nil, nil, fmt.Errorf("%w: "+format, append([]any{ErrBadLinkURL}, args...)...)
	}
	rest, frag, ok := strings.Cut(s, "#")
	if !ok {
		return fail("no '#' and secret after it (was the link cut short?)")
	}
	secret, ok = decodeLinkPart(frag, LinkSecretSize)
	if !ok {
		if want := linkB64.EncodedLen(LinkSecretSize); len(frag) != want {
			return fail("the secret after '#' is %d bytes long, want %d characters", len(frag), want)
		}
		return fail("the secret after '#' is not canonical base64url")
	}
	if strings.Contains(rest, "?") {
		return fail("it has a query ('?'); a link URL has none")
	}
	scheme, hostAndPath, ok := strings.Cut(rest, "://")
	if !ok || (scheme != "https" && scheme != "http") {
		return fail("the scheme is not https:// or http://")
	}
	authority, p, ok := strings.Cut(hostAndPath, "/")
	if !ok {
		return fail("no path: want /s/ and the link ID")
	}
	base = scheme + "://" + authority
	if err := checkLinkBase(base); err != nil {
		return fail("%w", err)
	}
	idPart, ok := strings.CutPrefix(p, "s/")
	if !ok {
		return fail("the path is not /s/ and the link ID")
	}
	idPart = strings.TrimSuffix(idPart, "/")
	if id, ok = decodeLinkPart(idPart, LinkIDSize); !ok {
		if want := linkB64.EncodedLen(LinkIDSize); len(idPart) != want {
			return fail("the link ID after /s/ is %d bytes long, want %d characters", len(idPart), want)
		}
		return fail("the link ID after /s/ is not canonical base64url")
	}
	return base, id, secret, nil
}

// checkLinkBase checks a base "scheme://host[:port]". Its errors name the
// part that is wrong.
func checkLinkBase(base string) error {
	scheme, authority, ok := strings.Cut(base, "://")
	if !ok || (scheme != "https" && scheme != "http") {
		return errors.New("the scheme is not https:// or http://")
	}
	if authority == "" {
		return errors.New("no host")
	}
	for i := 0; i < len(authority); i++ {
		switch c := authority[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == ':', c == '[', c == ']':
		case c == '@':
			return errors.New("user info ('@') before the host is not allowed")
		case c == '/' || c == '?' || c == '#':
			return fmt.Errorf("the base has a %q after the host", c)
		case c >= utf8.RuneSelf:
			return errors.New("the host is not ASCII (write an international name in its xn-- form)")
		default:
			return fmt.Errorf("the host has a character that is not allowed (byte %d)", i)
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Host != authority || u.Hostname() == "" {
		return errors.New("the host does not parse")
	}
	if strings.HasSuffix(authority, ":") {
		return errors.New("an empty port after ':'")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("the port is not 1 to 65535")
		}
	}
	host := u.Hostname()
	if strings.ContainsAny(host, ":[]") {
		// An IPv6 literal: brackets around an address, nothing else.
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || !strings.HasPrefix(authority, "[") {
			return errors.New("the host is not a valid IPv6 literal")
		}
	}
	return nil
}

// LinkKeys are what a link's secret and password give (DeriveLinkKeys):
// the SRP private value that gates the link, the key of its payload and
// the Ed25519 key that signs its anonymous uploads.
type LinkKeys struct {
	// SRPX is the link's SRP-6a private value x (32 bytes, big-endian),
	// for srp.Client.Finish with identity LinkAuthor(ID()) and the link's
	// salt.
	SRPX []byte
	// Key is link_key, which seals the payload (SealLinkPayload).
	Key [32]byte

	id   []byte
	sign ed25519.PrivateKey
}

// DeriveLinkKeys derives a link's keys from its secret (32 bytes, from
// the URL) and password ("" for none), bound to its ID (16 bytes), under
// the salt and Argon2id parameters the server stores with the link:
//
//	pw        = Argon2id(secret || NFC(password), salt, t, m, p, 32)
//	srp_x     = HKDF(pw, tagged("coffer/v1/link-srp-x", link_id), 32)
//	link_key  = HKDF(pw, tagged("coffer/v1/link-key", link_id), 32)
//	sign_seed = HKDF(pw, tagged("coffer/v1/link-sign", link_id), 32)
//
// Before running Argon2id it refuses parameters that fail Check (wrapping
// ErrWeakKDF or ErrKDFTooCostly), a salt that is not SaltSize bytes, a
// secret or ID of the wrong length, and a password that is not UTF-8 or
// is longer than MaxLinkPasswordLen bytes after NFC (no owner record could
// hold it). Errors never contain the secret or the password.
func DeriveLinkKeys(secret []byte, password string, id, salt []byte, kdf KDFParams) (*LinkKeys, error) {
	if len(secret) != LinkSecretSize {
		return nil, fmt.Errorf("coffer/crypto: derive link keys: secret is %d bytes, want %d", len(secret), LinkSecretSize)
	}
	if err := checkID("link ID", id); err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive link keys: %w", err)
	}
	pwd, err := linkPassword(password)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive link keys: %w", err)
	}
	in := make([]byte, 0, len(secret)+len(pwd))
	in = append(append(in, secret...), pwd...)
	defer clear(in)
	pw, err := stretch(in, salt, kdf)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: derive link keys: %w", err)
	}
	defer clear(pw)
	return linkKeysFromPW(pw, id)
}

// linkPassword returns NFC(password) after checking that it is UTF-8 and
// at most MaxLinkPasswordLen bytes long. Its errors never contain it.
func linkPassword(password string) (string, error) {
	if !utf8.ValidString(password) {
		return "", errors.New("password is not valid UTF-8")
	}
	p := norm.NFC.String(password)
	if len(p) > MaxLinkPasswordLen {
		return "", fmt.Errorf("password is %d bytes after NFC, limit %d", len(p), MaxLinkPasswordLen)
	}
	return p, nil
}

// linkKeysFromPW is DeriveLinkKeys after Argon2id: the three HKDF outputs
// of pw, each bound to the link ID.
func linkKeysFromPW(pw, id []byte) (*LinkKeys, error) {
	var out [3][32]byte
	for i, label := range []string{labelLinkSRPX, labelLinkKey, labelLinkSign} {
		k, err := hkdf32(pw, label, string(id))
		if err != nil {
			for j := range out {
				clear(out[j][:])
			}
			return nil, fmt.Errorf("coffer/crypto: derive link keys: %w", err)
		}
		out[i] = k
	}
	defer clear(out[2][:])
	return &LinkKeys{
		SRPX: out[0][:],
		Key:  out[1],
		id:   bytes.Clone(id),
		sign: ed25519.NewKeyFromSeed(out[2][:]),
	}, nil
}

func (k *LinkKeys) usable() bool {
	return k != nil && len(k.SRPX) == 32 && len(k.id) == LinkIDSize && len(k.sign) == ed25519.PrivateKeySize
}

// ID returns the link ID the keys are bound to.
func (k *LinkKeys) ID() []byte {
	if k == nil {
		return nil
	}
	return bytes.Clone(k.id)
}

// Verifier returns the link's SRP verifier v = g^x mod N in the group of
// docs/crypto.md section 4, padded to 384 bytes: all the owner's client
// sends of the secret and password when it makes the link.
func (k *LinkKeys) Verifier() []byte {
	if !k.usable() {
		return nil
	}
	return srp.Group3072().Verifier(k.SRPX)
}

// SignPublic returns the Ed25519 public key of sign_seed, which the
// owner's client keeps in its owner record to verify the link's uploads;
// nil if k holds no keys.
func (k *LinkKeys) SignPublic() ed25519.PublicKey {
	if !k.usable() {
		return nil
	}
	pub, _ := k.sign.Public().(ed25519.PublicKey)
	return pub
}

// Wipe overwrites the keys with zeros; best effort, as for PasswordKeys.
// The keys are unusable afterwards.
func (k *LinkKeys) Wipe() {
	if k == nil {
		return
	}
	clear(k.SRPX)
	clear(k.Key[:])
	clear(k.sign)
	k.sign = nil
}

// signAs signs msg with the link's Ed25519 key, for a record whose author
// must be the link's.
func (k *LinkKeys) signAs(author string, msg []byte) ([]byte, error) {
	if !k.usable() {
		return nil, errors.New("no link keys")
	}
	if author != LinkAuthor(k.id) {
		return nil, errors.New("author is not the link's (LinkAuthor of its ID)")
	}
	return ed25519.Sign(k.sign, msg), nil
}

// SignLink signs r as an anonymous upload through a link, as Sign does
// with an account's identity key: Ed25519-Sign(the link's key,
// tagged("coffer/v1/node-record", Marshal())). r must be an inbox drop
// (IsDrop) whose Author is LinkAuthor of the link's ID. The owner verifies
// it with Verify under the SignPublic it keeps in its owner record.
func (r *NodeRecord) SignLink(k *LinkKeys) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign node record: %w", err)
	}
	if !r.IsDrop() {
		return nil, fmt.Errorf("coffer/crypto: sign node record %x with a link key: not an inbox drop", r.Node)
	}
	sig, err := k.signAs(r.Author, tagged(labelNodeRecord, r.encode()))
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign node record %x with a link key: %w", r.Node, err)
	}
	return sig, nil
}

// SignLink signs a revision of an anonymous upload through a link, as
// Sign does with an account's identity key. r.Author must be LinkAuthor
// of the link's ID.
func (r *RevisionRecord) SignLink(k *LinkKeys) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign revision record: %w", err)
	}
	sig, err := k.signAs(r.Author, tagged(labelRevision, r.encode()))
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: sign revision %x with a link key: %w", r.Revision, err)
	}
	return sig, nil
}

// linkFields returns LP(link_id) || LP(volume) || LP(node) || u8(kind),
// the AD fields of a link's payload and owner record.
func linkFields(id, volume, node []byte, kind byte) ([]byte, error) {
	for _, f := range [...]struct {
		what string
		id   []byte
	}{{"link ID", id}, {"volume ID", volume}, {"node ID", node}} {
		if err := checkID(f.what, f.id); err != nil {
			return nil, err
		}
	}
	if kind != LinkRead && kind != LinkUpload {
		return nil, fmt.Errorf("unknown link kind %d", kind)
	}
	return append(idFields(id, volume, node), kind), nil
}

// LinkPayload is what a link gives, sealed under its link_key
// (SealLinkPayload) and released by the server only after a correct SRP
// proof. Everything a recipient trusts comes from it.
type LinkPayload struct {
	// Kind is LinkRead or LinkUpload.
	Kind byte
	// Owner is the owner's account name (1 to MaxAuthorLen bytes).
	Owner string
	// OwnerIdentity is the owner's Ed25519 identity key: every record
	// under a read link must verify under it.
	OwnerIdentity VerifyKey
	// MinVersion is the linked node record's version when the link was
	// made; a read-link client refuses an older record.
	MinVersion uint64
	// NodeKey is the linked node's key for a read link; zero (absent) for
	// an upload link.
	NodeKey NodeKey
	// InboxPublic is the link's X-Wing inbox public key
	// (EncryptionPublicKeySize bytes) for an upload link; empty for a read
	// link.
	InboxPublic []byte
	// Name is the linked node's name, NFC.
	Name string
}

// linkPayloadPlain returns the payload plaintext of the fields as given,
// without checking them: 0x01 || u8(kind) || LP(owner) || identity ||
// u64(min_version) || LP(node_key) || LP(inbox_public) || padded name.
func linkPayloadPlain(kind byte, owner string, identity []byte, minVersion uint64, nodeKey, inbox, paddedName []byte) []byte {
	b := make([]byte, 0, 2+4+len(owner)+len(identity)+8+4+len(nodeKey)+4+len(inbox)+len(paddedName))
	b = append(b, linkPayloadVersion, kind)
	b = appendLP(b, []byte(owner))
	b = append(b, identity...)
	b = binary.BigEndian.AppendUint64(b, minVersion)
	b = appendLP(b, nodeKey)
	b = appendLP(b, inbox)
	return append(b, paddedName...)
}

// checkInboxPublic reports an inbox public key that is not an X-Wing
// public key.
func checkInboxPublic(pub []byte) error {
	if len(pub) != EncryptionPublicKeySize {
		return fmt.Errorf("inbox public key is %d bytes, want %d", len(pub), EncryptionPublicKeySize)
	}
	if _, err := kem().NewPublicKey(pub); err != nil {
		return errors.New("inbox public key does not parse as X-Wing")
	}
	return nil
}

// plain checks p as OpenLinkPayload would and returns its plaintext. The
// name is normalised (and refused as SealName refuses it).
func (p *LinkPayload) plain() ([]byte, error) {
	if len(p.Owner) == 0 || len(p.Owner) > MaxAuthorLen || !utf8.ValidString(p.Owner) {
		return nil, fmt.Errorf("owner name is %d bytes, want 1 to %d of UTF-8", len(p.Owner), MaxAuthorLen)
	}
	if err := CheckEd25519PublicKey(p.OwnerIdentity.pub); err != nil {
		return nil, fmt.Errorf("owner identity key: %w", err)
	}
	var nodeKey []byte
	switch p.Kind {
	case LinkRead:
		if p.NodeKey == (NodeKey{}) {
			return nil, errors.New("a read link needs the node key (it is all zeros)")
		}
		if len(p.InboxPublic) != 0 {
			return nil, errors.New("a read link has no inbox key")
		}
		nodeKey = p.NodeKey[:]
	case LinkUpload:
		if p.NodeKey != (NodeKey{}) {
			return nil, errors.New("an upload link carries no node key")
		}
		if err := checkInboxPublic(p.InboxPublic); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown link kind %d", p.Kind)
	}
	name, err := NormalizeName(p.Name)
	if err != nil {
		return nil, err
	}
	return linkPayloadPlain(p.Kind, p.Owner, p.OwnerIdentity.pub, p.MinVersion, nodeKey, p.InboxPublic, namePlaintext(name)), nil
}

// parseLinkPayload parses and checks a payload plaintext for a link of
// the given kind; every failure is false.
func parseLinkPayload(pt []byte, kind byte) (*LinkPayload, bool) {
	r := reader{pt}
	v, ok1 := r.uint8()
	k, ok2 := r.uint8()
	owner, ok3 := r.lp()
	identity, ok4 := r.bytes(ed25519.PublicKeySize)
	minVersion, ok5 := r.uint64()
	nodeKey, ok6 := r.lp()
	inbox, ok7 := r.lp()
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || v != linkPayloadVersion || k != kind {
		return nil, false
	}
	// UTF-8, as the browser requires too: both show the same owner.
	if len(owner) == 0 || len(owner) > MaxAuthorLen || !utf8.Valid(owner) {
		return nil, false
	}
	vk, err := NewVerifyKey(identity)
	if err != nil {
		return nil, false
	}
	p := &LinkPayload{Kind: k, Owner: string(owner), OwnerIdentity: vk, MinVersion: minVersion}
	switch kind {
	case LinkRead:
		if len(nodeKey) != len(p.NodeKey) || len(inbox) != 0 {
			return nil, false
		}
		p.NodeKey = NodeKey(nodeKey)
		if p.NodeKey == (NodeKey{}) {
			return nil, false
		}
	case LinkUpload:
		if len(nodeKey) != 0 || checkInboxPublic(inbox) != nil {
			return nil, false
		}
		p.InboxPublic = bytes.Clone(inbox)
	default:
		return nil, false
	}
	// parseNamePlaintext requires the exact padded length, so nothing may
	// follow the name.
	if p.Name, err = parseNamePlaintext(r.b); err != nil {
		clear(p.NodeKey[:])
		return nil, false
	}
	return p, true
}

// SealLinkPayload seals p under the link's key k for the link id (which
// must be k's), the linked node (volume, node) and p.Kind, in an envelope
// (docs/crypto.md section 6.1) with AD = tagged("coffer/v1/link-payload",
// LP(link_id) || LP(volume) || LP(node) || u8(kind)). It refuses what
// OpenLinkPayload would refuse: an owner name of 0 or more than
// MaxAuthorLen bytes, an owner identity key that fails the Ed25519 key
// check, a read payload without a node key or with an inbox key, an
// upload payload with a node key or without an X-Wing inbox key, and a
// name that NormalizeName refuses (the name is sealed in NFC).
func SealLinkPayload(k *LinkKeys, id, volume, node []byte, p *LinkPayload) ([]byte, error) {
	return sealLinkPayload(k, id, volume, node, p, nil)
}

// sealLinkPayload is SealLinkPayload with a fixed nonce for the vectors
// (nil: random).
func sealLinkPayload(k *LinkKeys, id, volume, node []byte, p *LinkPayload, nonce *[nonceSize]byte) ([]byte, error) {
	if p == nil {
		return nil, errors.New("coffer/crypto: seal link payload: nil payload")
	}
	if !k.usable() || !bytes.Equal(k.id, id) {
		return nil, errors.New("coffer/crypto: seal link payload: the keys are not this link's")
	}
	fields, err := linkFields(id, volume, node, p.Kind)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal link payload: %w", err)
	}
	pt, err := p.plain()
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal link payload of node %x: %w", node, err)
	}
	defer clear(pt)
	return sealLinkEnvelope(&k.Key, nonce, labelLinkPayload, fields, pt)
}

// sealLinkEnvelope seals a link's payload or owner record.
func sealLinkEnvelope(key *[32]byte, nonce *[nonceSize]byte, label string, fields, pt []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, nonce, label, fields, pt)
}

// OpenLinkPayload opens a payload sealed by SealLinkPayload under the
// link's keys k, for the link id of the URL (k's) and the volume, node and
// kind the server names, and checks it (docs/crypto.md section 13.13):
// version 0x01, the kind equal to the AD's, an owner name of 1 to
// MaxAuthorLen bytes, an owner identity key that passes the Ed25519 key
// check, for a read link a node key that is not all zeros and no inbox
// key, for an upload link no node key and an inbox key that parses as
// X-Wing, a canonical padded name, and nothing after it. Every failure
// wraps ErrDecrypt and says no more (an unknown envelope version byte also
// wraps ErrUnsupportedVersion), so that errors are no oracle.
func OpenLinkPayload(k *LinkKeys, id, volume, node []byte, kind byte, sealed []byte) (*LinkPayload, error) {
	fields, err := linkFields(id, volume, node, kind)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open link payload: %w: %w", ErrDecrypt, err)
	}
	if k == nil || !bytes.Equal(k.id, id) {
		return nil, fmt.Errorf("coffer/crypto: open link payload: %w", ErrDecrypt)
	}
	pt, err := openEnvelope(&k.Key, labelLinkPayload, fields, sealed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open link payload: %w", err)
	}
	defer clear(pt)
	p, ok := parseLinkPayload(pt, kind)
	if !ok {
		return nil, fmt.Errorf("coffer/crypto: open link payload: %w", ErrDecrypt)
	}
	return p, nil
}

// SelfKey returns the key of records that only the account keys' owner
// reads (such as a link's owner record):
//
//	self_key = HKDF(encryption_seed, tagged("coffer/v1/self-key", user), 32)
//
// with user the account's name (1 to MaxAuthorLen bytes), the last field
// as in docs/crypto.md section 3. It survives password changes and
// recovery, which re-seal the seeds without changing them.
func SelfKey(keys *AccountKeys, user string) ([32]byte, error) {
	if !keys.usable() {
		return [32]byte{}, errors.New("coffer/crypto: self key: no account keys")
	}
	if err := checkAuthor(user); err != nil {
		return [32]byte{}, fmt.Errorf("coffer/crypto: self key: %w", err)
	}
	k, err := hkdf32(keys.encryptionSeed[:], labelSelfKey, user)
	if err != nil {
		return [32]byte{}, fmt.Errorf("coffer/crypto: self key: %w", err)
	}
	return k, nil
}

// LinkOwnerRecord is what the owner's client keeps of a link it made,
// sealed under its SelfKey (SealLinkOwnerRecord), so that it can list its
// links, show their URLs again and accept their uploads.
type LinkOwnerRecord struct {
	// Secret is the link secret (LinkSecretSize bytes), from which
	// FormatLinkURL rebuilds the URL.
	Secret []byte
	// Password is the link password in NFC, "" for none.
	Password string
	// SignPublic is the Ed25519 public key of the link's sign_seed
	// (LinkKeys.SignPublic) for an upload link, under which its drops
	// must verify; empty for a read link.
	SignPublic []byte
	// InboxSeed is the 32-byte seed of the link's inbox key (InboxKey.Seed)
	// for an upload link, which opens its drops; empty for a read link.
	InboxSeed []byte
}

// linkOwnerPlain returns the owner record plaintext of the fields as
// given, without checking them: 0x01 || secret || LP(password) ||
// LP(sign_public) || LP(inbox_seed).
func linkOwnerPlain(secret []byte, password string, signPublic, inboxSeed []byte) []byte {
	b := make([]byte, 0, 1+len(secret)+4+len(password)+4+len(signPublic)+4+len(inboxSeed))
	b = append(b, linkOwnerVersion)
	b = append(b, secret...)
	b = appendLP(b, []byte(password))
	b = appendLP(b, signPublic)
	return appendLP(b, inboxSeed)
}

// checkLinkOwnerKeys checks the kind-dependent fields of an owner record.
func checkLinkOwnerKeys(kind byte, signPublic, inboxSeed []byte) error {
	if kind == LinkRead {
		if len(signPublic) != 0 || len(inboxSeed) != 0 {
			return errors.New("a read link's owner record has no signing key and no inbox seed")
		}
		return nil
	}
	if err := CheckEd25519PublicKey(signPublic); err != nil {
		return fmt.Errorf("signing public key: %w", err)
	}
	if len(inboxSeed) != SeedSize {
		return fmt.Errorf("inbox seed is %d bytes, want %d", len(inboxSeed), SeedSize)
	}
	return nil
}

// SealLinkOwnerRecord seals rec under the owner's self key (SelfKey) for
// the link id, the linked node (volume, node) and the link's kind, in an
// envelope with AD = tagged("coffer/v1/link-owner", LP(link_id) ||
// LP(volume) || LP(node) || u8(kind)). It refuses what
// OpenLinkOwnerRecord would refuse: a secret that is not LinkSecretSize
// bytes, a password that is not UTF-8 or is longer than
// MaxLinkPasswordLen bytes after NFC (it is sealed in NFC), for a read
// link a signing key or inbox seed, and for an upload link a signing key
// that fails the Ed25519 key check or an inbox seed that is not 32 bytes.
func SealLinkOwnerRecord(selfKey [32]byte, id, volume, node []byte, kind byte, rec *LinkOwnerRecord) ([]byte, error) {
	return sealLinkOwnerRecord(&selfKey, id, volume, node, kind, rec, nil)
}

func sealLinkOwnerRecord(selfKey *[32]byte, id, volume, node []byte, kind byte, rec *LinkOwnerRecord, nonce *[nonceSize]byte) ([]byte, error) {
	if rec == nil {
		return nil, errors.New("coffer/crypto: seal link owner record: nil record")
	}
	fields, err := linkFields(id, volume, node, kind)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal link owner record: %w", err)
	}
	if len(rec.Secret) != LinkSecretSize {
		return nil, fmt.Errorf("coffer/crypto: seal link owner record: secret is %d bytes, want %d", len(rec.Secret), LinkSecretSize)
	}
	password, err := linkPassword(rec.Password)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal link owner record: %w", err)
	}
	if err := checkLinkOwnerKeys(kind, rec.SignPublic, rec.InboxSeed); err != nil {
		return nil, fmt.Errorf("coffer/crypto: seal link owner record: %w", err)
	}
	pt := linkOwnerPlain(rec.Secret, password, rec.SignPublic, rec.InboxSeed)
	defer clear(pt)
	return sealLinkEnvelope(selfKey, nonce, labelLinkOwner, fields, pt)
}

// OpenLinkOwnerRecord opens an owner record sealed by SealLinkOwnerRecord
// under the same self key, link ID, volume, node and kind, and checks it:
// version 0x01, a 32-byte secret, a password of at most
// MaxLinkPasswordLen bytes that is UTF-8 in NFC, for a read link no
// signing key and no inbox seed, for an upload link a 32-byte signing key
// that passes the Ed25519 key check and a 32-byte inbox seed, and nothing
// after. Every failure wraps ErrDecrypt and says no more.
func OpenLinkOwnerRecord(selfKey [32]byte, id, volume, node []byte, kind byte, sealed []byte) (*LinkOwnerRecord, error) {
	fields, err := linkFields(id, volume, node, kind)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open link owner record: %w: %w", ErrDecrypt, err)
	}
	pt, err := openEnvelope(&selfKey, labelLinkOwner, fields, sealed)
	if err != nil {
		return nil, fmt.Errorf("coffer/crypto: open link owner record: %w", err)
	}
	defer clear(pt)
	r := reader{pt}
	v, ok1 := r.uint8()
	secret, ok2 := r.bytes(LinkSecretSize)
	password, ok3 := r.lp()
	signPublic, ok4 := r.lp()
	inboxSeed, ok5 := r.lp()
	ok := ok1 && ok2 && ok3 && ok4 && ok5 && r.empty() && v == linkOwnerVersion &&
		len(password) <= MaxLinkPasswordLen && utf8.Valid(password) && norm.NFC.IsNormal(password) &&
		checkLinkOwnerKeys(kind, signPublic, inboxSeed) == nil
	if !ok {
		return nil, fmt.Errorf("coffer/crypto: open link owner record: %w", ErrDecrypt)
	}
	rec := &LinkOwnerRecord{Secret: bytes.Clone(secret), Password: string(password)}
	if kind == LinkUpload {
		rec.SignPublic, rec.InboxSeed = bytes.Clone(signPublic), bytes.Clone(inboxSeed)
	}
	return rec, nil
}

// InboxKey returns the inbox key of an upload link's owner record, which
// opens the link's drops (OpenInboxDrop).
func (rec *LinkOwnerRecord) InboxKey() (*InboxKey, error) {
	if rec == nil || len(rec.InboxSeed) != SeedSize {
		return nil, errors.New("coffer/crypto: link owner record: no inbox seed (not an upload link)")
	}
	return newInboxKey(rec.InboxSeed)
}

// Seed returns the 32-byte seed of the inbox key, for the owner record of
// an upload link (LinkOwnerRecord.InboxSeed); nil if k holds no key. The
// result is secret: whoever holds it reads what is dropped.
func (k *InboxKey) Seed() []byte {
	if !k.usable() {
		return nil
	}
	return bytes.Clone(k.seed[:])
}
