package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/api"
	"github.com/coffer-drive/coffer/internal/crypto"
)

// PutOptions tune Put.
type PutOptions struct {
	// Overwrite makes an existing file get a new revision instead of
	// being an error.
	Overwrite bool
	// Progress, if set, is called with the number of plaintext bytes
	// read so far, from one goroutine at a time.
	Progress func(total int64)
	// Warn, if set, receives notices about skipped local files.
	Warn func(msg string)
	// Base, when a file is overwritten, describes the content the caller
	// believes is the file's current head (HashBlocks of it). If the head
	// is indeed that content (same whole-file SHA-256 and block count),
	// the blocks of the new content whose plaintext equals the head's at
	// the same index, with the same last flag, are not uploaded again:
	// the new revision references them (docs/crypto.md 12.6). The server
	// then sees which 4 MiB blocks of the file the edit left unchanged.
	// Nothing is re-used from a head written before the file's key was
	// last rotated.
	Base *BlockHashes
	// Uploaded, if set, is called once each new revision of a file that
	// went up block by block (every overwrite, and new files above 1 MiB)
	// is committed, with its content's BlockHashes: what Base should say
	// about it next time. (The content of a smaller new file is its only
	// block: its Blocks are its Whole.)
	Uploaded func(BlockHashes)
}

// Upload tuning. Memory stays bounded whatever the file size: about
// uploadWorkers × 2 × BlockSize of buffers.
const (
	uploadWorkers = 4
	// smallFile is the size up to which files are batched: their blocks
	// travel many to a request and their records are committed together.
	smallFile       = 1 << 20
	batchMaxBytes   = 8 << 20
	batchMaxEntries = 500
)

// batch collects small files and folders to commit in one request.
type batch struct {
	blocks bytes.Buffer
	nblock int
	items  []api.NewNode
	// created are folders in items, so a later lookup finds them.
	created map[string]*Entry
	// shared is a folder of another account's share the items go to (a
	// batch goes to one drive), nil in the account's own.
	shared *Entry
	// files are the new files among items, as entries that hold what
	// was committed once the batch is sent.
	files []*Entry
}

// Put uploads local files and folders to remote. If remote is an existing
// folder, each local goes inside it; otherwise a single local is uploaded
// as remote itself.
func (d *Drive) Put(ctx context.Context, locals []string, remote string, opt PutOptions) error {
	if len(locals) == 0 {
		return errors.New("nothing to upload")
	}
	// Versions this run committed are remembered even if a later step
	// fails (the rollback defence must not forget them).
	defer d.seen.save()
	u := &uploader{d: d, opt: opt, b: &batch{created: map[string]*Entry{}}}
	dst, err := d.Resolve(ctx, remote)
	switch {
	case err == nil && dst.IsDir():
		for _, l := range locals {
			if err := u.put(ctx, l, dst, filepath.Base(filepath.Clean(l))); err != nil {
				return err
			}
		}
	case err == nil && len(locals) > 1:
		return fmt.Errorf("%s is a file; several sources need a folder", dst.path)
	case err == nil && isShareRoot(dst):
		// A file shared with this account: its folder is the owner's,
		// out of reach, so it can only get a new version.
		if err := u.putShared(ctx, locals[0], dst); err != nil {
			return err
		}
	case err == nil:
		parent, err := d.Resolve(ctx, path.Dir(dst.path))
		if err != nil {
			return err
		}
		if err := u.put(ctx, locals[0], parent, dst.Name); err != nil {
			return err
		}
	case !errors.Is(err, ErrNotExist):
		return err
	case len(locals) > 1:
		return fmt.Errorf("%s does not exist; create the folder first (coffer mkdir)", remote)
	default:
		parent, name, terr := d.target(ctx, remote, "")
		if terr != nil {
			return terr
		}
		if err := u.put(ctx, locals[0], parent, name); err != nil {
			return err
		}
	}
	if err := u.flush(ctx); err != nil {
		return err
	}
	return d.seen.save()
}

