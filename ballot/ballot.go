package ballot

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
)

// Version is the first byte of every encoded ballot.
const Version = 1

// Election is what ballots are made and checked against: the manifest and
// the election key the trustees' ceremony produced.
type Election struct {
	Manifest *Manifest
	Key      *elgamal.PublicKey
}

// Size returns the exact length of every encoded ballot in this election.
func (e *Election) Size() int { return e.Manifest.BallotSize() }

// BallotSize returns the exact length of every encoded ballot under m.
func (m *Manifest) BallotSize() int {
	n := 1 + 32 + 32 + token.PrefixSize + m.issuer.Size()
	for _, q := range m.Questions {
		k := q.Encrypted()
		n += k * (elgamal.CiphertextSize + zkp.OrProofSize(2))
		if lo, hi, ok := q.SumRange(); ok {
			n += zkp.OrProofSize(int(hi - lo + 1))
		}
	}
	return n + zkp.SchnorrSize
}

// EncryptedQuestion is one question of a ballot.
type EncryptedQuestion struct {
	Choices []*elgamal.Ciphertext
	Proofs  []*zkp.OrProof
	Sum     *zkp.OrProof // nil when the question needs no range proof
}

// Ballot is an encrypted, signed ballot, or (from ParseBody) the body of
// one, whose Signature is nil.
type Ballot struct {
	TokenKey  *elgamal.PublicKey
	Token     *token.Token
	Questions []EncryptedQuestion
	Signature *zkp.SchnorrProof // nil for a ballot from ParseBody

	raw      []byte // the encoding, or only the body when unsigned
	unsigned bool
}

// Bytes returns the ballot's canonical encoding. Do not modify it. A
// ballot parsed from its body alone (ParseBody) has no encoding: Bytes
// returns nil.
func (b *Ballot) Bytes() []byte {
	if b.unsigned {
		return nil
	}
	return b.raw
}

// Body returns the ballot's body: its canonical encoding without the final
// Schnorr signature, that is every byte the signature signs (SPEC.md §6).
// Do not modify it. A body cannot be cast: the board takes only a signed
// ballot, and only the token key's holder can sign one.
func (b *Ballot) Body() []byte {
	if b.unsigned {
		return b.raw
	}
	n := len(b.raw) - zkp.SchnorrSize
	if n < 0 {
		return nil
	}
	return b.raw[:n:n]
}

// BodySize returns the exact length of every ballot body in this election:
// Size less the signature.
func (e *Election) BodySize() int { return e.Size() - zkp.SchnorrSize }

// TrackingCode returns the ballot's tracking code: SHA-256 over a domain tag
// and its encoding. A voter finds the ballot on the board by it.
func TrackingCode(encoded []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("evote/ballot/v1/tracking\x00"))
	h.Write(encoded)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Fingerprint returns the fingerprint of a ballot body (Ballot.Body):
// SHA-256 over a domain tag of its own and the body. It is what a booth
// shows for a sealed ballot before the voter chooses to cast it or audit
// it (SPEC.md §10.3), and what an audit is checked against: it commits to
// the ballot's token key, token, ciphertexts and proofs, everything but
// the signature, so it names the same ballot whether or not the signature
// is given out. It is not the tracking code, which also covers the
// signature.
func Fingerprint(body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("evote/ballot/v1/fingerprint\x00"))
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// GenerateTokenKey returns a fresh token key pair: the voter's secret, kept
// on the voter's device, and the public key the issuer blind-signs.
func GenerateTokenKey(rnd io.Reader) (*ristretto255.Scalar, *elgamal.PublicKey, error) {
	return elgamal.GenerateKey(rnd)
}

const sumPosition = 0xffffffff

