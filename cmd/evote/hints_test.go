package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

func TestNetworkHint(t *testing.T) {
	tls := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/v1/checkpoint", Err: x509.UnknownAuthorityError{}}
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("the receipt does not check out: board: %w", tls), "--ca-cert FILE"},
		{&url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: errors.New("connection refused")}, "could not be reached"},
		{errors.New("voter: the ballot is no longer in the board's log"), ""},
		{&fs.PathError{Op: "open", Path: "complaint-*.msg", Err: syscall.ENOENT}, ""},
	} {
		got := networkHint(c.err)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("networkHint(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
