package boardapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/evote/evote/internal/transport"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/tlog"
)

// Client talks to a board over HTTP, through a [transport.Transport]. It
// trusts nothing it is told: callers check receipts, checkpoints and proofs
// with package store. Refusals are [*Error]s. It is safe for concurrent use
// if its transport is.
type Client struct {
	base       string
	t          transport.Transport
	AdminToken string // for the admin endpoints
}

// NewClientOver returns a client for the board at baseURL (e.g.
// "https://board.example.org") that sends its requests through t: the
// booth's fetch in the browser, [transport.HTTP] elsewhere (as
// [NewClient] does).
func NewClientOver(baseURL string, t transport.Transport) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), t: t}
}

// ErrMalformedAnswer means the board answered, with a success, but not
// as its API says: a body that is not the JSON asked for, a proof whose
// hashes do not decode, an answer larger than any may be. Unlike no answer
// at all (the connection failed, 503), it is the board's own word.
var ErrMalformedAnswer = errors.New("boardapi: the board's answer is malformed")

// malformed is an error that is an [ErrMalformedAnswer], with its own
// words.
type malformed struct{ error }

func (malformed) Is(target error) bool { return target == ErrMalformedAnswer }

// maxErrorBytes bounds what is read of an error response.
const maxErrorBytes = 8 << 10

func (c *Client) do(ctx context.Context, method, path string, body []byte, admin bool) (*transport.Response, error) {
	return c.doType(ctx, method, path, "application/octet-stream", body, admin)
}

func (c *Client) doType(ctx context.Context, method, path, contentType string, body []byte, admin bool) (*transport.Response, error) {
	req := &transport.Request{Method: method, URL: c.base + path, Body: body}
	if method == "POST" {
		req.ContentType = contentType
	}
	if admin {
		req.Authorization = "Bearer " + c.AdminToken
	}
	resp, err := c.t.RoundTrip(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("boardapi: %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// readError makes the [*Error] of an error response.
func readError(resp *transport.Response) *Error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	var er ErrorResponse
	if json.Unmarshal(data, &er) != nil || er.Error == "" {
		er = ErrorResponse{Error: strings.TrimSpace(string(data))}
	}
	// A refusal that names the trustees missing and what the election
	// loses runs past 512 bytes; 4 KiB keeps a proxy's page out.
	if len(er.Error) > 4096 {
		er.Error = er.Error[:4096]
	}
	return &Error{StatusCode: resp.StatusCode, Code: er.Code, Message: er.Error, RetryAfter: retryAfter(resp.RetryAfter)}
}

func (c *Client) getBytes(ctx context.Context, path string, limit int64) ([]byte, error) {
	resp, err := c.do(ctx, "GET", path, nil, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("boardapi: reading the answer to %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, malformed{fmt.Errorf("boardapi: %s answered more than %d bytes", path, limit)}
	}
	return b, nil
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	b, err := c.getBytes(ctx, path, 1<<20)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return malformed{fmt.Errorf("boardapi: the answer to %s is not the expected JSON: %w", path, err)}
	}
	return nil
}

// Manifest returns the published manifest bytes.
func (c *Client) Manifest(ctx context.Context) ([]byte, error) {
	return c.getBytes(ctx, PathManifest, 1<<20)
}

// Election returns the election's phase, keys and size, unchecked.
func (c *Client) Election(ctx context.Context) (*ElectionInfo, error) {
	var info ElectionInfo
	if err := c.getJSON(ctx, PathElection, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Cast posts a ballot and returns the board's receipt, unchecked (see
// voter.Client.Cast). A ballot already on the board is refused with an
// error matching [ErrBallotOnBoard].
func (c *Client) Cast(ctx context.Context, ballot []byte) (*Receipt, error) {
	resp, err := c.do(ctx, "POST", PathBallots, ballot, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rc Receipt
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rc); err != nil {
		return nil, fmt.Errorf("boardapi: reading the receipt: %w", err)
	}
	return &rc, nil
}

// Receipt returns the board's receipt for the ballot whose tracking code
// is tc, unchecked; an error matching [ErrNotFound] if the board holds no
// such ballot.
func (c *Client) Receipt(ctx context.Context, tc [32]byte) (*Receipt, error) {
	var rc Receipt
	if err := c.getJSON(ctx, fmt.Sprintf("%s%x", PathReceipts, tc), &rc); err != nil {
		return nil, err
	}
	return &rc, nil
}

// Checkpoint returns the newest signed checkpoint (size 0) or the one of the
// given size, as signed note text, unverified.
func (c *Client) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	path := PathCheckpoint
	if size > 0 {
		path += fmt.Sprintf("?size=%d", size)
	}
	return c.getBytes(ctx, path, store.MaxCheckpointSize)
}

// Cosigned returns the newest checkpoint the board holds with a quorum of
// its witnesses' cosignatures, of at least minSize leaves (the board waits
// a few seconds for its witnesses), as note text, unverified; an error
// matching [ErrNotFound] if there is none.
func (c *Client) Cosigned(ctx context.Context, minSize uint64) ([]byte, error) {
	return c.getBytes(ctx, fmt.Sprintf("%s?size=%d", PathCosigned, minSize), 64<<10)
}

// Inclusion returns the proof that leaf index is in the tree of size.
func (c *Client) Inclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error) {
	return c.proof(ctx, fmt.Sprintf("%s?index=%d&size=%d", PathInclusion, index, size))
}

// Consistency returns the proof that the tree of old is a prefix of new.
func (c *Client) Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	return c.proof(ctx, fmt.Sprintf("%s?old=%d&new=%d", PathConsistency, old, new))
}

func (c *Client) proof(ctx context.Context, path string) ([]tlog.Hash, error) {
	var pr ProofResponse
	if err := c.getJSON(ctx, path, &pr); err != nil {
		return nil, err
	}
	hs, err := DecodeHashes(pr.Hashes)
	if err != nil {
		return nil, malformed{err}
	}
	return hs, nil
}

// Entry returns leaf index, as hashed.
func (c *Client) Entry(ctx context.Context, index uint64) ([]byte, error) {
	return c.getBytes(ctx, fmt.Sprintf("%s%d", PathEntries, index), store.MaxLeafSize)
}

// Export streams the whole record to w.
func (c *Client) Export(ctx context.Context, w io.Writer) error {
	resp, err := c.do(ctx, "GET", PathExport, nil, false)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("boardapi: reading the export: %w", err)
	}
	return nil
}

