package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer/issuerapi"
)

// DefaultMaxFailures is how many wrong codes lock a voter out.
const DefaultMaxFailures = 10

// Errors [Issuer.Issue] returns; the HTTP API maps each to a status code.
var (
	// ErrBadCredentials means the voter ID is not on the roll or the code is
	// wrong; the two are not told apart. (HTTP 401)
	ErrBadCredentials = errors.New("issuer: voter ID or enrolment code is wrong; check both and try again")
	// ErrLocked means too many wrong codes were tried for this voter; the
	// election's help desk can unlock them. (HTTP 403)
	ErrLocked = errors.New("issuer: too many wrong enrolment codes for this voter; contact the election's help desk to unlock")
	// ErrBadRequest means the request is malformed (HTTP 400).
	ErrBadRequest = errors.New("issuer: bad request")
	// ErrNotTested is a code that was not tested because the voter is
	// locked out (the limit of wrong codes is reached), right or wrong. It
	// Is ErrBadCredentials and is answered as one (HTTP 401), so that a
	// stranger cannot tell a locked voter ID, one on the roll, from an
	// unknown one; the answer tells a voter sure of their code to ask the
	// help desk, which unlocks them.
	ErrNotTested error = notTested{}
)

type notTested struct{}

func (notTested) Error() string {
	return "issuer: voter ID or enrolment code is wrong (not tested: too many wrong codes for this voter)"
}
func (notTested) Is(target error) bool { return target == ErrBadCredentials }

// Config configures an [Issuer].
type Config struct {
	// ElectionID is the 32-byte election ID (the manifest's election_id) that tokens
	// are issued for.
	ElectionID []byte
	// Key is the issuing key.
	Key *token.PrivateKey
	// Roll is the voter roll.
	Roll Roll
	// MaxFailures is how many wrong codes lock a voter; 0 means
	// [DefaultMaxFailures].
	MaxFailures int
	// Logger receives operational events; nil discards them. Voter IDs,
	// codes, blinded messages and signatures are never logged.
	Logger *slog.Logger
}

// Issuer authenticates voters and issues one token per voter. It is safe
// for concurrent use.
type Issuer struct {
	electionID  []byte
	key         *token.PrivateKey
	roll        Roll
	maxFailures int
	log         *slog.Logger
	seed        maphash.Seed
	queues      [256]sync.Mutex
}

// New returns an Issuer for cfg.
func New(cfg Config) (*Issuer, error) {
	if len(cfg.ElectionID) != token.ElectionIDSize {
		return nil, fmt.Errorf("issuer: election ID is %d bytes, want %d", len(cfg.ElectionID), token.ElectionIDSize)
	}
	if cfg.Key == nil {
		return nil, errors.New("issuer: no issuing key configured")
	}
	if cfg.Roll == nil {
		return nil, errors.New("issuer: no voter roll configured")
	}
	if cfg.MaxFailures < 0 {
		return nil, fmt.Errorf("issuer: MaxFailures is %d, want 0 (default) or more", cfg.MaxFailures)
	}
	is := &Issuer{
		electionID:  bytes.Clone(cfg.ElectionID),
		key:         cfg.Key,
		roll:        cfg.Roll,
		maxFailures: cfg.MaxFailures,
		log:         cfg.Logger,
		seed:        maphash.MakeSeed(),
	}
	if is.maxFailures == 0 {
		is.maxFailures = DefaultMaxFailures
	}
	if is.log == nil {
		is.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return is, nil
}

// ElectionID returns the election ID tokens are issued for.
func (is *Issuer) ElectionID() []byte { return bytes.Clone(is.electionID) }

// PublicKey returns the issuer's public key.
func (is *Issuer) PublicKey() *token.PublicKey { return is.key.Public() }

// Issue authenticates voterID with code and returns the blind signature on
// blinded. A voter gets at most one blinded message signed: the same one
// again returns the same signature, another one [ErrAlreadyIssued]. Other
// errors: [ErrBadRequest] (malformed input), [ErrBadCredentials],
// [ErrLocked], [ErrPurged].
func (is *Issuer) Issue(ctx context.Context, voterID, code string, blinded []byte) ([]byte, error) {
	// The roll keeps ids normalised (NormalizeVoterID): a voter who types
	// "Rossi-1004" is the roll's "rossi-1004".
	voterID, err := NormalizeVoterID(voterID)
	if err != nil {
		return nil, badRequest(err)
	}
	if _, err := issuerapi.NormalizeCode(code); err != nil {
		return nil, badRequest(err)
	}
	if size := is.key.Public().Size(); len(blinded) != size {
		return nil, fmt.Errorf("%w: blinded message is %d bytes, want %d (the issuer key's modulus length)", ErrBadRequest, len(blinded), size)
	}

	rec, err := is.authenticate(ctx, voterID, code)
	if err != nil {
		return nil, err
	}
	if rec.Issued() {
		if bytes.Equal(rec.Blinded, blinded) {
			is.log.Info("token re-sent for a repeated request")
			return bytes.Clone(rec.BlindSig), nil
		}
		return nil, ErrAlreadyIssued
	}
	sig, err := is.key.Sign(blinded)
	if err != nil {
		if errors.Is(err, token.ErrMalformed) {
			return nil, badRequest(err)
		}
		is.log.Error("signing failed", "err", err)
		return nil, fmt.Errorf("issuer: signing: %w", err)
	}
	// The compare-and-set decides between concurrent requests.
	out, err := is.roll.SetIssued(ctx, voterID, blinded, sig)
	if err != nil {
		return nil, err
	}
	is.log.Info("token issued")
	return out, nil
}

func badRequest(err error) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, strings.TrimPrefix(err.Error(), "issuer: "))
}

