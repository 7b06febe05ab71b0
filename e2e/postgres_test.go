package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
	"github.com/gtank/ristretto255"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestPostgresTwoBoardsTwoIssuers is issue 17's test of several service
// processes on one database: two "evote board serve" processes on one
// PostgreSQL log, two "evote issuer serve" processes on one PostgreSQL
// roll (a database of its own, so that the roll never sits with the
// public log). Voters get their tokens from both issuers and cast through
// both boards, every pairing of issuer and board, 16 at a time. Midway
// one board is killed (SIGKILL) with casts in flight: a cast whose answer
// was lost is sent again, the same bytes, through the other board, which
// answers with a receipt (the ballot was not stored) or 409
// ballot_on_board and then the receipt (it was). The killed board is
// restarted on the same database and the rest cast through both. A few
// voters' two devices ask the two issuers at the same moment with two
// different blinded messages: one is signed, the other refused as already
// issued, and the roll counts one token each. Two of them then cast two
// ballots of that token, one at each board at once: one is stored, the
// other refused as a second ballot of the token.
//
// At the end, the election closed, decrypted and tallied: the two boards
// export the same bytes; evote verify passes on it with the issuer's
// counts; every ballot that got a receipt (from any board, before or
// after the kill) is in the record once, at its receipt's index, and
// nothing else is; ballots, voters with a receipt and tokens issued are
// one number; every receipt checks against either board.
func TestPostgresTwoBoardsTwoIssuers(t *testing.T) {
	const (
		eligible = 130 // on the roll
		racers   = 4   // voters whose two devices race the two issuers
		perPhase = 60  // voters cast before and after the restart
		workers  = 16
	)
	start := time.Now()
	ctx := context.Background()
	logStore := "postgres:" + pgtest.NewDatabase(t)
	rollStore := "postgres:" + pgtest.NewDatabase(t)
	e := newElectionOn(t, eligible, logStore, rollStore)
	t.Logf("election open on PostgreSQL in %v", time.Since(start).Round(time.Millisecond))

	// The second issuer on the same roll: no --roll, the first imported
	// it; a pool size of its own.
	issuerA := e.procs["issuer"]
	issuerBURL := e.serve(append([]string{"issuer", "serve", "--election", "manifest.json", "--listen", "127.0.0.1:0", "--rate", "-1", "--db-pool", "3"}, storeArgs(rollStore)...)...)
	issuerB := e.procs["issuer"]
	// The second board on the same log.
	boardA := e.procs["board"]
	pB, err := e.startBoard(logStore, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pB.stop(); err != nil {
			t.Errorf("board B did not shut down cleanly: %v\n%s", err, pB.stderr.String())
		}
	})

	m := &mpElection{t: t, e: e}
	bkey := boardVerifier(t, e.dir)
	m.boards[0] = mpNewBoard("A", e.boardURL, bkey)
	m.boards[1] = mpNewBoard("B", pB.url, bkey)
	m.issuers[0] = issuerapi.NewClient(e.issuerURL, nil)
	m.issuers[1] = issuerapi.NewClient(issuerBURL, nil)
	for i := range 2 {
		for b := range 2 {
			m.vc[i][b] = &voter.Client{Issuer: m.issuers[i], Board: m.boards[b], BoardKey: bkey, ManifestHash: e.manifestHash()}
			el, err := m.vc[i][b].Election(ctx)
			if err != nil {
				t.Fatalf("issuer %d, board %s: %v", i, m.boards[b].name, err)
			}
			m.el = el
		}
	}
	// One log: the second board signs the very checkpoint the first does.
	sizeA := mpCheckpoint(t, m.boards[0], 0)
	if other := mpCheckpointBytes(t, m.boards[1], sizeA.Size); !bytes.Equal(other, sizeA.Signed) {
		t.Fatalf("the two boards sign size %d differently:\n%s\n%s", sizeA.Size, sizeA.Signed, other)
	}

	// The race: for each racer, two blinded messages, one to each
	// issuer, sent at once.
	var voters []*mpVoter
	for r := range racers {
		voters = append(voters, m.race(e.voters[r][0], e.voters[r][1], r%3%2))
	}
	if n := mpIssued(t, e, rollStore); n != racers {
		t.Fatalf("after %d voters each raced two blinded messages at the two issuers, the roll counts %d tokens issued, not %d", racers, n, racers)
	}
	t.Logf("issuer race: %d voters, one token each, the second request refused as already issued by the other process", racers)

	// Phase 1: cast through both boards; kill board A with casts in
	// flight once a quarter of the phase has settled.
	var phase1, phase2 []*mpVoter
	for i := range perPhase {
		phase1 = append(phase1, m.voter(racers+i))
		phase2 = append(phase2, m.voter(racers+perPhase+i))
	}
	stopKiller := make(chan struct{})
	killed := make(chan int64, 1)
	go func() {
		defer close(killed)
		for {
			select {
			case <-stopKiller:
				return
			case <-time.After(time.Millisecond):
			}
			// A few casts in flight if the load gives them before half
			// the phase has settled, else any.
			n, done := m.boards[0].inflight.Load(), m.settled.Load()
			if done >= perPhase/4 && n >= 3 || done >= perPhase/2 && n > 0 {
				boardA.Process.Signal(syscall.SIGKILL)
				boardA.Wait() // the serve cleanup sees it has exited
				m.boards[0].hc.CloseIdleConnections()
				killed <- n
				return
			}
		}
	}()
	m.run(phase1, workers)
	close(stopKiller)
	inflight, ok := <-killed
	if !ok {
		t.Fatalf("board A was never killed with casts in flight: all %d casts of the phase settled first", perPhase)
	}
	if t.Failed() {
		t.FailNow()
	}
	lostAtKill := m.lost.Load()
	t.Logf("board A killed with %d casts in flight; phase 1: %d answers lost and retried (%d receipts the killed board could not prove consistent), %d found stored on retry (409 ballot_on_board)", inflight, lostAtKill, m.noProof.Load(), m.onBoard.Load())

	// Restart board A on the same database (and port, if still free).
	u, _ := url.Parse(e.boardURL)
	pA, err := e.startBoard(logStore, u.Host)
	if err != nil {
		t.Logf("restarting board A on %s: %v; on another port", u.Host, err)
		if pA, err = e.startBoard(logStore, "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if err := pA.stop(); err != nil {
			t.Errorf("board A did not shut down cleanly: %v\n%s", err, pA.stderr.String())
		}
	})
	m.boards[0].point(pA.url)
	m.boards[0].gen.Add(1)
	// No rollback: the restarted board extends every receipt handed out,
	// and signs each size as B does.
	now := mpCheckpoint(t, m.boards[0], 0)
	for _, v := range phase1 {
		if v.receipt == nil {
			t.Fatalf("voter %s was never settled", v.id)
		}
		if now.Size <= v.receipt.Index {
			t.Fatalf("the restarted board A's log has %d entries; a receipt names entry %d", now.Size, v.receipt.Index)
		}
	}
	if other := mpCheckpointBytes(t, m.boards[1], now.Size); !bytes.Equal(other, now.Signed) {
		t.Fatalf("after the restart the two boards sign size %d differently:\n%s\n%s", now.Size, now.Signed, other)
	}

	// Two racers cast two ballots of their one token, one at each board,
	// at once.
	for _, v := range voters[:2] {
		m.doubleCast(v)
	}
	t.Logf("double cast: %d voters' two ballots of one token, one at each board at once: one stored, one refused; repeats answered without a change", 2)
	// Phase 2: the rest, through both again, with the racers' ballots.
	m.run(append(phase2, voters...), workers)
	if t.Failed() {
		t.FailNow()
	}
	voters = append(append(voters, phase1...), phase2...)
	t.Logf("%d ballots cast in %v; %d answers lost and retried, %d found stored on retry", len(voters), time.Since(start).Round(time.Millisecond), m.lost.Load(), m.onBoard.Load())

	// Every way through: receipts from A before its kill, from A
	// restarted, from B; each issuer's tokens at each board.
	from := map[string]int{}
	combos := map[[2]int]int{}
	for _, v := range voters {
		from[v.from]++
		combos[[2]int{v.signer, v.board}]++
	}
	for _, f := range []string{"A0", "A1", "B0"} {
		if from[f] == 0 {
			t.Errorf("no receipt from board %s (receipts by board: %v)", f, from)
		}
	}
	for _, c := range [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
		if combos[c] == 0 {
			t.Errorf("no token of issuer %d was cast at board %s (by issuer and board: %v)", c[0], m.boards[c[1]].name, combos)
		}
	}
	if issued := mpIssued(t, e, rollStore); issued != len(voters) {
		t.Errorf("the roll counts %d tokens issued to the %d voters who each got one", issued, len(voters))
	}

	// Close (through B), decrypt, tally; trustees take turns at the two
	// boards.
	burl := [2]string{m.boards[0].url(), m.boards[1].url()}
	yes, no := 0, 0
	for _, v := range voters {
		if v.choice == 0 {
			yes++
		} else {
			no++
		}
	}
	for k, i := range []int{1, 3} {
		e.must("trustee", "checkpoint", "--board", burl[k], "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
	}
	e.must("board", "close", "--board", burl[1], "--admin-token-file", "admin.token")
	for k, i := range []int{1, 3} {
		out := e.must("trustee", "decrypt", "--share", share(i), "--board", burl[1-k], "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
		if !strings.Contains(out, fmt.Sprintf("verified %d ballots", len(voters))) {
			t.Errorf("trustee %d decrypt:\n%s", i, out)
		}
	}
	out := strings.Join(strings.Fields(e.must("tally", "--board", burl[0], "--board-key", "board.vkey", "--admin-token-file", "admin.token")), " ")
	for _, want := range []string{fmt.Sprintf("%d ballots counted", len(voters)), fmt.Sprintf("yes %d", yes), fmt.Sprintf("no %d", no)} {
		if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(want) + `(\W|$)`).MatchString(out) {
			t.Errorf("tally output lacks %q:\n%s", want, out)
		}
	}
	// The issuers stop (cleanly), and the roll's counts go on the record.
	mpStop(t, "issuer A", issuerA)
	mpStop(t, "issuer B", issuerB)
	e.must(append([]string{"issuer", "statement", "--election", "manifest.json", "--out", "issuance.json"}, storeArgs(rollStore)...)...)
	want := fmt.Sprintf("%d eligible voters, %d tokens issued", eligible, len(voters))
	if out := e.must("board", "issuance", "--board", burl[0], "--admin-token-file", "admin.token", "issuance.json"); !strings.Contains(out, want) {
		t.Errorf("board issuance lacks %q:\n%s", want, out)
	}

	// The two boards export the same bytes; the CLI's export too.
	var exports [2]bytes.Buffer
	for b := range 2 {
		if err := m.boards[b].api().Export(ctx, &exports[b]); err != nil {
			t.Fatalf("export from board %s: %v", m.boards[b].name, err)
		}
	}
	if !bytes.Equal(exports[0].Bytes(), exports[1].Bytes()) {
		t.Fatalf("the two boards' exports differ: %d and %d bytes", exports[0].Len(), exports[1].Len())
	}
	e.must("board", "export", "--board", burl[1], "--board-key", "board.vkey", "--out", "record.evr")
	if rec := readFile(t, filepath.Join(e.dir, "record.evr")); !bytes.Equal(rec, exports[0].Bytes()) {
		t.Fatalf("evote board export wrote %d bytes, not the %d the API exports", len(rec), exports[0].Len())
	}
	vout := e.must("verify", "record.evr", "--board-key", "board.vkey", "--manifest", "manifest.json")
	if !strings.Contains(vout, "all hold") || strings.Contains(vout, "FAIL") ||
		!strings.Contains(vout, fmt.Sprintf("%d ballots counted of %d eligible voters", len(voters), eligible)) ||
		!strings.Contains(vout, fmt.Sprintf("%d voting tokens issued", len(voters))) {
		t.Fatalf("verify:\n%s", vout)
	}

	// Each ballot with a receipt is in the record once, at its receipt's
	// index, and the record holds no other: in particular, no receipt
	// the killed board handed out lacks its ballot.
	byTC := map[string]*mpVoter{}
	for _, v := range voters {
		byTC[v.tc] = v
	}
	inLog := map[string]uint64{}
	balls, cp := recordBallots(t, exports[0].Bytes(), bkey, nil)
	for _, rb := range balls {
		if byTC[rb.tc] == nil {
			t.Fatalf("entry %d is a ballot no voter of the test cast", rb.index)
		}
		inLog[rb.tc] = rb.index
	}
	fromKilled := 0
	for _, v := range voters {
		i, ok := inLog[v.tc]
		switch {
		case !ok:
			t.Errorf("voter %s's ballot %s got a receipt from board %s (entry %d) but is not in the record", v.id, v.tc, v.from, v.receipt.Index)
		case i != v.receipt.Index:
			t.Errorf("voter %s's receipt says entry %d, the record has the ballot at %d", v.id, v.receipt.Index, i)
		}
		if v.from == "A0" {
			fromKilled++
		}
	}
	if len(inLog) != len(voters) {
		t.Errorf("the record holds %d ballots; %d voters got a receipt", len(inLog), len(voters))
	}
	t.Logf("the two exports are the same %d bytes (size %d, root %s): %d ballots, %d of whose receipts board A gave before it was killed", exports[0].Len(), cp.Size, cp.Hash, len(inLog), fromKilled)

	// Every receipt checks against the boards' newest checkpoint, the
	// other board than the one that gave it, and through the CLI for a
	// few.
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(voters) {
					return
				}
				v := voters[k]
				other := 1 - v.board
				got, err := m.vc[0][other].CheckReceipt(ctx, v.receipt)
				if err != nil {
					t.Errorf("voter %s's receipt (from board %s) does not check at board %s: %v", v.id, v.from, m.boards[other].name, err)
				} else if got.Size != cp.Size || got.Hash != cp.Hash {
					t.Errorf("board %s's newest checkpoint (size %d) is not the record's (size %d)", m.boards[other].name, got.Size, cp.Size)
				}
			}
		})
	}
	wg.Wait()
	cli := map[string]bool{}
	for _, v := range voters {
		if cli[v.from] {
			continue
		}
		cli[v.from] = true
		path := filepath.Join(e.dir, "receipt-"+v.from+".json")
		if err := os.WriteFile(path, v.receipt.Marshal(), 0o600); err != nil {
			t.Fatal(err)
		}
		for b := range 2 {
			r := e.evote("receipt", "check", "--board", burl[b], "--board-key", "board.vkey", "--json", path)
			var got struct {
				OK    bool   `json:"ok"`
				Entry uint64 `json:"entry"`
			}
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || !got.OK || got.Entry != v.receipt.Index {
				t.Errorf("evote receipt check of a receipt from board %s at board %s: exit %d\n%s%s", v.from, m.boards[b].name, r.code, r.stdout, r.stderr)
			}
		}
	}
	t.Logf("two boards, two issuers on PostgreSQL: %d voters, board A killed with %d casts in flight and restarted, %d answers lost and retried (%d found stored), %d receipts checked at the other board, verify: all hold; %v",
		len(voters), inflight, m.lost.Load(), m.onBoard.Load(), len(voters), time.Since(start).Round(time.Millisecond))
}

