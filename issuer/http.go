package issuer

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/ratelimit"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuer/issuerapi"
)

// MaxRequestBytes bounds a POST /v1/token body.
const MaxRequestBytes = 4 << 10

// Rate-limit defaults for [HandlerConfig]: per client address, token
// requests a second and the burst above it. A carrier's NAT puts thousands
// of phones behind one address, so these let 10,000 voters behind one
// address through in ten minutes, two requests each (TestNATLimits has the
// table; the old 5/s with a burst of 20 refused 92% of 2,000 phones in a
// minute), and keep one address to a tenth of what the issuer signs (about
// 1,000 tokens/s on 2 cores). Guessing is stopped by the codes' 100 bits
// and the per-voter back-off, not by this.
const (
	DefaultRatePerSecond = 100
	DefaultBurst         = 1000
)

// HandlerConfig configures [NewHandler]. The zero value is usable.
type HandlerConfig struct {
	// Limits bound the rate of POST /v1/token per client address (0:
	// [DefaultRatePerSecond] and [DefaultBurst]), the requests in flight
	// and the bodies being read per address; see [service.Limits]: 0 is
	// the default, negative no bound.
	service.Limits
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
	// CORSOrigins are the web origins (scheme://host[:port], exactly as
	// [service.ParseOrigin] accepts them) whose pages may call this API
	// from a browser: the voting booth's, when its files are served from
	// another origin. Only GET and POST with no header but Content-Type
	// are allowed, so no page can send the Authorization header; see
	// [service.CORS]. Empty: no CORS header, OPTIONS as any other method.
	// Check them with ParseOrigin first: NewHandler cannot return an
	// error, so if one does not parse it logs that at Error and allows no
	// origin at all (fails closed).
	CORSOrigins []string
	// AdminToken turns on the help desk's admin API (admin.go, the
	// issuerapi PathAdmin... paths), for requests with Authorization:
	// Bearer <token>. Empty: the API is off and its paths answer 404 as
	// any unknown path.
	AdminToken string
}

type handler struct {
	is        *Issuer
	info      []byte
	limit     *ratelimit.Limiter
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
	tokSecondFactor   = "second_factor"
	tokBadSecond      = "bad_second_factor"
	tokAlreadyIssued  = "already_issued"
	tokPurged         = "purged"
	tokOverloaded     = "overloaded"
	tokRateLimited    = "rate_limited"
	tokError          = "error"
)