type uploader struct {
	d     *Drive
	opt   PutOptions
	b     *batch
	mu    sync.Mutex
	total int64
	// listed caches the children of existing remote folders.
	listed map[string]map[string]*Entry
	// committed, if set, is told of the new small files each flush
	// committed.
	committed func([]*Entry)
}

func (u *uploader) progress(n int) {
	if u.opt.Progress == nil {
		return
	}
	u.mu.Lock()
	u.total += int64(n)
	t := u.total
	u.mu.Unlock()
	u.opt.Progress(t)
}

func (u *uploader) warn(format string, args ...any) {
	if u.opt.Warn != nil {
		u.opt.Warn(fmt.Sprintf(format, args...))
	}
}

// existing returns the child named name of a remote folder, or nil.
// Folders this run created are empty, so they are never listed.
func (u *uploader) existing(ctx context.Context, parent *Entry, name string) (*Entry, error) {
	if _, ours := u.b.created[string(parent.ID)]; ours {
		return nil, nil
	}
	if parent.via != nil && parent.via.role == crypto.RoleUploader {
		// An uploader cannot list the folder; every upload is a new
		// file, filed (and renamed if the name is taken) by a writer.
		return nil, nil
	}
	if u.listed == nil {
		u.listed = map[string]map[string]*Entry{}
	}
	kids, ok := u.listed[string(parent.ID)]
	if !ok {
		list, err := u.d.List(ctx, parent)
		if err != nil {
			return nil, err
		}
		kids = make(map[string]*Entry, len(list))
		for _, e := range list {
			kids[e.Name] = e
		}
		u.listed[string(parent.ID)] = kids
	}
	return kids[name], nil
}

// put uploads one local path as name under parent.
func (u *uploader) put(ctx context.Context, local string, parent *Entry, name string) error {
	name, err := crypto.NormalizeName(name)
	if err != nil {
		return fmt.Errorf("%s: %w", local, err)
	}
	info, err := os.Lstat(local)
	if err != nil {
		return fmt.Errorf("read %s: %w", local, err)
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		u.warn("skipping symbolic link %s (links are not followed)", local)
		return nil
	case info.IsDir():
		return u.putDir(ctx, local, parent, name)
	case !info.Mode().IsRegular():
		u.warn("skipping %s: not a regular file", local)
		return nil
	}
	old, err := u.existing(ctx, parent, name)
	if err != nil {
		return err
	}
	if old != nil {
		if err := u.d.writable(old, "replace "+old.path); err != nil {
			return err
		}
	}
	if old != nil && (old.IsDir() || !u.opt.Overwrite) {
		if old.IsDir() {
			return fmt.Errorf("%s is a folder; cannot replace it with file %s", old.path, local)
		}
		return fmt.Errorf("%s already exists (use --overwrite to add a new version)", old.path)
	}
	if info.Size() <= smallFile && old == nil {
		return u.putSmall(ctx, local, info, parent, name)
	}
	if err := u.flush(ctx); err != nil {
		return err
	}
	return u.putLarge(ctx, local, parent, name, old)
}

