package voter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/zkp"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/voter"
)

// colours is a question of one or two choices of three: three ciphertexts
// and a range proof, where the yes/no question has one ciphertext and its
// second choice implied.
var colours = ballot.Question{ID: "colour", Text: "Favourite colours?", Choices: []string{"red", "green", "blue"}, Min: 1, Max: 2}

// auditElection is an open election of a yes/no question and colours, and
// a voter client of it over the in-memory fakes.
func auditElection(t *testing.T) (*electiontest.Election, *voter.Client, *ballot.Election) {
	t.Helper()
	return auditElectionUnder(t, ballot.RevotingRefuse)
}

// auditElectionUnder is auditElection under a revoting policy.
func auditElectionUnder(t *testing.T, revoting string) (*electiontest.Election, *voter.Client, *ballot.Election) {
	t.Helper()
	e := electiontest.New(t, electiontest.Options{Questions: []ballot.Question{electiontest.YesNo, colours}, Revoting: revoting})
	c := &voter.Client{
		Board:        memBoard{e.Board},
		Issuer:       memIssuer{e.Issuer, e.Board.Manifest().ID()},
		BoardKey:     e.Verifier,
		ManifestHash: e.Board.Manifest().Hash(),
	}
	el, err := c.Election(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e, c, el
}

// sealed is a fresh voter's ticket with a token and a ballot of sel.
func sealed(t *testing.T, c *voter.Client, el *ballot.Election, voterID string, sel [][]int) *voter.Ticket {
	t.Helper()
	tk, err := voter.NewTicket(nil, el, voterID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.GetToken(context.Background(), el, tk, "any", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(el, tk, sel); err != nil {
		t.Fatal(err)
	}
	return tk
}

func mustAudit(t *testing.T, tk *voter.Ticket) *voter.Audit {
	t.Helper()
	a, err := tk.Audit()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// bodyOf is the body of an encoded ballot: all but its signature.
func bodyOf(raw []byte) []byte { return raw[:len(raw)-64] }

// clone is a deep copy of a, through its encoding.
func clone(t *testing.T, a *voter.Audit) *voter.Audit {
	t.Helper()
	c, err := voter.ParseAudit(a.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAudit: a sealed ballot, audited, checks out for exactly the choices
// it was sealed with, through its file, which holds the ballot's body (no
// signature) and the fingerprint the ticket showed; the audit empties the
// ticket, which then casts nothing; sealed again the ticket holds a new
// ballot (another fingerprint) that casts, after which there is nothing to
// audit.
func TestAudit(t *testing.T) {
	_, c, el := auditElection(t)
	ctx := context.Background()
	sel := [][]int{{0}, {0, 2}}
	tk := sealed(t, c, el, "voter-1", sel)
	if len(tk.Opening) != 2 || len(tk.Opening[0]) != 1 || len(tk.Opening[1]) != 3 {
		t.Fatalf("the ticket's opening has the wrong shape: %v", tk.Opening)
	}
	again, err := voter.ParseTicket(tk.Marshal())
	if err != nil || !reflect.DeepEqual(again.Opening, tk.Opening) {
		t.Fatalf("the ticket's opening does not survive saving: %v", err)
	}
	sealedBallot := tk.Ballot
	shown, err := tk.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	a := mustAudit(t, tk)
	if tk.Ballot != "" || tk.Choices != nil || tk.Opening != nil || tk.Token == "" {
		t.Fatalf("the audited ticket still holds its ballot, choices or opening, or lost its token: %+v", tk)
	}
	if _, err := tk.Fingerprint(); err == nil {
		t.Fatal("the audited ticket still has a fingerprint")
	}
	raw, _ := base64.StdEncoding.DecodeString(sealedBallot)
	fp := ballot.Fingerprint(bodyOf(raw))
	if a.Version != 1 || a.BallotBody != base64.StdEncoding.EncodeToString(bodyOf(raw)) || a.Fingerprint != hex.EncodeToString(fp[:]) || a.Fingerprint != shown || !slices.EqualFunc(a.Choices, sel, slices.Equal[[]int]) {
		t.Fatalf("the audit data is not the sealed ballot's body, or not under the fingerprint the ticket showed: %+v", a)
	}
	if strings.Contains(string(a.Marshal()), base64.StdEncoding.EncodeToString(raw[len(raw)-64:])) {
		t.Fatal("the audit file holds the ballot's signature")
	}

	// The file: exactly these fields, read back the same, and it checks.
	file := a.Marshal()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(file, &fields); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"ballot_body", "choices", "election_id", "fingerprint", "opening", "version"}; !slices.Equal(names, want) {
		t.Fatalf("the audit file's fields are %v, want %v", names, want)
	}
	if !bytes.HasSuffix(file, []byte("}\n")) {
		t.Fatal("the audit file does not end in a newline")
	}
	parsed, err := voter.ParseAudit(file)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parsed, a) || !bytes.Equal(parsed.Marshal(), file) {
		t.Fatalf("the audit file reads back as something else:\n%s\n%s", file, parsed.Marshal())
	}
	if err := voter.CheckAudit(el, parsed); err != nil {
		t.Fatalf("an honest audit is refused: %v", err)
	}

	// The audited ballot cannot be cast from the ticket, nor audited again.
	if _, err := c.CastTicket(ctx, el, tk); err == nil {
		t.Fatal("the audited ticket cast a ballot")
	}
	if _, err := tk.Audit(); err == nil {
		t.Fatal("the audited ticket was audited again")
	}

	// Sealed again: a new ballot, another fingerprint, which casts.
	if err := c.Seal(el, tk, sel); err != nil {
		t.Fatal(err)
	}
	if again, err := tk.Fingerprint(); err != nil || again == a.Fingerprint {
		t.Fatalf("the ballot sealed after the audit has the audited one's fingerprint: %v", err)
	}
	rc, err := c.CastTicket(ctx, el, tk)
	if err != nil {
		t.Fatal(err)
	}
	if tc := ballot.TrackingCode(raw); rc.TrackingCode == hex.EncodeToString(tc[:]) {
		t.Fatal("the audited ballot was cast")
	}
	if tk.Opening != nil {
		t.Fatal("the cast ticket keeps its opening")
	}
	if _, err := tk.Audit(); err == nil || tk.Ballot == "" || tk.Receipt != rc {
		t.Fatalf("the cast ballot was audited, or the attempt changed the ticket: %v", err)
	}
}

// TestAuditKeepsReceipts: under last-ballot-counts a revote audited leaves
// the ticket's receipt and the one it replaces alone, and the next ballot
// still replaces the cast one.
func TestAuditKeepsReceipts(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	c := &voter.Client{Board: memBoard{e.Board}, Issuer: memIssuer{e.Issuer, e.Board.Manifest().ID()}, BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	ctx := context.Background()
	el, err := c.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk := sealed(t, c, el, "voter-1", [][]int{{0}})
	first, err := c.CastTicket(ctx, el, tk)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(el, tk, [][]int{{1}}); err != nil {
		t.Fatal(err)
	}
	if tk.Replaces != first || tk.Receipt != nil {
		t.Fatal("the revote does not replace the first ballot")
	}
	if err := voter.CheckAudit(el, mustAudit(t, tk)); err != nil {
		t.Fatal(err)
	}
	if tk.Replaces != first || tk.Receipt != nil {
		t.Fatal("the audit changed the ticket's receipts")
	}
	if err := c.Seal(el, tk, [][]int{{1}}); err != nil {
		t.Fatal(err)
	}
	rc, err := c.CastTicket(ctx, el, tk)
	if err != nil || rc.Index <= first.Index {
		t.Fatalf("the revote after the audit: %v", err)
	}
}

// TestAttackAuditOtherChoices: a device that shows the voter "yes" but
// encrypts "no" (it seals "no" and claims "yes"), or shows one colour and
// encrypts another, is caught: the audit is refused with
// ErrOpeningMismatch, naming the question and choice.
func TestAttackAuditOtherChoices(t *testing.T) {
	_, c, el := auditElection(t)
	for _, tc := range []struct {
		name              string
		encrypted, shown  [][]int
		question, mention string
	}{
		{"yes shown, no encrypted", [][]int{{1}, {0}}, [][]int{{0}, {0}}, `"motion"`, `"yes"`},
		{"no shown, yes encrypted", [][]int{{0}, {0}}, [][]int{{1}, {0}}, `"motion"`, `"yes"`},
		{"red shown, blue encrypted", [][]int{{0}, {2}}, [][]int{{0}, {0}}, `"colour"`, `"red"`},
		{"red and green shown, red encrypted", [][]int{{0}, {0}}, [][]int{{0}, {0, 1}}, `"colour"`, `"green"`},
	} {
		a := mustAudit(t, sealed(t, c, el, "voter-1", tc.encrypted))
		if err := voter.CheckAudit(el, a); err != nil {
			t.Fatalf("%s: the honest audit is refused: %v", tc.name, err)
		}
		a.Choices = tc.shown
		err := voter.CheckAudit(el, a)
		if !errors.Is(err, ballot.ErrOpeningMismatch) || !strings.Contains(err.Error(), tc.question) || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), "does NOT encrypt") {
			t.Errorf("%s: %v, want ErrOpeningMismatch naming %s and %s", tc.name, err, tc.question, tc.mention)
		}
		// Choices that break the rules are refused too.
		a.Choices = [][]int{{0, 1}, {0}}
		if err := voter.CheckAudit(el, a); err == nil {
			t.Errorf("%s: an audit showing yes and no is accepted", tc.name)
		}
	}
}

// addOrder adds the group order l to a hex scalar: the same value mod l,
// spelt non-canonically.
func addOrder(t *testing.T, s string) string {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(b)
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	n := new(big.Int).Add(new(big.Int).SetBytes(b), l)
	out := n.FillBytes(make([]byte, 32))
	slices.Reverse(out)
	return hex.EncodeToString(out)
}

// TestAttackAuditChangedScalar: an opening with any one scalar changed
// (a bit flipped, or another ballot's) does not open the ballot; the same
// scalar plus the group order (the same value, spelt non-canonically) is
// refused by ParseAudit naming the field.
func TestAttackAuditChangedScalar(t *testing.T) {
	_, c, el := auditElection(t)
	a := mustAudit(t, sealed(t, c, el, "voter-1", [][]int{{0}, {1}}))
	other := mustAudit(t, sealed(t, c, el, "voter-2", [][]int{{0}, {1}}))
	for q, row := range a.Opening {
		for i := range row {
			for _, change := range []func(string) string{
				func(s string) string { // its lowest bit flipped: still a scalar
					b, _ := hex.DecodeString(s)
					b[0] ^= 1
					return hex.EncodeToString(b)
				},
				func(string) string { return other.Opening[q][i] },
			} {
				bad := clone(t, a)
				bad.Opening[q][i] = change(bad.Opening[q][i])
				if _, err := voter.ParseAudit(bad.Marshal()); err != nil {
					t.Fatalf("the changed scalar is not even well-formed: %v", err)
				}
				if err := voter.CheckAudit(el, bad); !errors.Is(err, ballot.ErrOpeningMismatch) {
					t.Errorf("opening[%d][%d] changed: %v, want ErrOpeningMismatch", q, i, err)
				}
			}
			bad := clone(t, a)
			bad.Opening[q][i] = addOrder(t, bad.Opening[q][i])
			field := fmt.Sprintf("opening[%d][%d]", q, i)
			if _, err := voter.ParseAudit(bad.Marshal()); err == nil || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "canonical") {
				t.Errorf("%s plus the group order: ParseAudit says %v, want it refused naming the field", field, err)
			}
			if err := voter.CheckAudit(el, bad); err == nil {
				t.Errorf("%s plus the group order: CheckAudit accepts it", field)
			}
		}
	}
}

// TestAttackAuditSwappedBallot: audit data whose ballot is another voter's
// (of the same choices) is refused: with the audited fingerprint kept, as
// another ballot than the voter saw; with the other ballot's fingerprint
// too, as not opened by this opening (another token key, other
// randomness). A ballot of another election, one bit of its body flipped
// (re-labelled with its fingerprint), or a whole signed ballot in place of
// the body, is refused before the opening.
func TestAttackAuditSwappedBallot(t *testing.T) {
	_, c, el := auditElection(t)
	sel := [][]int{{0}, {1}}
	a := mustAudit(t, sealed(t, c, el, "voter-1", sel))
	other := mustAudit(t, sealed(t, c, el, "voter-2", sel))

	swapped := clone(t, a)
	swapped.BallotBody = other.BallotBody
	if err := voter.CheckAudit(el, swapped); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("another voter's ballot under this fingerprint: %v", err)
	}
	swapped.Fingerprint = other.Fingerprint
	if err := voter.CheckAudit(el, swapped); !errors.Is(err, ballot.ErrOpeningMismatch) {
		t.Errorf("another voter's ballot and fingerprint with this opening: %v, want ErrOpeningMismatch", err)
	}

	_, c2, el2 := auditElection(t)
	foreign := mustAudit(t, sealed(t, c2, el2, "voter-1", sel))
	if err := voter.CheckAudit(el, foreign); err == nil || !strings.Contains(err.Error(), "election") {
		t.Errorf("another election's audit: %v", err)
	}
	foreign.ElectionID = a.ElectionID
	if err := voter.CheckAudit(el, foreign); !errors.Is(err, ballot.ErrWrongElection) {
		t.Errorf("another election's ballot under this election's id: %v, want ErrWrongElection", err)
	}

	body, _ := base64.StdEncoding.DecodeString(a.BallotBody)
	for _, at := range []int{40, 100, len(body) - 1} { // the token key; a ciphertext; the last proof's last byte
		flipped := clone(t, a)
		b := bytes.Clone(body)
		b[at] ^= 1
		fp := ballot.Fingerprint(b)
		flipped.BallotBody, flipped.Fingerprint = base64.StdEncoding.EncodeToString(b), hex.EncodeToString(fp[:])
		err := voter.CheckAudit(el, flipped)
		if !errors.Is(err, ballot.ErrInvalidProof) && !errors.Is(err, ballot.ErrMalformed) && !errors.Is(err, ballot.ErrInvalidToken) {
			t.Errorf("byte %d flipped: %v, want the ballot refused as invalid", at, err)
		}
	}
	// The whole signed ballot where its body belongs (a file made by a
	// device that gives the signature out) is refused: a body is exact.
	tk := sealed(t, c, el, "voter-3", sel)
	signed := tk.Ballot
	whole := mustAudit(t, tk)
	whole.BallotBody = signed
	if err := voter.CheckAudit(el, whole); !errors.Is(err, ballot.ErrMalformed) {
		t.Errorf("a whole signed ballot as the body: %v, want ErrMalformed", err)
	}
}

// TestAttackAuditOpeningShape: an opening with a row or a scalar left out
// or added is refused, as are choices for too few or too many questions.
func TestAttackAuditOpeningShape(t *testing.T) {
	_, c, el := auditElection(t)
	a := mustAudit(t, sealed(t, c, el, "voter-1", [][]int{{1}, {0, 2}}))
	for name, edit := range map[string]func(b *voter.Audit){
		"a row short":       func(b *voter.Audit) { b.Opening = b.Opening[:1] },
		"a row long":        func(b *voter.Audit) { b.Opening = append(b.Opening, b.Opening[0]) },
		"no rows":           func(b *voter.Audit) { b.Opening = [][]string{} },
		"a scalar short":    func(b *voter.Audit) { b.Opening[1] = b.Opening[1][:2] },
		"a scalar long":     func(b *voter.Audit) { b.Opening[0] = append(b.Opening[0], b.Opening[1][0]) },
		"rows swapped":      func(b *voter.Audit) { b.Opening[0], b.Opening[1] = b.Opening[1], b.Opening[0] },
		"a choice row less": func(b *voter.Audit) { b.Choices = b.Choices[:1] },
		"a choice row more": func(b *voter.Audit) { b.Choices = append(b.Choices, []int{0}) },
	} {
		bad := clone(t, a)
		edit(bad)
		if err := voter.CheckAudit(el, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if parsed, err := voter.ParseAudit(bad.Marshal()); err == nil {
			if err := voter.CheckAudit(el, parsed); err == nil {
				t.Errorf("%s: accepted through the file", name)
			}
		}
	}
}

// TestAttackAuditStrictFile: ParseAudit refuses, naming the field, an
// unknown field, a field twice (the second with other choices), a missing
// field, null, another version, hex that is short, upper case or not hex,
// base64 that is not canonical, and a scalar at or above the group order.
func TestAttackAuditStrictFile(t *testing.T) {
	_, c, el := auditElection(t)
	a := mustAudit(t, sealed(t, c, el, "voter-1", [][]int{{0}, {1}}))
	compact, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	good := string(compact)
	if _, err := voter.ParseAudit(compact); err != nil {
		t.Fatal(err)
	}
	choices := `"choices":[[0],[1]]`
	if !strings.Contains(good, choices) {
		t.Fatalf("%s has no %s", good, choices)
	}
	raw, _ := base64.StdEncoding.DecodeString(a.BallotBody)
	l := "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"
	for _, tc := range []struct{ name, file, want string }{
		{"an unknown field", strings.Replace(good, "{", `{"cast":true,`, 1), "cast"},
		{"version twice", strings.Replace(good, "{", `{"version":1,`, 1), "version"},
		{"choices twice", strings.Replace(good, choices, `"choices":[[1],[1]],`+choices, 1), "choices"},
		{"a missing field", strings.Replace(good, `"fingerprint":"`+a.Fingerprint+`",`, "", 1), "fingerprint"},
		{"a ballot instead of a body", strings.Replace(good, `"ballot_body":`, `"ballot":`, 1), "ballot"},
		{"null choices", strings.Replace(good, choices, `"choices":null`, 1), "null"},
		{"a null choice", strings.Replace(good, choices, `"choices":[null,[1]]`, 1), "null"},
		{"version 2", strings.Replace(good, `"version":1`, `"version":2`, 1), "version"},
		{"version 0", strings.Replace(good, `"version":1`, `"version":0`, 1), "version"},
		{"a short election id", strings.Replace(good, a.ElectionID, a.ElectionID[:62], 1), "election_id"},
		{"an upper-case fingerprint", strings.Replace(good, a.Fingerprint, strings.ToUpper(a.Fingerprint), 1), "fingerprint"},
		{"a fingerprint not hex", strings.Replace(good, a.Fingerprint, "zz"+a.Fingerprint[2:], 1), "fingerprint"},
		{"a space in base64", strings.Replace(good, a.BallotBody, a.BallotBody[:40]+" "+a.BallotBody[40:], 1), "ballot_body"},
		{"base64 cut short", strings.Replace(good, a.BallotBody, a.BallotBody[:len(a.BallotBody)-1], 1), "ballot_body"},
		{"url-safe base64", strings.Replace(good, a.BallotBody, base64.URLEncoding.EncodeToString(raw), 1), "ballot_body"},
		{"a line break in base64", strings.Replace(good, a.BallotBody, a.BallotBody[:40]+`\n`+a.BallotBody[40:], 1), "ballot_body"},
		{"an empty ballot body", strings.Replace(good, a.BallotBody, "", 1), "ballot_body"},
		{"the group order as a scalar", strings.Replace(good, a.Opening[1][0], l, 1), "opening[1][0]"},
		{"a scalar with its top bit set", strings.Replace(good, a.Opening[0][0], a.Opening[0][0][:62]+"ff", 1), "opening[0][0]"},
		{"an upper-case scalar", strings.Replace(good, a.Opening[1][1], strings.ToUpper(a.Opening[1][1]), 1), "opening[1][1]"},
		{"a short scalar", strings.Replace(good, a.Opening[1][2], a.Opening[1][2][:60], 1), "opening[1][2]"},
		{"a scalar as a number", strings.Replace(good, `"`+a.Opening[0][0]+`"`, "7", 1), "opening"},
	} {
		if tc.file == good {
			t.Fatalf("%s: the edit changed nothing", tc.name)
		}
		_, err := voter.ParseAudit([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it refused naming %s", tc.name, err, tc.want)
		}
	}
}

// TestAttackCastAuditedBallot: whoever holds an audit file (the device
// that checks it, or anyone the voter shows it to) cannot cast the audited
// ballot, whose choices it knows, in the voter's name, under either
// revoting policy: the file holds the ballot's body and no signature, and
// only the token key's holder can sign. The body alone, or with any 64
// bytes after it (zeros, ones, random, the signature of the ballot the
// voter casts instead, another voter's, one the attacker makes with a key
// of its own), or re-keyed to the attacker's own token key and token and
// signed by it, is no valid ballot (ballot.Parse or ballot.Verify fails),
// and the board refuses each as an invalid ballot with its log unchanged,
// before and after the voter casts. The voter's token is not spent: the
// voter's own ballot then casts, and it is not the audited one.
func TestAttackCastAuditedBallot(t *testing.T) {
	for _, policy := range []string{ballot.RevotingRefuse, ballot.RevotingLastCounts} {
		t.Run(policy, func(t *testing.T) {
			e, c, el := auditElectionUnder(t, policy)
			ctx := context.Background()
			tk := sealed(t, c, el, "voter-1", [][]int{{0}, {1}})
			file := mustAudit(t, tk).Marshal()

			// What the attacker has: the file, and what the board shows.
			stolen, err := voter.ParseAudit(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := voter.CheckAudit(el, stolen); err != nil {
				t.Fatal(err)
			}
			body, err := base64.StdEncoding.DecodeString(stolen.BallotBody)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ballot.ParseBody(el, body); err != nil {
				t.Fatal(err)
			}

			// The voter seals the vote again, to cast it; another voter
			// casts; the attacker is an eligible voter with a token of its
			// own.
			if err := c.Seal(el, tk, [][]int{{1}, {2}}); err != nil {
				t.Fatal(err)
			}
			next, _ := base64.StdEncoding.DecodeString(tk.Ballot)
			others := e.Ballot(t, e.Voter(t), []int{0}, []int{1})
			if _, err := e.Board.Cast(ctx, others); err != nil {
				t.Fatal(err)
			}
			mh := el.Manifest.Hash()
			sigContext := func(body []byte) []byte {
				return append(append([]byte("evote/ballot/v1/signature\x00"), mh[:]...), body...)
			}
			sign := func(body []byte, v *electiontest.Voter) []byte {
				p, err := zkp.ProveSchnorr(nil, sigContext(body), v.Secret, v.Key)
				if err != nil {
					t.Fatal(err)
				}
				return append(bytes.Clone(body), p.Bytes()...)
			}
			attacker := e.Voter(t)
			// The context is the one ballots are signed over: the
			// attacker's own ballot, re-signed so, is valid.
			own := e.Ballot(t, attacker, []int{1}, []int{0})
			if b, err := ballot.Parse(el, sign(bodyOf(own), attacker)); err != nil || ballot.Verify(el, b) != nil {
				t.Fatalf("the test's signature context is not the ballots': %v", err)
			}
			rekeyed := bytes.Clone(body)
			copy(rekeyed[33:], attacker.Key.Bytes())
			copy(rekeyed[65:], attacker.Token.Bytes())
			if bytes.Equal(rekeyed, body) {
				t.Fatal("re-keying changed nothing")
			}
			random := make([]byte, 64)
			for i := range random {
				random[i] = byte(i*37 + 11)
			}
			with := func(sig []byte) []byte { return append(bytes.Clone(body), sig...) }
			attempts := []struct {
				name string
				raw  []byte
			}{
				{"the body alone", body},
				{"the body and 64 zero bytes", with(make([]byte, 64))},
				{"the body and 64 0xff bytes", with(bytes.Repeat([]byte{0xff}, 64))},
				{"the body and 64 other bytes", with(random)},
				{"the body and the signature of the ballot the voter casts", with(next[len(next)-64:])},
				{"the body and another voter's signature", with(others[len(others)-64:])},
				{"the body signed by the attacker's key", sign(body, attacker)},
				{"the body under the attacker's token key and token, signed by it", sign(rekeyed, attacker)},
			}
			try := func(when string) {
				t.Helper()
				for _, at := range attempts {
					if b, err := ballot.Parse(el, at.raw); err == nil {
						if err := ballot.Verify(el, b); err == nil {
							t.Errorf("%s, %s: a valid ballot", when, at.name)
						}
					}
					before := logSize(t, e)
					if _, err := e.Board.Cast(ctx, at.raw); !errors.Is(err, board.ErrInvalidBallot) {
						t.Errorf("%s, %s: the board says %v, want ErrInvalidBallot", when, at.name, err)
					}
					if after := logSize(t, e); after != before {
						t.Errorf("%s, %s: the log grew from %d to %d entries", when, at.name, before, after)
					}
				}
			}
			try("before the voter casts")

			// The voter's token is not spent: the voter's ballot casts.
			rc, err := c.CastTicket(ctx, el, tk)
			if err != nil {
				t.Fatalf("the voter's own ballot after the attacks: %v", err)
			}
			leaf, err := e.Board.Log().Leaf(rc.Index)
			if err != nil {
				t.Fatal(err)
			}
			cast := leaf[1:]
			if !bytes.Equal(cast, next) || bytes.Equal(bodyOf(cast), body) {
				t.Fatal("the board holds another ballot than the voter cast, or the audited one")
			}
			attempts = append(attempts, struct {
				name string
				raw  []byte
			}{"the body and the signature read from the board", with(cast[len(cast)-64:])})
			try("after the voter cast")
			if _, err := c.CheckReceipt(ctx, rc); err != nil {
				t.Fatal(err)
			}
		})
	}
}
