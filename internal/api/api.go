// Package api holds the wire types of Coffer's HTTP API, shared by the server
// and the client so both always agree. Byte strings travel as standard base64
// (encoding/json's []byte encoding). Every path is under /v1; a breaking change
// gets a new prefix.
package api

import (
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version the client and server speak. A client
// refuses a server announcing any other version.
const Version = 1

// Paths of the endpoints.
const (
	PathHealth        = "/healthz" // liveness: the process serves
	PathReady         = "/readyz"  // readiness: the database and a write quorum of block locations answer
	PathInfo          = "/v1/info"
	PathSignup        = "/v1/signup"
	PathLoginStart    = "/v1/login/start"
	PathLoginFinish   = "/v1/login/finish"
	PathLogout        = "/v1/logout"
	PathMe            = "/v1/me"
	PathSessions      = "/v1/sessions"
	PathSession       = "/v1/sessions/{id}"
	PathPasswordProof = "/v1/account/password/proof"
	PathPassword      = "/v1/account/password"
	PathRecoverStart  = "/v1/recover/start"
	PathRecoverUnlock = "/v1/recover/unlock"
	PathRecoverFinish = "/v1/recover/finish"
	PathUserBundle    = "/v1/users/{name}/bundle"
	// PathEvents is the caller's volume's history of changes: GET with
	// ?since=N (the cursor) and ?wait=S (seconds to long-poll, at most
	// MaxEventsWait); without since, only the cursor of the head.
	PathEvents = "/v1/events"
)

// MaxBodyBytes bounds every JSON request body.
const MaxBodyBytes = 1 << 20

// Error codes in ErrorBody.Error.Code.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthorized    = "unauthorized"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeAuthFailed      = "auth_failed"
	CodeTooManyRequests = "too_many_requests"
	CodeQuota           = "quota_exceeded"
	CodeTooLarge        = "too_large"
	CodeUnsupported     = "unsupported_media_type"
	CodeInternal        = "internal"
	// CodeCursorExpired (410 Gone) means the history no longer holds
	// every change after the cursor given: the client must rescan its
	// whole tree, then follow the head cursor it took before the scan.
	CodeCursorExpired = "cursor_expired"
)

// ErrorBody is the shape of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code with a human-readable message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Info describes the server: GET /v1/info.
type Info struct {
	Version int    `json:"version"`
	SRP     string `json:"srp"` // SRP group and hash, "rfc5054-3072-sha256"
}

// SRPGroup names the only SRP parameters this version speaks.
const SRPGroup = "rfc5054-3072-sha256"

// KDF is the Argon2id parameters of an account.
type KDF struct {
	Alg         string `json:"alg"` // always "argon2id"
	MemoryKiB   uint32 `json:"memory_kib"`
	Iterations  uint32 `json:"iterations"`
	Parallelism uint32 `json:"parallelism"`
}

// KDFArgon2id is the only KDF algorithm of this version.
const KDFArgon2id = "argon2id"

// Credentials is what the server stores to authenticate a password and
// what the client needs to unlock its keys with it.
type Credentials struct {
	Salt       []byte `json:"salt"`
	KDF        KDF    `json:"kdf"`
	Verifier   []byte `json:"verifier"`
	SealedKeys []byte `json:"sealed_keys"`
	Epoch      uint32 `json:"epoch"`
}

// SignupRequest creates an account: POST /v1/signup.
type SignupRequest struct {
	User               string      `json:"user"`
	Credentials        Credentials `json:"credentials"`
	RecoverySealedKeys []byte      `json:"recovery_sealed_keys"`
	RecoveryAuthPub    []byte      `json:"recovery_auth_pub"`
	PublicBundle       []byte      `json:"public_bundle"`
}

// LoginStartRequest begins SRP: POST /v1/login/start.
type LoginStartRequest struct {
	User string `json:"user"`
	A    []byte `json:"a"`
	// DeviceToken, if the client has one from an earlier login to this
	// account, exempts it from the account-wide throttle (see docs/api.md).
	DeviceToken []byte `json:"device_token,omitempty"`
}

// LoginStartResponse carries the salt, KDF parameters and server ephemeral.
type LoginStartResponse struct {
	HandshakeID string `json:"handshake_id"`
	Salt        []byte `json:"salt"`
	KDF         KDF    `json:"kdf"`
	B           []byte `json:"b"`
}

// LoginFinishRequest proves the password: POST /v1/login/finish.
type LoginFinishRequest struct {
	HandshakeID string `json:"handshake_id"`
	M1          []byte `json:"m1"`
	DeviceName  string `json:"device_name"`
	DeviceToken []byte `json:"device_token,omitempty"`
	// UnlockKey is a random key the client made to wrap its local key
	// cache; the server keeps it with the session and hands it back to
	// the session's bearer only.
	UnlockKey []byte `json:"unlock_key"`
}

// LoginFinishResponse proves the server knew the verifier and opens the session.
type LoginFinishResponse struct {
	M2           []byte `json:"m2"`
	SessionID    string `json:"session_id"`
	Token        string `json:"token"`
	DeviceToken  []byte `json:"device_token"`
	SealedKeys   []byte `json:"sealed_keys"`
	Epoch        uint32 `json:"epoch"`
	PublicBundle []byte `json:"public_bundle"`
}

// Me is the caller's account and session: GET /v1/me.
type Me struct {
	User         string `json:"user"`
	SessionID    string `json:"session_id"`
	UnlockKey    []byte `json:"unlock_key"`
	Epoch        uint32 `json:"epoch"`
	PublicBundle []byte `json:"public_bundle"`
}

