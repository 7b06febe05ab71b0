// Package boardapi is the bulletin board's HTTP API as its clients see it:
// the paths, the JSON bodies, the receipt, the encoding of proof hashes,
// the error codes and a [Client]. It holds no server code: a voter's
// device, a trustee's tool or a monitor imports it without the board
// (package board serves this API).
//
// # Errors
//
// Every refusal is a JSON [ErrorResponse], {"code": "...", "error": "..."}:
// the code is one of the Code constants, machine-readable and stable; the
// error is for people and may change. [Client] returns a refusal as an
// [*Error], which errors.Is matches against the sentinel of its code
// ([ErrClosed], [ErrAlreadyVoted], [ErrRateLimited], ...), so callers
// branch on sentinels, never on the message:
//
//	rc, err := c.Cast(ctx, ballot)
//	switch {
//	case errors.Is(err, boardapi.ErrBallotOnBoard):
//		rc, err = c.Receipt(ctx, trackingCode) // a lost reply: the ballot is in
//	case errors.Is(err, boardapi.ErrRateLimited), errors.Is(err, boardapi.ErrOverloaded):
//		// wait (Error.RetryAfter) and send it again
//	}
//
// Nothing a board answers is trusted here: the client returns receipts,
// checkpoints, entries and proofs as the board sent them, and callers check
// them with package store (as package voter does).
//
// # Transport
//
// [Client] sends its requests through a small seam, internal/transport's
// Transport: [NewClient] runs it over net/http, and [NewClientOver] over
// any other, such as the booth's, over the browser's fetch. This package
// imports net/http only outside a js build (for NewClient), because in a
// WebAssembly module net/http costs about 7 MB (a hello-world with an http.Get is 10.1 MB,
// 3.0 MB without; 2.7 MB more of gzip on a phone's download), and the
// booth is to stay under 2 MB gzipped.
package boardapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// HTTP API paths (SPEC.md §11).
const (
	PathManifest    = "/v1/manifest"
	PathElection    = "/v1/election"
	PathBallots     = "/v1/ballots"
	PathCheckpoint  = "/v1/checkpoint"
	PathCosigned    = "/v1/checkpoint/cosigned" // ?size=N: the newest checkpoint with a quorum of witness cosignatures, of at least N leaves
	PathInclusion   = "/v1/proof/inclusion"
	PathConsistency = "/v1/proof/consistency"
	PathEntries     = "/v1/entries/"  // + the entry's index
	PathReceipts    = "/v1/receipts/" // + the ballot's tracking code, 64 lower-case hex digits
	PathExport      = "/v1/export"
	PathPartials    = "/v1/partials"
	PathCeremony    = "/v1/admin/ceremony"
	// PathTrusteeCeremony takes a ceremony message from anyone: its
	// trustee's signature is the credential (SPEC.md §7, §11).
	PathTrusteeCeremony = "/v1/ceremony"
	PathOpen            = "/v1/admin/open"
	PathClose           = "/v1/admin/close"
	PathResult          = "/v1/admin/result"
	PathIssuance        = "/v1/admin/issuance" // the issuer's signed statement of its counts, after close
	PathHealth          = "/healthz"
	PathMetrics         = "/metrics"
)

// ElectionInfo is the body of GET /v1/election.
type ElectionInfo struct {
	Phase            string   `json:"phase"` // "ceremony", "open" or "closed"
	ManifestHash     string   `json:"manifest_hash"`
	OpenIndex        uint64   `json:"open_index,omitempty"`        // the open entry, after open
	CloseIndex       uint64   `json:"close_index,omitempty"`       // the close entry, after close
	ElectionKey      string   `json:"election_key,omitempty"`      // hex, after open
	VerificationKeys []string `json:"verification_keys,omitempty"` // hex by trustee index - 1, after open
	BallotSize       int      `json:"ballot_size,omitempty"`
	Size             uint64   `json:"size"`
}

// Receipt is the body of a cast's 201 and of GET /v1/receipts/CODE: what
// the board says proves it holds a ballot. It is worth nothing until
// checked: the checkpoint against the board's key, the inclusion proof
// against the checkpoint and the ballot's leaf.
type Receipt struct {
	TrackingCode string   `json:"tracking_code"` // hex of ballot.TrackingCode
	Index        uint64   `json:"index"`
	Checkpoint   string   `json:"checkpoint"` // the signed note
	Inclusion    []string `json:"inclusion"`  // base64 hashes, tlog.RecordProof (EncodeHashes)
	Replaced     bool     `json:"replaced,omitempty"`
}

// OpenRequest is the body of POST /v1/admin/open (Content-Type:
// application/json; an empty application/octet-stream body is an
// OpenRequest with no one in Without). Without names the trustees to go
// on without: the board refuses an open that would leave out a trustee
// it does not name ([CodeTrusteesMissing]).
type OpenRequest struct {
	Without []int `json:"without"`
}

// ProofResponse is the body of the proof endpoints.
type ProofResponse struct {
	Hashes []string `json:"hashes"` // EncodeHashes, in tlog order
}

// IndexResponse is the body of a successful admin or partial POST: the
// index of the entry appended.
type IndexResponse struct {
	Index uint64 `json:"index"`
}

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Code  string `json:"code"`  // one of the Code constants
	Error string `json:"error"` // for people: what failed and what to do
}

