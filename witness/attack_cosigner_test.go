package witness_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/witness"
	"github.com/evote/evote/witness/httpwitness"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// one witness key under two names counts twice.
func TestAttackSameKeyTwoNames(t *testing.T) {
	bs, bv := noteKey(t, "board.example/dup")
	w1 := newAW(t, "w1.example", bv)
	tr := (&atree{}).grow(t, 3, "d")
	l1 := w1.mustAdd(t, 0, tr, bs)
	cp := tr.cp(t, bs)
	// The same public key under another name.
	vkey := w1.v.String()
	pubB64 := vkey[len("w1.example+00000000+"):]
	alias := aliasKey(t, "w1-alias.example", pubB64)
	av, err := witness.NewVerifier(alias)
	if err != nil {
		t.Fatal(err)
	}
	// A manifest that lists the key twice is refused, so no verifier set
	// built from a manifest holds both (the line, renamed, would count).
	e := electiontest.New(t, electiontest.Options{})
	m := *e.Board.Manifest()
	m.Witnesses, m.WitnessQuorum = []string{vkey, alias}, 2
	if _, err := ballot.NewManifest(m); err == nil || !strings.Contains(err.Error(), "key of its own") {
		t.Fatalf("a manifest with one witness key under two names: %v", err)
	}
	_, _, _ = l1, cp, av
}

func aliasKey(t *testing.T, name, pubB64 string) string {
	// compute key hash via witness.NewVerifier error message trick: build with a wrong hash, read the wanted.
	_, err := witness.NewVerifier(name + "+00000000+" + pubB64)
	if err == nil {
		return name + "+00000000+" + pubB64
	}
	msg := err.Error()
	i := len(msg) - 9
	return name + "+" + msg[i:i+8] + "+" + pubB64
}

type hostile struct {
	lines []byte
	hang  bool
}

func (h hostile) AddCheckpoint(ctx context.Context, old uint64, p tlog.TreeProof, signed []byte) ([]byte, error) {
	if h.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return h.lines, nil
}

type honest struct{ a *aw }

func (h honest) AddCheckpoint(ctx context.Context, old uint64, p tlog.TreeProof, signed []byte) ([]byte, error) {
	return httpwitness.AddCheckpoint(ctx, h.a.srv.URL, h.a.srv.Client(), old, p, signed)
}

func memLog(t *testing.T, bs note.Signer) store.Log {
	l, err := store.New(store.NewMemEngine(), bs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		typ := store.Ballot
		if i == 0 {
			typ = store.Manifest
		}
		if _, err := l.Append(context.Background(), store.Append{Leaf: append([]byte{byte(typ)}, byte(i))}); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// one hostile witness (of 3, quorum 2) answering a malformed line kills every round.
func TestAttackHostileWitnessLineKillsQuorum(t *testing.T) {
	bs, bv := noteKey(t, "board.example/hostile")
	w1, w2 := newAW(t, "w1.example", bv), newAW(t, "w2.example", bv)
	_, w3v := witnessKey(t, "w3.example")
	l := memLog(t, bs)
	c := board.NewCosigner(l, bv, []board.Witness{honest{w1}, honest{w2}, hostile{lines: []byte("— x\n")}}, []note.Verifier{w1.v, w2.v, w3v}, 2, nil)
	c.Round(context.Background())
	if _, err := c.Cosigned(context.Background(), 1, time.Second); err != nil {
		t.Errorf("FINDING: two honest witnesses cosigned, but one hostile line denies the quorum: %v", err)
	}
}

// one witness that never answers stalls every round.
func TestAttackSlowWitnessStallsCosigner(t *testing.T) {
	bs, bv := noteKey(t, "board.example/slow")
	w1, w2 := newAW(t, "w1.example", bv), newAW(t, "w2.example", bv)
	_, w3v := witnessKey(t, "w3.example")
	l := memLog(t, bs)
	c := board.NewCosigner(l, bv, []board.Witness{honest{w1}, honest{w2}, hostile{hang: true}}, []note.Verifier{w1.v, w2.v, w3v}, 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx, 100*time.Millisecond)
	if _, err := c.Cosigned(context.Background(), 1, 2*time.Second); err != nil {
		t.Errorf("FINDING: two honest witnesses answer at once, but a silent third stalls the round: %v", err)
	}
}

// a cosignature line before the board's: OpenCosigned (voter.cosign,
// CheckReceiptOffline, verify) accepts, ParseCosignedCheckpoint
// (CheckReceipt online, trustee journal, the export reader) refuses.
func TestAttackLinesBeforeBoard(t *testing.T) {
	bs, bv := noteKey(t, "board.example/order")
	w1 := newAW(t, "w1.example", bv)
	tr := (&atree{}).grow(t, 3, "o")
	l1 := w1.mustAdd(t, 0, tr, bs)
	cp := tr.cp(t, bs)
	i := len(cp.Signed) - len(cp.Signed[bytesIndex(cp.Signed)+2:])
	reordered := append(append(append([]byte{}, cp.Signed[:i]...), l1...), cp.Signed[i:]...)
	_, errOpen := store.OpenCosigned(reordered, bv, []note.Verifier{w1.v}, 1)
	_, errParse := store.ParseCosignedCheckpoint(reordered, bv)
	if (errOpen == nil) != (errParse == nil) {
		t.Errorf("FINDING: readers disagree: OpenCosigned %v, ParseCosignedCheckpoint %v\n%s", errOpen, errParse, reordered)
	}
}

func bytesIndex(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\n' && b[i+1] == '\n' {
			return i
		}
	}
	return -1
}

// a cosignature dated in the year 3000 counts.
func TestAttackFarFutureTime(t *testing.T) {
	bs, bv := noteKey(t, "board.example/time")
	s, v := witnessKey(t, "w1.example")
	tr := (&atree{}).grow(t, 3, "t")
	cp := tr.cp(t, bs)
	c, err := store.OpenCosigned(cosigned(cp, resign(t, s, cp, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))), bv, []note.Verifier{v}, 1)
	if err == nil {
		t.Logf("INFO: a cosignature of the year 3000 counts (time %d)", c.Times[0])
	}
}

// well-formed but bulky lines from one witness pass the Cosigner's
// OpenCosigned, then break ParseCosignedCheckpoint (8 KiB) used by export.
func TestAttackBulkyLinesBreakExport(t *testing.T) {
	bs, bv := noteKey(t, "board.example/bulky")
	w1, w2 := newAW(t, "w1.example", bv), newAW(t, "w2.example", bv)
	_, w3v := witnessKey(t, "w3.example")
	l := memLog(t, bs)
	var junk []byte
	for i := range 70 {
		s, _ := witnessKey(t, "junk"+string(rune('a'+i%26))+string(rune('a'+i/26))+".example.with.a.long.name.to.fill.the.note")
		cp, _ := l.Checkpoint(context.Background())
		junk = append(junk, resign(t, s, cp, time.Now())...)
	}
	c := board.NewCosigner(l, bv, []board.Witness{honest{w1}, honest{w2}, hostile{lines: junk}}, []note.Verifier{w1.v, w2.v, w3v}, 2, nil)
	c.Round(context.Background())
	signed, err := c.Cosigned(context.Background(), 1, time.Second)
	if err != nil {
		t.Fatalf("no cosigned: %v", err)
	}
	if _, err := store.ParseCosignedCheckpoint(signed, bv); err != nil {
		t.Errorf("FINDING: the Cosigner's newest cosigned checkpoint (%d bytes) is refused by ParseCosignedCheckpoint (export, CheckReceipt, trustee journal): %v", len(signed), err)
	}
}
