package verify_test

// The conformance corpus of SPEC.md §13: small records under
// testdata/conformance, each with the outcome any verifier must give it,
// listed in testdata/conformance/cases.json.
//
// TestConformance reads cases.json and runs every record through
// verify.Record, asserting exactly the stated outcome: accepted complete,
// accepted only as incomplete, or refused with the stated check failing
// first at the stated entry. TestConformanceCorpus rebuilds the corpus and
// requires it to be byte for byte what is in testdata; run
//
//	go test ./verify -run TestConformanceCorpus -update
//
// to rewrite it after a change to the formats (-run matters: -update alone
// also rewrites testdata/election.record, with new random keys).
// TestConformanceTable checks that SPEC.md §13's table lists the cases of
// cases.json with their outcomes. Every record is
// deterministic: keys, election IDs and all randomness (the issuer's RSA
// key, the trustees' Ed25519 keys, the ceremony, token blinding, ballot
// encryption, partial decryption proofs) come from ChaCha20 keystreams
// keyed by fixed labels, the close time is fixed, and every record is
// signed by the test board key of helpers_test.go (Ed25519, deterministic).

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"github.com/gtank/ristretto255"
	"golang.org/x/crypto/chacha20"
)

const conformanceDir = "testdata/conformance"

// Expected outcomes of a conformance case.
const (
	expectComplete   = "complete"   // accepted, complete (with or without --allow-incomplete)
	expectIncomplete = "incomplete" // refused (check complete, entry -1); accepted with --allow-incomplete
	expectInvalid    = "invalid"    // refused either way; check fails first at entry
)

// confCase is one line of cases.json.
type confCase struct {
	File     string `json:"file"`
	BoardKey string `json:"board_key"`
	Expect   string `json:"expect"`
	// Check and Entry: for an invalid record the check that fails first
	// (in record order) and the entry it names (-1: the whole record);
	// for an incomplete one "complete" and -1, the check that fails
	// without --allow-incomplete.
	Check string `json:"check,omitempty"`
	Entry *int64 `json:"entry,omitempty"`
	// Result: for a complete record, the result a verifier computes.
	Result *tally.Result `json:"result,omitempty"`
	// Message: a phrase of evote's error, for people; other verifiers
	// word their own.
	Message string `json:"evote_message,omitempty"`
	What    string `json:"what"`
	Spec    string `json:"spec"`
}

type confFile struct {
	Version int        `json:"version"`
	Cases   []confCase `json:"cases"`
}

