package boardapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/evote/evote/board/boardapi"
)

// A client branches on the sentinel of a refusal's code, never on its
// message. Here a stand-in for a board answers every cast as a board does
// a ballot it holds already.
func ExampleError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintln(w, `{"code":"ballot_on_board","error":"this exact ballot is already on the board"}`)
	}))
	defer srv.Close()

	_, err := boardapi.NewClient(srv.URL, nil).Cast(context.Background(), []byte("a ballot"))
	switch {
	case errors.Is(err, boardapi.ErrBallotOnBoard):
		fmt.Println("cast before: fetch its receipt")
	case errors.Is(err, boardapi.ErrAlreadyVoted):
		fmt.Println("this token voted with another ballot")
	}
	var ae *boardapi.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode, ae.Code)
	}
	// Output:
	// cast before: fetch its receipt
	// 409 ballot_on_board
}
