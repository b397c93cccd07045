package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// GenerateVectors computes the interoperability test vectors of this
// package and returns them as JSON documents keyed by file name
// (account.json, recovery.json, bundle.json, tree.json, content.json,
// share.json, rotation.json, link.json). Every input is fixed, so the
// output is the same on every run; cmd/vectors writes it to
// testdata/vectors, and the browser client must reproduce it byte for byte.
//
// It runs Argon2id with the real default parameters, so it takes about a
// second and 64 MiB of memory.
func GenerateVectors() (map[string][]byte, error) {
	files := map[string]func() (obj, error){
		"account.json":  accountVectors,
		"recovery.json": recoveryVectors,
		"bundle.json":   bundleVectors,
		"tree.json":     treeVectors,
		"content.json":  contentVectors,
		"share.json":    shareVectors,
		"rotation.json": rotationVectors,
		"link.json":     linkVectors,
	}
	out := make(map[string][]byte, len(files))
	for name, gen := range files {
		doc, err := gen()
		if err != nil {
			return nil, fmt.Errorf("coffer/crypto: vectors %s: %w", name, err)
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("coffer/crypto: vectors %s: %w", name, err)
		}
		out[name] = append(b, '\n')
	}
	return out, nil
}

// kv and obj build JSON objects whose keys keep their written order, so the
// files read top-down as inputs then outputs.
type kv struct {
	k string
	v any
}

type obj []kv

// MarshalJSON implements json.Marshaler.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

const vectorEncoding = "Keys ending in _hex hold bytes as lower-case hex; other strings are UTF-8 text " +
	"used as their UTF-8 bytes; numbers are unsigned integers. LP(x) = uint32_be(len(x)) || x. " +
	"tagged(label, x) = ASCII(label) || 0x00 || x. HKDF is HKDF-SHA256 with an empty salt. " +
	"Cases under must_fail must be rejected."

// h is shorthand for hex.EncodeToString, used on every byte field.
func h(b []byte) string { return hex.EncodeToString(b) }

// seq returns n bytes start, start+1, ... (mod 256).
func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// named returns SHA-256(name), a fixed pseudo-random 32-byte value.
func named(name string) []byte {
	s := sha256.Sum256([]byte("coffer test vector: " + name))
	return s[:]
}

func nonce12(start byte) *[nonceSize]byte {
	var n [nonceSize]byte
	copy(n[:], seq(start, nonceSize))
	return &n
}

type vectorAccount struct {
	name   string
	idSeed []byte
	xwSeed []byte
	keys   *AccountKeys
}

func vectorAccounts() ([]vectorAccount, error) {
	accts := []vectorAccount{
		{name: "alice", idSeed: seq(0x00, 32), xwSeed: seq(0x20, 32)},
		{name: "bob", idSeed: named("bob identity seed"), xwSeed: named("bob encryption seed")},
	}
	for i := range accts {
		k, err := NewAccountKeysFromSeeds(accts[i].idSeed, accts[i].xwSeed)
		if err != nil {
			return nil, err
		}
		accts[i].keys = k
	}
	return accts, nil
}

