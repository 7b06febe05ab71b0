// Package voter is the voter's thin client: it gets an eligibility token
// from the issuer without the issuer learning the token, builds an encrypted
// ballot, casts it to the board and checks the receipt it gets back.
//
// The client trusts neither service. It reads the election key from the
// board's open entry with an inclusion proof against a checkpoint signed by
// the board key it was given; it checks that the issuer's key is the one the
// manifest names; and it accepts a receipt only if the ballot's leaf is
// provably in the signed tree. A saved receipt can later be checked again
// against the board's newest checkpoint (CheckReceipt), which proves the
// board kept the ballot.
//
// The token is blind-signed (RFC 9474): the issuer sees the voter's identity
// and a blinded message, the board sees the token and the ballot, and
// nothing links the two but the voter's own device.
//
// The client reaches the two services through two small interfaces,
// [Board] and [Issuer]: the HTTP clients of packages board/boardapi and
// issuer/issuerapi implement them, a browser booth can implement them over
// fetch, and tests over a fake. Nothing of the servers is linked in.
package voter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Board is what the client asks of the bulletin board; [*boardapi.Client]
// implements it over HTTP. Nothing it answers is trusted: the client checks
// every entry and proof against a checkpoint signed by the board's key.
// Its errors should match boardapi's sentinels (errors.Is) where they say
// why the board refused: Client.CastTicket needs [boardapi.ErrBallotOnBoard]
// to tell a ballot already cast from a token that voted with another.
type Board interface {
	// Election returns the board's phase and the indices of its open and
	// close entries.
	Election(ctx context.Context) (*boardapi.ElectionInfo, error)
	// Checkpoint returns the newest signed checkpoint (size 0) or the one
	// of the given size, as signed note text.
	Checkpoint(ctx context.Context, size uint64) ([]byte, error)
	// Entry returns leaf index of the log, as hashed.
	Entry(ctx context.Context, index uint64) ([]byte, error)
	// Inclusion proves leaf index is in the tree of size.
	Inclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error)
	// Consistency proves the tree of old is a prefix of the tree of new.
	Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error)
	// Cast posts a ballot and returns the board's receipt.
	Cast(ctx context.Context, ballot []byte) (*boardapi.Receipt, error)
	// Receipt returns the receipt of the ballot with tracking code tc.
	Receipt(ctx context.Context, tc [32]byte) (*boardapi.Receipt, error)
}

// Issuer is what the client asks of the identity authority;
// [*issuerapi.Client] implements it over HTTP. The client checks that the
// key it describes is the one the manifest names, and that its signature
// finalizes into a valid token.
type Issuer interface {
	// Info returns the issuer's election ID and public key.
	Info(ctx context.Context) (*issuerapi.Info, error)
	// RequestToken asks for the blind signature of blinded, for the voter
	// cred names. The same blinded message again gets the same signature.
	// An issuer that wants a second factor the request lacks answers an
	// error matching [issuerapi.ErrSecondFactorRequired].
	RequestToken(ctx context.Context, cred issuerapi.Credentials, blinded []byte) ([]byte, error)
}

var (
	_ Board  = (*boardapi.Client)(nil)
	_ Issuer = (*issuerapi.Client)(nil)
)

// Client votes in one election.
type Client struct {
	Issuer   Issuer // needed to get a token (GetToken, Vote)
	Board    Board
	BoardKey note.Verifier // the board's checkpoint key, published with the election
	// ManifestHash pins the election: the hash (ballot.Manifest.Hash) of
	// the manifest the election authority published, as the voter got it
	// from outside the board (the invitation, the election's page, a
	// manifest file). A board that serves another manifest is refused, so
	// the board alone cannot choose what the voter is asked or whose keys
	// the voter trusts. Election and Vote need it; CheckReceipt does not.
	ManifestHash [32]byte
	Rand         io.Reader // nil means crypto/rand

	mu        sync.Mutex
	election  *ballot.Election // once checked by Election
	openIndex uint64
	seen      *store.Checkpoint // the newest checkpoint of the board this client checked
}

