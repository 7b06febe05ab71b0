package invite

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/evote/evote/booth"
)

// ErrTemplate means a template is malformed or leaves out the link.
var ErrTemplate = errors.New("invite: bad template")

//go:embed templates/it.txt templates/en.txt
var defaultFS embed.FS

// An Election is what the invitations name.
type Election struct {
	ID       string // the manifest's election id, 64 hex digits
	Title    string // the manifest's title
	BoothURL string // the booth's address, such as https://vote.example.org/
}

// Data is what a template sees: {{.Title}}, {{.Link}}, {{.Code}},
// {{.VoterID}}, {{.Booth}}.
type Data struct {
	Title, Link, Code, VoterID, Booth string
}

// Templates are the invitation's text, one per language. A template file
// starts with a line "Subject: ...", then the body (a blank line between
// them is dropped); both are text/template templates over [Data].
type Templates struct {
	byLang map[string]*tmpl
}

type tmpl struct{ subject, body *template.Template }

// DefaultTemplates returns the built-in Italian and English templates.
func DefaultTemplates() *Templates {
	t := &Templates{byLang: map[string]*tmpl{}}
	for _, l := range Languages {
		b, err := defaultFS.ReadFile("templates/" + l + ".txt")
		if err != nil {
			panic(err)
		}
		p, err := parseTemplate(l, string(b))
		if err != nil {
			panic(err)
		}
		t.byLang[l] = p
	}
	return t
}

// LoadTemplates reads dir/it.txt and dir/en.txt, the authority's own
// wording; a language whose file is missing keeps the built-in template.
// A template must produce a one-line subject and a body carrying
// {{.Link}}.
func LoadTemplates(dir string) (*Templates, error) {
	t := DefaultTemplates()
	for _, l := range Languages {
		b, err := os.ReadFile(filepath.Join(dir, l+".txt"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("invite: %w", err)
		}
		p, err := parseTemplate(l, string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTemplate, filepath.Join(dir, l+".txt"), err)
		}
		t.byLang[l] = p
	}
	return t, nil
}

// parseSubjectBody parses a template file: a line "Subject: ...", then
// the body.
func parseSubjectBody(lang, text string) (*tmpl, error) {
	if !utf8.ValidString(text) {
		return nil, errors.New("not UTF-8")
	}
	text = strings.ReplaceAll(strings.TrimPrefix(text, "\ufeff"), "\r\n", "\n")
	first, body, _ := strings.Cut(text, "\n")
	subj, ok := strings.CutPrefix(first, "Subject:")
	if !ok {
		return nil, errors.New(`the first line must be "Subject: ..."`)
	}
	body = strings.TrimPrefix(body, "\n")
	s, err := template.New(lang + " subject").Option("missingkey=error").Parse(strings.TrimSpace(subj))
	if err != nil {
		return nil, err
	}
	b, err := template.New(lang + " body").Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, err
	}
	return &tmpl{subject: s, body: b}, nil
}

func parseTemplate(lang, text string) (*tmpl, error) {
	p, err := parseSubjectBody(lang, text)
	if err != nil {
		return nil, err
	}
	// Try it: a template that fails, or leaves out the link, would fail or
	// send a useless message to every voter.
	sample := Data{Title: "T", Link: "https://booth.example/#e=1&v=2&c=3", Code: "CODE0-CODE1-CODE2-CODE3", VoterID: "voter-1", Booth: "https://booth.example/"}
	subject, msg, err := p.render(sample)
	if err != nil {
		return nil, err
	}
	if subject == "" {
		return nil, errors.New("the subject is empty")
	}
	if !strings.Contains(msg, sample.Link) {
		return nil, errors.New("the body does not carry {{.Link}}")
	}
	return p, nil
}

func (p *tmpl) render(d any) (subject, body string, err error) {
	var s, b bytes.Buffer
	if err := p.subject.Execute(&s, d); err != nil {
		return "", "", err
	}
	if err := p.body.Execute(&b, d); err != nil {
		return "", "", err
	}
	subject = strings.TrimSpace(s.String())
	if strings.ContainsAny(subject, "\r\n") {
		return "", "", errors.New("the subject is more than one line")
	}
	return subject, b.String(), nil
}

// A Message is one voter's invitation. It holds the code and the link:
// never log it.
type Message struct {
	VoterID, To, Lang string
	Subject, Body     string
	Link, Code        string
}

// Render makes voter v's invitation in their language.
func (t *Templates) Render(e Election, v Voter) (*Message, error) {
	link, err := booth.Link(e.BoothURL, booth.Invitation{ElectionID: e.ID, VoterID: v.ID, Code: v.Code})
	if err != nil {
		return nil, err
	}
	p := t.byLang[v.Lang]
	if p == nil {
		return nil, fmt.Errorf("%w: no template for language %q", ErrTemplate, v.Lang)
	}
	subject, body, err := p.render(Data{Title: e.Title, Link: link, Code: v.Code, VoterID: v.ID, Booth: e.BoothURL})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTemplate, v.Lang, err)
	}
	return &Message{VoterID: v.ID, To: v.Email, Lang: v.Lang, Subject: subject, Body: body, Link: link, Code: v.Code}, nil
}

// MIME formats m as an RFC 5322 message from from, dated date: one
// text/plain part in UTF-8, quoted-printable (so no line is over 76
// characters and any relay, 8BITMIME or not, carries it unchanged), the
// subject RFC 2047-encoded when it is not ASCII, and a fresh Message-ID.
func (m *Message) MIME(from string, date time.Time) ([]byte, error) {
	if err := checkAddress(from); err != nil {
		return nil, fmt.Errorf("invite: the sender %q: %v", from, err)
	}
	if err := checkAddress(m.To); err != nil {
		return nil, fmt.Errorf("invite: the recipient: %v", err)
	}
	var id [16]byte
	rand.Read(id[:])
	_, domain, _ := strings.Cut(from, "@")
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", "<"+from+">")
	hdr("To", "<"+m.To+">")
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Content-Language", m.Lang)
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
