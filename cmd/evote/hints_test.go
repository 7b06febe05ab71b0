package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
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

// A PostgreSQL store's connection failure is the DSN's to fix: the
// services' --ca-cert and "the service could not be reached" would send
// the operator the wrong way.
func TestNetworkHintDatabase(t *testing.T) {
	ctx := context.Background()
	// A port nothing listens on: pgdb's own message says what to check.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, err = pgconn.Connect(ctx, "postgres://evote@"+closed+"/evote?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	if got := networkHint(fmt.Errorf("store/postgres: %w", err)); got != "" {
		t.Errorf("a database that is not running: hint %q, want none (pgdb's message has it)", got)
	}

	// A server whose certificate no CA of this machine signed: it answers
	// PostgreSQL's SSLRequest with 'S', then TLS.
	certFile, keyFile := selfSigned(t, t.TempDir())
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.ReadFull(c, make([]byte, 8)); err != nil {
					return
				}
				c.Write([]byte("S"))
				tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
			}()
		}
	}()
	_, err = pgconn.Connect(ctx, "postgres://evote@"+ln.Addr().String()+"/evote?sslmode=verify-full&connect_timeout=5")
	if err == nil {
		t.Fatal("connected with an untrusted certificate")
	}
	got := networkHint(fmt.Errorf("store/postgres: %w", err))
	if !strings.Contains(got, "sslrootcert=") || strings.Contains(got, "give its CA certificate with --ca-cert") {
		t.Errorf("a database's untrusted certificate: hint %q, want the DSN's sslrootcert", got)
	}
}