// proofContext binds a proof to its election, key, token and position.
func (e *Election) proofContext(tokenKey *elgamal.PublicKey, question, choice uint32) []byte {
	h := e.Manifest.Hash()
	ctx := make([]byte, 0, 24+32+32+32+8)
	ctx = append(ctx, "evote/ballot/v1/proof\x00"...)
	ctx = append(ctx, h[:]...)
	ctx = append(ctx, e.Key.Bytes()...)
	ctx = append(ctx, tokenKey.Bytes()...)
	ctx = binary.BigEndian.AppendUint32(ctx, question)
	return binary.BigEndian.AppendUint32(ctx, choice)
}

// signatureContext is what the token key signs: the manifest hash and every
// byte of the ballot before the signature.
func (e *Election) signatureContext(body []byte) []byte {
	h := e.Manifest.Hash()
	ctx := make([]byte, 0, 30+32+len(body))
	ctx = append(ctx, "evote/ballot/v1/signature\x00"...)
	ctx = append(ctx, h[:]...)
	return append(ctx, body...)
}

// Encrypt builds a ballot. selections[q] lists the indices of the choices
// picked in question q; it must respect the question's min and max.
func Encrypt(rnd io.Reader, e *Election, tokenSecret *ristretto255.Scalar, tokenKey *elgamal.PublicKey, tok *token.Token, selections [][]int) (*Ballot, error) {
	b, _, err := EncryptOpening(rnd, e, tokenSecret, tokenKey, tok, selections)
	return b, err
}

// EncryptOpening is Encrypt (the same checks, and the same ballot for the
// same bytes of rnd) that also returns the ballot's opening: the
// randomness of every ciphertext, which proves what the ballot encrypts
// (CheckOpening). An opened ballot must never be cast: keep the opening
// secret, and give it out only to audit a ballot instead of casting it.
func EncryptOpening(rnd io.Reader, e *Election, tokenSecret *ristretto255.Scalar, tokenKey *elgamal.PublicKey, tok *token.Token, selections [][]int) (*Ballot, Opening, error) {
	m := e.Manifest
	picks, err := m.picks(selections)
	if err != nil {
		return nil, nil, err
	}
	if err := token.Verify(m.issuer, m.id, tokenKey.Bytes(), tok); err != nil {
		return nil, nil, fmt.Errorf("ballot: the token is not valid for this election and token key: %w", err)
	}
	var o Opening
	b, err := encryptOpen(rnd, e, tokenSecret, tokenKey, tok, picks, &o)
	if err != nil {
		return nil, nil, err
	}
	return b, o, nil
}

// picks checks selections against the manifest's rules (every choice
// exists and is picked once, each question within its min and max) and
// returns them as per-choice values, 1 for a chosen choice and 0 for
// another.
func (m *Manifest) picks(selections [][]int) ([][]uint64, error) {
	if len(selections) != len(m.Questions) {
		return nil, fmt.Errorf("ballot: %d answers for %d questions", len(selections), len(m.Questions))
	}
	picks := make([][]uint64, len(m.Questions))
	for qi, q := range m.Questions {
		picks[qi] = make([]uint64, len(q.Choices))
		for _, c := range selections[qi] {
			if c < 0 || c >= len(q.Choices) {
				return nil, fmt.Errorf("ballot: question %q has no choice %d", q.ID, c)
			}
			if picks[qi][c] == 1 {
				return nil, fmt.Errorf("ballot: question %q: choice %d picked twice", q.ID, c)
			}
			picks[qi][c] = 1
		}
		if n := len(selections[qi]); n < q.Min || n > q.Max {
			return nil, fmt.Errorf("ballot: question %q takes %d to %d choices, %d given", q.ID, q.Min, q.Max, n)
		}
	}
	return picks, nil
}

// encrypt builds a ballot from per-choice values without checking them, so
// tests can build the invalid ballots a cheating voter would.
func encrypt(rnd io.Reader, e *Election, tokenSecret *ristretto255.Scalar, tokenKey *elgamal.PublicKey, tok *token.Token, picks [][]uint64) (*Ballot, error) {
	return encryptOpen(rnd, e, tokenSecret, tokenKey, tok, picks, nil)
}

