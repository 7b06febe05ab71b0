package invite

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

// The issuer's one-time codes (its second factor, after the enrolment
// code) go out through an [issuer.Sender]: [CodeMailer] by e-mail over
// the same SMTP rules as the invitations, [SMSWebhook] by an SMS
// provider's HTTP webhook. Neither logs, nor puts in an error, the code,
// the address or the number: the issuer logs a failed send's error.

//go:embed templates/code-it.txt templates/code-en.txt templates/sms-it.txt templates/sms-en.txt
var codeFS embed.FS

var (
	_ issuer.Sender = (*CodeMailer)(nil)
	_ issuer.Sender = (*SMSWebhook)(nil)
)

// MaxSMSLength is the longest SMS text a template may make: one SMS
// (160 characters of the GSM alphabet, which has the Italian accented
// letters), so that every phone shows it whole and it costs one message.
const MaxSMSLength = 160

// CodeData is what a one-time code's template sees: {{.Code}} and
// {{.Minutes}}.
type CodeData struct {
	Code    string // the one-time code, issuer.OTPDigits digits
	Minutes int    // how many minutes it stays valid, rounded up
}

// CodeTemplates are the one-time code's texts, one per language: the
// e-mail (code-LANG.txt, a line "Subject: ...", then the body, as an
// invitation's template) and the SMS (sms-LANG.txt, the text alone). Both
// are text/template templates over [CodeData] and must carry {{.Code}}.
type CodeTemplates struct {
	mail map[string]*tmpl
	sms  map[string]*template.Template
}

// codeSample is what a template is tried on when it is loaded.
var codeSample = CodeData{Code: "482915", Minutes: 10}

// DefaultCodeTemplates returns the built-in Italian and English texts.
func DefaultCodeTemplates() *CodeTemplates {
	t := &CodeTemplates{mail: map[string]*tmpl{}, sms: map[string]*template.Template{}}
	for _, l := range Languages {
		for _, kind := range []string{"code", "sms"} {
			b, err := codeFS.ReadFile("templates/" + kind + "-" + l + ".txt")
			if err != nil {
				panic(err)
			}
			if err := t.parse(kind, l, string(b)); err != nil {
				panic(err)
			}
		}
	}
	return t
}

// LoadCodeTemplates reads the authority's own wording from dir:
// code-it.txt, code-en.txt, sms-it.txt and sms-en.txt (the invitations'
// it.txt and en.txt may sit in the same directory); a file that is missing
// keeps the built-in text. dir itself must exist, so that a mistyped
// directory is not silently the built-in texts.
func LoadCodeTemplates(dir string) (*CodeTemplates, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("invite: the code templates: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("invite: the code templates: %s is not a directory", dir)
	}
	t := DefaultCodeTemplates()
	for _, l := range Languages {
		for _, kind := range []string{"code", "sms"} {
			path := filepath.Join(dir, kind+"-"+l+".txt")
			b, err := os.ReadFile(path)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("invite: %w", err)
			}
			if err := t.parse(kind, l, string(b)); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrTemplate, path, err)
			}
		}
	}
	return t, nil
}

// parse parses one template and tries it on codeSample: a template that
// fails, or leaves out the code, would fail every voter's second factor.
func (t *CodeTemplates) parse(kind, lang, text string) error {
	if kind == "code" {
		p, err := parseSubjectBody("code-"+lang, text)
		if err != nil {
			return err
		}
		subject, body, err := p.render(codeSample)
		switch {
		case err != nil:
			return err
		case subject == "":
			return errors.New("the subject is empty")
		case !strings.Contains(body, codeSample.Code):
			return errors.New("the body does not carry {{.Code}}")
		}
		t.mail[lang] = p
		return nil
	}
	if !utf8.ValidString(text) {
		return errors.New("not UTF-8")
	}
	text = strings.TrimSpace(strings.TrimPrefix(text, "\ufeff"))
	p, err := template.New("sms-" + lang).Option("missingkey=error").Parse(text)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := p.Execute(&b, codeSample); err != nil {
		return err
	}
	switch n := utf8.RuneCount(b.Bytes()); {
	case !strings.Contains(b.String(), codeSample.Code):
		return errors.New("the text does not carry {{.Code}}")
	case n > MaxSMSLength:
		return fmt.Errorf("the text is %d characters with a %d-digit code; at most %d fit one SMS", n, len(codeSample.Code), MaxSMSLength)
	}
	t.sms[lang] = p
	return nil
}

// codeLang is the language a code is written in: c's if there is a text
// for it, otherwise the default.
func codeLang(lang string) string {
	if isLanguage(lang) {
		return lang
	}
	return Languages[0]
}

// codeData is c's template data at now.
func codeData(c issuer.OneTimeCode, now time.Time) (CodeData, error) {
	if c.Code == "" {
		return CodeData{}, errors.New("invite: the one-time code is empty")
	}
	exp := c.Expires
	if exp.IsZero() {
		exp = now.Add(issuer.OTPLifetime)
	}
	d := exp.Sub(now)
	if d <= 0 {
		return CodeData{}, errors.New("invite: the one-time code expired before it was sent")
	}
	return CodeData{Code: c.Code, Minutes: int((d + time.Minute - 1) / time.Minute)}, nil
}

