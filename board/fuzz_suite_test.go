package board_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
)

// FuzzPostBody feeds arbitrary bodies to every POST endpoint of the board
// that takes one, through the HTTP handler: an open board for ballots and
// ceremony messages, a closed one for partial decryptions and results.
// Every answer is 201 or a JSON error, and a refusal leaves the log as it
// was.
func FuzzPostBody(f *testing.F) {
	open := electiontest.New(f, electiontest.Options{})
	closed := electiontest.New(f, electiontest.Options{})
	closed.Cast(f, closed.Voter(f), []int{0})
	closed.Cast(f, closed.Voter(f), []int{1})
	// Seeds: a valid ballot, a ceremony message, a valid partial and a result.
	ballotSeed := open.Ballot(f, open.Voter(f), []int{1})
	ceremony, _ := open.Log.Leaf(1)
	if _, err := closed.Board.CloseVoting(ctx); err != nil {
		f.Fatal(err)
	}
	// Post no partial: keep a valid one as a seed.
	helper := electiontest.New(f, electiontest.Options{})
	helper.Cast(f, helper.Voter(f), []int{0})
	helper.Tally(f)
	var partial, result []byte
	n, _ := helper.Log.Size()
	for i := uint64(0); i < n; i++ {
		l, _ := helper.Log.Leaf(i)
		switch store.EntryType(l[0]) {
		case store.Partial:
			partial = l[1:]
		case store.Result:
			result = l[1:]
		}
	}
	const (
		epBallots = iota
		epCeremony
		epPartials
		epResult
		endpoints
	)
	f.Add(uint8(epBallots), ballotSeed)
	f.Add(uint8(epBallots), ballotSeed[:len(ballotSeed)-1])
	f.Add(uint8(epCeremony), ceremony[1:])
	f.Add(uint8(epPartials), partial)
	f.Add(uint8(epPartials), partial[:40])
	f.Add(uint8(epResult), result)
	f.Add(uint8(epResult), []byte(`{"ballots":2,"counts":[[1,1]]}`))
	hOpen := board.NewHandler(open.Board, board.HandlerConfig{AdminToken: "admin"})
	hClosed := board.NewHandler(closed.Board, board.HandlerConfig{AdminToken: "admin"})
	f.Fuzz(func(t *testing.T, ep uint8, body []byte) {
		var (
			e    *electiontest.Election
			h    http.Handler
			path string
		)
		switch ep % endpoints {
		case epBallots:
			e, h, path = open, hOpen, boardapi.PathBallots
		case epCeremony:
			e, h, path = open, hOpen, boardapi.PathCeremony
		case epPartials:
			e, h, path = closed, hClosed, boardapi.PathPartials
		case epResult:
			e, h, path = closed, hClosed, boardapi.PathResult
		}
		before, _ := e.Log.Size()
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", "Bearer admin")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		after, _ := e.Log.Size()
		if rec.Code == http.StatusCreated {
			if after != before+1 {
				t.Fatalf("%s: 201 but the log went from %d to %d entries", path, before, after)
			}
			return
		}
		if after != before {
			t.Fatalf("%s: refused with %d but the log went from %d to %d entries", path, rec.Code, before, after)
		}
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s: 500 for body %x: %s", path, body, rec.Body.Bytes())
		}
		var er boardapi.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &er); err != nil || er.Error == "" {
			t.Fatalf("%s: %d reply %q is not a JSON error", path, rec.Code, rec.Body.Bytes())
		}
	})
}
