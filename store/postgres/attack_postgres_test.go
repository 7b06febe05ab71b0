package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/postgres"
	"github.com/evote/evote/store/storetest"
	"github.com/evote/evote/trustee"
	"github.com/evote/evote/verify"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The attacks on the board's log on PostgreSQL: two board processes (two
// engines, each with its own pool, on one database) racing every decision
// the board takes, and a database whose rows were altered behind the
// board's back.

// twoFronts is an open election whose log is in a database of its own,
// with a second board on that database through an engine of its own: the
// second board process behind a load balancer.
func twoFronts(t *testing.T, o electiontest.Options) (*electiontest.Election, [2]*board.Board, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	o.OpenLog = func(s note.Signer) (store.Log, error) { return postgres.Open(ctx, dsn, s, nil) }
	e := electiontest.New(t, o)
	l2, err := postgres.Open(ctx, dsn, e.Signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l2.Close() })
	b2, err := board.Load(l2)
	if err != nil {
		t.Fatal(err)
	}
	return e, [2]*board.Board{e.Board, b2}, dsn
}

// entries reads the whole log through l: every leaf's type, in order.
func entries(t *testing.T, l store.Log) []store.EntryType {
	t.Helper()
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	var out []store.EntryType
	for i := range n {
		leaf, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, store.EntryType(leaf[0]))
	}
	return out
}

