package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// vectorSealedRootKey is SealRootKey(alice's encryption public key,
// vectorID("volume"), vectorID("root"), vectorNodeKey("root")). HPKE
// encapsulation is randomized and crypto/hpke has no way to fix its
// randomness, so the ciphertext was made once and is kept here;
// newTreeFixture checks that it still opens to the expected key.
const vectorSealedRootKey = "" +
	"0138f099c601765de1fd70c72ae6f21fdf520699a459d1ae63de8b665c57b1d1bcd2773cf3ae5b40e27a7fc518492bd70c416b10a4dd416a587fa189a1b2ad8e" +
	"b99c7fc4c83b55b8e0366a1414ac8be0e849a82db1664e2612aa0a60adda9cf20c3d625c3161dc9c053b0f5b3a8a28aa46a07091076d1610d9f113c8ae61375c" +
	"cea463302dd8a4bcf44de1e53a007eaf422c17b1eb564f61598f97f41b35e76ce8b6fbf9b20b9c58ef84ec1a741521c771fac5bbe09c8c15f89e7e756d821f26" +
	"fe8461376e931a63c8ee0f45b6fdeba3f5da1a8948bb12e1f713b27f24658ed8a5d3bb1e11021168bd75129817bc0344bd5afae09108b7d9efccdccf222518db" +
	"88cadbc7c3f2e02326d0ed54f974c11b0c8123f8c36e3ab30eff8f3f2317adaf8bb4e542e47803b6d5d36316a675994615599f19c2692d8849d51360651d5f34" +
	"8bac94e89045a035b98be14a78a460d3496929d2c586286faaa47e94980e4ea183ce89447474d61ddd7a5ac6034d8f8ef1816f3b3f0dfe48acfafb6f1eb285fd" +
	"089695ce66c6c694d70d99f15a82702047ef4388b5ff750902a7049bada46695a24eaa344c18b6169f3482e0fef381d262d740bd821ccb51f70b2f31130e7106" +
	"4a9d06c17b4bc3baf16f8a3e8a79c17118bec69e9a6b585b02686f629fb2cec2c38a9bc21ba032a7e8517f8f6c1f6e311dccd7b361121afa0424a1120fca3b83" +
	"50ed465d8fa99b4134876ae69ffbe695ef21fb2b11df79ce4101bdefff570db76c8f8edbcb5b201c778f28351ea1ebc530d4a06515d3cd5cf2f2155cf56167d9" +
	"44b3e63473e779ffa72ed2fdd82dbbb3a7ff7345de735a8f50a3714cd7955da504c7760cdbc6da4384238266fbe4e23ab33c694d2af7d812ebe4c2afa34e3a4e" +
	"ce6da692591e3a03a711f2a2e9255653e9ac9653edfe6369dbedeaa564a854a9384b5353580e42a59a92e56d057d5890663a9fde0d2cd1b78c61c66b5b25519d" +
	"5940224f98226505da088d01c4f7138bf52d997e5ff7a5743266d8a8788bbfb926417873226a1113717a97d7b6e5a8d78a4e2162fbad4cb62a6f424b46c41b3e" +
	"d87fb484f5f8334a68a3e895696048fce091a1b0cba94bb37623a4262235e545d07ff4cbc2a7525c960e83a839cea004ddb90a93e99713fa4ea36438bee29bbe" +
	"9d9b4d52649d7b96435171a953a4c93412d201a591b434ecdd6e37f6d0472e7c7a2a304affcb250d1104e1bef11831b6eaab22764f356dae392449e70b01c02a" +
	"08212fdb53438bbb5f6bf84b92a03759f7a08cfdfa7e17ebfe6055f96856375593710a22e10f1475c9197fff9a5ea3ef2104445755fac76db72ccd0ec3720a85" +
	"4cf2fb2c82cf93c30e151d5393f70cc45010968fc6dbccc5a51ecc22d4d4a2568dfe7b2edd6548299f48cda64cf76428e7f185a7c232ac9663f7d8cb524b6377" +
	"8c62c05b126344eb815fbda42301d22d370e8c7cef2d1f1f55d66d1cbca949a8ba612fb4b0d54c728b0fedc5e3b10624671c319f12349278511364fe2075386c" +
	"c428245ed58f363dcfde72ac6dcf4175c16679c40cbc288630673ee89aa22501370a10c27c4a4af02e55f5242b275ca98d913c238019487210cc701b35cbce51" +
	"80b0c85ba8fadca004ee8f607167a42615"

// vectorID returns a fixed 16-byte ID for the vectors.
func vectorID(name string) []byte { return named("id " + name)[:IDSize] }

// vectorNodeKey returns a fixed node key for the vectors.
func vectorNodeKey(name string) NodeKey { return NodeKey(named("node key " + name)) }

