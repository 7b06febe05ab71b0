package boardapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/transport"
)

// recorder is a Transport that records the requests and answers each with
// status and body.
type recorder struct {
	reqs       []transport.Request
	status     int
	retryAfter string
	body       string
}

func (r *recorder) RoundTrip(_ context.Context, req *transport.Request) (*transport.Response, error) {
	r.reqs = append(r.reqs, *req)
	return &transport.Response{StatusCode: r.status, RetryAfter: r.retryAfter, Body: io.NopCloser(strings.NewReader(r.body))}, nil
}

// TestClientOver: the client's requests through the seam, GET without a
// body or a type, POST of application/octet-stream (an open naming
// trustees to go on without, of application/json), the admin's header on
// admin endpoints only; an error answer's Retry-After.
func TestClientOver(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{status: 200, body: `{"index":7}`}
	c := boardapi.NewClientOver("https://board.example/", rec)
	c.AdminToken = "tok"
	if i, err := c.Open(ctx); err != nil || i != 7 {
		t.Fatalf("Open: %d, %v", i, err)
	}
	if i, err := c.PostPartial(ctx, []byte("p")); err != nil || i != 7 {
		t.Fatalf("PostPartial: %d, %v", i, err)
	}
	if i, err := c.OpenWithout(ctx, []int{3}); err != nil || i != 7 {
		t.Fatalf("OpenWithout: %d, %v", i, err)
	}
	if i, err := c.PostCeremonyMessage(ctx, []byte("m")); err != nil || i != 7 {
		t.Fatalf("PostCeremonyMessage: %d, %v", i, err)
	}
	rec.body = "manifest"
	if b, err := c.Manifest(ctx); err != nil || string(b) != "manifest" {
		t.Fatalf("Manifest: %q, %v", b, err)
	}
	want := []transport.Request{
		{Method: "POST", URL: "https://board.example" + boardapi.PathOpen, ContentType: "application/octet-stream", Authorization: "Bearer tok", Body: []byte{}},
		{Method: "POST", URL: "https://board.example" + boardapi.PathPartials, ContentType: "application/octet-stream", Body: []byte("p")},
		{Method: "POST", URL: "https://board.example" + boardapi.PathOpen, ContentType: "application/json", Authorization: "Bearer tok", Body: []byte(`{"without":[3]}`)},
		// A trustee's signed message: no admin token, even when the client has one.
		{Method: "POST", URL: "https://board.example" + boardapi.PathTrusteeCeremony, ContentType: "application/octet-stream", Body: []byte("m")},
		{Method: "GET", URL: "https://board.example" + boardapi.PathManifest},
	}
	if len(rec.reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(rec.reqs), len(want))
	}
	for i, w := range want {
		g := rec.reqs[i]
		if g.Method != w.Method || g.URL != w.URL || g.ContentType != w.ContentType || g.Authorization != w.Authorization ||
			!bytes.Equal(g.Body, w.Body) || (g.Body == nil) != (w.Body == nil) {
			t.Errorf("request %d = %+v, want %+v", i, g, w)
		}
	}
	rec.status, rec.retryAfter, rec.body = 429, "5", `{"code":"rate_limited","error":"slow down"}`
	_, err := c.Election(ctx)
	var ae *boardapi.Error
	if !errors.As(err, &ae) || *ae != (boardapi.Error{StatusCode: 429, Code: boardapi.CodeRateLimited, Message: "slow down", RetryAfter: 5 * time.Second}) {
		t.Fatalf("rate limited: %#v", err)
	}
	rec.status, rec.body = 200, strings.Repeat("x", 1<<20+1)
	if _, err := c.Manifest(ctx); err == nil {
		t.Fatal("a manifest over 1 MiB was read")
	}
}

// TestClientHTTP: over net/http, the headers reach the server, and a
// failed connection is a *url.Error in the chain.
func TestClientHTTP(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Authorization"))
		w.Write([]byte(`{"index":1}`))
	}))
	c := boardapi.NewClient(srv.URL, nil)
	c.AdminToken = "tok"
	if _, err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "POST "+boardapi.PathClose+" application/octet-stream Bearer tok" {
		t.Fatalf("the server saw %q", got)
	}
	srv.Close()
	_, err := c.Election(context.Background())
	var ue *url.Error
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "boardapi: GET "+boardapi.PathElection+": ") {
		t.Fatalf("a closed server: %v", err)
	}
}
