package httpwitness

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/store"
	"github.com/evote/evote/witness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tree is an RFC 6962 tree in memory, built with x/mod/sumdb/tlog.
type tree struct {
	hashes []tlog.Hash
	n      int64
}

func (t *tree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *tree) size() int64 { return t.n }

func (t *tree) grow(tb testing.TB, to int64, prefix string) {
	tb.Helper()
	for n := t.size(); n < to; n++ {
		hs, err := tlog.StoredHashes(n, []byte(fmt.Sprintf("%s%d", prefix, n)), t)
		if err != nil {
			tb.Fatal(err)
		}
		t.hashes = append(t.hashes, hs...)
		t.n++
	}
}

func (t *tree) clone() *tree { return &tree{hashes: append([]tlog.Hash(nil), t.hashes...), n: t.n} }

func (t *tree) checkpoint(tb testing.TB, s note.Signer) *store.Checkpoint {
	tb.Helper()
	h, err := tlog.TreeHash(t.size(), t)
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := store.SignCheckpoint(s, uint64(t.size()), h)
	if err != nil {
		tb.Fatal(err)
	}
	return cp
}

func (t *tree) proof(tb testing.TB, old int64) tlog.TreeProof {
	tb.Helper()
	if old == 0 {
		return nil
	}
	p, err := tlog.ProveTree(t.size(), old, t)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

type fixture struct {
	dir    string
	skey   string
	signer note.Signer
	wv     note.Verifier
	bs     note.Signer
	bv     note.Verifier
	w      *Witness
	url    string
	srv    *httptest.Server
}

func boardKey(t testing.TB, name string) (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, v
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	skey, vkey, err := witness.GenerateKey(rand.Reader, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	f.skey = skey
	f.signer, _ = witness.NewSigner(skey)
	f.wv, _ = witness.NewVerifier(vkey)
	f.bs, f.bv = boardKey(t, "board.example/election-1")
	f.start(t)
	return f
}

func (f *fixture) start(t *testing.T) {
	t.Helper()
	w, err := Open(f.dir, f.signer, []note.Verifier{f.bv})
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	f.srv = httptest.NewServer(w.Handler(HandlerConfig{})) // loopback only
	f.url = f.srv.URL
	t.Cleanup(f.stop)
}

func (f *fixture) stop() {
	if f.srv != nil {
		f.srv.Close()
		f.w.Close()
		f.srv = nil
	}
}

func (f *fixture) restart(t *testing.T) { f.stop(); f.start(t) }

func (f *fixture) add(t *testing.T, old int64, tr *tree) ([]byte, *store.Checkpoint, error) {
	t.Helper()
	cp := tr.checkpoint(t, f.bs)
	lines, err := AddCheckpoint(context.Background(), f.url, f.srv.Client(), uint64(old), tr.proof(t, old), cp.Signed)
	return lines, cp, err
}

func (f *fixture) mustAdd(t *testing.T, old int64, tr *tree) {
	t.Helper()
	lines, cp, err := f.add(t, old, tr)
	if err != nil {
		t.Fatalf("add-checkpoint %d -> %d: %v", old, tr.size(), err)
	}
	c, err := store.OpenCosigned(append(bytes.Clone(cp.Signed), lines...), f.bv, []note.Verifier{f.wv}, 1)
	if err != nil {
		t.Fatalf("cosignature of size %d: %v", tr.size(), err)
	}
	if c.Checkpoint.Size != uint64(tr.size()) || c.Cosigners[0] != "witness.example/w1" {
		t.Fatalf("cosigned %+v", c)
	}
}

func (f *fixture) latest(t *testing.T) (uint64, tlog.Hash) {
	t.Helper()
	n, h, _, _, err := f.w.Latest(f.bv.Name())
	if err != nil {
		t.Fatal(err)
	}
	return n, h
}

func wantStatus(t *testing.T, err error, code int) {
	t.Helper()
	var se *StatusError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("got %v, want status %d", err, code)
	}
}

func TestCosignGrowingLog(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	old := int64(0)
	for _, n := range []int64{1, 2, 3, 8, 13, 64, 65, 100} {
		tr.grow(t, n, "a")
		f.mustAdd(t, old, tr)
		old = n
	}
	// The same checkpoint again, old = its size: cosigned again.
	f.mustAdd(t, old, tr)
	if n, _ := f.latest(t); n != 100 {
		t.Fatalf("latest %d", n)
	}
}

func TestStaleOldSize(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	tr.grow(t, 5, "a")
	f.mustAdd(t, 0, tr)
	tr.grow(t, 9, "a")
	f.mustAdd(t, 5, tr)
	tr.grow(t, 12, "a")
	for _, old := range []int64{0, 5, 8} {
		_, _, err := f.add(t, old, tr)
		var ce *ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Size != 9 {
			t.Fatalf("old %d: %v, want 409 naming 9", old, err)
		}
	}
	// The caller retries from the size named.
	f.mustAdd(t, 9, tr)
}

func TestStateSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	tr.grow(t, 7, "a")
	f.mustAdd(t, 0, tr)
	n0, h0 := f.latest(t)
	f.restart(t)
	if n, h := f.latest(t); n != n0 || h != h0 {
		t.Fatalf("after restart %d %x, before %d %x", n, h, n0, h0)
	}
	tr.grow(t, 11, "a")
	if _, _, err := f.add(t, 0, tr); !errors.Is(err, ErrConflict) {
		t.Fatalf("restarted witness forgot its state: %v", err)
	}
	f.mustAdd(t, 7, tr)

	// The state belongs to its key.
	f.stop()
	other, _, _ := witness.GenerateKey(rand.Reader, "witness.example/w2")
	os, _ := witness.NewSigner(other)
	if _, err := Open(f.dir, os, []note.Verifier{f.bv}); err == nil {
		t.Fatal("state opened with another witness key")
	}
}

