package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store"
)

// TestEntryMeter: the meter counts a record's entries however its bytes
// are split, stops at the end marker (the checkpoint's bytes are not
// entries), and draws them of the total it was given.
func TestEntryMeter(t *testing.T) {
	e, err := sim.New(sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for range 3 {
		v, err := e.Voter()
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Ballot(v, []int{0})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.Cast(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := e.Export()
	if err != nil {
		t.Fatal(err)
	}
	r := store.NewReader(bytes.NewReader(rec), e.Verifier)
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	want := r.Count()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, chunk := range []int{1, 3, 4, 5, 4096, len(rec)} {
		var bar bytes.Buffer
		m := newEntryMeter(ops.NewProgress(&bar, true, "exporting", "entries"), want)
		for rest := rec; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(chunk))
			if k, err := m.Write(rest[:n]); k != n || err != nil {
				t.Fatalf("Write: %d, %v", k, err)
			}
			rest = rest[n:]
		}
		if m.n != want || !m.ended {
			t.Errorf("chunks of up to %d bytes: %d entries counted, ended %v; the record holds %d", chunk, m.n, m.ended, want)
		}
		if !strings.Contains(bar.String(), fmt.Sprintf("] %d/%d entries", want, want)) {
			t.Errorf("the bar: %q", bar.String())
		}
	}
}
