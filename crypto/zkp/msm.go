package zkp

import (
	"runtime"
	"sync"

	"github.com/gtank/ristretto255"
)

// pippengerMin is the number of points from which msm uses the bucket
// method: below it, edwards25519's Straus is faster (BenchmarkMSM).
const pippengerMin = 192

// MSM returns Σ sᵢ·Pᵢ in variable time, as Batch.Verify computes it; it is
// exported so that benchmarks time the same code.
func MSM(scalars []*ristretto255.Scalar, points []*ristretto255.Element) *ristretto255.Element {
	return msm(scalars, points)
}

// msm returns Σ sᵢ·Pᵢ in variable time. Large inputs use Pippenger's bucket
// method over the group's public operations, split across cores; small ones
// edwards25519's Straus. Only public values may be passed.
func msm(scalars []*ristretto255.Scalar, points []*ristretto255.Element) *ristretto255.Element {
	n := len(points)
	if n < pippengerMin {
		return ristretto255.NewIdentityElement().VarTimeMultiScalarMult(scalars, points)
	}
	c := window(n)
	// Each core takes a share of the points; the partial sums add up.
	parts := min(runtime.GOMAXPROCS(0), n/pippengerMin)
	results := make([]*ristretto255.Element, parts)
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		lo, hi := p*n/parts, (p+1)*n/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[p] = pippenger(scalars[lo:hi], points[lo:hi], c)
		}()
	}
	wg.Wait()
	sum := ristretto255.NewIdentityElement()
	for _, r := range results {
		sum.Add(sum, r)
	}
	return sum
}

// window returns the bucket width minimising windows·(n + 2^(c+1)) adds.
func window(n int) int {
	best, bestCost := 4, -1
	for c := 4; c <= 16; c++ {
		cost := (253 + c - 1) / c * (n + 2<<c)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// digit returns bits [off, off+c) of the little-endian scalar b.
func digit(b []byte, off, c int) int {
	var v uint64
	for i := 0; i < 8 && off/8+i < len(b); i++ {
		v |= uint64(b[off/8+i]) << (8 * i)
	}
	return int(v>>(off%8)) & (1<<c - 1)
}

func pippenger(scalars []*ristretto255.Scalar, points []*ristretto255.Element, c int) *ristretto255.Element {
	enc := make([][]byte, len(scalars))
	top := 0 // highest set bit over all scalars, to skip empty windows (128-bit weights)
	for i, s := range scalars {
		enc[i] = s.Bytes()
		for j := 31; j >= 0; j-- {
			if enc[i][j] != 0 {
				top = max(top, 8*j+8)
				break
			}
		}
	}
	buckets := make([]*ristretto255.Element, 1<<c)
	used := make([]bool, 1<<c)
	for i := range buckets {
		buckets[i] = ristretto255.NewIdentityElement()
	}
	result := ristretto255.NewIdentityElement()
	for w := (top + c - 1) / c; w >= 0; w-- {
		for k := 0; k < c; k++ {
			result.Add(result, result)
		}
		for i := range used {
			used[i] = false
		}
		for i, e := range enc {
			d := digit(e, w*c, c)
			if d == 0 {
				continue
			}
			if used[d] {
				buckets[d].Add(buckets[d], points[i])
			} else {
				buckets[d].Set(points[i])
				used[d] = true
			}
		}
		// Σ d·bucket[d] as a running sum from the top bucket down.
		running, acc := ristretto255.NewIdentityElement(), ristretto255.NewIdentityElement()
		for d := len(buckets) - 1; d > 0; d-- {
			if used[d] {
				running.Add(running, buckets[d])
			}
			acc.Add(acc, running)
		}
		result.Add(result, acc)
	}
	return result
}
