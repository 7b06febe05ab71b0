package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/invite/smtptest"
	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"github.com/pquerna/otp/totp"
)

// identityRegistry is a member registry as an Italian CRM exports it: a
// byte-order mark, semicolons, accented names, an enrolment date in the
// day-first form, a member twice under two spellings of one id (case and
// a zero-width space), and broken lines (too few fields, no id, a date
// that is not one, an address that is not one), and a member enrolled
// after the cut-off.
const identityRegistry = "\ufeffID;Nome;Cognome;E-mail;Telefono;Data iscrizione;Lingua\n" +
	"SOC-1001;Niccolò;Rossi;niccolo.rossi@example.it;+39 333 100 1001;15/03/2019;it\n" +
	"SOC-1002;Zoë;D'Amico;zoe.damico@example.it;+39 333 100 1002;01/02/2020;it\n" +
	"SOC-1003;Çelik;Ferrari;celik.ferrari@example.it;+39 333 100 1003;05/05/2021;en\n" +
	"SOC-1004;Giulia;Bianchi;giulia.bianchi@example.it;+39 333 100 1004;31/12/2022;it\n" +
	"SOC-1005;Anna;Esposito;anna.esposito@example.it;+39 333 100 1005;10/10/2023;it\n" +
	"soc-1004\u200b;Giulia;Bianchi;gbianchi@example.it;;31/12/2022;it\n" +
	"SOC-1006;Troppo;Pochi\n" +
	" ;Senza;Codice;senza@example.it;;01/01/2020;it\n" +
	"SOC-1008;Data;Sbagliata;data@example.it;;2020-13-45;it\n" +
	"SOC-1009;Posta;Sbagliata;non-un-indirizzo;;01/01/2020;it\n" +
	"SOC-1010;Tardi;Iscritto;tardi@example.it;+39 333 100 1010;02/02/2026;it\n"

// identityBroken are the registry's lines that the import refuses (the
// header is line 1).
var identityBroken = []int{7, 8, 9, 10, 11}