func accountVectors() (obj, error) {
	type kdfIn struct {
		password []byte
		user     string
		salt     []byte
		p        KDFParams
	}
	kdfIns := []kdfIn{
		{[]byte("correct horse battery staple"), "alice", seq(0x00, 16), DefaultKDF},
		{[]byte("correct horse battery staple"), "bob", seq(0x00, 16), DefaultKDF},
		{[]byte("pässwörd 🔑"), "carol", named("carol salt")[:16], KDFParams{MemoryKiB: 64*1024 + 8, Iterations: 4, Parallelism: 2}},
		// Decomposed input: derives the same keys as its NFC form "café".
		{[]byte("cafe\u0301"), "dave", seq(0x10, 16), DefaultKDF},
	}
	var kdfCases []obj
	var keks [][32]byte
	for _, in := range kdfIns {
		pk, err := DerivePasswordKeys(in.password, in.user, in.salt, in.p)
		if err != nil {
			return nil, err
		}
		pw := argon2.IDKey(norm.NFC.Bytes(in.password), in.salt, in.p.Iterations, in.p.MemoryKiB, uint8(in.p.Parallelism), 32)
		keks = append(keks, pk.KEK)
		kdfCases = append(kdfCases, obj{
			{"password", string(in.password)},
			{"password_hex", h(in.password)},
			{"user", in.user},
			{"salt_hex", h(in.salt)},
			{"memory_kib", in.p.MemoryKiB},
			{"iterations", in.p.Iterations},
			{"parallelism", in.p.Parallelism},
			{"argon2id_hex", h(pw)},
			{"srp_x_hex", h(pk.SRPX)},
			{"kek_hex", h(pk.KEK[:])},
		})
	}

	accts, err := vectorAccounts()
	if err != nil {
		return nil, err
	}
	var keyCases []obj
	for _, a := range accts {
		keyCases = append(keyCases, obj{
			{"name", a.name},
			{"identity_seed_hex", h(a.idSeed)},
			{"encryption_seed_hex", h(a.xwSeed)},
			{"identity_public_hex", h(a.keys.IdentityPublic())},
			{"encryption_public_hex", h(a.keys.EncryptionPublic())},
			{"marshaled_hex", h(a.keys.Marshal())},
		})
	}

	type sealIn struct {
		kek   [32]byte
		user  string
		epoch uint32
		nonce *[nonceSize]byte
		keys  vectorAccount
	}
	alice, bob := accts[0], accts[1]
	sealIns := []sealIn{
		{keks[0], "alice", 1, nonce12(0xa0), alice},
		{keks[0], "alice", 7, nonce12(0xb0), alice},
		{keks[1], "bob", 1, nonce12(0xc0), bob},
	}
	var sealCases []obj
	var sealed [][]byte
	for _, in := range sealIns {
		s, err := sealAccountKeys(&in.kek, in.user, in.epoch, in.keys.keys, in.nonce)
		if err != nil {
			return nil, err
		}
		fields, err := accountKeysAD(in.user, in.epoch)
		if err != nil {
			return nil, err
		}
		sealed = append(sealed, s)
		sealCases = append(sealCases, obj{
			{"kek_hex", h(in.kek[:])},
			{"user", in.user},
			{"epoch", in.epoch},
			{"nonce_hex", h(in.nonce[:])},
			{"account_keys_hex", h(in.keys.keys.Marshal())},
			{"ad_hex", h(envelopeAD(labelAccountKeys, fields))},
			{"sealed_hex", h(s)},
		})
	}
	a7 := sealed[1]
	fail := func(why string, kek [32]byte, user string, epoch uint32, s []byte) obj {
		return obj{{"why", why}, {"kek_hex", h(kek[:])}, {"user", user}, {"epoch", epoch}, {"sealed_hex", h(s)}}
	}
	sealFails := []obj{
		fail("older epoch (rollback)", keks[0], "alice", 6, a7),
		fail("newer epoch", keks[0], "alice", 8, a7),
		fail("other user in associated data, same KEK", keks[0], "bob", 7, a7),
		fail("bob's sealed keys served to alice", keks[0], "alice", 1, sealed[2]),
		fail("wrong KEK (fresh key substituted)", keks[1], "alice", 7, a7),
		fail("version byte 0x02", keks[0], "alice", 7, flip(a7, 0, 0x03)),
		fail("nonce bit flipped", keks[0], "alice", 7, flip(a7, 1, 0x01)),
		fail("ciphertext bit flipped", keks[0], "alice", 7, flip(a7, 20, 0x80)),
		fail("tag bit flipped", keks[0], "alice", 7, flip(a7, len(a7)-1, 0x01)),
		fail("truncated by one byte", keks[0], "alice", 7, a7[:len(a7)-1]),
		fail("one byte appended", keks[0], "alice", 7, append(bytes.Clone(a7), 0)),
		fail("shorter than the envelope overhead", keks[0], "alice", 7, a7[:envelopeOverhead-1]),
	}

	unlock := seq(0xf0, UnlockKeySize)
	const server, session = "https://coffer.example", "sess-0001"
	local, err := sealLocalKeys(unlock, server, "alice", session, alice.keys, nonce12(0x10))
	if err != nil {
		return nil, err
	}
	localKey, err := localKEK(unlock)
	if err != nil {
		return nil, err
	}
	localFields, err := localKeysAD(server, "alice", session)
	if err != nil {
		return nil, err
	}
	localCases := []obj{{
		{"unlock_key_hex", h(unlock)},
		{"server", server},
		{"user", "alice"},
		{"session_id", session},
		{"nonce_hex", h(nonce12(0x10)[:])},
		{"account_keys_hex", h(alice.keys.Marshal())},
		{"local_kek_hex", h(localKey[:])},
		{"ad_hex", h(envelopeAD(labelLocalKeys, localFields))},
		{"sealed_hex", h(local)},
	}}
	lfail := func(why string, unlock []byte, server, user, session string, s []byte) obj {
		return obj{{"why", why}, {"unlock_key_hex", h(unlock)}, {"server", server}, {"user", user}, {"session_id", session}, {"sealed_hex", h(s)}}
	}
	localFails := []obj{
		lfail("other session", unlock, server, "alice", "sess-0002", local),
		lfail("other server", unlock, "https://evil.example", "alice", session, local),
		lfail("other user", unlock, server, "bob", session, local),
		lfail("other unlock key", seq(0xf1, UnlockKeySize), server, "alice", session, local),
		lfail("unlock key 31 bytes", unlock[:31], server, "alice", session, local),
		lfail("tag bit flipped", unlock, server, "alice", session, flip(local, len(local)-1, 0x01)),
	}

	return obj{
		{"description", "Coffer password KDF, account key pair, sealed account keys and local key cache (docs/crypto.md sections 3, 5 and 6)."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"password_kdf", "argon2id = Argon2id(NFC(password), salt, t=iterations, m=memory_kib, p=parallelism, 32 bytes, version 0x13); " +
				"srp_x = HKDF(ikm=argon2id, info=tagged(\"coffer/v1/srp-x\", user), 32); " +
				"kek = HKDF(ikm=argon2id, info=tagged(\"coffer/v1/kek\", user), 32)."},
			{"account_keys", "identity = Ed25519 key from identity_seed (RFC 8032); encryption = X-Wing (HPKE KEM 0x647a) " +
				"DeriveKey from encryption_seed: SHAKE256(seed, 96) = ML-KEM-768 seed (64) || X25519 private key (32); " +
				"encryption_public = ML-KEM-768 encapsulation key (1184) || X25519 public key (32); " +
				"marshaled = 0x01 || identity_seed || encryption_seed."},
			{"sealed_account_keys", "ad = tagged(\"coffer/v1/account-keys\", LP(user) || uint32_be(epoch)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=kek, nonce, plaintext=marshaled account keys, ad) (ciphertext || 16-byte tag)."},
			{"sealed_local_keys", "local_kek = HKDF(ikm=unlock_key (32 bytes), info=tagged(\"coffer/v1/local-kek\", empty), 32); " +
				"ad = tagged(\"coffer/v1/local-keys\", LP(server) || LP(user) || LP(session_id)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=local_kek, nonce, plaintext=marshaled account keys, ad)."},
		}},
		{"password_kdf", kdfCases},
		{"account_keys", keyCases},
		{"sealed_account_keys", obj{{"cases", sealCases}, {"must_fail", sealFails}}},
		{"sealed_local_keys", obj{{"cases", localCases}, {"must_fail", localFails}}},
	}, nil
}

