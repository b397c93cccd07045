package crypto

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/coffer-drive/coffer/internal/srp"
)

// Public link vectors (link.json, docs/crypto.md section 13.13). They use
// the tree of tree.json: alice makes a read link to report.pdf and an
// upload link to Documents; an anonymous uploader drops a file into
// Documents through the upload link.

// vectorLinkDrop is SealInboxDrop(the upload link's inbox public key (the
// X-Wing key of named("link inbox seed")), NodeRef{volume, Documents,
// vectorID("link drop")}, vectorNodeKey("link drop"), "Invoice 2026-02.pdf").
// HPKE encapsulation is randomized, so it was sealed once and is kept
// here; newLinkVectorFixture checks that it still opens as described.
const vectorLinkDrop = "" +
	"0179d6d9f681ec21465ef531e94cd9ac8557fbb39577298a705ba44b21cdf37c0e87ecc2d533d59877930783bce4ca906154ce5aedc2e2c553ff4866a43d440a" +
	"049fde66a40a77c89d6919c70278152f220800bd894d4a3403362ce346d20b738d4fade920b3a4be94b3c362a7e6b6c5422d5a06405b190003c20fcddbeccf54" +
	"fcc05ce25391ebc76679b93735849115208f79ddb093a2c854867f3282c38e4e24a9188e7b1f42b74735a92e3e297dcf460496cd772889b4296aaf1653d06886" +
	"327bf3731fb4cd390cdebc3254fd0443247d64c94c45d5aa0281223f6fb25818b24da58c69fcd2d81d416e5608e9f32e0d7aa514cdb6bae007068297b67fb90d" +
	"3220c6b0e2ae3842a0302116066f20ab24d344579bdb28f576942adc4dca1be3773403ec8ee907ef71aaf5b0b90d81378b5be19161f5fdc7ba86237a70f7ad67" +
	"fdbef18bfbd82a1e9c0be36e99838cf547779af212a4e6c1739620d9e5237787bb95064a48b1c219a2beb320ae872d23e446b086fdae682b14b96535d1ac4f7a" +
	"20d045861c843f7039a8cc08067f834c2667b19cd63d3ed6e6296494d5fd7aea3aba5b2bdc163456abdfb5354794a44822792c8055f0d5e79cc624c2a2e83654" +
	"117dd8ad391970374535a0b0e30b232199050585f9286c4679f090aa04104eeb8e1d92d3a8dbee623394d2b454798c0bdb5cc628da94b7077cc949faf2f71918" +
	"194aaf7c3bcf6dcf4506d4a67207eaacb768a3ebe4e3c9707fe8c184d74f07ecf0988d77185534a52f77dd54f9249481ff2dc69ff729dff8b7652fe23c854b57" +
	"2e10f18c4934763638ea5b3a72a79d308a8da94f8f61ba6efee165204adf7fbfd048b4232b85a808d939d821d37a044414ab9f8d7b86cf6a181f9c49ac635600" +
	"938f8b3546ec0283cb84706354826c78a394dd54551fa30e63a441103d8e709b5cb8d392b0e4b2df9a20b71718a5235310898117b9f5d30edcee7269d5c64353" +
	"65909c0cdbfc66b3015353438b6b2e1688403456d0170d50e8758798b9bd309704224dec651af253b390ffb0f2f0848a6ead7bb721cd54d0864d713c60918aa5" +
	"f8b710a67cb2cb8d8a2b56c99b1ed003e1f0a0ff5cb796a95a70ce87cf6e6548ad0f2211abe9f51ad0c2f981a1adfb50fd943e412bb34e9015e1d39725b2e5d5" +
	"ae5ecc0150eaffafd070ed0e9417c0ee72c8a275870c2b954dd53280d6927ffeceb3e609ff56382a86646d503794ef41cda183c842f6d8a1bc02e5f57855f172" +
	"c619055127c4df7c6fd31dc94b7d9527616112e3ae814a8daa923e916f42805fdac7a197cd875e41ed63983792e8504c30b0dee14f2fe4a9758ed23750bc62dc" +
	"3e8b2dad662df954415a999a739e91917ebeae9d0e805a19334a10e67cb28448ea18a2aae5e09b5444187b5eb66e0a0e73b9ed7d206475d36349651e62b52a54" +
	"5668e90bd3bc5f169c52c01a9f8de3def9a3c04e3d9680a436c1ee1ecb86f2e9c1b28299dd997254abf7b95518c90030ea5fd7a53184c18ca0a0a0839a5ff776" +
	"b345cd4e813629c2d3abaaee99202b9e20a9cafe0543eb10467665d3cca0d4ff70ccd6e2887661624ad41e095d5d7ad21278f11c4ce654455536bd540b0b2ab2" +
	"a3261102a49807dae90c232a7e5e956153fbe313b9e36e3aa0814bba162212f44b5c749e27007656d0e492faee537defbc19"

// linkVectorLink is one link of the vectors.
type linkVectorLink struct {
	label               string
	id, secret, salt    []byte
	passwordTyped       string
	kind                byte
	node                []byte
	nodeKey             NodeKey
	name                string
	minVersion          uint64
	pw                  []byte // Argon2id output
	keys                *LinkKeys
	payloadN, ownerN    *[nonceSize]byte
	payload, owner      []byte
	payloadPT, ownerPT  []byte
	fields              []byte
	srpA, srpB          []byte
	ownerRecord         *LinkOwnerRecord
	payloadValue        *LinkPayload
	inboxSeed, signSeed []byte
}

// linkVectorFixture is alice's two links, their owner records and an
// anonymous drop through the upload link.
type linkVectorFixture struct {
	tree         *treeFixture
	read, upload *linkVectorLink
	inbox        *InboxKey
	self         map[string][32]byte
	otherID      []byte
	otherVolume  []byte

	drop     *NodeRecord
	dropSig  []byte
	dropKey  NodeKey
	dropName string
	rev      *RevisionRecord
	revSig   []byte
	revCK    ContentKey
	revPlain []byte
	revMtime int64
	revBlock []byte
}

