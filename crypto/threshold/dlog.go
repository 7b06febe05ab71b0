package threshold

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// ErrOutOfRange is returned (wrapped) by Table.Log when the element is not
// g^m for any m in the table's range.
var ErrOutOfRange = errors.New("threshold: discrete logarithm out of range")

// MaxTableRange is the largest range NewTable accepts: 2^40 would need a
// table of 2^20 points, about 40 MB and a few seconds to build.
const MaxTableRange = 1 << 40

// Table finds m from g^m for m in [0, Max] by baby-step giant-step. Building
// it costs one point encoding per baby step; each lookup costs at most
// Max/babySteps + 1 point additions and encodings. A table is read-only once
// built and safe for concurrent lookups.
//
// Ristretto255 encoding (~4 µs) dominates both, so NewTable takes more baby
// steps than √Max (at least 2^16 when Max is that large): a tally looks up
// one count per choice, and a bigger table makes each lookup cheap.
type Table struct {
	max   uint64
	m     uint64                // baby steps: g^0 .. g^(m-1)
	baby  map[uint64]uint32     // first 8 bytes of enc(g^j) → j
	extra map[uint64][]uint32   // the rare 8-byte prefixes shared by several j
	giant *ristretto255.Element // −m·g
}

// NewTable builds a table for m in [0, max] with the default number of baby
// steps: max(⌈√(max+1)⌉, min(max+1, 2^16)).
func NewTable(max uint64) (*Table, error) {
	if max > MaxTableRange {
		return nil, fmt.Errorf("threshold: discrete log range %d exceeds %d", max, uint64(MaxTableRange))
	}
	m := uint64(math.Ceil(math.Sqrt(float64(max) + 1)))
	if floor := min(max+1, 1<<16); m < floor {
		m = floor
	}
	return NewTableSize(max, m)
}

// NewTableSize builds a table for m in [0, max] with babySteps baby steps
// (memory and build time grow with babySteps, lookup time with
// max/babySteps).
func NewTableSize(max, babySteps uint64) (*Table, error) {
	if max > MaxTableRange {
		return nil, fmt.Errorf("threshold: discrete log range %d exceeds %d", max, uint64(MaxTableRange))
	}
	if babySteps < 1 || babySteps > 1<<26 {
		return nil, fmt.Errorf("threshold: %d baby steps, want 1..2^26", babySteps)
	}
	babySteps = min(babySteps, max+1)
	t := &Table{max: max, m: babySteps, baby: make(map[uint64]uint32, babySteps)}

	// Encoding dominates: compute the keys of g^0 .. g^(m-1) in parallel
	// chunks, then fill the map.
	keys := make([]uint64, babySteps)
	workers := uint64(runtime.GOMAXPROCS(0))
	if babySteps < 4096 {
		workers = 1
	}
	chunk := (babySteps + workers - 1) / workers
	var wg sync.WaitGroup
	for start := uint64(0); start < babySteps; start += chunk {
		end := min(start+chunk, babySteps)
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := elgamal.Generator()
			p := ristretto255.NewIdentityElement().ScalarBaseMult(elgamal.ScalarFromUint64(start))
			for j := start; j < end; j++ {
				keys[j] = binary.LittleEndian.Uint64(p.Bytes())
				p.Add(p, g)
			}
		}()
	}
	wg.Wait()
	for j, k := range keys {
		if prev, ok := t.baby[k]; ok {
			if t.extra == nil {
				t.extra = map[uint64][]uint32{}
			}
			if len(t.extra[k]) == 0 {
				t.extra[k] = []uint32{prev}
			}
			t.extra[k] = append(t.extra[k], uint32(j))
		} else {
			t.baby[k] = uint32(j)
		}
	}
	// A giant step subtracts g^m.
	t.giant = ristretto255.NewIdentityElement().ScalarBaseMult(elgamal.ScalarFromUint64(babySteps))
	t.giant.Negate(t.giant)
	return t, nil
}

// Max returns the largest value the table finds.
func (t *Table) Max() uint64 { return t.max }

// Log returns m in [0, Max] with e = g^m, or an error wrapping ErrOutOfRange.
func (t *Table) Log(e *ristretto255.Element) (uint64, error) {
	cur := ristretto255.NewIdentityElement().Set(e)
	for i := uint64(0); i*t.m <= t.max; i++ {
		enc := cur.Bytes()
		k := binary.LittleEndian.Uint64(enc)
		if j, ok := t.baby[k]; ok {
			cands := []uint32{j}
			if more, ok := t.extra[k]; ok {
				cands = more
			}
			for _, j := range cands {
				m := i*t.m + uint64(j)
				if m > t.max {
					continue
				}
				// The 8-byte key can collide: confirm with the full encoding.
				g := ristretto255.NewIdentityElement().ScalarBaseMult(elgamal.ScalarFromUint64(uint64(j)))
				if string(g.Bytes()) == string(enc) {
					return m, nil
				}
			}
		}
		cur.Add(cur, t.giant)
	}
	return 0, fmt.Errorf("%w: the element is not g^m for any m in [0, %d]; the count exceeds the table or the decryption is wrong", ErrOutOfRange, t.max)
}

// DiscreteLog returns m in [0, max] with e = g^m, building a table for this
// one lookup. To look up many values, build a Table once with NewTable.
func DiscreteLog(e *ristretto255.Element, max uint64) (uint64, error) {
	m := uint64(math.Ceil(math.Sqrt(float64(max) + 1)))
	t, err := NewTableSize(max, m)
	if err != nil {
		return 0, err
	}
	return t.Log(e)
}