// TestConformance runs every record of the corpus through verify.Record
// and checks the outcome cases.json states for it.
func TestConformance(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(conformanceDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf confFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	if cf.Version != 1 || len(cf.Cases) == 0 {
		t.Fatalf("cases.json: version %d, %d cases", cf.Version, len(cf.Cases))
	}
	files := map[string]bool{}
	for _, c := range cf.Cases {
		files[c.File] = true
		t.Run(strings.TrimSuffix(c.File, ".record"), func(t *testing.T) {
			rec, err := os.ReadFile(filepath.Join(conformanceDir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			key, err := verify.BoardKey(c.BoardKey)
			if err != nil {
				t.Fatal(err)
			}
			run := func(allow bool) (*verify.Report, error) {
				rep, err := verify.Record(bytes.NewReader(rec), key, verify.Options{AllowIncomplete: allow})
				if rep == nil {
					t.Fatal("no report")
				}
				if (err == nil) != rep.OK {
					t.Fatalf("error %v with report OK %v", err, rep.OK)
				}
				return rep, err
			}
			// mustRefuse checks that the first failing check is the stated
			// one, and that every record holds one fault: no failing check
			// is about another entry (a range of entries may include it).
			mustRefuse := func(allow bool, rep *verify.Report, err error) {
				t.Helper()
				for _, ch := range rep.Checks {
					if !ch.OK && (ch.First > *c.Entry || ch.Last < *c.Entry || (*c.Entry >= 0) != (ch.First >= 0)) {
						t.Errorf("allow incomplete %v: a failure about another entry than %d: %v", allow, *c.Entry, ch)
					}
				}
				var ve *verify.Error
				if !errors.As(err, &ve) {
					t.Fatalf("allow incomplete %v: want a *verify.Error naming %s at entry %d, got %v", allow, c.Check, *c.Entry, err)
				}
				if ve.Check.Name != c.Check || ve.Check.First != *c.Entry || ve.Check.Last != *c.Entry {
					t.Errorf("allow incomplete %v: the first failure is %s at entries %d-%d, cases.json says %s at %d: %v",
						allow, ve.Check.Name, ve.Check.First, ve.Check.Last, c.Check, *c.Entry, err)
				}
				if !strings.Contains(ve.Check.Detail, c.Message) {
					t.Errorf("allow incomplete %v: %v\ndoes not say %q", allow, err, c.Message)
				}
			}
			switch c.Expect {
			case expectComplete:
				for _, allow := range []bool{false, true} {
					rep, err := run(allow)
					if err != nil {
						t.Fatalf("allow incomplete %v: %v", allow, err)
					}
					if c.Result == nil || rep.Result == nil || !rep.Result.Equal(c.Result) || !slices.Equal(rep.Result.Trustees, c.Result.Trustees) {
						t.Errorf("result %+v, cases.json says %+v", rep.Result, c.Result)
					}
					if cc := findCheck(rep, verify.CheckComplete); cc == nil || !strings.HasPrefix(cc.Detail, "the record is complete") {
						t.Errorf("complete check %v", cc)
					}
				}
			case expectIncomplete:
				rep, err := run(false)
				mustRefuse(false, rep, err)
				rep, err = run(true)
				if err != nil {
					t.Fatalf("allow incomplete: %v", err)
				}
				if cc := findCheck(rep, verify.CheckComplete); cc == nil || !strings.HasPrefix(cc.Detail, "the record is incomplete, as allowed") || rep.Result != nil {
					t.Errorf("complete check %v, result %v", cc, rep.Result)
				}
			case expectInvalid:
				for _, allow := range []bool{false, true} {
					rep, err := run(allow)
					mustRefuse(allow, rep, err)
				}
			default:
				t.Fatalf("expect %q", c.Expect)
			}
		})
	}
	// Every file of the directory is a case (or cases.json itself).
	des, err := os.ReadDir(conformanceDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if n := de.Name(); n != "cases.json" && !files[n] {
			t.Errorf("%s is in %s but not in cases.json", n, conformanceDir)
		}
	}
}

// TestConformanceCorpus rebuilds the corpus and requires testdata to hold
// exactly it; with -update it writes it.
func TestConformanceCorpus(t *testing.T) {
	cases, files := conformanceCorpus(t)
	idx, err := json.MarshalIndent(confFile{Version: 1, Cases: cases}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	idx = append(compactNumberArrays(idx), '\n')
	files["cases.json"] = idx
	total := 0
	for _, b := range files {
		total += len(b)
	}
	t.Logf("%d records, %d bytes with cases.json", len(cases), total)
	if *update {
		if err := os.RemoveAll(conformanceDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(conformanceDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(conformanceDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(conformanceDir, name))
		if err != nil {
			t.Errorf("%v; run go test ./verify -run TestConformanceCorpus -update", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the generator makes (%d bytes, it makes %d); run go test ./verify -run TestConformanceCorpus -update", name, len(got), len(want))
		}
	}
}

// compactNumberArrays writes every array of numbers (and arrays of such
// arrays) of indented JSON on one line: "counts":[[2,1]], not nine lines.
func compactNumberArrays(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '"': // copy the string as is
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			out = append(out, b[i:j+1]...)
			i = j
			continue
		case '[':
			depth, j := 0, i
			for ; j < len(b); j++ {
				switch b[j] {
				case '[':
					depth++
					continue
				case ']':
					depth--
				}
				if depth == 0 || !strings.ContainsRune("0123456789-, \n\t[]", rune(b[j])) {
					break
				}
			}
			if j < len(b) && depth == 0 {
				for _, x := range b[i : j+1] {
					if x != ' ' && x != '\n' && x != '\t' {
						out = append(out, x)
					}
				}
				i = j
				continue
			}
		}
		out = append(out, c)
	}
	return out
}

// confRand is a deterministic randomness source: the ChaCha20 keystream
// keyed by SHA-256 of a label, with a zero nonce.
func confRand(label string) io.Reader {
	key := sha256.Sum256([]byte("evote/conformance/v1 " + label))
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		panic(err)
	}
	return confStream{c}
}

type confStream struct{ c *chacha20.Cipher }

func (s confStream) Read(p []byte) (int, error) {
	clear(p)
	s.c.XORKeyStream(p, p)
	return len(p), nil
}

// confIssuer derives an RSA-2048 issuing key from a fixed keystream (two
// 1024-bit primes found by trial from it), for tests only.
func confIssuer(t testing.TB) *token.PrivateKey {
	t.Helper()
	rnd := confRand("issuer")
	e := big.NewInt(65537)
	prime := func() *big.Int {
		buf := make([]byte, 128)
		for {
			if _, err := io.ReadFull(rnd, buf); err != nil {
				t.Fatal(err)
			}
			buf[0] |= 0xc0
			buf[127] |= 1
			p := new(big.Int).SetBytes(buf)
			if !p.ProbablyPrime(32) {
				continue
			}
			if new(big.Int).Mod(new(big.Int).Sub(p, big.NewInt(1)), e).Sign() == 0 {
				continue
			}
			return p
		}
	}
	p, q := prime(), prime()
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537},
		D: new(big.Int).ModInverse(e, phi), Primes: []*big.Int{p, q}}
	k.Precompute()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := token.ParsePrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// confTime is the close entry's time in every record.
const confClose = `{"closed":"2025-06-01T18:00:00Z"}`

type confVoter struct {
	secret *ristretto255.Scalar
	key    *elgamal.PublicKey
	token  *token.Token
}

// confElection is an election made without a board: the leaves are built
// one by one, and the tests play every party.
type confElection struct {
	m      *ballot.Manifest
	el     *ballot.Election
	issuer *token.PrivateKey
	keys   []ed25519.PrivateKey
	shares []*dkg.KeyShare
	prefix [][]byte // the manifest, the ceremony entries and the open entry
	rnd    io.Reader
}

type confOptions struct {
	questions []ballot.Question
	revoting  string
	// disqualify: trustees 1 and 2 complain about trustee 3's deal;
	// trustee 3 answers trustee 1 with a wrong share and trustee 2 not at
	// all, so it has both complaints-unanswered [2] and bad-answer [1].
	disqualify bool
}

var (
	confYesNo = ballot.Question{ID: "motion", Text: "Adopt the motion?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}
	// Pick one or two of three: three ciphertexts and a range proof over {1, 2}.
	confBoard = ballot.Question{ID: "board", Text: "Elect one or two members", Choices: []string{"ada", "bo", "cy"}, Min: 1, Max: 2}
	// Pick up to two of three: three ciphertexts and a range proof over {0, 1, 2}.
	confUpToTwo = ballot.Question{ID: "board", Text: "Elect up to two members", Choices: []string{"ada", "bo", "cy"}, Min: 0, Max: 2}
)

func newConfElection(t testing.TB, issuer *token.PrivateKey, label string, o confOptions) *confElection {
	t.Helper()
	rnd := confRand("election " + label)
	n, th := 3, 2
	e := &confElection{issuer: issuer, rnd: rnd}
	var hexKeys []string
	for range n {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(rnd, seed); err != nil {
			t.Fatal(err)
		}
		k := ed25519.NewKeyFromSeed(seed)
		e.keys = append(e.keys, k)
		hexKeys = append(hexKeys, hex.EncodeToString(k.Public().(ed25519.PublicKey)))
	}
	id, err := ballot.NewElectionID(rnd)
	if err != nil {
		t.Fatal(err)
	}
	if o.revoting == "" {
		o.revoting = ballot.RevotingRefuse
	}
	m, err := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Conformance: " + label, Questions: o.questions,
		Trustees:  ballot.Trustees{N: n, T: th, Keys: hexKeys},
		IssuerKey: issuer.Public().Bytes(), Revoting: o.revoting,
		Opens: "2025-06-01T08:00:00Z", Closes: "2025-06-01T18:00:00Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	ls := [][]byte{store.Leaf(store.Manifest, m.Bytes())}
	var trs []*dkg.Trustee
	var anns []*dkg.Announcement
	var deals []*dkg.Deal
	for i := 1; i <= n; i++ {
		tr, a, err := dkg.NewTrustee(rnd, i, n, th)
		if err != nil {
			t.Fatal(err)
		}
		trs, anns = append(trs, tr), append(anns, a)
		ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.keys[i-1], record.KindAnnouncement, a.Marshal())))
	}
	for i, tr := range trs {
		d, err := tr.Deal(rnd, record.CeremonyContext(m), anns)
		if err != nil {
			t.Fatal(err)
		}
		deals = append(deals, d)
		ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.keys[i], record.KindDeal, d.Marshal())))
	}
	var cs []*dkg.Complaint
	var as []*dkg.Answer
	if o.disqualify {
		for _, j := range []int{1, 2} {
			c := &dkg.Complaint{Accuser: j, Accused: 3, Reason: dkg.ReasonMismatch}
			cs = append(cs, c)
			ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.keys[j-1], record.KindComplaint, c.Marshal())))
		}
		wrong, err := elgamal.RandomScalar(rnd)
		if err != nil {
			t.Fatal(err)
		}
		a := &dkg.Answer{Dealer: 3, Recipient: 1, Share: wrong}
		as = append(as, a)
		ls = append(ls, store.Leaf(store.Ceremony, record.Sign(m, e.keys[2], record.KindAnswer, a.Marshal())))
	}
	cer := record.NewCeremony(m)
	for _, l := range ls[1:] {
		if err := cer.Add(l[1:]); err != nil {
			t.Fatal(err)
		}
	}
	open, err := cer.Qualify()
	if err != nil {
		t.Fatal(err)
	}
	e.prefix = append(ls, store.Leaf(store.Open, open.Bytes()))
	e.el = &ballot.Election{Manifest: m, Key: open.Key}
	for _, tr := range trs {
		_, ks, err := tr.Finalize(anns, deals, cs, as)
		if err != nil {
			t.Fatal(err)
		}
		e.shares = append(e.shares, ks)
	}
	return e
}

