package zkp_test

import (
	"fmt"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/zkp"
)

// A voter encrypts one choice and proves it is 0 or 1 without saying which;
// anyone checks the proof against the ciphertext, the key and the context.
func ExampleProveOr() {
	_, pk, _ := elgamal.GenerateKey(nil)
	context := []byte("manifest hash, election key, token key, question 0 choice 1")

	r, _ := elgamal.RandomScalar(nil)
	ct := elgamal.Encrypt(pk, 1, r)
	proof, _ := zkp.ProveOr(nil, context, pk, ct, r, zkp.ZeroOne(), 1)

	fmt.Println(zkp.VerifyOr(context, pk, ct, zkp.ZeroOne(), proof) == nil)
	fmt.Println(zkp.VerifyOr([]byte("another position"), pk, ct, zkp.ZeroOne(), proof) == nil)
	// Output:
	// true
	// false
}

// Many proofs are checked together with one multi-scalar multiplication.
func ExampleBatch() {
	_, pk, _ := elgamal.GenerateKey(nil)
	batch := zkp.NewBatch(pk)
	for i := 0; i < 10; i++ {
		r, _ := elgamal.RandomScalar(nil)
		ct := elgamal.Encrypt(pk, uint64(i%2), r)
		proof, _ := zkp.ProveOr(nil, nil, pk, ct, r, zkp.ZeroOne(), i%2)
		proof.AddTo(batch, nil, pk, ct, zkp.ZeroOne())
	}
	fmt.Println(batch.Verify())
	// Output: true
}
