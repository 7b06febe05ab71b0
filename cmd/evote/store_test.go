package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/store/bolt"
	"github.com/jackc/pgx/v5"
)

// TestStoreFlag: --store picks the engine, --data DIR is --store bolt:DIR,
// and a store that names no engine, or one there is not, is a usage error
// that says which engines there are.
func TestStoreFlag(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"board", "serve", "--store", "mysql://u:s3cret@db/evote"}, `no storage engine "mysql"; the engines are bolt:DIR`},
		{[]string{"board", "serve", "--store", "postgres:"}, "say where, as bolt:DIR or postgres:DSN"},
		{[]string{"issuer", "serve", "--store", "postgres:postgres://127.0.0.1/x", "--db-pool", "-1"}, "--db-pool -1: give a number of connections"},
		{[]string{"board", "serve", "--store", "postgres://127.0.0.1/x", "--db-pool", "-1"}, "--db-pool -1: give a number of connections"},
		{[]string{"board", "serve", "--store", "board-data"}, "names no engine; write ENGINE:WHERE, one of bolt:DIR"},
		{[]string{"board", "serve", "--store", "bolt:"}, "say where, as bolt:DIR"},
		{[]string{"board", "serve", "--store", "bolt:a", "--data", "b"}, "give --store or --data, not both"},
		{[]string{"issuer", "serve", "--store", "sqlite:roll.db"}, `no storage engine "sqlite"; the engines are bolt:DIR`},
		{[]string{"issuer", "purge", "--store", "nowhere"}, "names no engine"},
	} {
		_, errs, code := evote(t, tc.args...)
		if strings.Contains(errs, "s3cret") {
			t.Errorf("evote %s prints the password:\n%s", strings.Join(tc.args, " "), errs)
		}
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("evote %s: exit %d, want 2 and %q:\n%s", strings.Join(tc.args, " "), code, tc.want, errs)
		}
	}

	// The board opens its log where --store says.
	t.Setenv("EVOTE_PASSPHRASE", "s3cret")
	key := filepath.Join(dir, "board.key")
	if _, errs, code := evote(t, "board", "keygen", "--key", key, "--vkey", filepath.Join(dir, "board.vkey"), "--origin", "evote.example/store-test"); code != 0 {
		t.Fatal(errs)
	}
	logDir := filepath.Join(dir, "log")
	_, errs, code := evote(t, "board", "serve", "--key", key, "--store", "bolt:"+logDir)
	if code != 2 || !strings.Contains(errs, "a new board needs --manifest") {
		t.Fatalf("a new board without a manifest: exit %d:\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(logDir, bolt.FileName)); err != nil {
		t.Fatalf("--store bolt:DIR made no log in DIR: %v", err)
	}

	// The issuer's roll: --store bolt:DIR and --data DIR are one store.
	rollDir := filepath.Join(dir, "roll")
	os.MkdirAll(rollDir, 0o700)
	r, err := issuerbolt.Open(filepath.Join(rollDir, "roll.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(context.Background(), []issuer.RollEntry{{VoterID: "v1"}, {VoterID: "v2"}}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, errs, code := evote(t, "issuer", "purge", "--store", "bolt:"+filepath.Join(dir, "typo")); code != 1 || !strings.Contains(errs, "no roll in bolt:") {
		t.Fatalf("purging a store with no roll: exit %d:\n%s", code, errs)
	}
	out, errs, code := evote(t, "issuer", "purge", "--store", "bolt:"+rollDir)
	if code != 0 || !strings.Contains(out, "purged the roll in bolt:"+rollDir+": 2 eligible voters") {
		t.Fatalf("purge --store: exit %d:\n%s%s", code, out, errs)
	}
	out, errs, code = evote(t, "issuer", "purge", "--data", rollDir)
	if code != 0 || !strings.Contains(out, "purged the roll in bolt:"+rollDir+": 2 eligible voters") {
		t.Fatalf("purge --data, the same store: exit %d:\n%s%s", code, out, errs)
	}
}

// TestStorePostgres: --store postgres:DSN (or the DSN alone) keeps the
// issuer's roll in PostgreSQL; messages name the database without its
// password; and a roll in a database is bound to its election as a bbolt
// roll is: a trial's roll is not served as the real election's.
func TestStorePostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	// A password in the DSN is never printed (the test server trusts
	// loopback, so any password connects).
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword("postgres", "s3cret")
	withPass := u.String()
	for _, spec := range []string{"postgres:" + withPass, withPass} {
		out, errs, code := evote(t, "issuer", "counts", "--store", spec)
		if code != 1 || !strings.Contains(errs, "no roll in postgres:") || strings.Contains(out+errs, "s3cret") {
			t.Fatalf("counts of an empty database: exit %d:\n%s%s", code, out, errs)
		}
	}

	w := newIssuerWorkdir(t)
	for _, e := range []string{"trial", "real"} {
		w.keygen(e)
		w.election(e, e, e+".json")
		w.must("issuer", "roll", "--voters", "3", "--out", w.in(e+".csv"))
	}
	serve := func(e string) []string {
		return append(w.sec(), "issuer", "serve", "--key", w.in(e+".key"), "--election", w.in(e+".json"),
			"--roll", w.in(e+".csv"), "--store", "postgres:"+withPass, "--db-pool", "2", "--listen", "127.0.0.1:0")
	}
	serveOnce(t, serve("trial")...)
	out := w.must("issuer", "counts", "--store", "postgres:"+withPass)
	if !strings.Contains(out, "3") || strings.Contains(out, "s3cret") {
		t.Fatalf("counts of the trial roll:\n%s", out)
	}
	_, errs, code := evote(t, serve("real")...)
	if code == 0 || !strings.Contains(errs, "belongs to another election or key") || strings.Contains(errs, "s3cret") {
		t.Fatalf("the real election on the trial's roll: exit %d\n%s", code, errs)
	}
	if out2 := w.must("issuer", "counts", "--store", "postgres:"+withPass); out2 != out {
		t.Fatalf("the refused start changed the roll's counts:\n%s\nthen\n%s", out, out2)
	}
	serveOnce(t, serve("trial")...) // its own election again: fine

	// A purge while an issuer serves the roll is refused (a bbolt roll's
	// file lock refuses it too), and purges once the issuer has stopped.
	ctx, cancel := context.WithCancel(context.Background())
	ready := &syncWriter{ready: make(chan string, 1)}
	root := newRoot(ready, &syncWriter{})
	root.SetArgs(serve("trial"))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	select {
	case <-ready.ready:
	case err := <-done:
		t.Fatalf("issuer serve: %v", err)
	}
	_, errs, code = evote(t, "issuer", "purge", "--store", "postgres:"+withPass)
	cancel()
	<-done
	if code != 1 || !strings.Contains(errs, "stop every evote issuer serve on it first") {
		t.Fatalf("a purge while the issuer serves: exit %d\n%s", code, errs)
	}
	if out := w.must("issuer", "purge", "--store", "postgres:"+withPass); !strings.Contains(out, "purged the roll") {
		t.Fatalf("a purge once the issuer stopped:\n%s", out)
	}
}

