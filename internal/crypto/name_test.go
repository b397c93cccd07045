package crypto

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	ok := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"cafe\u0301", "caf\u00e9"},
		{"caf\u00e9", "caf\u00e9"},
		{"\u212b", "\u00c5"},              // ANGSTROM SIGN -> A with ring
		{"\u1112\u1161\u11ab", "\ud55c"},  // Hangul jamo compose
		{"A\u030a\u0323", "\u1ea0\u030a"}, // canonical reordering, then composition
		{"...", "..."},                    // not reserved
		{".hidden", ".hidden"},            // leading dot
		{" x ", " x "},                    // spaces kept
		{"a\\b:c*?", "a\\b:c*?"},          // only '/' separates
		{"a\u007fb", "a\u007fb"},          // DEL is not C0
		{"\u0085", "\u0085"},              // C1 controls are not C0
		{"\U0001F512", "\U0001F512"},      // outside the BMP
		{strings.Repeat("a", 255), strings.Repeat("a", 255)},
		{strings.Repeat("e\u0301", 100), strings.Repeat("\u00e9", 100)}, // 300 bytes typed, 200 after NFC
	}
	for _, c := range ok {
		got, err := NormalizeName(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if again, err := NormalizeName(got); err != nil || again != got {
			t.Errorf("NormalizeName not idempotent on %q", got)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "empty"},
		{".", `"." is reserved`},
		{"..", `".." is reserved`},
		{"a/b", "'/' (byte 1)"},
		{"/", "'/' (byte 0)"},
		{"a\x00", "NUL (byte 1)"},
		{"\x01", "U+0001 (byte 0)"},
		{"a\tb", "U+0009 (byte 1)"},
		{"a\nb", "U+000A"},
		{"a\rb", "U+000D"},
		{"\x1b[31mred", "U+001B (byte 0)"},
		{"a\x1f", "U+001F"},
		{"\xff", "not valid UTF-8 (byte 0)"},
		{"caf\xc3", "not valid UTF-8 (byte 3)"},
		{"\xc0\xaf", "not valid UTF-8"},
		{"\xed\xa0\x80", "not valid UTF-8"},
		{strings.Repeat("a", 256), "256 bytes after NFC, limit 255"},
		{strings.Repeat("\u0958", 85), "510 bytes after NFC"}, // 255 typed; U+0958 decomposes and does not recompose
	}
	for _, c := range bad {
		_, err := NormalizeName(c.in)
		if !errors.Is(err, ErrBadName) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("NormalizeName(%q) error = %v, want ErrBadName mentioning %q", c.in, err, c.msg)
		}
		// The message names the problem but never echoes the name.
		if err != nil && len(c.in) > 2 && strings.Contains(err.Error(), c.in) {
			t.Errorf("error for %q repeats the name: %v", c.in, err)
		}
	}
}

