package meta

import (
	"context"
	"time"
)

// ShareState is a member's answer to a share.
type ShareState int

// Share member states.
const (
	// SharePending is a member who has not answered yet: the share gives
	// it no access.
	SharePending ShareState = 0
	// ShareAccepted is a member who consented with a signed acceptance:
	// only then does the share give it access.
	ShareAccepted ShareState = 1
	// ShareDeclined is a member who refused the share.
	ShareDeclined ShareState = 2
)

// Roles of share members, as in the signed member list (the values of
// internal/crypto's roles and of the API's). They are untyped so that
// they compare with ShareMember.Role and Access.Role directly.
const (
	// RoleViewer may read the shared subtree.
	RoleViewer = 1
	// RoleEditor may read and change the shared subtree.
	RoleEditor = 2
	// RoleUploader may only add files to the shared folder, sealed to the
	// share's inbox key; its grant carries no key.
	RoleUploader = 3
)

// Share gives other accounts access to one node (folder or file) of an
// owner's volume, and so to its subtree. The member list is signed by the
// owner's client and kept opaque (List, Signature); the server keeps the
// roles in ShareMember rows, for enforcement.
type Share struct {
	ID        []byte // crypto.IDSize (16) bytes, chosen by the owner's client; not empty
	VolumeID  []byte
	NodeID    []byte // the shared node; at most one share per node
	OwnerID   int64  // the owner of VolumeID
	OwnerName string // filled on reads; ignored by PutShare
	Version   uint64 // the signed list's version
	List      []byte // the signed list (opaque)
	Signature []byte
	// InboxPublic and SealedInboxPrivate are the inbox key pair uploaders
	// seal to; both nil unless the share has uploaders.
	InboxPublic        []byte
	SealedInboxPrivate []byte
	CreatedAt          time.Time // kept from the first PutShare
	UpdatedAt          time.Time // of the latest PutShare
}

// ShareMember is one account's membership of a share.
type ShareMember struct {
	ShareID  []byte
	UserID   int64
	UserName string // filled on reads; ignored by PutShare
	Role     int    // RoleViewer, RoleEditor or RoleUploader
	// Grant is what the owner's client sealed to the member (HPKE): the
	// node's key and name for viewers and editors, the name only for
	// uploaders (crypto.SealUploaderGrant). Opaque to the store.
	Grant []byte
	// State is the member's answer; PutShare ignores it (see there).
	State ShareState
	// Acceptance is the member's signature consenting to the share; nil
	// unless accepted. PutShare ignores it.
	Acceptance []byte
	// CreatedAt is when the account became a member; it survives later
	// versions of the list.
	CreatedAt time.Time
}

// SharedWith is a share as one member sees it.
type SharedWith struct {
	Share  Share
	Member ShareMember
}

// Access is one way a user reaches a node through an accepted share.
type Access struct {
	ShareID   []byte
	ShareNode []byte // the shared node: the node itself or one of its ancestors
	VolumeID  []byte
	Role      int
	Depth     int // 0 when the shared node is the node itself, 1 for its parent, ...
}

// MaxShareDepth bounds how far Accesses and InSubtree walk up from a node.
// A node further below its shared ancestor than this is not reached
// through that share: the walk fails closed rather than running away on
// an absurdly deep (or, by a bug, cyclic) tree.
const MaxShareDepth = 4096

// ShareStore is the part of the metadata store that holds shares. Besides
// the errors named, ErrInvalid reports a share or member that breaks the
// rules below.
type ShareStore interface {
	// PutShare creates a share (expectVersion 0; ErrExists if the node is
	// already shared or the ID taken — then the caller must update the
	// existing share) or replaces one whose stored Version is still
	// expectVersion (ErrConflict otherwise; ErrNotFound if the share does
	// not exist), in one transaction, with its whole member list.
	//
	// s.Version must be greater than the stored version (ErrInvalid
	// otherwise). s.OwnerID must be the volume's owner, and an update
	// cannot change s.VolumeID or s.NodeID (ErrInvalid). On creation the
	// node must exist, be active (not in the trash, itself or by way of
	// a folder above it) and belong to s.VolumeID (ErrInvalid otherwise);
	// an update is allowed whatever the node's state, so that the owner
	// can always revoke.
	//
	// Members not in the new list are deleted (revocation). A member
	// already in the list keeps its State, Acceptance and CreatedAt; its
	// Role is replaced; its Grant is replaced if the new one is non-nil,
	// else kept. New members start SharePending, with CreatedAt as given
	// or s.UpdatedAt if zero. Each member's UserID must exist
	// (ErrNotFound), must not be the owner, must appear once and must
	// have a known Role (ErrInvalid). The share has inbox keys (both)
	// if and only if it has uploaders (ErrInvalid). Whether a new
	// member brings a grant is the caller's to check.
	PutShare(ctx context.Context, s *Share, members []ShareMember, expectVersion uint64) error
	// Share returns a share by ID, or ErrNotFound.
	Share(ctx context.Context, id []byte) (*Share, error)
	// ShareOfNode returns the share on a node, or ErrNotFound.
	ShareOfNode(ctx context.Context, nodeID []byte) (*Share, error)
	// SharesOfVolume returns all shares of a volume (the owner's view),
	// by creation time.
	SharesOfVolume(ctx context.Context, volumeID []byte) ([]Share, error)
	// ShareMembers returns a share's members, by user name; none if the
	// share does not exist.
	ShareMembers(ctx context.Context, shareID []byte) ([]ShareMember, error)
	// SharedWith returns every share userID is a member of, in any
	// state, by the share's creation time.
	SharedWith(ctx context.Context, userID int64) ([]SharedWith, error)
	// SetShareState records a member's answer: ShareAccepted with its
	// acceptance signature (which must not be empty), or ShareDeclined
	// (acceptance cleared); any other state is ErrInvalid. ErrNotFound
	// if userID is not a member.
	SetShareState(ctx context.Context, shareID []byte, userID int64, state ShareState, acceptance []byte) error
	// DeleteShare deletes a share and its members. ErrNotFound if absent.
	DeleteShare(ctx context.Context, id []byte) error
	// Accesses returns how userID reaches nodeID through shares it has
	// ACCEPTED: one entry per accepted share whose node is nodeID or one
	// of its ancestors, nearest first. None (empty, nil error) when there
	// is no such share or no such node. It is one query up the parent
	// chain, at most MaxShareDepth levels. A node in any state counts:
	// the server decides what a trashed node allows.
	Accesses(ctx context.Context, userID int64, nodeID []byte) ([]Access, error)
	// InSubtree reports whether nodeID is rootID or below it (at most
	// MaxShareDepth levels), in one query, for checking that a move stays
	// inside a share. False if nodeID does not exist.
	InSubtree(ctx context.Context, nodeID, rootID []byte) (bool, error)
	// BlockInNode reports whether some revision of nodeID references the
	// block, so that a member may read it.
	BlockInNode(ctx context.Context, blockID, nodeID []byte) (bool, error)
}
