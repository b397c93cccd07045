package meta

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// More errors of the drive methods.
var (
	// ErrQuota means the operation would take the account over its quota.
	ErrQuota = errors.New("quota exceeded")
	// ErrMissingBlocks means a revision names blocks that were not uploaded
	// by its account.
	ErrMissingBlocks = errors.New("blocks missing")
	// ErrInvalid means the operation would break the tree: a parent that is
	// not an active folder of the same volume, a move into the node's own
	// subtree, restoring a node whose parent is gone, and the like.
	ErrInvalid = errors.New("invalid tree operation")
	// ErrCursorExpired means a volume's history no longer holds every
	// event after the cursor asked for: they were pruned, or the cursor
	// is ahead of the history (a database restored from an older
	// backup). The reader must rescan the whole tree.
	ErrCursorExpired = errors.New("event cursor expired")
)

// EventKind says what an Event records.
type EventKind int

// Event kinds. The values are stored: never renumber them.
const (
	// EventCreate: a node was created (CreateNodes, a drop through an
	// upload link).
	EventCreate EventKind = 1
	// EventRevision: a file got a new head revision (CommitRevision),
	// with its new record, which may also rename or move it.
	EventRevision EventKind = 2
	// EventUpdate: a node's record was replaced (UpdateNode: rename,
	// move, an old revision made head; ReplaceRecords: a key rotation).
	EventUpdate EventKind = 3
	// EventTrash: a node went to the trash, and its subtree with it;
	// only the node itself gets the event.
	EventTrash EventKind = 4
	// EventRestore: a node came back from the trash.
	EventRestore EventKind = 5
	// EventDelete: a trashed node was deleted for good with its subtree
	// (EmptyTrash). Every node that got an EventTrash and was not
	// restored gets one, also one trashed inside a trashed folder.
	EventDelete EventKind = 6
	// EventShare: the share on the node was created, changed, deleted or
	// answered by a member.
	EventShare EventKind = 7
)