// Session describes one logged-in device: GET /v1/sessions.
type Session struct {
	ID         string    `json:"id"`
	DeviceName string    `json:"device_name"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

// SessionList is the response of GET /v1/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

// PasswordProofRequest proves the current password before a change: POST
// /v1/account/password/proof, authorised by the bearer token and by a fresh
// SRP proof (a handshake begun with /v1/login/start for the same account).
type PasswordProofRequest struct {
	HandshakeID string `json:"handshake_id"`
	M1          []byte `json:"m1"`
	DeviceToken []byte `json:"device_token,omitempty"`
}

// PasswordProofResponse carries the server's SRP proof and a one-time grant
// to change the password. The client checks M2 before it sends anything
// derived from the new password, so an impostor server learns nothing.
type PasswordProofResponse struct {
	M2      []byte `json:"m2"`
	GrantID string `json:"grant_id"`
}

// PasswordRequest changes the password: POST /v1/account/password.
type PasswordRequest struct {
	GrantID string      `json:"grant_id"`
	New     Credentials `json:"new"`
	// Binding is crypto.PasswdBinding(K, digest of New), K being the SRP
	// key of the proof that earned the grant.
	Binding []byte `json:"binding"`
}

// RecoverStartRequest begins a recovery: POST /v1/recover/start.
type RecoverStartRequest struct {
	User string `json:"user"`
}

// RecoverChallenge is a challenge to sign with the key derived from the
// recovery key. For names that hold no account it looks the same.
type RecoverChallenge struct {
	ChallengeID string `json:"challenge_id"`
	Challenge   []byte `json:"challenge"`
}

// RecoverUnlockRequest proves possession of the recovery key: POST
// /v1/recover/unlock. Signature is the recovery auth key's Ed25519
// signature over crypto.RecoveryMessage(user, challenge, 32 zero bytes).
type RecoverUnlockRequest struct {
	ChallengeID string `json:"challenge_id"`
	Signature   []byte `json:"signature"`
}

// RecoverUnlockResponse releases what the recovery key unlocks, only after
// the proof, with a second challenge that authorises the new credentials.
type RecoverUnlockResponse struct {
	RecoverySealedKeys []byte           `json:"recovery_sealed_keys"`
	Epoch              uint32           `json:"epoch"`
	Finish             RecoverChallenge `json:"finish"`
}

// RecoverFinishRequest sets new credentials: POST /v1/recover/finish.
type RecoverFinishRequest struct {
	ChallengeID string      `json:"challenge_id"`
	New         Credentials `json:"new"`
	// Signature is the recovery auth key's Ed25519 signature over
	// crypto.RecoveryMessage(user, challenge, digest of New).
	Signature []byte `json:"signature"`
}

// BundleResponse is a user's signed public key bundle: GET /v1/users/{name}/bundle.
type BundleResponse struct {
	User         string `json:"user"`
	PublicBundle []byte `json:"public_bundle"`
}

// Empty is the body of responses that carry nothing.
type Empty struct{}

// MaxUserNameLen bounds account names.
const MaxUserNameLen = 64

// CheckUserName reports whether name is an acceptable account name: 1 to 64
// bytes of lowercase ASCII letters, digits, '.', '_' and '-', starting with a
// letter or digit. Names are kept this narrow because they are shown to other
// users in share lists, where look-alike Unicode would help an impersonator.
func CheckUserName(name string) error {
	if name == "" {
		return errors.New("user name is empty")
	}
	if len(name) > MaxUserNameLen {
		return fmt.Errorf("user name is longer than %d bytes", MaxUserNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return errors.New("user name may hold only lowercase letters, digits, '.', '_' and '-', and must start with a letter or digit")
		}
	}
	return nil
}

// Event kinds, in Event.Kind.
const (
	EventCreate   = "create"   // a node was created
	EventRevision = "revision" // a file got a new head revision (its record may also move it)
	EventUpdate   = "update"   // a record was replaced: rename, move, old revision made head, key rotation
	EventTrash    = "trash"    // a node went to the trash, with its subtree
	EventRestore  = "restore"  // a node came back from the trash
	EventDelete   = "delete"   // a trashed node was deleted for good, with its subtree
	EventShare    = "share"    // the share on the node was created, changed, answered or deleted
)

// Limits of the events feed.
const (
	// MaxEventsPage bounds the events of one answer; More says there are
	// others after them.
	MaxEventsPage = 1000
	// MaxEventsWait bounds a long-poll, in seconds.
	MaxEventsWait = 60
)

// Event is one change in a volume, numbered by Seq: 1, 2, 3, ... in the
// order the server committed them. It is a hint of where to look, not a
// record to trust: the server chose it, and a client verifies the nodes
// it names as it does any other.
type Event struct {
	Seq  uint64 `json:"seq"`
	Kind string `json:"kind"`
	Node []byte `json:"node"`
	// Parent is the node's parent after the change; for a delete the
	// last one it had.
	Parent []byte `json:"parent,omitempty"`
	// OldParent is the parent before a move (update or revision).
	OldParent []byte `json:"old_parent,omitempty"`
	// Version is the node's record version after the change; 0 once it
	// is gone.
	Version uint64    `json:"version"`
	Time    time.Time `json:"time"`
}

// EventsResponse answers GET /v1/events.
type EventsResponse struct {
	Volume []byte  `json:"volume"`
	Events []Event `json:"events"`
	// Cursor is what to pass as since next time: the Seq of the last
	// event given, or since itself when there is none (without since,
	// the volume's head).
	Cursor uint64 `json:"cursor"`
	// More says the page was full: ask again at once for the rest.
	More bool `json:"more"`
}