func newLinkVectorFixture() (*linkVectorFixture, error) {
	tf, err := newTreeFixture()
	if err != nil {
		return nil, err
	}
	f := &linkVectorFixture{
		tree: tf, otherID: vectorID("other link"), otherVolume: vectorID("other volume"),
		self: map[string][32]byte{},
		read: &linkVectorLink{label: "read link to report.pdf, no password", id: vectorID("link read"),
			secret: named("link read secret"), salt: named("link read salt")[:SaltSize], kind: LinkRead,
			node: tf.file, nodeKey: tf.fileKey, name: "report.pdf", minVersion: 2,
			payloadN: nonce12(0x70), ownerN: nonce12(0x90), srpA: named("link read srp a"), srpB: named("link read srp b")},
		upload: &linkVectorLink{label: "upload link to Documents, with a password typed decomposed", id: vectorID("link upload"),
			secret: named("link upload secret"), salt: named("link upload salt")[:SaltSize], passwordTyped: "Cafe\u0301 au lait \U0001F511",
			kind: LinkUpload, node: tf.docs, name: "Documents", minVersion: 1,
			payloadN: nonce12(0x78), ownerN: nonce12(0x98), srpA: named("link upload srp a"), srpB: named("link upload srp b")},
	}
	if f.inbox, err = newInboxKey(named("link inbox seed")); err != nil {
		return nil, err
	}
	for _, a := range []vectorAccount{tf.alice, tf.bob} {
		if f.self[a.name], err = SelfKey(a.keys, a.name); err != nil {
			return nil, err
		}
	}
	ident, err := NewVerifyKey(tf.alice.keys.IdentityPublic())
	if err != nil {
		return nil, err
	}
	for _, l := range []*linkVectorLink{f.read, f.upload} {
		pwd := norm.NFC.String(l.passwordTyped)
		if l.pw, err = stretch(append(bytes.Clone(l.secret), pwd...), l.salt, DefaultKDF); err != nil {
			return nil, err
		}
		if l.keys, err = linkKeysFromPW(l.pw, l.id); err != nil {
			return nil, err
		}
		l.signSeed = l.keys.sign.Seed()
		if l.fields, err = linkFields(l.id, tf.volume, l.node, l.kind); err != nil {
			return nil, err
		}
		l.payloadValue = &LinkPayload{Kind: l.kind, Owner: "alice", OwnerIdentity: ident, MinVersion: l.minVersion,
			NodeKey: l.nodeKey, Name: l.name}
		l.ownerRecord = &LinkOwnerRecord{Secret: l.secret, Password: l.passwordTyped}
		if l.kind == LinkUpload {
			l.payloadValue.InboxPublic = f.inbox.Public()
			l.inboxSeed = f.inbox.Seed()
			l.ownerRecord.SignPublic, l.ownerRecord.InboxSeed = l.keys.SignPublic(), l.inboxSeed
		}
		if l.payloadPT, err = l.payloadValue.plain(); err != nil {
			return nil, err
		}
		if l.payload, err = sealLinkPayload(l.keys, l.id, tf.volume, l.node, l.payloadValue, l.payloadN); err != nil {
			return nil, err
		}
		l.ownerPT = linkOwnerPlain(l.secret, pwd, l.ownerRecord.SignPublic, l.ownerRecord.InboxSeed)
		self := f.self["alice"]
		if l.owner, err = sealLinkOwnerRecord(&self, l.id, tf.volume, l.node, l.kind, l.ownerRecord, l.ownerN); err != nil {
			return nil, err
		}
	}
	return f, f.makeDrop()
}

// makeDrop builds the anonymous drop through the upload link: its drop
// record and head revision, both signed with the link's key.
func (f *linkVectorFixture) makeDrop() error {
	tf, up := f.tree, f.upload
	node, revID := vectorID("link drop"), vectorID("link drop revision")
	f.dropKey, f.dropName = vectorNodeKey("link drop"), "Invoice 2026-02.pdf"
	ref := NodeRef{Volume: tf.volume, Parent: tf.docs, Node: node}
	sealed, err := hex.DecodeString(vectorLinkDrop)
	if err != nil {
		return err
	}
	if k, name, err := OpenInboxDrop(f.inbox, ref, sealed); err != nil || k != f.dropKey || name != f.dropName {
		return fmt.Errorf("the fixed link drop does not open as expected: %v", err)
	}
	dk, err := f.dropKey.Derive()
	if err != nil {
		return err
	}
	f.revCK, f.revPlain, f.revMtime = ContentKey(named("content key link drop")), []byte("Uploaded through a public link.\n"), 1767484800_000000000
	bs, err := NewBlockSealer(f.revCK, tf.volume, node, revID)
	if err != nil {
		return err
	}
	if f.revBlock, err = bs.seal(nil, f.revPlain, 0, true, nonce12(0xb0)); err != nil {
		return err
	}
	sck, err := sealContentKey(dk, tf.volume, node, revID, f.revCK, nonce12(0xc0))
	if err != nil {
		return err
	}
	attrs := Attrs{Size: uint64(len(f.revPlain)), ModTime: f.revMtime, SHA256: sha256.Sum256(f.revPlain)}
	sa, err := sealAttrs(f.revCK, tf.volume, node, revID, attrs, nonce12(0xc8))
	if err != nil {
		return err
	}
	author := LinkAuthor(up.id)
	f.rev = &RevisionRecord{Volume: tf.volume, Node: node, Revision: revID, Seq: 1, SealedContentKey: sck,
		Blocks: blockIDs([][]byte{f.revBlock}), SealedAttrs: sa, Author: author}
	f.drop = &NodeRecord{Volume: tf.volume, Node: node, Parent: tf.docs, Kind: KindFile,
		NameHash: [32]byte(named("link drop random name hash")), SealedKey: sealed, Author: author, Version: 1,
		Revision: revID, RevisionSeq: 1, RevisionDigest: f.rev.Digest()}
	if f.revSig, err = f.rev.SignLink(up.keys); err != nil {
		return err
	}
	f.dropSig, err = f.drop.SignLink(up.keys)
	return err
}

