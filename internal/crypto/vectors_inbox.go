package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
)

// Vectors of inbox drops, drop records and uploader grants, in share.json
// (docs/crypto.md sections 13.9 and 13.10). HPKE encapsulation is
// randomized, so the drops and the uploader grant were sealed once and are
// kept here; newInboxVectorFixture checks that each still opens as
// described. Implementations must open them, not reproduce them.
const (
	// vectorDropScan is SealInboxDrop(inbox public key of share.json,
	// NodeRef{volume, Documents, vectorID("dropped scan")},
	// vectorNodeKey("dropped scan"), "Scan 2026-01.pdf").
	// vectorDropPhoto is the same for vectorID("dropped photo"), under the
	// name "Ame\u0301lie.jpg" typed decomposed (it opens as NFC).
	// vectorUploaderGrantDave is SealUploaderGrant(dave's encryption
	// public key, the list's GrantRef("dave"), "Documents").
	vectorDropScan = "" +
		"012a348df8cbfe5ee72b2998be5d2fc8469f1e46087af1ea07493b54844fb80a34cfdbd7a1ec9537f80ff8c2e43d26b716ef5e57dfe39ef82be71988d1955cb6" +
		"5c46bb1f92c1344a3bc8c2d12f635601fa722ee2294a2162ee63abfe4e9f268d572c3cc0195e7017cef8e08b0d075b05a43c26ce388c41757a26781094a636dd" +
		"be8506a5a20d9ad618655d0c72b85fff803ca84de636dadeaf4445883ee266875f6886fb0f23dac8264cbd2b60f300c44bc8e2d01c395988c0c617db84c34948" +
		"539d940cc73da0ec6980a2cd822799381648db49c0269604c987e80d2dabea37071203f869c483910f68583e459bc313fa390ca4f4e5bd4cf7ef5f25d35d148c" +
		"a44c6f0baa323a7dad32aaa0da0a78deb3ed465f481f9a7d4497f8bf3d0a764ac35c420f2b2c72ecd7016aec64ce75489d09584c659a38d6615504549b57a360" +
		"a1126cb302512bc7f42704c8b6c75e113363bbf770b2affc70113d8b9012d1e12f987e55c74da8874c1ef3a3b83beb50739a52b5ec7033203eed6cb58ec5f949" +
		"89c4a78c82742f7c9a82224ef5495e269ac01f3c6b1a6957b00a3b88c76a9fa78bea0c4ee3d9e79dd5b92e22691602ccb7c3c1afb2ca88d9ae50c8590f921f5b" +
		"8c34921f90a383d715d2dd8bfaa5208864652db1d75583234446abd379d1f2238c42466aeaf9f2e91ebd1f788ade0a6a44eef9d917145ce6e3b3ea3a1e0187d2" +
		"4dc6804b85a45688e8a93a02ee20a543f928586abbe73b6fcbfdb5a171fae4a3681dfd19bfaeeb3da6cbc85fdfb0baefeefcb9ec42c2be49d6c1cdddd51c735d" +
		"8db55491a39ddb8ce8ea65f0520b3cd89294ede957e8c80d8538e6bf4a2bbbd862c54f69f14b88b9a7eec1a37e7f4865cce5be09d06c888bf714ccc03378ca55" +
		"4f711742c9f5e91f23dfd5f935141a5865c33b4a60632e622844d2f7a0dc45bc1ccde50a8eb91f3395d037ca1ec55a7fadc4d495187a6f6f017040ae8f28655e" +
		"f8a207e7487cd3f283d284d605d87ead35d9d006f4c00cab9ee4834f0290d07f0bcd75d7d05e0acf81fc7d743b9da435d92019fae302f8f5b0cab5cdab70beb9" +
		"9146f3e5c7daf77506a0e509de1cc1150e0643e4e3b8fdae598a9cff4b8a3cc014eb949ae05e939ee573af8e57cb94d66d7fad5b1d94e90103680223b79d1991" +
		"dc1bfab8d7bb101d69e85614efd93622b6e9b79b050c572b4d33e001f93bfd6e0c3b9b54c467572cbe2c7e93479c0377391fcbfd532fc8a88a0e48272363bf54" +
		"2dddf0d43674a3306fa1559901fdda34d692d0ec0527055b14b5d319c8e13dc1ffda169115f5e39e21e1d9038399715b249e81c751c30c2c13ed82182bee4fb5" +
		"0bbf80b708c0e306e76d73507872fea7ac9b7009b2c3863afdd7c842731afbffcfbf875ea0218a4bf370a5fc8ee7eec860ca9112020ed15f34f676c1155bb730" +
		"d27c533fcfde818d18265dfcc7a1fea54d0fbe04ebabf3528b2eb2b4e7cc5ecfc0db8a985619b2dd6f36a62f71d3bee58ba6a3a6ec27c2d4c51719454afc8d81" +
		"49d35ae42737cf775da14c21b91a8a919fba4cf130ca1ae703f56396f4c3113a7c916890ac26ee00bbfec8ba03abcdb944364c66682b13320140a6be2d87d1e4" +
		"382e5a37d144f7c0001004c420379c26ac8f1ced929e6a1a2aad5570cea0292ebdb685cae9523af9d3868f9926ccc335067d"
	vectorDropPhoto = "" +
		"01a8997312972220a060f5cb6c8b6a6927347c5db0436565fdc7e8e10c43fcf00f3250399784c802c0b3fda33b1a3cf8c427ab81f1ccabe602968a9d2a697339" +
		"34aca2b90d913c2f170a9ecb6cf99be97fdc2a1c69d51837a778481dd79e76f9f08e8ef3c6449336e85614fbf9f0cdf263294769d024a3454f981efa02d479dc" +
		"49f0964e2011d4bfa85e36a51b0f3684492d958920b54fd501dc35305c5891a1871e4754405b138a070fd439bed4a91bce20246910479cba93dba08ab1b0d25f" +
		"77a38760d7dfb861fca33b8635b3ffe90e589f0c724debbbee211609585fad2d9dd45e8cb1ee2117cb7591076bd47eb175c59e7b627c4841ae89cd82a2d3fb09" +
		"8d6bdfc11b8335032d9d95df77aec6d77038353fd7974659a12b50db267f74e55a4931297df72f403b5f3ec808dbfa2a0120d7166ec339222bdc8494ddb01b2a" +
		"09ea4bbf9715a3b558e191d05b9f72f4d45f3df13259f169827e79002d869c41617c1625b8bf2c4315a0797b873d6c4aea7f2222c8b1fe0d32a5c3efc688ea05" +
		"1a50c33c3caa4dd16ea603408edb3167336505bf6ed39882e603feb004b5fca931bb255bc011438dcf067eb4dd3c3ea0eb6f7219b60e6e6a80c16328e07bcd19" +
		"7798876a2bbbb81b4fee8c28f155e0bd3cc42120cd0099cc2fe1e3963e2222d375ff154114d46bc213a22e40359d520377ca91b1981f40a713fb0687e3b5da71" +
		"e93eeeda9b84ff6ef3d5cbbbb3f77505d222939b051381f5c4c19543cf68b112e7a006df7f069dc4f9ca3ff55afb9b825875d1af411e09e42bb75dbe10b98295" +
		"ed794972692e8c7e05264f766e1a07cc1560c17e822b836cdbc24c7fe85f08ce1169fda0c62151d5e6b337dfb0e08738237e057e7b7b48d9a079b53f004f5567" +
		"d3d11e94cb8a318306cb011eb11d78e0f52fae0fd3253060d67423c80070141da95a9725de340b39b2c8ffdf215cf9093f86a7f20981b63abbce6bcaccf3b34a" +
		"6fcfda74dd779d54dcbafea7ee8f4c71970e321793ce3f08dc9ebf357de70c933b36fe609435f0d62aacf49a31d5c0278388ce1dea543cac18b4635980b87d78" +
		"9af5255e90f690f08ab9a60c6ed833b7ff7b019e7ae1080cc089c37d2a75a82705874794aed5df6d21602312f4d25f488fe59629d4da23aba66f0d24138d9585" +
		"c20844238c2eddf4e37234db15382d73587df6c8302cff022c376eebb67ac2a6919e0f733e99a52cc6daa880bd598fc5962e97b5a510a206ac9b8b037bf74cc1" +
		"bf25e27e2acf8dd29214374d24fb5f5f54b2e146689f60bec5094614ef1f9625c5a2c9e3287d4238e6d89e3c394fa551c91c86f35940010eb8ba7b30a7471806" +
		"c349116248f7079ce25a13a762cf0dd92ab7e44a86e3e4f1dbaac259a0c07d1be9028d9093d71da1e67f69122d515c5e1603464afd12aa92ccdc386f2cacdc49" +
		"53c55837b883462b89fd23e77157a257382ac6197335ac2e56b01d6e79ee99af4de56cd96506b0751ab9ee18f54461dd90aeb068bcb8ef8e6ff30921bdd2267e" +
		"a11e7e430ef9f235312a8db18e6aba838086440bedc8d1a02969908c460e127418a8141486e1085c2f67ad7cac1eca8af60dc483c4de944cc74ede540f204ca1" +
		"b3e2e966ec87ae6f13ebadc9b5423d6785de10432d1ee02e19605124d11a8d3d759797d9f2e183f2ed69088f09fbcee01918"
	vectorUploaderGrantDave = "" +
		"01cfaa272190e76e9d3e1f1961df8a2d50f6a92dfcb174ad4873acacdac8ce97da11b0ff8055829682afbd0fb8a03228ce0283c93fb765a95dec8c52bb1986be" +
		"740925235a59df7d12d6be5bd026d41f53465c261f101b37a07dd8fbde7b7ca97baac86ac3497a7ff23cdbc0d42948173bfcac3dd6bf256e5fe29adc0097a5cf" +
		"0fde60d6cc4032cbe22309f25f0bd7a2e9179ecdfa52401aac1152da47bf698a551ff3f31c25c20939efb2f68cbb88f66b6726d59d2e58bb8d850744dabf445b" +
		"f816e26f1e9e3201cb100a648b93a62735df92079a9ac8f2eb6a494bf7a9b3e994704b6b785fe6324101dce4b9a56b4bb4a577285123fd37481c5731bfb80d1c" +
		"6c8bb6de37dc06a434a926d487ab6f9a081fb8c9bcae2b3d020ba657019e3f0f66f262f991d1653ddde7be726ecf1137e676681c83cfedc7c6ebba95da16f6d1" +
		"d15bd3b4d57884ad8b35c556230fe7764dc4bc1868bb44dd8bb212b079549a58551d873c4afd29c9f553ccdb056b9dec42ea40d05d142e521bc80d3f23032f6c" +
		"7b6bb5558e538fac38d770a24a9e3be70076fa2c10389b541b4f1bc263ba3e31d4d2bacffd7f2b452da043f1198e820575e1c508cbf0d7e9102e6c5896a034c7" +
		"a4f35ca5557d1993df5e7390d1cb452f4b1eedfe7e6088c453635033042c587f8d1228bd5bf71096e977c50a5075d22cacab88c2c624f51faad839a3cd5efe38" +
		"f8336b253f3f8b8e81533ef9cfae4456d550cb15cfc12336632bf6753600064da2727bd77ef2d8b7feac0673f20a085e96247d67b201b772a5baaed0e7e3bf09" +
		"b345b057ab359baad36fa2d214c46812d47a37bf0ded23fff1ef019f955a0513f58ecc0104bff1bbe8d7227b2712e6ee2bfeabc00cc44492e90864f26c01c241" +
		"27d27435df3aca8be2700ae123b9f1a0becccd1c5cef75dd86f3270408cf240efcc4b984f8b074f0456120523a63670dd2a7173a2b8dc7c6cc2691f2cb39f0d9" +
		"099838516b96cd1c83af57e68c1cb46ef91d16b307988ee51ec910d4b19f12ba01411e41f2b5277180ba89e1e982099c5060146dc6e83ec6434022b995cc2704" +
		"0c240079a23d0fe4c00d3786b5356190e0b214081ebeb3203d50ab7fc7955a1c7396c87da7666a102509342d663a3a82eaf41c069d0b49eb763033abfd394994" +
		"33c668b1ab22bed02f4108d9a0adad2e37ec73af8689d9583aa2ce46a683b9ca9a097ef7c683986a0dc6a3e5ef3f01ee22d91d66e1575524bc8bdd829a124d7e" +
		"a0d1981f5edfac5160cfaa84c7d8e8e1a1b7c634d267e7771a181784cf615ebd5dd1d66adf831f879d0ff3034facfad8b30a027d49f6f21d1b13165ade1a7600" +
		"b0d2d6677ad78d2da73cda6f16d4f723c918b556211e9e68c67e12ff479eddfa5c1ea7c2f2f99b050c505d443a43422c205bdb9506c8a0428bc6f2d8fe93eabf" +
		"974c8ed95ebf2883f54dac884b0f6647f332f272b886862705883cdaf6246b26cb50f5cc8d3c312acddb1239c3ef20991b2048cf99a582aa8d2c046e4b3c8e2d" +
		"f0b07ac9d18ebb370313775a2d78686f4144d3abd92efbf7b44343db64eb587053a906ca003fe70bb895b5700f42c730212a6e04b08f9a8f960fd677a69b50d0" +
		"4486d72357c8799a2ab479bfd1fe69e777f6"
)

