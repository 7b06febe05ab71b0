package invite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

const smsToken = "tok_3f9a-Example.Token"

// smsProvider is a loopback HTTP server standing in for an SMS provider:
// it records each request and answers status.
type smsProvider struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	reqs   []smsSeen
}

type smsSeen struct {
	method, path string
	header       http.Header
	body         []byte
}

func startSMSProvider(t *testing.T, tls bool) *smsProvider {
	t.Helper()
	p := &smsProvider{status: http.StatusAccepted}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, smsSeen{r.Method, r.URL.Path, r.Header.Clone(), b})
		status := p.status
		p.mu.Unlock()
		w.WriteHeader(status)
		// A provider that echoes what it was sent, as some do in errors.
		w.Write(b)
	})
	p.Server = httptest.NewUnstartedServer(h)
	// The untrusted-certificate test makes the server log a failed
	// handshake: expected, so not logged.
	p.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		p.StartTLS()
	} else {
		p.Start()
	}
	t.Cleanup(p.Close)
	return p
}

func (p *smsProvider) seen() []smsSeen {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]smsSeen(nil), p.reqs...)
}

func smsCode(to, lang, code string) issuer.OneTimeCode {
	return issuer.OneTimeCode{Factor: issuerapi.FactorSMS, To: to, Lang: lang, Code: code, Expires: time.Now().Add(issuer.OTPLifetime)}
}

// TestSecondFactorSMSWebhook sends codes in Italian, English and with no
// language to a loopback provider over plain http and checks each POST:
// path, JSON body (exactly to, text, lang), Content-Type and the bearer
// token; the text carries the code and fits one SMS.
func TestSecondFactorSMSWebhook(t *testing.T) {
	p := startSMSProvider(t, false)
	w, err := NewSMSWebhook(SMSWebhookConfig{URL: p.URL + "/v1/send?route=otp", Token: smsToken})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ to, lang, code, want, wording string }{
		{"+393331234567", "it", "123456", "it", "Vale 10 minuti. Non darlo a nessuno"},
		{"+447700900123", "en", "654321", "en", "Valid for 10 minutes. Do not share it"},
		{"3339876543", "", "000042", "it", "nessuno dell'organizzazione te lo chiederà mai"},
	}
	for _, c := range cases {
		if err := w.Send(context.Background(), smsCode(c.to, c.lang, c.code)); err != nil {
			t.Fatalf("%s: %v", c.lang, err)
		}
	}
	seen := p.seen()
	if len(seen) != len(cases) {
		t.Fatalf("%d requests, want %d", len(seen), len(cases))
	}
	for i, c := range cases {
		r := seen[i]
		if r.method != http.MethodPost || r.path != "/v1/send" {
			t.Errorf("request %d: %s %s", i, r.method, r.path)
		}
		if got := r.header.Get("Authorization"); got != "Bearer "+smsToken {
			t.Errorf("request %d: Authorization %q", i, got)
		}
		if got := r.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, got)
		}
		var body struct{ To, Text, Lang string }
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			t.Fatalf("request %d: %v: %s", i, err, r.body)
		}
		if !bytes.Contains(r.body, []byte(`"to":`)) || !bytes.Contains(r.body, []byte(`"text":`)) || !bytes.Contains(r.body, []byte(`"lang":`)) {
			t.Errorf("request %d: the body's names are not to, text, lang: %s", i, r.body)
		}
		if body.To != c.to || body.Lang != c.want || !strings.Contains(body.Text, c.code) || !strings.Contains(body.Text, c.wording) {
			t.Errorf("request %d: %+v, want to %s in %s with %s", i, body, c.to, c.want, c.code)
		}
		if n := len([]rune(body.Text)); n > MaxSMSLength {
			t.Errorf("request %d: %d characters", i, n)
		}
	}
}

