package board_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
)

// BenchmarkCast casts 1,000 prepared 1-of-2 ballots from 64 concurrent
// clients, in process and over HTTP on loopback, with every check and a
// durable commit before each receipt, and reports ballots per second.
func BenchmarkCast(b *testing.B) {
	const n, clients = 1000, 64
	for _, overHTTP := range []bool{false, true} {
		name := "InProcess"
		if overHTTP {
			name = "HTTP"
		}
		b.Run(name, func(b *testing.B) {
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				e := electiontest.New(b, electiontest.Options{})
				ballots := make([][]byte, n)
				for j := range ballots {
					ballots[j] = e.Ballot(b, e.Voter(b), []int{j % 2})
				}
				cast := func(raw []byte) error { _, err := e.Board.Cast(ctx, raw); return err }
				if overHTTP {
					srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{}))
					defer srv.Close()
					tr := &http.Transport{MaxIdleConnsPerHost: clients}
					hc := &http.Client{Transport: tr}
					cast = func(raw []byte) error {
						resp, err := hc.Post(srv.URL+boardapi.PathBallots, "application/octet-stream", bytes.NewReader(raw))
						if err != nil {
							return err
						}
						defer resp.Body.Close()
						if resp.StatusCode != http.StatusCreated {
							b.Errorf("HTTP %d", resp.StatusCode)
						}
						return nil
					}
				}
				b.StartTimer()
				start := time.Now()
				var next atomic.Int64
				var wg sync.WaitGroup
				for c := 0; c < clients; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							j := next.Add(1) - 1
							if j >= n {
								return
							}
							if err := cast(ballots[j]); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				total += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "ballots/s")
		})
	}
}
