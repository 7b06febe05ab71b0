package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/issuer/postgres"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// The attacks on the roll on PostgreSQL: two issuer processes racing a
// voter's one-time codes, IDs of odd bytes, and the question a stranger
// asks of every answer: is this ID on the roll?

// otpBox is a Sender that keeps the codes it was asked to send.
type otpBox struct {
	mu   sync.Mutex
	sent []issuer.OneTimeCode
}

func (b *otpBox) Send(ctx context.Context, m issuer.OneTimeCode) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, m)
	return nil
}

func (b *otpBox) last(t *testing.T) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sent) == 0 {
		t.Fatal("no one-time code was sent")
	}
	return b.sent[len(b.sent)-1].Code
}

// TestAttackOTPAcrossProcesses: a voter's e-mailed one-time code guessed
// through two issuer processes at once, far more often than OTPMaxWrong:
// the roll counts every wrong try, however the requests race, so no more
// than OTPMaxWrong codes are tested and the right code, sent after them,
// is refused; once a new code is sent (after the cool-down) it passes on
// the process that did not send it, and once only.
func TestAttackOTPAcrossProcesses(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	box := &otpBox{}
	var iss [2]*issuer.Issuer
	var rolls [2]*postgres.Roll
	for i := range iss {
		rolls[i] = open(t, dsn)
		var err error
		if iss[i], err = issuer.New(issuer.Config{ElectionID: election, Key: issuingKey(t), Roll: rolls[i], SecondFactor: issuerapi.FactorEmail, Sender: box, Now: clock}); err != nil {
			t.Fatal(err)
		}
	}
	code, _ := issuer.GenerateCode()
	if _, err := iss[0].ImportRoll(ctx, strings.NewReader("voter_id,enrolment_code\nrossi-1004,"+code+"\n"),
		map[string]issuer.Contact{"rossi-1004": {Email: "mario.rossi@example.it"}}); err != nil {
		t.Fatal(err)
	}
	b := blinded(t)
	// Each try from an address of its own, so that the enrolment code's
	// back-off (per address) lets every one reach the second factor.
	ask := func(i int, second string) error {
		_, err := iss[i%2].Issue(ctx, issuerapi.Credentials{VoterID: "rossi-1004", Code: code, SecondFactor: second}, b, fmt.Sprintf("198.51.100.%d", i%250))
		return err
	}
	if err := ask(0, ""); !errors.Is(err, issuer.ErrSecondFactorRequired) {
		t.Fatalf("the enrolment code alone: %v", err)
	}
	sent := box.last(t)
	const tries = 4 * issuer.OTPMaxWrong
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			w := fmt.Sprintf("%06d", 100000+i)
			if w == sent {
				w = "000000"
			}
			if err := ask(i, w); !errors.Is(err, issuer.ErrBadSecondFactor) {
				t.Errorf("a wrong one-time code: %v", err)
			}
		})
	}
	wg.Wait()
	rec, err := rolls[1].Get(ctx, "rossi-1004")
	if err != nil {
		t.Fatal(err)
	}
	if rec.OTP == nil || rec.OTP.Wrong != issuer.OTPMaxWrong {
		t.Fatalf("after %d wrong codes through two processes the roll counts %+v, want %d wrong", tries, rec.OTP, issuer.OTPMaxWrong)
	}
	if err := ask(tries+1, sent); !errors.Is(err, issuer.ErrBadSecondFactor) {
		t.Fatalf("the right code after %d wrong ones: %v", tries, err)
	}
	if rec, _ := rolls[0].Get(ctx, "rossi-1004"); rec.Issued() {
		t.Fatal("a token was issued")
	}
	mu.Lock()
	now = now.Add(issuer.OTPCooldown)
	mu.Unlock()
	if err := ask(tries+2, ""); !errors.Is(err, issuer.ErrSecondFactorRequired) {
		t.Fatalf("asking for a new code: %v", err)
	}
	fresh := box.last(t)
	var errs [2]error
	start := make(chan struct{})
	for i := range 2 {
		wg.Go(func() {
			<-start
			_, errs[i] = iss[1].Issue(ctx, issuerapi.Credentials{VoterID: "rossi-1004", Code: code, SecondFactor: fresh}, blinded(t), fmt.Sprintf("203.0.113.%d", i))
		})
	}
	close(start)
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("one fresh code used twice at once, with two blinded messages: %v, %v; want one token", errs[0], errs[1])
	}
	if c, _ := rolls[0].Counts(ctx); c.Issued != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestAttackOddVoterIDs: IDs no voter may have (a NUL, bytes that are not
// UTF-8, the decoys' own IDs, IDs past the longest allowed, SQL) are
// never taken for a voter and never change one: the roll refuses them or
// answers them as unknown, and its error names no ID.
func TestAttackOddVoterIDs(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	r := open(t, dsn)
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "alice"}, {VoterID: "x' OR '1'='1"}}); err != nil {
		t.Fatal(err)
	}
	db := connect(t, dsn)
	var decoy string
	if err := db.QueryRow(ctx, "SELECT id FROM roll_voters WHERE decoy LIMIT 1").Scan(&decoy); err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		var s string
		if err := db.QueryRow(ctx, "SELECT string_agg(id || entry::text, ',' ORDER BY id) FROM roll_voters WHERE NOT decoy").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := snapshot()
	for _, id := range []string{
		"alice\x00", "\x00", "ali\xffce", decoy, "alice%", "alic_", "' OR '1'='1", "x' OR '1'='1'--",
		strings.Repeat("a", issuer.MaxVoterIDLen+1), strings.Repeat("é", 10000),
	} {
		_, err := r.Update(ctx, id, func(e *issuer.RollEntry) error { e.Failures = 99; return nil })
		if err == nil {
			t.Errorf("Update(%q) succeeded", id)
		}
		if !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Errorf("Update(%.20q): %v, want it unknown, as on bbolt", id, err)
		}
		if _, err := r.Get(ctx, id); err == nil {
			t.Errorf("Get(%q) found a voter", id)
		} else if len(id) > 3 && strings.Contains(err.Error(), id[:4]) {
			t.Errorf("the error names the ID: %v", err)
		}
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: decoy}}); err == nil {
		t.Fatal("a voter with a decoy's ID was added")
	}
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "bob"}, {VoterID: "bad\x00"}}); err == nil {
		t.Fatal("a batch with a NUL in an ID was added")
	}
	if after := snapshot(); after != before {
		t.Fatalf("the roll changed:\n%s\n%s", before, after)
	}
	if c, _ := r.Counts(ctx); c.Eligible != 2 {
		t.Fatalf("counts %+v", c)
	}
	// The ID that reads as SQL is a voter like any other.
	if rec, err := r.Get(ctx, "x' OR '1'='1"); err != nil || rec.VoterID != "x' OR '1'='1" {
		t.Fatalf("Get of the ID that reads as SQL: %+v, %v", rec, err)
	}
}

