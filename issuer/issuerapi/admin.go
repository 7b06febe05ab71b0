//go:build !js

package issuerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/evote/evote/internal/transport"
)

// The help desk's admin API (SPEC.md §11), served only when the issuer's
// operator gave it an admin token (evote issuer serve --admin-token-file);
// otherwise every path below answers 404 not_found, as an unknown path
// does. Every request carries Authorization: Bearer <token>; without it or
// with a wrong one the answer is 401 unauthorized whatever the body, before
// the body is read, so a stranger's probe learns nothing of the roll. Each
// is a POST of a JSON body naming the voter, so that no voter ID is in a
// URL (and so in no proxy's access log). The booth never calls it, so this
// file is left out of a js build.
const (
	PathAdminVoter  = "/v1/admin/voter"  // AdminVoterRequest -> VoterState
	PathAdminUnlock = "/v1/admin/unlock" // AdminVoterRequest -> VoterState, after the unlock
	PathAdminAdd    = "/v1/admin/add"    // AdminAddRequest -> AdminAddResponse
	PathAdminTag    = "/v1/admin/tag"    // AdminVoterRequest -> AdminTagResponse
	// PathAdminResend asks before an invitation is sent again (evote
	// issuer helpdesk resend): the issuer logs the action and answers the
	// voter's state if they are on the roll without a token yet.
	PathAdminResend = "/v1/admin/resend" // AdminVoterRequest -> VoterState
)

// The admin API's own codes, with their HTTP status.
const (
	CodeUnauthorized    = "unauthorized"     // 401: no admin token, or a wrong one
	CodeNotOnRoll       = "not_on_roll"      // 404: unlock of a voter ID the roll does not have
	CodeDuplicateVoter  = "duplicate_voter"  // 409: add of a voter ID the roll has already
	CodeIssuanceStarted = "issuance_started" // 403: add after the first token was issued
	CodeTokenIssued     = "token_issued"     // 409: resend to a voter who has a token: an invitation cannot help
)

// Sentinels of the admin API's codes, matched by [*Error] with errors.Is.
var (
	ErrUnauthorized    = errors.New("issuerapi: the admin API needs the issuer's admin token")
	ErrNotOnRoll       = errors.New("issuerapi: the voter is not on the roll")
	ErrDuplicateVoter  = errors.New("issuerapi: the voter is on the roll already")
	ErrIssuanceStarted = errors.New("issuerapi: tokens are being issued: the roll is closed to late members")
	ErrTokenIssued     = errors.New("issuerapi: the voter has a token already")
)

func init() {
	sentinels[CodeUnauthorized] = ErrUnauthorized
	sentinels[CodeNotOnRoll] = ErrNotOnRoll
	sentinels[CodeDuplicateVoter] = ErrDuplicateVoter
	sentinels[CodeIssuanceStarted] = ErrIssuanceStarted
	sentinels[CodeTokenIssued] = ErrTokenIssued
}

// AdminVoterRequest names one voter, in any spelling the issuer
// normalises (SPEC.md §11).
type AdminVoterRequest struct {
	VoterID string `json:"voter_id"`
}

// VoterState is what the help desk may see of one voter: never the token,
// the blinded message, a code, an address or a contact in clear.
type VoterState struct {
	// VoterTag is the voter's tag in the issuer's log of operator
	// actions: HMAC-SHA256 under the roll key, in hex, so the operator
	// finds a voter's lines by it while the log holds no voter ID.
	VoterTag string `json:"voter_tag"`
	// OnRoll says whether the voter ID is on the roll; nothing below is
	// set when it is not.
	OnRoll bool `json:"on_roll"`
	// TokenIssued says whether a token was signed for the voter (then the
	// voter has, or had, what they need to vote).
	TokenIssued bool `json:"token_issued"`
	// WrongCodes counts wrong codes (enrolment codes and second factors)
	// from every address since the roll was imported or the voter last
	// unlocked.
	WrongCodes int `json:"wrong_codes"`
	// Addresses are the addresses with wrong codes for this voter, each
	// without the address: how many, and until when it must wait (if it
	// must).
	Addresses []AddressState `json:"addresses,omitempty"`
	// SecondFactor is the factor the voter will be asked for after the
	// enrolment code (a Factor constant), or "" for none; SentTo is where
	// its codes go, masked, or "" when the voter has no contact for it (the
	// issuer answers them no_second_factor).
	SecondFactor string `json:"second_factor,omitempty"`
	SentTo       string `json:"sent_to,omitempty"`
	// Email and Phone are the voter's registered contacts, masked.
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// CodesSent counts the one-time codes sent in the current window of
	// an hour (at most 5: SPEC.md §11), which ends at WindowEnds.
	CodesSent  int        `json:"codes_sent"`
	WindowEnds *time.Time `json:"window_ends,omitempty"`
	// CodeExpires is when the last one-time code sent stops being
	// accepted, if one is live.
	CodeExpires *time.Time `json:"code_expires,omitempty"`
	// TOTP says whether the voter enrolled an authenticator app.
	TOTP bool `json:"totp_enrolled"`
}

