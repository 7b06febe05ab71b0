package invite

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// A real SMTP server (github.com/emersion/go-smtp's server) on loopback,
// with STARTTLS on a certificate made here and AUTH PLAIN, keeping what it
// is sent in memory.

type received struct {
	From, To string
	Data     []byte
}

type testServer struct {
	Addr   string
	CAs    *x509.CertPool
	User   string
	Pass   string
	mu     sync.Mutex
	mails  []received
	reject map[string]bool // recipients refused at RCPT
}

func (s *testServer) Mails() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.mails...)
}

type testSession struct {
	s        *testServer
	authed   bool
	from, to string
}

func (ss *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *testSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != ss.s.User || pass != ss.s.Pass {
			// As Postfix answers (RFC 4954 §6).
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.authed = true
		return nil
	}), nil
}
func (ss *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}
func (ss *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.reject[to] {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	ss.to = to
	return nil
}
func (ss *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, received{ss.from, ss.to, b})
	ss.s.mu.Unlock()
	return nil
}
func (ss *testSession) Reset()        { ss.from, ss.to = "", "" }
func (ss *testSession) Logout() error { return nil }

type serverMode int

const (
	offerSTARTTLS serverMode = iota
	implicitTLS              // TLS from the first byte, as on port 465
	noTLS                    // no STARTTLS offered
)

// startServer starts the server on a loopback port.
func startServer(t *testing.T, mode serverMode) *testServer {
	t.Helper()
	cert, pool := selfSigned(t)
	ts := &testServer{CAs: pool, User: "mailer", Pass: "correct horse", reject: map[string]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{s: ts}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsConfig := srv.TLSConfig
	if mode == noTLS {
		srv.TLSConfig, srv.AllowInsecureAuth = nil, true
	}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = testLogger{t}
	var l net.Listener
	var err error
	if mode == implicitTLS {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.Addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ts
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(f string, v ...any) { l.t.Logf("smtp server: "+f, v...) }
func (l testLogger) Println(v ...any)          { l.t.Log(append([]any{"smtp server:"}, v...)...) }

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
