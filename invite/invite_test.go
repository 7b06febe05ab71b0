package invite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/booth"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
)

const boothURL = "https://vote.example.org/"

// fixture is a roll of 6 voters (issuer.GenerateRoll), contacts for 5 of
// them (3 Italian, one by an empty lang and one German, with no template;
// 2 English) and one with no e-mail.
type fixture struct {
	roll     []RollEntry
	voters   []Voter
	election Election
	codes    map[string]string // voter id → code
	email    map[string]string // voter id → address
	lang     map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := issuer.GenerateRoll(6)
	if err != nil {
		t.Fatal(err)
	}
	roll, err := ReadRoll(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	contacts := "voter_id,email,phone,lang\n" +
		"voter-000001,anna@example.org,+393331234567,it\n" +
		"voter-000002,bob@example.org,,en\n" +
		"voter-000003,carla@example.org,,\n" +
		"voter-000004,dan@example.org,,en\n" +
		"voter-000005,elena@example.org,,de\n" + // no German template: Italian

		"voter-000006,,+393339999999,it\n"
	cs, err := ReadContacts(strings.NewReader(contacts))
	if err != nil {
		t.Fatal(err)
	}
	voters, err := Join(roll, cs)
	if err != nil {
		t.Fatal(err)
	}
	var id [32]byte
	rand.Read(id[:])
	f := &fixture{roll: roll, voters: voters, codes: map[string]string{}, email: map[string]string{}, lang: map[string]string{},
		election: Election{ID: hex.EncodeToString(id[:]), Title: "Assemblea generale — società «Avanti»", BoothURL: boothURL}}
	for _, e := range roll {
		f.codes[e.VoterID] = e.Code
	}
	for _, v := range voters {
		f.email[v.ID], f.lang[v.ID] = v.Email, v.Lang
	}
	return f
}

// logCapture is a logger whose output the test reads.
func logCapture() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// noSecrets fails if out holds any code (as given or without dashes), any
// link or any voter id of f.
func (f *fixture) noSecrets(t *testing.T, what, out string) {
	t.Helper()
	for id, code := range f.codes {
		for _, s := range []string{code, strings.ReplaceAll(code, "-", ""), id, boothURL + "#"} {
			if strings.Contains(out, s) {
				t.Errorf("%s holds a code, link or voter id (%q):\n%s", what, s, out)
			}
		}
	}
}

func dial(t *testing.T, s *smtptest.Server, sec Security, pass string) (*SMTPSender, error) {
	t.Helper()
	return DialSMTP(context.Background(), SMTPConfig{Addr: s.Addr, Security: sec, User: s.User, Password: pass, RootCAs: s.CAs, Timeout: 5 * time.Second})
}

// parsed is a received message, parsed as a mail reader would.
type parsed struct {
	to, subject, body string
	inv               *booth.Invitation
	header            mail.Header
}

func parse(t *testing.T, r smtptest.Received) parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if h.Get("MIME-Version") != "1.0" || h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("MIME headers: %v", h)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.org>") {
		t.Errorf("Message-ID %q", id)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	raw := h.Get("Subject")
	if !strings.HasPrefix(raw, "=?utf-8?") {
		t.Errorf("a non-ASCII subject is not RFC 2047-encoded: %q", raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{subject: subject, body: string(body), header: h}
	to, err := mail.ParseAddress(h.Get("To"))
	if err != nil || to.Address != r.To {
		t.Errorf("To %q, envelope %q", h.Get("To"), r.To)
	}
	p.to = r.To
	for _, line := range strings.Split(p.body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), boothURL+"#") {
			if p.inv, err = booth.ParseLink(strings.TrimSpace(line)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p.inv == nil {
		t.Fatalf("no link in the body:\n%s", p.body)
	}
	return p
}

// TestSendInvitations sends invitations to 5 voters (3 in Italian, 2 in
// English) through a real SMTP server with STARTTLS and AUTH PLAIN, reads
// them back from the server, and checks each carries its voter's own link
// and code, in the voter's language; the sixth voter, with no address, is
// counted; the log holds no code, link or voter id.
func TestSendInvitations(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.STARTTLS)
	snd, err := dial(t, srv, StartTLS, srv.Pass)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	logger, logs := logCapture()
	rep, err := Send(context.Background(), snd, f.voters, Options{Election: f.election, From: "elezioni@example.org", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 5 || rep.NoEmail != 1 || rep.Failed != 0 || rep.Voters != 6 {
		t.Fatalf("report %+v", rep)
	}
	mails := srv.Mails()
	if len(mails) != 5 {
		t.Fatalf("the server got %d messages, want 5", len(mails))
	}
	seen := map[string]bool{}
	for _, r := range mails {
		p := parse(t, r)
		id := p.inv.VoterID
		if seen[id] {
			t.Errorf("voter %s got two messages", id)
		}
		seen[id] = true
		if p.inv.ElectionID != f.election.ID || p.inv.Code != f.codes[id] {
			t.Errorf("voter %s's link carries election %s code %q; want %s %q", id, p.inv.ElectionID, p.inv.Code, f.election.ID, f.codes[id])
		}
		if p.to != f.email[id] {
			t.Errorf("voter %s's invitation went to %s, not %s", id, p.to, f.email[id])
		}
		if !strings.Contains(p.body, f.codes[id]) {
			t.Errorf("voter %s's body does not give the code to type", id)
		}
		wantSubject, wantText := "Il tuo invito a votare: "+f.election.Title, "Gentile socia"
		if f.lang[id] == "en" {
			wantSubject, wantText = "Your invitation to vote: "+f.election.Title, "Dear member"
		}
		if p.subject != wantSubject || !strings.Contains(p.body, wantText) {
			t.Errorf("voter %s (%s): subject %q, body:\n%s", id, f.lang[id], p.subject, p.body)
		}
		if p.header.Get("Content-Language") != f.lang[id] {
			t.Errorf("Content-Language %q", p.header.Get("Content-Language"))
		}
	}
	if seen["voter-000006"] {
		t.Error("the voter with no address was sent to")
	}
	f.noSecrets(t, "the log", logs.String())
	if !strings.Contains(logs.String(), "sent=5") {
		t.Errorf("the log does not count the sends:\n%s", logs)
	}
}

// TestImplicitTLS sends over TLS from the first byte, as on port 465.
func TestImplicitTLS(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.ImplicitTLS)
	snd, err := dial(t, srv, ImplicitTLS, srv.Pass)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	rep, err := Send(context.Background(), snd, f.voters[:2], Options{Election: f.election, From: "elezioni@example.org"})
	if err != nil || rep.Sent != 2 || len(srv.Mails()) != 2 {
		t.Fatalf("%+v %v, %d on the server", rep, err, len(srv.Mails()))
	}
}

// TestWrongPassword: a wrong password fails with ErrAuth, saying which
// flags to check, before any message is sent.
func TestWrongPassword(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	_, err := dial(t, srv, StartTLS, "wrong")
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "--smtp-password-file") {
		t.Fatalf("got %v, want ErrAuth naming --smtp-password-file", err)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

// TestAttackNoSTARTTLS: a server (or a man in the middle stripping the
// extension) that offers no STARTTLS gets no password and no code.
func TestAttackNoSTARTTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.NoTLS)
	_, err := dial(t, srv, StartTLS, srv.Pass)
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("got %v, want ErrConnect naming STARTTLS", err)
	}
	if len(srv.Mails()) != 0 {
		t.Fatal("sent")
	}
}

// TestAttackUntrustedCertificate: a server whose certificate the client
// does not trust (a man in the middle) is refused before AUTH.
func TestAttackUntrustedCertificate(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	_, err := DialSMTP(context.Background(), SMTPConfig{Addr: srv.Addr, User: srv.User, Password: srv.Pass, Timeout: 5 * time.Second})
	if !errors.Is(err, ErrConnect) || !strings.Contains(err.Error(), "--ca-cert") {
		t.Fatalf("got %v, want ErrConnect naming --ca-cert", err)
	}
}

// TestAttackPlaintextToRemote: plaintext to a non-loopback server is
// refused before dialling; to loopback it works.
func TestAttackPlaintextToRemote(t *testing.T) {
	for _, addr := range []string{"192.0.2.1:25", "mail.example.org:25", "[2001:db8::1]:25"} {
		if _, err := DialSMTP(context.Background(), SMTPConfig{Addr: addr, Security: InsecurePlaintext}); !errors.Is(err, ErrInsecure) {
			t.Errorf("%s: got %v, want ErrInsecure", addr, err)
		}
	}
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.NoTLS)
	snd, err := dial(t, srv, InsecurePlaintext, srv.Pass)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if rep, err := Send(context.Background(), snd, f.voters[:1], Options{Election: f.election, From: "e@example.org"}); err != nil || rep.Sent != 1 {
		t.Fatalf("%+v %v", rep, err)
	}
}

