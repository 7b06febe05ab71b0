package board

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/ratelimit"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/store"
)

// Rate-limit defaults for the board's command line (evote board serve).
// One voter posts one ballot, but many voters may share an address (a
// campus, a company, a carrier's NAT), and the load test casts thousands a
// second from one: so the per-address limit is set above what one board on
// a small machine can accept at all (about 5,000 casts/s on 2 cores). It
// stops one address from taking a bigger machine's whole capacity; overload
// as such is the in-flight bound's job (503), not the rate limit's.
const (
	DefaultRatePerSecond = 10000
	DefaultBurst         = 20000
)

// MaxBodyBytes bounds every POST body; a ballot, a ceremony message and a
// partial decryption are all entries, so they fit in one leaf.
const MaxBodyBytes = store.MaxLeafSize

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// AdminToken authorises the /v1/admin/ endpoints (Authorization:
	// Bearer <token>). Empty disables them.
	AdminToken string
	// Logger receives one line per request (method, path, status,
	// duration, bytes) and request errors; nil discards them. No voter
	// identifier ever reaches the board, and neither ballot bytes nor
	// token keys nor client addresses are logged.
	Logger *slog.Logger
	// Limits bound the rate of POSTs per client address (0:
	// [DefaultRatePerSecond] and [DefaultBurst]), the casts in flight and
	// the bodies being read per address; see [service.Limits]: 0 is the
	// default, negative no bound.
	service.Limits
	// ClientIP returns the address requests are limited by. nil means the
	// host of Request.RemoteAddr; behind a reverse proxy, supply one that
	// reads the proxy's header, and only trust that header from the proxy.
	ClientIP func(*http.Request) string
	// Now is the rate limit's clock; nil means time.Now.
	Now func() time.Time
	// MaxExports and MaxExportsPerAddress bound the record exports being
	// streamed at once, in all and from one client address: beyond them
	// GET /v1/export is answered 503 (in all) or 429 (the address) with
	// Retry-After: 1. 0 means [DefaultMaxExports] and
	// [DefaultMaxExportsPerAddress]; negative, no bound.
	MaxExports, MaxExportsPerAddress int
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
	// Report, if set, writes the election's report for people (an HTML
	// page) from the board's record, read from record: GET /report.html
	// serves it once the result is in. The board links no verifier, so
	// the command sets it (evote board serve: package verify, then
	// package report). nil: no report is served.
	Report func(w io.Writer, record io.Reader) error
	// Cosigner, when the manifest names witnesses, gathers their
	// cosignatures on the board's checkpoints: GET /v1/checkpoint/cosigned
	// answers from it, and every cast asks it for a round.
	Cosigner *Cosigner
	// Counter follows the log's counts for the metrics (ballots, the
	// phase, turnout); nil makes one of the handler's own. Give the one the
	// board's schedule reads, so that the log is read once for both.
	Counter *Counter
}

// An export holds about 1.3 MiB while it streams (its batch of entries
// copied out of the store and the write buffers), for as long as the
// client takes to read it: up to the write timeout, 5 minutes, for one that
// reads nothing. In the attack review 800 unread exports from one address
// held 1.08 GB of a 3,000-ballot board's memory. The bounds keep that near
// 64 × 1.3 MiB, about 85 MiB, in all (a figure from the per-export size,
// not measured with 64 held), and leave an
// address (a trustee, a monitor, a NAT of voters checking) room for a few.
const (
	DefaultMaxExports           = 64
	DefaultMaxExportsPerAddress = 4
)

type handler struct {
	b          *Board
	admin      []byte
	log        *slog.Logger
	svc        *service.Service
	limit      *ratelimit.Limiter
	clientIP   func(*http.Request) string
	gate       *service.Gate
	uploads    *service.Uploads
	exports    *service.Gate
	exportsPer *service.Uploads
	casts      *service.CounterVec
	castTime   *service.Histogram
	cosigner   *Cosigner
}

// Cast outcomes, the result label of evote_board_casts_total.
const (
	castAccepted     = "accepted"
	castAlreadyVoted = "already_voted"
	castInvalid      = "invalid"
	castClosed       = "closed"
	castNotOpen      = "not_open"
	castOverloaded   = "overloaded"
	castRateLimited  = "rate_limited"
	castError        = "error"
)

