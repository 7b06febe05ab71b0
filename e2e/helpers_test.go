// Package e2e runs the evote binary as separate processes on loopback: an
// issuer, a board, trustees exchanging files, voters, the tally and the
// verifier, and attacks on them through HTTP.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
)

var bin string // the evote binary, built once

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evote-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "evote")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, "github.com/evote/evote/cmd/evote").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building evote: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

// election is an election whose issuer and board run as processes.
type election struct {
	t                   testing.TB
	dir                 string
	boardURL, issuerURL string
	voters              [][2]string // voter ID, code
	nextVoter           int
	// procs holds the serve processes by command ("board", "issuer"), for
	// tests that kill or restart one (see soak_test.go).
	procs map[string]*exec.Cmd
}

const passphrase = "correct horse battery staple"

// evote runs the binary in the election's directory.
func (e *election) evote(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--scrypt-work-factor", "10"}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "EVOTE_PASSPHRASE="+passphrase)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{so.String(), se.String(), 0}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("evote %s: %v", strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// must runs the binary and fails the test unless it exits 0.
func (e *election) must(args ...string) string {
	e.t.Helper()
	r := e.evote(args...)
	if r.code != 0 {
		e.t.Fatalf("evote %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// serve starts a long-running evote process and returns its URL, printed
// on stdout as "... listening on URL". It is stopped with SIGINT at
// cleanup, and must then exit 0 (graceful shutdown).
func (e *election) serve(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(bin, append([]string{"--scrypt-work-factor", "10"}, args...)...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "EVOTE_PASSPHRASE="+passphrase)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
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
	}()
	if e.procs == nil {
		e.procs = map[string]*exec.Cmd{}
	}
	e.procs[args[0]] = cmd
	e.t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return // killed and waited for by the test itself
		}
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				e.t.Errorf("evote %s did not shut down cleanly: %v\n%s", args[0], err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			e.t.Errorf("evote %s did not stop within 15 s of SIGINT", args[0])
		}
	})
	select {
	case u, ok := <-urls:
		if !ok {
			e.t.Fatalf("evote %s exited before listening:\n%s", strings.Join(args, " "), stderr.String())
		}
		return u
	case <-time.After(30 * time.Second):
		e.t.Fatalf("evote %s did not start listening:\n%s", strings.Join(args, " "), stderr.String())
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newElection makes the keys, the manifest and a roll of voters, starts the
// issuer and the board as processes, and runs the key ceremony among three
// trustees (threshold 2) with "evote trustee" commands exchanging files,
// then opens voting.
func newElection(t testing.TB, voters int) *election {
	t.Helper()
	return newElectionOn(t, voters, "board-data", "issuer-data")
}

// storeArgs is the flag that keeps a service's data in where: a directory
// (--data DIR), or ENGINE:WHERE (--store postgres:DSN).
func storeArgs(where string) []string {
	if strings.Contains(where, ":") {
		return []string{"--store", where}
	}
	return []string{"--data", where}
}

// newElectionOn is newElection with the board's log and the issuer's roll
// where boardStore and issuerStore say (see storeArgs).
func newElectionOn(t testing.TB, voters int, boardStore, issuerStore string) *election {
	t.Helper()
	e := &election{t: t, dir: t.TempDir()}
	e.must("issuer", "keygen")
	e.must("board", "keygen", "--origin", "e2e.evote.example/board")
	// Step 0: each trustee makes its signing key before the manifest
	// exists; the manifest lists the public halves in index order.
	initArgs := []string{"election", "init", "--title", "End-to-end test", "--question", "motion:Adopt the motion?:yes,no:1:1",
		"--trustees", "3", "--threshold", "2", "--min-ballots", "2", "--issuer-key", "issuer.pub"}
	for i := 1; i <= 3; i++ {
		out := e.must("trustee", "keygen", "--out", signingKey(i), "--pub", trusteePub(i))
		if !strings.Contains(out, strings.TrimSpace(string(readFile(t, filepath.Join(e.dir, trusteePub(i)))))) {
			t.Fatalf("trustee keygen does not print the public key:\n%s", out)
		}
		initArgs = append(initArgs, "--trustee-key", trusteePub(i))
	}
	e.must(initArgs...)
	e.must("issuer", "roll", "--voters", fmt.Sprint(voters), "--out", "roll.csv")
	if err := os.WriteFile(filepath.Join(e.dir, "admin.token"), []byte("e2e-admin-token-of-the-board\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(e.dir, "roll.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		e.voters = append(e.voters, [2]string{r[0], r[1]})
	}
	e.issuerURL = e.serve(append([]string{"issuer", "serve", "--roll", "roll.csv", "--election", "manifest.json", "--listen", "127.0.0.1:0", "--rate", "-1"}, storeArgs(issuerStore)...)...)
	e.boardURL = e.serve(append([]string{"board", "serve", "--manifest", "manifest.json", "--listen", "127.0.0.1:0", "--admin-token-file", "admin.token"}, storeArgs(boardStore)...)...)

	// The ceremony: each trustee its own directory for its secrets; the
	// public messages are copied into a shared one, as trustees would
	// exchange them.
	pub := filepath.Join(e.dir, "ceremony")
	os.Mkdir(pub, 0o755)
	msgs := func(pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(pub, pattern))
		return m
	}
	for i := 1; i <= 3; i++ {
		e.must("trustee", "init", "--index", fmt.Sprint(i), "--state", state(i), "--signing-key", signingKey(i), "--dir", "ceremony")
	}
	e.must(append([]string{"board", "post", "--board", e.boardURL, "--admin-token-file", "admin.token"}, msgs("ann-*.msg")...)...)
	anns := msgs("ann-*.msg")
	// A trustee step refuses a signing key that is not the trustee's own.
	if r := e.evote(append([]string{"trustee", "deal", "--state", state(2), "--signing-key", signingKey(1), "--dir", "ceremony"}, anns...)...); r.code != 1 ||
		!strings.Contains(r.stderr, "is not trustee 2's key in the manifest") {
		t.Fatalf("trustee 2 dealing with trustee 1's signing key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i := 1; i <= 3; i++ {
		// Deals go straight to the board.
		e.must(append([]string{"trustee", "deal", "--state", state(i), "--signing-key", signingKey(i), "--dir", "ceremony",
			"--board", e.boardURL, "--board-key", "board.vkey", "--admin-token-file", "admin.token"}, anns...)...)
	}
	deals := msgs("deal-*.msg")
	for i := 1; i <= 3; i++ {
		// Checks and complaints go to the board by the trustee itself,
		// signed: no admin token.
		out := e.must(append([]string{"trustee", "verify", "--state", state(i), "--signing-key", signingKey(i), "--dir", "ceremony",
			"--board", e.boardURL, "--board-key", "board.vkey"}, deals...)...)
		if !strings.Contains(out, "0 complaint(s)") {
			t.Fatalf("trustee %d complained in an honest ceremony:\n%s", i, out)
		}
	}
	for i := 1; i <= 3; i++ {
		e.must("trustee", "answer", "--state", state(i), "--signing-key", signingKey(i), "--dir", "ceremony")
	}
	e.must("board", "open", "--board", e.boardURL, "--admin-token-file", "admin.token")
	all := msgs("*.msg")
	for i := 1; i <= 3; i++ {
		out := e.must(append([]string{"trustee", "finalize", "--state", state(i), "--share", share(i), "--board", e.boardURL, "--board-key", "board.vkey"}, all...)...)
		if !strings.Contains(out, "the board's election key matches") {
			t.Fatalf("trustee %d:\n%s", i, out)
		}
	}
	return e
}

func state(i int) string      { return fmt.Sprintf("trustee-%d.state", i) }
func signingKey(i int) string { return fmt.Sprintf("trustee-%d.sign", i) }
func trusteePub(i int) string { return fmt.Sprintf("trustee-%d.pub", i) }
func share(i int) string      { return fmt.Sprintf("trustee-%d.share", i) }

// voter returns the next unused voter on the roll.
func (e *election) voter() (id, code string) {
	v := e.voters[e.nextVoter]
	e.nextVoter++
	return v[0], v[1]
}

// vote runs "evote vote" for a voter.
func (e *election) vote(id, code, choice string, extra ...string) result {
	return e.evote(append([]string{"vote", "--issuer", e.issuerURL, "--board", e.boardURL, "--board-key", "board.vkey", "--manifest", "manifest.json",
		"--voter-id", id, "--code", code, "--choose", "motion=" + choice}, extra...)...)
}

// postIssuance has the issuer state its counts once voting has closed: it
// stops the issuer (its roll is locked while it serves), signs the
// statement of eligible voters and tokens issued, and posts it to the
// board at boardURL, which records it (SPEC.md §8).
func (e *election) postIssuance(boardURL string) string {
	e.t.Helper()
	e.stopServe("issuer")
	e.must("issuer", "statement", "--election", "manifest.json", "--out", "issuance.json")
	return e.must("board", "issuance", "--board", boardURL, "--admin-token-file", "admin.token", "issuance.json")
}

// manifestHash is the hash of the election's manifest, which pins voters to
// it.
func (e *election) manifestHash() [32]byte {
	e.t.Helper()
	m, err := ballot.ParseManifest(readFile(e.t, filepath.Join(e.dir, "manifest.json")))
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Hash()
}

// size is the number of entries on the board.
func (e *election) size() uint64 {
	e.t.Helper()
	info, err := boardapi.NewClient(e.boardURL, nil).Election(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return info.Size
}

// recordBall is one ballot entry of an exported record.
type recordBall struct {
	index  uint64
	tc     string         // its tracking code, hex
	ballot *ballot.Ballot // parsed, if recordBallots was given the election
}

// recordBallots reads an exported record, checked against the board's
// key, and returns its ballot entries in order, parsed if el is not nil,
// and its checkpoint;
// it fails the test if the record does not read, a ballot does not
// parse, or one ballot is in it twice.
func recordBallots(t testing.TB, rec []byte, key note.Verifier, el *ballot.Election) ([]recordBall, *store.Checkpoint) {
	t.Helper()
	rd := store.NewReader(bytes.NewReader(rec), key)
	seen := map[string]uint64{}
	var out []recordBall
	for i := uint64(0); ; i++ {
		leaf, err := rd.Next()
		if err == io.EOF {
			return out, rd.Checkpoint()
		}
		if err != nil {
			t.Fatalf("the record: %v", err)
		}
		if store.EntryType(leaf[0]) != store.Ballot {
			continue
		}
		tc := ballot.TrackingCode(leaf[1:])
		rb := recordBall{index: i, tc: hex.EncodeToString(tc[:])}
		if j, dup := seen[rb.tc]; dup {
			t.Fatalf("ballot %s is in the record twice: entries %d and %d", rb.tc, j, i)
		}
		seen[rb.tc] = i
		if el != nil {
			if rb.ballot, err = ballot.Parse(el, leaf[1:]); err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
		}
		out = append(out, rb)
	}
}
