package issuer

// The help desk: what the issuer's operator may do for one voter while
// the issuer runs (it holds its roll exclusively, so the operator's tools
// go through it): see the voter's state, unlock them, add a late member,
// and find the voter's lines in the log by their tag. The HTTP side is the
// admin API (issuerapi's PathAdmin... paths), served only with
// HandlerConfig.AdminToken.
//
// What the help desk sees is what it needs to answer a voter on the
// phone, and no more: never the token, the blinded message, a code, a
// client address or a contact in clear (contacts are masked as the voter
// sees them). Each action is logged at Info as an "operator action" with
// the action, its outcome and the voter's tag: an HMAC of the voter ID
// under the roll key, so the operator, who can compute it (the admin API,
// or evote issuer helpdesk tag with the issuing key), finds a voter's lines
// while the log, which others read, holds no voter ID (SECURITY.md).

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/ratelimit"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuer/issuerapi"
)

// ErrIssuanceStarted refuses a late member once the issuer has issued a
// token. The issuer does not watch the board, so "voting has opened" is,
// for it, the first token it signs: from then on the roll's count of
// eligible voters is what turnout is measured against and what the
// issuer's statement will say, and a member added during the vote would
// change it under the voters' feet. Add late members before the first
// voter asks for a token.
var ErrIssuanceStarted = errors.New("issuer: tokens have been issued already, so the roll takes no late member: add late members before voting opens")

// voterTagSize is the length of a voter's tag in the log, in bytes: 96
// bits keep two voters' tags apart on any roll, and a tag is no use to a
// guesser without the roll key.
const voterTagSize = 12

// voterTag is the tag of a normalised voter ID in the log of operator
// actions; its label sets it apart from the roll's other HMACs (guard.go's
// addresses, secondfactor.go's one-time codes).
func voterTag(rollKey []byte, voterID string) string {
	m := hmac.New(sha256.New, rollKey)
	m.Write([]byte("evote/issuer/operator-log/v1\x00"))
	m.Write([]byte(voterID))
	return hex.EncodeToString(m.Sum(nil)[:voterTagSize])
}

// VoterTag returns the tag the issuer's log of operator actions gives the
// voter (in any spelling NormalizeVoterID accepts), computed as the issuer
// serving key computes it: for the operator reading an old log, with no
// issuer running.
func VoterTag(key *token.PrivateKey, voterID string) (string, error) {
	id, err := NormalizeVoterID(voterID)
	if err != nil {
		return "", err
	}
	rk := key.DeriveSecret(rollKeyLabel)
	defer clear(rk)
	return voterTag(rk, id), nil
}

// VoterTag is the package's VoterTag with this issuer's key.
func (is *Issuer) VoterTag(voterID string) (string, error) {
	id, err := NormalizeVoterID(voterID)
	if err != nil {
		return "", err
	}
	return voterTag(is.rollKey, id), nil
}

// VoterState returns what the help desk may see of a voter (see
// issuerapi.VoterState); a voter ID not on the roll is OnRoll false, not
// an error: the operator may know who is on it. It changes nothing.
func (is *Issuer) VoterState(ctx context.Context, voterID string) (issuerapi.VoterState, error) {
	id, err := NormalizeVoterID(voterID)
	if err != nil {
		return issuerapi.VoterState{}, badRequest(err)
	}
	st := issuerapi.VoterState{VoterTag: voterTag(is.rollKey, id)}
	rec, err := is.roll.Get(ctx, id)
	if errors.Is(err, ErrUnknownVoter) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	now := is.now().Unix()
	at := func(sec int64) *time.Time { t := time.Unix(sec, 0).UTC(); return &t }
	st.OnRoll = true
	st.TokenIssued = rec.Issued()
	st.WrongCodes = rec.Failures
	for _, b := range rec.Backoffs {
		a := issuerapi.AddressState{WrongCodes: b.Failures, Last: time.Unix(b.Last, 0).UTC()}
		if now < b.Until {
			a.WaitUntil = at(b.Until)
		}
		st.Addresses = append(st.Addresses, a)
	}
	c, _, err := is.contact(&rec)
	if err != nil {
		return st, err
	}
	if c.Email != "" {
		st.Email = MaskContact(issuerapi.FactorEmail, c.Email)
	}
	if c.Phone != "" {
		st.Phone = MaskContact(issuerapi.FactorSMS, c.Phone)
	}
	st.SecondFactor = is.factorOf(&rec)
	switch st.SecondFactor {
	case issuerapi.FactorEmail:
		st.SentTo = st.Email
	case issuerapi.FactorSMS:
		st.SentTo = st.Phone
	}
	window := int64(OTPSendWindow / time.Second)
	if o := rec.OTP; o != nil {
		if now-o.Window < window {
			st.CodesSent, st.WindowEnds = o.Sends, at(o.Window+window)
		}
		if o.Sum != nil && now < o.Expires && o.Wrong < OTPMaxWrong {
			st.CodeExpires = at(o.Expires)
		}
	}
	st.TOTP = rec.TOTP != nil
	return st, nil
}

