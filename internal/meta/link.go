package meta

import (
	"context"
	"errors"
	"time"
)

// More errors of the link methods.
var (
	// ErrLimit means a link's limit is reached: its downloads, its files
	// or its bytes.
	ErrLimit = errors.New("link limit reached")
	// ErrLinkClosed means the link was revoked, or has expired, or its
	// node was deleted or put in the trash, when the operation ran; the
	// caller reads the link again to tell which.
	ErrLinkClosed = errors.New("link revoked or expired")
)

// Kinds of links, as in the API.
const (
	// LinkRead gives read access to a file or a folder's subtree.
	LinkRead = 1
	// LinkUpload lets anyone with the link drop files into a folder.
	LinkUpload = 2
)

// Link is a public link to one node of its owner's volume (docs/crypto.md
// 13.13). The server gates it with SRP: it keeps the verifier the owner's
// client made from the link's secret and password, and releases the
// sealed Payload only after a correct proof. Everything secret is sealed
// or one-way; the store treats it as opaque.
type Link struct {
	ID       []byte // 16 bytes, chosen by the owner's client
	OwnerID  int64  // the owner of VolumeID
	VolumeID []byte
	NodeID   []byte // the linked node; the link outlives it (NodeGone)
	Kind     int    // LinkRead or LinkUpload
	Salt     []byte // Argon2id salt of the link's keys
	KDF      KDF
	Verifier []byte // SRP verifier, big-endian, padded to the group size
	// Payload is what the link gives, sealed under the link key; released
	// only after a correct proof.
	Payload []byte
	// OwnerRecord is the link's secret and keys sealed to the owner;
	// shown to the owner only.
	OwnerRecord []byte
	// Password says whether the link has a password besides its secret.
	Password  bool
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: not revoked
	// MaxDownloads bounds the successful proofs of a read link (0: no
	// limit); Downloads counts them.
	MaxDownloads int64
	Downloads    int64
	// MaxFiles and MaxBytes bound what is dropped through an upload link
	// (0: no limit but the owner's quota); Files and Bytes count it: the
	// files dropped, and the bytes of their (distinct) blocks.
	MaxFiles int64
	Files    int64
	MaxBytes int64
	Bytes    int64
	// PendingBytes is the size of the blocks uploaded through the link
	// that no drop has taken yet. They count against MaxBytes with Bytes
	// (Bytes+PendingBytes <= a non-zero MaxBytes), so that uploads cannot
	// outrun the limit, and leave it when a drop takes them (to Bytes) or
	// when they are collected as garbage: an abandoned upload does not
	// use up the link for good. Ignored by PutLink.
	PendingBytes int64
	// NodeGone is filled on reads (Link, LinksOfOwner) and ignored by
	// PutLink: the linked node was deleted, or it or a folder above it
	// is in the trash.
	NodeGone bool
}