// NewHandler returns the issuer's HTTP API (package issuerapi has its
// paths, bodies and a client):
//
//	GET  /v1/issuer  -> 200 issuerapi.InfoResponse
//	POST /v1/token   issuerapi.TokenRequest -> 200 issuerapi.TokenResponse
//
// POST bodies must be Content-Type application/json, at most
// [MaxRequestBytes], one JSON object with exactly the known fields and
// nothing after it. Errors are JSON issuerapi.ErrorResponse,
// {"code": ..., "error": ...}, with the status, code and message of the
// first row of [answers] the error matches: 400 (malformed), 401 (wrong
// voter ID or code), 403 (voter locked out), 405, 409 (another blinded
// message already signed for this voter), 410 (roll purged), 413 (body too
// large), 415 (not JSON), 429 (rate limited, or too many bodies still being
// sent from the address; with Retry-After), 500 or 503 (too many requests
// in flight, Retry-After: 1; or the roll's database does not answer,
// [ErrRollUnavailable], Retry-After: [RollRetryAfter]). An inner error's
// text never reaches the client.
//
// It also serves GET /healthz (200 "ok" when the roll answers, 503
// otherwise) and GET /metrics (Prometheus text format; all prefixed
// evote_issuer_): http_requests_total{endpoint,code},
// http_requests_in_flight, tokens_total{result} (issued, invalid,
// bad_credentials, second_factor (asked for, or not sent), bad_second_factor, already_issued, purged, overloaded,
// rate_limited, error), token_duration_seconds (histogram). With
// [HandlerConfig.AdminToken] it serves the help desk's admin API too
// (admin.go).
func NewHandler(is *Issuer, cfg HandlerConfig) http.Handler {
	pub := is.PublicKey()
	info, err := json.Marshal(issuerapi.InfoResponse{
		ElectionID:   hex.EncodeToString(is.electionID),
		Variant:      token.Variant,
		KeyID:        pub.ID().String(),
		PublicKey:    issuerapi.Base64.EncodeToString(pub.Bytes()),
		SecondFactor: is.secondFactor,
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
	h.limit = cfg.Limiter(DefaultRatePerSecond, DefaultBurst, cfg.Now)
	h.gate = cfg.Gate()
	h.uploads = service.NewUploads(cfg.MaxUploadsPerAddress)
	h.svc = service.New("issuer", h.log)
	h.tokens = h.svc.Metrics.Counter(h.svc.MetricName("tokens_total"), "Token requests, by result.", "result")
	for _, r := range []string{tokIssued, tokInvalid, tokBadCredentials, tokSecondFactor, tokBadSecond, tokAlreadyIssued, tokPurged, tokOverloaded, tokRateLimited, tokError} {
		h.tokens.With(r)
	}
	h.tokenTime = h.svc.Metrics.Histogram(h.svc.MetricName("token_duration_seconds"), "Time to answer POST /v1/token.", service.LatencyBuckets)
	mux := http.NewServeMux()
	mux.HandleFunc(issuerapi.PathInfo, h.serveInfo)
	mux.HandleFunc(issuerapi.PathToken, h.serveToken)
	mux.HandleFunc("GET "+issuerapi.PathHealth, h.svc.Health(func(ctx context.Context) error { _, err := is.Counts(ctx); return err }))
	mux.HandleFunc("GET "+issuerapi.PathMetrics, h.svc.ServeMetrics)
	if cfg.AdminToken != "" {
		h.mountAdmin(mux, cfg.AdminToken)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		refuse(w, issuerapi.ErrNotFound, "")
	})
	// CORS answers preflights before the mux, whose routes would answer
	// OPTIONS 405, and inside the request log and metrics.
	cors, err := service.NewCORS(cfg.CORSOrigins)
	if err != nil {
		h.log.Error("no cross-origin access allowed: a configured origin is refused", "err", err)
	}
	return h.svc.Wrap(cors.Wrap(mux))
}

// tokenResult is the tokens_total label for an Issue error.
func tokenResult(err error) string {
	switch {
	case err == nil:
		return tokIssued
	case errors.Is(err, ErrBadRequest):
		return tokInvalid
	case errors.Is(err, ErrBadCredentials):
		// ErrNotTested (a locked voter) among them: the public metrics
		// must not count it apart, or a stranger reading them would learn
		// that the ID is on the roll.
		return tokBadCredentials
	case errors.Is(err, ErrSecondFactorRequired), errors.Is(err, ErrTooManyCodes), errors.Is(err, ErrSendFailed), errors.Is(err, ErrNoSecondFactor):
		return tokSecondFactor
	case errors.Is(err, ErrBadSecondFactor):
		return tokBadSecond
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

// RollRetryAfter is the Retry-After, in seconds, of the 503 answered when
// the roll could not be reached ([ErrRollUnavailable]): a database server
// restarting, or a standby taking over, takes seconds.
const RollRetryAfter = 5

// An answer is what the issuer tells a client about one kind of refusal.
type answer struct {
	err    error // what Issue returns, matched with errors.Is, or an issuerapi sentinel
	status int
	code   string // issuerapi.Code...
	msg    string
}

// answers is every refusal the API makes, in the order it tries them: the
// first row an error matches decides the status, code and message. A
// client is told only these, and a detail the handler writes itself; an
// inner error's text never reaches it. The issuerapi sentinels at the end
// are the refusals the handler makes before the issuer is asked.
var answers = []answer{
	{ErrBadRequest, http.StatusBadRequest, issuerapi.CodeBadRequest, "malformed token request"},
	{ErrBadCredentials, http.StatusUnauthorized, issuerapi.CodeBadCredentials, "voter ID or enrolment code is wrong; check both and try again, and if you are sure of both, wait a minute and try again (after many wrong codes from one address the issuer waits before it tests another, longer each time, up to 15 minutes) or ask the election's help desk"},
	{ErrSecondFactorRequired, http.StatusUnauthorized, issuerapi.CodeSecondFactorRequired, "enter the one-time code: send this request again with second_factor"},
	{ErrBadSecondFactor, http.StatusUnauthorized, issuerapi.CodeBadSecondFactor, "the one-time code is wrong or expired; check it, or ask for a new one (send the request without second_factor)"},
	{ErrNoSecondFactor, http.StatusForbidden, issuerapi.CodeNoSecondFactor, "the issuer has no contact for this voter that its second factor can reach (an e-mail address for e-mailed codes, a phone number for text messages), and no authenticator app is enrolled"},
	{ErrTooManyCodes, http.StatusTooManyRequests, issuerapi.CodeTooManyCodes, "too many one-time codes were sent to this voter, or too many wrong ones tried; use the last one sent, wait, or ask the election's help desk"},
	{ErrSendFailed, http.StatusServiceUnavailable, issuerapi.CodeSendFailed, "the one-time code could not be sent"},
	{ErrAlreadyIssued, http.StatusConflict, issuerapi.CodeAlreadyIssued, "a token was already issued to this voter for a different blinded message; resend the first request's blinded message to get its signature again"},
	// A roll whose database does not answer: the booth and evote vote
	// retry an overloaded issuer, which is what the voter should do here.
	{ErrRollUnavailable, http.StatusServiceUnavailable, issuerapi.CodeOverloaded, "the issuer could not reach its voter roll (its database is down or restarting); send the same request again in a few seconds: a token already issued for it is sent again, never a second one"},
	{ErrPurged, http.StatusGone, issuerapi.CodePurged, "the voter roll was purged after the election; no tokens are issued any more"},
	{issuerapi.ErrBadRequest, http.StatusBadRequest, issuerapi.CodeBadRequest, "malformed token request"},
	{issuerapi.ErrNotFound, http.StatusNotFound, issuerapi.CodeNotFound, "no such endpoint; the issuer serves GET " + issuerapi.PathInfo + " and POST " + issuerapi.PathToken},
	{issuerapi.ErrMethodNotAllowed, http.StatusMethodNotAllowed, issuerapi.CodeMethodNotAllowed, "method not allowed"},
	{issuerapi.ErrTooLarge, http.StatusRequestEntityTooLarge, issuerapi.CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxRequestBytes)},
	{issuerapi.ErrUnsupportedType, http.StatusUnsupportedMediaType, issuerapi.CodeUnsupportedType, "Content-Type must be application/json"},
}

// answerFor returns the row of answers err matches, or nil.
func answerFor(err error) *answer {
	for i := range answers {
		if errors.Is(err, answers[i].err) {
			return &answers[i]
		}
	}
	return nil
}

// refuse answers err's row of answers, with detail (the handler's own
// words) after its message if not empty; an error of no row is a generic
// 500.
func refuse(w http.ResponseWriter, err error, detail string) {
	a := answerFor(err)
	if a == nil {
		service.WriteError(w, http.StatusInternalServerError, issuerapi.CodeInternal, "internal error; try again later")
		return
	}
	msg := a.msg
	if detail != "" {
		msg += ": " + detail
	}
	if errors.Is(err, ErrRollUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(RollRetryAfter))
	}
	var sf *SecondFactorError
	if !errors.As(err, &sf) {
		service.WriteError(w, a.status, a.code, msg)
		return
	}
	switch {
	case sf.RetryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int((sf.RetryAfter+time.Second-1)/time.Second)))
	case errors.Is(err, ErrSendFailed):
		w.Header().Set("Retry-After", "60")
	}
	body, _ := json.Marshal(issuerapi.ErrorResponse{Code: a.code, Error: msg, Factor: sf.Factor, SentTo: sf.SentTo})
	service.NoteRefusal(w, a.code) // the request's log line says why, as WriteError's do
	writeJSON(w, a.status, body)
}