// AddVoter adds a late member to the roll with a fresh enrolment code and
// returns the voter ID as the roll keeps it and the code, in clear this
// once: the roll keeps only its hash. The contact (checked and cleaned as
// a registry's is) is sealed into the entry; the issuer's second factor's
// contact must be given. It refuses, changing nothing: a voter ID on the
// roll already ([ErrDuplicateVoter]), once any token was issued
// ([ErrIssuanceStarted], which Roll.Add decides in its own transaction, so
// a first token signed at the same moment cannot let it through), after a
// purge ([ErrPurged]).
func (is *Issuer) AddVoter(ctx context.Context, voterID string, c Contact) (id, code string, err error) {
	if id, err = NormalizeVoterID(voterID); err != nil {
		return "", "", badRequest(err)
	}
	if c.Email != "" {
		if c.Email, err = checkEmail(c.Email); err != nil {
			return "", "", badRequest(err)
		}
	}
	if c.Phone != "" {
		if c.Phone, err = checkPhone(c.Phone); err != nil {
			return "", "", badRequest(err)
		}
	}
	if c.Lang != "" {
		if c.Lang, err = checkLang(c.Lang); err != nil {
			return "", "", badRequest(err)
		}
	}
	switch {
	case is.secondFactor == issuerapi.FactorEmail && c.Email == "":
		return "", "", fmt.Errorf("%w: the issuer sends its one-time codes by e-mail: give the member's e-mail address", ErrBadRequest)
	case is.secondFactor == issuerapi.FactorSMS && c.Phone == "":
		return "", "", fmt.Errorf("%w: the issuer sends its one-time codes by SMS: give the member's phone number", ErrBadRequest)
	}
	counts, err := is.roll.Counts(ctx)
	switch {
	case err != nil:
		return "", "", err
	case counts.Purged:
		return "", "", ErrPurged
	case counts.Issued > 0:
		return "", "", ErrIssuanceStarted
	}
	if code, err = GenerateCode(); err != nil {
		return "", "", err
	}
	h, err := HashCode(code)
	if err != nil {
		return "", "", err
	}
	rec := RollEntry{VoterID: id, Code: h}
	if c != (Contact{}) {
		if rec.Contact, err = is.SealContact(id, c); err != nil {
			return "", "", err
		}
	}
	if err := is.roll.Add(ctx, []RollEntry{rec}); err != nil {
		return "", "", err
	}
	return id, code, nil
}

// The admin API's actions, as the log of operator actions names them.
const (
	actShow   = "show"
	actUnlock = "unlock"
	actAdd    = "add"
	actTag    = "tag"
	actResend = "resend"
)

// errTokenIssued refuses to re-send an invitation to a voter who has a
// token: the issuer signs only that token's blinded message again, so a
// new invitation cannot help them.
var errTokenIssued = errors.New("issuer: the voter has a token already")

// adminAnswer is what the admin API answers an error with.
type adminAnswer struct {
	err     error
	status  int
	code    string
	msg     string
	outcome string // in the log of operator actions
}