// treeFixture is the small tree both tree.json and content.json describe:
//
//	root (alice's volume root, key sealed to alice)
//	├── Documents          folder
//	│   ├── report.pdf     file, revisions 1 and 2
//	│   └── notes.txt      file
//	└── Archive            folder (the destination of "moves")
type treeFixture struct {
	alice, bob                                 vectorAccount
	volume, root, docs, archive, file, sibling []byte
	rev1, rev2                                 []byte
	rootKey, docsKey, archiveKey, fileKey      NodeKey
	rootKeys, docsKeys, archiveKeys, fileKeys  *NodeKeys
	sealedRoot                                 []byte
}

func newTreeFixture() (*treeFixture, error) {
	accts, err := vectorAccounts()
	if err != nil {
		return nil, err
	}
	f := &treeFixture{
		alice: accts[0], bob: accts[1],
		volume: vectorID("volume"), root: vectorID("root"), docs: vectorID("documents"),
		archive: vectorID("archive"), file: vectorID("report"), sibling: vectorID("notes"),
		rev1: vectorID("revision 1"), rev2: vectorID("revision 2"),
		rootKey: vectorNodeKey("root"), docsKey: vectorNodeKey("documents"),
		archiveKey: vectorNodeKey("archive"), fileKey: vectorNodeKey("report"),
	}
	for _, d := range []struct {
		k   NodeKey
		dst **NodeKeys
	}{{f.rootKey, &f.rootKeys}, {f.docsKey, &f.docsKeys}, {f.archiveKey, &f.archiveKeys}, {f.fileKey, &f.fileKeys}} {
		if *d.dst, err = d.k.Derive(); err != nil {
			return nil, err
		}
	}
	if f.sealedRoot, err = hex.DecodeString(vectorSealedRootKey); err != nil {
		return nil, err
	}
	k, err := OpenRootKey(f.alice.keys, f.volume, f.root, f.sealedRoot)
	if err != nil || k != f.rootKey {
		return nil, fmt.Errorf("vectorSealedRootKey does not open to the root key: %v", err)
	}
	return f, nil
}

// records returns the fixture's node records (unsigned): the root,
// Documents and report.pdf, whose head is revision 2 of content.json.
func (f *treeFixture) records() ([]*NodeRecord, error) {
	content, err := f.content()
	if err != nil {
		return nil, err
	}
	head := content.recs[1]
	if !bytes.Equal(head.Revision, f.rev2) || head.Seq != 2 {
		return nil, errors.New("report.pdf's head is not revision 2")
	}
	docsRef := NodeRef{f.volume, f.root, f.docs}
	fileRef := NodeRef{f.volume, f.docs, f.file}
	docsKey, err := wrapNodeKey(f.rootKeys, docsRef, f.docsKey, nonce12(0x30))
	if err != nil {
		return nil, err
	}
	fileKey, err := wrapNodeKey(f.docsKeys, fileRef, f.fileKey, nonce12(0x40))
	if err != nil {
		return nil, err
	}
	docsName, err := sealName(f.rootKeys, docsRef, "Documents", nonce12(0x50))
	if err != nil {
		return nil, err
	}
	fileName, err := sealName(f.docsKeys, fileRef, "report.pdf", nonce12(0x60))
	if err != nil {
		return nil, err
	}
	return []*NodeRecord{
		{Volume: f.volume, Node: f.root, Kind: KindFolder, SealedKey: f.sealedRoot, Author: "alice", Version: 1},
		{Volume: f.volume, Node: f.docs, Parent: f.root, Kind: KindFolder, NameHash: NameHash(f.rootKeys, "Documents"),
			SealedName: docsName, SealedKey: docsKey, Author: "alice", Version: 1},
		{Volume: f.volume, Node: f.file, Parent: f.docs, Kind: KindFile, NameHash: NameHash(f.docsKeys, "report.pdf"),
			SealedName: fileName, SealedKey: fileKey, Author: "alice", Version: 2,
			Revision: head.Revision, RevisionSeq: head.Seq, RevisionDigest: head.Digest()},
	}, nil
}

// subKeys returns the four HKDF outputs of a node key, for the vectors.
func subKeys(k NodeKey) (obj, error) {
	o := obj{{"node_key_hex", h(k[:])}}
	for _, l := range []struct{ field, label string }{
		{"node_key_wrap_hex", labelNodeKeyWrap},
		{"name_key_hex", labelNameKey},
		{"name_hash_key_hex", labelNameHashKey},
		{"content_key_wrap_hex", labelContentKeyWrap},
	} {
		sk, err := hkdf32(k[:], l.label, "")
		if err != nil {
			return nil, err
		}
		o = append(o, kv{l.field, h(sk[:])})
	}
	return o, nil
}

// sealRaw seals arbitrary plaintext under aead with the given label and
// fields: the vectors use it to make objects that authenticate but hold a
// malformed plaintext, which only a key holder could produce.
func sealRaw(aead interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
}, nonce *[nonceSize]byte, label string, fields, pt []byte) []byte {
	out := append([]byte{envelopeVersion}, nonce[:]...)
	return aead.Seal(out, nonce[:], pt, envelopeAD(label, fields))
}