// TestAttackWitnessFork: a board that cosigned size N of one history shows
// the witness a fork (same origin, same board key, another history). The
// witness refuses it by every route, keeps its state, and keeps refusing
// after a restart.
func TestAttackWitnessFork(t *testing.T) {
	f := newFixture(t)
	honest := &tree{}
	honest.grow(t, 6, "a")
	fork := honest.clone()
	honest.grow(t, 10, "a")
	f.mustAdd(t, 0, honest)
	n0, h0 := f.latest(t)

	fork.grow(t, 10, "evil") // same size, another root
	check := func(when string) {
		t.Helper()
		// Same size as cosigned, other root: 409.
		if _, _, err := f.add(t, 10, fork); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: fork of the same size: %v, want 409", when, err)
		}
		// Old 0, as a new log: 409 naming 10.
		var ce *ConflictError
		if _, _, err := f.add(t, 0, fork); !errors.As(err, &ce) || ce.Size != 10 {
			t.Errorf("%s: fork from 0: %v, want 409 naming 10", when, err)
		}
		// A bigger fork with the fork's own proof from 10: 422.
		big := fork.clone()
		big.grow(t, 15, "evil")
		_, _, err := f.add(t, 10, big)
		wantStatus(t, err, http.StatusUnprocessableEntity)
		// The honest proof borrowed for the fork's checkpoint: 422.
		h2 := honest.clone()
		h2.grow(t, 15, "a")
		cp := big.checkpoint(t, f.bs)
		_, err = AddCheckpoint(context.Background(), f.url, f.srv.Client(), 10, h2.proof(t, 10), cp.Signed)
		wantStatus(t, err, http.StatusUnprocessableEntity)
		if n, h := f.latest(t); n != n0 || h != h0 {
			t.Fatalf("%s: state moved to %d %x", when, n, h)
		}
	}
	check("before restart")
	f.restart(t)
	check("after restart")
	// The honest history still advances.
	honest.grow(t, 12, "a")
	f.mustAdd(t, 10, honest)
}

// TestAttackForeignKey: a checkpoint signed by a key the witness does not
// trust for the origin (403), of an unknown origin (404), or with its
// signature altered (403), is not cosigned and changes nothing.
func TestAttackForeignKey(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	tr.grow(t, 4, "a")
	f.mustAdd(t, 0, tr)
	tr.grow(t, 8, "a")

	imposter, _ := boardKey(t, f.bv.Name())
	cp := tr.checkpoint(t, imposter)
	_, err := AddCheckpoint(context.Background(), f.url, f.srv.Client(), 4, tr.proof(t, 4), cp.Signed)
	wantStatus(t, err, http.StatusForbidden)

	stranger, _ := boardKey(t, "other.example/log")
	cp = tr.checkpoint(t, stranger)
	_, err = AddCheckpoint(context.Background(), f.url, f.srv.Client(), 4, tr.proof(t, 4), cp.Signed)
	wantStatus(t, err, http.StatusNotFound)

	cp = tr.checkpoint(t, f.bs)
	bad := bytes.Clone(cp.Signed)
	bad[len(bad)-20] ^= 1 // a byte of the signature itself, not a padding bit of its base64
	_, err = AddCheckpoint(context.Background(), f.url, f.srv.Client(), 4, tr.proof(t, 4), bad)
	if err == nil {
		t.Fatal("altered signature cosigned")
	}
	if n, _ := f.latest(t); n != 4 {
		t.Fatalf("state moved to %d", n)
	}
}

