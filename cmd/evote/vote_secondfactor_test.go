package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// clock is the issuer's clock, which a test moves on.
type clock struct{ skew atomic.Int64 }

func (c *clock) now() time.Time       { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *clock) add(d time.Duration)  { c.skew.Add(int64(d)) }
func (c *clock) fn() func() time.Time { return c.now }
func (c *clock) totp(secret string) string {
	code, err := totp.GenerateCodeCustom(secret, c.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		panic(err)
	}
	return code
}

// factorSite is an election whose issuer asks for an e-mailed code, its
// mail read back from a real SMTP server in process.
type factorSite struct {
	*sim.Site
	smtp  *smtptest.Server
	clock *clock
	dir   string
}

func startFactorSite(t *testing.T, voters int) *factorSite {
	t.Helper()
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.STARTTLS)
	// The issuer's codes go out as a deployment's do: invite's mailer and
	// templates, over SMTP with STARTTLS and AUTH PLAIN.
	mailer, err := invite.NewCodeMailer(invite.SMTPConfig{Addr: srv.Addr, Security: invite.StartTLS, User: srv.User, Password: srv.Pass, RootCAs: srv.CAs}, "election@vote.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &factorSite{smtp: srv, clock: &clock{}, dir: t.TempDir()}
	f.Site, err = sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)}, Voters: voters,
		SecondFactor: issuerapi.FactorEmail, Sender: mailer, Now: f.clock.fn(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	os.WriteFile(filepath.Join(f.dir, "manifest.json"), f.Board.Manifest().Bytes(), 0o644)
	os.WriteFile(filepath.Join(f.dir, "board.vkey"), []byte(f.VKey+"\n"), 0o644)
	return f
}

// voteArgs are voter i's evote vote arguments, and more.
func (f *factorSite) voteArgs(i int, more ...string) []string {
	return append([]string{"vote", "--issuer", f.IssuerURL, "--board", f.BoardURL, "--board-key", filepath.Join(f.dir, "board.vkey"),
		"--manifest", filepath.Join(f.dir, "manifest.json"), "--voter-id", f.Voters[i][0], "--code", f.Voters[i][1], "--choose", "yes",
		"--ticket", filepath.Join(f.dir, fmt.Sprintf("ticket-%d.json", i))}, more...)
}

// mailedCode is the code of the n-th mail (from 1) the SMTP server got.
func (f *factorSite) mailedCode(t *testing.T, n int) (to, code string) {
	t.Helper()
	mails := f.smtp.Mails()
	if len(mails) < n {
		t.Fatalf("%d mails arrived, want at least %d", len(mails), n)
	}
	return mails[n-1].To, codeIn(t, mails[n-1].Data)
}

var mailedCodeRE = regexp.MustCompile(`\b(\d{3})[ \x{00a0}-]?(\d{3})\b`)

// codeIn reads the one-time code out of a mail as a voter does.
func codeIn(t *testing.T, data []byte) string {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	c := mailedCodeRE.FindStringSubmatch(string(b))
	if c == nil {
		t.Fatalf("no code in the mail:\n%s", b)
	}
	return c[1] + c[2]
}

// notCode is a 6-digit code other than code.
func notCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// issued is how many tokens the issuer has signed.
func (f *factorSite) issued(t *testing.T) int {
	c, err := f.Issuer.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.Issued
}