// String returns the kind's name in the API: "create", "revision",
// "update", "trash", "restore", "delete" or "share".
func (k EventKind) String() string {
	switch k {
	case EventCreate:
		return "create"
	case EventRevision:
		return "revision"
	case EventUpdate:
		return "update"
	case EventTrash:
		return "trash"
	case EventRestore:
		return "restore"
	case EventDelete:
		return "delete"
	case EventShare:
		return "share"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one change in a volume's history. Seq numbers a volume's
// events 1, 2, 3, ... in the order their transactions committed: a
// reader that has seen Seq N never later finds a new event at or below N.
type Event struct {
	Seq    uint64
	Kind   EventKind
	NodeID []byte
	// ParentID is the node's parent after the change: for EventDelete
	// the last one it had; nil for a volume's root.
	ParentID []byte
	// OldParentID is the parent before the change when the change moved
	// the node (EventUpdate, EventRevision); else nil.
	OldParentID []byte
	// Version is the node's record version after the change; 0 once the
	// node is gone (EventDelete).
	Version   uint64
	CreatedAt time.Time
}

// NodeState is where a node is in its life.
type NodeState int

// Node states.
const (
	NodeActive  NodeState = 0
	NodeTrashed NodeState = 1
)

// Volume is one account's drive: a tree under one root folder.
type Volume struct {
	ID        []byte
	OwnerID   int64
	RootID    []byte
	CreatedAt time.Time
}

// Node is a folder or a file. Everything but the IDs, kind, state and times
// is opaque to the server: sealed by the client and covered by Signature.
type Node struct {
	ID          []byte
	VolumeID    []byte
	ParentID    []byte // nil for a volume's root
	Kind        int    // 1 folder, 2 file
	NameHash    []byte // HMAC of the name under the parent's key: unique among active siblings
	SealedName  []byte
	SealedKey   []byte
	Author      string
	Version     uint64 // the signed record's version; +1 on every change
	RevisionID  []byte // head revision (files)
	RevisionSeq uint64
	// RevisionDigest is the signed digest of the head revision record.
	RevisionDigest []byte
	// KeyHistory is the node's earlier keys, sealed by the client (files
	// only, but the store does not check that); nil for none.
	KeyHistory []byte
	Signature  []byte
	State      NodeState
	TrashedAt  time.Time // zero unless trashed
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Revision is one version of a file's content.
type Revision struct {
	ID               []byte
	NodeID           []byte
	VolumeID         []byte
	Seq              uint64
	SealedContentKey []byte
	SealedAttrs      []byte
	Blocks           [][]byte // block IDs (32 bytes each), in order
	Size             int64    // total ciphertext bytes of the blocks
	Author           string
	Signature        []byte
	CreatedAt        time.Time
	// UploaderID is the account whose uploaded blocks the revision uses,
	// when it is not the volume owner: a member writing into someone
	// else's share. 0 means the owner. It is an input to CreateNodes and
	// CommitRevision only; the store does not keep it (the blocks change
	// hands), and reads return 0.
	UploaderID int64
	// Origins and BlockOrigins say which earlier revisions sealed the
	// blocks this one re-uses (docs/crypto.md 12.6): opaque to the
	// store, which keeps them as given; both empty for a revision that
	// re-uses none. A re-used block is one of Blocks like any other: it
	// must be stored, and stays referenced while this revision exists.
	Origins      []RevisionOrigin
	BlockOrigins []uint32
}

// RevisionOrigin is an earlier revision whose blocks a revision re-uses:
// its ID and its content key, sealed by the client.
type RevisionOrigin struct {
	RevisionID []byte
	SealedKey  []byte
}

// NodeUpdate replaces a node's signed record. The fields mirror Node's
// signed ones; ExpectVersion is the version the caller read, for
// optimistic concurrency.
type NodeUpdate struct {
	ParentID       []byte
	NameHash       []byte
	SealedName     []byte
	SealedKey      []byte
	Author         string
	Version        uint64
	RevisionID     []byte
	RevisionSeq    uint64
	RevisionDigest []byte
	// KeyHistory replaces the node's: nil leaves it with none.
	KeyHistory    []byte
	Signature     []byte
	ExpectVersion uint64
}

// NodeReplace is one node's new record, for ReplaceRecords.
type NodeReplace struct {
	ID     []byte
	Update NodeUpdate
	// Complete requires every child of the node (a folder), active or in
	// the trash, to be replaced by the same call, checked in its
	// transaction: a key rotation gives the folder a new key, and a child
	// added meanwhile and left out would stay wrapped under the old one,
	// readable by nobody. ErrConflict otherwise.
	Complete bool
}

// ShareReplace is one share's new list, for ReplaceRecords: as PutShare
// with ExpectVersion > 0.
type ShareReplace struct {
	Share         *Share
	Members       []ShareMember
	ExpectVersion uint64
}

// NewFile is a file (or folder, with Revision nil) to create.
type NewFile struct {
	Node     *Node
	Revision *Revision // nil for a folder
}

// BlockInfo names an uploaded block and its size.
type BlockInfo struct {
	ID   []byte
	Size int64
}

// Usage is an account's storage use.
type Usage struct {
	UsedBytes  int64 // ciphertext of every block its revisions reference, plus uploads not yet committed
	QuotaBytes int64 // 0: no limit
}

// DriveStore is the part of the metadata store that holds drives. Every
// write is one transaction: a revision is either wholly visible or not at
// all.
type DriveStore interface {
	// CreateVolume creates the account's volume with its root folder.
	// ErrExists if the account has one.
	CreateVolume(ctx context.Context, v *Volume, root *Node) error
	// VolumeByOwner returns the account's volume, or ErrNotFound.
	VolumeByOwner(ctx context.Context, ownerID int64) (*Volume, error)

	// Node returns a node in any state, or ErrNotFound.
	Node(ctx context.Context, id []byte) (*Node, error)
	// Children returns the active children of a folder, in no set order.
	Children(ctx context.Context, parentID []byte) ([]Node, error)
	// HeadRevisions returns the head revisions of a folder's active
	// children (files), in one query: a listing needs them all.
	HeadRevisions(ctx context.Context, parentID []byte) ([]Revision, error)
	// ChildByNameHash returns the active child with this name hash, or ErrNotFound.
	ChildByNameHash(ctx context.Context, parentID, nameHash []byte) (*Node, error)

	// CreateNodes creates folders and files (with their first revisions)
	// in one transaction, in order, so a folder may be followed by its
	// children. ownerID is the owner of the volume. Each parent must be
	// an active folder of the same volume (ErrInvalid); names must be
	// free (ErrExists); every block a revision names must have been
	// uploaded by ownerID (ErrMissingBlocks). For a revision with an
	// UploaderID other than ownerID, its blocks must instead have been
	// uploaded by UploaderID and be referenced by no other revision yet
	// (ErrMissingBlocks), and they pass to ownerID, which must then be
	// the volume's owner indeed (ErrInvalid): the uploader's use goes
	// down by their size and the owner's up, in the same transaction, so
	// uploads into a share count against the owner, who must stay within
	// its quota (ErrQuota). On any error nothing is created.
	CreateNodes(ctx context.Context, ownerID int64, items []NewFile) error
	// UpdateNode replaces a node's record (rename, move, restore of an old
	// revision as head) if its version is still u.ExpectVersion
	// (ErrConflict). A move must stay in the volume, into an active folder
	// that is not the node itself or below it (ErrInvalid); the new name
	// must be free (ErrExists). A head revision must be one of the node's.
	UpdateNode(ctx context.Context, id []byte, u NodeUpdate) error
	// CommitRevision adds a revision to a file and makes it the head, with
	// the node's new record, if the node's version is still
	// u.ExpectVersion (ErrConflict). ownerID is the owner of the
	// node's volume. Blocks, rev.UploaderID and quota as in CreateNodes,
	// except that a revision may also name blocks that another revision
	// of the same node references (re-used blocks, docs/crypto.md 12.6):
	// they are ownerID's already, and are neither claimed nor charged
	// again, whoever commits.
	// Beyond keep revisions (0: keep all), the oldest non-head ones are
	// deleted with it.
	CommitRevision(ctx context.Context, ownerID int64, id []byte, u NodeUpdate, rev *Revision, keep int) error
	// ReplaceRecords replaces many node records and share lists in one
	// transaction: a key rotation re-keys a whole subtree, and readers
	// must see either all the old records or all the new ones. Each node
	// update follows UpdateNode's rules (ErrConflict, ErrInvalid,
	// ErrExists), the updates applied in order, each checked against the
	// tree as the ones before it left it; a name need only be free once
	// every update is applied, so siblings may swap names. Node IDs must
	// be distinct (ErrInvalid). Then each share follows PutShare's rules
	// for an update (ExpectVersion 0 is ErrInvalid). On any error nothing
	// changes, and the error names the item ("node <hex>: ...",
	// "share <hex>: ...").
	ReplaceRecords(ctx context.Context, nodes []NodeReplace, shares []ShareReplace) error
	// Revisions returns a file's revisions, oldest first.
	Revisions(ctx context.Context, nodeID []byte) ([]Revision, error)
	// Revision returns one revision, or ErrNotFound.
	Revision(ctx context.Context, id []byte) (*Revision, error)

	// TrashNode moves an active node (and so its subtree) to the trash.
	TrashNode(ctx context.Context, id []byte, now time.Time) error
	// TrashNodeIf is TrashNode if the node's record version is still
	// expectVersion (else ErrConflict), checked in the same transaction:
	// a device that deletes a file it saw must not trash an edit another
	// device made meanwhile. With unchangedSince > 0, it is also
	// ErrConflict if an event of the volume after that sequence number
	// names a node of the subtree (as the node, or as the parent: a
	// creation, an edit, a move in, a trash inside), or if the history no
	// longer reaches back to it: a device that deletes a folder as it saw
	// it at that point must not trash what others put in it since.
	TrashNodeIf(ctx context.Context, id []byte, expectVersion, unchangedSince uint64, now time.Time) error
	// RestoreNode brings a trashed node back under its parent, which must
	// be active (ErrInvalid), under a free name (ErrExists).
	RestoreNode(ctx context.Context, id []byte) error
	// Trash returns the volume's trashed nodes (not their descendants).
	Trash(ctx context.Context, volumeID []byte) ([]Node, error)
	// EmptyTrash deletes the volume's trashed nodes with their subtrees
	// and revisions, and returns how many nodes went. Blocks no longer
	// referenced become garbage (see GarbageBlocks).
	EmptyTrash(ctx context.Context, volumeID []byte) (int, error)

	// AddBlock records an uploaded block of ownerID, not yet referenced.
	// Adding a known block is not an error. ErrQuota if it would take the
	// account over its quota.
	AddBlock(ctx context.Context, ownerID int64, id []byte, size int64, now time.Time) error
	// AddBlocks is AddBlock for many blocks in one transaction: all are
	// recorded or none.
	AddBlocks(ctx context.Context, ownerID int64, blocks []BlockInfo, now time.Time) error
	// UnknownBlocks returns those of ids that no account has uploaded.
	UnknownBlocks(ctx context.Context, ids [][]byte) ([][]byte, error)
	// MissingBlocks returns those of ids that ownerID has not uploaded.
	MissingBlocks(ctx context.Context, ownerID int64, ids [][]byte) ([][]byte, error)
	// BlockOwned reports whether ownerID may read the block: it uploaded
	// it or one of its revisions references it.
	BlockOwned(ctx context.Context, ownerID int64, id []byte) (bool, error)
	// GarbageBlocks returns up to limit blocks that no revision references
	// and that were uploaded before olderThan (abandoned uploads, blocks of
	// deleted revisions).
	GarbageBlocks(ctx context.Context, olderThan time.Time, limit int) ([][]byte, error)
	// DeleteBlock forgets a block if it is still unreferenced; it reports
	// whether it did, so the caller deletes the stored bytes only then.
	DeleteBlock(ctx context.Context, id []byte) (bool, error)

	// Usage returns an account's storage use and quota.
	Usage(ctx context.Context, ownerID int64) (Usage, error)
	// SetQuota sets an account's quota in bytes (0: no limit).
	SetQuota(ctx context.Context, ownerID int64, bytes int64) error

	// Every write above that changes how a node looks to a client
	// appends events to its volume's history in the same transaction
	// (see EventKind for which); a write that fails appends none.
	// CreateVolume appends none: the history starts empty, at 0.

	// Events returns up to limit (> 0, else ErrInvalid) of the volume's
	// events after since, in order, and head, the volume's latest
	// sequence number. ErrCursorExpired if an event after since is no
	// longer kept (see PruneEvents), or if since is above head;
	// ErrNotFound if there is no such volume.
	Events(ctx context.Context, volumeID []byte, since uint64, limit int) (events []Event, head uint64, err error)
	// EventHead returns the volume's latest sequence number (0 before
	// its first event), or ErrNotFound.
	EventHead(ctx context.Context, volumeID []byte) (uint64, error)
	// EventHeads returns the latest sequence numbers of many volumes at
	// once, by volume ID (as a string); volumes that do not exist are
	// left out. It lets one poll stand for every request waiting on an
	// instance, however many there are.
	EventHeads(ctx context.Context, volumeIDs [][]byte) (map[string]uint64, error)
	// PruneEvents forgets old events and returns how many went: in each
	// volume, the events up to the newest one created before olderThan,
	// but never any of its newest keepPerVolume. What goes is always
	// the oldest part of a history, so what stays has no gaps.
	PruneEvents(ctx context.Context, olderThan time.Time, keepPerVolume int) (int, error)
	// WatchEvents calls fn with a volume's ID after every write through
	// this store (this process) that appended events to it, once the
	// write has committed, so that waiting readers can look at once.
	// fn must not block. Writes through other processes are not seen:
	// readers must also poll. The returned function stops the calls.
	WatchEvents(fn func(volumeID []byte)) (stop func())
}
