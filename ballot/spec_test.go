package ballot

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/crypto/zkp"
)

// The time grammar of SPEC.md §4 (opens, closes): YYYY-MM-DDTHH:MM:SS and
// Z or ±HH:MM, nothing else; in particular not all that Go's time.Parse
// takes for RFC 3339, nor all that RFC 3339 allows.
func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2025-06-01T08:00:00Z", time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)},
		{"2025-06-01T10:00:00+02:00", time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)},
		{"2025-06-01T02:30:00-05:30", time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)},
		{"2025-06-01T08:00:00-00:00", time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)},
		{"2025-06-01T08:00:00+23:59", time.Date(2025, 5, 31, 8, 1, 0, 0, time.UTC)},
		{"2024-02-29T23:59:59Z", time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
		{"2000-02-29T00:00:00Z", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"0000-01-01T00:00:00Z", time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"9999-12-31T23:59:59Z", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
	} {
		got, err := ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if std, err := time.Parse(time.RFC3339, tc.in); err != nil || !std.Equal(got) {
			t.Errorf("%q: time.Parse gives %v, %v; ParseTime %v", tc.in, std, err, got)
		}
	}
	for _, tc := range []struct{ in, why string }{
		// What time.Parse(time.RFC3339) accepts and RFC 3339 forbids.
		{"2025-06-01T8:00:00Z", "20 characters"},       // one-digit hour
		{"2025-06-01T08:00:00,5Z", "no fraction"},      // comma fraction
		{"2025-06-01T08:00:00+24:00", "offset's hour"}, // offset hour 24
		{"2025-06-01T08:00:00+23:60", "offset's hour"}, // offset minute 60
		// What RFC 3339 allows and this grammar does not.
		{"2025-06-01t08:00:00Z", `character 11 must be "T"`},
		{"2025-06-01T08:00:00z", "ends in Z"},
		{"2025-06-30T23:59:60Z", "no leap second"},
		{"2025-06-01T08:00:00.5Z", "no fraction"},
		{"2025-06-01T08:00:00.123456789+02:00", "no fraction"},
		// Neither.
		{"", "20 characters"},
		{"2025-06-01", "20 characters"},
		{"2025-06-01 08:00:00Z", `character 11 must be "T"`},
		{"2025-06-01T08:00:00", "20 characters"},
		{"2025-06-01T08:00:00+0200", "20 characters"},
		{"2025-06-01T08:00:00+02", "20 characters"},
		{"2025-06-01T08:00:00 02:00", "ends in Z"},
		{"2025-06-01T08:00:00+2:000", "ends in Z"},
		{"2025-13-01T08:00:00Z", "month"},
		{"2025-00-01T08:00:00Z", "month"},
		{"2025-06-00T08:00:00Z", "day 01 to 30"},
		{"2025-06-31T08:00:00Z", "day 01 to 30"},
		{"2025-02-29T08:00:00Z", "day 01 to 28"},
		{"1900-02-29T08:00:00Z", "day 01 to 28"},
		{"2025-06-01T24:00:00Z", "hour"},
		{"2025-06-01T08:60:00Z", "minute"},
		{"+2025-06-01T08:00:00Z", "20 characters"},
		{"２０２５-06-01T08:00:00Z", "20 characters"}, // full-width digits
		{"2025-0६-01T08:00:00Z", "20 characters"}, // a Devanagari digit
		{"2025-06-01T08:00:00Z\n", "20 characters"},
	} {
		_, err := ParseTime(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) || !strings.HasPrefix(err.Error(), "ballot: ") {
			t.Errorf("ParseTime(%q): error %v, want one saying %q", tc.in, err, tc.why)
		}
	}
}

