package ballot

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"filippo.io/edwards25519"
)

// Ed25519 public keys no key generation makes. The eight small-order
// points in their canonical encodings, and the six non-canonical encodings
// of small-order points, are the 8 + 6 of ZIP 215 and of the test vectors
// of Chalkias, Garillot and Nikolaenko, "Taming the many EdDSAs" (SSR 2020;
// github.com/novifinancial/ed25519-speccheck), also libsodium's blocklist.
// The last four are non-canonical encodings (y = p+3 and y = p+18, either
// sign) of points of large order, which filippo.io/edwards25519 decodes.
var (
	smallOrderCanonical = []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
		"0000000000000000000000000000000000000000000000000000000000000000", // order 4
		"0000000000000000000000000000000000000000000000000000000000000080", // order 4
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	}
	smallOrderNonCanonical = []string{
		"0100000000000000000000000000000000000000000000000000000000000080", // identity, x = 0 with the sign bit
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // order 2, x = 0 with the sign bit
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1: the identity
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p+1 with the sign bit
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p: order 4
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p with the sign bit: order 4
	}
	largeOrderNonCanonical = []string{
		"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+3
		"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+18
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	}
)

// A manifest naming a small-order key for a trustee would let anyone sign
// as that trustee (under the identity, R = identity and S = 0 verify for
// every message), so the board's operator could announce, deal and hold
// that trustee's share; a non-canonical key is a second spelling of one
// point. Every such key is refused, naming the trustee, by NewManifest,
// ParseManifest (what the board, every verifier and every trustee read a
// manifest with) and CheckTrusteeKey.
func TestAttackSmallOrderTrusteeKey(t *testing.T) {
	identity, _ := hex.DecodeString(smallOrderCanonical[0])
	forged := append(append([]byte(nil), identity...), make([]byte, 32)...)
	if !ed25519.Verify(identity, []byte("any ceremony message"), forged) {
		t.Fatal("the forgery under the identity key does not verify: the attack this test guards against is not what it says")
	}
	te := newElection(t, yesNo)
	good := *te.Manifest
	raw := te.Manifest.Bytes()
	second := good.Trustees.Keys[1]
	for _, set := range []struct {
		keys      []string
		small     bool
		canonical bool
	}{{smallOrderCanonical, true, true}, {smallOrderNonCanonical, true, false}, {largeOrderNonCanonical, false, false}} {
		for _, k := range set.keys {
			b, _ := hex.DecodeString(k)
			// The vectors are what they say: points the decoder takes.
			p, err := new(edwards25519.Point).SetBytes(b)
			if err != nil {
				t.Fatalf("%s: not decoded (%v): a useless vector", k, err)
			}
			if small := new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1; small != set.small {
				t.Fatalf("%s: small order %v, listed as %v", k, small, set.small)
			}
			if canonical := bytes.Equal(p.Bytes(), b); canonical != set.canonical {
				t.Fatalf("%s: canonical %v, listed as %v", k, canonical, set.canonical)
			}

			m := good
			m.Trustees.Keys = []string{good.Trustees.Keys[0], k, good.Trustees.Keys[2]}
			_, err = NewManifest(m)
			want := "trustees.keys: key 2 is refused: it is a point of small order"
			if !set.canonical {
				want = "trustees.keys: key 2 is refused: it is a non-canonical encoding"
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("key %s: NewManifest error %v, want %q", k, err, want)
			}
			edited := bytes.Replace(raw, []byte(second), []byte(k), 1)
			if _, err := ParseManifest(edited); err == nil || !strings.Contains(err.Error(), "trustees.keys: key 2 is refused") {
				t.Errorf("key %s: ParseManifest error %v", k, err)
			}
			if err := CheckTrusteeKey(b); err == nil || !strings.HasPrefix(err.Error(), "ballot: trustee key "+k) {
				t.Errorf("key %s: CheckTrusteeKey error %v", k, err)
			}
		}
	}
	for _, bad := range [][]byte{nil, identity[:31], append(identity, 0)} {
		if CheckTrusteeKey(bad) == nil {
			t.Errorf("a %d-byte key was accepted", len(bad))
		}
	}
	// Not on the curve: y = 2 (x² = 3/(4d+1) has no root).
	notOnCurve, _ := hex.DecodeString("0200000000000000000000000000000000000000000000000000000000000000")
	if err := CheckTrusteeKey(notOnCurve); err == nil || !strings.Contains(err.Error(), "not the encoding of a point") {
		t.Errorf("a string not on the curve: %v", err)
	}
	for i := 1; i <= 3; i++ {
		if err := CheckTrusteeKey(te.Manifest.TrusteeKey(i)); err != nil {
			t.Errorf("a generated key: %v", err)
		}
	}
}