// NewHandler returns the board's HTTP API (package boardapi has its paths,
// bodies and a client):
//
//	GET  /v1/manifest                      the manifest, as published
//	GET  /v1/election                      boardapi.ElectionInfo
//	POST /v1/ballots                       a ballot (application/octet-stream) -> 201 boardapi.Receipt
//	GET  /v1/checkpoint[?size=N]           the newest (or size N's) signed checkpoint
//	GET  /v1/proof/inclusion?index=I&size=N    boardapi.ProofResponse
//	GET  /v1/proof/consistency?old=M&new=N     boardapi.ProofResponse
//	GET  /v1/entries/I                     leaf I, as hashed
//	GET  /v1/receipts/CODE                 the receipt of the ballot with tracking code CODE
//	GET  /v1/export                        the whole record (store's export format)
//	GET  /report.html                      the report for people (package report), once the result is in
//	GET  /tlog/checkpoint, /tlog/tile/...  the log by C2SP tlog-tiles (see [TlogPrefix])
//	POST /v1/partials                      a trustee's partial decryption -> 201 boardapi.IndexResponse
//	POST /v1/ceremony                      a ceremony message, signed by its trustee -> 201 boardapi.IndexResponse
//	POST /v1/admin/ceremony|open|close|result|issuance  (bearer token) -> 201 boardapi.IndexResponse
//	                                       (open: an empty body, or JSON boardapi.OpenRequest)
//	GET  /healthz                          200 "ok" when the log answers, else 503
//	GET  /metrics                          Prometheus text format
//
// Errors are JSON boardapi.ErrorResponse, {"code": ..., "error": ...}, with
// the status, code and message of the first row of [answers] the error
// matches: 400 malformed or invalid, 401 missing admin token, 403 wrong
// phase, 404, 405, 409 token already voted, this ballot already on the
// board, or an open that would leave out trustees it does not name, 413 too large, 415 wrong content type, 429 rate limited or too
// many bodies still being sent from the address (Retry-After), 500, 503
// too many casts in flight (Retry-After: 1) or storage that cannot be
// written (Retry-After: 30; the entry was not stored and there is no
// receipt). A refusal's inner error, which names layers and values no
// client has business with, goes only to the log (Debug level for casts,
// Info for the rest); 500s are logged at Error and answered generically.
//
// The metrics (all prefixed evote_board_): http_requests_total{endpoint,
// code}, http_requests_in_flight, casts_total{result} (accepted,
// already_voted, invalid, closed, not_open, overloaded, rate_limited,
// error), cast_duration_seconds (histogram), log_entries, and, read from
// the log so that they survive a restart: ballots, ballots_counted,
// phase{phase} (ceremony, open, closed: 1 for the current one), and once
// the issuer's statement is on the board eligible_voters, tokens_issued
// and turnout.
func NewHandler(b *Board, cfg HandlerConfig) http.Handler {
	h := &handler{b: b, admin: []byte(cfg.AdminToken), log: cfg.Logger, clientIP: cfg.ClientIP, cosigner: cfg.Cosigner}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clientIP == nil {
		h.clientIP = ratelimit.RemoteHost
	}
	h.limit = cfg.Limiter(DefaultRatePerSecond, DefaultBurst, cfg.Now)
	h.gate = cfg.Gate()
	h.uploads = cfg.Uploads()
	h.exports = service.NewGate(orDefault(cfg.MaxExports, DefaultMaxExports))
	h.exportsPer = service.NewUploads(orDefault(cfg.MaxExportsPerAddress, DefaultMaxExportsPerAddress))
	h.svc = service.New("board", h.log)
	m := h.svc.Metrics
	h.casts = m.Counter(h.svc.MetricName("casts_total"), "Ballots cast, by result.", "result")
	for _, r := range []string{castAccepted, castAlreadyVoted, castInvalid, castClosed, castNotOpen, castOverloaded, castRateLimited, castError} {
		h.casts.With(r)
	}
	h.castTime = m.Histogram(h.svc.MetricName("cast_duration_seconds"), "Time to answer POST /v1/ballots, from request to receipt or refusal.", service.LatencyBuckets)
	m.GaugeFunc(h.svc.MetricName("log_entries"), "Entries in the board's log.", func() (float64, bool) {
		n, err := b.log.Size()
		return float64(n), err == nil
	})
	h.logMetrics(m, cfg.Counter)
	mux := http.NewServeMux()
	// route serves method path with fn, and answers any other method on
	// the path 405 with the API's JSON error body (the mux's own 405 is
	// plain text).
	route := func(method, path string, fn http.HandlerFunc) {
		mux.HandleFunc(method+" "+path, fn)
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			h.refuse(w, boardapi.ErrMethodNotAllowed, "use "+method)
		})
	}
	route("GET", boardapi.PathHealth, h.svc.Health(func(context.Context) error { _, err := b.log.Size(); return err }))
	route("GET", boardapi.PathMetrics, h.svc.ServeMetrics)
	route("GET", boardapi.PathManifest, h.manifest)
	route("GET", boardapi.PathElection, h.election)
	route("POST", boardapi.PathBallots, h.cast)
	route("GET", boardapi.PathCheckpoint, h.checkpoint)
	route("GET", boardapi.PathCosigned, h.cosigned)
	route("GET", boardapi.PathInclusion, h.inclusion)
	route("GET", boardapi.PathConsistency, h.consistency)
	route("GET", boardapi.PathEntries+"{index}", h.entry)
	route("GET", boardapi.PathReceipts+"{code}", h.receipt)
	route("GET", boardapi.PathExport, h.export)
	route("GET", PathReport, newReportPage(h, cfg.Report))
	route("POST", boardapi.PathPartials, h.post(false, func(ctx context.Context, body []byte) (uint64, error) { return b.PostPartial(ctx, body) }))
	route("POST", boardapi.PathCeremony, h.post(true, b.PostCeremony))
	// The same, with no admin token: a ceremony message is signed by its
	// trustee under the manifest's key, so the signature is the
	// credential, and a trustee posts its own.
	route("POST", boardapi.PathTrusteeCeremony, h.post(false, b.PostCeremony))
	route("POST", boardapi.PathOpen, h.open)
	route("POST", boardapi.PathClose, h.post(true, func(ctx context.Context, _ []byte) (uint64, error) { return b.CloseVoting(ctx) }))
	route("POST", boardapi.PathResult, h.post(true, b.PostResult))
	route("POST", boardapi.PathIssuance, h.post(true, b.PostIssuance))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.refuse(w, boardapi.ErrNotFound, "")
	})
	// CORS answers preflights before the mux, whose routes would answer
	// OPTIONS 405, and inside the request log and metrics.
	cors, err := service.NewCORS(cfg.CORSOrigins)
	if err != nil {
		h.log.Error("no cross-origin access allowed: a configured origin is refused", "err", err)
	}
	// The tlog-tiles API is served before the mux, which would redirect a
	// non-canonical path to its cleaned form instead of refusing it.
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, TlogPrefix) {
			h.serveTlog(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	return h.svc.Wrap(cors.Wrap(root))
}

// allow applies the per-address rate limit, answering 429 when it refuses.
func (h *handler) allow(w http.ResponseWriter, r *http.Request) bool {
	if h.limit == nil {
		return true
	}
	ok, wait := h.limit.Allow(h.clientIP(r))
	if !ok {
		service.RateLimited(w, ratelimit.RetryAfter(wait))
	}
	return ok
}

// castResult is the casts_total label for a Cast error.
func castResult(err error) string {
	switch {
	case err == nil:
		return castAccepted
	case errors.Is(err, ErrAlreadyVoted), errors.Is(err, store.ErrDuplicate):
		return castAlreadyVoted
	case errors.Is(err, ErrClosed):
		return castClosed
	case errors.Is(err, ErrNotOpen):
		return castNotOpen
	case errors.Is(err, ErrInvalidBallot), errors.Is(err, store.ErrInvalidLeaf):
		return castInvalid
	}
	return castError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// An answer is what the board tells a client about one kind of refusal.
type answer struct {
	err        error // what the board's methods return, matched with errors.Is
	status     int
	code       string // boardapi.Code...
	msg        string
	retryAfter string // the Retry-After header, if any
}

// answers is every refusal the API makes, in the order fail tries them:
// the first row an error matches decides the status, code and message. A
// client is told only these, and the reason of a refusal (the board's own
// words, from public facts; see refusal.go) or a detail the handler writes;
// an inner error's text never reaches it. The boardapi sentinels at the end
// are the refusals the handler makes itself, before the board is asked.
var answers = []answer{
	{store.ErrUnavailable, http.StatusServiceUnavailable, boardapi.CodeStorage, "the board's database cannot be reached for now; retry in a few seconds (a cast answered so got no receipt: send the same ballot again, and if it was stored after all the board says so and gives its receipt)", "5"},
	{store.ErrNotStored, http.StatusServiceUnavailable, boardapi.CodeStorage, "the board could not write to its storage (disk full or read-only?): this was NOT stored and there is no receipt; retry later", "30"},
	{ErrBallotOnBoard, http.StatusConflict, boardapi.CodeBallotOnBoard, "this exact ballot is already on the board; its receipt is at " + boardapi.PathReceipts + "<tracking code>", ""},
	{ErrAlreadyVoted, http.StatusConflict, boardapi.CodeAlreadyVoted, "this token has already cast a ballot", ""},
	{store.ErrDuplicate, http.StatusConflict, boardapi.CodeAlreadyVoted, "this token has already cast a ballot", ""},
	{ErrClosed, http.StatusForbidden, boardapi.CodeClosed, "the election is closed; no more ballots are accepted", ""},
	{ErrNotOpen, http.StatusForbidden, boardapi.CodeNotOpen, "the election is not open for ballots yet", ""},
	{ErrNotClosed, http.StatusForbidden, boardapi.CodeNotClosed, "the election is still open", ""},
	{ErrAlreadyOpen, http.StatusForbidden, boardapi.CodeAlreadyOpen, "the election is already open", ""},
	{ErrCeremonyIncomplete, http.StatusForbidden, boardapi.CodeCeremonyIncomplete, "the election cannot open yet", ""},
	{ErrTrusteesMissing, http.StatusConflict, boardapi.CodeTrusteesMissing, "trustees are missing from the key ceremony, and the request does not say to go on without them", ""},
	{ErrInvalidBallot, http.StatusBadRequest, boardapi.CodeInvalidBallot, "ballot refused", ""},
	{ErrInvalidEntry, http.StatusBadRequest, boardapi.CodeInvalidEntry, "entry refused", ""},
	{store.ErrInvalidLeaf, http.StatusBadRequest, boardapi.CodeInvalidEntry, "entry refused: it is not a valid leaf", ""},
	{ErrNoSuchBallot, http.StatusNotFound, boardapi.CodeNotFound, "no ballot with this tracking code is on the board", ""},
	{store.ErrNotFound, http.StatusNotFound, boardapi.CodeNotFound, "the log has no such entry or checkpoint", ""},
	{boardapi.ErrBadRequest, http.StatusBadRequest, boardapi.CodeBadRequest, "malformed request", ""},
	{boardapi.ErrUnauthorized, http.StatusUnauthorized, boardapi.CodeUnauthorized, "this endpoint needs the board's admin token: Authorization: Bearer <token>", ""},
	{boardapi.ErrNotFound, http.StatusNotFound, boardapi.CodeNotFound, "no such endpoint; see the board's HTTP API in SPEC.md §11", ""},
	{boardapi.ErrMethodNotAllowed, http.StatusMethodNotAllowed, boardapi.CodeMethodNotAllowed, "method not allowed", ""},
	{boardapi.ErrTooLarge, http.StatusRequestEntityTooLarge, boardapi.CodeTooLarge, fmt.Sprintf("body over %d bytes", MaxBodyBytes), ""},
	{boardapi.ErrUnsupportedType, http.StatusUnsupportedMediaType, boardapi.CodeUnsupportedType, "Content-Type must be application/octet-stream", ""},
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
func (h *handler) refuse(w http.ResponseWriter, err error, detail string) {
	a := answerFor(err)
	if a == nil {
		h.log.Error("no answer for a refusal", "err", err)
		service.WriteError(w, http.StatusInternalServerError, boardapi.CodeInternal, "internal error; the board operator has the details in its log")
		return
	}
	msg := a.msg
	if detail != "" {
		msg += ": " + detail
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	service.WriteError(w, a.status, a.code, msg)
}

// fail answers an error of the board's methods: its row of answers with
// the refusal's reason, if it has one, or else a generic 500. The error
// itself goes only to the log.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	a := answerFor(err)
	switch {
	case a == nil:
		h.log.Error("request failed", "path", r.URL.Path, "err", err)
		service.WriteError(w, http.StatusInternalServerError, boardapi.CodeInternal, "internal error; the board operator has the details in its log")
		return
	case a.err == store.ErrNotStored || a.err == store.ErrUnavailable:
		// Storage failed (a full disk, a read-only file): say plainly that
		// nothing was kept, so that no client takes it for a receipt.
		h.log.Error("storage failure, nothing stored", "path", r.URL.Path, "err", err)
	case r.Method == http.MethodPost && r.URL.Path != boardapi.PathBallots:
		// A trustee's or the admin's entry: rare, and its poster wants to
		// know why.
		h.log.Info("refused", "path", r.URL.Path, "code", a.code, "err", err)
	default:
		h.log.Debug("refused", "path", r.URL.Path, "code", a.code, "err", err)
	}
	var rf *refusal
	detail := ""
	if errors.As(err, &rf) {
		detail = rf.reason
	}
	h.refuse(w, a.err, detail)
}

// readBody reads a POST body of the given content type, at most
// MaxBodyBytes, holding one of the client address's upload slots while it
// does. It answers any refusal itself and returns it as the casts_total
// result ("" when the body was read).
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, contentType string) ([]byte, string) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != contentType {
		h.refuse(w, boardapi.ErrUnsupportedType, "")
		return nil, castInvalid
	}
	ip := h.clientIP(r)
	if !h.uploads.TryEnter(ip) {
		service.TooManyUploads(w)
		return nil, castRateLimited
	}
	defer h.uploads.Leave(ip)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			h.refuse(w, boardapi.ErrTooLarge, "")
		} else {
			h.refuse(w, boardapi.ErrBadRequest, "the body could not be read")
		}
		return nil, castInvalid
	}
	return body, ""
}

