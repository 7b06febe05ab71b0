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
	logFormat, logLevel string
	maxInFlight         int
	headerTimeout       time.Duration
}

func (s *serviceFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&s.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	f.IntVar(&s.maxInFlight, "max-in-flight", service.DefaultMaxInFlight, "most requests worked on at once on the expensive path (casts, tokens); beyond it 503 with Retry-After (-1: no bound)")
	f.DurationVar(&s.headerTimeout, "read-header-timeout", 5*time.Second, "time a client has to send its request headers (against slowloris)")
}

func (s *serviceFlags) logger(g *globals) (*slog.Logger, error) {
	l, err := ops.NewLogger(g.stderr, s.logFormat, s.logLevel)
	if err != nil {
		return nil, usageError{err}
	}
	return l, nil
}

func (s *serviceFlags) server(c ops.ServerConfig) ops.ServerConfig {
	c.ReadHeaderTimeout = s.headerTimeout
	return c
}