func count(types []store.EntryType, want store.EntryType) (n int, first int) {
	first = -1
	for i, ty := range types {
		if ty == want {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}

// verifyExport exports the log through l and verifies it as anyone would.
func verifyExport(t *testing.T, e *electiontest.Election, l store.Log, incomplete bool) *verify.Report {
	t.Helper()
	var buf bytes.Buffer
	if err := l.Export(&buf); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Record(&buf, e.Verifier, verify.Options{AllowIncomplete: incomplete})
	if err != nil {
		t.Fatalf("the export does not verify: %v", err)
	}
	return rep
}

// start runs fns at once, as far as goroutines can: each waits for the
// others to be ready.
func start(fns ...func()) {
	var ready, wg sync.WaitGroup
	gate := make(chan struct{})
	ready.Add(len(fns))
	for _, fn := range fns {
		wg.Go(func() {
			ready.Done()
			<-gate
			fn()
		})
	}
	ready.Wait()
	close(gate)
	wg.Wait()
}

// TestAttackCastRacesClose: ballots cast through both fronts while the
// close is appended through one of them. No ballot lands after the close
// entry, every receipt given is for a ballot before it, every cast refused
// is refused as closed (nothing stored, no receipt), and after the close
// neither front takes a ballot.
func TestAttackCastRacesClose(t *testing.T) {
	e, fronts, _ := twoFronts(t, electiontest.Options{})
	const casts = 40
	raws := make([][]byte, casts)
	for i := range raws {
		raws[i] = e.Ballot(t, e.Voter(t), []int{i % 2})
	}
	var mu sync.Mutex
	receipts := map[uint64]bool{}
	refused := 0
	var closeAt uint64
	var fns []func()
	for i, raw := range raws {
		fns = append(fns, func() {
			rc, err := fronts[i%2].Cast(ctx, raw)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if receipts[rc.Index] {
					t.Errorf("two receipts for entry %d", rc.Index)
				}
				receipts[rc.Index] = true
			case errors.Is(err, board.ErrClosed):
				refused++
			default:
				t.Errorf("cast %d: %v", i, err)
			}
		})
		if i == casts/2 {
			fns = append(fns, func() {
				i, err := fronts[1].CloseVoting(ctx)
				if err != nil {
					t.Errorf("close: %v", err)
				}
				closeAt = i
			})
		}
	}
	start(fns...)
	types := entries(t, e.Log)
	if n, first := count(types, store.Close); n != 1 || uint64(first) != closeAt {
		t.Fatalf("%d close entries, the first at %d; the close was given entry %d", n, first, closeAt)
	}
	for i, ty := range types[closeAt:] {
		if ty == store.Ballot {
			t.Errorf("a ballot at entry %d, after the close at %d", int(closeAt)+i, closeAt)
		}
	}
	for i := range receipts {
		if i >= closeAt || types[i] != store.Ballot {
			t.Errorf("a receipt for entry %d (%v); the close is at %d", i, types[i], closeAt)
		}
	}
	if n, _ := count(types, store.Ballot); n != len(receipts) || n+refused != casts {
		t.Fatalf("%d ballots in the log, %d receipts, %d refused, of %d casts", n, len(receipts), refused, casts)
	}
	t.Logf("%d ballots before the close, %d refused as closed", len(receipts), refused)
	size, _ := e.Log.Size()
	for i, f := range fronts {
		if _, err := f.Cast(ctx, e.Ballot(t, e.Voter(t), []int{0})); !errors.Is(err, board.ErrClosed) {
			t.Errorf("front %d after the close: %v", i, err)
		}
	}
	if n, _ := e.Log.Size(); n != size {
		t.Fatalf("the log grew from %d to %d after the close", size, n)
	}
	verifyExport(t, e, e.Log, true)
}

// TestAttackCloseRacesClose: closes sent to both fronts at once append
// one close entry; every other is refused as closed.
func TestAttackCloseRacesClose(t *testing.T) {
	e, fronts, _ := twoFronts(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	var mu sync.Mutex
	won, closed := 0, 0
	var fns []func()
	for i := range 8 {
		fns = append(fns, func() {
			_, err := fronts[i%2].CloseVoting(ctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, board.ErrClosed):
				closed++
			default:
				t.Errorf("close %d: %v", i, err)
			}
		})
	}
	start(fns...)
	if won != 1 || closed != 7 {
		t.Fatalf("8 closes through two fronts: %d appended, %d refused", won, closed)
	}
	if n, _ := count(entries(t, e.Log), store.Close); n != 1 {
		t.Fatalf("%d close entries", n)
	}
}

// TestAttackOpenRacesOpen: once the key ceremony is on the board, opens
// sent to both fronts at once append one open entry, and both fronts then
// serve that one election key.
func TestAttackOpenRacesOpen(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := signer(t, "board.test")
	keys, privs, err := trustee.LocalKeys(nil, 3)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ballot.NewElectionID(rand.Reader)
	iss := electiontest.Issuer(t)
	m, err := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Open race", Questions: []ballot.Question{electiontest.YesNo},
		Trustees: ballot.Trustees{N: 3, T: 2, Keys: keys}, IssuerKey: iss.Public().Bytes(), Revoting: ballot.RevotingRefuse,
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs [2]store.Log
	for i := range logs {
		if logs[i], err = postgres.Open(ctx, dsn, s, nil); err != nil {
			t.Fatal(err)
		}
		defer logs[i].Close()
	}
	b0, err := board.Create(ctx, logs[0], m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b1, err := board.Load(logs[1])
	if err != nil {
		t.Fatal(err)
	}
	fronts := [2]*board.Board{b0, b1}
	// The ceremony's messages through both fronts, in turn.
	n := 0
	if _, err := trustee.RunLocal(ctx, nil, m, privs, func(ctx context.Context, body []byte) error {
		n++
		_, err := fronts[n%2].PostCeremony(ctx, body)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var opened []*ballot.Election
	refused := 0
	var fns []func()
	for i := range 6 {
		fns = append(fns, func() {
			o, err := fronts[i%2].OpenVoting(ctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				opened = append(opened, &ballot.Election{Manifest: m, Key: o.Key})
			case errors.Is(err, board.ErrAlreadyOpen):
				refused++
			default:
				t.Errorf("open %d: %v", i, err)
			}
		})
	}
	start(fns...)
	if len(opened) != 1 || refused != 5 {
		t.Fatalf("6 opens through two fronts: %d appended, %d refused", len(opened), refused)
	}
	if n, _ := count(entries(t, logs[1]), store.Open); n != 1 {
		t.Fatalf("%d open entries", n)
	}
	for i, f := range fronts {
		if f.Election() == nil || !bytes.Equal(f.Election().Key.Bytes(), opened[0].Key.Bytes()) {
			t.Fatalf("front %d serves another election key than the open entry's", i)
		}
		if _, err := f.PostCeremony(ctx, []byte("{}")); err == nil {
			t.Fatalf("front %d takes a ceremony message after the open", i)
		}
	}
}

// secondToken is a second token the issuer signed for v's token key: an
// issuer that signed one token key twice (each blind signature is
// randomized, so the tokens differ).
func secondToken(t *testing.T, e *electiontest.Election, v *electiontest.Voter) *electiontest.Voter {
	t.Helper()
	m := e.Board.Manifest()
	blinded, st, err := token.Blind(rand.Reader, m.Issuer(), m.ID(), v.Key.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := e.Issuer.Sign(blinded)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(tok.Bytes(), v.Token.Bytes()) {
		t.Fatal("the second token is the first")
	}
	return &electiontest.Voter{Secret: v.Secret, Key: v.Key, Token: tok}
}

// TestAttackRevoteRacesFronts, under last-ballot-counts: one voter's two
// ballots cast through the two fronts at once both land, exactly one as
// replacing the other, and the token key points at the later; the same
// ballot's bytes through both fronts land once; and ballots of one token
// key with two different tokens (the issuer signed the key twice) through
// the two fronts land once, the other refused. The record verifies, and
// counts one ballot per voter.
func TestAttackRevoteRacesFronts(t *testing.T) {
	e, fronts, _ := twoFronts(t, electiontest.Options{Revoting: ballot.RevotingLastCounts})
	const rounds = 6
	voters := 0
	for r := range rounds {
		v := e.Voter(t)
		voters++
		a, b := e.Ballot(t, v, []int{0}), e.Ballot(t, v, []int{1})
		var ra, rb *board.Receipt
		var ea, eb error
		start(func() { ra, ea = fronts[0].Cast(ctx, a) }, func() { rb, eb = fronts[1].Cast(ctx, b) })
		if ea != nil || eb != nil {
			t.Fatalf("round %d: a revote raced through two fronts: %v, %v", r, ea, eb)
		}
		first, last := ra, rb
		if ra.Index > rb.Index {
			first, last = rb, ra
		}
		if first.Replaced || !last.Replaced {
			t.Fatalf("round %d: entries %d (replaced %v) and %d (replaced %v): exactly the later must replace", r, first.Index, first.Replaced, last.Index, last.Replaced)
		}
		if i, ok, err := e.Log.Lookup(append([]byte("token/"), v.Key.Bytes()...)); err != nil || !ok || i != last.Index {
			t.Fatalf("round %d: the token key points at %d (%v %v), not the later ballot %d", r, i, ok, err, last.Index)
		}

		// The same bytes twice, through both fronts.
		same := e.Ballot(t, e.Voter(t), []int{0})
		voters++
		var errs [2]error
		start(func() { _, errs[0] = fronts[0].Cast(ctx, same) }, func() { _, errs[1] = fronts[1].Cast(ctx, same) })
		if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs[0], errs[1]), board.ErrBallotOnBoard) {
			t.Fatalf("round %d: one ballot's bytes through two fronts: %v, %v; want one receipt and one ErrBallotOnBoard", r, errs[0], errs[1])
		}

		// One token key, two tokens.
		v1 := e.Voter(t)
		voters++
		v2 := secondToken(t, e, v1)
		x, y := e.Ballot(t, v1, []int{0}), e.Ballot(t, v2, []int{1})
		start(func() { _, errs[0] = fronts[0].Cast(ctx, x) }, func() { _, errs[1] = fronts[1].Cast(ctx, y) })
		if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs[0], errs[1]), board.ErrAlreadyVoted) {
			t.Fatalf("round %d: one token key with two tokens through two fronts: %v, %v; want one receipt and one ErrAlreadyVoted", r, errs[0], errs[1])
		}
	}
	e.Tally(t)
	rep := verifyExport(t, e, e.Log, false)
	if rep.Counted != uint64(voters) {
		t.Fatalf("the record counts %d ballots of %d voters", rep.Counted, voters)
	}
}

// TestAttackRefuseRacesFronts, under refusal of second ballots: one
// voter's two ballots through the two fronts at once: one lands, the other
// is refused ErrAlreadyVoted.
func TestAttackRefuseRacesFronts(t *testing.T) {
	e, fronts, _ := twoFronts(t, electiontest.Options{})
	for r := range 6 {
		v := e.Voter(t)
		a, b := e.Ballot(t, v, []int{0}), e.Ballot(t, v, []int{1})
		var errs [2]error
		start(func() { _, errs[0] = fronts[0].Cast(ctx, a) }, func() { _, errs[1] = fronts[1].Cast(ctx, b) })
		if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs[0], errs[1]), board.ErrAlreadyVoted) {
			t.Fatalf("round %d: a second ballot raced through the other front: %v, %v", r, errs[0], errs[1])
		}
	}
	if n, _ := count(entries(t, e.Log), store.Ballot); n != 6 {
		t.Fatalf("%d ballots of 6 voters", n)
	}
}