// A manifest's opens and closes, when present, are times of that grammar.
func TestAttackManifestTimes(t *testing.T) {
	te := newElection(t, yesNo)
	good := *te.Manifest
	good.Opens, good.Closes = "2025-06-01T08:00:00Z", "2025-06-01T20:00:00+02:00"
	m, err := NewManifest(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ field, v string }{
		{"opens", "2025-06-01T8:00:00Z"},
		{"opens", "2025-06-01t08:00:00z"},
		{"closes", "2025-06-01T20:00:00,5Z"},
		{"closes", "2025-06-01T20:00:00+24:00"},
		{"closes", "tomorrow"},
		{"opens", "2025-06-01T08:00:00.000Z"},
	} {
		bad := good
		if tc.field == "opens" {
			bad.Opens = tc.v
		} else {
			bad.Closes = tc.v
		}
		if _, err := NewManifest(bad); err == nil || !strings.Contains(err.Error(), tc.field+`: "`+tc.v+`" is not a time`) {
			t.Errorf("%s %q: error %v", tc.field, tc.v, err)
		}
		raw := bytes.Replace(m.Bytes(), []byte(`"`+map[string]string{"opens": good.Opens, "closes": good.Closes}[tc.field]+`"`), []byte(`"`+tc.v+`"`), 1)
		if _, err := ParseManifest(raw); err == nil || !strings.Contains(err.Error(), tc.field+": ") {
			t.Errorf("ParseManifest with %s %q: error %v", tc.field, tc.v, err)
		}
	}
	// Present and empty is refused (leave it out).
	raw := bytes.Replace(m.Bytes(), []byte(`"`+good.Opens+`"`), []byte(`""`), 1)
	if _, err := ParseManifest(raw); err == nil || !strings.Contains(err.Error(), `"opens"`) {
		t.Errorf("an empty opens: %v", err)
	}
}

