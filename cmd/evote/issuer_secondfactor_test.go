package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/invite"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/spf13/cobra"
)

// secondFactorSender parses args as "issuer serve" would its second
// factor's flags and returns what sender gives, with what it logged.
func secondFactorSender(t *testing.T, args ...string) (string, issuer.Sender, string, error) {
	t.Helper()
	var sf secondFactorFlags
	c := &cobra.Command{Use: "serve"}
	sf.add(c)
	if err := c.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	factor, s, err := sf.sender(&globals{stdout: io.Discard, stderr: &stderr})
	return factor, s, stderr.String(), err
}

// TestSecondFactorFlagsHelp: every flag has its help text, and the
// factor's default is none.
func TestSecondFactorFlagsHelp(t *testing.T) {
	var sf secondFactorFlags
	c := &cobra.Command{Use: "serve"}
	sf.add(c)
	for _, name := range []string{"second-factor", "smtp", "from", "starttls", "tls", "insecure-plaintext", "smtp-user", "smtp-password-file", "ca-cert", "sms-webhook", "sms-token-file", "code-templates"} {
		f := c.Flags().Lookup(name)
		if f == nil || f.Usage == "" {
			t.Errorf("--%s: no flag or no help", name)
		}
	}
	if d := c.Flags().Lookup("second-factor").DefValue; d != "none" {
		t.Errorf("--second-factor defaults to %q", d)
	}
	if f, s, _, err := secondFactorSender(t); f != "" || s != nil || err != nil {
		t.Errorf("no flags: %q %v %v", f, s, err)
	}
}

// TestSecondFactorFlagsUsage: flags that cannot go together, or are
// missing, are usage errors that say what to give; nothing is dialled.
func TestSecondFactorFlagsUsage(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("tok\n"), 0o600)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"bad factor":            {[]string{"--second-factor", "totp"}, "none, email or sms"},
		"email without smtp":    {[]string{"--second-factor", "email"}, "give --smtp host:port and --from ADDR"},
		"email without from":    {[]string{"--second-factor", "email", "--smtp", "127.0.0.1:25"}, "--from ADDR"},
		"email with sms flags":  {[]string{"--second-factor", "email", "--smtp", "127.0.0.1:25", "--from", "e@example.org", "--sms-webhook", "https://sms.example.org/"}, "leave out --sms-webhook"},
		"tls without smtp":      {[]string{"--second-factor", "email", "--tls"}, "give --smtp host:port"},
		"smtp without factor":   {[]string{"--smtp", "127.0.0.1:25", "--from", "e@example.org"}, "--second-factor email: add it"},
		"tls without factor":    {[]string{"--tls"}, "--second-factor email: add it"},
		"sms without factor":    {[]string{"--sms-webhook", "https://sms.example.org/"}, "--second-factor sms: add it"},
		"templates, no factor":  {[]string{"--code-templates", dir}, "give --second-factor email or sms"},
		"sms without webhook":   {[]string{"--second-factor", "sms", "--sms-token-file", tok}, "needs --sms-webhook URL"},
		"sms without token":     {[]string{"--second-factor", "sms", "--sms-webhook", "https://sms.example.org/"}, "--sms-token-file FILE"},
		"sms with smtp":         {[]string{"--second-factor", "sms", "--smtp", "127.0.0.1:25", "--sms-webhook", "https://sms.example.org/", "--sms-token-file", tok}, "leave out the SMTP flags"},
		"sms empty token":       {[]string{"--second-factor", "sms", "--sms-webhook", "https://sms.example.org/", "--sms-token-file", empty}, "is empty"},
		"sms http to remote":    {[]string{"--second-factor", "sms", "--sms-webhook", "http://sms.example.org/", "--sms-token-file", tok}, "in the clear"},
		"plaintext to remote":   {[]string{"--second-factor", "email", "--smtp", "192.0.2.1:25", "--from", "e@example.org", "--insecure-plaintext"}, "loopback"},
		"two securities":        {[]string{"--second-factor", "email", "--smtp", "127.0.0.1:25", "--from", "e@example.org", "--tls", "--starttls"}, "one of --starttls"},
		"user without password": {[]string{"--second-factor", "email", "--smtp", "127.0.0.1:25", "--from", "e@example.org", "--smtp-user", "u"}, "go together"},
		"missing templates":     {[]string{"--second-factor", "sms", "--code-templates", filepath.Join(dir, "nope"), "--sms-webhook", "https://sms.example.org/", "--sms-token-file", tok}, "code templates"},
	} {
		f, s, _, err := secondFactorSender(t, c.args...)
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a usage error saying %q", name, err, c.want)
		}
		if f != "" || s != nil {
			t.Errorf("%s: a sender came back with the error", name)
		}
	}
}

