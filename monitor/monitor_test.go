package monitor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/monitor"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/witness"
	"golang.org/x/mod/sumdb/note"
)

// site serves one board handler at a time at one URL: the honest board,
// then the lying one its operator swaps in.
type site struct {
	h   atomic.Pointer[http.Handler]
	srv *httptest.Server
}

func newSite(t *testing.T, h http.Handler) *site {
	s := &site{}
	s.set(h)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) set(h http.Handler) { s.h.Store(&h) }

func (s *site) client() *boardapi.Client { return boardapi.NewClient(s.srv.URL, nil) }

// honest is the election's own board's HTTP API.
func honest(e *electiontest.Election) http.Handler {
	return board.NewHandler(e.Board, board.HandlerConfig{})
}

// forged serves ls as a board's log, every checkpoint signed with signer:
// what a board's operator can do with the board's own key (as the voter's
// attack tests build it).
func forged(t *testing.T, signer note.Signer, ls [][]byte) http.Handler {
	t.Helper()
	log, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	for _, l := range ls {
		a := store.Append{Leaf: l}
		switch store.EntryType(l[0]) {
		case store.Open:
			a.SetKeys = [][]byte{[]byte("phase/open")}
		case store.Close:
			a.SetKeys = [][]byte{[]byte("phase/closed")}
		}
		if _, err := log.Append(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	b, err := board.Load(log)
	if err != nil {
		t.Fatal(err)
	}
	return board.NewHandler(b, board.HandlerConfig{})
}

func without(ls [][]byte, i int) [][]byte {
	out := append([][]byte{}, ls[:i]...)
	return append(out, ls[i+1:]...)
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuf collects the monitor's log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type fixture struct {
	e     *electiontest.Election
	site  *site
	clock *clock
	logs  *logBuf
	state string
}

func newFixture(t *testing.T) *fixture {
	e := electiontest.New(t, electiontest.Options{})
	return &fixture{e: e, site: newSite(t, honest(e)), clock: &clock{t: time.Unix(1_700_000_000, 0)}, logs: new(logBuf),
		state: filepath.Join(t.TempDir(), "monitor.json")}
}

func (f *fixture) monitor(t *testing.T, edit ...func(*monitor.Config)) *monitor.Monitor {
	t.Helper()
	cfg := monitor.Config{Board: f.site.client(), BoardKey: f.e.Verifier, ManifestHash: f.e.Board.Manifest().Hash(),
		State: f.state, Stall: 5 * time.Minute, Now: f.clock.now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil))}
	for _, e := range edit {
		e(&cfg)
	}
	m, err := monitor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) cast(t *testing.T, n int) {
	for range n {
		f.e.Cast(t, f.e.Voter(t), []int{0})
	}
}

func metrics(t *testing.T, m *monitor.Monitor) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

func wantMetric(t *testing.T, text, line string) {
	t.Helper()
	for l := range strings.Lines(text) {
		if strings.TrimSpace(l) == line {
			return
		}
	}
	t.Errorf("metrics lack %q:\n%s", line, text)
}