func (h *handler) manifest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(h.b.manifest.Bytes())
}

func (h *handler) election(w http.ResponseWriter, r *http.Request) {
	phase, err := h.b.Phase()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	size, err := h.b.log.Size()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	mh := h.b.manifest.Hash()
	info := boardapi.ElectionInfo{Phase: phase, ManifestHash: hex.EncodeToString(mh[:]), Size: size}
	if o := h.b.Opening(); o != nil {
		info.ElectionKey = hex.EncodeToString(o.Key.Bytes())
		for _, vk := range o.VerificationKeys {
			s := ""
			if vk != nil {
				s = hex.EncodeToString(vk.Bytes())
			}
			info.VerificationKeys = append(info.VerificationKeys, s)
		}
		info.BallotSize = h.b.Election().Size()
		if i, ok, err := h.b.log.Lookup(keyOpen); err == nil && ok {
			info.OpenIndex = i
		}
		if i, ok, err := h.b.log.Lookup(keyClosed); err == nil && ok {
			info.CloseIndex = i
		}
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *handler) cast(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	result := castInvalid
	defer func() {
		h.casts.With(result).Inc()
		h.castTime.Observe(time.Since(start))
	}()
	if !h.allow(w, r) {
		result = castRateLimited
		return
	}
	// The body first, and only then the gate: a slot taken before the body
	// was read let 1,040 connections that sent their headers and one body
	// byte each hold every slot, and every real cast got 503 until the read
	// timeout (30 s) cut them off. Reading is bounded per address instead
	// (MaxUploadsPerAddress), and holds nothing a cast needs.
	body, refused := h.readBody(w, r, "application/octet-stream")
	if refused != "" {
		result = refused
		return
	}
	// The gate bounds the casts in flight, and so everything a cast waits
	// on: the batch verifier's queue (a buffered channel of
	// 4 × maxVerifyBatch, as many as the default bound, so with it a send
	// never blocks; with a larger bound at most the bound's worth of casts
	// wait on it, each already admitted) and the store's group commit.
	// Beyond it a cast is refused at once with 503 and Retry-After, so a
	// flood shows as refusals, never as a queue that grows without bound.
	if !h.gate.TryEnter() {
		result = castOverloaded
		service.Overloaded(w)
		return
	}
	defer h.gate.Leave()
	rc, err := h.b.Cast(r.Context(), body)
	result = castResult(err)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cosigner != nil {
		h.cosigner.Kick()
	}
	writeJSON(w, http.StatusCreated, rc)
}

func (h *handler) post(admin bool, fn func(context.Context, []byte) (uint64, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.allow(w, r) {
			return
		}
		if admin && !h.authorised(r) {
			h.refuse(w, boardapi.ErrUnauthorized, "")
			return
		}
		body, refused := h.readBody(w, r, "application/octet-stream")
		if refused != "" {
			return
		}
		i, err := fn(r.Context(), body)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, boardapi.IndexResponse{Index: i})
	}
}