func TestSealNameRoundTrip(t *testing.T) {
	tt := newTestTree(t)
	ref := tt.fileRef()
	for _, c := range []struct {
		name   string
		want   string
		sealed int
	}{
		{"a", "a", 29 + 32},
		{strings.Repeat("x", 30), strings.Repeat("x", 30), 29 + 32},
		{strings.Repeat("x", 31), strings.Repeat("x", 31), 29 + 64},
		{"cafe\u0301.txt", "caf\u00e9.txt", 29 + 32},
		{strings.Repeat("y", 255), strings.Repeat("y", 255), 29 + 288},
	} {
		sealed, err := SealName(tt.folderKeys, ref, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != c.sealed {
			t.Errorf("sealed name of %d bytes is %d bytes, want %d", len(c.name), len(sealed), c.sealed)
		}
		got, err := OpenName(tt.folderKeys, ref, sealed)
		if err != nil || got != c.want {
			t.Errorf("OpenName = %q, %v; want %q", got, err, c.want)
		}
	}
	if _, err := SealName(tt.folderKeys, ref, "a/b"); !errors.Is(err, ErrBadName) {
		t.Errorf("SealName of a bad name: %v", err)
	}
	if maxSealedNameSize != 317 || minSealedNameSize != 61 {
		t.Errorf("sealed name sizes %d..%d, want 61..317", minSealedNameSize, maxSealedNameSize)
	}
}

func TestOpenNameTamper(t *testing.T) {
	tt := newTestTree(t)
	ref := tt.fileRef()
	sealed, err := SealName(tt.folderKeys, ref, "report.pdf")
	if err != nil {
		t.Fatal(err)
	}
	tamperAll(t, sealed, func(b []byte) error {
		_, err := OpenName(tt.folderKeys, ref, b)
		return err
	})
	sibling, err := SealName(tt.folderKeys, NodeRef{tt.volume, tt.folder, tt.sibling}, "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	wrong := map[string]struct {
		keys   *NodeKeys
		ref    NodeRef
		sealed []byte
	}{
		"moved (same key, other parent ID)":     {tt.folderKeys, NodeRef{tt.volume, tt.archive, tt.file}, sealed},
		"moved (other folder's key and ID)":     {tt.archiveKeys, NodeRef{tt.volume, tt.archive, tt.file}, sealed},
		"swapped with a sibling":                {tt.folderKeys, NodeRef{tt.volume, tt.folder, tt.sibling}, sealed},
		"sibling's name served for this node":   {tt.folderKeys, ref, sibling},
		"other volume":                          {tt.folderKeys, NodeRef{tt.archive, tt.folder, tt.file}, sealed},
		"opened with the node's own key":        {tt.fileKeys, ref, sealed},
		"sealed as a node key (label mismatch)": {tt.folderKeys, ref, mustWrap(t, tt, ref)},
	}
	for name, w := range wrong {
		if _, err := OpenName(w.keys, w.ref, w.sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", name, err)
		}
	}
}

func mustWrap(t *testing.T, tt *testTree, ref NodeRef) []byte {
	t.Helper()
	s, err := sealWith(tt.folderKeys.name, nil, labelNodeKey, ref.fields(), namePlaintext("report.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenNameNonCanonical seals malformed plaintexts with the right key
// and AD: they authenticate, and must still be refused.
func TestOpenNameNonCanonical(t *testing.T) {
	tt := newTestTree(t)
	ref := tt.fileRef()
	raw := func(pt []byte) []byte {
		s, err := sealWith(tt.folderKeys.name, nil, labelNodeName, ref.fields(), pt)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withLen := func(n int, body string, total int) []byte {
		pt := make([]byte, total)
		pt[0], pt[1] = byte(n>>8), byte(n)
		copy(pt[2:], body)
		return pt
	}
	nonZero := namePlaintext("report.pdf")
	nonZero[len(nonZero)-1] = 0x80
	cases := map[string][]byte{
		"empty plaintext":      nil,
		"one byte":             {0},
		"non-zero padding":     nonZero,
		"over-padded":          withLen(10, "report.pdf", 64),
		"not padded":           withLen(10, "report.pdf", 12),
		"length beyond bucket": withLen(40, "report.pdf", 32),
		"length 65535":         withLen(65535, "report.pdf", 32),
		"empty name":           withLen(0, "", 32),
		"not NFC":              namePlaintext("cafe\u0301"),
		"dot":                  namePlaintext("."),
		"dot dot":              namePlaintext(".."),
		"slash":                namePlaintext("a/b"),
		"NUL":                  namePlaintext("a\x00b"),
		"control":              namePlaintext("a\x07b"),
		"invalid UTF-8":        namePlaintext("\xff\xfe"),
		"256 bytes":            namePlaintext(strings.Repeat("a", 256)),
		"bucket of 31 bytes":   withLen(3, "abc", 31),
	}
	for name, pt := range cases {
		_, err := OpenName(tt.folderKeys, ref, raw(pt))
		if !errors.Is(err, ErrBadName) {
			t.Errorf("%s: error = %v, want ErrBadName", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "report.pdf") {
			t.Errorf("%s: error leaks the name: %v", name, err)
		}
	}
	// The control: a canonical plaintext sealed the same way opens.
	if got, err := OpenName(tt.folderKeys, ref, raw(namePlaintext("report.pdf"))); err != nil || got != "report.pdf" {
		t.Errorf("canonical plaintext: %q, %v", got, err)
	}
}

func TestNameHash(t *testing.T) {
	tt := newTestTree(t)
	a := NameHash(tt.folderKeys, "caf\u00e9")
	if a != NameHash(tt.folderKeys, "cafe\u0301") {
		t.Error("NFC-equivalent names hash differently")
	}
	if a == NameHash(tt.archiveKeys, "caf\u00e9") {
		t.Error("equal names in two folders hash alike")
	}
	if a == NameHash(tt.folderKeys, "Caf\u00e9") {
		t.Error("names differing in case hash alike")
	}
	if a == ([32]byte{}) {
		t.Error("zero hash")
	}
}

func TestOpenRecordName(t *testing.T) {
	tt := newTestTree(t)
	r := tt.fileRecord(t)
	name, err := OpenRecordName(tt.folderKeys, r)
	if err != nil || name != "report.pdf" {
		t.Fatalf("OpenRecordName = %q, %v", name, err)
	}
	r.NameHash = NameHash(tt.folderKeys, "other.pdf")
	if _, err := OpenRecordName(tt.folderKeys, r); !errors.Is(err, ErrBadName) {
		t.Errorf("mismatched name hash: %v", err)
	}
	if _, err := OpenRecordName(tt.folderKeys, nil); err == nil {
		t.Error("nil record")
	}
}
