package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
)

// RollEntry is one voter on the roll.
type RollEntry struct {
	VoterID string   `json:"id"`
	Code    CodeHash `json:"code"`
	// Failures counts wrong codes since the roll was imported or the voter
	// was last unlocked, and the attempts being tested right now (see
	// [Roll.TakeAttempt]).
	Failures int `json:"failures,omitempty"`
	// Blinded and BlindSig are the one blinded message signed for this
	// voter and its signature; both nil until a token is issued.
	Blinded  []byte `json:"blinded,omitempty"`
	BlindSig []byte `json:"blind_sig,omitempty"`
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
type Roll interface {
	// Add adds voters, all or none: it fails with [ErrDuplicateVoter] if
	// any ID is on the roll already (or twice in recs).
	Add(ctx context.Context, recs []RollEntry) error
	// Get returns a voter's entry, or [ErrUnknownVoter].
	Get(ctx context.Context, voterID string) (RollEntry, error)
	// TakeAttempt is the guess limit, a compare-and-set on the voter's
	// failure count: if the count is below limit it adds one and returns
	// the entry with the new count; otherwise it returns [ErrLocked] and
	// changes nothing. An attempt is counted as a failure before its code
	// is tested, and given back with ReturnAttempt if the code was right,
	// so however many requests and issuer replicas test codes for one
	// voter at once, at most limit wrong codes are ever tested.
	TakeAttempt(ctx context.Context, voterID string, limit int) (RollEntry, error)
	// ReturnAttempt gives back an attempt TakeAttempt took whose code was
	// right: it subtracts one from the failure count, never below zero.
	ReturnAttempt(ctx context.Context, voterID string) error
	// ResetFailures sets a voter's failure count to zero.
	ResetFailures(ctx context.Context, voterID string) error
	// SetIssued is the one-token-per-voter decision, a compare-and-set: if
	// the voter has no token yet it stores blinded and sig and returns sig;
	// if it has one for the same blinded message it returns the stored
	// signature; otherwise it returns [ErrAlreadyIssued].
	SetIssued(ctx context.Context, voterID string, blinded, sig []byte) ([]byte, error)
	// Counts returns the number of voters on the roll and of tokens issued.
	Counts(ctx context.Context) (Counts, error)
	// Purge deletes every entry, keeping only the counts, and returns
	// them. Purging twice returns the same counts.
	Purge(ctx context.Context) (Counts, error)
	// Close releases the roll's resources.
	Close() error
}

// TakeAttempt is Roll.TakeAttempt's decision on one entry, for every Roll
// implementation: it reports whether an attempt may be taken under limit
// and, if so, counts it.
func (rec *RollEntry) TakeAttempt(limit int) error {
	if rec.Failures >= limit {
		return ErrLocked
	}
	rec.Failures++
	return nil
}

// ReturnAttempt is Roll.ReturnAttempt's change to one record.
func (rec *RollEntry) ReturnAttempt() {
	if rec.Failures > 0 {
		rec.Failures--
	}
}

// Issue is Roll.SetIssued's decision on one entry, for every Roll
// implementation: it records sig for blinded unless another blinded message
// was signed already, and returns the signature to hand out and whether the
// entry changed.
func (rec *RollEntry) Issue(blinded, sig []byte) (out []byte, changed bool, err error) {
	if rec.Issued() {
		if bytes.Equal(rec.Blinded, blinded) {
			return bytes.Clone(rec.BlindSig), false, nil
		}
		return nil, false, ErrAlreadyIssued
	}
	if len(blinded) == 0 || len(sig) == 0 {
		return nil, false, errors.New("issuer: SetIssued needs a blinded message and a signature")
	}
	rec.Blinded = bytes.Clone(blinded)
	rec.BlindSig = bytes.Clone(sig)
	return bytes.Clone(sig), true, nil
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

func cloneRecord(r *RollEntry) RollEntry {
	c := *r
	c.Code.Salt = bytes.Clone(r.Code.Salt)
	c.Code.Sum = bytes.Clone(r.Code.Sum)
	c.Blinded = bytes.Clone(r.Blinded)
	c.BlindSig = bytes.Clone(r.BlindSig)
	return c
}

// Add implements [Roll].
func (m *MemRoll) Add(ctx context.Context, recs []RollEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts.Purged {
		return ErrPurged
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
		r := cloneRecord(&recs[i])
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
	return cloneRecord(r), nil
}

// TakeAttempt implements [Roll].
func (m *MemRoll) TakeAttempt(ctx context.Context, voterID string, limit int) (RollEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.lookup(voterID)
	if err != nil {
		return RollEntry{}, err
	}
	if err := r.TakeAttempt(limit); err != nil {
		return RollEntry{}, err
	}
	return cloneRecord(r), nil
}

// ReturnAttempt implements [Roll].
func (m *MemRoll) ReturnAttempt(ctx context.Context, voterID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.lookup(voterID)
	if err != nil {
		return err
	}
	r.ReturnAttempt()
	return nil
}

// ResetFailures implements [Roll].
func (m *MemRoll) ResetFailures(ctx context.Context, voterID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.lookup(voterID)
	if err != nil {
		return err
	}
	r.Failures = 0
	return nil
}

// SetIssued implements [Roll].
func (m *MemRoll) SetIssued(ctx context.Context, voterID string, blinded, sig []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.lookup(voterID)
	if err != nil {
		return nil, err
	}
	out, changed, err := r.Issue(blinded, sig)
	if changed {
		m.counts.Issued++
	}
	return out, err
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
