// Package ceremony is the public half of the election's key ceremony
// (SPEC.md §7): the messages trustees publish, their strict encodings, and
// Qualify, the deterministic function of those messages that decides the
// election key, every trustee's verification key and which dealers are
// disqualified and why.
//
// It is apart from crypto/dkg, which holds a trustee's side (its HPKE key
// pair, its polynomial, sealing and opening shares, its key share), because
// everyone who checks an election needs it and nothing of a trustee's: the
// voter's client recomputes the election key from the ceremony's messages
// before it encrypts (SPEC.md §10.1), in the browser too, and every
// verifier recomputes the open entry (record.Ceremony.Qualify). No secret
// ever enters this package: it reads public messages and outputs public
// keys, and its import closure holds no HPKE, no KEM and no trustee state
// (internal/walls checks that the voter's holds no crypto/dkg). crypto/dkg
// re-exports every name here, so a trustee's code reads as one package.
//
// # What Qualify decides
//
// Qualify needs an announcement from every trustee 1..n and gives each
// dealer its faults, each a Fault code that the record's open entry
// carries: no deal, two different deals, a number of commitments other
// than t or of shares other than n, a Schnorr proof that does not verify
// (the first of these that applies, after which its complaints are not
// looked at); or else complaints with no answer and complaints answered
// only with shares that fail the commitments (either or both, each naming
// its accusers). It does not count complaints: a dealer that answers every
// one with a valid share qualifies. It reads sets, so the order of the
// messages does not matter, and it ignores an answer no complaint asked
// for. The dealers with no fault are QUAL; if fewer than t remain the
// ceremony fails with a *CeremonyError naming each culprit. Otherwise the
// election key is h = Π_{i∈QUAL} Cᵢ,₀ and trustee j's verification key is
// VKⱼ = Π_{i∈QUAL} Πₖ Cᵢ,ₖ^(jᵏ) = g^sⱼ.
//
// Who posted a message is the transport's business (the board, or signed
// files; package record checks the senders' signatures): this package
// trusts the Dealer, Accuser and Index fields as given.
//
// # Encodings
//
// Every message is canonical binary: a version byte (1), a kind byte, then
// fixed-width fields (indices and counts one byte, group elements and
// scalars their canonical 32-byte encodings). Parsers refuse another
// version or kind, trailing or missing bytes, non-canonical or identity
// points, non-canonical scalars, out-of-range indices, a complaint reason
// other than ReasonUndecryptable and ReasonMismatch, and an X25519 key that
// is not canonical (p = 2^255-19 or more) or of low order (no share could
// be sealed to it), so each message has exactly one encoding. What a
// parser refuses makes a record invalid; what Qualify finds only
// disqualifies a dealer. See Announcement, Deal, Complaint, Answer; the
// kinds (Kind) are shared with crypto/dkg's secret encodings, so that none
// parses as another.
//
// Errors begin "dkg:", as they did when this code was part of crypto/dkg:
// they name the protocol, and the record's verifier prints them without
// that prefix.
package ceremony