// putShared uploads a new version of a file shared with this account.
func (u *uploader) putShared(ctx context.Context, local string, dst *Entry) error {
	if err := u.d.writable(dst, "replace "+dst.path); err != nil {
		return err
	}
	if !u.opt.Overwrite {
		return fmt.Errorf("%s already exists (use --overwrite to add a new version)", dst.path)
	}
	info, err := os.Lstat(local)
	if err != nil {
		return fmt.Errorf("read %s: %w", local, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file; a shared file can only be replaced by a file", local)
	}
	// The parent stands for the owner's folder only in the resume state's
	// name; nothing is read from or written to it.
	parent := &Entry{ID: dst.Parent, Kind: api.KindFolder, vol: dst.vol, writers: dst.writers, via: dst.via, path: path.Dir(dst.path)}
	return u.putLarge(ctx, local, parent, dst.Name, dst)
}

func (u *uploader) putDir(ctx context.Context, local string, parent *Entry, name string) error {
	old, err := u.existing(ctx, parent, name)
	if err != nil {
		return err
	}
	dir := old
	switch {
	case old != nil && !old.IsDir():
		return fmt.Errorf("%s is a file; cannot upload folder %s there", old.path, local)
	case old == nil:
		e, rec, err := u.d.newChild(parent, name, crypto.KindFolder)
		if err != nil {
			return err
		}
		wire, err := u.d.sign(rec)
		if err != nil {
			return err
		}
		e.Record = wire
		u.b.items = append(u.b.items, api.NewNode{Node: wire})
		u.b.created[string(e.ID)] = e
		u.d.seen.record(e.ID, 1, u.d.fingerprint(rec, wire.Signature))
		dir = e
		if err := u.maybeFlush(ctx); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(local)
	if err != nil {
		return fmt.Errorf("read folder %s: %w", local, err)
	}
	for _, de := range entries {
		if err := u.put(ctx, filepath.Join(local, de.Name()), dir, de.Name()); err != nil {
			return err
		}
	}
	return nil
}

// newRevision starts a revision of node e: a fresh content key, sealed
// under the node's key.
func (u *uploader) newRevision(e *Entry) (rev []byte, ck crypto.ContentKey, sealedCK []byte, err error) {
	if rev, err = crypto.NewID(); err != nil {
		return
	}
	if ck, err = crypto.NewContentKey(); err != nil {
		return
	}
	nk, err := e.nodeKeys()
	if err != nil {
		return
	}
	sealedCK, err = crypto.SealContentKey(nk, e.vol, e.ID, rev, ck)
	return
}

// finishRevision seals the attributes and signs the revision and the
// node record that makes it head.
func (u *uploader) finishRevision(e *Entry, rec *crypto.NodeRecord, rev []byte, seq uint64, ck crypto.ContentKey, sealedCK []byte, blocks [][32]byte, a crypto.Attrs) (api.Node, api.Revision, error) {
	return u.finishRevisionReusing(e, rec, rev, seq, ck, sealedCK, blocks, nil, nil, a)
}

// finishRevisionReusing is finishRevision for a revision that may re-use
// blocks of earlier ones: origins and blockOrigins as crypto.SealOrigins
// returns them (nil for none).
func (u *uploader) finishRevisionReusing(e *Entry, rec *crypto.NodeRecord, rev []byte, seq uint64, ck crypto.ContentKey, sealedCK []byte, blocks [][32]byte, origins []crypto.Origin, blockOrigins []uint32, a crypto.Attrs) (api.Node, api.Revision, error) {
	sealedAttrs, err := crypto.SealAttrs(ck, e.vol, e.ID, rev, a)
	if err != nil {
		return api.Node{}, api.Revision{}, err
	}
	rr := &crypto.RevisionRecord{
		Volume: e.vol, Node: e.ID, Revision: rev, Seq: seq, SealedContentKey: sealedCK,
		Origins: origins, Blocks: blocks, BlockOrigins: blockOrigins, SealedAttrs: sealedAttrs, Author: u.d.acc.Session.User,
	}
	rsig, err := rr.Sign(u.d.acc.Keys)
	if err != nil {
		return api.Node{}, api.Revision{}, err
	}
	rec.Revision, rec.RevisionSeq, rec.RevisionDigest = rev, seq, rr.Digest()
	wire, err := u.d.sign(rec)
	if err != nil {
		return api.Node{}, api.Revision{}, err
	}
	ar := api.Revision{ID: rev, Node: e.ID, Volume: e.vol, Seq: seq, SealedContentKey: sealedCK, SealedAttrs: sealedAttrs, Author: rr.Author, Signature: rsig,
		BlockOrigins: blockOrigins}
	for _, b := range blocks {
		ar.Blocks = append(ar.Blocks, append([]byte(nil), b[:]...))
	}
	for _, o := range origins {
		ar.Origins = append(ar.Origins, api.Origin{Revision: o.Revision, SealedKey: o.SealedKey})
	}
	return wire, ar, nil
}

// putSmall seals a small new file in memory and adds it to the batch.
func (u *uploader) putSmall(ctx context.Context, local string, info fs.FileInfo, parent *Entry, name string) error {
	f, err := openNoFollow(local)
	if err != nil {
		return fmt.Errorf("read %s: %w", local, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, smallFile+1))
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", local, err)
	}
	if int64(len(data)) != info.Size() {
		return fmt.Errorf("%s changed while being read; run the upload again", local)
	}
	return u.putSmallData(ctx, data, info.ModTime(), parent, name)
}

// putSmallData seals a small new file's content and adds it to the batch.
func (u *uploader) putSmallData(ctx context.Context, data []byte, modTime time.Time, parent *Entry, name string) error {
	e, rec, err := u.d.newChild(parent, name, crypto.KindFile)
	if err != nil {
		return err
	}
	if parent.via != nil {
		u.b.shared = parent
	}
	rev, ck, sealedCK, err := u.newRevision(e)
	if err != nil {
		return err
	}
	var blocks [][32]byte
	if len(data) > 0 {
		s, err := crypto.NewBlockSealer(ck, e.vol, e.ID, rev)
		if err != nil {
			return err
		}
		plain := make([]byte, crypto.PadmeLen(len(data)))
		copy(plain, data)
		blk, err := s.Seal(nil, plain, 0, true)
		if err != nil {
			return err
		}
		id := crypto.BlockID(blk)
		blocks = append(blocks, id)
		var hdr [36]byte
		copy(hdr[:32], id[:])
		binary.BigEndian.PutUint32(hdr[32:], uint32(len(blk)))
		u.b.blocks.Write(hdr[:])
		u.b.blocks.Write(blk)
		u.b.nblock++
	}
	a := crypto.Attrs{Size: uint64(len(data)), ModTime: modTime.UnixNano(), SHA256: sha256.Sum256(data)}
	wire, ar, err := u.finishRevision(e, rec, rev, 1, ck, sealedCK, blocks, a)
	if err != nil {
		return err
	}
	u.b.items = append(u.b.items, api.NewNode{Node: wire, Revision: &ar})
	e.Record, e.Head, e.Attrs = wire, &ar, a
	u.b.files = append(u.b.files, e)
	u.d.seen.record(e.ID, 1, u.d.fingerprint(rec, wire.Signature))
	u.progress(len(data))
	return u.maybeFlush(ctx)
}

func (u *uploader) maybeFlush(ctx context.Context) error {
	if u.b.blocks.Len() >= batchMaxBytes || len(u.b.items) >= batchMaxEntries {
		return u.flush(ctx)
	}
	return nil
}

// flush sends the batch: the blocks first, then the records that name
// them, so a crash in between leaves only unreferenced blocks, which the
// server collects.
func (u *uploader) flush(ctx context.Context) error {
	b := u.b
	if b.nblock > 0 && b.shared != nil {
		// The server checks the uploader's own room as the blocks
		// arrive; the owner's, who pays once they are committed, is
		// checked here, before anything is sent.
		if err := u.checkQuota(ctx, int64(b.blocks.Len()), b.shared); err != nil {
			return err
		}
	}
	if b.nblock > 0 {
		if err := u.d.acc.t.doRaw(ctx, http.MethodPost, api.PathBlocksBatch, "application/octet-stream", bytes.NewReader(b.blocks.Bytes()), int64(b.blocks.Len()), nil); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
	}
	if len(b.items) > 0 {
		if err := u.d.acc.t.do(ctx, http.MethodPost, api.PathNodes, api.CreateNodesRequest{Items: b.items}, nil); err != nil {
			return fmt.Errorf("upload: %w", err)
		}
	}
	if u.committed != nil {
		u.committed(b.files)
	}
	b.blocks.Reset()
	b.nblock = 0
	b.items = b.items[:0]
	b.files = b.files[:0]
	return nil
}

// putLarge streams a file in blocks: one goroutine reads in order (and
// hashes the plaintext), uploadWorkers seal and send blocks in parallel.
// A new file or a new revision is committed only after every block is
// stored, in one request, so a crash leaves nothing half-visible.
func (u *uploader) putLarge(ctx context.Context, local string, parent *Entry, name string, old *Entry) error {
	f, err := openNoFollow(local)
	if err != nil {
		return fmt.Errorf("open %s: %w", local, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", local, err)
	}
	// For a file shared by itself, the room asked about is the file's:
	// its parent is the owner's, out of the member's reach.
	room := parent
	if old != nil && isShareRoot(old) {
		room = old
	}
	if err := u.checkQuota(ctx, info.Size(), room); err != nil {
		return err
	}
	var (
		e   *Entry
		rec *crypto.NodeRecord
		seq uint64 = 1
	)
	// An earlier, interrupted upload of this file to this place?
	stateName := resumeName(u.d, parent, name, local)
	st, err := loadResume(u.d.cfg, stateName)
	if err != nil {
		return err
	}
	if st != nil && (st.Identity != identityOf(info) || st.NewNode != (old == nil) || (old != nil && string(st.NodeID) != string(old.ID))) {
		st.remove()
		st = nil
	}
	if st != nil && old != nil && string(old.Record.Revision) == string(st.Revision) {
		// The earlier attempt was committed; only its answer was lost.
		st.remove()
		return nil
	}
	if old != nil {
		e = old
		if rec, err = api.RecordOf(&old.Record); err != nil {
			return err
		}
		rec.Version++
		seq = u.lastSeq(ctx, old) + 1
	} else {
		var id []byte
		var key *crypto.NodeKey
		if st != nil {
			pk, err := parent.nodeKeys()
			if err != nil {
				return err
			}
			k, err := crypto.UnwrapNodeKey(pk, crypto.NodeRef{Volume: parent.vol, Parent: parent.ID, Node: st.NodeID}, st.SealedNodeKey)
			if err != nil {
				st.remove()
				st = nil
			} else {
				id, key = st.NodeID, &k
			}
		}
		if e, rec, err = u.d.newChildWith(parent, name, crypto.KindFile, id, key); err != nil {
			return err
		}
	}
	var (
		rev      []byte
		ck       crypto.ContentKey
		sealedCK []byte
		reuse    map[int][32]byte
	)
	if st != nil {
		nk, err := e.nodeKeys()
		if err != nil {
			return err
		}
		rev, sealedCK, seq = st.Revision, st.SealedContentKey, max(seq, st.Seq)
		if ck, err = crypto.OpenContentKey(nk, e.vol, e.ID, rev, sealedCK); err != nil {
			st.remove()
			st = nil
		} else if reuse, err = u.stillStored(ctx, st); err != nil {
			return err
		}
	}
	if st == nil {
		if rev, ck, sealedCK, err = u.newRevision(e); err != nil {
			return err
		}
		st = &resumeState{
			Identity: identityOf(info), NewNode: old == nil, NodeID: e.ID, Revision: rev, Seq: seq,
			SealedContentKey: sealedCK, Blocks: map[int]blockDone{}, cfg: u.d.cfg, name: stateName,
		}
		if old == nil {
			st.SealedNodeKey = rec.SealedKey
		}
		if err := st.save(); err != nil {
			return err
		}
	}
	sealer, err := crypto.NewBlockSealer(ck, e.vol, e.ID, rev)
	if err != nil {
		return err
	}
	size := info.Size()
	n := int((size + crypto.BlockSize - 1) / crypto.BlockSize)
	ids := make([][32]byte, n)
	// Blocks of the head this revision replaces that it may re-use.
	var base *reuseBase
	if old != nil {
		var why string
		if base, why = u.d.reuseBase(old, u.opt.Base); why != "" {
			u.warn("%s", why)
		}
	}
	plan := newReusePlan(base, u.opt.Uploaded != nil, n)
	sum, err := u.sendBlocks(ctx, f, local, size, sealer, ids, reuse, st.uploaded, plan)
	if err != nil {
		_ = st.save()
		return err
	}
	if st, err := f.Stat(); err != nil || st.Size() != size || !st.ModTime().Equal(info.ModTime()) {
		return fmt.Errorf("%s changed while being uploaded; run the upload again", local)
	}
	origins, blockOrigins, err := plan.origins(e, rev, ck)
	if err != nil {
		return err
	}
	a := crypto.Attrs{Size: uint64(size), ModTime: info.ModTime().UnixNano(), SHA256: sum}
	wire, ar, err := u.finishRevisionReusing(e, rec, rev, seq, ck, sealedCK, ids, origins, blockOrigins, a)
	if err != nil {
		return err
	}
	if old == nil {
		err = u.d.acc.t.do(ctx, http.MethodPost, api.PathNodes, api.CreateNodesRequest{Items: []api.NewNode{{Node: wire, Revision: &ar}}}, nil)
	} else {
		req := api.CommitRevisionRequest{Node: wire, Revision: ar, ExpectVersion: old.Record.Version}
		err = u.d.acc.t.do(ctx, http.MethodPost, "/v1/nodes/"+b64(e.ID)+"/revisions", req, nil)
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", path.Join(parent.path, name), err)
	}
	st.remove()
	u.d.seen.record(e.ID, rec.Version, u.d.fingerprint(rec, wire.Signature))
	if u.opt.Uploaded != nil {
		u.opt.Uploaded(BlockHashes{Whole: sum, Blocks: plan.hashes})
	}
	return nil
}

// stillStored returns the blocks of an interrupted upload that the server
// still holds, by index.
func (u *uploader) stillStored(ctx context.Context, st *resumeState) (map[int][32]byte, error) {
	var req api.BlockIDs
	for _, b := range st.Blocks {
		req.IDs = append(req.IDs, b.ID)
	}
	var missing api.BlockIDs
	if err := u.d.acc.t.do(ctx, http.MethodPost, api.PathBlocksMissing, req, &missing); err != nil {
		return nil, fmt.Errorf("resume upload: %w", err)
	}
	gone := make(map[string]bool, len(missing.IDs))
	for _, id := range missing.IDs {
		gone[string(id)] = true
	}
	reuse := make(map[int][32]byte, len(st.Blocks))
	for i, b := range st.Blocks {
		if !gone[string(b.ID)] && len(b.ID) == 32 {
			var id [32]byte
			copy(id[:], b.ID)
			reuse[i] = id
		}
	}
	return reuse, nil
}

// lastSeq is the highest revision sequence number of a file.
func (u *uploader) lastSeq(ctx context.Context, e *Entry) uint64 {
	var list api.RevisionList
	seq := e.Record.RevisionSeq
	if err := u.d.acc.t.do(ctx, http.MethodGet, "/v1/nodes/"+b64(e.ID)+"/revisions", nil, &list); err == nil {
		for _, r := range list.Revisions {
			// An absurd number from the server must not wrap the next one.
			if r.Seq < 1<<62 {
				seq = max(seq, r.Seq)
			}
		}
	}
	return seq
}

func (u *uploader) checkQuota(ctx context.Context, size int64, parent *Entry) error {
	us, err := u.d.Usage(ctx)
	if err != nil {
		return err
	}
	if us.QuotaBytes > 0 && us.UsedBytes+size > us.QuotaBytes {
		return fmt.Errorf("not enough room: this upload needs about %s but only %s of the %s quota is free", humanBytes(size), humanBytes(max(0, us.QuotaBytes-us.UsedBytes)), humanBytes(us.QuotaBytes))
	}
	if parent.via == nil {
		return nil
	}
	// In a share the owner pays: its quota must have room too.
	var own api.Usage
	if err := u.d.acc.t.do(ctx, http.MethodGet, api.PathUsage+"?node="+b64(parent.ID), nil, &own); err != nil {
		return fmt.Errorf("read the share owner's room: %w", err)
	}
	if own.QuotaBytes > 0 && own.UsedBytes+size > own.QuotaBytes {
		return fmt.Errorf("not enough room: this upload needs about %s but %s, who owns the share, has only %s free", humanBytes(size), parent.via.share.Owner, humanBytes(max(0, own.QuotaBytes-own.UsedBytes)))
	}
	return nil
}

type blockJob struct {
	index int
	buf   []byte
	n     int
	last  bool
}

// sendBlocks reads the file in order, hashing it, and hands blocks to
// workers that seal and upload them. It returns the plaintext SHA-256.
//
// Blocks in reuse are already on the server and are only read (for the
// hash); every block sent is reported to uploaded. plan hashes each
// block's plaintext if it is asked to, and takes the blocks that the head
// being replaced holds already (docs/crypto.md 12.6): those are not sent.
func (u *uploader) sendBlocks(ctx context.Context, f *os.File, local string, size int64, sealer *crypto.BlockSealer, ids [][32]byte, reuse map[int][32]byte, uploaded func(int, [32]byte), plan *reusePlan) ([32]byte, error) {
	var sum [32]byte
	// Requests in flight run on the caller's context and finish even after
	// another block failed, so every block the server stored is recorded
	// for a resume; the failure only stops new blocks.
	reqCtx := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan blockJob)
	free := make(chan []byte, uploadWorkers+1)
	for range uploadWorkers + 1 {
		free <- make([]byte, crypto.BlockSize)
	}
	var wg sync.WaitGroup
	for range uploadWorkers {
		wg.Go(func() {
			out := make([]byte, 0, crypto.SealedBlockSize(crypto.BlockSize))
			for j := range jobs {
				if ctx.Err() != nil {
					free <- j.buf
					continue
				}
				plan.note(j.index, j.buf[:j.n])
				if id, ok := reuse[j.index]; ok {
					ids[j.index] = id
					free <- j.buf
					continue
				}
				if id, ok := plan.take(j.index, j.n, j.last); ok {
					ids[j.index] = id
					free <- j.buf
					continue
				}
				plain := j.buf[:j.n]
				if j.last {
					pl := crypto.PadmeLen(j.n)
					clear(j.buf[j.n:pl])
					plain = j.buf[:pl]
				}
				blk, err := sealer.Seal(out[:0], plain, uint64(j.index), j.last)
				free <- j.buf
				if err != nil {
					cancel(err)
					continue
				}
				id := crypto.BlockID(blk)
				ids[j.index] = id
				p := "/v1/blocks/" + hex.EncodeToString(id[:])
				if u.d.link != nil {
					p = u.d.link.path("/blocks/" + hex.EncodeToString(id[:]))
				}
				if err := u.d.acc.t.doRaw(reqCtx, http.MethodPut, p, "application/octet-stream", bytes.NewReader(blk), int64(len(blk)), nil); err != nil {
					cancel(fmt.Errorf("upload block %d of %s: %w", j.index, local, err))
					continue
				}
				uploaded(j.index, id)
			}
		})
	}
	h := sha256.New()
	err := readBlocks(ctx, f, size, h, free, jobs, u.progress)
	close(jobs)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return sum, cause
	}
	if err != nil {
		return sum, fmt.Errorf("read %s: %w", local, err)
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

func readBlocks(ctx context.Context, f io.Reader, size int64, h hash.Hash, free chan []byte, jobs chan<- blockJob, progress func(int)) error {
	var read int64
	for i := 0; read < size; i++ {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return nil
		}
		want := int(min(int64(crypto.BlockSize), size-read))
		n, err := io.ReadFull(f, buf[:want])
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return errors.New("the file shrank while being uploaded; run the upload again")
			}
			return err
		}
		h.Write(buf[:n])
		read += int64(n)
		progress(n)
		select {
		case jobs <- blockJob{index: i, buf: buf, n: n, last: read == size}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// humanBytes formats a byte count with binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// HumanBytes formats a byte count with binary units (1.5 MiB).
func HumanBytes(n int64) string { return humanBytes(n) }
