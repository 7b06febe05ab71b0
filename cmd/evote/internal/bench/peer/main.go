// Command peer times the tally-side work of an election with evote's
// primitives and with go.dedis.ch/kyber/v3, the library under the Go
// e-voting system d-voting, in one run on one machine, and prints each pair
// and its ratio. It is a module of its own so that evote never depends on
// kyber.
//
//	cd cmd/evote/internal/bench/peer && go run . [-runs 5] [-ops 200] [-json]
//
// The work, the same on both sides: verifying one 0/1 proof (the
// disjunctive Chaum-Pedersen proof of a ballot's choice; kyber has none, so
// its side is the same equations written with kyber's group operations, as
// a kyber-based system has to), a trustee's partial decryption with its DLEQ
// proof, verifying that proof, and combining t = 3 of n = 5 partials by
// Lagrange interpolation in the exponent.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/threshold"
	"github.com/evote/evote/crypto/zkp"
	"github.com/gtank/ristretto255"
	"go.dedis.ch/kyber/v3"
	"go.dedis.ch/kyber/v3/group/edwards25519"
	"go.dedis.ch/kyber/v3/proof/dleq"
	"go.dedis.ch/kyber/v3/share"
)

type result struct {
	Name      string  `json:"name"`
	EvoteUS   float64 `json:"evote_us"`
	KyberUS   float64 `json:"kyber_us"`
	Ratio     float64 `json:"kyber_over_evote"`
	EvoteNote string  `json:"evote_note,omitempty"`
}

var (
	runs = flag.Int("runs", 5, "timed runs of each operation; the median is reported")
	ops  = flag.Int("ops", 200, "operations per run")
	js   = flag.Bool("json", false, "print JSON instead of a table")
)

// median times fn over ops operations, runs times, and returns the median
// microseconds per operation.
func median(fn func(i int)) float64 {
	var per []float64
	for r := 0; r < *runs; r++ {
		start := time.Now()
		for i := 0; i < *ops; i++ {
			fn(i)
		}
		per = append(per, float64(time.Since(start).Microseconds())/float64(*ops))
	}
	slices.Sort(per)
	return per[len(per)/2]
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}

func main() {
	flag.Parse()
	var out []result
	add := func(name string, e, k float64, note string) {
		out = append(out, result{name, e, k, k / e, note})
	}

	// ---- 0/1 proof verification ----
	_, pk, _ := elgamal.GenerateKey(nil)
	ctx := []byte("peer benchmark context")
	const n = 256
	cts := make([]*elgamal.Ciphertext, n)
	ps := make([]*zkp.OrProof, n)
	for i := range cts {
		r, _ := elgamal.RandomScalar(nil)
		cts[i] = elgamal.Encrypt(pk, uint64(i%2), r)
		var err error
		ps[i], err = zkp.ProveOr(nil, ctx, pk, cts[i], r, zkp.ZeroOne(), i%2)
		must(err)
	}
	eOne := median(func(i int) {
		if zkp.VerifyOr(ctx, pk, cts[i%n], zkp.ZeroOne(), ps[i%n]) != nil {
			panic("evote proof refused")
		}
	})
	eBatch := median(func(i int) {
		if i%n != 0 {
			return
		}
		b := zkp.NewBatch(pk)
		for j := range ps {
			ps[j].AddTo(b, ctx, pk, cts[j], zkp.ZeroOne())
		}
		if !b.Verify() {
			panic("evote batch refused")
		}
	}) * float64(*ops) / float64(((*ops)+n-1)/n*n)

	suite := edwards25519.NewBlakeSHA256Ed25519()
	kx := suite.Scalar().Pick(suite.RandomStream())
	kh := suite.Point().Mul(kx, nil)
	kps := make([]kyberOr, n)
	for i := range kps {
		kps[i] = proveKyberOr(suite, kh, i%2)
	}
	kOne := median(func(i int) {
		if !kps[i%n].verify(suite, kh) {
			panic("kyber proof refused")
		}
	})
	add("0/1 proof verify", eOne, kOne, "")
	add("0/1 proof verify (evote batched, 256)", eBatch, kOne, "kyber has no batch verifier")

	// ---- partial decryption with proof, its verification, combination ----
	const tn, tt = 5, 3
	shares := make([]*ristretto255.Scalar, tn+1)
	vks := make([]*elgamal.PublicKey, tn+1)
	// A Shamir sharing made here only to have shares to time with; an
	// election gets its shares from the key ceremony.
	coef := make([]*ristretto255.Scalar, tt)
	for k := range coef {
		coef[k], _ = elgamal.RandomScalar(nil)
	}
	for i := 1; i <= tn; i++ {
		s := ristretto255.NewScalar()
		x := elgamal.ScalarFromUint64(uint64(i))
		for k := tt - 1; k >= 0; k-- {
			s.Multiply(s, x)
			s.Add(s, coef[k])
		}
		shares[i] = s
		vks[i], _ = elgamal.NewPublicKey(ristretto255.NewIdentityElement().ScalarBaseMult(s))
	}
	epk, _ := elgamal.NewPublicKey(ristretto255.NewIdentityElement().ScalarBaseMult(coef[0]))
	r, _ := elgamal.RandomScalar(nil)
	ct := elgamal.Encrypt(epk, 42, r)
	var parts []*threshold.Partial
	ePD := median(func(i int) {
		p, err := threshold.PartialDecrypt(nil, ctx, 1, shares[1], vks[1], ct)
		must(err)
		_ = p
	})
	for i := 1; i <= tt; i++ {
		p, err := threshold.PartialDecrypt(nil, ctx, i, shares[i], vks[i], ct)
		must(err)
		parts = append(parts, p)
	}
	eVer := median(func(i int) { must(threshold.VerifyPartial(ctx, vks[1], ct, parts[0])) })
	eComb := median(func(i int) {
		_, err := threshold.Combine(ct, parts, tt)
		must(err)
	})

	poly := share.NewPriPoly(suite, tt, nil, suite.RandomStream())
	kShares := poly.Shares(tn)
	kA := suite.Point().Pick(suite.RandomStream())
	var kProof *dleq.Proof
	var kVK, kD kyber.Point
	kPD := median(func(i int) {
		var err error
		kProof, kVK, kD, err = dleq.NewDLEQProof(suite, nil, kA, kShares[0].V)
		must(err)
	})
	kVer := median(func(i int) { must(kProof.Verify(suite, nil, kA, kVK, kD)) })
	pub := make([]*share.PubShare, tt)
	for i := 0; i < tt; i++ {
		pub[i] = &share.PubShare{I: kShares[i].I, V: suite.Point().Mul(kShares[i].V, kA)}
	}
	kComb := median(func(i int) {
		_, err := share.RecoverCommit(suite, pub, tt, tn)
		must(err)
	})
	add("partial decryption with proof", ePD, kPD, "")
	add("partial decryption proof verify", eVer, kVer, "")
	add("combine 3 of 5", eComb, kComb, "")

	if *js {
		json.NewEncoder(os.Stdout).Encode(map[string]any{"cores": runtime.NumCPU(), "results": out})
		return
	}
	fmt.Printf("%d cores, %d runs of %d operations, medians (µs per operation)\n\n", runtime.NumCPU(), *runs, *ops)
	fmt.Printf("%-40s %10s %10s %8s\n", "operation", "evote", "kyber", "ratio")
	for _, r := range out {
		fmt.Printf("%-40s %10.1f %10.1f %7.1fx\n", r.Name, r.EvoteUS, r.KyberUS, r.Ratio)
	}
}

