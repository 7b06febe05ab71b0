// Package dkg runs the election's key ceremony without a dealer: n trustees
// jointly make the election key h = g^x so that any t of them can decrypt and
// fewer learn nothing about x, and x itself is never formed anywhere.
//
// # Protocol (joint-Feldman, Pedersen 1991)
//
// Each step is a message that a CLI moves between trustees as a file or
// posts to the bulletin board; a trustee's secrets live in a Trustee value
// the caller keeps encrypted at rest (Trustee.Marshal, UnmarshalTrustee).
//
//  1. Init. NewTrustee makes trustee i's HPKE key pair (DHKEM(X25519,
//     HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, RFC 9180) and its
//     Announcement {i, encryption key}.
//  2. Deal. Given all n announcements and the caller's context (the
//     manifest hash: it is bound into every proof and every encryption),
//     trustee i picks a random polynomial fᵢ of degree t−1 with coefficients
//     aᵢ,ₖ and publishes a Deal: the commitments Cᵢ,ₖ = g^aᵢ,ₖ (k = 0..t−1), a
//     Schnorr proof of knowledge of aᵢ,₀, and for every trustee j (itself
//     included) the share fᵢ(j) sealed with HPKE to j's key, with the HPKE
//     info binding the context, i, j, n, t and a hash of the commitments.
//  3. Verify. Trustee j opens its share sᵢⱼ from each deal and checks
//     g^sᵢⱼ = Πₖ Cᵢ,ₖ^(jᵏ); for a share it cannot open or that fails the
//     check it publishes a Complaint {j accuses i}. Deals that are wrong for
//     everyone to see (bad proof, wrong counts) need no complaint.
//  4. Answer. A dealer accused by j may publish an Answer revealing sᵢⱼ in
//     the clear; anyone checks it against the commitments. A false complaint
//     answered this way costs the accused nothing. Trustee.Answer answers
//     none when t or more trustees complain (itself included): t revealed
//     shares determine its polynomial, and a dealer is better disqualified
//     than exposed. That is the dealer's choice, not a rule of Qualify.
//  5. Finalise. Qualify, a deterministic function of the public messages
//     anyone can run, needs an announcement from every trustee 1..n and
//     gives each dealer its faults (package crypto/ceremony lists them);
//     the dealers with no fault are QUAL, and if fewer than t remain the
//     ceremony fails with a *CeremonyError naming each culprit. Otherwise
//     the election key is h = Π_{i∈QUAL} Cᵢ,₀ and trustee j's verification
//     key is VKⱼ = Π_{i∈QUAL} Πₖ Cᵢ,ₖ^(jᵏ) = g^sⱼ. Trustee.Finalize also
//     sums j's share sⱼ = Σ_{i∈QUAL} sᵢⱼ (taking answered shares from the
//     answers) and checks g^sⱼ = VKⱼ.
//
// Every trustee 1..n receives a share, including one disqualified as a
// dealer: its partial decryptions are checked against VKⱼ like anyone's, so
// a cheating dealer gains nothing by also decrypting.
//
// The Schnorr proof on Cᵢ,₀ stops a rushing dealer from choosing its
// constant-term commitment as a function of the others' (a rogue key that
// would cancel them); binding the dealer index and context stops it from
// copying another dealer's deal or proof, in this ceremony or another.
//
// Who posted a message is the transport's business (the board, or signed
// files): this package trusts the Dealer, Accuser and Index fields as given.
//
// # The bias of joint-Feldman, and why it is acceptable here
//
// Gennaro, Jarecki, Krawczyk and Rabin (Eurocrypt 1999, "Secure Distributed
// Key Generation for Discrete-Log Based Cryptosystems") showed that in
// joint-Feldman the adversary can bias the distribution of h: after seeing
// the honest commitments it can decide, by making its own deals fail or
// complaints go unanswered, which of its dealers end up in QUAL, and so pick
// among several possible keys (for example, fix a bit of h). The key is
// therefore not uniformly random, which breaks proofs that need it to be.
//
// Why that is acceptable for ElGamal, with at most t−1 trustees corrupt: the
// honest dealers always qualify (they answer every complaint correctly), so
// h = h_H · g^(x_A), where h_H is the product of the honest constant-term
// commitments, uniformly random, and x_A, however the adversary chose it
// after seeing h_H, is the sum of
// the qualified corrupt dealers' constant terms, which the adversary knows
// (the Schnorr proofs make it extractable). An ElGamal ciphertext under h
// converts into one under h_H and back with x_A alone: (A, B) ↦ (A, B·A^(−x_A)).
// So an adversary that breaks the semantic security of ballots under the
// biased h breaks it under the uniform h_H, that is, it breaks DDH; a
// reduction plants its DDH challenge as h_H and simulates the honest
// dealers' Feldman commitments from the corrupt trustees' shares. The same
// holds for the soundness and zero knowledge of the trustees' DLEQ proofs.
// This is the line of argument of Gennaro, Jarecki, Krawczyk and Rabin,
// "Secure Applications of Pedersen's Distributed Key Generation Protocol"
// (CT-RSA 2003). The bias-free protocol (Pedersen commitments in a first
// round, then Feldman extraction) would add a round to the ceremony for no
// gain in anything an election relies on. A protocol that needs a
// uniformly random key (for example, one used as a common random string)
// must not reuse this package as is.
//
// # The public half apart
//
// The messages, their encodings and Qualify are package crypto/ceremony,
// which holds no secret and no HPKE, so that the voter and every verifier
// recompute the ceremony's outcome without this package; the names are
// re-exported here (Announcement, Deal, Complaint, Answer, Parse*, Qualify,
// Result, Fault, ...), so a trustee's code reads as one package. This
// package adds the trustee's side: its state (Trustee), the sealing and
// opening of shares, and the key share it keeps (KeyShare).
//
// # Encodings
//
// Every message is canonical binary: a version byte (1), a kind byte, then
// fixed-width fields (indices and counts one byte, group elements and
// scalars their canonical 32-byte encodings); crypto/ceremony gives the
// public messages' encodings and what their parsers refuse. A trustee's
// state and its key share use the same version and kinds (ceremony.Kind),
// so that no encoding parses as another, and are parsed as strictly. See
// Trustee.Marshal and KeyShare.
package dkg
