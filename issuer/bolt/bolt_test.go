package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/bolt"
)

var ctx = context.Background()

func open(t testing.TB) (*bolt.Roll, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roll.db")
	r, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return r, path
}

// TestRollConformance runs the issuer.Roll contract on this roll and, as
// the reference, on issuer.MemRoll.
func TestRollConformance(t *testing.T) {
	for _, name := range []string{"mem", "bolt"} {
		t.Run(name, func(t *testing.T) {
			var roll issuer.Roll = issuer.NewMemRoll()
			if name == "bolt" {
				roll, _ = open(t)
			}
			defer roll.Close()
			h, err := issuer.HashCode("00000-00000-00000-00000")
			if err != nil {
				t.Fatal(err)
			}
			if err := roll.Add(ctx, []issuer.Record{{VoterID: "a", Code: h}, {VoterID: "b", Code: h}}); err != nil {
				t.Fatal(err)
			}
			if err := roll.Add(ctx, []issuer.Record{{VoterID: "c"}, {VoterID: "a"}}); !errors.Is(err, issuer.ErrDuplicateVoter) {
				t.Fatalf("duplicate Add: %v", err)
			}
			if err := roll.Add(ctx, []issuer.Record{{VoterID: "d"}, {VoterID: "d"}}); !errors.Is(err, issuer.ErrDuplicateVoter) {
				t.Fatalf("duplicate within Add: %v", err)
			}
			if _, err := roll.Get(ctx, "c"); !errors.Is(err, issuer.ErrUnknownVoter) {
				t.Fatalf("failed Add was not all-or-nothing: %v", err)
			}
			rec, err := roll.Get(ctx, "a")
			if err != nil || !rec.Code.Verify("0000000000000000000O") || rec.Code.Verify("00000000000000000001") {
				t.Fatalf("Get(a) = %+v, %v", rec, err)
			}
			for i := 1; i <= 3; i++ {
				if n, err := roll.AddFailure(ctx, "a"); n != i || err != nil {
					t.Fatalf("AddFailure = %d, %v; want %d", n, err, i)
				}
			}
			if err := roll.ResetFailures(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if rec, _ := roll.Get(ctx, "a"); rec.Failures != 0 {
				t.Fatalf("failures after reset = %d", rec.Failures)
			}
			s, err := roll.SetIssued(ctx, "a", []byte("b1"), []byte("s1"))
			if err != nil || string(s) != "s1" {
				t.Fatalf("SetIssued = %q, %v", s, err)
			}
			if s, err := roll.SetIssued(ctx, "a", []byte("b1"), []byte("s1-other")); err != nil || string(s) != "s1" {
				t.Fatalf("SetIssued again = %q, %v; want the stored s1", s, err)
			}
			if _, err := roll.SetIssued(ctx, "a", []byte("b2"), []byte("s2")); !errors.Is(err, issuer.ErrAlreadyIssued) {
				t.Fatalf("SetIssued other = %v", err)
			}
			for _, op := range []func() error{
				func() error { _, err := roll.Get(ctx, "zz"); return err },
				func() error { _, err := roll.AddFailure(ctx, "zz"); return err },
				func() error { return roll.ResetFailures(ctx, "zz") },
				func() error { _, err := roll.SetIssued(ctx, "zz", []byte("b"), []byte("s")); return err },
			} {
				if err := op(); !errors.Is(err, issuer.ErrUnknownVoter) {
					t.Fatalf("unknown voter: %v", err)
				}
			}
			if c, err := roll.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: 2, Issued: 1}) {
				t.Fatalf("Counts = %+v, %v", c, err)
			}
			if c, err := roll.Purge(ctx); err != nil || c != (issuer.Counts{Eligible: 2, Issued: 1, Purged: true}) {
				t.Fatalf("Purge = %+v, %v", c, err)
			}
			if _, err := roll.Get(ctx, "a"); !errors.Is(err, issuer.ErrPurged) {
				t.Fatalf("Get after purge: %v", err)
			}
			if err := roll.Add(ctx, []issuer.Record{{VoterID: "late"}}); !errors.Is(err, issuer.ErrPurged) {
				t.Fatalf("Add after purge: %v", err)
			}
		})
	}
}

// TestAttackConcurrentSecondToken: many requests for one voter with
// different blinded messages race; exactly one is signed.
func TestAttackConcurrentSecondToken(t *testing.T) {
	roll, _ := open(t)
	defer roll.Close()
	if err := roll.Add(ctx, []issuer.Record{{VoterID: "v"}}); err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = roll.SetIssued(ctx, "v", fmt.Appendf(nil, "blinded-%d", i), []byte("sig"))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, issuer.ErrAlreadyIssued):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if c, _ := roll.Counts(ctx); won != 1 || c.Issued != 1 {
		t.Fatalf("%d of %d different blinded messages signed (counts %+v), want 1", won, n, c)
	}
}

// TestPersists: what was issued, and the failure count, survive a reopen;
// a purge leaves no voter id in the file and its counts survive a reopen.
func TestPersists(t *testing.T) {
	roll, path := open(t)
	ids := []string{"voter-000001", "voter-000002"}
	if err := roll.Add(ctx, []issuer.Record{{VoterID: ids[0]}, {VoterID: ids[1]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := roll.SetIssued(ctx, ids[0], []byte("b1"), []byte("s1")); err != nil {
		t.Fatal(err)
	}
	if _, err := roll.AddFailure(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	roll.Close()
	roll, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := roll.SetIssued(ctx, ids[0], []byte("b1"), []byte("other")); err != nil || string(s) != "s1" {
		t.Fatalf("after reopen, the same blinded message gives %q, %v; want the stored s1", s, err)
	}
	if _, err := roll.SetIssued(ctx, ids[0], []byte("b2"), []byte("s2")); !errors.Is(err, issuer.ErrAlreadyIssued) {
		t.Fatalf("after reopen, another blinded message: %v", err)
	}
	if rec, _ := roll.Get(ctx, ids[1]); rec.Failures != 1 {
		t.Fatalf("failures after reopen = %d, want 1", rec.Failures)
	}
	c, err := roll.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if bytes.Contains(data, []byte(id)) {
			t.Fatalf("purged roll file still contains voter %q", id)
		}
	}
	roll.Close()
	again, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if c2, err := again.Counts(ctx); err != nil || c2 != c {
		t.Fatalf("counts after reopen = %+v, %v; want %+v", c2, err, c)
	}
	if _, err := again.Get(ctx, ids[0]); !errors.Is(err, issuer.ErrPurged) {
		t.Fatalf("Get after reopen: %v, want ErrPurged", err)
	}
}

// BenchmarkSetIssued: concurrent issuances, each a durable write, sharing
// fsyncs by group commit.
func BenchmarkSetIssued(b *testing.B) {
	roll, _ := open(b)
	defer roll.Close()
	recs := make([]issuer.Record, b.N)
	for i := range recs {
		recs[i].VoterID = fmt.Sprintf("v%d", i)
	}
	if err := roll.Add(ctx, recs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var mu sync.Mutex
	next := 0
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i := next
			next++
			mu.Unlock()
			if _, err := roll.SetIssued(ctx, recs[i].VoterID, []byte("b"), []byte("s")); err != nil {
				panic(err)
			}
		}
	})
}
