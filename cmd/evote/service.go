package main

import (
	"log/slog"
	"time"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/internal/service"
	"github.com/spf13/cobra"
)

// serviceFlags are the hardening flags evote board serve and evote issuer
// serve share.
type serviceFlags struct {
	listen, cert, tlsKey string
	logFormat, logLevel  string
	maxInFlight          int
	maxUploads           int
	maxConnsPerAddress   int
	headerTimeout        time.Duration
	corsOrigins          []string
}

// add declares the flags, listen being the default address.
func (s *serviceFlags) add(c *cobra.Command, listen string) {
	f := c.Flags()
	f.StringVar(&s.listen, "listen", listen, "address to listen on")
	f.StringVar(&s.cert, "tls-cert", "", "TLS certificate `FILE` (PEM); serve HTTPS")
	f.StringVar(&s.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	f.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&s.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	f.IntVar(&s.maxInFlight, "max-in-flight", service.DefaultMaxInFlight, "most requests worked on at once on the expensive path (casts, tokens); beyond it 503 with Retry-After (-1: no bound)")
	f.IntVar(&s.maxUploads, "max-uploads-per-address", service.DefaultMaxUploadsPerAddress, "most request bodies one client address may be sending at once; beyond it 429 with Retry-After (-1: no bound; raise it behind a proxy, where every client has the proxy's address)")
	f.IntVar(&s.maxConnsPerAddress, "max-conns-per-address", ops.DefaultMaxConnsPerAddress, "most connections one client address may hold open; beyond it a connection is closed at once (-1: no bound; raise it behind a proxy)")
	f.DurationVar(&s.headerTimeout, "read-header-timeout", 5*time.Second, "time a client has to send its request headers (against slowloris)")
	f.StringArrayVar(&s.corsOrigins, "cors-origin", nil, "an `ORIGIN` (scheme://host[:port]) whose web pages may call this service: the voting booth's, when it is hosted elsewhere; repeat for several")
}

// origins are the --cors-origin values, each checked as the service
// package parses an origin: one it refuses is a usage error naming it.
func (s *serviceFlags) origins() ([]string, error) {
	for _, o := range s.corsOrigins {
		if _, err := service.ParseOrigin(o); err != nil {
			return nil, usagef("--cors-origin: %v", err)
		}
	}
	return s.corsOrigins, nil
}

// limits are the service's bounds from its flags and its --rate and
// --burst (each service declares those with its own default).
func (s *serviceFlags) limits(rate float64, burst int) service.Limits {
	return service.Limits{RatePerSecond: rate, Burst: burst, MaxInFlight: s.maxInFlight, MaxUploadsPerAddress: s.maxUploads}
}

func (s *serviceFlags) logger(g *globals) (*slog.Logger, error) {
	l, err := ops.NewLogger(g.stderr, s.logFormat, s.logLevel)
	if err != nil {
		return nil, usageError{err}
	}
	return l, nil
}

// server completes c with the listen address, TLS files and timeouts.
func (s *serviceFlags) server(c ops.ServerConfig) ops.ServerConfig {
	c.Listen, c.TLSCert, c.TLSKey = s.listen, s.cert, s.tlsKey
	c.ReadHeaderTimeout = s.headerTimeout
	c.MaxConnsPerAddress = s.maxConnsPerAddress
	// Connections in all stay 256 file descriptors below the limit, for the
	// store, the logs and the answers to those held.
	if cur, _, ok := fileLimit(); ok && cur > 512 {
		c.MaxConns = int(min(cur-256, 1<<30))
	}
	return c
}
