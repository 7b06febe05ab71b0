package issuer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/evote/evote/crypto/token"
)

// maxResponseBytes bounds what the client reads from the issuer.
const maxResponseBytes = 64 << 10

// Client calls an issuer's HTTP API. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client for the issuer at baseURL (such as
// "https://issuer.example.org"); hc nil means http.DefaultClient.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// Info is the issuer's public description, checked by [Client.Info].
type Info struct {
	ElectionID []byte
	PublicKey  *token.PublicKey
	KeyID      token.KeyID
}

// APIError is an error response from the issuer. errors.Is matches it
// against the sentinel for its status: [ErrBadRequest], [ErrBadCredentials],
// [ErrLocked], [ErrAlreadyIssued], [ErrPurged], [ErrRateLimited].
type APIError struct {
	StatusCode int
	Message    string
	// RetryAfter is the Retry-After header of a 429, if any.
	RetryAfter string
}

// ErrRateLimited matches an [APIError] with status 429: wait RetryAfter
// seconds and try again.
var ErrRateLimited = errors.New("issuer: rate limited")

func (e *APIError) Error() string {
	return fmt.Sprintf("issuer answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Is matches the sentinel error for the status code.
func (e *APIError) Is(target error) bool {
	switch e.StatusCode {
	case http.StatusBadRequest:
		return target == ErrBadRequest
	case http.StatusUnauthorized:
		return target == ErrBadCredentials
	case http.StatusForbidden:
		return target == ErrLocked
	case http.StatusConflict:
		return target == ErrAlreadyIssued
	case http.StatusGone:
		return target == ErrPurged
	case http.StatusTooManyRequests:
		return target == ErrRateLimited
	}
	return false
}

// Info fetches GET /v1/issuer and checks it: a 32-byte election ID, an
// acceptable RSA key, the variant, and a key ID that is the key's hash.
// Compare the result with the election manifest before trusting it.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("issuer: building request: %w", err)
	}
	var resp InfoResponse
	if err := c.do(req, &resp); err != nil {
		return nil, err
	}
	eid, err := hex.DecodeString(resp.ElectionID)
	if err != nil || len(eid) != token.ElectionIDSize {
		return nil, fmt.Errorf("issuer: info has a bad election_id %q, want %d bytes of hex", resp.ElectionID, token.ElectionIDSize)
	}
	if resp.Variant != token.Variant {
		return nil, fmt.Errorf("issuer: info names variant %q, want %q", resp.Variant, token.Variant)
	}
	der, err := b64.DecodeString(resp.PublicKey)
	if err != nil {
		return nil, errors.New("issuer: info public_key is not standard base64")
	}
	pub, err := token.ParsePublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("issuer: info public_key: %w", err)
	}
	if resp.KeyID != pub.ID().String() {
		return nil, fmt.Errorf("issuer: info key_id %q does not match its public key (%s)", resp.KeyID, pub.ID())
	}
	return &Info{ElectionID: eid, PublicKey: pub, KeyID: pub.ID()}, nil
}

// RequestToken sends POST /v1/token and returns the blind signature. It is
// safe to repeat with the same arguments after a lost reply. Error
// responses are [*APIError]s.
func (c *Client) RequestToken(ctx context.Context, voterID, code string, blinded []byte) ([]byte, error) {
	body, err := json.Marshal(TokenRequest{VoterID: voterID, Code: code, BlindedMsg: b64.EncodeToString(blinded)})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathToken, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("issuer: building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var resp TokenResponse
	if err := c.do(req, &resp); err != nil {
		return nil, err
	}
	sig, err := b64.DecodeString(resp.BlindSig)
	if err != nil || len(sig) != len(blinded) {
		return nil, fmt.Errorf("issuer: reply has a malformed blind_sig (want %d bytes of base64)", len(blinded))
	}
	return sig, nil
}

func (c *Client) do(req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("issuer: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("issuer: reading reply to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("issuer: reply to %s %s is larger than %d bytes", req.Method, req.URL.Path, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return &APIError{StatusCode: resp.StatusCode, Message: msg, RetryAfter: resp.Header.Get("Retry-After")}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("issuer: reply to %s %s is not the expected JSON: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