func stateSize(t *testing.T, path string, key note.Verifier) *store.Checkpoint {
	t.Helper()
	h, err := monitor.ReadHeld(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.ParseCheckpoint(h.Signed, key)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func wantKind(t *testing.T, err error, k monitor.Kind) {
	t.Helper()
	if got := monitor.KindOf(err); got != k {
		t.Fatalf("check: %v (kind %q), want kind %q", err, got, k)
	}
}

func TestHonestBoardGrows(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 2)
	m := f.monitor(t)
	ctx := t.Context()
	for i := range 3 {
		if err := m.Check(ctx); err != nil {
			t.Fatalf("check %d of an honest board: %v", i, err)
		}
		f.cast(t, 1)
		f.clock.add(time.Minute)
	}
	n, _ := f.e.Log.Size()
	if err := m.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if got := m.Last().Size; got != n {
		t.Fatalf("accepted size %d, the board's is %d", got, n)
	}
	if got := stateSize(t, f.state, f.e.Verifier).Size; got != n {
		t.Fatalf("state file size %d, want %d", got, n)
	}
	text := metrics(t, m)
	wantMetric(t, text, `evote_monitor_checks_total{result="ok"} 4`)
	wantMetric(t, text, `evote_monitor_checks_total{result="fork"} 0`)
	wantMetric(t, text, `evote_monitor_alerts_total{kind="fork"} 0`)
	wantMetric(t, text, "evote_monitor_checkpoint_size "+strconv.FormatUint(n, 10))
	wantMetric(t, text, "evote_monitor_checkpoint_age_seconds 0")
	wantMetric(t, text, "evote_monitor_last_success_timestamp_seconds 1.70000018e+09")
	if strings.Contains(f.logs.String(), `"level":"ERROR"`) {
		t.Errorf("alerts on an honest board:\n%s", f.logs)
	}
	// A restarted monitor continues from the state file.
	f.cast(t, 1)
	if err := f.monitor(t).Check(ctx); err != nil {
		t.Fatalf("restarted: %v", err)
	}
}

// TestAttackForkedBoard: the board's operator, holding the board's key,
// swaps in a log that drops an accepted ballot (and keeps growing), and one
// that reorders two ballots at the accepted size. Both are signed with the
// real key; the monitor alerts a fork, with both notes as evidence, and
// keeps the honest checkpoint in its state file.
func TestAttackForkedBoard(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite func(ls [][]byte, n int) [][]byte
	}{
		{"drops an accepted ballot", func(ls [][]byte, n int) [][]byte { return without(ls, n-1) }},
		{"reorders at the accepted size", func(ls [][]byte, n int) [][]byte {
			out := append([][]byte{}, ls[:n]...)
			out[n-1], out[n-2] = out[n-2], out[n-1]
			return out
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.cast(t, 2)
			m := f.monitor(t)
			ctx := t.Context()
			if err := m.Check(ctx); err != nil {
				t.Fatal(err)
			}
			accepted := m.Last()
			before, _ := os.ReadFile(f.state)
			f.cast(t, 2)
			f.site.set(forged(t, f.e.Signer, tc.rewrite(f.e.Leaves(t), int(accepted.Size))))
			for range 2 {
				err := m.Check(ctx)
				wantKind(t, err, monitor.Fork)
				if !errors.Is(err, monitor.ErrFork) {
					t.Fatal(err)
				}
			}
			if got := m.Last(); !bytes.Equal(got.Signed, accepted.Signed) {
				t.Fatal("the monitor accepted the forked checkpoint")
			}
			if after, _ := os.ReadFile(f.state); !bytes.Equal(before, after) {
				t.Fatal("the state file changed")
			}
			text := metrics(t, m)
			wantMetric(t, text, `evote_monitor_alerts_total{kind="fork"} 1`) // once per offending checkpoint
			wantMetric(t, text, `evote_monitor_checks_total{result="fork"} 2`)
			logs := f.logs.String()
			if !strings.Contains(logs, `"msg":"monitor alert","kind":"fork"`) || !strings.Contains(logs, `"accepted":`) || !strings.Contains(logs, `"offending":`) {
				t.Fatalf("no fork alert with evidence in the log:\n%s", logs)
			}
		})
	}
}

// TestAttackRollback: the board serves an older, smaller log (restored
// from a backup, say, losing the ballots since): a rollback alert.
func TestAttackRollback(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 3)
	m := f.monitor(t)
	ctx := t.Context()
	if err := m.Check(ctx); err != nil {
		t.Fatal(err)
	}
	accepted := m.Last()
	ls := f.e.Leaves(t)
	f.site.set(forged(t, f.e.Signer, ls[:len(ls)-2]))
	err := m.Check(ctx)
	wantKind(t, err, monitor.Rollback)
	if m.Last().Size != accepted.Size || stateSize(t, f.state, f.e.Verifier).Size != accepted.Size {
		t.Fatal("the accepted checkpoint changed")
	}
	wantMetric(t, metrics(t, m), `evote_monitor_alerts_total{kind="rollback"} 1`)
}

// TestAttackForkWhileDown: the board forks while the monitor is stopped;
// the monitor restarted from its state file catches it at the first check.
func TestAttackForkWhileDown(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 2)
	if err := f.monitor(t).Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(f.state)
	n := int(stateSize(t, f.state, f.e.Verifier).Size)
	f.cast(t, 3)
	f.site.set(forged(t, f.e.Signer, without(f.e.Leaves(t), n-1)))
	m := f.monitor(t) // restarted
	wantKind(t, m.Check(t.Context()), monitor.Fork)
	if after, _ := os.ReadFile(f.state); !bytes.Equal(before, after) {
		t.Fatal("the state file changed")
	}
}

