package token_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"github.com/evote/evote/crypto/token"
)

func Example() {
	// The issuer's key, made once per election; its public half goes into
	// the manifest.
	issuerKey, err := token.GenerateKey(token.DefaultKeyBits)
	if err != nil {
		panic(err)
	}
	issuerPub := issuerKey.Public()
	electionID := sha256.Sum256([]byte("the election manifest"))

	// The voter makes a token key and blinds it.
	tokenPub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err)
	}
	blinded, state, err := token.Blind(nil, issuerPub, electionID[:], tokenPub)
	if err != nil {
		panic(err)
	}

	// The issuer, having checked the voter's credentials, signs blindly.
	blindSig, err := issuerKey.Sign(blinded)
	if err != nil {
		panic(err)
	}

	// The voter unblinds; the token travels with the ballot.
	tok, err := token.Finalize(state, blindSig)
	if err != nil {
		panic(err)
	}
	encoded := tok.Bytes()

	// Anyone with the manifest checks it.
	parsed, err := token.ParseToken(issuerPub, encoded)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(encoded), token.Verify(issuerPub, electionID[:], tokenPub, parsed))
	// Output: 288 <nil>
}
