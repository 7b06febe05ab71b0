// Package issuer is evote's identity authority: it holds the voter roll and
// the RSA issuing key, checks who a voter is, and blindly signs one token
// message per voter (see package crypto/token). It never sees the token key
// it signs, so it cannot tell which token, and which ballot, is whose; and it
// shares no store, key or code with the bulletin board.
//
// # Pieces
//
//   - The roll: a CSV file "voter_id,enrolment_code" imported with
//     [ImportRoll] into a [Roll]: issuer/bolt.Open (bbolt, the default; a
//     package of its own, so this package never imports bbolt) or
//     [NewMemRoll] (the in-memory reference, for tests); issuer/rolltest
//     is the conformance suite a roll engine passes. Codes are kept only
//     as salted argon2id hashes.
//     [GenerateRoll] makes a roll with fresh codes for trials and demos.
//   - The [Issuer]: [Issuer.Issue] authenticates a voter and signs at most
//     one blinded message for them; [Issuer.Purge] deletes the roll after the
//     election, keeping only the counts of eligible voters and issued tokens.
//   - The HTTP API: [NewHandler] serves it; package issuer/issuerapi has
//     its paths, bodies, error codes and the client that calls it, so a
//     voter's device never imports this package.
//
// # One token per voter
//
// For each voter the roll keeps the blinded message it signed and the blind
// signature. The same blinded message asked again gets the same signature
// (a lost reply must not cost a vote); a different one is refused with
// [ErrAlreadyIssued] (HTTP 409). The roll's [Roll.SetIssued] is the single
// compare-and-set that decides this, so of two concurrent requests for one
// voter with different blinded messages exactly one gets a signature, even
// across processes sharing one roll.
//
// # Enrolment codes and guessing
//
// Codes are generated ([GenerateCode]), never chosen: 20 Crockford base32
// characters, 100 random bits, shown as four groups of five. Guessing is
// stopped three ways: by that length (an online guess succeeds with
// probability 2^-100); by a per-voter counter that locks the voter after
// [DefaultMaxFailures] wrong codes ([Issuer.Unlock] lifts it; once locked,
// no code is tested, the right one neither, and each is answered
// [ErrNotTested], which is [ErrBadCredentials] as for an unknown voter ID,
// so the lockout tells a stranger nothing of who is on the roll, and its
// message sends a voter sure of their code to the help desk); and by a per-client-IP token bucket in the handler (HTTP 429).
// An attempt is counted in the roll before its code is tested, by one
// compare-and-set ([Roll.TakeAttempt]), and given back if the code was
// right, so parallel requests, even to several issuer processes sharing one
// roll, cannot test more codes than the lockout allows.
//
// The argon2id parameters ([HashTime], [HashMemoryKiB], [HashThreads]) are
// deliberately light. A slow hash protects low-entropy secrets such as
// passwords from offline guessing after a roll is stolen; a 100-bit random
// code needs no such help: even at a billion guesses a second an attacker
// needs about 10^13 years per voter, and the per-voter salt stops any work
// being shared between voters or precomputed. What the hash still buys is
// that a stolen roll holds no codes. At the usual settings (tens of
// milliseconds) argon2id would cap issuance far below the 1,000 tokens/s the
// issuer must sustain; at these it costs about 0.3 ms (BenchmarkVerifyCode).
//
// Voter IDs are not treated as secret: a wrong code and an unknown voter
// get the same answer and cost the same hash, but the failure counter's
// write and the lockout can still tell an attacker that an ID is on the roll.
//
// # What the issuer learns
//
// That a voter asked for a token, and when. Not the token key, the token or
// the ballot. Logs name voters only when they are locked out, and never
// contain codes, blinded messages or signatures.
package issuer