// trivialSignature returns the Ed25519 signature R = identity point, S = 0.
// crypto/ed25519.Verify accepts it under a small-order key A whenever [k]A
// is the identity, k being the challenge hash: for every message under the
// identity point, otherwise for about 1 message in 2, 4 or 8.
func trivialSignature() []byte {
	return append([]byte{1}, make([]byte, ed25519.SignatureSize-1)...)
}

// forgeBundle returns a bundle for user with the given (small-order)
// identity key and trivialSignature, at the first creation time from
// created on for which crypto/ed25519.Verify accepts that signature. It
// exists to show that OpenBundle refuses such bundles.
func forgeBundle(user string, created int64, identity, encryption []byte) ([]byte, error) {
	sig := trivialSignature()
	for c := created; c < created+1024; c++ {
		body, err := encodeBundleBody(user, c, identity, encryption)
		if err != nil {
			return nil, err
		}
		if ed25519.Verify(identity, tagged(labelPublicBundle, body), sig) {
			return append(body, sig...), nil
		}
	}
	return nil, fmt.Errorf("no creation time makes the trivial signature verify under %x", identity)
}

// flip returns a copy of b with b[i] XOR mask.
func flip(b []byte, i int, mask byte) []byte {
	c := bytes.Clone(b)
	c[i] ^= mask
	return c
}

