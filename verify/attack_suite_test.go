package verify_test

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/verify"
)

// TestAttackEveryBitFlipped feeds the verifier a minimal complete record
// (one trustee, one ballot, its tally) with one bit flipped, at every byte
// of the record: the magic, the framing, every entry of every kind, the
// checkpoint and its signature. Every run flips each byte once, at bit
// (seed + 3·offset) mod 8 (seed 0 unless EVOTE_FLIP_SEED sets another, so
// that runs with seeds 0 to 7 cover all eight bits of every byte); 2000 more flips at a stride of 7919 bits
// (prime to the record's bit length) add another bit per byte for a
// quarter of the record. Every altered record must fail with a
// *verify.Error. Set EVOTE_FLIP_SEED to repeat a run, EVOTE_FLIP_ALL=1 to
// flip every bit of the record (20,744 verifications, about 30 s).
func TestAttackEveryBitFlipped(t *testing.T) {
	e, rec, _ := election(t, electiontest.Options{N: 1, T: 1}, 1)
	if rep, err := verify.Record(bytes.NewReader(rec), e.Verifier, verify.Options{}); err != nil || !rep.OK {
		t.Fatalf("the untouched record: %v", err)
	}
	var seed int64 // fixed, so a failure repeats; EVOTE_FLIP_SEED picks other bits
	if s := os.Getenv("EVOTE_FLIP_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("record of %d bytes; seed %d (EVOTE_FLIP_SEED to repeat)", len(rec), seed)
	nbits := 8 * len(rec)
	var bits []int
	for off := range rec {
		bits = append(bits, 8*off+int((seed+3*int64(off))%8))
	}
	flips := 2000
	if os.Getenv("EVOTE_FLIP_ALL") != "" {
		bits, flips = bits[:0], 0
		for bit := range nbits {
			bits = append(bits, bit)
		}
	}
	if testing.Short() {
		bits, flips = bits[:0], 500
		for k := 0; k < 500; k++ {
			off := (k*len(rec)/500 + int(seed)) % len(rec)
			bits = append(bits, 8*off+int((seed+int64(k))%8))
		}
	}
	for k := range flips {
		bits = append(bits, (int(seed)+k*7919)%nbits)
	}
	start := time.Now()
	bad := bytes.Clone(rec)
	failed := 0
	for _, bit := range bits {
		off, mask := bit/8, byte(1)<<(bit%8)
		bad[off] ^= mask
		rep, err := verify.Record(bytes.NewReader(bad), e.Verifier, verify.Options{})
		bad[off] ^= mask
		var ve *verify.Error
		switch {
		case err == nil || (rep != nil && rep.OK):
			t.Errorf("byte %d bit %d flipped: the record verifies", off, bit%8)
		case !errors.As(err, &ve) || err.Error() == "":
			t.Errorf("byte %d bit %d flipped: error %v is not a *verify.Error with a message", off, bit%8, err)
		default:
			failed++
		}
	}
	t.Logf("%d flips, each refused, in %v", failed, time.Since(start).Round(time.Millisecond))
}
