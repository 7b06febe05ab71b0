package issuerapi

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

// Client calls an issuer's HTTP API. Refusals are [*Error]s. It is safe
// for concurrent use.
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

// Info fetches GET /v1/issuer and checks it: a 32-byte election ID, an
// acceptable RSA key, the variant, and a key ID that is the key's hash.
// Compare the result with the election manifest before trusting it.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+PathInfo, nil)
	if err != nil {
		return nil, fmt.Errorf("issuerapi: building request: %w", err)
	}
	var resp InfoResponse
	if err := c.do(req, &resp); err != nil {
		return nil, err
	}
	eid, err := hex.DecodeString(resp.ElectionID)
	if err != nil || len(eid) != token.ElectionIDSize {
		return nil, fmt.Errorf("issuerapi: info has a bad election_id %q, want %d bytes of hex", resp.ElectionID, token.ElectionIDSize)
	}
	if resp.Variant != token.Variant {
		return nil, fmt.Errorf("issuerapi: info names variant %q, want %q", resp.Variant, token.Variant)
	}
	der, err := Base64.DecodeString(resp.PublicKey)
	if err != nil {
		return nil, errors.New("issuerapi: info public_key is not standard base64")
	}
	pub, err := token.ParsePublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("issuerapi: info public_key: %w", err)
	}
	if resp.KeyID != pub.ID().String() {
		return nil, fmt.Errorf("issuerapi: info key_id %q does not match its public key (%s)", resp.KeyID, pub.ID())
	}
	return &Info{ElectionID: eid, PublicKey: pub, KeyID: pub.ID()}, nil
}

// RequestToken sends POST /v1/token and returns the blind signature. It is
// safe to repeat with the same arguments after a lost reply: the issuer
// answers the same blinded message with the same signature, and another
// one with an error matching [ErrAlreadyIssued].
func (c *Client) RequestToken(ctx context.Context, voterID, code string, blinded []byte) ([]byte, error) {
	body, err := json.Marshal(TokenRequest{VoterID: voterID, Code: code, BlindedMsg: Base64.EncodeToString(blinded)})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+PathToken, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("issuerapi: building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var resp TokenResponse
	if err := c.do(req, &resp); err != nil {
		return nil, err
	}
	sig, err := Base64.DecodeString(resp.BlindSig)
	if err != nil || len(sig) != len(blinded) {
		return nil, fmt.Errorf("issuerapi: reply has a malformed blind_sig (want %d bytes of base64)", len(blinded))
	}
	return sig, nil
}

func (c *Client) do(req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("issuerapi: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("issuerapi: reading reply to %s %s: %w", req.Method, req.URL.Path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("issuerapi: reply to %s %s is larger than %d bytes", req.Method, req.URL.Path, maxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var er ErrorResponse
		if json.Unmarshal(data, &er) != nil || er.Error == "" {
			er = ErrorResponse{Error: strings.TrimSpace(string(data))}
		}
		if len(er.Error) > 512 {
			er.Error = er.Error[:512]
		}
		return &Error{StatusCode: resp.StatusCode, Code: er.Code, Message: er.Error, RetryAfter: retryAfter(resp.Header)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("issuerapi: reply to %s %s is not the expected JSON: %w", req.Method, req.URL.Path, err)
	}
	return nil
}