// adminAnswers are the admin API's refusals, tried in order; the text of
// an error is never sent (ErrDuplicateVoter's names the voter) unless it is
// ErrBadRequest's, which the issuer writes itself.
var adminAnswers = []adminAnswer{
	{issuerapi.ErrUnauthorized, http.StatusUnauthorized, issuerapi.CodeUnauthorized, "the issuer's admin API needs its admin token: Authorization: Bearer <the token in evote issuer serve's --admin-token-file>", "unauthorized"},
	{ErrBadRequest, http.StatusBadRequest, issuerapi.CodeBadRequest, "malformed admin request", "bad_request"},
	{issuerapi.ErrBadRequest, http.StatusBadRequest, issuerapi.CodeBadRequest, "malformed admin request", "bad_request"},
	{ErrUnknownVoter, http.StatusNotFound, issuerapi.CodeNotOnRoll, "the voter is not on the roll; check the ID (evote issuer helpdesk show)", "not_on_roll"},
	{ErrDuplicateVoter, http.StatusConflict, issuerapi.CodeDuplicateVoter, "the voter is on the roll already; nothing was changed (evote issuer helpdesk show, or resend their invitation)", "duplicate"},
	{errTokenIssued, http.StatusConflict, issuerapi.CodeTokenIssued, "the voter has a token already (the issuer signs only its blinded message again): a new invitation cannot help them; nothing was sent", "token_issued"},
	{ErrIssuanceStarted, http.StatusForbidden, issuerapi.CodeIssuanceStarted, "tokens have been issued already, so the roll takes no late member; nothing was changed", "issuance_started"},
	{ErrPurged, http.StatusGone, issuerapi.CodePurged, "the voter roll was purged after the election", "purged"},
	{ErrRollUnavailable, http.StatusServiceUnavailable, issuerapi.CodeOverloaded, "the issuer could not reach its voter roll (its database is down or restarting); try again in a few seconds", "roll_unavailable"},
	{issuerapi.ErrUnsupportedType, http.StatusUnsupportedMediaType, issuerapi.CodeUnsupportedType, "Content-Type must be application/json", "bad_request"},
	{issuerapi.ErrTooLarge, http.StatusRequestEntityTooLarge, issuerapi.CodeTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxRequestBytes), "bad_request"},
}

// admin serves the admin API for one issuer handler.
type admin struct {
	h    *handler
	want []byte // "Bearer <token>"
}

// mountAdmin adds the admin API's paths to mux. Without a token they are
// not added, so they answer 404 as any unknown path does.
func (h *handler) mountAdmin(mux *http.ServeMux, token string) {
	a := &admin{h: h, want: []byte("Bearer " + token)}
	mux.Handle(issuerapi.PathAdminVoter, a.serve(actShow, a.show))
	mux.Handle(issuerapi.PathAdminUnlock, a.serve(actUnlock, a.unlock))
	mux.Handle(issuerapi.PathAdminAdd, a.serve(actAdd, a.add))
	mux.Handle(issuerapi.PathAdminTag, a.serve(actTag, a.tag))
	mux.Handle(issuerapi.PathAdminResend, a.serve(actResend, a.resend))
}

// authorised compares the Authorization header with the token in
// constant time.
func (a *admin) authorised(r *http.Request) bool {
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), a.want) == 1
}

// An adminAction runs one action on a request body; it returns the answer
// (marshalled to JSON), the voter's tag for the log ("" if the body named
// no voter that could be normalised) and the outcome.
type adminAction func(ctx context.Context, body []byte) (out any, tag, outcome string, err error)

func (a *admin) serve(action string, run adminAction) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The address's rate first, the same bucket as its token requests:
		// without it a stranger guessed tokens at 2,500 a second and wrote
		// two log lines for each.
		if a.h.limit != nil {
			if ok, wait := a.h.limit.Allow(a.h.clientIP(r)); !ok {
				service.RateLimited(w, ratelimit.RetryAfter(wait))
				return
			}
		}
		// The token before anything else: a stranger's request is answered
		// the same whatever its method, type and body, none of which is
		// read, so it learns nothing of the roll.
		if !a.authorised(r) {
			a.refuse(w, action, "", issuerapi.ErrUnauthorized, "")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			refuse(w, issuerapi.ErrMethodNotAllowed, "use POST for "+r.URL.Path)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			a.refuse(w, action, "", issuerapi.ErrUnsupportedType, "")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
		if err != nil {
			if errors.As(err, new(*http.MaxBytesError)) {
				a.refuse(w, action, "", issuerapi.ErrTooLarge, "")
			} else {
				a.refuse(w, action, "", issuerapi.ErrBadRequest, "the request body could not be read")
			}
			return
		}
		out, tag, outcome, err := run(r.Context(), body)
		if err != nil {
			detail := ""
			if errors.Is(err, ErrBadRequest) {
				detail = adminDetail(err)
			}
			a.refuse(w, action, tag, err, detail)
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			a.refuse(w, action, tag, err, "")
			return
		}
		a.logAction(action, outcome, tag)
		writeJSON(w, http.StatusOK, b)
	})
}

// logAction writes the line of one operator action: never a voter ID, a
// code, a contact or a token; the voter's tag instead.
func (a *admin) logAction(action, outcome, tag string) {
	attrs := []any{"action", action, "outcome", outcome}
	if tag != "" {
		attrs = append(attrs, "voter_tag", tag)
	}
	if outcome == "unauthorized" {
		// No tag: the body of a request without the token is not read.
		a.h.log.Warn("operator action refused: no admin token, or a wrong one", attrs...)
		return
	}
	a.h.log.Info("operator action", attrs...)
}

