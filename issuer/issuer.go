package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer/issuerapi"
)

// Errors [Issuer.Issue] returns; the HTTP API maps each to a status code.
var (
	// ErrBadCredentials means the voter ID is not on the roll or the code is
	// wrong; the two are not told apart. (HTTP 401)
	ErrBadCredentials = errors.New("issuer: voter ID or enrolment code is wrong; check both and try again")
	// ErrBadRequest means the request is malformed (HTTP 400).
	ErrBadRequest = errors.New("issuer: bad request")
	// ErrNotTested is a code that was not tested because its address must
	// wait after too many wrong codes for this voter (guard.go). It Is
	// ErrBadCredentials and is answered as one (HTTP 401, the same time),
	// so that a stranger cannot tell a voter ID in back-off, one on the
	// roll, from an unknown one; the answer tells a voter sure of their
	// code to wait a few minutes.
	ErrNotTested error = notTested{}
)

type notTested struct{}

func (notTested) Error() string {
	return "issuer: voter ID or enrolment code is wrong (not tested: too many wrong codes for this voter from this address; wait)"
}
func (notTested) Is(target error) bool { return target == ErrBadCredentials }

// Config configures an [Issuer].
type Config struct {
	// ElectionID is the 32-byte election ID (the manifest's election_id) that tokens
	// are issued for.
	ElectionID []byte
	// Key is the issuing key. The roll key (seal.go) is derived from it.
	Key *token.PrivateKey
	// Roll is the voter roll.
	Roll Roll
	// SecondFactor is the second factor asked for after the enrolment
	// code: issuerapi.FactorEmail or FactorSMS (a one-time code sent by
	// Sender to the voter's contact), or "" for none. A voter who enrolled
	// an authenticator app (EnrolTOTP) is asked for its code instead,
	// whatever SecondFactor says.
	SecondFactor string
	// Sender sends the one-time codes; needed when SecondFactor is set.
	Sender Sender
	// Now is the clock for back-offs and one-time codes; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives operational events; nil discards them. Voter IDs,
	// codes, contacts, blinded messages and signatures are never logged.
	Logger *slog.Logger
}

