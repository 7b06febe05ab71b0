package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetricsText(t *testing.T) {
	var r Registry
	c := r.Counter("evote_test_requests_total", "Requests.\nSecond line.", "endpoint", "code")
	c.With("GET /x", "2xx").Inc()
	c.With("GET /x", "2xx").Inc()
	c.With(`we"ird\`, "5xx").Inc()
	g := r.Gauge("evote_test_in_flight", "In flight.")
	g.Add(3)
	g.Add(-1)
	r.GaugeFunc("evote_test_size", "Size.", func() (float64, bool) { return 42, true })
	r.GaugeFunc("evote_test_absent", "Absent.", func() (float64, bool) { return 0, false })
	h := r.Histogram("evote_test_seconds", "Latency.", []float64{0.01, 0.1, 1})
	h.Observe(5 * time.Millisecond)
	h.Observe(10 * time.Millisecond) // le is inclusive
	h.Observe(50 * time.Millisecond)
	h.Observe(3 * time.Second)
	var buf bytes.Buffer
	r.WriteText(&buf)
	text := buf.String()
	m, err := ParseText(&buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := map[string]float64{
		`evote_test_requests_total{endpoint="GET /x",code="2xx"}`:    2,
		`evote_test_requests_total{endpoint="we\"ird\\",code="5xx"}`: 1,
		`evote_test_in_flight`:                 2,
		`evote_test_size`:                      42,
		`evote_test_seconds_bucket{le="0.01"}`: 2,
		`evote_test_seconds_bucket{le="0.1"}`:  3,
		`evote_test_seconds_bucket{le="1"}`:    3,
		`evote_test_seconds_bucket{le="+Inf"}`: 4,
		`evote_test_seconds_count`:             4,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if s := m["evote_test_seconds_sum"]; s < 3.064 || s > 3.066 {
		t.Errorf("sum %v, want 3.065", s)
	}
	if _, ok := m["evote_test_absent"]; ok {
		t.Error("a gauge that could not tell was written")
	}
	if !strings.Contains(text, "# HELP evote_test_requests_total Requests.\\nSecond line.\n") {
		t.Errorf("HELP not escaped:\n%s", text)
	}
}

func TestParseTextRefusesUntyped(t *testing.T) {
	if _, err := ParseText(strings.NewReader("x 1\n")); err == nil {
		t.Fatal("a sample without # TYPE parsed")
	}
	if _, err := ParseText(strings.NewReader("# TYPE x counter\nx one\n")); err == nil {
		t.Fatal("a non-numeric value parsed")
	}
}

func TestGate(t *testing.T) {
	g := NewGate(2)
	first, second := g.TryEnter(), g.TryEnter()
	if !first || !second {
		t.Fatal("a free slot refused")
	}
	if g.TryEnter() {
		t.Fatal("a third request entered a gate of two")
	}
	g.Leave()
	if !g.TryEnter() {
		t.Fatal("a freed slot refused")
	}
	var open *Gate
	if !open.TryEnter() || open.Cap() != 0 {
		t.Fatal("a nil gate is not open")
	}
	open.Leave()
}

func TestWrapLogsAndCounts(t *testing.T) {
	var logs bytes.Buffer
	s := New("test", slog.New(slog.NewJSONHandler(&logs, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) })
	mux.HandleFunc("POST /boom", func(w http.ResponseWriter, r *http.Request) { WriteError(w, 500, "internal", "boom") })
	mux.HandleFunc("GET /busy", func(w http.ResponseWriter, r *http.Request) { Overloaded(w) })
	fail := errors.New("down")
	mux.HandleFunc("GET /healthz", s.Health(func(context.Context) error { return fail }))
	h := s.Wrap(mux)
	do := func(method, target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w
	}
	do("GET", "/ok/7?secret=do-not-log")
	do("POST", "/boom")
	if w := do("GET", "/busy"); w.Code != 503 || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"code":"overloaded","error"`) {
		t.Fatalf("Overloaded: %d %q %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := do("GET", "/healthz"); w.Code != 503 {
		t.Fatalf("failing health check answered %d", w.Code)
	}
	do("GET", "/nowhere")
	out := logs.String()
	for _, want := range []string{`"level":"INFO","msg":"request","method":"GET","path":"/ok/7","status":200`, `"bytes":5`, `"level":"ERROR","msg":"request","method":"POST","path":"/boom","status":500`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "do-not-log") {
		t.Error("the query string reached the log")
	}
	var buf bytes.Buffer
	s.Metrics.WriteText(&buf)
	m, err := ParseText(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{
		`evote_test_http_requests_total{endpoint="GET /ok/{id}",code="2xx"}`: 1,
		`evote_test_http_requests_total{endpoint="POST /boom",code="5xx"}`:   1,
		`evote_test_http_requests_total{endpoint="other",code="4xx"}`:        1, // the mux's own 404
		`evote_test_http_requests_in_flight`:                                 0,
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// Uploads admits each address up to its bound and no further, frees a
// slot on Leave, keeps no entry for an address with none held, and nil
// (a negative setting) admits everything.
func TestUploads(t *testing.T) {
	u := NewUploads(2)
	if u.Max() != 2 || NewUploads(0).Max() != DefaultMaxUploadsPerAddress {
		t.Fatalf("bounds %d and %d", u.Max(), NewUploads(0).Max())
	}
	for range 2 {
		if !u.TryEnter("a") {
			t.Fatal("an address refused within its bound")
		}
	}
	if u.TryEnter("a") {
		t.Fatal("an address admitted past its bound")
	}
	if !u.TryEnter("b") {
		t.Fatal("another address refused because one is full")
	}
	u.Leave("a")
	if !u.TryEnter("a") {
		t.Fatal("a freed slot was not given again")
	}
	u.Leave("a")
	u.Leave("a")
	u.Leave("b")
	if len(u.n) != 0 {
		t.Fatalf("%d addresses kept with nothing held", len(u.n))
	}
	none := NewUploads(-1)
	for range 1000 {
		if !none.TryEnter("a") {
			t.Fatal("no bound, but refused")
		}
	}
	none.Leave("a")
	if none.Max() != 0 {
		t.Fatal("no bound, but a Max")
	}
}

// TooManyUploads answers at once, 429 with Retry-After, and closes the
// connection rather than read the rest of a body first.
func TestTooManyUploads(t *testing.T) {
	w := httptest.NewRecorder()
	TooManyUploads(w)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || w.Header().Get("Connection") != "close" || !strings.Contains(w.Body.String(), "retry in 1 s") {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestWrapLogsRefusalCode: the log line of a refusal carries the code the
// client was told, whether the handler wrote it with WriteError or noted
// it for a body of its own; a success carries none, and a code that is
// not one of the API's words (a value a client could choose) never
// reaches the log.
func TestWrapLogsRefusalCode(t *testing.T) {
	var logs bytes.Buffer
	s := New("test", slog.New(slog.NewJSONHandler(&logs, nil)))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /vote", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusConflict, "already_voted", "this token has already cast a ballot")
	})
	mux.HandleFunc("POST /own", func(w http.ResponseWriter, r *http.Request) {
		NoteRefusal(w, "second_factor_required")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"code":"second_factor_required"}`))
	})
	mux.HandleFunc("POST /odd", func(w http.ResponseWriter, r *http.Request) {
		NoteRefusal(w, r.URL.Query().Get("c"))
		w.WriteHeader(http.StatusBadRequest)
	})
	mux.HandleFunc("GET /fine", func(w http.ResponseWriter, r *http.Request) {
		NoteRefusal(w, "noted_but_fine")
		w.Write([]byte("ok"))
	})
	h := s.Wrap(mux)
	for _, target := range []string{"/vote", "/own", "/odd?c=voter-4711@example.org", "/odd?c=Alice"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", target, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fine", nil))
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d log lines, want 5:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{`"status":409,`, `"status":401,`, `"status":400,`, `"status":400,`, `"status":200,`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d lacks %s: %s", i, want, lines[i])
		}
	}
	if !strings.HasSuffix(lines[0], `,"refused":"already_voted"}`) || !strings.HasSuffix(lines[1], `,"refused":"second_factor_required"}`) {
		t.Errorf("refusal codes not logged:\n%s", logs.String())
	}
	for _, l := range lines[2:] {
		if strings.Contains(l, "refused") {
			t.Errorf("logged a code that is no API word, or one for a success: %s", l)
		}
	}
	if out := logs.String(); strings.Contains(out, "4711") || strings.Contains(out, "Alice") {
		t.Errorf("a client's value reached the log:\n%s", out)
	}
}