// TestSecondFactorFlagsEmail: --second-factor email with the SMTP flags
// (STARTTLS, the server's CA by --ca-cert, AUTH PLAIN from a password
// file) gives a sender whose code arrives; a wrong password stops it at
// the start.
func TestSecondFactorFlagsEmail(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	dir := t.TempDir()
	var ca bytes.Buffer
	pem.Encode(&ca, &pem.Block{Type: "CERTIFICATE", Bytes: srv.CertDER})
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "smtp.pass"), []byte(srv.Pass+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "wrong.pass"), []byte("wrong\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "code-en.txt"), []byte("Subject: AGM code\n\n{{.Code}}, {{.Minutes}} minutes.\n"), 0o644)
	args := []string{"--second-factor", "email", "--smtp", srv.Addr, "--from", "elezioni@example.org", "--smtp-user", srv.User,
		"--ca-cert", filepath.Join(dir, "ca.pem"), "--code-templates", dir}
	f, s, logged, err := secondFactorSender(t, append(args, "--smtp-password-file", filepath.Join(dir, "smtp.pass"))...)
	if err != nil || f != issuerapi.FactorEmail {
		t.Fatalf("%q %v", f, err)
	}
	if !strings.Contains(logged, "by e-mail") {
		t.Errorf("logged %q", logged)
	}
	err = s.Send(context.Background(), issuer.OneTimeCode{Factor: f, To: "bob@example.org", Lang: "en", Code: "123456", Expires: time.Now().Add(issuer.OTPLifetime)})
	if err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 || mails[0].To != "bob@example.org" || !bytes.Contains(mails[0].Data, []byte("123456, 10 minutes.")) {
		t.Fatalf("received %+v", mails)
	}
	_, s, _, err = secondFactorSender(t, append(args, "--smtp-password-file", filepath.Join(dir, "wrong.pass"))...)
	if !errors.Is(err, invite.ErrAuth) || s != nil {
		t.Errorf("a wrong password: %v, want ErrAuth at the start", err)
	}
}

// TestSecondFactorFlagsSMS: --second-factor sms with a loopback webhook
// and a token file gives a sender that POSTs with the token.
func TestSecondFactorFlagsSMS(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer p.Close()
	tok := filepath.Join(t.TempDir(), "sms.token")
	os.WriteFile(tok, []byte("provider-token\r\n"), 0o600)
	f, s, logged, err := secondFactorSender(t, "--second-factor", "sms", "--sms-webhook", p.URL+"/send", "--sms-token-file", tok)
	if err != nil || f != issuerapi.FactorSMS {
		t.Fatalf("%q %v", f, err)
	}
	if strings.Contains(logged, "provider-token") {
		t.Errorf("the token was logged: %q", logged)
	}
	if err := s.Send(context.Background(), issuer.OneTimeCode{Factor: f, To: "+393331234567", Lang: "it", Code: "123456", Expires: time.Now().Add(issuer.OTPLifetime)}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 1 || auth[0] != "Bearer provider-token" {
		t.Fatalf("Authorization %q", auth)
	}
}