// reseed gives the election's later randomness its own stream, so that
// one case's draws do not shift another's.
func (e *confElection) reseed(label string) { e.rnd = confRand("election " + e.m.Title + " " + label) }

// openAt is the index of the open entry.
func (e *confElection) openAt() int { return len(e.prefix) - 1 }

// voter makes a token key and has the issuer sign it.
func (e *confElection) voter(t testing.TB) *confVoter {
	t.Helper()
	x, pk, err := ballot.GenerateTokenKey(e.rnd)
	if err != nil {
		t.Fatal(err)
	}
	return e.retoken(t, &confVoter{secret: x, key: pk})
}

// retoken returns v with a new token for its token key: an issuer that
// signs one key twice.
func (e *confElection) retoken(t testing.TB, v *confVoter) *confVoter {
	t.Helper()
	blinded, st, err := token.Blind(e.rnd, e.m.Issuer(), e.m.ID(), v.key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := e.issuer.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		t.Fatal(err)
	}
	return &confVoter{secret: v.secret, key: v.key, token: tok}
}

// ballot is the leaf of v's ballot; rnd, if not nil, is its randomness.
func (e *confElection) ballot(t testing.TB, v *confVoter, rnd io.Reader, sel ...[]int) []byte {
	t.Helper()
	if rnd == nil {
		rnd = e.rnd
	}
	b, err := ballot.Encrypt(rnd, e.el, v.secret, v.key, v.token, sel)
	if err != nil {
		t.Fatal(err)
	}
	return store.Leaf(store.Ballot, b.Bytes())
}