// linkURLFail is a URL that ParseLinkURL must refuse.
type linkURLFail struct{ why, url string }

func linkVectors() (obj, error) {
	f, err := newLinkVectorFixture()
	if err != nil {
		return nil, err
	}
	tf, rd, up := f.tree, f.read, f.upload

	urlGroup, err := linkURLVectors(f)
	if err != nil {
		return nil, err
	}

	// Keys.
	var keyCases []obj
	for _, l := range []*linkVectorLink{rd, up} {
		pwd := norm.NFC.String(l.passwordTyped)
		keyCases = append(keyCases, obj{
			{"link", l.label},
			{"link_id_hex", h(l.id)},
			{"secret_hex", h(l.secret)},
			{"password", l.passwordTyped},
			{"password_nfc_hex", h([]byte(pwd))},
			{"salt_hex", h(l.salt)},
			{"memory_kib", DefaultKDF.MemoryKiB},
			{"iterations", DefaultKDF.Iterations},
			{"parallelism", DefaultKDF.Parallelism},
			{"argon2id_input_hex", h(append(bytes.Clone(l.secret), pwd...))},
			{"argon2id_hex", h(l.pw)},
			{"srp_x_hex", h(l.keys.SRPX)},
			{"identity", LinkAuthor(l.id)},
			{"verifier_hex", h(l.keys.Verifier())},
			{"link_key_hex", h(l.keys.Key[:])},
			{"sign_seed_hex", h(l.signSeed)},
			{"sign_public_hex", h(l.keys.SignPublic())},
		})
	}
	kfail := func(why string, id, secret []byte, password string, salt []byte, p KDFParams) obj {
		return obj{{"why", why}, {"link_id_hex", h(id)}, {"secret_hex", h(secret)}, {"password", password}, {"salt_hex", h(salt)},
			{"memory_kib", p.MemoryKiB}, {"iterations", p.Iterations}, {"parallelism", p.Parallelism}}
	}
	kdf := func(fn func(p *KDFParams)) KDFParams {
		p := DefaultKDF
		fn(&p)
		return p
	}
	keyFails := []obj{
		kfail("memory 65535 KiB, below the floor (a downgrade)", rd.id, rd.secret, "", rd.salt, kdf(func(p *KDFParams) { p.MemoryKiB = MinKDFMemoryKiB - 1 })),
		kfail("2 iterations, below the floor", rd.id, rd.secret, "", rd.salt, kdf(func(p *KDFParams) { p.Iterations = MinKDFIterations - 1 })),
		kfail("parallelism 0, below the floor", rd.id, rd.secret, "", rd.salt, kdf(func(p *KDFParams) { p.Parallelism = 0 })),
		kfail("memory 1048577 KiB, above the ceiling", rd.id, rd.secret, "", rd.salt, kdf(func(p *KDFParams) { p.MemoryKiB = MaxKDFMemoryKiB + 1 })),
		kfail("17 iterations, above the ceiling", rd.id, rd.secret, "", rd.salt, kdf(func(p *KDFParams) { p.Iterations = MaxKDFIterations + 1 })),
		kfail("parallelism 9, above the ceiling", rd.id, rd.secret, "", rd.salt, kdf(func(p *KDFParams) { p.Parallelism = MaxKDFParallelism + 1 })),
		kfail("salt of 15 bytes", rd.id, rd.secret, "", rd.salt[:15], DefaultKDF),
		kfail("salt of 17 bytes", rd.id, rd.secret, "", append(bytes.Clone(rd.salt), 0), DefaultKDF),
		kfail("secret of 31 bytes", rd.id, rd.secret[:31], "", rd.salt, DefaultKDF),
		kfail("link ID of 15 bytes", rd.id[:15], rd.secret, "", rd.salt, DefaultKDF),
		kfail("password of 1025 bytes", rd.id, rd.secret, strings.Repeat("p", MaxLinkPasswordLen+1), rd.salt, DefaultKDF),
	}

	// SRP logins.
	var srpCases []obj
	for _, l := range []*linkVectorLink{rd, up} {
		tr, err := srp.Group3072().VectorTranscript([]byte(LinkAuthor(l.id)), l.salt, l.keys.SRPX, l.srpA, l.srpB)
		if err != nil {
			return nil, err
		}
		srpCases = append(srpCases, obj{
			{"link", l.label},
			{"identity", LinkAuthor(l.id)},
			{"salt_hex", h(l.salt)},
			{"x_hex", h(l.keys.SRPX)},
			{"verifier_hex", h(tr.V)},
			{"a_hex", h(l.srpA)},
			{"b_hex", h(l.srpB)},
			{"A_hex", h(tr.A)},
			{"B_hex", h(tr.B)},
			{"u_hex", h(tr.U)},
			{"S_hex", h(tr.S)},
			{"K_hex", h(tr.K)},
			{"M1_hex", h(tr.M1)},
			{"M2_hex", h(tr.M2)},
		})
	}

	payloadGroup, err := linkPayloadVectors(f)
	if err != nil {
		return nil, err
	}

	// Self keys.
	var selfCases []obj
	for _, a := range []vectorAccount{tf.alice, tf.bob} {
		k := f.self[a.name]
		selfCases = append(selfCases, obj{
			{"user", a.name},
			{"encryption_seed_hex", h(a.xwSeed)},
			{"info_hex", h(tagged(labelSelfKey, []byte(a.name)))},
			{"self_key_hex", h(k[:])},
		})
	}

	ownerGroup, err := linkOwnerVectors(f)
	if err != nil {
		return nil, err
	}
	dropGroup := linkDropVectors(f)

	return obj{
		{"description", "Coffer public links: URL, keys, sealed payload, self key, owner record, anonymous drops and the SRP login " +
			"(docs/crypto.md section 13.13). alice (account.json) makes a read link to report.pdf and an upload link to Documents " +
			"of tree.json; an anonymous uploader drops a file into Documents through the upload link."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"url", "b64url = RFC 4648 base64url without padding. url = base || \"/s/\" || b64url(link_id) || \"#\" || b64url(secret) " +
				"(22 and 43 characters); base = \"https://\" or \"http://\" (lower case) || host [\":\" port], the host ASCII (letters, digits, " +
				"'-', '.', or an IPv6 literal in brackets), no user info, port 1..65535. Parsing accepts exactly that, with one optional '/' " +
				"after the link ID (also_parses), and refuses everything else (must_fail): no query, no other path, the fragment exactly 43 " +
				"characters and the ID 22 characters of canonical base64url (the unused low bits of the last character zero; no padding, " +
				"escapes or white space). Formatting never writes the optional '/'."},
			{"keys", "pw = Argon2id(secret || NFC(password), salt, t=iterations, m=memory_kib, p=parallelism, 32 bytes, version 0x13); " +
				"srp_x = HKDF(pw, tagged(\"coffer/v1/link-srp-x\", link_id), 32); link_key = HKDF(pw, tagged(\"coffer/v1/link-key\", link_id), 32); " +
				"sign_seed = HKDF(pw, tagged(\"coffer/v1/link-sign\", link_id), 32); sign_public = the RFC 8032 Ed25519 public key of sign_seed; " +
				"identity = \"link:\" || b64url(link_id); verifier = PAD(g^srp_x mod N) in the SRP group of srp.json (384 bytes). " +
				"The password is UTF-8 of at most 1024 bytes after NFC, empty for none. Before running Argon2id an implementation refuses " +
				"parameters outside m 65536..1048576, t 3..16, p 1..8, a salt that is not 16 bytes, a secret that is not 32 bytes, a link ID " +
				"that is not 16 bytes and a longer password (must_fail)."},
			{"payload", "key = link_key; ad = tagged(\"coffer/v1/link-payload\", LP(link_id) || LP(volume) || LP(node) || uint8(kind)), " +
				"kind 1 = read, 2 = upload; plaintext = 0x01 || uint8(kind) || LP(owner) || owner_identity (32) || uint64_be(min_version) || " +
				"LP(node_key) || LP(inbox_public) || uint16_be(len(nfc)) || nfc || zero bytes up to the next multiple of 32 bytes; " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(link_key, nonce, plaintext, ad). Opening requires version 0x01, the plaintext's kind " +
				"equal to the AD's, an owner of 1..255 bytes, an owner_identity that passes the Ed25519 key check (bundle.json), for a read link " +
				"a 32-byte node_key that is not all zeros and an empty inbox_public, for an upload link an empty node_key and a 1216-byte " +
				"inbox_public that parses as X-Wing, a canonical name (as sealed names in tree.json) and nothing after it. Every failure is " +
				"the one decryption error."},
			{"self_key", "self_key = HKDF(ikm=encryption_seed (account.json), info=tagged(\"coffer/v1/self-key\", user), 32); user is the " +
				"account name, the last field, without a length prefix."},
			{"owner_record", "key = self_key; ad = tagged(\"coffer/v1/link-owner\", LP(link_id) || LP(volume) || LP(node) || uint8(kind)); " +
				"plaintext = 0x01 || secret (32) || LP(NFC(password)) || LP(sign_public) || LP(inbox_seed); sealed = 0x01 || nonce (12) || " +
				"AES-256-GCM(self_key, nonce, plaintext, ad). Opening requires version 0x01, a password of at most 1024 bytes, UTF-8 in NFC, " +
				"for a read link empty sign_public and inbox_seed, for an upload link a 32-byte sign_public that passes the Ed25519 key check " +
				"and a 32-byte inbox_seed (the seed of the inbox key pair, as in share.json inbox_key), and nothing after."},
			{"drop_record", "An anonymous upload through an upload link is an inbox drop (share.json inbox_drop and drop_record) into the " +
				"linked folder, sealed to the payload's inbox_public, whose node record and head revision record (tree.json node_record, " +
				"content.json revision_record) have author = identity (\"link:\" || b64url(link_id)) and are signed with the link's Ed25519 key " +
				"(sign_seed). The owner verifies both under the sign_public of its owner record and opens the drop with its inbox_seed. " +
				"The drop is randomized (HPKE): open it, do not reproduce it. must_fail (node records) and revision_must_fail (revision " +
				"records) must fail verification under author_public_hex."},
			{"srp", "A link login is SRP-6a exactly as srp.json, with I = identity, s = the link's salt, x = srp_x and fixed ephemeral " +
				"secrets a and b (32 bytes, big-endian): A = g^a, B = k*v + g^b, u = H(PAD(A) || PAD(B)), S, K = H(PAD(S)), M1, M2."},
		}},
		{"url", urlGroup},
		{"keys", obj{{"cases", keyCases}, {"must_fail", keyFails}}},
		{"payload", payloadGroup},
		{"self_key", selfCases},
		{"owner_record", ownerGroup},
		{"drop_record", dropGroup},
		{"srp", srpCases},
	}, nil
}

