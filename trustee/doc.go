// Package trustee is a trustee's side of an election: its keys, its steps
// of the key ceremony, and the checks it makes before it decrypts its share
// of the tally. Any tool can call it; evote trustee is one.
//
// A trustee holds two secrets. Its signing key (GenerateKey,
// MarshalSigningKey, ParseSigningKey) signs every ceremony message it
// sends; the manifest names its public half (MarshalPublicKey,
// ParsePublicKey), so that no one else, the board's operator included, can
// speak for it. Its key share ([KeyShare]) is what the ceremony leaves it:
// a share of the election secret, with which it decrypts the tally and
// nothing else. The caller keeps both encrypted at rest, and the ceremony
// state (Trustee.State) between steps.
//
// # The ceremony
//
// The election key is made without a dealer, by joint-Feldman among the n
// trustees (package crypto/dkg explains the protocol and why its known bias
// does not matter for ElGamal). Each step returns the messages to publish,
// signed, as the ceremony entries the board stores (SPEC.md §7):
//
//  1. [New]: trustee i makes the key pair the others seal its shares to,
//     and announces it.
//  2. [Trustee.Deal], given every announcement: its random polynomial's
//     commitments, a proof of knowledge of the constant term, and a share
//     sealed to each trustee.
//  3. [Trustee.Verify], given the deals: a complaint against each dealer
//     whose share to it does not open or does not match the commitments,
//     then a check naming the deals it checked, the word the board waits
//     for before it opens (record.Progress), since a trustee with good
//     shares has no complaint to show it checked.
//  4. [Trustee.Answer], given the complaints: the shares it dealt to its
//     accusers, in public, so that anyone checks them; facing t or more it
//     answers none, since t shares would publish its polynomial.
//  5. [Trustee.Finalize], given every message, once the board has opened:
//     it decides the ceremony exactly as the board and every verifier do
//     and sums its key share, checked against its verification key.
//
// A trustee on its own machine reads the ceremony from the board with
// [FetchCeremony], which checks the board's log as every read of it does
// (the checkpoint under the board's key and against the [Journal], the
// entries against the checkpoint, the open entry against the ceremony),
// and posts its own messages: their signatures are the credential, so the
// board takes them from anyone ([OnBoard.Holding] says which it holds
// already, so a step run twice sends nothing twice).
//
// [RunLocal] drives the whole ceremony among all n trustees in one process,
// posting each message to a board: what an election run in one process
// (tests, the demo, benchmarks, examples) does in place of n machines.
//
// # Before decrypting
//
// After close, a trustee decrypts its share of the aggregate, with a proof
// anyone checks against its verification key. [Read] (or [Fetch], from the
// board as it downloads) reads the board's export in one streaming pass and
// returns a [Tally]; [Tally.Decrypt] makes the partial decryption; a
// [Journal] remembers what the trustee saw of the board between runs. Each
// refusal stops a way the board, which signs whatever log it likes with its
// own key, could learn more than the totals (SPEC.md §10.2):
//
//   - The record must verify, every entry, as package verify checks it
//     (a missing result allowed): decrypting an aggregate that holds a bad
//     ballot would help whoever put it there. The aggregate is recomputed
//     from the ballots, never the board's word, and the election key and
//     verification keys come from the ceremony's messages.
//   - The record must be closed ([ErrNotClosed]): an aggregate that may
//     still grow is no tally, and two decryptions of a growing one differ
//     by the ballots between them.
//   - The key share must be of this record's ceremony, with its election
//     key and its verification key ([ErrWrongShare]): a partial under
//     another key is worthless, and refused by every verifier.
//   - The record must count at least the manifest's min_ballots
//     ([ErrTooFewBallots]): a board can make a closed log of any genuine
//     ballots it picks, one voter's alone, and so at most learns the sum of
//     that many.
//   - The record must extend every checkpoint seen before ([ErrFork]): the
//     newest in the journal, which Journal.Observe records during voting
//     only once the board proves it extends the one before, and any given
//     (voters' receipts, a monitor's); a checkpoint larger than the record
//     means a log cut back. So a fork is caught once the trustee has seen
//     the real log grow past the fork point. With no checkpoint at all the
//     record is checked only for its own consistency, and a caller should
//     refuse unless told otherwise (evote trustee decrypt
//     --without-history).
//   - Decrypt once ([Journal.Check], [ErrFork]): a trustee decrypts the tally
//     of one closed log (its entries through the close entry, by count and
//     root) and no other, recorded with [Journal.Decrypted] before the
//     partial leaves the machine. When 2t > n any two groups of t trustees
//     share one, so a board cannot obtain two tallies that differ by one
//     ballot.
//   - Its partial must not be on the record already
//     ([ErrAlreadyDecrypted]): the board keeps one per trustee.
//
// What these cannot stop alone: a board that shows a trustee nothing but a
// fork from the very start is caught only when someone compares that
// trustee's journal with the checkpoints voters and monitors hold
// (SECURITY.md).
//
// # One pass
//
// Read runs package verify over the export with a hook (verify.Options
// OnEntry) that takes, as the entries stream, the open entry, the close
// entry's index and the root of the log through it, the partial
// decryptions, and the root at each checkpoint's size. Memory is the
// verifier's, flat but for the set of token keys; the export is read once
// and never held whole, Fetch streaming it from the board into the
// verifier.
//
// [Tally.Combine] is what a tallier does with the same reading: it combines
// the first t partial decryptions on the record into the result.
package trustee