// open answers POST /v1/admin/open: a JSON boardapi.OpenRequest naming
// the trustees to go on without, or an empty body (no one).
func (h *handler) open(w http.ResponseWriter, r *http.Request) {
	if !h.allow(w, r) {
		return
	}
	if !h.authorised(r) {
		h.refuse(w, boardapi.ErrUnauthorized, "")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		ct = "application/octet-stream"
	}
	body, refused := h.readBody(w, r, ct)
	if refused != "" {
		return
	}
	var req boardapi.OpenRequest
	switch {
	case ct == "application/json":
		if err := strictjson.Decode(body, &req); err != nil {
			h.refuse(w, boardapi.ErrBadRequest, `the body must be {"without":[trustee index, ...]}`)
			return
		}
	case len(body) != 0:
		h.refuse(w, boardapi.ErrBadRequest, `an open's body is empty, or JSON {"without":[...]} with Content-Type: application/json`)
		return
	}
	if _, err := h.b.OpenVoting(r.Context(), req.Without...); err != nil {
		h.fail(w, r, err)
		return
	}
	i, _, err := h.b.log.Lookup(keyOpen)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, boardapi.IndexResponse{Index: i})
}

func (h *handler) authorised(r *http.Request) bool {
	if len(h.admin) == 0 {
		return false
	}
	got := []byte(r.Header.Get("Authorization"))
	want := append([]byte("Bearer "), h.admin...)
	return subtle.ConstantTimeCompare(got, want) == 1
}

