package issuerapi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/transport"
)

// maxResponseBytes bounds what the client reads from the issuer.
const maxResponseBytes = 64 << 10

// Client calls an issuer's HTTP API through a [transport.Transport].
// Refusals are [*Error]s. It is safe for concurrent use if its transport
// is.
type Client struct {
	base string
	t    transport.Transport
}

// NewClientOver returns a client for the issuer at baseURL (such as
// "https://issuer.example.org") that sends its requests through t: the
// booth's fetch in the browser, [transport.HTTP] elsewhere (as [NewClient]
// does).
func NewClientOver(baseURL string, t transport.Transport) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), t: t}
}

// Info fetches GET /v1/issuer and checks it: a 32-byte election ID, an
// acceptable RSA key, the variant, and a key ID that is the key's hash.
// Compare the result with the election manifest before trusting it.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var resp InfoResponse
	if err := c.do(ctx, "GET", PathInfo, nil, "", &resp); err != nil {
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
	switch resp.SecondFactor {
	case "", FactorEmail, FactorSMS:
	default:
		return nil, fmt.Errorf("issuerapi: info names second factor %q, want %q, %q or none", resp.SecondFactor, FactorEmail, FactorSMS)
	}
	return &Info{ElectionID: eid, PublicKey: pub, KeyID: pub.ID(), SecondFactor: resp.SecondFactor}, nil
}

// RequestToken sends POST /v1/token and returns the blind signature. It is
// safe to repeat with the same arguments after a lost reply: the issuer
// answers the same blinded message with the same signature, and another
// one with an error matching [ErrAlreadyIssued]. An issuer that wants a
// second factor answers a request without one with an error matching
// [ErrSecondFactorRequired]: ask the voter for it and call again with
// cred.SecondFactor set.
func (c *Client) RequestToken(ctx context.Context, cred Credentials, blinded []byte) ([]byte, error) {
	body, err := json.Marshal(TokenRequest{VoterID: cred.VoterID, Code: cred.Code, SecondFactor: cred.SecondFactor, BlindedMsg: Base64.EncodeToString(blinded)})
	if err != nil {
		return nil, err
	}
	var resp TokenResponse
	if err := c.do(ctx, "POST", PathToken, body, "application/json", &resp); err != nil {
		return nil, err
	}
	sig, err := Base64.DecodeString(resp.BlindSig)
	if err != nil || len(sig) != len(blinded) {
		return nil, fmt.Errorf("issuerapi: reply has a malformed blind_sig (want %d bytes of base64)", len(blinded))
	}
	return sig, nil
}

// do sends method path with body (nil for none) of contentType ("" for
// none) and decodes a 200 answer's JSON into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, contentType string, out any) error {
	resp, err := c.t.RoundTrip(ctx, &transport.Request{Method: method, URL: c.base + path, ContentType: contentType, Body: body})
	if err != nil {
		return fmt.Errorf("issuerapi: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("issuerapi: reading reply to %s %s: %w", method, path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("issuerapi: reply to %s %s is larger than %d bytes", method, path, maxResponseBytes)
	}
	if resp.StatusCode != 200 {
		var er ErrorResponse
		if json.Unmarshal(data, &er) != nil || er.Error == "" {
			er = ErrorResponse{Error: strings.TrimSpace(string(data))}
		}
		if len(er.Error) > 4096 { // as boardapi's
			er.Error = er.Error[:4096]
		}
		return &Error{StatusCode: resp.StatusCode, Code: er.Code, Message: er.Error, RetryAfter: retryAfter(resp.RetryAfter), Factor: er.Factor, SentTo: er.SentTo}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("issuerapi: reply to %s %s is not the expected JSON: %w", method, path, err)
	}
	return nil
}
