package client

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/coffer-drive/coffer/internal/crypto"
)

// Block re-use (docs/crypto.md 12.6): a new revision of a large file
// references the blocks of the file's head whose plaintext did not change,
// at the same index and with the same last flag, instead of sealing and
// uploading them again. The server then learns which 4 MiB-aligned blocks
// of the file an edit left unchanged, and nothing else.

// BlockHashes describes a file's content: the SHA-256 of the whole
// plaintext and of each plaintext block (crypto.BlockSize bytes, the last
// one shorter, never padded; none for an empty file). Computed locally,
// never sent: the server sees neither.
type BlockHashes struct {
	Whole  [32]byte
	Blocks [][32]byte
	// Revision, if set, is the revision whose plaintext the caller read
	// (downloaded and checked, or uploaded) and hashed: blocks are then
	// re-used only from that revision as head. Without it the whole-file
	// hash ties base to the head, which suffices against the server but
	// not against a co-writer who signed a head whose blocks do not
	// match its hash (the new revision would fail every reader's check).
	Revision []byte
}

// HashBlocks reads r to its end and returns its BlockHashes, cut as an
// upload cuts the file into blocks.
func HashBlocks(r io.Reader) (BlockHashes, error) {
	var out BlockHashes
	whole := sha256.New()
	buf := make([]byte, crypto.BlockSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			whole.Write(buf[:n])
			out.Blocks = append(out.Blocks, sha256.Sum256(buf[:n]))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return BlockHashes{}, fmt.Errorf("hash blocks: %w", err)
		}
	}
	copy(out.Whole[:], whole.Sum(nil))
	return out, nil
}

// reuseBase is what a new revision may take from the head it replaces:
// per block of the head, the hash of its plaintext, its ID, and the
// revision that sealed it with that revision's content key.
type reuseBase struct {
	hashes  [][32]byte
	ids     [][32]byte
	sources []crypto.ReusedBlock
	// lastLen is the plaintext length of the head's last block.
	lastLen int
}

// reuseBase returns what a new revision of e may re-use of e's head, whose
// content the caller describes with base, or nil (with the reason, for a
// warning, or "" when there is simply nothing to re-use):
//
//   - base must describe the head: the same whole-plaintext SHA-256 as the
//     head's verified attributes and as many blocks;
//   - the head's content key must open under the file's current node key.
//     A head written before the file's key was last rotated is not re-used
//     from, so that the first revision after a rotation shares no block
//     with anything the removed member could read; later revisions re-use
//     only blocks sealed after the rotation (docs/crypto.md 12.6, 13.11);
//   - the head's origin keys must open.
//
// e.Head was verified when e was listed.
func (d *Drive) reuseBase(e *Entry, base *BlockHashes) (*reuseBase, string) {
	if base == nil || e == nil || e.Head == nil || len(e.Head.Blocks) == 0 {
		return nil, ""
	}
	if subtle.ConstantTimeCompare(base.Whole[:], e.Attrs.SHA256[:]) != 1 {
		return nil, ""
	}
	if base.Revision != nil && !bytes.Equal(base.Revision, e.Head.ID) {
		return nil, ""
	}
	n := len(e.Head.Blocks)
	if len(base.Blocks) != n || e.Attrs.BlockCount() != n {
		return nil, ""
	}
	nk, err := e.nodeKeys()
	if err != nil {
		return nil, err.Error()
	}
	ck, err := crypto.OpenContentKey(nk, e.vol, e.ID, e.Head.ID, e.Head.SealedContentKey)
	if err != nil {
		// Written under an earlier key (or unreadable, which the
		// download would report): nothing is re-used.
		return nil, ""
	}
	rr := revisionRecord(e.Head)
	keys, err := rr.OpenOriginKeys(ck)
	if err != nil {
		return nil, fmt.Sprintf("%s: the current version's earlier blocks do not open (%v); uploading every block", e.path, err)
	}
	b := &reuseBase{hashes: base.Blocks, ids: rr.Blocks, sources: make([]crypto.ReusedBlock, n), lastLen: e.Attrs.LastBlockLen()}
	for i := range n {
		j, rev := rr.BlockSource(i)
		key := ck
		if j > 0 {
			key = keys[j-1]
		}
		b.sources[i] = crypto.ReusedBlock{Revision: rev, Key: key}
	}
	return b, ""
}

// reusePlan is what one upload re-uses and learns, block by block. Each
// block index is written by one worker only.
type reusePlan struct {
	base *reuseBase // nil: nothing to re-use
	// hash: compute the plaintext hash of every block (hashes).
	hash   bool
	hashes [][32]byte
	reused []crypto.ReusedBlock
}

func newReusePlan(base *reuseBase, hash bool, n int) *reusePlan {
	p := &reusePlan{base: base, hash: hash || base != nil}
	if p.hash && n > 0 {
		p.hashes = make([][32]byte, n)
	}
	if base != nil {
		p.reused = make([]crypto.ReusedBlock, n)
	}
	return p
}

// note records the plaintext hash of block index (unpadded), if the plan
// keeps hashes.
func (p *reusePlan) note(index int, plain []byte) {
	if p != nil && p.hash {
		p.hashes[index] = sha256.Sum256(plain)
	}
}

// take reports whether the head's block at index can stand for the new
// revision's block there, whose hash note recorded (n plaintext bytes,
// last: whether it is the new revision's last block): same index, same
// last flag, same length, same plaintext hash. It then records where that
// block comes from and returns its ID.
func (p *reusePlan) take(index, n int, last bool) ([32]byte, bool) {
	if p == nil || p.base == nil {
		return [32]byte{}, false
	}
	b := p.base
	if index >= len(b.ids) || (index == len(b.ids)-1) != last {
		return [32]byte{}, false
	}
	want := crypto.BlockSize
	if last {
		want = b.lastLen
	}
	if n != want || p.hashes[index] != b.hashes[index] {
		return [32]byte{}, false
	}
	p.reused[index] = b.sources[index]
	return b.ids[index], true
}

// origins seals the origins of the new revision (rev, content key ck) of
// e: nil, nil if it re-uses nothing.
func (p *reusePlan) origins(e *Entry, rev []byte, ck crypto.ContentKey) ([]crypto.Origin, []uint32, error) {
	if p == nil || p.base == nil {
		return nil, nil, nil
	}
	return crypto.SealOrigins(ck, e.vol, e.ID, rev, p.reused)
}