// ErrNoManifestHash means the client was given no manifest hash to pin the
// election to.
var ErrNoManifestHash = errors.New("voter: the election's manifest hash is needed from outside the board (the invitation, or the published manifest file); the board's word alone cannot fix the election")

// Election reads the election from the board and checks it as a verifier
// would, trusting the board for nothing: entry 0 is the manifest whose
// hash the voter was given; every entry between it and the open entry is a
// ceremony message signed by the trustee it is from; the open entry is
// byte for byte what those messages decide (record.Ceremony.Qualify), so
// the election key is the trustees' and not one the board chose; and those
// entries are the first ones of the log the board's newest signed
// checkpoint covers (a consistency proof from the tree they make). The
// result is kept: later calls return it without asking the board again.
func (c *Client) Election(ctx context.Context) (*ballot.Election, error) {
	c.mu.Lock()
	e := c.election
	c.mu.Unlock()
	if e != nil {
		return e, nil
	}
	if c.ManifestHash == ([32]byte{}) {
		return nil, ErrNoManifestHash
	}
	info, err := c.Board.Election(ctx)
	if err != nil {
		return nil, err
	}
	if info.OpenIndex == 0 {
		return nil, fmt.Errorf("voter: the election is not open (phase %q)", info.Phase)
	}
	cp, err := c.checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	open := info.OpenIndex
	if open >= cp.Size {
		return nil, fmt.Errorf("voter: the board names entry %d as the open entry, but its signed log has %d entries", open, cp.Size)
	}
	leaves := make([][]byte, 0, min(open+1, 256))
	leaf, err := c.Board.Entry(ctx, 0)
	if err != nil {
		return nil, err
	}
	if len(leaf) == 0 || store.EntryType(leaf[0]) != store.Manifest {
		return nil, errors.New("voter: the board's entry 0 is not a manifest")
	}
	m, err := ballot.ParseManifest(leaf[1:])
	if err != nil {
		return nil, err
	}
	if got := m.Hash(); got != c.ManifestHash {
		return nil, fmt.Errorf("voter: the board's manifest has hash %x, the election's is %x: the board serves another election or an altered manifest; refusing to vote there", got[:8], c.ManifestHash[:8])
	}
	// The ceremony cannot be longer than this: an announcement and a deal
	// per trustee, a complaint and an answer per pair of trustees, a
	// trustee with itself included (a self-complaint is valid, SPEC.md §7),
	// and a check per trustee and number of dealers it names.
	n := uint64(m.Trustees.N)
	if open-1 > 2*n+3*n*n {
		return nil, fmt.Errorf("voter: the board names entry %d as the open entry, after more entries than a ceremony of %d trustees can have", open, n)
	}
	leaves = append(leaves, leaf)
	cer := record.NewCeremony(m)
	for i := uint64(1); i <= open; i++ {
		if leaf, err = c.Board.Entry(ctx, i); err != nil {
			return nil, err
		}
		leaves = append(leaves, leaf)
		switch {
		case len(leaf) == 0:
			return nil, fmt.Errorf("voter: the board's entry %d is empty", i)
		case i < open && store.EntryType(leaf[0]) != store.Ceremony:
			return nil, fmt.Errorf("voter: the board's entry %d, before the open entry, is a %s entry, not a ceremony message", i, store.EntryType(leaf[0]))
		case i < open:
			if err := cer.Add(leaf[1:]); err != nil {
				return nil, fmt.Errorf("voter: the board's entry %d: %w", i, err)
			}
		case store.EntryType(leaf[0]) != store.Open:
			return nil, fmt.Errorf("voter: the board's entry %d is not the open entry", i)
		}
	}
	decided, err := cer.Qualify()
	if err != nil {
		return nil, fmt.Errorf("voter: the ceremony on the board decides no election key: %w", err)
	}
	if !bytes.Equal(decided.Bytes(), leaves[open][1:]) {
		return nil, fmt.Errorf("voter: the board's open entry is not what the trustees' ceremony messages decide; refusing to encrypt to its key")
	}
	if err := c.extends(ctx, cp, leaves); err != nil {
		return nil, err
	}
	e = &ballot.Election{Manifest: m, Key: decided.Key}
	c.mu.Lock()
	c.election, c.openIndex = e, open
	if c.seen == nil || c.seen.Size < cp.Size {
		c.seen = cp
	}
	c.mu.Unlock()
	return e, nil
}

