package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/postgres"
	"github.com/evote/evote/store/storetest"
	"golang.org/x/mod/sumdb/tlog"
)

// heldEngine times each Update of the engine it wraps: the wait for the
// sequencer (from the call until fn starts, which is once the log_meta
// row lock is taken) and its hold (from then until the commit returned),
// split in two: fn, the Log's work under the lock (the group's keys
// prefetched, the checks, the tree's hashes), and what follows it, the
// group's writes sent in one batch and the commit with its WAL fsync.
type heldEngine struct {
	store.Engine
	groups                    atomic.Int64
	wait, hold, work, commits atomic.Int64 // nanoseconds, summed over groups
	appends                   atomic.Int64
}

func (h *heldEngine) Update(ctx2 context.Context, fn func(store.Tx) error) error {
	t0 := time.Now()
	var locked, worked time.Time
	var n int64
	err := h.Engine.Update(ctx2, func(tx store.Tx) error {
		locked, n = time.Now(), 0 // an engine may run fn again
		defer func() { worked = time.Now() }()
		return fn(countingTx{tx, &n})
	})
	if !locked.IsZero() {
		end := time.Now()
		h.groups.Add(1)
		h.wait.Add(int64(locked.Sub(t0)))
		h.hold.Add(int64(end.Sub(locked)))
		h.work.Add(int64(worked.Sub(locked)))
		h.commits.Add(int64(end.Sub(worked)))
		h.appends.Add(n)
	}
	return err
}

// Prefetch passes store.Prefetcher through, so the Log reads a group's
// keys in one query as it does without the wrapper.
func (c countingTx) Prefetch(ctx2 context.Context, keys [][]byte) error {
	if p, ok := c.Tx.(store.Prefetcher); ok {
		return p.Prefetch(ctx2, keys)
	}
	return nil
}

type countingTx struct {
	store.Tx
	n *int64
}

func (c countingTx) Append(ctx2 context.Context, leaf []byte, hs []tlog.Hash, keys [][]byte) error {
	*c.n++
	return c.Tx.Append(ctx2, leaf, hs, keys)
}

// BenchmarkSequencer appends entries shaped like the board's casts
// (board.Board.admit: a 740-byte ballot entry, its token key, two more
// keys set, and a check that looks up the two phase keys and the three
// keys) from 32 goroutines a core, through one Log or through two Logs on
// two engines (two board processes' pools) on one database, and reports
// what the sequencer does: appends/s, appends a group, and each group's
// wait for the log_meta row lock and hold of it, lock to commit, as the
// Log's group commit drives it. No ballot is verified: this is the
// database's side of a cast alone, the most the sequencer passes on this
// machine. BENCHMARKS.md, "PostgreSQL: one machine and beyond".
func BenchmarkSequencer(b *testing.B) {
	for _, logs := range []int{1, 2} {
		b.Run(fmt.Sprint("logs=", logs), func(b *testing.B) {
			dsn := pgtest.NewDatabase(b)
			s := signer(b, "bench.test")
			var ls []store.Log
			var hs []*heldEngine
			for range logs {
				e, err := postgres.OpenEngine(ctx, dsn, nil)
				if err != nil {
					b.Fatal(err)
				}
				h := &heldEngine{Engine: e}
				l, err := store.New(h, s, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { l.Close() })
				ls, hs = append(ls, l), append(hs, h)
			}
			if _, err := ls[0].Append(ctx, store.Append{Leaf: store.Leaf(store.Manifest, []byte("manifest"))}); err != nil {
				b.Fatal(err)
			}
			if _, err := ls[0].Append(ctx, store.Append{Leaf: store.Leaf(store.Open, []byte("open")), SetKeys: [][]byte{[]byte("phase/open")}}); err != nil {
				b.Fatal(err)
			}
			for _, h := range hs {
				h.groups.Store(0)
				h.wait.Store(0)
				h.hold.Store(0)
				h.work.Store(0)
				h.commits.Store(0)
				h.appends.Store(0)
			}
			var next, which atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				l := ls[int(which.Add(1))%len(ls)]
				for pb.Next() {
					i := next.Add(1)
					leaf := storetest.Sized(int(i), 740)
					tok := []byte(fmt.Sprintf("token/%032d", i))
					seen := []byte(fmt.Sprintf("ballot/%032d", i))
					use := []byte(fmt.Sprintf("use/%032d", i))
					_, err := l.Append(ctx, store.Append{Leaf: leaf, Key: tok, SetKeys: [][]byte{seen, use}, Check: func(v store.View) error {
						v.Lookup([]byte("phase/open"))
						v.Lookup([]byte("phase/closed"))
						v.Lookup(seen)
						v.Lookup(tok)
						v.Lookup(use)
						return nil
					}})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			var groups, wait, hold, work, commits, appends int64
			for _, h := range hs {
				groups += h.groups.Load()
				wait += h.wait.Load()
				hold += h.hold.Load()
				work += h.work.Load()
				commits += h.commits.Load()
				appends += h.appends.Load()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
			if groups > 0 {
				b.ReportMetric(float64(appends)/float64(groups), "appends/group")
				b.ReportMetric(float64(hold)/float64(groups)/1e6, "hold-ms/group")
				b.ReportMetric(float64(work)/float64(groups)/1e6, "reads-ms/group")
				b.ReportMetric(float64(commits)/float64(groups)/1e6, "commit-ms/group")
				b.ReportMetric(float64(wait)/float64(groups)/1e6, "wait-ms/group")
				// The share of the run the sequencer was held: near 1, it
				// is what bounds the appends.
				b.ReportMetric(float64(hold)/float64(b.Elapsed()), "held/run")
			}
		})
	}
}

// BenchmarkRoundTrip is one lookup of a missing key, one after another:
// a round trip to the server and its cheapest indexed read. A group makes
// a few under the sequencer (its keys, the two phase keys, the tree's
// older hashes), then one for its writes and one for the commit.
func BenchmarkRoundTrip(b *testing.B) {
	e, err := postgres.OpenEngine(ctx, pgtest.NewDatabase(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	key := []byte("token/missing")
	b.ResetTimer()
	for range b.N {
		if _, _, err := e.Lookup(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