func linkURLVectors(f *linkVectorFixture) (obj, error) {
	rd, up := f.read, f.upload
	var cases []obj
	var canonical string
	for _, in := range []struct {
		base string
		l    *linkVectorLink
	}{
		{"https://coffer.example", rd},
		{"http://localhost:8080", up},
		{"https://[2001:db8::1]:8443", rd},
	} {
		u, err := FormatLinkURL(in.base, in.l.id, in.l.secret)
		if err != nil {
			return nil, err
		}
		if canonical == "" {
			canonical = u
		}
		cases = append(cases, obj{{"base", in.base}, {"link_id_hex", h(in.l.id)}, {"secret_hex", h(in.l.secret)}, {"url", u}})
	}
	slash := strings.Replace(canonical, "#", "/#", 1)
	also := []obj{{{"why", "one '/' after the link ID"}, {"url", slash}, {"base", "https://coffer.example"},
		{"link_id_hex", h(rd.id)}, {"secret_hex", h(rd.secret)}, {"formats_as", canonical}}}

	path, frag, _ := strings.Cut(canonical, "#")
	hostEnd := len("https://coffer.example")
	idPart := path[hostEnd+len("/s/"):]
	withFrag := func(fr string) string { return path + "#" + fr }
	withPath := func(p string) string { return canonical[:hostEnd] + p + "#" + frag }
	withBase := func(b string) string { return b + path[hostEnd:] + "#" + frag }
	// Changing the last character to the next one keeps its top bits
	// and sets an unused low bit: the same bytes, spelled non-canonically.
	bump := func(s string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[i+1])
	}
	fails := []linkURLFail{
		{"no fragment", path},
		{"an empty fragment", withFrag("")},
		{"a fragment of 42 characters", withFrag(frag[:42])},
		{"a fragment of 44 characters", withFrag(frag + "A")},
		{"a fragment with '=' padding (44 characters)", withFrag(frag + "=")},
		{"a fragment whose last character has a non-zero unused bit (non-canonical)", withFrag(bump(frag))},
		{"a fragment with a '%' escape (%41 for A)", withFrag("%41" + frag[3:])},
		{"a fragment in standard base64 ('+' and '/')", withFrag("+/" + frag[2:])},
		{"a fragment with a line break in place of a character", withFrag(frag[:20] + "\n" + frag[21:])},
		{"a fragment with a space in place of a character", withFrag(frag[:20] + " " + frag[21:])},
		{"a second '#'", canonical + "#"},
		{"a link ID of 21 characters", withPath("/s/" + idPart[:21])},
		{"a link ID of 23 characters", withPath("/s/" + idPart + "A")},
		{"a link ID whose last character has a non-zero unused bit (non-canonical)", withPath("/s/" + bump(idPart))},
		{"a link ID with '=' padding", withPath("/s/" + idPart + "==")},
		{"two '/' after the link ID", withPath("/s/" + idPart + "//")},
		{"another path (/x/)", withPath("/x/" + idPart)},
		{"the path in upper case (/S/)", withPath("/S/" + idPart)},
		{"a path before /s/", withPath("/app/s/" + idPart)},
		{"something after the link ID", withPath("/s/" + idPart + "/x")},
		{"no path", withPath("")},
		{"a query string", withPath("/s/" + idPart + "?x=1")},
		{"an empty query ('?')", withPath("/s/" + idPart + "?")},
		{"scheme ftp", withBase("ftp://coffer.example")},
		{"scheme in upper case", withBase("HTTPS://coffer.example")},
		{"no scheme (scheme-relative)", withBase("//coffer.example")},
		{"no host", withBase("https://")},
		{"user info before the host", withBase("https://alice@coffer.example")},
		{"a port of 0", withBase("https://coffer.example:0")},
		{"a port above 65535", withBase("https://coffer.example:65536")},
		{"an empty port", withBase("https://coffer.example:")},
		{"a non-numeric port", withBase("https://coffer.example:https")},
		{"a host that is not ASCII", withBase("https://co\u0308ffer.example")},
		{"a backslash in the host", withBase("https://coffer.example\\evil.example")},
		{"a bracketed host that is not an IPv6 address", withBase("https://[coffer.example]")},
		{"leading white space", " " + canonical},
	}
	var failObjs []obj
	for _, c := range fails {
		if _, _, _, err := ParseLinkURL(c.url); !errors.Is(err, ErrBadLinkURL) {
			return nil, fmt.Errorf("link URL must_fail %q parses", c.why)
		}
		failObjs = append(failObjs, obj{{"why", c.why}, {"url", c.url}})
	}
	return obj{{"cases", cases}, {"also_parses", also}, {"must_fail", failObjs}}, nil
}

