package issuance_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuance"
)

var (
	testID   = bytes.Repeat([]byte{0xab}, 32)
	testKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	testTime = time.Date(2025, 6, 1, 18, 0, 5, 0, time.UTC)
)

func signed(t testing.TB, eligible, issued uint64) *issuance.Entry {
	t.Helper()
	e, err := issuance.Sign(testKey, issuance.Statement{ElectionID: testID, Eligible: eligible, Issued: issued, Time: testTime})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestSignParseVerify(t *testing.T) {
	e := signed(t, 40, 12)
	want := `{"election_id":"` + hex.EncodeToString(testID) + `","eligible":40,"issued":12,"time":"2025-06-01T18:00:05Z","signature":"`
	if !strings.HasPrefix(string(e.Bytes()), want) || !strings.HasSuffix(string(e.Bytes()), `"}`) {
		t.Fatalf("entry %s, want it to begin %s", e.Bytes(), want)
	}
	p, err := issuance.Parse(e.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Bytes(), e.Bytes()) || p.Eligible != 40 || p.Issued != 12 || !p.Time.Equal(testTime) || !bytes.Equal(p.ElectionID, testID) {
		t.Fatalf("parsed %+v from %s", p.Statement, e.Bytes())
	}
	if err := p.Verify(testKey.Public().(ed25519.PublicKey), testID); err != nil {
		t.Fatal(err)
	}
}

// TestMessage pins the signed bytes' layout (SPEC.md §8): the domain, the
// election ID, two big-endian u64 counts and the 20-byte time.
func TestMessage(t *testing.T) {
	s := issuance.Statement{ElectionID: testID, Eligible: 0x0102, Issued: 0x01, Time: testTime.In(time.FixedZone("+02:00", 7200))}
	want := "evote/issuance/v1\x00" + string(testID) +
		"\x00\x00\x00\x00\x00\x00\x01\x02" + "\x00\x00\x00\x00\x00\x00\x00\x01" + "2025-06-01T18:00:05Z"
	if got := string(s.Message()); got != want {
		t.Fatalf("message %q\nwant    %q", got, want)
	}
}

func TestVerifyRefuses(t *testing.T) {
	pub := testKey.Public().(ed25519.PublicKey)
	e := signed(t, 40, 12)
	other := bytes.Repeat([]byte{0xcd}, 32)
	if err := e.Verify(pub, other); !errors.Is(err, issuance.ErrOtherElection) {
		t.Errorf("another election: %v", err)
	}
	wrong := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32)).Public().(ed25519.PublicKey)
	if err := e.Verify(wrong, testID); !errors.Is(err, issuance.ErrSignature) {
		t.Errorf("another key: %v", err)
	}
	if err := e.Verify(nil, testID); !errors.Is(err, issuance.ErrSignature) {
		t.Errorf("no key: %v", err)
	}
	// A count changed after signing: the signature no longer holds.
	forged, err := issuance.Parse(bytes.Replace(e.Bytes(), []byte(`"issued":12`), []byte(`"issued":13`), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := forged.Verify(pub, testID); !errors.Is(err, issuance.ErrSignature) {
		t.Errorf("a changed count: %v", err)
	}
	if _, err := issuance.Sign(testKey, issuance.Statement{ElectionID: testID, Eligible: 3, Issued: 4, Time: testTime}); !errors.Is(err, issuance.ErrCounts) {
		t.Errorf("Sign with issued > eligible: %v", err)
	}
	if _, err := issuance.Sign(testKey, issuance.Statement{ElectionID: testID[:31], Eligible: 3, Issued: 2, Time: testTime}); err == nil {
		t.Error("Sign took a 31-byte election ID")
	}
}

func TestParseRefuses(t *testing.T) {
	good := string(signed(t, 40, 12).Bytes())
	sig := good[strings.Index(good, `"signature":"`)+len(`"signature":"`) : len(good)-2]
	id := hex.EncodeToString(testID)
	for _, c := range []struct{ name, body, want string }{
		{"empty", "", "not a statement's JSON"},
		{"spaces", strings.Replace(good, `,"issued"`, `, "issued"`, 1), "canonical"},
		{"newline after", good + "\n", "canonical"},
		{"fields reordered", `{"eligible":40,"election_id":"` + id + `","issued":12,"time":"2025-06-01T18:00:05Z","signature":"` + sig + `"}`, "canonical"},
		{"upper-case hex", strings.Replace(good, id, strings.ToUpper(id), 1), "lower-case hex"},
		{"short id", strings.Replace(good, id, id[:62], 1), "lower-case hex"},
		{"missing field", strings.Replace(good, `"issued":12,`, ``, 1), "missing"},
		{"unknown field", strings.Replace(good, `"issued":12,`, `"issued":12,"by":"x",`, 1), "unknown field"},
		{"field twice", strings.Replace(good, `"issued":12,`, `"issued":1,"issued":12,`, 1), "twice"},
		{"negative", strings.Replace(good, `"issued":12`, `"issued":-1`, 1), "not a statement's JSON"},
		{"fraction", strings.Replace(good, `"issued":12`, `"issued":12.0`, 1), "not a statement's JSON"},
		{"over 2^63-1", strings.Replace(good, `"eligible":40`, `"eligible":9223372036854775808`, 1), "counts above"},
		{"one-digit hour", strings.Replace(good, "T18:", "T8:", 1), "is not of the form"},
		{"offset", strings.Replace(good, "18:00:05Z", "18:00:05+00:00", 1), "is not of the form"},
		{"fraction of a second", strings.Replace(good, "05Z", "05.1Z", 1), "is not of the form"},
		{"no such day", strings.Replace(good, "06-01", "06-31", 1), "is not of the form"},
		{"short signature", strings.Replace(good, sig, sig[:84], 1), "63 bytes"},
		{"signature with a line break", strings.Replace(good, sig, sig[:40]+`\n`+sig[40:], 1), "canonical base64"},
		{"null", strings.Replace(good, `"issued":12`, `"issued":null`, 1), "not a statement's JSON"},
	} {
		if _, err := issuance.Parse([]byte(c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse(%s) = %v, want an error with %q", c.name, c.body, err, c.want)
		}
	}
}

// TestDeriveKey: the statement key is a function of the issuing key, the
// same each time, and no other key derived from it.
func TestDeriveKey(t *testing.T) {
	sk, err := token.GenerateKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	a, b := issuance.DeriveKey(sk), issuance.DeriveKey(sk)
	if !bytes.Equal(a, b) {
		t.Fatal("two derivations of one key differ")
	}
	if bytes.Equal(a.Seed(), sk.DeriveSecret("evote/issuer/roll-key/v1")) {
		t.Fatal("the statement key is the key another label derives")
	}
	if !bytes.Equal(a.Seed(), sk.DeriveSecret(issuance.KeyLabel)) {
		t.Fatal("the statement key's seed is not DeriveSecret(KeyLabel)")
	}
}

func TestTurnout(t *testing.T) {
	if got := issuance.Turnout(3, 4); got != 0.75 {
		t.Errorf("Turnout(3, 4) = %v", got)
	}
	if got := issuance.Turnout(0, 0); got != 0 {
		t.Errorf("Turnout(0, 0) = %v", got)
	}
}

// FuzzParse: no input panics, and whatever parses is its own canonical
// encoding, read back the same.
func FuzzParse(f *testing.F) {
	f.Add(signed(f, 40, 12).Bytes())
	f.Add(signed(f, 0, 0).Bytes())
	f.Add([]byte(`{"election_id":"","eligible":0,"issued":0,"time":"","signature":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := issuance.Parse(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Bytes(), b) {
			t.Fatalf("Parse accepted %q, whose encoding is %q", b, e.Bytes())
		}
		again, err := issuance.Parse(e.Bytes())
		if err != nil || again.Eligible != e.Eligible || again.Issued != e.Issued || !again.Time.Equal(e.Time) || !bytes.Equal(again.Signature, e.Signature) {
			t.Fatalf("%q reads back as %+v, %v", b, again, err)
		}
		e.Verify(testKey.Public().(ed25519.PublicKey), testID)
	})
}
