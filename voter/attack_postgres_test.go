package voter_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/voter"
)

// TestAttackProofUnanswered attacks the voter's leniency towards a board
// that does not answer for a consistency proof (which the boards behind a
// load balancer, on one database, need: a front killed, the database
// restarting). A lying board, whose ballot's receipt is in another
// history than the one the voter read the election from, cannot prove the
// two consistent; here it answers the proof over HTTP every way it might
// instead, forever. Whatever it does the voter gets no receipt: the
// ballot is cast (the board holds it), but CastTicket fails and keeps
// none. A board that answers, 200 or a refusal, with anything but a proof
// that checks, is accused of a split view; one that does not answer (503,
// 429, the connection closed) is not, and the error says to retry; once
// it answers with the proof, the retry ends in the receipt.
func TestAttackProofUnanswered(t *testing.T) {
	ctx := context.Background()
	garbage := base64.StdEncoding.EncodeToString(make([]byte, 31))
	for _, tc := range []struct {
		name  string
		serve func(w http.ResponseWriter)
		split bool
	}{
		{"200, not JSON", func(w http.ResponseWriter) { w.Write([]byte("<html>oops</html>")) }, true},
		{"200, hashes not base64", func(w http.ResponseWriter) { w.Write([]byte(`{"hashes":["!!"]}`)) }, true},
		{"200, a hash of 31 bytes", func(w http.ResponseWriter) { w.Write([]byte(`{"hashes":["` + garbage + `"]}`)) }, true},
		{"200, an empty proof", func(w http.ResponseWriter) { w.Write([]byte(`{"hashes":[]}`)) }, true},
		{"200, larger than any answer", func(w http.ResponseWriter) {
			w.Write([]byte(`{"hashes":["` + strings.Repeat("A", 2<<20) + `"]}`))
		}, true},
		{"404", func(w http.ResponseWriter) { http.Error(w, `{"error":"no"}`, http.StatusNotFound) }, true},
		{"500", func(w http.ResponseWriter) { http.Error(w, "internal", http.StatusInternalServerError) }, true},
		{"503", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "5")
			http.Error(w, `{"error":"storage","code":"storage"}`, http.StatusServiceUnavailable)
		}, false},
		{"429", func(w http.ResponseWriter) { http.Error(w, "slow down", http.StatusTooManyRequests) }, false},
		{"connection closed", func(w http.ResponseWriter) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := electiontest.New(t, electiontest.Options{})
			inner := board.NewHandler(e.Board, board.HandlerConfig{})
			var lying atomic.Bool
			lying.Store(true)
			var asked atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == boardapi.PathConsistency && lying.Load() {
					asked.Add(1)
					tc.serve(w)
					return
				}
				inner.ServeHTTP(w, r)
			}))
			defer srv.Close()
			c := &voter.Client{Board: boardapi.NewClient(srv.URL, nil), Issuer: memIssuer{e.Issuer, e.Board.Manifest().ID()},
				BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
			el, err := c.Election(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tk := mustTicket(t, c, el)
			size := logSize(t, e)
			for try := range 3 {
				rc, err := c.CastTicket(ctx, el, tk)
				if err == nil || rc != nil || tk.Receipt != nil {
					t.Fatalf("try %d: a receipt without the proof: %+v, %v", try, rc, err)
				}
				if got := errors.Is(err, voter.ErrSplitView); got != tc.split {
					t.Fatalf("try %d: %v; split view %v, want %v", try, err, got, tc.split)
				}
				if !tc.split && !strings.Contains(err.Error(), "retry") {
					t.Fatalf("try %d: the error does not say to retry: %v", try, err)
				}
			}
			if asked.Load() == 0 {
				t.Fatal("the proof was never asked for")
			}
			if n := logSize(t, e); n != size+1 {
				t.Fatalf("the log went from %d to %d entries: the ballot is not on the board once", size, n)
			}
			lying.Store(false)
			if rc, err := c.CastTicket(ctx, el, tk); err != nil || rc == nil || tk.Receipt != rc {
				t.Fatalf("once the board proves its history: %+v, %v", rc, err)
			}
		})
	}
}