// AddressState is one address's back-off for a voter, without the address.
type AddressState struct {
	WrongCodes int        `json:"wrong_codes"`
	Last       time.Time  `json:"last_wrong"`
	WaitUntil  *time.Time `json:"wait_until,omitempty"` // set while the address must wait
}

// AdminAddRequest adds a late member to the roll. Email, Phone and Lang
// are the contact the second factor's codes go to (checked as the
// registry's are); any may be empty, but not the issuer's factor's.
type AdminAddRequest struct {
	VoterID string `json:"voter_id"`
	Email   string `json:"email,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Lang    string `json:"lang,omitempty"`
}

// AdminAddResponse is the answer to an add: the voter ID as the roll keeps
// it and the fresh enrolment code, given only here, once: the issuer keeps
// only its hash.
type AdminAddResponse struct {
	VoterID  string `json:"voter_id"`
	Code     string `json:"code"`
	VoterTag string `json:"voter_tag"`
}

// AdminTagResponse is the voter's tag in the log of operator actions.
type AdminTagResponse struct {
	VoterTag string `json:"voter_tag"`
}

// AdminClient calls the issuer's admin API with the admin token.
type AdminClient struct{ c *Client }

// NewAdminClientOver returns an admin client for the issuer at baseURL
// over t, sending token as the bearer token.
func NewAdminClientOver(baseURL string, t transport.Transport, token string) *AdminClient {
	return &AdminClient{c: NewClientOver(baseURL, bearer{t, "Bearer " + token})}
}

// NewAdminClient returns an admin client for the issuer at baseURL over
// net/http (hc nil: http.DefaultClient), sending token as the bearer token.
func NewAdminClient(baseURL string, hc *http.Client, token string) *AdminClient {
	return NewAdminClientOver(baseURL, transport.HTTP(hc), token)
}

// bearer adds the admin token to every request of its transport.
type bearer struct {
	t    transport.Transport
	auth string
}

func (b bearer) RoundTrip(ctx context.Context, r *transport.Request) (*transport.Response, error) {
	rr := *r
	rr.Authorization = b.auth
	return b.t.RoundTrip(ctx, &rr)
}

// Voter returns what the issuer knows of a voter; a voter ID not on the
// roll is answered with OnRoll false, not an error.
func (a *AdminClient) Voter(ctx context.Context, voterID string) (*VoterState, error) {
	var out VoterState
	return &out, a.post(ctx, PathAdminVoter, AdminVoterRequest{VoterID: voterID}, &out)
}

// Unlock clears a voter's wrong codes and every address's wait, and
// returns the voter's state after it; [ErrNotOnRoll] if the roll has no
// such voter.
func (a *AdminClient) Unlock(ctx context.Context, voterID string) (*VoterState, error) {
	var out VoterState
	return &out, a.post(ctx, PathAdminUnlock, AdminVoterRequest{VoterID: voterID}, &out)
}

// Resend asks the issuer whether an invitation may be sent to the voter
// again, and has it log the operator action: the voter's state if so,
// [ErrNotOnRoll] or [ErrTokenIssued] if not.
func (a *AdminClient) Resend(ctx context.Context, voterID string) (*VoterState, error) {
	var out VoterState
	return &out, a.post(ctx, PathAdminResend, AdminVoterRequest{VoterID: voterID}, &out)
}

// Add adds a late member and returns their enrolment code, which is given
// this once; [ErrDuplicateVoter] or [ErrIssuanceStarted] change nothing.
func (a *AdminClient) Add(ctx context.Context, req AdminAddRequest) (*AdminAddResponse, error) {
	var out AdminAddResponse
	if err := a.post(ctx, PathAdminAdd, req, &out); err != nil {
		return nil, err
	}
	if _, err := NormalizeCode(out.Code); err != nil || out.VoterID == "" {
		return nil, fmt.Errorf("issuerapi: the add's answer has no well-formed voter ID and enrolment code")
	}
	return &out, nil
}

// Tag returns a voter's tag in the log of operator actions, on the roll
// or not.
func (a *AdminClient) Tag(ctx context.Context, voterID string) (string, error) {
	var out AdminTagResponse
	if err := a.post(ctx, PathAdminTag, AdminVoterRequest{VoterID: voterID}, &out); err != nil {
		return "", err
	}
	return out.VoterTag, nil
}

func (a *AdminClient) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return a.c.do(ctx, "POST", path, body, "application/json", out)
}
