package board_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
)

// boothOrigin is the voting booth's origin in the CORS tests.
const boothOrigin = "https://booth.example"

// preflight sends a browser's CORS preflight for method path from origin,
// asking to send headers (as Access-Control-Request-Headers), with body
// (a browser sends none: this one tries to smuggle a request through).
func preflight(t *testing.T, url, path, origin, method, headers string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer admin-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestAttackCORSForeignOrigin: with the booth's origin configured, a web
// page of another origin cannot get the browser to cast: its preflight for
// POST /v1/ballots is refused (403, no Access-Control-Allow-Origin). Nor
// can the booth's own page reach an admin endpoint: a preflight asking to
// send Authorization is refused even from the allowed origin. The
// preflights carry a ballot and the admin token, and nothing is stored:
// they never reach the board's handler.
func TestAttackCORSForeignOrigin(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{AdminToken: "admin-secret", CORSOrigins: []string{boothOrigin}}))
	t.Cleanup(srv.Close)
	a := &api{t, srv.URL, e.Board.Log()}
	ballot := e.Ballot(t, e.Voter(t), []int{0})
	before := a.size()

	refused := func(what string, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d, Access-Control-Allow-Origin %q; want 403 and none", what, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if n := a.size(); n != before {
			t.Fatalf("%s: refused, but the log grew from %d to %d entries", what, before, n)
		}
	}
	for _, origin := range []string{"https://evil.example", "null", "https://booth.example.evil.example", "http://booth.example", boothOrigin + "/"} {
		refused("cast preflight from "+origin, preflight(t, a.url, boardapi.PathBallots, origin, "POST", "content-type", ballot))
	}
	for _, path := range []string{boardapi.PathCeremony, boardapi.PathOpen, boardapi.PathClose, boardapi.PathResult} {
		refused("Authorization preflight for "+path, preflight(t, a.url, path, boothOrigin, "POST", "authorization", nil))
		refused("Authorization and Content-Type preflight for "+path, preflight(t, a.url, path, boothOrigin, "POST", "content-type,authorization", ballot))
	}
	if ph, err := e.Board.Phase(); err != nil || ph != "open" {
		t.Fatalf("the election is %q (%v) after the refused preflights", ph, err)
	}

	// The booth itself may cast: its preflight is allowed, and its cast is
	// answered with the header that lets it read the receipt.
	if resp := preflight(t, a.url, boardapi.PathBallots, boothOrigin, "POST", "content-type", nil); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != boothOrigin {
		t.Fatalf("the booth's preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req, err := http.NewRequest(http.MethodPost, a.url+boardapi.PathBallots, bytes.NewReader(ballot))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", boothOrigin)
	req.Header.Set("Content-Type", octet)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Access-Control-Allow-Origin") != boothOrigin || a.size() != before+1 {
		t.Fatalf("the booth's cast: %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}
