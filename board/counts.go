package board

import (
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuance"
	"github.com/evote/evote/store"
)

// Counts is what the board's log holds that an operator counts.
type Counts struct {
	Entries uint64 // entries in the log
	Ballots uint64 // ballot entries, revotes included
	Counted uint64 // ballots that count: one per token key that voted
	Phase   string // Board.Phase: "ceremony", "open" or "closed"
	// Issuance is the issuer's statement of its counts once it is on the
	// board (after close, when the manifest names its key), nil before.
	Issuance *issuance.Statement
}

// Turnout is the share of eligible voters whose ballot counts, when the
// issuer's statement says how many are eligible.
func (c Counts) Turnout() (float64, bool) {
	if c.Issuance == nil || c.Issuance.Eligible == 0 {
		return 0, false
	}
	return float64(c.Counted) / float64(c.Issuance.Eligible), true
}

// A Counter follows a board's counts in its log: its first Read reads the
// whole log, each later one only the entries appended since. So the
// counts a restarted board serves are the log's, not a count from zero,
// and entries appended by another board process on the same store are
// counted as this one's are. It is safe for concurrent use.
type Counter struct {
	b  *Board
	mu sync.Mutex
	// next is the first entry not read yet; c the counts of those before.
	next uint64
	c    Counts
	// seen holds, under last-ballot-counts, a keyed 64-bit hash of each
	// token key that voted, to tell a revote from a first ballot; under
	// refuse every ballot is its key's only one and seen stays nil. A hash
	// takes 8 bytes a voter where the key would take 32. Two voters'
	// keys colliding (a chance of n²/2^65, 3·10⁻⁸ at a million voters;
	// the seed is random to each process, so no voter can aim for one)
	// would count one voter short in this count, never in the record.
	seen map[uint64]struct{}
	seed maphash.Seed
}

// NewCounter returns a counter of b's log that has read nothing yet.
func NewCounter(b *Board) *Counter {
	c := &Counter{b: b, seed: maphash.MakeSeed()}
	if b.manifest.Revoting == ballot.RevotingLastCounts {
		c.seen = map[uint64]struct{}{}
	}
	return c
}

// readBatch bounds the bytes of entries a Read copies out of the log at
// once.
const readBatch = 1 << 20

// Read reads the entries appended since the last Read and returns the
// counts of the whole log. On an error it keeps what it read before it.
func (c *Counter) Read() (Counts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size, err := c.b.log.Size()
	if err != nil {
		return Counts{}, err
	}
	for c.next < size {
		leaves, err := c.b.log.Leaves(c.next, size, readBatch)
		if err != nil {
			return Counts{}, err
		}
		for _, leaf := range leaves {
			if err := c.add(leaf); err != nil {
				return Counts{}, fmt.Errorf("board: counting entry %d: %w", c.next, err)
			}
			c.next++
		}
	}
	c.c.Entries = c.next
	phase, err := c.b.Phase()
	if err != nil {
		return Counts{}, err
	}
	c.c.Phase = phase
	return c.c, nil
}

// add counts one entry, as the log holds it (its type byte first).
func (c *Counter) add(leaf []byte) error {
	if len(leaf) == 0 {
		return fmt.Errorf("an empty leaf")
	}
	switch store.EntryType(leaf[0]) {
	case store.Ballot:
		// A ballot's token key sits at bytes 33 to 65 of its body (SPEC.md
		// §6); the log admitted only ballots that parse.
		if len(leaf) < 66 {
			return fmt.Errorf("a ballot of %d bytes", len(leaf))
		}
		c.c.Ballots++
		if c.seen == nil {
			c.c.Counted++
			return nil
		}
		k := maphash.Bytes(c.seed, leaf[34:66])
		if _, ok := c.seen[k]; !ok {
			c.seen[k] = struct{}{}
			c.c.Counted++
		}
	case store.Issuance:
		e, err := issuance.Parse(leaf[1:])
		if err != nil {
			return err
		}
		st := e.Statement
		c.c.Issuance = &st
	}
	return nil
}

// logMetrics registers the metrics counted in the log rather than in
// this process: each scrape reads the entries appended since the last
// (see [Counter]), so a board restarted mid-election serves the log's
// counts from its first scrape, not counts from zero.
func (h *handler) logMetrics(m *service.Registry, c *Counter) {
	if c == nil {
		c = NewCounter(h.b)
	}
	gauge := func(name, help string, v func(Counts) (float64, bool)) {
		m.GaugeFunc(h.svc.MetricName(name), help, func() (float64, bool) {
			n, err := c.Read()
			if err != nil {
				h.log.Error("counting the log for the metrics", "err", err)
				return 0, false
			}
			return v(n)
		})
	}
	gauge("ballots", "Ballot entries in the log, revotes included.", func(n Counts) (float64, bool) { return float64(n.Ballots), true })
	gauge("ballots_counted", "Ballots that count: one per token key that voted.", func(n Counts) (float64, bool) { return float64(n.Counted), true })
	m.GaugeFuncVec(h.svc.MetricName("phase"), "The election's phase: 1 for the one it is in.", "phase", func() (map[string]float64, bool) {
		n, err := c.Read()
		if err != nil {
			return nil, false
		}
		ph := map[string]float64{"ceremony": 0, "open": 0, "closed": 0}
		ph[n.Phase] = 1
		return ph, true
	})
	gauge("eligible_voters", "Voters on the issuer's roll, once its statement is on the board.", func(n Counts) (float64, bool) {
		if n.Issuance == nil {
			return 0, false
		}
		return float64(n.Issuance.Eligible), true
	})
	gauge("tokens_issued", "Eligibility tokens the issuer signed, once its statement is on the board.", func(n Counts) (float64, bool) {
		if n.Issuance == nil {
			return 0, false
		}
		return float64(n.Issuance.Issued), true
	})
	gauge("turnout", "Ballots counted over eligible voters (0 to 1), once the issuer's statement is on the board.", Counts.Turnout)
}
