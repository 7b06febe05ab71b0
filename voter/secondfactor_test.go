package voter_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

func TestNormalizeSecondFactor(t *testing.T) {
	for in, want := range map[string]string{
		"123456":             "123456",
		"123 456":            "123456",
		"123-456":            "123456",
		" 12 34 56 ":         "123456",
		"123\u00a0456":       "123456", // a no-break space, as a mail client groups digits
		"123\u2009456":       "123456", // a thin space
		"123\u2013456":       "123456", // an en dash a phone made of '-'
		"\t000000\n":         "000000",
		"9-9-9-9-9-9":        "999999",
		"0 1 2 - 3 4 5 ":     "012345",
		"12\u202f34\u202f56": "123456",
	} {
		got, err := voter.NormalizeSecondFactor(in)
		if err != nil || got != want {
			t.Errorf("NormalizeSecondFactor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "12345", "1234567", "12345a", "abcdef", "１２３４５６", // full-width digits are not the issuer's
		"123.456", "123_456", "+123456", "12345\u0000", "٣٤٥٦٧٨", // Arabic-Indic digits
		strings.Repeat(" ", 30) + "123456", // too long to be typed by hand
		"1234567890",
	} {
		if got, err := voter.NormalizeSecondFactor(bad); !errors.Is(err, voter.ErrMalformedSecondFactor) {
			t.Errorf("NormalizeSecondFactor(%q) = %q, %v; want ErrMalformedSecondFactor", bad, got, err)
		}
	}
}

// factorIssuer is memIssuer asking for a second factor: it signs only a
// request carrying want, and records what each request carried.
type factorIssuer struct {
	memIssuer
	want  string
	creds []issuerapi.Credentials
	msgs  [][]byte
}

func (f *factorIssuer) RequestToken(ctx context.Context, cred issuerapi.Credentials, blinded []byte) ([]byte, error) {
	f.creds = append(f.creds, cred)
	f.msgs = append(f.msgs, bytes.Clone(blinded))
	switch cred.SecondFactor {
	case "":
		return nil, &issuerapi.Error{StatusCode: 401, Code: issuerapi.CodeSecondFactorRequired, Factor: issuerapi.FactorEmail, SentTo: "m•••@e•••.it"}
	case f.want:
		return f.memIssuer.RequestToken(ctx, cred, blinded)
	}
	return nil, &issuerapi.Error{StatusCode: 401, Code: issuerapi.CodeBadSecondFactor, Factor: issuerapi.FactorEmail, SentTo: "m•••@e•••.it"}
}

// TestGetTokenSecondFactor: GetToken sends the second factor it is given
// with the voter's credentials, and the same blinded message in every
// request (the ticket's seed gives it), so that asking first without the
// code, then with a wrong one, then with the right one, gets one token.
func TestGetTokenSecondFactor(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	ctx := context.Background()
	is := &factorIssuer{memIssuer: memIssuer{e.Issuer, e.Board.Manifest().ID()}, want: "493817"}
	c := &voter.Client{Board: memBoard{e.Board}, Issuer: is, BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	el, err := c.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := voter.NewTicket(nil, el, "voter-1")
	if err != nil {
		t.Fatal(err)
	}
	var ie *issuerapi.Error
	if err := c.GetToken(ctx, el, tk, "the-code", ""); !errors.Is(err, issuerapi.ErrSecondFactorRequired) || !errors.As(err, &ie) || ie.SentTo != "m•••@e•••.it" {
		t.Fatalf("without the second factor: %v", err)
	}
	if err := c.GetToken(ctx, el, tk, "the-code", "000000"); !errors.Is(err, issuerapi.ErrBadSecondFactor) || tk.Token != "" {
		t.Fatalf("with a wrong one: %v (token %q)", err, tk.Token)
	}
	if err := c.GetToken(ctx, el, tk, "the-code", "493817"); err != nil || tk.Token == "" {
		t.Fatalf("with the right one: %v", err)
	}
	for i, want := range []string{"", "000000", "493817"} {
		if got := is.creds[i]; got != (issuerapi.Credentials{VoterID: "voter-1", Code: "the-code", SecondFactor: want}) {
			t.Errorf("request %d carried %+v, want second factor %q", i, got, want)
		}
		if !bytes.Equal(is.msgs[i], is.msgs[0]) {
			t.Errorf("request %d blinded another message than the first", i)
		}
	}
	// With its token, the ticket asks the issuer nothing more.
	if err := c.GetToken(ctx, el, tk, "the-code", ""); err != nil || len(is.creds) != 3 {
		t.Errorf("again with a token: %v, %d requests", err, len(is.creds))
	}
}
