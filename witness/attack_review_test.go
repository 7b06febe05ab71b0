package witness_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/store"
	"github.com/evote/evote/witness"
	"github.com/evote/evote/witness/httpwitness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// atree is an RFC 6962 tree in memory.
type atree struct {
	hashes []tlog.Hash
	n      int64
}

func (t *atree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *atree) grow(tb testing.TB, to int64, prefix string) *atree {
	tb.Helper()
	for n := t.n; n < to; n++ {
		hs, err := tlog.StoredHashes(n, []byte(fmt.Sprintf("%s%d", prefix, n)), t)
		if err != nil {
			tb.Fatal(err)
		}
		t.hashes = append(t.hashes, hs...)
		t.n++
	}
	return t
}

func (t *atree) clone() *atree { return &atree{hashes: append([]tlog.Hash(nil), t.hashes...), n: t.n} }

func (t *atree) root(tb testing.TB) tlog.Hash {
	h, err := tlog.TreeHash(t.n, t)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func (t *atree) cp(tb testing.TB, s note.Signer) *store.Checkpoint {
	tb.Helper()
	cp, err := store.SignCheckpoint(s, uint64(t.n), t.root(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

func (t *atree) proof(tb testing.TB, old int64) tlog.TreeProof {
	tb.Helper()
	if old == 0 || old == t.n {
		return nil
	}
	p, err := tlog.ProveTree(t.n, old, t)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func noteKey(tb testing.TB, name string) (note.Signer, note.Verifier) {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return s, v
}

func witnessKey(tb testing.TB, name string) (*witness.Signer, *witness.Verifier) {
	tb.Helper()
	skey, vkey, err := witness.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := witness.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := witness.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return s.(*witness.Signer), v.(*witness.Verifier)
}

// aw is one witness server with its state directory.
type aw struct {
	dir    string
	signer *witness.Signer
	v      *witness.Verifier
	logs   []note.Verifier
	w      *httpwitness.Witness
	srv    *httptest.Server
}

func newAW(t *testing.T, name string, logs ...note.Verifier) *aw {
	t.Helper()
	a := &aw{dir: t.TempDir(), logs: logs}
	a.signer, a.v = witnessKey(t, name)
	a.start(t)
	return a
}

func (a *aw) start(t *testing.T) {
	t.Helper()
	w, err := httpwitness.Open(a.dir, a.signer, a.logs)
	if err != nil {
		t.Fatal(err)
	}
	a.w = w
	a.srv = httptest.NewServer(w.Handler(httpwitness.HandlerConfig{}))
	t.Cleanup(a.stop)
}

func (a *aw) stop() {
	if a.srv != nil {
		a.srv.Close()
		a.w.Close()
		a.srv = nil
	}
}

func (a *aw) add(t *testing.T, old int64, tr *atree, s note.Signer) ([]byte, *store.Checkpoint, error) {
	t.Helper()
	cp := tr.cp(t, s)
	lines, err := httpwitness.AddCheckpoint(context.Background(), a.srv.URL, a.srv.Client(), uint64(old), tr.proof(t, old), cp.Signed)
	return lines, cp, err
}

func (a *aw) mustAdd(t *testing.T, old int64, tr *atree, s note.Signer) []byte {
	t.Helper()
	lines, _, err := a.add(t, old, tr, s)
	if err != nil {
		t.Fatalf("%s: add-checkpoint %d -> %d: %v", a.v.Name(), old, tr.n, err)
	}
	return lines
}

type wstate struct {
	size   uint64
	hash   tlog.Hash
	signed []byte
	ok     bool
}

func (a *aw) state(t *testing.T, origin string) wstate {
	t.Helper()
	n, h, s, ok, err := a.w.Latest(origin)
	if err != nil {
		t.Fatal(err)
	}
	return wstate{n, h, s, ok}
}

func (a *aw) wantState(t *testing.T, origin string, want wstate) {
	t.Helper()
	got := a.state(t, origin)
	if got.size != want.size || got.hash != want.hash || got.ok != want.ok || !bytes.Equal(got.signed, want.signed) {
		t.Fatalf("%s: the witness's state for %q changed: was size %d %v, now size %d %v", a.v.Name(), origin, want.size, want.hash, got.size, got.hash)
	}
}

func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	if code == http.StatusConflict {
		if !errors.Is(err, httpwitness.ErrConflict) {
			t.Fatalf("got %v, want a 409", err)
		}
		return
	}
	var se *httpwitness.StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("got %v, want status %d", err, code)
	}
}

func verifiers(ws ...*aw) []note.Verifier {
	var out []note.Verifier
	for _, w := range ws {
		out = append(out, w.v)
	}
	return out
}

func cosigned(cp *store.Checkpoint, lines ...[]byte) []byte {
	out := bytes.Clone(cp.Signed)
	for _, l := range lines {
		out = append(out, l...)
	}
	return out
}

// TestAttackForkQuorumTwoOfThree: n = 3, q = 2. The board gets history A
// cosigned by w1 and w2, then shows a fork B (same size, and a longer one)
// to every witness: w1 and w2 refuse it (409 for the same size with
// another root, 422 for a proof from A's size), and only w3, which has
// seen nothing, cosigns. B never reaches the quorum, not even with A's
// cosignature lines copied onto it, and w1's and w2's state stays A's.
func TestAttackForkQuorumTwoOfThree(t *testing.T) {
	bs, bv := noteKey(t, "board.example/fork")
	w1, w2, w3 := newAW(t, "w1.example", bv), newAW(t, "w2.example", bv), newAW(t, "w3.example", bv)
	all := verifiers(w1, w2, w3)
	origin := bv.Name()

	base := (&atree{}).grow(t, 4, "common")
	w1.mustAdd(t, 0, base, bs)
	w2.mustAdd(t, 0, base, bs)
	a := base.clone().grow(t, 8, "A")
	l1 := w1.mustAdd(t, 4, a, bs)
	l2 := w2.mustAdd(t, 4, a, bs)
	acp := a.cp(t, bs)
	if _, err := store.OpenCosigned(cosigned(acp, l1, l2), bv, all, 2); err != nil {
		t.Fatalf("history A: %v", err)
	}
	s1, s2 := w1.state(t, origin), w2.state(t, origin)

	// Fork B: the common prefix, then other entries, at A's size and beyond.
	b := base.clone().grow(t, 8, "B")
	for _, w := range []*aw{w1, w2} {
		_, _, err := w.add(t, 8, b, bs) // same size, other root: the log forked
		wantCode(t, err, http.StatusConflict)
		_, _, err = w.add(t, 4, b, bs) // from the common prefix: w knows 8
		wantCode(t, err, http.StatusConflict)
		// From A's size with B's proof (which is of B's tree from 4).
		b12 := b.clone().grow(t, 12, "B")
		bcp := b12.cp(t, bs)
		_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 8, b12.proof(t, 8), bcp.Signed)
		wantCode(t, err, http.StatusUnprocessableEntity)
		// And with A's proof material but B's checkpoint.
		a12 := a.clone().grow(t, 12, "A")
		_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 8, a12.proof(t, 8), bcp.Signed)
		wantCode(t, err, http.StatusUnprocessableEntity)
	}
	w1.wantState(t, origin, s1)
	w2.wantState(t, origin, s2)

	l3 := w3.mustAdd(t, 0, b, bs)
	bcp := b.cp(t, bs)
	for _, lines := range [][][]byte{{l3}, {l3, l1}, {l3, l1, l2}, {l3, l3}} {
		_, err := store.OpenCosigned(cosigned(bcp, lines...), bv, all, 2)
		if !errors.Is(err, store.ErrNoQuorum) {
			t.Fatalf("fork B with %d lines: %v, want ErrNoQuorum", len(lines), err)
		}
	}
	w1.wantState(t, origin, s1)
	w2.wantState(t, origin, s2)
}

// TestAttackCopiedCosignatureLines: a line is counted only for the
// checkpoint, origin and key it was made for, and each witness once.
func TestAttackCopiedCosignatureLines(t *testing.T) {
	bs, bv := noteKey(t, "board.example/e1")
	os_, ov := noteKey(t, "board.example/e2") // another election's board
	w1, w2 := newAW(t, "w1.example", bv, ov), newAW(t, "w2.example", bv, ov)
	all := verifiers(w1, w2)

	tr := (&atree{}).grow(t, 5, "x")
	l1at5 := w1.mustAdd(t, 0, tr, bs)
	cp5 := tr.cp(t, bs)
	tr.grow(t, 6, "x")
	cp6 := tr.cp(t, bs)
	other := (&atree{}).grow(t, 6, "x") // the same entries, in the other election's log
	lOther := w2.mustAdd(t, 0, other, os_)

	cases := map[string][]byte{
		"a line from another size":          cosigned(cp6, l1at5),
		"a line from another origin":        cosigned(cp6, lOther),
		"one witness's line twice":          cosigned(cp5, l1at5, l1at5),
		"one witness at two times":          cosigned(cp5, l1at5, resign(t, w1.signer, cp5, time.Now().Add(time.Hour))),
		"a known name with another key":     cosigned(cp5, l1at5, foreignLine(t, "w2.example", cp5)),
		"a known name and key ID, bad sig":  cosigned(cp5, l1at5, badSigLine(t, w2.v, cp5)),
		"a known witness's line, renamed":   cosigned(cp5, l1at5, renamed(t, l1at5, "w2.example", w2.v.KeyHash())),
		"a line under the board's own name": cosigned(cp5, l1at5, renamed(t, l1at5, bv.Name(), w2.v.KeyHash())),
	}
	for name, signed := range cases {
		c, err := store.OpenCosigned(signed, bv, all, 2)
		if err == nil {
			t.Errorf("%s: quorum 2 reached by %v", name, c.Cosigners)
		}
	}
	// A manifest listing one witness key string twice still counts it once.
	if c, err := store.OpenCosigned(cosigned(cp5, l1at5), bv, []note.Verifier{w1.v, w1.v}, 2); err == nil {
		t.Errorf("one key listed twice reached quorum 2: %v", c.Cosigners)
	}
	// The witnesses' state is what they cosigned, untouched by any of this.
	if s := w1.state(t, bv.Name()); s.size != 5 {
		t.Errorf("w1 state %d", s.size)
	}
	if s := w2.state(t, bv.Name()); s.ok {
		t.Errorf("w2 cosigned %q, which it never saw", bv.Name())
	}
}

func resign(t *testing.T, s *witness.Signer, cp *store.Checkpoint, at time.Time) []byte {
	t.Helper()
	text := cp.Signed[:bytes.Index(cp.Signed, []byte("\n\n"))+1]
	sig, err := s.SignAt(at, text)
	if err != nil {
		t.Fatal(err)
	}
	return line(s.Name(), s.KeyHash(), sig)
}

func line(name string, hash uint32, sig []byte) []byte {
	raw := binary.BigEndian.AppendUint32(nil, hash)
	return []byte("— " + name + " " + base64.StdEncoding.EncodeToString(append(raw, sig...)) + "\n")
}

// foreignLine is a valid cosignature of cp by a new key named name.
func foreignLine(t *testing.T, name string, cp *store.Checkpoint) []byte {
	s, _ := witnessKey(t, name)
	return resign(t, s, cp, time.Now())
}

func badSigLine(t *testing.T, v *witness.Verifier, cp *store.Checkpoint) []byte {
	s, _ := witnessKey(t, "impostor.example")
	text := cp.Signed[:bytes.Index(cp.Signed, []byte("\n\n"))+1]
	sig, err := s.SignAt(time.Now(), text)
	if err != nil {
		t.Fatal(err)
	}
	return line(v.Name(), v.KeyHash(), sig)
}

// renamed is l's signature bytes under another name and key ID.
func renamed(t *testing.T, l []byte, name string, hash uint32) []byte {
	t.Helper()
	f := strings.Fields(strings.TrimPrefix(string(l), "— "))
	raw, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return line(name, hash, raw[4:])
}

// TestAttackCheckpointNoteShapes: extra body lines, a second board line,
// an unparseable line and a non-canonical board line are refused by both
// readers of a cosigned checkpoint.
func TestAttackCheckpointNoteShapes(t *testing.T) {
	bs, bv := noteKey(t, "board.example/shape")
	w1 := newAW(t, "w1.example", bv)
	tr := (&atree{}).grow(t, 3, "s")
	l1 := w1.mustAdd(t, 0, tr, bs)
	cp := tr.cp(t, bs)
	text := string(cp.Signed[:bytes.Index(cp.Signed, []byte("\n\n"))+1])
	boardLine := string(cp.Signed[len(text)+1:])

	// The board signs a body with an extension line; a witness cosigns it.
	ext, err := note.Sign(&note.Note{Text: text + "extra meaning\n"}, bs)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := noteKey(t, bv.Name())
	sec, err := note.Sign(&note.Note{Text: text}, bs, second)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"extension line":             append(ext, resign(t, w1.signer, &store.Checkpoint{Signed: ext}, time.Now())...),
		"a garbage line after":       []byte(string(cp.Signed) + string(l1) + "— \n"),
		"no newline at the end":      bytes.TrimSuffix(cosigned(cp, l1), []byte("\n")),
		"a blank line among sigs":    []byte(string(cp.Signed) + "\n" + string(l1)),
		"non-canonical board base64": []byte(text + "\n" + strings.Replace(boardLine, "=\n", "\n", 1) + string(l1)),
	}
	for name, signed := range cases {
		if _, err := store.OpenCosigned(signed, bv, []note.Verifier{w1.v}, 1); err == nil {
			t.Errorf("%s: OpenCosigned accepted\n%s", name, signed)
		}
		if _, err := store.ParseCosignedCheckpoint(signed, bv); err == nil {
			t.Errorf("%s: ParseCosignedCheckpoint accepted\n%s", name, signed)
		}
	}
	if _, err := store.OpenCosigned(cosigned(cp, l1), bv, []note.Verifier{w1.v}, 1); err != nil {
		t.Fatalf("the honest note: %v", err)
	}
	// The board's line twice, or a second line under the board's name by
	// another key, adds nothing: the note still needs the quorum of
	// witnesses, and a second witness is not conjured from board lines.
	_, w2v := witnessKey(t, "w2.example")
	for name, signed := range map[string][]byte{
		"board's line twice":       []byte(text + "\n" + boardLine + boardLine + string(l1)),
		"a second board-name line": append(sec, l1...),
	} {
		if c, err := store.OpenCosigned(signed, bv, []note.Verifier{w1.v, w2v}, 2); err == nil {
			t.Errorf("%s: quorum 2 reached by %v", name, c.Cosigners)
		}
	}
}