// Text that rewrites the screen: terminal escapes, bidirectional controls
// (which can show "no 9 yes 1" for a line whose bytes say otherwise),
// invisible characters and line breaks are refused in every string of a
// manifest, naming the field and the character.
func TestAttackControlCharactersInManifest(t *testing.T) {
	te := newElection(t, yesNo)
	good := *te.Manifest
	bad := []rune{
		0x00, '\t', '\n', '\r', 0x1b, 0x7f, 0x85, 0x9b, // Cc: C0, DEL, C1 (NEL, CSI)
		0x202a, 0x202b, 0x202c, 0x202d, 0x202e, // bidirectional embeddings and overrides
		0x2066, 0x2067, 0x2068, 0x2069, // bidirectional isolates
		0x200e, 0x200f, 0x061c, // directional marks
		0x200b, 0x200d, 0x2060, 0xfeff, 0x00ad, // zero-width and invisible (Cf)
		0x2028, 0x2029, // line and paragraph separators
		0xe0001, // language tag (Cf)
	}
	fields := map[string]func(m *Manifest, s string){
		"title": func(m *Manifest, s string) { m.Title = s },
		`question "q1": text`: func(m *Manifest, s string) {
			m.Questions = []Question{{ID: "q1", Text: s, Choices: []string{"yes", "no"}, Min: 1, Max: 1}}
		},
		`question "q1": choice 2`: func(m *Manifest, s string) {
			m.Questions = []Question{{ID: "q1", Text: "Approve?", Choices: []string{"yes", s}, Min: 1, Max: 1}}
		},
		"opens":  func(m *Manifest, s string) { m.Opens = s },
		"closes": func(m *Manifest, s string) { m.Closes = s },
		"question 1: id": func(m *Manifest, s string) {
			m.Questions = []Question{{ID: s, Text: "Approve?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}}
		},
	}
	for field, set := range fields {
		for _, r := range bad {
			s := "no" + string(r) + "9"
			m := good
			set(&m, s)
			_, err := NewManifest(m)
			if err == nil {
				t.Errorf("%s with U+%04X: accepted", field, r)
				continue
			}
			msg := err.Error()
			switch field {
			case "question 1: id":
				if !strings.Contains(msg, "question 1: id") || !strings.Contains(msg, "at byte 2") {
					t.Errorf("%s with U+%04X: %v", field, r, err)
				}
			default:
				if want := field + " holds the control or format character U+"; !strings.Contains(msg, want) || !strings.Contains(msg, "at byte 2") {
					t.Errorf("%s with U+%04X: error %v, want it to name the field and the character", field, r, err)
				}
			}
		}
	}
	// As published bytes too: a JSON escape decodes to the character.
	esc := bytes.Replace(te.Manifest.Bytes(), []byte(`"Test election"`), []byte(`"Test \u001b[2J election"`), 1)
	if _, err := ParseManifest(esc); err == nil || !strings.Contains(err.Error(), "U+001B at byte 5") {
		t.Errorf("an escaped ESC in the title: %v", err)
	}
	// Letters, marks, symbols and spaces of every script stay allowed.
	m := good
	m.Title = "Assemblée générale 2025 — 総会 — الجمعية العامة ✓"
	m.Questions = []Question{{ID: "board", Text: "Élire deux membres ?", Choices: []string{"Ana", "Chloé", "Zoë", "Δημήτρης", "李"}, Min: 0, Max: 2}}
	m.Opens = "2025-06-01T08:00:00Z"
	if _, err := NewManifest(m); err != nil {
		t.Errorf("a manifest in several scripts: %v", err)
	}
}

// Question ids are lower-case ASCII letters, digits, '_' and '-': no
// look-alikes (Cyrillic "о" for Latin "o"), no case or space variants.
func TestAttackLookAlikeQuestionIDs(t *testing.T) {
	te := newElection(t, yesNo)
	good := *te.Manifest
	for _, id := range []string{"", "Motion", "mоtion", "mo tion", "q.1", "q:1", "q=1", "motion\u00a0", "ｍotion"} {
		m := good
		m.Questions = []Question{{ID: id, Text: "Adopt?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}}
		if _, err := NewManifest(m); err == nil || !strings.Contains(err.Error(), "question 1: id") {
			t.Errorf("id %q: error %v, want one naming question 1's id", id, err)
		}
	}
	for _, id := range []string{"motion", "board-2025", "q_1", "7"} {
		m := good
		m.Questions = []Question{{ID: id, Text: "Adopt?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}}
		if _, err := NewManifest(m); err != nil {
			t.Errorf("id %q: %v", id, err)
		}
	}
	m := good
	m.Questions = []Question{yesNo, pickOne3, yesNo}
	if _, err := NewManifest(m); err == nil || !strings.Contains(err.Error(), `question 3: id "q1" is also an earlier question's`) {
		t.Errorf("a repeated id: %v", err)
	}
}

// Two choices a voter cannot tell apart, or one with no name, are refused:
// compared after case folding, with no white space around a name.
func TestAttackDuplicateOrEmptyChoices(t *testing.T) {
	te := newElection(t, yesNo)
	good := *te.Manifest
	for _, tc := range []struct {
		choices []string
		want    string
	}{
		{[]string{"yes", "yes"}, `choice 2, "yes", is choice 1, "yes", again`},
		{[]string{"Yes", "yes"}, `choice 2, "yes", is choice 1, "Yes", again`},
		{[]string{"yes", "no", "YES"}, `choice 3, "YES", is choice 1, "yes", again`},
		{[]string{"École", "école"}, `choice 2, "école", is choice 1, "École", again`},
		{[]string{"yes", "yes "}, `choice 2, "yes ", begins or ends with white space`},
		{[]string{" yes", "no"}, `choice 1, " yes", begins or ends with white space`},
		{[]string{"yes", "no\u00a0"}, `choice 2, "no\u00a0", begins or ends with white space`},
		{[]string{"", "no"}, `choice 1 is empty`},
		{[]string{"yes", " "}, `choice 2 is empty`},
		{[]string{"yes", "\u3000"}, `choice 2 is empty`},
	} {
		m := good
		m.Questions = []Question{{ID: "q1", Text: "Approve?", Choices: tc.choices, Min: 1, Max: 1}}
		_, err := NewManifest(m)
		if err == nil || !strings.Contains(err.Error(), `question "q1": `+tc.want) {
			t.Errorf("choices %q: error %v, want %q", tc.choices, err, tc.want)
		}
	}
	m := good
	m.Questions = []Question{{ID: "q1", Text: "Approve?", Choices: []string{"yes", "no", "yes, with changes", "blank vote"}, Min: 1, Max: 1}}
	if _, err := NewManifest(m); err != nil {
		t.Errorf("distinct choices: %v", err)
	}
}

// The issuer's statement key (issuance_key) is optional: left out, the
// manifest's bytes are what they were before the field existed, so
// existing manifests keep their hashes. Present, it is 32 bytes of
// canonical base64 naming a canonical Ed25519 point not of small order
// (anyone could sign under the identity, so a forged count would verify),
// and present empty is refused.
func TestAttackIssuanceKey(t *testing.T) {
	te := newElection(t, yesNo)
	if te.Manifest.Issuance() != nil || bytes.Contains(te.Manifest.Bytes(), []byte("issuance_key")) {
		t.Fatalf("a manifest without the key writes or returns one: %s", te.Manifest.Bytes())
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	m := *te.Manifest
	m.IssuanceKey = pub
	with, err := NewManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(with.Issuance(), pub) || !bytes.Contains(with.Bytes(), []byte(`"issuance_key": "`)) {
		t.Fatalf("the key is not in the manifest: %s", with.Bytes())
	}
	again, err := ParseManifest(with.Bytes())
	if err != nil || !bytes.Equal(again.Issuance(), pub) {
		t.Fatalf("the manifest with the key does not read back: %v", err)
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	identity, _ := hex.DecodeString(smallOrderCanonical[0])
	nonCanonical, _ := hex.DecodeString(largeOrderNonCanonical[0])
	for _, c := range []struct{ name, value, want string }{
		{"empty", `""`, "issuance_key"},
		{"31 bytes", `"` + b64(pub[:31]) + `"`, "issuance_key is refused: it is 31 bytes"},
		{"the identity", `"` + b64(identity) + `"`, "issuance_key is refused: it is a point of small order"},
		{"non-canonical point", `"` + b64(nonCanonical) + `"`, "issuance_key is refused: it is a non-canonical encoding"},
		{"base64 without padding", `"` + strings.TrimRight(b64(pub), "=") + `"`, "base64"},
		{"hex", `"` + hex.EncodeToString(pub) + `"`, "issuance_key"},
		{"array of bytes", "[1,2,3]", "base64"},
	} {
		edited := bytes.Replace(with.Bytes(), []byte(`"`+b64(pub)+`"`), []byte(c.value), 1)
		if _, err := ParseManifest(edited); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ParseManifest error %v, want %q", c.name, err, c.want)
		}
	}
	m.IssuanceKey = identity
	if _, err := NewManifest(m); err == nil || !strings.Contains(err.Error(), "small order") {
		t.Errorf("NewManifest with the identity as issuance key: %v", err)
	}
}
