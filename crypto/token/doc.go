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
// # The private operation
//
// The issuer's blind signature (RFC 9474 §4.3, BlindSign) is the raw RSA
// private operation s = m^d mod N on the blinded message m. [PrivateKey.Sign]
// computes it with the Chinese remainder theorem (m^dP mod p and m^dQ mod q,
// recombined with qInv), as Go's crypto/rsa does, on filippo.io/bigmod: the
// constant-time modular arithmetic crypto/rsa is built on, published as a
// module. CRT makes it fast: two exponentiations on numbers half the size,
// about 3 times faster than circl's single math/big exponentiation modulo
// N (BenchmarkBlindSign measures circl, this and crypto/rsa's SignPSS side
// by side; BENCHMARKS.md has the figures). bigmod makes it safe: its
// operations take the same time and touch the same memory whatever the key
// and the message, so the private key does not leak through timing.
// crypto/rsa offers the operation only behind PKCS #1 v1.5 or PSS padding,
// never raw; this package composes the same vetted library in the same way
// (crypto/internal/fips140/rsa's decrypt), not arithmetic of its own. The
// CRT values come from the key's crypto/rsa precomputation and are turned
// into bigmod moduli once, when the key is loaded, where one test signature
// refuses a key whose CRT values do not belong to it.
//
// Every signature is checked before it leaves: s^e mod N must give back the
// blinded message. A fault in a CRT half (a glitch, a flipped bit in memory)
// would give a signature that reveals a factor of N to whoever receives it;
// with the check, Sign returns [ErrFault] and nothing else. circl remains
// the implementation of the rest of the protocol: preparing, blinding and
// finalizing on the voter's side, and the RFC 9474 reference for the tests,
// which compare Sign with circl's BlindSign byte for byte.
package token
