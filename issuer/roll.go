package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Errors a [Roll] returns, which [Issuer] and callers test with errors.Is.
var (
	// ErrUnknownVoter means the voter ID is not on the roll.
	ErrUnknownVoter = errors.New("issuer: voter is not on the roll")
	// ErrDuplicateVoter means a voter ID is on the roll already.
	ErrDuplicateVoter = errors.New("issuer: voter is already on the roll")
	// ErrAlreadyIssued means the voter has a token for another blinded
	// message; send the blinded message of the first request again.
	ErrAlreadyIssued = errors.New("issuer: a token was already issued to this voter for a different blinded message; resend the first request's blinded message to get its signature again")
	// ErrPurged means the roll was purged after the election; only the
	// counts remain and no tokens are issued any more.
	ErrPurged = errors.New("issuer: the voter roll was purged after the election; no tokens are issued any more")
	// ErrRollUnavailable means the roll's storage could not be reached (a
	// database server down or restarting, a connection lost): a roll on a
	// networked engine wraps it, and the HTTP API answers 503 with
	// Retry-After. The request may be sent again as it is: a change the
	// roll did not take is simply made then, and one it did take (its
	// answer lost with the connection) is found made: a token already
	// issued is given again for the same blinded message, never a second.
	ErrRollUnavailable = errors.New("issuer: the voter roll could not be reached; retry in a few seconds (sending the same request again is safe)")
)

// RollEntry is one voter on the roll.
type RollEntry struct {
	VoterID string   `json:"id"`
	Code    CodeHash `json:"code"`
	// Failures counts wrong codes (enrolment codes and second factors)
	// since the roll was imported or the voter was last unlocked, from
	// every address; the help desk reads it. It stops nothing: Backoffs do.
	Failures int `json:"failures,omitempty"`
	// Backoffs are the per-address back-offs of wrong codes (guard.go).
	Backoffs []Backoff `json:"backoffs,omitempty"`
	// Blinded and BlindSig are the one blinded message signed for this
	// voter and its signature; both nil until a token is issued.
	Blinded  []byte `json:"blinded,omitempty"`
	BlindSig []byte `json:"blind_sig,omitempty"`
	// Contact is where the voter's one-time codes go (an e-mail address,
	// a phone number, a language), sealed with the issuer's roll key
	// (seal.go); nil if none was imported.
	Contact []byte `json:"contact,omitempty"`
	// TOTP is the secret of the authenticator app the voter enrolled,
	// sealed as Contact; nil if none. TOTPStep is the last RFC 6238 time
	// step whose code was accepted: a code is accepted once (§5.2).
	TOTP     []byte `json:"totp,omitempty"`
	TOTPStep int64  `json:"totp_step,omitempty"`
	// TOTPWrong counts wrong TOTP codes since TOTPWindow began (Unix
	// seconds): the voter's cap, whatever the addresses (secondfactor.go).
	TOTPWrong  int   `json:"totp_wrong,omitempty"`
	TOTPWindow int64 `json:"totp_window,omitempty"`
	// OTP is the one-time code last sent to the voter, nil if none.
	OTP *SentCode `json:"otp,omitempty"`
}

// Issued reports whether a token was issued to the voter.
func (r *RollEntry) Issued() bool { return r.Blinded != nil }

// Counts is what remains of a roll after [Roll.Purge].
type Counts struct {
	Eligible int  `json:"eligible"`
	Issued   int  `json:"issued"`
	Purged   bool `json:"purged"`
}

// Roll stores the voter roll. It is the issuer's storage seam: package
// issuer/bolt is the embedded default, [MemRoll] the in-memory reference,
// and a networked engine can implement it later; package issuer/rolltest
// is the conformance suite every Roll must pass. Implementations must be
// safe for concurrent use, from one process or, for a roll several issuer
// replicas share, from many, and each method must be atomic on its own
// (one transaction). After [Roll.Purge] every method but Counts and Close
// returns [ErrPurged].
//
// Every decision the issuer takes on one voter (an attempt counted, a
// one-time code stored or spent, a token issued) is one [Roll.Update], a
// read-modify-write of the voter's entry in one transaction: so the
// limits and the one token per voter hold however many requests, and
// issuer processes sharing the roll, decide for one voter at once.
type Roll interface {
	// Add adds voters, all or none: it fails with [ErrDuplicateVoter] if
	// any ID is on the roll already (or twice in recs), and with
	// [ErrIssuanceStarted] once any token was issued, decided in the same
	// transaction as the add.
	Add(ctx context.Context, recs []RollEntry) error
	// Get returns a voter's entry, or [ErrUnknownVoter].
	Get(ctx context.Context, voterID string) (RollEntry, error)
	// Update reads the voter's entry and calls change on it; if change
	// returns nil, it writes the changed entry, in the same transaction,
	// and returns it; if change returns an error, it writes nothing and
	// returns that error. change may be called more than once (a retried
	// transaction), so it must not act outside the entry it is given; it
	// may not change the VoterID. The roll keeps its count of issued tokens
	// (Counts) as entries become Issued. For a voter ID not on the roll it
	// returns [ErrUnknownVoter] after a write of the same cost, so that the
	// time an answer takes does not tell who is on the roll.
	Update(ctx context.Context, voterID string, change func(*RollEntry) error) (RollEntry, error)
	// Counts returns the number of voters on the roll and of tokens issued.
	Counts(ctx context.Context) (Counts, error)
	// Purge deletes every entry, keeping only the counts, and returns
	// them. Purging twice returns the same counts.
	Purge(ctx context.Context) (Counts, error)
	// Close releases the roll's resources.
	Close() error
}