// TestDemoPostgres: evote demo --store postgres:DSN runs the whole demo
// election with the board's log and the issuer's roll in the database:
// the entries and the voters are there, and a second demo on the same
// database is refused (it is another election's log), naming what to do.
func TestDemoPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	out, errs, code := evote(t, "demo", "--voters", "20", "--dir", t.TempDir(), "--store", "postgres:"+dsn)
	if code != 0 || !strings.Contains(out, "20 ballots counted") || !strings.Contains(out, "verified: every check holds") {
		t.Fatalf("demo on PostgreSQL: exit %d\n%s%s", code, out, errs)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ballots, voters int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM log_leaves WHERE get_byte(leaf, 0) = 3").Scan(&ballots)
	conn.QueryRow(context.Background(), "SELECT count(*) FROM roll_voters WHERE NOT decoy").Scan(&voters)
	if ballots != 20 || voters != 20 {
		t.Fatalf("the database holds %d ballots and %d voters, want 20 and 20", ballots, voters)
	}
	_, errs, code = evote(t, "demo", "--voters", "2", "--dir", t.TempDir(), "--store", "postgres:"+dsn)
	if code == 0 || !strings.Contains(errs, "database of its own") {
		t.Fatalf("a second demo on the same database: exit %d\n%s", code, errs)
	}
	if _, _, code := evote(t, "demo", "--store", "bolt:x"); code != 2 {
		t.Fatalf("demo --store bolt: exit %d, want 2", code)
	}
}