// inboxVectorFixture is dave (uploader of Documents in share.json)
// dropping two files, and bob (editor) adopting the first.
type inboxVectorFixture struct {
	*shareVectorFixture
	drops      []inboxVectorDrop
	grantDave  []byte
	grantName  string
	dropRecord *NodeRecord // the scan's drop record, by dave, version 1
	adopted    *NodeRecord // the same node adopted by bob, version 2
	adoptKeyN  *[nonceSize]byte
	adoptNameN *[nonceSize]byte
	otherInbox []byte // seed of another inbox key
}

type inboxVectorDrop struct {
	ref        NodeRef
	key        NodeKey
	typed, nfc string
	sealed     []byte
}

func newInboxVectorFixture(f *shareVectorFixture) (*inboxVectorFixture, error) {
	tf := f.tree
	x := &inboxVectorFixture{
		shareVectorFixture: f,
		grantName:          "Documents",
		adoptKeyN:          nonce12(0xe0),
		adoptNameN:         nonce12(0xf0),
		otherInbox:         named("other inbox seed"),
	}
	for _, d := range []struct {
		id, hex, typed, nfc string
	}{
		{"dropped scan", vectorDropScan, "Scan 2026-01.pdf", "Scan 2026-01.pdf"},
		{"dropped photo", vectorDropPhoto, "Ame\u0301lie.jpg", "Am\u00e9lie.jpg"},
	} {
		sealed, err := hex.DecodeString(d.hex)
		if err != nil {
			return nil, err
		}
		v := inboxVectorDrop{ref: NodeRef{Volume: tf.volume, Parent: tf.docs, Node: vectorID(d.id)},
			key: vectorNodeKey(d.id), typed: d.typed, nfc: d.nfc, sealed: sealed}
		k, name, err := OpenInboxDrop(f.inbox, v.ref, sealed)
		if err != nil || k != v.key || name != v.nfc {
			return nil, fmt.Errorf("the fixed drop %q does not open as expected: %v", d.id, err)
		}
		x.drops = append(x.drops, v)
	}
	var err error
	if x.grantDave, err = hex.DecodeString(vectorUploaderGrantDave); err != nil {
		return nil, err
	}
	if name, err := OpenUploaderGrant(f.dave.keys, f.list.GrantRef("dave"), x.grantDave); err != nil || name != x.grantName {
		return nil, fmt.Errorf("the fixed uploader grant does not open as expected: %v", err)
	}

	scan := x.drops[0]
	x.dropRecord = &NodeRecord{Volume: scan.ref.Volume, Node: scan.ref.Node, Parent: scan.ref.Parent, Kind: KindFile,
		NameHash: [32]byte(named("dropped scan random name hash")), SealedKey: scan.sealed, Author: "dave", Version: 1}
	// Adoption as AdoptDrop does it, with fixed nonces.
	sk, err := wrapNodeKey(tf.docsKeys, scan.ref, scan.key, x.adoptKeyN)
	if err != nil {
		return nil, err
	}
	sn, err := sealName(tf.docsKeys, scan.ref, scan.nfc, x.adoptNameN)
	if err != nil {
		return nil, err
	}
	x.adopted = cloneNodeRecord(x.dropRecord)
	x.adopted.NameHash, x.adopted.SealedName, x.adopted.SealedKey = NameHash(tf.docsKeys, scan.nfc), sn, sk
	x.adopted.Author, x.adopted.Version = "bob", 2
	for _, r := range []*NodeRecord{x.dropRecord, x.adopted} {
		if err := r.Validate(); err != nil {
			return nil, err
		}
	}
	if !x.dropRecord.IsDrop() || x.adopted.IsDrop() {
		return nil, errors.New("drop and adopted records have the wrong form")
	}
	return x, nil
}

