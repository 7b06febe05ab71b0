package board_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/store"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func postBallot(t *testing.T, url string, body []byte, header ...string) (*http.Response, boardapi.ErrorResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+boardapi.PathBallots, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e boardapi.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	return resp, e
}

func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + boardapi.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != service.ContentType {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	m, err := service.ParseText(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHealthMetricsAndLog casts through HTTP and checks /healthz, /metrics
// and the request log, which must hold neither ballot bytes nor token keys.
func TestHealthMetricsAndLog(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	var logs lockedBuffer
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	defer srv.Close()
	v := e.Voter(t)
	raw := e.Ballot(t, v, []int{0})
	if resp, msg := postBallot(t, srv.URL, raw); resp.StatusCode != http.StatusCreated {
		t.Fatalf("cast: %d %s", resp.StatusCode, msg.Error)
	}
	if resp, _ := postBallot(t, srv.URL, raw); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second cast: %d", resp.StatusCode)
	}
	if resp, _ := postBallot(t, srv.URL, raw[:len(raw)-1]); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("truncated cast: %d", resp.StatusCode)
	}
	resp, err := http.Get(srv.URL + boardapi.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.String() != "ok\n" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body.String())
	}
	size := size(t, e)
	m := scrape(t, srv.URL)
	for k, want := range map[string]float64{
		`evote_board_casts_total{result="accepted"}`:                              1,
		`evote_board_casts_total{result="already_voted"}`:                         1,
		`evote_board_casts_total{result="invalid"}`:                               1,
		`evote_board_casts_total{result="overloaded"}`:                            0,
		`evote_board_casts_total{result="rate_limited"}`:                          0,
		`evote_board_casts_total{result="closed"}`:                                0,
		`evote_board_casts_total{result="not_open"}`:                              0,
		`evote_board_http_requests_total{endpoint="POST /v1/ballots",code="2xx"}`: 1,
		`evote_board_http_requests_total{endpoint="POST /v1/ballots",code="4xx"}`: 2,
		`evote_board_http_requests_total{endpoint="GET /healthz",code="2xx"}`:     1,
		`evote_board_cast_duration_seconds_count`:                                 3,
		`evote_board_cast_duration_seconds_bucket{le="+Inf"}`:                     3,
		`evote_board_http_requests_in_flight`:                                     1,
		`evote_board_log_entries`:                                                 float64(size),
	} {
		if got, ok := m[k]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	logText := logs.String()
	if n := strings.Count(logText, `"msg":"request"`); n != 5 { // and the scrape
		t.Errorf("%d request lines for 5 requests:\n%s", n, logText)
	}
	// Each refusal's line says why, in the code its client was told.
	for _, code := range []string{boardapi.CodeBallotOnBoard, boardapi.CodeInvalidBallot} {
		if !strings.Contains(logText, `,"refused":"`+code+`"}`) {
			t.Errorf("no request line with refused=%s:\n%s", code, logText)
		}
	}
	if n := strings.Count(logText, `"refused"`); n != 2 {
		t.Errorf("%d lines with a refusal's code, want the 2 refusals':\n%s", n, logText)
	}
	for what, s := range map[string]string{
		"token key (hex)":    hex.EncodeToString(v.Key.Bytes()),
		"token key (base64)": base64.StdEncoding.EncodeToString(v.Key.Bytes())[:24],
		"ballot bytes (hex)": hex.EncodeToString(raw[:24]),
	} {
		if strings.Contains(logText, s) {
			t.Errorf("the board's log holds the %s", what)
		}
	}
	e.Log.Close()
	resp, err = http.Get(srv.URL + boardapi.PathHealth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the log closed: %d, want 503", resp.StatusCode)
	}
}