// Issuer authenticates voters and issues one token per voter. It is safe
// for concurrent use.
type Issuer struct {
	electionID   []byte
	key          *token.PrivateKey
	rollKey      []byte
	roll         Roll
	secondFactor string
	sender       Sender
	now          func() time.Time
	log          *slog.Logger
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
	switch cfg.SecondFactor {
	case "":
	case issuerapi.FactorEmail, issuerapi.FactorSMS:
		if cfg.Sender == nil {
			return nil, fmt.Errorf("issuer: the second factor %q needs a Sender for its one-time codes", cfg.SecondFactor)
		}
	default:
		return nil, fmt.Errorf("issuer: second factor %q is not one of %q, %q or none", cfg.SecondFactor, issuerapi.FactorEmail, issuerapi.FactorSMS)
	}
	is := &Issuer{
		electionID:   bytes.Clone(cfg.ElectionID),
		key:          cfg.Key,
		rollKey:      cfg.Key.DeriveSecret(rollKeyLabel),
		roll:         cfg.Roll,
		secondFactor: cfg.SecondFactor,
		sender:       cfg.Sender,
		now:          cfg.Now,
		log:          cfg.Logger,
	}
	if is.now == nil {
		is.now = time.Now
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

// SecondFactor returns the second factor the issuer asks for
// (issuerapi.FactorEmail or FactorSMS), or "" for none.
func (is *Issuer) SecondFactor() string { return is.secondFactor }

// Issue authenticates a voter and returns the blind signature on blinded.
// A voter gets at most one blinded message signed: the same one again
// returns the same signature (with the enrolment code alone: only the
// voter's device can make that blinded message), another one
// [ErrAlreadyIssued]. addr is the client's address, which wrong codes back
// off by (guard.go); "" is one address for every request. With a second
// factor configured, a request without cred.SecondFactor is answered
// [ErrSecondFactorRequired] (after a one-time code is sent) and one with a
// wrong one [ErrBadSecondFactor], both [*SecondFactorError]s. Other
// errors: [ErrBadRequest] (malformed input), [ErrBadCredentials] (or
// [ErrNotTested], which Is it), [ErrNoSecondFactor], [ErrTooManyCodes],
// [ErrSendFailed], [ErrPurged].
func (is *Issuer) Issue(ctx context.Context, cred issuerapi.Credentials, blinded []byte, addr string) ([]byte, error) {
	// The roll keeps ids normalised (NormalizeVoterID): a voter who types
	// "Rossi-1004" is the roll's "rossi-1004".
	voterID, err := NormalizeVoterID(cred.VoterID)
	if err != nil {
		return nil, badRequest(err)
	}
	code := cred.Code
	if _, err := issuerapi.NormalizeCode(code); err != nil {
		return nil, badRequest(err)
	}
	second := ""
	if cred.SecondFactor != "" {
		if second, err = NormalizeSecondFactor(cred.SecondFactor); err != nil {
			return nil, badRequest(err)
		}
	}
	if size := is.key.Public().Size(); len(blinded) != size {
		return nil, fmt.Errorf("%w: blinded message is %d bytes, want %d (the issuer key's modulus length)", ErrBadRequest, len(blinded), size)
	}

	tag := is.addrTag(addr)
	rec, err := is.authenticate(ctx, voterID, code, tag)
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
	if is.secondFactor != "" || rec.TOTP != nil {
		if err := is.secondFactorCheck(ctx, rec, second, string(tag)); err != nil {
			return nil, err
		}
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
	var out []byte
	if _, err := is.roll.Update(ctx, voterID, func(r *RollEntry) error {
		out, err = r.Issue(blinded, sig)
		if err == nil {
			r.succeed(tag)
		}
		return err
	}); err != nil {
		return nil, err
	}
	is.log.Info("token issued")
	return out, nil
}

func badRequest(err error) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, strings.TrimPrefix(err.Error(), "issuer: "))
}

// authenticate checks the enrolment code, with the back-off of the
// client's address (tag) for this voter. The attempt is counted as a wrong
// code in the roll before the code is tested, in one Update, and given
// back if the code is right: so however many requests, and issuer
// processes sharing the roll, test codes for one voter from one address at
// once, at most FreeFailures+1 are tested before the address must wait.
// Requests for one voter are not queued behind each other: a queue let
// one address, within its rate, keep a voter's requests waiting 14 s and
// then fill the issuer's in-flight bound for everyone; unqueued, a voter's
// own parallel requests may find their address waiting though their code
// is right (the booth sends one at a time).
// Every path costs one roll write and one code hash, for a voter on the
// roll or not, waiting or not, so that neither the answer nor its time
// tells a stranger who is on the roll.
func (is *Issuer) authenticate(ctx context.Context, voterID, code string, tag []byte) (RollEntry, error) {
	now := is.now()
	var waiting bool
	rec, err := is.roll.Update(ctx, voterID, func(r *RollEntry) error {
		waiting = r.waiting(tag, now)
		if !waiting {
			r.fail(tag, now)
		}
		return nil // written either way, for the time's sake
	})
	if errors.Is(err, ErrUnknownVoter) {
		dummyHash.Verify(code) // same cost as a known voter
		return RollEntry{}, ErrBadCredentials
	}
	if err != nil {
		return RollEntry{}, err
	}
	if waiting {
		// Not tested, the right code neither (so the back-off bounds the
		// codes tested), and answered as an unknown ID or a wrong code is.
		dummyHash.Verify(code) // the time a tested code takes
		return RollEntry{}, ErrNotTested
	}
	if !rec.Code.Verify(code) {
		// Not logged: a line for a voter on the roll and none for an
		// unknown ID would tell the log's reader who is on it.
		return RollEntry{}, ErrBadCredentials
	}
	// Give the attempt back; the address's back-off is cleared once the
	// token is issued (Issue), not yet: a wrong second factor still counts.
	return is.roll.Update(ctx, voterID, func(r *RollEntry) error {
		r.unfail(tag)
		return nil
	})
}

// Unlock clears a voter's failure count and every back-off, after the
// help desk has checked who is asking.
func (is *Issuer) Unlock(ctx context.Context, voterID string) error {
	voterID, err := NormalizeVoterID(voterID)
	if err != nil {
		return err
	}
	if _, err := is.roll.Update(ctx, voterID, func(r *RollEntry) error {
		r.Failures, r.Backoffs, r.TOTPWrong = 0, nil, 0
		return nil
	}); err != nil {
		return err
	}
	is.log.Info("a voter was unlocked") // no voter ID, as for the back-off
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