// TestAttackConcurrentAdvance: many requests race from one old size; the
// compare-and-set lets exactly one advance.
func TestAttackConcurrentAdvance(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	tr.grow(t, 10, "a")
	f.mustAdd(t, 0, tr)
	type req struct {
		proof  tlog.TreeProof
		signed []byte
	}
	var reqs []req
	for n := int64(11); n <= 30; n++ {
		tr.grow(t, n, "a")
		reqs = append(reqs, req{tr.proof(t, 10), tr.checkpoint(t, f.bs).Signed})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflict := 0, 0
	for _, r := range reqs {
		wg.Go(func() {
			_, err := AddCheckpoint(context.Background(), f.url, f.srv.Client(), 10, r.proof, r.signed)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict):
				conflict++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || conflict != len(reqs)-1 {
		t.Fatalf("%d cosigned, %d conflicts; want exactly one cosigned", ok, conflict)
	}
}

func TestMalformedRequests(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	tr.grow(t, 4, "a")
	f.mustAdd(t, 0, tr)
	tr.grow(t, 6, "a")
	cp := string(tr.checkpoint(t, f.bs).Signed)
	p := tr.proof(t, 4)
	var proof strings.Builder
	for _, h := range p {
		proof.WriteString(h.String() + "\n")
	}
	post := func(body string) int {
		resp, err := f.srv.Client().Post(f.url+"/add-checkpoint", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := map[string]string{
		"no old line":     "\n" + cp,
		"leading zero":    "old 04\n" + proof.String() + "\n" + cp,
		"old above size":  "old 7\n\n" + cp,
		"bad hash line":   "old 4\n" + "AAAA\n" + "\n" + cp,
		"no empty line":   "old 4\n" + proof.String() + cp,
		"proof from zero": "old 0\n" + proof.String() + "\n" + cp,
		"64 proof lines":  "old 4\n" + strings.Repeat(p[0].String()+"\n", 64) + "\n" + cp,
		"not a note":      "old 4\n" + proof.String() + "\n" + "board.example/election-1\nhello\n",
		"negative":        "old -1\n\n" + cp,
		"space after old": "old  4\n" + proof.String() + "\n" + cp,
		"truncated proof": "old 4\n" + proof.String()[:10] + "\n\n" + cp,
	}
	for n, body := range cases {
		if code := post(body); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", n, code)
		}
	}
	if code := post("old 4\n" + proof.String() + "\n" + cp); code != http.StatusOK {
		t.Fatalf("well-formed request: %d", code)
	}
	resp, err := f.srv.Client().Get(f.url + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	resp, err = f.srv.Client().Post(f.url+"/add-checkpoint", "text/plain", bytes.NewReader(make([]byte, MaxBodySize+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d", resp.StatusCode)
	}
}

// TestConflictWire checks the 409 answer on the wire: its content type and
// body are as C2SP tlog-witness asks.
func TestConflictWire(t *testing.T) {
	f := newFixture(t)
	tr := &tree{}
	tr.grow(t, 3, "a")
	f.mustAdd(t, 0, tr)
	resp, err := f.srv.Client().Post(f.url+"/add-checkpoint", "text/plain", strings.NewReader("old 0\n\n"+string(tr.checkpoint(t, f.bs).Signed)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != 409 || resp.Header.Get("Content-Type") != "text/x.tlog.size" || b.String() != "3\n" {
		t.Fatalf("409 answer: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("old 4\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\nx\n1\n"))
	f.Add([]byte("old 0\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		old, proof, signed, err := ParseRequest(body)
		if err != nil {
			return
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "old %d\n", old)
		for _, h := range proof {
			b.WriteString(h.String() + "\n")
		}
		b.WriteString("\n")
		b.Write(signed)
		if !bytes.Equal(b.Bytes(), body) {
			t.Fatalf("accepted %q, which re-encodes as %q", body, b.Bytes())
		}
	})
}
