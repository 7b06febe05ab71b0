package main

import (
	"context"
	"encoding/pem"
	"errors"
	"image/png"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/pquerna/otp/totp"
)

// TestIssuerTOTP: the operator's path to an authenticator app. The issuer
// starts once with the roll and the contacts (sealed into the roll), is
// stopped, and "evote issuer totp" enrols a voter: it prints the otpauth
// link and writes the QR code (mode 0600); the issuer then asks that voter
// for the app's code and signs with it. Enrolling a voter not on the roll
// fails and changes nothing.
func TestIssuerTOTP(t *testing.T) {
	w := newIssuerWorkdir(t)
	in, sec, must := w.in, w.secret, w.must
	w.keygen("issuer")
	w.election("E", "issuer", "manifest.json")
	must("issuer", "roll", "--voters", "2", "--out", in("roll.csv"))
	os.WriteFile(in("contacts.csv"), []byte("voter_id,email,phone,lang\nvoter-000001,anna@example.org,,it\n"), 0o600)
	common := []string{"--key", in("issuer.key"), "--election", in("manifest.json"), "--store", "bolt:" + in("data")}
	serveOnce(t, append(append(sec, "issuer", "serve", "--roll", in("roll.csv"), "--contacts", in("contacts.csv"), "--listen", "127.0.0.1:0"), common...)...)

	out, errs, code := evote(t, append(append(sec, "issuer", "totp", "--voter", "voter-000009"), common...)...)
	if code == 0 || !strings.Contains(errs, "not on the roll") {
		t.Fatalf("enrolling a voter not on the roll: exit %d\n%s%s", code, out, errs)
	}
	out = must(append(append(sec, "issuer", "totp", "--voter", "VOTER-000001", "--qr", in("qr.png")), common...)...)
	u, err := url.Parse(strings.TrimSpace(out))
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") == "" {
		t.Fatalf("printed %q", out)
	}
	f, err := os.Open(in("qr.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Fatalf("the QR code is not a PNG: %v", err)
	}
	f.Close()
	if fi, _ := os.Stat(in("qr.png")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("qr.png is mode %v", fi.Mode().Perm())
	}

	// The roll now asks voter-000001 for the app's code.
	kr := &secret.Keyring{Passphrase: "s3cret", WorkFactor: 10}
	plain, err := kr.ReadFile(in("issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(plain) // the key, then the election it serves
	sk, err := token.ParsePrivateKey(pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ballot.ParseManifest(mustRead(t, in("manifest.json")))
	if err != nil {
		t.Fatal(err)
	}
	roll, err := issuerbolt.Open(in("data/roll.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer roll.Close()
	is, err := issuer.New(issuer.Config{ElectionID: m.ID(), Key: sk, Roll: roll})
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(string(mustRead(t, in("roll.csv"))), "\n")
	codeOf := strings.Split(rows[1], ",")[1]
	blinded := make([]byte, sk.Public().Size())
	blinded[len(blinded)-1] = 3
	ctx := context.Background()
	_, err = is.Issue(ctx, issuerapi.Credentials{VoterID: "voter-000001", Code: codeOf}, blinded, "")
	var sf *issuer.SecondFactorError
	if !errors.As(err, &sf) || sf.Factor != issuerapi.FactorTOTP {
		t.Fatalf("after the enrolment: %v, want the app's code asked for", err)
	}
	c, _ := totp.GenerateCode(u.Query().Get("secret"), time.Now())
	if _, err := is.Issue(ctx, issuerapi.Credentials{VoterID: "voter-000001", Code: codeOf, SecondFactor: c}, blinded, ""); err != nil {
		t.Fatalf("with the app's code: %v", err)
	}
	if rec, _ := roll.Get(ctx, "voter-000001"); rec.Contact == nil {
		t.Fatal("--contacts did not reach the roll")
	}
}
