package invite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/emersion/go-smtp"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

func newCodeMailer(t testing.TB, srv *smtptest.Server, pass string) *CodeMailer {
	t.Helper()
	m, err := NewCodeMailer(SMTPConfig{Addr: srv.Addr, Security: StartTLS, User: srv.User, Password: pass, RootCAs: srv.CAs, Timeout: 5 * time.Second}, "elezioni@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func emailCode(to, lang, code string) issuer.OneTimeCode {
	return issuer.OneTimeCode{Factor: issuerapi.FactorEmail, To: to, Lang: lang, Code: code, Expires: time.Now().Add(issuer.OTPLifetime)}
}

// codeMail is a received one-time code message, parsed as a mail reader
// would.
type codeMail struct {
	to, lang, subject, body string
}

func readCodeMail(t *testing.T, r smtptest.Received) codeMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" || h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers: %v", h)
	}
	if to, err := mail.ParseAddress(h.Get("To")); err != nil || to.Address != r.To {
		t.Errorf("To %q, envelope %q", h.Get("To"), r.To)
	}
	if r.From != "elezioni@example.org" {
		t.Errorf("envelope from %q", r.From)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return codeMail{to: r.To, lang: h.Get("Content-Language"), subject: subject, body: strings.ReplaceAll(string(body), "\r\n", "\n")}
}

// TestSecondFactorMailer sends one-time codes in Italian, English, with no
// language and in a language with no text (both Italian) through a real
// SMTP server with STARTTLS and AUTH PLAIN, reads them back, and checks
// each has its recipient, language and code, says how long it is valid
// and that nobody will ask for it, and has no code in its subject.
func TestSecondFactorMailer(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	m := newCodeMailer(t, srv, srv.Pass)
	if err := m.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ to, lang, code, want string }{
		{"anna@example.org", "it", "123456", "it"},
		{"bob@example.org", "en", "654321", "en"},
		{"carla@example.org", "", "000042", "it"},
		{"dieter@example.org", "de", "999999", "it"},
	}
	for _, c := range cases {
		if err := m.Send(context.Background(), emailCode(c.to, c.lang, c.code)); err != nil {
			t.Fatalf("%s: %v", c.to, err)
		}
	}
	mails := srv.Mails()
	if len(mails) != len(cases) {
		t.Fatalf("%d messages, want %d", len(mails), len(cases))
	}
	wording := map[string][]string{
		"it": {"Il tuo codice monouso per votare", "Vale\n10 minuti", "nessuno dell'organizzazione te lo chiederà mai"},
		"en": {"Your one-time code to vote", "valid for\n10 minutes", "nobody from the organisation will ever ask you\nfor it"},
	}
	for i, c := range cases {
		got := readCodeMail(t, mails[i])
		if got.to != c.to || got.lang != c.want {
			t.Errorf("message %d went to %s in %q, want %s in %q", i, got.to, got.lang, c.to, c.want)
		}
		if !strings.Contains(got.body, "    "+c.code+"\n") {
			t.Errorf("%s: the body does not carry the code:\n%s", c.to, got.body)
		}
		if strings.Contains(got.subject, c.code) {
			t.Errorf("%s: the subject %q shows the code on a locked screen", c.to, got.subject)
		}
		w := wording[c.want]
		if got.subject != w[0] {
			t.Errorf("%s: subject %q, want %q", c.to, got.subject, w[0])
		}
		for _, s := range w[1:] {
			if !strings.Contains(got.body, s) {
				t.Errorf("%s: the body lacks %q:\n%s", c.to, s, got.body)
			}
		}
	}
}

