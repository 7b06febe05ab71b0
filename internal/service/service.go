// Package service is what the issuer's and the board's HTTP handlers share
// to run as hardened services: one structured log line per request, request
// counters and an in-flight gauge in a hand-written Prometheus registry,
// a gate that bounds concurrent requests and answers 503 at once beyond it,
// a per-address bound on bodies being read (429 beyond it), and the
// /healthz and /metrics endpoints.
//
// The issuer and the board still share no code of each other's: this
// package knows nothing of tokens, voters or ballots.
package service

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Health and metrics paths, served by both services.
const (
	PathHealth  = "/healthz"
	PathMetrics = "/metrics"
)

// DefaultMaxInFlight bounds the requests a service works on at once on its
// expensive path (a cast, a token): 4 × 256, a few batches of the board's
// batch verifier. Beyond it a request is answered 503 at once.
const DefaultMaxInFlight = 4 * 256

// Service wraps a service's handler with logging and metrics.
type Service struct {
	Name     string // "board", "issuer": the metric prefix evote_<name>_
	Log      *slog.Logger
	Metrics  *Registry
	requests *CounterVec
	inFlight *Gauge
}

// New returns a Service whose metrics are named evote_<name>_...; log nil
// discards the request log.
func New(name string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{Name: name, Log: log, Metrics: new(Registry)}
	s.requests = s.Metrics.Counter(s.MetricName("http_requests_total"), "HTTP requests answered, by endpoint and status class.", "endpoint", "code")
	s.inFlight = s.Metrics.Gauge(s.MetricName("http_requests_in_flight"), "HTTP requests being served now.")
	return s
}

// MetricName is evote_<service>_<name>.
func (s *Service) MetricName(name string) string { return "evote_" + s.Name + "_" + name }

// InFlight is the number of requests being served.
func (s *Service) InFlight() int64 { return s.inFlight.Value() }

// maxLoggedPath bounds the path in a log line: a client chooses it.
const maxLoggedPath = 128

// Wrap serves next (a *http.ServeMux, whose routing sets Request.Pattern)
// and, for each request, counts it by endpoint and status class and logs
// one line: method, path, status, duration and bytes written, and for a
// refusal (status 400 and above) the code the client was told (refused=
// already_voted, see [NoteRefusal]), so that an operator can tell a flood
// of double votes from one of malformed requests without a debug log.
// Nothing else from the request is logged: no query, no header, no body,
// no address, so neither a voter identifier nor a credential nor a token
// key can reach the log through it; the code is one of the API's fixed
// words, which the client already has. Answers of 500 and above are logged
// at Error level.
func (s *Service) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.inFlight.Add(1)
		rw := &recorder{ResponseWriter: w}
		defer func() {
			s.inFlight.Add(-1)
			st := rw.status
			if st == 0 {
				st = http.StatusOK
			}
			endpoint := r.Pattern
			if endpoint == "" || endpoint == "/" {
				endpoint = "other"
			}
			s.requests.With(endpoint, strconv.Itoa(st/100)+"xx").Inc()
			path := r.URL.Path
			if len(path) > maxLoggedPath {
				path = path[:maxLoggedPath] + "..."
			}
			level := slog.LevelInfo
			if st >= 500 {
				level = slog.LevelError
			}
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", path), slog.Int("status", st),
				slog.Duration("duration", time.Since(start)), slog.Int64("bytes", rw.bytes)}
			if st >= 400 && rw.refused != "" {
				attrs = append(attrs, slog.String("refused", rw.refused))
			}
			s.Log.LogAttrs(r.Context(), level, "request", attrs...)
		}()
		next.ServeHTTP(rw, r)
	})
}

type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	refused string // the refusal's code, for the log line (NoteRefusal)
}

// maxCodeLen bounds a refusal code in a log line.
const maxCodeLen = 64

