package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer/issuerapi"
)

// serveIssuer starts "evote <args>" (an issuer serve) until the test ends
// and returns its URL and its log.
func serveIssuer(t *testing.T, args ...string) (string, *syncWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{ready: make(chan string, 1)}
	errs := &syncWriter{}
	root := newRoot(out, errs)
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("evote %s: %v", strings.Join(args, " "), err)
		}
	})
	select {
	case u := <-out.ready:
		return u, errs
	case err := <-done:
		done <- err
		t.Fatalf("evote %s: %v\n%s", strings.Join(args, " "), err, errs)
	case <-time.After(10 * time.Second):
		t.Fatalf("evote %s did not start:\n%s", strings.Join(args, " "), errs)
	}
	return "", nil
}

// helpdeskSite is an election with an issuer serving three voters with
// its admin API on, and a real SMTP server for the invitations.
type helpdeskSite struct {
	dir, url string
	log      *syncWriter
	srv      *smtptest.Server
	codes    map[string]string
	secret   []string // the passphrase flags
	admin    []string // --issuer URL --admin-token-file FILE
	invite   []string // the invitation's flags but the roll and contacts
	key      *token.PrivateKey
}

func (s *helpdeskSite) in(f string) string { return filepath.Join(s.dir, f) }

func newHelpdeskSite(t *testing.T, adminOn bool) *helpdeskSite {
	t.Helper()
	s := &helpdeskSite{dir: t.TempDir(), srv: smtptest.Start(t, smtptest.STARTTLS)}
	in := s.in
	os.WriteFile(in("pass"), []byte("s3cret\n"), 0o600)
	s.secret = []string{"--passphrase-file", in("pass"), "--scrypt-work-factor", "10"}
	must := func(args ...string) {
		t.Helper()
		if out, errs, code := evote(t, args...); code != 0 {
			t.Fatalf("evote %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
		}
	}
	must(append(s.secret, "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub"))...)
	init := []string{"election", "init", "--title", "AGM 2026", "--question", "q:Yes?:yes,no", "--issuer-key", in("issuer.pub"), "--out", in("manifest.json")}
	for _, n := range []string{"1", "2", "3"} {
		must(append(s.secret, "trustee", "keygen", "--out", in("t"+n+".sign"), "--pub", in("t"+n+".pub"))...)
		init = append(init, "--trustee-key", in("t"+n+".pub"))
	}
	must(init...)
	must("issuer", "roll", "--voters", "3", "--out", in("roll.csv"))
	roll, _ := invite.ReadRoll(bytes.NewReader(mustRead(t, in("roll.csv"))))
	s.codes = map[string]string{}
	for _, r := range roll {
		s.codes[r.VoterID] = r.Code
	}
	os.WriteFile(in("contacts.csv"), []byte("voter_id,email,phone,lang\nvoter-000001,anna@example.org,,it\nvoter-000002,bob@example.org,+39 333 123 4567,en\n"), 0o600)
	os.WriteFile(in("admin.token"), []byte("the-help-desk-token-4f1c9a\n"), 0o600)
	var ca bytes.Buffer
	pem.Encode(&ca, &pem.Block{Type: "CERTIFICATE", Bytes: s.srv.CertDER})
	os.WriteFile(in("smtp-ca.pem"), ca.Bytes(), 0o644)
	os.WriteFile(in("smtp.pass"), []byte(s.srv.Pass+"\n"), 0o600)
	serve := append(append([]string(nil), s.secret...), "issuer", "serve", "--key", in("issuer.key"), "--election", in("manifest.json"),
		"--roll", in("roll.csv"), "--contacts", in("contacts.csv"), "--data", in("data"), "--listen", "127.0.0.1:0", "--log-format", "json")
	if adminOn {
		serve = append(serve, "--admin-token-file", in("admin.token"))
	}
	s.url, s.log = serveIssuer(t, serve...)
	s.admin = []string{"--issuer", s.url, "--admin-token-file", in("admin.token")}
	s.invite = []string{"--booth", "https://vote.example.org/", "--manifest", in("manifest.json"), "--state", in("state.json"),
		"--smtp", s.srv.Addr, "--from", "elezioni@example.org", "--smtp-user", s.srv.User, "--smtp-password-file", in("smtp.pass"),
		"--smtp-ca-cert", in("smtp-ca.pem")}
	plain, err := (&secret.Keyring{Passphrase: "s3cret", WorkFactor: 10}).ReadFile(in("issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(plain)
	if s.key, err = token.ParsePrivateKey(pem.EncodeToMemory(block)); err != nil {
		t.Fatal(err)
	}
	return s
}

// helpdesk runs "evote issuer helpdesk <args>".
func (s *helpdeskSite) helpdesk(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return evote(t, append([]string{"issuer", "helpdesk"}, args...)...)
}

// token asks the issuer for a token for id with code, over HTTP.
func (s *helpdeskSite) token(t *testing.T, id, code string) error {
	t.Helper()
	m, err := ballot.ParseManifest(mustRead(t, s.in("manifest.json")))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blinded, _, err := token.Blind(nil, s.key.Public(), m.ID(), pub)
	if err != nil {
		t.Fatal(err)
	}
	_, err = issuerapi.NewClient(s.url, nil).RequestToken(context.Background(), issuerapi.Credentials{VoterID: id, Code: code}, blinded)
	return err
}

// noIdentity fails if s holds a voter ID, an enrolment code or an e-mail
// address.
func (s *helpdeskSite) noIdentity(t *testing.T, what, text string, extra ...string) {
	t.Helper()
	for _, x := range append([]string{"voter-00000", "anna@", "bob@", "3331234567", "333 123 4567"}, extra...) {
		if strings.Contains(text, x) {
			t.Errorf("%s holds %q:\n%s", what, x, text)
		}
	}
	for _, c := range s.codes {
		if strings.Contains(text, c) {
			t.Errorf("%s holds an enrolment code", what)
		}
	}
}

// TestIssuerHelpdesk runs the help desk against a running issuer: show
// (a voter with wrong codes from an address, --json, a voter not on the
// roll), unlock (no wrong codes left; a voter not on the roll refused), resend (sent
// through a real SMTP server, then refused within the cool-down and at
// --max-sends, nothing sent), add (a late member's invitation e-mailed, its
// code working; the same member again refused; a second member once a
// token was issued refused, nothing changed), and tag (the issuer's and
// the key's agree, and find the voter's lines in the log). The issuer's
// log holds operator actions with tags, and no voter ID, code or address.
func TestIssuerHelpdesk(t *testing.T) {
	s := newHelpdeskSite(t, true)
	admin := s.admin

	// Wrong codes from this address for voter-000001. (Whether the
	// address still waits depends on the clock: package issuer's tests
	// have a settable one.)
	for range 6 {
		if err := s.token(t, "voter-000001", s.codes["voter-000002"]); !errors.Is(err, issuerapi.ErrBadCredentials) {
			t.Fatalf("a wrong code: %v", err)
		}
	}
	out, errs, code := s.helpdesk(t, append([]string{"show", "--voter", "VOTER-000001"}, admin...)...)
	if code != 0 || !strings.Contains(out, "on the roll (voter tag ") || !strings.Contains(out, "token: not issued") ||
		!strings.Contains(out, "wrong codes: 6, from 1 address") || !strings.Contains(out, "contacts: e-mail a•••@e•••.org") {
		t.Fatalf("show: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = s.helpdesk(t, append([]string{"show", "--voter", "voter-000002", "--json"}, admin...)...)
	var st issuerapi.VoterState
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || !st.OnRoll || st.Phone != "•••• 4567" || st.Email != "b•••@e•••.org" || st.TokenIssued {
		t.Fatalf("show --json: exit %d %+v\n%s", code, st, out)
	}
	if out, _, code := s.helpdesk(t, append([]string{"show", "--voter", "nobody-1"}, admin...)...); code != 0 || !strings.HasPrefix(out, "not on the roll") {
		t.Fatalf("show of a voter not on the roll: exit %d\n%s", code, out)
	}

	// Unlock: no wrong codes left.
	if out, errs, code := s.helpdesk(t, append([]string{"unlock", "--voter", "voter-000001"}, admin...)...); code != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("unlock: exit %d\n%s%s", code, out, errs)
	}
	if out, _, _ := s.helpdesk(t, append([]string{"show", "--voter", "voter-000001"}, admin...)...); !strings.Contains(out, "wrong codes: 0\n") {
		t.Fatalf("show after unlock:\n%s", out)
	}
	if out, errs, code := s.helpdesk(t, append([]string{"unlock", "--voter", "nobody-1"}, admin...)...); code == 0 || !strings.Contains(errs, "not on the roll") {
		t.Fatalf("unlock of a voter not on the roll: exit %d\n%s%s", code, out, errs)
	}

	// Resend: once, then refused by the cool-down, then by --max-sends.
	resend := append(append([]string{"resend", "--voter", "voter-000002", "--roll", s.in("roll.csv"), "--contacts", s.in("contacts.csv")}, admin...), s.invite...)
	out, errs, code = s.helpdesk(t, resend...)
	if code != 0 || !strings.Contains(out, "invitation sent to b•••@e•••.org") || len(s.srv.Mails()) != 1 {
		t.Fatalf("resend: exit %d, %d mails\n%s%s", code, len(s.srv.Mails()), out, errs)
	}
	s.noIdentity(t, "resend's output", out+errs)
	inv := readInvitation(t, s.srv.Mails()[0])
	if inv.VoterID != "voter-000002" || inv.Code != s.codes["voter-000002"] {
		t.Fatalf("the invitation's link: %+v", inv)
	}
	if out, errs, code := s.helpdesk(t, resend...); code != 1 || !strings.Contains(errs, "less than --cool-down 1h0m0s ago") || len(s.srv.Mails()) != 1 {
		t.Fatalf("resend within the cool-down: exit %d, %d mails\n%s%s", code, len(s.srv.Mails()), out, errs)
	}
	if out, errs, code := s.helpdesk(t, append(resend, "--cool-down", "1ns")...); code != 0 || len(s.srv.Mails()) != 2 {
		t.Fatalf("resend after the cool-down: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := s.helpdesk(t, append(resend, "--cool-down", "1ns", "--max-sends", "2")...); code != 1 || !strings.Contains(errs, "the limit of --max-sends 2") || len(s.srv.Mails()) != 2 {
		t.Fatalf("resend at the limit: exit %d\n%s%s", code, out, errs)
	}
	noRoll := append(append([]string{"resend", "--voter", "nobody-1", "--roll", s.in("roll.csv"), "--contacts", s.in("contacts.csv")}, admin...), s.invite...)
	if _, errs, code := s.helpdesk(t, noRoll...); code != 1 || !strings.Contains(errs, "not in") {
		t.Fatalf("resend to a voter not in the roll file: exit %d\n%s", code, errs)
	}

	// Add: the late member's invitation is e-mailed, and its code works.
	add := append(append([]string{"add", "--voter", "Late-0001", "--email", "lucia@example.org", "--lang", "en"}, admin...), s.invite...)
	out, errs, code = s.helpdesk(t, add...)
	if code != 0 || !strings.Contains(out, "added late-0001 to the roll") || !strings.Contains(out, "invitation sent to l•••@e•••.org") || len(s.srv.Mails()) != 3 {
		t.Fatalf("add: exit %d\n%s%s", code, out, errs)
	}
	late := readInvitation(t, s.srv.Mails()[2])
	if late.VoterID != "late-0001" || strings.Contains(out+errs, late.Code) {
		t.Fatalf("the late member's invitation %+v, or its code printed:\n%s%s", late, out, errs)
	}
	if _, _, code := s.helpdesk(t, add...); code != 1 || len(s.srv.Mails()) != 3 {
		t.Fatalf("the same member again: exit %d", code)
	}
	if err := s.token(t, "late-0001", late.Code); err != nil {
		t.Fatalf("the late member's token: %v", err)
	}
	// A token is issued: the roll takes no one else.
	out, errs, code = s.helpdesk(t, append([]string{"add", "--voter", "late-0002"}, admin...)...)
	if code != 1 || !strings.Contains(errs, "issuance_started") || strings.Contains(out, "enrolment code") {
		t.Fatalf("an add after issuance: exit %d\n%s%s", code, out, errs)
	}
	if out, _, _ := s.helpdesk(t, append([]string{"show", "--voter", "late-0002"}, admin...)...); !strings.HasPrefix(out, "not on the roll") {
		t.Fatalf("the refused add is on the roll:\n%s", out)
	}
	if out, _, _ := s.helpdesk(t, append([]string{"show", "--voter", "late-0001"}, admin...)...); !strings.Contains(out, "token: issued") {
		t.Fatalf("show after the token:\n%s", out)
	}

	// Tag: the issuer's, the key's, and the log's agree.
	byIssuer, _, code := s.helpdesk(t, append([]string{"tag", "--voter", "VOTER-000001"}, admin...)...)
	byKey, errs, code2 := s.helpdesk(t, append(append([]string{}, s.secret...), "tag", "--voter", "voter-000001", "--key", s.in("issuer.key"))...)
	if code != 0 || code2 != 0 || byIssuer != byKey || len(strings.TrimSpace(byKey)) != 24 {
		t.Fatalf("tags %q (exit %d) and %q (exit %d) %s", byIssuer, code, byKey, code2, errs)
	}
	log := s.log.String()
	var actions []string
	for _, l := range strings.Split(log, "\n") {
		var x struct {
			Msg, Action, Outcome string
			Tag                  string `json:"voter_tag"`
		}
		if json.Unmarshal([]byte(l), &x) == nil && x.Msg == "operator action" {
			if x.Tag == strings.TrimSpace(byKey) {
				actions = append(actions, x.Action+":"+x.Outcome)
			}
		}
	}
	if strings.Join(actions, " ") != "show:shown unlock:unlocked show:shown tag:tagged" {
		t.Fatalf("voter-000001's operator actions in the log: %q\n%s", actions, log)
	}
	for _, want := range []string{`"action":"resend","outcome":"allowed"`, `"action":"add","outcome":"added"`, `"action":"add","outcome":"duplicate"`, `"action":"add","outcome":"issuance_started"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %s", want)
		}
	}
	s.noIdentity(t, "the issuer's log", log, "late-000", "lucia@", late.Code, "the-help-desk-token")
}

// readInvitation reads the booth's link out of an invitation.
func readInvitation(t *testing.T, m smtptest.Received) *booth.Invitation {
	t.Helper()
	for _, l := range strings.Split(strings.ReplaceAll(string(qpDecode(t, m.Data)), "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, "https://vote.example.org/#") {
			inv, err := booth.ParseLink(l)
			if err != nil {
				t.Fatal(err)
			}
			return inv
		}
	}
	t.Fatalf("no link in the message to %s", m.To)
	return nil
}

// TestHelpdeskAddShowsCode: without the invitation's flags add prints the
// code once, and it works.
func TestHelpdeskAddShowsCode(t *testing.T) {
	s := newHelpdeskSite(t, true)
	out, errs, code := s.helpdesk(t, append([]string{"add", "--voter", "late-0001"}, s.admin...)...)
	_, c, ok := strings.Cut(out, "(the issuer keeps only its hash): ")
	if code != 0 || !ok {
		t.Fatalf("add: exit %d\n%s%s", code, out, errs)
	}
	if err := s.token(t, "late-0001", strings.TrimSpace(c)); err != nil {
		t.Fatalf("the printed code: %v", err)
	}
	s.noIdentity(t, "the issuer's log", s.log.String(), "late-0001", strings.TrimSpace(c))
}

// TestAttackHelpdeskWrongToken: the help desk with another token is
// refused (exit 1, saying which flag to check) and changes nothing: the
// voter's wrong codes are still counted, no member is added, no
// invitation sent.
func TestAttackHelpdeskWrongToken(t *testing.T) {
	s := newHelpdeskSite(t, true)
	for range 6 {
		s.token(t, "voter-000001", s.codes["voter-000002"])
	}
	os.WriteFile(s.in("wrong.token"), []byte("not-the-token\n"), 0o600)
	wrong := []string{"--issuer", s.url, "--admin-token-file", s.in("wrong.token")}
	for _, args := range [][]string{
		{"unlock", "--voter", "voter-000001"},
		{"show", "--voter", "voter-000001"},
		{"add", "--voter", "late-0001"},
		append([]string{"resend", "--voter", "voter-000001", "--roll", s.in("roll.csv"), "--contacts", s.in("contacts.csv")}, s.invite...),
	} {
		out, errs, code := s.helpdesk(t, append(args, wrong...)...)
		if code != 1 || !strings.Contains(errs, "unauthorized") || !strings.Contains(errs, "--admin-token-file is not the file") {
			t.Fatalf("%s with a wrong token: exit %d\n%s%s", args[0], code, out, errs)
		}
	}
	if out, _, _ := s.helpdesk(t, append([]string{"show", "--voter", "voter-000001"}, s.admin...)...); !strings.Contains(out, "wrong codes: 6, from 1 address") {
		t.Fatalf("the unlock with a wrong token changed the voter:\n%s", out)
	}
	if out, _, _ := s.helpdesk(t, append([]string{"show", "--voter", "late-0001"}, s.admin...)...); !strings.HasPrefix(out, "not on the roll") {
		t.Fatalf("a member was added with a wrong token:\n%s", out)
	}
	if len(s.srv.Mails()) != 0 {
		t.Fatal("an invitation was sent with a wrong token")
	}
	if !strings.Contains(s.log.String(), "operator action refused") {
		t.Fatalf("the issuer's log:\n%s", s.log)
	}
}

// TestHelpdeskAdminOff: an issuer started without --admin-token-file has
// no admin API: the help desk is told to start it with one.
func TestHelpdeskAdminOff(t *testing.T) {
	s := newHelpdeskSite(t, false)
	out, errs, code := s.helpdesk(t, append([]string{"show", "--voter", "voter-000001"}, s.admin...)...)
	if code != 1 || !strings.Contains(errs, "admin API is off: start evote issuer serve with --admin-token-file") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
}

// TestHelpdeskUsage: the flags a command cannot do without.
func TestHelpdeskUsage(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "t")
	os.WriteFile(tok, []byte("x\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "--issuer", "http://127.0.0.1:1", "--admin-token-file", tok}, "--voter ID"},
		{[]string{"show", "--voter", "a", "--admin-token-file", tok}, "--issuer URL"},
		{[]string{"unlock", "--voter", "a", "--issuer", "http://127.0.0.1:1"}, "--admin-token-file FILE"},
		{[]string{"resend", "--voter", "a", "--issuer", "http://127.0.0.1:1", "--admin-token-file", tok}, "--roll and --contacts"},
		{[]string{"add", "--voter", "a", "--issuer", "http://127.0.0.1:1", "--admin-token-file", tok, "--smtp", "127.0.0.1:25"}, "--email ADDR"},
		{[]string{"tag", "--voter", "a", "--key", "k", "--admin-token-file", tok}, "not both"},
	} {
		_, errs, code := evote(t, append([]string{"issuer", "helpdesk"}, c.args...)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, want 2 saying %q\n%s", c.args, code, c.want, errs)
		}
	}
}
