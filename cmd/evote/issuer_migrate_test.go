package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	issuerpg "github.com/evote/evote/issuer/postgres"
)

// TestIssuerMigrate: evote issuer migrate moves a bbolt roll, on which a
// token was issued and a wrong code counted, into PostgreSQL. The counts
// come out the same, and so do the entries, the election binding and the
// contacts noted; the issuer started on the database (without --roll)
// gives the voter who had a token that same one again and no other, and
// a token to a voter who had none. A database bound to another election,
// one that holds a roll, and a purged bbolt roll are refused, and a
// refusal adds no voter.
func TestIssuerMigrate(t *testing.T) {
	ctx := context.Background()
	w := newIssuerWorkdir(t)
	w.keygen("issuer")
	w.election("E", "issuer", "e.json")
	w.must("issuer", "roll", "--voters", "3", "--out", w.in("roll.csv"))
	lines, err := csv.NewReader(strings.NewReader(string(mustRead(t, w.in("roll.csv"))))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var ids, codes []string
	for _, l := range lines[1:] {
		ids, codes = append(ids, l[0]), append(codes, l[1])
	}
	contacts := "voter_id,email,phone,lang\n"
	for _, id := range ids {
		contacts += id + "," + id + "@example.org,,en\n"
	}
	os.WriteFile(w.in("contacts.csv"), []byte(contacts), 0o600)
	m, err := ballot.ParseManifest(mustRead(t, w.in("e.json")))
	if err != nil {
		t.Fatal(err)
	}
	blinded := func(b byte) []byte {
		x := make([]byte, m.Issuer().Size())
		x[len(x)-1] = b
		return x
	}
	boltDir := w.in("issuer-data")
	serve := func(st string, extra ...string) []string {
		return append(append(w.sec(), "issuer", "serve", "--key", w.in("issuer.key"), "--election", w.in("e.json"),
			"--store", st, "--listen", "127.0.0.1:0"), extra...)
	}
	url, _, stop := startServe(t, serve("bolt:"+boltDir, "--roll", w.in("roll.csv"), "--contacts", w.in("contacts.csv"))...)
	c := issuerapi.NewClient(url, nil)
	sig, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: ids[0], Code: codes[0]}, blinded(1))
	if err != nil {
		t.Fatal(err)
	}
	wrong := []byte(codes[1]) // of the code's form, one letter off
	if wrong[0] == 'A' {
		wrong[0] = 'B'
	} else {
		wrong[0] = 'A'
	}
	if _, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: ids[1], Code: string(wrong)}, blinded(2)); err == nil {
		t.Fatal("a wrong code got a token")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	countsOf := func(st string) issuer.Counts {
		t.Helper()
		var n issuer.Counts
		if err := json.Unmarshal([]byte(w.must("issuer", "counts", "--store", st, "--json")), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := countsOf("bolt:" + boltDir)
	if want != (issuer.Counts{Eligible: 3, Issued: 1}) {
		t.Fatalf("the bbolt roll's counts: %+v", want)
	}

	// A database whose roll is bound to another election: refused, and no
	// voter added.
	other := pgtest.NewDatabase(t)
	r, err := issuerpg.Open(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Bind(ctx, "election another\nissuing key another\n"); err != nil {
		t.Fatal(err)
	}
	out, errs, code := evote(t, "issuer", "migrate", "--from", "bolt:"+boltDir, "--to", "postgres:"+other)
	if code != 1 || !strings.Contains(errs, "is bound to another election or key") {
		t.Fatalf("migrate into a roll of another election: exit %d\n%s%s", code, out, errs)
	}
	if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{}) {
		t.Fatalf("after the refused migrate the other roll counts %+v (%v)", c, err)
	}
	r.Close()

	dsn := pgtest.NewDatabase(t)
	pg := "postgres:" + dsn
	out, errs, code = evote(t, "issuer", "migrate", "--from", "bolt:"+boltDir, "--to", pg)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, out, errs)
	}
	for _, s := range []string{"voters         3", "tokens issued  1", "bound to       election " + m.ElectionID, "contacts       3 noted", "evote issuer serve", "evote issuer purge --store bolt:"} {
		if !strings.Contains(out, s) {
			t.Errorf("migrate's report lacks %q:\n%s", s, out)
		}
	}
	for _, id := range ids {
		if strings.Contains(out+errs, id) {
			t.Errorf("migrate printed voter ID %s:\n%s%s", id, out, errs)
		}
	}
	if got := countsOf(pg); got != want {
		t.Fatalf("the database's roll counts %+v, the bbolt roll %+v", got, want)
	}

	// Into the database now holding the roll: refused, nothing added.
	out, errs, code = evote(t, "issuer", "migrate", "--from", "bolt:"+boltDir, "--to", pg)
	if code != 1 || !strings.Contains(errs, "--to postgres:") || !strings.Contains(errs, "is not empty: it holds a roll of 3 voters") {
		t.Fatalf("a second migrate: exit %d\n%s%s", code, out, errs)
	}
	if got := countsOf(pg); got != want {
		t.Fatalf("after the refused migrate the roll counts %+v, want %+v", got, want)
	}
	r, err = issuerpg.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	boltBinding := string(mustRead(t, filepath.Join(boltDir, "election")))
	if stored, err := r.Bind(ctx, "election another\nissuing key another\n"); err != nil || stored != boltBinding {
		t.Fatalf("the database's binding: %q (%v), want the bbolt roll's %q", stored, err, boltBinding)
	}
	if n, err := r.ContactsNoted(ctx); err != nil || n != 3 {
		t.Fatalf("contacts noted in the database: %d, %v", n, err)
	}
	e, err := r.Get(ctx, ids[1])
	if err != nil || e.Failures != 1 || e.Contact == nil || e.Issued() {
		t.Fatalf("the voter with a wrong code, in the database: %+v, %v", e, err)
	}

	// The issuer on the database: the binding came along (it starts for
	// this election), the token issued is given again and no other.
	url, _, stop = startServe(t, serve(pg)...)
	defer stop()
	c = issuerapi.NewClient(url, nil)
	again, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: ids[0], Code: codes[0]}, blinded(1))
	if err != nil || string(again) != string(sig) {
		t.Fatalf("the voter's first request again, after the move: %v (same signature: %v)", err, string(again) == string(sig))
	}
	if _, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: ids[0], Code: codes[0]}, blinded(3)); !errors.Is(err, issuerapi.ErrAlreadyIssued) {
		t.Fatalf("a second token for the voter who had one before the move: %v", err)
	}
	if _, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: ids[2], Code: codes[2]}, blinded(4)); err != nil {
		t.Fatalf("a voter with no token before the move: %v", err)
	}

	// A purged bbolt roll: refused, before the database is touched.
	w.must("issuer", "purge", "--store", "bolt:"+boltDir)
	empty := pgtest.NewDatabase(t)
	out, errs, code = evote(t, "issuer", "migrate", "--from", "bolt:"+boltDir, "--to", "postgres:"+empty)
	if code != 1 || !strings.Contains(errs, "was purged after its election") || !strings.Contains(errs, "3 eligible voters, 1 tokens issued") {
		t.Fatalf("migrate of a purged roll: exit %d\n%s%s", code, out, errs)
	}
	if n := tables(t, empty); n != 0 {
		t.Fatalf("the refused migrate made %d tables", n)
	}
}

// TestIssuerMigrateUsage: migrate moves bbolt into PostgreSQL, and needs
// both; a store with no roll has nothing to move.
func TestIssuerMigrateUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"issuer", "migrate", "--from", "bolt:" + dir}, "--from bolt:DIR --to postgres:DSN"},
		{[]string{"issuer", "migrate", "--from", "bolt:" + dir, "--to", "bolt:" + dir + "/b"}, "moves a bbolt roll into PostgreSQL"},
		{[]string{"issuer", "migrate", "--from", "postgres:postgres://127.0.0.1/a", "--to", "postgres:postgres://127.0.0.1/b"}, "moves a bbolt roll into PostgreSQL"},
	} {
		_, errs, code := evote(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("evote %s: exit %d, want 2 and %q:\n%s", strings.Join(tc.args, " "), code, tc.want, errs)
		}
	}
	_, errs, code := evote(t, "issuer", "migrate", "--from", "bolt:"+filepath.Join(dir, "none"), "--to", "postgres:postgres://127.0.0.1:1/x")
	if code != 1 || !strings.Contains(errs, "no roll in bolt:") {
		t.Errorf("migrate of no roll: exit %d\n%s", code, errs)
	}
}