// NoteRefusal records code as the refusal the request log line of w's
// request carries (refused=code), when w is, or wraps through Unwrap, the
// writer [Service.Wrap] hands its handler; the first code noted counts.
// [WriteError] calls it, so a handler needs it only for an error body it
// writes itself. A code is a fixed word of the API (lower-case letters,
// digits and '_', at most 64): anything else is not logged, so no value a
// client sent can reach the log this way.
func NoteRefusal(w http.ResponseWriter, code string) {
	if !isCode(code) {
		return
	}
	for w != nil {
		if r, ok := w.(*recorder); ok {
			if r.refused == "" {
				r.refused = code
			}
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

func isCode(s string) bool {
	if s == "" || len(s) > maxCodeLen {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Gate admits at most a fixed number of requests at once and never queues:
// TryEnter fails at once when it is full.
type Gate struct{ slots chan struct{} }

// NewGate returns a gate of n slots, as the services' MaxInFlight setting
// reads: 0 means DefaultMaxInFlight, and n < 0 returns nil, a gate that
// admits everything.
func NewGate(n int) *Gate {
	if n == 0 {
		n = DefaultMaxInFlight
	}
	if n < 0 {
		return nil
	}
	return &Gate{slots: make(chan struct{}, n)}
}

// TryEnter takes a slot if one is free; the caller must Leave after.
func (g *Gate) TryEnter() bool {
	if g == nil {
		return true
	}
	select {
	case g.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Leave frees a slot.
func (g *Gate) Leave() {
	if g != nil {
		<-g.slots
	}
}

// Cap is the number of slots (0 for a nil gate: no bound).
func (g *Gate) Cap() int {
	if g == nil {
		return 0
	}
	return cap(g.slots)
}

// DefaultMaxUploadsPerAddress bounds the requests from one client address
// whose bodies are being read at once. A body is read before the request
// takes a slot of its Gate, so that a client trickling its body holds no
// slot; without this bound such clients could still hold a goroutine and a
// connection each, without limit, from one address. An honest client sends
// its body with its headers and is through in microseconds: the load
// generator's 256 connections on loopback (one address) never had more
// than 3 bodies being read at once (measured over 12,000 tokens and
// 12,000 ballots), so 256 leaves them, and a campus or a carrier's NAT,
// all the room they need.
const DefaultMaxUploadsPerAddress = 256

// Uploads admits at most a fixed number of requests per client address
// into reading their bodies, and never queues: TryEnter fails at once when
// the address has them all. It is safe for concurrent use.
type Uploads struct {
	max int
	mu  sync.Mutex
	n   map[string]int // only addresses with a body being read
}

// NewUploads returns a per-address bound of n, as the services'
// MaxUploadsPerAddress setting reads: 0 means DefaultMaxUploadsPerAddress,
// and n < 0 returns nil, which admits everything.
func NewUploads(n int) *Uploads {
	if n == 0 {
		n = DefaultMaxUploadsPerAddress
	}
	if n < 0 {
		return nil
	}
	return &Uploads{max: n, n: make(map[string]int)}
}

// TryEnter takes one of addr's slots if one is free; the caller must
// Leave(addr) once the body is read.
func (u *Uploads) TryEnter(addr string) bool {
	if u == nil {
		return true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[addr] >= u.max {
		return false
	}
	u.n[addr]++
	return true
}

// Leave frees one of addr's slots.
func (u *Uploads) Leave(addr string) {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.n[addr]--; u.n[addr] <= 0 {
		delete(u.n, addr) // the map holds only the addresses reading now
	}
}

// Max is the bound per address (0 for a nil Uploads: no bound).
func (u *Uploads) Max() int {
	if u == nil {
		return 0
	}
	return u.max
}

// Error codes this package answers with; the API packages (board/boardapi,
// issuer/issuerapi) define the same codes for their clients.
const (
	CodeRateLimited = "rate_limited"
	CodeOverloaded  = "overloaded"
)

// WriteError writes the JSON error body {"code": code, "error": msg} with
// status. The message is the caller's own words: never an inner error's
// text, which names layers, files and entries no client has business with.
// The code goes to the request's log line too (see [NoteRefusal]).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	NoteRefusal(w, code)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}{code, msg})
}

// Overloaded answers 503 overloaded with Retry-After: 1: the service is at
// its bound of concurrent requests and refuses rather than queue.
func Overloaded(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	WriteError(w, http.StatusServiceUnavailable, CodeOverloaded, "the service is at its limit of concurrent requests; retry in 1 s")
}

// TooManyUploads answers 429 rate_limited with Retry-After: 1: the
// client's address already has its bound of requests sending their bodies.
// It closes the connection after the answer: otherwise net/http would
// first read and discard the unread body (up to 256 KiB), and an answer to
// a body that trickles in would wait for it.
func TooManyUploads(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Retry-After", "1")
	WriteError(w, http.StatusTooManyRequests, CodeRateLimited, "too many requests from this address are still sending their bodies; finish or close them, or retry in 1 s")
}

// RateLimited answers 429 rate_limited with Retry-After: secs.
func RateLimited(w http.ResponseWriter, secs int) {
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	WriteError(w, http.StatusTooManyRequests, CodeRateLimited, "too many requests from this address; retry in "+strconv.Itoa(secs)+" s")
}

// healthTimeout bounds a health check's store query.
const healthTimeout = 2 * time.Second

// Health serves GET /healthz: 200 "ok" when check (a query of the store)
// succeeds within 2 s, 503 and the reason otherwise (logged at Error).
func (s *Service) Health(check func(context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- check(ctx) }()
		var err error
		select {
		case err = <-errc:
		case <-ctx.Done():
			err = ctx.Err()
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err != nil {
			s.Log.Error("health check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("unavailable: the store does not answer\n"))
			return
		}
		w.Write([]byte("ok\n"))
	}
}

// ServeMetrics serves GET /metrics in the Prometheus text format.
func (s *Service) ServeMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	s.Metrics.WriteText(w)
}