// kyberOr is a disjunctive Chaum-Pedersen 0/1 proof over kyber's
// edwards25519 group: the same statement and equations as evote's.
type kyberOr struct {
	A, B kyber.Point
	a, b [2]kyber.Point
	c, z [2]kyber.Scalar
}

func kyberChallenge(suite *edwards25519.SuiteEd25519, h kyber.Point, p *kyberOr) kyber.Scalar {
	hs := sha256.New()
	for _, pt := range []kyber.Point{h, p.A, p.B, p.a[0], p.b[0], p.a[1], p.b[1]} {
		pt.MarshalTo(hs)
	}
	return suite.Scalar().SetBytes(hs.Sum(nil))
}

func proveKyberOr(suite *edwards25519.SuiteEd25519, h kyber.Point, m int) kyberOr {
	rnd := suite.RandomStream()
	r := suite.Scalar().Pick(rnd)
	p := kyberOr{A: suite.Point().Mul(r, nil)}
	gm := suite.Point().Mul(suite.Scalar().SetInt64(int64(m)), nil)
	p.B = suite.Point().Add(suite.Point().Mul(r, h), gm)
	o := 1 - m
	p.c[o], p.z[o] = suite.Scalar().Pick(rnd), suite.Scalar().Pick(rnd)
	shifted := suite.Point().Sub(p.B, suite.Point().Mul(suite.Scalar().SetInt64(int64(o)), nil))
	p.a[o] = suite.Point().Sub(suite.Point().Mul(p.z[o], nil), suite.Point().Mul(p.c[o], p.A))
	p.b[o] = suite.Point().Sub(suite.Point().Mul(p.z[o], h), suite.Point().Mul(p.c[o], shifted))
	w := suite.Scalar().Pick(rnd)
	p.a[m], p.b[m] = suite.Point().Mul(w, nil), suite.Point().Mul(w, h)
	c := kyberChallenge(suite, h, &p)
	p.c[m] = suite.Scalar().Sub(c, p.c[o])
	p.z[m] = suite.Scalar().Add(w, suite.Scalar().Mul(p.c[m], r))
	return p
}

func (p *kyberOr) verify(suite *edwards25519.SuiteEd25519, h kyber.Point) bool {
	c := kyberChallenge(suite, h, p)
	if !suite.Scalar().Add(p.c[0], p.c[1]).Equal(c) {
		return false
	}
	for v := 0; v < 2; v++ {
		lhs := suite.Point().Mul(p.z[v], nil)
		rhs := suite.Point().Add(p.a[v], suite.Point().Mul(p.c[v], p.A))
		if !lhs.Equal(rhs) {
			return false
		}
		shifted := suite.Point().Sub(p.B, suite.Point().Mul(suite.Scalar().SetInt64(int64(v)), nil))
		lhs = suite.Point().Mul(p.z[v], h)
		rhs = suite.Point().Add(p.b[v], suite.Point().Mul(p.c[v], shifted))
		if !lhs.Equal(rhs) {
			return false
		}
	}
	return true
}
