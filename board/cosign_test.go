package board_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/report"
	"github.com/evote/evote/store"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// witnessedSite is an election with three witnesses, quorum two, and its
// board gathering their cosignatures.
func witnessedSite(t *testing.T) *sim.Site {
	t.Helper()
	ctx := context.Background()
	var verifier note.Verifier
	s, err := sim.StartSite(ctx, sim.SiteOptions{
		Options:   sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)},
		Voters:    4,
		Witnesses: 3, WitnessQuorum: 2,
		Board: board.HandlerConfig{Report: func(w io.Writer, r io.Reader) error {
			_, err := report.FromRecord(w, r, verifier, report.Options{})
			return err
		}},
	})
	if s != nil {
		verifier = s.Verifier
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// TestCosignedReceipts: with witnesses in the manifest, a voter's receipt
// carries a checkpoint the witnesses cosigned and the ballot itself, and
// checks offline against the manifest alone and online against the board;
// the exported record ends with a cosigned checkpoint and verifies with
// the witnesses' check.
func TestCosignedReceipts(t *testing.T) {
	s := witnessedSite(t)
	ctx := context.Background()
	m := s.Board.Manifest()
	bc := boardapi.NewClient(s.BoardURL, nil)
	vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: bc, BoardKey: s.Verifier, ManifestHash: m.Hash()}
	var receipts []*voter.Receipt
	for i := range 3 {
		rc, err := vc.Vote(ctx, s.Voters[i][0], s.Voters[i][1], [][]int{{i % 2}})
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, rc)
		vc = &voter.Client{Issuer: vc.Issuer, Board: bc, BoardKey: s.Verifier, ManifestHash: m.Hash()}
	}
	for _, rc := range receipts {
		cs, err := store.OpenCosigned([]byte(rc.Checkpoint), s.Verifier, m.WitnessVerifiers(), m.WitnessQuorum)
		if err != nil {
			t.Fatalf("receipt's checkpoint: %v", err)
		}
		if len(cs.Cosigners) < 2 || rc.Ballot == "" {
			t.Errorf("receipt cosigned by %v, ballot %d bytes", cs.Cosigners, len(rc.Ballot))
		}
		back, err := voter.ParseReceipt(rc.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := voter.CheckReceiptOffline(back, s.Verifier, m); err != nil {
			t.Errorf("offline: %v", err)
		}
		if _, err := (&voter.Client{Board: bc, BoardKey: s.Verifier}).CheckReceipt(ctx, back); err != nil {
			t.Errorf("online: %v", err)
		}
	}
	if _, err := s.Tally(); err != nil {
		t.Fatal(err)
	}
	var rec bytes.Buffer
	if err := bc.Export(ctx, &rec); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Record(bytes.NewReader(rec.Bytes()), s.Verifier, verify.Options{})
	if err != nil {
		t.Fatalf("the cosigned record does not verify: %v", err)
	}
	// The board's own report page reads the same cosigned record.
	resp, err := http.Get(s.BoardURL + board.PathReport)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(page, []byte("NOT VERIFIED")) {
		t.Errorf("the board's report: %d, not verified: %v", resp.StatusCode, bytes.Contains(page, []byte("NOT VERIFIED")))
	}
	if len(rep.Cosigners) < 2 {
		t.Errorf("the record's checkpoint has cosigners %v", rep.Cosigners)
	}
	// The same record without its cosignatures fails the witnesses' check.
	plain, err := s.Export()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Record(bytes.NewReader(plain), s.Verifier, verify.Options{}); err == nil {
		t.Error("a record of a witnessed election verified without cosignatures")
	}
}

