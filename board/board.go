// Package board is the bulletin board: the public, append-only record of an
// election, and the service that admits entries to it.
//
// The board holds no secret but its checkpoint-signing key and learns
// nothing about voters: a ballot arrives with a token key and an issuer's
// blind signature on it, never a voter identifier. It admits a ballot only
// if every check holds (right election, open phase, valid token, every
// proof, the signature) and the token has not voted (or, under the
// last-ballot-counts policy, records it as replacing the earlier one, if it
// carries the same eligibility token: one token key has one token), and it
// answers only after the ballot is durable in the log: a receipt carries the
// ballot's tracking code, its leaf index, a signed checkpoint and an
// inclusion proof, so the voter can later prove the board dropped it.
//
// The phases are entries of the log: the manifest (entry 0), the key
// ceremony's messages, the open entry with the election key, the ballots,
// the close entry, the trustees' partial decryptions and the result. Each
// phase change is checked inside the same transaction as the appends it
// rules, so no ballot lands after close however the requests race, and the
// board keeps no phase of its own: two board processes on one store (see
// store.Engine) agree on it, whichever of them opened or closed.
package board

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/ceremony"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
)

// Keys the board sets in the log.
var (
	keyOpen   = []byte("phase/open")
	keyClosed = []byte("phase/closed")
)

func tokenKey(k []byte) []byte { return append([]byte("token/"), k...) }

// tokenUseKey marks that token key k has voted with token tok. Tokens are
// randomized (RFC 9474), so an issuer that signs one token key twice makes
// two valid tokens for it; every ballot of a token key must carry the token
// of its first (SPEC.md §8), and this key is how the board tells.
func tokenUseKey(k, tok []byte) []byte {
	h := sha256.Sum256(tok)
	return append(append([]byte("tokenuse/"), k...), h[:]...)
}

func ballotKey(trackingCode []byte) []byte { return append([]byte("ballot/"), trackingCode...) }

// Errors callers may tell apart with errors.Is.
var (
	// The phase errors are record's, whose Phase.Admits decides the order
	// of entries for the board and every verifier alike (SPEC.md §8).
	ErrNotOpen       = record.ErrNotOpen
	ErrClosed        = record.ErrClosed
	ErrNotClosed     = record.ErrNotClosed
	ErrAlreadyOpen   = record.ErrAlreadyOpen
	ErrAlreadyVoted  = errors.New("board: this token has already cast a ballot")
	ErrInvalidEntry  = errors.New("board: invalid entry")
	ErrInvalidBallot = errors.New("board: ballot refused")
	// ErrCeremonyIncomplete means open was asked before the ceremony's
	// messages decide an election key (missing announcements or deals, or
	// fewer than t qualified dealers).
	ErrCeremonyIncomplete = errors.New("board: the election cannot open yet")
	// ErrTrusteesMissing means open was asked while a trustee's message
	// is missing (a deal, a check of its shares, an answer) or its deal
	// is disqualified, and the request did not say to go on without it.
	ErrTrusteesMissing = errors.New("board: trustees are missing from the key ceremony")
	// ErrBallotOnBoard means this very ballot (the same bytes) is on the
	// board already: a cast sent again after its reply was lost, or a
	// replay. It matches ErrAlreadyVoted too.
	ErrBallotOnBoard = fmt.Errorf("%w: this exact ballot is already on the board", ErrAlreadyVoted)
)

// ErrCreated means the log is not empty: another process (or an earlier
// start) created the board; open it with Load.
var ErrCreated = errors.New("board: the board was created already")

// Board admits entries to one election's log.
type Board struct {
	log      store.Log
	manifest *ballot.Manifest

	mu       sync.RWMutex
	election *ballot.Election // nil until the open entry is in the log
	opening  *record.Open
	tally    *tallyState // set once after close, see tally.go
	verifier verifier
}

// Create starts a new election's board: it appends the manifest as entry 0 of
// an empty log.
func Create(ctx context.Context, log store.Log, manifest []byte) (*Board, error) {
	m, err := ballot.ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	// Decided inside the append's transaction, not by a read before it:
	// board processes starting at once on one empty database each read
	// size 0, and each appended a manifest (the election was dead: entry
	// 1 a manifest, which no trustee step takes).
	empty := func(v store.View) error {
		if n := v.Size(); n != 0 {
			return fmt.Errorf("%w: the log already holds %d entries; open it with board.Load", ErrCreated, n)
		}
		return nil
	}
	if _, err := log.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, m.Bytes()), Check: empty}); err != nil {
		if errors.Is(err, ErrCreated) {
			return nil, err
		}
		return nil, fmt.Errorf("board: publishing the manifest: %w", err)
	}
	return &Board{log: log, manifest: m}, nil
}