// aggregate is the aggregate of the given ballot leaves.
func (e *confElection) aggregate(t testing.TB, ballots ...[]byte) *tally.Aggregate {
	t.Helper()
	ag := tally.NewAggregator(e.el)
	for _, l := range ballots {
		b, err := ballot.Parse(e.el, l[1:])
		if err != nil {
			t.Fatal(err)
		}
		ag.Add(b)
	}
	return ag.Aggregate()
}

// partial is trustee i's partial entry for agg, with n counted ballots in
// the proofs' context (agg.Ballots, unless a test wants a proof for
// another aggregate). The context is SPEC.md §9's tally ctx.
func (e *confElection) partial(t testing.TB, agg *tally.Aggregate, i int, n uint64) []byte {
	t.Helper()
	h := e.m.Hash()
	var ctxs [][]byte
	var cts []*elgamal.Ciphertext
	for qi, q := range agg.Questions {
		for ci, ct := range q {
			ctx := append([]byte("evote/tally/v1\x00"), h[:]...)
			ctx = append(ctx, e.el.Key.Bytes()...)
			ctx = binary.BigEndian.AppendUint64(ctx, n)
			ctx = binary.BigEndian.AppendUint32(ctx, uint32(qi))
			ctx = binary.BigEndian.AppendUint32(ctx, uint32(ci))
			ctxs, cts = append(ctxs, ctx), append(cts, ct)
		}
	}
	ks := e.shares[i-1]
	ps, err := threshold.PartialDecryptBatch(e.rnd, ctxs, i, ks.Secret, ks.VerificationKey, cts)
	if err != nil {
		t.Fatal(err)
	}
	return store.Leaf(store.Partial, (&tally.Partial{Trustee: i, Partials: ps}).Bytes())
}

// tally returns the partial entries of the given trustees, in that order,
// and the result entry they make.
func (e *confElection) tally(t testing.TB, agg *tally.Aggregate, trustees ...int) ([][]byte, []byte, *tally.Result) {
	t.Helper()
	var ls [][]byte
	var shares []*tally.Partial
	for _, i := range trustees {
		l := e.partial(t, agg, i, agg.Ballots)
		s, err := tally.ParsePartial(e.el, l[1:])
		if err != nil {
			t.Fatal(err)
		}
		ls, shares = append(ls, l), append(shares, s)
	}
	res, err := tally.Combine(e.el, agg, shares)
	if err != nil {
		t.Fatal(err)
	}
	return ls, store.Leaf(store.Result, res.Bytes()), res
}

// firstScalarReader yields s (as 64 uniform bytes that reduce to it)
// first, then rnd: ballot.Encrypt draws the randomness of the first
// question's first ciphertext first.
type firstScalarReader struct {
	pending []byte
	rnd     io.Reader
}

func (f *firstScalarReader) Read(p []byte) (int, error) {
	if len(f.pending) > 0 {
		n := copy(p, f.pending)
		f.pending = f.pending[n:]
		return n, nil
	}
	return f.rnd.Read(p)
}

