package sqlmeta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-drive/coffer/internal/meta"
)

// A volume's history: volumes.event_seq is its latest sequence number, and
// the events table holds the events still kept. Every write that changes a
// volume records its events in an eventLog while it runs; writeEvents then
// raises the volume's counter and inserts them in the same transaction.
//
// Raising the counter updates the volume's row, so two writers of one
// volume serialize there: under SQLite the single writer does it anyway;
// under PostgreSQL's SERIALIZABLE isolation the second to update the row
// waits for the first to commit and then fails to serialize and runs
// again, reading the new counter. Either way the writer that took number
// N committed before anyone could take N+1, so the numbers are in commit
// order, and a reader never sees N+1 before N. (So that PostgreSQL's
// writers of one volume do not keep failing each other, they also queue
// for the volume before they begin: see writeQueued.)

// eventLog collects the events of one run of a write's transaction.
type eventLog struct {
	list []loggedEvent
}

type loggedEvent struct {
	volumeID []byte
	meta.Event
}

// add records an event of the volume. oldParent is recorded only when it
// differs from parent.
func (l *eventLog) add(volumeID []byte, kind meta.EventKind, node, parent, oldParent []byte, version uint64) {
	e := loggedEvent{volumeID: volumeID, Event: meta.Event{
		Kind: kind, NodeID: node, ParentID: parent, Version: version,
	}}
	if !bytes.Equal(parent, oldParent) {
		e.OldParentID = oldParent
	}
	l.list = append(l.list, e)
}

// writeEvents is write for a transaction that changes volumes: fn records
// the changes in the log it is given, a fresh one on every run, and they
// are appended to the volumes' histories at the end of the transaction.
// Once it has committed, the store's watchers hear of each volume. hint
// names the volume the write most likely changes, for queueing (see
// Dialect.LockVolume).
func (s *Store) writeEvents(ctx context.Context, hint volumeHint, fn func(tx txn, log *eventLog) error) error {
	var volumes [][]byte
	body := func(tx txn) error {
		log := new(eventLog)
		if err := fn(tx, log); err != nil {
			return err
		}
		var err error
		volumes, err = appendEvents(ctx, tx, log, time.Now())
		return err
	}
	if err := s.writeQueued(ctx, hint, body); err != nil {
		return err
	}
	s.watch.notify(volumes)
	return nil
}

// volumeHint names the volume a write will most likely change: the
// volume's ID, or a query selecting its volume_id by arg. A wrong or
// missing hint costs only the queueing, never correctness: the volume's
// row serializes its writers in any case.
type volumeHint struct {
	id    []byte
	query string
	arg   any
}

func nodeVolume(nodeID []byte) volumeHint {
	return volumeHint{query: `SELECT volume_id FROM nodes WHERE id = ?`, arg: nodeID}
}

func shareVolume(shareID []byte) volumeHint {
	return volumeHint{query: `SELECT volume_id FROM shares WHERE id = ?`, arg: shareID}
}

func linkVolume(linkID []byte) volumeHint {
	return volumeHint{query: `SELECT volume_id FROM links WHERE id = ?`, arg: linkID}
}