// TestAttackWrongCodeTiming: does a wrong code for a voter on the roll
// take as long as one for an ID not on it? Through two issuer processes'
// whole Issue (the roll's Update and the code's hash), alternating one
// request for a voter and one for a stranger so that the machine's noise
// falls on both alike, the medians and 90th percentiles are reported; the
// test fails only if one median is more than twice the other, a gap no
// noise on this machine makes (a missing decoy write made the bbolt
// roll's 7x). It also checks that neither the answer nor the issuer's
// log tells the two apart.
func TestAttackWrongCodeTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("timing samples")
	}
	dsn := pgtest.NewDatabase(t)
	var logs [2]bytes.Buffer
	var iss [2]*issuer.Issuer
	var logMu sync.Mutex
	for i := range iss {
		r := open(t, dsn)
		var err error
		h := slog.NewTextHandler(&lockedWriter{&logMu, &logs[i]}, &slog.HandlerOptions{Level: slog.LevelDebug})
		if iss[i], err = issuer.New(issuer.Config{ElectionID: election, Key: issuingKey(t), Roll: r, Logger: slog.New(h)}); err != nil {
			t.Fatal(err)
		}
	}
	const voters = 2000
	var csv strings.Builder
	csv.WriteString("voter_id,enrolment_code\n")
	for v := range voters {
		c, _ := issuer.GenerateCode()
		fmt.Fprintf(&csv, "member-%05d,%s\n", v, c)
	}
	if _, err := iss[0].ImportRoll(ctx, strings.NewReader(csv.String()), nil); err != nil {
		t.Fatal(err)
	}
	wrong, _ := issuer.GenerateCode()
	b := blinded(t)
	try := func(i int, id string) (time.Duration, error) {
		t0 := time.Now()
		_, err := iss[i%2].Issue(ctx, issuerapi.Credentials{VoterID: id, Code: wrong}, b, fmt.Sprintf("198.51.100.%d", i%200))
		return time.Since(t0), err
	}
	const samples = 150
	var known, unknown []time.Duration
	for i := range samples {
		// A different voter and stranger each time, as a stranger
		// probing a list of names would send them.
		dk, ek := try(i, fmt.Sprintf("member-%05d", (i*7919)%voters))
		du, eu := try(i, fmt.Sprintf("member-%05d", voters+i))
		if !errors.Is(ek, issuer.ErrBadCredentials) || !errors.Is(eu, issuer.ErrBadCredentials) || ek.Error() != eu.Error() {
			t.Fatalf("the answers differ: on the roll %v, not on it %v", ek, eu)
		}
		if i > 10 { // past the first requests' connections and caches
			known, unknown = append(known, dk), append(unknown, du)
		}
	}
	mk, mu := quantile(known, 0.5), quantile(unknown, 0.5)
	t.Logf("wrong code, %d samples each: on the roll median %v p90 %v; not on it median %v p90 %v",
		len(known), mk, quantile(known, 0.9), mu, quantile(unknown, 0.9))
	if mk > 2*mu || mu > 2*mk {
		t.Errorf("a wrong code takes %v for a voter on the roll and %v for an ID not on it", mk, mu)
	}
	logMu.Lock()
	defer logMu.Unlock()
	for i := range logs {
		if s := logs[i].String(); strings.Contains(s, "member-") {
			t.Errorf("issuer %d's log names a voter ID:\n%s", i, s)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// TestAttackTOTPAcrossProcesses: an authenticator's code guessed through
// two issuer processes at once, far more often than TOTPMaxWrong, each try
// from an address of its own: the roll counts every wrong one, so no more
// than TOTPMaxWrong are tested and the right code after them is not
// (ErrTooManyCodes). Once the window has passed, the right code sent to
// both processes at once with two blinded messages signs one.
func TestAttackTOTPAcrossProcesses(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var iss [2]*issuer.Issuer
	var rolls [2]*postgres.Roll
	for i := range iss {
		rolls[i] = open(t, dsn)
		var err error
		if iss[i], err = issuer.New(issuer.Config{ElectionID: election, Key: issuingKey(t), Roll: rolls[i], Now: clock}); err != nil {
			t.Fatal(err)
		}
	}
	code, _ := issuer.GenerateCode()
	if _, err := iss[0].ImportRoll(ctx, strings.NewReader("voter_id,enrolment_code\nrossi-1004,"+code+"\n"), nil); err != nil {
		t.Fatal(err)
	}
	uri, err := iss[1].EnrolTOTP(ctx, "rossi-1004", "Election", "Mario")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	rightAt := func(at time.Time) string {
		c, err := hotp.GenerateCodeCustom(u.Query().Get("secret"), uint64(at.Unix()/int64(issuer.TOTPPeriod/time.Second)),
			hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ask := func(i int, second string, b []byte) error {
		_, err := iss[i%2].Issue(ctx, issuerapi.Credentials{VoterID: "rossi-1004", Code: code, SecondFactor: second}, b, fmt.Sprintf("198.51.100.%d", i%250))
		return err
	}
	b := blinded(t)
	right := rightAt(now)
	const tries = 4 * issuer.TOTPMaxWrong
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			w := fmt.Sprintf("%06d", 100000+i)
			if w == right || w == rightAt(now.Add(-issuer.TOTPPeriod)) || w == rightAt(now.Add(issuer.TOTPPeriod)) {
				w = "000000"
			}
			if err := ask(i, w, b); !errors.Is(err, issuer.ErrBadSecondFactor) && !errors.Is(err, issuer.ErrTooManyCodes) {
				t.Errorf("a wrong authenticator code: %v", err)
			}
		})
	}
	wg.Wait()
	rec, err := rolls[0].Get(ctx, "rossi-1004")
	if err != nil {
		t.Fatal(err)
	}
	if rec.TOTPWrong != issuer.TOTPMaxWrong || rec.Issued() {
		t.Fatalf("after %d wrong codes through two processes the roll counts %d wrong (issued %v), want %d", tries, rec.TOTPWrong, rec.Issued(), issuer.TOTPMaxWrong)
	}
	if err := ask(tries, right, b); !errors.Is(err, issuer.ErrTooManyCodes) {
		t.Fatalf("the right code after %d wrong ones: %v", tries, err)
	}
	mu.Lock()
	now = now.Add(issuer.TOTPWrongWindow)
	mu.Unlock()
	right = rightAt(clock())
	var errs [2]error
	gate := make(chan struct{})
	for i := range 2 {
		wg.Go(func() { <-gate; errs[i] = ask(tries+1+i, right, blinded(t)) })
	}
	close(gate)
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("one authenticator code through two processes at once: %v, %v; want one token", errs[0], errs[1])
	}
	if c, _ := rolls[1].Counts(ctx); c.Issued != 1 {
		t.Fatalf("counts %+v", c)
	}
}