// editJSON decodes raw into generic JSON, lets edit change it and encodes
// it again (indented, keys sorted).
func editJSON(t *testing.T, raw []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func question0(m map[string]any) map[string]any {
	return m["questions"].([]any)[0].(map[string]any)
}

// SPEC.md §4: a manifest gives every field the table does not mark
// optional (a missing min is not 0, a missing text not ""), holds no null,
// spells every name literally, writes integers in shortest form, is UTF-8
// with no byte-order mark, and may hold RFC 8259 white space around and
// between its tokens.
func TestAttackManifestStrictJSON(t *testing.T) {
	te := newElection(t, yesNo)
	withOpt := *te.Manifest
	withOpt.MinBallots, withOpt.Opens, withOpt.Closes = 10, "2025-06-01T08:00:00Z", "2025-06-02T08:00:00Z"
	full, err := NewManifest(withOpt)
	if err != nil {
		t.Fatal(err)
	}
	raw := full.Bytes()
	if _, err := ParseManifest(editJSON(t, raw, func(map[string]any) {})); err != nil {
		t.Fatalf("the manifest re-encoded with sorted keys: %v", err)
	}
	// Required fields, at the top, in a question and in trustees.
	for _, f := range []string{"version", "election_id", "title", "questions", "trustees", "issuer_key", "revoting"} {
		_, err := ParseManifest(editJSON(t, raw, func(m map[string]any) { delete(m, f) }))
		if err == nil || !strings.Contains(err.Error(), `field "`+f+`" is missing in the top-level object`) {
			t.Errorf("without %s: %v", f, err)
		}
		_, err = ParseManifest(editJSON(t, raw, func(m map[string]any) { m[f] = nil }))
		if err == nil || !strings.Contains(err.Error(), f+" is null") {
			t.Errorf("%s null: %v", f, err)
		}
	}
	for _, f := range []string{"id", "text", "choices", "min", "max"} {
		_, err := ParseManifest(editJSON(t, raw, func(m map[string]any) { delete(question0(m), f) }))
		if err == nil || !strings.Contains(err.Error(), `field "`+f+`" is missing in questions[0]`) {
			t.Errorf("without questions[0].%s: %v", f, err)
		}
		_, err = ParseManifest(editJSON(t, raw, func(m map[string]any) { question0(m)[f] = nil }))
		if err == nil || !strings.Contains(err.Error(), "questions[0]."+f+" is null") {
			t.Errorf("questions[0].%s null: %v", f, err)
		}
	}
	for _, f := range []string{"n", "t", "keys"} {
		_, err := ParseManifest(editJSON(t, raw, func(m map[string]any) { delete(m["trustees"].(map[string]any), f) }))
		if err == nil || !strings.Contains(err.Error(), `field "`+f+`" is missing in trustees`) {
			t.Errorf("without trustees.%s: %v", f, err)
		}
	}
	// Optional fields may be left out, but are not null.
	for _, f := range []string{"min_ballots", "opens", "closes"} {
		if _, err := ParseManifest(editJSON(t, raw, func(m map[string]any) { delete(m, f) })); err != nil {
			t.Errorf("without the optional %s: %v", f, err)
		}
		_, err := ParseManifest(editJSON(t, raw, func(m map[string]any) { m[f] = nil }))
		if err == nil || !strings.Contains(err.Error(), f+" is null") {
			t.Errorf("%s null: %v", f, err)
		}
	}
	for _, tc := range []struct{ what, old, new, want string }{
		{"an escaped name", `"title"`, `"\u0074itle"`, `the field name "\u0074itle" in the top-level object is written with an escape`},
		{"an escaped nested name", `"min"`, `"\u006din"`, `"\u006din" in questions[0] is written with an escape`},
		{"a solidus escape in a name", `"revoting"`, `"re\/voting"`, "written with an escape"},
		{"-0", `"min": 1`, `"min": -0`, "questions[0].min is -0, not an integer in its shortest form"},
		{"1.0", `"version": 1`, `"version": 1.0`, "version is 1.0, not an integer"},
		{"1e0", `"version": 1`, `"version": 1e0`, "version is 1e0, not an integer"},
		{"10E-1", `"max": 1`, `"max": 10E-1`, "not an integer"},
		{"a lone surrogate", `"Test election"`, `"Test \ud800election"`, `title holds the escape \ud800`},
		{"invalid UTF-8", `"Test election"`, "\"Test \xffelection\"", "not UTF-8"},
		{"a UTF-8 surrogate", `"Test election"`, "\"Test \xed\xa0\x80election\"", "not UTF-8"},
		{"the name twice", `"title"`, `"title": "Other", "title"`, `field "title" appears twice`},
	} {
		in := bytes.Replace(raw, []byte(tc.old), []byte(tc.new), 1)
		if bytes.Equal(in, raw) {
			t.Fatalf("%s: %s not in the manifest", tc.what, tc.old)
		}
		if _, err := ParseManifest(in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.what, err, tc.want)
		}
	}
	// An escape in a value is allowed: it is the same text.
	esc, err := ParseManifest(bytes.Replace(raw, []byte(`"Test election"`), []byte(`"\u0054est election"`), 1))
	if err != nil || esc.Title != "Test election" {
		t.Errorf("an escape in the title: %v", err)
	}
	// No byte-order mark; RFC 8259 white space around the object and
	// between tokens, nothing else.
	if _, err := ParseManifest(append([]byte("\xef\xbb\xbf"), raw...)); err == nil || !strings.Contains(err.Error(), "byte-order mark") {
		t.Errorf("a byte-order mark: %v", err)
	}
	for _, ws := range []string{" ", "\n", "\r\n", "\t", " \n\t\r"} {
		for _, in := range [][]byte{append([]byte(ws), raw...), append(append([]byte(nil), raw...), ws...)} {
			m, err := ParseManifest(in)
			if err != nil {
				t.Errorf("white space %q around the manifest: %v", ws, err)
			} else if m.Hash() == full.Hash() {
				t.Errorf("white space %q: the same manifest_hash", ws)
			}
		}
	}
	compact := new(bytes.Buffer)
	if err := json.Compact(compact, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseManifest(compact.Bytes()); err != nil {
		t.Errorf("the manifest without white space: %v", err)
	}
	for _, ws := range []string{"\f", "\v", "\u00a0", "\u2028", "\x00"} {
		if _, err := ParseManifest(append(append([]byte(nil), raw...), ws...)); err == nil {
			t.Errorf("%q after the manifest: accepted", ws)
		}
		if _, err := ParseManifest(bytes.Replace(raw, []byte(`"title": `), []byte(`"title":`+ws), 1)); err == nil {
			t.Errorf("%q between tokens: accepted", ws)
		}
	}
}

// fakeRSA returns a PKIX DER rsaEncryption key with a random odd modulus
// of the given bits (not a product of two primes: a manifest cannot tell)
// and exponent e, whose DER is of a length ≡ mod3 (mod 3) when mod3 ≥ 0.
func fakeRSA(t *testing.T, bits, e, mod3 int) ([]byte, *rsa.PublicKey) {
	t.Helper()
	for range 1000 {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
		if err != nil {
			t.Fatal(err)
		}
		n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
		k := &rsa.PublicKey{N: n, E: e}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if mod3 < 0 || len(der)%3 == mod3 {
			return der, k
		}
	}
	t.Fatalf("no %d-bit key with DER length %d mod 3", bits, mod3)
	return nil, nil
}

type spkiAlgorithm struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type spki struct {
	Algorithm spkiAlgorithm
	PublicKey asn1.BitString
}

func spkiDER(t *testing.T, oid asn1.ObjectIdentifier, params []byte, key []byte) []byte {
	t.Helper()
	a := spkiAlgorithm{Algorithm: oid}
	if params != nil {
		a.Parameters = asn1.RawValue{FullBytes: params}
	}
	der, err := asn1.Marshal(spki{Algorithm: a, PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// SPEC.md §4 issuer_key: canonical base64 (padded, standard alphabet,
// nothing else in the string, unused bits zero) of the canonical PKIX DER
// of an rsaEncryption key with NULL parameters, 2048 to 4096 bits, odd
// modulus, e = 65537.
func TestAttackIssuerKeyEncoding(t *testing.T) {
	te := newElection(t, yesNo)
	good := *te.Manifest
	keyOf := func(der []byte) error {
		m := good
		m.IssuerKey = der
		_, err := NewManifest(m)
		return err
	}
	// Base64, on a key whose DER length is 1 or 2 mod 3 (so with padding
	// and unused bits) and on the 2048-bit key (294 bytes, neither).
	for _, mod3 := range []int{1, 2} {
		der, _ := fakeRSA(t, 2048+8*mod3, 65537, mod3)
		m := good
		m.IssuerKey = der
		mm, err := NewManifest(m)
		if err != nil {
			t.Fatalf("a %d-byte key: %v", len(der), err)
		}
		b64 := base64.StdEncoding.EncodeToString(der)
		pad := strings.Count(b64, "=")
		last := b64[len(b64)-pad-1]
		i := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", last)
		dirty := b64[:len(b64)-pad-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i|1]) + b64[len(b64)-pad:]
		for _, tc := range []struct{ what, b64, want string }{
			{"no padding", strings.TrimRight(b64, "="), "illegal base64"},
			{"nonzero unused bits", dirty, "issuer_key is not canonical base64"},
		} {
			raw := bytes.Replace(mm.Bytes(), []byte(b64), []byte(tc.b64), 1)
			if _, err := ParseManifest(raw); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%d-byte key, %s: error %v, want one saying %q", len(der), tc.what, err, tc.want)
			}
		}
	}
	raw := te.Manifest.Bytes()
	b64 := base64.StdEncoding.EncodeToString(te.Manifest.IssuerKey)
	for _, tc := range []struct{ what, b64, want string }{
		{"a line break", b64[:64] + `\n` + b64[64:], "issuer_key is not canonical base64"},
		{"CR LF", b64[:64] + `\r\n` + b64[64:], "issuer_key is not canonical base64"},
		{"a final line break", b64 + `\n`, "issuer_key is not canonical base64"},
		{"a space", b64[:64] + ` ` + b64[64:], "illegal base64"},
		{"the URL alphabet", strings.NewReplacer("+", "-", "/", "_").Replace(b64), "illegal base64"},
		{"PEM", strings.ReplaceAll(string(te.issuer.Public().MarshalPEM()), "\n", `\n`), "illegal base64"},
	} {
		in := bytes.Replace(raw, []byte(b64), []byte(tc.b64), 1)
		if _, err := ParseManifest(in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("issuer_key with %s: error %v, want one saying %q", tc.what, err, tc.want)
		}
	}
	asArray := editJSON(t, raw, func(m map[string]any) {
		var nums []any
		for _, c := range te.Manifest.IssuerKey {
			nums = append(nums, int(c))
		}
		m["issuer_key"] = nums
	})
	if _, err := ParseManifest(asArray); err == nil || !strings.Contains(err.Error(), "issuer_key must be a base64 string") {
		t.Errorf("issuer_key as an array of numbers: %v", err)
	}

	// DER.
	rsaEncryption := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	rsaPSS := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	pub := te.issuer.Public().Bytes()
	var parsed spki
	if _, err := asn1.Unmarshal(pub, &parsed); err != nil {
		t.Fatal(err)
	}
	inner := parsed.PublicKey.Bytes
	if rebuilt := spkiDER(t, rsaEncryption, asn1.NullBytes, inner); !bytes.Equal(rebuilt, pub) {
		t.Fatal("the test's SubjectPublicKeyInfo is not the key's")
	}
	if pub[0] != 0x30 || pub[1] != 0x82 {
		t.Fatalf("the key's DER begins %x", pub[:2])
	}
	// The outer length in three bytes (0x83 00 01 22) rather than two.
	longLength := append([]byte{0x30, 0x83, 0x00}, pub[2:]...)
	rsaKey := func(n *big.Int, e int) []byte {
		b, err := asn1.Marshal(struct {
			N *big.Int
			E int
		}{n, e})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	n := te.issuer.Public().Size()
	var keyN struct {
		N *big.Int
		E int
	}
	if _, err := asn1.Unmarshal(inner, &keyN); err != nil {
		t.Fatal(err)
	}
	even := new(big.Int).SetBit(keyN.N, 0, 0)
	_, small := fakeRSA(t, 2047, 65537, -1)
	_, large := fakeRSA(t, 4097, 65537, -1)
	for _, tc := range []struct {
		what string
		der  []byte
		want string
	}{
		{"no parameters", spkiDER(t, rsaEncryption, nil, inner), "missing NULL parameters"},
		{"parameters an empty SEQUENCE", spkiDER(t, rsaEncryption, []byte{0x30, 0x00}, inner), "missing NULL parameters"},
		{"the RSASSA-PSS OID", spkiDER(t, rsaPSS, nil, inner), "issuer_key"},
		{"a long-form length", longLength, "issuer_key"},
		{"a byte after the DER", append(append([]byte(nil), pub...), 0), "issuer_key"},
		{"e = 3", spkiDER(t, rsaEncryption, asn1.NullBytes, rsaKey(keyN.N, 3)), "public exponent 3"},
		{"an even modulus", spkiDER(t, rsaEncryption, asn1.NullBytes, rsaKey(even, 65537)), "modulus is even"},
		{"2047 bits", spkiDER(t, rsaEncryption, asn1.NullBytes, rsaKey(small.N, 65537)), "RSA-2047"},
		{"4097 bits", spkiDER(t, rsaEncryption, asn1.NullBytes, rsaKey(large.N, 65537)), "RSA-4097"},
		{"PEM", te.issuer.Public().MarshalPEM(), "not PEM"},
	} {
		if err := keyOf(tc.der); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("issuer key with %s: error %v, want one saying %q", tc.what, err, tc.want)
		}
	}
	if n != 256 {
		t.Fatalf("a 2048-bit key is %d bytes", n)
	}
	for _, bits := range []int{2048, 2049, 3072, 4095, 4096} {
		der, _ := fakeRSA(t, bits, 65537, -1)
		if err := keyOf(der); err != nil {
			t.Errorf("a %d-bit key: %v", bits, err)
		}
	}
}

// SPEC.md §6: the proof context's q is the question's 0-based position in
// the manifest and c the encrypted choice's 0-based position in the
// question (0xffffffff for the range proof).
func TestProofContextIndices(t *testing.T) {
	te := newElection(t, yesNo, upTo3)
	v := newVoter(t, te)
	b := v.cast(t, te, []int{0}, []int{1, 4})
	h := te.Manifest.Hash()
	ctx := func(q, c uint32) []byte {
		out := append([]byte("evote/ballot/v1/proof\x00"), h[:]...)
		out = append(out, te.Key.Bytes()...)
		out = append(out, v.key.Bytes()...)
		out = binary.BigEndian.AppendUint32(out, q)
		return binary.BigEndian.AppendUint32(out, c)
	}
	if got := te.proofContext(v.key, 0, 0); !bytes.Equal(got, ctx(0, 0)) {
		t.Fatalf("proof ctx(0, 0) is %x, SPEC.md §6 gives %x", got, ctx(0, 0))
	}
	for qi, eq := range b.Questions {
		for ci, ct := range eq.Choices {
			if err := zkp.VerifyOr(ctx(uint32(qi), uint32(ci)), te.Key, ct, zkp.ZeroOne(), eq.Proofs[ci]); err != nil {
				t.Errorf("question %d choice %d: the 0/1 proof does not verify under ctx(%d, %d): %v", qi, ci, qi, ci, err)
			}
			if err := zkp.VerifyOr(ctx(uint32(qi+1), uint32(ci+1)), te.Key, ct, zkp.ZeroOne(), eq.Proofs[ci]); err == nil {
				t.Errorf("question %d choice %d: the 0/1 proof verifies under 1-based indices", qi, ci)
			}
		}
	}
	if b.Questions[0].Sum != nil || b.Questions[1].Sum == nil {
		t.Fatal("want a range proof for the second question only")
	}
	lo, hi, _ := te.Manifest.Questions[1].SumRange()
	sum := elgamal.Add(b.Questions[1].Choices...)
	if err := zkp.VerifyOr(ctx(1, 0xffffffff), te.Key, sum, zkp.Range(lo, hi), b.Questions[1].Sum); err != nil {
		t.Errorf("the range proof does not verify under ctx(1, 0xffffffff): %v", err)
	}
	if err := zkp.VerifyOr(ctx(2, 0xffffffff), te.Key, sum, zkp.Range(lo, hi), b.Questions[1].Sum); err == nil {
		t.Error("the range proof verifies under a 1-based question index")
	}
}

// SPEC.md §5, §6: a token is the 32-byte prefix and a signature of exactly
// ⌈bits/8⌉ bytes, the modulus length: one byte fewer or more is refused,
// by the token parser, by token.Verify and, as a ballot of the wrong
// length, by Parse.
func TestAttackTokenSignatureLength(t *testing.T) {
	te := newElection(t, yesNo)
	v := newVoter(t, te)
	pub := te.Manifest.Issuer()
	tok := v.tok.Bytes()
	if len(tok) != token.PrefixSize+256 || pub.Size() != 256 {
		t.Fatalf("an RSA-2048 token is %d bytes, its key's size %d", len(tok), pub.Size())
	}
	if _, err := token.ParseToken(pub, tok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{tok[:len(tok)-1], append(append([]byte(nil), tok...), 0), append([]byte{0}, tok...)} {
		if _, err := token.ParseToken(pub, bad); !errors.Is(err, token.ErrMalformed) {
			t.Errorf("a %d-byte token: %v, want ErrMalformed", len(bad), err)
		}
	}
	for _, sig := range [][]byte{v.tok.Signature[:255], append(append([]byte(nil), v.tok.Signature...), 0), append([]byte{0}, v.tok.Signature...)} {
		short := &token.Token{Prefix: v.tok.Prefix, Signature: sig}
		if err := token.Verify(pub, te.Manifest.ID(), v.key.Bytes(), short); !errors.Is(err, token.ErrMalformed) {
			t.Errorf("a %d-byte signature: %v, want ErrMalformed", len(sig), err)
		}
	}
	// In a ballot: the token's bytes one fewer or one more make a ballot
	// of the wrong length.
	raw := v.cast(t, te, []int{0}).Bytes()
	at := 1 + 32 + 32 + token.PrefixSize + 255
	for _, bad := range [][]byte{
		append(append([]byte(nil), raw[:at]...), raw[at+1:]...),
		append(append(append([]byte(nil), raw[:at]...), 0), raw[at:]...),
	} {
		if _, err := Parse(te.Election, bad); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "bytes, a ballot in this election is") {
			t.Errorf("a ballot %d bytes long: %v", len(bad), err)
		}
	}
	// A modulus whose bits are not a multiple of 8: ⌈2049/8⌉ = 257 bytes.
	der, _ := fakeRSA(t, 2049, 65537, -1)
	m := *te.Manifest
	m.IssuerKey = der
	mm, err := NewManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := mm.Issuer().Size(); got != 257 {
		t.Fatalf("a 2049-bit key's signatures are %d bytes, want 257", got)
	}
	if d := mm.BallotSize() - te.Manifest.BallotSize(); d != 1 {
		t.Fatalf("a ballot under a 2049-bit key is %d bytes longer than under a 2048-bit key, want 1", d)
	}
	zero := make([]byte, token.PrefixSize+257)
	if _, err := token.ParseToken(mm.Issuer(), zero); err != nil {
		t.Errorf("a 289-byte token under a 2049-bit key: %v", err)
	}
	if _, err := token.ParseToken(mm.Issuer(), zero[:len(zero)-1]); !errors.Is(err, token.ErrMalformed) {
		t.Errorf("a 288-byte token under a 2049-bit key: %v", err)
	}
}
