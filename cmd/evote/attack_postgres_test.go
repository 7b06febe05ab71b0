package main

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/jackc/pgx/v5"
	bbolt "go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
)

// The attacks on the commands that move a board's log or take its record
// from a database: a damaged source, the wrong key, and passwords in
// every message.

// logRows counts the entries and keys the board's log in dsn holds (0, 0
// if it has no tables).
func logRows(t *testing.T, dsn string) (leaves, keys int) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT to_regclass('log_leaves') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return 0, 0
	}
	if err := conn.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM log_leaves), (SELECT count(*) FROM log_keys)").Scan(&leaves, &keys); err != nil {
		t.Fatal(err)
	}
	return leaves, keys
}

// TestAttackMigrateDamagedSource: a bbolt log whose ballot entry was
// altered on disk (its stored hashes no longer those of its leaf) is not
// moved: migrate says the source is damaged, the database holds no entry
// and no key, and the bbolt file is left as it was.
func TestAttackMigrateDamagedSource(t *testing.T) {
	b := newBoltBoard(t)
	path := filepath.Join(b.data, bolt.FileName)
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		lb := tx.Bucket([]byte("leaves"))
		c := lb.Cursor()
		k, v := c.Last() // the last ballot
		if k == nil || store.EntryType(v[0]) != store.Ballot {
			return errors.New("the last entry is not a ballot")
		}
		w := append([]byte(nil), v...)
		w[len(w)/2] ^= 1
		return lb.Put(k, w)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	before := mustRead(t, path)
	dsn := pgtest.NewDatabase(t)
	out, errs, code := evote(t, b.cmd("board", "migrate", "--key", b.key, "--from", "bolt:"+b.data, "--to", "postgres:"+dsn)...)
	if code != 1 || !strings.Contains(errs, "damaged") {
		t.Fatalf("migrate of a damaged log: exit %d\n%s%s", code, out, errs)
	}
	if l, k := logRows(t, dsn); l != 0 || k != 0 {
		t.Fatalf("the refused migrate left %d entries and %d keys in the database", l, k)
	}
	if string(mustRead(t, path)) != string(before) {
		t.Fatal("migrate changed the bbolt file")
	}
}

// TestAttackExportStoreWrongKey: board export --store signs the record's
// checkpoint with --key, so another key (even of the board's own name)
// is refused, as is a published --board-key the record is not signed by;
// neither writes a file.
func TestAttackExportStoreWrongKey(t *testing.T) {
	b := newBoltBoard(t)
	dsn := pgtest.NewDatabase(t)
	pg := "postgres:" + dsn
	if out, errs, code := evote(t, b.cmd("board", "migrate", "--key", b.key, "--from", "bolt:"+b.data, "--to", pg)...); code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errs)
	}
	other, otherV, err := note.GenerateKey(rand.Reader, "board.test/migrate")
	if err != nil {
		t.Fatal(err)
	}
	(&secret.Keyring{Passphrase: "s3cret", WorkFactor: 10}).WriteFile(b.in("other.key"), []byte(other+"\n"), false)
	os.WriteFile(b.in("other.vkey"), []byte(otherV+"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--key", b.in("other.key")}, "is not the log of --key"},
		{[]string{"--key", b.key, "--board-key", b.in("other.vkey")}, "is not signed by the board's key"},
	} {
		outFile := b.in("record.evr")
		args := append([]string{"board", "export", "--store", pg, "--out", outFile}, tc.args...)
		out, errs, code := evote(t, b.cmd(args...)...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("export %v: exit %d, want 1 and %q\n%s%s", tc.args, code, tc.want, out, errs)
		}
		if _, err := os.Stat(outFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("export %v wrote %s", tc.args, outFile)
		}
		if strings.Contains(errs, "s3cret") {
			t.Errorf("the error holds the passphrase:\n%s", errs)
		}
	}
}

// TestAttackStorePasswords: a password in a --store value, however the
// DSN gives it (the URL's user part, a password= parameter, a key=value
// DSN with or without the engine, an engine misspelt), appears in no
// message of any command that takes --store, whether it refuses the value
// or fails to connect.
func TestAttackStorePasswords(t *testing.T) {
	const pw = "Pa55w0rd-xyz"
	// A board key the commands can read, so that they get as far as the
	// database.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pass"), []byte("s3cret\n"), 0o600)
	key := filepath.Join(dir, "board.key")
	skey, _, err := note.GenerateKey(rand.Reader, "board.test/pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&secret.Keyring{Passphrase: "s3cret", WorkFactor: 10}).WriteFile(key, []byte(skey+"\n"), false); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none")
	for _, spec := range []string{
		"postgres:postgres://evote:" + pw + "@127.0.0.1:1/evote",
		"postgres://evote:" + pw + "@127.0.0.1:1/evote",
		"postgres:postgres://evote@127.0.0.1:1/evote?password=" + pw,
		"postgres:postgres://evote@127.0.0.1:1/evote?sslmode=disable&sslpassword=" + pw,
		"postgres:host=127.0.0.1 port=1 user=evote password=" + pw,
		"host=127.0.0.1 port=1 user=evote password=" + pw,
		"postgresql:host=127.0.0.1 port=1 password=" + pw,
		"pg:postgres://evote:" + pw + "@127.0.0.1:1/evote",
	} {
		for _, args := range [][]string{
			{"board", "export", "--store", spec, "--key", key, "--out", filepath.Join(dir, "r.evr")},
			{"board", "migrate", "--key", key, "--from", spec, "--to", "bolt:" + none},
			{"board", "migrate", "--key", key, "--from", spec, "--to", spec},
			{"issuer", "migrate", "--from", "bolt:" + none, "--to", spec},
			{"issuer", "counts", "--store", spec},
		} {
			out, errs, code := evote(t, append([]string{"--passphrase-file", filepath.Join(dir, "pass"), "--scrypt-work-factor", "10"}, args...)...)
			if code == 0 {
				t.Errorf("evote %s: exit 0", strings.Join(args, " "))
			}
			if strings.Contains(out+errs, pw) {
				t.Errorf("evote %s prints the password:\n%s%s", strings.Join(args, " "), out, errs)
			}
		}
	}
}

// TestAttackMigrateIntoServedLog: a database a board is serving (its log
// holds the manifest and more) is refused as a destination, naming it,
// and nothing is added to it.
func TestAttackMigrateIntoServedLog(t *testing.T) {
	b := newBoltBoard(t)
	dsn := pgtest.NewDatabase(t)
	pg := "postgres:" + dsn
	if out, errs, code := evote(t, b.cmd("board", "migrate", "--key", b.key, "--from", "bolt:"+b.data, "--to", pg)...); code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errs)
	}
	_, _, _, stop := b.served(t, pg, "served.evr")
	defer stop()
	l0, k0 := logRows(t, dsn)
	// Another election's bbolt log, of another key, and this board's own.
	c := newBoltBoard(t)
	for _, src := range []*boltBoard{c, b} {
		out, errs, code := evote(t, src.cmd("board", "migrate", "--key", src.key, "--from", "bolt:"+src.data, "--to", pg)...)
		if code != 1 || !strings.Contains(errs, "--to postgres:") {
			t.Fatalf("migrate into a served log: exit %d\n%s%s", code, out, errs)
		}
	}
	if l, k := logRows(t, dsn); l != l0 || k != k0 {
		t.Fatalf("the served log went from %d entries and %d keys to %d and %d", l0, k0, l, k)
	}
}