// recordObj returns a node record's fields; key_history_hex only for a
// record that has one, so that records without (every record of tree.json
// and share.json) are written as before key rotation existed.
func recordObj(r *NodeRecord) obj {
	o := obj{
		{"volume_hex", h(r.Volume)},
		{"node_hex", h(r.Node)},
		{"parent_hex", h(r.Parent)},
		{"kind", int(r.Kind)},
		{"name_hash_hex", h(r.NameHash[:])},
		{"sealed_name_hex", h(r.SealedName)},
		{"sealed_key_hex", h(r.SealedKey)},
		{"author", r.Author},
		{"version", r.Version},
		{"revision_hex", h(r.Revision)},
		{"revision_seq", r.RevisionSeq},
		{"revision_digest_hex", h(r.RevisionDigest[:])},
	}
	if len(r.KeyHistory) != 0 {
		o = append(o, kv{"key_history_hex", h(r.KeyHistory)})
	}
	return o
}

func treeVectors() (obj, error) {
	f, err := newTreeFixture()
	if err != nil {
		return nil, err
	}
	alice, bob := f.alice, f.bob

	// Sub-key derivation.
	var keyCases []obj
	for _, k := range []NodeKey{f.rootKey, f.docsKey, f.fileKey} {
		o, err := subKeys(k)
		if err != nil {
			return nil, err
		}
		keyCases = append(keyCases, o)
	}

	// Wrapped node keys.
	type wrapIn struct {
		parentKey NodeKey
		parent    *NodeKeys
		ref       NodeRef
		child     NodeKey
		nonce     *[nonceSize]byte
	}
	wrapIns := []wrapIn{
		{f.rootKey, f.rootKeys, NodeRef{f.volume, f.root, f.docs}, f.docsKey, nonce12(0x30)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, f.file}, f.fileKey, nonce12(0x40)},
	}
	var wrapCases []obj
	var wrapped [][]byte
	for _, in := range wrapIns {
		s, err := wrapNodeKey(in.parent, in.ref, in.child, in.nonce)
		if err != nil {
			return nil, err
		}
		wrapped = append(wrapped, s)
		wrapCases = append(wrapCases, obj{
			{"parent_node_key_hex", h(in.parentKey[:])},
			{"volume_hex", h(in.ref.Volume)},
			{"parent_hex", h(in.ref.Parent)},
			{"node_hex", h(in.ref.Node)},
			{"nonce_hex", h(in.nonce[:])},
			{"child_node_key_hex", h(in.child[:])},
			{"ad_hex", h(envelopeAD(labelNodeKey, in.ref.fields()))},
			{"sealed_hex", h(s)},
		})
	}
	sf := wrapped[1]
	// A key the server made itself and wrapped under a parent key it chose.
	serverKeys, err := vectorNodeKey("server-chosen").Derive()
	if err != nil {
		return nil, err
	}
	invented, err := wrapNodeKey(serverKeys, NodeRef{f.volume, f.docs, f.file}, vectorNodeKey("server-made"), nonce12(0x48))
	if err != nil {
		return nil, err
	}
	wfail := func(why string, pk NodeKey, vol, parent, node, s []byte) obj {
		return obj{{"why", why}, {"parent_node_key_hex", h(pk[:])}, {"volume_hex", h(vol)}, {"parent_hex", h(parent)},
			{"node_hex", h(node)}, {"sealed_hex", h(s)}}
	}
	wrapFails := []obj{
		wfail("moved to another folder: parent ID changed, same parent key", f.docsKey, f.volume, f.archive, f.file, sf),
		wfail("moved to another folder: opened with that folder's key and ID", f.archiveKey, f.volume, f.archive, f.file, sf),
		wfail("swapped with a sibling: node ID changed", f.docsKey, f.volume, f.docs, f.sibling, sf),
		wfail("other volume", f.docsKey, vectorID("other volume"), f.docs, f.file, sf),
		wfail("key wrapped under another parent (Documents' key, wrapped under the root) served for report.pdf",
			f.docsKey, f.volume, f.docs, f.file, wrapped[0]),
		wfail("key made by the server and wrapped under a key it chose [10]", f.docsKey, f.volume, f.docs, f.file, invented),
		wfail("version byte 0x02", f.docsKey, f.volume, f.docs, f.file, flip(sf, 0, 0x03)),
		wfail("nonce bit flipped", f.docsKey, f.volume, f.docs, f.file, flip(sf, 1, 0x01)),
		wfail("ciphertext bit flipped", f.docsKey, f.volume, f.docs, f.file, flip(sf, 20, 0x10)),
		wfail("tag bit flipped", f.docsKey, f.volume, f.docs, f.file, flip(sf, len(sf)-1, 0x80)),
		wfail("truncated by one byte", f.docsKey, f.volume, f.docs, f.file, sf[:len(sf)-1]),
		wfail("one byte appended", f.docsKey, f.volume, f.docs, f.file, append(bytes.Clone(sf), 0)),
		wfail("empty (missing key)", f.docsKey, f.volume, f.docs, f.file, nil),
	}

	// Root key.
	info, err := rootKeyInfo(f.volume, f.root)
	if err != nil {
		return nil, err
	}
	rootCases := []obj{{
		{"encryption_seed_hex", h(alice.xwSeed)},
		{"encryption_public_hex", h(alice.keys.EncryptionPublic())},
		{"volume_hex", h(f.volume)},
		{"node_hex", h(f.root)},
		{"info_hex", h(tagged(labelRootKey, info))},
		{"node_key_hex", h(f.rootKey[:])},
		{"sealed_hex", h(f.sealedRoot)},
	}}
	sr := f.sealedRoot
	rfail := func(why string, seed, vol, node, s []byte) obj {
		return obj{{"why", why}, {"encryption_seed_hex", h(seed)}, {"volume_hex", h(vol)}, {"node_hex", h(node)}, {"sealed_hex", h(s)}}
	}
	rootFails := []obj{
		rfail("sealed for another volume", alice.xwSeed, vectorID("other volume"), f.root, sr),
		rfail("sealed for another node", alice.xwSeed, f.volume, f.docs, sr),
		rfail("opened by another user (sealed to alice, opened with bob's key)", bob.xwSeed, f.volume, f.root, sr),
		rfail("version byte 0x02", alice.xwSeed, f.volume, f.root, flip(sr, 0, 0x03)),
		rfail("X-Wing ciphertext bit flipped", alice.xwSeed, f.volume, f.root, flip(sr, 10, 0x01)),
		rfail("X25519 ephemeral key bit flipped", alice.xwSeed, f.volume, f.root, flip(sr, 1+1100, 0x01)),
		rfail("AEAD ciphertext bit flipped", alice.xwSeed, f.volume, f.root, flip(sr, 1+xwingEncSize+3, 0x01)),
		rfail("tag bit flipped", alice.xwSeed, f.volume, f.root, flip(sr, len(sr)-1, 0x01)),
		rfail("truncated by one byte", alice.xwSeed, f.volume, f.root, sr[:len(sr)-1]),
		rfail("one byte appended", alice.xwSeed, f.volume, f.root, append(bytes.Clone(sr), 0)),
	}

	// Name normalization.
	type normIn struct{ name, why string }
	normOK := []normIn{
		{"Documents", "ASCII"},
		{"report.pdf", "ASCII with a dot"},
		{"cafe\u0301", "decomposed e + U+0301 composes to U+00E9"},
		{"caf\u00e9", "already NFC"},
		{"\u212b", "ANGSTROM SIGN is replaced by its canonical equivalent U+00C5"},
		{"\u1112\u1161\u11ab", "conjoining Hangul jamo compose to U+D55C"},
		{"...", "three dots is a name"},
		{".hidden", "a leading dot is a name"},
		{" spaced out ", "spaces are kept"},
		{"back\\slash:colon*", "characters Windows forbids are allowed; only '/' separates"},
		{"a\u007fb", "DEL (U+007F) is not a C0 control character"},
		{"\U0001F512 vault", "outside the BMP"},
		{strings.Repeat("a", 255), "exactly 255 bytes"},
		{strings.Repeat("e\u0301", 100), "300 bytes as typed, 200 after NFC"},
	}
	var normCases []obj
	for _, in := range normOK {
		n, err := NormalizeName(in.name)
		if err != nil {
			return nil, fmt.Errorf("NormalizeName %q: %w", in.why, err)
		}
		normCases = append(normCases, obj{{"why", in.why}, {"name", in.name}, {"name_hex", h([]byte(in.name))}, {"nfc_hex", h([]byte(n))}})
	}
	normBad := []normIn{
		{"", "empty"},
		{".", "\".\" is reserved"},
		{"..", "\"..\" is reserved"},
		{"a/b", "contains '/'"},
		{"/", "only '/'"},
		{"a\x00b", "contains NUL"},
		{"\x01", "C0 control U+0001"},
		{"tab\there", "C0 control U+0009 (tab)"},
		{"new\nline", "C0 control U+000A (line feed)"},
		{"end\x1f", "C0 control U+001F"},
		{"\xff", "invalid UTF-8: byte 0xFF"},
		{"caf\xc3", "invalid UTF-8: truncated sequence"},
		{"\xc0\xaf", "invalid UTF-8: overlong encoding of '/'"},
		{"\xed\xa0\x80", "invalid UTF-8: surrogate U+D800"},
		{strings.Repeat("a", 256), "256 bytes"},
		{strings.Repeat("\u0958", 85), "255 bytes as typed, 510 after NFC (U+0958 decomposes and is excluded from composition)"},
	}
	var normFails []obj
	for _, in := range normBad {
		if _, err := NormalizeName(in.name); !errors.Is(err, ErrBadName) {
			return nil, fmt.Errorf("NormalizeName accepted %q", in.why)
		}
		normFails = append(normFails, obj{{"why", in.why}, {"name_hex", h([]byte(in.name))}})
	}

	// Sealed names.
	type nameIn struct {
		parentKey NodeKey
		parent    *NodeKeys
		ref       NodeRef
		name      string
		nonce     *[nonceSize]byte
	}
	nameIns := []nameIn{
		{f.rootKey, f.rootKeys, NodeRef{f.volume, f.root, f.docs}, "Documents", nonce12(0x50)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, f.file}, "report.pdf", nonce12(0x60)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, f.sibling}, "notes.txt", nonce12(0x70)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, vectorID("name 30")}, strings.Repeat("x", 30), nonce12(0x80)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, vectorID("name 31")}, strings.Repeat("x", 31), nonce12(0x90)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, vectorID("name nfc")}, "Cafe\u0301 menu.txt", nonce12(0xa0)},
		{f.docsKey, f.docsKeys, NodeRef{f.volume, f.docs, vectorID("name 255")}, strings.Repeat("z", 255), nonce12(0xb0)},
	}
	var nameCases []obj
	var sealedNames [][]byte
	for _, in := range nameIns {
		s, err := sealName(in.parent, in.ref, in.name, in.nonce)
		if err != nil {
			return nil, err
		}
		n, err := NormalizeName(in.name)
		if err != nil {
			return nil, err
		}
		sealedNames = append(sealedNames, s)
		nameCases = append(nameCases, obj{
			{"parent_node_key_hex", h(in.parentKey[:])},
			{"volume_hex", h(in.ref.Volume)},
			{"parent_hex", h(in.ref.Parent)},
			{"node_hex", h(in.ref.Node)},
			{"name", in.name},
			{"nfc_hex", h([]byte(n))},
			{"nonce_hex", h(in.nonce[:])},
			{"plaintext_hex", h(namePlaintext(n))},
			{"ad_hex", h(envelopeAD(labelNodeName, in.ref.fields()))},
			{"sealed_hex", h(s)},
		})
	}
	sn := sealedNames[1]
	fileRef := NodeRef{f.volume, f.docs, f.file}
	// Validly sealed plaintexts that are not canonical names.
	rawName := func(pt []byte, start byte) []byte {
		return sealRaw(f.docsKeys.name, nonce12(start), labelNodeName, fileRef.fields(), pt)
	}
	lenPad := func(n int, body string, total int) []byte {
		pt := make([]byte, total)
		binary.BigEndian.PutUint16(pt, uint16(n))
		copy(pt[2:], body)
		return pt
	}
	nonZeroPad := namePlaintext("report.pdf")
	nonZeroPad[31] = 1
	nfail := func(why string, pk NodeKey, vol, parent, node, s []byte) obj {
		return obj{{"why", why}, {"parent_node_key_hex", h(pk[:])}, {"volume_hex", h(vol)}, {"parent_hex", h(parent)},
			{"node_hex", h(node)}, {"sealed_hex", h(s)}}
	}
	dk := f.docsKey
	nameFails := []obj{
		nfail("moved to another folder: parent ID changed, same parent key [7]", dk, f.volume, f.archive, f.file, sn),
		nfail("moved to another folder: opened with that folder's key and ID [7]", f.archiveKey, f.volume, f.archive, f.file, sn),
		nfail("swapped with a sibling: node ID changed [7]", dk, f.volume, f.docs, f.sibling, sn),
		nfail("renamed by the server: the sibling's sealed name served for report.pdf [7]", dk, f.volume, f.docs, f.file, sealedNames[2]),
		nfail("other volume", dk, vectorID("other volume"), f.docs, f.file, sn),
		nfail("version byte 0x02", dk, f.volume, f.docs, f.file, flip(sn, 0, 0x03)),
		nfail("nonce bit flipped", dk, f.volume, f.docs, f.file, flip(sn, 5, 0x01)),
		nfail("ciphertext bit flipped (length field)", dk, f.volume, f.docs, f.file, flip(sn, 14, 0x01)),
		nfail("tag bit flipped", dk, f.volume, f.docs, f.file, flip(sn, len(sn)-1, 0x01)),
		nfail("truncated by one byte", dk, f.volume, f.docs, f.file, sn[:len(sn)-1]),
		nfail("empty", dk, f.volume, f.docs, f.file, nil),
		nfail("validly sealed, non-zero padding", dk, f.volume, f.docs, f.file, rawName(nonZeroPad, 0xc0)),
		nfail("validly sealed, padded to 64 bytes where 32 suffice", dk, f.volume, f.docs, f.file, rawName(lenPad(10, "report.pdf", 64), 0xc1)),
		nfail("validly sealed, not padded (12 bytes)", dk, f.volume, f.docs, f.file, rawName(lenPad(10, "report.pdf", 12), 0xc2)),
		nfail("validly sealed, length field 40 in a 32-byte bucket", dk, f.volume, f.docs, f.file, rawName(lenPad(40, "report.pdf", 32), 0xc3)),
		nfail("validly sealed, empty name", dk, f.volume, f.docs, f.file, rawName(lenPad(0, "", 32), 0xc4)),
		nfail("validly sealed, name not in NFC (e + U+0301)", dk, f.volume, f.docs, f.file, rawName(namePlaintext("cafe\u0301"), 0xc5)),
		nfail("validly sealed, name \"..\"", dk, f.volume, f.docs, f.file, rawName(namePlaintext(".."), 0xc6)),
		nfail("validly sealed, name contains '/'", dk, f.volume, f.docs, f.file, rawName(namePlaintext("a/b"), 0xc7)),
		nfail("validly sealed, name contains U+000A", dk, f.volume, f.docs, f.file, rawName(namePlaintext("a\nb"), 0xc8)),
		nfail("validly sealed, 256-byte name", dk, f.volume, f.docs, f.file, rawName(namePlaintext(strings.Repeat("a", 256)), 0xc9)),
		nfail("validly sealed, invalid UTF-8", dk, f.volume, f.docs, f.file, rawName(namePlaintext("\xff"), 0xca)),
		nfail("validly sealed, empty plaintext", dk, f.volume, f.docs, f.file, rawName(nil, 0xcb)),
	}

	// Name hashes.
	type hashIn struct {
		parentKey NodeKey
		parent    *NodeKeys
		name      string
	}
	var hashCases []obj
	for _, in := range []hashIn{
		{f.docsKey, f.docsKeys, "report.pdf"},
		{f.archiveKey, f.archiveKeys, "report.pdf"},
		{f.docsKey, f.docsKeys, "caf\u00e9"},
		{f.docsKey, f.docsKeys, "cafe\u0301"},
		{f.rootKey, f.rootKeys, "Documents"},
	} {
		sum := NameHash(in.parent, in.name)
		hk, err := hkdf32(in.parentKey[:], labelNameHashKey, "")
		if err != nil {
			return nil, err
		}
		n, err := NormalizeName(in.name)
		if err != nil {
			return nil, err
		}
		hashCases = append(hashCases, obj{
			{"parent_node_key_hex", h(in.parentKey[:])},
			{"name_hash_key_hex", h(hk[:])},
			{"name", in.name},
			{"nfc_hex", h([]byte(n))},
			{"name_hash_hex", h(sum[:])},
		})
	}

	// Node records.
	recs, err := f.records()
	if err != nil {
		return nil, err
	}
	var recCases []obj
	var sigs [][]byte
	for _, r := range recs {
		sig, err := r.Sign(alice.keys)
		if err != nil {
			return nil, err
		}
		if err := r.Verify(alice.keys.IdentityPublic(), sig); err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
		o := recordObj(r)
		o = append(o,
			kv{"signer_identity_seed_hex", h(alice.idSeed)},
			kv{"author_public_hex", h(alice.keys.IdentityPublic())},
			kv{"marshaled_hex", h(r.Marshal())},
			kv{"signature_hex", h(sig)})
		recCases = append(recCases, o)
	}
	rootRec, fileRec, fileSig := recs[0], recs[2], sigs[2]
	content, err := f.content()
	if err != nil {
		return nil, err
	}
	rev1Digest := content.recs[0].Digest()
	alicePub := alice.keys.IdentityPublic()
	rfailRec := func(why string, r *NodeRecord, pub, sig []byte) obj {
		o := obj{{"why", why}}
		o = append(o, recordObj(r)...)
		return append(o, kv{"author_public_hex", h(pub)}, kv{"signature_hex", h(sig)})
	}
	edit := func(base *NodeRecord, fn func(r *NodeRecord)) *NodeRecord {
		c := *base
		fn(&c)
		return &c
	}
	// signRaw signs a record's encoding without validating it, to show that
	// a validly signed but malformed record is still refused.
	signRaw := func(r *NodeRecord) []byte {
		return ed25519.Sign(alice.keys.identity, tagged(labelNodeRecord, r.encode()))
	}
	bobSig, err := fileRec.Sign(bob.keys)
	if err != nil {
		return nil, err
	}
	identityPoint := append([]byte{1}, make([]byte, 31)...)
	if !ed25519.Verify(identityPoint, tagged(labelNodeRecord, fileRec.encode()), trivialSignature()) {
		return nil, errors.New("trivial signature does not verify under the identity point")
	}
	folderWithRev := edit(recs[1], func(r *NodeRecord) { r.Revision, r.RevisionSeq, r.RevisionDigest = f.rev1, 1, fileRec.RevisionDigest })
	folderWithDigest := edit(recs[1], func(r *NodeRecord) { r.RevisionDigest = fileRec.RevisionDigest })
	digestNoRev := edit(fileRec, func(r *NodeRecord) { r.Revision, r.RevisionSeq = nil, 0 })
	revNoDigest := edit(fileRec, func(r *NodeRecord) { r.RevisionDigest = [32]byte{} })
	shortNode := edit(fileRec, func(r *NodeRecord) { r.Node = r.Node[:15] })
	kind3 := edit(fileRec, func(r *NodeRecord) { r.Kind = 3 })
	version0 := edit(fileRec, func(r *NodeRecord) { r.Version = 0 })
	seqNoRev := edit(fileRec, func(r *NodeRecord) { r.Revision = nil })
	namedRoot := edit(rootRec, func(r *NodeRecord) { r.SealedName = recs[1].SealedName })
	fileRoot := edit(rootRec, func(r *NodeRecord) { r.Kind = KindFile })
	ownParent := edit(fileRec, func(r *NodeRecord) { r.Parent = r.Node })
	noAuthor := edit(fileRec, func(r *NodeRecord) { r.Author = "" })
	recFails := []obj{
		rfailRec("signed by bob, verified with alice's key (other user's key) [8]", fileRec, alicePub, bobSig),
		rfailRec("signed by alice, author key given as bob's [8]", fileRec, bob.keys.IdentityPublic(), fileSig),
		rfailRec("version lowered to 1 (rollback of a signed field) [13]", edit(fileRec, func(r *NodeRecord) { r.Version = 1 }), alicePub, fileSig),
		rfailRec("moved: parent changed to Archive [7][9]", edit(fileRec, func(r *NodeRecord) { r.Parent = f.archive }), alicePub, fileSig),
		rfailRec("kind changed to folder", edit(fileRec, func(r *NodeRecord) {
			r.Kind = KindFolder
			r.Revision, r.RevisionSeq, r.RevisionDigest = nil, 0, [32]byte{}
		}), alicePub, fileSig),
		rfailRec("name hash changed", edit(fileRec, func(r *NodeRecord) { r.NameHash[0] ^= 1 }), alicePub, fileSig),
		rfailRec("sealed name replaced (rename) [7]", edit(fileRec, func(r *NodeRecord) { r.SealedName = sealedNames[2] }), alicePub, fileSig),
		rfailRec("sealed key replaced [1]", edit(fileRec, func(r *NodeRecord) { r.SealedKey = flip(r.SealedKey, 20, 1) }), alicePub, fileSig),
		rfailRec("author name changed [8]", edit(fileRec, func(r *NodeRecord) { r.Author = "bob" }), alicePub, fileSig),
		rfailRec("head revision changed to revision 1 [13]",
			edit(fileRec, func(r *NodeRecord) { r.Revision, r.RevisionSeq, r.RevisionDigest = f.rev1, 1, rev1Digest }), alicePub, fileSig),
		rfailRec("revision sequence number changed", edit(fileRec, func(r *NodeRecord) { r.RevisionSeq = 3 }), alicePub, fileSig),
		rfailRec("revision digest changed (another head revision record bound in) [6][8][13]",
			edit(fileRec, func(r *NodeRecord) { r.RevisionDigest[0] ^= 1 }), alicePub, fileSig),
		rfailRec("volume changed", edit(fileRec, func(r *NodeRecord) { r.Volume = vectorID("other volume") }), alicePub, fileSig),
		rfailRec("root record's sealed key changed [1][10]",
			edit(rootRec, func(r *NodeRecord) { r.SealedKey = flip(r.SealedKey, 500, 0x01) }), alicePub, sigs[0]),
		rfailRec("signature bit flipped", fileRec, alicePub, flip(fileSig, 10, 0x01)),
		rfailRec("signature truncated", fileRec, alicePub, fileSig[:63]),
		rfailRec("signed without the domain label", fileRec, alicePub, ed25519.Sign(alice.keys.identity, fileRec.encode())),
		rfailRec("signed as a revision record (other label)", fileRec, alicePub, ed25519.Sign(alice.keys.identity, tagged(labelRevision, fileRec.encode()))),
		rfailRec("author key is the identity point (small order); R = identity, S = 0 verifies under it for every message",
			fileRec, identityPoint, trivialSignature()),
		rfailRec("validly signed, folder with a revision", folderWithRev, alicePub, signRaw(folderWithRev)),
		rfailRec("validly signed, folder with a non-zero revision digest", folderWithDigest, alicePub, signRaw(folderWithDigest)),
		rfailRec("validly signed, file without a revision but with a non-zero revision digest", digestNoRev, alicePub, signRaw(digestNoRev)),
		rfailRec("validly signed, file with a revision and an all-zero revision digest", revNoDigest, alicePub, signRaw(revNoDigest)),
		rfailRec("validly signed, 15-byte node ID", shortNode, alicePub, signRaw(shortNode)),
		rfailRec("validly signed, kind 3", kind3, alicePub, signRaw(kind3)),
		rfailRec("validly signed, version 0", version0, alicePub, signRaw(version0)),
		rfailRec("validly signed, revision sequence number without a revision ID", seqNoRev, alicePub, signRaw(seqNoRev)),
		rfailRec("validly signed, root with a sealed name", namedRoot, alicePub, signRaw(namedRoot)),
		rfailRec("validly signed, root that is a file", fileRoot, alicePub, signRaw(fileRoot)),
		rfailRec("validly signed, node is its own parent", ownParent, alicePub, signRaw(ownParent)),
		rfailRec("validly signed, empty author", noAuthor, alicePub, signRaw(noAuthor)),
	}

	return obj{
		{"description", "Coffer tree: node keys, wrapped child keys, root keys, names, name hashes and signed node records (docs/crypto.md section 11)."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"ids", "Volume, node and revision IDs are 16 random bytes. A root folder has an empty parent ID."},
			{"node_keys", "Each sub-key = HKDF(ikm=node_key, info=tagged(label, empty), 32) with label " +
				"\"coffer/v1/node-key-wrap\" (node_key_wrap), \"coffer/v1/name-key\" (name_key), " +
				"\"coffer/v1/name-hash-key\" (name_hash_key), \"coffer/v1/content-key-wrap\" (content_key_wrap)."},
			{"wrapped_node_key", "ad = tagged(\"coffer/v1/node-key\", LP(volume) || LP(parent) || LP(node)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=node_key_wrap of the parent's node key, nonce, plaintext=child node key (32), ad) = 61 bytes."},
			{"root_key", "info = tagged(\"coffer/v1/root-key\", LP(volume) || LP(node)); " +
				"sealed = 0x01 || HPKE base-mode single-shot Seal(recipient=owner's X-Wing public key, KEM 0x647a, KDF HKDF-SHA256 0x0001, " +
				"AEAD AES-256-GCM 0x0002, info, aad=empty, plaintext=root node key (32)) = 0x01 || enc (1120) || ciphertext (32) || tag (16) = 1169 bytes. " +
				"HPKE encapsulation is randomized: implementations must open these vectors, not reproduce them."},
			{"name_normalization", "name = NFC(input); refused if the input is not valid UTF-8 or contains '/', U+0000 or U+0001..U+001F, " +
				"or if NFC(input) is empty, \".\", \"..\", or longer than 255 bytes."},
			{"sealed_name", "plaintext = uint16_be(len(nfc)) || nfc || zero bytes up to the next multiple of 32 bytes (32..288); " +
				"ad = tagged(\"coffer/v1/node-name\", LP(volume) || LP(parent) || LP(node)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=name_key of the parent's node key, nonce, plaintext, ad). " +
				"Opening also requires: plaintext length = the next multiple of 32 of 2 + len, len <= 255, zero padding, " +
				"and a name that normalizes to itself."},
			{"name_hash", "name_hash = HMAC-SHA256(key=name_hash_key of the parent's node key, NFC(name))."},
			{"node_record", "marshaled = 0x01 || LP(volume) || LP(node) || LP(parent) || uint8(kind: 1 folder, 2 file) || name_hash (32) || " +
				"LP(sealed_name) || LP(sealed_key) || LP(author) || uint64_be(version) || LP(revision) || uint64_be(revision_seq) || " +
				"revision_digest (32); revision_digest is the head revision record's digest (content.json, revision_record), all zeros without a head; " +
				"signature = Ed25519-Sign(author identity key, tagged(\"coffer/v1/node-record\", marshaled)). " +
				"Rules: 16-byte volume and node; parent empty (root) or 16 bytes and not the node; kind 1 or 2; " +
				"a root is a folder with no sealed name, an all-zero name hash and a 1169-byte sealed key; " +
				"other nodes have a sealed name of 61 + 32k bytes (k = 0..8) and a 61-byte sealed key; author 1..255 bytes; version >= 1; " +
				"a folder has no revision, revision_seq 0 and an all-zero revision_digest; a file has a 16-byte revision, revision_seq >= 1 " +
				"and a revision_digest that is not all zeros, or none of the three. " +
				"The author key must pass the Ed25519 key check of docs/crypto.md section 9 (bundle.json)."},
		}},
		{"node_keys", keyCases},
		{"wrapped_node_key", obj{{"cases", wrapCases}, {"must_fail", wrapFails}}},
		{"root_key", obj{{"cases", rootCases}, {"must_fail", rootFails}}},
		{"name_normalization", obj{{"cases", normCases}, {"must_fail", normFails}}},
		{"sealed_name", obj{{"cases", nameCases}, {"must_fail", nameFails}}},
		{"name_hash", hashCases},
		{"node_record", obj{{"cases", recCases}, {"must_fail", recFails}}},
	}, nil
}