// inboxVectorGroups returns the construction notes and the groups of
// share.json for inbox drops, drop records and uploader grants, and a
// must_fail case for the share_grant group (an uploader grant opened as a
// share grant).
func inboxVectorGroups(f *shareVectorFixture) (construction, groups obj, grantFail obj, err error) {
	x, err := newInboxVectorFixture(f)
	if err != nil {
		return nil, nil, nil, err
	}
	tf, dave, bob := f.tree, f.dave, f.bob

	// Drops.
	var dropCases []obj
	for _, d := range x.drops {
		pt := append([]byte{inboxDropVersion}, d.key[:]...)
		pt = append(pt, namePlaintext(d.nfc)...)
		dropCases = append(dropCases, obj{
			{"inbox_seed_hex", h(f.inboxSeed)},
			{"inbox_public_hex", h(f.inbox.pub)},
			{"volume_hex", h(d.ref.Volume)},
			{"parent_hex", h(d.ref.Parent)},
			{"node_hex", h(d.ref.Node)},
			{"info_hex", h(tagged(labelInboxDrop, d.ref.fields()))},
			{"name_typed", d.typed},
			{"name", d.nfc},
			{"node_key_hex", h(d.key[:])},
			{"plaintext_hex", h(pt)},
			{"sealed_hex", h(d.sealed)},
		})
	}
	ds := x.drops[0].sealed
	dfail := func(why string, seed []byte, ref NodeRef, s []byte) obj {
		return obj{{"why", why}, {"inbox_seed_hex", h(seed)}, {"volume_hex", h(ref.Volume)}, {"parent_hex", h(ref.Parent)},
			{"node_hex", h(ref.Node)}, {"sealed_hex", h(s)}}
	}
	sref, seed := x.drops[0].ref, f.inboxSeed
	with := func(fn func(r *NodeRef)) NodeRef {
		r := sref
		fn(&r)
		return r
	}
	dropFails := []obj{
		dfail("other volume", seed, with(func(r *NodeRef) { r.Volume = f.otherVolume }), ds),
		dfail("other parent (moved to Archive)", seed, with(func(r *NodeRef) { r.Parent = tf.archive }), ds),
		dfail("other node (the photo's ID)", seed, with(func(r *NodeRef) { r.Node = x.drops[1].ref.Node }), ds),
		dfail("another folder's inbox key", x.otherInbox, sref, ds),
		dfail("the photo's drop under the scan's node ID (swap)", seed, sref, x.drops[1].sealed),
		dfail("version byte 0x02", seed, sref, flip(ds, 0, 0x03)),
		dfail("X-Wing ciphertext bit flipped", seed, sref, flip(ds, 10, 0x01)),
		dfail("X25519 ephemeral key bit flipped", seed, sref, flip(ds, 1+1100, 0x01)),
		dfail("AEAD ciphertext bit flipped (in the node key)", seed, sref, flip(ds, 1+xwingEncSize+5, 0x01)),
		dfail("tag bit flipped", seed, sref, flip(ds, len(ds)-1, 0x01)),
		dfail("truncated by one byte", seed, sref, ds[:len(ds)-1]),
		dfail("one byte appended", seed, sref, append(bytes.Clone(ds), 0)),
		dfail("32 bytes appended (a drop's size, one bucket longer)", seed, sref, append(bytes.Clone(ds), make([]byte, 32)...)),
		dfail("empty", seed, sref, nil),
	}

	// Drop records: dave's drop, and bob's adoption of it.
	recCase := func(r *NodeRecord, a vectorAccount) (obj, error) {
		sig, err := r.Sign(a.keys)
		if err != nil {
			return nil, err
		}
		o := recordObj(r)
		return append(o,
			kv{"is_drop", r.IsDrop()},
			kv{"signer_identity_seed_hex", h(a.idSeed)},
			kv{"author_public_hex", h(a.keys.IdentityPublic())},
			kv{"marshaled_hex", h(r.Marshal())},
			kv{"signature_hex", h(sig)}), nil
	}
	dropCase, err := recCase(x.dropRecord, dave)
	if err != nil {
		return nil, nil, nil, err
	}
	adoptCase, err := recCase(x.adopted, bob)
	if err != nil {
		return nil, nil, nil, err
	}
	adoptCase = append(adoptCase, kv{"adoption", obj{
		{"adopts", "the drop record of this group's first case: its node key and name are opened with the inbox key and re-sealed under Documents' keys"},
		{"parent_node_key_hex", h(tf.docsKey[:])},
		{"name", x.drops[0].nfc},
		{"node_key_hex", h(x.drops[0].key[:])},
		{"key_nonce_hex", h(x.adoptKeyN[:])},
		{"name_nonce_hex", h(x.adoptNameN[:])},
	}})
	davePub := dave.keys.IdentityPublic()
	dropSig, err := x.dropRecord.Sign(dave.keys)
	if err != nil {
		return nil, nil, nil, err
	}
	rfail := func(why string, r *NodeRecord, pub, sig []byte) obj {
		o := obj{{"why", why}}
		o = append(o, recordObj(r)...)
		return append(o, kv{"author_public_hex", h(pub)}, kv{"signature_hex", h(sig)})
	}
	edit := func(fn func(r *NodeRecord)) *NodeRecord {
		c := cloneNodeRecord(x.dropRecord)
		fn(c)
		return c
	}
	signRaw := func(r *NodeRecord) []byte {
		return ed25519.Sign(dave.keys.identity, tagged(labelNodeRecord, r.encode()))
	}
	malformed := func(why string, fn func(r *NodeRecord)) obj {
		r := edit(fn)
		if r.Validate() == nil {
			panic("vector " + why + " is valid")
		}
		return rfail("validly signed, "+why, r, davePub, signRaw(r))
	}
	recFails := []obj{
		rfail("verified under another key (alice's)", x.dropRecord, f.alice.keys.IdentityPublic(), dropSig),
		rfail("sealed drop bit flipped under the signature", edit(func(r *NodeRecord) { r.SealedKey = flip(r.SealedKey, 600, 0x04) }), davePub, dropSig),
		rfail("random name hash changed under the signature", edit(func(r *NodeRecord) { r.NameHash[0] ^= 0x01 }), davePub, dropSig),
		rfail("moved by the server to Archive", edit(func(r *NodeRecord) { r.Parent = tf.archive }), davePub, dropSig),
		rfail("author changed to bob", edit(func(r *NodeRecord) { r.Author = "bob" }), bob.keys.IdentityPublic(), dropSig),
		malformed("a drop of a folder (uploaders add files only)", func(r *NodeRecord) { r.Kind = KindFolder }),
		malformed("a drop key of 1201 bytes", func(r *NodeRecord) { r.SealedKey = r.SealedKey[:1201] }),
		malformed("a drop key of 1218 bytes (not a whole bucket)", func(r *NodeRecord) { r.SealedKey = append(bytes.Clone(r.SealedKey), make([]byte, 16)...) }),
		malformed("a drop key of 1490 bytes (ten buckets)", func(r *NodeRecord) { r.SealedKey = append(bytes.Clone(r.SealedKey), make([]byte, 288)...) }),
		malformed("no sealed name and a 61-byte wrapped node key", func(r *NodeRecord) { r.SealedKey = x.adopted.SealedKey }),
		malformed("a sealed name and a drop-size key", func(r *NodeRecord) { r.SealedName = x.adopted.SealedName }),
		malformed("a drop without a parent (root form)", func(r *NodeRecord) { r.Parent = nil }),
	}

	// Uploader grants.
	gref := f.list.GrantRef("dave")
	ginfo, err := gref.fields()
	if err != nil {
		return nil, nil, nil, err
	}
	gpt := append([]byte{uploaderGrantVersion}, namePlaintext(x.grantName)...)
	grantCase := obj{
		{"encryption_seed_hex", h(dave.xwSeed)},
		{"encryption_public_hex", h(dave.keys.EncryptionPublic())},
		{"share_hex", h(gref.Share)},
		{"volume_hex", h(gref.Volume)},
		{"node_hex", h(gref.Node)},
		{"member", gref.Member},
		{"info_hex", h(tagged(labelUploaderGrant, ginfo))},
		{"name_typed", x.grantName},
		{"name", x.grantName},
		{"plaintext_hex", h(gpt)},
		{"sealed_hex", h(x.grantDave)},
	}
	ufail := func(why string, seed, share, volume, node []byte, member string, s []byte) obj {
		return obj{{"why", why}, {"encryption_seed_hex", h(seed)}, {"share_hex", h(share)}, {"volume_hex", h(volume)},
			{"node_hex", h(node)}, {"member", member}, {"sealed_hex", h(s)}}
	}
	gs, dseed := x.grantDave, dave.xwSeed
	uploaderFails := []obj{
		ufail("opened as another member's grant (member carol)", dseed, f.share, tf.volume, tf.docs, "carol", gs),
		ufail("opened by another recipient (sealed to dave, opened with carol's key)", f.carol.xwSeed, f.share, tf.volume, tf.docs, "dave", gs),
		ufail("other share", dseed, f.otherShare, tf.volume, tf.docs, "dave", gs),
		ufail("other volume", dseed, f.share, f.otherVolume, tf.docs, "dave", gs),
		ufail("other node", dseed, f.share, tf.volume, tf.archive, "dave", gs),
		ufail("a share grant (bob's, of share_grant) opened as an uploader grant", bob.xwSeed, f.share, tf.volume, tf.docs, "bob", f.grantBob),
		ufail("version byte 0x02", dseed, f.share, tf.volume, tf.docs, "dave", flip(gs, 0, 0x03)),
		ufail("X-Wing ciphertext bit flipped", dseed, f.share, tf.volume, tf.docs, "dave", flip(gs, 10, 0x01)),
		ufail("AEAD ciphertext bit flipped", dseed, f.share, tf.volume, tf.docs, "dave", flip(gs, 1+xwingEncSize+3, 0x01)),
		ufail("tag bit flipped", dseed, f.share, tf.volume, tf.docs, "dave", flip(gs, len(gs)-1, 0x01)),
		ufail("truncated by one byte", dseed, f.share, tf.volume, tf.docs, "dave", gs[:len(gs)-1]),
		ufail("one byte appended", dseed, f.share, tf.volume, tf.docs, "dave", append(bytes.Clone(gs), 0)),
		ufail("empty", dseed, f.share, tf.volume, tf.docs, "dave", nil),
	}
	if _, _, err := OpenShareGrant(dave.keys, gref, gs); !errors.Is(err, ErrDecrypt) {
		return nil, nil, nil, errors.New("the uploader grant opens as a share grant")
	}
	grantFail = obj{{"why", "an uploader grant (dave's, of uploader_grant) opened as a share grant"},
		{"encryption_seed_hex", h(dseed)}, {"share_hex", h(f.share)}, {"volume_hex", h(tf.volume)}, {"node_hex", h(tf.docs)},
		{"member", "dave"}, {"key_check_hex", h(f.keyCheck[:])}, {"sealed_hex", h(gs)}}

	construction = obj{
		{"inbox_drop", "info = tagged(\"coffer/v1/inbox-drop\", LP(volume) || LP(parent) || LP(node)); " +
			"plaintext = 0x01 || node key (32) || uint16_be(len(nfc)) || nfc || zero bytes up to the next multiple of 32 bytes; " +
			"sealed = 0x01 || HPKE base-mode single-shot Seal(recipient=the folder's inbox public key (inbox_key), KEM 0x647a, KDF 0x0001, " +
			"AEAD 0x0002, info, aad=empty, plaintext) = 1170 + 32k bytes, k = 1..9. Opening requires one of those sizes, version 0x01 and a " +
			"canonical plaintext (as for sealed names in tree.json). HPKE encapsulation is randomized: open these vectors, do not reproduce them."},
		{"drop_record", "A node record (tree.json node_record, same encoding and signature) in the drop form: a parent, kind 2 (file), " +
			"an empty sealed_name, a sealed_key that is a sealed inbox drop (1170 + 32k bytes, k = 1..9), and any 32-byte name_hash " +
			"(random: the uploader cannot compute the folder's name hash). is_drop = parent non-empty and sealed_name empty. " +
			"Adoption is an ordinary record of the same node with version + 1, signed by a writer: sealed_key = the drop's node key " +
			"wrapped under the parent (tree.json wrapped_node_key), sealed_name and name_hash as in tree.json, the head fields unchanged. " +
			"The must_fail cases must fail verification under author_public_hex."},
		{"uploader_grant", "info = tagged(\"coffer/v1/uploader-grant\", LP(share) || LP(volume) || LP(node) || LP(member)); " +
			"plaintext = 0x01 || uint16_be(len(nfc)) || nfc || zero bytes up to the next multiple of 32 bytes; " +
			"sealed = 0x01 || HPKE Seal as for share_grant (recipient = the uploader's X-Wing public key) = 1138 + 32k bytes, k = 1..9. " +
			"No key and no key check. Randomized: open, do not reproduce."},
	}
	groups = obj{
		{"inbox_drop", obj{{"cases", dropCases}, {"must_fail", dropFails}}},
		{"drop_record", obj{{"cases", []obj{dropCase, adoptCase}}, {"must_fail", recFails}}},
		{"uploader_grant", obj{{"cases", []obj{grantCase}}, {"must_fail", uploaderFails}}},
	}
	return construction, groups, grantFail, nil
}