// TestAttackCheckpointOfAnotherKey: the board's answer is signed by a key
// with the board's name but not the pinned one: a bad_signature alert.
func TestAttackCheckpointOfAnotherKey(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 1)
	m := f.monitor(t)
	if err := m.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, f.e.Signer.Name())
	if err != nil {
		t.Fatal(err)
	}
	other, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	f.cast(t, 1)
	f.site.set(forged(t, other, f.e.Leaves(t)))
	wantKind(t, m.Check(t.Context()), monitor.BadSignature)
	wantMetric(t, metrics(t, m), `evote_monitor_alerts_total{kind="bad_signature"} 1`)
}

// TestAttackHeldCheckpointFork: a voter holds a receipt whose checkpoint
// the board signed on a forked history it showed that voter only; the
// monitor compares it at start and alerts a fork.
func TestAttackHeldCheckpointFork(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 2)
	ls := f.e.Leaves(t)
	n := len(ls)
	ls[n-1], ls[n-2] = ls[n-2], ls[n-1] // the two ballots, in the other order
	fork := newSite(t, forged(t, f.e.Signer, ls))
	voterCP, err := fork.client().Checkpoint(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "receipt.json")
	os.WriteFile(path, []byte(`{"checkpoint":`+quote(string(voterCP))+`}`), 0o600)
	h, err := monitor.ReadHeld(path)
	if err != nil {
		t.Fatal(err)
	}
	// The honest one, of the same history, passes.
	honestCP, _ := f.site.client().Checkpoint(t.Context(), 0)
	f.cast(t, 1)
	m := f.monitor(t, func(c *monitor.Config) {
		c.Held = []monitor.Held{{Source: "old", Signed: honestCP}, h}
	})
	wantKind(t, m.Check(t.Context()), monitor.Fork)
	if err := m.Check(t.Context()); err != nil {
		t.Fatalf("a held checkpoint is compared once: %v", err)
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// TestStall: no growth for --stall while open is alerted once; after the
// close (proved by the close entry in the log), no more.
func TestStall(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 1)
	m := f.monitor(t)
	ctx := t.Context()
	if err := m.Check(ctx); err != nil {
		t.Fatal(err)
	}
	f.clock.add(4 * time.Minute)
	if err := m.Check(ctx); err != nil {
		t.Fatalf("before the stall limit: %v", err)
	}
	f.clock.add(2 * time.Minute)
	wantKind(t, m.Check(ctx), monitor.Stall)
	wantKind(t, m.Check(ctx), monitor.Stall)
	text := metrics(t, m)
	wantMetric(t, text, `evote_monitor_alerts_total{kind="stall"} 1`)
	wantMetric(t, text, "evote_monitor_checkpoint_age_seconds 360")
	if _, err := f.e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Check(ctx); err != nil {
		t.Fatalf("after the close: %v", err)
	}
	f.clock.add(time.Hour)
	if err := m.Check(ctx); err != nil {
		t.Fatalf("an hour after the close: %v", err)
	}
	wantMetric(t, metrics(t, m), `evote_monitor_alerts_total{kind="stall"} 1`)
}

