// Package verify re-checks a whole exported election record. It needs no
// secret and trusts no operator: given the export file and the board's
// checkpoint key, it recomputes everything the board, the trustees and the
// tally claim, and says which entry broke which rule.
//
// Use [Record] on an export file (store's format, see store/SPEC.md) and the
// board's note verifier key ([BoardKey] parses the key's text form). The
// returned [Report] lists every check performed and the result the verifier
// computed itself; the error, when the record does not verify, names the
// first failing check and its entry, such as
//
//	entry 57 (ballot): a proof or the signature does not verify
//
// # Checks, in the order of the record
//
//  1. Format and checkpoint: the file is read once, strictly, by
//     [store.Reader]; every leaf is valid, the leaves hash to the root of the
//     checkpoint at the end of the file, and the board's key signed that
//     checkpoint.
//  2. Manifest: entry 0 parses as the election's manifest; its hash binds
//     everything after it.
//  3. Ceremony and open: every ceremony message parses, is signed by its
//     sender and does not repeat, in whatever order they come; the single
//     open entry comes after all of them and is, byte for byte, what
//     [record.Ceremony.Qualify] decides from them, so its election key and
//     the trustees' verification keys are not the board's word but the
//     ceremony's. The disqualified dealers are in it as fault codes
//     ([dkg.Fault]) with the accusers they name, so the comparison needs
//     no English; a dealer the entry counts though the ceremony
//     disqualifies it is named at its deal.
//  4. Ballots: each lies between the open and the close entry, parses for
//     this election, and its eligibility token, every proof and its
//     signature verify. Ballots are verified in chunks with
//     [ballot.VerifyBatch], on all cores, while reading goes on. No token
//     votes twice under the refuse policy; under last-ballot-counts only
//     each token's last ballot counts. Under either, every ballot of a token
//     key carries the same eligibility token.
//  5. Close: after it come only partial decryptions, the result and the
//     issuer's statement of its counts.
//  6. Tally: the aggregate of the counted ballots is recomputed; each partial
//     decryption comes from a trustee 1..n, at most one each, and verifies
//     against that trustee's verification key (the trivial partial where
//     an aggregate's first component is the identity).
//  7. Result: it names the trustees of the first t partial entries in
//     record order and is exactly what they combine to ([tally.Combine]),
//     counts and number of ballots included, in its canonical encoding.
//     Partial entries may follow it (a trustee that decrypts late); each
//     is checked like any other, and the result stays that of the first t.
//  8. Issuance: when the manifest names the issuer's statement key
//     (issuance_key), the issuer's statement of eligible voters and tokens
//     issued (package issuance) is there once, after close, for this
//     election, signed under that key, and the ballots counted are at most
//     the tokens issued, these at most the voters eligible; the Report
//     carries the counts and the turnout ([Report.Issuance]). Without the
//     key the check says the counts are not recorded, and passes.
//  9. Complete: the record has its open, close and result entries, and the
//     issuer's statement when the manifest names its key. A record that
//     stops before one of them (an election still open, not yet tallied,
//     or without the issuer's counts yet) is incomplete and fails, naming
//     what is missing, unless
//     [Options.AllowIncomplete]; then it passes, still says it is
//     incomplete, and has no Result. Every entry present is checked either
//     way: allowing an incomplete record allows a missing entry, never an
//     invalid one.
//
// # What a failure can name
//
// Every entry's own checks run as the file streams, before the root hash is
// known, so an altered entry that breaks its own rules is named. Some bytes
// no rule covers on its own: a manifest's title, a ceremony message's
// encrypted shares, the close entry's time. The board signs only the root,
// so a changed byte there is caught only as "the entries do not hash to the
// signed checkpoint", which cannot say which entry it was. When both kinds
// of failure occur, the error gives the entry's and mentions the root.
//
// # Memory
//
// Memory stays flat but for the set of token keys seen (about 80 bytes a
// voter). Under last-ballot-counts the verifier also keeps each token's
// current ciphertexts (64 bytes per encrypted choice) and a 32-byte hash of
// its eligibility token, so that only the last ballot of each token is
// aggregated, in a single pass over the file.
//
// # Speed
//
// Ballots dominate. On a 2-core machine a record of 1,000 one-question
// yes/no ballots verifies at about 11,000-12,500 ballots a second
// (BenchmarkRecord), about 170 µs of CPU a ballot: roughly a third each for
// the issuer's RSA signature on the token, decoding the ballot's points, and
// the batched multi-scalar multiplication of its proofs.
//
// The package imports no server code (board, issuer, store/bolt, net/http),
// and compiles for the browser (GOOS=js GOARCH=wasm).
package verify
