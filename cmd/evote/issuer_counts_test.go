package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/evote/evote/issuer"
	issuerbolt "github.com/evote/evote/issuer/bolt"
)

// TestIssuerCounts: evote issuer counts prints the roll's numbers and no
// voter ID, with --json as one object; it changes no entry, still answers
// after purge, and says where there is no roll.
func TestIssuerCounts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := "bolt:" + filepath.Join(dir, "issuer-data")
	os.MkdirAll(filepath.Join(dir, "issuer-data"), 0o700)
	r, err := issuerbolt.Open(filepath.Join(dir, "issuer-data", "roll.db"))
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"SOC-1001", "SOC-1002", "SOC-1003"}
	var recs []issuer.RollEntry
	for _, id := range ids {
		recs = append(recs, issuer.RollEntry{VoterID: id})
	}
	if err := r.Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, ids[1], func(e *issuer.RollEntry) error { _, err := e.Issue([]byte("blinded"), []byte("sig")); return err }); err != nil {
		t.Fatal(err)
	}
	entries := func() []issuer.RollEntry {
		t.Helper()
		var out []issuer.RollEntry
		for _, id := range ids {
			e, err := r.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		return out
	}
	before := entries()
	r.Close()

	out, errs, code := evote(t, "issuer", "counts", "--store", store)
	if code != 0 || !strings.Contains(out, "3 eligible voters, 1 tokens issued (33.3%), 2 not issued") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var c issuerCountsJSON
	out, errs, code = evote(t, "issuer", "counts", "--store", store, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	oneObject(t, out, &c, "store", "eligible", "issued", "percent_issued", "purged")
	if c != (issuerCountsJSON{Store: store, Eligible: 3, Issued: 1, Percent: 33.33}) {
		t.Fatalf("%+v", c)
	}
	for _, id := range ids {
		if strings.Contains(out+errs, id) {
			t.Fatalf("a voter ID in the output:\n%s%s", out, errs)
		}
	}
	if r, err = issuerbolt.Open(filepath.Join(dir, "issuer-data", "roll.db")); err != nil {
		t.Fatal(err)
	}
	if after := entries(); !reflect.DeepEqual(after, before) {
		t.Fatalf("counts changed the roll: %+v, before %+v", after, before)
	}
	r.Close()

	if _, errs, code := evote(t, "issuer", "purge", "--store", store); code != 0 {
		t.Fatal(errs)
	}
	out, _, code = evote(t, "issuer", "counts", "--store", store, "--json")
	oneObject(t, out, &c, "store", "eligible", "issued", "percent_issued", "purged")
	if code != 0 || !c.Purged || c.Eligible != 3 || c.Issued != 1 {
		t.Fatalf("after purge: exit %d, %+v", code, c)
	}
	if out, _, _ := evote(t, "issuer", "counts", "--store", store); !strings.Contains(out, "the roll is purged, only its counts remain") {
		t.Fatalf("after purge: %s", out)
	}

	out, errs, code = evote(t, "issuer", "counts", "--store", "bolt:"+filepath.Join(dir, "none"), "--json")
	if code != 1 || out != "" || !strings.Contains(errs, "no roll in") {
		t.Fatalf("no roll: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := evote(t, "issuer", "counts", "--store", "sql:x"); code != 2 {
		t.Fatalf("an unknown engine: exit %d\n%s", code, errs)
	}
}
