package crypto

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

const vectorDir = "../../testdata/vectors"

// TestVectorFilesUpToDate fails when the committed vectors differ from what
// the code generates: either the code changed a construction by accident,
// or someone forgot `go run ./cmd/vectors -out testdata/vectors`.
func TestVectorFilesUpToDate(t *testing.T) {
	gen, err := GenerateVectors()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range gen {
		got, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatalf("%v (run: go run ./cmd/vectors -out testdata/vectors)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generated vectors (run: go run ./cmd/vectors -out testdata/vectors)", name)
		}
	}
}

// The tests below read the JSON files the way another implementation would,
// and recompute every output from the inputs recorded there.

type vcase map[string]any

func (c vcase) str(t *testing.T, k string) string {
	t.Helper()
	v, ok := c[k].(string)
	if !ok {
		t.Fatalf("vector field %q missing or not a string", k)
	}
	return v
}

func (c vcase) hex(t *testing.T, k string) []byte {
	t.Helper()
	b, err := hex.DecodeString(c.str(t, k))
	if err != nil {
		t.Fatalf("vector field %q: %v", k, err)
	}
	return b
}

func (c vcase) u32(t *testing.T, k string) uint32 {
	t.Helper()
	v, ok := c[k].(float64)
	if !ok || v < 0 || v > 1<<32-1 || v != float64(uint32(v)) {
		t.Fatalf("vector field %q missing or not a uint32", k)
	}
	return uint32(v)
}

func (c vcase) i64(t *testing.T, k string) int64 {
	t.Helper()
	v, ok := c[k].(float64)
	if !ok || v != float64(int64(v)) {
		t.Fatalf("vector field %q missing or not an integer", k)
	}
	return int64(v)
}

func (c vcase) key32(t *testing.T, k string) [32]byte {
	t.Helper()
	b := c.hex(t, k)
	if len(b) != 32 {
		t.Fatalf("vector field %q is %d bytes, want 32", k, len(b))
	}
	return [32]byte(b)
}

func loadVectors(t *testing.T, name string) map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if _, ok := doc["construction"]; !ok {
		t.Fatalf("%s has no construction text", name)
	}
	return doc
}

func cases(t *testing.T, doc map[string]json.RawMessage, group string) []vcase {
	t.Helper()
	var cs []vcase
	if err := json.Unmarshal(doc[group], &cs); err != nil {
		t.Fatalf("group %s: %v", group, err)
	}
	if len(cs) == 0 {
		t.Fatalf("group %s is empty", group)
	}
	return cs
}

// split reads a group of the form {"cases": [...], "must_fail": [...], ...}.
func split(t *testing.T, doc map[string]json.RawMessage, group string) map[string][]vcase {
	t.Helper()
	var m map[string][]vcase
	if err := json.Unmarshal(doc[group], &m); err != nil {
		t.Fatalf("group %s: %v", group, err)
	}
	if len(m["cases"]) == 0 || len(m["must_fail"]) == 0 {
		t.Fatalf("group %s lacks cases or must_fail", group)
	}
	return m
}

