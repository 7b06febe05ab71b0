package threshold_test

import (
	"fmt"

	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
)

// Two of three trustees decrypt the sum of five yes/no ballots after a key
// ceremony with no complaints.
func Example() {
	const n, t = 3, 2
	context := []byte("manifest hash")
	trustees := make([]*dkg.Trustee, n)
	anns := make([]*dkg.Announcement, n)
	for i := range trustees {
		trustees[i], anns[i], _ = dkg.NewTrustee(nil, i+1, n, t)
	}
	deals := make([]*dkg.Deal, n)
	for i, tr := range trustees {
		deals[i], _ = tr.Deal(nil, context, anns)
	}
	var result *dkg.Result
	shares := make([]*dkg.KeyShare, n)
	for i, tr := range trustees {
		result, shares[i], _ = tr.Finalize(anns, deals, nil, nil)
	}

	var sum []*elgamal.Ciphertext
	for _, vote := range []uint64{1, 1, 0, 1, 1} {
		r, _ := elgamal.RandomScalar(nil)
		sum = append(sum, elgamal.Encrypt(result.ElectionKey, vote, r))
	}
	tally := elgamal.Add(sum...)

	choice := []byte("manifest hash | question 0 choice 0 (yes)")
	var partials []*threshold.Partial
	for _, ks := range []*dkg.KeyShare{shares[0], shares[2]} {
		p, _ := threshold.PartialDecrypt(nil, choice, ks.Index, ks.Secret, ks.VerificationKey, tally)
		wire := p.Marshal() // posted to the board
		q, _ := threshold.ParsePartial(wire)
		if err := threshold.VerifyPartial(choice, result.VerificationKey(q.Index), tally, q); err != nil {
			panic(err)
		}
		partials = append(partials, q)
	}
	gm, _ := threshold.Combine(tally, partials, t)
	table, _ := threshold.NewTable(5)
	yes, _ := table.Log(gm)
	fmt.Println("yes:", yes)

	// One trustee alone cannot decrypt.
	_, err := threshold.Combine(tally, partials[:1], t)
	fmt.Println(err != nil)
	// Output:
	// yes: 4
	// true
}