func recoveryVectors() (obj, error) {
	rks := []RecoveryKey{{}, RecoveryKey(seq(0x00, 32)), RecoveryKey(named("recovery key 3"))}
	var keyCases []obj
	for _, rk := range rks {
		sum := recoveryChecksum(&rk)
		keyCases = append(keyCases, obj{
			{"key_hex", h(rk[:])},
			{"checksum_hex", h(sum[:])},
			{"string", rk.String()},
		})
	}
	rk := rks[1]
	text := rk.String()
	bare := bytes.ReplaceAll([]byte(text), []byte("-"), nil)
	typo := []byte(text)
	// Replace the first character with another letter of the alphabet:
	// still valid base32, so only the checksum can catch it.
	if typo[0] == 'B' {
		typo[0] = 'C'
	} else {
		typo[0] = 'B'
	}
	parseOK := []obj{
		{{"string", string(bytes.ToLower([]byte(text)))}, {"key_hex", h(rk[:])}},
		{{"string", string(bare)}, {"key_hex", h(rk[:])}},
		{{"string", string(bytes.ReplaceAll([]byte(text), []byte("-"), []byte(" ")))}, {"key_hex", h(rk[:])}},
	}
	parseFail := []obj{
		{{"why", "typo in the first character (checksum mismatch)"}, {"string", string(typo)}},
		{{"why", "55 characters"}, {"string", string(bare[:55])}},
		{{"why", "57 characters"}, {"string", string(bare) + "A"}},
		{{"why", "digit 1 is not in the base32 alphabet"}, {"string", "1" + string(bare[1:])}},
		{{"why", "digit 0 is not in the base32 alphabet"}, {"string", "0" + string(bare[1:])}},
		{{"why", "digit 8 is not in the base32 alphabet"}, {"string", "8" + string(bare[1:])}},
		{{"why", "padding character"}, {"string", string(bare[:55]) + "="}},
		{{"why", "empty"}, {"string", ""}},
	}

	accts, err := vectorAccounts()
	if err != nil {
		return nil, err
	}
	alice := accts[0]
	var derivCases []obj
	for _, user := range []string{"alice", "bob"} {
		kek, err := rk.kek(user)
		if err != nil {
			return nil, err
		}
		seed, err := hkdf32(rk[:], labelRecoveryAuth, user)
		if err != nil {
			return nil, err
		}
		derivCases = append(derivCases, obj{
			{"key_hex", h(rk[:])},
			{"user", user},
			{"recovery_kek_hex", h(kek[:])},
			{"auth_seed_hex", h(seed[:])},
			{"auth_public_hex", h(rk.AuthPublicKey(user))},
		})
	}

	sealed, err := sealRecoveryKeys(rk, "alice", alice.keys, nonce12(0xd0))
	if err != nil {
		return nil, err
	}
	fields, err := recoveryKeysAD("alice")
	if err != nil {
		return nil, err
	}
	sealCases := []obj{{
		{"key_hex", h(rk[:])},
		{"user", "alice"},
		{"nonce_hex", h(nonce12(0xd0)[:])},
		{"account_keys_hex", h(alice.keys.Marshal())},
		{"ad_hex", h(envelopeAD(labelRecoveryKeys, fields))},
		{"sealed_hex", h(sealed)},
	}}
	sealFails := []obj{
		{{"why", "other user"}, {"key_hex", h(rk[:])}, {"user", "bob"}, {"sealed_hex", h(sealed)}},
		{{"why", "other recovery key"}, {"key_hex", h(rks[2][:])}, {"user", "alice"}, {"sealed_hex", h(sealed)}},
		{{"why", "tag bit flipped"}, {"key_hex", h(rk[:])}, {"user", "alice"}, {"sealed_hex", h(flip(sealed, len(sealed)-1, 0x80))}},
	}

	salt := seq(0x00, 16)
	verifier := seq(0x40, 384)
	sealedKeys, err := sealAccountKeys(new([32]byte(seq(0x60, 32))), "alice", 2, alice.keys, nonce12(0xe0))
	if err != nil {
		return nil, err
	}
	digest := CredentialsDigest("alice", salt, DefaultKDF, verifier, sealedKeys, 2)
	digestCases := []obj{{
		{"user", "alice"},
		{"salt_hex", h(salt)},
		{"memory_kib", DefaultKDF.MemoryKiB},
		{"iterations", DefaultKDF.Iterations},
		{"parallelism", DefaultKDF.Parallelism},
		{"verifier_hex", h(verifier)},
		{"sealed_keys_hex", h(sealedKeys)},
		{"epoch", uint32(2)},
		{"digest_hex", h(digest[:])},
	}}

	challenge := seq(0x80, 32)
	msg := RecoveryMessage("alice", challenge, digest)
	sig := ed25519.Sign(rk.AuthKey("alice"), msg)
	msgCases := []obj{{
		{"key_hex", h(rk[:])},
		{"user", "alice"},
		{"challenge_hex", h(challenge)},
		{"digest_hex", h(digest[:])},
		{"message_hex", h(msg)},
		{"signature_hex", h(sig)},
	}}

	srpKey := seq(0xa0, 32)
	mac := PasswdBinding(srpKey, digest)
	bindCases := []obj{{
		{"srp_key_hex", h(srpKey)},
		{"digest_hex", h(digest[:])},
		{"mac_hex", h(mac)},
	}}

	return obj{
		{"description", "Coffer recovery key, recovery sealing, recovery proof and password-change binding (docs/crypto.md sections 7 and 8)."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"recovery_key", "checksum = SHA-256(tagged(\"coffer/v1/recovery-checksum\", key))[0:3]; " +
				"string = RFC 4648 base32 (A-Z2-7, no padding) of key || checksum = 56 characters, in 14 groups of 4 joined by '-'. " +
				"Parsing ignores case, spaces, tabs, newlines and '-'."},
			{"recovery_derivation", "recovery_kek = HKDF(ikm=key, info=tagged(\"coffer/v1/recovery-kek\", user), 32); " +
				"auth_seed = HKDF(ikm=key, info=tagged(\"coffer/v1/recovery-auth\", user), 32); auth key = Ed25519 key from auth_seed."},
			{"sealed_recovery_keys", "ad = tagged(\"coffer/v1/recovery-keys\", LP(user)); " +
				"sealed = 0x01 || nonce (12) || AES-256-GCM(key=recovery_kek, nonce, plaintext=marshaled account keys, ad)."},
			{"credentials_digest", "digest = SHA-256(tagged(\"coffer/v1/credentials\", LP(user) || LP(salt) || uint32_be(memory_kib) || " +
				"uint32_be(iterations) || uint32_be(parallelism) || LP(verifier) || LP(sealed_keys) || uint32_be(epoch)))."},
			{"recovery_message", "message = tagged(\"coffer/v1/recover\", LP(user) || LP(challenge) || digest); signature = Ed25519-Sign(auth key, message)."},
			{"passwd_binding", "mac = HMAC-SHA256(key=srp_key, tagged(\"coffer/v1/passwd\", digest))."},
		}},
		{"recovery_key", obj{{"cases", keyCases}, {"also_parses", parseOK}, {"must_fail", parseFail}}},
		{"recovery_derivation", derivCases},
		{"sealed_recovery_keys", obj{{"cases", sealCases}, {"must_fail", sealFails}}},
		{"credentials_digest", digestCases},
		{"recovery_message", msgCases},
		{"passwd_binding", bindCases},
	}, nil
}