// TestAttackWitnessServerRefusals: every malformed or hostile
// add-checkpoint is refused with the spec's status, and the witness's
// state does not move.
func TestAttackWitnessServerRefusals(t *testing.T) {
	bs, bv := noteKey(t, "board.example/srv")
	os_, ov := noteKey(t, "board.example/other-election")
	w := newAW(t, "w.example", bv)
	origin := bv.Name()
	tr := (&atree{}).grow(t, 10, "r")
	w.mustAdd(t, 0, tr, bs)
	before := w.state(t, origin)
	post := func(body string) int {
		resp, err := w.srv.Client().Post(w.srv.URL+"/add-checkpoint", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	next := tr.clone().grow(t, 20, "r")
	ncp := next.cp(t, bs)
	var proofText strings.Builder
	for _, h := range next.proof(t, 10) {
		proofText.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	// A proof that verifies, but against another tree (a fork from 10).
	fork := (&atree{}).grow(t, 20, "f")
	fcp := fork.cp(t, bs)
	_, err := httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 10, fork.proof(t, 10), fcp.Signed)
	wantCode(t, err, http.StatusUnprocessableEntity)
	// The right proof, another checkpoint.
	_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 10, next.proof(t, 10), fcp.Signed)
	wantCode(t, err, http.StatusUnprocessableEntity)
	// The right proof, sent from size 0 (as if the witness were new).
	_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 0, nil, ncp.Signed)
	wantCode(t, err, http.StatusConflict)
	// old > new.
	_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 21, nil, ncp.Signed)
	wantCode(t, err, http.StatusBadRequest)
	// A smaller checkpoint after a larger: 409 (the witness knows 10).
	small := (&atree{}).grow(t, 5, "r")
	_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 5, nil, small.cp(t, bs).Signed)
	wantCode(t, err, http.StatusConflict)
	// Size 0: signed by the board's key, a checkpoint of an empty log.
	empty, err := note.Sign(&note.Note{Text: origin + "\n0\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"}, bs)
	if err != nil {
		t.Fatal(err)
	}
	if c := post("old 0\n\n" + string(empty)); c != http.StatusBadRequest {
		t.Errorf("size 0: %d", c)
	}
	// 64 proof lines; a body over the limit; a non-canonical old.
	h := base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"
	if c := post("old 10\n" + strings.Repeat(h, 64) + "\n" + string(ncp.Signed)); c != http.StatusBadRequest {
		t.Errorf("64 proof lines: %d", c)
	}
	if c := post("old 10\n" + strings.Repeat(h, 3000) + "\n" + string(ncp.Signed)); c != http.StatusRequestEntityTooLarge && c != http.StatusBadRequest {
		t.Errorf("huge body: %d", c)
	}
	for _, old := range []string{"010", "+10", "10 ", "-0", "99999999999999999999"} {
		if c := post("old " + old + "\n" + proofText.String() + "\n" + string(ncp.Signed)); c != http.StatusBadRequest {
			t.Errorf("old %q: %d", old, c)
		}
	}
	// Another log's origin (the witness does not know it), and this
	// origin signed by a key the witness does not trust.
	_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 0, nil, next.cp(t, os_).Signed)
	wantCode(t, err, http.StatusNotFound)
	_ = ov
	impostor, _ := noteKey(t, origin)
	_, err = httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 10, next.proof(t, 10), next.cp(t, impostor).Signed)
	wantCode(t, err, http.StatusForbidden)
	// A checkpoint with an extension line that the board key signed: the
	// witness may cosign it, but no reader takes that cosignature for the
	// canonical checkpoint of the same tree.
	w.wantState(t, origin, before)
}

