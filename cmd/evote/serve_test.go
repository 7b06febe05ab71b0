package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncWriter is a buffer safe for a server goroutine and the test; it
// reports the board's URL once "listening on" appears.
type syncWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	ready chan string
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.ready != nil {
		if _, rest, ok := strings.Cut(w.b.String(), "listening on "); ok {
			if u, _, ok := strings.Cut(rest, "\n"); ok {
				w.ready <- u
				w.ready = nil
			}
		}
	}
	return len(p), nil
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// selfSigned writes a self-signed CA certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	sk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "evote test board"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &sk.PublicKey, sk)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

// TestTLSSelfSigned serves the board over HTTPS with a self-signed
// certificate: "board status --ca-cert" trusts it, without it the client
// refuses. The board logs JSON, one line per request.
func TestTLSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	pass := in("pass")
	os.WriteFile(pass, []byte("s3cret\n"), 0o600)
	secret := []string{"--passphrase-file", pass, "--scrypt-work-factor", "10"}
	must := func(args ...string) {
		t.Helper()
		if _, errs, code := evote(t, args...); code != 0 {
			t.Fatalf("evote %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		}
	}
	must(append(secret, "board", "keygen", "--key", in("board.key"), "--vkey", in("board.vkey"))...)
	must(append(secret, "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub"))...)
	initArgs := []string{"election", "init", "--title", "T", "--question", "q:Yes?:yes,no", "--issuer-key", in("issuer.pub"), "--out", in("manifest.json")}
	for i := 1; i <= 3; i++ {
		sign, pub := in(fmt.Sprintf("t%d.sign", i)), in(fmt.Sprintf("t%d.pub", i))
		must(append(secret, "trustee", "keygen", "--out", sign, "--pub", pub)...)
		initArgs = append(initArgs, "--trustee-key", pub)
	}
	must(initArgs...)
	cert, key := selfSigned(t, dir)

	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{ready: make(chan string, 1)}
	errs := &syncWriter{}
	root := newRoot(out, errs)
	root.SetArgs(append(secret, "board", "serve", "--key", in("board.key"), "--data", in("data"), "--manifest", in("manifest.json"),
		"--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--log-format", "json"))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("board serve: %v", err)
		}
	}()
	var url string
	select {
	case url = <-out.ready:
	case err := <-done:
		t.Fatalf("board serve: %v\n%s", err, errs)
	case <-time.After(10 * time.Second):
		t.Fatalf("board serve did not start:\n%s", errs)
	}
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("board URL %q is not HTTPS", url)
	}
	stdout, stderr, code := evote(t, "board", "status", "--board", url, "--board-key", in("board.vkey"), "--ca-cert", cert)
	if code != 0 || !strings.Contains(stdout, "phase ceremony") || !strings.Contains(stdout, "signature verified") {
		t.Fatalf("board status --ca-cert: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, stderr, code := evote(t, "board", "status", "--board", url); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("board status without --ca-cert: exit %d, %s", code, stderr)
	}
	if _, stderr, code := evote(t, "board", "status", "--board", url, "--ca-cert", in("manifest.json")); code != 2 {
		t.Fatalf("--ca-cert of a non-certificate: exit %d, %s", code, stderr)
	}
	if s := errs.String(); !strings.Contains(s, `"msg":"request","method":"GET","path":"/v1/election","status":200`) {
		t.Errorf("no JSON request line in the board's log:\n%s", s)
	}
}