// writeQueued is write, waiting first for the other writers of the
// hinted volume, on engines with volume locks. Under PostgreSQL's
// SERIALIZABLE isolation, a transaction that updates the volume's row
// after another one did since its snapshot fails, and runs again: with a
// few dozen writers at once, some would lose every one of their
// maxAttempts runs. With the lock taken before the transaction begins,
// its snapshot already holds the previous writer's commit, and the
// writers take turns.
func (s *Store) writeQueued(ctx context.Context, hint volumeHint, fn func(tx txn) error) error {
	if s.d.LockVolume == "" {
		return s.write(ctx, fn)
	}
	volumeID := hint.id
	if volumeID == nil && hint.query != "" {
		// Not found: the write fails by itself, unqueued.
		_ = s.r.QueryRowContext(ctx, hint.query, hint.arg).Scan(blobCol{&volumeID})
	}
	if volumeID == nil {
		return s.write(ctx, fn)
	}
	key := volumeLockKey(volumeID)
	// Writers of one volume queue in this process first, holding no
	// connection: else a burst of them would hold every pooled
	// connection idle in the database's queue, and stall all accounts.
	release, err := s.queues.acquire(ctx, key)
	if err != nil {
		return fmt.Errorf("wait for the other writers of volume %x: %w", volumeID, err)
	}
	defer release()
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return s.dbErr(err)
	}
	defer conn.Close()
	// The lock belongs to the connection's session: a connection whose
	// lock or unlock failed, maybe halfway, is thrown away, which ends
	// its session and so releases whatever it holds.
	discard := func() { _ = conn.Raw(func(any) error { return driver.ErrBadConn }) }
	if _, err := conn.ExecContext(ctx, s.d.rebind(s.d.LockVolume), key); err != nil {
		discard()
		if ctx.Err() != nil {
			return fmt.Errorf("wait for the other writers of volume %x: %w", volumeID, ctx.Err())
		}
		// Unqueued is still correct.
		return s.write(ctx, fn)
	}
	err = s.runOn(ctx, conn, s.d.TxOptions, fn)
	// Unlocked even when ctx is done, if the database answers soon; else
	// the connection goes.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
	defer cancel()
	if _, uerr := conn.ExecContext(uctx, s.d.rebind(s.d.UnlockVolume), key); uerr != nil {
		discard()
	}
	return err
}

// volumeQueues lets one writer per volume lock key at a time, in this
// process, go on to the database's lock.
type volumeQueues struct {
	mu sync.Mutex
	m  map[int64]*volumeQueue
}

type volumeQueue struct {
	turn    chan struct{} // holds a token while a writer has its turn
	waiting int           // writers holding or waiting for the turn
}