func eqHex(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// apiUserName is the account-name rule of docs/api.md ("1 to 64 bytes of
// a-z 0-9 . _ -, starting with a letter or digit", api.CheckUserName),
// restated here so that this package's tests do not depend on internal/api.
var apiUserName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// TestVectorUserNames keeps the vectors to names the API accepts, so that
// another implementation can replay them end to end.
func TestVectorUserNames(t *testing.T) {
	// In tree.json, "name" holds file names; account names are "author".
	accountKeys := map[string][]string{
		"account.json":  {"user", "name"},
		"recovery.json": {"user", "name"},
		"bundle.json":   {"user", "name"},
		"tree.json":     {"user", "author"},
		"content.json":  {"user", "author"},
		"link.json":     {"user", "owner"},
	}
	for name, keys := range accountKeys {
		raw, err := os.ReadFile(filepath.Join(vectorDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := 0
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				// A must_fail case may carry a bad name on purpose
				// (a record with an empty author).
				_, bad := v["why"]
				for k, e := range v {
					if s, ok := e.(string); ok && slices.Contains(keys, k) {
						n++
						if !bad && !apiUserName.MatchString(s) {
							t.Errorf("%s: user name %q is not a valid account name", name, s)
						}
					}
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(doc)
		if n == 0 {
			t.Errorf("%s: no user names found", name)
		}
	}
}

func TestVectorsAccount(t *testing.T) {
	doc := loadVectors(t, "account.json")

	sawDefault := false
	for _, c := range cases(t, doc, "password_kdf") {
		pw := c.hex(t, "password_hex")
		if string(pw) != c.str(t, "password") {
			t.Fatal("password and password_hex disagree")
		}
		p := KDFParams{c.u32(t, "memory_kib"), c.u32(t, "iterations"), c.u32(t, "parallelism")}
		sawDefault = sawDefault || p == KDFParams{64 * 1024, 3, 1}
		k, err := DerivePasswordKeys(pw, c.str(t, "user"), c.hex(t, "salt_hex"), p)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "srp_x", k.SRPX, c.hex(t, "srp_x_hex"))
		eqHex(t, "kek", k.KEK[:], c.hex(t, "kek_hex"))
	}
	if !sawDefault {
		t.Error("no KDF vector uses the default parameters m=64MiB t=3 p=1")
	}

	for _, c := range cases(t, doc, "account_keys") {
		k, err := NewAccountKeysFromSeeds(c.hex(t, "identity_seed_hex"), c.hex(t, "encryption_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "identity public", k.IdentityPublic(), c.hex(t, "identity_public_hex"))
		eqHex(t, "encryption public", k.EncryptionPublic(), c.hex(t, "encryption_public_hex"))
		eqHex(t, "marshaled", k.Marshal(), c.hex(t, "marshaled_hex"))
		k2, err := UnmarshalAccountKeys(c.hex(t, "marshaled_hex"))
		if err != nil || !k2.MatchesBundle(&PublicBundle{Identity: k.IdentityPublic(), Encryption: k.EncryptionPublic()}) {
			t.Errorf("unmarshal of vector keys: %v", err)
		}
	}

	g := split(t, doc, "sealed_account_keys")
	for _, c := range g["cases"] {
		kek, user, epoch := c.key32(t, "kek_hex"), c.str(t, "user"), c.u32(t, "epoch")
		keys, err := UnmarshalAccountKeys(c.hex(t, "account_keys_hex"))
		if err != nil {
			t.Fatal(err)
		}
		fields, err := accountKeysAD(user, epoch)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "ad", envelopeAD(labelAccountKeys, fields), c.hex(t, "ad_hex"))
		nonce := [nonceSize]byte(c.hex(t, "nonce_hex"))
		sealed, err := sealAccountKeys(&kek, user, epoch, keys, &nonce)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		opened, err := OpenAccountKeys(kek, user, epoch, c.hex(t, "sealed_hex"))
		if err != nil {
			t.Fatalf("open vector: %v", err)
		}
		eqHex(t, "opened", opened.Marshal(), c.hex(t, "account_keys_hex"))
	}
	for _, c := range g["must_fail"] {
		_, err := OpenAccountKeys(c.key32(t, "kek_hex"), c.str(t, "user"), c.u32(t, "epoch"), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	g = split(t, doc, "sealed_local_keys")
	for _, c := range g["cases"] {
		unlock := c.hex(t, "unlock_key_hex")
		server, user, session := c.str(t, "server"), c.str(t, "user"), c.str(t, "session_id")
		keys, err := UnmarshalAccountKeys(c.hex(t, "account_keys_hex"))
		if err != nil {
			t.Fatal(err)
		}
		kek, err := localKEK(unlock)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "local kek", kek[:], c.hex(t, "local_kek_hex"))
		fields, err := localKeysAD(server, user, session)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "ad", envelopeAD(labelLocalKeys, fields), c.hex(t, "ad_hex"))
		nonce := [nonceSize]byte(c.hex(t, "nonce_hex"))
		sealed, err := sealLocalKeys(unlock, server, user, session, keys, &nonce)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		if _, err := OpenLocalKeys(unlock, server, user, session, sealed); err != nil {
			t.Errorf("open vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		_, err := OpenLocalKeys(c.hex(t, "unlock_key_hex"), c.str(t, "server"), c.str(t, "user"), c.str(t, "session_id"), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}

func TestVectorsRecovery(t *testing.T) {
	doc := loadVectors(t, "recovery.json")

	g := split(t, doc, "recovery_key")
	for _, c := range g["cases"] {
		rk := RecoveryKey(c.key32(t, "key_hex"))
		sum := recoveryChecksum(&rk)
		eqHex(t, "checksum", sum[:], c.hex(t, "checksum_hex"))
		if got := rk.String(); got != c.str(t, "string") {
			t.Errorf("String() = %q, want %q", got, c.str(t, "string"))
		}
		if got, err := ParseRecoveryKey(c.str(t, "string")); err != nil || got != rk {
			t.Errorf("ParseRecoveryKey(%q) = %x, %v", c.str(t, "string"), got, err)
		}
	}
	for _, c := range g["also_parses"] {
		got, err := ParseRecoveryKey(c.str(t, "string"))
		if err != nil || got != RecoveryKey(c.key32(t, "key_hex")) {
			t.Errorf("ParseRecoveryKey(%q) = %x, %v", c.str(t, "string"), got, err)
		}
	}
	for _, c := range g["must_fail"] {
		if _, err := ParseRecoveryKey(c.str(t, "string")); !errors.Is(err, ErrBadRecoveryKey) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	for _, c := range cases(t, doc, "recovery_derivation") {
		rk, user := RecoveryKey(c.key32(t, "key_hex")), c.str(t, "user")
		kek, err := rk.kek(user)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "recovery kek", kek[:], c.hex(t, "recovery_kek_hex"))
		eqHex(t, "auth seed", rk.AuthKey(user).Seed(), c.hex(t, "auth_seed_hex"))
		eqHex(t, "auth public", rk.AuthPublicKey(user), c.hex(t, "auth_public_hex"))
	}

	g = split(t, doc, "sealed_recovery_keys")
	for _, c := range g["cases"] {
		rk, user := RecoveryKey(c.key32(t, "key_hex")), c.str(t, "user")
		keys, err := UnmarshalAccountKeys(c.hex(t, "account_keys_hex"))
		if err != nil {
			t.Fatal(err)
		}
		fields, err := recoveryKeysAD(user)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "ad", envelopeAD(labelRecoveryKeys, fields), c.hex(t, "ad_hex"))
		nonce := [nonceSize]byte(c.hex(t, "nonce_hex"))
		sealed, err := sealRecoveryKeys(rk, user, keys, &nonce)
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "sealed", sealed, c.hex(t, "sealed_hex"))
		if _, err := OpenRecoveryKeys(rk, user, sealed); err != nil {
			t.Errorf("open vector: %v", err)
		}
	}
	for _, c := range g["must_fail"] {
		_, err := OpenRecoveryKeys(RecoveryKey(c.key32(t, "key_hex")), c.str(t, "user"), c.hex(t, "sealed_hex"))
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}

	for _, c := range cases(t, doc, "credentials_digest") {
		p := KDFParams{c.u32(t, "memory_kib"), c.u32(t, "iterations"), c.u32(t, "parallelism")}
		d := CredentialsDigest(c.str(t, "user"), c.hex(t, "salt_hex"), p, c.hex(t, "verifier_hex"), c.hex(t, "sealed_keys_hex"), c.u32(t, "epoch"))
		eqHex(t, "credentials digest", d[:], c.hex(t, "digest_hex"))
	}

	for _, c := range cases(t, doc, "recovery_message") {
		rk, user := RecoveryKey(c.key32(t, "key_hex")), c.str(t, "user")
		digest := c.key32(t, "digest_hex")
		msg := RecoveryMessage(user, c.hex(t, "challenge_hex"), digest)
		eqHex(t, "recovery message", msg, c.hex(t, "message_hex"))
		eqHex(t, "signature", ed25519.Sign(rk.AuthKey(user), msg), c.hex(t, "signature_hex"))
		if !VerifyRecoveryMessage(rk.AuthPublicKey(user), user, c.hex(t, "challenge_hex"), digest, c.hex(t, "signature_hex")) {
			t.Error("vector signature does not verify")
		}
	}

	for _, c := range cases(t, doc, "passwd_binding") {
		mac := PasswdBinding(c.hex(t, "srp_key_hex"), c.key32(t, "digest_hex"))
		eqHex(t, "passwd binding", mac, c.hex(t, "mac_hex"))
	}
}

func TestVectorsBundle(t *testing.T) {
	doc := loadVectors(t, "bundle.json")
	g := split(t, doc, "public_bundle")
	for _, c := range g["cases"] {
		k, err := NewAccountKeysFromSeeds(c.hex(t, "identity_seed_hex"), c.hex(t, "encryption_seed_hex"))
		if err != nil {
			t.Fatal(err)
		}
		user := c.str(t, "user")
		eqHex(t, "identity public", k.IdentityPublic(), c.hex(t, "identity_public_hex"))
		eqHex(t, "encryption public", k.EncryptionPublic(), c.hex(t, "encryption_public_hex"))
		s, err := k.SignBundle(user, c.i64(t, "created"))
		if err != nil {
			t.Fatal(err)
		}
		eqHex(t, "signed bundle", s, c.hex(t, "signed_hex"))
		eqHex(t, "signature", s[len(s)-ed25519.SignatureSize:], c.hex(t, "signature_hex"))
		b, err := OpenBundle(c.hex(t, "signed_hex"), user)
		if err != nil {
			t.Fatal(err)
		}
		if !k.MatchesBundle(b) {
			t.Error("vector keys do not match their bundle")
		}
		fp := b.FingerprintBytes()
		eqHex(t, "fingerprint bytes", fp[:], c.hex(t, "fingerprint_hex"))
		if got := b.Fingerprint(); got != c.str(t, "fingerprint") {
			t.Errorf("Fingerprint() = %q, want %q", got, c.str(t, "fingerprint"))
		}
	}
	for _, c := range g["must_fail"] {
		if _, err := OpenBundle(c.hex(t, "signed_hex"), c.str(t, "user")); !errors.Is(err, ErrBadBundle) {
			t.Errorf("must_fail %q: error = %v", c.str(t, "why"), err)
		}
	}
}