// TestAttackStallHiddenByFalseClose: a stalled board that claims the
// election is closed without a close entry in its log is still alerted.
func TestAttackStallHiddenByFalseClose(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 1)
	inner := honest(f.e)
	f.site.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == boardapi.PathElection {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"phase":"closed","manifest_hash":"","close_index":2,"size":3}`))
			return
		}
		inner.ServeHTTP(w, r)
	}))
	m := f.monitor(t)
	if err := m.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.clock.add(10 * time.Minute)
	wantKind(t, m.Check(t.Context()), monitor.Stall)
}

func TestUnreachable(t *testing.T) {
	f := newFixture(t)
	m := f.monitor(t)
	if err := m.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.site.srv.Close()
	wantKind(t, m.Check(t.Context()), monitor.Unreachable)
	wantKind(t, m.Check(t.Context()), monitor.Unreachable)
	text := metrics(t, m)
	wantMetric(t, text, `evote_monitor_alerts_total{kind="unreachable"} 1`)
	wantMetric(t, text, `evote_monitor_checks_total{result="unreachable"} 2`)
}

func TestWrongElection(t *testing.T) {
	f := newFixture(t)
	m := f.monitor(t, func(c *monitor.Config) { c.ManifestHash[0] ^= 1 })
	wantKind(t, m.Check(t.Context()), monitor.WrongElection)
	if m.Last() != nil {
		t.Fatal("accepted a checkpoint of another election")
	}
}

func TestRunStops(t *testing.T) {
	f := newFixture(t)
	m := f.monitor(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := m.Run(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if m.Last() == nil {
		t.Fatal("Run checked nothing")
	}
}

// cosigning is a board client that also hands out its newest checkpoint
// cosigned by the given witnesses (GET /v1/checkpoint/cosigned).
type cosigning struct {
	*boardapi.Client
	board     note.Signer
	key       note.Verifier
	witnesses []note.Signer
}

func (c cosigning) Cosigned(ctx context.Context, _ uint64) ([]byte, error) {
	signed, err := c.Checkpoint(ctx, 0)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(signed, note.VerifierList(c.key))
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: n.Text}, append([]note.Signer{c.board}, c.witnesses...)...)
}

// TestAttackWitnessQuorum: the board's cosigned checkpoint carries one of
// the two witnesses' cosignatures where the quorum is two (the other
// witness refused it, or the board skipped it): a no_quorum alert. With
// both, the check passes.
func TestAttackWitnessQuorum(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 1)
	var signers []note.Signer
	var verifiers []note.Verifier
	for _, name := range []string{"witness-a.example", "witness-b.example"} {
		skey, vkey, err := witness.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := witness.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		v, err := witness.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		signers, verifiers = append(signers, s), append(verifiers, v)
	}
	for _, tc := range []struct {
		cosigners int
		want      monitor.Kind
	}{{2, monitor.Ok}, {1, monitor.NoQuorum}} {
		f.state = filepath.Join(t.TempDir(), "monitor.json")
		m := f.monitor(t, func(c *monitor.Config) {
			c.Board = cosigning{f.site.client(), f.e.Signer, f.e.Verifier, signers[:tc.cosigners]}
			c.Witnesses, c.Quorum = verifiers, 2
		})
		wantKind(t, m.Check(t.Context()), tc.want)
	}
}

// FuzzState: a state file of any bytes is refused or read, never a panic;
// one read holds a checkpoint the board key signed.
func FuzzState(f *testing.F) {
	f.Add([]byte(`{"checkpoint":"x","grew_at":1}`))
	f.Add([]byte(`{"checkpoint":"board.test\n1\nAAAA\n\n— board.test AAAA\n","grew_at":0,"manifest_hash":"00"}`))
	_, vkey, err := note.GenerateKey(rand.Reader, "board.test")
	if err != nil {
		f.Fatal(err)
	}
	key, err := note.NewVerifier(vkey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "state.json")
		os.WriteFile(path, b, 0o600)
		m, err := monitor.New(monitor.Config{Board: boardapi.NewClient("http://127.0.0.1:1", nil), BoardKey: key, State: path})
		if err != nil {
			return
		}
		if cp := m.Last(); cp != nil {
			if _, err := store.ParseCheckpoint(cp.Signed, key); err != nil {
				t.Fatalf("read a state file whose checkpoint does not verify: %v", err)
			}
		}
	})
}

// witnessesDown is a board whose witnesses do not cosign: its cosigned
// endpoint answers 503, as board serve does when no quorum forms in time.
type witnessesDown struct{ *boardapi.Client }

func (witnessesDown) Cosigned(context.Context, uint64) ([]byte, error) {
	return nil, &boardapi.Error{StatusCode: 503, Code: boardapi.CodeOverloaded, Message: "a quorum of the election's witnesses has not cosigned"}
}

// TestAttackWitnessesDown: the board goes on signing while no quorum of
// witnesses cosigns (they are down, or refuse its log): the monitor alerts
// no_quorum rather than accepting the board's word or calling the board
// unreachable.
func TestAttackWitnessesDown(t *testing.T) {
	f := newFixture(t)
	f.cast(t, 1)
	_, vkey, err := witness.GenerateKey(rand.Reader, "witness-a.example")
	if err != nil {
		t.Fatal(err)
	}
	v, err := witness.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	m := f.monitor(t, func(c *monitor.Config) {
		c.Board = witnessesDown{f.site.client()}
		c.Witnesses, c.Quorum = []note.Verifier{v}, 1
	})
	wantKind(t, m.Check(t.Context()), monitor.NoQuorum)
}
