package bench

import (
	"context"
	"os"
	"testing"

	"github.com/evote/evote/verify"
)

// TestRun runs a small bench end to end: every figure is measured and
// positive, and the election it runs verifies (Run fails otherwise).
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole election")
	}
	rep, err := Run(context.Background(), Options{Ballots: 60, Runs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.FloorMicros <= 0 || rep.CastBallotsPerS <= 0 || rep.VerifyBallotsPerS <= 0 || rep.IssueTokensPerS <= 0 || rep.TallySeconds <= 0 ||
		rep.IssueTokensEmailPerS <= 0 || rep.IssueTokensTOTPPerS <= 0 || rep.BlindSignOverSignPSS <= 0 {
		t.Fatalf("a figure is missing: %+v", rep)
	}
	want := []string{"encrypt_and_prove_1of2", "ballot_verify_1of2", "batch_verify_1of2", "token_issue", "rsa_sign_pss", "token_verify", "partial_decrypt", "combine_2of3", "board_append"}
	if len(rep.Primitives) != len(want) {
		t.Fatalf("%d primitives, want %d", len(rep.Primitives), len(want))
	}
	for i, f := range rep.Primitives {
		if f.Name != want[i] || f.Median <= 0 || f.Min > f.Median || f.Max < f.Median {
			t.Errorf("figure %d: %+v", i, f)
		}
	}
}

func TestMakeRecord(t *testing.T) {
	path := t.TempDir() + "/r.evr"
	vkey, _, err := MakeRecord(context.Background(), path, 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, err := verify.BoardKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := verify.Record(f, key, verify.Options{})
	if err != nil || !rep.OK || rep.Counted != 30 {
		t.Fatalf("the made record: %v (%d counted)", err, rep.Counted)
	}
}