// Issue is the one-token-per-voter decision on one entry, a
// compare-and-set inside [Roll.Update]: it records sig for blinded unless
// another blinded message was signed already ([ErrAlreadyIssued]), and
// returns the signature to hand out: the stored one if the same blinded
// message was signed before.
func (rec *RollEntry) Issue(blinded, sig []byte) ([]byte, error) {
	if rec.Issued() {
		if bytes.Equal(rec.Blinded, blinded) {
			return bytes.Clone(rec.BlindSig), nil
		}
		return nil, ErrAlreadyIssued
	}
	if len(blinded) == 0 || len(sig) == 0 {
		return nil, errors.New("issuer: Issue needs a blinded message and a signature")
	}
	rec.Blinded = bytes.Clone(blinded)
	rec.BlindSig = bytes.Clone(sig)
	return bytes.Clone(sig), nil
}

// Clone returns a deep copy of the entry.
func (rec *RollEntry) Clone() RollEntry {
	c := *rec
	c.Code.Salt = bytes.Clone(rec.Code.Salt)
	c.Code.Sum = bytes.Clone(rec.Code.Sum)
	c.Blinded = bytes.Clone(rec.Blinded)
	c.BlindSig = bytes.Clone(rec.BlindSig)
	c.Contact = bytes.Clone(rec.Contact)
	c.TOTP = bytes.Clone(rec.TOTP)
	c.Backoffs = slices.Clone(rec.Backoffs)
	for i := range c.Backoffs {
		c.Backoffs[i].Addr = bytes.Clone(rec.Backoffs[i].Addr)
	}
	if rec.OTP != nil {
		o := *rec.OTP
		o.Sum = bytes.Clone(rec.OTP.Sum)
		c.OTP = &o
	}
	return c
}

// ApplyUpdate is Roll.Update's step on an entry read from storage, for
// every Roll implementation: it runs change on a copy and returns the new
// entry and the change to the count of issued tokens (0 or 1).
func ApplyUpdate(cur *RollEntry, change func(*RollEntry) error) (RollEntry, int, error) {
	next := cur.Clone()
	if err := change(&next); err != nil {
		return RollEntry{}, 0, err
	}
	if next.VoterID != cur.VoterID {
		return RollEntry{}, 0, errors.New("issuer: a roll update may not change the voter ID")
	}
	if cur.Issued() && !next.Issued() {
		return RollEntry{}, 0, errors.New("issuer: a roll update may not take back an issued token")
	}
	issued := 0
	if next.Issued() && !cur.Issued() {
		issued = 1
	}
	return next, issued, nil
}

// MemRoll is the in-memory reference [Roll], for tests and trials: one
// MemRoll may serve many [Issuer] values, as one database serves many
// issuer replicas.
type MemRoll struct {
	mu     sync.Mutex
	voters map[string]*RollEntry
	counts Counts
}

// NewMemRoll returns an empty in-memory roll.
func NewMemRoll() *MemRoll { return &MemRoll{voters: make(map[string]*RollEntry)} }

// Add implements [Roll].
func (m *MemRoll) Add(ctx context.Context, recs []RollEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts.Purged {
		return ErrPurged
	}
	if m.counts.Issued > 0 {
		return ErrIssuanceStarted
	}
	batch := make(map[string]bool, len(recs))
	for i := range recs {
		id := recs[i].VoterID
		if err := CheckVoterID(id); err != nil {
			return err
		}
		if _, ok := m.voters[id]; ok || batch[id] {
			return fmt.Errorf("%w: %q", ErrDuplicateVoter, id)
		}
		batch[id] = true
	}
	for i := range recs {
		r := recs[i].Clone()
		m.voters[r.VoterID] = &r
		m.counts.Eligible++
		if r.Issued() {
			m.counts.Issued++
		}
	}
	return nil
}

func (m *MemRoll) lookup(voterID string) (*RollEntry, error) {
	if m.counts.Purged {
		return nil, ErrPurged
	}
	r, ok := m.voters[voterID]
	if !ok {
		return nil, ErrUnknownVoter
	}
	return r, nil
}

// Get implements [Roll].
func (m *MemRoll) Get(ctx context.Context, voterID string) (RollEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.lookup(voterID)
	if err != nil {
		return RollEntry{}, err
	}
	return r.Clone(), nil
}

// Update implements [Roll].
func (m *MemRoll) Update(ctx context.Context, voterID string, change func(*RollEntry) error) (RollEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.lookup(voterID)
	if err != nil {
		return RollEntry{}, err
	}
	next, issued, err := ApplyUpdate(r, change)
	if err != nil {
		return RollEntry{}, err
	}
	*r = next
	m.counts.Issued += issued
	return next.Clone(), nil
}

// Counts implements [Roll].
func (m *MemRoll) Counts(ctx context.Context) (Counts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts, nil
}

// Purge implements [Roll].
func (m *MemRoll) Purge(ctx context.Context) (Counts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.voters = nil
	m.counts.Purged = true
	return m.counts, nil
}

// Close implements [Roll].
func (m *MemRoll) Close() error { return nil }