// TestVoteSecondFactorEmail: without a terminal, evote vote stops with
// exit 4 saying where the issuer e-mailed the code, having signed
// nothing; run again within the minute it sends no new code; a wrong
// code is exit 4 again and nothing is signed; the mailed code, typed with
// a space, casts the ballot. After the minute a run sends a new code,
// which voids the first.
func TestVoteSecondFactorEmail(t *testing.T) {
	f := startFactorSite(t, 2)
	noTerminal(t)
	_, errs, code := evote(t, f.voteArgs(0)...)
	masked := issuer.MaskContact(issuerapi.FactorEmail, sim.TestContact(f.Voters[0][0]).Email)
	if code != exitSecondFactor || !strings.Contains(errs, "a one-time code was sent by e-mail to "+masked) || !strings.Contains(errs, "--second-factor CODE") || !strings.Contains(errs, "ticket-0.json keeps the progress") {
		t.Fatalf("without --second-factor: exit %d\n%s", code, errs)
	}
	t.Logf("without --second-factor, exit %d:\n%s", code, errs)
	to, first := f.mailedCode(t, 1)
	if to != sim.TestContact(f.Voters[0][0]).Email || f.issued(t) != 0 {
		t.Fatalf("the code went to %s; %d tokens issued", to, f.issued(t))
	}
	// Again within the minute: the same answer, no new mail.
	if _, errs, code := evote(t, f.voteArgs(0)...); code != exitSecondFactor || len(f.smtp.Mails()) != 1 {
		t.Errorf("again at once: exit %d, %d mails\n%s", code, len(f.smtp.Mails()), errs)
	}
	// A wrong code: exit 4, nothing signed, nothing cast.
	size, _ := f.Log.Size()
	if _, errs, code := evote(t, f.voteArgs(0, "--second-factor", notCode(first))...); code != exitSecondFactor || !strings.Contains(errs, "wrong or has expired") || f.issued(t) != 0 {
		t.Errorf("a wrong code: exit %d, %d tokens\n%s", code, f.issued(t), errs)
	}
	if n, _ := f.Log.Size(); n != size {
		t.Errorf("a wrong code added %d entries to the log", n-size)
	}
	// Not a code at all: a usage mistake, before any request.
	if _, errs, code := evote(t, f.voteArgs(0, "--second-factor", "12345")...); code != 2 || !strings.Contains(errs, "is not a one-time code") {
		t.Errorf("a malformed code: exit %d\n%s", code, errs)
	}
	// After the minute, a new code; the first one no longer passes.
	f.clock.add(61 * time.Second)
	if _, errs, code := evote(t, f.voteArgs(0)...); code != exitSecondFactor || len(f.smtp.Mails()) != 2 {
		t.Fatalf("after the minute: exit %d, %d mails\n%s", code, len(f.smtp.Mails()), errs)
	}
	_, second := f.mailedCode(t, 2)
	if second != first {
		if _, errs, code := evote(t, f.voteArgs(0, "--second-factor", first)...); code != exitSecondFactor {
			t.Errorf("the replaced code: exit %d\n%s", code, errs)
		}
	}
	out, errs, code := evote(t, f.voteArgs(0, "--second-factor", second[:3]+" "+second[3:], "--receipt", filepath.Join(f.dir, "receipt.json"))...)
	if code != 0 || !strings.Contains(out, "ballot cast") || f.issued(t) != 1 {
		t.Fatalf("with the mailed code: exit %d, %d tokens\n%s%s", code, f.issued(t), out, errs)
	}
	// The token is in the ticket: running again asks the issuer nothing.
	if out, errs, code := evote(t, f.voteArgs(0)...); code != 0 || !strings.Contains(out, "already cast") || len(f.smtp.Mails()) != 2 {
		t.Errorf("again after casting: exit %d, %d mails\n%s%s", code, len(f.smtp.Mails()), out, errs)
	}
}