func linkPayloadVectors(f *linkVectorFixture) (obj, error) {
	tf, rd, up := f.tree, f.read, f.upload
	var cases []obj
	for _, l := range []*linkVectorLink{rd, up} {
		p := l.payloadValue
		cases = append(cases, obj{
			{"link", l.label},
			{"link_id_hex", h(l.id)},
			{"link_key_hex", h(l.keys.Key[:])},
			{"volume_hex", h(tf.volume)},
			{"node_hex", h(l.node)},
			{"kind", l.kind},
			{"ad_hex", h(envelopeAD(labelLinkPayload, l.fields))},
			{"owner", p.Owner},
			{"owner_identity_hex", h(p.OwnerIdentity.Public())},
			{"min_version", p.MinVersion},
			{"node_key_hex", h(linkNodeKeyField(p))},
			{"inbox_public_hex", h(p.InboxPublic)},
			{"name", p.Name},
			{"plaintext_hex", h(l.payloadPT)},
			{"nonce_hex", h(l.payloadN[:])},
			{"sealed_hex", h(l.payload)},
		})
	}

	pfail := func(why string, key *[32]byte, id, volume, node []byte, kind byte, sealed []byte) obj {
		return obj{{"why", why}, {"link_id_hex", h(id)}, {"link_key_hex", h(key[:])}, {"volume_hex", h(volume)},
			{"node_hex", h(node)}, {"kind", kind}, {"sealed_hex", h(sealed)}}
	}
	rk, s := &rd.keys.Key, rd.payload
	fails := []obj{
		pfail("other link ID in the AD", rk, f.otherID, tf.volume, rd.node, LinkRead, s),
		pfail("other volume in the AD", rk, rd.id, f.otherVolume, rd.node, LinkRead, s),
		pfail("other node in the AD (Documents)", rk, rd.id, tf.volume, tf.docs, LinkRead, s),
		pfail("other kind in the AD (2, upload)", rk, rd.id, tf.volume, rd.node, LinkUpload, s),
		pfail("another link's key (the upload link's)", &up.keys.Key, rd.id, tf.volume, rd.node, LinkRead, s),
		pfail("the upload link's payload served for the read link", rk, rd.id, tf.volume, rd.node, LinkRead, up.payload),
		pfail("the upload link's payload served as a read payload of its own link (kind 1)", &up.keys.Key, up.id, tf.volume, up.node, LinkRead, up.payload),
		pfail("version byte 0x02", rk, rd.id, tf.volume, rd.node, LinkRead, flip(s, 0, 0x03)),
		pfail("nonce bit flipped", rk, rd.id, tf.volume, rd.node, LinkRead, flip(s, 1, 0x01)),
		pfail("ciphertext bit flipped", rk, rd.id, tf.volume, rd.node, LinkRead, flip(s, 40, 0x20)),
		pfail("tag bit flipped", rk, rd.id, tf.volume, rd.node, LinkRead, flip(s, len(s)-1, 0x80)),
		pfail("truncated by one byte", rk, rd.id, tf.volume, rd.node, LinkRead, s[:len(s)-1]),
		pfail("one byte appended", rk, rd.id, tf.volume, rd.node, LinkRead, append(bytes.Clone(s), 0)),
		pfail("only version and nonce", rk, rd.id, tf.volume, rd.node, LinkRead, s[:1+nonceSize]),
		pfail("empty", rk, rd.id, tf.volume, rd.node, LinkRead, nil),
	}

	// Validly sealed under the right key and AD, but malformed: only a
	// holder of the link key could make these.
	ident := rd.payloadValue.OwnerIdentity.Public()
	readAEAD, err := newGCM(rk)
	if err != nil {
		return nil, err
	}
	upAEAD, err := newGCM(&up.keys.Key)
	if err != nil {
		return nil, err
	}
	nm := namePlaintext(rd.name)
	rkey := rd.nodeKey[:]
	inbox := up.payloadValue.InboxPublic
	bad := func(why string, upload bool, pt []byte) obj {
		l, aead := rd, readAEAD
		if upload {
			l, aead = up, upAEAD
		}
		if _, ok := parseLinkPayload(pt, l.kind); ok {
			panic("link payload vector " + why + " parses")
		}
		return pfail("validly sealed, "+why, &l.keys.Key, l.id, tf.volume, l.node, l.kind, sealRaw(aead, nonce12(0x60), labelLinkPayload, l.fields, pt))
	}
	read := func(version, kind byte, owner string, id []byte, key, ib, name []byte) []byte {
		pt := linkPayloadPlain(kind, owner, id, 2, key, ib, name)
		pt[0] = version
		return pt
	}
	upName := namePlaintext(up.name)
	upload := func(key, ib []byte) []byte { return linkPayloadPlain(LinkUpload, "alice", ident, 1, key, ib, upName) }
	smallOrder := append([]byte{1}, make([]byte, 31)...) // the identity point
	// y = p + 3: a point of large order (y = 3), its y not reduced mod p.
	nonCanonical := append([]byte{0xf0}, append(bytes.Repeat([]byte{0xff}, 30), 0x7f)...)
	badInbox := bytes.Repeat([]byte{0xff}, EncryptionPublicKeySize)
	decomposed := namePlaintext("re\u0301port.pdf")
	padded := bytes.Clone(nm)
	padded[len(padded)-1] = 1
	fails = append(fails,
		bad("plaintext version 0x02", false, read(0x02, LinkRead, "alice", ident, rkey, nil, nm)),
		bad("plaintext kind 2 under an AD of kind 1", false, read(1, LinkUpload, "alice", ident, rkey, nil, nm)),
		bad("plaintext kind 1 under an AD of kind 2", true, linkPayloadPlain(LinkRead, "alice", ident, 1, nil, inbox, upName)),
		bad("empty owner name", false, read(1, LinkRead, "", ident, rkey, nil, nm)),
		bad("owner name of 256 bytes", false, read(1, LinkRead, strings.Repeat("a", 256), ident, rkey, nil, nm)),
		bad("owner identity key of small order (the identity point)", false, read(1, LinkRead, "alice", smallOrder, rkey, nil, nm)),
		bad("owner identity key not canonically encoded", false, read(1, LinkRead, "alice", nonCanonical, rkey, nil, nm)),
		bad("read link with an all-zero node key", false, read(1, LinkRead, "alice", ident, make([]byte, 32), nil, nm)),
		bad("read link with a 31-byte node key", false, read(1, LinkRead, "alice", ident, rkey[:31], nil, nm)),
		bad("read link with no node key", false, read(1, LinkRead, "alice", ident, nil, nil, nm)),
		bad("read link with an inbox key", false, read(1, LinkRead, "alice", ident, rkey, inbox, nm)),
		bad("upload link with a node key", true, upload(rkey, inbox)),
		bad("upload link without an inbox key", true, upload(nil, nil)),
		bad("upload link with a 1215-byte inbox key", true, upload(nil, inbox[:EncryptionPublicKeySize-1])),
		bad("upload link with an inbox key that does not parse (ML-KEM coefficients >= q)", true, upload(nil, badInbox)),
		bad("name not in NFC", false, read(1, LinkRead, "alice", ident, rkey, nil, decomposed)),
		bad("non-zero name padding", false, read(1, LinkRead, "alice", ident, rkey, nil, padded)),
		bad("name padded to 64 bytes (one bucket too many)", false, read(1, LinkRead, "alice", ident, rkey, nil, append(bytes.Clone(nm), make([]byte, 32)...))),
		bad("one byte after the padded name", false, read(1, LinkRead, "alice", ident, rkey, nil, append(bytes.Clone(nm), 0))),
		bad("empty name", false, read(1, LinkRead, "alice", ident, rkey, nil, namePlaintext(""))),
		bad("no name", false, read(1, LinkRead, "alice", ident, rkey, nil, nil)),
	)
	return obj{{"cases", cases}, {"must_fail", fails}}, nil
}