// refuse answers err's row of adminAnswers and logs the action's outcome;
// an error of no row is a 500 whose error is logged, never sent.
func (a *admin) refuse(w http.ResponseWriter, action, tag string, err error, detail string) {
	for _, ans := range adminAnswers {
		if errors.Is(err, ans.err) {
			a.logAction(action, ans.outcome, tag)
			msg := ans.msg
			if detail != "" {
				msg += ": " + detail
			}
			if ans.err == ErrRollUnavailable {
				w.Header().Set("Retry-After", strconv.Itoa(RollRetryAfter))
			}
			service.WriteError(w, ans.status, ans.code, msg)
			return
		}
	}
	a.logAction(action, "error", tag)
	a.h.log.Error("an operator action failed", "action", action, "err", err)
	service.WriteError(w, http.StatusInternalServerError, issuerapi.CodeInternal, "internal error; the issuer's log has the details")
}

// adminDetail is an ErrBadRequest's own words, which the issuer wrote and
// which hold no secret (never the value that was wrong but its form).
func adminDetail(err error) string {
	s := err.Error()
	if p := ErrBadRequest.Error() + ": "; len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return ""
}

// decodeAdmin parses an admin body strictly: one JSON object of exactly
// the known fields, nothing after it.
func decodeAdmin(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: the body is not one JSON object of the request's fields (voter_id, and for an add email, phone, lang) and no others", ErrBadRequest)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: the body has data after the JSON object", ErrBadRequest)
	}
	return nil
}

// voterOf decodes an AdminVoterRequest and returns the voter ID
// normalised and its tag.
func (a *admin) voterOf(body []byte) (id, tag string, err error) {
	var req issuerapi.AdminVoterRequest
	if err := decodeAdmin(body, &req); err != nil {
		return "", "", err
	}
	if id, err = NormalizeVoterID(req.VoterID); err != nil {
		return "", "", fmt.Errorf("%w: voter_id is not a voter ID: at most %d bytes of UTF-8 text, no control characters", ErrBadRequest, MaxVoterIDLen)
	}
	return id, voterTag(a.h.is.rollKey, id), nil
}

func (a *admin) show(ctx context.Context, body []byte) (any, string, string, error) {
	id, tag, err := a.voterOf(body)
	if err != nil {
		return nil, "", "", err
	}
	st, err := a.h.is.VoterState(ctx, id)
	if err != nil {
		return nil, tag, "", err
	}
	if !st.OnRoll {
		return st, tag, "not_on_roll", nil
	}
	return st, tag, "shown", nil
}

func (a *admin) unlock(ctx context.Context, body []byte) (any, string, string, error) {
	id, tag, err := a.voterOf(body)
	if err != nil {
		return nil, "", "", err
	}
	if err := a.h.is.Unlock(ctx, id); err != nil {
		return nil, tag, "", err
	}
	st, err := a.h.is.VoterState(ctx, id)
	if err != nil {
		return nil, tag, "", err
	}
	return st, tag, "unlocked", nil
}

func (a *admin) add(ctx context.Context, body []byte) (any, string, string, error) {
	var req issuerapi.AdminAddRequest
	if err := decodeAdmin(body, &req); err != nil {
		return nil, "", "", err
	}
	tag := ""
	if id, err := NormalizeVoterID(req.VoterID); err == nil {
		tag = voterTag(a.h.is.rollKey, id)
	}
	// AddVoter's words for a malformed contact quote it (checkEmail's):
	// they go back to the operator who sent it, and refuse never logs
	// them.
	id, code, err := a.h.is.AddVoter(ctx, req.VoterID, Contact{Email: req.Email, Phone: req.Phone, Lang: req.Lang})
	if err != nil {
		return nil, tag, "", err
	}
	return issuerapi.AdminAddResponse{VoterID: id, Code: code, VoterTag: tag}, tag, "added", nil
}

func (a *admin) tag(ctx context.Context, body []byte) (any, string, string, error) {
	_, tag, err := a.voterOf(body)
	if err != nil {
		return nil, "", "", err
	}
	return issuerapi.AdminTagResponse{VoterTag: tag}, tag, "tagged", nil
}

func (a *admin) resend(ctx context.Context, body []byte) (any, string, string, error) {
	id, tag, err := a.voterOf(body)
	if err != nil {
		return nil, "", "", err
	}
	st, err := a.h.is.VoterState(ctx, id)
	switch {
	case err != nil:
		return nil, tag, "", err
	case !st.OnRoll:
		return nil, tag, "", ErrUnknownVoter
	case st.TokenIssued:
		return nil, tag, "", errTokenIssued
	}
	return st, tag, "allowed", nil
}
