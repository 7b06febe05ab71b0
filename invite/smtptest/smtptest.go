// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp's
// server) in process on loopback, for tests: STARTTLS or implicit TLS on a
// self-signed certificate made at start, AUTH PLAIN, and the messages it
// accepts kept in memory to read back. It is not a mock of a client: the
// code under test speaks SMTP to it over TCP.
package smtptest

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

// A Received is one message the server accepted.
type Received struct {
	From, To string
	Data     []byte
}

// A Server is a running test server.
type Server struct {
	Addr    string
	CAs     *x509.CertPool
	CertDER []byte // the server's self-signed certificate, its own CA
	User    string
	Pass    string
	mu      sync.Mutex
	mails   []Received
	reject  map[string]bool
}

// Reject makes the server refuse mail to the address to at RCPT (550
// 5.1.1), or, with refuse false, accept it again.
func (s *Server) Reject(to string, refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[to] = refuse
}

// Mails returns the messages accepted so far.
func (s *Server) Mails() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.mails...)
}

type testSession struct {
	s        *Server
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
	ss.s.mu.Lock()
	refuse := ss.s.reject[to]
	ss.s.mu.Unlock()
	if refuse {
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
	ss.s.mails = append(ss.s.mails, Received{ss.from, ss.to, b})
	ss.s.mu.Unlock()
	return nil
}
func (ss *testSession) Reset()        { ss.from, ss.to = "", "" }
func (ss *testSession) Logout() error { return nil }

// Mode is how the server speaks TLS.
type Mode int

const (
	STARTTLS    Mode = iota // offers STARTTLS, as on port 587
	ImplicitTLS             // TLS from the first byte, as on port 465
	NoTLS                   // offers no STARTTLS, allows AUTH in plaintext
)

// Start starts a server on a loopback port, stopped at the test's end. Its
// Addr is host:port, CAs trusts its certificate, and User and Pass log in.
func Start(t testing.TB, mode Mode) *Server {
	t.Helper()
	cert, pool := selfSigned(t)
	ts := &Server{CAs: pool, CertDER: cert.Certificate[0], User: "mailer", Pass: "correct horse", reject: map[string]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &testSession{s: ts}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsConfig := srv.TLSConfig
	if mode == NoTLS {
		srv.TLSConfig, srv.AllowInsecureAuth = nil, true
	}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = testLogger{t}
	var l net.Listener
	var err error
	if mode == ImplicitTLS {
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

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(f string, v ...any) { l.t.Logf("smtp server: "+f, v...) }
func (l testLogger) Println(v ...any)          { l.t.Log(append([]any{"smtp server:"}, v...)...) }

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
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
