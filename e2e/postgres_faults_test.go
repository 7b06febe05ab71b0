package e2e

// The PostgreSQL engines' fault tests: the database server crashing and
// coming back mid-cast, its connections dropped, its disk full; and the
// pool sizes the flags set. Each runs its own cluster
// (pgtest.StartCluster), which it stops, restarts and fills under a board
// and an issuer that run as processes and are not restarted through the
// fault; each fault test ends with nothing lost: every ballot given a
// receipt is in the export once, no other ballot is, and the record
// verifies. Helpers here are prefixed pf.

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
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/issuance"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/mod/sumdb/tlog"
)

// pfExchange is one HTTP request a test client sent and what came back.
type pfExchange struct {
	method, path string
	start, end   time.Time
	status       int // 0: no answer at all
	retryAfter   string
	err          error
}

// pfRecorder is an http.RoundTripper that keeps every exchange, so that a
// test can judge afterwards what was answered while the database was down.
type pfRecorder struct {
	rt  http.RoundTripper
	mu  sync.Mutex
	log []pfExchange
}

func (r *pfRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	x := pfExchange{method: req.Method, path: req.URL.Path, start: time.Now()}
	resp, err := r.rt.RoundTrip(req)
	x.end = time.Now()
	if err != nil {
		x.err = err
	} else {
		x.status, x.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return resp, err
}

func (r *pfRecorder) exchanges() []pfExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pfExchange(nil), r.log...)
}

// pfClients are a voter device's clients of the board and the issuer, all
// through one recorder.
func pfClients(t *testing.T, e *election, boardURL string) (*voter.Client, *pfRecorder) {
	t.Helper()
	rec := &pfRecorder{rt: &http.Transport{MaxIdleConnsPerHost: 64}}
	hc := &http.Client{Transport: rec}
	vc := &voter.Client{Board: boardapi.NewClient(boardURL, hc), BoardKey: boardVerifier(t, e.dir), ManifestHash: e.manifestHash()}
	if e.issuerURL != "" {
		vc.Issuer = issuerapi.NewClient(e.issuerURL, hc)
	}
	return vc, rec
}

