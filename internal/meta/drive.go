package meta

import (
	"context"
	"errors"
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
)

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
	// node's volume. Blocks, rev.UploaderID and quota as in CreateNodes.
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
}