func concat(parts ...[][]byte) [][]byte {
	var out [][]byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(leaf []byte) [][]byte { return [][]byte{leaf} }

// conformanceCorpus builds every case: its cases.json line and its file.
func conformanceCorpus(t *testing.T) ([]confCase, map[string][]byte) {
	issuer := confIssuer(t)
	var cases []confCase
	files := map[string][]byte{}
	add := func(c confCase, rec []byte) {
		t.Helper()
		if _, dup := files[c.File]; dup {
			t.Fatalf("two cases named %s", c.File)
		}
		c.BoardKey = testVerifierKey
		files[c.File] = rec
		cases = append(cases, c)
	}
	valid := func(file string, ls [][]byte, res *tally.Result, what, spec string) {
		add(confCase{File: file, Expect: expectComplete, Result: res, What: what, Spec: spec}, resign(t, ls))
	}
	invalidRec := func(file string, rec []byte, check string, entry int64, msg, what, spec string) {
		add(confCase{File: file, Expect: expectInvalid, Check: check, Entry: &entry, Message: msg, What: what, Spec: spec}, rec)
	}
	invalid := func(file string, ls [][]byte, check string, entry int, msg, what, spec string) {
		invalidRec(file, resign(t, ls), check, int64(entry), msg, what, spec)
	}
	closeLeaf := store.Leaf(store.Close, []byte(confClose))

	// A: two questions, four ballots, partials of trustees 3 and 1, the
	// result, and trustee 2's late partial after it.
	{
		e := newConfElection(t, issuer, "complete", confOptions{questions: []ballot.Question{confYesNo, confBoard}})
		var bs [][]byte
		for _, sel := range [][][]int{{{0}, {0, 2}}, {{1}, {1}}, {{0}, {2}}, {{0}, {2}}} {
			bs = append(bs, e.ballot(t, e.voter(t), nil, sel...))
		}
		agg := e.aggregate(t, bs...)
		ps, res, r := e.tally(t, agg, 3, 1)
		late := e.partial(t, agg, 2, agg.Ballots)
		valid("valid-complete.record", concat(e.prefix, bs, one(closeLeaf), ps, one(res), one(late)), r,
			"2-of-3, a yes/no question (one ciphertext, implied second choice) and a pick-1-or-2-of-3 question (three ciphertexts and a range proof over {1, 2}), four ballots; partials of trustees 3 then 1, so the result names [3,1] (record order, not sorted); trustee 2's partial after the result",
			"§6, §8, §9")
	}

	// S: the small election every invalid record but a few alters: one
	// yes/no question, ballots yes, no, yes (entries 8-10), close (11),
	// partials of trustees 2 then 1 (12, 13), result [[2,1]] by [2,1] (14).
	s := newConfElection(t, issuer, "small", confOptions{questions: []ballot.Question{confYesNo}})
	var sv []*confVoter
	var sb [][]byte
	for _, p := range []int{0, 1, 0} {
		v := s.voter(t)
		sv, sb = append(sv, v), append(sb, s.ballot(t, v, nil, []int{p}))
	}
	sAgg := s.aggregate(t, sb...)
	sPs, sRes, sR := s.tally(t, sAgg, 2, 1)
	small := concat(s.prefix, sb, one(closeLeaf), sPs, one(sRes))
	valid("valid-small.record", small, sR,
		"2-of-3, one yes/no question, ballots yes, no, yes (entries 8-10), close (11), partials of trustees 2 then 1 (12, 13), result (14): the record the invalid records alter, one fault each (all but invalid-open-disqualified-order, invalid-replay and invalid-two-tokens, which alter valid-disqualified and valid-revote)",
		"§8, §9")
	closeAt, resAt := s.openAt()+len(sb)+1, len(small)-1

	// I: two ballots whose first ciphertexts use r and −r.
	{
		e := newConfElection(t, issuer, "identity", confOptions{questions: []ballot.Question{confYesNo, confUpToTwo}})
		r, err := elgamal.RandomScalar(e.rnd)
		if err != nil {
			t.Fatal(err)
		}
		var bs [][]byte
		for _, c := range []struct {
			r   *ristretto255.Scalar
			sel [][]int
		}{{r, [][]int{{0}, {0, 2}}}, {ristretto255.NewScalar().Negate(r), [][]int{{1}, {2}}}} {
			rnd := &firstScalarReader{pending: append(c.r.Bytes(), make([]byte, 32)...), rnd: e.rnd}
			bs = append(bs, e.ballot(t, e.voter(t), rnd, c.sel...))
		}
		agg := e.aggregate(t, bs...)
		if agg.Questions[0][0].A().Equal(ristretto255.NewIdentityElement()) != 1 {
			t.Fatal("identity: the aggregate's first A is not the identity")
		}
		ps, res, rr := e.tally(t, agg, 2, 1)
		valid("valid-identity-aggregate.record", concat(e.prefix, bs, one(closeLeaf), ps, one(res)), rr,
			"two ballots encrypt their yes/no answer with randomness r and −r: the first aggregate's A is the identity, so every partial holds the trivial partial (index and 128 zero bytes) for it and proved partials for the other three",
			"§2, §9")
	}

	// E: no ballot; close; the result of no trustee.
	{
		e := newConfElection(t, issuer, "empty", confOptions{questions: []ballot.Question{confYesNo}})
		agg := e.aggregate(t)
		_, res, rr := e.tally(t, agg)
		valid("valid-empty.record", concat(e.prefix, one(closeLeaf), one(res)), rr,
			`no ballot: the close entry then the result {"ballots":0,"counts":[[0,0]],"trustees":[]}, with no partial entry`,
			"§9")
	}

	// D: trustee 3 disqualified, then a whole election.
	{
		e := newConfElection(t, issuer, "disqualified", confOptions{questions: []ballot.Question{confYesNo}, disqualify: true})
		body := string(e.prefix[e.openAt()][1:])
		want := `"qualified":[1,2],"disqualified":[{"trustee":3,"reason":"complaints-unanswered","accusers":[2]},{"trustee":3,"reason":"bad-answer","accusers":[1]}]}`
		if !strings.HasSuffix(body, want) {
			t.Fatalf("disqualified: open entry %s", body)
		}
		bs := [][]byte{e.ballot(t, e.voter(t), nil, []int{1}), e.ballot(t, e.voter(t), nil, []int{1})}
		agg := e.aggregate(t, bs...)
		ps, res, rr := e.tally(t, agg, 3, 2)
		ls := concat(e.prefix, bs, one(closeLeaf), ps, one(res))
		valid("valid-disqualified.record", ls, rr,
			"trustees 1 and 2 complain about trustee 3's deal (entries 7, 8), trustee 3 answers 1 with a wrong share (9) and 2 not at all: the open entry (10) qualifies [1,2] and disqualifies 3 for complaints-unanswered [2] then bad-answer [1]; trustee 3, disqualified, still decrypts (partials of 3 then 2)",
			"§7, §9")
		bad := slices.Clone(ls)
		swapped := strings.Replace(body, `{"trustee":3,"reason":"complaints-unanswered","accusers":[2]},{"trustee":3,"reason":"bad-answer","accusers":[1]}`,
			`{"trustee":3,"reason":"bad-answer","accusers":[1]},{"trustee":3,"reason":"complaints-unanswered","accusers":[2]}`, 1)
		bad[e.openAt()] = store.Leaf(store.Open, []byte(swapped))
		invalid("invalid-open-disqualified-order.record", bad, verify.CheckOpen, e.openAt(),
			"disqualifications [trustee 3 bad-answer [1]; trustee 3 complaints-unanswered [2]], the ceremony gives",
			"valid-disqualified.record with the open entry's two faults of trustee 3 in the other order (bad-answer before complaints-unanswered; the table's order is the other)",
			"§7")
	}

	// Incomplete: S through the close entry and both partials.
	add(confCase{File: "incomplete-closed.record", Expect: expectIncomplete, Check: verify.CheckComplete, Entry: ptr(int64(-1)),
		Message: "no result entry: the election is closed but not tallied (2 valid partial decryptions, the result needs 2)",
		What:    "valid-small.record without its result entry: closed, with t partial entries but no result; refused as incomplete, accepted with --allow-incomplete",
		Spec:    "§8"}, resign(t, small[:resAt]))

	// Invalid records from S, each one fault, re-signed by the board key.
	{
		s.reseed("invalid-ballot-proof")
		bad := slices.Clone(sb)
		bad[1] = bytes.Clone(bad[1])
		// The ballot body: version, election ID, T, token (32 + 256),
		// the ciphertext (64), then the 0/1 proof a0 b0 a1 b1 c0 c1 z0 z1:
		// flip the low bit of z0 (little-endian, so still a scalar).
		z0 := 1 + (1 + 32 + 32 + 32 + 256 + 64 + 4*32 + 2*32)
		bad[1][z0] ^= 1
		agg := s.aggregate(t, sb[0], sb[2])
		ps, res, _ := s.tally(t, agg, 2, 1)
		invalid("invalid-ballot-proof.record", concat(s.prefix, bad, one(closeLeaf), ps, one(res)), verify.CheckBallot, s.openAt()+2,
			"a proof or the signature does not verify",
			"the second ballot's first 0/1 proof with the low bit of z_0 flipped (still a canonical scalar); the tally is of the other two",
			"§3.4, §6")
	}
	{
		s.reseed("invalid-ballot-after-close")
		late := s.ballot(t, s.voter(t), nil, []int{1})
		invalid("invalid-ballot-after-close.record", concat(s.prefix, sb, one(closeLeaf), one(late), sPs, one(sRes)), verify.CheckBallot, closeAt+1,
			"a ballot after the close entry",
			"a valid ballot of a fourth voter right after the close entry",
			"§8, §10 step 4")
	}
	{
		s.reseed("invalid-double-vote")
		again := s.ballot(t, sv[0], nil, []int{1})
		bs := concat(sb, one(again))
		agg := s.aggregate(t, bs...)
		ps, res, _ := s.tally(t, agg, 2, 1)
		invalid("invalid-double-vote.record", concat(s.prefix, bs, one(closeLeaf), ps, one(res)), verify.CheckTokens, s.openAt()+4,
			"a second ballot for the token of entry 8",
			"under refuse, the first voter's second ballot (valid alone, same token) after the others; the tally counts all four (as evote aggregates every valid ballot)",
			"§8, §10 step 4")
	}
	// R: last-ballot-counts: A yes (8), B yes (9), A's revote no (10).
	{
		e := newConfElection(t, issuer, "revote", confOptions{questions: []ballot.Question{confYesNo}, revoting: ballot.RevotingLastCounts})
		a, b := e.voter(t), e.voter(t)
		bs := [][]byte{e.ballot(t, a, nil, []int{0}), e.ballot(t, b, nil, []int{0}), e.ballot(t, a, nil, []int{1})}
		agg := e.aggregate(t, bs[1], bs[2])
		ps, res, rr := e.tally(t, agg, 1, 3)
		at := e.openAt()
		valid("valid-revote.record", concat(e.prefix, bs, one(closeLeaf), ps, one(res)), rr,
			"last-ballot-counts: voter A yes, voter B yes, A's revote no; A's first ballot does not count, result [[1,1]]",
			"§8 Counting")
		invalid("invalid-replay.record", concat(e.prefix, bs, one(bs[0]), one(closeLeaf), ps, one(res)), verify.CheckTokens, at+4,
			fmt.Sprintf("a copy of the ballot of entry %d", at+1),
			"valid-revote.record with A's first ballot posted again, byte for byte, after the revote (a coercer's replay)",
			"§8 Counting, §10 step 4")
		e.reseed("invalid-two-tokens")
		a2 := e.retoken(t, a)
		bs2 := [][]byte{bs[0], bs[1], e.ballot(t, a2, nil, []int{1})}
		agg2 := e.aggregate(t, bs2[1], bs2[2])
		ps2, res2, _ := e.tally(t, agg2, 1, 3)
		invalid("invalid-two-tokens.record", concat(e.prefix, bs2, one(closeLeaf), ps2, one(res2)), verify.CheckTokens, at+3,
			fmt.Sprintf("a ballot for the token key of entry %d with another eligibility token", at+1),
			"as valid-revote.record, but A's revote carries a second token the issuer made for A's token key",
			"§5, §8 Counting, §10 step 4")
	}
	{
		bad := slices.Clone(small)
		s.reseed("invalid-open-other-key")
		_, other, err := elgamal.GenerateKey(s.rnd)
		if err != nil {
			t.Fatal(err)
		}
		var ob map[string]json.RawMessage
		if err := json.Unmarshal(bad[s.openAt()][1:], &ob); err != nil {
			t.Fatal(err)
		}
		body := bytes.Replace(bad[s.openAt()][1:], ob["election_key"][1:len(ob["election_key"])-1], []byte(hex.EncodeToString(other.Bytes())), 1)
		bad[s.openAt()] = store.Leaf(store.Open, body)
		invalid("invalid-open-other-key.record", bad, verify.CheckOpen, s.openAt(),
			"not what the ceremony messages in entries 1-6 decide: election key",
			"the open entry's election key replaced by another valid element (a board that wants to decrypt ballots itself); the rest unchanged",
			"§7, §10 step 3")
	}
	result := func(file, body, msg, what, spec string) {
		bad := slices.Clone(small)
		bad[resAt] = store.Leaf(store.Result, []byte(body))
		invalid(file, bad, verify.CheckResult, resAt, msg, what, spec)
	}
	if got := string(sRes[1:]); got != `{"ballots":3,"counts":[[2,1]],"trustees":[2,1]}` {
		t.Fatalf("small: result %s", got)
	}
	result("invalid-result-counts.record", `{"ballots":3,"counts":[[1,2]],"trustees":[2,1]}`,
		"the posted counts [[1 2]] are not what the partial decryptions of trustees [2 1] combine to: [[2 1]]",
		"a vote moved from yes to no in the result entry", "§9, §10 step 8")
	result("invalid-result-trustees-order.record", `{"ballots":3,"counts":[[2,1]],"trustees":[1,2]}`,
		"names trustees [1 2], but the result is made by the first 2 partial decryptions in record order, trustees [2 1]'s",
		"the right counts, but the trustees sorted [1,2] instead of in record order [2,1]", "§9, §10 step 8")
	result("invalid-result-spaces.record", `{"ballots": 3, "counts": [[2, 1]], "trustees": [2, 1]}`,
		"the result is not in its canonical encoding",
		"the right result with spaces after the colons and commas (valid JSON, not the canonical encoding)", "§4, §9, §10 step 8")
	{
		s.reseed("invalid-partial-bad-proof")
		other := *sAgg
		other.Ballots++
		late := s.partial(t, sAgg, 3, other.Ballots)
		invalid("invalid-partial-bad-proof.record", concat(small, one(late)), verify.CheckPartial, resAt+1,
			"partial decryption does not verify (wrong share, key, ciphertext or context)",
			"trustee 3's partial after the result, its D right but its DLEQ proof made for a tally ctx with N = 4 (another aggregate)",
			"§3.3, §9, §10 step 7")
	}
	{
		trivial := append([]byte{3, 3}, make([]byte, threshold.PartialSize-1)...)
		invalid("invalid-partial-trivial.record", concat(small, one(store.Leaf(store.Partial, trivial))), verify.CheckPartial, resAt+1,
			"the trivial partial (D = identity, no proof) for a ciphertext whose A is not the identity",
			"trustee 3's partial after the result as the trivial partial (index and 128 zero bytes), where the aggregate's A is not the identity and a proof is due",
			"§9, §10 step 7")
	}
	manifest := func(file string, edit func(string) string, msg, what string) {
		m := string(small[0][1:])
		e := edit(m)
		if e == m {
			t.Fatalf("%s: the edit changes nothing", file)
		}
		bad := slices.Clone(small)
		bad[0] = store.Leaf(store.Manifest, []byte(e))
		invalid(file, bad, verify.CheckManifest, 0, msg, what, "§4")
	}
	manifest("invalid-manifest-duplicate-key.record", func(m string) string {
		return strings.Replace(m, `"revoting": "refuse"`, `"revoting": "last-ballot-counts",`+"\n  "+`"revoting": "refuse"`, 1)
	}, `field "revoting" appears twice`,
		`the manifest with "revoting" twice, "last-ballot-counts" then "refuse" (readers differ on which counts)`)
	manifest("invalid-manifest-small-order-key.record", func(m string) string {
		k := hex.EncodeToString(s.keys[0].Public().(ed25519.PublicKey))
		return strings.Replace(m, k, "0100000000000000000000000000000000000000000000000000000000000000", 1)
	}, "key 1 is refused: it is a point of small order",
		"the manifest with trustee 1's key replaced by 01 00…00, the identity point (small order: anyone can sign under it)")
	{
		bad := slices.Clone(small)
		bad[closeAt] = store.Leaf(store.Close, []byte(`{"closed":"2025-06-01T8:00:00Z"}`))
		invalid("invalid-close-time.record", bad, verify.CheckClose, closeAt,
			`the close time "2025-06-01T8:00:00Z" is not of the form`,
			"the close entry's time with a one-digit hour (which Go's time.Parse with RFC 3339 would read)",
			"§4 Times, §8")
	}
	{
		rec := resign(t, small)
		// The signature line ends in the base64 of 68 bytes: its last
		// character before "=" carries 4 bits and 2 unused bits, which
		// must be zero. Set the lowest.
		end := bytes.LastIndex(rec, []byte("=\n"))
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		k := -1
		if end > 2 {
			k = strings.IndexByte(alphabet, rec[end-1])
		}
		if k < 0 || k&3 != 0 || rec[end-2] == '=' {
			t.Fatal("checkpoint: the signature line does not end as expected")
		}
		rec = bytes.Clone(rec)
		rec[end-1] = alphabet[k|1]
		invalidRec("invalid-checkpoint-signature.record", rec, verify.CheckCheckpoint, -1,
			"signature line is not in canonical form",
			"valid-small.record with an unused bit of the checkpoint's signature base64 set (a lenient decoder reads the same signature)",
			"store/SPEC.md Checkpoints")
	}
	{
		rec := resign(t, small)
		starts, _ := frames(rec)
		cut := starts[9] + 4 + len(small[9])/2
		invalidRec("invalid-truncated.record", rec[:cut], verify.CheckFormat, 9,
			"truncated",
			"valid-small.record cut in the middle of entry 9 (a ballot)",
			"store/SPEC.md Export file")
	}

	// Valid records first, then the incomplete one, then the invalid ones.
	rank := map[string]int{expectComplete: 0, expectIncomplete: 1, expectInvalid: 2}
	slices.SortStableFunc(cases, func(a, b confCase) int { return rank[a.Expect] - rank[b.Expect] })
	return cases, files
}

func ptr[T any](v T) *T { return &v }

// TestConformanceTable: the table of SPEC.md §13 lists every case of
// cases.json, in its order, with its outcome and sections.
func TestConformanceTable(t *testing.T) {
	spec, err := os.ReadFile("../SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(spec), "\n## 13. Conformance\n")
	if !ok {
		t.Fatal("SPEC.md has no section 13. Conformance")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	raw, err := os.ReadFile(filepath.Join(conformanceDir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cf confFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for _, line := range strings.Split(sec, "\n") {
		if strings.HasPrefix(line, "| `") && strings.Contains(line, ".record` |") {
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			for k := range cells {
				cells[k] = strings.TrimSpace(cells[k])
			}
			rows = append(rows, cells)
		}
	}
	if len(rows) != len(cf.Cases) {
		t.Fatalf("SPEC.md §13 lists %d records, cases.json %d", len(rows), len(cf.Cases))
	}
	compact := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	for k, c := range cf.Cases {
		var want string
		switch c.Expect {
		case expectComplete:
			want = fmt.Sprintf("complete: `%s` by `%s`", compact(c.Result.Counts), compact(c.Result.Trustees))
		case expectIncomplete:
			want = fmt.Sprintf("incomplete (`%s`, −1)", c.Check)
		default:
			want = fmt.Sprintf("`%s`, %s", c.Check, strings.Replace(fmt.Sprint(*c.Entry), "-", "−", 1))
		}
		if row := rows[k]; len(row) != 4 || row[0] != "`"+c.File+"`" || row[1] != want || row[3] != c.Spec {
			t.Errorf("SPEC.md §13 row %d is %q; cases.json says %s, %s, %s", k+1, row, c.File, want, c.Spec)
		}
	}
}