// linkNodeKeyField is the payload's node_key field: the key for a read
// link, empty for an upload link.
func linkNodeKeyField(p *LinkPayload) []byte {
	if p.Kind == LinkRead {
		return p.NodeKey[:]
	}
	return nil
}

func linkOwnerVectors(f *linkVectorFixture) (obj, error) {
	tf, rd, up := f.tree, f.read, f.upload
	alice := f.self["alice"]
	var cases []obj
	for _, l := range []*linkVectorLink{rd, up} {
		cases = append(cases, obj{
			{"link", l.label},
			{"user", "alice"},
			{"self_key_hex", h(alice[:])},
			{"link_id_hex", h(l.id)},
			{"volume_hex", h(tf.volume)},
			{"node_hex", h(l.node)},
			{"kind", l.kind},
			{"ad_hex", h(envelopeAD(labelLinkOwner, l.fields))},
			{"secret_hex", h(l.secret)},
			{"password_typed", l.passwordTyped},
			{"password", norm.NFC.String(l.passwordTyped)},
			{"sign_public_hex", h(l.ownerRecord.SignPublic)},
			{"inbox_seed_hex", h(l.ownerRecord.InboxSeed)},
			{"plaintext_hex", h(l.ownerPT)},
			{"nonce_hex", h(l.ownerN[:])},
			{"sealed_hex", h(l.owner)},
		})
	}
	ofail := func(why string, key [32]byte, id, volume, node []byte, kind byte, sealed []byte) obj {
		return obj{{"why", why}, {"self_key_hex", h(key[:])}, {"link_id_hex", h(id)}, {"volume_hex", h(volume)},
			{"node_hex", h(node)}, {"kind", kind}, {"sealed_hex", h(sealed)}}
	}
	s := up.owner
	fails := []obj{
		ofail("other link ID in the AD", alice, f.otherID, tf.volume, up.node, LinkUpload, s),
		ofail("other volume in the AD", alice, up.id, f.otherVolume, up.node, LinkUpload, s),
		ofail("other node in the AD (report.pdf)", alice, up.id, tf.volume, tf.file, LinkUpload, s),
		ofail("other kind in the AD (1, read)", alice, up.id, tf.volume, up.node, LinkRead, s),
		ofail("another account's self key (bob's)", f.self["bob"], up.id, tf.volume, up.node, LinkUpload, s),
		ofail("the read link's owner record served for the upload link", alice, up.id, tf.volume, up.node, LinkUpload, rd.owner),
		ofail("a payload (sealed under link_key) served as an owner record", alice, up.id, tf.volume, up.node, LinkUpload, up.payload),
		ofail("version byte 0x02", alice, up.id, tf.volume, up.node, LinkUpload, flip(s, 0, 0x03)),
		ofail("nonce bit flipped", alice, up.id, tf.volume, up.node, LinkUpload, flip(s, 5, 0x04)),
		ofail("ciphertext bit flipped", alice, up.id, tf.volume, up.node, LinkUpload, flip(s, 30, 0x01)),
		ofail("tag bit flipped", alice, up.id, tf.volume, up.node, LinkUpload, flip(s, len(s)-2, 0x10)),
		ofail("truncated by one byte", alice, up.id, tf.volume, up.node, LinkUpload, s[:len(s)-1]),
		ofail("one byte appended", alice, up.id, tf.volume, up.node, LinkUpload, append(bytes.Clone(s), 0)),
		ofail("empty", alice, up.id, tf.volume, up.node, LinkUpload, nil),
	}
	aead, err := newGCM(&alice)
	if err != nil {
		return nil, err
	}
	bad := func(why string, l *linkVectorLink, pt []byte) obj {
		sealed := sealRaw(aead, nonce12(0x50), labelLinkOwner, l.fields, pt)
		if _, err := OpenLinkOwnerRecord(alice, l.id, tf.volume, l.node, l.kind, sealed); err == nil {
			panic("link owner record vector " + why + " opens")
		}
		return ofail("validly sealed, "+why, alice, l.id, tf.volume, l.node, l.kind, sealed)
	}
	sp, seed := up.ownerRecord.SignPublic, up.ownerRecord.InboxSeed
	pwd := norm.NFC.String(up.passwordTyped)
	versioned := linkOwnerPlain(up.secret, pwd, sp, seed)
	versioned[0] = 0x02
	fails = append(fails,
		bad("plaintext version 0x02", up, versioned),
		bad("password of 1025 bytes", up, linkOwnerPlain(up.secret, strings.Repeat("p", MaxLinkPasswordLen+1), sp, seed)),
		bad("password not in NFC", up, linkOwnerPlain(up.secret, up.passwordTyped, sp, seed)),
		bad("password not UTF-8", up, linkOwnerPlain(up.secret, "caf\xe9", sp, seed)),
		bad("upload link without a signing key", up, linkOwnerPlain(up.secret, pwd, nil, seed)),
		bad("upload link with a signing key of small order", up, linkOwnerPlain(up.secret, pwd, append([]byte{1}, make([]byte, 31)...), seed)),
		bad("upload link with a 31-byte signing key", up, linkOwnerPlain(up.secret, pwd, sp[:31], seed)),
		bad("upload link without an inbox seed", up, linkOwnerPlain(up.secret, pwd, sp, nil)),
		bad("upload link with a 33-byte inbox seed", up, linkOwnerPlain(up.secret, pwd, sp, append(bytes.Clone(seed), 0))),
		bad("read link with a signing key", rd, linkOwnerPlain(rd.secret, "", sp, nil)),
		bad("read link with an inbox seed", rd, linkOwnerPlain(rd.secret, "", nil, seed)),
		bad("a secret of 31 bytes (the fields shifted)", rd, linkOwnerPlain(rd.secret[:31], "", nil, nil)),
		bad("one byte after the last field", rd, append(linkOwnerPlain(rd.secret, "", nil, nil), 0)),
	)
	return obj{{"cases", cases}, {"must_fail", fails}}, nil
}

