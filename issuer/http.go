package issuer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/ratelimit"
	"github.com/evote/evote/internal/service"
)

// HTTP API paths.
const (
	PathInfo  = "/v1/issuer"
	PathToken = "/v1/token"
	// PathHealth and PathMetrics are the health check and the Prometheus
	// metrics.
	PathHealth  = service.PathHealth
	PathMetrics = service.PathMetrics
)

// MaxRequestBytes bounds a POST /v1/token body.
const MaxRequestBytes = 4 << 10

// Rate-limit defaults for [HandlerConfig].
const (
	DefaultRatePerSecond = 5
	DefaultBurst         = 20
)

// InfoResponse is the body of GET /v1/issuer.
type InfoResponse struct {
	// ElectionID is the election ID in hex (64 digits).
	ElectionID string `json:"election_id"`
	// Variant is the RFC 9474 variant, "RSABSSA-SHA384-PSS-Randomized".
	Variant string `json:"variant"`
	// KeyID is the SHA-256 of the public key DER, in hex.
	KeyID string `json:"key_id"`
	// PublicKey is the PKIX DER of the issuer's public key, in standard
	// base64 with padding.
	PublicKey string `json:"public_key"`
}

// TokenRequest is the body of POST /v1/token.
type TokenRequest struct {
	VoterID string `json:"voter_id"`
	Code    string `json:"code"`
	// BlindedMsg is the blinded message in standard base64 with padding.
	BlindedMsg string `json:"blinded_msg"`
}

// TokenResponse is the body of a successful POST /v1/token.
type TokenResponse struct {
	// BlindSig is the blind signature in standard base64 with padding.
	BlindSig string `json:"blind_sig"`
}

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error string `json:"error"`
}

var b64 = base64.StdEncoding.Strict()

// HandlerConfig configures [NewHandler]. The zero value is usable.
type HandlerConfig struct {
	// RatePerSecond and Burst set the token bucket each client IP address
	// has for POST /v1/token; 0 means [DefaultRatePerSecond] and
	// [DefaultBurst]. A negative RatePerSecond disables the limit (use it
	// only behind a proxy that limits instead).
	RatePerSecond float64
	Burst         int
	// ClientIP returns the address requests are limited by. nil means the
	// host of Request.RemoteAddr; behind a reverse proxy, supply one that
	// reads the proxy's header, and only trust that header from the proxy.
	ClientIP func(*http.Request) string
	// Logger receives one line per request (method, path, status,
	// duration, bytes: never a voter ID, a code or a blinded message) and
	// request errors; nil means the Issuer's logger.
	Logger *slog.Logger
	// Now is the clock for the rate limit; nil means time.Now.
	Now func() time.Time
	// MaxInFlight bounds the token requests being worked on at once:
	// beyond it a request is answered 503 with Retry-After: 1 at once,
	// never queued. 0 means [service.DefaultMaxInFlight]; negative, no
	// bound. A request takes its slot only once its body is read, so slow
	// uploads hold none.
	MaxInFlight int
	// MaxUploadsPerAddress bounds the token requests from one client
	// address (as ClientIP reads it) whose bodies are being read at once:
	// beyond it a request is answered 429 with Retry-After: 1 before its
	// body is read. 0 means [service.DefaultMaxUploadsPerAddress];
	// negative, no bound.
	MaxUploadsPerAddress int
}

type handler struct {
	is        *Issuer
	info      []byte
	limit     *limiter
	clientIP  func(*http.Request) string
	log       *slog.Logger
	svc       *service.Service
	gate      *service.Gate
	uploads   *service.Uploads
	tokens    *service.CounterVec
	tokenTime *service.Histogram
}

// Token request outcomes, the result label of evote_issuer_tokens_total.
const (
	tokIssued         = "issued"
	tokInvalid        = "invalid"
	tokBadCredentials = "bad_credentials"
	tokLocked         = "locked"
	tokAlreadyIssued  = "already_issued"
	tokPurged         = "purged"
	tokOverloaded     = "overloaded"
	tokRateLimited    = "rate_limited"
	tokError          = "error"
)

// NewHandler returns the issuer's HTTP API:
//
//	GET  /v1/issuer  -> 200 InfoResponse
//	POST /v1/token   TokenRequest -> 200 TokenResponse
//
// POST bodies must be Content-Type application/json, at most
// [MaxRequestBytes], one JSON object with exactly the known fields and
// nothing after it. Errors are JSON [ErrorResponse] with status 400
// (malformed), 401 (wrong voter ID or code), 403 (voter locked out), 405,
// 409 (another blinded message already signed for this voter), 410 (roll
// purged), 413 (body too large), 415 (not JSON), 429 (rate limited, or too
// many bodies still being sent from the address; with Retry-After), 500 or
// 503 (too many requests in flight, Retry-After: 1).
//
// It also serves GET /healthz (200 "ok" when the roll answers, 503
// otherwise) and GET /metrics (Prometheus text format; all prefixed
// evote_issuer_): http_requests_total{endpoint,code},
// http_requests_in_flight, tokens_total{result} (issued, invalid,
// bad_credentials, locked, already_issued, purged, overloaded,
// rate_limited, error), token_duration_seconds (histogram).
func NewHandler(is *Issuer, cfg HandlerConfig) http.Handler {
	pub := is.PublicKey()
	info, err := json.Marshal(InfoResponse{
		ElectionID: hex.EncodeToString(is.electionID),
		Variant:    token.Variant,
		KeyID:      pub.ID().String(),
		PublicKey:  b64.EncodeToString(pub.Bytes()),
	})
	if err != nil {
		panic(err) // cannot happen: only strings
	}
	h := &handler{is: is, info: info, clientIP: cfg.ClientIP, log: cfg.Logger}
	if h.clientIP == nil {
		h.clientIP = ratelimit.RemoteHost
	}
	if h.log == nil {
		h.log = is.log
	}
	if cfg.RatePerSecond >= 0 {
		rate, burst := cfg.RatePerSecond, cfg.Burst
		if rate == 0 {
			rate = DefaultRatePerSecond
		}
		if burst <= 0 {
			burst = DefaultBurst
		}
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		h.limit = newLimiter(rate, burst, now)
	}
	h.gate = service.NewGate(cfg.MaxInFlight)
	h.uploads = service.NewUploads(cfg.MaxUploadsPerAddress)
	h.svc = service.New("issuer", h.log)
	h.tokens = h.svc.Metrics.Counter(h.svc.MetricName("tokens_total"), "Token requests, by result.", "result")
	for _, r := range []string{tokIssued, tokInvalid, tokBadCredentials, tokLocked, tokAlreadyIssued, tokPurged, tokOverloaded, tokRateLimited, tokError} {
		h.tokens.With(r)
	}
	h.tokenTime = h.svc.Metrics.Histogram(h.svc.MetricName("token_duration_seconds"), "Time to answer POST /v1/token.", service.LatencyBuckets)
	mux := http.NewServeMux()
	mux.HandleFunc(PathInfo, h.serveInfo)
	mux.HandleFunc(PathToken, h.serveToken)
	mux.HandleFunc("GET "+PathHealth, h.svc.Health(func(ctx context.Context) error { _, err := is.Counts(ctx); return err }))
	mux.HandleFunc("GET "+PathMetrics, h.svc.ServeMetrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint; the issuer serves GET "+PathInfo+" and POST "+PathToken)
	})
	return h.svc.Wrap(mux)
}