// TestAttackWitnessConcurrentForks: many requests race from the same old
// size, half for one history and half for another: one history wins, and
// every cosignature the witness gave is of that history.
func TestAttackWitnessConcurrentForks(t *testing.T) {
	bs, bv := noteKey(t, "board.example/race")
	w := newAW(t, "w.example", bv)
	base := (&atree{}).grow(t, 7, "c")
	w.mustAdd(t, 0, base, bs)
	var trees []*atree
	for i := range 16 {
		trees = append(trees, base.clone().grow(t, 9+int64(i%2), fmt.Sprintf("h%d-", i%2)))
	}
	var wg sync.WaitGroup
	ok := make([]bool, len(trees))
	for i, tr := range trees {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cp := tr.cp(t, bs)
			if _, err := httpwitness.AddCheckpoint(context.Background(), w.srv.URL, w.srv.Client(), 7, tr.proof(t, 7), cp.Signed); err == nil {
				ok[i] = true
			}
		}()
	}
	wg.Wait()
	won := -1
	for i := range ok {
		if ok[i] {
			if won >= 0 && trees[i].root(t) != trees[won].root(t) {
				t.Fatalf("the witness cosigned two histories from size 7: %d and %d", won, i)
			}
			won = i
		}
	}
	if won < 0 {
		t.Fatal("no request won")
	}
	s := w.state(t, bv.Name())
	if s.size != uint64(trees[won].n) || s.hash != trees[won].root(t) {
		t.Fatalf("state %d %v is not the winner's", s.size, s.hash)
	}
}

// TestAttackWitnessRestartAndStateFile: the state survives a restart (a
// fork of what was cosigned is still refused after it), another key
// cannot take the state directory over, and a state record cut short
// makes the witness refuse rather than start over from size 0.
func TestAttackWitnessRestartAndStateFile(t *testing.T) {
	bs, bv := noteKey(t, "board.example/restart")
	w := newAW(t, "w.example", bv)
	tr := (&atree{}).grow(t, 6, "a")
	w.mustAdd(t, 0, tr, bs)
	before := w.state(t, bv.Name())
	w.stop()
	w.start(t)
	w.wantState(t, bv.Name(), before)
	fork := (&atree{}).grow(t, 6, "b")
	_, _, err := w.add(t, 0, fork, bs)
	wantCode(t, err, http.StatusConflict)
	_, _, err = w.add(t, 6, fork, bs)
	wantCode(t, err, http.StatusConflict)
	w.wantState(t, bv.Name(), before)
	w.stop()

	other, _ := witnessKey(t, "w.example")
	if _, err := httpwitness.Open(w.dir, other, []note.Verifier{bv}); err == nil {
		t.Fatal("another witness key opened this witness's state")
	}
	w.start(t)
	w.wantState(t, bv.Name(), before)
}
