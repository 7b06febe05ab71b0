// Package token implements evote's eligibility tokens: RFC 9474 blind RSA
// signatures (variant RSABSSA-SHA384-PSS-Randomized, through
// github.com/cloudflare/circl/blindsign/blindrsa) on a voter's token key.
//
// # What a token is
//
// Before voting, a voter makes a fresh Ed25519 key pair, the token key. The
// identity authority (the issuer) signs the token public key blindly: it
// checks who the voter is and that it has not signed for them before, but it
// never sees the key it signs. Later the voter signs the ballot with the token
// key and posts it with the token; the bulletin board and any verifier check
// the token against the issuer's public key without learning, and without the
// issuer being able to tell them, which voter it belongs to.
//
// The signed message binds the token key to one election:
//
//	message = "evote/token/v1" || 0x00 || electionID (32 bytes) || tokenPublicKey (32 bytes)
//
// (79 bytes; see [Message]). RFC 9474's randomized variant prepends 32 random
// bytes to the message before signing (its "prepare" step, which keeps the
// signed message unpredictable to the signer); so a [Token] is those 32 bytes
// and the RSA signature, and anyone holding the issuer's public key, the
// election ID and the token key can check it with [Verify].
//
// # Flow
//
//	voter:  blinded, state, err := token.Blind(nil, issuerPub, electionID, tokenPub)
//	issuer: blindSig, err := issuerKey.Sign(blinded)      // after checking the voter
//	voter:  tok, err := token.Finalize(state, blindSig)   // checks the signature
//	anyone: err := token.Verify(issuerPub, electionID, tokenPub, tok)
//
// The state returned by [Blind] lives in memory only. If the issuer's reply is
// lost, send the same blinded message again: the issuer answers it with the
// same signature, while it refuses a second, different blinded message.
//
// # Keys
//
// Issuer keys are RSA keys of at least 2048 bits with public exponent 65537,
// made with [GenerateKey]. Private keys encode as PKCS #8, public keys as
// PKIX SubjectPublicKeyInfo (rsaEncryption), both as DER or PEM. A public
// key's [KeyID] is the SHA-256 of its DER encoding and names it in the
// election manifest. Use an issuing key for one election's tokens and for
// nothing else (RFC 9474, Section 7.3).
//
// # Encodings
//
// A token encodes as prefix (32 bytes) || signature (the modulus length, 256
// bytes for a 2048-bit key): exactly 288 bytes for RSA-2048. [ParseToken]
// refuses any other length and any signature not below the modulus, so each
// token has exactly one encoding.
//
// # Cost
//
// The issuer's signature is the expensive step: circl computes it as one
// blinded, non-CRT modular exponentiation with math/big (about 3 ms for
// RSA-2048 on one core; BenchmarkSign measures it). Go's crypto/rsa does
// the same private-key operation in constant time with CRT, several times
// faster, but exposes it only behind PKCS #1 v1.5 or PSS padding, never as
// the raw operation a blind signature needs; a faster signer therefore needs
// a library that offers raw RSA-CRT, not arithmetic written here.
package token