func uintParam(r *http.Request, name string) (uint64, error) {
	v, err := strconv.ParseUint(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		return 0, refuse(boardapi.ErrBadRequest, fmt.Sprintf("query parameter %q must be a non-negative integer", name), nil)
	}
	return v, nil
}

func (h *handler) checkpoint(w http.ResponseWriter, r *http.Request) {
	var cp *store.Checkpoint
	var err error
	if r.URL.Query().Has("size") {
		var n uint64
		if n, err = uintParam(r, "size"); err == nil {
			cp, err = h.b.log.CheckpointAt(n)
		}
	} else {
		cp, err = h.b.log.Checkpoint(r.Context())
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(cp.Signed)
}

// cosigned answers the newest checkpoint cosigned by a quorum of the
// manifest's witnesses, of at least the size asked for (?size=N, default
// 1), waiting a few seconds for a round to reach it: 503 with Retry-After
// if none does in time, 404 if the election names no witnesses.
func (h *handler) cosigned(w http.ResponseWriter, r *http.Request) {
	if h.cosigner == nil {
		h.refuse(w, boardapi.ErrNotFound, "this election names no witnesses")
		return
	}
	min := uint64(1)
	if r.URL.Query().Has("size") {
		n, err := uintParam(r, "size")
		if err != nil {
			h.fail(w, r, err)
			return
		}
		min = n
	}
	signed, err := h.cosigner.Cosigned(r.Context(), min, cosignedWait)
	if err != nil {
		// Witnesses slow or down: a state that passes, not a missing page.
		w.Header().Set("Retry-After", "10")
		service.WriteError(w, http.StatusServiceUnavailable, service.CodeOverloaded, "a quorum of the election's witnesses has not cosigned a checkpoint of that size yet; retry in a while")
		h.log.Warn("no cosigned checkpoint of the size asked", "size", min, "err", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(signed)
}

// cosignedWait bounds how long a request for a cosigned checkpoint waits
// for a round of the witnesses: on loopback a round takes milliseconds.
const cosignedWait = 10 * time.Second

func (h *handler) inclusion(w http.ResponseWriter, r *http.Request) {
	i, err := uintParam(r, "index")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n, err := uintParam(r, "size")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.b.log.ProveInclusion(i, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, boardapi.ProofResponse{Hashes: boardapi.EncodeHashes(p)})
}

func (h *handler) consistency(w http.ResponseWriter, r *http.Request) {
	m, err := uintParam(r, "old")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	n, err := uintParam(r, "new")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.b.log.ProveConsistency(m, n)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, boardapi.ProofResponse{Hashes: boardapi.EncodeHashes(p)})
}

func (h *handler) entry(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		h.refuse(w, boardapi.ErrBadRequest, "an entry index is a non-negative integer")
		return
	}
	leaf, err := h.b.log.Leaf(i)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(leaf)
}

func (h *handler) receipt(w http.ResponseWriter, r *http.Request) {
	var tc [32]byte
	b, err := hex.DecodeString(r.PathValue("code"))
	if err != nil || len(b) != len(tc) || hex.EncodeToString(b) != r.PathValue("code") {
		h.refuse(w, boardapi.ErrBadRequest, "a tracking code is 64 lower-case hex digits")
		return
	}
	copy(tc[:], b)
	rc, err := h.b.ReceiptFor(r.Context(), tc)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rc)
}

