package api

import "time"

// Paths of the drive endpoints.
const (
	PathVolume        = "/v1/volume"
	PathNodes         = "/v1/nodes"
	PathNode          = "/v1/nodes/{id}"
	PathNodeChildren  = "/v1/nodes/{id}/children"
	PathNodeRevisions = "/v1/nodes/{id}/revisions"
	PathNodeTrash     = "/v1/nodes/{id}/trash"
	PathNodeRestore   = "/v1/nodes/{id}/restore"
	PathTrash         = "/v1/trash"
	PathBlock         = "/v1/blocks/{id}"
	PathBlocksBatch   = "/v1/blocks"
	PathBlocksMissing = "/v1/blocks/missing"
	PathBlocksGet     = "/v1/blocks/get"
	PathUsage         = "/v1/usage"
)

// Node kinds.
const (
	KindFolder = 1
	KindFile   = 2
)

// Limits of the drive API.
const (
	// MaxBlockBytes bounds one stored block: 4 MiB of plaintext plus the
	// sealing overhead, with room to spare.
	MaxBlockBytes = 4<<20 + 1024
	// MaxBatchBytes bounds a batch upload of blocks.
	MaxBatchBytes = 32 << 20
	// MaxBatchNodes bounds the nodes created in one request.
	MaxBatchNodes = 1000
	// MaxBatchGet bounds the blocks fetched in one request.
	MaxBatchGet = 1000
)

// Node is a folder or file record. All but Trashed and Head is signed by
// Author (docs/crypto.md, node record); the server cannot forge it.
type Node struct {
	ID          []byte `json:"id"`
	Volume      []byte `json:"volume"`
	Parent      []byte `json:"parent,omitempty"`
	Kind        int    `json:"kind"`
	NameHash    []byte `json:"name_hash"`
	SealedName  []byte `json:"sealed_name"`
	SealedKey   []byte `json:"sealed_key"`
	Author      string `json:"author"`
	Version     uint64 `json:"version"`
	Revision    []byte `json:"revision,omitempty"`
	RevisionSeq uint64 `json:"revision_seq,omitempty"`
	// RevisionDigest is the digest of the head revision record.
	RevisionDigest []byte `json:"revision_digest,omitempty"`
	// KeyHistory is a rotated file's earlier keys, sealed under its
	// current one.
	KeyHistory []byte    `json:"key_history,omitempty"`
	Signature  []byte    `json:"signature"`
	Trashed    bool      `json:"trashed,omitempty"`
	Head       *Revision `json:"head,omitempty"` // the head revision, in reads of files
}

// Revision is a file's content version, signed by Author.
type Revision struct {
	ID               []byte    `json:"id"`
	Node             []byte    `json:"node"`
	Volume           []byte    `json:"volume"`
	Seq              uint64    `json:"seq"`
	SealedContentKey []byte    `json:"sealed_content_key"`
	SealedAttrs      []byte    `json:"sealed_attrs"`
	Blocks           [][]byte  `json:"blocks"`
	Author           string    `json:"author"`
	Signature        []byte    `json:"signature"`
	Size             int64     `json:"size,omitempty"`      // ciphertext bytes, set by the server
	CreatedAt        time.Time `json:"created_at,omitzero"` // set by the server

	// Origins are the earlier revisions of the file whose blocks this one
	// re-uses, and BlockOrigins names, per block, the revision that
	// sealed it: 0 for this one, j for Origins[j-1] (docs/crypto.md
	// 12.6). Both are empty for a revision that re-uses nothing. The
	// server stores them as they come (it can check only their shape);
	// the signed record covers them.
	Origins      []Origin `json:"origins,omitempty"`
	BlockOrigins []uint32 `json:"block_origins,omitempty"`
}

// Origin is an earlier revision whose blocks a revision re-uses: its ID,
// and its content key sealed under the re-using revision's.
type Origin struct {
	Revision  []byte `json:"revision"`
	SealedKey []byte `json:"sealed_key"`
}

// VolumeResponse is the caller's drive: GET /v1/volume.
type VolumeResponse struct {
	Volume []byte `json:"volume"`
	Root   Node   `json:"root"`
}

// CreateVolumeRequest creates the caller's drive: POST /v1/volume.
type CreateVolumeRequest struct {
	Volume []byte `json:"volume"`
	Root   Node   `json:"root"`
}

// NewNode is one node to create, with the first revision for a file.
type NewNode struct {
	Node     Node      `json:"node"`
	Revision *Revision `json:"revision,omitempty"`
}

// CreateNodesRequest creates folders and files in one transaction: POST
// /v1/nodes. Items are applied in order, so a folder may precede its
// children.
type CreateNodesRequest struct {
	Items []NewNode `json:"items"`
}

// NodeList is a list of nodes: children, trash.
type NodeList struct {
	Nodes []Node `json:"nodes"`
}

// UpdateNodeRequest replaces a node's record (rename, move, or an earlier
// revision made head): PUT /v1/nodes/{id}.
type UpdateNodeRequest struct {
	Node          Node   `json:"node"`
	ExpectVersion uint64 `json:"expect_version"`
}

// CommitRevisionRequest adds a revision and makes it head: POST
// /v1/nodes/{id}/revisions.
type CommitRevisionRequest struct {
	Node          Node     `json:"node"`
	Revision      Revision `json:"revision"`
	ExpectVersion uint64   `json:"expect_version"`
}

// RevisionList is a file's revisions, oldest first.
type RevisionList struct {
	Revisions []Revision `json:"revisions"`
}

// BlockIDs is a list of block IDs: POST /v1/blocks/missing takes and returns one.
type BlockIDs struct {
	IDs [][]byte `json:"ids"`
	// Node, in POST /v1/blocks/get, names the file the blocks belong to
	// when they are not the caller's own: a member reads a shared file's
	// blocks through the node it may read.
	Node []byte `json:"node,omitempty"`
}

// EmptyTrashResponse says how many nodes emptying the trash deleted.
type EmptyTrashResponse struct {
	Deleted int `json:"deleted"`
}

// Usage is the caller's storage use: GET /v1/usage.
type Usage struct {
	UsedBytes  int64 `json:"used_bytes"`
	QuotaBytes int64 `json:"quota_bytes"` // 0: no limit
}
