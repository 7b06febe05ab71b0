package board_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/report"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
)

// reportOf is what evote board serve gives the board: verify the record,
// then write package report's page.
func reportOf(t *testing.T, vkey string) func(io.Writer, io.Reader) error {
	key, err := verify.BoardKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return func(w io.Writer, r io.Reader) error {
		_, err := report.FromRecord(w, r, key, report.Options{BoardKey: vkey})
		return err
	}
}

func getReport(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url + board.PathReport)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestReportServedOnceTheResultIsIn(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{Report: reportOf(t, e.VKey)}))
	defer srv.Close()
	for _, sel := range []int{0, 0, 1} {
		e.Cast(t, e.Voter(t), []int{sel})
	}
	code, body, hdr := getReport(t, srv.URL)
	var er struct{ Code, Error string }
	if code != http.StatusNotFound || hdr.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(body), &er) != nil || er.Code == "" {
		t.Fatalf("before the result: %d %s %q, want 404 with a JSON error", code, hdr.Get("Content-Type"), body)
	}
	e.Tally(t)

	// Many readers at once: each gets the same page, built once.
	var wg sync.WaitGroup
	pages := make([]string, 8)
	for i := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, hdr := getReport(t, srv.URL)
			if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
				t.Errorf("after the result: %d %s CSP %q", code, hdr.Get("Content-Type"), hdr.Get("Content-Security-Policy"))
			}
			pages[i] = body
		}()
	}
	wg.Wait()
	for _, p := range pages[1:] {
		if p != pages[0] {
			t.Fatal("two requests got different reports")
		}
	}
	for _, want := range []string{`<td class="num count">2</td>`, `<td class="num count">1</td>`, "Verified: every check on the record holds.", "Verificato"} {
		if !strings.Contains(pages[0], want) {
			t.Errorf("the board's report lacks %q", want)
		}
	}
}

func TestReportNeedsAWriter(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	e.Cast(t, e.Voter(t), []int{0})
	e.Tally(t)
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{}))
	defer srv.Close()
	if code, body, _ := getReport(t, srv.URL); code != http.StatusNotFound || !strings.Contains(body, "serves no report") {
		t.Fatalf("no report writer: %d %q, want 404 saying the board serves no report", code, body)
	}
	if code, _, _ := func() (int, string, http.Header) {
		resp, err := http.Post(srv.URL+board.PathReport, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, "", nil
	}(); code != http.StatusMethodNotAllowed {
		t.Fatalf("POST %s: %d, want 405", board.PathReport, code)
	}
}

// TestReportWaitsForIssuance: with the issuer's statement key in the
// manifest, the record is complete only with the statement, so the page
// waits for it as for the result, then shows the issuer's counts.
func TestReportWaitsForIssuance(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{Report: reportOf(t, e.VKey)}))
	defer srv.Close()
	for _, sel := range []int{0, 1} {
		e.Cast(t, e.Voter(t), []int{sel})
	}
	if _, err := e.Board.CloseVoting(t.Context()); err != nil {
		t.Fatal(err)
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	for _, ks := range e.Shares[:2] {
		p, err := tally.Decrypt(e.Board.Election(), agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.PostPartial(t.Context(), p.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	shares, err := e.Board.Partials()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tally.Combine(e.Board.Election(), agg, shares)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Board.PostResult(t.Context(), res.Bytes()); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := getReport(t, srv.URL); code != http.StatusNotFound || !strings.Contains(body, "the issuer's counts") {
		t.Fatalf("the result but not the statement: %d %s", code, body)
	}
	if _, err := e.PostIssuance(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := getReport(t, srv.URL); code != http.StatusOK || !strings.Contains(body, "Eligible voters</dt><dd>2</dd>") {
		t.Fatalf("the statement posted: %d, want the page with the issuer's counts", code)
	}
}
