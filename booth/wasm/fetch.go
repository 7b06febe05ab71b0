//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"io"
	"syscall/js"

	"github.com/evote/evote/booth/boothapi"
	"github.com/evote/evote/internal/transport"
)

// fetchTransport carries the API clients' requests over the browser's
// fetch, so the module links no net/http: 7 MB less to download (see
// internal/transport).
type fetchTransport struct{}

// fetchError is a failed fetch; its message is the browser's.
type fetchError struct{ msg string }

func (e *fetchError) Error() string { return "booth: fetch failed: " + e.msg }
func (e *fetchError) Unwrap() error { return boothapi.ErrNetwork }

func (fetchTransport) RoundTrip(ctx context.Context, r *transport.Request) (*transport.Response, error) {
	headers := js.Global().Get("Object").New()
	if r.ContentType != "" {
		headers.Set("Content-Type", r.ContentType)
	}
	if r.Authorization != "" {
		headers.Set("Authorization", r.Authorization)
	}
	abort := js.Global().Get("AbortController").New()
	opts := js.Global().Get("Object").New()
	opts.Set("method", r.Method)
	opts.Set("headers", headers)
	opts.Set("signal", abort.Get("signal"))
	opts.Set("credentials", "omit")
	opts.Set("cache", "no-store")
	opts.Set("redirect", "error")
	if r.Body != nil {
		u8 := js.Global().Get("Uint8Array").New(len(r.Body))
		js.CopyBytesToJS(u8, r.Body)
		opts.Set("body", u8)
	}
	type result struct {
		resp *transport.Response
		err  error
	}
	done := make(chan result, 1)
	var onBody, onResp, onFail js.Func
	release := func() { onBody.Release(); onResp.Release(); onFail.Release() }
	var status int
	var retryAfter string
	onFail = js.FuncOf(func(_ js.Value, a []js.Value) any {
		msg := "unknown"
		if len(a) > 0 {
			msg = a[0].Call("toString").String()
		}
		done <- result{err: &fetchError{msg}}
		return nil
	})
	onBody = js.FuncOf(func(_ js.Value, a []js.Value) any {
		u8 := js.Global().Get("Uint8Array").New(a[0])
		b := make([]byte, u8.Get("length").Int())
		js.CopyBytesToGo(b, u8)
		done <- result{resp: &transport.Response{StatusCode: status, RetryAfter: retryAfter, Body: io.NopCloser(bytes.NewReader(b))}}
		return nil
	})
	onResp = js.FuncOf(func(_ js.Value, a []js.Value) any {
		resp := a[0]
		status = resp.Get("status").Int()
		if h := resp.Get("headers").Call("get", "Retry-After"); !h.IsNull() {
			retryAfter = h.String()
		}
		resp.Call("arrayBuffer").Call("then", onBody, onFail)
		return nil
	})
	js.Global().Call("fetch", r.URL, opts).Call("then", onResp, onFail)
	select {
	case res := <-done:
		release()
		return res.resp, res.err
	case <-ctx.Done():
		abort.Call("abort")
		<-done // the promise settles (rejected) once aborted
		release()
		return nil, ctx.Err()
	}
}
