package dkg_test

import (
	"fmt"

	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
)

// Five trustees make an election key that any three of them can use to
// decrypt; nobody ever holds the secret key. Then three trustees decrypt the
// homomorphic sum of four ballots.
func Example() {
	const n, t = 5, 3
	context := []byte("manifest hash")

	// 1. Init: each trustee announces its encryption key.
	trustees := make([]*dkg.Trustee, n)
	anns := make([]*dkg.Announcement, n)
	for i := range trustees {
		trustees[i], anns[i], _ = dkg.NewTrustee(nil, i+1, n, t)
	}
	// 2. Deal.
	deals := make([]*dkg.Deal, n)
	for i, tr := range trustees {
		deals[i], _ = tr.Deal(nil, context, anns)
	}
	// 3. Verify: every trustee checks its shares and complains about bad ones.
	var complaints []*dkg.Complaint
	for _, tr := range trustees {
		cs, _ := tr.Verify(deals)
		complaints = append(complaints, cs...)
	}
	// 4. Answer: accused dealers reveal the disputed shares (none here).
	var answers []*dkg.Answer
	for _, tr := range trustees {
		as, _ := tr.Answer(complaints)
		answers = append(answers, as...)
	}
	// 5. Finalise: anyone can compute the public result; each trustee also
	// gets its key share.
	result, err := dkg.Qualify(context, n, t, anns, deals, complaints, answers)
	if err != nil {
		panic(err)
	}
	shares := make([]*dkg.KeyShare, n)
	for i, tr := range trustees {
		_, shares[i], _ = tr.Finalize(anns, deals, complaints, answers)
	}
	fmt.Println("qualified:", result.Qualified)

	// Voters encrypt under the election key; the tally adds the ciphertexts.
	var ballots []*elgamal.Ciphertext
	for _, vote := range []uint64{1, 0, 1, 1} {
		r, _ := elgamal.RandomScalar(nil)
		ballots = append(ballots, elgamal.Encrypt(result.ElectionKey, vote, r))
	}
	sum := elgamal.Add(ballots...)

	// Trustees 2, 4 and 5 decrypt; anyone checks and combines.
	choice := []byte("manifest hash | question 0 choice 0")
	var partials []*threshold.Partial
	for _, j := range []int{2, 4, 5} {
		ks := shares[j-1]
		p, _ := threshold.PartialDecrypt(nil, choice, ks.Index, ks.Secret, ks.VerificationKey, sum)
		if err := threshold.VerifyPartial(choice, result.VerificationKey(j), sum, p); err != nil {
			panic(err)
		}
		partials = append(partials, p)
	}
	gm, _ := threshold.Combine(sum, partials, t)
	table, _ := threshold.NewTable(uint64(len(ballots)))
	count, _ := table.Log(gm)
	fmt.Println("count:", count)
	// Output:
	// qualified: [1 2 3 4 5]
	// count: 3
}
