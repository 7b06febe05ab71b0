package trustee_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/record"
	"github.com/evote/evote/trustee"
)

// Three trustees, any two of whom decrypt, run the key ceremony in one
// process, posting each signed message to a board; each ends with a share
// of the election key that the posted messages decide.
func ExampleRunLocal() {
	issuer, _ := token.GenerateKey(2048)
	id, _ := ballot.NewElectionID(rand.Reader)
	pubs, keys, _ := trustee.LocalKeys(nil, 3) // each trustee's own, in an election: evote trustee keygen
	m, _ := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Annual vote",
		Questions: []ballot.Question{{ID: "budget", Text: "Approve the budget?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}},
		Trustees:  ballot.Trustees{N: 3, T: 2, Keys: pubs}, IssuerKey: issuer.Public().Bytes(), Revoting: ballot.RevotingRefuse,
	})

	board := record.NewCeremony(m) // stands for the board, which refuses a message its sender did not sign
	c, err := trustee.RunLocal(context.Background(), nil, m, keys, func(_ context.Context, body []byte) error {
		return board.Add(body)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	open, _ := board.Qualify() // what the board's open entry says
	fmt.Println(len(board.Anns), "announcements,", len(board.Deals), "deals; qualified", open.Qualified())
	for _, ks := range c.Shares {
		fmt.Printf("trustee %d holds a share of the board's key: %v\n", ks.Index, bytes.Equal(ks.ElectionKey.Bytes(), open.Key.Bytes()))
	}
	// Output:
	// 3 announcements, 3 deals; qualified [1 2 3]
	// trustee 1 holds a share of the board's key: true
	// trustee 2 holds a share of the board's key: true
	// trustee 3 holds a share of the board's key: true
}
