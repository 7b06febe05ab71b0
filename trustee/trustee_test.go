package trustee_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"slices"
	"testing"

	"github.com/evote/evote/record"
	"github.com/evote/evote/trustee"
)

// TestCeremonySteps: three trustees run the ceremony step by step, each
// resumed from its saved state, with trustee 3's share for trustee 1
// spoiled: trustee 1 complains about 3, 3 answers it in public, and every
// trustee ends with a share of the key the record's ceremony decides.
func TestCeremonySteps(t *testing.T) {
	m, keys := manifest(t, 3, 2)
	c := record.NewCeremony(m)
	states := make([][]byte, 3)
	resume := func(i int, key ed25519.PrivateKey) *trustee.Trustee {
		t.Helper()
		tr, err := trustee.Load(m, states[i-1], key)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	for i := 1; i <= 3; i++ {
		tr, ann, err := trustee.New(nil, m, i, keys[i-1])
		if err != nil {
			t.Fatal(err)
		}
		if ann.Kind != record.KindAnnouncement || ann.From != i || ann.To != 0 {
			t.Fatalf("announcement %+v", ann)
		}
		add(t, c, ann)
		states[i-1] = tr.State()
	}
	for i := 1; i <= 3; i++ {
		tr := resume(i, keys[i-1])
		d, err := tr.Deal(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			// The first sealed share, trustee 1's, is the deal's first
			// 80 bytes after the commitments and the proof.
			payload := bytes.Clone(d.Body[1 : len(d.Body)-ed25519.SignatureSize])
			payload[5+32*m.Trustees.T+64+40] ^= 1
			d.Body = record.Sign(m, keys[2], record.KindDeal, payload)
		}
		add(t, c, d)
		states[i-1] = tr.State()
	}
	if gaps := c.Progress().Gaps; len(gaps) != 3 || gaps[0].Kind != record.GapCheck || !slices.Equal(gaps[0].Dealers, []int{1, 2, 3}) {
		t.Fatalf("before verify, gaps %+v, want each trustee's check of the three deals", gaps)
	}
	var complaints []trustee.Message
	for i := 1; i <= 3; i++ {
		msgs, err := resume(i, keys[i-1]).Verify(c)
		if err != nil {
			t.Fatal(err)
		}
		// Each trustee's last message is its check of every deal.
		last := msgs[len(msgs)-1]
		if last.Kind != record.KindCheck || last.From != i || !bytes.Equal(last.Body[1:len(last.Body)-ed25519.SignatureSize], []byte{1, 5, byte(i), 3, 1, 2, 3}) {
			t.Fatalf("trustee %d's last message %+v is not its check of deals 1, 2, 3", i, last)
		}
		add(t, c, last)
		complaints = append(complaints, msgs[:len(msgs)-1]...)
	}
	if len(complaints) != 1 || complaints[0].From != 1 || complaints[0].To != 3 || complaints[0].Kind != record.KindComplaint {
		t.Fatalf("complaints %+v, want trustee 1's against 3", complaints)
	}
	add(t, c, complaints...)
	if gaps := c.Progress().Gaps; len(gaps) != 1 || gaps[0].Trustee != 3 || gaps[0].Kind != record.GapAnswer || !slices.Equal(gaps[0].Accusers, []int{1}) {
		t.Fatalf("before the answer, gaps %+v, want trustee 3's answer to 1", gaps)
	}
	for i := 1; i <= 3; i++ {
		as, err := resume(i, keys[i-1]).Answer(c)
		if err != nil {
			t.Fatal(err)
		}
		if want := i == 3; want != (len(as) == 1) || (want && (as[0].From != 3 || as[0].To != 1)) {
			t.Fatalf("trustee %d answers %+v", i, as)
		}
		add(t, c, as...)
	}
	if p := c.Progress(); len(p.Gaps) != 0 || p.Open == nil {
		t.Fatalf("with every message, gaps %+v (undecided: %v)", p.Gaps, p.Undecided)
	}
	open, err := c.Qualify()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		res, ks, err := resume(i, nil).Finalize(c) // finalize signs nothing
		if err != nil {
			t.Fatalf("trustee %d: %v", i, err)
		}
		if len(res.Qualified) != 3 || !bytes.Equal(ks.ElectionKey.Bytes(), open.Key.Bytes()) ||
			!bytes.Equal(ks.VerificationKey.Bytes(), open.VerificationKeys[i-1].Bytes()) {
			t.Fatalf("trustee %d's share is not of the ceremony the record decides", i)
		}
		b := ks.Marshal()
		if back, err := trustee.ParseKeyShare(b); err != nil || !bytes.Equal(back.Marshal(), b) {
			t.Fatalf("the key share does not parse back: %v", err)
		}
	}
}

// TestWrongSigningKey: a trustee started or resumed with a key other than
// the manifest's for it is refused (ErrWrongKey), since every message it
// signed would be; one resumed with none sends nothing (ErrNoSigningKey).
func TestWrongSigningKey(t *testing.T) {
	m, keys := manifest(t, 2, 2)
	if _, _, err := trustee.New(nil, m, 2, keys[0]); !errors.Is(err, trustee.ErrWrongKey) {
		t.Fatalf("New with trustee 1's key as trustee 2: got %v, want ErrWrongKey", err)
	}
	tr, ann, err := trustee.New(nil, m, 2, keys[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trustee.Load(m, tr.State(), keys[0]); !errors.Is(err, trustee.ErrWrongKey) {
		t.Fatalf("Load with trustee 1's key as trustee 2: got %v, want ErrWrongKey", err)
	}
	unsigned, err := trustee.Load(m, tr.State(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := record.NewCeremony(m)
	_, ann1, err := trustee.New(nil, m, 1, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	add(t, c, ann1, ann)
	if _, err := unsigned.Deal(nil, c); !errors.Is(err, trustee.ErrNoSigningKey) {
		t.Fatalf("a deal with no signing key: got %v, want ErrNoSigningKey", err)
	}
	if _, _, err := trustee.New(nil, m, 3, keys[0]); err == nil {
		t.Fatal("trustee 3 of 2 started")
	}
}
