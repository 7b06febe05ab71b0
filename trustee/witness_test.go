package trustee_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/trustee"
	"github.com/evote/evote/voter"
)

// TestAttackTrusteeDecryptsUnwitnessedFork: in an election with
// witnesses, the board's operator closes a fork of its log that holds one
// target ballot, signs it with the board's key, and hands it to a trustee,
// bare or with the witnesses' cosignature lines of the real log pasted
// under it. The trustee refuses both: the fork has no quorum (SPEC.md
// §10.5), and it does not extend the cosigned checkpoint a voter's receipt
// holds. The real record, cosigned, is read.
func TestAttackTrusteeDecryptsUnwitnessedFork(t *testing.T) {
	ctx := context.Background()
	s, err := sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t)}, Voters: 4, Witnesses: 3, WitnessQuorum: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	e := &electiontest.Election{Election: s.Election}
	openAt := uint64(len(e.Leaves(t)))
	m := s.Board.Manifest()
	bc := boardapi.NewClient(s.BoardURL, nil)
	var rc *voter.Receipt
	for i := range 4 {
		vc := &voter.Client{Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: bc, BoardKey: s.Verifier, ManifestHash: m.Hash()}
		if rc, err = vc.Vote(ctx, s.Voters[i][0], s.Voters[i][1], [][]int{{i % 2}}); err != nil {
			t.Fatal(err)
		}
	}
	held, err := store.ParseCosignedCheckpoint([]byte(rc.Checkpoint), s.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	admin := s.Admin(nil)
	if _, err := admin.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var real bytes.Buffer
	if err := bc.Export(ctx, &real); err != nil {
		t.Fatal(err)
	}
	honest := e.Leaves(t)
	if _, err := trustee.Read(bytes.NewReader(real.Bytes()), s.Verifier, trustee.Options{Checkpoints: []*store.Checkpoint{held}}); err != nil {
		t.Fatalf("the real, cosigned record: %v", err)
	}

	fork := append(append([][]byte(nil), honest[:openAt+1]...), store.Leaf(store.Close, record.CloseBody()))
	bare := electiontest.Signed(t, s.Signer, fork)
	// The same fork, its checkpoint followed by the real record's
	// cosignature lines.
	realCp := readCheckpoint(t, real.Bytes(), s)
	forkCp := readCheckpoint(t, bare, s)
	forkCp.Cosignatures = realCp.Cosignatures
	var pastedBuf bytes.Buffer
	w := store.NewWriter(&pastedBuf)
	for _, l := range fork {
		if err := w.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(forkCp); err != nil {
		t.Fatal(err)
	}
	pasted := pastedBuf.Bytes()
	for name, rec := range map[string][]byte{"bare": bare, "with the real log's cosignatures": pasted} {
		_, err := trustee.Read(bytes.NewReader(rec), s.Verifier, trustee.Options{})
		if err == nil || !strings.Contains(err.Error(), "witness") {
			t.Errorf("%s fork: read with %v, want a refusal for want of the witnesses' quorum", name, err)
		}
		if _, err := trustee.Read(bytes.NewReader(rec), s.Verifier, trustee.Options{Checkpoints: []*store.Checkpoint{held}}); err == nil {
			t.Errorf("%s fork: read against the voter's cosigned checkpoint", name)
		} else if !errors.Is(err, trustee.ErrFork) && !strings.Contains(err.Error(), "witness") {
			t.Errorf("%s fork: %v", name, err)
		}
	}
}

// readCheckpoint reads an export's checkpoint with its cosignature lines.
func readCheckpoint(t *testing.T, rec []byte, s *sim.Site) *store.Checkpoint {
	t.Helper()
	r := store.NewReader(bytes.NewReader(rec), s.Verifier)
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return r.Checkpoint()
}
