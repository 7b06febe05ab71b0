package ballot_test

import (
	"crypto/rand"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/trustee"
)

// A voter with an issued token encrypts a yes/no ballot; anyone holding the
// manifest and the election key verifies it.
func Example() {
	issuer, _ := token.GenerateKey(2048)
	id, _ := ballot.NewElectionID(rand.Reader)
	trustees, _, _ := trustee.LocalKeys(nil, 3) // each trustee's ceremony signing key (evote trustee keygen)
	manifest, _ := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Annual vote",
		Questions: []ballot.Question{{ID: "budget", Text: "Approve the budget?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}},
		Trustees:  ballot.Trustees{N: 3, T: 2, Keys: trustees}, IssuerKey: issuer.Public().Bytes(), Revoting: ballot.RevotingRefuse,
	})
	_, electionKey, _ := elgamal.GenerateKey(nil) // in an election: the key ceremony's result
	election := &ballot.Election{Manifest: manifest, Key: electionKey}

	// The voter's token key, blind-signed by the issuer.
	secret, tokenKey, _ := ballot.GenerateTokenKey(nil)
	blinded, state, _ := token.Blind(rand.Reader, manifest.Issuer(), manifest.ID(), tokenKey.Bytes())
	blindSig, _ := issuer.Sign(blinded)
	tok, _ := token.Finalize(state, blindSig)

	b, err := ballot.Encrypt(nil, election, secret, tokenKey, tok, [][]int{{0}})
	if err != nil {
		fmt.Println(err)
		return
	}
	received, _ := ballot.Parse(election, b.Bytes())
	fmt.Println(ballot.Verify(election, received) == nil, len(b.Bytes()) == election.Size())
	// Output: true true
}