// pfSQL connects to dsn for the test's own statements.
func pfSQL(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the test's cluster: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// pfDBName is the database a DSN names.
func pfDBName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// pfWithApp is dsn with an application_name, by which pg_stat_activity
// tells one process's connections from another's.
func pfWithApp(t *testing.T, dsn, app string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String()
}

// pfCast casts raw as a voter's device does, through CastTicket: a retry
// of a ballot the board already holds (its reply lost, or refused with
// 503 after a commit whose answer the connection lost) fetches and checks
// that ballot's receipt instead of failing.
func pfCast(ctx context.Context, vc *voter.Client, el *ballot.Election, raw []byte) (*voter.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return vc.CastTicket(ctx, el, &voter.Ticket{Ballot: base64.StdEncoding.EncodeToString(raw)})
}

// pfRetryable says whether a device should send the same request again:
// the board or the issuer answered with a 5xx (a 500 among them fails the
// test later, pfNo500), the receipt's check among them, whose consistency
// proof the board could not read (the ballot may be stored: the retry
// finds it). Anything else, a split view included, is a refusal the test
// does not expect.
func pfRetryable(err error) bool {
	var be *boardapi.Error
	var ie *issuerapi.Error
	switch {
	case errors.Is(err, voter.ErrSplitView):
		return false
	case errors.As(err, &be):
		return be.StatusCode >= 500
	case errors.As(err, &ie):
		return ie.StatusCode >= 500
	}
	return false
}

// pfPaths counts exchanges by "METHOD path status", for the log.
func pfPaths(xs []pfExchange) string {
	n := map[string]int{}
	for _, x := range xs {
		p := x.path
		if strings.HasPrefix(p, boardapi.PathReceipts) {
			p = boardapi.PathReceipts + "…"
		}
		k := fmt.Sprintf("%s %s %d", x.method, p, x.status)
		if x.err != nil {
			k = fmt.Sprintf("%s %s (no answer)", x.method, p)
		}
		n[k]++
	}
	var ks []string
	for k, v := range n {
		ks = append(ks, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// pfNo500 fails the test for any request answered 500 (or any 5xx but
// 503) or not at all, and for a 503 without Retry-After: the services stay
// up, and a database fault is a 503 saying when to retry.
func pfNo500(t *testing.T, xs []pfExchange) {
	t.Helper()
	for _, x := range xs {
		if x.err != nil || x.status >= 500 && x.status != http.StatusServiceUnavailable {
			t.Errorf("%s %s at %s: HTTP %d %v: a database fault must be answered 503 with Retry-After", x.method, x.path, x.start.Format("15:04:05.000"), x.status, x.err)
		}
		if x.status == http.StatusServiceUnavailable && x.retryAfter == "" {
			t.Errorf("%s %s at %s: 503 without Retry-After", x.method, x.path, x.start.Format("15:04:05.000"))
		}
	}
}

// pfCheckExport reads the board's export and checks that it holds exactly
// the ballots of bs, each once, at the index its receipt names, under
// tokens all different; it returns the yes and no counts.
func pfCheckExport(t *testing.T, vc *voter.Client, el *ballot.Election, bs []*soakBallot) (yes, no int) {
	t.Helper()
	ctx := context.Background()
	byTC := map[string]*soakBallot{}
	for _, b := range bs {
		if b.receipt == nil {
			t.Fatalf("ballot %s has no receipt", b.tc)
		}
		if _, err := vc.CheckReceipt(ctx, b.receipt); err != nil {
			t.Fatalf("the receipt of ballot %s (entry %d) does not check: %v", b.tc, b.receipt.Index, err)
		}
		byTC[b.tc] = b
	}
	var rec bytes.Buffer
	if err := vc.Board.(*boardapi.Client).Export(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	inLog := map[string]uint64{}
	tokens := map[string]bool{}
	balls, _ := recordBallots(t, rec.Bytes(), vc.BoardKey, el)
	for _, rb := range balls {
		i, h := rb.index, rb.tc
		b := byTC[h]
		if b == nil {
			t.Fatalf("entry %d is a ballot no voter got a receipt for", i)
		}
		if b.receipt.Index != i {
			t.Fatalf("ballot %s: its receipt says entry %d, the export has it at %d", h, b.receipt.Index, i)
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
	if len(inLog) != len(bs) {
		t.Fatalf("%d ballots got receipts, the export holds %d", len(bs), len(inLog))
	}
	return yes, no
}

// pfStatement posts the issuance statement of tokens the test signed in
// process (n of them), as the soak test does: the issuer's roll issued
// none.
func pfStatement(t *testing.T, e *election, burl string, el *ballot.Election, n int) func() {
	return func() {
		st, err := issuance.Sign(issuance.DeriveKey(issuerKey(t, e.dir)), issuance.Statement{ElectionID: el.Manifest.ID(), Eligible: uint64(n), Issued: uint64(n), Time: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		admin := boardapi.NewClient(burl, nil)
		admin.AdminToken = "e2e-admin-token-of-the-board"
		if _, err := admin.PostIssuance(context.Background(), st.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

// pfCloseAndVerify closes the election on the board at burl, has
// trustees 1 and 3 decrypt, checks the tally counts ballots ballots (yes
// and no), posts the issuer's statement (statement), exports the record
// and runs evote verify on it.
func pfCloseAndVerify(t *testing.T, e *election, burl string, ballots, yes, no int, statement func()) {
	t.Helper()
	for _, i := range []int{1, 3} {
		e.must("trustee", "checkpoint", "--board", burl, "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
	}
	e.must("board", "close", "--board", burl, "--admin-token-file", "admin.token")
	for _, i := range []int{1, 3} {
		e.must("trustee", "decrypt", "--share", share(i), "--board", burl, "--board-key", "board.vkey", "--journal", fmt.Sprintf("trustee-%d.journal", i))
	}
	out := strings.Join(strings.Fields(e.must("tally", "--board", burl, "--board-key", "board.vkey", "--admin-token-file", "admin.token")), " ")
	for _, want := range []string{fmt.Sprintf("%d ballots counted", ballots), fmt.Sprintf("yes %d", yes), fmt.Sprintf("no %d", no)} {
		if !regexp.MustCompile(`(^|\s)` + regexp.QuoteMeta(want) + `(\W|$)`).MatchString(out) {
			t.Errorf("tally output lacks %q:\n%s", want, out)
		}
	}
	statement()
	e.must("board", "export", "--board", burl, "--board-key", "board.vkey", "--out", "record.evr")
	vout := e.must("verify", "record.evr", "--board-key", "board.vkey", "--manifest", "manifest.json")
	if !strings.Contains(vout, "all hold") || strings.Contains(vout, "FAIL") {
		t.Fatalf("verify:\n%s", vout)
	}
}

// pfOwnBoard stops the board newElection started and starts one of the
// test's own on store (whose log it can read), listening anywhere; it is
// stopped, and must exit cleanly, when the test ends.
func pfOwnBoard(t *testing.T, e *election, store string, flags ...string) *boardProc {
	t.Helper()
	e.stopServe("board")
	p, err := pfStartBoard(e, store, flags...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("the board did not shut down cleanly: %v\n%s", err, p.stderr.String())
		}
	})
	return p
}

// pfStartBoard is startBoard with flags after its own: sh, which startBoard
// runs as a wrapper, appends them and execs the board.
func pfStartBoard(e *election, store string, flags ...string) (*boardProc, error) {
	return e.startBoard(store, "127.0.0.1:0", "sh", "-c", `exec "$0" "$@" `+strings.Join(flags, " "))
}

// pfErrorLines is the board's log lines at level WARN or above.
func pfErrorLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// pfAlive fails the test unless the process pid still runs (not exited,
// not a zombie waiting to be reaped).
func pfAlive(t *testing.T, pid int, what string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("%s (pid %d) is gone: %v", what, pid, err)
	}
	// pid (comm) S ...: the state follows the last ')'.
	if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X' {
		t.Fatalf("%s (pid %d) has exited: %s", what, pid, b)
	}
}

// pfTokenProbe is a voter of the roll whose token the test asks for
// itself, over the issuer's API, so that it sees exactly what each
// request is answered; the same blinded message every time, as a device
// resending after a lost reply.
type pfTokenProbe struct {
	cred    issuerapi.Credentials
	blinded []byte
	// ballot finishes the token with the issuer's signature and encrypts
	// choice under it.
	ballot func(sig []byte, choice int) (*soakBallot, error)
}

func pfNewTokenProbe(t *testing.T, el *ballot.Election, id, code string) *pfTokenProbe {
	t.Helper()
	m := el.Manifest
	secret, pk, err := ballot.GenerateTokenKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	blinded, st, err := token.Blind(nil, m.Issuer(), m.ID(), pk.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return &pfTokenProbe{
		cred:    issuerapi.Credentials{VoterID: id, Code: code},
		blinded: blinded,
		ballot: func(sig []byte, choice int) (*soakBallot, error) {
			tok, err := token.Finalize(st, sig)
			if err != nil {
				return nil, err
			}
			b, err := ballot.Encrypt(nil, el, secret, pk, tok, [][]int{{choice}})
			if err != nil {
				return nil, err
			}
			raw := b.Bytes()
			tc := ballot.TrackingCode(raw)
			return &soakBallot{raw: raw, choice: choice, tc: hex.EncodeToString(tc[:])}, nil
		},
	}
}

// request asks for the probe's token once.
func (p *pfTokenProbe) request(ctx context.Context, ic *issuerapi.Client) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return ic.RequestToken(ctx, p.cred, p.blinded)
}

// pfNoReceipt checks that err, a cast's, is the board's 503 saying its
// storage failed, with Retry-After, and that the same cast over plain HTTP
// gets no receipt either.
func pfNoReceipt(t *testing.T, boardURL string, b *soakBallot, err error) {
	t.Helper()
	var ae *boardapi.Error
	if !errors.Is(err, boardapi.ErrStorage) || !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable || ae.RetryAfter == 0 {
		t.Fatalf("a cast while the board's database is down: want HTTP 503 %s with Retry-After, got %v", boardapi.CodeStorage, err)
	}
	resp, err := http.Post(boardURL+boardapi.PathBallots, "application/octet-stream", bytes.NewReader(b.raw))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rc boardapi.Receipt
	json.Unmarshal(body, &rc)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || rc.Checkpoint != "" || rc.TrackingCode != "" {
		t.Fatalf("a cast while the board's database is down, over HTTP: HTTP %d, Retry-After %q, body %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// pfUnavailable checks that err is a 503 with Retry-After from the board
// (a cast) or the issuer (a token request).
func pfUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var be *boardapi.Error
	var ie *issuerapi.Error
	switch {
	case err == nil:
		t.Fatalf("%s while the database is down: answered 200", what)
	case errors.As(err, &be):
		if be.StatusCode != http.StatusServiceUnavailable || be.RetryAfter == 0 {
			t.Fatalf("%s while the database is down: HTTP %d, Retry-After %v, want 503 with Retry-After: %v", what, be.StatusCode, be.RetryAfter, err)
		}
	case errors.As(err, &ie):
		if ie.StatusCode != http.StatusServiceUnavailable || ie.RetryAfter == 0 {
			t.Fatalf("%s while the database is down: HTTP %d, Retry-After %v, want 503 with Retry-After: %v", what, ie.StatusCode, ie.RetryAfter, err)
		}
	default:
		t.Fatalf("%s while the database is down: no HTTP answer (%v); the service must stay up and answer 503", what, err)
	}
}

// TestPostgresRestartMidCast: voters get tokens and cast from several
// workers while the PostgreSQL server under both the board and the issuer
// crashes (pg_ctl stop -m immediate: every connection cut, no shutdown
// checkpoint) and is started again two seconds later. While it is down
// every cast and every token request is answered 503 with Retry-After
// (never a receipt, never 500) and both services stay up; once it is back
// both work again with no restart, the pools reconnecting by themselves.
// The workers send their unanswered requests again (the same blinded
// message, the same ballot bytes), and in the end every voter has exactly
// one ballot in the log and a receipt for it, the tally counts each once,
// and the record verifies.
func TestPostgresRestartMidCast(t *testing.T) {
	const voters = 60
	c := pgtest.StartCluster(t)
	boardDB, rollDB := c.NewDatabase(t), c.NewDatabase(t)
	// Two more voters than the workers have: the probes below.
	e := newElectionOn(t, voters+2, "postgres:"+boardDB, "postgres:"+rollDB)
	// The casting, crash included, is bounded; it takes a few seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vc, rec := pfClients(t, e, e.boardURL)
	el, err := vc.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ic := vc.Issuer.(*issuerapi.Client)

	// The board's probe: a voter whose token and ballot are made before
	// the crash and cast while the server is down. The issuer's: a voter
	// who first asks for a token while it is down.
	castProbe := pfNewTokenProbe(t, el, e.voters[voters][0], e.voters[voters][1])
	sig, err := castProbe.request(ctx, ic)
	if err != nil {
		t.Fatal(err)
	}
	castBallot, err := castProbe.ballot(sig, 0)
	if err != nil {
		t.Fatal(err)
	}
	tokenProbe := pfNewTokenProbe(t, el, e.voters[voters+1][0], e.voters[voters+1][1])

	// The workers: some ask the issuer for voters' tokens (each voter's
	// one blinded message, sent again until it is signed) and seal their
	// ballots; the others cast them (the same bytes, sent again until a
	// receipt comes). They retry after 100 ms, not after the Retry-After
	// the services ask, to keep the test short, and pause between voters,
	// so that requests of both kinds are flowing when the server crashes.
	const tokenWorkers, castWorkers = 3, 3
	ballots := make([]*soakBallot, voters)
	sealed := make(chan int, voters)
	var done, retries atomic.Int64
	var next atomic.Int64
	var errMu sync.Mutex
	errKinds := map[string]int{}
	retry := func(what string, err error) bool {
		if !pfRetryable(err) || ctx.Err() != nil {
			t.Errorf("%s: %v", what, err)
			return false
		}
		retries.Add(1)
		k := err.Error()
		if len(k) > 90 {
			k = k[:90] + "…"
		}
		errMu.Lock()
		errKinds[k]++
		errMu.Unlock()
		time.Sleep(100 * time.Millisecond)
		return true
	}
	var tokens, casts sync.WaitGroup
	// On a failure too, no worker outlives the test.
	defer func() { cancel(); tokens.Wait(); casts.Wait() }()
	for range tokenWorkers {
		tokens.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= voters || ctx.Err() != nil {
					return
				}
				p := pfNewTokenProbe(t, el, e.voters[i][0], e.voters[i][1])
				var sig []byte
				for {
					var err error
					if sig, err = p.request(ctx, ic); err == nil {
						break
					}
					if !retry("voter "+p.cred.VoterID+": token", err) {
						return
					}
				}
				b, err := p.ballot(sig, i%3%2)
				if err != nil {
					t.Errorf("voter %s: %v", p.cred.VoterID, err)
					return
				}
				ballots[i] = b
				sealed <- i
				time.Sleep(40 * time.Millisecond)
			}
		})
	}
	go func() { tokens.Wait(); close(sealed) }()
	// A head start for the tokens, so that casts have ballots waiting
	// when the server goes down, and token requests voters to serve.
	for len(sealed) < 20 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	for range castWorkers {
		casts.Go(func() {
			for i := range sealed {
				b := ballots[i]
				for {
					rc, err := pfCast(ctx, vc, el, b.raw)
					if err == nil {
						b.receipt = rc
						break
					}
					if !retry("voter "+e.voters[i][0]+": cast", err) {
						return
					}
				}
				done.Add(1)
				time.Sleep(40 * time.Millisecond)
			}
		})
	}

	// The crash, once casts are flowing.
	for done.Load() < 3*castWorkers {
		if ctx.Err() != nil {
			t.Fatalf("only %d voters cast before the crash was due", done.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Stop(false)
	down := time.Now()
	doneAtCrash := done.Load()
	// While it is down: the board's probe cast and the issuer's probe
	// token request are refused with 503 and Retry-After, nothing given.
	_, err = vc.Cast(ctx, el, castBallot.raw)
	pfNoReceipt(t, e.boardURL, castBallot, err)
	_, err = tokenProbe.request(ctx, ic)
	pfUnavailable(t, "a token request", err)
	var ie *issuerapi.Error
	if errors.As(err, &ie) && ie.Code != issuerapi.CodeOverloaded {
		t.Errorf("a token request while the roll is down: code %q, want %q", ie.Code, issuerapi.CodeOverloaded)
	}
	// The board's reads need the database too (GET /v1/election is what
	// a device asks first, before a token): 503 with Retry-After as well;
	// and the health check says the board cannot serve.
	for _, path := range []string{boardapi.PathElection, boardapi.PathCheckpoint, boardapi.PathHealth} {
		resp, err := http.Get(e.boardURL + path)
		if err != nil {
			t.Fatalf("GET %s while PostgreSQL is down: no answer: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || path != boardapi.PathHealth && resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s while PostgreSQL is down: HTTP %d, Retry-After %q; want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	time.Sleep(2*time.Second - time.Since(down))
	up := time.Now()
	c.Start()
	started := time.Now() // the server accepts connections again
	t.Logf("PostgreSQL down for %v (and %v starting), %d of %d voters had cast before", up.Sub(down).Round(time.Millisecond), started.Sub(up).Round(time.Millisecond), doneAtCrash, voters)
	pfAlive(t, e.procs["board"].Process.Pid, "the board")
	pfAlive(t, e.procs["issuer"].Process.Pid, "the issuer")

	// Back up: the probes go through, each after at most a few 503s while
	// the pools reconnect; the same bytes as before.
	var tokenTries, castTries int
	for sig = nil; sig == nil; {
		tokenTries++
		if sig, err = tokenProbe.request(ctx, ic); err != nil {
			pfUnavailable(t, "a token request just after the restart", err)
			if tokenTries == 50 {
				t.Fatalf("the issuer still refuses tokens 10 s after PostgreSQL came back: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	tokenBallot, err := tokenProbe.ballot(sig, 1)
	if err != nil {
		t.Fatal(err)
	}
	for castBallot.receipt == nil {
		castTries++
		if castBallot.receipt, err = pfCast(ctx, vc, el, castBallot.raw); err != nil {
			pfUnavailable(t, "a cast just after the restart", err)
			if castTries == 50 {
				t.Fatalf("the board still refuses casts 10 s after PostgreSQL came back: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if tokenBallot.receipt, err = pfCast(ctx, vc, el, tokenBallot.raw); err != nil {
		t.Fatal(err)
	}
	casts.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if done.Load() != voters {
		t.Fatalf("%d of %d voters cast", done.Load(), voters)
	}
	if doneAtCrash >= voters-castWorkers {
		t.Fatalf("the workers were nearly done (%d of %d) when PostgreSQL crashed: the test did not cast through the restart", doneAtCrash, voters)
	}
	t.Logf("after the restart: the probe token in %d request(s), the probe cast in %d; the workers retried %d times: %v", tokenTries, castTries, retries.Load(), errKinds)

	// What was answered while PostgreSQL was down: every cast and token
	// request 503 with Retry-After; and nothing anywhere a 500.
	xs := rec.exchanges()
	var during []pfExchange
	for _, x := range xs {
		if x.start.After(down) && x.end.Before(up) {
			during = append(during, x)
			if x.status != http.StatusServiceUnavailable || x.retryAfter == "" {
				t.Errorf("%s %s while PostgreSQL was down: HTTP %d, Retry-After %q, want 503 with Retry-After", x.method, x.path, x.status, x.retryAfter)
			}
		}
	}
	t.Logf("answered while PostgreSQL was down: %s", pfPaths(during))
	var castsDown, tokensDown int
	for _, x := range during {
		switch x.path {
		case boardapi.PathBallots:
			castsDown++
		case issuerapi.PathToken:
			tokensDown++
		}
	}
	if castsDown < 2 || tokensDown < 2 {
		t.Errorf("the workers sent %d casts and %d token requests while PostgreSQL was down (the probes one each): the outage did not land under load", castsDown-1, tokensDown-1)
	}
	pfNo500(t, xs)

	all := append(ballots, castBallot, tokenBallot)
	yes, no := pfCheckExport(t, vc, el, all)
	// The issuer states its own counts: every voter on the roll got one
	// token, none a second.
	pfCloseAndVerify(t, e, e.boardURL, len(all), yes, no, func() {
		e.stopServe("issuer")
		out := e.must("issuer", "statement", "--store", "postgres:"+rollDB, "--election", "manifest.json", "--out", "issuance.json")
		if want := fmt.Sprintf("%d eligible voters, %d tokens issued", len(all), len(all)); !strings.Contains(out, want) {
			t.Fatalf("issuer statement: want %q:\n%s", want, out)
		}
		e.must("board", "issuance", "--board", e.boardURL, "--admin-token-file", "admin.token", "issuance.json")
	})
}

// pfTablesWhole checks the log's tables in the database itself: the size
// log_meta records is size, and log_leaves and log_hashes hold exactly the
// rows of a log of that size, none missing and none beyond it. A group
// half written (leaves without their hashes, rows past the size) fails it.
func pfTablesWhole(t *testing.T, conn *pgx.Conn, size uint64) {
	t.Helper()
	ctx := context.Background()
	var meta, leaves, leafMax, hashes, hashMax int64
	err := conn.QueryRow(ctx, `SELECT (SELECT size FROM log_meta WHERE id = 1),
		(SELECT count(*) FROM log_leaves), (SELECT coalesce(max(idx), -1) FROM log_leaves),
		(SELECT count(*) FROM log_hashes), (SELECT coalesce(max(idx), -1) FROM log_hashes)`).Scan(&meta, &leaves, &leafMax, &hashes, &hashMax)
	if err != nil {
		t.Fatalf("reading the log's tables: %v", err)
	}
	wantHashes := tlog.StoredHashCount(int64(size))
	if uint64(meta) != size || uint64(leaves) != size || uint64(leafMax+1) != size || hashes != wantHashes || hashMax+1 != wantHashes {
		t.Fatalf("the log's tables are not those of a log of %d entries: log_meta.size %d, %d leaves (last %d), %d hashes (last %d; want %d)", size, meta, leaves, leafMax, hashes, hashMax, wantHashes)
	}
}

// TestPostgresDroppedConnections: while voters cast from several workers,
// every connection the board holds to its database is cut
// (pg_terminate_backend, as a server-side idle timeout, a failover proxy
// or an operator does), three times. The casts caught in that moment get
// 503 at worst, with Retry-After, never a 500 and never a receipt for a
// ballot not stored; the pool reconnects with no restart; a device
// sending the same ballot again gets its receipt; the tables hold no half
// of any group, and every ballot with a receipt is in the export once.
func TestPostgresDroppedConnections(t *testing.T) {
	const cuts, perCut, workers = 3, 40, 8
	c := pgtest.StartCluster(t)
	boardDB, rollDB := c.NewDatabase(t), c.NewDatabase(t)
	e := newElectionOn(t, 4, "postgres:"+boardDB, "postgres:"+rollDB)
	p := pfOwnBoard(t, e, "postgres:"+boardDB)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vc, rec := pfClients(t, e, p.url)
	el, err := vc.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bs := prepareBallots(t, el, issuerKey(t, e.dir), (cuts+1)*perCut)
	admin := pfSQL(t, c.DSN)
	db := pfDBName(t, boardDB)

	var next, done, retries atomic.Int64
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bs) || ctx.Err() != nil {
					return
				}
				b := bs[i]
				for {
					rc, err := pfCast(ctx, vc, el, b.raw)
					if err == nil {
						b.receipt = rc
						break
					}
					if !pfRetryable(err) || ctx.Err() != nil {
						t.Errorf("ballot %s: %v", b.tc, err)
						return
					}
					retries.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
				done.Add(1)
			}
		})
	}
	for k := 1; k <= cuts; k++ {
		for done.Load() < int64(k*perCut) {
			if ctx.Err() != nil {
				t.Fatalf("only %d ballots cast before cut %d", done.Load(), k)
			}
			time.Sleep(5 * time.Millisecond)
		}
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, db).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("cut %d: the board held no connection to %s to cut", k, db)
		}
		t.Logf("cut %d: %d of the board's connections terminated with %d ballots cast", k, n, done.Load())
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	pfAlive(t, p.cmd.Process.Pid, "the board")
	xs := rec.exchanges()
	pfNo500(t, xs)
	if t.Failed() {
		t.Logf("the board's log:\n%s", pfErrorLines(p.stderr.String()))
	}
	var refused []pfExchange
	for _, x := range xs {
		if x.status >= 500 {
			refused = append(refused, x)
		}
	}
	t.Logf("%d casts with %d retries; refused with 5xx: %s", len(bs), retries.Load(), pfPaths(refused))

	size, err := vc.Board.(*boardapi.Client).Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pfTablesWhole(t, pfSQL(t, boardDB), size.Size)
	yes, no := pfCheckExport(t, vc, el, bs)
	pfCloseAndVerify(t, e, p.url, len(bs), yes, no, pfStatement(t, e, p.url, el, len(bs)))
}

// pfFill fills the filesystem under the database conn is connected to:
// a table whose rows are stored uncompressed (STORAGE EXTERNAL, so
// repeated bytes take their full size), grown by ever smaller rows until
// even the smallest cannot be stored; each refusal must be a full disk
// (SQLSTATE 53100).
func pfFill(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE pf_filler (b bytea); ALTER TABLE pf_filler ALTER COLUMN b SET STORAGE EXTERNAL`); err != nil {
		t.Fatal(err)
	}
	var last error
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 512, 16} {
		for n := 0; ; n++ {
			_, err := conn.Exec(ctx, "INSERT INTO pf_filler SELECT convert_to(repeat('x', $1), 'UTF8')", size)
			if err == nil {
				if n > 10000 {
					t.Fatalf("filling the disk: %d rows of %d bytes and still room", n, size)
				}
				continue
			}
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "53100" {
				t.Fatalf("filling the disk: %v; want a full disk (SQLSTATE 53100)", err)
			}
			last = err
			break
		}
	}
	t.Logf("the disk is full: %v", last)
}

// TestPostgresDiskFull: the board's log lives in a database on a
// tablespace of its own, on a small filesystem, as one on a volume of its
// own would; the test fills it. PostgreSQL's write-ahead log stays in the
// main data directory, on another filesystem, so the full disk is met
// when a table file must grow: that is the case of a tablespace on a
// volume filling up (a full WAL disk instead makes PostgreSQL itself stop,
// PANIC, which is the operator's alarm and no state of the board's). A
// cast the disk cannot take is refused with 503 and Retry-After, no
// receipt, and nothing of it is in the tables (the log's size, leaves and
// hashes unchanged); reads are still served. Once there is room again,
// casting resumes with no restart, the refused ballots sent again are
// stored, and every ballot with a receipt is in the export once.
func TestPostgresDiskFull(t *testing.T) {
	ctx := context.Background()
	c := pgtest.StartCluster(t)
	small := c.SmallDisk(t, 24)
	e := newElectionOn(t, 4, "postgres:"+small, "postgres:"+c.NewDatabase(t))
	p := pfOwnBoard(t, e, "postgres:"+small)
	vc, rec := pfClients(t, e, p.url)
	el, err := vc.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cs := &castSeq{t: t, e: e, vc: vc, el: el, url: p.url}
	db := pfSQL(t, small)
	bs := prepareBallots(t, el, issuerKey(t, e.dir), 302)
	var stored []*soakBallot
	cast := func(b *soakBallot) error {
		rc, err := vc.Cast(ctx, el, b.raw)
		if err == nil {
			b.receipt = rc
			stored = append(stored, b)
		}
		return err
	}
	for _, b := range bs[:2] {
		if err := cast(b); err != nil {
			t.Fatalf("a cast before the disk is full: %v", err)
		}
	}

	pfFill(t, db)
	// Free space inside the log's pages takes a few more ballots; the
	// board must refuse within a few hundred.
	var refused []*soakBallot
	var size uint64
	next := 2
	for ; len(refused) == 0; next++ {
		if next == len(bs)-2 {
			t.Fatalf("the board stored %d ballots on a full disk and never refused one", len(stored)-2)
		}
		size = cs.size()
		if err := cast(bs[next]); err != nil {
			cs.notStored(bs[next], err)
			refused = append(refused, bs[next])
			t.Logf("after %d more ballots stored, the board refused: %v", len(stored)-2, err)
		}
	}
	// More casts on the full disk: all refused; nothing of them in the
	// tables; reads still served.
	for _, b := range bs[next : next+2] {
		cs.notStored(b, cast(b))
		refused = append(refused, b)
	}
	if now := cs.size(); now != size {
		t.Fatalf("the log went from %d to %d entries on casts the board refused", size, now)
	}
	pfTablesWhole(t, db, size)
	if _, err := vc.Board.Checkpoint(ctx, 0); err != nil {
		t.Fatalf("a full disk stops the board serving checkpoints: %v", err)
	}
	if !strings.Contains(p.stderr.String(), "No space left on device") {
		t.Errorf("the board's log does not name the cause:\n%s", pfErrorLines(p.stderr.String()))
	}

	// Room again: the filler dropped, its files truncated at once. On the
	// connection that filled the disk: had the full disk made PostgreSQL
	// PANIC, the restart of its backends would have cut it.
	if _, err := db.Exec(ctx, "DROP TABLE pf_filler"); err != nil {
		t.Fatalf("dropping the filler on the full disk: %v", err)
	}
	for _, b := range refused {
		if err := cast(b); err != nil {
			t.Fatalf("a ballot refused on the full disk, cast again once there is room: %v", err)
		}
	}
	if now := cs.size(); now != size+uint64(len(refused)) {
		t.Fatalf("after %d ballots cast again, the log holds %d entries, not %d", len(refused), now, size+uint64(len(refused)))
	}
	pfAlive(t, p.cmd.Process.Pid, "the board")
	pfNo500(t, rec.exchanges())
	t.Logf("%d ballots refused with HTTP 503 while the disk was full, none stored; all stored once there was room (log %d -> %d)", len(refused), size, cs.size())

	yes, no := pfCheckExport(t, vc, el, stored)
	pfCloseAndVerify(t, e, p.url, len(stored), yes, no, pfStatement(t, e, p.url, el, len(bs)))
}

// pfConnsUnderLoad runs casts and reads against the board at boardURL
// from many clients at once, for a second or until ballots run out, and
// returns the most connections application app held to the database at
// any moment (pg_stat_activity, polled meanwhile).
func pfConnsUnderLoad(t *testing.T, e *election, boardURL string, admin *pgx.Conn, app string, bs []*soakBallot) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	vc, _ := pfClients(t, e, boardURL)
	el, err := vc.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bc := vc.Board.(*boardapi.Client)
	var next atomic.Int64
	var mu sync.Mutex
	var cast [][32]byte // tracking codes of the ballots stored so far
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() { // casting
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(bs) {
					return
				}
				if _, err := vc.Cast(ctx, el, bs[i].raw); err != nil {
					if ctx.Err() == nil {
						t.Errorf("a cast under load: %v", err)
					}
					continue
				}
				mu.Lock()
				cast = append(cast, ballot.TrackingCode(bs[i].raw))
				mu.Unlock()
			}
		})
		wg.Go(func() { // reading: checkpoints, proofs, receipts
			for ctx.Err() == nil {
				cp, err := bc.Checkpoint(ctx, 0)
				var c *store.Checkpoint
				if err == nil {
					c, err = store.ParseCheckpoint(cp, vc.BoardKey)
				}
				if err == nil && c.Size > 1 {
					_, err = bc.Consistency(ctx, 1, c.Size)
				}
				if err == nil {
					_, err = bc.Election(ctx)
				}
				mu.Lock()
				var tc [32]byte
				some := len(cast) > 0
				if some {
					tc = cast[len(cast)/2]
				}
				mu.Unlock()
				if err == nil && some {
					_, err = bc.Receipt(ctx, tc)
				}
				if err != nil && ctx.Err() == nil {
					t.Errorf("a read under load: %v", err)
				}
			}
		})
	}
	most := 0
	for ctx.Err() == nil {
		var n int
		if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		most = max(most, n)
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	return most
}

// TestPostgresPoolFlags: --db-pool N bounds the connections a board
// process opens to its database, under a load that makes the default pool
// open more; --db-pool -1 is a usage error (exit 2), for the board and the
// issuer alike.
func TestPostgresPoolFlags(t *testing.T) {
	c := pgtest.StartCluster(t)
	boardDB, rollDB := c.NewDatabase(t), c.NewDatabase(t)
	e := newElectionOn(t, 4, "postgres:"+boardDB, "postgres:"+rollDB)

	for _, args := range [][]string{
		{"board", "serve", "--manifest", "manifest.json", "--admin-token-file", "admin.token", "--store", "postgres:" + boardDB},
		// A DSN given as a URL alone is postgres:URL; the flag is checked
		// all the same.
		{"board", "serve", "--manifest", "manifest.json", "--admin-token-file", "admin.token", "--store", boardDB},
		{"issuer", "serve", "--roll", "roll.csv", "--election", "manifest.json", "--store", "postgres:" + rollDB},
	} {
		// Bounded: a command that took the flag would serve until killed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, bin, append(append([]string{"--scrypt-work-factor", "10"}, args...), "--listen", "127.0.0.1:0", "--db-pool", "-1")...)
		cmd.Dir = e.dir
		cmd.Env = append(os.Environ(), "EVOTE_PASSPHRASE="+passphrase)
		out, err := cmd.CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--db-pool -1") {
			t.Errorf("evote %s --db-pool -1: %v, want exit 2 naming the flag:\n%s", strings.Join(args, " "), err, out)
		}
	}

	// Two more board processes on the same log, told apart in
	// pg_stat_activity by their application_name: one with the default
	// pool, one with --db-pool 2, under the same load.
	admin := pfSQL(t, c.DSN)
	el, err := (&voter.Client{Board: boardapi.NewClient(e.boardURL, nil), BoardKey: boardVerifier(t, e.dir), ManifestHash: e.manifestHash()}).Election(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	bs := prepareBallots(t, el, issuerKey(t, e.dir), 400)
	most := map[string]int{}
	for i, flags := range [][]string{nil, {"--db-pool", "2"}} {
		app := fmt.Sprintf("pf_pool_%d", i)
		p, err := pfStartBoard(e, "postgres:"+pfWithApp(t, boardDB, app), flags...)
		if err != nil {
			t.Fatal(err)
		}
		most[app] = pfConnsUnderLoad(t, e, p.url, admin, app, bs[i*200:(i+1)*200])
		if err := p.stop(); err != nil {
			t.Fatalf("the board did not shut down cleanly: %v\n%s", err, p.stderr.String())
		}
		t.Logf("board serve %v: at most %d connections under load", flags, most[app])
	}
	if n := most["pf_pool_1"]; n > 2 || n == 0 {
		t.Errorf("with --db-pool 2 the board held %d connections at once", n)
	}
	if n := most["pf_pool_0"]; n <= 2 {
		t.Errorf("with the default pool the board held at most %d connections under the load: the load does not show that --db-pool 2 bounds anything", n)
	}
}
