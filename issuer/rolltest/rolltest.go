// Package rolltest is the conformance suite of [issuer.Roll], the issuer's
// storage seam: what every roll must do for the issuer over it to give one
// token per voter and hold the guess limit. A roll's tests call [Run] with
// a constructor; issuer runs it on [issuer.MemRoll], the reference, and
// issuer/bolt on bbolt. A new roll (PostgreSQL next) passes it first.
//
// Beyond each method's contract it checks the two decisions that must hold
// across issuer replicas sharing one roll: SetIssued signs one blinded
// message per voter however requests race, and TakeAttempt lets exactly the
// limit's number of wrong codes be tested, here with two [issuer.Issuer]
// values guessing at once.
package rolltest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer"
)

// NewRoll returns a new, empty roll; the suite closes it.
type NewRoll func(t testing.TB) issuer.Roll

// Run runs the conformance suite on the rolls newRoll makes.
func Run(t *testing.T, newRoll NewRoll) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, issuer.Roll)
	}{
		{"Add", testAdd},
		{"Attempts", testAttempts},
		{"AttemptsConcurrent", testAttemptsConcurrent},
		{"SetIssued", testSetIssued},
		{"SetIssuedConcurrent", testSetIssuedConcurrent},
		{"UnknownVoter", testUnknownVoter},
		{"Purge", testPurge},
		{"TwoIssuersOneRoll", testTwoIssuers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRoll(t)
			defer r.Close()
			tc.run(t, r)
		})
	}
}

var ctx = context.Background()

const code = "00000-00000-00000-00000"

func hash(t testing.TB, code string) issuer.CodeHash {
	t.Helper()
	h, err := issuer.HashCode(code)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func add(t testing.TB, r issuer.Roll, ids ...string) {
	t.Helper()
	h := hash(t, code)
	recs := make([]issuer.RollEntry, len(ids))
	for i, id := range ids {
		recs[i] = issuer.RollEntry{VoterID: id, Code: h}
	}
	if err := r.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// Add is all or nothing; Get returns the record, a copy of it.
func testAdd(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "c"}, {VoterID: "a"}}); !errors.Is(err, issuer.ErrDuplicateVoter) {
		t.Fatalf("Add of a voter on the roll: %v", err)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "d"}, {VoterID: "d"}}); !errors.Is(err, issuer.ErrDuplicateVoter) {
		t.Fatalf("Add of one voter twice: %v", err)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "e"}, {VoterID: ""}}); err == nil {
		t.Fatal("Add of an empty voter ID")
	}
	for _, id := range []string{"c", "d", "e"} {
		if _, err := r.Get(ctx, id); !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Fatalf("voter %q of a refused Add: %v; Add is all or nothing", id, err)
		}
	}
	if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: 2}) {
		t.Fatalf("Counts after refused Adds = %+v, %v", c, err)
	}
	rec, err := r.Get(ctx, "a")
	if err != nil || rec.VoterID != "a" || !rec.Code.Verify("0000000000000000000O") || rec.Code.Verify("00000000000000000001") || rec.Issued() || rec.Failures != 0 {
		t.Fatalf("Get(a) = %+v, %v", rec, err)
	}
	clear(rec.Code.Sum)
	if again, _ := r.Get(ctx, "a"); !again.Code.Verify(code) {
		t.Fatal("changing a record Get returned changed the roll: Get must return a copy")
	}
	issued := issuer.RollEntry{VoterID: "f", Code: hash(t, code), Blinded: []byte("b"), BlindSig: []byte("s")}
	if err := r.Add(ctx, []issuer.RollEntry{issued}); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.Counts(ctx); c != (issuer.Counts{Eligible: 3, Issued: 1}) {
		t.Fatalf("Counts after adding an issued record = %+v", c)
	}
}