// TestAttackForkCannotGatherQuorum: the board's operator, holding its
// key, makes a second history of the log (the same manifest and ceremony,
// then other ballots) and asks the witnesses to cosign it after they have
// cosigned the real one. Every witness refuses it, so no quorum forms for
// the fork, and the witnesses go on cosigning the real history.
func TestAttackForkCannotGatherQuorum(t *testing.T) {
	s := witnessedSite(t)
	ctx := context.Background()
	bc := boardapi.NewClient(s.BoardURL, nil)
	honest, err := bc.Cosigned(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	hcp, err := store.ParseCosignedCheckpoint(honest, s.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	// The fork: the honest log's entries, then a ballot that is not in it.
	leaves := (&electiontest.Election{Election: s.Election}).Leaves(t)
	v, err := s.Voter()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Ballot(v, []int{1})
	if err != nil {
		t.Fatal(err)
	}
	forked := append(append([][]byte(nil), leaves[:hcp.Size]...), store.Leaf(store.Ballot, raw))
	flog, err := store.New(store.NewMemEngine(), s.Signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range forked {
		if _, err := flog.Append(ctx, store.Append{Leaf: l}); err != nil {
			t.Fatal(err)
		}
	}
	// Then the honest log grows too, and the witnesses cosign it.
	m := s.Board.Manifest()
	vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: bc, BoardKey: s.Verifier, ManifestHash: m.Hash()}
	if _, err := vc.Vote(ctx, s.Voters[0][0], s.Voters[0][1], [][]int{{0}}); err != nil {
		t.Fatal(err)
	}
	c := board.NewCosigner(flog, s.Verifier, httpWitnesses(s), m.WitnessVerifiers(), m.WitnessQuorum, nil)
	c.Round(ctx)
	if _, err := c.Cosigned(ctx, 1, 200*time.Millisecond); !errors.Is(err, board.ErrNoCosigned) {
		t.Fatalf("the fork gathered cosignatures: %v", err)
	}
	if _, err := bc.Cosigned(ctx, hcp.Size+1); err != nil {
		t.Errorf("the honest history is no longer cosigned: %v", err)
	}
}

func httpWitnesses(s *sim.Site) []board.Witness {
	var ws []board.Witness
	for _, u := range s.WitnessURLs {
		ws = append(ws, board.HTTPWitness(u, http.DefaultClient))
	}
	return ws
}

// downWitnesses is the board's client while its witnesses do not answer.
type downWitnesses struct{ *boardapi.Client }

func (downWitnesses) Cosigned(context.Context, uint64) ([]byte, error) {
	return nil, boardapi.ErrNotFound
}

// TestWitnessesDown: while no quorum cosigns, a cast stores the ballot but
// gives no receipt (voter.ErrNotCosigned, not a refusal); once they
// answer, casting the same ticket again gets the cosigned receipt, and the
// ballot is on the board once.
func TestWitnessesDown(t *testing.T) {
	s := witnessedSite(t)
	ctx := context.Background()
	m := s.Board.Manifest()
	bc := boardapi.NewClient(s.BoardURL, nil)
	down := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: downWitnesses{bc}, BoardKey: s.Verifier, ManifestHash: m.Hash()}
	e, err := down.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := voter.NewTicket(nil, e, s.Voters[0][0])
	if err != nil {
		t.Fatal(err)
	}
	if err := down.GetToken(ctx, e, tk, s.Voters[0][1], ""); err != nil {
		t.Fatal(err)
	}
	if err := down.Seal(e, tk, [][]int{{0}}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Log.Size()
	if _, err := down.CastTicket(ctx, e, tk); !errors.Is(err, voter.ErrNotCosigned) {
		t.Fatalf("witnesses down: %v, want ErrNotCosigned", err)
	}
	up := &voter.Client{Board: bc, BoardKey: s.Verifier, ManifestHash: m.Hash()}
	e, err = up.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := up.CastTicket(ctx, e, tk)
	if err != nil {
		t.Fatalf("witnesses back: %v", err)
	}
	if _, err := voter.CheckReceiptOffline(rc, s.Verifier, m); err != nil {
		t.Errorf("the receipt: %v", err)
	}
	if n, _ := s.Log.Size(); n != before+1 {
		t.Errorf("the ballot is on the board %d times", n-before)
	}
}

// BenchmarkVote is one voter's whole vote over loopback HTTP (token,
// ballot, cast, receipt checked), without witnesses and with three
// (quorum two), in the same run: what waiting for the witnesses' round
// adds to a receipt.
//
//	go test -run '^$' -bench Vote -benchtime 40x ./board/
func BenchmarkVote(b *testing.B) {
	for _, w := range []int{0, 3} {
		name := "plain"
		if w > 0 {
			name = "witnessed"
		}
		b.Run(name, func(b *testing.B) {
			s, err := sim.StartSite(context.Background(), sim.SiteOptions{
				Options: sim.Options{Dir: b.TempDir(), Issuer: electiontest.Issuer(b)}, Voters: b.N, Witnesses: w, WitnessQuorum: 2 * w / 3,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Stop()
			m := s.Board.Manifest()
			bc := boardapi.NewClient(s.BoardURL, nil)
			b.ResetTimer()
			for i := range b.N {
				vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: bc, BoardKey: s.Verifier, ManifestHash: m.Hash()}
				if _, err := vc.Vote(context.Background(), s.Voters[i][0], s.Voters[i][1], [][]int{{i % 2}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