// extends checks that leaves are the first entries of the log cp signs.
func (c *Client) extends(ctx context.Context, cp *store.Checkpoint, leaves [][]byte) error {
	root, err := store.TreeHash(leaves)
	if err != nil {
		return err
	}
	prefix := &store.Checkpoint{Origin: cp.Origin, Size: uint64(len(leaves)), Hash: root}
	var proof tlog.TreeProof
	if prefix.Size < cp.Size {
		if proof, err = c.Board.Consistency(ctx, prefix.Size, cp.Size); err != nil {
			return err
		}
	} else if root != cp.Hash {
		return errors.New("voter: the board's entries do not hash to its signed checkpoint")
	}
	if err := store.VerifyConsistency(prefix, cp, proof); err != nil {
		return fmt.Errorf("voter: the entries the board served are not the start of its signed log: %w", err)
	}
	return nil
}

func (c *Client) checkpoint(ctx context.Context, size uint64) (*store.Checkpoint, error) {
	signed, err := c.Board.Checkpoint(ctx, size)
	if err != nil {
		return nil, err
	}
	return store.ParseCheckpoint(signed, c.BoardKey)
}

// provenLeaf fetches leaf i and checks it is in the tree of cp.
func (c *Client) provenLeaf(ctx context.Context, cp *store.Checkpoint, i uint64) ([]byte, error) {
	leaf, err := c.Board.Entry(ctx, i)
	if err != nil {
		return nil, err
	}
	proof, err := c.Board.Inclusion(ctx, i, cp.Size)
	if err != nil {
		return nil, err
	}
	if err := store.VerifyInclusion(cp, i, leaf, proof); err != nil {
		return nil, err
	}
	return leaf, nil
}

// Vote runs the whole voter flow in memory: token, ballot, cast, receipt
// check. selections[q] lists the chosen choice indices of question q. A
// caller that must survive a lost reply or a crash runs the steps itself
// on a saved Ticket (GetToken, Seal, CastTicket) instead.
func (c *Client) Vote(ctx context.Context, voterID, code string, selections [][]int) (*Receipt, error) {
	e, err := c.Election(ctx)
	if err != nil {
		return nil, err
	}
	t, err := NewTicket(c.Rand, e, voterID)
	if err != nil {
		return nil, err
	}
	if err := c.GetToken(ctx, e, t, code, ""); err != nil {
		return nil, err
	}
	if err := c.Seal(e, t, selections); err != nil {
		return nil, err
	}
	return c.CastTicket(ctx, e, t)
}

// Receipt is what a voter keeps, as JSON: enough to prove later that the
// board holds the ballot.
type Receipt struct {
	ElectionID   string   `json:"election_id"`
	TrackingCode string   `json:"tracking_code"`
	Index        uint64   `json:"index"`
	LeafHash     string   `json:"leaf_hash"`  // hex, RFC 6962 leaf hash of the ballot entry
	Checkpoint   string   `json:"checkpoint"` // signed note; cosigned by the witnesses when the election names them
	Inclusion    []string `json:"inclusion"`
	// Ballot is the ballot itself (base64), in a receipt whose checkpoint
	// the witnesses cosigned: with it the receipt checks with no network
	// (CheckReceiptOffline).
	Ballot string `json:"ballot,omitempty"`
}

// Cast posts an encoded ballot and checks the board's receipt: the tracking
// code is the ballot's, the checkpoint is signed by the board key, the
// ballot's leaf is in that tree at the index given, and that index comes
// after the open entry Election checked.
func (c *Client) Cast(ctx context.Context, e *ballot.Election, raw []byte) (*Receipt, error) {
	rc, err := c.Board.Cast(ctx, raw)
	if err != nil {
		return nil, err
	}
	return c.checkBoardReceipt(ctx, e, raw, rc)
}