// TestAttackIssuanceRacesFronts: the issuer's statement posted to both
// fronts at once, and a second statement with it, lands once; every other
// post is refused as already on the board.
func TestAttackIssuanceRacesFronts(t *testing.T) {
	e, fronts, _ := twoFronts(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	if _, err := fronts[1].CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	st1, err := e.IssuanceStatement(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st2, err := e.Statement(5, 3)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	won, refused := 0, 0
	var fns []func()
	for i := range 6 {
		body := st1
		if i >= 4 {
			body = st2
		}
		fns = append(fns, func() {
			_, err := fronts[i%2].PostIssuance(ctx, body)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, board.ErrInvalidEntry) && strings.Contains(err.Error(), "already on the board"):
				refused++
			default:
				t.Errorf("statement %d: %v", i, err)
			}
		})
	}
	start(fns...)
	if won != 1 || refused != 5 {
		t.Fatalf("6 statements through two fronts: %d appended, %d refused", won, refused)
	}
	if n, _ := count(entries(t, e.Log), store.Issuance); n != 1 {
		t.Fatalf("%d issuance statements in the record", n)
	}
}

func ballotCode(rc *board.Receipt) [32]byte {
	var tc [32]byte
	b, _ := hex.DecodeString(rc.TrackingCode)
	copy(tc[:], b)
	return tc
}

