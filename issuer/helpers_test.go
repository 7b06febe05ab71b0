package issuer

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer/issuerapi"
)

var (
	keyOnce sync.Once
	testKey *token.PrivateKey
	keyErr  error

	testElection = bytes.Repeat([]byte{0x42}, token.ElectionIDSize)
)

func issuerKey(tb testing.TB) *token.PrivateKey {
	tb.Helper()
	keyOnce.Do(func() { testKey, keyErr = token.GenerateKey(token.DefaultKeyBits) })
	if keyErr != nil {
		tb.Fatal(keyErr)
	}
	return testKey
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

type fixture struct {
	is     *Issuer
	roll   Roll
	codes  map[string]string // voter ID -> code, as handed out
	ids    []string
	logs   *syncBuffer
	srv    *httptest.Server
	client *issuerapi.Client
}

// newFixture imports a generated roll of n voters into roll (a MemRoll if
// nil) and serves it with hc's handler config.
func newFixture(tb testing.TB, n int, roll Roll, hc HandlerConfig) *fixture {
	tb.Helper()
	if roll == nil {
		roll = NewMemRoll()
	}
	csvData, err := GenerateRoll(n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := ImportRoll(context.Background(), roll, bytes.NewReader(csvData)); err != nil {
		tb.Fatal(err)
	}
	f := &fixture{roll: roll, codes: make(map[string]string), logs: new(syncBuffer)}
	rows, err := csv.NewReader(bytes.NewReader(csvData)).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range rows[1:] {
		f.codes[r[0]] = r[1]
		f.ids = append(f.ids, r[0])
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.is, err = New(Config{ElectionID: testElection, Key: issuerKey(tb), Roll: roll, Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	if hc.RatePerSecond == 0 {
		hc.RatePerSecond = -1 // most tests are not about the rate limit
	}
	f.srv = httptest.NewServer(NewHandler(f.is, hc))
	f.client = issuerapi.NewClient(f.srv.URL, f.srv.Client())
	tb.Cleanup(func() {
		f.srv.Close()
		roll.Close()
		for _, code := range f.codes {
			if bytes.Contains([]byte(f.logs.String()), []byte(code)) {
				tb.Errorf("an enrolment code appears in the logs")
				return
			}
		}
	})
	return f
}

func newTokenKey(tb testing.TB) []byte {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return pub
}

func blind(tb testing.TB, tokenPub []byte) ([]byte, *token.BlindState) {
	tb.Helper()
	b, st, err := token.Blind(nil, issuerKey(tb).Public(), testElection, tokenPub)
	if err != nil {
		tb.Fatal(err)
	}
	return b, st
}

// post sends a raw POST /v1/token and returns the status and error text.
func post(tb testing.TB, url, contentType string, body []byte) (int, string) {
	tb.Helper()
	resp, err := http.Post(url+issuerapi.PathToken, contentType, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}