// encryptOpen is encrypt that, when opening is not nil, collects the
// randomness of every ciphertext into it (one row per question).
func encryptOpen(rnd io.Reader, e *Election, tokenSecret *ristretto255.Scalar, tokenKey *elgamal.PublicKey, tok *token.Token, picks [][]uint64, opening *Opening) (*Ballot, error) {
	m := e.Manifest
	b := &Ballot{TokenKey: tokenKey, Token: tok}
	body := make([]byte, 0, e.Size())
	body = append(body, Version)
	body = append(body, m.id...)
	body = append(body, tokenKey.Bytes()...)
	body = append(body, tok.Bytes()...)
	for qi, q := range m.Questions {
		picked := picks[qi]
		var eq EncryptedQuestion
		var rs []*ristretto255.Scalar
		rSum := ristretto255.NewScalar()
		var sum uint64
		for c := 0; c < q.Encrypted(); c++ {
			r, err := elgamal.RandomScalar(rnd)
			if err != nil {
				return nil, err
			}
			ct := elgamal.Encrypt(e.Key, picked[c], r)
			p, err := zkp.ProveOr(rnd, e.proofContext(tokenKey, uint32(qi), uint32(c)), e.Key, ct, r, zkp.ZeroOne(), int(min(picked[c], 1)))
			if err != nil {
				return nil, err
			}
			eq.Choices = append(eq.Choices, ct)
			eq.Proofs = append(eq.Proofs, p)
			rSum.Add(rSum, r)
			sum += picked[c]
			rs = append(rs, r)
		}
		if opening != nil {
			*opening = append(*opening, rs)
		}
		for _, ct := range eq.Choices {
			body = append(body, ct.Bytes()...)
		}
		for _, p := range eq.Proofs {
			body = append(body, p.Bytes()...)
		}
		if lo, hi, ok := q.SumRange(); ok {
			p, err := zkp.ProveOr(rnd, e.proofContext(tokenKey, uint32(qi), sumPosition), e.Key, elgamal.Add(eq.Choices...), rSum, zkp.Range(lo, hi), int(min(max(sum, lo), hi)-lo))
			if err != nil {
				return nil, err
			}
			eq.Sum = p
			body = append(body, p.Bytes()...)
		}
		b.Questions = append(b.Questions, eq)
	}
	sig, err := zkp.ProveSchnorr(rnd, e.signatureContext(body), tokenSecret, tokenKey)
	if err != nil {
		return nil, err
	}
	b.Signature = sig
	b.raw = append(body, sig.Bytes()...)
	return b, nil
}

// Errors a caller may tell apart with errors.Is.
var (
	ErrMalformed     = errors.New("ballot: malformed encoding")
	ErrWrongElection = errors.New("ballot: made for another election")
	ErrInvalidToken  = errors.New("ballot: eligibility token does not verify")
	ErrInvalidProof  = errors.New("ballot: a proof or the signature does not verify")
)

// Parse decodes a ballot for election e. It checks the encoding strictly
// (exact length, canonical points and scalars, no identity where none can
// be) but no proof or signature: call Verify or VerifyBatch for those.
func Parse(e *Election, in []byte) (*Ballot, error) {
	return parse(e, in, true)
}

// ParseBody decodes a ballot body (Ballot.Body: a ballot without its
// signature) for election e, with the checks Parse makes on those bytes.
// The ballot it returns has a nil Signature and no encoding (Bytes is nil):
// it can be checked (VerifyBody, CheckOpening) but never cast.
func ParseBody(e *Election, in []byte) (*Ballot, error) {
	return parse(e, in, false)
}

