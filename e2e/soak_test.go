package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuance"
	"github.com/evote/evote/store"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// The kill soak's knobs, from the environment (scripts/soak.sh sets them).
const (
	soakKillsEnv   = "EVOTE_SOAK_KILLS"     // SIGKILLs of the board; default 3
	soakBallotsEnv = "EVOTE_SOAK_BALLOTS"   // fresh ballots per kill; default 150
	soakConnsEnv   = "EVOTE_SOAK_CONNS"     // concurrent casting clients; default 32
	soakDelayEnv   = "EVOTE_SOAK_MAX_DELAY" // ms; each kill comes after a random delay below it; default 400
)

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// boardProc is an "evote board serve" process the test starts, kills and
// restarts itself.
type boardProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	url    string
	exited chan struct{} // closed once the process has been waited for
	err    error         // its exit status, once exited
}

// startBoard starts the board on the data directory data (newElection's is
// "board-data"; or a --store ENGINE:WHERE, see storeArgs), listening on listen; it returns an error if the process
// exits before listening. wrap, if set, prefixes the command (e.g. prlimit).
func (e *election) startBoard(data, listen string, wrap ...string) (*boardProc, error) {
	args := append([]string{"--scrypt-work-factor", "10", "board", "serve", "--manifest", "manifest.json",
		"--listen", listen, "--admin-token-file", "admin.token"}, storeArgs(data)...)
	name := bin
	if len(wrap) > 0 {
		name, args = wrap[0], append(append(wrap[1:], bin), args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "EVOTE_PASSPHRASE="+passphrase)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &boardProc{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
				urls <- u
			}
		}
		close(urls)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	select {
	case u, ok := <-urls:
		if !ok {
			<-p.exited
			return nil, fmt.Errorf("evote board serve exited before listening (%v):\n%s", p.err, p.stderr.String())
		}
		p.url = u
		return p, nil
	case <-time.After(30 * time.Second):
		p.kill()
		return nil, fmt.Errorf("evote board serve did not start listening within 30 s:\n%s", p.stderr.String())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *boardProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends SIGINT and waits for a clean exit.
func (p *boardProc) stop() error {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(15 * time.Second):
		p.kill()
		return errors.New("evote board serve did not stop within 15 s of SIGINT")
	}
}

// issuerKey decrypts the issuer's signing key, so that tokens can be made in
// process and the load is casts only.
func issuerKey(t testing.TB, dir string) *token.PrivateKey {
	t.Helper()
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		t.Fatal(err)
	}
	ct := readFile(t, filepath.Join(dir, "issuer.key"))
	var src io.Reader = bytes.NewReader(ct)
	if bytes.HasPrefix(bytes.TrimSpace(ct), []byte(armor.Header)) {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, id)
	if err != nil {
		t.Fatalf("decrypting issuer.key: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// The key's own block; after it, once served, the election it serves.
	block, _ := pem.Decode(plain)
	if block == nil {
		t.Fatal("issuer.key holds no PEM block")
	}
	sk, err := token.ParsePrivateKey(pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func boardVerifier(t testing.TB, dir string) note.Verifier {
	t.Helper()
	v, err := verify.BoardKey(strings.TrimSpace(string(readFile(t, filepath.Join(dir, "board.vkey")))))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// soakBallot is one prepared ballot and what became of it.
type soakBallot struct {
	raw    []byte
	choice int    // 0 yes, 1 no
	tc     string // hex tracking code

	// Set by the one goroutine casting it at a time.
	tried    bool
	receipt  *voter.Receipt // the board's checked receipt
	stored   bool           // a retry was refused as already on the board
	attempts int
}

// prepareBallots makes n ballots with fresh tokens signed in process by the
// issuer's key, on every core.
func prepareBallots(t testing.TB, el *ballot.Election, isk *token.PrivateKey, n int) []*soakBallot {
	t.Helper()
	out := make([]*soakBallot, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	m := el.Manifest
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				err := func() error {
					secret, pk, err := ballot.GenerateTokenKey(nil)
					if err != nil {
						return err
					}
					blinded, st, err := token.Blind(nil, m.Issuer(), m.ID(), pk.Bytes())
					if err != nil {
						return err
					}
					sig, err := isk.Sign(blinded)
					if err != nil {
						return err
					}
					tok, err := token.Finalize(st, sig)
					if err != nil {
						return err
					}
					choice := i % 3 % 2 // 2 yes : 1 no
					b, err := ballot.Encrypt(nil, el, secret, pk, tok, [][]int{{choice}})
					if err != nil {
						return err
					}
					raw := b.Bytes()
					tc := ballot.TrackingCode(raw)
					out[i] = &soakBallot{raw: raw, choice: choice, tc: hex.EncodeToString(tc[:])}
					return nil
				}()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		t.Fatalf("preparing ballots: %v", err)
	}
	return out
}

// castOutcome classifies one cast.
type castOutcome int

const (
	castStored    castOutcome = iota // receipt, checked
	castDuplicate                    // 409: this ballot is already on the board
	castUncertain                    // cut off (kill), or a 5xx/429: retry later
	castRefused                      // any other refusal: a test failure
)

func castOnce(ctx context.Context, vc *voter.Client, el *ballot.Election, b *soakBallot) (castOutcome, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	b.tried = true
	b.attempts++
	rc, err := vc.Cast(ctx, el, b.raw)
	if err == nil {
		b.receipt = rc
		return castStored, nil
	}
	var ae *boardapi.Error
	switch {
	case !errors.As(err, &ae):
		return castUncertain, err
	case errors.Is(err, boardapi.ErrBallotOnBoard):
		return castDuplicate, err
	case ae.StatusCode >= 500 || errors.Is(err, boardapi.ErrRateLimited):
		return castUncertain, err
	}
	return castRefused, err
}

// TestSoakKill runs a real board process under load from many concurrent
// casting clients and kills it with SIGKILL at a random moment, again and
// again ($EVOTE_SOAK_KILLS times, default 3), restarting it on the same data
// directory and port each time. A ballot whose cast was cut off is cast
// again after the restart: it gets either a receipt (it was not stored) or
// the board's 409 (it was). At the end every receipt ever returned must
// still verify against the final checkpoint (voter.Client.CheckReceipt),
// every checkpoint ever seen must be consistent with the final one and be
// re-signed byte for byte, every ballot in the log must be one of ours and
// there exactly once, and the election must close, tally (each ballot
// counted once) and pass "evote verify".
func TestSoakKill(t *testing.T) {
	kills := envInt(t, soakKillsEnv, 3)
	perKill := envInt(t, soakBallotsEnv, 150)
	conns := envInt(t, soakConnsEnv, 32)
	maxDelay := time.Duration(envInt(t, soakDelayEnv, 400)) * time.Millisecond
	ctx := context.Background()
	start := time.Now()

	e := newElection(t, 4)
	first := e.procs["board"]
	u, err := url.Parse(e.boardURL)
	if err != nil {
		t.Fatal(err)
	}
	listen := u.Host
	bkey := boardVerifier(t, e.dir)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	bc := boardapi.NewClient(e.boardURL, hc)
	vc := &voter.Client{Board: bc, BoardKey: bkey, ManifestHash: e.manifestHash()}
	el, err := vc.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("election open in %v", time.Since(start).Round(time.Millisecond))
	prep := time.Now()
	isk := issuerKey(t, e.dir)
	pool := prepareBallots(t, el, isk, kills*perKill)
	t.Logf("%d ballots prepared in %v", len(pool), time.Since(prep).Round(time.Millisecond))

	var mu sync.Mutex // guards the checkpoints seen and counters below
	seen := map[uint64][]byte{}
	see := func(signed []byte) {
		cp, err := store.ParseCheckpoint(signed, bkey)
		if err != nil {
			t.Errorf("a checkpoint the board handed out does not verify: %v", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if old, ok := seen[cp.Size]; ok && !bytes.Equal(old, signed) {
			t.Errorf("two different checkpoints of size %d: the board forked its log\n%s\n%s", cp.Size, old, signed)
		}
		seen[cp.Size] = signed
	}
	maxSeen := func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		var m uint64
		for n := range seen {
			m = max(m, n)
		}
		return m
	}

	var uncertain []*soakBallot // cut off by a kill (or not reached), to cast again
	var receipts, duplicates, cutOff, inflightAtKill, underLoad, early int
	proc := (*boardProc)(nil) // nil while newElection's board is the one running
	// run casts queue from conns clients until it is done or stop is
	// closed; it returns the ballots to cast again and those it did not
	// reach.
	run := func(queue []*soakBallot, stop <-chan struct{}, inflight *atomic.Int64, draining chan<- struct{}) []*soakBallot {
		var next atomic.Int64
		var drainOnce sync.Once
		var wg sync.WaitGroup
		var again []*soakBallot
		var amu sync.Mutex
		for range conns {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := int(next.Add(1) - 1)
					if i >= len(queue) {
						return
					}
					if draining != nil && i >= len(queue)-2*conns {
						drainOnce.Do(func() { close(draining) })
					}
					b := queue[i]
					retry := b.attempts > 0
					inflight.Add(1)
					out, err := castOnce(ctx, vc, el, b)
					inflight.Add(-1)
					amu.Lock()
					switch out {
					case castStored:
						receipts++
						amu.Unlock()
						see([]byte(b.receipt.Checkpoint))
						continue
					case castDuplicate:
						if retry {
							b.stored = true
							duplicates++
						} else {
							t.Errorf("a fresh ballot was refused as a duplicate: %v", err)
						}
					case castUncertain:
						again = append(again, b)
						cutOff++
					case castRefused:
						t.Errorf("ballot %s refused: %v", b.tc, err)
					}
					amu.Unlock()
				}
			})
		}
		wg.Wait()
		// What the kill left unclaimed waits for the next round.
		return append(again, queue[min(int(next.Load()), len(queue)):]...)
	}

	fresh := 0
	for k := 0; k < kills; k++ {
		queue := uncertain
		if len(queue) < perKill+conns {
			n := min(perKill, len(pool)-fresh)
			queue = append(queue, pool[fresh:fresh+n]...)
			fresh += n
		}
		stop := make(chan struct{})
		var inflight atomic.Int64
		done := make(chan []*soakBallot, 1)
		draining := make(chan struct{})
		began := time.Now()
		go func() { done <- run(queue, stop, &inflight, draining) }()
		// A random moment; but before the queue runs dry, so that every
		// kill lands under load however fast the machine casts.
		drawn := time.Duration(rand.Int64N(int64(maxDelay)))
		select {
		case <-time.After(drawn):
		case <-draining:
			early++
		}
		delay := time.Since(began)
		n := inflight.Load()
		if proc == nil {
			first.Process.Signal(syscall.SIGKILL)
			first.Wait() // newElection's cleanup sees it has exited
		} else {
			proc.kill()
		}
		close(stop)
		uncertain = <-done
		hc.CloseIdleConnections()
		inflightAtKill += int(n)
		if n > 0 {
			underLoad++
		}

		proc, err = e.startBoard("board-data", listen)
		if err != nil {
			// The port was taken meanwhile: take any other.
			t.Logf("restart %d on %s: %v; trying another port", k+1, listen, err)
			if proc, err = e.startBoard("board-data", "127.0.0.1:0"); err != nil {
				t.Fatalf("restart %d: %v", k+1, err)
			}
			u, _ := url.Parse(proc.url)
			listen = u.Host
			bc = boardapi.NewClient(proc.url, hc)
			vc.Board = bc
		}
		// No rollback: the restarted board's log extends the largest
		// checkpoint any client saw before the kill.
		signed, err := vc.Board.Checkpoint(ctx, 0)
		if err != nil {
			t.Fatalf("restart %d: %v", k+1, err)
		}
		see(signed)
		now, _ := store.ParseCheckpoint(signed, bkey)
		if m := maxSeen(); now == nil || now.Size < m {
			t.Fatalf("restart %d: the board came back with a log smaller than a checkpoint handed out (%d): a receipt was lost", k+1, m)
		}
		if testing.Verbose() || k%10 == 9 {
			t.Logf("kill %d after %v (drawn %v) with %d casts in flight; %d to cast again or not reached; log size %d", k+1, delay.Round(time.Millisecond), drawn.Round(time.Millisecond), n, len(uncertain), now.Size)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Cleanup(func() {
		if err := proc.stop(); err != nil {
			t.Errorf("the board did not shut down cleanly: %v\n%s", err, proc.stderr.String())
		}
	})
	// After the last restart, settle every ballot still in doubt.
	for round := 0; len(uncertain) > 0; round++ {
		if round == 5 {
			t.Fatalf("%d ballots still get no answer after %d rounds; first: %s", len(uncertain), round, uncertain[0].tc)
		}
		uncertain = run(uncertain, nil, new(atomic.Int64), nil)
	}
	t.Logf("%d kills (%d with casts in flight, %d casts in flight in all; %d brought forward as the queue ran low), %d receipts, %d casts cut off, %d found stored on retry; %v",
		kills, underLoad, inflightAtKill, early, receipts, cutOff, duplicates, time.Since(start).Round(time.Millisecond))

	// Every receipt still verifies against the final checkpoint.
	final, err := store.ParseCheckpoint(mustCheckpoint(t, bc), bkey)
	if err != nil {
		t.Fatal(err)
	}
	var withReceipt []*soakBallot
	for _, b := range pool {
		if b.receipt != nil {
			withReceipt = append(withReceipt, b)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(withReceipt) {
					return
				}
				b := withReceipt[i]
				now, err := vc.CheckReceipt(ctx, b.receipt)
				if err != nil {
					t.Errorf("receipt of ballot %s (entry %d) no longer verifies: %v", b.tc, b.receipt.Index, err)
					continue
				}
				if now.Size != final.Size {
					t.Errorf("the board grew after the last cast: %d, then %d", final.Size, now.Size)
				}
			}
		})
	}
	wg.Wait()
	// Every checkpoint seen is a prefix of the final one and is the very
	// checkpoint the board signs for its size today.
	for n, signed := range seen {
		old, err := store.ParseCheckpoint(signed, bkey)
		if err != nil {
			t.Fatal(err)
		}
		p, err := vc.Board.Consistency(ctx, n, final.Size)
		if err != nil {
			t.Fatalf("consistency %d -> %d: %v", n, final.Size, err)
		}
		if err := store.VerifyConsistency(old, final, p); err != nil {
			t.Fatalf("the checkpoint of size %d handed out before a kill is not consistent with the final log: %v", n, err)
		}
		if again := mustCheckpointAt(t, bc, n); !bytes.Equal(again, signed) {
			t.Fatalf("the board now signs size %d differently:\n%s\nbefore:\n%s", n, again, signed)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Every ballot in the log is one of ours, once; every ballot with a
	// receipt or found stored is there; the untried ones are not.
	byTC := map[string]*soakBallot{}
	for _, b := range pool {
		byTC[b.tc] = b
	}
	var rec bytes.Buffer
	if err := bc.Export(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	inLog := map[string]uint64{}
	tokens := map[string]bool{}
	yes, no := 0, 0
	balls, _ := recordBallots(t, rec.Bytes(), bkey, el)
	for _, rb := range balls {
		i, h := rb.index, rb.tc
		b := byTC[h]
		if b == nil {
			t.Fatalf("entry %d is a ballot the test never cast", i)
		}
		inLog[h] = i
		tk := hex.EncodeToString(rb.ballot.TokenKey.Bytes())
		if tokens[tk] {
			t.Fatalf("entry %d: a second ballot under one token", i)
		}
		tokens[tk] = true
		if b.choice == 0 {
			yes++
		} else {
			no++
		}
	}
	tried := 0
	for _, b := range pool {
		i, ok := inLog[b.tc]
		switch {
		case b.tried:
			tried++
		case ok:
			t.Fatalf("ballot %s was never cast but is entry %d", b.tc, i)
		}
		if (b.receipt != nil || b.stored) && !ok {
			t.Errorf("ballot %s (receipt %v, found stored %v) is not in the final log", b.tc, b.receipt != nil, b.stored)
		}
		if b.receipt != nil && ok && b.receipt.Index != i {
			t.Errorf("ballot %s: receipt says entry %d, the log has it at %d", b.tc, b.receipt.Index, i)
		}
		if b.tried && b.receipt == nil && !b.stored {
			t.Errorf("ballot %s was cast but never settled", b.tc)
		}
	}
	if len(inLog) != tried {
		t.Errorf("%d ballots cast and settled, %d in the log", tried, len(inLog))
	}
	if t.Failed() {
		t.FailNow()
	}

	// Close, decrypt (trustees 1 and 3), tally: each ballot counted once;
	// the final record verifies.
	burl := "http://" + listen
	for _, i := range []int{1, 3} {
		e.must("trustee", "checkpoint", "--board", burl, "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
	}
	e.must("board", "close", "--board", burl, "--admin-token-file", "admin.token")
	for _, i := range []int{1, 3} {
		e.must("trustee", "decrypt", "--share", share(i), "--board", burl, "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
	}
	out := strings.Join(strings.Fields(e.must("tally", "--board", burl, "--board-key", "board.vkey", "--admin-token-file", "admin.token")), " ")
	for _, want := range []string{fmt.Sprintf("%d ballots counted", len(inLog)), fmt.Sprintf("yes %d", yes), fmt.Sprintf("no %d", no)} {
		if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(want) + `(\W|$)`).MatchString(out) {
			t.Errorf("tally output lacks %q:\n%s", want, out)
		}
	}
	// The tokens were signed in process, off the roll (whose counts say
	// none were issued): the test, their issuer, states them, as the
	// issuer states its roll's (e2e_test.go), with the key the manifest
	// names.
	st, err := issuance.Sign(issuance.DeriveKey(isk), issuance.Statement{ElectionID: el.Manifest.ID(), Eligible: uint64(len(pool)), Issued: uint64(len(pool)), Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	admin := boardapi.NewClient(burl, nil)
	admin.AdminToken = "e2e-admin-token-of-the-board"
	if _, err := admin.PostIssuance(ctx, st.Bytes()); err != nil {
		t.Fatal(err)
	}
	e.must("board", "export", "--board", burl, "--board-key", "board.vkey", "--out", "record.evr")
	vout := e.must("verify", "record.evr", "--board-key", "board.vkey")
	if !strings.Contains(vout, "all hold") || strings.Contains(vout, "FAIL") {
		t.Fatalf("verify:\n%s", vout)
	}
	t.Logf("SOAK: %d kills survived (%d under load), %d receipts checked against the final checkpoint (size %d), %d checkpoints consistent, %d ballots in the log (%d settled by a 409 on retry), lost 0; tally yes %d no %d; evote verify: all hold; %v",
		kills, underLoad, len(withReceipt), final.Size, len(seen), len(inLog), duplicates, yes, no, time.Since(start).Round(time.Millisecond))
}

func mustCheckpoint(t testing.TB, c *boardapi.Client) []byte {
	t.Helper()
	b, err := c.Checkpoint(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCheckpointAt(t testing.TB, c *boardapi.Client, n uint64) []byte {
	t.Helper()
	b, err := c.Checkpoint(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
