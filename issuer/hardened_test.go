package issuer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/internal/service"
)

func tokenBody(t *testing.T, id, code string, blinded []byte) []byte {
	b, err := json.Marshal(TokenRequest{VoterID: id, Code: code, BlindedMsg: b64.EncodeToString(blinded)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func metrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + PathMetrics)
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

// The issuer's request log holds one line per request and nothing a voter
// is known by: no voter ID, no code, no blinded message or token key, even
// for a refused request.
func TestLogsNoVoterSecrets(t *testing.T) {
	f := newFixture(t, 3, nil, HandlerConfig{})
	tokenKey := newTokenKey(t)
	blinded, _ := blind(t, tokenKey)
	good, bad, other := f.ids[0], f.ids[1], f.ids[2]
	wrong := f.codes[other] // well formed, but another voter's
	if st, msg := post(t, f.srv.URL, "application/json", tokenBody(t, good, f.codes[good], blinded)); st != 200 {
		t.Fatalf("good request: %d %s", st, msg)
	}
	// Refused: a wrong code for a real voter, and a code for a voter who
	// does not exist.
	if st, _ := post(t, f.srv.URL, "application/json", tokenBody(t, bad, wrong, blinded)); st != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", st)
	}
	if st, _ := post(t, f.srv.URL, "application/json", tokenBody(t, "voter-nobody-77", f.codes[bad], blinded)); st != http.StatusUnauthorized {
		t.Fatalf("unknown voter: %d", st)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, `"msg":"request"`); n != 3 {
		t.Fatalf("%d request lines for 3 requests:\n%s", n, logs)
	}
	secrets := map[string]string{
		"voter id": good, "refused voter id": bad, "unknown voter id": "voter-nobody-77",
		"code": f.codes[good], "refused code": wrong, "other code": f.codes[bad],
		"token key (hex)": hex.EncodeToString(tokenKey), "token key (base64)": b64.EncodeToString(tokenKey),
		"blinded message": b64.EncodeToString(blinded)[:32],
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the %s %q:\n%s", what, s, logs)
		}
	}
	m := metrics(t, f.srv.URL)
	for k, v := range map[string]float64{
		`evote_issuer_tokens_total{result="issued"}`:                        1,
		`evote_issuer_tokens_total{result="bad_credentials"}`:               2,
		`evote_issuer_http_requests_total{endpoint="/v1/token",code="2xx"}`: 1,
		`evote_issuer_http_requests_total{endpoint="/v1/token",code="4xx"}`: 2,
		`evote_issuer_token_duration_seconds_count`:                         3,
		`evote_issuer_http_requests_in_flight`:                              1, // this scrape
		`evote_issuer_token_duration_seconds_bucket{le="+Inf"}`:             3,
	} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

// failingRoll is a roll whose store stops answering once broken.
type failingRoll struct {
	*MemRoll
	broken atomic.Bool
}

func (r *failingRoll) Counts(ctx context.Context) (Counts, error) {
	if r.broken.Load() {
		return Counts{}, errors.New("roll store unavailable")
	}
	return r.MemRoll.Counts(ctx)
}

func TestHealth(t *testing.T) {
	r := &failingRoll{MemRoll: NewMemRoll()}
	f := newFixture(t, 1, r, HandlerConfig{})
	get := func() (int, string) {
		resp, err := http.Get(f.srv.URL + PathHealth)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if st, body := get(); st != 200 || body != "ok\n" {
		t.Fatalf("healthy issuer: %d %q", st, body)
	}
	r.broken.Store(true)
	if st, _ := get(); st != http.StatusServiceUnavailable {
		t.Fatalf("issuer whose roll does not answer: %d, want 503", st)
	}
}

// holdRequests opens n token requests that stay in the handler: each sends
// its headers and half its body, so the handler has passed the gate and
// waits to read the rest. Closing the returned connections ends them.
func holdRequests(t *testing.T, url, path, contentType string, n int) []net.Conn {
	t.Helper()
	host := strings.TrimPrefix(url, "http://")
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: 100\r\n\r\n{", path, host, contentType)
		conns = append(conns, c)
	}
	return conns
}

// A flood of slow token requests fills the issuer's bound of requests in
// flight; the next is refused at once with 503 and Retry-After, not queued.
func TestAttackTokenOverloadGets503(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{MaxInFlight: 2})
	held := holdRequests(t, f.srv.URL, PathToken, "application/json", 2)
	body := tokenBody(t, f.ids[0], "WRONG", []byte{1})
	deadline := time.Now().Add(5 * time.Second)
	for {
		start := time.Now()
		resp, err := http.Post(f.srv.URL+PathToken, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var e ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			if took := time.Since(start); took > time.Second {
				t.Errorf("503 took %v: the request waited", took)
			}
			if resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error, "limit of concurrent requests") {
				t.Errorf("503 with Retry-After %q and error %q", resp.Header.Get("Retry-After"), e.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never refused with 503; last %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond) // the held requests are not in yet
	}
	for _, c := range held {
		c.Close()
	}
	if m := metrics(t, f.srv.URL); m[`evote_issuer_tokens_total{result="overloaded"}`] < 1 {
		t.Error("the refusal is not counted as overloaded")
	}
	// With the slots free again, requests are served.
	deadline = time.Now().Add(5 * time.Second)
	for {
		st, _ := post(t, f.srv.URL, "application/json", body)
		if st != http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still 503 after the held requests ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