// queue makes one voter's attempts in this process wait for each other. It
// is not what holds the limit (the roll does, below), but without it a
// voter's parallel requests would each take an attempt while the others
// are tested, and more of them than the attempts left would be refused as
// locked though the code is right; in line, they are tested one by one.
func (is *Issuer) queue(voterID string) *sync.Mutex {
	m := &is.queues[maphash.String(is.seed, voterID)%uint64(len(is.queues))]
	m.Lock()
	return m
}

// authenticate checks the code and counts failures. The attempt is counted
// in the roll before the code is tested, in one compare-and-set
// (Roll.TakeAttempt), and given back if the code is right: so the limit
// holds however many requests, and issuer processes sharing the roll, test
// codes for one voter at once. (While a right code is being tested, the
// voter's count is one higher: if requests for one voter reach several
// issuers at once, at the limit's last attempts one may be refused as
// locked, which errs on the safe side.)
func (is *Issuer) authenticate(ctx context.Context, voterID, code string) (RollEntry, error) {
	mu := is.queue(voterID)
	defer mu.Unlock()
	rec, err := is.roll.TakeAttempt(ctx, voterID, is.maxFailures)
	if errors.Is(err, ErrUnknownVoter) {
		dummyHash.Verify(code) // same cost as a known voter
		return RollEntry{}, ErrBadCredentials
	}
	if errors.Is(err, ErrLocked) {
		// A locked voter's code is not tested, the right one neither (so
		// the limit bounds the codes ever tested), and the answer is the
		// one an unknown ID or a wrong code gets: a stranger who tries ten
		// codes for a guessed ID learns nothing, from a 403, about whether
		// it is on the roll (SECURITY.md). The message tells a voter sure
		// of their code to ask the help desk.
		dummyHash.Verify(code) // the time a tested code takes
		return RollEntry{}, ErrNotTested
	}
	if err != nil {
		return RollEntry{}, err
	}
	if !rec.Code.Verify(code) {
		if rec.Failures >= is.maxFailures {
			// No voter ID: the log must not say who tried (SECURITY.md).
			// The voter, with the right code, is told (403) and brings
			// their ID to the help desk; others keep getting 401.
			is.log.Warn("a voter was locked out after wrong enrolment codes", "failures", rec.Failures)
		}
		return RollEntry{}, ErrBadCredentials
	}
	if err := is.roll.ReturnAttempt(ctx, voterID); err != nil {
		return RollEntry{}, err
	}
	rec.Failures--
	return rec, nil
}

// Unlock clears a voter's failure count, after the help desk has checked
// who is asking.
func (is *Issuer) Unlock(ctx context.Context, voterID string) error {
	if err := is.roll.ResetFailures(ctx, voterID); err != nil {
		return err
	}
	is.log.Info("a voter was unlocked") // no voter ID, as for the lockout
	return nil
}

// Counts returns the number of eligible voters and of tokens issued.
func (is *Issuer) Counts(ctx context.Context) (Counts, error) { return is.roll.Counts(ctx) }

// Purge deletes the roll after the election, keeping only the counts of
// eligible voters and issued tokens, and returns them. From then on every
// request gets [ErrPurged].
func (is *Issuer) Purge(ctx context.Context) (Counts, error) {
	c, err := is.roll.Purge(ctx)
	if err != nil {
		return Counts{}, err
	}
	is.log.Info("voter roll purged", "eligible", c.Eligible, "issued", c.Issued)
	return c, nil
}