// mpBoard is one board process as the voters reach it, by a URL the test
// may point elsewhere (a restart on another port), counting the casts in
// flight through it. It implements voter.Board.
type mpBoard struct {
	name     string
	hc       *http.Client
	cur      atomic.Pointer[mpEndpoint]
	inflight atomic.Int64
	gen      atomic.Int32 // restarts so far
	key      note.Verifier
}

func mpNewBoard(name, u string, key note.Verifier) *mpBoard {
	b := &mpBoard{name: name, key: key, hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	b.point(u)
	return b
}

type mpEndpoint struct {
	url string
	c   *boardapi.Client
}

func (b *mpBoard) point(u string)        { b.cur.Store(&mpEndpoint{u, boardapi.NewClient(u, b.hc)}) }
func (b *mpBoard) api() *boardapi.Client { return b.cur.Load().c }
func (b *mpBoard) url() string           { return b.cur.Load().url }
func (b *mpBoard) incarnation() string   { return fmt.Sprintf("%s%d", b.name, b.gen.Load()) }

func (b *mpBoard) Election(ctx context.Context) (*boardapi.ElectionInfo, error) {
	return b.api().Election(ctx)
}
func (b *mpBoard) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	return b.api().Checkpoint(ctx, size)
}
func (b *mpBoard) Entry(ctx context.Context, index uint64) ([]byte, error) {
	return b.api().Entry(ctx, index)
}
func (b *mpBoard) Inclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error) {
	return b.api().Inclusion(ctx, index, size)
}
func (b *mpBoard) Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error) {
	return b.api().Consistency(ctx, old, new)
}
func (b *mpBoard) Receipt(ctx context.Context, tc [32]byte) (*boardapi.Receipt, error) {
	return b.api().Receipt(ctx, tc)
}
func (b *mpBoard) Cast(ctx context.Context, raw []byte) (*boardapi.Receipt, error) {
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	return b.api().Cast(ctx, raw)
}

