package transport_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/evote/evote/internal/transport"
)

// TestHTTP: the method, URL, the two headers when set (and none when not),
// the body; the answer's status, Retry-After and body; a failed connection
// is a *url.Error.
func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, ct := r.Header["Content-Type"]
		_, auth := r.Header["Authorization"]
		if r.URL.Path == "/none" && (ct || auth || len(b) != 0) {
			w.WriteHeader(400)
			return
		}
		if r.URL.Path == "/all" && (r.Method != "POST" || r.Header.Get("Content-Type") != "a/b" || r.Header.Get("Authorization") != "Bearer x" || string(b) != "body") {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(503)
		w.Write([]byte("answer"))
	}))
	defer srv.Close()
	tr := transport.HTTP(nil)
	for _, r := range []*transport.Request{
		{Method: "GET", URL: srv.URL + "/none"},
		{Method: "POST", URL: srv.URL + "/all", ContentType: "a/b", Authorization: "Bearer x", Body: []byte("body")},
	} {
		resp, err := tr.RoundTrip(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.RetryAfter != "3" || string(b) != "answer" {
			t.Errorf("%s %s: %d %q %q", r.Method, r.URL, resp.StatusCode, resp.RetryAfter, b)
		}
	}
	resp, err := transport.HTTP(srv.Client()).RoundTrip(context.Background(), &transport.Request{Method: "GET", URL: srv.URL + "/x"})
	if err != nil || resp.RetryAfter != "3" {
		t.Fatalf("with a client: %v", err)
	}
	resp.Body.Close()
	srv.Close()
	_, err = tr.RoundTrip(context.Background(), &transport.Request{Method: "GET", URL: srv.URL})
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("a closed server: %#v", err)
	}
}
