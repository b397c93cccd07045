// Package blob defines the block store the server keeps file contents in.
//
// A block is an opaque run of ciphertext, at most a few MiB, named by the
// SHA-256 of its bytes. Because the name is the hash, every store can check
// what it is given and what it hands back: Put refuses bytes that do not
// hash to the ID, and the reader returned by Get fails with ErrCorrupt when
// the stored copy no longer does. A rotted disk or a tampering backend is
// thus reported as corruption instead of being passed on as data.
//
// Implementations live in sub-packages (file, and later s3 and a replicated
// store over several locations) and all pass the shared suite in blobtest.
package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Errors returned by every Store implementation. Callers test them with errors.Is.
var (
	// ErrNotFound means no block with the ID is stored.
	ErrNotFound = errors.New("block not found")
	// ErrCorrupt means the bytes given to Put, or read back from the store,
	// do not hash to the block's ID.
	ErrCorrupt = errors.New("block content does not match its ID")
)

// ID names a block: the SHA-256 of its bytes.
type ID [32]byte

// Sum returns the ID of a block with the given content.
func Sum(data []byte) ID {
	return ID(sha256.Sum256(data))
}

// String returns the ID as 64 lowercase hex digits, the form ParseID accepts.
func (id ID) String() string {
	return hex.EncodeToString(id[:])
}

// ParseID parses the 64 lowercase hex digits written by ID.String.
//
// Upper case is refused so that every ID has exactly one spelling: IDs
// become file and object names, and two spellings of one ID would be two
// names for one block.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		// The input is not echoed: it comes from clients and may be huge.
		return ID{}, fmt.Errorf("parse block ID: %d characters, want %d hex digits", len(s), 2*len(id))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ID{}, fmt.Errorf("parse block ID: character %d is not a lowercase hex digit", i)
		}
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("parse block ID: %w", err)
	}
	return id, nil
}

// Store is a block store. All methods are safe for concurrent use, and
// every method fails once its context is done.
type Store interface {
	// Put stores the block read from r under id. It reads r to EOF and
	// hashes the bytes as it goes. If they do not hash to id it returns
	// ErrCorrupt; if reading r fails, or ctx ends before the block is in
	// place, it returns that error. In these cases it stores nothing. A
	// later failure (say, of the final flush) may leave the block stored,
	// but a block is never visible to Get, Stat or List in part.
	//
	// Putting a block that is already stored succeeds, and leaves a sound
	// copy even if the old one had rotted.
	//
	// Put does not limit the size of a block; callers bound r.
	//
	// When Put returns nil the block is durable: it survives a crash or
	// power loss of the machine holding it (implementations document what
	// exactly they rely on).
	Put(ctx context.Context, id ID, r io.Reader) error

	// Get opens the block for reading, or returns ErrNotFound. The reader
	// hashes what it returns and, at the end of the block, returns
	// ErrCorrupt instead of io.EOF if the bytes do not hash to id. Since
	// the bytes before that have already been handed out, callers must
	// not act on them until the reader has returned io.EOF. The caller
	// closes the reader. It fails once ctx is done, so ctx must outlive
	// the read.
	Get(ctx context.Context, id ID) (io.ReadCloser, error)

	// Stat returns the size of the stored block in bytes, or ErrNotFound.
	// It does not read or check the content.
	Stat(ctx context.Context, id ID) (size int64, err error)

	// Delete removes the block. Deleting a block that is not stored is
	// not an error. Delete need not be durable: after a crash a block
	// deleted just before may be back, so whoever collects garbage must
	// expect to delete a block more than once.
	Delete(ctx context.Context, id ID) error

	// List calls fn once for every stored block, in no particular order.
	// If fn returns an error, List stops and returns that error
	// unwrapped. Blocks put or deleted while List runs may or may not be
	// seen. fn may call the store's other methods.
	List(ctx context.Context, fn func(ID) error) error

	// Close releases the store's resources. Calls in progress may fail.
	Close() error
}

// Info describes a stored block as a listing sees it, without reading it.
type Info struct {
	ID      ID
	Size    int64     // bytes stored
	ModTime time.Time // when this copy was written
}

// Block is one block held in memory, for PutBatch.
type Block struct {
	ID   ID
	Data []byte
}

// BatchPutter is implemented by stores that can put many blocks at a lower
// cost than one Put each, typically by making the whole batch durable with
// a few shared flushes instead of one or two per block.
type BatchPutter interface {
	// PutBatch stores every block of the batch, like one Put per block.
	//
	// If any block's data does not hash to its ID, it returns ErrCorrupt
	// naming that block and stores none of the batch. On any other error
	// some blocks may be stored, each complete, and the caller should put
	// the batch again. When PutBatch returns nil every block of the batch
	// is durable in the sense of Store.Put. The same block may occur more
	// than once in a batch, and blocks may already be stored.
	PutBatch(ctx context.Context, blocks []Block) error
}

