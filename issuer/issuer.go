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
)

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
	stripes     [256]sync.Mutex
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

// lock serialises the attempts for one voter in this process, so parallel
// requests cannot test more codes than the lockout allows.
func (is *Issuer) lock(voterID string) *sync.Mutex {
	m := &is.stripes[maphash.String(is.seed, voterID)%uint64(len(is.stripes))]
	m.Lock()
	return m
}

// Issue authenticates voterID with code and returns the blind signature on
// blinded. A voter gets at most one blinded message signed: the same one
// again returns the same signature, another one [ErrAlreadyIssued]. Other
// errors: [ErrBadRequest] (malformed input), [ErrBadCredentials],
// [ErrLocked], [ErrPurged].
func (is *Issuer) Issue(ctx context.Context, voterID, code string, blinded []byte) ([]byte, error) {
	if err := CheckVoterID(voterID); err != nil {
		return nil, badRequest(err)
	}
	if _, err := NormalizeCode(code); err != nil {
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

// authenticate checks the code under the voter's lock and counts failures.
func (is *Issuer) authenticate(ctx context.Context, voterID, code string) (Record, error) {
	mu := is.lock(voterID)
	defer mu.Unlock()
	rec, err := is.roll.Get(ctx, voterID)
	if errors.Is(err, ErrUnknownVoter) {
		dummyHash.Verify(code) // same cost as a known voter
		return Record{}, ErrBadCredentials
	}
	if err != nil {
		return Record{}, err
	}
	if rec.Failures >= is.maxFailures {
		return Record{}, ErrLocked
	}
	if !rec.Code.Verify(code) {
		n, err := is.roll.AddFailure(ctx, voterID)
		if err != nil {
			return Record{}, err
		}
		if n >= is.maxFailures {
			// No voter ID: the log must not say who tried (SECURITY.md).
			// The voter is told (403) and brings their ID to the help desk.
			is.log.Warn("a voter was locked out after wrong enrolment codes", "failures", n)
		}
		return Record{}, ErrBadCredentials
	}
	return rec, nil
}

// Unlock clears a voter's failure count, after the help desk has checked
// who is asking.
func (is *Issuer) Unlock(ctx context.Context, voterID string) error {
	mu := is.lock(voterID)
	defer mu.Unlock()
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
