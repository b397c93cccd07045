package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
)

// HPKE encapsulation is randomized and crypto/hpke cannot fix its
// randomness, so the share grants of share.json were sealed once and are
// kept here, as tree.json keeps its sealed root key; newShareVectorFixture
// checks that each still opens as described. Implementations must open
// them, not reproduce them.
const (
	// vectorGrantBob is SealShareGrant(bob's encryption public key,
	// GrantRef{share, volume, Documents, "bob", key check}, Documents'
	// node key, "Documents").
	vectorGrantBob = "" +
		"01208fd28ee10e81329e0ef9274092968d86afe954466ca661561994efe0aa98f8cc45b63f9562b149c4bb99de3c257e1c6c436a737f31531493ce585e98fe0e" +
		"17d509c957981bb034c28ac9c5e3449b42c5befdc3ab8b8f79d85e9bb38d03853d3eb18c9e2e8f1d96ecb83d3877f48255e5ddd3b5c0138cec2d464fdf67bada" +
		"4c694838434c8b9c07fc19c35ba3d51e7198357e1496fff74ecc1a035611ee4109389e7f13dac74daf867c733dd41eceb554f924c1e6e752ac4bb982383085e5" +
		"603a1b48e94e409d2e4c0288fafefe617b61edbf7518214fb622effdf32f3d46cce620b6abb60c22c58fc8eacce6848c3e16d23e30bb9d4b4e2b3a72d20418bd" +
		"cf08a219eec43dce73659814ad7bfd29d7025025a99a5556db13b9afceae00fa373b70c2b2673062b2b40f0ffc013fe78de25aabd5807eaf0c0cd665bf98f960" +
		"d2ad924bf7fcb0d6e5223b4a79baf8de2033d80ad214a4c92c5a7d1901dc601ec989e7ced49c193b20a0f96d418a548c9a8c95aeec71584cf209344f8a77bff4" +
		"1e08d766cdf3d5a67017b425977d9cbf6f8b26db4c20137643f52cde32ca1f7c378379fca78d5f412d35a3d8e2d4f09f072767eec61b204c373333c6137477ce" +
		"9819f7bb26351b9b74e06830296aa3c39b3d9e1147a474f2cd0f9529164db9fd538910a44ddfb266be63b9db6a6bead58525025d5393848f80d6cf1829b0d6b5" +
		"7808a379713cbb32d21104089efa8daac3879361156803dbea04966dbf2852bfc9153c2bfee23e8d2fa0fecc8b93839b10a9afebfbbb46d72acf4459f8faa819" +
		"c1ee4f67b8fa395608590a402156687c2c80966fbeb9d83a28237f5c7f3a5f57e90121db4bcf0e472fc6505943c78b69974aa691aa465afc4026cec09be398a7" +
		"3a9f23c591c8ef8029f1c780aa2c18324cfef45eb667e7f3ef2dcabb6fb2a405a9cf3302e292818cf860ae4d82bbfdde9e08ec866d5e138a7f6ea1ec0bf34a8c" +
		"f441ab647755e08a809680f8e5cb9be5ad8b09111c946f3f4eed375948235f4bea5f4de20cfbd35cd013aa7d3f660bac6c450ddb7a1514bfabde73d78fe3f1a4" +
		"282e7cbd4fe6820eca496f90ce37522b9742ed5c32328e933e2beacf2d7c87d2ad337cf83fe267b2ad4c83361ff51c91c5634d023089d8e674600f3319ba4fe3" +
		"8a6f87e9b265590d3e17d12467106798670d884364128773aecaf8e1a73186a164c91a91f585cf5185890bfe7bf664f18c14798fb89d7713d220de138e51d1b4" +
		"872c759bf5b2c616ad7fc5a70dd33dcfeea13760ca2b051c6dc29d2582481811233474d88a19b79d06f5809489b8cc0ba6d4e1f45f8a9a0e99ae8ccebe35b0cc" +
		"2206ed2d1123809d1300cafa0f38c017faaa3e33f1dac4880b515c7c766c5e609357571a6d6ce024d279c7bb22d3ecd298b110f4586ae3a5ecb1bd46517f2237" +
		"1e171df4b82240e833f3b9abc2debe27c0612a3e060379711c3b1a36522adaf1b7981ed8c4a005c099248fd6bccfb4ee07dcd92c6312317bdfeb383734ec2270" +
		"72fb0349bb90d59d6201b04e00362e829b72a791c173a8be5d78737b47c05e08152bc769cc8c90a260898249ea43507221a78be6fcfb1136c17d214ca187d30b" +
		"f656f3f97accd778de6eaee90e69965ccd87454de6c5a30c1edb5c37da695bc43209b15c9facec091c15a50655700973975f"
	// vectorGrantCarol is the grant of the same share to carol, under the
	// name "Cafe\u0301 plans" typed decomposed (it opens as NFC).
	vectorGrantCarol = "" +
		"01f9f9a3a96038e513c9a21189f4c93d647e84f554afc9b3f3b006b4e5fab7d26f202f771de948560aa46f3d8636b4876b477c61ef4d874ed48ac2ce843b326b" +
		"758484aeaa7a4612b36d8f1d2a90b0b07134b2c0db5cb0598204b00a2f4b65ba8662b7691a14d005c80ecce60aeac4eb37714d7a7b4ff9c2e2400971cb21444c" +
		"fa4c9113a429e838f92397bd677f187b9f33b8f3ee24834a665329ac1dad4f9d640f27d96545fd1ea7e0a3256d985a0411ea929bea4285e527241ef90065c246" +
		"28d1aa00690c629f4774535758e0f9f63f7936556e27580701dd1e62e9eb9bc76242f347dcb972b0bffde513eca83f3a622bfe14b7194dcf3cf5e8287a9c108f" +
		"9cf9ad3db4598051d8ebafc1573d4a45eb38b34d41031312439b0e5cb7df96cbf92e541deebf86d685689fed21ec734e6444cb4e661d19c6ed99ee6f298dca7d" +
		"c8b332f8734ebb9968c5f355ed78b62bdd54cec9474608926f5b2279eb4505798db09e2937589620fa9559dc0fe5b7e5b3653aa4da7e84b4fe9cbc05efbbb153" +
		"6695fd0b19ab004a472fccdeab1e0b1f0c4657593b5939aefd873b76ec0a6912a8e8ea8d3044f43825769e32a7df3d3c937a0cafde2d75df9f0956b3eb864a69" +
		"43f80ad429efd05fa15b0d338fc09bd7468947d0b5d5b8ee300578b31777b4e1e9f89b05187002ea41dd65643ec9bb55b04b07d207117a8e7a4b11110a16f478" +
		"fb9e2a169558a106d5a0bbaa5e420a2d7820bb862b693a925f585f0be3cd4a6e745e6de49b804164ca11778e77a3d3937fd9aeabb9f3e469d7c8c57791f734ed" +
		"3981079678d671f5e2ea433dcca0559ac790d1b92ed9e4d93c48c46ebc367e56b67c58358d099976d78bceeef636ecaaef7899c48adbd3d9e9dbd0b8e4d8b4cd" +
		"a3bb7ac3228678d3c0d2213cabe3924640fab7d80e230e43534b5d63bcc2d5140b920d4eed81d0120d2bd4a4262e84bb259d7586790ab1d8b64190977eb0aaf4" +
		"4654382617dbca0c465335c5cc650f685f1a4dc0abe2e2790406047ec89eeccdad7b83a51db8dc328b355fee9048e993ce31d32eac7481fe2691575dc436dc05" +
		"c214fea09c9b89f81bd0a08b794313b12d0385cd1b3463949d457f44bb72cc5d735a6ef44d1cc4758b6284bd8a13c83e15e3f5d14c190edc7f5225eb190431cf" +
		"8fe7888b33f2d7d207e700c424d3c679957a249a801a067808b659db31c52429fe30d0c82ebae4de11d42b553a755f66c1287b4a0c83e8de6fb8b1873a3a4cda" +
		"0ff8b5f6b531b00aae4c5e424137ba3cd284011432aedc5bd64548bac28ee41ec804cb31a09abbf676982f6c639ee68c2038bf97e9386de919582396a27a25de" +
		"56353c6ead92128505c29acfce97958c6d791f7ea2c6ed090267e35637ce56c71ecbb96c6d43822c81722d0832a78e973a8daf1aca17169cde9db0de209aa0ae" +
		"40a56f952617998e07c59fd3dc20b8b9528cc29025260c816a1f16b5816df08ea87ca10b6a74e270154e310deeab34daf753e4015810ddecf3c20a31eee84a91" +
		"9c8038a5ceadb026a7385fac29c72e9817310416d459ad3f3f0291ac0b35d20d51d3b0f4aef9c6bbf7157f43e86f84443c3e5d734629170d0e5e9f087d599ffe" +
		"5213bb0ab340f5994d5e526031a0f9c70ae92bff21b6730f671b3c3419d0fc13390765277b801f4169b2f2e3d1bde4e0bec0"
	// vectorGrantForged is a grant to bob that everything but the owner
	// could make: sealed correctly to bob's public key under bob's
	// GrantRef, but holding vectorNodeKey("server-chosen"), which does not
	// match the list's key check.
	vectorGrantForged = "" +
		"0114651d4eda30d740458352fcd37e27d375426a5be8122c564eb8643ad191eedbec5c5a17fd21067dc989369b97aeb1d5b26a2affba5238d0260da2f008bae4" +
		"396ad723202c765f69d1f150083afec1a8f55d2409c68118de04fb2c47c03f92f027f215741cdbac510aeb00f7a33a1f278b817c980e2d5e51dba7740edf4dd8" +
		"7668c942646492df4024544aa6e880d6ca1b221f24475a6990efb2358c26e528bafd389d92230b382582e41fa563218dd38499d50607ad9df2c0fd94e8418e6a" +
		"1b58889c67aa1309d8f63735fd439db639472310d42885b109f20dd748226984015c60cd3fba7cb89bfea127b9d0a43ba4971d75ae2618a2a62ac3351b879984" +
		"9b3b00a0a1881651212454c0cdd8d15e5334f0fcaa41298ad061291e36fb831f7da6ed8a60b0f0f0f76854188e5cfabf0dd309698637ab6aff9ab3dda4cbee95" +
		"07d4747e1f7340a330ba035b22282d162d25c95c39a19c1c28bd9b63884aa5603931425d3273f3154a8739fcdeea87d668a5d11ecd5d6ce06cf2c151fb187ca6" +
		"6ad1ffab8969583e9df1e7d9dedf983a32eb59f5348dd6e8788fb58fa12c96e115263d2a6ae12d5fd27b477f0a68bc71a1fc5221c4a9b3817ebb849c8beb7012" +
		"018802d17f5be5f860410c78986b18f7d4947852e5c3cd3e7bc1376fec8ad55a5075c655255143be9eda6d144cde117ac73638390f0995e0af71b9a036aaff44" +
		"de1bba7862460645d12fd96d107e733ff7a0bb6d4c2c2350c8b1e4838a57701c7f76dabc851335d422e99bbc537059c5b49ba4a48c1c5b4a65978fa504f0feff" +
		"beb6025fae21a1042e69ee27ec67879797ccbab1c25b99c5482badddeed93b1f317647e3259a622677b9c2fd68b4fbbe30dcd6a0eabbbc0103871b53a509a343" +
		"237515bb7a4c74864a290521bccd5d9fb40f6a69996761f6c4067c2a402b27c7183c45cd506803ad19c5be9ea060ebe3328599492b8f7a61c0c756bf618e8078" +
		"bdf880f9fa45ce92d9bf44a69c36cc179bee0b8f2f9022a7f69d17bca3b42bc47b56f81643ccbe509317f99d9fe7057c9464e74c5abbd1df00c808576d3a50c0" +
		"cb58703ae6ab9410567d4ece27319af937dabcdd193f27d4ee82c61e50013f1960c26c88e1126c85d09b107c0c193d426aa307cc7fdac10844cebfad2d8b5122" +
		"862ae0aa325e2395fab930c17594d3edc928e512c7434cda3f690905a4f5482269cee316a4fb8062af844c593174539d0c7574e5914875aaede6e629d2a735b4" +
		"4bec936abcdff7b1608e296e544657e1a01ce8d87c589f7c56c365265cdce91477f4d707a733595f6853d8ecec9dbf87f7b397f18120cb8493e94712d59e8154" +
		"393aa3f41c42cf587d9bb56f6f8ee29ce53d1cf739aea5e4aeb2fca4478f2bcf493d0cddf91c2abb797b05350f25ce2563ac3310a335282f315d5f33f1ed783d" +
		"ac082566850a3f35bf52fe8049d663426c91e97be463c624b107c7564f4c32cd4706f245e68353ef0519875bc98fcdda2da4691dcdfd2c01f6da0a0396d23beb" +
		"4e7169b6bc05c978a0279b9a38f3eb84c3e859955a5192c3cbda764f8c92f6436899ba6e229266118018130365066b78a045ecb718bbdc2def40290d42097f97" +
		"cd7d7034012b54f0b841f581a39f7d1cd0e9c2d24f31a8f3c169876d995c43626c822b6d8442ec408e192fae7ebc5d156359"
)

