package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
	"github.com/evote/evote/store/bolt"
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
		{[]string{"board", "serve", "--store", "postgres:host=db dbname=evote"}, `no storage engine "postgres"; the engines are bolt:DIR`},
		{[]string{"board", "serve", "--store", "board-data"}, "names no engine; write ENGINE:WHERE, one of bolt:DIR"},
		{[]string{"board", "serve", "--store", "bolt:"}, "say where, as bolt:DIR"},
		{[]string{"board", "serve", "--store", "bolt:a", "--data", "b"}, "give --store or --data, not both"},
		{[]string{"issuer", "serve", "--store", "sqlite:roll.db"}, `no storage engine "sqlite"; the engines are bolt:DIR`},
		{[]string{"issuer", "purge", "--store", "nowhere"}, "names no engine"},
	} {
		_, errs, code := evote(t, tc.args...)
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