func (c *Client) post(ctx context.Context, path string, body []byte, admin bool) (uint64, error) {
	return c.postType(ctx, path, "application/octet-stream", body, admin)
}

func (c *Client) postType(ctx context.Context, path, contentType string, body []byte, admin bool) (uint64, error) {
	if body == nil {
		body = []byte{}
	}
	resp, err := c.doType(ctx, "POST", path, contentType, body, admin)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ir IndexResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ir); err != nil {
		return 0, fmt.Errorf("boardapi: unreadable answer to %s: %w", path, err)
	}
	return ir.Index, nil
}

// PostCeremony posts a key-ceremony message (admin).
func (c *Client) PostCeremony(ctx context.Context, msg []byte) (uint64, error) {
	return c.post(ctx, PathCeremony, msg, true)
}

// PostCeremonyMessage posts a key-ceremony message signed by its trustee,
// with no admin token: the signature is the credential, and the board
// refuses a message its sender did not sign.
func (c *Client) PostCeremonyMessage(ctx context.Context, msg []byte) (uint64, error) {
	return c.post(ctx, PathTrusteeCeremony, msg, false)
}

// Open ends the ceremony and opens voting (admin). The board refuses
// while a trustee is missing (an error matching [ErrTrusteesMissing],
// whose message names them and what the election would lose): use
// [Client.OpenWithout] to go on without them.
func (c *Client) Open(ctx context.Context) (uint64, error) { return c.post(ctx, PathOpen, nil, true) }

// OpenWithout opens voting going on without the trustees named, whatever
// they are missing (admin); any other trustee missing still refuses it.
func (c *Client) OpenWithout(ctx context.Context, without []int) (uint64, error) {
	if without == nil {
		without = []int{}
	}
	body, err := json.Marshal(OpenRequest{Without: without})
	if err != nil {
		return 0, err
	}
	return c.postType(ctx, PathOpen, "application/json", body, true)
}

// Close ends voting (admin).
func (c *Client) Close(ctx context.Context) (uint64, error) { return c.post(ctx, PathClose, nil, true) }

// PostPartial posts a trustee's partial decryption.
func (c *Client) PostPartial(ctx context.Context, body []byte) (uint64, error) {
	return c.post(ctx, PathPartials, body, false)
}

// PostResult posts the combined result (admin).
func (c *Client) PostResult(ctx context.Context, body []byte) (uint64, error) {
	return c.post(ctx, PathResult, body, true)
}

// PostIssuance posts the issuer's signed statement of eligible voters and
// tokens issued (package issuance), after close (admin).
func (c *Client) PostIssuance(ctx context.Context, body []byte) (uint64, error) {
	return c.post(ctx, PathIssuance, body, true)
}