// Load resumes the board of the election in log.
func Load(log store.Log) (*Board, error) {
	leaf, err := log.Leaf(0)
	if err != nil {
		return nil, fmt.Errorf("board: reading the manifest (entry 0): %w", err)
	}
	m, err := ballot.ParseManifest(leaf[1:])
	if err != nil {
		return nil, err
	}
	b := &Board{log: log, manifest: m}
	if _, err := b.opened(); err != nil {
		return nil, err
	}
	return b, nil
}

// opened returns the election with its key once the open entry is in the
// log, and nil before. The phase is the log's, not this process's: a board
// sees an open entry another board on the same store appended at its next
// call. Once appended the open entry never changes, so it is read once and
// kept; after open a cast reads nothing for it, and before open a cast
// costs one lookup. Closing needs no such cache: the cast's append checks
// for the close entry inside its own transaction (see admit). A lookup
// costs 1 µs on bbolt, nothing beside a cast (BenchmarkCast in process:
// 2,500 casts a second, median of 7 runs, against 2,300 with the phase
// cached in the process, within the noise), but a network round trip on a
// database engine, which is why the open entry is kept.
func (b *Board) opened() (*ballot.Election, error) {
	b.mu.RLock()
	e := b.election
	b.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	i, ok, err := b.log.Lookup(keyOpen)
	if err != nil || !ok {
		return nil, err
	}
	leaf, err := b.log.Leaf(i)
	if err != nil {
		return nil, err
	}
	if err := b.setOpen(leaf[1:]); err != nil {
		return nil, fmt.Errorf("board: open entry %d: %w", i, err)
	}
	return b.Election(), nil
}

func (b *Board) setOpen(body []byte) error {
	o, err := record.ParseOpen(b.manifest, body)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.election == nil { // a log has one open entry; keep the first read
		b.opening = o
		b.election = &ballot.Election{Manifest: b.manifest, Key: o.Key}
	}
	return nil
}

// Manifest returns the election's manifest.
func (b *Board) Manifest() *ballot.Manifest { return b.manifest }

// Election returns the manifest with the election key, or nil before open
// (or if the log cannot be read).
func (b *Board) Election() *ballot.Election {
	b.mu.RLock()
	e := b.election
	b.mu.RUnlock()
	if e == nil {
		e, _ = b.opened()
	}
	return e
}

