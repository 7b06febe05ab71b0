package service

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestParseOrigin(t *testing.T) {
	for _, ok := range []string{
		"https://vote.example.org",
		"http://localhost:8000",
		"http://127.0.0.1:8080",
		"https://[::1]:8443",
		"https://vote.example.org:8443",
		"http://example.org:443", // not http's default port
		"https://xn--bcher-kva.example",
		"https://a_b.example.",
	} {
		got, err := ParseOrigin(ok)
		if err != nil || got != ok {
			t.Errorf("ParseOrigin(%q) = %q, %v; want it back", ok, got, err)
		}
	}
	for _, c := range []struct{ in, why string }{
		{"", "empty"},
		{"*", "every web page"},
		{"null", "sandboxed"},
		{"https://vote.example.org/", "path"},
		{"https://vote.example.org/booth", "path"},
		{"https://vote.example.org?x=1", "query"},
		{"https://vote.example.org?", "query"},
		{"https://vote.example.org#", "fragment"},
		{"https://vote.example.org#x", "fragment"},
		{"https://user@vote.example.org", "user"},
		{"https://user:pw@vote.example.org", "user"},
		{"HTTPS://vote.example.org", "a browser sends https://vote.example.org"},
		{"https://Vote.Example.org", "a browser sends https://vote.example.org"},
		{"https://vote.example.org:443", "a browser sends https://vote.example.org"},
		{"http://vote.example.org:80", "a browser sends http://vote.example.org"},
		{"http://vote.example.org:080", "a browser sends http://vote.example.org"},
		{"http://vote.example.org:08080", "a browser sends http://vote.example.org:8080"},
		{"https://[0:0::1]", "a browser sends https://[::1]"},
		{"https://vote.example.org:", "empty port"},
		{"https://vote.example.org:0", "port"},
		{"https://vote.example.org:65536", "port"},
		{"https://vote.example.org:https", "not a URL"},
		{"ftp://vote.example.org", "scheme"},
		{"file:///booth", "scheme"},
		{"vote.example.org", "scheme"},
		{"//vote.example.org", "scheme"},
		{"https:vote.example.org", "no host"},
		{"https://", "no host"},
		{"https:///booth", "no host"},
		{"https://vote example.org", "space"},
		{" https://vote.example.org", "space"},
		{"https://vote.example.org\n", "control"},
		{"https://bücher.example", "xn--"},
		{"https://vote%2eexample.org", "not a URL"},
		{"https://vote!.example.org", "the host has"},
		{"https://[fe80::1%25eth0]", "IPv6"},
	} {
		_, err := ParseOrigin(c.in)
		if err == nil {
			t.Errorf("ParseOrigin(%q) accepted", c.in)
			continue
		}
		// The error names the value, gives the reason, and says what is wanted.
		reason, form, _ := strings.Cut(err.Error(), "; want ")
		if !strings.Contains(reason, strconv.Quote(c.in)) || !strings.Contains(reason, c.why) || !strings.Contains(form, "scheme://host[:port]") {
			t.Errorf("ParseOrigin(%q): %v; want the value, %q and the form wanted", c.in, err, c.why)
		}
	}
}

func TestNewCORS(t *testing.T) {
	if c, err := NewCORS(nil); c != nil || err != nil {
		t.Errorf("NewCORS(nil) = %v, %v; want nil, nil", c, err)
	}
	c, err := NewCORS([]string{"https://booth.example", "https://booth.example/"})
	if err == nil || !strings.Contains(err.Error(), `"https://booth.example/"`) {
		t.Fatalf("NewCORS with a bad origin: %v", err)
	}
	// What it returns with the error allows nothing, not even the good one.
	if c == nil {
		t.Fatal("NewCORS returned a nil CORS with its error: a caller ignoring it would answer preflights as without CORS")
	}
	rec := serve(c, "OPTIONS", "https://booth.example", "POST", "content-type")
	if rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a CORS refused with its error answered a preflight %d %v", rec.Code, rec.Header())
	}
}

const booth = "https://booth.example"