// TestResendLimits runs the sender again and again with a fake clock and a
// state file: without --resend no one is sent to twice; with it, not within
// the cool-down, and no more than MaxSends in all.
func TestResendLimits(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.STARTTLS)
	state := filepath.Join(t.TempDir(), "invite-state.json")
	t0 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	run := func(at time.Duration, resend bool) *Report {
		t.Helper()
		st, err := OpenState(state, f.election.ID)
		if err != nil {
			t.Fatal(err)
		}
		snd, err := dial(t, srv, StartTLS, srv.Pass)
		if err != nil {
			t.Fatal(err)
		}
		defer snd.Close()
		rep, err := Send(context.Background(), snd, f.voters, Options{Election: f.election, From: "e@example.org", State: st,
			Resend: resend, CoolDown: time.Hour, MaxSends: 3, Now: func() time.Time { return t0.Add(at) }})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	check := func(rep *Report, sent, already, cool, limit int) {
		t.Helper()
		if rep.Sent != sent || rep.SkippedAlreadySent != already || rep.SkippedCoolDown != cool || rep.SkippedLimit != limit || rep.NoEmail != 1 {
			t.Fatalf("report %+v; want sent %d, already %d, cool-down %d, limit %d", rep, sent, already, cool, limit)
		}
	}
	check(run(0, false), 5, 0, 0, 0)
	check(run(3*time.Hour, false), 0, 5, 0, 0)
	check(run(30*time.Minute, true), 0, 0, 5, 0)
	check(run(61*time.Minute, true), 5, 0, 0, 0)
	check(run(90*time.Minute, true), 0, 0, 5, 0)
	check(run(3*time.Hour, true), 5, 0, 0, 0)
	check(run(48*time.Hour, true), 0, 0, 0, 5)
	if n := len(srv.Mails()); n != 15 {
		t.Fatalf("the server got %d messages, want 15 (3 each)", n)
	}
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(state)
	for _, code := range f.codes {
		if strings.Contains(string(b), code) {
			t.Fatal("the state file holds a code")
		}
	}
	// Another election's run is refused the file.
	if _, err := OpenState(state, strings.Repeat("ab", 32)); !errors.Is(err, ErrState) {
		t.Fatalf("another election's state: %v", err)
	}
}