// CosignedBoard is a Board that also serves checkpoints cosigned by the
// election's witnesses; *boardapi.Client is one. An election whose
// manifest names witnesses needs it.
type CosignedBoard interface {
	// Cosigned returns the newest checkpoint cosigned by a quorum of the
	// witnesses, of at least minSize leaves, as signed note text.
	Cosigned(ctx context.Context, minSize uint64) ([]byte, error)
}

// ErrNotCosigned means the board holds the ballot (its own receipt
// checked) but no checkpoint of its witnesses' quorum covers it yet: the
// witnesses are slow or unreachable. Nothing is lost: cast the same ballot
// again later (CastTicket), and the receipt is fetched and cosigned then.
var ErrNotCosigned = errors.New("voter: the ballot is on the board, but the election's witnesses have not cosigned a checkpoint that covers it yet; try again in a minute for the receipt")

// ErrNoWitnesses means the election names witnesses but the board client
// cannot fetch cosigned checkpoints.
var ErrNoWitnesses = errors.New("voter: the election names witnesses, but this board client serves no cosigned checkpoints")

// cosign turns a checked receipt into one whose checkpoint a quorum of
// the election's witnesses cosigned (SPEC.md §10.5), when the manifest
// names witnesses: the board's newest cosigned checkpoint that covers the
// ballot, proven consistent with the receipt's and with every checkpoint
// this client saw, and the ballot's inclusion in it. The receipt then
// carries the ballot itself, so that it checks with no network at all
// (CheckReceiptOffline).
func (c *Client) cosign(ctx context.Context, m *ballot.Manifest, raw []byte, rc *Receipt) (*Receipt, error) {
	if len(m.Witnesses) == 0 {
		return rc, nil
	}
	cb, ok := c.Board.(CosignedBoard)
	if !ok {
		return nil, ErrNoWitnesses
	}
	signed, err := cb.Cosigned(ctx, rc.Index+1)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotCosigned, err)
	}
	cs, err := store.OpenCosigned(signed, c.BoardKey, m.WitnessVerifiers(), m.WitnessQuorum)
	if err != nil {
		return nil, fmt.Errorf("voter: the board's cosigned checkpoint: %w", err)
	}
	now := cs.Checkpoint
	if now.Size <= rc.Index {
		return nil, fmt.Errorf("voter: the board's cosigned checkpoint (size %d) does not cover the ballot at entry %d", now.Size, rc.Index)
	}
	if err := c.extendsSeen(ctx, now); err != nil {
		return nil, err
	}
	leaf := store.Leaf(store.Ballot, raw)
	proof, err := c.Board.Inclusion(ctx, rc.Index, now.Size)
	if err != nil {
		return nil, err
	}
	if err := store.VerifyInclusion(now, rc.Index, leaf, proof); err != nil {
		return nil, fmt.Errorf("voter: the ballot is not in the witnesses' cosigned tree: %w", err)
	}
	out := *rc
	out.Checkpoint, out.Inclusion = string(signed), boardapi.EncodeHashes(proof)
	out.Ballot = base64.StdEncoding.EncodeToString(raw)
	return &out, nil
}

// receiptOf asks the board for the receipt of a ballot it already holds
// (by its tracking code) and checks it as Cast does.
func (c *Client) receiptOf(ctx context.Context, e *ballot.Election, raw []byte) (*Receipt, error) {
	rc, err := c.Board.Receipt(ctx, ballot.TrackingCode(raw))
	if err != nil {
		return nil, err
	}
	return c.checkBoardReceipt(ctx, e, raw, rc)
}

