// Package zkp implements the non-interactive zero-knowledge proofs evote's
// ballots, key ceremony and tally rest on, all over ristretto255:
//
//   - Schnorr: knowledge of x with X = g^x (a trustee's coefficient, a
//     voter's token key; with the message in the context it is a signature);
//   - DLEQ (Chaum-Pedersen): log_g X = log_B Y (a trustee's partial
//     decryption Y = A^s against its verification key X = g^s);
//   - Or (disjunctive Chaum-Pedersen, Cramer-Damgård-Schoenmakers): an
//     ElGamal ciphertext encrypts one of a public list of values, without
//     saying which. With the list {0, 1} it shows a choice is 0 or 1; with
//     {min, ..., max} on the sum of a question's ciphertexts it shows the
//     number of selections is allowed.
//
// Every proof is made non-interactive by Fiat-Shamir: the challenge is
// SHA-512 over a domain tag naming the proof, the caller's context (the
// manifest hash, election key, token key and position for a ballot), and the
// whole statement and commitments, each length-prefixed, so a proof made for
// one statement or context never verifies for another (SPEC.md, "Proofs").
//
// Proofs are sent with their commitments rather than as (challenge,
// response) pairs. That costs 32 bytes a commitment, but every verification
// equation then has the form Σ sᵢ·Pᵢ = 0, so the equations of thousands of
// proofs fold into one random linear combination checked by one variable-time
// multi-scalar multiplication (Batch). Verifying a single proof is a batch of
// one. Proving runs in constant time with respect to its secrets; verifying
// touches only public values and may run in variable time.
package zkp

import (
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"

	"github.com/gtank/ristretto255"
)

// ErrInvalidProof is returned (wrapped) whenever a proof does not verify.
var ErrInvalidProof = errors.New("zkp: proof does not verify")

const domain = "evote/zkp/v1"

// transcript hashes a proof's tag, context and statement into a challenge.
// Each item is written as an 8-byte big-endian length and its bytes, so no
// two different sequences of items hash the same input.
type transcript struct{ h hash.Hash }

func newTranscript(tag string, ctx []byte) *transcript {
	t := &transcript{h: sha512.New()}
	t.write([]byte(domain))
	t.write([]byte(tag))
	t.write(ctx)
	return t
}

func (t *transcript) write(b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	t.h.Write(n[:])
	t.h.Write(b)
}

func (t *transcript) writeUint64s(vs []uint64) {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	t.write(b)
}

func (t *transcript) challenge() *ristretto255.Scalar {
	c, err := ristretto255.NewScalar().SetUniformBytes(t.h.Sum(nil))
	if err != nil {
		panic("zkp: SHA-512 output is not 64 bytes") // unreachable
	}
	return c
}

func newElement() *ristretto255.Element { return ristretto255.NewIdentityElement() }
func newScalar() *ristretto255.Scalar   { return ristretto255.NewScalar() }
