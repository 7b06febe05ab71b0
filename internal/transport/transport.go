// Package transport is the seam the API clients (board/boardapi,
// issuer/issuerapi) send their requests through: over net/http in programs
// ([HTTP]), over the browser's fetch in the booth. It imports no net/http,
// so that a js/wasm build of the voter links none (net/http costs about
// 7 MB of a WebAssembly module; the booth is to stay under 2 MB gzipped).
package transport

import (
	"context"
	"io"
)

// Request is one API request.
type Request struct {
	Method, URL   string
	ContentType   string // "" for none
	Authorization string // "" for none
	Body          []byte // nil for none
}

// Response is the answer; the caller closes Body.
type Response struct {
	StatusCode int
	RetryAfter string // the Retry-After header, "" if none
	Body       io.ReadCloser
}

// Transport carries API requests: over net/http in programs (HTTP), over the browser's fetch in the booth.
type Transport interface {
	RoundTrip(ctx context.Context, r *Request) (*Response, error)
}
