package trustee_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/trustee"
)

// logLeaves returns every leaf of e's log.
func logLeaves(t *testing.T, e *electiontest.Election) [][]byte { return e.Leaves(t) }

// forgedRecord is an export of ls with a checkpoint signed by the board's
// own key: a record the board's operator can make of any entries it likes.
func forgedRecord(t *testing.T, e *electiontest.Election, ls [][]byte) []byte {
	t.Helper()
	rec := forgedRecordOf(t, e, ls)
	if _, err := trustee.Read(bytes.NewReader(rec), e.Verifier, trustee.Options{}); err != nil {
		t.Fatalf("the forged record is not even internally consistent: %v", err)
	}
	return rec
}

// forgedRecordOf is forgedRecord, with no check that a trustee reads it.
func forgedRecordOf(t *testing.T, e *electiontest.Election, ls [][]byte) []byte {
	return electiontest.Signed(t, e.Signer, ls)
}

// read reads rec as a trustee does, checking it extends seen.
func read(e *electiontest.Election, rec []byte, seen []*store.Checkpoint) (*trustee.Tally, error) {
	return trustee.Read(bytes.NewReader(rec), e.Verifier, trustee.Options{Checkpoints: seen})
}

// mustRead reads rec, failing the test if it is refused.
func mustRead(t *testing.T, e *electiontest.Election, rec []byte, seen []*store.Checkpoint) *trustee.Tally {
	t.Helper()
	tl, err := read(e, rec, seen)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func checkpointNow(t *testing.T, e *electiontest.Election) *store.Checkpoint {
	t.Helper()
	cp, err := e.Log.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// manifest makes a one-question manifest for n trustees, threshold th,
// and returns it with the trustees' signing keys.
func manifest(t *testing.T, n, th int) (*ballot.Manifest, []ed25519.PrivateKey) {
	t.Helper()
	pubs, keys, err := trustee.LocalKeys(nil, n)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := ballot.NewElectionID(rand.Reader)
	m, err := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "T", Questions: []ballot.Question{electiontest.YesNo},
		Trustees: ballot.Trustees{N: n, T: th, Keys: pubs}, IssuerKey: electiontest.Issuer(t).Public().Bytes(), Revoting: ballot.RevotingRefuse,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, keys
}

// add adds signed messages to c, failing the test if one is refused.
func add(t *testing.T, c *record.Ceremony, msgs ...trustee.Message) {
	t.Helper()
	for _, msg := range msgs {
		if err := c.Add(msg.Body); err != nil {
			t.Fatalf("trustee %d's message of kind %d: %v", msg.From, msg.Kind, err)
		}
	}
}
