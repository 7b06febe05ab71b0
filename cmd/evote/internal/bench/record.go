package bench

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
)

// MakeRecord runs an election of n 1-of-2 ballots in process (tokens signed
// in process, ballots cast straight to the board, the tally posted) and
// exports its record to path. It returns the board's verifier key, with
// which evote verify checks the file. Making a record costs far more than
// verifying it: each ballot needs an RSA blind signature and its proofs.
// It also returns how long the tally took: close, the board's aggregate,
// two trustees' partial decryptions, their combination and the result.
func MakeRecord(ctx context.Context, path string, n int, progress func(done, total int)) (vkey string, tallySeconds float64, err error) {
	dir, err := os.MkdirTemp("", "evote-record-")
	if err != nil {
		return "", 0, err
	}
	defer os.RemoveAll(dir)
	isk, err := token.GenerateKey(2048)
	if err != nil {
		return "", 0, err
	}
	e, err := sim.New(sim.Options{Dir: filepath.Join(dir, "board"), Issuer: isk})
	if err != nil {
		return "", 0, err
	}
	defer e.Close()
	var next, done atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 4*runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				v, err := e.Voter()
				if err == nil {
					var raw []byte
					if raw, err = e.Ballot(v, []int{int(i % 2)}); err == nil {
						_, err = e.Board.Cast(ctx, raw)
					}
				}
				if err != nil {
					once.Do(func() { first = err })
					return
				}
				if progress != nil {
					progress(int(done.Add(1)), n)
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return "", 0, first
	}
	start := time.Now()
	if _, err := e.Tally(); err != nil {
		return "", 0, err
	}
	tallySeconds = time.Since(start).Seconds()
	f, err := os.Create(path)
	if err != nil {
		return "", 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := e.Log.Export(w); err != nil {
		f.Close()
		return "", 0, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", 0, err
	}
	return e.VKey, tallySeconds, f.Close()
}