// acquire waits for key's turn, or for ctx to end; release gives the
// turn up.
func (q *volumeQueues) acquire(ctx context.Context, key int64) (release func(), err error) {
	q.mu.Lock()
	if q.m == nil {
		q.m = map[int64]*volumeQueue{}
	}
	vq := q.m[key]
	if vq == nil {
		vq = &volumeQueue{turn: make(chan struct{}, 1)}
		q.m[key] = vq
	}
	vq.waiting++
	q.mu.Unlock()
	done := func() {
		q.mu.Lock()
		if vq.waiting--; vq.waiting == 0 {
			delete(q.m, key)
		}
		q.mu.Unlock()
	}
	select {
	case vq.turn <- struct{}{}:
		return func() { <-vq.turn; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

// unlockTimeout bounds the wait for a volume's unlock.
const unlockTimeout = 5 * time.Second

// volumeLockKey is the key of a volume's lock: 64 bits of a hash of its
// ID. Two volumes that share a key only queue their writers together.
func volumeLockKey(volumeID []byte) int64 {
	h := sha256.Sum256(append([]byte("coffer/volume-writers\x00"), volumeID...))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// eventColumns are the columns of an event row but volume_id.
const eventColumns = `seq, kind, node_id, parent_id, old_parent_id, version, created_at`

// appendEvents appends the log's events to their volumes' histories, in
// the log's order within each volume, and returns the volumes. Volumes
// are updated in the order of their IDs, so that two transactions
// touching the same two volumes cannot deadlock.
func appendEvents(ctx context.Context, tx txn, log *eventLog, now time.Time) ([][]byte, error) {
	byVolume := make(map[string][]*meta.Event)
	var volumes [][]byte
	for i := range log.list {
		e := &log.list[i]
		k := string(e.volumeID)
		if _, ok := byVolume[k]; !ok {
			volumes = append(volumes, e.volumeID)
		}
		byVolume[k] = append(byVolume[k], &e.Event)
	}
	slices.SortFunc(volumes, bytes.Compare)
	for _, v := range volumes {
		evs := byVolume[string(v)]
		var head uint64
		err := tx.QueryRowContext(ctx,
			`UPDATE volumes SET event_seq = event_seq + ? WHERE id = ? RETURNING event_seq`,
			int64(len(evs)), v).Scan(intCol[uint64]{&head})
		if err != nil {
			return nil, fmt.Errorf("volume %x: next event number: %w", v, tx.dbErr(err))
		}
		first := head - uint64(len(evs)) + 1
		const perRow = 8
		for i, chunk := 0, evs; len(chunk) > 0; {
			n := min(len(chunk), maxParams/perRow)
			var q strings.Builder
			q.WriteString(`INSERT INTO events (volume_id, ` + eventColumns + `) VALUES `)
			args := make([]any, 0, n*perRow)
			for j, e := range chunk[:n] {
				if j > 0 {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
				e.Seq = first + uint64(i+j)
				e.CreatedAt = now
				args = append(args, v, int64(e.Seq), int(e.Kind), e.NodeID, nullBlob(e.ParentID),
					nullBlob(e.OldParentID), int64(e.Version), micros(now))
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return nil, fmt.Errorf("volume %x: record events: %w", v, tx.dbErr(err))
			}
			i += n
			chunk = chunk[n:]
		}
	}
	return volumes, nil
}

// nodeEvent records an event about an existing node as tx sees it now
// (its volume, parent and version): share changes, which leave the node
// as it is.
func nodeEvent(ctx context.Context, tx txn, log *eventLog, kind meta.EventKind, nodeID []byte) error {
	n, err := getNodeInfo(ctx, tx, nodeID)
	if err != nil {
		return fmt.Errorf("node %x: %w", nodeID, err)
	}
	log.add(n.volumeID, kind, nodeID, n.parentID, n.parentID, n.version)
	return nil
}

// Events returns up to limit of the volume's events after since, in
// order, and the volume's latest sequence number.
func (s *Store) Events(ctx context.Context, volumeID []byte, since uint64, limit int) ([]meta.Event, uint64, error) {
	list, head, err := s.events(ctx, volumeID, since, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("events of volume %x after %d: %w", volumeID, since, err)
	}
	return list, head, nil
}

func (s *Store) events(ctx context.Context, volumeID []byte, since uint64, limit int) ([]meta.Event, uint64, error) {
	if limit <= 0 {
		return nil, 0, fmt.Errorf("limit %d: %w", limit, meta.ErrInvalid)
	}
	// The head first: every event up to it has committed, so the second
	// statement finds each one that is still kept, and maybe more.
	head, err := s.eventHead(ctx, volumeID)
	if err != nil {
		return nil, 0, err
	}
	if since > head {
		return nil, 0, fmt.Errorf("the history ends at %d: %w", head, meta.ErrCursorExpired)
	}
	rows, err := s.r.QueryContext(ctx, eventsPageQuery, volumeID, int64(since), limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var list []meta.Event
	var a arena
	for rows.Next() {
		var e meta.Event
		err := rows.Scan(intCol[uint64]{&e.Seq}, intCol[meta.EventKind]{&e.Kind}, arenaCol{&a, &e.NodeID},
			arenaCol{&a, &e.ParentID}, arenaCol{&a, &e.OldParentID}, intCol[uint64]{&e.Version},
			timeCol{&e.CreatedAt})
		if err != nil {
			return nil, 0, err
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	// Numbers have no gaps, and pruning takes the oldest: event since+1
	// is the first found unless it was pruned. (None found while since
	// is below the head means all after since were.)
	if since < head && (len(list) == 0 || list[0].Seq != since+1) {
		return nil, 0, fmt.Errorf("event %d is no longer kept: %w", since+1, meta.ErrCursorExpired)
	}
	if len(list) > 0 {
		head = max(head, list[len(list)-1].Seq)
	}
	return list, head, nil
}

// EventHead returns the volume's latest sequence number, or
// meta.ErrNotFound.
func (s *Store) EventHead(ctx context.Context, volumeID []byte) (uint64, error) {
	head, err := s.eventHead(ctx, volumeID)
	if err != nil {
		return 0, fmt.Errorf("event head of volume %x: %w", volumeID, err)
	}
	return head, nil
}

// eventsPageQuery reads a page of a volume's history after a cursor.
const eventsPageQuery = `SELECT ` + eventColumns + ` FROM events
	WHERE volume_id = ? AND seq > ? ORDER BY seq LIMIT ?`

// eventHeadsQuery, completed by inList, reads volumes' heads.
const eventHeadsQuery = `SELECT id, event_seq FROM volumes WHERE id IN (?`

// eventHeadsChunk is how many volumes one EventHeads statement asks for:
// well under SQLite's and PostgreSQL's limits on parameters.
const eventHeadsChunk = 500

// EventHeads returns the latest sequence numbers of the volumes that
// exist among volumeIDs.
func (s *Store) EventHeads(ctx context.Context, volumeIDs [][]byte) (map[string]uint64, error) {
	heads := make(map[string]uint64, len(volumeIDs))
	for chunk := range slices.Chunk(volumeIDs, eventHeadsChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := s.eventHeads(ctx, args, heads); err != nil {
			return nil, fmt.Errorf("event heads of %d volumes: %w", len(volumeIDs), err)
		}
	}
	return heads, nil
}

func (s *Store) eventHeads(ctx context.Context, args []any, heads map[string]uint64) error {
	rows, err := s.r.QueryContext(ctx, eventHeadsQuery+inList(len(args)), args...)
	if err != nil {
		return s.dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id   []byte
			head uint64
		)
		if err := rows.Scan(&id, intCol[uint64]{&head}); err != nil {
			return s.dbErr(err)
		}
		heads[string(id)] = head
	}
	return s.dbErr(rows.Err())
}

func (s *Store) eventHead(ctx context.Context, volumeID []byte) (uint64, error) {
	var head uint64
	err := s.r.QueryRowContext(ctx, `SELECT event_seq FROM volumes WHERE id = ?`, volumeID).Scan(intCol[uint64]{&head})
	return head, s.dbErr(err)
}

// PruneEvents deletes, in each volume, the events up to the newest one
// created before olderThan, keeping the newest keepPerVolume whatever
// their age. It deletes a prefix of each history even if the writers'
// clocks disagree and a newer event bears an older time, so what is kept
// has no gaps. Each volume's events go in a statement of their own, so
// that writers wait on no long transaction.
func (s *Store) PruneEvents(ctx context.Context, olderThan time.Time, keepPerVolume int) (int, error) {
	n, err := s.pruneEvents(ctx, olderThan, keepPerVolume)
	if err != nil {
		return n, fmt.Errorf("prune events before %s: %w", olderThan.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

func (s *Store) pruneEvents(ctx context.Context, olderThan time.Time, keep int) (int, error) {
	if keep < 0 {
		return 0, fmt.Errorf("keep %d: %w", keep, meta.ErrInvalid)
	}
	// The volumes with events old enough, and the newest such event in
	// each: a walk of the index on created_at over the old events only,
	// which are about to go anyway.
	rows, err := s.r.QueryContext(ctx, `SELECT volume_id, max(seq) FROM events
		WHERE created_at < ? GROUP BY volume_id`, micros(olderThan))
	if err != nil {
		return 0, err
	}
	type cut struct {
		volumeID []byte
		seq      int64
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		if err := rows.Scan(blobCol{&c.volumeID}, &c.seq); err != nil {
			rows.Close()
			return 0, err
		}
		cuts = append(cuts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, c := range cuts {
		// The newest keep are those above the volume's head less keep,
		// read in the same statement.
		res, err := s.w.ExecContext(ctx, `DELETE FROM events WHERE volume_id = ?1 AND seq <= ?2
			AND seq <= (SELECT event_seq FROM volumes WHERE id = ?1) - ?3`,
			c.volumeID, c.seq, int64(keep))
		if err != nil {
			return total, fmt.Errorf("volume %x: %w", c.volumeID, s.dbErr(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
	}
	return total, nil
}

// watchers are the functions WatchEvents registered.
type watchers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(volumeID []byte)
}

// WatchEvents calls fn with a volume's ID after every write through this
// store that appended events to the volume, once committed. fn must not
// block: it runs on the writer's goroutine.
func (s *Store) WatchEvents(fn func(volumeID []byte)) (stop func()) {
	w := s.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = make(map[int]func([]byte))
	}
	id := w.next
	w.next++
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.fns, id)
	}
}

// notify calls the watchers for each volume.
func (w *watchers) notify(volumes [][]byte) {
	if len(volumes) == 0 {
		return
	}
	w.mu.Lock()
	fns := make([]func([]byte), 0, len(w.fns))
	for _, fn := range w.fns {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		for _, v := range volumes {
			fn(v)
		}
	}
}
