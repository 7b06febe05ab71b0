package issuer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/evote/evote/internal/service"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/evote/evote/issuer/issuerapi"
)

func FuzzImportRoll(f *testing.F) {
	f.Add([]byte("voter_id,enrolment_code\nalice,7XQ2M-K9D4T-0HVB3-RWE8N\n"))
	f.Add([]byte("voter_id,enrolment_code\n\"a\"\"b\",7XQ2MK9D4T0HVB3RWE8N\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		roll := NewMemRoll()
		n, err := ImportRoll(ctx, roll, bytes.NewReader(data))
		c, _ := roll.Counts(ctx)
		if err != nil && c.Eligible != 0 {
			t.Fatal("failed import added voters")
		}
		if err == nil && c.Eligible != n {
			t.Fatalf("imported %d, roll has %d", n, c.Eligible)
		}
	})
}

// FuzzTokenRequest feeds arbitrary bodies to POST /v1/token: the handler
// must answer with a JSON error or a signature, never panic, and never
// issue without the right code.
func FuzzTokenRequest(f *testing.F) {
	is, err := New(Config{ElectionID: testElection, Key: issuerKey(f), Roll: NewMemRoll()})
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(is, HandlerConfig{Limits: service.Limits{RatePerSecond: -1}})
	f.Add([]byte(`{"voter_id":"a","code":"7XQ2M-K9D4T-0HVB3-RWE8N","blinded_msg":"AAAA"}`))
	f.Add([]byte(`{"voter_id":"a","code":"x","blinded_msg":"AAAA"}{}`))
	f.Add([]byte(`{"voter_id":"a","voter_id":"b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, issuerapi.PathToken, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			t.Fatalf("empty roll issued a token for %q", body)
		}
		var e issuerapi.ErrorResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%d reply %q is not a JSON error", rec.Code, rec.Body.Bytes())
		}
	})
}

func BenchmarkVerifyCode(b *testing.B) {
	code, _ := GenerateCode()
	h, err := HashCode(code)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !h.Verify(code) {
			b.Fatal("code does not verify")
		}
	}
}

// BenchmarkIssue measures a whole issuance through the HTTP handler in
// process (JSON, rate limit, code check, RSA blind signature, roll update),
// one fresh voter per iteration; the voter's blinding is done beforehand.
func BenchmarkIssue(b *testing.B) {
	for _, par := range []bool{false, true} {
		name := "serial"
		if par {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, b.N, nil, HandlerConfig{})
			h := NewHandler(f.is, HandlerConfig{Limits: service.Limits{RatePerSecond: -1}})
			bodies := make([][]byte, b.N)
			for i, id := range f.ids {
				blinded, _ := blind(b, newTokenKey(b))
				bodies[i], _ = json.Marshal(issuerapi.TokenRequest{VoterID: id, Code: f.codes[id], BlindedMsg: issuerapi.Base64.EncodeToString(blinded)})
			}
			issue := func(body []byte) {
				req := httptest.NewRequest(http.MethodPost, issuerapi.PathToken, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					panic(fmt.Sprintf("issue: %d %s", rec.Code, rec.Body))
				}
			}
			b.ResetTimer()
			if !par {
				for i := 0; i < b.N; i++ {
					issue(bodies[i])
				}
			} else {
				b.SetParallelism(16) // many clients at once, as a server sees them
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						issue(bodies[next.Add(1)-1])
					}
				})
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