// parse is Parse, or ParseBody when signed is false.
func parse(e *Election, in []byte, signed bool) (*Ballot, error) {
	m := e.Manifest
	size, what := e.Size(), "a ballot"
	if !signed {
		size, what = e.BodySize(), "a ballot body"
	}
	if len(in) != size {
		return nil, fmt.Errorf("%w: %d bytes, %s in this election is %d bytes", ErrMalformed, len(in), what, size)
	}
	if in[0] != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, in[0], Version)
	}
	if string(in[1:33]) != string(m.id) {
		return nil, ErrWrongElection
	}
	r := reader{buf: in, off: 33}
	b := &Ballot{raw: append([]byte(nil), in...), unsigned: !signed}
	var err error
	if b.TokenKey, err = elgamal.ParsePublicKey(r.next(32)); err != nil {
		return nil, fmt.Errorf("%w: token key: %v", ErrMalformed, err)
	}
	if b.Token, err = token.ParseToken(m.issuer, r.next(token.PrefixSize+m.issuer.Size())); err != nil {
		return nil, fmt.Errorf("%w: token: %v", ErrMalformed, err)
	}
	for qi, q := range m.Questions {
		var eq EncryptedQuestion
		for c := 0; c < q.Encrypted(); c++ {
			ct, err := elgamal.ParseCiphertext(r.next(elgamal.CiphertextSize))
			if err != nil {
				return nil, fmt.Errorf("%w: question %d choice %d: %v", ErrMalformed, qi, c, err)
			}
			eq.Choices = append(eq.Choices, ct)
		}
		for c := 0; c < q.Encrypted(); c++ {
			p, err := zkp.ParseOr(r.next(zkp.OrProofSize(2)), 2)
			if err != nil {
				return nil, fmt.Errorf("%w: question %d choice %d proof: %v", ErrMalformed, qi, c, err)
			}
			eq.Proofs = append(eq.Proofs, p)
		}
		if lo, hi, ok := q.SumRange(); ok {
			n := int(hi - lo + 1)
			if eq.Sum, err = zkp.ParseOr(r.next(zkp.OrProofSize(n)), n); err != nil {
				return nil, fmt.Errorf("%w: question %d range proof: %v", ErrMalformed, qi, err)
			}
		}
		b.Questions = append(b.Questions, eq)
	}
	if !signed {
		return b, nil
	}
	if b.Signature, err = zkp.ParseSchnorr(r.next(zkp.SchnorrSize)); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	return b, nil
}

type reader struct {
	buf []byte
	off int
}

func (r *reader) next(n int) []byte {
	out := r.buf[r.off : r.off+n]
	r.off += n
	return out
}

// addProofs adds every proof of b to batch, and its signature when signed.
func (e *Election) addProofs(batch *zkp.Batch, b *Ballot, signed bool) {
	for qi, q := range e.Manifest.Questions {
		eq := b.Questions[qi]
		for c, ct := range eq.Choices {
			eq.Proofs[c].AddTo(batch, e.proofContext(b.TokenKey, uint32(qi), uint32(c)), e.Key, ct, zkp.ZeroOne())
		}
		if lo, hi, ok := q.SumRange(); ok {
			eq.Sum.AddTo(batch, e.proofContext(b.TokenKey, uint32(qi), sumPosition), e.Key, elgamal.Add(eq.Choices...), zkp.Range(lo, hi))
		}
	}
	if signed {
		b.Signature.AddTo(batch, e.signatureContext(b.Body()), b.TokenKey)
	}
}

// errUnsigned refuses a ballot that has no signature (from ParseBody)
// where a signed one is needed.
var errUnsigned = fmt.Errorf("%w: the ballot has no signature (it is a ballot body)", ErrInvalidProof)

// Verify checks everything about one parsed ballot: the token, every proof
// and the signature. A ballot without a signature (ParseBody) fails it,
// with an error wrapping ErrInvalidProof.
func Verify(e *Election, b *Ballot) error {
	if b.Signature == nil {
		return errUnsigned
	}
	return verify(e, b, true)
}

