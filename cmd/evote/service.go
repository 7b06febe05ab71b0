package main

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/evote/evote/internal/ratelimit"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/internal/service"
	"github.com/spf13/cobra"
)

// serviceFlags are the hardening flags evote board serve and evote issuer
// serve share, and (addServer alone) evote witness serve.
//
// Every limit flag reads 0 as its default and a negative value as no
// bound, as service.Limits does, and its help says so (limitHelp):
// one meaning of zero, so that no operator turns a limit off by writing
// the 0 another flag reads as "the default". TestLimitFlags lists them.
type serviceFlags struct {
	listen, cert, tlsKey string
	logFormat, logLevel  string
	maxInFlight          int
	maxUploads           int
	maxConnsPerAddress   int
	headerTimeout        time.Duration
	corsOrigins          []string
	trustedProxies       []string
	rate                 float64
	burst                int
}

// limitHelp is a limit flag's help: what it bounds, then the meaning of
// 0 and of a negative value, the same for every limit flag.
func limitHelp(what string) string { return what + " (0: the default; -1: no bound)" }

// add declares the flags of a service with a token endpoint (the board,
// the issuer), listen being the default address.
func (s *serviceFlags) add(c *cobra.Command, listen string) {
	s.addServer(c, listen, service.DefaultMaxInFlight, "most requests worked on at once on the expensive path (casts, tokens); beyond it 503 with Retry-After")
	f := c.Flags()
	f.IntVar(&s.maxUploads, "max-uploads-per-address", service.DefaultMaxUploadsPerAddress, limitHelp("most request bodies one client address may be sending at once; beyond it 429 with Retry-After; raise it behind a proxy, where every client has the proxy's address"))
	f.StringArrayVar(&s.corsOrigins, "cors-origin", nil, "an `ORIGIN` (scheme://host[:port]) whose web pages may call this service: the voting booth's, when it is hosted elsewhere; repeat for several")
	f.StringArrayVar(&s.trustedProxies, "trusted-proxy", nil, "a reverse proxy's address or `CIDR` whose X-Forwarded-For is believed: requests from it are limited, and wrong codes backed off, by the client address it names, not its own (repeatable; a header from anyone else is ignored)")
}

// clientIP returns the address requests are limited by, from
// --trusted-proxy: nil (the connection's own address) when none is given.
// Behind a proxy every client has the proxy's address, and one stranger
// could then slow every voter.
func (s *serviceFlags) clientIP() (func(*http.Request) string, error) {
	if len(s.trustedProxies) == 0 {
		return nil, nil
	}
	var nets []netip.Prefix
	for _, p := range s.trustedProxies {
		if a, err := netip.ParseAddr(p); err == nil {
			nets = append(nets, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		n, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, usagef("--trusted-proxy %q is not an address or a CIDR such as 10.0.0.0/8", p)
		}
		nets = append(nets, n.Masked())
	}
	return trustedClientIP(nets), nil
}

// trustedClientIP is the client address: the connection's, unless it is a
// trusted proxy's; then the rightmost X-Forwarded-For address that is not
// a trusted proxy's (the one the nearest untrusted hop gave), or the
// connection's if the header names none.
func trustedClientIP(proxies []netip.Prefix) func(*http.Request) string {
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		host := ratelimit.RemoteHost(r)
		a, err := netip.ParseAddr(host)
		if err != nil || !trusted(a) {
			return host
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return host // a hop that is not an address: believe none further
			}
			if !trusted(h) {
				return h.Unmap().String()
			}
		}
		return host
	}
}

// addServer declares the flags every evote service has: where it
// listens, TLS, its log, the requests it works on at once (maxInFlight
// the default, what the help) and its connection limits.
func (s *serviceFlags) addServer(c *cobra.Command, listen string, maxInFlight int, what string) {
	f := c.Flags()
	f.StringVar(&s.listen, "listen", listen, "address to listen on")
	f.StringVar(&s.cert, "tls-cert", "", "TLS certificate `FILE` (PEM); serve HTTPS")
	f.StringVar(&s.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	f.StringVar(&s.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&s.logLevel, "log-level", "info", "least level logged: debug, info, warn or error")
	f.IntVar(&s.maxInFlight, "max-in-flight", maxInFlight, limitHelp(what))
	f.IntVar(&s.maxConnsPerAddress, "max-conns-per-address", ops.DefaultMaxConnsPerAddress, limitHelp("most connections one client address may hold open; beyond it a connection is closed at once; raise it behind a proxy"))
	f.DurationVar(&s.headerTimeout, "read-header-timeout", 5*time.Second, "time a client has to send its request headers, against slowloris (0: the default; -1s: no bound)")
}

// addRate declares --rate and --burst, the per-address token bucket of
// the service's POSTs, with the service's defaults; what names them.
func (s *serviceFlags) addRate(c *cobra.Command, rate float64, burst int, what string) {
	f := c.Flags()
	f.Float64Var(&s.rate, "rate", rate, limitHelp(what+" per second per client IP; turn it off only behind a proxy that limits instead"))
	f.IntVar(&s.burst, "burst", burst, limitHelp("burst of "+what+" per client IP"))
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

// limits are the service's bounds from its flags and its rate and burst
// (addRate's, or a command's own).
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
