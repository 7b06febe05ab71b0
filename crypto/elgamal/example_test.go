package elgamal_test

import (
	"fmt"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/gtank/ristretto255"
)

// Three ballots for one choice add up under encryption; only the sum is ever
// decrypted.
func Example() {
	x, pk, _ := elgamal.GenerateKey(nil)
	var ballots []*elgamal.Ciphertext
	for _, vote := range []uint64{1, 0, 1} {
		r, _ := elgamal.RandomScalar(nil)
		ballots = append(ballots, elgamal.Encrypt(pk, vote, r))
	}
	sum := elgamal.Decrypt(x, elgamal.Add(ballots...))
	two := ristretto255.NewIdentityElement().ScalarBaseMult(elgamal.ScalarFromUint64(2))
	fmt.Println(sum.Equal(two) == 1)
	// Output: true
}
