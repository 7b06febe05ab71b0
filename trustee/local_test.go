package trustee_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/evote/evote/record"
	"github.com/evote/evote/trustee"
)

// TestRunLocal: the local ceremony posts each trustee's announcement, then
// each deal, then each trustee's check of its shares, every one signed by
// its sender, leaving nothing missing, and its shares are of the key the
// posted messages decide; a post that fails stops it.
func TestRunLocal(t *testing.T) {
	m, keys := manifest(t, 3, 2)
	var posted [][]byte
	l, err := trustee.RunLocal(context.Background(), nil, m, keys, func(_ context.Context, body []byte) error {
		posted = append(posted, body)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := record.NewCeremony(m)
	for i, b := range posted {
		if want := []byte{record.KindAnnouncement, record.KindDeal, record.KindCheck}[i/3]; b[0] != want {
			t.Fatalf("message %d is of kind %d, want %d", i, b[0], want)
		}
		if err := c.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if len(posted) != 9 {
		t.Fatalf("%d messages posted, want 3 announcements, 3 deals and 3 checks", len(posted))
	}
	if gaps := c.Progress().Gaps; len(gaps) != 0 {
		t.Fatalf("RunLocal leaves gaps: %v", gaps)
	}
	open, err := c.Qualify()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(open.Bytes(), l.Open.Bytes()) {
		t.Fatalf("the open entry RunLocal gives is not what its posted messages decide")
	}
	for i, ks := range l.Shares {
		if ks.Index != i+1 || l.Trustees[i].Index() != i+1 || !bytes.Equal(ks.VerificationKey.Bytes(), open.VerificationKeys[i].Bytes()) {
			t.Fatalf("share %d is trustee %d's, or not of the ceremony", i, ks.Index)
		}
	}

	refused := errors.New("refused")
	if _, err := trustee.RunLocal(context.Background(), nil, m, keys, func(context.Context, []byte) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("a failing post: got %v", err)
	}
	if _, err := trustee.RunLocal(context.Background(), nil, m, keys[:2], nil); err == nil {
		t.Fatal("two keys for three trustees")
	}
}
