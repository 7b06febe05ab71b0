package invite

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how the connection to the submission server is protected.
type Security int

const (
	// StartTLS connects in plaintext and requires STARTTLS before anything
	// else (port 587); a server that does not offer it is refused.
	StartTLS Security = iota
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS
	// InsecurePlaintext sends in the clear: allowed only to a loopback
	// address, such as a local relay.
	InsecurePlaintext
)

// Sentinels for callers to branch on.
var (
	// ErrAuth means the server refused the user and password.
	ErrAuth = errors.New("invite: the SMTP server refused the user and password")
	// ErrConnect means the server could not be reached or its TLS failed.
	ErrConnect = errors.New("invite: cannot connect to the SMTP server")
	// ErrInsecure means plaintext was asked for to a non-loopback server.
	ErrInsecure = errors.New("invite: plaintext SMTP is allowed only to a loopback address")
)

// SMTPConfig names the submission server and how to log in.
type SMTPConfig struct {
	Addr     string // host:port
	Security Security
	// User and Password log in with AUTH PLAIN; no User, no AUTH.
	User, Password string
	// RootCAs checks the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds the connection and each command; 0 is 30 s.
	Timeout time.Duration
	// PerConnection is how many messages go over one connection before a
	// new one (servers limit it); 0 is 100.
	PerConnection int
}

// An SMTPSender sends messages over one connection at a time, connecting
// again after a broken connection or PerConnection messages.
type SMTPSender struct {
	cfg  SMTPConfig
	c    *smtp.Client
	sent int
}

// DialSMTP connects to the server and logs in, so that a wrong address,
// certificate or password fails before any voter is sent to.
func DialSMTP(ctx context.Context, cfg SMTPConfig) (*SMTPSender, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.PerConnection == 0 {
		cfg.PerConnection = 100
	}
	s := &SMTPSender{cfg: cfg}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// check refuses an address that is not host:port, and plaintext to a
// host that is not loopback.
func (cfg *SMTPConfig) check() error {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("invite: the SMTP server %q is not host:port", cfg.Addr)
	}
	if cfg.Security == InsecurePlaintext && !isLoopback(host) {
		return fmt.Errorf("%w, not %s: the codes would cross the network in the clear; use --starttls or --tls", ErrInsecure, host)
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a loopback address.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func (s *SMTPSender) connect(ctx context.Context) error {
	cfg := s.cfg
	host, _, _ := net.SplitHostPort(cfg.Addr)
	tc := &tls.Config{ServerName: host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	d := &net.Dialer{Timeout: cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrConnect, cfg.Addr, err)
	}
	var c *smtp.Client
	switch cfg.Security {
	case ImplicitTLS:
		tconn := tls.Client(conn, tc)
		tconn.SetDeadline(time.Now().Add(cfg.Timeout))
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("%w %s over TLS: %v (is it port 465? with a private CA, give --ca-cert)", ErrConnect, cfg.Addr, err)
		}
		tconn.SetDeadline(time.Time{})
		c = smtp.NewClient(tconn)
	case StartTLS:
		c, err = smtp.NewClientStartTLS(conn, tc)
		if err != nil {
			conn.Close()
			return fmt.Errorf("%w %s with STARTTLS: %v (STARTTLS is required; with a private CA, give --ca-cert; for port 465 use --tls)", ErrConnect, cfg.Addr, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = cfg.Timeout
	c.SubmissionTimeout = 4 * cfg.Timeout
	if cfg.Security == StartTLS {
		// NewClientStartTLS only sends STARTTLS; the handshake runs on the
		// next command. Run it now, so a bad certificate is a connect error.
		if err := c.Noop(); err != nil {
			c.Close()
			return fmt.Errorf("%w %s after STARTTLS: %v (with a private CA, give --ca-cert)", ErrConnect, cfg.Addr, err)
		}
	}
	if cfg.User != "" {
		if ok := c.SupportsAuth(sasl.Plain); !ok {
			c.Close()
			return fmt.Errorf("%w %s: it does not offer AUTH PLAIN", ErrConnect, cfg.Addr)
		}
		if err := c.Auth(sasl.NewPlainClient("", cfg.User, cfg.Password)); err != nil {
			c.Close()
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.Code/100 == 5 {
				return fmt.Errorf("%w (%d %s): check --smtp-user and --smtp-password-file", ErrAuth, se.Code, se.Message)
			}
			return fmt.Errorf("%w %s: logging in: %v", ErrConnect, cfg.Addr, err)
		}
	}
	s.c, s.sent = c, 0
	return nil
}

// Send sends one message to one recipient. After an error the connection
// is closed (a server that refused a message may have left the session in
// any state), and the next Send connects again.
func (s *SMTPSender) Send(ctx context.Context, from, to string, msg []byte) error {
	if s.c != nil && s.sent >= s.cfg.PerConnection {
		s.c.Quit()
		s.c = nil
	}
	if s.c == nil {
		if err := s.connect(ctx); err != nil {
			return err
		}
	}
	if err := s.c.SendMail(from, []string{to}, bytes.NewReader(msg)); err != nil {
		s.c.Close()
		s.c = nil
		return err
	}
	s.sent++
	return nil
}

// Close ends the session.
func (s *SMTPSender) Close() error {
	if s.c == nil {
		return nil
	}
	err := s.c.Quit()
	s.c = nil
	return err
}
