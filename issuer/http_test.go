package issuer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuer/issuerapi"
)

// postFrom posts a token request as from client address from (the test's
// ClientIP header).
func postFrom(t *testing.T, url, from string, body []byte) (*http.Response, issuerapi.ErrorResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+issuerapi.PathToken, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-Client", from)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e issuerapi.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	return resp, e
}

// slowUpload sends a token request's headers, as from address from, and
// the first byte of its 100-byte body, and sends no more.
func slowUpload(t *testing.T, host, from string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nX-Test-Client: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", issuerapi.PathToken, host, from)
	return c
}

// Slow uploads, token requests that send their headers and one byte of
// their body, must hold none of the slots real requests need. Before the
// fix a request took its slot before reading its body, and 17 such
// connections from each of 64 addresses (here 10 from each of 16 against
// a bound of 4) got every real request a 503 until the read timeout. Now
// real requests are served while they hang; and one address gets only its
// bound of bodies being read at once: the next from it is refused at once
// with 429 and Retry-After, while other addresses are served.
func TestAttackSlowUploads(t *testing.T) {
	const addrs, perAddr = 16, 10
	f := newFixture(t, 3, nil, HandlerConfig{
		Limits: service.Limits{MaxInFlight: 4, MaxUploadsPerAddress: perAddr},
		// The test plays many addresses through a header; a real
		// deployment trusts such a header only from its own proxy.
		ClientIP: func(r *http.Request) string { return r.Header.Get("X-Test-Client") },
	})
	host := strings.TrimPrefix(f.srv.URL, "http://")
	for a := range addrs {
		for range perAddr {
			slowUpload(t, host, fmt.Sprint("slow-", a))
		}
	}
	// Wait (10 s at most) for every slow upload to be in the handler.
	in := 0
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		in = int(metrics(t, f.srv.URL)["evote_issuer_http_requests_in_flight"]) - 1 // less the scrape
		if in == addrs*perAddr || time.Now().After(deadline) {
			break
		}
	}

	request := func(i int) []byte {
		blinded, _ := blind(t, newTokenKey(t))
		return tokenBody(t, f.ids[i], f.codes[f.ids[i]], blinded)
	}
	if resp, e := postFrom(t, f.srv.URL, "voter", request(0)); resp.StatusCode != http.StatusOK {
		t.Fatalf("a real request with %d slow uploads in the handler (of %d sent): %d %s", in, addrs*perAddr, resp.StatusCode, e.Error)
	}
	if in != addrs*perAddr {
		t.Fatalf("%d slow uploads in the handler, want all %d", in, addrs*perAddr)
	}

	// One more from a full address: refused before its body is read.
	c := slowUpload(t, host, "slow-3")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to an upload over the address's bound: %v", err)
	}
	var e issuerapi.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error, "still sending their bodies") {
		t.Fatalf("upload over the address's bound: %d, Retry-After %q, %q; want 429, 1 and the reason", resp.StatusCode, resp.Header.Get("Retry-After"), e.Error)
	}
	// So is a whole request from it, and its voter gets nothing; another
	// address is served.
	refused := request(1)
	if resp, e := postFrom(t, f.srv.URL, "slow-3", refused); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a request from the full address: %d %s, want 429", resp.StatusCode, e.Error)
	}
	if rec, err := f.roll.Get(ctx, f.ids[1]); err != nil || rec.Issued() || rec.Failures != 0 {
		t.Fatalf("the refused request changed its voter's record: %+v, %v", rec, err)
	}
	if resp, e := postFrom(t, f.srv.URL, "another", request(2)); resp.StatusCode != http.StatusOK {
		t.Fatalf("a request from another address: %d %s", resp.StatusCode, e.Error)
	}
	if c, err := f.is.Counts(ctx); err != nil || c.Issued != 2 {
		t.Fatalf("counts %+v, %v: want the 2 real tokens issued", c, err)
	}
	m := metrics(t, f.srv.URL)
	if got := m[`evote_issuer_tokens_total{result="rate_limited"}`]; got != 2 {
		t.Errorf("rate_limited requests %v, want the 2 refused", got)
	}
	if got := m[`evote_issuer_tokens_total{result="overloaded"}`]; got != 0 {
		t.Errorf("overloaded requests %v, want none", got)
	}
}

