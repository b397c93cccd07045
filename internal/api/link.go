package api

import "time"

// Paths of the public-link endpoints (docs/api.md, public links).
const (
	// PathLinks: GET lists the caller's links; POST creates one
	// (CreateLinkRequest).
	PathLinks = "/v1/links"
	// PathLink: GET is the link's public info (no account); DELETE
	// revokes it (owner).
	PathLink = "/v1/links/{id}"
	// PathLinkLoginStart and PathLinkLoginFinish are the link's SRP
	// handshake (no account).
	PathLinkLoginStart  = "/v1/links/{id}/login/start"
	PathLinkLoginFinish = "/v1/links/{id}/login/finish"
	// The link-session endpoints (Authorization: Bearer <link token>).
	PathLinkNode     = "/v1/links/{id}/nodes/{node}"
	PathLinkChildren = "/v1/links/{id}/nodes/{node}/children"
	PathLinkBlock    = "/v1/links/{id}/blocks/{block}"
	PathLinkDrops    = "/v1/links/{id}/drops"
)

// Kinds of links.
const (
	LinkRead   = 1 // read access to a file or a folder's subtree
	LinkUpload = 2 // drop files into a folder (a file request)
)

// States of a link, in LinkList.
const (
	LinkActive    = "active"
	LinkExpired   = "expired"
	LinkExhausted = "exhausted"
	LinkRevoked   = "revoked"
	LinkGone      = "gone"
)

// Error codes of links that can no longer be used (410).
const (
	CodeLinkExpired   = "link_expired"
	CodeLinkRevoked   = "link_revoked"
	CodeLinkExhausted = "link_exhausted"
	CodeLinkGone      = "link_gone"
)

// Limits of links.
const (
	// MaxLinkSealed bounds a link's sealed payload and owner record.
	MaxLinkSealed = 4096
	// LinkSessionLifetime is how long a link session lasts.
	LinkSessionLifetime = time.Hour
)

// CreateLinkRequest makes a link: POST /v1/links. Everything secret in it
// is sealed or one-way (docs/crypto.md 13.13).
type CreateLinkRequest struct {
	ID       []byte `json:"id"`
	Volume   []byte `json:"volume"`
	Node     []byte `json:"node"`
	Kind     int    `json:"kind"`
	Salt     []byte `json:"salt"`
	KDF      KDF    `json:"kdf"`
	Verifier []byte `json:"verifier"`
	// Payload is what the link gives, sealed under the link key.
	Payload []byte `json:"payload"`
	// OwnerRecord is the link's secret and keys sealed under the owner's
	// self key; the server returns it to the owner only.
	OwnerRecord []byte `json:"owner_record"`
	// Password says whether the link has a password, so that the page
	// knows to ask.
	Password     bool       `json:"password"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	MaxDownloads int64      `json:"max_downloads"`
	MaxFiles     int64      `json:"max_files"`
	MaxBytes     int64      `json:"max_bytes"`
}

// Link is one of the owner's links, as the owner sees it.
type Link struct {
	ID           []byte     `json:"id"`
	Volume       []byte     `json:"volume"`
	Node         []byte     `json:"node"`
	Kind         int        `json:"kind"`
	Password     bool       `json:"password"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	MaxDownloads int64      `json:"max_downloads"`
	Downloads    int64      `json:"downloads"`
	MaxFiles     int64      `json:"max_files"`
	Files        int64      `json:"files"`
	MaxBytes     int64      `json:"max_bytes"`
	Bytes        int64      `json:"bytes"`
	OwnerRecord  []byte     `json:"owner_record"`
	State        string     `json:"state"`
}

// LinkList is the caller's links: GET /v1/links.
type LinkList struct {
	Links []Link `json:"links"`
}

// LinkInfo is a link's public info: GET /v1/links/{id}.
type LinkInfo struct {
	ID        []byte     `json:"id"`
	Kind      int        `json:"kind"`
	Password  bool       `json:"password"`
	Salt      []byte     `json:"salt"`
	KDF       KDF        `json:"kdf"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	MaxFiles  int64      `json:"max_files"`
	MaxBytes  int64      `json:"max_bytes"`
	Files     int64      `json:"files"`
	Bytes     int64      `json:"bytes"`
}

// LinkLoginStartRequest begins a link's SRP handshake.
type LinkLoginStartRequest struct {
	A []byte `json:"a"`
}

// LinkLoginStartResponse is the server's ephemeral.
type LinkLoginStartResponse struct {
	HandshakeID string `json:"handshake_id"`
	B           []byte `json:"b"`
}

// LinkLoginFinishRequest proves the link password.
type LinkLoginFinishRequest struct {
	HandshakeID string `json:"handshake_id"`
	M1          []byte `json:"m1"`
}

// LinkLoginFinishResponse proves the server knew the verifier, releases
// the sealed payload and opens a link session.
type LinkLoginFinishResponse struct {
	M2        []byte    `json:"m2"`
	Token     string    `json:"token"`
	Volume    []byte    `json:"volume"`
	Node      []byte    `json:"node"`
	Kind      int       `json:"kind"`
	Payload   []byte    `json:"payload"`
	ExpiresAt time.Time `json:"expires_at"`
}

// LinkDropRequest adds one file to an upload link's folder as an inbox
// drop: POST /v1/links/{id}/drops.
type LinkDropRequest struct {
	Node     Node     `json:"node"`
	Revision Revision `json:"revision"`
}
