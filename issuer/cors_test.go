package issuer

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/evote/evote/issuer/issuerapi"
)

// boothOrigin is the voting booth's origin in the CORS tests.
const boothOrigin = "https://booth.example"

// TestAttackCORSForeignOrigin: with the booth's origin configured, a web
// page of another origin cannot get a voter's browser to ask for a token:
// its preflight for POST /v1/token is refused (403, no
// Access-Control-Allow-Origin); nor may a page, the booth's included, have
// the browser send Authorization. The preflights carry a valid token
// request and never reach the handler: no token is issued, no code tested.
func TestAttackCORSForeignOrigin(t *testing.T) {
	f := newFixture(t, 2, nil, HandlerConfig{CORSOrigins: []string{boothOrigin}})
	_, valid := validRequest(t, f)
	preflight := func(origin, method, headers string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodOptions, f.srv.URL+issuerapi.PathToken, bytes.NewReader(valid))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	c0, r0 := rollState(t, f)
	refused := func(what string, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%s: %d, Access-Control-Allow-Origin %q; want 403 and none", what, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if c1, r1 := rollState(t, f); c0 != c1 || !reflect.DeepEqual(r0, r1) {
			t.Fatalf("%s: refused, but the roll changed: %+v -> %+v", what, c0, c1)
		}
	}
	for _, origin := range []string{"https://evil.example", "null", "https://booth.example.evil.example", "http://booth.example", boothOrigin + ":443"} {
		refused("token preflight from "+origin, preflight(origin, "POST", "content-type"))
	}
	refused("Authorization preflight from the booth", preflight(boothOrigin, "POST", "authorization"))
	refused("Authorization and Content-Type preflight from the booth", preflight(boothOrigin, "POST", "content-type, authorization"))
	refused("PUT preflight from the booth", preflight(boothOrigin, "PUT", "content-type"))

	// The booth itself may ask: its preflight is allowed, and the answer
	// to its request carries the header that lets it read the signature.
	if resp := preflight(boothOrigin, "POST", "content-type"); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != boothOrigin {
		t.Fatalf("the booth's preflight: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+issuerapi.PathToken, bytes.NewReader(valid))
	req.Header.Set("Origin", boothOrigin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != boothOrigin {
		t.Fatalf("the booth's token request: %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if c1, _ := rollState(t, f); c1.Issued != c0.Issued+1 {
		t.Fatalf("the booth's request issued %d tokens", c1.Issued-c0.Issued)
	}
	if strings.Contains(f.logs.String(), "example") {
		t.Errorf("an origin is in the issuer's log")
	}
}