// TestAnswersAgreeWithAPI: every row of the server's table of answers
// carries a code that issuerapi's client maps to a sentinel, each code has
// one status, and the codes internal/service writes are issuerapi's.
func TestAnswersAgreeWithAPI(t *testing.T) {
	sentinels := []error{issuerapi.ErrBadRequest, issuerapi.ErrBadCredentials, issuerapi.ErrNotFound,
		issuerapi.ErrMethodNotAllowed, issuerapi.ErrAlreadyIssued, issuerapi.ErrPurged, issuerapi.ErrTooLarge,
		issuerapi.ErrUnsupportedType, issuerapi.ErrRateLimited, issuerapi.ErrInternal, issuerapi.ErrOverloaded,
		issuerapi.ErrSecondFactorRequired, issuerapi.ErrBadSecondFactor, issuerapi.ErrNoSecondFactor, issuerapi.ErrTooManyCodes, issuerapi.ErrSendFailed}
	status := map[string]int{issuerapi.CodeRateLimited: 429, issuerapi.CodeOverloaded: 503, issuerapi.CodeInternal: 500}
	for _, a := range answers {
		known := false
		for _, s := range sentinels {
			known = known || errors.Is(&issuerapi.Error{Code: a.code}, s)
		}
		if !known {
			t.Errorf("the answer to %v has code %q, which issuerapi does not know", a.err, a.code)
		}
		if st, ok := status[a.code]; ok && st != a.status {
			t.Errorf("code %q comes with status %d and %d", a.code, st, a.status)
		}
		status[a.code] = a.status
	}
	if service.CodeRateLimited != issuerapi.CodeRateLimited || service.CodeOverloaded != issuerapi.CodeOverloaded {
		t.Error("internal/service writes codes issuerapi does not know")
	}
	if service.PathHealth != issuerapi.PathHealth || service.PathMetrics != issuerapi.PathMetrics {
		t.Error("internal/service serves other paths than issuerapi names")
	}
}

// TestRequestLogSaysWhy: the request log line of each refusal carries the
// code the client was told (refused=...), the second factor's own bodies
// too, and never the voter ID, the code or the masked address it was sent
// to; a locked-out voter's line is the wrong code's, as its answer is.
func TestRequestLogSaysWhy(t *testing.T) {
	f := newFixture(t, 2, nil, HandlerConfig{})
	id := f.ids[0]
	blinded, _ := blind(t, newTokenKey(t))
	wrong := f.codes[f.ids[1]] // a well-formed code, not this voter's
	if code, _ := post(t, f.srv.URL, "application/json", tokenBody(t, id, wrong, blinded)); code != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", code)
	}
	if code, _ := post(t, f.srv.URL, "application/json", tokenBody(t, id, f.codes[id], blinded)); code != http.StatusOK {
		t.Fatalf("right code: %d", code)
	}
	other, _ := blind(t, newTokenKey(t))
	if code, _ := post(t, f.srv.URL, "application/json", tokenBody(t, id, f.codes[id], other)); code != http.StatusConflict {
		t.Fatalf("second blinded message: %d", code)
	}
	if code, _ := post(t, f.srv.URL, "text/plain", nil); code != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d", code)
	}
	var lines []string
	for _, l := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			lines = append(lines, l)
		}
	}
	want := []string{`"refused":"bad_credentials"`, ``, `"refused":"already_issued"`, `"refused":"unsupported_media_type"`}
	if len(lines) != len(want) {
		t.Fatalf("%d request lines, want %d:\n%s", len(lines), len(want), f.logs)
	}
	for i, w := range want {
		if w == "" && strings.Contains(lines[i], "refused") || w != "" && !strings.Contains(lines[i], w) {
			t.Errorf("line %d: want %q: %s", i, w, lines[i])
		}
	}
	if strings.Contains(f.logs.String(), id) {
		t.Errorf("a voter ID reached the log:\n%s", f.logs)
	}

	// The second factor's answers are written apart from WriteError.
	sf := newSF(t, issuerapi.FactorEmail, nil)
	var logs syncBuffer
	srv := httptest.NewServer(NewHandler(sf.is, HandlerConfig{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Limits: service.Limits{RatePerSecond: -1}}))
	defer srv.Close()
	blinded, _ = blind(t, newTokenKey(t))
	if code, _ := post(t, srv.URL, "application/json", tokenBody(t, sfVoter, sf.codes[sfVoter], blinded)); code != http.StatusUnauthorized {
		t.Fatalf("no second factor: %d", code)
	}
	out := logs.String()
	if !strings.Contains(out, `"status":401`) || !strings.Contains(out, `"refused":"second_factor_required"`) {
		t.Errorf("the second factor's refusal is not in its log line:\n%s", out)
	}
	for _, secret := range []string{sfVoter, "rossi", sf.codes[sfVoter], "example.it", "m***"} {
		if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
			t.Errorf("%q reached the log:\n%s", secret, out)
		}
	}
}
