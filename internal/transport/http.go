//go:build !js

package transport

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// HTTP returns a Transport over hc; nil means http.DefaultClient. Errors of
// hc.Do are returned as they are (a *url.Error).
func HTTP(hc *http.Client) Transport {
	if hc == nil {
		hc = http.DefaultClient
	}
	return httpTransport{hc}
}

type httpTransport struct{ hc *http.Client }

func (t httpTransport) RoundTrip(ctx context.Context, r *Request) (*Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, err
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	if r.Authorization != "" {
		req.Header.Set("Authorization", r.Authorization)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, err
	}
	return &Response{StatusCode: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: resp.Body}, nil
}