func (c *Client) checkBoardReceipt(ctx context.Context, e *ballot.Election, raw []byte, rc *boardapi.Receipt) (*Receipt, error) {
	tc := ballot.TrackingCode(raw)
	if rc.TrackingCode != hex.EncodeToString(tc[:]) {
		return nil, errors.New("voter: the board's receipt names another ballot")
	}
	cp, err := store.ParseCheckpoint([]byte(rc.Checkpoint), c.BoardKey)
	if err != nil {
		return nil, fmt.Errorf("voter: the receipt's checkpoint: %w", err)
	}
	proof, err := boardapi.DecodeHashes(rc.Inclusion)
	if err != nil {
		return nil, err
	}
	leaf := store.Leaf(store.Ballot, raw)
	if err := store.VerifyInclusion(cp, rc.Index, leaf, proof); err != nil {
		return nil, fmt.Errorf("voter: the board's receipt does not prove the ballot is in its log: %w", err)
	}
	c.mu.Lock()
	open := c.openIndex // 0 if Election was not called: e came from elsewhere
	c.mu.Unlock()
	if rc.Index <= open {
		return nil, fmt.Errorf("voter: the board's receipt puts the ballot at entry %d, not after the open entry %d", rc.Index, open)
	}
	if err := c.extendsSeen(ctx, cp); err != nil {
		return nil, err
	}
	lh := store.LeafHash(leaf)
	return c.cosign(ctx, e.Manifest, raw, &Receipt{
		ElectionID: hex.EncodeToString(e.Manifest.ID()), TrackingCode: rc.TrackingCode, Index: rc.Index,
		LeafHash: hex.EncodeToString(lh[:]), Checkpoint: rc.Checkpoint, Inclusion: rc.Inclusion,
	})
}

