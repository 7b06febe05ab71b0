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
// characters, 100 random bits, shown as four groups of five. What stops
// guessing is that length: an online guess succeeds with probability
// 2^-100, and all the guesses the issuer can answer in a year (at its
// 1,000 a second) leave the odds of finding one voter's code below 2^-65.
// A lock after so many wrong codes would add nothing to that and would let
// any stranger who knows a member's ID (a political party's membership is
// no secret to its rivals) lock that member out. So wrong codes back off
// instead, per voter and per client address ([Backoff], guard.go): an
// address may try [FreeFailures] wrong codes for a voter, then waits one
// second, then two, doubling up to [MaxBackoff]; the voter's right code
// from their own address passes whatever a stranger's address did, and a
// right code clears the wait of the address it came from. A code from a
// waiting address is not tested, the right one neither, and is answered
// [ErrNotTested], which is [ErrBadCredentials] as for an unknown voter ID.
// Every answer to a wrong or untested code, for a voter on the roll or
// not, costs one roll write and one code hash ([Roll.Update] does a decoy
// write for an unknown ID), so neither the answer nor its time tells a
// stranger who is on the roll. An attempt is counted in the roll before
// its code is tested and given back if the code was right, in one
// [Roll.Update] each, so parallel requests, even to several issuer
// processes sharing one roll, cannot test more codes than the back-off
// lets through. [Issuer.Unlock] clears a voter's back-offs at the help
// desk. The per-address token bucket in the handler (HTTP 429) is sized
// for a carrier's NAT, thousands of phones behind one address
// ([DefaultRatePerSecond]), and bounds load, not guessing.
//
// # The second factor
//
// With [Config.SecondFactor] set, a right enrolment code is not enough:
// the issuer sends a one-time code ([OTPDigits] digits, valid
// [OTPLifetime]) through a [Sender] to the voter's registered e-mail
// address or phone (package invite has an SMTP sender and one for an SMS
// provider's webhook) and answers [ErrSecondFactorRequired]; the same
// request with the code gets the token. A voter who enrolled an
// authenticator app ([Issuer.EnrolTOTP], RFC 6238) is asked for its code
// instead, nothing sent. The limits are counted in the roll, by
// [Roll.Update], so they hold across replicas: a code passes once, five
// wrong tries void it ([OTPMaxWrong]), a voter gets a new one at most every
// [OTPCooldown] and [OTPMaxSends] an hour, and a failed send is given back.
// A wrong TOTP code counts in the address's back-off as a wrong enrolment
// code does. None of this is reached without the right enrolment code, so
// it tells a stranger nothing of the roll. The same blinded message again
// after a lost reply gets its signature with the enrolment code alone:
// only the voter's device can make that blinded message.
//
// # What the roll keeps, sealed
//
// The contact a voter's codes go to and an authenticator's secret are
// sealed in the roll (XChaCha20-Poly1305), one-time codes and client
// addresses kept only as HMAC tags, all under a key derived from the
// issuing key ([token.PrivateKey.DeriveSecret]), which is kept encrypted
// at rest: a copy of the roll file alone holds no e-mail address, phone
// number, secret, code or address. [Roll.Purge] deletes all of it with the
// voters, keeping only the counts.
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
// # What the issuer learns
//
// That a voter asked for a token, and when. Not the token key, the token or
// the ballot. Logs never name a voter, and never contain codes, contacts,
// blinded messages or signatures.
package issuer