// TestSecondFactorMailerConcurrent sends 20 codes at once, as the issuer
// does from concurrent requests, and checks that all 20 arrive, each
// address with its own code.
func TestSecondFactorMailerConcurrent(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	m := newCodeMailer(t, srv, srv.Pass)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Send(context.Background(), emailCode(fmt.Sprintf("voter%02d@example.org", i), "en", fmt.Sprintf("1000%02d", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("send %d: %v", i, err)
		}
	}
	mails := srv.Mails()
	if len(mails) != n {
		t.Fatalf("%d messages arrived, want %d", len(mails), n)
	}
	seen := map[string]bool{}
	for _, r := range mails {
		got := readCodeMail(t, r)
		var i int
		if _, err := fmt.Sscanf(got.to, "voter%02d@example.org", &i); err != nil {
			t.Fatalf("recipient %q", got.to)
		}
		if !strings.Contains(got.body, fmt.Sprintf("1000%02d", i)) {
			t.Errorf("%s did not get its own code:\n%s", got.to, got.body)
		}
		seen[got.to] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct recipients, want %d", len(seen), n)
	}
}

// TestSecondFactorMailerFailures: a recipient the server refuses at RCPT
// (550), a wrong password and an unreachable server are errors (the last
// two matching ErrAuth and ErrConnect); none of their texts holds the
// address or the code, nothing arrives, and the mailer still sends the
// next code. A code of another factor, an expired code and a bad address
// are refused before any connection.
func TestSecondFactorMailerFailures(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	m := newCodeMailer(t, srv, srv.Pass)
	refused := emailCode("gone@example.org", "it", "271828")
	srv.Reject(refused.To, true)
	noSecret := func(what string, err error, c issuer.OneTimeCode) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		t.Logf("%s: %v", what, err)
		if s := err.Error(); strings.Contains(strings.ToLower(s), strings.ToLower(c.To)) || (c.Code != "" && strings.Contains(s, c.Code)) {
			t.Errorf("%s: the error holds the address or the code: %s", what, s)
		}
	}
	err := m.Send(context.Background(), refused)
	noSecret("refused recipient", err, refused)
	if !strings.Contains(err.Error(), "550") {
		t.Errorf("the error does not give the server's answer: %v", err)
	}

	bad := newCodeMailer(t, srv, "wrong")
	c := emailCode("anna@example.org", "it", "314159")
	err = bad.Send(context.Background(), c)
	noSecret("wrong password", err, c)
	if !errors.Is(err, ErrAuth) {
		t.Errorf("wrong password: %v, want ErrAuth", err)
	}
	if err := bad.Check(context.Background()); !errors.Is(err, ErrAuth) {
		t.Errorf("Check with a wrong password: %v, want ErrAuth", err)
	}

	// Port 1 on loopback: nothing listens there.
	gone, err := NewCodeMailer(SMTPConfig{Addr: "127.0.0.1:1", Security: StartTLS, Timeout: time.Second}, "elezioni@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = gone.Send(context.Background(), c)
	noSecret("server down", err, c)
	if !errors.Is(err, ErrConnect) {
		t.Errorf("server down: %v, want ErrConnect", err)
	}

	for name, c := range map[string]issuer.OneTimeCode{
		"sms factor":  {Factor: issuerapi.FactorSMS, To: "anna@example.org", Code: "111111", Expires: time.Now().Add(time.Minute)},
		"expired":     {Factor: issuerapi.FactorEmail, To: "anna@example.org", Code: "111111", Expires: time.Now().Add(-time.Second)},
		"bad address": {Factor: issuerapi.FactorEmail, To: "Anna <anna@example.org>", Code: "111111", Expires: time.Now().Add(time.Minute)},
		"no code":     {Factor: issuerapi.FactorEmail, To: "anna@example.org", Expires: time.Now().Add(time.Minute)},
	} {
		noSecret(name, m.Send(context.Background(), c), c)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("%d messages arrived, want none", n)
	}
	ok := emailCode("anna@example.org", "it", "161803")
	if err := m.Send(context.Background(), ok); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
	if n := len(srv.Mails()); n != 1 {
		t.Fatalf("%d messages arrived, want 1", n)
	}
}

// TestAttackSecondFactorMailerPlaintext: plaintext to a host that is not
// loopback is refused when the mailer is made, before any connection;
// to loopback it is allowed.
func TestAttackSecondFactorMailerPlaintext(t *testing.T) {
	for _, addr := range []string{"192.0.2.1:25", "smtp.example.org:25", "[2001:db8::1]:25"} {
		if _, err := NewCodeMailer(SMTPConfig{Addr: addr, Security: InsecurePlaintext}, "elezioni@example.org", nil); !errors.Is(err, ErrInsecure) {
			t.Errorf("%s: %v, want ErrInsecure", addr, err)
		}
	}
	if _, err := NewCodeMailer(SMTPConfig{Addr: "smtp.example.org", Security: StartTLS}, "elezioni@example.org", nil); err == nil {
		t.Error("an address without a port was taken")
	}
	if _, err := NewCodeMailer(SMTPConfig{Addr: "smtp.example.org:587"}, "Elezioni <elezioni@example.org>", nil); err == nil {
		t.Error("a sender that is not a bare address was taken")
	}
	srv := smtptest.Start(t, smtptest.NoTLS)
	m, err := NewCodeMailer(SMTPConfig{Addr: srv.Addr, Security: InsecurePlaintext, User: srv.User, Password: srv.Pass}, "elezioni@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), emailCode("anna@example.org", "it", "123456")); err != nil {
		t.Fatal(err)
	}
}

// TestSecondFactorRedact: an error that echoes the recipient, in another
// case, and the code has both taken out, and still matches its sentinel.
func TestSecondFactorRedact(t *testing.T) {
	c := emailCode("Anna.Rossi@example.org", "it", "482915")
	err := redact(fmt.Errorf("%w: 550 <anna.rossi@EXAMPLE.ORG> refused 482915", ErrConnect), c)
	if s := err.Error(); strings.Contains(strings.ToLower(s), "anna.rossi") || strings.Contains(s, "482915") || !strings.Contains(s, "550 <[redacted]> refused [redacted]") {
		t.Errorf("redacted: %s", s)
	}
	if !errors.Is(err, ErrConnect) {
		t.Error("the sentinel is lost")
	}
	if errors.Unwrap(err) != ErrConnect {
		t.Error("the original error can be unwrapped")
	}
}

// TestSecondFactorCodeTemplates: the authority's texts replace the
// built-in ones file by file; a text without the code, a mail without a
// subject, an SMS over one message, a bad template and a missing
// directory are refused.
func TestSecondFactorCodeTemplates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "code-en.txt"), []byte("Subject: Code for the AGM\n\nYour code: {{.Code}} ({{.Minutes}} min). Never share it.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sms-it.txt"), []byte("\ufeffAssemblea: codice {{.Code}}, {{.Minutes}} min. Non darlo a nessuno.\n"), 0o644)
	tm, err := LoadCodeTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := issuer.OneTimeCode{Factor: issuerapi.FactorEmail, To: "bob@example.org", Lang: "en", Code: "123456", Expires: now.Add(5*time.Minute + time.Second)}
	msg, err := tm.mailMessage(c, now)
	if err != nil || msg.Subject != "Code for the AGM" || msg.Body != "Your code: 123456 (6 min). Never share it.\n" {
		t.Errorf("custom mail: %+v, %v", msg, err)
	}
	c.Lang = "it"
	if msg, err := tm.mailMessage(c, now); err != nil || msg.Subject != "Il tuo codice monouso per votare" {
		t.Errorf("built-in Italian mail: %+v, %v", msg, err)
	}
	if text, lang, err := tm.smsText(c, now); err != nil || lang != "it" || text != "Assemblea: codice 123456, 6 min. Non darlo a nessuno." {
		t.Errorf("custom SMS: %q %q %v", text, lang, err)
	}
	c.Lang = "en"
	if text, _, err := tm.smsText(c, now); err != nil || !strings.HasPrefix(text, "Your code to vote: 123456.") {
		t.Errorf("built-in English SMS: %q %v", text, err)
	}
	for _, l := range Languages {
		text, _, err := DefaultCodeTemplates().smsText(issuer.OneTimeCode{Lang: l, Code: "123456"}, now)
		if err != nil || len([]rune(text)) > MaxSMSLength {
			t.Errorf("built-in %s SMS is %d characters: %v", l, len([]rune(text)), err)
		}
	}

	for name, f := range map[string][2]string{
		"mail without the code":    {"code-it.txt", "Subject: Codice\n\nEccolo.\n"},
		"mail without a subject":   {"code-it.txt", "Codice: {{.Code}}\n"},
		"mail with empty subject":  {"code-en.txt", "Subject: \n\n{{.Code}}\n"},
		"mail with unknown field":  {"code-en.txt", "Subject: x\n\n{{.Code}} {{.Link}}\n"},
		"sms without the code":     {"sms-en.txt", "Your code is in your e-mail.\n"},
		"sms over one message":     {"sms-en.txt", "{{.Code}} " + strings.Repeat("x", MaxSMSLength) + "\n"},
		"sms that does not parse":  {"sms-it.txt", "{{.Code\n"},
		"sms that is not UTF-8":    {"sms-it.txt", "{{.Code}} \xff\n"},
		"mail that is not UTF-8":   {"code-it.txt", "Subject: \xff\n\n{{.Code}}\n"},
		"sms with an unknown name": {"sms-it.txt", "{{.Code}} {{.Title}}\n"},
	} {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, f[0]), []byte(f[1]), 0o644)
		if _, err := LoadCodeTemplates(d); !errors.Is(err, ErrTemplate) {
			t.Errorf("%s: %v, want ErrTemplate", name, err)
		}
	}
	if _, err := LoadCodeTemplates(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory gave the built-in texts")
	}
	if _, err := LoadCodeTemplates(filepath.Join(dir, "code-en.txt")); err == nil {
		t.Error("a file was taken for the directory")
	}
}

