package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/note"
)

// boltBoard is an election on a bbolt board in dir, whose log is signed
// by the key in key (age-encrypted, as evote board keygen writes it), with
// three ballots cast; the board's log is closed, as a stopped board's.
type boltBoard struct {
	dir, data, key, vkey string
	secret               []string
	e                    *sim.Election
	voters               []*sim.Voter
	ballots              [][]byte
}

func (b *boltBoard) in(f string) string { return filepath.Join(b.dir, f) }

func newBoltBoard(t *testing.T) *boltBoard {
	t.Helper()
	b := &boltBoard{dir: t.TempDir()}
	os.WriteFile(b.in("pass"), []byte("s3cret\n"), 0o600)
	b.secret = []string{"--passphrase-file", b.in("pass"), "--scrypt-work-factor", "10"}
	b.data, b.key, b.vkey = b.in("board-data"), b.in("board.key"), b.in("board.vkey")
	skey, vkey, err := note.GenerateKey(rand.Reader, "board.test/migrate")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&secret.Keyring{Passphrase: "s3cret", WorkFactor: 10}).WriteFile(b.key, []byte(skey+"\n"), false); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(b.vkey, []byte(vkey+"\n"), 0o644)
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	// The election's log is signed with the key in board.key, not with
	// the one sim makes: the key the commands are given.
	b.e, err = sim.New(sim.Options{Dir: b.data, Issuer: electiontest.Issuer(t),
		OpenLog: func(note.Signer) (store.Log, error) { return bolt.Open(b.data, signer, nil) }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		v, err := b.e.Voter()
		if err != nil {
			t.Fatal(err)
		}
		bl, err := b.e.Ballot(v, []int{0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.e.Board.Cast(t.Context(), bl); err != nil {
			t.Fatal(err)
		}
		b.voters, b.ballots = append(b.voters, v), append(b.ballots, bl)
	}
	b.e.Close()
	return b
}

func (b *boltBoard) cmd(args ...string) []string {
	return append(append([]string(nil), b.secret...), args...)
}

// served starts a board on store, and returns its export (through
// evote board export, checked against the board key) and checkpoint,
// and a client, until the returned stop.
func (b *boltBoard) served(t *testing.T, st, name string) (record, checkpoint []byte, c *boardapi.Client, stop func() error) {
	t.Helper()
	url, _, stop := startServe(t, b.cmd("board", "serve", "--key", b.key, "--store", st, "--listen", "127.0.0.1:0")...)
	out := b.in(name)
	if o, errs, code := evote(t, "board", "export", "--board", url, "--board-key", b.vkey, "--out", out); code != 0 {
		stop()
		t.Fatalf("export from the board on %s: exit %d\n%s%s", st, code, o, errs)
	}
	c = boardapi.NewClient(url, nil)
	cp, err := c.Checkpoint(t.Context(), 0)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return mustRead(t, out), cp, c, stop
}

// tables counts the tables in the database dsn names.
func tables(t *testing.T, dsn string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBoardMigrate: evote board migrate moves a board's log from bbolt to
// PostgreSQL. The board on PostgreSQL serves the same checkpoint and
// export bytes the bbolt one did, and evote board export --store gives
// them too from either store; a ballot cast before the move is refused
// after it, as a second ballot on its token is (the keys came along),
// while a new voter's is taken. A wrong key, and a destination that holds
// a log, are refused and change nothing.
func TestBoardMigrate(t *testing.T) {
	b := newBoltBoard(t)
	dsn := pgtest.NewDatabase(t)
	pg := "postgres:" + dsn

	boltRecord, boltCP, _, stop := b.served(t, "bolt:"+b.data, "bolt.evr")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if o, errs, code := evote(t, b.cmd("board", "export", "--store", "bolt:"+b.data, "--key", b.key, "--out", b.in("bolt-store.evr"))...); code != 0 {
		t.Fatalf("export --store bolt: exit %d\n%s%s", code, o, errs)
	}
	if !bytes.Equal(mustRead(t, b.in("bolt-store.evr")), boltRecord) {
		t.Fatal("export --store bolt:DIR differs from the bbolt board's export")
	}
	boltFile := mustRead(t, filepath.Join(b.data, bolt.FileName))

	// Another key for the same origin: refused, and the database is left
	// without so much as a table.
	other, _, err := note.GenerateKey(rand.Reader, "board.test/migrate")
	if err != nil {
		t.Fatal(err)
	}
	(&secret.Keyring{Passphrase: "s3cret", WorkFactor: 10}).WriteFile(b.in("other.key"), []byte(other+"\n"), false)
	out, errs, code := evote(t, b.cmd("board", "migrate", "--key", b.in("other.key"), "--from", "bolt:"+b.data, "--to", pg)...)
	if code != 1 || !strings.Contains(errs, "is not the log of --key") || !strings.Contains(errs, "open it with its own key") {
		t.Fatalf("migrate with another key: exit %d\n%s%s", code, out, errs)
	}
	if n := tables(t, dsn); n != 0 {
		t.Fatalf("the refused migrate made %d tables in the destination", n)
	}

	out, errs, code = evote(t, b.cmd("board", "migrate", "--key", b.key, "--from", "bolt:"+b.data, "--to", pg)...)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errs)
	}
	size := uint64(0)
	cp, err := store.ParseCheckpoint(boltCP, mustVerifier(t, b.vkey))
	if err != nil {
		t.Fatal(err)
	}
	size = cp.Size
	for _, want := range []string{"entries  ", "keys     ", fmt.Sprintf("tree     %x", cp.Hash[:]), "the same in both", "next: serve the board on it", "--store 'postgres:postgres://"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate's report lacks %q:\n%s", want, out)
		}
	}
	if !bytes.Equal(mustRead(t, filepath.Join(b.data, bolt.FileName)), boltFile) {
		t.Error("migrate changed the bbolt file it copied from")
	}

	// A second migrate into the database now holding the log: refused,
	// naming it, and nothing changes (the exports below are the same).
	out, errs, code = evote(t, b.cmd("board", "migrate", "--key", b.key, "--from", "bolt:"+b.data, "--to", pg)...)
	if code != 1 || !strings.Contains(errs, "--to postgres:") || !strings.Contains(errs, "not empty: it holds a log of") {
		t.Fatalf("migrate into a database holding the log: exit %d\n%s%s", code, out, errs)
	}

	pgRecord, pgCP, c, stop := b.served(t, pg, "pg.evr")
	defer stop()
	if !bytes.Equal(pgCP, boltCP) {
		t.Fatalf("the board on PostgreSQL serves another checkpoint:\n%s\nthe bbolt one:\n%s", pgCP, boltCP)
	}
	if !bytes.Equal(pgRecord, boltRecord) {
		t.Fatal("the board on PostgreSQL exports other bytes than the bbolt one")
	}
	// The export from the database while its board serves.
	if o, errs, code := evote(t, b.cmd("board", "export", "--store", pg, "--key", b.key, "--board-key", b.vkey, "--out", b.in("pg-store.evr"))...); code != 0 || !strings.Contains(o, "checkpoint signed with") {
		t.Fatalf("export --store postgres: exit %d\n%s%s", code, o, errs)
	}
	if !bytes.Equal(mustRead(t, b.in("pg-store.evr")), boltRecord) {
		t.Fatal("export --store postgres:DSN differs from the bbolt board's export")
	}

	// The ballots cast on bbolt are on the board on PostgreSQL: each is
	// refused again, and so is another ballot on its token.
	for i, bl := range b.ballots {
		if _, err := c.Cast(t.Context(), bl); !errors.Is(err, boardapi.ErrAlreadyVoted) {
			t.Fatalf("ballot %d, cast before the move, cast again after it: %v", i, err)
		}
	}
	again, err := b.e.Ballot(b.voters[0], []int{1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Cast(t.Context(), again); !errors.Is(err, boardapi.ErrAlreadyVoted) {
		t.Fatalf("a second ballot on a token used before the move: %v", err)
	}
	if now, err := c.Checkpoint(t.Context(), 0); err != nil || !bytes.Equal(now, boltCP) {
		t.Fatalf("the refused ballots changed the board's checkpoint (%v)", err)
	}
	v, err := b.e.Voter()
	if err != nil {
		t.Fatal(err)
	}
	bl, err := b.e.Ballot(v, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.Cast(t.Context(), bl)
	if err != nil || rc.Index != size {
		t.Fatalf("a new voter's ballot after the move: %+v, %v; want entry %d", rc, err, size)
	}
}

func mustVerifier(t *testing.T, path string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(strings.TrimSpace(string(mustRead(t, path))))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBoardMigrateUsage: migrate needs both stores, and two different
// ones; export takes a running board or a store, not both, and --key goes
// with --store.
func TestBoardMigrateUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"board", "migrate", "--to", "postgres:postgres://127.0.0.1/x"}, "--from bolt:DIR --to postgres:DSN"},
		{[]string{"board", "migrate", "--from", "bolt:a", "--to", "bolt:a"}, "--from and --to are the same store"},
		{[]string{"board", "migrate", "--from", "bolt:a", "--to", "mysql:x"}, `no storage engine "mysql"`},
		{[]string{"board", "export", "--board", "http://127.0.0.1:1", "--store", "bolt:a"}, "not both"},
		{[]string{"board", "export", "--board", "http://127.0.0.1:1", "--key", "board.key"}, "--key goes with --store"},
	} {
		_, errs, code := evote(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("evote %s: exit %d, want 2 and %q:\n%s", strings.Join(tc.args, " "), code, tc.want, errs)
		}
	}
	// A store with no log: nothing to export, and nothing made.
	dir := filepath.Join(t.TempDir(), "none")
	_, errs, code := evote(t, "--passphrase-file", "/nonexistent", "board", "export", "--store", "bolt:"+dir)
	if code == 0 {
		t.Fatalf("export --store of no store: exit 0\n%s", errs)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("export --store of no store made %s", dir)
	}
}