// TestFailedRecipient: a recipient the server refuses is counted failed with
// the server's error (no code in it, nor in the log); the others are sent
// to; the failed voter is not recorded, so the next run sends to them alone.
func TestFailedRecipient(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.STARTTLS)
	srv.Reject("bob@example.org", true)
	st, _ := OpenState(filepath.Join(t.TempDir(), "state.json"), f.election.ID)
	snd, err := dial(t, srv, StartTLS, srv.Pass)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	logger, logs := logCapture()
	o := Options{Election: f.election, From: "e@example.org", State: st, Logger: logger}
	rep, err := Send(context.Background(), snd, f.voters, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 4 || rep.Failed != 1 || len(rep.Failures) != 1 || rep.Failures[0].VoterID != "voter-000002" {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(rep.Failures[0].Err, "550") || rep.Errors[rep.Failures[0].Err] != 1 {
		t.Fatalf("failure %+v, errors %v", rep.Failures[0], rep.Errors)
	}
	f.noSecrets(t, "the log", logs.String())
	if !strings.Contains(logs.String(), "no such mailbox") {
		t.Errorf("the log does not give the SMTP error:\n%s", logs)
	}
	srv.Reject("bob@example.org", false)
	rep, err = Send(context.Background(), snd, f.voters, o)
	if err != nil || rep.Sent != 1 || rep.SkippedAlreadySent != 4 {
		t.Fatalf("second run %+v %v", rep, err)
	}
}

// TestMerge writes both kinds of mail-merge file and reads them back.
func TestMerge(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	logger, logs := logCapture()
	for _, tc := range []struct {
		format MergeFormat
		header string
	}{{MergeMessages, "voter_id,email,lang,subject,body"}, {MergeFields, "voter_id,email,lang,link,code"}} {
		path := filepath.Join(dir, fmt.Sprint(tc.format, ".csv"))
		rep, err := WriteMerge(path, f.voters, tc.format, Options{Election: f.election, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Written != 5 || rep.NoEmail != 1 {
			t.Fatalf("report %+v", rep)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", fi.Mode())
		}
		b, _ := os.ReadFile(path)
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(recs[0], ",") != tc.header || len(recs) != 6 {
			t.Fatalf("header %v, %d lines", recs[0], len(recs))
		}
		for _, r := range recs[1:] {
			id := r[0]
			if r[1] != f.email[id] || r[2] != f.lang[id] {
				t.Errorf("line %v", r)
			}
			var link string
			if tc.format == MergeFields {
				link = r[3]
				if r[4] != f.codes[id] {
					t.Errorf("voter %s's code column", id)
				}
			} else {
				for _, l := range strings.Split(r[4], "\n") {
					if strings.HasPrefix(l, boothURL) {
						link = l
					}
				}
				if !strings.HasSuffix(r[3], f.election.Title) {
					t.Errorf("subject %q", r[3])
				}
			}
			inv, err := booth.ParseLink(link)
			if err != nil || inv.VoterID != id || inv.Code != f.codes[id] {
				t.Errorf("voter %s's link %v %v", id, inv, err)
			}
		}
		if _, err := WriteMerge(path, f.voters, tc.format, Options{Election: f.election}); err == nil {
			t.Error("an existing merge file was overwritten")
		}
	}
	f.noSecrets(t, "the log", logs.String())
}

// TestTemplates: the authority's templates replace the defaults; one with
// no link or no Subject line is refused.
func TestTemplates(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "en.txt"), []byte("Subject: Vote now, {{.VoterID}}\n\nGo to {{.Link}}\n"), 0o644)
	tm, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tm.Render(f.election, f.voters[1])
	if err != nil || m.Subject != "Vote now, voter-000002" || !strings.HasPrefix(m.Body, "Go to "+boothURL+"#") {
		t.Fatalf("%+v %v", m, err)
	}
	if m, _ := tm.Render(f.election, f.voters[0]); !strings.Contains(m.Body, "Gentile") {
		t.Fatal("it.txt missing did not keep the default")
	}
	for name, text := range map[string]string{
		"no link":    "Subject: Vote\n\nYour code is {{.Code}}\n",
		"no subject": "Vote at {{.Link}}\n",
		"bad field":  "Subject: x\n\n{{.Link}} {{.Password}}\n",
		"empty subj": "Subject: \n\n{{.Link}}\n",
	} {
		os.WriteFile(filepath.Join(dir, "it.txt"), []byte(text), 0o644)
		if _, err := LoadTemplates(dir); !errors.Is(err, ErrTemplate) {
			t.Errorf("%s: got %v, want ErrTemplate", name, err)
		}
	}
}

// TestInputErrors: the contacts and the roll are parsed strictly.
func TestInputErrors(t *testing.T) {
	for name, in := range map[string]string{
		"header":      "voter_id,email,lang\nv1,a@example.org,it\n",
		"header case": "Voter_id,email,phone,lang\n",
		"lang":        "voter_id,email,phone,lang\nv1,a@example.org,,Italiano\n",
		"address":     "voter_id,email,phone,lang\nv1,Anna <a@example.org>,,it\n",
		"injection":   "voter_id,email,phone,lang\nv1,\"a@example.org\r\nBcc: x@evil.example\",,it\n",
		"duplicate":   "voter_id,email,phone,lang\nv1,a@example.org,,it\nv1,b@example.org,,it\n",
		"short line":  "voter_id,email,phone,lang\nv1,a@example.org\n",
	} {
		if _, err := ReadContacts(strings.NewReader(in)); !errors.Is(err, ErrInput) {
			t.Errorf("%s: got %v, want ErrInput", name, err)
		}
	}
	if _, err := ReadContacts(strings.NewReader("\ufeffvoter_id,email,phone,lang\nv1,a@example.org,,\n")); err != nil {
		t.Errorf("a byte-order mark: %v", err)
	}
	if _, err := ReadRoll(strings.NewReader("voter_id,enrolment_code\nv1,not-a-code\n")); !errors.Is(err, ErrInput) || strings.Contains(err.Error(), "not-a-code") {
		t.Errorf("bad code: %v", err)
	}
	roll := []RollEntry{{"v1", "x"}}
	if _, err := Join(roll, []Contact{{VoterID: "v2", Lang: "it"}}); !errors.Is(err, ErrNotOnRoll) {
		t.Errorf("contact not on the roll: %v", err)
	}
}

func FuzzReadContacts(f *testing.F) {
	f.Add([]byte("voter_id,email,phone,lang\nv1,a@example.org,+39,it\nv2,,,\n"))
	f.Add([]byte("voter_id,email,phone,lang\nv1,\"a@b\r\n\",,en\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := ReadContacts(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Email != "" && checkAddress(c.Email) != nil || len(c.Lang) == 1 || len(c.Lang) > 3 || issuer.CheckVoterID(c.VoterID) != nil {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}