// vectorShareCreated is the creation time of the members' bundles
// (2026-01-01 UTC).
const vectorShareCreated = 1767225600

// shareVectorFixture is alice sharing Documents (tree.json) with bob
// (editor), carol (viewer) and dave (uploader).
type shareVectorFixture struct {
	tree             *treeFixture
	alice, bob       vectorAccount
	carol, dave      vectorAccount
	bundles          map[string][]byte
	share            []byte
	keyCheck         [32]byte
	inboxSeed        []byte
	inbox            *InboxKey
	list             *ShareList
	grantBob         []byte
	grantCarol       []byte
	grantForged      []byte
	serverChosenKey  NodeKey
	carolNameTyped   string
	carolNameOpened  string
	grantBobName     string
	otherShare       []byte
	otherVolume      []byte
	acceptance       *Acceptance
	inboxSealNonce   *[nonceSize]byte
	sealedInbox      []byte
	otherInboxPublic []byte
}

func newShareVectorFixture() (*shareVectorFixture, error) {
	tf, err := newTreeFixture()
	if err != nil {
		return nil, err
	}
	f := &shareVectorFixture{
		tree: tf, alice: tf.alice, bob: tf.bob,
		carol:           vectorAccount{name: "carol", idSeed: named("carol identity seed"), xwSeed: named("carol encryption seed")},
		dave:            vectorAccount{name: "dave", idSeed: named("dave identity seed"), xwSeed: named("dave encryption seed")},
		share:           vectorID("share"),
		otherShare:      vectorID("other share"),
		otherVolume:     vectorID("other volume"),
		inboxSeed:       named("inbox seed"),
		serverChosenKey: vectorNodeKey("server-chosen"),
		grantBobName:    "Documents",
		carolNameTyped:  "Cafe\u0301 plans",
		carolNameOpened: "Caf\u00e9 plans",
		inboxSealNonce:  nonce12(0xd0),
	}
	for _, a := range []*vectorAccount{&f.carol, &f.dave} {
		if a.keys, err = NewAccountKeysFromSeeds(a.idSeed, a.xwSeed); err != nil {
			return nil, err
		}
	}
	f.bundles = map[string][]byte{}
	fps := map[string][32]byte{}
	for _, a := range []vectorAccount{f.bob, f.carol, f.dave} {
		s, err := a.keys.SignBundle(a.name, vectorShareCreated)
		if err != nil {
			return nil, err
		}
		b, err := OpenBundle(s, a.name)
		if err != nil {
			return nil, err
		}
		f.bundles[a.name], fps[a.name] = s, b.FingerprintBytes()
	}
	if f.keyCheck, err = ShareKeyCheck(f.share, tf.volume, tf.docs, tf.docsKey); err != nil {
		return nil, err
	}
	if f.inbox, err = newInboxKey(f.inboxSeed); err != nil {
		return nil, err
	}
	other, err := newInboxKey(named("other inbox seed"))
	if err != nil {
		return nil, err
	}
	f.otherInboxPublic = other.Public()
	f.list = &ShareList{
		Share: f.share, Volume: tf.volume, Node: tf.docs, Owner: "alice", Version: 4,
		KeyCheck: f.keyCheck, InboxPublic: f.inbox.Public(),
		Members: []ShareMember{
			{Name: "bob", Fingerprint: fps["bob"], Role: RoleEditor},
			{Name: "carol", Fingerprint: fps["carol"], Role: RoleViewer},
			{Name: "dave", Fingerprint: fps["dave"], Role: RoleUploader},
		},
	}
	if err := f.list.Validate(); err != nil {
		return nil, err
	}
	f.acceptance = &Acceptance{Share: f.share, Volume: tf.volume, Node: tf.docs, Owner: "alice", Member: "bob"}
	if f.sealedInbox, err = sealInboxKey(tf.docsKeys, tf.volume, tf.docs, f.inbox, f.inboxSealNonce); err != nil {
		return nil, err
	}

	for _, g := range []struct {
		hex      string
		dst      *[]byte
		keys     *AccountKeys
		member   string
		wantKey  NodeKey
		wantName string
		forged   bool
	}{
		{vectorGrantBob, &f.grantBob, f.bob.keys, "bob", tf.docsKey, f.grantBobName, false},
		{vectorGrantCarol, &f.grantCarol, f.carol.keys, "carol", tf.docsKey, f.carolNameOpened, false},
		{vectorGrantForged, &f.grantForged, f.bob.keys, "bob", f.serverChosenKey, f.grantBobName, true},
	} {
		if *g.dst, err = hex.DecodeString(g.hex); err != nil {
			return nil, err
		}
		ref := f.list.GrantRef(g.member)
		if g.forged {
			// It must open under HPKE (so that it is the key check, not
			// the AEAD, that refuses it) and then be refused.
			info, err := ref.info()
			if err != nil {
				return nil, err
			}
			pt, err := hpkeOpen(g.keys.encryption, labelShareGrant, info, *g.dst)
			if err != nil || !bytes.Equal(pt[1:33], g.wantKey[:]) {
				return nil, fmt.Errorf("vectorGrantForged does not open to the server's key: %v", err)
			}
			if _, _, err := OpenShareGrant(g.keys, ref, *g.dst); !errors.Is(err, ErrDecrypt) {
				return nil, errors.New("vectorGrantForged is accepted")
			}
			continue
		}
		k, name, err := OpenShareGrant(g.keys, ref, *g.dst)
		if err != nil || k != g.wantKey || name != g.wantName {
			return nil, fmt.Errorf("the fixed grant to %s does not open as expected: %v", g.member, err)
		}
	}
	return f, nil
}