// PutBatch stores the blocks with s.PutBatch if s is a BatchPutter, else
// with one s.Put each. It keeps the all-or-nothing promise about corrupt
// blocks either way, by checking every block before storing any.
func PutBatch(ctx context.Context, s Store, blocks []Block) error {
	if bp, ok := s.(BatchPutter); ok {
		return bp.PutBatch(ctx, blocks)
	}
	if err := CheckBatch(blocks); err != nil {
		return err
	}
	for _, b := range blocks {
		if err := s.Put(ctx, b.ID, bytes.NewReader(b.Data)); err != nil {
			return err
		}
	}
	return nil
}

// CheckBatch returns ErrCorrupt, naming the first block whose data does not
// hash to its ID, or nil if all of them do. PutBatch implementations call
// it before storing anything.
func CheckBatch(blocks []Block) error {
	for i := range blocks {
		b := &blocks[i]
		if Sum(b.Data) != b.ID {
			return fmt.Errorf("put block %x: %w", b.ID[:8], ErrCorrupt)
		}
	}
	return nil
}

// readBufSize is the size of the buffer VerifyReader's WriteTo copies
// through: large enough that a 4 MiB block takes a handful of reads, small
// enough to allocate per call.
const readBufSize = 256 << 10

// VerifyReader wraps rc, the stored bytes of block id, so that reading it
// checks the content: at the end it returns ErrCorrupt instead of io.EOF
// if the bytes did not hash to id. Every error but io.EOF is wrapped with
// the block's ID. Once done, ctx makes further reads fail. Implementations
// return it from Get.
func VerifyReader(ctx context.Context, id ID, rc io.ReadCloser) io.ReadCloser {
	return &verifier{ctx: ctx, id: id, rc: rc, h: sha256.New()}
}

// WithSize gives rc a Size method returning size, the number of bytes the
// store holds for the block, so that a reader can size its buffer (and a
// server its Content-Length) without a Stat. Implementations wrap what Get
// returns in it when the size comes free with the read: a file's fstat,
// an S3 GET's Content-Length.
func WithSize(rc io.ReadCloser, size int64) io.ReadCloser {
	return sized{rc, size}
}

type sized struct {
	io.ReadCloser
	size int64
}

// Size returns the number of bytes the store holds for the block.
func (s sized) Size() int64 { return s.size }

// RawReader wraps rc, the stored bytes of block id, as VerifyReader does
// but without checking them: for a store opened unchecked, whose caller
// checks what it reads. Errors but io.EOF are wrapped with the block's ID,
// and once ctx is done further reads fail.
func RawReader(ctx context.Context, id ID, rc io.ReadCloser) io.ReadCloser {
	return &rawReader{ctx: ctx, id: id, rc: rc}
}

type rawReader struct {
	ctx context.Context
	id  ID
	rc  io.ReadCloser
}

func (r *rawReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("read block %x: %w", r.id[:8], err)
	}
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read block %x: %w", r.id[:8], err)
	}
	return n, err
}

// WriteTo lets io.Copy move the block in large reads, as VerifyReader's
// does. It does not use the underlying reader's own WriteTo (sendfile,
// splice), which would not check the context between reads.
func (r *rawReader) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, readBufSize)
	// The struct hides r's WriteTo, which CopyBuffer would call again.
	return io.CopyBuffer(w, struct{ io.Reader }{r}, buf)
}

func (r *rawReader) Close() error {
	if err := r.rc.Close(); err != nil {
		return fmt.Errorf("close block %x: %w", r.id[:8], err)
	}
	return nil
}

type verifier struct {
	ctx context.Context
	id  ID
	rc  io.ReadCloser
	h   hash.Hash
	err error // sticky: io.EOF after a sound end, else the failure
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if err := v.ctx.Err(); err != nil {
		v.fail(err)
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		v.finish()
		return n, v.err
	}
	if err != nil {
		v.fail(err)
		return n, v.err
	}
	return n, nil
}

// WriteTo lets io.Copy move the block in large reads, rather than in the
// 32 KiB (or smaller, for io.Discard) steps it would otherwise use.
func (v *verifier) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, readBufSize)
	var total int64
	for {
		n, rerr := v.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

func (v *verifier) finish() {
	var sum ID
	v.h.Sum(sum[:0])
	if sum != v.id {
		v.fail(ErrCorrupt)
		return
	}
	v.err = io.EOF
}

func (v *verifier) fail(err error) {
	v.err = fmt.Errorf("read block %x: %w", v.id[:8], err)
}

func (v *verifier) Close() error {
	if err := v.rc.Close(); err != nil {
		return fmt.Errorf("close block %x: %w", v.id[:8], err)
	}
	return nil
}
