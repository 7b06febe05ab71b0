package issuerapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/evote/evote/issuer/issuerapi"
)

// TestErrorIs: each code matches its sentinel and no other; an answer
// without a code (a proxy's) matches none.
func TestErrorIs(t *testing.T) {
	codes := map[string]error{
		issuerapi.CodeBadRequest: issuerapi.ErrBadRequest, issuerapi.CodeBadCredentials: issuerapi.ErrBadCredentials,
		issuerapi.CodeNotFound:         issuerapi.ErrNotFound,
		issuerapi.CodeMethodNotAllowed: issuerapi.ErrMethodNotAllowed, issuerapi.CodeAlreadyIssued: issuerapi.ErrAlreadyIssued,
		issuerapi.CodePurged: issuerapi.ErrPurged, issuerapi.CodeTooLarge: issuerapi.ErrTooLarge,
		issuerapi.CodeUnsupportedType: issuerapi.ErrUnsupportedType, issuerapi.CodeRateLimited: issuerapi.ErrRateLimited,
		issuerapi.CodeInternal: issuerapi.ErrInternal, issuerapi.CodeOverloaded: issuerapi.ErrOverloaded,
	}
	for code, want := range codes {
		for _, other := range codes {
			if got := errors.Is(&issuerapi.Error{StatusCode: 400, Code: code}, other); got != (other == want) {
				t.Errorf("code %q matches %v: %v", code, other, got)
			}
		}
		if errors.Is(&issuerapi.Error{StatusCode: 429}, want) {
			t.Errorf("an answer with no code matches %v", want)
		}
	}
}

// TestClientReadsErrors: the client makes an *Error of the issuer's JSON
// error body, with Retry-After, and of a proxy's plain text.
func TestClientReadsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == issuerapi.PathToken {
			w.Header().Set("Retry-After", "2")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"code":"rate_limited","error":"too many requests from this address; retry in 2 s"}`))
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("upstream down"))
	}))
	defer srv.Close()
	c := issuerapi.NewClient(srv.URL, nil)
	_, err := c.RequestToken(context.Background(), issuerapi.Credentials{VoterID: "v", Code: "c"}, []byte{1})
	var ae *issuerapi.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.RetryAfter != 2*time.Second || !errors.Is(err, issuerapi.ErrRateLimited) {
		t.Fatalf("rate limited: %#v", err)
	}
	if got := err.Error(); got != "issuerapi: the issuer answered 429 (rate_limited): too many requests from this address; retry in 2 s" {
		t.Fatalf("Error() = %q", got)
	}
	_, err = c.Info(context.Background())
	if !errors.As(err, &ae) || *ae != (issuerapi.Error{StatusCode: 502, Message: "upstream down"}) {
		t.Fatalf("a proxy's answer: %#v", err)
	}
	if got := err.Error(); got != "issuerapi: the issuer answered 502: upstream down" {
		t.Fatalf("Error() = %q", got)
	}
}
