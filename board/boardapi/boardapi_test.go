package boardapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/evote/evote/board/boardapi"
	"golang.org/x/mod/sumdb/tlog"
)

// TestErrorIs: each code matches its sentinel and no other, but that a
// ballot on the board is also a token that voted; an answer without a code
// (a proxy's) matches none.
func TestErrorIs(t *testing.T) {
	codes := map[string]error{
		boardapi.CodeBadRequest: boardapi.ErrBadRequest, boardapi.CodeInvalidBallot: boardapi.ErrInvalidBallot,
		boardapi.CodeInvalidEntry: boardapi.ErrInvalidEntry, boardapi.CodeUnauthorized: boardapi.ErrUnauthorized,
		boardapi.CodeNotOpen: boardapi.ErrNotOpen, boardapi.CodeClosed: boardapi.ErrClosed,
		boardapi.CodeNotClosed: boardapi.ErrNotClosed, boardapi.CodeAlreadyOpen: boardapi.ErrAlreadyOpen,
		boardapi.CodeCeremonyIncomplete: boardapi.ErrCeremonyIncomplete, boardapi.CodeNotFound: boardapi.ErrNotFound,
		boardapi.CodeMethodNotAllowed: boardapi.ErrMethodNotAllowed, boardapi.CodeAlreadyVoted: boardapi.ErrAlreadyVoted,
		boardapi.CodeBallotOnBoard: boardapi.ErrBallotOnBoard, boardapi.CodeTooLarge: boardapi.ErrTooLarge,
		boardapi.CodeUnsupportedType: boardapi.ErrUnsupportedType, boardapi.CodeRateLimited: boardapi.ErrRateLimited,
		boardapi.CodeInternal: boardapi.ErrInternal, boardapi.CodeOverloaded: boardapi.ErrOverloaded,
		boardapi.CodeStorage: boardapi.ErrStorage,
	}
	for code, want := range codes {
		e := &boardapi.Error{StatusCode: 400, Code: code}
		for _, other := range codes {
			got := errors.Is(e, other)
			should := other == want || code == boardapi.CodeBallotOnBoard && other == boardapi.ErrAlreadyVoted
			if got != should {
				t.Errorf("code %q matches %v: %v, want %v", code, other, got, should)
			}
		}
	}
	for _, s := range codes {
		if errors.Is(&boardapi.Error{StatusCode: 502, Message: "Bad Gateway"}, s) {
			t.Errorf("an answer with no code matches %v", s)
		}
	}
}

// TestClientReadsErrors: the client makes an *Error of the board's JSON
// error body and of a proxy's plain text, with Retry-After.
func TestClientReadsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case boardapi.PathBallots:
			w.Header().Set("Retry-After", "30")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"storage","error":"this was NOT stored"}` + "\n"))
		default:
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("upstream down\n"))
		}
	}))
	defer srv.Close()
	c := boardapi.NewClient(srv.URL+"/", nil)
	_, err := c.Cast(context.Background(), []byte("ballot"))
	var ae *boardapi.Error
	if !errors.As(err, &ae) || *ae != (boardapi.Error{StatusCode: 503, Code: boardapi.CodeStorage, Message: "this was NOT stored", RetryAfter: 30 * time.Second}) || !errors.Is(err, boardapi.ErrStorage) {
		t.Fatalf("storage refusal: %#v", err)
	}
	if got := err.Error(); got != "boardapi: the board answered 503 (storage): this was NOT stored" {
		t.Fatalf("Error() = %q", got)
	}
	_, err = c.Election(context.Background())
	if !errors.As(err, &ae) || *ae != (boardapi.Error{StatusCode: 502, Message: "upstream down"}) {
		t.Fatalf("a proxy's answer: %#v", err)
	}
	if got := err.Error(); got != "boardapi: the board answered 502: upstream down" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestHashes(t *testing.T) {
	hs := []tlog.Hash{{1}, {2, 3}}
	got, err := boardapi.DecodeHashes(boardapi.EncodeHashes(hs))
	if err != nil || len(got) != 2 || got[0] != hs[0] || got[1] != hs[1] {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for _, bad := range []string{"AAAA", "!!", ""} {
		if _, err := boardapi.DecodeHashes([]string{bad}); err == nil {
			t.Errorf("DecodeHashes(%q) succeeded", bad)
		}
	}
}