// orDefault is n, or def when n is 0.
func orDefault(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// recordCheckpoint is the checkpoint a record ends with: with witnesses,
// the newest one a quorum cosigned, covering at least every entry there is
// now (after the result, the whole log), as verifiers require; without,
// nil (a fresh one of the board's).
func (h *handler) recordCheckpoint(ctx context.Context) (*store.Checkpoint, error) {
	if h.cosigner == nil {
		return nil, nil
	}
	n, err := h.b.log.Size()
	if err != nil {
		return nil, err
	}
	signed, err := h.cosigner.Cosigned(ctx, n, cosignedWait)
	if err != nil {
		return nil, err
	}
	return store.ParseCosignedCheckpoint(signed, h.cosigner.board)
}

// exportAt writes the record ending with cp (nil: a fresh checkpoint).
func (h *handler) exportAt(w io.Writer, cp *store.Checkpoint) error {
	if cp == nil {
		return h.b.log.Export(w)
	}
	return h.b.log.ExportAt(w, cp)
}

func (h *handler) export(w http.ResponseWriter, r *http.Request) {
	ip := h.clientIP(r)
	if !h.exportsPer.TryEnter(ip) {
		w.Header().Set("Retry-After", "1")
		service.WriteError(w, http.StatusTooManyRequests, service.CodeRateLimited, "this address is already downloading as many records as it may at once; finish or close one, or retry in 1 s")
		return
	}
	defer h.exportsPer.Leave(ip)
	if !h.exports.TryEnter() {
		service.Overloaded(w)
		return
	}
	defer h.exports.Leave()
	cp, err := h.recordCheckpoint(r.Context())
	if err != nil {
		h.log.Error("no cosigned checkpoint to end the export with", "err", err)
		w.Header().Set("Retry-After", "5")
		service.WriteError(w, http.StatusServiceUnavailable, service.CodeOverloaded, "a quorum of the election's witnesses has not cosigned the board's newest checkpoint yet, and the record must end with one; retry once they answer")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="record.evr"`)
	// Export writes straight to the client; a failure midway can only cut
	// the stream, which the strict reader on the other end reports.
	err = h.exportAt(w, cp)
	if err != nil {
		h.log.Error("export failed", "err", err)
	}
}