func (h *handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		refuse(w, issuerapi.ErrMethodNotAllowed, "use GET for "+issuerapi.PathInfo)
		return
	}
	writeJSON(w, http.StatusOK, h.info)
}

func (h *handler) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		refuse(w, issuerapi.ErrMethodNotAllowed, "use POST for "+issuerapi.PathToken)
		return
	}
	start := time.Now()
	result := tokInvalid
	defer func() {
		h.tokens.With(result).Inc()
		h.tokenTime.Observe(time.Since(start))
	}()
	if h.limit != nil {
		if ok, wait := h.limit.Allow(h.clientIP(r)); !ok {
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
		refuse(w, issuerapi.ErrUnsupportedType, "")
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
			refuse(w, issuerapi.ErrTooLarge, "")
		} else {
			refuse(w, issuerapi.ErrBadRequest, "the request body could not be read")
		}
		return
	}
	req, blinded, detail := h.decodeTokenRequest(body)
	if detail != "" {
		refuse(w, issuerapi.ErrBadRequest, detail)
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
	cred := issuerapi.Credentials{VoterID: req.VoterID, Code: req.Code, SecondFactor: req.SecondFactor}
	sig, err := h.is.Issue(r.Context(), cred, blinded, ip)
	result = tokenResult(err)
	if err != nil {
		detail := ""
		switch {
		case answerFor(err) == nil:
			h.log.Error("token request failed", "err", err)
		case errors.Is(err, ErrRollUnavailable):
			h.log.Warn("the voter roll could not be reached; the token request was answered 503", "err", err)
		case errors.Is(err, ErrBadRequest):
			// decodeTokenRequest checked every field's form but this one.
			detail = "the issuing key cannot sign blinded_msg: read as a big-endian integer it must lie in [1, N), N the key's modulus"
		}
		refuse(w, err, detail)
		return
	}
	out, _ := json.Marshal(issuerapi.TokenResponse{BlindSig: issuerapi.Base64.EncodeToString(sig)})
	writeJSON(w, http.StatusOK, out)
}