// TakeAttempt counts up to the limit and no further; ReturnAttempt and
// ResetFailures count down.
func testAttempts(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	for i := 1; i <= 3; i++ {
		rec, err := r.TakeAttempt(ctx, "a", 3)
		if err != nil || rec.Failures != i || rec.VoterID != "a" || !rec.Code.Verify(code) {
			t.Fatalf("attempt %d: %+v, %v", i, rec, err)
		}
	}
	if _, err := r.TakeAttempt(ctx, "a", 3); !errors.Is(err, issuer.ErrLocked) {
		t.Fatalf("an attempt beyond the limit: %v, want ErrLocked", err)
	}
	if rec, _ := r.Get(ctx, "a"); rec.Failures != 3 {
		t.Fatalf("a refused attempt changed the count to %d", rec.Failures)
	}
	if rec, err := r.TakeAttempt(ctx, "a", 4); err != nil || rec.Failures != 4 {
		t.Fatalf("an attempt under a higher limit: %+v, %v", rec, err)
	}
	if err := r.ReturnAttempt(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := r.Get(ctx, "a"); rec.Failures != 3 {
		t.Fatalf("after ReturnAttempt, failures = %d, want 3", rec.Failures)
	}
	if err := r.ResetFailures(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := r.Get(ctx, "a"); rec.Failures != 0 {
		t.Fatalf("after ResetFailures, failures = %d", rec.Failures)
	}
	if err := r.ReturnAttempt(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := r.Get(ctx, "a"); rec.Failures != 0 {
		t.Fatalf("ReturnAttempt at zero made the count %d", rec.Failures)
	}
	if rec, _ := r.Get(ctx, "b"); rec.Failures != 0 {
		t.Fatalf("another voter's attempts counted for b: %d", rec.Failures)
	}
}

// Attempts raced on one voter are counted one by one: exactly limit are
// taken.
func testAttemptsConcurrent(t *testing.T, r issuer.Roll) {
	add(t, r, "v")
	const limit, tries = 10, 64
	var taken, locked atomic.Int64
	var wg sync.WaitGroup
	for range tries {
		wg.Go(func() {
			_, err := r.TakeAttempt(ctx, "v", limit)
			switch {
			case err == nil:
				taken.Add(1)
			case errors.Is(err, issuer.ErrLocked):
				locked.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if taken.Load() != limit || locked.Load() != tries-limit {
		t.Fatalf("%d attempts raced under a limit of %d: %d taken, %d locked", tries, limit, taken.Load(), locked.Load())
	}
	if rec, _ := r.Get(ctx, "v"); rec.Failures != limit {
		t.Fatalf("failures = %d, want %d", rec.Failures, limit)
	}
}

func testSetIssued(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	s, err := r.SetIssued(ctx, "a", []byte("b1"), []byte("s1"))
	if err != nil || string(s) != "s1" {
		t.Fatalf("SetIssued = %q, %v", s, err)
	}
	if s, err := r.SetIssued(ctx, "a", []byte("b1"), []byte("s1-other")); err != nil || string(s) != "s1" {
		t.Fatalf("SetIssued again = %q, %v; want the stored s1", s, err)
	}
	if _, err := r.SetIssued(ctx, "a", []byte("b2"), []byte("s2")); !errors.Is(err, issuer.ErrAlreadyIssued) {
		t.Fatalf("SetIssued of another blinded message = %v", err)
	}
	if _, err := r.SetIssued(ctx, "b", nil, nil); err == nil {
		t.Fatal("SetIssued with no blinded message or signature")
	}
	rec, err := r.Get(ctx, "a")
	if err != nil || !rec.Issued() || !bytes.Equal(rec.Blinded, []byte("b1")) || !bytes.Equal(rec.BlindSig, []byte("s1")) {
		t.Fatalf("Get after SetIssued = %+v, %v", rec, err)
	}
	if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: 2, Issued: 1}) {
		t.Fatalf("Counts = %+v, %v", c, err)
	}
}

// Many requests for one voter with different blinded messages race;
// exactly one is signed.
func testSetIssuedConcurrent(t *testing.T, r issuer.Roll) {
	add(t, r, "v")
	const n = 16
	var won atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := r.SetIssued(ctx, "v", fmt.Appendf(nil, "blinded-%d", i), []byte("sig"))
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, issuer.ErrAlreadyIssued):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if c, _ := r.Counts(ctx); won.Load() != 1 || c.Issued != 1 {
		t.Fatalf("%d of %d different blinded messages signed (counts %+v), want 1", won.Load(), n, c)
	}
}

func testUnknownVoter(t *testing.T, r issuer.Roll) {
	add(t, r, "a")
	for name, op := range map[string]func() error{
		"Get":           func() error { _, err := r.Get(ctx, "zz"); return err },
		"TakeAttempt":   func() error { _, err := r.TakeAttempt(ctx, "zz", 10); return err },
		"ReturnAttempt": func() error { return r.ReturnAttempt(ctx, "zz") },
		"ResetFailures": func() error { return r.ResetFailures(ctx, "zz") },
		"SetIssued":     func() error { _, err := r.SetIssued(ctx, "zz", []byte("b"), []byte("s")); return err },
	} {
		if err := op(); !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Errorf("%s of a voter not on the roll: %v", name, err)
		}
	}
}

func testPurge(t *testing.T, r issuer.Roll) {
	add(t, r, "a", "b")
	if _, err := r.SetIssued(ctx, "a", []byte("b1"), []byte("s1")); err != nil {
		t.Fatal(err)
	}
	want := issuer.Counts{Eligible: 2, Issued: 1, Purged: true}
	if c, err := r.Purge(ctx); err != nil || c != want {
		t.Fatalf("Purge = %+v, %v", c, err)
	}
	if c, err := r.Purge(ctx); err != nil || c != want {
		t.Fatalf("Purge again = %+v, %v", c, err)
	}
	if c, err := r.Counts(ctx); err != nil || c != want {
		t.Fatalf("Counts after purge = %+v, %v", c, err)
	}
	for name, op := range map[string]func() error{
		"Add":           func() error { return r.Add(ctx, []issuer.RollEntry{{VoterID: "late"}}) },
		"Get":           func() error { _, err := r.Get(ctx, "a"); return err },
		"TakeAttempt":   func() error { _, err := r.TakeAttempt(ctx, "a", 10); return err },
		"ReturnAttempt": func() error { return r.ReturnAttempt(ctx, "a") },
		"ResetFailures": func() error { return r.ResetFailures(ctx, "a") },
		"SetIssued":     func() error { _, err := r.SetIssued(ctx, "b", []byte("b"), []byte("s")); return err },
	} {
		if err := op(); !errors.Is(err, issuer.ErrPurged) {
			t.Errorf("%s after purge: %v, want ErrPurged", name, err)
		}
	}
}

var (
	keyOnce sync.Once
	key     *token.PrivateKey
	keyErr  error
)

// Two issuers on one roll, as two issuer replicas on one database, guess
// one voter's code at once: exactly the limit's number of wrong codes is
// tested, the rest are refused as locked, on both; an unlock on one lets
// the voter in on the other.
func testTwoIssuers(t *testing.T, r issuer.Roll) {
	keyOnce.Do(func() { key, keyErr = token.GenerateKey(token.DefaultKeyBits) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	election := bytes.Repeat([]byte{0x42}, token.ElectionIDSize)
	right, err := issuer.GenerateCode()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "voter-1", Code: hash(t, right)}}); err != nil {
		t.Fatal(err)
	}
	const limit = 5
	var replicas [2]*issuer.Issuer
	for i := range replicas {
		if replicas[i], err = issuer.New(issuer.Config{ElectionID: election, Key: key, Roll: r, MaxFailures: limit}); err != nil {
			t.Fatal(err)
		}
	}
	tokenKey, _, _ := ed25519.GenerateKey(rand.Reader)
	blinded, _, err := token.Blind(nil, key.Public(), election, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	const guesses = 32
	var tested, locked atomic.Int64
	var wg sync.WaitGroup
	for g := range guesses {
		wg.Go(func() {
			wrong, _ := issuer.GenerateCode()
			_, err := replicas[g%2].Issue(ctx, "voter-1", wrong, blinded)
			switch {
			case errors.Is(err, issuer.ErrNotTested): // answered as a wrong code
				locked.Add(1)
			case errors.Is(err, issuer.ErrBadCredentials):
				tested.Add(1)
			default:
				t.Errorf("guess: %v", err)
			}
		})
	}
	wg.Wait()
	if tested.Load() != limit || locked.Load() != guesses-limit {
		t.Fatalf("%d wrong codes guessed through two issuers at once: %d tested, %d locked out; want %d and %d", guesses, tested.Load(), locked.Load(), limit, guesses-limit)
	}
	for i, is := range replicas {
		if _, err := is.Issue(ctx, "voter-1", right, blinded); !errors.Is(err, issuer.ErrNotTested) {
			t.Fatalf("the right code on issuer %d while locked: %v, want ErrNotTested (not tested, answered as a wrong code)", i, err)
		}
	}
	if err := replicas[0].Unlock(ctx, "voter-1"); err != nil {
		t.Fatal(err)
	}
	sig, err := replicas[1].Issue(ctx, "voter-1", right, blinded)
	if err != nil {
		t.Fatalf("the right code on one issuer after an unlock on the other: %v", err)
	}
	if again, err := replicas[0].Issue(ctx, "voter-1", right, blinded); err != nil || !bytes.Equal(again, sig) {
		t.Fatalf("the same request on the other issuer: %v; want the same signature", err)
	}
	if rec, _ := r.Get(ctx, "voter-1"); rec.Failures != 0 {
		t.Fatalf("right codes left the failure count at %d", rec.Failures)
	}
}