// dba is a connection to the log's database as its administrator, who can
// rewrite any row.
func dba(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

func exec(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// rows counts the rows of the log's tables, to see that a refusal wrote
// nothing.
func rows(t *testing.T, c *pgx.Conn) [4]int64 {
	t.Helper()
	var n [4]int64
	if err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM log_leaves), (SELECT count(*) FROM log_hashes),
		(SELECT count(*) FROM log_keys), (SELECT size FROM log_meta)`).Scan(&n[0], &n[1], &n[2], &n[3]); err != nil {
		t.Fatal(err)
	}
	return n
}

// tamperLog is a log of 10 leaves through one engine, with a checkpoint
// it signed; the DBA's connection; and a second engine's log.
func tamperLog(t *testing.T) (l, other store.Log, cp *store.Checkpoint, db *pgx.Conn, dsn string) {
	t.Helper()
	dsn = pgtest.NewDatabase(t)
	s := signer(t, "evote.example/tamper")
	var err error
	if l, err = postgres.Open(ctx, dsn, s, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if other, err = postgres.Open(ctx, dsn, s, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("m"))}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 10; i++ {
		if _, err := l.Append(ctx, store.Append{Leaf: storetest.Sized(i, 50), Key: fmt.Append(nil, "k/", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if cp, err = l.Checkpoint(ctx); err != nil || cp.Size != 10 {
		t.Fatalf("checkpoint %v, %v", cp, err)
	}
	return l, other, cp, dba(t, dsn), dsn
}

// consistent reports whether the log, as l reads it now, extends old: the
// tree of old's size has old's root.
func consistent(t *testing.T, l store.Log, old *store.Checkpoint) bool {
	t.Helper()
	cur, err := l.Size()
	if err != nil || cur < old.Size {
		return false
	}
	h, err := tlog.TreeHash(int64(old.Size), tlog.HashReaderFunc(l.ReadHashes))
	return err == nil && h == old.Hash
}

// TestAttackRolledBack: the database is put back to an older state while
// a board process that signed a checkpoint of the newer one runs (a
// restore from a backup, a failover to a standby that had not received
// the last commits): the last entries are gone, and other entries are
// appended in their place. The process that signed the newer checkpoint
// must not sign a checkpoint of the other history (a split view signed
// by the board key, which no consistency proof can mend): it can tell,
// cheaply, that the tree no longer has the root it signed.
func TestAttackRolledBack(t *testing.T) {
	l, other, cp, db, _ := tamperLog(t)
	// Back to 8 entries, as a backup taken then holds.
	exec(t, db, "DELETE FROM log_leaves WHERE idx >= 8")
	exec(t, db, "DELETE FROM log_hashes WHERE idx >= $1", tlog.StoredHashIndex(0, 8))
	exec(t, db, "DELETE FROM log_keys WHERE idx >= 8")
	exec(t, db, "UPDATE log_meta SET size = 8")

	// Until the log is as long again, the process must not hand out its
	// old checkpoint as the log's: its tree is no longer the database's.
	if got, err := l.Checkpoint(ctx); err == nil {
		if _, perr := l.ProveInclusion(7, got.Size); perr == nil {
			t.Errorf("the log shrank from 10 to 8 entries under a checkpoint of 10 it signed, and it hands that checkpoint out still, with proofs: %d", got.Size)
		}
	}
	// Another history, through the other front.
	for i := range 3 {
		if _, err := other.Append(ctx, store.Append{Leaf: storetest.Sized(100+i, 50)}); err != nil {
			t.Fatal(err)
		}
	}
	if consistent(t, other, cp) {
		t.Fatal("the test's rewrite kept the old tree")
	}
	got, err := l.Checkpoint(ctx)
	if err == nil {
		t.Fatalf("after the rollback the process that signed size %d (root %x) signed size %d (root %x), of another history", cp.Size, cp.Hash[:4], got.Size, got.Hash[:4])
	}
	t.Logf("refused: %v", err)
	if !strings.Contains(err.Error(), "backup") {
		t.Errorf("the refusal does not say what to look at: %v", err)
	}
	// Nor of any size of it, but the very checkpoint it signed before.
	for _, n := range []uint64{9, 10, 11} {
		if got, err := l.CheckpointAt(n); err == nil && !bytes.Equal(got.Signed, cp.Signed) {
			t.Errorf("after the rollback the process signed size %d of the other history (root %x)", n, got.Hash[:4])
		}
	}
	// A process with no memory of the old checkpoint (the other front, or
	// this one restarted) cannot tell, and signs: the witnesses, monitors
	// and voters holding the old one catch the fork (voter.CompareCheckpoints).
	if _, err := other.Checkpoint(ctx); err != nil {
		t.Fatalf("the other front: %v", err)
	}
}

// TestAttackMetaSize: log_meta's size altered by hand. Grown past the
// rows, the log refuses to sign or append (the hashes it would need are
// missing) and writes nothing; shrunk below them, appends collide with the
// rows above and are refused, writing nothing, and the process that signed
// the longer checkpoint does not hand it out over the shorter log.
func TestAttackMetaSize(t *testing.T) {
	t.Run("grown", func(t *testing.T) {
		_, other, _, db, _ := tamperLog(t)
		exec(t, db, "UPDATE log_meta SET size = 13")
		before := rows(t, db)
		if cp, err := other.Checkpoint(ctx); err == nil {
			t.Fatalf("signed a checkpoint of %d over a log of 10 rows", cp.Size)
		}
		if _, err := other.Append(ctx, store.Append{Leaf: storetest.Sized(50, 50), Key: []byte("k/new")}); !errors.Is(err, store.ErrNotStored) {
			t.Fatalf("an append over a grown size: %v", err)
		}
		if after := rows(t, db); after != before {
			t.Fatalf("a refused append wrote: %v, then %v", before, after)
		}
		if _, err := other.Leaves(8, 13, 1<<20); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("reading past the rows: %v", err)
		}
	})
	t.Run("shrunk", func(t *testing.T) {
		l, other, _, db, _ := tamperLog(t)
		exec(t, db, "UPDATE log_meta SET size = 8")
		before := rows(t, db)
		if _, err := other.Append(ctx, store.Append{Leaf: storetest.Sized(50, 50), Key: []byte("k/new")}); !errors.Is(err, store.ErrNotStored) {
			t.Fatalf("an append over a shrunk size: %v", err)
		}
		if after := rows(t, db); after != before {
			t.Fatalf("a refused append wrote: %v, then %v", before, after)
		}
		if cp, err := l.Checkpoint(ctx); err == nil && cp.Size > 8 {
			t.Fatalf("the log holds 8 entries, and the process hands out its checkpoint of %d", cp.Size)
		}
	})
}

// TestAttackAlteredRows: a leaf, a tree hash or a key altered in the
// database. A leaf altered: the board serves it, but the export no longer
// verifies (its tree is not the checkpoint's). The tree hash the next
// checkpoint is built on altered: the process that signed before refuses
// to sign. A key deleted (the close's): the board takes a ballot after
// close, and verify refuses the record that holds it.
func TestAttackAlteredRows(t *testing.T) {
	t.Run("leaf", func(t *testing.T) {
		e, fronts, dsn := twoFronts(t, electiontest.Options{})
		rc := e.Cast(t, e.Voter(t), []int{0})
		e.Cast(t, e.Voter(t), []int{1})
		db := dba(t, dsn)
		// One byte of the ballot's ciphertext.
		exec(t, db, "UPDATE log_leaves SET leaf = overlay(leaf placing '\\x00'::bytea from 200 for 1) WHERE idx = $1", int64(rc.Index))
		// The export checks the leaves it writes against the checkpoint's
		// tree, and stops; a record written anyway would not verify.
		var buf bytes.Buffer
		if err := fronts[1].Log().Export(&buf); err == nil {
			if _, err := verify.Record(&buf, e.Verifier, verify.Options{AllowIncomplete: true}); err == nil {
				t.Fatal("an export holding an altered ballot verifies")
			}
		} else if !strings.Contains(err.Error(), "does not match") {
			t.Fatalf("export: %v", err)
		}
		// The voter's receipt still checks: its ballot, as cast, is in
		// the tree the board signs (the hashes were not touched).
		if _, err := fronts[0].ReceiptFor(ctx, ballotCode(rc)); err != nil {
			t.Fatalf("the receipt after the leaf was altered: %v", err)
		}
	})
	t.Run("hash", func(t *testing.T) {
		l, other, cp, db, _ := tamperLog(t)
		// The root of the first 8 leaves, which the tree of 10 and every
		// later one is built on.
		exec(t, db, "UPDATE log_hashes SET hash = $1 WHERE idx = $2", bytes.Repeat([]byte{7}, 32), tlog.StoredHashIndex(3, 0))
		if _, err := other.Append(ctx, store.Append{Leaf: storetest.Sized(50, 50)}); err != nil {
			t.Fatal(err)
		}
		if consistent(t, other, cp) {
			t.Fatal("the altered hash is not in the tree")
		}
		if got, err := l.Checkpoint(ctx); err == nil {
			t.Fatalf("over an altered tree hash the process that signed size %d signed size %d, of another history", cp.Size, got.Size)
		}
	})
	t.Run("closed key", func(t *testing.T) {
		e, fronts, dsn := twoFronts(t, electiontest.Options{})
		e.Cast(t, e.Voter(t), []int{0})
		if _, err := fronts[0].CloseVoting(ctx); err != nil {
			t.Fatal(err)
		}
		exec(t, dba(t, dsn), "DELETE FROM log_keys WHERE key = 'phase/closed'::bytea")
		if _, err := fronts[1].Cast(ctx, e.Ballot(t, e.Voter(t), []int{0})); err != nil {
			t.Fatalf("a cast with the close key deleted: %v", err)
		}
		var buf bytes.Buffer
		if err := fronts[1].Log().Export(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := verify.Record(&buf, e.Verifier, verify.Options{AllowIncomplete: true}); err == nil {
			t.Fatal("a record with a ballot after its close entry verifies")
		} else {
			t.Logf("with the close key deleted the board took a ballot after close; verify: %v", err)
		}
	})
}

// TestAttackOddKeys: keys of every byte, NULs, 0xff and the longest
// allowed, and keys that are prefixes of each other, are stored and found
// as given (they are parameters, never SQL), listed once each in order
// across the listing's pages; a key one byte too long is refused before
// the database.
func TestAttackOddKeys(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	e, err := postgres.OpenEngine(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.New(e, signer(t, "evote.example/keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	odd := [][]byte{
		{0}, {0, 0}, {0xff}, {0xff, 0}, []byte("a"), []byte("a\x00"), []byte("a\x00b"),
		[]byte("'); DROP TABLE log_keys; --"), []byte("\\x41"), []byte("%_*"), bytes.Repeat([]byte{0xfe}, store.MaxKeySize),
	}
	for i := range 4100 { // past one page of the listing (4096)
		odd = append(odd, fmt.Append([]byte{0}, i))
	}
	if _, err := l.Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("m"))}); err != nil {
		t.Fatal(err)
	}
	var as []store.Append
	for i, k := range odd {
		as = append(as, store.Append{Leaf: storetest.Sized(i, 40), Key: k})
	}
	var wg sync.WaitGroup
	for _, a := range as {
		wg.Go(func() {
			if _, err := l.Append(ctx, a); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, k := range odd {
		i, ok, err := l.Lookup(k)
		if err != nil || !ok {
			t.Fatalf("key %q: %d %v %v", k, i, ok, err)
		}
		leaf, err := l.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		want := -1
		for j, a := range as {
			if bytes.Equal(a.Key, k) {
				want = j
			}
		}
		if !bytes.Equal(leaf, as[want].Leaf) {
			t.Fatalf("key %q points at another leaf", k)
		}
	}
	var listed [][]byte
	if err := e.Keys(ctx, func(k []byte, _ uint64) error { listed = append(listed, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(odd) {
		t.Fatalf("listed %d keys of %d", len(listed), len(odd))
	}
	for i := 1; i < len(listed); i++ {
		if bytes.Compare(listed[i-1], listed[i]) >= 0 {
			t.Fatalf("listing out of order at %d: %q, %q", i, listed[i-1], listed[i])
		}
	}
	if _, err := l.Append(ctx, store.Append{Leaf: storetest.Sized(0, 40), Key: make([]byte, store.MaxKeySize+1)}); err == nil {
		t.Fatal("a key past MaxKeySize was stored")
	}
	var tables int
	if err := dba(t, dsn).QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'log_%'").Scan(&tables); err != nil || tables != 4 {
		t.Fatalf("%d log tables, %v", tables, err)
	}
}

// TestAttackSchemaRace: four processes open a new database at once, the
// board's log and the roll's parts both: the schema is made once, every
// open succeeds. Then a newer log schema refuses every open, the
// read-only one too, writing nothing.
func TestAttackSchemaRace(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	var fns []func()
	for range 4 {
		fns = append(fns, func() {
			e, err := postgres.OpenEngine(ctx, dsn, nil)
			if err != nil {
				t.Error(err)
				return
			}
			e.Close()
		})
	}
	start(fns...)
	db := dba(t, dsn)
	var v int
	if err := db.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = $1", postgres.Part).Scan(&v); err != nil || v != 1 {
		t.Fatalf("version %d, %v", v, err)
	}
	exec(t, db, "UPDATE evote_schema SET version = 2 WHERE part = $1", postgres.Part)
	before := rows(t, db)
	for _, ro := range []bool{false, true} {
		if _, err := postgres.OpenEngine(ctx, dsn, &postgres.Options{ReadOnly: ro}); err == nil {
			t.Fatalf("read-only %v: a newer schema was opened", ro)
		} else if !ro && !errors.Is(err, pgdb.ErrNewerSchema) {
			t.Fatalf("a newer schema: %v", err)
		}
	}
	if after := rows(t, db); after != before {
		t.Fatalf("a refused open wrote: %v, then %v", before, after)
	}
}

// TestAttackRedact: no DSN printed by the engines holds its password,
// however the DSN gives it: in the URL's user part, as a password=
// parameter of the URL (which PostgreSQL's libpq and pgx read alike), or
// key=value.
func TestAttackRedact(t *testing.T) {
	for _, dsn := range []string{
		"postgres://evote:s3cret@db.example.org/evote",
		"postgres://evote@db.example.org/evote?password=s3cret&sslmode=require",
		"postgres://evote@db.example.org/evote?sslmode=verify-full&sslpassword=s3cret",
		"postgresql://evote@db.example.org/evote?PASSWORD=s3cret",
		"host=db.example.org user=evote password=s3cret",
	} {
		if got := pgdb.Redact(dsn); strings.Contains(got, "s3cret") {
			t.Errorf("Redact(%q) = %q", dsn, got)
		}
		// An open that fails says where, never the password.
		bad := strings.Replace(dsn, "db.example.org", "127.0.0.1:1", 1)
		if _, err := postgres.OpenEngine(ctx, bad, nil); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("open of %q: %v", dsn, err)
		}
	}
}