func bundleVectors() (obj, error) {
	accts, err := vectorAccounts()
	if err != nil {
		return nil, err
	}
	created := []int64{1767225600, 1767312000} // 2026-01-01 and 2026-01-02 UTC
	var cases []obj
	var signed [][]byte
	for i, a := range accts {
		s, err := a.keys.SignBundle(a.name, created[i])
		if err != nil {
			return nil, err
		}
		b, err := OpenBundle(s, a.name)
		if err != nil {
			return nil, err
		}
		fp := b.FingerprintBytes()
		digits, err := hkdf.Key(sha256.New, fp[:], nil, labelFingerprintDigs+"\x00", fingerprintGroups*fingerprintGroupBytes)
		if err != nil {
			return nil, err
		}
		signed = append(signed, s)
		cases = append(cases, obj{
			{"identity_seed_hex", h(a.idSeed)},
			{"encryption_seed_hex", h(a.xwSeed)},
			{"user", a.name},
			{"created", created[i]},
			{"identity_public_hex", h(a.keys.IdentityPublic())},
			{"encryption_public_hex", h(a.keys.EncryptionPublic())},
			{"signature_hex", h(s[len(s)-ed25519.SignatureSize:])},
			{"signed_hex", h(s)},
			{"fingerprint_hex", h(fp[:])},
			{"fingerprint_digits_hex", h(digits)},
			{"fingerprint", b.Fingerprint()},
		})
	}
	alice, bob := accts[0], accts[1]
	as := signed[0]
	body := as[:len(as)-ed25519.SignatureSize]

	// A body whose identity field holds bob's key but that alice signed:
	// the signature no longer matches the identity inside.
	swapped, err := encodeBundleBody("alice", created[0], bob.keys.IdentityPublic(), alice.keys.EncryptionPublic())
	if err != nil {
		return nil, err
	}
	swapped = append(swapped, ed25519.Sign(alice.keys.identity, tagged(labelPublicBundle, swapped))...)
	// Validly signed, but with an encryption key one byte short.
	short := []byte{bundleVersion}
	short = appendLP(short, []byte("alice"))
	short = binary.BigEndian.AppendUint64(short, uint64(created[0]))
	short = appendLP(short, alice.keys.IdentityPublic())
	short = appendLP(short, alice.keys.EncryptionPublic()[:EncryptionPublicKeySize-1])
	short = append(short, ed25519.Sign(alice.keys.identity, tagged(labelPublicBundle, short))...)
	// Signed without the label: a signature from another context.
	nolabel := append(bytes.Clone(body), ed25519.Sign(alice.keys.identity, body)...)
	// Version 0x02, re-signed, so only the version check can reject it.
	v2 := flip(body, 0, 0x03)
	v2 = append(v2, ed25519.Sign(alice.keys.identity, tagged(labelPublicBundle, v2))...)

	// Identity keys that crypto/ed25519.Verify alone would trust: under
	// each, the trivial signature R = identity, S = 0 verifies over the
	// body (forgeBundle picks a creation time for which it does).
	type weak struct {
		why string
		key string
	}
	weakKeys := []weak{
		{"identity key is the identity point (small order); signature R = identity, S = 0 verifies under it for every message",
			"0100000000000000000000000000000000000000000000000000000000000000"},
		{"identity key is a point of order 8; signature R = identity, S = 0 (created chosen so that it verifies without the key check)",
			"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"},
		{"identity key is the identity point encoded non-canonically as y = p + 1; signature R = identity, S = 0",
			"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
		{"identity key is the identity point encoded non-canonically with the x sign bit set; signature R = identity, S = 0",
			"0100000000000000000000000000000000000000000000000000000000000080"},
	}
	var forged []obj
	for _, w := range weakKeys {
		key, err := hex.DecodeString(w.key)
		if err != nil {
			return nil, err
		}
		s, err := forgeBundle("alice", created[0], key, alice.keys.EncryptionPublic())
		if err != nil {
			return nil, err
		}
		if _, err := OpenBundle(s, "alice"); !errors.Is(err, ErrBadEd25519Key) {
			return nil, fmt.Errorf("forged bundle with identity key %s: OpenBundle error = %v, want ErrBadEd25519Key", w.key, err)
		}
		forged = append(forged, obj{{"why", w.why}, {"user", "alice"}, {"signed_hex", h(s)}})
	}

	fail := func(why, user string, s []byte) obj {
		return obj{{"why", why}, {"user", user}, {"signed_hex", h(s)}}
	}
	fails := []obj{
		fail("requested for another user", "bob", as),
		fail("trailing byte", "alice", append(bytes.Clone(as), 0)),
		fail("truncated signature", "alice", as[:len(as)-1]),
		fail("signature bit flipped", "alice", flip(as, len(as)-1, 0x01)),
		fail("created time changed", "alice", flip(as, 1+4+5+7, 0x01)),
		fail("identity key replaced (signed by a different key)", "alice", swapped),
		fail("encryption key 1215 bytes, validly signed", "alice", short),
		fail("signature without the domain label", "alice", nolabel),
		fail("version 0x02, validly signed", "alice", v2),
		fail("empty", "alice", nil),
	}
	fails = append(fails, forged...)

	return obj{
		{"description", "Coffer signed public key bundle and fingerprint (docs/crypto.md section 9)."},
		{"encoding", vectorEncoding},
		{"construction", obj{
			{"public_bundle", "body = 0x01 || LP(user) || uint64_be(created) || LP(identity_public (32)) || LP(encryption_public (1216)); " +
				"signature = Ed25519-Sign(identity, tagged(\"coffer/v1/public-bundle\", body)); signed = body || signature (64). " +
				"Verification: the identity key must be the canonical encoding (y < 2^255-19, no sign bit on x = 0) of a point that is not of small order " +
				"([8]A != identity); then Ed25519 verification with S < L and a canonical R (Go crypto/ed25519, cofactorless; " +
				"@noble/ed25519 verify with zip215: false, which checks the key the same way; docs/crypto.md section 2)."},
			{"fingerprint", "fingerprint = SHA-256(tagged(\"coffer/v1/fingerprint\", body)); " +
				"digits = HKDF(ikm=fingerprint, info=tagged(\"coffer/v1/fingerprint-digits\", empty), 60); " +
				"group i (0..11) = uint40_be(digits[5i:5i+5]) mod 100000 as 5 decimal digits; groups joined by one space."},
		}},
		{"public_bundle", obj{{"cases", cases}, {"must_fail", fails}}},
	}, nil
}
