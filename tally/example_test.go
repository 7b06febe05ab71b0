package tally_test

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/trustee"
)

// Three trustees share the election key (any two decrypt); three voters
// cast; trustees 1 and 3 each decrypt their share of the aggregate, with a
// proof anyone checks, and the shares combine to the counts. No ballot is
// ever decrypted on its own.
func Example() {
	issuer, _ := token.GenerateKey(2048)
	id, _ := ballot.NewElectionID(rand.Reader)
	keys, signingKeys, _ := trustee.LocalKeys(nil, 3) // each trustee's: evote trustee keygen
	m, _ := ballot.NewManifest(ballot.Manifest{
		Version: 1, ElectionID: id, Title: "Annual vote",
		Questions: []ballot.Question{{ID: "budget", Text: "Approve the budget?", Choices: []string{"yes", "no"}, Min: 1, Max: 1}},
		Trustees:  ballot.Trustees{N: 3, T: 2, Keys: keys}, IssuerKey: issuer.Public().Bytes(), Revoting: ballot.RevotingRefuse,
	})

	// The key ceremony, with no dealer, the three trustees in this process
	// (evote trustee init to finalize, each on its own machine, in an
	// election). Every trustee ends with a share of the same election key.
	ceremony, err := trustee.RunLocal(context.Background(), nil, m, signingKeys, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	shares := ceremony.Shares
	election := &ballot.Election{Manifest: m, Key: ceremony.Open.Key}

	// Three voters: yes, yes, no. The aggregate multiplies their
	// ciphertexts, choice by choice.
	ag := tally.NewAggregator(election)
	for _, choice := range []int{0, 0, 1} {
		secret, tokenKey, _ := ballot.GenerateTokenKey(nil)
		blinded, state, _ := token.Blind(nil, m.Issuer(), m.ID(), tokenKey.Bytes())
		sig, _ := issuer.Sign(blinded)
		tok, _ := token.Finalize(state, sig)
		b, _ := ballot.Encrypt(nil, election, secret, tokenKey, tok, [][]int{{choice}})
		ag.Add(b)
	}
	agg := ag.Aggregate()

	// Trustees 1 and 3 decrypt their shares of the aggregate; each share's
	// proofs check against that trustee's verification key.
	var parts []*tally.Partial
	for _, ks := range []*trustee.KeyShare{shares[0], shares[2]} {
		s, _ := tally.Decrypt(election, agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err := tally.VerifyPartial(election, agg, ks.VerificationKey, s); err != nil {
			fmt.Println(err)
			return
		}
		parts = append(parts, s)
	}
	res, err := tally.Combine(election, agg, parts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Ballots, "ballots:", res.Counts[0][0], "yes,", res.Counts[0][1], "no; decrypted by trustees", res.Trustees)
	// Output: 3 ballots: 2 yes, 1 no; decrypted by trustees [1 3]
}
