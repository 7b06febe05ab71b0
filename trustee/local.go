package trustee

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/record"
)

// LocalKeys makes the signing keys of n trustees for RunLocal: their
// public halves as a manifest lists them (trustees.keys, hex) and the
// private keys, in index order. rnd is crypto/rand.Reader when nil.
func LocalKeys(rnd io.Reader, n int) ([]string, []ed25519.PrivateKey, error) {
	var pubs []string
	var keys []ed25519.PrivateKey
	for range n {
		pub, key, err := GenerateKey(rnd)
		if err != nil {
			return nil, nil, err
		}
		pubs, keys = append(pubs, hex.EncodeToString(pub)), append(keys, key)
	}
	return pubs, keys, nil
}

// A Poster posts a ceremony entry's body to a board.
type Poster func(ctx context.Context, body []byte) error

// A Local is a key ceremony that RunLocal drove to its end.
type Local struct {
	Trustees []*Trustee // [index-1]
	Shares   []*KeyShare
	// Open is the open entry the ceremony's messages decide: the board
	// that holds them must open with this election key (Open.Key).
	Open *record.Open
}

// RunLocal runs the key ceremony of m among all its trustees in this
// process, keys[i-1] signing trustee i's messages, and posts every message
// with post as it is made (nil posts nowhere): the announcements, the
// deals, any complaints with each trustee's check of its shares, and the
// answers to the complaints, the steps in order, each trustee in turn. It then finalises every trustee from the messages it
// posted and returns them with their key shares. Opening the board is the
// caller's: RunLocal posts no open entry. It is what an election run in
// one process (tests, the demo, benchmarks, examples) does instead of the
// n trustees on their own machines; rnd is crypto/rand.Reader when nil.
func RunLocal(ctx context.Context, rnd io.Reader, m *ballot.Manifest, keys []ed25519.PrivateKey, post Poster) (*Local, error) {
	n := m.Trustees.N
	if len(keys) != n {
		return nil, fmt.Errorf("trustee: %d signing keys for %d trustees", len(keys), n)
	}
	c := record.NewCeremony(m)
	send := func(msgs ...Message) error {
		for _, msg := range msgs {
			if err := c.Add(msg.Body); err != nil {
				return err
			}
			if post != nil {
				if err := post(ctx, msg.Body); err != nil {
					return fmt.Errorf("trustee: posting trustee %d's message: %w", msg.From, err)
				}
			}
		}
		return nil
	}
	l := &Local{}
	for i := 1; i <= n; i++ {
		t, ann, err := New(rnd, m, i, keys[i-1])
		if err != nil {
			return nil, err
		}
		l.Trustees = append(l.Trustees, t)
		if err := send(ann); err != nil {
			return nil, err
		}
	}
	for _, t := range l.Trustees {
		d, err := t.Deal(rnd, c)
		if err != nil {
			return nil, err
		}
		if err := send(d); err != nil {
			return nil, err
		}
	}
	for _, step := range []func(*Trustee) ([]Message, error){
		func(t *Trustee) ([]Message, error) { return t.Verify(c) },
		func(t *Trustee) ([]Message, error) { return t.Answer(c) },
	} {
		for _, t := range l.Trustees {
			msgs, err := step(t)
			if err != nil {
				return nil, err
			}
			if err := send(msgs...); err != nil {
				return nil, err
			}
		}
	}
	open, err := c.Qualify()
	if err != nil {
		return nil, err
	}
	l.Open = open
	for _, t := range l.Trustees {
		_, ks, err := t.Finalize(c)
		if err != nil {
			return nil, err
		}
		l.Shares = append(l.Shares, ks)
	}
	return l, nil
}