func linkDropVectors(f *linkVectorFixture) obj {
	tf, up, rd := f.tree, f.upload, f.read
	signPub := up.keys.SignPublic()
	ref := f.drop.Ref()
	dpt := append([]byte{inboxDropVersion}, f.dropKey[:]...)
	dpt = append(dpt, namePlaintext(f.dropName)...)
	attrs := Attrs{Size: uint64(len(f.revPlain)), ModTime: f.revMtime, SHA256: sha256.Sum256(f.revPlain)}
	digest := f.rev.Digest()
	revCase := append(revisionObj(f.rev),
		kv{"marshaled_hex", h(f.rev.Marshal())},
		kv{"digest_hex", h(digest[:])},
		kv{"signature_hex", h(f.revSig)},
		kv{"content_key_hex", h(f.revCK[:])},
		kv{"size", attrs.Size},
		kv{"mtime", strconv.FormatInt(attrs.ModTime, 10)},
		kv{"sha256_hex", h(attrs.SHA256[:])},
		kv{"plaintext", string(f.revPlain)},
		kv{"sealed_block_hex", h(f.revBlock)},
	)
	dropCase := append(recordObj(f.drop),
		kv{"is_drop", f.drop.IsDrop()},
		kv{"link_id_hex", h(up.id)},
		kv{"sign_seed_hex", h(up.signSeed)},
		kv{"author_public_hex", h(signPub)},
		kv{"marshaled_hex", h(f.drop.Marshal())},
		kv{"signature_hex", h(f.dropSig)},
		kv{"drop", obj{
			{"inbox_seed_hex", h(up.inboxSeed)},
			{"info_hex", h(tagged(labelInboxDrop, ref.fields()))},
			{"name", f.dropName},
			{"node_key_hex", h(f.dropKey[:])},
			{"plaintext_hex", h(dpt)},
		}},
		kv{"revision", revCase},
	)

	rfail := func(why string, r *NodeRecord, pub, sig []byte) obj {
		o := append(obj{{"why", why}}, recordObj(r)...)
		return append(o, kv{"author_public_hex", h(pub)}, kv{"signature_hex", h(sig)})
	}
	edit := func(fn func(r *NodeRecord)) *NodeRecord {
		c := cloneNodeRecord(f.drop)
		fn(c)
		return c
	}
	alicePub := tf.alice.keys.IdentityPublic()
	recFails := []obj{
		rfail("verified under the owner's identity key (alice's), not the link's", f.drop, alicePub, f.dropSig),
		rfail("verified under another link's signing key (the read link's)", f.drop, rd.keys.SignPublic(), f.dropSig),
		rfail("author changed to the read link's under the signature", edit(func(r *NodeRecord) { r.Author = LinkAuthor(rd.id) }), signPub, f.dropSig),
		rfail("author changed to alice under the signature", edit(func(r *NodeRecord) { r.Author = "alice" }), signPub, f.dropSig),
		rfail("sealed drop bit flipped under the signature", edit(func(r *NodeRecord) { r.SealedKey = flip(r.SealedKey, 700, 0x02) }), signPub, f.dropSig),
		rfail("moved by the server to Archive", edit(func(r *NodeRecord) { r.Parent = tf.archive }), signPub, f.dropSig),
		rfail("head revision digest changed", edit(func(r *NodeRecord) { r.RevisionDigest[31] ^= 0x01 }), signPub, f.dropSig),
	}
	vfail := func(why string, r *RevisionRecord, pub, sig []byte) obj {
		o := append(obj{{"why", why}}, revisionObj(r)...)
		return append(o, kv{"author_public_hex", h(pub)}, kv{"signature_hex", h(sig)})
	}
	redit := func(fn func(r *RevisionRecord)) *RevisionRecord {
		c := *f.rev
		c.Blocks = append([][32]byte(nil), f.rev.Blocks...)
		fn(&c)
		return &c
	}
	revFails := []obj{
		vfail("verified under the owner's identity key (alice's), not the link's", f.rev, alicePub, f.revSig),
		vfail("verified under another link's signing key (the read link's)", f.rev, rd.keys.SignPublic(), f.revSig),
		vfail("author changed to alice under the signature", redit(func(r *RevisionRecord) { r.Author = "alice" }), signPub, f.revSig),
		vfail("block ID changed under the signature", redit(func(r *RevisionRecord) { r.Blocks[0][0] ^= 0x01 }), signPub, f.revSig),
		vfail("sequence number 2 under the signature", redit(func(r *RevisionRecord) { r.Seq = 2 }), signPub, f.revSig),
	}
	return obj{{"cases", []obj{dropCase}}, {"must_fail", recFails}, {"revision_must_fail", revFails}}
}