// Opening returns the open entry's contents, or nil before open (or if the
// log cannot be read).
func (b *Board) Opening() *record.Open {
	if b.Election() == nil {
		return nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.opening
}

// Log returns the underlying log, for proofs and export.
func (b *Board) Log() store.Log { return b.log }

// Phase names the election's phase: "ceremony", "open" or "closed".
func (b *Board) Phase() (string, error) {
	if _, ok, err := b.log.Lookup(keyClosed); err != nil {
		return "", err
	} else if ok {
		return "closed", nil
	}
	if e, err := b.opened(); err != nil {
		return "", err
	} else if e != nil {
		return "open", nil
	}
	return "ceremony", nil
}

// PostCeremony appends one key-ceremony message. Ceremony messages are
// accepted only before open, and must parse.
func (b *Board) PostCeremony(ctx context.Context, msg []byte) (uint64, error) {
	key, err := record.UniqueKey(b.manifest, msg)
	if err != nil {
		return 0, refuse(ErrInvalidEntry, "it is not a ceremony message of this election signed by its sender", err)
	}
	if err := record.NewCeremony(b.manifest).Add(msg); err != nil {
		return 0, refuse(ErrInvalidEntry, "it is not a ceremony message of this election signed by its sender", err)
	}
	i, err := b.log.Append(ctx, store.Append{
		Leaf:  store.Leaf(store.Ceremony, msg),
		Key:   key,
		Check: admits(store.Ceremony),
	})
	if errors.Is(err, store.ErrDuplicate) {
		return 0, refuse(ErrInvalidEntry, fmt.Sprintf("%s is already on the board", key), nil)
	}
	return i, err
}

// phase is the phase of the log v shows, from its phase keys.
func phase(v store.View) record.Phase {
	_, opened := v.Lookup(keyOpen)
	_, closed := v.Lookup(keyClosed)
	return record.PhaseOf(opened, closed)
}

// admits is an append's Check that the log's phase admits an entry of type t.
func admits(t store.EntryType) func(store.View) error {
	return func(v store.View) error { return phase(v).Admits(t) }
}

// OpenVoting ends the key ceremony: it qualifies the trustees from the
// ceremony messages in the log, and appends the open entry with the
// election key and every trustee's verification key. Ballots are accepted
// from then on.
//
// It refuses while anything is missing (record.Progress: a deal, a check,
// an answer, a disqualified deal) unless every trustee it would leave
// behind is in without: an open decides the ceremony for good, so going on
// without a trustee is the caller's word, never the board's silence.
// ErrCeremonyIncomplete when the messages decide no key at all (an
// announcement missing, fewer than t deals that count), ErrTrusteesMissing
// when they do but someone not in without is missing; the refusal names
// them and what the election would lose. A refusal changes nothing.
func (b *Board) OpenVoting(ctx context.Context, without ...int) (*record.Open, error) {
	n := b.manifest.Trustees.N
	for _, i := range without {
		if i < 1 || i > n {
			return nil, refuse(boardapi.ErrBadRequest, fmt.Sprintf("without names trustee %d; the election has trustees 1 to %d", i, n), nil)
		}
	}
	// A ceremony message may land between reading the log and appending:
	// the open entry would then not be what the messages before it
	// decide, and the record would be invalid. So the append checks the
	// log is still the size read, and a race reads again.
	for range 8 {
		o, size, err := b.decide(without)
		if err != nil {
			return nil, err
		}
		body := o.Bytes()
		_, err = b.log.Append(ctx, store.Append{
			Leaf: store.Leaf(store.Open, body),
			Check: func(v store.View) error {
				if err := phase(v).Admits(store.Open); err != nil {
					return err
				}
				if v.Size() != size {
					return errCeremonyMoved
				}
				return nil
			},
			SetKeys: [][]byte{keyOpen},
		})
		if errors.Is(err, errCeremonyMoved) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := b.setOpen(body); err != nil {
			return nil, err
		}
		return o, nil
	}
	return nil, errors.New("board: the ceremony kept changing while opening; try again")
}

// errCeremonyMoved is an open's append refused because entries were
// appended since the ceremony was read.
var errCeremonyMoved = errors.New("board: the log grew while opening")

// decide reads the ceremony in the log and returns the open entry it
// decides and the log's size, or the refusal of an open going on without
// the trustees in without.
func (b *Board) decide(without []int) (*record.Open, uint64, error) {
	c, size, err := b.Ceremony()
	if err != nil {
		return nil, 0, err
	}
	if _, ok, err := b.log.Lookup(keyOpen); err != nil {
		return nil, 0, err
	} else if ok {
		return nil, 0, ErrAlreadyOpen
	}
	p := c.Progress()
	if p.Open == nil {
		why := p.GapsText()
		var ce *ceremony.CeremonyError
		if errors.As(p.Undecided, &ce) {
			why = fmt.Sprintf("%d of the %d deals count, and %d are needed: %s", len(ce.Qualified), p.N, p.T, why)
		}
		return nil, 0, refuse(ErrCeremonyIncomplete, "the key ceremony's messages on the board decide no election key: "+why, p.Undecided)
	}
	if left := p.Uncovered(without); len(left) > 0 {
		return nil, 0, refuse(ErrTrusteesMissing, fmt.Sprintf("%s. Going on %s. Wait for %s, or ask to go on without them (an open request with the body %s)",
			p.GapsText(), p.Loss(), record.Names(left), withoutBody(p.Missing())), nil)
	}
	return p.Open, size, nil
}

// withoutBody is the open request's body naming trustees is.
func withoutBody(is []int) string {
	b, _ := json.Marshal(boardapi.OpenRequest{Without: is})
	return string(b)
}

// Ceremony reads the key ceremony's messages in the log, up to the open
// entry if there is one, and returns them with the log's size.
func (b *Board) Ceremony() (*record.Ceremony, uint64, error) {
	size, err := b.log.Size()
	if err != nil {
		return nil, 0, err
	}
	c := record.NewCeremony(b.manifest)
	for i := uint64(1); i < size; i++ {
		leaf, err := b.log.Leaf(i)
		if err != nil {
			return nil, 0, err
		}
		if store.EntryType(leaf[0]) != store.Ceremony {
			break
		}
		if err := c.Add(leaf[1:]); err != nil {
			return nil, 0, fmt.Errorf("board: ceremony entry %d: %w", i, err)
		}
	}
	return c, size, nil
}

// Receipt is the board's proof that it holds a ballot, as its API sends it.
type Receipt = boardapi.Receipt

// Cast verifies a ballot fully, appends it, waits until it is durable and
// returns the receipt. A refused ballot changes nothing.
func (b *Board) Cast(ctx context.Context, raw []byte) (*Receipt, error) {
	e, err := b.opened()
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, ErrNotOpen
	}
	bl, err := ballot.Parse(e, raw)
	if err != nil {
		return nil, refuse(ErrInvalidBallot, "it does not parse as a ballot of this election", err)
	}
	// The token's RSA check runs here, on the request's own goroutine (so
	// on every core); the proofs go to the batch verifier.
	if err := ballot.VerifyToken(e, bl); err != nil {
		return nil, refuse(ErrInvalidBallot, "its eligibility token does not verify under the issuer's key", err)
	}
	if err := b.verifier.verify(e, bl); err != nil {
		return nil, refuse(ErrInvalidBallot, "a proof or its signature does not verify", err)
	}
	return b.admit(ctx, bl)
}

