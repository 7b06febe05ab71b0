package verify_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
)

var benchRecord struct {
	once sync.Once
	rec  []byte
	key  note.Verifier
}

// benchElection builds, once, the record of an election with n ballots on
// one yes/no question (a 1-of-2 question: one ciphertext, one proof).
func benchElection(b *testing.B, n int) ([]byte, note.Verifier) {
	benchRecord.once.Do(func() {
		e := electiontest.New(b, electiontest.Options{})
		voters := make([]*electiontest.Voter, n)
		for i := range voters {
			voters[i] = e.Voter(b)
		}
		el := e.Board.Election()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 16 {
					v := voters[i]
					bl, err := ballot.Encrypt(nil, el, v.Secret, v.Key, v.Token, [][]int{{i % 2}})
					if err == nil {
						_, err = e.Board.Cast(context.Background(), bl.Bytes())
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		e.Tally(b)
		benchRecord.rec, benchRecord.key = e.Export(b), e.Verifier
	})
	if benchRecord.rec == nil {
		b.Fatal("building the benchmark record failed")
	}
	return benchRecord.rec, benchRecord.key
}

func BenchmarkRecord(b *testing.B) {
	const n = 1000
	rec, key := benchElection(b, n)
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for b.Loop() {
		rep, err := verify.Record(bytes.NewReader(rec), key, verify.Options{})
		if err != nil || rep.Counted != n {
			b.Fatal(err)
		}
	}
	perBallot := b.Elapsed().Seconds() / float64(b.N*n)
	b.ReportMetric(1/perBallot, "ballots/s")
	b.ReportMetric(perBallot*1e6, "µs/ballot")
}