// tokenResult is the tokens_total label for an Issue error.
func tokenResult(err error) string {
	switch {
	case err == nil:
		return tokIssued
	case errors.Is(err, ErrBadRequest):
		return tokInvalid
	case errors.Is(err, ErrBadCredentials):
		return tokBadCredentials
	case errors.Is(err, ErrLocked):
		return tokLocked
	case errors.Is(err, ErrAlreadyIssued):
		return tokAlreadyIssued
	case errors.Is(err, ErrPurged):
		return tokPurged
	}
	return tokError
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
	w.Write([]byte("\n"))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(ErrorResponse{Error: msg})
	writeJSON(w, status, body)
}

func (h *handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "use GET for "+PathInfo)
		return
	}
	writeJSON(w, http.StatusOK, h.info)
}

func (h *handler) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST for "+PathToken)
		return
	}
	start := time.Now()
	result := tokInvalid
	defer func() {
		h.tokens.With(result).Inc()
		h.tokenTime.Observe(time.Since(start))
	}()
	if h.limit != nil {
		if ok, wait := h.limit.allow(h.clientIP(r)); !ok {
			result = tokRateLimited
			service.RateLimited(w, ratelimit.RetryAfter(wait))
			return
		}
	}
	// The body first, and only then the gate: a slot taken before the body
	// was read let 17 connections from each of 64 addresses, each sending
	// its headers and one body byte, hold every slot until the read timeout
	// (30 s). Reading is bounded per address instead (MaxUploadsPerAddress),
	// and holds nothing a token request needs.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	ip := h.clientIP(r)
	if !h.uploads.TryEnter(ip) {
		result = tokRateLimited
		service.TooManyUploads(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	h.uploads.Leave(ip)
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxRequestBytes))
		} else {
			writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		}
		return
	}
	req, status, msg := decodeTokenRequest(body)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	blinded, err := b64.DecodeString(req.BlindedMsg)
	if err != nil {
		writeError(w, http.StatusBadRequest, "blinded_msg is not standard base64 with padding")
		return
	}
	// Bounded concurrency: each admitted request costs an argon2id hash
	// and an RSA signature; beyond the bound, refuse at once (503) rather
	// than let a queue of them grow.
	if !h.gate.TryEnter() {
		result = tokOverloaded
		service.Overloaded(w)
		return
	}
	defer h.gate.Leave()
	sig, err := h.is.Issue(r.Context(), req.VoterID, req.Code, blinded)
	result = tokenResult(err)
	if err != nil {
		status, msg := statusOf(err)
		if status == http.StatusInternalServerError {
			h.log.Error("token request failed", "err", err)
		}
		writeError(w, status, msg)
		return
	}
	out, _ := json.Marshal(TokenResponse{BlindSig: b64.EncodeToString(sig)})
	writeJSON(w, http.StatusOK, out)
}

// decodeTokenRequest parses a body (already read, at most
// MaxRequestBytes) strictly; a non-zero status is an error.
func decodeTokenRequest(body []byte) (TokenRequest, int, string) {
	var req TokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, http.StatusBadRequest, "request body is not a valid token request: " + err.Error()
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, http.StatusBadRequest, "request body has data after the JSON object"
	}
	switch {
	case req.VoterID == "":
		return req, http.StatusBadRequest, "voter_id is missing"
	case req.Code == "":
		return req, http.StatusBadRequest, "code is missing"
	case req.BlindedMsg == "":
		return req, http.StatusBadRequest, "blinded_msg is missing"
	}
	return req, 0, ""
}

// statusOf maps an Issue error to a status and a message for the client.
func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, ErrBadCredentials):
		return http.StatusUnauthorized, ErrBadCredentials.Error()
	case errors.Is(err, ErrLocked):
		return http.StatusForbidden, ErrLocked.Error()
	case errors.Is(err, ErrAlreadyIssued):
		return http.StatusConflict, ErrAlreadyIssued.Error()
	case errors.Is(err, ErrPurged):
		return http.StatusGone, ErrPurged.Error()
	default:
		return http.StatusInternalServerError, "internal error; try again later"
	}
}