// mpElection is the election as its voters see it: two boards, two
// issuers, a voter client for each pair.
type mpElection struct {
	t       *testing.T
	e       *election
	el      *ballot.Election
	boards  [2]*mpBoard
	issuers [2]*issuerapi.Client
	vc      [2][2]*voter.Client // [issuer][board]

	settled atomic.Int64 // voters with a receipt
	lost    atomic.Int64 // casts (or token requests) without an answer, tried again
	onBoard atomic.Int64 // retries answered 409 ballot_on_board
	noProof atomic.Int64 // receipts whose board died before proving them consistent
}

// mpVoter is one voter and what became of their vote.
type mpVoter struct {
	id, code    string
	iss, first  int // the issuer asked first, the board cast at first
	choice      int // 0 yes, 1 no
	raw         []byte
	tc          string
	signer      int // the issuer that signed the token
	board       int // the board that gave the receipt
	from        string
	receipt     *voter.Receipt
	storedFirst bool   // a retry found the ballot on the board already
	alt         []byte // a racer's second ballot under the same token, of the other choice
}

// voter is roll voter k, whose issuer and first board alternate so that
// every pair occurs: k%2 the issuer, k/2%2 the board.
func (m *mpElection) voter(k int) *mpVoter {
	return &mpVoter{id: m.e.voters[k][0], code: m.e.voters[k][1], iss: k % 2, first: k / 2 % 2, choice: k % 3 % 2}
}