// VerifyBody checks what Verify checks but the signature: the token and
// every proof. It is for a ballot body (ParseBody), such as an audited
// ballot's, which the board would accept once signed by its token key;
// on a signed ballot it ignores the signature.
func VerifyBody(e *Election, b *Ballot) error {
	return verify(e, b, false)
}

// verify is Verify, without the signature when signed is false.
func verify(e *Election, b *Ballot, signed bool) error {
	if err := VerifyToken(e, b); err != nil {
		return err
	}
	batch := zkp.NewBatch(e.Key)
	e.addProofs(batch, b, signed)
	if !batch.Verify() {
		return ErrInvalidProof
	}
	return nil
}

// VerifyBatch checks many parsed ballots, folding all their proofs and
// signatures into one multi-scalar multiplication. It returns one error per
// ballot (nil for a valid one); when the combined check fails it verifies
// the ballots one by one so that the bad ones, and only they, are named.
func VerifyBatch(e *Election, bs []*Ballot) []error {
	errs := make([]error, len(bs))
	var pending []*Ballot
	var at []int
	for i, b := range bs {
		if errs[i] = VerifyToken(e, b); errs[i] == nil {
			pending = append(pending, b)
			at = append(at, i)
		}
	}
	for k, err := range VerifyProofsBatch(e, pending) {
		errs[at[k]] = err
	}
	return errs
}

// VerifyToken checks a parsed ballot's eligibility token: the issuer's
// signature on its token key for this election.
func VerifyToken(e *Election, b *Ballot) error {
	if err := token.Verify(e.Manifest.issuer, e.Manifest.id, b.TokenKey.Bytes(), b.Token); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return nil
}

// VerifyProofsBatch is VerifyBatch without the token checks, for callers
// that checked the tokens already (elsewhere, or on other cores).
func VerifyProofsBatch(e *Election, bs []*Ballot) []error {
	errs := make([]error, len(bs))
	batch := zkp.NewBatch(e.Key)
	var pending []int
	for i, b := range bs {
		if b.Signature == nil {
			errs[i] = errUnsigned
			continue
		}
		e.addProofs(batch, b, true)
		pending = append(pending, i)
	}
	if len(pending) == 0 || batch.Verify() {
		return errs
	}
	for _, i := range pending {
		b := zkp.NewBatch(e.Key)
		e.addProofs(b, bs[i], true)
		if !b.Verify() {
			errs[i] = ErrInvalidProof
		}
	}
	return errs
}

// Ciphertexts decodes only the ciphertexts of an encoded ballot, question by
// question, for aggregating ballots that were verified when they were
// admitted: a quarter of the decoding Parse does for a yes/no ballot. It
// checks the length and election, and the ciphertexts' encodings, nothing
// else; never use it on a ballot that has not been verified.
func Ciphertexts(e *Election, in []byte) ([][]*elgamal.Ciphertext, error) {
	m := e.Manifest
	if len(in) != e.Size() || in[0] != Version || string(in[1:33]) != string(m.id) {
		return nil, fmt.Errorf("%w: not a ballot of this election", ErrMalformed)
	}
	off := 1 + 32 + 32 + token.PrefixSize + m.issuer.Size()
	out := make([][]*elgamal.Ciphertext, len(m.Questions))
	for qi, q := range m.Questions {
		k := q.Encrypted()
		for c := 0; c < k; c++ {
			ct, err := elgamal.ParseCiphertext(in[off : off+elgamal.CiphertextSize])
			if err != nil {
				return nil, fmt.Errorf("%w: question %d choice %d: %v", ErrMalformed, qi, c, err)
			}
			out[qi] = append(out[qi], ct)
			off += elgamal.CiphertextSize
		}
		off += k * zkp.OrProofSize(2)
		if lo, hi, ok := q.SumRange(); ok {
			off += zkp.OrProofSize(int(hi - lo + 1))
		}
	}
	return out, nil
}