// TestVoteSecondFactorPrompt: on a terminal, evote vote says where the
// code went and asks for it; Enter within the minute is told to wait (no
// new mail), what is not a code is asked again without a try, a wrong code
// is asked again, and the mailed one casts.
func TestVoteSecondFactorPrompt(t *testing.T) {
	f := startFactorSite(t, 1)
	in := terminal(t)
	done := make(chan [3]any, 1)
	go func() {
		out, errs, code := evoteAsync(f.voteArgs(0)...)
		done <- [3]any{out, errs, code}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for len(f.smtp.Mails()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_, sent := f.mailedCode(t, 1)
	for _, line := range []string{"", "12 34", notCode(sent), sent} {
		if _, err := io.WriteString(in, line+"\n"); err != nil {
			t.Fatalf("the command stopped reading at %q: %v", line, err)
		}
	}
	r := <-done
	out, errs, code := r[0].(string), r[1].(string), r[2].(int)
	t.Logf("the terminal:\n%s", errs)
	for _, want := range []string{
		"A one-time code was sent by e-mail to " + issuer.MaskContact(issuerapi.FactorEmail, sim.TestContact(f.Voters[0][0]).Email),
		"Type the code, or press Enter for a new one: ",
		"A new code can be sent a minute after the last: wait",
		"That is not a code",
		"That code is wrong or has expired",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("the terminal did not show %q:\n%s", want, errs)
		}
	}
	if code != 0 || !strings.Contains(out, "ballot cast") || len(f.smtp.Mails()) != 1 || f.issued(t) != 1 {
		t.Errorf("exit %d, %d mails, %d tokens\n%s%s", code, len(f.smtp.Mails()), f.issued(t), out, errs)
	}
}

// TestVoteSecondFactorTOTP: a voter who enrolled an authenticator app is
// asked for its code instead of a mailed one: without it exit 4 naming
// the app (and no mail), a wrong one exit 4, the app's code of now casts
// in one run.
func TestVoteSecondFactorTOTP(t *testing.T) {
	f := startFactorSite(t, 2)
	noTerminal(t)
	uri, err := f.Issuer.EnrolTOTP(context.Background(), f.Voters[1][0], "Assemblea", "me")
	if err != nil {
		t.Fatal(err)
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if _, errs, code := evote(t, f.voteArgs(1)...); code != exitSecondFactor || !strings.Contains(errs, "authenticator app") || len(f.smtp.Mails()) != 0 {
		t.Fatalf("without the app's code: exit %d, %d mails\n%s", code, len(f.smtp.Mails()), errs)
	}
	now := f.clock.totp(key.Secret())
	if _, errs, code := evote(t, f.voteArgs(1, "--second-factor", notCode(now))...); code != exitSecondFactor || !strings.Contains(errs, "wrong or has expired") || f.issued(t) != 0 {
		t.Errorf("a wrong app code: exit %d, %d tokens\n%s", code, f.issued(t), errs)
	}
	out, errs, code := evote(t, f.voteArgs(1, "--second-factor", f.clock.totp(key.Secret()))...)
	if code != 0 || !strings.Contains(out, "ballot cast") || f.issued(t) != 1 {
		t.Errorf("with the app's code: exit %d, %d tokens\n%s%s", code, f.issued(t), out, errs)
	}
}

func TestWaitFor(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "later", 30 * time.Second: "30 seconds", time.Minute: "1 minute", 2 * time.Minute: "2 minutes", 89 * time.Second: "89 seconds", 90 * time.Second: "2 minutes", 40 * time.Minute: "40 minutes", 61 * time.Minute: "61 minutes"} {
		if got := waitFor(d, "later"); got != want {
			t.Errorf("waitFor(%v) = %q, want %q", d, got, want)
		}
	}
}

var terminalMu sync.Mutex

// noTerminal makes evote vote see no terminal, as under a script.
func noTerminal(t *testing.T) {
	setTerminal(t, func(*globals) (io.Reader, bool) { return nil, false })
}

// terminal makes evote vote read the voter's typing from the returned
// writer, as from a terminal.
func terminal(t *testing.T) io.Writer {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	setTerminal(t, func(*globals) (io.Reader, bool) { return r, true })
	return w
}

func setTerminal(t *testing.T, f func(*globals) (io.Reader, bool)) {
	terminalMu.Lock()
	old := voteTerminal
	voteTerminal = f
	t.Cleanup(func() { voteTerminal = old; terminalMu.Unlock() })
}

// evoteAsync is evote for a goroutine: no t.
func evoteAsync(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

// TestSecondFactorNeeded: what a run without a terminal says, for each
// factor, first asked and after a wrong code.
func TestSecondFactorNeeded(t *testing.T) {
	for _, c := range []struct {
		ie    issuerapi.Error
		wrong bool
		want  []string
	}{
		{issuerapi.Error{Factor: issuerapi.FactorEmail, SentTo: "m•••@e•••.it"}, false, []string{"a one-time code was sent by e-mail to m•••@e•••.it (valid 10 minutes)", "--second-factor CODE", "t.json keeps the progress"}},
		{issuerapi.Error{Factor: issuerapi.FactorSMS, SentTo: "•••• 4567"}, false, []string{"sent by text message to •••• 4567"}},
		{issuerapi.Error{Factor: issuerapi.FactorTOTP}, false, []string{"the 6-digit code of the authenticator app you enrolled", "--second-factor CODE"}},
		{issuerapi.Error{Factor: issuerapi.FactorEmail, SentTo: "m•••@e•••.it"}, true, []string{"wrong or has expired", "without --second-factor for a new code", "5 wrong tries void it"}},
		{issuerapi.Error{Factor: issuerapi.FactorTOTP}, true, []string{"wrong or has expired", "check the clock"}},
	} {
		got := secondFactorNeeded(&c.ie, c.wrong, "t.json").Error()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s (wrong %v): %q lacks %q", c.ie.Factor, c.wrong, got, w)
			}
		}
	}
}