// admit appends a verified ballot and builds its receipt.
func (b *Board) admit(ctx context.Context, bl *ballot.Ballot) (*Receipt, error) {
	replace := b.manifest.Revoting == ballot.RevotingLastCounts
	key := tokenKey(bl.TokenKey.Bytes())
	// Ballots are public: without this key anyone could re-post a voter's
	// earlier ballot after the voter's revote and make it the counted one
	// again. A ballot's bytes can only be made by its token key's holder
	// (the signature is not malleable), so refusing a repeat of the exact
	// bytes is enough.
	tc := ballot.TrackingCode(bl.Bytes())
	seen := ballotKey(tc[:])
	// One token key has one token: a ballot whose key voted before with
	// another token is refused under either policy (SPEC.md §8).
	use := tokenUseKey(bl.TokenKey.Bytes(), bl.Token.Bytes())
	replaced := false
	var refusal error
	idx, err := b.log.Append(ctx, store.Append{
		Leaf:    store.Leaf(store.Ballot, bl.Bytes()),
		Key:     key,
		Replace: replace,
		SetKeys: [][]byte{seen, use},
		Check: func(v store.View) error {
			refusal = phase(v).Admits(store.Ballot)
			if refusal != nil {
				return refusal
			}
			if i, ok := v.Lookup(seen); ok {
				refusal = refuse(ErrBallotOnBoard, fmt.Sprintf("it is entry %d; a ballot cannot be cast twice", i), nil)
				return refusal
			}
			var last uint64
			last, replaced = v.Lookup(key)
			if _, same := v.Lookup(use); replaced && !same {
				refusal = refuse(ErrAlreadyVoted, fmt.Sprintf("this token key voted in entry %d with another token; a token key has one token (the issuer signed this one twice), and a revote must carry the token of the key's first ballot", last), nil)
				return refusal
			}
			return nil
		},
	})
	if refusal != nil && errors.Is(err, refusal) {
		return nil, refusal
	}
	if errors.Is(err, store.ErrDuplicate) {
		return nil, ErrAlreadyVoted
	}
	if err != nil {
		return nil, err
	}
	return b.receipt(ctx, tc, idx, replaced)
}

// ErrNoSuchBallot means no ballot with that tracking code is on the board.
var ErrNoSuchBallot = errors.New("board: no ballot with this tracking code is on the board")

// ReceiptFor returns a fresh receipt for the ballot whose tracking code is
// tc, if the board holds it: a voter whose reply to a cast was lost after
// the ballot became durable gets its receipt this way, and so does anyone
// who knows a ballot's tracking code (ballots are public).
func (b *Board) ReceiptFor(ctx context.Context, tc [32]byte) (*Receipt, error) {
	idx, ok, err := b.log.Lookup(ballotKey(tc[:]))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoSuchBallot
	}
	return b.receipt(ctx, tc, idx, false)
}

func (b *Board) receipt(ctx context.Context, tc [32]byte, idx uint64, replaced bool) (*Receipt, error) {
	cp, err := b.log.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("board: ballot %d is stored, but signing a checkpoint failed: %w", idx, err)
	}
	proof, err := b.log.ProveInclusion(idx, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("board: ballot %d is stored, but proving it failed: %w", idx, err)
	}
	return &Receipt{
		TrackingCode: fmt.Sprintf("%x", tc),
		Index:        idx,
		Checkpoint:   string(cp.Signed),
		Inclusion:    boardapi.EncodeHashes(proof),
		Replaced:     replaced,
	}, nil
}

// CloseVoting ends voting. From the close entry on, every ballot is refused.
// Both phases are checked in the log, inside the append's transaction, so
// whichever board on the store opened or closed, this one agrees.
func (b *Board) CloseVoting(ctx context.Context) (uint64, error) {
	return b.log.Append(ctx, store.Append{
		Leaf:    store.Leaf(store.Close, record.CloseBody()),
		Check:   admits(store.Close),
		SetKeys: [][]byte{keyClosed},
	})
}