func shareListObj(l *ShareList) obj {
	members := []obj{}
	for _, m := range l.Members {
		members = append(members, obj{
			{"member", m.Name},
			{"fingerprint_hex", h(m.Fingerprint[:])},
			{"role", m.Role.String()},
			{"role_code", uint8(m.Role)},
		})
	}
	return obj{
		{"share_hex", h(l.Share)},
		{"volume_hex", h(l.Volume)},
		{"node_hex", h(l.Node)},
		{"owner", l.Owner},
		{"version", l.Version},
		{"key_check_hex", h(l.KeyCheck[:])},
		{"inbox_public_hex", h(l.InboxPublic)},
		{"members", members},
	}
}

func shareVectors() (obj, error) {
	f, err := newShareVectorFixture()
	if err != nil {
		return nil, err
	}
	tf, alice, bob, carol := f.tree, f.alice, f.bob, f.carol
	alicePub := alice.keys.IdentityPublic()

	// Members' bundles, from which the fingerprints in the lists come.
	var memberCases []obj
	for _, a := range []vectorAccount{bob, carol, f.dave} {
		b, err := OpenBundle(f.bundles[a.name], a.name)
		if err != nil {
			return nil, err
		}
		fp := b.FingerprintBytes()
		memberCases = append(memberCases, obj{
			{"member", a.name},
			{"identity_seed_hex", h(a.idSeed)},
			{"encryption_seed_hex", h(a.xwSeed)},
			{"bundle_hex", h(f.bundles[a.name])},
			{"fingerprint_hex", h(fp[:])},
		})
	}

	// Key check values.
	var checkCases []obj
	for _, in := range []struct {
		share, node []byte
		key         NodeKey
	}{
		{f.share, tf.docs, tf.docsKey},
		{f.otherShare, tf.docs, tf.docsKey},
		{f.share, tf.file, tf.fileKey},
	} {
		kc, err := ShareKeyCheck(in.share, tf.volume, in.node, in.key)
		if err != nil {
			return nil, err
		}
		checkCases = append(checkCases, obj{
			{"share_hex", h(in.share)},
			{"volume_hex", h(tf.volume)},
			{"node_hex", h(in.node)},
			{"node_key_hex", h(in.key[:])},
			{"info_hex", h(tagged(labelShareKeyCheck, idFields(in.share, tf.volume, in.node)))},
			{"key_check_hex", h(kc[:])},
		})
	}

	// Member lists.
	edit := func(base *ShareList, fn func(l *ShareList)) *ShareList {
		c := *base
		c.Members = append([]ShareMember(nil), base.Members...)
		fn(&c)
		return &c
	}
	noMembers := edit(f.list, func(l *ShareList) { l.Version, l.Members, l.InboxPublic = 1, nil, nil })
	editorOnly := edit(f.list, func(l *ShareList) { l.Version, l.Members, l.InboxPublic = 2, l.Members[:1], nil })
	var listCases []obj
	var listSigs [][]byte
	for _, l := range []*ShareList{f.list, noMembers, editorOnly} {
		sig, err := l.Sign(alice.keys)
		if err != nil {
			return nil, err
		}
		if err := l.Verify(alicePub, sig); err != nil {
			return nil, err
		}
		listSigs = append(listSigs, sig)
		o := shareListObj(l)
		o = append(o,
			kv{"signer_identity_seed_hex", h(alice.idSeed)},
			kv{"owner_public_hex", h(alicePub)},
			kv{"marshaled_hex", h(l.Marshal())},
			kv{"signature_hex", h(sig)})
		listCases = append(listCases, o)
	}
	sig := listSigs[0]
	signRaw := func(l *ShareList) []byte {
		return ed25519.Sign(alice.keys.identity, tagged(labelShareList, l.encode()))
	}
	lfail := func(why string, marshaled, pub, sig []byte) obj {
		return obj{{"why", why}, {"marshaled_hex", h(marshaled)}, {"owner_public_hex", h(pub)}, {"signature_hex", h(sig)}}
	}
	lfailList := func(why string, l *ShareList, pub, sig []byte) obj {
		return lfail(why, l.encode(), pub, sig)
	}
	m := f.list.Marshal()
	otherShareList := edit(f.list, func(l *ShareList) { l.Share = f.otherShare })
	otherNodeList := edit(f.list, func(l *ShareList) { l.Node = tf.archive })
	unsorted := edit(f.list, func(l *ShareList) { l.Members[0], l.Members[1] = l.Members[1], l.Members[0] })
	duplicate := edit(f.list, func(l *ShareList) { l.Members[1] = l.Members[0] })
	badRole := edit(f.list, func(l *ShareList) { l.Members[1].Role = 4 })
	ownerMember := edit(f.list, func(l *ShareList) { l.Members[0].Name = "alice"; l.Members[0].Fingerprint = [32]byte{1} })
	noInbox := edit(f.list, func(l *ShareList) { l.InboxPublic = nil })
	inboxNoUploader := edit(f.list, func(l *ShareList) { l.Members = l.Members[:2] })
	zeroCheck := edit(f.list, func(l *ShareList) { l.KeyCheck = [32]byte{} })
	zeroFP := edit(f.list, func(l *ShareList) { l.Members[2].Fingerprint = [32]byte{} })
	version0 := edit(f.list, func(l *ShareList) { l.Version = 0 })
	shortShare := edit(f.list, func(l *ShareList) { l.Share = l.Share[:15] })
	identityPoint := append([]byte{1}, make([]byte, 31)...)
	if !ed25519.Verify(identityPoint, tagged(labelShareList, m), trivialSignature()) {
		return nil, errors.New("trivial signature does not verify under the identity point")
	}
	bobSig, err := f.list.Sign(bob.keys)
	if err != nil {
		return nil, err
	}
	listFails := []obj{
		lfailList("version raised (5) under the version 4 signature", edit(f.list, func(l *ShareList) { l.Version = 5 }), alicePub, sig),
		lfailList("version lowered (3) under the version 4 signature (rollback)", edit(f.list, func(l *ShareList) { l.Version = 3 }), alicePub, sig),
		lfailList("member added", edit(f.list, func(l *ShareList) {
			l.Members = append(l.Members, ShareMember{Name: "mallory", Fingerprint: l.Members[0].Fingerprint, Role: RoleEditor})
		}), alicePub, sig),
		lfailList("member removed", edit(f.list, func(l *ShareList) { l.Members = l.Members[1:] }), alicePub, sig),
		lfailList("carol's role changed from viewer to editor", edit(f.list, func(l *ShareList) { l.Members[1].Role = RoleEditor }), alicePub, sig),
		lfailList("bob's fingerprint changed (another key pinned for bob)", edit(f.list, func(l *ShareList) { l.Members[0].Fingerprint[0] ^= 1 }), alicePub, sig),
		lfailList("key check changed", edit(f.list, func(l *ShareList) { l.KeyCheck[31] ^= 0x80 }), alicePub, sig),
		lfailList("inbox public key replaced", edit(f.list, func(l *ShareList) { l.InboxPublic = f.otherInboxPublic }), alicePub, sig),
		lfailList("owner name changed", edit(f.list, func(l *ShareList) { l.Owner = "alicia" }), alicePub, sig),
		lfailList("replayed: list signed for another share", f.list, alicePub, signRaw(otherShareList)),
		lfailList("replayed: list signed for another node", f.list, alicePub, signRaw(otherNodeList)),
		lfailList("replayed: the same share's version 1 signature", f.list, alicePub, listSigs[1]),
		lfail("signed by bob, verified with alice's key", m, alicePub, bobSig),
		lfail("signed by alice, owner key given as bob's", m, bob.keys.IdentityPublic(), sig),
		lfail("owner key is the identity point (small order); R = identity, S = 0", m, identityPoint, trivialSignature()),
		lfail("signature bit flipped", m, alicePub, flip(sig, 40, 0x02)),
		lfail("signature truncated", m, alicePub, sig[:63]),
		lfail("signed without the domain label", m, alicePub, ed25519.Sign(alice.keys.identity, m)),
		lfail("signed as a node record (other label)", m, alicePub, ed25519.Sign(alice.keys.identity, tagged(labelNodeRecord, m))),
		lfail("marshaled byte flipped in the owner name", flip(m, 1+3*(4+IDSize)+4, 0x01), alicePub, sig),
		lfail("marshaled byte flipped in the inbox key", flip(m, 200, 0x01), alicePub, sig),
		lfail("marshaled byte flipped in the last member's role", flip(m, len(m)-1, 0x01), alicePub, sig),
		lfail("truncated by one byte", m[:len(m)-1], alicePub, sig),
		lfail("one byte appended", append(bytes.Clone(m), 0), alicePub, sig),
		lfail("version byte 0x02", flip(m, 0, 0x03), alicePub, sig),
		lfail("empty", nil, alicePub, sig),
		lfailList("validly signed, members not sorted", unsorted, alicePub, signRaw(unsorted)),
		lfailList("validly signed, member listed twice", duplicate, alicePub, signRaw(duplicate)),
		lfailList("validly signed, role 4", badRole, alicePub, signRaw(badRole)),
		lfailList("validly signed, the owner listed as a member", ownerMember, alicePub, signRaw(ownerMember)),
		lfailList("validly signed, an uploader but no inbox key", noInbox, alicePub, signRaw(noInbox)),
		lfailList("validly signed, an inbox key but no uploader", inboxNoUploader, alicePub, signRaw(inboxNoUploader)),
		lfailList("validly signed, all-zero key check", zeroCheck, alicePub, signRaw(zeroCheck)),
		lfailList("validly signed, all-zero fingerprint", zeroFP, alicePub, signRaw(zeroFP)),
		lfailList("validly signed, version 0", version0, alicePub, signRaw(version0)),
		lfailList("validly signed, 15-byte share ID", shortShare, alicePub, signRaw(shortShare)),
	}

	// Grants.
	grantCase := func(a vectorAccount, name, typed string, sealed []byte) (obj, error) {
		ref := f.list.GrantRef(a.name)
		info, err := ref.info()
		if err != nil {
			return nil, err
		}
		pt := append([]byte{shareGrantVersion}, tf.docsKey[:]...)
		pt = append(pt, namePlaintext(name)...)
		return obj{
			{"encryption_seed_hex", h(a.xwSeed)},
			{"encryption_public_hex", h(a.keys.EncryptionPublic())},
			{"share_hex", h(ref.Share)},
			{"volume_hex", h(ref.Volume)},
			{"node_hex", h(ref.Node)},
			{"member", a.name},
			{"key_check_hex", h(ref.KeyCheck[:])},
			{"info_hex", h(tagged(labelShareGrant, info))},
			{"name_typed", typed},
			{"name", name},
			{"plaintext_hex", h(pt)},
			{"node_key_hex", h(tf.docsKey[:])},
			{"sealed_hex", h(sealed)},
		}, nil
	}
	gb, err := grantCase(bob, f.grantBobName, f.grantBobName, f.grantBob)
	if err != nil {
		return nil, err
	}
	gc, err := grantCase(carol, f.carolNameOpened, f.carolNameTyped, f.grantCarol)
	if err != nil {
		return nil, err
	}
	gs := f.grantBob
	gfail := func(why string, seed, share, volume, node []byte, member string, kc [32]byte, s []byte) obj {
		return obj{{"why", why}, {"encryption_seed_hex", h(seed)}, {"share_hex", h(share)}, {"volume_hex", h(volume)},
			{"node_hex", h(node)}, {"member", member}, {"key_check_hex", h(kc[:])}, {"sealed_hex", h(s)}}
	}
	otherCheck := f.keyCheck
	otherCheck[0] ^= 1
	bs, kc := bob.xwSeed, f.keyCheck
	grantFails := []obj{
		gfail("opened as another member's grant (member carol)", bs, f.share, tf.volume, tf.docs, "carol", kc, gs),
		gfail("opened by another recipient (sealed to bob, opened with carol's key)", carol.xwSeed, f.share, tf.volume, tf.docs, "bob", kc, gs),
		gfail("other share", bs, f.otherShare, tf.volume, tf.docs, "bob", kc, gs),
		gfail("other volume", bs, f.share, f.otherVolume, tf.docs, "bob", kc, gs),
		gfail("other node", bs, f.share, tf.volume, tf.archive, "bob", kc, gs),
		gfail("key check of the list does not match the key in the grant", bs, f.share, tf.volume, tf.docs, "bob", otherCheck, gs),
		gfail("sealed by someone other than the owner (HPKE opens) with a key of its own: refused by the key check",
			bs, f.share, tf.volume, tf.docs, "bob", kc, f.grantForged),
		gfail("version byte 0x02", bs, f.share, tf.volume, tf.docs, "bob", kc, flip(gs, 0, 0x03)),
		gfail("X-Wing ciphertext bit flipped", bs, f.share, tf.volume, tf.docs, "bob", kc, flip(gs, 10, 0x01)),
		gfail("X25519 ephemeral key bit flipped", bs, f.share, tf.volume, tf.docs, "bob", kc, flip(gs, 1+1100, 0x01)),
		gfail("AEAD ciphertext bit flipped", bs, f.share, tf.volume, tf.docs, "bob", kc, flip(gs, 1+xwingEncSize+3, 0x01)),
		gfail("tag bit flipped", bs, f.share, tf.volume, tf.docs, "bob", kc, flip(gs, len(gs)-1, 0x01)),
		gfail("truncated by one byte", bs, f.share, tf.volume, tf.docs, "bob", kc, gs[:len(gs)-1]),
		gfail("one byte appended", bs, f.share, tf.volume, tf.docs, "bob", kc, append(bytes.Clone(gs), 0)),
		gfail("empty", bs, f.share, tf.volume, tf.docs, "bob", kc, nil),
	}

	// Acceptance.
	a := f.acceptance
	accMsg := tagged(labelShareAccept, a.encode())
	accSig, err := a.Sign(bob.keys)
	if err != nil {
		return nil, err
	}
	bobPub := bob.keys.IdentityPublic()
	accObj := func(a *Acceptance) obj {
		return obj{{"share_hex", h(a.Share)}, {"volume_hex", h(a.Volume)}, {"node_hex", h(a.Node)}, {"owner", a.Owner}, {"member", a.Member}}
	}
	accCase := accObj(a)
	accCase = append(accCase,
		kv{"signer_identity_seed_hex", h(bob.idSeed)},
		kv{"member_public_hex", h(bobPub)},
		kv{"message_hex", h(accMsg)},
		kv{"signature_hex", h(accSig)})
	afail := func(why string, fn func(a *Acceptance), pub, sig []byte) obj {
		c := *a
		fn(&c)
		o := obj{{"why", why}}
		o = append(o, accObj(&c)...)
		return append(o, kv{"member_public_hex", h(pub)}, kv{"signature_hex", h(sig)})
	}
	same := func(*Acceptance) {}
	selfAcc := &Acceptance{Share: f.share, Volume: tf.volume, Node: tf.docs, Owner: "bob", Member: "bob"}
	selfSig := ed25519.Sign(bob.keys.identity, tagged(labelShareAccept, selfAcc.encode()))
	accFails := []obj{
		afail("other share", func(a *Acceptance) { a.Share = f.otherShare }, bobPub, accSig),
		afail("other volume", func(a *Acceptance) { a.Volume = f.otherVolume }, bobPub, accSig),
		afail("other node", func(a *Acceptance) { a.Node = tf.archive }, bobPub, accSig),
		afail("other owner", func(a *Acceptance) { a.Owner = "carol" }, bobPub, accSig),
		afail("other member (carol), with carol's key", func(a *Acceptance) { a.Member = "carol" }, carol.keys.IdentityPublic(), accSig),
		afail("verified with the owner's key", same, alicePub, accSig),
		afail("signature bit flipped", same, bobPub, flip(accSig, 5, 0x20)),
		afail("signature truncated", same, bobPub, accSig[:63]),
		afail("signed without the domain label", same, bobPub, ed25519.Sign(bob.keys.identity, a.encode())),
		afail("member key is the identity point (small order); R = identity, S = 0", same, identityPoint, trivialSignature()),
		afail("validly signed, owner and member the same", func(a *Acceptance) { *a = *selfAcc }, bobPub, selfSig),
	}
	if !ed25519.Verify(identityPoint, accMsg, trivialSignature()) {
		return nil, errors.New("trivial signature does not verify under the identity point for the acceptance")
	}

	// Inbox key.
	inboxWrap, err := hkdf32(tf.docsKey[:], labelInboxKeyWrap, "")
	if err != nil {
		return nil, err
	}
	fields, err := inboxKeyFields(tf.volume, tf.docs, f.inbox.pub)
	if err != nil {
		return nil, err
	}
	inboxCases := []obj{{
		{"folder_node_key_hex", h(tf.docsKey[:])},
		{"inbox_key_wrap_hex", h(inboxWrap[:])},
		{"volume_hex", h(tf.volume)},
		{"node_hex", h(tf.docs)},
		{"inbox_seed_hex", h(f.inboxSeed)},
		{"inbox_public_hex", h(f.inbox.pub)},
		{"nonce_hex", h(f.inboxSealNonce[:])},
		{"ad_hex", h(envelopeAD(labelInboxKey, fields))},
		{"sealed_hex", h(f.sealedInbox)},
	}}
	si := f.sealedInbox
	ifail := func(why string, fk NodeKey, vol, node, pub, s []byte) obj {
		return obj{{"why", why}, {"folder_node_key_hex", h(fk[:])}, {"volume_hex", h(vol)}, {"node_hex", h(node)},
			{"inbox_public_hex", h(pub)}, {"sealed_hex", h(s)}}
	}
	// A seed sealed correctly but with another public key in the AD: only
	// a holder of the folder key can make it, and it is still refused.
	otherFields, err := inboxKeyFields(tf.volume, tf.docs, f.otherInboxPublic)
	if err != nil {
		return nil, err
	}
	mismatched, err := sealWith(tf.docsKeys.inbox, nonce12(0xd8), labelInboxKey, otherFields, f.inboxSeed)
	if err != nil {
		return nil, err
	}
	dk, pub := tf.docsKey, f.inbox.pub
	inboxFails := []obj{
		ifail("other folder's key (Archive)", tf.archiveKey, tf.volume, tf.docs, pub, si),
		ifail("other volume", dk, f.otherVolume, tf.docs, pub, si),
		ifail("other node", dk, tf.volume, tf.archive, pub, si),
		ifail("other public key in the share list", dk, tf.volume, tf.docs, f.otherInboxPublic, si),
		ifail("validly sealed, but the seed's public key is not the one in the AD", dk, tf.volume, tf.docs, f.otherInboxPublic, mismatched),
		ifail("version byte 0x02", dk, tf.volume, tf.docs, pub, flip(si, 0, 0x03)),
		ifail("nonce bit flipped", dk, tf.volume, tf.docs, pub, flip(si, 1, 0x01)),
		ifail("ciphertext bit flipped", dk, tf.volume, tf.docs, pub, flip(si, 20, 0x10)),
		ifail("tag bit flipped", dk, tf.volume, tf.docs, pub, flip(si, len(si)-1, 0x80)),
		ifail("truncated by one byte", dk, tf.volume, tf.docs, pub, si[:len(si)-1]),
		ifail("one byte appended", dk, tf.volume, tf.docs, pub, append(bytes.Clone(si), 0)),
		ifail("empty", dk, tf.volume, tf.docs, pub, nil),
	}

	inboxConstruction, inboxGroups, grantFail, err := inboxVectorGroups(f)
	if err != nil {
		return nil, err
	}
	grantFails = append(grantFails, grantFail)

	return append(obj{
		{"description", "Coffer sharing: member lists, key check, share grants, acceptances, inbox keys, inbox drops and " +
			"uploader grants (docs/crypto.md section 13). The shared node is Documents of tree.json."},
		{"encoding", vectorEncoding},
		{"construction", append(obj{
			{"roles", "1 viewer (read), 2 editor (read and write), 3 uploader (add only, through the inbox key)."},
			{"members", "fingerprint = SHA-256(tagged(\"coffer/v1/fingerprint\", bundle body)) of the member's bundle (bundle.json)."},
			{"key_check", "key_check = HKDF(ikm=shared node key, info=tagged(\"coffer/v1/share-key-check\", LP(share) || LP(volume) || LP(node)), 32)."},
			{"share_list", "marshaled = 0x01 || LP(share) || LP(volume) || LP(node) || LP(owner) || uint64_be(version) || key_check (32) || " +
				"LP(inbox_public) || uint32_be(count) || count x (LP(member) || fingerprint (32) || uint8(role)); " +
				"signature = Ed25519-Sign(owner identity key, tagged(\"coffer/v1/share-list\", marshaled)). " +
				"Rules: 16-byte share, volume and node; owner and member names 1..255 bytes; version >= 1; key_check not all zeros; " +
				"0..1000 members sorted strictly by name as bytes (so unique), none the owner, fingerprints not all zeros, role 1..3; " +
				"inbox_public is a 1216-byte X-Wing public key exactly when some member has role 3, and empty otherwise. " +
				"Parsing is strict: marshaled must be exactly the encoding of the fields it holds. " +
				"A must_fail case fails at parsing or at verification; the owner key must pass the Ed25519 key check of bundle.json."},
			{"share_grant", "info = tagged(\"coffer/v1/share-grant\", LP(share) || LP(volume) || LP(node) || LP(member)); " +
				"plaintext = 0x01 || node key (32) || uint16_be(len(nfc)) || nfc || zero bytes up to the next multiple of 32 bytes; " +
				"sealed = 0x01 || HPKE base-mode single-shot Seal(recipient=member's X-Wing public key, KEM 0x647a, KDF 0x0001, AEAD 0x0002, " +
				"info, aad=empty, plaintext). Opening also requires a canonical plaintext (as for sealed names in tree.json) and " +
				"HKDF key check of the opened key = the list's key_check. " +
				"HPKE encapsulation is randomized: implementations must open these vectors, not reproduce them."},
			{"acceptance", "message = tagged(\"coffer/v1/share-accept\", 0x01 || LP(share) || LP(volume) || LP(node) || LP(owner) || LP(member)); " +
				"signature = Ed25519-Sign(member identity key, message). Owner and member must differ."},
			{"inbox_key", "The inbox key pair is the X-Wing key pair of the 32-byte seed (as account encryption keys). " +
				"inbox_key_wrap = HKDF(ikm=folder node key, info=tagged(\"coffer/v1/inbox-key-wrap\", empty), 32); " +
				"ad = tagged(\"coffer/v1/inbox-key\", LP(volume) || LP(node) || inbox_public (1216)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=inbox_key_wrap, nonce, plaintext=seed (32), ad) = 61 bytes. " +
				"Opening also requires that the seed's public key equals inbox_public."},
		}, inboxConstruction...)},
		{"members", memberCases},
		{"key_check", checkCases},
		{"share_list", obj{{"cases", listCases}, {"must_fail", listFails}}},
		{"share_grant", obj{{"cases", []obj{gb, gc}}, {"must_fail", grantFails}}},
		{"acceptance", obj{{"cases", []obj{accCase}}, {"must_fail", accFails}}},
		{"inbox_key", obj{{"cases", inboxCases}, {"must_fail", inboxFails}}},
	}, inboxGroups...), nil
}