// EncodeHashes encodes a proof's hashes as standard base64 strings.
func EncodeHashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// DecodeHashes is the inverse of EncodeHashes.
func DecodeHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != len(out[i]) {
			return nil, fmt.Errorf("boardapi: proof hash %d is not 32 bytes of base64", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// The codes of ErrorResponse, with the HTTP status each comes with.
const (
	CodeBadRequest         = "bad_request"            // 400: a malformed request (query, path, body)
	CodeInvalidBallot      = "invalid_ballot"         // 400: the ballot does not check
	CodeInvalidEntry       = "invalid_entry"          // 400: a ceremony message, partial, result or issuance statement that does not check, or is there already
	CodeUnauthorized       = "unauthorized"           // 401: an admin endpoint without the admin token
	CodeNotOpen            = "not_open"               // 403: the election is not open yet
	CodeClosed             = "closed"                 // 403: the election is closed
	CodeNotClosed          = "not_closed"             // 403: the election is still open
	CodeAlreadyOpen        = "already_open"           // 403: the election is open already
	CodeCeremonyIncomplete = "ceremony_incomplete"    // 403: the ceremony decides no election key yet
	CodeNotFound           = "not_found"              // 404: no such entry, checkpoint, ballot or endpoint
	CodeMethodNotAllowed   = "method_not_allowed"     // 405
	CodeAlreadyVoted       = "already_voted"          // 409: this token (or token key) has cast another ballot
	CodeBallotOnBoard      = "ballot_on_board"        // 409: this very ballot is on the board already
	CodeTrusteesMissing    = "trustees_missing"       // 409: an open that would leave out trustees the request does not name
	CodeTooLarge           = "too_large"              // 413
	CodeUnsupportedType    = "unsupported_media_type" // 415
	CodeRateLimited        = "rate_limited"           // 429, with Retry-After
	CodeInternal           = "internal"               // 500
	CodeOverloaded         = "overloaded"             // 503, with Retry-After: 1
	CodeStorage            = "storage"                // 503, with Retry-After: 30 (a failed write: nothing was stored) or 5 (a database out of reach: no receipt was given)
)

// Sentinels an [*Error] matches with errors.Is, one for each code.
var (
	ErrBadRequest         = errors.New("boardapi: malformed request")
	ErrInvalidBallot      = errors.New("boardapi: ballot refused")
	ErrInvalidEntry       = errors.New("boardapi: entry refused")
	ErrUnauthorized       = errors.New("boardapi: the admin token is missing or wrong")
	ErrNotOpen            = errors.New("boardapi: the election is not open yet")
	ErrClosed             = errors.New("boardapi: the election is closed")
	ErrNotClosed          = errors.New("boardapi: the election is still open")
	ErrAlreadyOpen        = errors.New("boardapi: the election is already open")
	ErrCeremonyIncomplete = errors.New("boardapi: the key ceremony is not complete")
	ErrTrusteesMissing    = errors.New("boardapi: trustees are missing from the key ceremony")
	ErrNotFound           = errors.New("boardapi: not found")
	ErrMethodNotAllowed   = errors.New("boardapi: method not allowed")
	// ErrAlreadyVoted matches both 409 codes: the token voted, with
	// another ballot (already_voted) or with this one (ballot_on_board).
	ErrAlreadyVoted = errors.New("boardapi: this token has already voted")
	// ErrBallotOnBoard matches only ballot_on_board: the ballot sent is on
	// the board, so a cast whose reply was lost succeeded; fetch its
	// receipt (Client.Receipt).
	ErrBallotOnBoard   = errors.New("boardapi: this ballot is already on the board")
	ErrTooLarge        = errors.New("boardapi: request body too large")
	ErrUnsupportedType = errors.New("boardapi: wrong Content-Type")
	ErrRateLimited     = errors.New("boardapi: rate limited")
	ErrInternal        = errors.New("boardapi: internal error")
	ErrOverloaded      = errors.New("boardapi: overloaded")
	ErrStorage         = errors.New("boardapi: the board could not store it")
)

var sentinels = map[string]error{
	CodeBadRequest: ErrBadRequest, CodeInvalidBallot: ErrInvalidBallot, CodeInvalidEntry: ErrInvalidEntry,
	CodeUnauthorized: ErrUnauthorized, CodeNotOpen: ErrNotOpen, CodeClosed: ErrClosed, CodeNotClosed: ErrNotClosed,
	CodeAlreadyOpen: ErrAlreadyOpen, CodeCeremonyIncomplete: ErrCeremonyIncomplete, CodeTrusteesMissing: ErrTrusteesMissing, CodeNotFound: ErrNotFound,
	CodeMethodNotAllowed: ErrMethodNotAllowed, CodeAlreadyVoted: ErrAlreadyVoted, CodeBallotOnBoard: ErrBallotOnBoard,
	CodeTooLarge: ErrTooLarge, CodeUnsupportedType: ErrUnsupportedType, CodeRateLimited: ErrRateLimited,
	CodeInternal: ErrInternal, CodeOverloaded: ErrOverloaded, CodeStorage: ErrStorage,
}

// Error is an error response from the board.
type Error struct {
	StatusCode int
	Code       string // one of the Code constants; "" if the answer had none (a proxy's)
	Message    string // the board's words, for people
	// RetryAfter is the Retry-After header's wait (429, 503), or 0.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Code == "" { // a proxy's answer: the status alone
		return fmt.Sprintf("boardapi: the board answered %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("boardapi: the board answered %d (%s): %s", e.StatusCode, e.Code, e.Message)
}

// Is reports whether target is the sentinel of e's code; ErrAlreadyVoted
// also matches CodeBallotOnBoard.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && (target == s || e.Code == CodeBallotOnBoard && target == ErrAlreadyVoted)
}

// retryAfter reads a Retry-After header's value given in seconds; 0
// otherwise.
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(v)
	if err != nil || s < 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}
