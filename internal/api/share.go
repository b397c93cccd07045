package api

// Paths of the sharing endpoints.
const (
	// PathShares: GET lists the shares the caller owns; POST creates or
	// updates one (PutShareRequest).
	PathShares = "/v1/shares"
	// PathShare: GET one share with its members (owner) or with the
	// caller's own entry (member); DELETE ends it (owner).
	PathShare = "/v1/shares/{id}"
	// PathShared: GET lists what is shared with the caller.
	PathShared = "/v1/shared"
	// PathSharedAccept: POST AcceptShareRequest, the member's signed consent.
	PathSharedAccept = "/v1/shared/{id}/accept"
	// PathSharedDecline: POST, no body.
	PathSharedDecline = "/v1/shared/{id}/decline"
	// PathRotate: POST RotateRequest, the owner's key rotation of a
	// shared subtree, in one transaction.
	PathRotate = "/v1/rotate"
)

// Roles of share members, as in the signed member list (docs/crypto.md).
const (
	RoleViewer   = 1
	RoleEditor   = 2
	RoleUploader = 3
)

// States of a share member.
const (
	StatePending  = "pending"
	StateAccepted = "accepted"
	StateDeclined = "declined"
)

// MaxShareMembers bounds the members of one share.
const MaxShareMembers = 1000

// MaxRotateNodes bounds the nodes one key rotation re-keys.
const MaxRotateNodes = 50000

// ShareMember is one member of a share as the server keeps it. Role is a
// copy of the signed list's, for the server's enforcement; clients trust
// only the signed list.
type ShareMember struct {
	User string `json:"user"`
	Role int    `json:"role"`
	// Grant is the shared node's key and name sealed to the member
	// (docs/crypto.md, share grant); none for uploaders. In a
	// PutShareRequest an empty grant keeps the member's current one.
	Grant []byte `json:"grant,omitempty"`
	// State and Acceptance are set by the server in answers.
	State      string `json:"state,omitempty"`
	Acceptance []byte `json:"acceptance,omitempty"`
}

// Share is a share of one node with other accounts. List is the canonical
// encoding of the owner-signed member list and Signature its signature;
// the other fields repeat what the list says, for the server.
type Share struct {
	ID        []byte `json:"id"`
	Volume    []byte `json:"volume"`
	Node      []byte `json:"node"`
	Owner     string `json:"owner"`
	Version   uint64 `json:"version"`
	List      []byte `json:"list"`
	Signature []byte `json:"signature"`
	// The folder's inbox key pair for uploaders: the public key and the
	// private key sealed under the folder's key. Empty without uploaders.
	InboxPublic        []byte        `json:"inbox_public,omitempty"`
	SealedInboxPrivate []byte        `json:"sealed_inbox_private,omitempty"`
	Members            []ShareMember `json:"members"`
}

// PutShareRequest creates a share (ExpectVersion 0) or replaces the member
// list of the share whose current version is ExpectVersion: POST
// /v1/shares. Members left out are revoked.
type PutShareRequest struct {
	Share         Share  `json:"share"`
	ExpectVersion uint64 `json:"expect_version"`
}

// ShareList is the caller's own shares: GET /v1/shares.
type ShareList struct {
	Shares []Share `json:"shares"`
}

// SharedItem is a share as one of its members sees it: the share (with
// only the member's own entry in Members) and the shared node's record.
type SharedItem struct {
	Share  Share       `json:"share"`
	Member ShareMember `json:"member"`
	Root   Node        `json:"root"`
}

// SharedList is what is shared with the caller: GET /v1/shared.
type SharedList struct {
	Items []SharedItem `json:"items"`
}

// AcceptShareRequest is a member's consent to a share, signed with the
// member's identity key (docs/crypto.md, share acceptance).
type AcceptShareRequest struct {
	Acceptance []byte `json:"acceptance"`
}

// NodeReplace is one node's new record in a RotateRequest.
type NodeReplace struct {
	Node          Node   `json:"node"`
	ExpectVersion uint64 `json:"expect_version"`
	// Rekeyed says the node, a folder, gets a new key: every child of it
	// (in the trash too) must then be in the same request.
	Rekeyed bool `json:"rekeyed,omitempty"`
}

// RotateRequest replaces, in one transaction, the records of every node of
// a subtree (new keys) and the member lists of the shares in it (new key
// checks and grants): POST /v1/rotate. Either all of it applies or none.
type RotateRequest struct {
	Nodes  []NodeReplace     `json:"nodes"`
	Shares []PutShareRequest `json:"shares"`
}
