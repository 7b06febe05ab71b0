// Package issuerapi is the identity authority's HTTP API as its clients
// see it: the paths, the JSON bodies, the error codes and a [Client]. It
// holds no server code: a voter's device imports it without the issuer, its
// roll or its key (package issuer serves this API).
//
// Every refusal is a JSON [ErrorResponse], {"code": "...", "error": "..."}:
// the code is one of the Code constants, machine-readable and stable; the
// error is for people and may change. [Client] returns a refusal as an
// [*Error], which errors.Is matches against the sentinel of its code
// ([ErrAlreadyIssued], [ErrBadCredentials], [ErrRateLimited], ...), so
// callers branch on sentinels, never on the message.
//
// [Client] sends its requests through a small seam, internal/transport's
// Transport: [NewClient] runs it over net/http, and [NewClientOver] over
// any other, such as the booth's, over the browser's fetch. This package
// imports net/http only outside a js build (for NewClient), because in a
// WebAssembly module net/http costs about 7 MB (a hello-world with an http.Get is 10.1 MB,
// 3.0 MB without; 2.7 MB more of gzip on a phone's download), and the
// booth is to stay under 2 MB gzipped.
package issuerapi

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/evote/evote/crypto/token"
)

// HTTP API paths (SPEC.md §11).
const (
	PathInfo    = "/v1/issuer"
	PathToken   = "/v1/token"
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// InfoResponse is the body of GET /v1/issuer.
type InfoResponse struct {
	// ElectionID is the election ID in hex (64 digits).
	ElectionID string `json:"election_id"`
	// Variant is the RFC 9474 variant, "RSABSSA-SHA384-PSS-Randomized".
	Variant string `json:"variant"`
	// KeyID is the SHA-256 of the public key DER, in hex.
	KeyID string `json:"key_id"`
	// PublicKey is the PKIX DER of the issuer's public key, in standard
	// base64 with padding.
	PublicKey string `json:"public_key"`
	// SecondFactor is the second factor the issuer asks for after the
	// enrolment code, one of the Factor constants ("email", "sms"; a voter
	// who enrolled an authenticator app is asked for "totp" instead), or
	// absent when it asks for none.
	SecondFactor string `json:"second_factor,omitempty"`
}

// The second factors an issuer asks for (SPEC.md §11).
const (
	FactorEmail = "email" // a one-time code sent to the voter's registered e-mail address
	FactorSMS   = "sms"   // a one-time code sent to the voter's registered phone
	FactorTOTP  = "totp"  // a code from the authenticator app the voter enrolled (RFC 6238)
)

// Credentials are what a voter proves who they are with.
type Credentials struct {
	VoterID string
	Code    string // the enrolment code
	// SecondFactor is the one-time code (sent by e-mail or SMS, or shown
	// by an authenticator app), or "" when none was asked for yet: an
	// issuer that wants one answers [ErrSecondFactorRequired], after
	// sending the code if it sends one.
	SecondFactor string
}

// TokenRequest is the body of POST /v1/token.
type TokenRequest struct {
	VoterID string `json:"voter_id"`
	Code    string `json:"code"`
	// BlindedMsg is the blinded message in standard base64 with padding.
	BlindedMsg string `json:"blinded_msg"`
	// SecondFactor is the one-time code, once the issuer has asked for it
	// (an answer with code second_factor_required).
	SecondFactor string `json:"second_factor,omitempty"`
}

// TokenResponse is the body of a successful POST /v1/token.
type TokenResponse struct {
	// BlindSig is the blind signature in standard base64 with padding.
	BlindSig string `json:"blind_sig"`
}

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Code  string `json:"code"`  // one of the Code constants
	Error string `json:"error"` // for people: what failed and what to do
	// Factor and SentTo come with second_factor_required and
	// bad_second_factor: which factor the issuer asks for (a Factor
	// constant) and, for a code it sent, where to, masked
	// ("m•••@e•••.it", "•••• 4567").
	Factor string `json:"factor,omitempty"`
	SentTo string `json:"sent_to,omitempty"`
}

// Base64 is the encoding of the API's binary fields: standard base64 with
// padding, strict.
var Base64 = base64.StdEncoding.Strict()

// Info is the issuer's public description, checked by [Client.Info].
type Info struct {
	ElectionID []byte
	PublicKey  *token.PublicKey
	KeyID      token.KeyID
	// SecondFactor is the factor the issuer asks for after the enrolment
	// code (FactorEmail, FactorSMS), or "" for none.
	SecondFactor string
}