// mpLost says whether err is an answer that never came, or came as a
// retryable refusal (5xx, 429): the request may or may not have acted.
func mpLost(err error) bool {
	var ue *url.Error
	var be *boardapi.Error
	var ie *issuerapi.Error
	switch {
	case errors.As(err, &be):
		return be.StatusCode >= 500 || be.StatusCode == http.StatusTooManyRequests
	case errors.As(err, &ie):
		return ie.StatusCode >= 500 || ie.StatusCode == http.StatusTooManyRequests
	}
	return errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// backoff waits before the attempt'th retry.
func mpBackoff(attempt int) { time.Sleep(time.Duration(min(attempt, 10)) * 30 * time.Millisecond) }

// race has the voter's two devices ask the two issuers at once, each with
// its own blinded message: one must be signed and the other refused as
// already issued. It returns the voter with the winner's ballot sealed.
func (m *mpElection) race(id, code string, choice int) *mpVoter {
	t, ctx, mf := m.t, context.Background(), m.el.Manifest
	type device struct {
		secret  *ristretto255.Scalar
		pk      *elgamal.PublicKey
		blinded []byte
		st      *token.BlindState
		sig     []byte
		err     error
	}
	var d [2]device
	for k := range d {
		var err error
		if d[k].secret, d[k].pk, err = ballot.GenerateTokenKey(nil); err != nil {
			t.Fatal(err)
		}
		if d[k].blinded, d[k].st, err = token.Blind(nil, mf.Issuer(), mf.ID(), d[k].pk.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	cred := issuerapi.Credentials{VoterID: id, Code: code}
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for k := range d {
		wg.Go(func() {
			<-ready
			d[k].sig, d[k].err = m.issuers[k].RequestToken(ctx, cred, d[k].blinded)
		})
	}
	close(ready)
	wg.Wait()
	w := 0
	switch {
	case d[0].err == nil && d[1].err == nil:
		t.Fatalf("voter %s: both issuers signed, one blinded message each: two tokens for one voter", id)
	case d[0].err == nil && errors.Is(d[1].err, issuerapi.ErrAlreadyIssued):
	case d[1].err == nil && errors.Is(d[0].err, issuerapi.ErrAlreadyIssued):
		w = 1
	default:
		t.Fatalf("voter %s racing the two issuers: want one token and one %s refusal, got %v and %v", id, issuerapi.CodeAlreadyIssued, d[0].err, d[1].err)
	}
	// One roll: the signed message again at the other issuer gets the
	// same signature; the refused one again at the signer is refused.
	if again, err := m.issuers[1-w].RequestToken(ctx, cred, d[w].blinded); err != nil || !bytes.Equal(again, d[w].sig) {
		t.Fatalf("voter %s: the signed blinded message again, at the other issuer: %v (the same signature: %v)", id, err, bytes.Equal(again, d[w].sig))
	}
	if _, err := m.issuers[w].RequestToken(ctx, cred, d[1-w].blinded); !errors.Is(err, issuerapi.ErrAlreadyIssued) {
		t.Fatalf("voter %s: the refused blinded message again, at the issuer that signed the other: want %s, got %v", id, issuerapi.CodeAlreadyIssued, err)
	}
	tok, err := token.Finalize(d[w].st, d[w].sig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ballot.Encrypt(nil, m.el, d[w].secret, d[w].pk, tok, [][]int{{choice}})
	if err != nil {
		t.Fatal(err)
	}
	alt, err := ballot.Encrypt(nil, m.el, d[w].secret, d[w].pk, tok, [][]int{{1 - choice}})
	if err != nil {
		t.Fatal(err)
	}
	v := &mpVoter{id: id, code: code, iss: w, signer: w, first: 1 - w, choice: choice, raw: b.Bytes(), alt: alt.Bytes()}
	tc := ballot.TrackingCode(v.raw)
	v.tc = hex.EncodeToString(tc[:])
	return v
}

// doubleCast casts a racer's two ballots, one token, at the two boards at
// once: one is stored, the other refused as a second ballot of the token
// (the election refuses revotes), whichever board decides first. Each
// board then answers a repeat of either ballot without a change: the
// stored one 409 ballot_on_board, the other already_voted.
func (m *mpElection) doubleCast(v *mpVoter) {
	t, ctx := m.t, context.Background()
	raws := [2][]byte{v.raw, v.alt}
	var rcs [2]*voter.Receipt
	var errs [2]error
	before := mpCheckpoint(t, m.boards[0], 0).Size
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for b := range 2 {
		wg.Go(func() {
			<-ready
			rcs[b], errs[b] = m.vc[v.signer][b].Cast(ctx, m.el, raws[b])
		})
	}
	close(ready)
	wg.Wait()
	var ae *boardapi.Error
	w := 0
	switch {
	case errs[0] == nil && errs[1] == nil:
		t.Fatalf("voter %s: both boards stored a ballot under one token (entries %d and %d)", v.id, rcs[0].Index, rcs[1].Index)
	case errs[0] == nil && errors.As(errs[1], &ae) && ae.Code == boardapi.CodeAlreadyVoted:
	case errs[1] == nil && errors.As(errs[0], &ae) && ae.Code == boardapi.CodeAlreadyVoted:
		w = 1
	default:
		t.Fatalf("voter %s casting two ballots of one token at the two boards at once: want one receipt and one %s refusal, got %v and %v", v.id, boardapi.CodeAlreadyVoted, errs[0], errs[1])
	}
	v.raw, v.alt, v.receipt, v.board, v.from = raws[w], raws[1-w], rcs[w], w, m.boards[w].incarnation()
	if w == 1 {
		v.choice = 1 - v.choice
	}
	tc := ballot.TrackingCode(v.raw)
	v.tc = hex.EncodeToString(tc[:])
	for b := range 2 {
		_, err := m.boards[b].Cast(ctx, v.raw)
		if !errors.As(err, &ae) || ae.Code != boardapi.CodeBallotOnBoard || ae.StatusCode != http.StatusConflict {
			t.Fatalf("voter %s: the stored ballot again at board %s: want 409 %s, got %v", v.id, m.boards[b].name, boardapi.CodeBallotOnBoard, err)
		}
		_, err = m.boards[b].Cast(ctx, v.alt)
		if !errors.As(err, &ae) || ae.Code != boardapi.CodeAlreadyVoted {
			t.Fatalf("voter %s: the refused ballot again at board %s: want %s, got %v", v.id, m.boards[b].name, boardapi.CodeAlreadyVoted, err)
		}
		// The receipt of the repeat, by tracking code, is the first's.
		rc, err := m.vc[v.signer][b].CastTicket(ctx, m.el, &voter.Ticket{Ballot: base64.StdEncoding.EncodeToString(v.raw)})
		if err != nil || rc.Index != v.receipt.Index {
			t.Fatalf("voter %s: the stored ballot's receipt from board %s: %v (entry %d, first receipt's %d)", v.id, m.boards[b].name, err, rc.Index, v.receipt.Index)
		}
	}
	if after := mpCheckpoint(t, m.boards[1], 0).Size; after != before+1 {
		t.Fatalf("voter %s's two ballots and four repeats took the log from %d to %d entries, not one more", v.id, before, after)
	}
	m.settled.Add(1)
}

// run votes for every voter in vs, workers at a time.
func (m *mpElection) run(vs []*mpVoter, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(vs) {
					return
				}
				if m.vote(vs[i]) {
					m.settled.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

// vote gets the voter a token (unless the race did) and a receipt,
// trying again on a lost answer. It reports false (the test failed)
// if either is refused or never comes.
func (m *mpElection) vote(v *mpVoter) bool {
	t, ctx := m.t, context.Background()
	const attempts = 40
	if v.receipt != nil {
		return true // the double cast settled it
	}
	if v.raw == nil {
		// The ticket's blinded message is the same on every attempt, so
		// a token request sent again (to either issuer) gets the same
		// signature rather than a refusal.
		tk, err := voter.NewTicket(nil, m.el, v.id)
		if err != nil {
			t.Error(err)
			return false
		}
		for a := 0; tk.Token == ""; a++ {
			if a == attempts {
				t.Errorf("voter %s: no token after %d attempts", v.id, a)
				return false
			}
			is, b := (v.iss+a/2)%2, (v.first+a)%2
			err := m.vc[is][b].GetToken(ctx, m.el, tk, v.code, "")
			if err == nil {
				v.signer = is
				break
			}
			if !mpLost(err) {
				t.Errorf("voter %s: token request at issuer %d (board %s): %v", v.id, is, m.boards[b].name, err)
				return false
			}
			m.lost.Add(1)
			mpBackoff(a)
		}
		if err := m.vc[v.signer][v.first].Seal(m.el, tk, [][]int{{v.choice}}); err != nil {
			t.Error(err)
			return false
		}
		if v.raw, err = base64.StdEncoding.DecodeString(tk.Ballot); err != nil {
			t.Error(err)
			return false
		}
		tc := ballot.TrackingCode(v.raw)
		v.tc = hex.EncodeToString(tc[:])
	}
	// The first attempt at the voter's board; each retry, the same
	// bytes, at the other board than the last.
	for a := 0; ; a++ {
		if a == attempts {
			t.Errorf("voter %s: ballot %s got no receipt after %d attempts", v.id, v.tc, a)
			return false
		}
		b := (v.first + a) % 2
		bd, vc := m.boards[b], m.vc[v.signer][b]
		who := bd.incarnation()
		rc, err := vc.Cast(ctx, m.el, v.raw)
		if errors.Is(err, boardapi.ErrBallotOnBoard) {
			if a == 0 {
				t.Errorf("voter %s: a ballot never cast before was refused as on the board already: %v", v.id, err)
				return false
			}
			// An earlier attempt was stored, its answer lost: the board
			// answers the repeat 409 and the receipt is had by the
			// tracking code (CastTicket does both).
			v.storedFirst = true
			m.onBoard.Add(1)
			rc, err = vc.CastTicket(ctx, m.el, &voter.Ticket{Ballot: base64.StdEncoding.EncodeToString(v.raw)})
		}
		if err == nil {
			v.receipt, v.board, v.from = rc, b, who
			return true
		}
		if !mpLost(err) {
			t.Errorf("voter %s: ballot %s refused by board %s: %v", v.id, v.tc, who, err)
			return false
		}
		m.lost.Add(1)
		if errors.Is(err, voter.ErrSplitView) {
			m.noProof.Add(1)
		}
		mpBackoff(a)
	}
}

// mpIssued is the roll's count of tokens issued, by evote issuer counts
// on the database while the issuers serve.
func mpIssued(t *testing.T, e *election, rollStore string) int {
	t.Helper()
	var c struct {
		Issued int `json:"issued"`
	}
	out := e.must(append([]string{"issuer", "counts", "--json"}, storeArgs(rollStore)...)...)
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("evote issuer counts --json: %v\n%s", err, out)
	}
	return c.Issued
}

// mpStop stops a serve process with SIGINT and waits for a clean exit.
func mpStop(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s did not stop cleanly: %v", name, err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s did not stop within 15 s of SIGINT", name)
	}
}

func mpCheckpointBytes(t *testing.T, b *mpBoard, size uint64) []byte {
	t.Helper()
	signed, err := b.Checkpoint(context.Background(), size)
	if err != nil {
		t.Fatalf("board %s's checkpoint of size %d: %v", b.name, size, err)
	}
	return signed
}

// mpCheckpoint is board b's checkpoint of size (0: the newest), verified.
func mpCheckpoint(t *testing.T, b *mpBoard, size uint64) *store.Checkpoint {
	t.Helper()
	signed := mpCheckpointBytes(t, b, size)
	cp, err := store.ParseCheckpoint(signed, b.key)
	if err != nil {
		t.Fatalf("board %s's checkpoint: %v", b.name, err)
	}
	return cp
}
