package record_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
)

// TestAttackForgedCeremonyMessage: whoever posts to the board (its
// operator, say) cannot speak for a trustee in the ceremony: a complaint or
// an announcement not signed by the trustee it names is refused. (Forged
// complaints in honest trustees' names would otherwise make every dealer
// reveal its shares, and t revealed shares give away its secret.)
func TestAttackForgedCeremonyMessage(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	m := e.Board.Manifest()
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	complaint := (&dkg.Complaint{Accuser: 2, Accused: 1, Reason: 2}).Marshal()
	ann := e.Trustees[1].Announcement().Marshal() // trustee 2's

	for name, msg := range map[string][]byte{
		"complaint in trustee 2's name signed by trustee 1":  record.Sign(m, e.TrusteeKeys[0], record.KindComplaint, complaint),
		"complaint in trustee 2's name signed by a stranger": record.Sign(m, stranger, record.KindComplaint, complaint),
		"complaint with no signature":                        append([]byte{record.KindComplaint}, complaint...),
		"announcement for trustee 2 signed by trustee 3":     record.Sign(m, e.TrusteeKeys[2], record.KindAnnouncement, ann),
	} {
		c := record.NewCeremony(m)
		err := c.Add(msg)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if _, err := e.Board.PostCeremony(t.Context(), msg); err == nil {
			t.Errorf("%s: the board accepted it", name)
		}
	}
	// The same complaint signed by trustee 2 is a valid message.
	if err := record.NewCeremony(m).Add(record.Sign(m, e.TrusteeKeys[1], record.KindComplaint, complaint)); err != nil {
		t.Fatalf("trustee 2's own complaint refused: %v", err)
	}
	// A signature for one election does not carry over to another.
	other := electiontest.New(t, electiontest.Options{})
	err := record.NewCeremony(other.Board.Manifest()).Add(record.Sign(m, e.TrusteeKeys[1], record.KindComplaint, complaint))
	if err == nil || !strings.Contains(err.Error(), "not signed by trustee 2") {
		t.Fatalf("a message signed for another election: %v", err)
	}
}

// TestRepeatsRefused: one announcement and one deal per trustee.
func TestRepeatsRefused(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	m := e.Board.Manifest()
	c := record.NewCeremony(m)
	msg := record.Sign(m, e.TrusteeKeys[0], record.KindAnnouncement, e.Trustees[0].Announcement().Marshal())
	if err := c.Add(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(msg); err == nil {
		t.Fatal("a repeated announcement was accepted")
	}
}