// The codes of ErrorResponse, with the HTTP status each comes with.
const (
	CodeBadRequest       = "bad_request"            // 400: a malformed request
	CodeBadCredentials   = "bad_credentials"        // 401: the voter ID or enrolment code is wrong
	CodeNotFound         = "not_found"              // 404: no such endpoint
	CodeMethodNotAllowed = "method_not_allowed"     // 405
	CodeAlreadyIssued    = "already_issued"         // 409: a token was issued to this voter for another blinded message
	CodePurged           = "purged"                 // 410: the roll was purged after the election
	CodeTooLarge         = "too_large"              // 413
	CodeUnsupportedType  = "unsupported_media_type" // 415
	CodeRateLimited      = "rate_limited"           // 429, with Retry-After
	// The second factor's answers, given only to a request whose voter ID
	// and enrolment code are right.
	CodeSecondFactorRequired = "second_factor_required" // 401: send the one-time code (factor, sent_to say which and where)
	CodeBadSecondFactor      = "bad_second_factor"      // 401: the one-time code is wrong or expired
	CodeNoSecondFactor       = "no_second_factor"       // 403: no e-mail, phone or app registered for the second factor
	CodeTooManyCodes         = "too_many_codes"         // 429: too many one-time codes sent to this voter, with Retry-After
	CodeSendFailed           = "send_failed"            // 503: the one-time code could not be sent, with Retry-After
	CodeInternal             = "internal"               // 500
	CodeOverloaded           = "overloaded"             // 503, with Retry-After: 1
)

// Sentinels an [*Error] matches with errors.Is, one for each code.
var (
	ErrBadRequest       = errors.New("issuerapi: malformed token request")
	ErrBadCredentials   = errors.New("issuerapi: voter ID or enrolment code is wrong")
	ErrNotFound         = errors.New("issuerapi: not found")
	ErrMethodNotAllowed = errors.New("issuerapi: method not allowed")
	// ErrAlreadyIssued means the issuer signed another blinded message for
	// this voter: only that one's signature can be had again.
	ErrAlreadyIssued   = errors.New("issuerapi: a token was already issued to this voter")
	ErrPurged          = errors.New("issuerapi: the voter roll was purged")
	ErrTooLarge        = errors.New("issuerapi: request body too large")
	ErrUnsupportedType = errors.New("issuerapi: wrong Content-Type")
	ErrRateLimited     = errors.New("issuerapi: rate limited")
	ErrInternal        = errors.New("issuerapi: internal error")
	ErrOverloaded      = errors.New("issuerapi: overloaded")
	// ErrSecondFactorRequired means the voter ID and enrolment code are
	// right and the issuer wants the second factor: ask the voter for the
	// one-time code ([Error.Factor] and [Error.SentTo] say which and where)
	// and send the same request again with it.
	ErrSecondFactorRequired = errors.New("issuerapi: a second factor is required")
	ErrBadSecondFactor      = errors.New("issuerapi: the one-time code is wrong or expired")
	ErrNoSecondFactor       = errors.New("issuerapi: no second factor is registered for this voter")
	ErrTooManyCodes         = errors.New("issuerapi: too many one-time codes were sent to this voter")
	ErrSendFailed           = errors.New("issuerapi: the one-time code could not be sent")
)

var sentinels = map[string]error{
	CodeBadRequest: ErrBadRequest, CodeBadCredentials: ErrBadCredentials,
	CodeNotFound: ErrNotFound, CodeMethodNotAllowed: ErrMethodNotAllowed, CodeAlreadyIssued: ErrAlreadyIssued,
	CodePurged: ErrPurged, CodeTooLarge: ErrTooLarge, CodeUnsupportedType: ErrUnsupportedType,
	CodeRateLimited: ErrRateLimited, CodeInternal: ErrInternal, CodeOverloaded: ErrOverloaded,
	CodeSecondFactorRequired: ErrSecondFactorRequired, CodeBadSecondFactor: ErrBadSecondFactor,
	CodeNoSecondFactor: ErrNoSecondFactor, CodeTooManyCodes: ErrTooManyCodes, CodeSendFailed: ErrSendFailed,
}

// Error is an error response from the issuer.
type Error struct {
	StatusCode int
	Code       string // one of the Code constants; "" if the answer had none (a proxy's)
	Message    string // the issuer's words, for people
	// RetryAfter is the Retry-After header's wait (429, 503), or 0.
	RetryAfter time.Duration
	// Factor and SentTo are the second factor asked for and where its
	// code went (ErrorResponse's fields), or "".
	Factor, SentTo string
}

func (e *Error) Error() string {
	if e.Code == "" { // a proxy's answer: the status alone
		return fmt.Sprintf("issuerapi: the issuer answered %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("issuerapi: the issuer answered %d (%s): %s", e.StatusCode, e.Code, e.Message)
}

// Is reports whether target is the sentinel of e's code.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Code]
	return ok && target == s
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