// TestSecondFactorSMSWebhookTLS: over https the provider's certificate is
// checked: with its CA the code goes, without it nothing is sent.
func TestSecondFactorSMSWebhookTLS(t *testing.T) {
	p := startSMSProvider(t, true)
	roots := p.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	w, err := NewSMSWebhook(SMSWebhookConfig{URL: p.URL, Token: smsToken, RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Send(context.Background(), smsCode("+393331234567", "it", "123456")); err != nil {
		t.Fatal(err)
	}
	untrusted, err := NewSMSWebhook(SMSWebhookConfig{URL: p.URL, Token: smsToken})
	if err != nil {
		t.Fatal(err)
	}
	c := smsCode("+393331234567", "it", "654321")
	err = untrusted.Send(context.Background(), c)
	if !errors.Is(err, ErrSMS) || strings.Contains(err.Error(), c.To) || strings.Contains(err.Error(), c.Code) {
		t.Errorf("an untrusted certificate: %v", err)
	}
	if n := len(p.seen()); n != 1 {
		t.Errorf("%d requests reached the provider, want 1", n)
	}
}

// TestSecondFactorSMSWebhookStatus: any answer but 2xx is an error that
// gives the status and neither the code nor the number, though the
// provider echoes both in its body; a provider that does not answer in
// time is an error too.
func TestSecondFactorSMSWebhookStatus(t *testing.T) {
	p := startSMSProvider(t, false)
	w, err := NewSMSWebhook(SMSWebhookConfig{URL: p.URL, Token: smsToken})
	if err != nil {
		t.Fatal(err)
	}
	for status, want := range map[int]string{
		http.StatusBadRequest:          "400 Bad Request",
		http.StatusUnauthorized:        "401 Unauthorized: check the token file",
		http.StatusTooManyRequests:     "429 Too Many Requests",
		http.StatusInternalServerError: "500 Internal Server Error",
		http.StatusNotModified:         "304 Not Modified; redirects are not followed",
		http.StatusOK:                  "",
		http.StatusNoContent:           "",
	} {
		p.mu.Lock()
		p.status = status
		p.mu.Unlock()
		c := smsCode("+393331234567", "it", "271828")
		err := w.Send(context.Background(), c)
		if want == "" {
			if err != nil {
				t.Errorf("%d: %v", status, err)
			}
			continue
		}
		if !errors.Is(err, ErrSMS) || !strings.Contains(err.Error(), want) {
			t.Errorf("%d: %v, want ErrSMS saying %q", status, err, want)
		} else if strings.Contains(err.Error(), "3331234567") || strings.Contains(err.Error(), c.Code) {
			t.Errorf("%d: the error holds the number or the code: %v", status, err)
		}
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	ws, err := NewSMSWebhook(SMSWebhookConfig{URL: slow.URL + "/send?key=provider-secret", Token: smsToken, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := smsCode("+393331234567", "it", "271828")
	err = ws.Send(context.Background(), c)
	if !errors.Is(err, ErrSMS) || strings.Contains(err.Error(), "provider-secret") || strings.Contains(err.Error(), c.Code) || strings.Contains(err.Error(), c.To) {
		t.Errorf("no answer in time: %v", err)
	}
	t.Logf("no answer in time: %v", err)
}

// TestAttackSecondFactorSMSRedirect: a provider that redirects is not
// followed, so the token, the number and the code never reach the
// redirect's target; the error says why.
func TestAttackSecondFactorSMSRedirect(t *testing.T) {
	target := startSMSProvider(t, false)
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/stolen", status)
		}))
		w, err := NewSMSWebhook(SMSWebhookConfig{URL: redirector.URL, Token: smsToken})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Send(context.Background(), smsCode("+393331234567", "it", "123456"))
		if !errors.Is(err, ErrSMS) || !strings.Contains(err.Error(), "redirects are not followed") {
			t.Errorf("%d: %v", status, err)
		}
		redirector.Close()
	}
	if n := len(target.seen()); n != 0 {
		t.Fatalf("the redirect was followed: %d requests reached its target", n)
	}
}

// TestAttackSecondFactorSMSConfig: plain http to a host that is not
// loopback, another scheme, a password in the URL, a missing token or
// one with a line break (a header injection) are refused when the
// webhook is made; a code of another factor or a malformed number is
// refused before any request, and its error does not echo the number.
func TestAttackSecondFactorSMSConfig(t *testing.T) {
	for _, u := range []string{
		"http://sms.example.org/send", "http://192.0.2.1:8080/send", "http://[2001:db8::1]/send", "http://10.0.0.1/send",
		"ftp://sms.example.org/", "sms.example.org/send", "https://", "https://user:pass@sms.example.org/send", "https://sms.example.org/send#x", "",
	} {
		if _, err := NewSMSWebhook(SMSWebhookConfig{URL: u, Token: smsToken}); err == nil {
			t.Errorf("%q was taken", u)
		} else if strings.Contains(err.Error(), "pass@") {
			t.Errorf("%q: the error holds the password: %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:9/send", "http://[::1]:9/send", "http://localhost:9/send", "https://sms.example.org/send"} {
		if _, err := NewSMSWebhook(SMSWebhookConfig{URL: u, Token: smsToken}); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
	for _, tok := range []string{"", "tok\r\nX-Injected: 1", "tok en", "tokè"} {
		if _, err := NewSMSWebhook(SMSWebhookConfig{URL: "https://sms.example.org/send", Token: tok}); err == nil {
			t.Errorf("token %q was taken", tok)
		}
	}

	p := startSMSProvider(t, false)
	w, err := NewSMSWebhook(SMSWebhookConfig{URL: p.URL, Token: smsToken})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]issuer.OneTimeCode{
		"email factor": {Factor: issuerapi.FactorEmail, To: "+393331234567", Code: "111111", Expires: time.Now().Add(time.Minute)},
		"letters":      {Factor: issuerapi.FactorSMS, To: "+39333ABC4567", Code: "111111", Expires: time.Now().Add(time.Minute)},
		"too short":    {Factor: issuerapi.FactorSMS, To: "+39333", Code: "111111", Expires: time.Now().Add(time.Minute)},
		"expired":      {Factor: issuerapi.FactorSMS, To: "+393331234567", Code: "111111", Expires: time.Now().Add(-time.Second)},
	} {
		err := w.Send(context.Background(), c)
		if err == nil || strings.Contains(err.Error(), c.To) || strings.Contains(err.Error(), c.Code) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := len(p.seen()); n != 0 {
		t.Fatalf("%d requests were sent, want none", n)
	}
}

// TestSecondFactorSMSConcurrent sends 20 codes at once; all arrive.
func TestSecondFactorSMSConcurrent(t *testing.T) {
	p := startSMSProvider(t, false)
	w, err := NewSMSWebhook(SMSWebhookConfig{URL: p.URL, Token: smsToken})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.Send(context.Background(), smsCode("+393331234567", "en", "123456"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(p.seen()); n != 20 {
		t.Fatalf("%d requests, want 20", n)
	}
}
