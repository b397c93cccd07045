package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
)

func TestContentKeyRoundTrip(t *testing.T) {
	tt := newTestTree(t)
	rev, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := SealContentKey(tt.fileKeys, tt.volume, tt.file, rev, ck)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != SealedContentKeySize || SealedContentKeySize != 61 {
		t.Fatalf("sealed content key is %d bytes", len(sealed))
	}
	got, err := OpenContentKey(tt.fileKeys, tt.volume, tt.file, rev, sealed)
	if err != nil || got != ck {
		t.Fatalf("open content key: %v", err)
	}
	tamperAll(t, sealed, func(b []byte) error {
		_, err := OpenContentKey(tt.fileKeys, tt.volume, tt.file, rev, b)
		return err
	})
	for name, w := range map[string]struct {
		keys           *NodeKeys
		vol, node, rev []byte
	}{
		"other revision":            {tt.fileKeys, tt.volume, tt.file, tt.root},
		"other file":                {tt.fileKeys, tt.volume, tt.sibling, rev},
		"other volume":              {tt.fileKeys, tt.archive, tt.file, rev},
		"parent folder's keys":      {tt.folderKeys, tt.volume, tt.file, rev},
		"node and revision swapped": {tt.fileKeys, tt.volume, rev, tt.file},
	} {
		if _, err := OpenContentKey(w.keys, w.vol, w.node, w.rev, sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := SealContentKey(tt.fileKeys, tt.volume, tt.file, rev[:15], ck); err == nil {
		t.Error("SealContentKey accepted a short revision ID")
	}
	if _, err := OpenContentKey(tt.fileKeys, nil, tt.file, rev, sealed); err == nil {
		t.Error("OpenContentKey accepted an empty volume ID")
	}
}

func TestAttrs(t *testing.T) {
	tt := newTestTree(t)
	rev, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Attrs{
		{},
		{Size: 15, ModTime: 1767225600_123456789, SHA256: sha256.Sum256([]byte("x"))},
		{Size: math.MaxUint64, ModTime: math.MinInt64},
		{Size: 1, ModTime: -1},
	} {
		sealed, err := SealAttrs(ck, tt.volume, tt.file, rev, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(sealed) != SealedAttrsSize || SealedAttrsSize != 78 {
			t.Fatalf("sealed attrs are %d bytes", len(sealed))
		}
		got, err := OpenAttrs(ck, tt.volume, tt.file, rev, sealed)
		if err != nil || got != a {
			t.Errorf("OpenAttrs = %+v, %v; want %+v", got, err, a)
		}
	}
	a := Attrs{Size: 1000, ModTime: 42}
	sealed, err := SealAttrs(ck, tt.volume, tt.file, rev, a)
	if err != nil {
		t.Fatal(err)
	}
	tamperAll(t, sealed, func(b []byte) error {
		_, err := OpenAttrs(ck, tt.volume, tt.file, rev, b)
		return err
	})
	other, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]struct {
		ck             ContentKey
		vol, node, rev []byte
	}{
		"attrs of another revision": {ck, tt.volume, tt.file, tt.root},
		"other file":                {ck, tt.volume, tt.sibling, rev},
		"other volume":              {ck, tt.archive, tt.file, rev},
		"other content key":         {other, tt.volume, tt.file, rev},
	} {
		if _, err := OpenAttrs(w.ck, w.vol, w.node, w.rev, sealed); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", name, err)
		}
	}
	// Validly sealed but malformed plaintexts.
	key := [32]byte(ck)
	fields := idFields(tt.volume, tt.file, rev)
	for name, pt := range map[string][]byte{
		"version 0x02": append([]byte{2}, a.marshal()[1:]...),
		"48 bytes":     a.marshal()[:48],
		"50 bytes":     append(a.marshal(), 0),
		"empty":        nil,
	} {
		s, err := sealEnvelope(&key, labelAttrs, fields, pt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := OpenAttrs(ck, tt.volume, tt.file, rev, s); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}

func TestPadmeLen(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{-1, 0}, {0, 0}, {1, 1}, {2, 2}, {3, 3}, {8, 8}, {9, 10}, {15, 16}, {17, 18}, {37, 40}, {100, 104},
		{1000, 1024}, {1025, 1088}, {65537, 67584}, {BlockSize - 1, BlockSize}, {BlockSize, BlockSize}, {BlockSize + 1, BlockSize},
	} {
		if got := PadmeLen(c.n); got != c.want {
			t.Errorf("PadmeLen(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	// Properties over a range, and around every power of two.
	check := func(n int) {
		p := PadmeLen(n)
		if p < n || p > BlockSize {
			t.Fatalf("PadmeLen(%d) = %d out of range", n, p)
		}
		if PadmeLen(p) != p {
			t.Fatalf("PadmeLen(%d) = %d is not a fixed point", n, p)
		}
		if float64(p-n) > 0.12*float64(n)+1 {
			t.Fatalf("PadmeLen(%d) = %d: overhead above 12%%", n, p)
		}
		if n > 1 && PadmeLen(n-1) > p {
			t.Fatalf("PadmeLen not monotonic at %d", n)
		}
	}
	for n := 1; n < 1<<16; n++ {
		check(n)
	}
	for e := 16; e <= 22; e++ {
		for d := -3; d <= 3; d++ {
			if n := 1<<e + d*1000 + d; n <= BlockSize {
				check(n)
			}
		}
	}
	if BlockOverhead() != 29 {
		t.Errorf("BlockOverhead() = %d", BlockOverhead())
	}
	for n, want := range map[int]int{0: 0, -5: 0, 1: 30, 15: 45, 1000: 1053, BlockSize: BlockSize + 29, BlockSize + 1: 0} {
		if got := SealedBlockSize(n); got != want {
			t.Errorf("SealedBlockSize(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestBlockCount(t *testing.T) {
	for _, c := range []struct {
		size      uint64
		count     int64
		lastBlock int
	}{
		{0, 0, 0}, {1, 1, 1}, {BlockSize - 1, 1, BlockSize - 1}, {BlockSize, 1, BlockSize},
		{BlockSize + 1, 2, 1}, {3 * BlockSize, 3, BlockSize}, {MaxBlocks * BlockSize, MaxBlocks, BlockSize},
		{MaxBlocks*BlockSize + 1, -1, 1}, {math.MaxUint64, -1, BlockSize - 1},
	} {
		a := Attrs{Size: c.size}
		if int64(a.BlockCount()) != c.count || a.LastBlockLen() != c.lastBlock {
			t.Errorf("size %d: BlockCount %d, LastBlockLen %d; want %d, %d", c.size, a.BlockCount(), a.LastBlockLen(), c.count, c.lastBlock)
		}
	}
}

// testRevision is a random revision of tt.file with a block sealer.
type testRevision struct {
	id     []byte
	ck     ContentKey
	sealer *BlockSealer
}

func newTestRevision(t testing.TB, tt *testTree, blockSize int) *testRevision {
	t.Helper()
	id, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newBlockSealer(ck, tt.volume, tt.file, id, blockSize)
	if err != nil {
		t.Fatal(err)
	}
	return &testRevision{id: id, ck: ck, sealer: s}
}

// sealAll splits plain into blocks and seals them.
func (r *testRevision) sealAll(t testing.TB, plain []byte) [][]byte {
	t.Helper()
	bs := r.sealer.blockSize
	var blocks [][]byte
	for i := 0; i*bs < len(plain); i++ {
		end := min((i+1)*bs, len(plain))
		b, err := r.sealer.Seal(nil, plain[i*bs:end], uint64(i), end == len(plain))
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	return blocks
}

// openAll opens blocks as a reader does: the count and size come from the
// attributes, the last block is trimmed.
func (r *testRevision) openAll(blocks [][]byte, size int) ([]byte, error) {
	var out []byte
	for i, b := range blocks {
		last := i == len(blocks)-1
		var err error
		start := len(out)
		out, err = r.sealer.Open(out, b, uint64(i), last)
		if err != nil {
			return nil, err
		}
		if last {
			out = out[:start+size-i*r.sealer.blockSize]
		}
	}
	return out, nil
}

func TestBlocksRoundTrip(t *testing.T) {
	tt := newTestTree(t)
	for _, bs := range []int{64, BlockSize} {
		r := newTestRevision(t, tt, bs)
		for _, size := range []int{1, 2, bs - 1, bs, bs + 1, 2*bs + 37, 3 * bs} {
			plain := patternBytes(size, size)
			blocks := r.sealAll(t, plain)
			if want := (size + bs - 1) / bs; len(blocks) != want {
				t.Fatalf("size %d: %d blocks, want %d", size, len(blocks), want)
			}
			for i, b := range blocks {
				n := min(bs, size-i*bs)
				if len(b) != blockOverhead+padmeCapped(n, bs) {
					t.Errorf("size %d block %d: %d bytes", size, i, len(b))
				}
				if bs == BlockSize && len(b) != SealedBlockSize(n) {
					t.Errorf("size %d block %d: SealedBlockSize disagrees", size, i)
				}
			}
			got, err := r.openAll(blocks, size)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("block size %d, size %d: round trip failed: %v", bs, size, err)
			}
		}
	}
}

func TestBlockSealAppends(t *testing.T) {
	tt := newTestTree(t)
	r := newTestRevision(t, tt, 64)
	prefix := []byte("prefix")
	for _, n := range []int{64, 37} {
		out, err := r.sealer.Seal(bytes.Clone(prefix), patternBytes(0, n), 0, n != 64)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, prefix) {
			t.Fatal("Seal did not keep dst")
		}
		pt, err := r.sealer.Open(bytes.Clone(prefix), out[len(prefix):], 0, n != 64)
		if err != nil || !bytes.HasPrefix(pt, prefix) || !bytes.Equal(pt[len(prefix):len(prefix)+n], patternBytes(0, n)) {
			t.Fatalf("Open did not append: %v", err)
		}
	}
	// Two seals of the same plaintext at the same index use fresh nonces
	// (a re-run upload must not reuse one).
	a, err := r.sealer.Seal(nil, patternBytes(0, 64), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.sealer.Seal(nil, patternBytes(0, 64), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[1:13], b[1:13]) {
		t.Error("two seals at one index used the same nonce")
	}
}

func TestBlockSealRefuses(t *testing.T) {
	tt := newTestTree(t)
	r := newTestRevision(t, tt, 64)
	for _, c := range []struct {
		n    int
		last bool
	}{{0, true}, {65, true}, {63, false}, {65, false}, {0, false}} {
		if _, err := r.sealer.Seal(nil, make([]byte, c.n), 0, c.last); err == nil {
			t.Errorf("Seal accepted %d bytes with last=%v", c.n, c.last)
		}
	}
	var nilSealer *BlockSealer
	if _, err := nilSealer.Seal(nil, make([]byte, 1), 0, true); err == nil {
		t.Error("nil sealer sealed")
	}
	if _, err := nilSealer.Open(nil, make([]byte, 40), 0, true); err == nil {
		t.Error("nil sealer opened")
	}
	if _, err := (&BlockSealer{}).Open(nil, make([]byte, 40), 0, true); err == nil {
		t.Error("zero sealer opened")
	}
	if _, err := NewBlockSealer(r.ck, tt.volume, tt.file, r.id[:15]); err == nil {
		t.Error("NewBlockSealer accepted a short revision ID")
	}
}

// TestBlocksTamper covers [6]: reorder, drop, truncate, append, splice,
// and every bit of a block.
func TestBlocksTamper(t *testing.T) {
	tt := newTestTree(t)
	const bs = 64
	r := newTestRevision(t, tt, bs)
	plain := patternBytes(0, 3*bs+37)
	blocks := r.sealAll(t, plain) // 64, 64, 64, 37 (padded to 40)
	open := func(b []byte, i uint64, last bool) error {
		_, err := r.sealer.Open(nil, b, i, last)
		return err
	}
	mustFail := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: error = %v, want ErrDecrypt", what, err)
		}
	}
	for i, b := range blocks {
		last := i == len(blocks)-1
		if err := open(b, uint64(i), last); err != nil {
			t.Fatalf("control: block %d does not open: %v", i, err)
		}
		tamperAll(t, b, func(x []byte) error { return open(x, uint64(i), last) })
		mustFail(fmt.Sprintf("block %d with the last flag flipped", i), open(b, uint64(i), !last))
		for j := range blocks {
			if j != i {
				mustFail(fmt.Sprintf("block %d at index %d (reordered)", i, j), open(b, uint64(j), j == len(blocks)-1))
			}
		}
	}
	// Truncation: the last block dropped, block n-2 read as the last.
	mustFail("truncated (block n-2 as last)", open(blocks[2], 2, true))
	// Drop a middle block: block 2 at index 1.
	mustFail("middle block dropped", open(blocks[2], 1, false))
	// Append: the real last block read as if another followed, and an
	// extra block after it.
	mustFail("last block as middle", open(blocks[3], 3, false))
	mustFail("extra block after the last", open(blocks[0], 4, true))
	// Full last block: a file of exactly 2 blocks, where only the flag
	// tells the last block from a middle one.
	full := r.sealAll(t, patternBytes(0, 2*bs))
	mustFail("full last block as middle (append)", open(full[1], 1, false))
	mustFail("full middle block as last (truncate)", open(full[0], 0, true))

	// Splice: blocks of another revision of the same file (same key, to
	// isolate the AD), of another file, of another volume.
	for name, ids := range map[string][3][]byte{
		"other revision": {tt.volume, tt.file, tt.root},
		"other file":     {tt.volume, tt.sibling, r.id},
		"other volume":   {tt.archive, tt.file, r.id},
	} {
		s, err := newBlockSealer(r.ck, ids[0], ids[1], ids[2], bs)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Open(nil, blocks[0], 0, false)
		mustFail("block opened in "+name, err)
	}
	other := newTestRevision(t, tt, bs)
	ob := other.sealAll(t, plain)
	mustFail("block of another revision (other key) spliced in", open(ob[1], 1, false))

	// Validly sealed blocks of lengths no block may have.
	raw := func(pt []byte, i uint64, last bool) []byte {
		ad := r.sealer.ad(i, last)
		defer r.sealer.ads.Put(ad)
		out := make([]byte, 1+nonceSize)
		out[0] = blockVersion
		return r.sealer.aead.Seal(out, out[1:], pt, *ad)
	}
	mustFail("middle block of 63 bytes", open(raw(make([]byte, 63), 0, false), 0, false))
	mustFail("last block of 39 bytes (not Padmé)", open(raw(make([]byte, 39), 3, true), 3, true))
	mustFail("last block of 65 bytes", open(raw(make([]byte, 65), 3, true), 3, true))
	mustFail("empty last block", open(raw(nil, 0, true), 0, true))
	if err := open(raw(make([]byte, 40), 3, true), 3, true); err != nil {
		t.Errorf("control: a 40-byte last block sealed the same way: %v", err)
	}
}

// TestBlocksTruncateRealSize drops the last block of a real-size file.
func TestBlocksTruncateRealSize(t *testing.T) {
	tt := newTestTree(t)
	r := newTestRevision(t, tt, BlockSize)
	blocks := r.sealAll(t, make([]byte, 2*BlockSize+10))
	if _, err := r.sealer.Open(nil, blocks[1], 1, true); !errors.Is(err, ErrDecrypt) {
		t.Errorf("block n-2 opened as last: %v", err)
	}
	if _, err := r.sealer.Open(nil, blocks[1], 1, false); err != nil {
		t.Errorf("control: %v", err)
	}
}

func TestBlockSealerConcurrent(t *testing.T) {
	tt := newTestTree(t)
	r := newTestRevision(t, tt, 64)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				idx := uint64(g*1000 + i)
				last := i%2 == 0
				n := 64
				if last {
					n = 1 + i%64
				}
				pt := patternBytes(i, n)
				b, err := r.sealer.Seal(nil, pt, idx, last)
				if err == nil {
					var got []byte
					got, err = r.sealer.Open(nil, b, idx, last)
					if err == nil && !bytes.Equal(got[:n], pt) {
						err = errors.New("wrong plaintext")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBlockSealerNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	tt := newTestTree(t)
	r := newTestRevision(t, tt, BlockSize)
	pt := make([]byte, BlockSize)
	dst := make([]byte, 0, SealedBlockSize(BlockSize))
	out := make([]byte, 0, BlockSize)
	block, err := r.sealer.Seal(nil, pt, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	short := pt[:1000]
	for name, f := range map[string]func(){
		"seal":        func() { _, _ = r.sealer.Seal(dst[:0], pt, 0, false) },
		"seal padded": func() { _, _ = r.sealer.Seal(dst[:0], short, 0, true) },
		"open":        func() { _, _ = r.sealer.Open(out[:0], block, 0, false) },
	} {
		if n := testing.AllocsPerRun(5, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

func (tt *testTree) revisionRecord(t testing.TB, blocks int) (*RevisionRecord, Attrs) {
	t.Helper()
	rev, err := NewID()
	if err != nil {
		t.Fatal(err)
	}
	ck, err := NewContentKey()
	if err != nil {
		t.Fatal(err)
	}
	sck, err := SealContentKey(tt.fileKeys, tt.volume, tt.file, rev, ck)
	if err != nil {
		t.Fatal(err)
	}
	a := Attrs{Size: uint64(blocks-1)*BlockSize + 5, ModTime: 7}
	sa, err := SealAttrs(ck, tt.volume, tt.file, rev, a)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][32]byte, blocks)
	for i := range ids {
		ids[i] = sha256.Sum256([]byte{byte(i)})
	}
	return &RevisionRecord{Volume: tt.volume, Node: tt.file, Revision: rev, Seq: 4, SealedContentKey: sck,
		Blocks: ids, SealedAttrs: sa, Author: "alice"}, a
}

func cloneRevision(r *RevisionRecord) *RevisionRecord {
	c := *r
	c.Blocks = append([][32]byte(nil), r.Blocks...)
	return &c
}

func TestRevisionRecord(t *testing.T) {
	tt := newTestTree(t)
	r, a := tt.revisionRecord(t, 3)
	if err := CheckManifest(r, a); err != nil {
		t.Fatal(err)
	}
	sig, err := r.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	pub := tt.owner.IdentityPublic()
	if err := r.Verify(pub, sig); err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, tagged(labelRevision, r.Marshal()), sig) {
		t.Error("signature is not over tagged(label, Marshal())")
	}
	// Layout.
	want := []byte{1}
	for _, f := range [][]byte{r.Volume, r.Node, r.Revision} {
		want = appendLP(want, f)
	}
	want = append(want, be64(4)...)
	want = appendLP(want, r.SealedContentKey)
	want = append(want, 0, 0, 0, 3)
	for _, id := range r.Blocks {
		want = append(want, id[:]...)
	}
	want = appendLP(want, r.SealedAttrs)
	want = appendLP(want, []byte("alice"))
	eqHex(t, "revision Marshal", r.Marshal(), want)

	other, _ := tt.revisionRecord(t, 3)
	edits := map[string]func(r *RevisionRecord){
		"blocks reordered":          func(r *RevisionRecord) { r.Blocks[0], r.Blocks[2] = r.Blocks[2], r.Blocks[0] },
		"last block dropped":        func(r *RevisionRecord) { r.Blocks = r.Blocks[:2] },
		"first block dropped":       func(r *RevisionRecord) { r.Blocks = r.Blocks[1:] },
		"block appended":            func(r *RevisionRecord) { r.Blocks = append(r.Blocks, r.Blocks[0]) },
		"block ID bit":              func(r *RevisionRecord) { r.Blocks[1][7] ^= 1 },
		"no blocks":                 func(r *RevisionRecord) { r.Blocks = nil },
		"volume":                    func(r *RevisionRecord) { r.Volume = tt.archive },
		"node":                      func(r *RevisionRecord) { r.Node = tt.sibling },
		"revision":                  func(r *RevisionRecord) { r.Revision = other.Revision },
		"seq down":                  func(r *RevisionRecord) { r.Seq-- },
		"seq up":                    func(r *RevisionRecord) { r.Seq++ },
		"content key":               func(r *RevisionRecord) { r.SealedContentKey = other.SealedContentKey },
		"attrs of another revision": func(r *RevisionRecord) { r.SealedAttrs = other.SealedAttrs },
		"author":                    func(r *RevisionRecord) { r.Author = "bob" },
	}
	// Digest.
	digest := r.Digest()
	if want := sha256.Sum256(tagged(labelRevisionDigest, r.Marshal())); digest != want || digest == ([32]byte{}) {
		t.Errorf("Digest = %x, want SHA-256(tagged(label, Marshal())) = %x", digest, want)
	}
	if signed := sha256.Sum256(tagged(labelRevision, r.Marshal())); digest == signed {
		t.Error("Digest hashes the signed message: it needs its own label")
	}
	for name, edit := range edits {
		c := cloneRevision(r)
		edit(c)
		if err := c.Verify(pub, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: error = %v, want ErrBadSignature", name, err)
		}
		if d := c.Digest(); d == digest {
			t.Errorf("%s: digest unchanged", name)
		}
	}
	if err := r.Verify(tt.other.IdentityPublic(), sig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("other user's key: %v", err)
	}
	otherSig, err := r.Sign(tt.other)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(pub, otherSig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signed by another user: %v", err)
	}
	if err := r.Verify(append([]byte{1}, make([]byte, 31)...), trivialSignature()); !errors.Is(err, ErrBadEd25519Key) {
		t.Errorf("small-order author key: %v", err)
	}
	nodeSig := ed25519.Sign(tt.owner.IdentityKey(), tagged(labelNodeRecord, r.Marshal()))
	if err := r.Verify(pub, nodeSig); !errors.Is(err, ErrBadSignature) {
		t.Errorf("signed under the node-record label: %v", err)
	}

	bad := map[string]func(r *RevisionRecord){
		"short volume":      func(r *RevisionRecord) { r.Volume = r.Volume[:15] },
		"empty node":        func(r *RevisionRecord) { r.Node = nil },
		"long revision":     func(r *RevisionRecord) { r.Revision = append(bytes.Clone(r.Revision), 0) },
		"seq 0":             func(r *RevisionRecord) { r.Seq = 0 },
		"short content key": func(r *RevisionRecord) { r.SealedContentKey = r.SealedContentKey[:60] },
		"long attrs":        func(r *RevisionRecord) { r.SealedAttrs = append(bytes.Clone(r.SealedAttrs), 0) },
		"empty author":      func(r *RevisionRecord) { r.Author = "" },
	}
	for name, edit := range bad {
		c := cloneRevision(r)
		edit(c)
		if err := c.Validate(); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Validate = %v", name, err)
		}
		if c.Marshal() != nil {
			t.Errorf("%s: Marshal returned bytes", name)
		}
		if _, err := c.Sign(tt.owner); err == nil {
			t.Errorf("%s: signed", name)
		}
		s := ed25519.Sign(tt.owner.IdentityKey(), tagged(labelRevision, c.encode()))
		if err := c.Verify(pub, s); !errors.Is(err, ErrBadSignature) || !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: Verify = %v", name, err)
		}
		if c.Digest() != ([32]byte{}) {
			t.Errorf("%s: malformed record has a digest", name)
		}
	}
	var nilRev *RevisionRecord
	if nilRev.Digest() != ([32]byte{}) {
		t.Error("nil record has a digest")
	}
}

func TestCheckManifest(t *testing.T) {
	tt := newTestTree(t)
	r, a := tt.revisionRecord(t, 3)
	if err := CheckManifest(r, a); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		blocks int
		size   uint64
	}{
		"block dropped":       {2, a.Size},
		"block appended":      {4, a.Size},
		"empty file, 1 block": {1, 0},
		"1 byte, no block":    {0, 1},
		"size beyond limit":   {0, MaxBlocks*BlockSize + 1},
	} {
		rev := &RevisionRecord{Blocks: make([][32]byte, c.blocks)}
		if err := CheckManifest(rev, Attrs{Size: c.size}); !errors.Is(err, ErrBadManifest) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckManifest(&RevisionRecord{}, Attrs{}); err != nil {
		t.Errorf("empty file, no block: %v", err)
	}
	if err := CheckManifest(nil, Attrs{}); !errors.Is(err, ErrBadManifest) {
		t.Errorf("nil revision: %v", err)
	}
}

// TestMatchesHead serves revisions against a verified node record, as a
// client listing a folder does. Every tampered revision is well formed and
// validly signed by an account that may have signed it, so that only the
// head check, and for most only the digest, stands between it and the
// client.
func TestMatchesHead(t *testing.T) {
	tt := newTestTree(t)
	pub := tt.owner.IdentityPublic()
	r, _ := tt.revisionRecord(t, 3)
	n := tt.fileRecordWithHead(t, r)
	nodeSig, err := n.Sign(tt.owner)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Verify(pub, nodeSig); err != nil {
		t.Fatal(err)
	}
	if err := r.MatchesHead(n); err != nil {
		t.Fatal(err)
	}
	older, _ := tt.revisionRecord(t, 3)
	older.Seq = r.Seq - 1
	other, _ := tt.revisionRecord(t, 3)
	for i := range other.Blocks {
		other.Blocks[i] = sha256.Sum256([]byte{'o', byte(i)}) // revisionRecord's IDs are the same for every record
	}
	edit := func(fn func(c *RevisionRecord)) *RevisionRecord {
		c := cloneRevision(r)
		fn(c)
		return c
	}
	signers := map[string]*AccountKeys{"author bob (signed by bob)": tt.other}
	for name, c := range map[string]*RevisionRecord{
		"older revision (rollback)": older,
		"same ID, other seq":        edit(func(c *RevisionRecord) { c.Seq++ }),
		"other node":                edit(func(c *RevisionRecord) { c.Node = tt.sibling }),
		"other volume":              edit(func(c *RevisionRecord) { c.Volume = tt.archive }),
		// Same volume, node, revision ID and seq: only the digest differs.
		"other block list":              edit(func(c *RevisionRecord) { c.Blocks = other.Blocks }),
		"block replaced":                edit(func(c *RevisionRecord) { c.Blocks[2] = other.Blocks[2] }),
		"blocks reordered":              edit(func(c *RevisionRecord) { c.Blocks[0], c.Blocks[1] = c.Blocks[1], c.Blocks[0] }),
		"last block dropped":            edit(func(c *RevisionRecord) { c.Blocks = c.Blocks[:2] }),
		"other attrs":                   edit(func(c *RevisionRecord) { c.SealedAttrs = other.SealedAttrs }),
		"other content key":             edit(func(c *RevisionRecord) { c.SealedContentKey = other.SealedContentKey }),
		"author bob (signed by bob)":    edit(func(c *RevisionRecord) { c.Author = "bob" }),
		"author changed, same signer":   edit(func(c *RevisionRecord) { c.Author = "alice2" }),
		"content key bit flipped":       edit(func(c *RevisionRecord) { c.SealedContentKey = flip(c.SealedContentKey, 30, 1) }),
		"attrs bit flipped":             edit(func(c *RevisionRecord) { c.SealedAttrs = flip(c.SealedAttrs, 30, 1) }),
		"malformed (60-byte sealed CK)": edit(func(c *RevisionRecord) { c.SealedContentKey = c.SealedContentKey[:60] }),
	} {
		signer := tt.owner
		if s, ok := signers[name]; ok {
			signer = s
		}
		if sig, err := c.Sign(signer); err == nil {
			if err := c.Verify(signer.IdentityPublic(), sig); err != nil {
				t.Fatalf("%s: premise: the served revision is validly signed: %v", name, err)
			}
		} else if !errors.Is(err, ErrBadRecord) {
			t.Fatal(err)
		}
		if err := c.MatchesHead(n); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A node record naming no head matches no revision, even a malformed
	// one whose IDs and seq are as empty as the record's.
	folder := cloneRecord(n)
	folder.Kind, folder.Revision, folder.RevisionSeq, folder.RevisionDigest = KindFolder, nil, 0, [32]byte{}
	newFile := cloneRecord(n)
	newFile.Revision, newFile.RevisionSeq, newFile.RevisionDigest = nil, 0, [32]byte{}
	empty := edit(func(c *RevisionRecord) { c.Revision, c.Seq = nil, 0 })
	for name, rec := range map[string]*NodeRecord{"folder": folder, "file without revision": newFile} {
		if err := rec.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for rname, rev := range map[string]*RevisionRecord{"head": r, "empty revision ID and seq": empty} {
			if err := rev.MatchesHead(rec); !errors.Is(err, ErrBadRecord) {
				t.Errorf("%s against %s: %v", rname, name, err)
			}
		}
	}
	if err := r.MatchesHead(nil); !errors.Is(err, ErrBadRecord) {
		t.Errorf("nil node record: %v", err)
	}
	var nilRev *RevisionRecord
	if err := nilRev.MatchesHead(n); !errors.Is(err, ErrBadRecord) {
		t.Errorf("nil revision: %v", err)
	}
}
