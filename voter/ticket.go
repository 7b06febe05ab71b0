package voter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evote/evote/issuer/issuerapi"
	"io"
	"slices"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/store"
	"github.com/gtank/ristretto255"
)

// A Ticket is what a voter's device keeps between the steps of voting, so
// that a lost reply, a crash or a closed laptop never loses a vote: the
// token key's secret, the seed its blinding is drawn from (so the same
// blinded message can be sent again and the issuer's signature of it
// finalized, token.BlindSeeded), the token once finalized, the ballot once
// encrypted with the choices it encrypts, and the receipt once the board
// proved it holds the ballot.
//
// Each step (Client.GetToken, Client.Seal, Client.CastTicket) fills in its
// part and is safe to run again: save the ticket before every step that
// talks to a service and resume from the saved one. Under
// last-ballot-counts the same ticket revotes: Seal again with other choices
// and cast, under the same token.
//
// A ticket is secret: whoever holds it can vote in the voter's name and
// knows which ballots are the voter's. Keep it readable by the voter only.
type Ticket struct {
	ElectionID  string   `json:"election_id"` // hex
	VoterID     string   `json:"voter_id"`
	TokenSecret string   `json:"token_secret"` // hex, the token key's secret scalar
	BlindSeed   string   `json:"blind_seed"`   // hex, token.SeedSize bytes
	Token       string   `json:"token,omitempty"`
	Choices     [][]int  `json:"choices,omitempty"` // what Ballot encrypts
	Ballot      string   `json:"ballot,omitempty"`  // base64
	Receipt     *Receipt `json:"receipt,omitempty"` // of Ballot, checked
	// Replaces is the receipt of the ballot a revote replaces: the new
	// ballot must come after it, in a log that extends it.
	Replaces *Receipt `json:"replaces,omitempty"`
	// Opening is the randomness of Ballot's ciphertexts (hex scalars, per
	// question, per encrypted choice: ballot.Opening), kept from Seal until
	// the ballot is sent, so that the voter may audit it instead (Audit).
	// CastTicket clears it before it sends the ballot: the opening of a
	// ballot that may be cast would only prove to a vote buyer how the
	// voter voted.
	Opening [][]string `json:"opening,omitempty"`
}

// NewTicket starts a ticket for voterID in election e, with a fresh token
// key and blinding seed from rnd (nil: crypto/rand).
func NewTicket(rnd io.Reader, e *ballot.Election, voterID string) (*Ticket, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	secret, _, err := ballot.GenerateTokenKey(rnd)
	if err != nil {
		return nil, err
	}
	var seed [token.SeedSize]byte
	if _, err := io.ReadFull(rnd, seed[:]); err != nil {
		return nil, err
	}
	return &Ticket{
		ElectionID: hex.EncodeToString(e.Manifest.ID()), VoterID: voterID,
		TokenSecret: hex.EncodeToString(secret.Bytes()), BlindSeed: hex.EncodeToString(seed[:]),
	}, nil
}

// Marshal encodes the ticket for saving.
func (t *Ticket) Marshal() []byte {
	b, _ := json.MarshalIndent(t, "", "  ")
	return append(b, '\n')
}

// ParseTicket decodes a saved ticket.
func ParseTicket(b []byte) (*Ticket, error) {
	var t Ticket
	if err := strictjson.Decode(b, &t); err != nil {
		return nil, fmt.Errorf("voter: ticket file: %w", err)
	}
	return &t, nil
}

// keys decodes the ticket's token key pair and blinding seed, checking the
// ticket is for election e.
func (t *Ticket) keys(e *ballot.Election) (*ristretto255.Scalar, *elgamal.PublicKey, [token.SeedSize]byte, error) {
	var seed [token.SeedSize]byte
	if t.ElectionID != hex.EncodeToString(e.Manifest.ID()) {
		return nil, nil, seed, fmt.Errorf("voter: the ticket is for election %.16s…, not this one (%x…)", t.ElectionID, e.Manifest.ID()[:8])
	}
	sb, err := hex.DecodeString(t.TokenSecret)
	if err != nil {
		return nil, nil, seed, errors.New("voter: the ticket's token_secret is not hex")
	}
	secret, err := elgamal.ParseScalar(sb)
	if err != nil {
		return nil, nil, seed, fmt.Errorf("voter: the ticket's token_secret: %w", err)
	}
	if b, err := hex.DecodeString(t.BlindSeed); err != nil || len(b) != len(seed) {
		return nil, nil, seed, errors.New("voter: the ticket's blind_seed is not 64 hex digits")
	} else {
		copy(seed[:], b)
	}
	pub, err := elgamal.NewPublicKey(ristretto255.NewIdentityElement().ScalarBaseMult(secret))
	if err != nil {
		return nil, nil, seed, fmt.Errorf("voter: the ticket's token_secret: %w", err)
	}
	return secret, pub, seed, nil
}

func (t *Ticket) token(e *ballot.Election) (*token.Token, error) {
	b, err := hex.DecodeString(t.Token)
	if err != nil {
		return nil, errors.New("voter: the ticket's token is not hex")
	}
	return token.ParseToken(e.Manifest.Issuer(), b)
}