// TestIdentityEndToEnd runs the identity side of an election as an
// authority would: a registry export with broken lines is refused line by
// line and nothing is written; the fixed export is imported; invitations
// go to a real SMTP server and are read back; one voter votes with the
// link's code and a one-time code mailed to them, one with an
// authenticator app (TOTP); a stranger's wrong codes through two issuers
// sharing one roll make that address wait on both, answered as an unknown
// ID is, until the help desk unlocks; voting closes; the issuer's
// statement of its counts is on the board and evote verify checks it;
// the roll is purged with the CSVs and the invitation state erased, and
// no file left holds any member's id, address, number or name.
func TestIdentityEndToEnd(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	os.WriteFile(in("members.csv"), []byte(identityRegistry), 0o600)
	importArgs := func(registry string) []string {
		return []string{"issuer", "import", "--registry", registry, "--id-column", "ID", "--email-column", "e-mail",
			"--phone-column", "telefono", "--date-column", "data iscrizione", "--lang-column", "Lingua",
			"--enrolled-before", "2025-12-31", "--roll", in("roll.csv"), "--contacts", in("contacts.csv")}
	}

	// 1. The export with broken lines: every problem named, nothing written.
	out, errs, code := evote(t, importArgs(in("members.csv"))...)
	if code == 0 {
		t.Fatalf("an export with broken lines was imported:\n%s", out)
	}
	for _, line := range identityBroken {
		if !strings.Contains(out+errs, "line "+strconv.Itoa(line)+":") {
			t.Errorf("the refusal does not name line %d:\n%s%s", line, out, errs)
		}
	}
	if _, err := os.Stat(in("roll.csv")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused import wrote the roll: %v", err)
	}
	// The authority deletes the duplicate and fixes the broken lines (here:
	// removes them); the late member stays in the export, not eligible.
	lines := strings.Split(identityRegistry, "\n")
	fixed := strings.Join(append(lines[:6], lines[11:]...), "\n")
	os.WriteFile(in("members.csv"), []byte(fixed), 0o600)
	out, errs, code = evote(t, importArgs(in("members.csv"))...)
	if code != 0 || !strings.Contains(out, "5 eligible, 1 not eligible") {
		t.Fatalf("the fixed export: exit %d\n%s%s", code, out, errs)
	}

	// 2. The election, its issuer asking for an e-mailed code, on a bbolt
	// roll; the codes go out through a real SMTP server.
	srv := smtptest.Start(t, smtptest.STARTTLS)
	cas := x509.NewCertPool()
	cert, _ := x509.ParseCertificate(srv.CertDER)
	cas.AddCert(cert)
	mailer, err := invite.NewCodeMailer(invite.SMTPConfig{Addr: srv.Addr, Security: invite.StartTLS, User: srv.User, Password: srv.Pass, RootCAs: cas},
		"elezioni@example.org", invite.DefaultCodeTemplates())
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := os.Open(in("contacts.csv"))
	list, err := invite.ReadContacts(cf)
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	contacts := map[string]issuer.Contact{}
	for _, c := range list {
		contacts[c.VoterID] = issuer.Contact{Email: c.Email, Phone: c.Phone, Lang: c.Lang}
	}
	os.MkdirAll(in("issuer-data"), 0o700)
	roll, err := issuerbolt.Open(in("issuer-data/roll.db"))
	if err != nil {
		t.Fatal(err)
	}
	site, err := sim.StartSite(ctx, sim.SiteOptions{Options: sim.Options{Dir: in("board-data"), Issuer: electiontest.Issuer(t)}, Roll: roll, RollCSV: mustRead(t, in("roll.csv")),
		SecondFactor: issuerapi.FactorEmail, Sender: mailer, Contacts: func(id string) issuer.Contact { return contacts[id] }})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			site.Stop()
		}
	}()
	m := site.Board.Manifest()
	os.WriteFile(in("manifest.json"), m.Bytes(), 0o644)

	// 3. The invitations, read back from the server.
	var ca bytes.Buffer
	pem.Encode(&ca, &pem.Block{Type: "CERTIFICATE", Bytes: srv.CertDER})
	os.WriteFile(in("ca.pem"), ca.Bytes(), 0o644)
	os.WriteFile(in("smtp.pass"), []byte(srv.Pass+"\n"), 0o600)
	out, errs, code = evote(t, "issuer", "invite", "--roll", in("roll.csv"), "--contacts", in("contacts.csv"), "--manifest", in("manifest.json"),
		"--booth", "https://vote.example.org/", "--state", in("invite-state.json"), "--smtp", srv.Addr, "--from", "elezioni@example.org",
		"--smtp-user", srv.User, "--smtp-password-file", in("smtp.pass"), "--ca-cert", in("ca.pem"))
	if code != 0 || !strings.Contains(out, "5 invitations sent, 0 failed") {
		t.Fatalf("invite: exit %d\n%s%s", code, out, errs)
	}
	invs := map[string]*booth.Invitation{} // by e-mail address
	for _, mail := range srv.Mails() {
		for _, l := range strings.Split(strings.ReplaceAll(string(qpDecode(t, mail.Data)), "\r\n", "\n"), "\n") {
			if strings.HasPrefix(l, "https://vote.example.org/#") {
				inv, err := booth.ParseLink(l)
				if err != nil {
					t.Fatal(err)
				}
				invs[mail.To] = inv
			}
		}
	}
	if len(invs) != 5 {
		t.Fatalf("%d invitations read back, want 5", len(invs))
	}
	client := func(issuerURL string) *voter.Client {
		return &voter.Client{Issuer: issuerapi.NewClient(issuerURL, nil), Board: boardapi.NewClient(site.BoardURL, nil),
			BoardKey: site.Verifier, ManifestHash: m.Hash()}
	}
	vote := func(vc *voter.Client, inv *booth.Invitation, second func(e *issuerapi.Error) string, choice int) {
		t.Helper()
		e, err := vc.Election(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := voter.NewTicket(nil, e, inv.VoterID)
		if err != nil {
			t.Fatal(err)
		}
		err = vc.GetToken(ctx, e, tk, inv.Code, "")
		var ie *issuerapi.Error
		if !errors.Is(err, issuerapi.ErrSecondFactorRequired) || !errors.As(err, &ie) {
			t.Fatalf("%s with the enrolment code alone: %v, want second_factor_required", inv.VoterID, err)
		}
		if err := vc.GetToken(ctx, e, tk, inv.Code, second(ie)); err != nil {
			t.Fatalf("%s with the second factor: %v", inv.VoterID, err)
		}
		if err := vc.Seal(e, tk, [][]int{{choice}}); err != nil {
			t.Fatal(err)
		}
		rc, err := vc.CastTicket(ctx, e, tk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vc.CheckReceipt(ctx, rc); err != nil {
			t.Fatal(err)
		}
	}
	mailedCode := func(to string) func(*issuerapi.Error) string {
		return func(e *issuerapi.Error) string {
			if e.Factor != issuerapi.FactorEmail || !strings.Contains(e.SentTo, "•••@e•••.it") {
				t.Fatalf("asked for %q sent to %q", e.Factor, e.SentTo)
			}
			var code string
			for _, mail := range srv.Mails() {
				if mail.To == to {
					if c := otpRE.FindString(string(qpDecode(t, mail.Data))); c != "" {
						code = c
					}
				}
			}
			if code == "" {
				t.Fatalf("no one-time code was mailed to %s", to)
			}
			return code
		}
	}

	// 4. Niccolò votes with the e-mailed code.
	vote(client(site.IssuerURL), invs["niccolo.rossi@example.it"], mailedCode("niccolo.rossi@example.it"), 0)

	// 5. Zoë enrols an authenticator app at the help desk and votes with it.
	zoe := invs["zoe.damico@example.it"]
	uri, err := site.Issuer.EnrolTOTP(ctx, zoe.VoterID, "evote", "Zoë")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	vote(client(site.IssuerURL), zoe, func(e *issuerapi.Error) string {
		if e.Factor != issuerapi.FactorTOTP {
			t.Fatalf("asked for %q, want totp", e.Factor)
		}
		c, _ := totp.GenerateCode(u.Query().Get("secret"), time.Now())
		return c
	}, 1)

	// 6. A second issuer on the same roll, as a replica on one database.
	// A stranger's wrong codes for Giulia, through both, make the address
	// wait on both: her right code from there is answered as an unknown
	// voter's is; the help desk unlocks her, and she votes through the
	// second issuer.
	replica, err := issuer.New(issuer.Config{ElectionID: m.ID(), Key: site.Election.Issuer, Roll: roll, SecondFactor: issuerapi.FactorEmail, Sender: mailer})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(issuer.NewHandler(replica, issuer.HandlerConfig{}))
	defer rs.Close()
	giulia := invs["giulia.bianchi@example.it"]
	issuers := []*issuerapi.Client{issuerapi.NewClient(site.IssuerURL, nil), issuerapi.NewClient(rs.URL, nil)}
	blinded := make([]byte, m.Issuer().Size())
	blinded[len(blinded)-1] = 7
	answer := func(c *issuerapi.Client, id, code string) string {
		_, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: code}, blinded)
		var e *issuerapi.Error
		if !errors.As(err, &e) {
			t.Fatalf("%v", err)
		}
		return strconv.Itoa(e.StatusCode) + " " + e.Code + " " + e.Message
	}
	for i := range issuer.FreeFailures + 3 {
		wrong, _ := issuer.GenerateCode()
		if a := answer(issuers[i%2], giulia.VoterID, wrong); !strings.HasPrefix(a, "401 bad_credentials") {
			t.Fatalf("wrong code %d: %s", i, a)
		}
	}
	right := answer(issuers[1], giulia.VoterID, giulia.Code)
	unknown := answer(issuers[0], "soc-9999", giulia.Code)
	if right != unknown || !strings.HasPrefix(right, "401 bad_credentials") {
		t.Fatalf("the right code from the waiting address: %q; an unknown voter: %q", right, unknown)
	}
	if err := replica.Unlock(ctx, giulia.VoterID); err != nil {
		t.Fatal(err)
	}
	vote(client(rs.URL), giulia, mailedCode("giulia.bianchi@example.it"), 0)

	// 7. Close: the issuer's statement goes on the board; the trustees
	// decrypt; verify checks the statement.
	if _, err := site.Tally(); err != nil {
		t.Fatal(err)
	}
	rec, err := site.Export()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in("election.evr"), rec, 0o644)
	os.WriteFile(in("board.vkey"), []byte(site.VKey+"\n"), 0o644)
	res, err := verify.Record(bytes.NewReader(rec), site.Verifier, verify.Options{})
	if err != nil || !res.OK {
		t.Fatalf("the record does not verify: %v", err)
	}
	if res.Issuance == nil || res.Issuance.Eligible != 5 || res.Issuance.Issued != 3 {
		t.Fatalf("the issuance the record states: %+v, want 5 eligible, 3 issued", res.Issuance)
	}
	out, errs, code = evote(t, "verify", in("election.evr"), "--board-key", in("board.vkey"))
	if code != 0 || !strings.Contains(out, "issuance") {
		t.Fatalf("evote verify: exit %d\n%s%s", code, out, errs)
	}

	// 8. Purge: the roll rewritten, the CSVs and the invitation state
	// erased; then no file holds any member's identity.
	site.Stop()
	stopped = true
	rs.Close()
	roll.Close()
	// Before the purge the roll names voters, but holds no address or
	// number: contacts are sealed.
	rb := mustRead(t, in("issuer-data/roll.db"))
	if !bytes.Contains(rb, []byte("soc-1001")) {
		t.Fatal("the roll file does not hold the voter IDs: the search below would prove nothing")
	}
	for _, c := range contacts {
		if bytes.Contains(rb, []byte(c.Email)) || bytes.Contains(rb, []byte(c.Phone)) {
			t.Fatalf("the roll file holds %s or %s in the clear", c.Email, c.Phone)
		}
	}
	out, errs, code = evote(t, "issuer", "purge", "--store", "bolt:"+in("issuer-data"),
		"--erase", in("roll.csv")+","+in("contacts.csv")+","+in("invite-state.json")+","+in("members.csv"))
	if code != 0 || !strings.Contains(out, "5 eligible voters, 3 tokens issued") {
		t.Fatalf("purge: exit %d\n%s%s", code, out, errs)
	}
	var needles []string
	for _, l := range strings.Split(identityRegistry, "\n")[1:] {
		for _, f := range strings.Split(strings.TrimPrefix(l, "\ufeff"), ";") {
			if f = strings.TrimSpace(f); len(f) >= 4 && !strings.Contains(f, "/") && f != "it" && f != "en" {
				needles = append(needles, f, strings.ToLower(f))
			}
		}
	}
	for _, c := range contacts {
		needles = append(needles, strings.ReplaceAll(c.Phone, " ", ""))
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q after the purge", strings.TrimPrefix(p, dir), n)
			}
		}
		return nil
	})
}

var otpRE = regexp.MustCompile(`\b[0-9]{6}\b`)