// reached counts the requests the wrapped handler saw.
type reached struct{ n int }

func (h *reached) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.n++
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusTeapot)
}

// serve sends one request through c to a handler answering 418 and
// reports the answer; reqMethod and reqHeaders, if not "", are the
// preflight's Access-Control-Request-* headers.
func serve(c *CORS, method, origin, reqMethod, reqHeaders string, more ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/v1/ballots", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if reqMethod != "" {
		r.Header.Set("Access-Control-Request-Method", reqMethod)
	}
	if reqHeaders != "" {
		r.Header.Set("Access-Control-Request-Headers", reqHeaders)
	}
	for i := 0; i+1 < len(more); i += 2 {
		r.Header.Add(more[i], more[i+1])
	}
	rec := httptest.NewRecorder()
	c.Wrap(new(reached)).ServeHTTP(rec, r)
	return rec
}

// corsHeaderNames are the names of the Access-Control-* headers rec has.
func corsHeaderNames(rec *httptest.ResponseRecorder) []string {
	var names []string
	for k := range rec.Header() {
		if strings.HasPrefix(k, "Access-Control-") {
			names = append(names, k)
		}
	}
	return names
}

func TestCORSSimpleRequests(t *testing.T) {
	c, err := NewCORS([]string{booth, "http://localhost:8000"})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{"GET", "POST", "OPTIONS"} { // OPTIONS without Access-Control-Request-Method is no preflight
		rec := serve(c, method, booth, "", "")
		if rec.Code != http.StatusTeapot {
			t.Errorf("%s from the booth: %d, want the handler's 418", method, rec.Code)
		}
		h := rec.Header()
		if h.Get("Access-Control-Allow-Origin") != booth || h.Get("Access-Control-Expose-Headers") != "Retry-After" || h.Get("Vary") != "Origin" {
			t.Errorf("%s from the booth: headers %v", method, h)
		}
		if _, ok := h["Access-Control-Allow-Credentials"]; ok {
			t.Errorf("%s from the booth: credentials allowed", method)
		}
	}
	if got := serve(c, "GET", "http://localhost:8000", "", "").Header().Get("Access-Control-Allow-Origin"); got != "http://localhost:8000" {
		t.Errorf("the second origin: Access-Control-Allow-Origin %q", got)
	}
	// Other origins, and near misses, are served, without CORS headers
	// (the browser then hides the answer from the page), with Vary.
	for _, origin := range []string{"", "https://evil.example", "null", "*", "https://booth.example/", "https://Booth.example", "https://booth.example:443", "http://booth.example", "https://booth.example.evil.example", "https://sub.booth.example"} {
		for _, method := range []string{"GET", "POST"} {
			rec := serve(c, method, origin, "", "")
			if rec.Code != http.StatusTeapot || len(corsHeaderNames(rec)) != 0 || rec.Header().Get("Vary") != "Origin" {
				t.Errorf("%s from %q: %d, CORS headers %v, Vary %q", method, origin, rec.Code, corsHeaderNames(rec), rec.Header().Get("Vary"))
			}
		}
	}
	// Two Origin headers: no browser sends them; neither is believed.
	if rec := serve(c, "GET", booth, "", "", "Origin", "https://evil.example"); len(corsHeaderNames(rec)) != 0 {
		t.Errorf("two Origin headers: CORS headers %v", corsHeaderNames(rec))
	}
}