// BenchmarkCodeMailer measures one Send (dial, STARTTLS, AUTH PLAIN,
// the message, QUIT) against smtptest on loopback.
func BenchmarkCodeMailer(b *testing.B) {
	srv := smtptest.Start(b, smtptest.STARTTLS)
	m := newCodeMailer(b, srv, srv.Pass)
	c := emailCode("anna@example.org", "it", "123456")
	for b.Loop() {
		if err := m.Send(context.Background(), c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAttackSMTPWordsRedacted: an SMTP server's refusal names the
// recipient in ways no search for the address finds (its local part
// alone, split over lines, MIME-encoded): the error keeps the server's
// codes and none of its words.
func TestAttackSMTPWordsRedacted(t *testing.T) {
	c := emailCode("Mario.Rossi@example.it", "it", "482915")
	for _, words := range []string{"mailbox mario.rossi unavailable", "Mario.Rossi@\nexample.it over quota", "=?utf-8?q?Mario=2ERossi=40example=2Eit?= unknown"} {
		err := redact(fmt.Errorf("%w: %w", ErrConnect, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: words}), c)
		s := err.Error()
		if strings.Contains(strings.ToLower(s), "rossi") || !strings.Contains(s, "550 5.1.1") {
			t.Errorf("%q gave %q", words, s)
		}
		if !errors.Is(err, ErrConnect) {
			t.Error("the sentinel is lost")
		}
	}
}