// extendsSeen checks that cp and the newest checkpoint this client checked
// before (the one its election was read from, an earlier receipt's) are of
// one history, asking the board for the consistency proof, and keeps the
// newer: a receipt from another history than the ceremony the voter
// checked, or a revote placed in a fork before the ballot it replaces, is
// refused. The proof is fetched without holding the client's lock, so
// concurrent casts do not wait on each other.
func (c *Client) extendsSeen(ctx context.Context, cp *store.Checkpoint) error {
	c.mu.Lock()
	seen := c.seen
	c.mu.Unlock()
	if seen != nil {
		var proof tlog.TreeProof
		if seen.Size != cp.Size {
			var err error
			if proof, err = c.Board.Consistency(ctx, min(seen.Size, cp.Size), max(seen.Size, cp.Size)); err != nil {
				if unanswered(err) {
					return fmt.Errorf("voter: the board did not answer for the proof that its checkpoints of size %d and %d are of one history; retry: %w", seen.Size, cp.Size, err)
				}
				return fmt.Errorf("%w: the board gives no proof that its checkpoints of size %d and %d are of one history: %v", ErrSplitView, seen.Size, cp.Size, err)
			}
		}
		if err := CompareCheckpoints(seen, cp, proof); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if c.seen == nil || c.seen.Size < cp.Size {
		c.seen = cp
	}
	c.mu.Unlock()
	return nil
}

// unanswered reports whether err is no answer from the board rather than
// its refusal: the connection failed, or the board said it is
// overloaded or its storage is out of reach for now (a board process
// that died behind a load balancer, a database restarting). That is a
// reason to retry, not evidence of a split view; a board that answers,
// and refuses the proof, is, and so is one that answers with something
// that is no proof (boardapi.ErrMalformedAnswer): otherwise a board that
// cannot prove its history would answer garbage rather than refuse.
func unanswered(err error) bool {
	if errors.Is(err, boardapi.ErrMalformedAnswer) {
		return false
	}
	var ae *boardapi.Error
	if errors.As(err, &ae) {
		return ae.StatusCode == 503 || ae.StatusCode == 429 // Service Unavailable, Too Many Requests
	}
	return true
}

// CheckReceipt proves, against the board's newest checkpoint, that the
// receipt's ballot is still in the log: the receipt's checkpoint is
// consistent with the newest one, and the ballot's leaf is included in it.
// It returns the newest checkpoint.
func (c *Client) CheckReceipt(ctx context.Context, r *Receipt) (*store.Checkpoint, error) {
	old, err := store.ParseCosignedCheckpoint([]byte(r.Checkpoint), c.BoardKey)
	if err != nil {
		return nil, fmt.Errorf("voter: the receipt's checkpoint: %w", err)
	}
	var lh tlog.Hash
	if b, err := hex.DecodeString(r.LeafHash); err != nil || len(b) != len(lh) {
		return nil, errors.New("voter: the receipt's leaf hash is not 32 bytes of hex")
	} else {
		copy(lh[:], b)
	}
	incl, err := boardapi.DecodeHashes(r.Inclusion)
	if err != nil {
		return nil, err
	}
	if err := tlog.CheckRecord(incl, int64(old.Size), old.Hash, int64(r.Index), lh); err != nil {
		return nil, fmt.Errorf("voter: the receipt is not self-consistent: %w", err)
	}
	now, err := c.checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	// The election's manifest (entry 0, proven) says which witnesses must
	// cosign: then the receipt's checkpoint and the newest one both carry
	// their quorum, and the newest is the witnesses'.
	first, err := c.provenLeaf(ctx, now, 0)
	if err != nil {
		return nil, fmt.Errorf("voter: the board's manifest entry: %w", err)
	}
	m, err := ballot.ParseManifest(first[1:])
	if err != nil || store.EntryType(first[0]) != store.Manifest {
		return nil, errors.New("voter: the board's entry 0 is not a manifest")
	}
	if r.ElectionID != hex.EncodeToString(m.ID()) {
		return nil, fmt.Errorf("voter: the receipt names election %.16s…, the board's log is of election %x…", r.ElectionID, m.ID()[:8])
	}
	if len(m.Witnesses) > 0 {
		if _, err := store.OpenCosigned([]byte(r.Checkpoint), c.BoardKey, m.WitnessVerifiers(), m.WitnessQuorum); err != nil {
			return nil, fmt.Errorf("voter: the receipt's checkpoint: %w", err)
		}
		cb, ok := c.Board.(CosignedBoard)
		if !ok {
			return nil, ErrNoWitnesses
		}
		signed, err := cb.Cosigned(ctx, old.Size)
		if err != nil {
			return nil, fmt.Errorf("voter: no checkpoint cosigned by the election's witnesses extends the receipt's: %w", err)
		}
		cs, err := store.OpenCosigned(signed, c.BoardKey, m.WitnessVerifiers(), m.WitnessQuorum)
		if err != nil {
			return nil, fmt.Errorf("voter: the board's newest cosigned checkpoint: %w", err)
		}
		now = cs.Checkpoint
	}
	if now.Size < old.Size {
		return nil, fmt.Errorf("voter: the board's newest checkpoint (size %d) is older than the receipt's (size %d): the log was rolled back", now.Size, old.Size)
	}
	tp, err := c.Board.Consistency(ctx, old.Size, now.Size)
	if err != nil {
		return nil, err
	}
	if err := store.VerifyConsistency(old, now, tp); err != nil {
		return nil, fmt.Errorf("voter: the board's log is not an extension of the one the receipt was signed in: %w", err)
	}
	// The leaf itself, proven in the newest tree, must be what the
	// receipt names: a ballot whose tracking code is the receipt's, in the
	// election the receipt names. A leaf hash alone would let a receipt
	// lend another ballot's place in the log to any tracking code.
	leaf, err := c.provenLeaf(ctx, now, r.Index)
	if err != nil {
		return nil, fmt.Errorf("voter: the ballot is no longer in the board's log: %w", err)
	}
	if store.LeafHash(leaf) != lh {
		return nil, fmt.Errorf("voter: the board's entry %d is not the receipt's leaf: the ballot is no longer in the board's log", r.Index)
	}
	if store.EntryType(leaf[0]) != store.Ballot {
		return nil, fmt.Errorf("voter: the receipt's entry %d is a %s entry, not a ballot", r.Index, store.EntryType(leaf[0]))
	}
	if tc := ballot.TrackingCode(leaf[1:]); r.TrackingCode != hex.EncodeToString(tc[:]) {
		return nil, fmt.Errorf("voter: the receipt's tracking code %.16s… is not that of the ballot at entry %d (%x…): the receipt was altered", r.TrackingCode, r.Index, tc[:8])
	}
	if err := c.castWhileOpen(ctx, now, r.Index); err != nil {
		return nil, err
	}
	return now, nil
}

// CheckReceiptOffline checks a receipt with no network: it must carry its
// ballot and a checkpoint cosigned by a quorum of the witnesses manifest m
// names (without witnesses, signed by the board), the ballot must be the
// receipt's (tracking code, leaf hash) in election m, and the inclusion
// proof must put it at the receipt's index of that signed tree. It returns
// the receipt's checkpoint. What it cannot check offline, CheckReceipt
// does: that the log still holds the ballot, extended consistently, and
// that the ballot lies between the open and the close entries.
func CheckReceiptOffline(r *Receipt, boardKey note.Verifier, m *ballot.Manifest) (*store.Checkpoint, error) {
	if r.ElectionID != hex.EncodeToString(m.ID()) {
		return nil, fmt.Errorf("voter: the receipt names election %.16s…, the manifest is of election %x…", r.ElectionID, m.ID()[:8])
	}
	if r.Ballot == "" {
		return nil, errors.New("voter: the receipt carries no ballot, so it cannot be checked offline: check it against the board (evote receipt check without --offline)")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(r.Ballot)
	if err != nil {
		return nil, errors.New("voter: the receipt's ballot is not canonical base64")
	}
	if tc := ballot.TrackingCode(raw); r.TrackingCode != hex.EncodeToString(tc[:]) {
		return nil, errors.New("voter: the receipt's tracking code is not its ballot's: the receipt was altered")
	}
	leaf := store.Leaf(store.Ballot, raw)
	if lh := store.LeafHash(leaf); r.LeafHash != hex.EncodeToString(lh[:]) {
		return nil, errors.New("voter: the receipt's leaf hash is not its ballot's: the receipt was altered")
	}
	var cp *store.Checkpoint
	if len(m.Witnesses) > 0 {
		cs, err := store.OpenCosigned([]byte(r.Checkpoint), boardKey, m.WitnessVerifiers(), m.WitnessQuorum)
		if err != nil {
			return nil, fmt.Errorf("voter: the receipt's checkpoint: %w", err)
		}
		cp = cs.Checkpoint
	} else if cp, err = store.ParseCheckpoint([]byte(r.Checkpoint), boardKey); err != nil {
		return nil, fmt.Errorf("voter: the receipt's checkpoint: %w", err)
	}
	proof, err := boardapi.DecodeHashes(r.Inclusion)
	if err != nil {
		return nil, err
	}
	if err := store.VerifyInclusion(cp, r.Index, leaf, proof); err != nil {
		return nil, fmt.Errorf("voter: the receipt does not prove its ballot is in the signed tree: %w", err)
	}
	return cp, nil
}

// castWhileOpen checks that entry i of the log now signs lies after the
// open entry and, once the election is closed, before the close entry:
// only such a ballot can count. Both entries are proven in the tree.
func (c *Client) castWhileOpen(ctx context.Context, now *store.Checkpoint, i uint64) error {
	info, err := c.Board.Election(ctx)
	if err != nil {
		return err
	}
	phase := func(idx uint64, t store.EntryType) error {
		leaf, err := c.provenLeaf(ctx, now, idx)
		if err != nil {
			return fmt.Errorf("voter: the %s entry: %w", t, err)
		}
		if len(leaf) == 0 || store.EntryType(leaf[0]) != t {
			return fmt.Errorf("voter: the board names entry %d as the %s entry, but it is not", idx, t)
		}
		return nil
	}
	if info.OpenIndex == 0 || info.OpenIndex >= i {
		return fmt.Errorf("voter: the ballot, entry %d, is not after the board's open entry (%d): it cannot count", i, info.OpenIndex)
	}
	if err := phase(info.OpenIndex, store.Open); err != nil {
		return err
	}
	if info.CloseIndex == 0 {
		if info.Phase != "open" {
			return fmt.Errorf("voter: the board is in phase %q but names no close entry", info.Phase)
		}
		return nil
	}
	if info.CloseIndex < i {
		return fmt.Errorf("voter: the ballot, entry %d, comes after the close entry (%d): it does not count", i, info.CloseIndex)
	}
	if info.CloseIndex >= now.Size {
		// The tree checked against (the witnesses' newest, a round behind
		// the board's) ends before the close entry: every ballot in it
		// came before the close.
		return nil
	}
	return phase(info.CloseIndex, store.Close)
}

// Marshal encodes the receipt for saving.
func (r *Receipt) Marshal() []byte {
	if r.Inclusion == nil { // a proof of no hashes (a log of one entry) is [], never null
		c := *r
		c.Inclusion, r = []string{}, &c
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

// ParseReceipt decodes a saved receipt.
func ParseReceipt(b []byte) (*Receipt, error) {
	var r Receipt
	if err := strictjson.Decode(b, &r); err != nil {
		return nil, fmt.Errorf("voter: receipt file: %w", err)
	}
	return &r, nil
}

// ErrSplitView means two checkpoints, both signed by the board key, cannot
// be of one history: the board has shown different logs to different
// clients (or rewritten its log). The two signed checkpoints are the
// evidence.
var ErrSplitView = errors.New("voter: the board signed two checkpoints that are not of one history (a split view)")

// CompareCheckpoints checks that two checkpoints of the same board, as two
// clients were shown them, are of one history: of equal size they must have
// equal roots; otherwise proof must show that the smaller tree is a prefix of
// the larger (a consistency proof from the smaller size to the larger; nil
// for equal sizes). An error wraps ErrSplitView. Clients that compare the
// checkpoints they were given (gossip) catch a board that serves two
// histories, since it cannot make such a proof for them.
func CompareCheckpoints(a, b *store.Checkpoint, proof tlog.TreeProof) error {
	if a.Origin != b.Origin {
		return fmt.Errorf("voter: checkpoints of two different logs, %q and %q", a.Origin, b.Origin)
	}
	if a.Size > b.Size {
		a, b = b, a
	}
	if a.Size == b.Size {
		if a.Hash != b.Hash {
			return fmt.Errorf("%w: two checkpoints of size %d with different root hashes %x and %x", ErrSplitView, a.Size, a.Hash[:8], b.Hash[:8])
		}
		return nil
	}
	if err := store.VerifyConsistency(a, b, proof); err != nil {
		return fmt.Errorf("%w: %v", ErrSplitView, err)
	}
	return nil
}

// CheckConsistent compares a checkpoint someone else was shown (another
// voter, an auditor, a monitor), signed by the board key, with the board's
// newest checkpoint as this client sees it, asking the board for the
// consistency proof between them. It returns this client's checkpoint. An
// error wrapping ErrSplitView means the board showed the two clients
// different histories.
func (c *Client) CheckConsistent(ctx context.Context, otherSigned []byte) (*store.Checkpoint, error) {
	other, err := store.ParseCheckpoint(otherSigned, c.BoardKey)
	if err != nil {
		return nil, fmt.Errorf("voter: the other checkpoint: %w", err)
	}
	mine, err := c.checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	var proof tlog.TreeProof
	if other.Size != mine.Size {
		lo, hi := min(other.Size, mine.Size), max(other.Size, mine.Size)
		if proof, err = c.Board.Consistency(ctx, lo, hi); err != nil {
			if unanswered(err) {
				return nil, fmt.Errorf("voter: the board did not answer for the proof that its checkpoints of size %d and %d are of one history; retry: %w", lo, hi, err)
			}
			return nil, fmt.Errorf("%w: the board cannot prove its checkpoint of size %d consistent with the one of size %d: %v", ErrSplitView, lo, hi, err)
		}
	}
	if err := CompareCheckpoints(mine, other, proof); err != nil {
		return nil, err
	}
	return mine, nil
}