// LinkSession is a session opened by a correct proof of a link's
// password. Only the SHA-256 of its bearer token is kept.
type LinkSession struct {
	TokenHash []byte
	LinkID    []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LinkStore is the part of the metadata store that holds public links,
// their sessions and what their uploaders add. The server decides from a
// link's row whether it may be used (expiry, revocation, limits, its
// node's state) on every request; the writes below check again, in their
// own transactions, what a concurrent request could change: revocation,
// expiry and the limits.
type LinkStore interface {
	// PutLink creates a link. ErrExists if the ID is taken. The node
	// must be an active node of l.VolumeID (not in the trash, itself or
	// by way of a folder above it), l.OwnerID must own that volume, and
	// an upload link's node must be a folder (ErrInvalid otherwise, as
	// for an unknown Kind or a negative limit). Downloads, Files, Bytes,
	// PendingBytes, RevokedAt and NodeGone are ignored: a link starts
	// unused.
	PutLink(ctx context.Context, l *Link) error
	// Link returns a link by ID, in any state, or ErrNotFound.
	Link(ctx context.Context, id []byte) (*Link, error)
	// LinksOfOwner returns the owner's links, revoked ones included,
	// newest first.
	LinksOfOwner(ctx context.Context, ownerID int64) ([]Link, error)
	// RevokeLink turns the owner's link off: it sets RevokedAt to now
	// unless the link was revoked already (revoking twice keeps the first
	// time, and is not an error), and deletes the link's sessions, in one
	// transaction. ErrNotFound if ownerID has no link with this ID.
	RevokeLink(ctx context.Context, ownerID int64, id []byte, now time.Time) error

	// CreateLinkSession stores a session of the link s.LinkID, in one
	// transaction with the checks that the link exists (ErrNotFound),
	// is neither revoked nor expired at s.CreatedAt, and that its node is
	// active, not deleted nor in the trash itself or by way of a folder
	// above it (ErrLinkClosed), so that no session outlives a revocation
	// or opens on a node that is gone. With countDownload it
	// also counts one download, only while Downloads is below a non-zero
	// MaxDownloads (ErrLimit otherwise, and nothing is stored): two
	// proofs in parallel never both take the last download. ErrExists if
	// the token hash is taken.
	CreateLinkSession(ctx context.Context, s *LinkSession, countDownload bool) error
	// LinkSessionByTokenHash returns the link session with this token
	// hash, or ErrNotFound. It does not check expiry; the caller does.
	LinkSessionByTokenHash(ctx context.Context, tokenHash []byte) (*LinkSession, error)

	// AddLinkBlock records block b, uploaded through the upload link
	// linkID, as a block of the link's owner (so that it counts against
	// the owner's quota from the start), remembers that it came through
	// the link, and adds its size to the link's PendingBytes, all in one
	// transaction. The link must exist (ErrNotFound), be an upload link
	// (ErrInvalid), and be neither revoked nor expired at now
	// (ErrLinkClosed). ErrLimit if Bytes+PendingBytes would go over a
	// non-zero MaxBytes; ErrQuota if the owner would go over its quota;
	// ErrExists if another account uploaded a block with this ID. Adding
	// a block the link added already counts nothing again (a retried
	// upload), nor does adding one that a revision of the owner's uses
	// already (no drop could take it). A pending block leaves
	// PendingBytes when a drop takes it, or when it is collected as
	// garbage (DeleteBlock).
	AddLinkBlock(ctx context.Context, linkID []byte, b BlockInfo, now time.Time) error
	// CreateLinkDrop creates a file dropped through the upload link
	// linkID with its first revision, in one transaction with the checks
	// and the count: the link exists (ErrNotFound), is an upload link
	// (ErrInvalid), and is neither revoked nor expired at now
	// (ErrLinkClosed), and its folder is active, not deleted nor in the
	// trash itself or by way of a folder above it (ErrLinkClosed); Files
	// is below a non-zero MaxFiles (ErrLimit); the node is a file
	// directly in the linked folder and of its volume (ErrInvalid); every
	// block its revision names was added through this link (AddLinkBlock),
	// taken by no drop yet, and is referenced by no revision
	// (ErrMissingBlocks); Bytes plus the size of those blocks, each
	// counted once, stays within a non-zero MaxBytes (ErrLimit). Then it
	// is created as CreateNodes would for the link's owner, Files goes up
	// by one, and the blocks' size moves from PendingBytes to Bytes. On
	// any error nothing changes.
	CreateLinkDrop(ctx context.Context, linkID []byte, item NewFile, now time.Time) error

	// BlockInRevision reports whether the revision revisionID references
	// the block, by an indexed lookup: a read link serves only blocks of
	// the head revision of the file it names.
	BlockInRevision(ctx context.Context, blockID, revisionID []byte) (bool, error)

	// ActiveBelow reports whether nodeID is rootID or below it (at most
	// MaxShareDepth levels), with it and every node from it up to rootID
	// active (not in the trash), in one query: what a read link reaches.
	// False if nodeID does not exist.
	ActiveBelow(ctx context.Context, nodeID, rootID []byte) (bool, error)
}
