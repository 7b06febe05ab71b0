package issuer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuer/issuerapi"
)

func tokenBody(t *testing.T, id, code string, blinded []byte) []byte {
	b, err := json.Marshal(issuerapi.TokenRequest{VoterID: id, Code: code, BlindedMsg: issuerapi.Base64.EncodeToString(blinded)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func metrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + issuerapi.PathMetrics)
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
		"token key (hex)": hex.EncodeToString(tokenKey), "token key (base64)": issuerapi.Base64.EncodeToString(tokenKey),
		"blinded message": issuerapi.Base64.EncodeToString(blinded)[:32],
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
		resp, err := http.Get(f.srv.URL + issuerapi.PathHealth)
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

// blockingRoll is a roll whose Update waits until release is closed: a
// token request that reaches it has passed the gate and stays in flight.
type blockingRoll struct {
	*MemRoll
	entered chan struct{}
	release chan struct{}
}

func newBlockingRoll() *blockingRoll {
	return &blockingRoll{MemRoll: NewMemRoll(), entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (r *blockingRoll) Update(ctx context.Context, voterID string, change func(*RollEntry) error) (RollEntry, error) {
	select {
	case <-r.release:
	default:
		r.entered <- struct{}{}
		<-r.release
	}
	return r.MemRoll.Update(ctx, voterID, change)
}

// Token requests in flight fill the issuer's bound; the next is refused at
// once with 503 and Retry-After, not queued. (A request takes its slot only
// once its body is read, so these are whole requests held in the roll.)
func TestAttackTokenOverloadGets503(t *testing.T) {
	roll := newBlockingRoll()
	f := newFixture(t, 3, roll, HandlerConfig{Limits: service.Limits{MaxInFlight: 2}})
	held := make(chan int, 2)
	for _, id := range f.ids[:2] {
		blinded, _ := blind(t, newTokenKey(t))
		body := tokenBody(t, id, f.codes[id], blinded)
		go func() {
			resp, err := http.Post(f.srv.URL+issuerapi.PathToken, "application/json", bytes.NewReader(body))
			if err != nil {
				held <- 0
				return
			}
			resp.Body.Close()
			held <- resp.StatusCode
		}()
	}
	for range 2 {
		select {
		case <-roll.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the held requests never reached the roll")
		}
	}
	id := f.ids[2]
	blinded, _ := blind(t, newTokenKey(t))
	body := tokenBody(t, id, f.codes[id], blinded)
	start := time.Now()
	resp, err := http.Post(f.srv.URL+issuerapi.PathToken, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var e issuerapi.ErrorResponse
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third request with two in flight and a bound of two: %d %q, want 503", resp.StatusCode, e.Error)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("503 took %v: the request waited", took)
	}
	if resp.Header.Get("Retry-After") != "1" || !strings.Contains(e.Error, "limit of concurrent requests") {
		t.Errorf("503 with Retry-After %q and error %q", resp.Header.Get("Retry-After"), e.Error)
	}
	if c, err := roll.MemRoll.Counts(ctx); err != nil || c.Issued != 0 {
		t.Fatalf("counts %+v, %v: something was issued while the requests were held", c, err)
	}
	if m := metrics(t, f.srv.URL); m[`evote_issuer_tokens_total{result="overloaded"}`] != 1 {
		t.Error("the refusal is not counted as overloaded")
	}
	// With the slots free again, requests are served: the held ones and
	// the refused one, asked again.
	close(roll.release)
	for range 2 {
		if st := <-held; st != http.StatusOK {
			t.Fatalf("a held request ended with %d", st)
		}
	}
	if st, msg := post(t, f.srv.URL, "application/json", body); st != http.StatusOK {
		t.Fatalf("the refused request, asked again: %d %s", st, msg)
	}
}

// firstBlocksRoll holds its first Update until release is closed, and
// lets every later one through.
type firstBlocksRoll struct {
	*MemRoll
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (r *firstBlocksRoll) Update(ctx context.Context, voterID string, change func(*RollEntry) error) (RollEntry, error) {
	first := false
	r.once.Do(func() { first = true })
	if first {
		close(r.entered)
		<-r.release
	}
	return r.MemRoll.Update(ctx, voterID, change)
}

// TestAttackOneVoterQueue: a stranger's request for a voter ID held in
// the roll (a slow write, a flood) must not make the voter's own request
// for that ID wait behind it: a per-voter queue let one address, within
// its rate, hold a voter's requests 14 s and then fill the in-flight
// bound for everyone.
func TestAttackOneVoterQueue(t *testing.T) {
	roll := &firstBlocksRoll{MemRoll: NewMemRoll(), entered: make(chan struct{}), release: make(chan struct{})}
	f := newFixture(t, 1, roll, HandlerConfig{})
	id := f.ids[0]
	wrong, _ := GenerateCode()
	held := make(chan error, 1)
	go func() {
		b, _ := blind(t, newTokenKey(t))
		_, err := f.is.Issue(ctx, issuerapi.Credentials{VoterID: id, Code: wrong}, b, "203.0.113.9")
		held <- err
	}()
	<-roll.entered
	done := make(chan error, 1)
	go func() {
		b, _ := blind(t, newTokenKey(t))
		_, err := f.is.Issue(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, b, "198.51.100.4")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the voter's own request beside a held one: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the voter's request waited behind a stranger's held request for the same ID")
	}
	close(roll.release)
	if err := <-held; !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("the held wrong code: %v", err)
	}
}