// mailMessage is c's e-mail at now.
func (t *CodeTemplates) mailMessage(c issuer.OneTimeCode, now time.Time) (*Message, error) {
	d, err := codeData(c, now)
	if err != nil {
		return nil, err
	}
	lang := codeLang(c.Lang)
	subject, body, err := t.mail[lang].render(d)
	if err != nil {
		return nil, fmt.Errorf("%w: code-%s: %v", ErrTemplate, lang, err)
	}
	return &Message{To: c.To, Lang: lang, Subject: subject, Body: body, Code: c.Code}, nil
}

// smsText is c's SMS text at now, and its language.
func (t *CodeTemplates) smsText(c issuer.OneTimeCode, now time.Time) (text, lang string, err error) {
	d, err := codeData(c, now)
	if err != nil {
		return "", "", err
	}
	lang = codeLang(c.Lang)
	var b bytes.Buffer
	if err := t.sms[lang].Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("%w: sms-%s: %v", ErrTemplate, lang, err)
	}
	return b.String(), lang, nil
}

// redactedError is an error whose text has the code and the recipient
// taken out; it still matches the sentinel it wrapped, if any.
type redactedError struct {
	text     string
	sentinel error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.sentinel }

// redact returns err with c's code and recipient taken out of its text
// (in any case: servers echo a recipient as they please), and keeps
// only the package's own sentinels, so that no wrapped error can give the
// original text back.
func redact(err error, c issuer.OneTimeCode) error {
	text := err.Error()
	// A server's own words may echo the address in any form (split over
	// lines, MIME-encoded, the local part alone): keep only its codes.
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		text = fmt.Sprintf("invite: the SMTP server refused the one-time code's message: %d %d.%d.%d (its words are not kept: they may name the recipient)",
			se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	for _, s := range []string{c.To, c.Code} {
		if s != "" {
			text = regexp.MustCompile("(?i)"+regexp.QuoteMeta(s)).ReplaceAllLiteralString(text, "[redacted]")
		}
	}
	r := &redactedError{text: text}
	for _, s := range []error{ErrAuth, ErrConnect, ErrInsecure, ErrSMS} {
		if errors.Is(err, s) {
			r.sentinel = s
		}
	}
	return r
}

// maxCodeConns bounds the connections a [CodeMailer] holds open at once:
// submission servers cap the connections of one client (often at 10 to
// 50), and one over the cap would be refused, failing a voter's code.
// Sends beyond it wait for a free connection, as long as their context
// allows.
const maxCodeConns = 10

// A CodeMailer sends the issuer's one-time codes by e-mail. It is safe for
// concurrent use: each Send dials its own connection (TLS and AUTH as
// [DialSMTP]), sends one message and quits, at most maxCodeConns at once.
// A connection per message costs a handshake, but a kept one would be
// closed by the server while idle between voters and fail the next code.
// Against invite/smtptest on loopback with STARTTLS and AUTH PLAIN a Send
// took 1.9 to 2.2 ms (BenchmarkCodeMailer, two cores), well within a
// voter's patience.
type CodeMailer struct {
	cfg   SMTPConfig
	from  string
	t     *CodeTemplates
	now   func() time.Time
	slots chan struct{}
}

// NewCodeMailer returns a CodeMailer sending from from through the server
// cfg names, in t's wording (nil: [DefaultCodeTemplates]). It checks the
// configuration, not the server: call [CodeMailer.Check] for that.
func NewCodeMailer(cfg SMTPConfig, from string, t *CodeTemplates) (*CodeMailer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := checkAddress(from); err != nil {
		return nil, fmt.Errorf("invite: the sender %q: %v", from, err)
	}
	if t == nil {
		t = DefaultCodeTemplates()
	}
	return &CodeMailer{cfg: cfg, from: from, t: t, now: time.Now, slots: make(chan struct{}, maxCodeConns)}, nil
}

// Check connects to the server and logs in, so that a wrong address,
// certificate or password fails when the issuer starts, not at the first
// voter.
func (m *CodeMailer) Check(ctx context.Context) error {
	s, err := DialSMTP(ctx, m.cfg)
	if err != nil {
		return err
	}
	return s.Close()
}

// Send e-mails the one-time code c to c.To, in c.Lang.
func (m *CodeMailer) Send(ctx context.Context, c issuer.OneTimeCode) error {
	if c.Factor != issuerapi.FactorEmail {
		return fmt.Errorf("invite: the code mailer sends %q codes, not %q", issuerapi.FactorEmail, c.Factor)
	}
	now := m.now()
	msg, err := m.t.mailMessage(c, now)
	if err != nil {
		return err
	}
	raw, err := msg.MIME(m.from, now)
	if err != nil {
		return redact(err, c)
	}
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
	case <-ctx.Done():
		return ctx.Err()
	}
	s, err := DialSMTP(ctx, m.cfg)
	if err != nil {
		return redact(err, c)
	}
	if err := s.Send(ctx, m.from, c.To, raw); err != nil {
		s.Close()
		return redact(fmt.Errorf("invite: the SMTP server did not take the one-time code: %w", err), c)
	}
	// The server has taken the message: a failed QUIT does not unsend it.
	s.Close()
	return nil
}
