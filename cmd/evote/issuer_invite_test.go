package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/booth"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
)

// inviteFixture writes a manifest, a roll of 3 voters and contacts for two
// (one Italian, one English) and a CA file for srv.
func inviteFixture(t *testing.T, srv *smtptest.Server) (dir string, codes map[string]string, base []string) {
	t.Helper()
	dir = t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	e := electiontest.New(t, electiontest.Options{})
	os.WriteFile(in("manifest.json"), e.Board.Manifest().Bytes(), 0o644)
	rb, err := issuer.GenerateRoll(3)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in("roll.csv"), rb, 0o600)
	roll, _ := invite.ReadRoll(bytes.NewReader(rb))
	codes = map[string]string{}
	for _, r := range roll {
		codes[r.VoterID] = r.Code
	}
	os.WriteFile(in("contacts.csv"), []byte("voter_id,email,phone,lang\nvoter-000001,anna@example.org,,it\nvoter-000002,bob@example.org,,en\nvoter-000003,,+39333,it\n"), 0o600)
	var ca bytes.Buffer
	pem.Encode(&ca, &pem.Block{Type: "CERTIFICATE", Bytes: srv.CertDER})
	os.WriteFile(in("ca.pem"), ca.Bytes(), 0o644)
	os.WriteFile(in("smtp.pass"), []byte(srv.Pass+"\n"), 0o600)
	base = []string{"issuer", "invite", "--roll", in("roll.csv"), "--contacts", in("contacts.csv"), "--manifest", in("manifest.json"),
		"--booth", "https://vote.example.org/", "--state", in("state.json")}
	return dir, codes, base
}

// TestIssuerInvite runs "evote issuer invite" against a real SMTP server
// with STARTTLS (the CA given by --ca-cert) and AUTH PLAIN: two voters get
// their own link, the third is counted as having no e-mail, a second run
// sends nothing, and neither stdout nor stderr holds a code, link or voter
// id; --json gives the counts.
func TestIssuerInvite(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	dir, codes, base := inviteFixture(t, srv)
	smtpArgs := append(base, "--smtp", srv.Addr, "--from", "elezioni@example.org", "--smtp-user", srv.User,
		"--smtp-password-file", filepath.Join(dir, "smtp.pass"), "--ca-cert", filepath.Join(dir, "ca.pem"))
	out, errs, code := evote(t, smtpArgs...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "3 voters: 2 invitations sent, 0 failed, 1 with no e-mail") {
		t.Fatalf("stdout:\n%s", out)
	}
	noSecrets(t, codes, out+errs)
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d messages", len(mails))
	}
	for _, m := range mails {
		var link string
		for _, l := range strings.Split(strings.ReplaceAll(string(qpDecode(t, m.Data)), "\r\n", "\n"), "\n") {
			if strings.HasPrefix(l, "https://vote.example.org/#") {
				link = l
			}
		}
		inv, err := booth.ParseLink(link)
		if err != nil || inv.Code != codes[inv.VoterID] {
			t.Fatalf("message to %s: link %q: %v", m.To, link, err)
		}
	}
	out, errs, code = evote(t, append(smtpArgs, "--json")...)
	var rep invite.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.SkippedAlreadySent != 2 || rep.Sent != 0 {
		t.Fatalf("second run: exit %d %+v\n%s%s", code, rep, out, errs)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state: %v %v", fi, err)
	}
}

// TestIssuerInviteWrongPassword: a wrong password exits 1 naming the flags
// to check, and nothing is sent.
func TestIssuerInviteWrongPassword(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	dir, codes, base := inviteFixture(t, srv)
	os.WriteFile(filepath.Join(dir, "smtp.pass"), []byte("wrong\n"), 0o600)
	out, errs, code := evote(t, append(base, "--smtp", srv.Addr, "--from", "e@example.org", "--smtp-user", srv.User,
		"--smtp-password-file", filepath.Join(dir, "smtp.pass"), "--ca-cert", filepath.Join(dir, "ca.pem"))...)
	if code != 1 || !strings.Contains(errs, "refused the user and password") || !strings.Contains(errs, "--smtp-password-file") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if len(srv.Mails()) != 0 {
		t.Fatal("sent with a wrong password")
	}
	noSecrets(t, codes, out+errs)
}

// TestIssuerInviteMerge writes the mail-merge file, 0600, and prints no code.
func TestIssuerInviteMerge(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	dir, codes, base := inviteFixture(t, srv)
	merge := filepath.Join(dir, "merge.csv")
	out, errs, code := evote(t, append(base, "--merge", merge, "--merge-fields")...)
	if code != 0 || !strings.Contains(out, "2 invitations; 1 voters with no e-mail") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	noSecrets(t, codes, out+errs)
	b, _ := os.ReadFile(merge)
	if !strings.HasPrefix(string(b), "voter_id,email,lang,link,code\n") || !strings.Contains(string(b), codes["voter-000002"]) {
		t.Fatalf("merge file:\n%s", b)
	}
	if fi, _ := os.Stat(merge); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

// TestIssuerInviteUsage: flags that cannot go together are usage errors.
func TestIssuerInviteUsage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.STARTTLS)
	dir, _, base := inviteFixture(t, srv)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"neither":        {nil, "either --smtp"},
		"both":           {[]string{"--smtp", srv.Addr, "--from", "e@example.org", "--merge", filepath.Join(dir, "m.csv")}, "either --smtp"},
		"no from":        {[]string{"--smtp", srv.Addr}, "--from"},
		"tls twice":      {[]string{"--smtp", srv.Addr, "--from", "e@example.org", "--tls", "--starttls"}, "one of --starttls"},
		"user, no pass":  {[]string{"--smtp", srv.Addr, "--from", "e@example.org", "--smtp-user", "u"}, "go together"},
		"plaintext away": {[]string{"--smtp", "192.0.2.1:25", "--from", "e@example.org", "--insecure-plaintext"}, "loopback"},
		"bad booth":      {[]string{"--merge", filepath.Join(dir, "m.csv"), "--booth", "ftp://x/"}, "http(s) URL"},
	} {
		out, errs, code := evote(t, append(append([]string(nil), base...), c.args...)...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, want an error saying %q\n%s%s", name, code, c.want, out, errs)
		}
	}
}

// qpDecode returns a message's body, quoted-printable decoded.
func qpDecode(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func noSecrets(t *testing.T, codes map[string]string, out string) {
	t.Helper()
	for id, c := range codes {
		for _, s := range []string{c, strings.ReplaceAll(c, "-", ""), id, "https://vote.example.org/#"} {
			if strings.Contains(out, s) {
				t.Errorf("the output holds %q:\n%s", s, out)
			}
		}
	}
}