// decodeTokenRequest parses a body (already read, at most
// MaxRequestBytes) strictly and checks the form of its fields, returning
// what is wrong with it in the handler's words ("" if nothing). The form
// of the voter ID and code is public (SPEC.md §11), so saying which is
// malformed tells a guesser nothing.
func (h *handler) decodeTokenRequest(body []byte) (issuerapi.TokenRequest, []byte, string) {
	var req issuerapi.TokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, nil, "the body is not a token request: one JSON object with the string fields voter_id, code and blinded_msg and no others"
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, nil, "the body has data after the JSON object"
	}
	switch {
	case req.VoterID == "":
		return req, nil, "voter_id is missing"
	case req.Code == "":
		return req, nil, "code is missing"
	case req.BlindedMsg == "":
		return req, nil, "blinded_msg is missing"
	case CheckVoterID(req.VoterID) != nil:
		return req, nil, fmt.Sprintf("voter_id is not a voter ID: at most %d bytes of UTF-8 text, no control characters, no space at either end", MaxVoterIDLen)
	}
	if _, err := issuerapi.NormalizeCode(req.Code); err != nil {
		return req, nil, fmt.Sprintf("code is not an enrolment code: %d Crockford base32 characters, dashes and spaces aside", issuerapi.CodeChars)
	}
	if req.SecondFactor != "" {
		if _, err := NormalizeSecondFactor(req.SecondFactor); err != nil {
			return req, nil, fmt.Sprintf("second_factor is not a one-time code: %d digits, spaces and dashes aside", OTPDigits)
		}
	}
	blinded, err := issuerapi.Base64.DecodeString(req.BlindedMsg)
	if err != nil {
		return req, nil, "blinded_msg is not standard base64 with padding"
	}
	if size := h.is.PublicKey().Size(); len(blinded) != size {
		return req, nil, fmt.Sprintf("blinded_msg is %d bytes, the issuing key's modulus is %d", len(blinded), size)
	}
	return req, blinded, ""
}