// GetToken gets the ticket's token from the issuer, if it has none yet. It
// sends the blinded message the ticket's seed gives, the same every time,
// so after a lost reply the issuer answers again with the same signature
// instead of refusing a second token. secondFactor is the one-time code,
// "" until the issuer asks for it with an error matching
// [issuerapi.ErrSecondFactorRequired] (whose Factor and SentTo say which
// and where it was sent): then call again with it.
func (c *Client) GetToken(ctx context.Context, e *ballot.Election, t *Ticket, code, secondFactor string) error {
	if t.Token != "" {
		return nil
	}
	_, tokenKey, seed, err := t.keys(e)
	if err != nil {
		return err
	}
	// A token is one per voter: asking for it once the board has closed
	// would spend it on a ballot the board must refuse.
	if bi, err := c.Board.Election(ctx); err != nil {
		return err
	} else if bi.CloseIndex != 0 {
		return fmt.Errorf("%w: the board closed the election at entry %d; no ballot can be cast, and no token is asked for", boardapi.ErrClosed, bi.CloseIndex)
	}
	info, err := c.Issuer.Info(ctx)
	if err != nil {
		return err
	}
	if !info.PublicKey.Equal(e.Manifest.Issuer()) || !bytes.Equal(info.ElectionID, e.Manifest.ID()) {
		return errors.New("voter: the issuer's key or election is not the one the manifest names; refusing to use it")
	}
	blinded, st, err := token.BlindSeeded(seed, e.Manifest.Issuer(), e.Manifest.ID(), tokenKey.Bytes())
	if err != nil {
		return err
	}
	sig, err := c.Issuer.RequestToken(ctx, issuerapi.Credentials{VoterID: t.VoterID, Code: code, SecondFactor: secondFactor}, blinded)
	if err != nil {
		return err
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		return fmt.Errorf("voter: the issuer's signature does not verify: %w", err)
	}
	t.Token = hex.EncodeToString(tok.Bytes())
	return nil
}

// Seal encrypts selections (selections[q] lists question q's chosen choice
// indices, ascending) under the ticket's token, replacing any ballot and
// receipt the ticket held: the first ballot, or a revote. The ticket keeps
// the ballot's opening, so that the voter may audit the ballot (Audit)
// instead of casting it, and then Seal again.
func (c *Client) Seal(e *ballot.Election, t *Ticket, selections [][]int) error {
	secret, tokenKey, _, err := t.keys(e)
	if err != nil {
		return err
	}
	if t.Token == "" {
		return errors.New("voter: the ticket has no token yet (GetToken first)")
	}
	tok, err := t.token(e)
	if err != nil {
		return err
	}
	b, o, err := ballot.EncryptOpening(c.Rand, e, secret, tokenKey, tok, selections)
	if err != nil {
		return err
	}
	if t.Receipt != nil {
		t.Replaces = t.Receipt
	}
	// A question left blank is an empty list, never null: a saved ticket
	// must parse again (strict JSON refuses null).
	choices := make([][]int, len(selections))
	for q, sel := range selections {
		choices[q] = append([]int{}, sel...)
	}
	t.Ballot, t.Choices, t.Receipt = base64.StdEncoding.EncodeToString(b.Bytes()), choices, nil
	t.Opening = encodeOpening(o)
	return nil
}

// ForgetOpening drops the sealed ballot's opening, which an audit would
// reveal. Once sent, a ballot may be on the board (a lost reply leaves no
// way to tell), and it must never be audited: a device that saves its
// ticket calls ForgetOpening and saves the ticket before sending the
// ballot, so that no saved copy can open it. CastTicket calls it too.
func (t *Ticket) ForgetOpening() { t.Opening = nil }

// SameChoices reports whether the ticket's ballot encrypts selections.
func (t *Ticket) SameChoices(selections [][]int) bool {
	return slices.EqualFunc(t.Choices, selections, slices.Equal[[]int])
}

// CastTicket casts the ticket's ballot and keeps its checked receipt in the
// ticket. If the board already holds this very ballot
// ([boardapi.ErrBallotOnBoard]: a reply lost after the ballot became
// durable, or a second run), it fetches and checks that ballot's receipt
// instead of failing: casting again never loses the vote and never casts
// it twice. A token that voted with another ballot is refused with an
// error matching [boardapi.ErrAlreadyVoted]. It clears the ticket's
// opening before it sends the ballot, so the ticket it leaves, with the
// checked receipt or after a failure, holds none: a ballot that may have
// been cast is never audited.
func (c *Client) CastTicket(ctx context.Context, e *ballot.Election, t *Ticket) (*Receipt, error) {
	if t.Ballot == "" {
		return nil, errors.New("voter: the ticket has no ballot yet (Seal first)")
	}
	raw, err := base64.StdEncoding.DecodeString(t.Ballot)
	if err != nil {
		return nil, errors.New("voter: the ticket's ballot is not base64")
	}
	if t.Replaces != nil {
		prev, err := store.ParseCheckpoint([]byte(t.Replaces.Checkpoint), c.BoardKey)
		if err != nil {
			return nil, fmt.Errorf("voter: the replaced ballot's receipt: %w", err)
		}
		if err := c.extendsSeen(ctx, prev); err != nil {
			return nil, err
		}
	}
	t.ForgetOpening()
	rc, err := c.Cast(ctx, e, raw)
	switch {
	case errors.Is(err, boardapi.ErrBallotOnBoard):
		rc, err = c.receiptOf(ctx, e, raw)
	case errors.Is(err, boardapi.ErrClosed):
		// Closed since: a ballot sent before (its reply lost) is on the
		// board all the same, and its receipt is had by its code.
		if held, herr := c.receiptOf(ctx, e, raw); herr == nil {
			rc, err = held, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if t.Replaces != nil && rc.Index <= t.Replaces.Index {
		return nil, fmt.Errorf("voter: the board puts the revote at entry %d, not after the ballot it replaces (entry %d): it would not count", rc.Index, t.Replaces.Index)
	}
	t.Receipt = rc
	return rc, nil
}
