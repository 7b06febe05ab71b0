package loadtest_test

import (
	"context"
	"testing"

	"github.com/evote/evote/cmd/evote/internal/loadtest"
)

func start(t *testing.T, n int) *loadtest.Local {
	site, err := loadtest.StartLocal(context.Background(), n, n, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Stop)
	return site
}

func TestRun(t *testing.T) {
	site := start(t, 40)
	before, _ := site.Election.Log.Size()
	rep, err := loadtest.Run(context.Background(), site.Config)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ballots != 40 || rep.Errors != 0 || rep.Tokens != 40 {
		t.Fatalf("report %+v: want 40 tokens, 40 ballots, no errors", rep)
	}
	if after, _ := site.Election.Log.Size(); after != before+40 {
		t.Fatalf("board grew by %d entries, want 40", after-before)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.P999 < rep.P99 {
		t.Fatalf("percentiles out of order: %v %v %v", rep.P50, rep.P99, rep.P999)
	}
	// A second run with the same voters: the issuer refuses their second
	// tokens (each asks with a fresh blinded message), so nothing is cast.
	if _, err := loadtest.Run(context.Background(), site.Config); err == nil {
		t.Fatal("a second run with the same roll got tokens again")
	}
	if after, _ := site.Election.Log.Size(); after != before+40 {
		t.Fatal("the refused second run changed the board")
	}
}

func TestFixedRate(t *testing.T) {
	site := start(t, 20)
	cfg := site.Config
	cfg.Rate = 100
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 20 ballots released at 100/s take at least 0.19 s.
	if rep.Errors != 0 || rep.CastSeconds < 0.19 {
		t.Fatalf("report %+v: want no errors and at least 0.19 s of casting", rep)
	}
}

// TestHold holds 200 idle keep-alive connections against the board while
// casting; every one is still held and answering at the end.
func TestHold(t *testing.T) {
	site := start(t, 20)
	cfg := site.Config
	cfg.Hold = 200
	rep, err := loadtest.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Held != 200 || rep.HoldErrors != 0 {
		t.Fatalf("report %+v: want 200 held, no errors", rep)
	}
}
