package trustee_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/trustee"
	"github.com/evote/evote/verify"
)

// export is a board's export as an Exporter: calls counts its calls.
type export struct {
	rec   []byte
	calls int
	fail  error // returned after writing half the record
}

func (x *export) Export(ctx context.Context, w io.Writer) error {
	x.calls++
	if x.fail != nil {
		w.Write(x.rec[:len(x.rec)/2])
		return x.fail
	}
	_, err := w.Write(x.rec)
	return err
}

// stalled writes the start of something that is no record, then hangs as
// a board that stops sending would, until its context ends.
type stalled struct{}

func (stalled) Export(ctx context.Context, w io.Writer) error {
	w.Write([]byte("this is no record, nor like one\n"))
	<-ctx.Done()
	return ctx.Err()
}

// TestFetch: Fetch reads the export as it streams, once, to the same Tally
// as Read; an export that fails is named as the failure, not the record it
// cut short; and a record refused early does not leave the export hanging,
// nor Fetch waiting for a board that stopped sending.
func TestFetch(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	e.Tally(t)
	rec := e.Export(t)
	ctx := context.Background()

	x := &export{rec: rec}
	got, err := trustee.Fetch(ctx, x, e.Verifier, trustee.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := mustRead(t, e, rec, nil)
	if x.calls != 1 || got.Report.Entries != want.Report.Entries || len(got.Partials) != len(want.Partials) || !got.Closed {
		t.Fatalf("Fetch: %d exports, %d entries and %d partials; Read: %d entries and %d partials",
			x.calls, got.Report.Entries, len(got.Partials), want.Report.Entries, len(want.Partials))
	}

	cut := errors.New("connection reset")
	if _, err := trustee.Fetch(ctx, &export{rec: rec, fail: cut}, e.Verifier, trustee.Options{}); !errors.Is(err, cut) {
		t.Fatalf("an export cut short: got %v, want the export's error", err)
	}

	// Not a record at all, and far longer than any pipe holds.
	junk := &export{rec: bytes.Repeat([]byte("junk"), 1<<20)}
	var ve *verify.Error
	if _, err := trustee.Fetch(ctx, junk, e.Verifier, trustee.Options{}); !errors.As(err, &ve) {
		t.Fatalf("junk: got %v, want a *verify.Error", err)
	}
	if _, err := trustee.Fetch(ctx, stalled{}, e.Verifier, trustee.Options{}); !errors.As(err, &ve) {
		t.Fatalf("a stalled board: got %v, want a *verify.Error", err)
	}
}

// TestDecryptRefusals: a trustee decrypts only a closed record, only with a
// share of that record's ceremony, and only once.
func TestDecryptRefusals(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{MinBallots: 1})
	e.Cast(t, e.Voter(t), []int{0})
	ks := e.Shares[0]
	if _, err := mustRead(t, e, e.Export(t), nil).Decrypt(ks); !errors.Is(err, trustee.ErrNotClosed) {
		t.Fatalf("an open election: got %v, want ErrNotClosed", err)
	}
	if _, err := e.Board.CloseVoting(t.Context()); err != nil {
		t.Fatal(err)
	}
	tl := mustRead(t, e, e.Export(t), nil)
	other := electiontest.New(t, electiontest.Options{})
	if _, err := tl.Decrypt(other.Shares[0]); !errors.Is(err, trustee.ErrWrongShare) {
		t.Fatalf("another election's share: got %v, want ErrWrongShare", err)
	}
	s, err := tl.Decrypt(ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Board.PostPartial(t.Context(), s.Bytes()); err != nil {
		t.Fatal(err)
	}
	again := mustRead(t, e, e.Export(t), nil)
	if len(again.Partials) != 1 || again.Partials[0].Trustee != ks.Index {
		t.Fatalf("the record's partials: %+v", again.Partials)
	}
	if _, err := again.Decrypt(ks); !errors.Is(err, trustee.ErrAlreadyDecrypted) {
		t.Fatalf("a second partial: got %v, want ErrAlreadyDecrypted", err)
	}
	if _, err := again.Combine(); !errors.Is(err, tally.ErrNotEnoughPartials) {
		t.Fatalf("one partial of two: got %v, want tally.ErrNotEnoughShares", err)
	}
}

// TestReadNotOpen: a record whose ceremony has not ended has no tally.
func TestReadNotOpen(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	ls := logLeaves(t, e)
	if _, err := read(e, forgedRecordOf(t, e, ls[:len(ls)-1]), nil); !errors.Is(err, trustee.ErrNotOpen) {
		t.Fatalf("no open entry: got %v, want ErrNotOpen", err)
	}
	if _, err := read(e, []byte("not a record"), nil); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("not a record: %v", err)
	}
}

// TestCombineNoBallots: a closed election no one voted in is tallied with
// no partial decryption at all (there is nothing to decrypt): every count
// is 0 and the result names no trustee.
func TestCombineNoBallots(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	if _, err := e.Board.CloseVoting(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := mustRead(t, e, e.Export(t), nil).Combine()
	if err != nil {
		t.Fatalf("an empty election does not tally: %v", err)
	}
	if res.Ballots != 0 || len(res.Trustees) != 0 || res.Counts[0][0] != 0 || res.Counts[0][1] != 0 {
		t.Fatalf("empty election: %+v", res)
	}
	if _, err := e.Board.PostResult(context.Background(), res.Bytes()); err != nil {
		t.Fatalf("the board refuses the empty result: %v", err)
	}
}