// A flood of casts from one address is cut to its token bucket: 429 with
// Retry-After, while another address still gets through.
func TestAttackFloodRateLimited(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{
		Limits: service.Limits{RatePerSecond: 1, Burst: 3}, Now: clock,
		// The test plays two addresses through a header; a real
		// deployment trusts such a header only from its own proxy.
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Test-Client") },
	}))
	defer srv.Close()
	before := size(t, e)
	junk := []byte("not a ballot")
	for i := range 3 {
		if resp, _ := postBallot(t, srv.URL, junk, "X-Test-Client", "flood"); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d of the burst: %d", i, resp.StatusCode)
		}
	}
	resp, msg := postBallot(t, srv.URL, e.Ballot(t, e.Voter(t), []int{0}), "X-Test-Client", "flood")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(msg.Error, "too many requests") {
		t.Fatalf("over the burst: %d, Retry-After %q, %q", resp.StatusCode, resp.Header.Get("Retry-After"), msg.Error)
	}
	// The admin and partial endpoints are POSTs too.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+boardapi.PathPartials, strings.NewReader("x"))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Test-Client", "flood")
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("partials over the limit: %v %v", r2.StatusCode, err)
	}
	if size(t, e) != before {
		t.Fatal("a rate-limited cast changed the log")
	}
	if resp, _ := postBallot(t, srv.URL, e.Ballot(t, e.Voter(t), []int{1}), "X-Test-Client", "voter"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another address: %d", resp.StatusCode)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if resp, _ := postBallot(t, srv.URL, e.Ballot(t, e.Voter(t), []int{0}), "X-Test-Client", "flood"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after the bucket refilled: %d", resp.StatusCode)
	}
	if m := scrape(t, srv.URL); m[`evote_board_casts_total{result="rate_limited"}`] != 1 {
		t.Errorf("rate_limited casts %v, want 1", m[`evote_board_casts_total{result="rate_limited"}`])
	}
}

// heldLog is a log whose ballot appends wait until release is closed: a
// cast that reaches it has passed the gate and stays in flight.
type heldLog struct {
	store.Log
	entered chan struct{}
	release chan struct{}
}

func (l *heldLog) Append(ctx context.Context, a store.Append) (uint64, error) {
	if store.EntryType(a.Leaf[0]) == store.Ballot {
		l.entered <- struct{}{}
		<-l.release
	}
	return l.Log.Append(ctx, a)
}

// Casts that hang in flight (here: held in the store) fill the board's
// bound; the next cast is refused at once with 503, Retry-After: 1 and a
// JSON error, instead of joining a queue. When they end, casts go through.
// (A cast takes its slot only once its body is read: slow bodies hold
// none, see TestAttackSlowUploads.)
func TestAttackOverloadGets503(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	hl := &heldLog{Log: e.Log, entered: make(chan struct{}, 10), release: make(chan struct{})}
	b, err := board.Load(hl)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(board.NewHandler(b, board.HandlerConfig{Limits: service.Limits{MaxInFlight: 3}}))
	defer srv.Close()
	held := make(chan int, 3)
	for range 3 {
		raw := e.Ballot(t, e.Voter(t), []int{1})
		go func() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+boardapi.PathBallots, bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				held <- 0
				return
			}
			resp.Body.Close()
			held <- resp.StatusCode
		}()
	}
	for range 3 {
		select {
		case <-hl.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the held casts never reached the store")
		}
	}
	before := size(t, e)
	raw := e.Ballot(t, e.Voter(t), []int{0})
	start := time.Now()
	resp, msg := postBallot(t, srv.URL, raw)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a fourth cast with three in flight and a bound of three: %d %s, want 503", resp.StatusCode, msg.Error)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the 503 took %v: the cast waited", took)
	}
	if resp.Header.Get("Retry-After") != "1" || !strings.Contains(msg.Error, "limit of concurrent requests") {
		t.Errorf("503 with Retry-After %q, error %q", resp.Header.Get("Retry-After"), msg.Error)
	}
	if size(t, e) != before {
		t.Fatal("a refused cast changed the log")
	}
	if m := scrape(t, srv.URL); m[`evote_board_casts_total{result="overloaded"}`] != 1 {
		t.Error("the refusal is not counted as overloaded")
	}
	close(hl.release)
	for range 3 {
		if st := <-held; st != http.StatusCreated {
			t.Fatalf("a held cast ended with %d", st)
		}
	}
	if resp, msg := postBallot(t, srv.URL, raw); resp.StatusCode != http.StatusCreated {
		t.Fatalf("the refused cast, sent again after the held ones ended: %d %s", resp.StatusCode, msg.Error)
	}
	if n := size(t, e); n != before+4 {
		t.Fatalf("the log grew from %d to %d entries, want the 4 casts", before, n)
	}
}