func TestCORSPreflight(t *testing.T) {
	c, err := NewCORS([]string{booth})
	if err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []struct{ method, headers string }{
		{"POST", "content-type"},
		{"POST", "Content-Type"},
		{"POST", ""},
		{"GET", ""},
		{"POST", " content-type , "},
	} {
		rec := serve(c, "OPTIONS", booth, c2.method, c2.headers)
		h := rec.Header()
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Errorf("preflight %s %q: %d %q, want 204", c2.method, c2.headers, rec.Code, rec.Body)
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin":  booth,
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Content-Type",
			"Access-Control-Max-Age":       "600",
			"Vary":                         "Origin",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("preflight %s %q: %s %q, want %q", c2.method, c2.headers, k, got, want)
			}
		}
		if _, ok := h["Access-Control-Allow-Credentials"]; ok {
			t.Errorf("preflight %s %q: credentials allowed", c2.method, c2.headers)
		}
		if h.Get("Retry-After") != "" {
			t.Errorf("preflight %s %q reached the handler", c2.method, c2.headers)
		}
	}
	for _, r := range []struct{ origin, method, headers string }{
		{"https://evil.example", "POST", "content-type"},
		{"https://evil.example", "GET", ""},
		{"", "POST", ""},
		{"null", "POST", ""},
		{"https://booth.example/", "POST", ""},
		{booth, "POST", "authorization"},
		{booth, "POST", "content-type,authorization"},
		{booth, "POST", "Authorization"},
		{booth, "POST", "content-type, x-requested-with"},
		{booth, "POST", "content-type-x"},
		{booth, "PUT", "content-type"},
		{booth, "DELETE", ""},
		{booth, "post", ""},
		{booth, "OPTIONS", ""},
		{booth, "", ""}, // the header present but empty
	} {
		req := httptest.NewRequest("OPTIONS", "/v1/ballots", nil)
		if r.origin != "" {
			req.Header.Set("Origin", r.origin)
		}
		req.Header["Access-Control-Request-Method"] = []string{r.method}
		if r.headers != "" {
			req.Header.Set("Access-Control-Request-Headers", r.headers)
		}
		var next reached
		rec := httptest.NewRecorder()
		c.Wrap(&next).ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden || len(corsHeaderNames(rec)) != 0 || next.n != 0 {
			t.Errorf("preflight %s %q from %q: %d, CORS headers %v, handler reached %d times; want 403, none, 0",
				r.method, r.headers, r.origin, rec.Code, corsHeaderNames(rec), next.n)
		}
		if rec.Header().Get("Vary") != "Origin" {
			t.Errorf("preflight %s %q from %q: no Vary: Origin", r.method, r.headers, r.origin)
		}
	}
	// A second Access-Control-Request-Headers line is read too.
	if rec := serve(c, "OPTIONS", booth, "POST", "content-type", "Access-Control-Request-Headers", "authorization"); rec.Code != http.StatusForbidden {
		t.Errorf("authorization on a second header line: %d", rec.Code)
	}
}

// TestNoCORSChangesNothing: with no origin configured, no header is added
// and a preflight reaches the handler as any OPTIONS does.
func TestNoCORSChangesNothing(t *testing.T) {
	var c *CORS
	rec := serve(c, "OPTIONS", booth, "POST", "content-type")
	if rec.Code != http.StatusTeapot || len(corsHeaderNames(rec)) != 0 || rec.Header().Get("Vary") != "" {
		t.Errorf("no CORS: preflight answered %d with %v", rec.Code, rec.Header())
	}
	rec = serve(c, "GET", booth, "", "")
	if rec.Code != http.StatusTeapot || len(corsHeaderNames(rec)) != 0 || rec.Header().Get("Vary") != "" {
		t.Errorf("no CORS: GET answered %d with %v", rec.Code, rec.Header())
	}
}

// TestCORSOriginNotLogged: the request log line of a cross-origin request,
// preflight or not, does not name the origin.
func TestCORSOriginNotLogged(t *testing.T) {
	var buf bytes.Buffer
	s := New("test", slog.New(slog.NewJSONHandler(&buf, nil)))
	c, _ := NewCORS([]string{booth})
	h := s.Wrap(c.Wrap(new(reached)))
	for _, origin := range []string{booth, "https://voter-came-from.example"} {
		for _, method := range []string{"GET", "OPTIONS"} {
			r := httptest.NewRequest(method, "/v1/ballots", nil)
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", "POST")
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	if strings.Count(buf.String(), "\n") != 4 {
		t.Fatalf("want 4 log lines:\n%s", buf.String())
	}
	if strings.Contains(buf.String(), "example") {
		t.Errorf("an origin is in the log:\n%s", buf.String())
	}
}
