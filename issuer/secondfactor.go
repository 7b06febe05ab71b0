package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evote/evote/issuer/issuerapi"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// The second factor's limits (SPEC.md §11).
const (
	// OTPDigits is the length of a one-time code and of a TOTP code.
	OTPDigits = 6
	// OTPLifetime is how long a sent one-time code is accepted.
	OTPLifetime = 10 * time.Minute
	// OTPCooldown is the least time between two codes sent to one voter.
	OTPCooldown = time.Minute
	// OTPMaxWrong is how many wrong tries void a sent code.
	OTPMaxWrong = 5
	// OTPMaxSends is how many codes one voter may be sent in
	// OTPSendWindow.
	OTPMaxSends   = 5
	OTPSendWindow = time.Hour
	// TOTPPeriod and TOTPSkew are RFC 6238's time step and the steps
	// accepted either side of now (one: a clock 30 s off still works).
	TOTPPeriod = 30 * time.Second
	TOTPSkew   = 1
	// TOTPMaxWrong is how many wrong TOTP codes one voter may be tried in
	// TOTPWrongWindow, from every address together. A TOTP code has 20
	// bits, and the per-address back-off alone let 17 addresses in turn
	// test 42 a second, the code found in about two hours; with this, the
	// odds are 10 in a million a day.
	TOTPMaxWrong    = 10
	TOTPWrongWindow = time.Hour
	// totpSecretSize is the length of an enrolled TOTP secret (RFC 4226
	// §4 asks for at least 128 bits and recommends 160).
	totpSecretSize = 20
)

// Sender delivers one-time codes: package invite has one over SMTP and one
// for an SMS provider's HTTP webhook. Send must not log the code.
type Sender interface {
	Send(ctx context.Context, m OneTimeCode) error
}

// OneTimeCode is a message for a [Sender].
type OneTimeCode struct {
	Factor  string // issuerapi.FactorEmail or issuerapi.FactorSMS
	To      string // the e-mail address or the phone number
	Lang    string // "it", "en" or "" (the sender's default)
	Code    string // OTPDigits digits
	Expires time.Time
}

// SentCode is the one-time code last sent to a voter, as the roll keeps
// it: a tag, never the code.
type SentCode struct {
	// Sum is HMAC-SHA256 under the roll key of the voter ID and the code.
	Sum     []byte `json:"sum,omitempty"`
	Expires int64  `json:"exp,omitempty"` // Unix seconds
	Wrong   int    `json:"wrong,omitempty"`
	// LastSent, Sends and Window rate the sending: Sends codes were sent
	// since Window began (Unix seconds), the last at LastSent.
	LastSent int64 `json:"last,omitempty"`
	Sends    int   `json:"sends,omitempty"`
	Window   int64 `json:"window,omitempty"`
}

// Errors of the second factor. Each is told only to a request whose voter
// ID and enrolment code are right.
var (
	// ErrSecondFactorRequired asks for the second factor; it is a
	// [*SecondFactorError] saying which and where it was sent. (HTTP 401)
	ErrSecondFactorRequired = errors.New("issuer: a second factor is required: enter the one-time code")
	// ErrBadSecondFactor is a wrong or expired one-time code. (HTTP 401)
	ErrBadSecondFactor = errors.New("issuer: the one-time code is wrong or expired")
	// ErrNoSecondFactor means the voter has no contact or authenticator
	// the configured second factor can use. (HTTP 403)
	ErrNoSecondFactor = errors.New("issuer: no e-mail address, phone number or authenticator app is registered for this voter's second factor; ask the election's help desk")
	// ErrTooManyCodes means OTPMaxSends codes were sent in the window, or
	// TOTPMaxWrong wrong TOTP codes tried; a [*SecondFactorError] with
	// RetryAfter. (HTTP 429)
	ErrTooManyCodes = errors.New("issuer: too many one-time codes were sent to this voter, or too many wrong ones tried; wait, or ask the election's help desk")
	// ErrSendFailed means the sender failed. (HTTP 503)
	ErrSendFailed = errors.New("issuer: the one-time code could not be sent; try again in a minute")
)

// SecondFactorError is an answer about the second factor: which factor,
// where its code was sent, and for ErrTooManyCodes how long to wait.
type SecondFactorError struct {
	Err        error  // one of the second factor's errors above
	Factor     string // an issuerapi Factor constant
	SentTo     string // the masked address or number, or ""
	RetryAfter time.Duration
}

func (e *SecondFactorError) Error() string {
	if e.SentTo != "" {
		return fmt.Sprintf("%v (%s, sent to %s)", e.Err, e.Factor, e.SentTo)
	}
	return fmt.Sprintf("%v (%s)", e.Err, e.Factor)
}

func (e *SecondFactorError) Unwrap() error { return e.Err }

// otpTag is a one-time code's tag in the roll: the voter, the factor it
// was sent by and the code, so that a code sent by e-mail does not pass
// an issuer replica that asks for one by SMS.
func (is *Issuer) otpTag(voterID, factor, code string) []byte {
	m := hmac.New(sha256.New, is.rollKey)
	m.Write([]byte("evote/issuer/otp/v1\x00"))
	m.Write([]byte(voterID))
	m.Write([]byte{0})
	m.Write([]byte(factor))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// NormalizeSecondFactor returns a one-time code without the spaces and
// dashes people type, or an error if it is not OTPDigits digits.
func NormalizeSecondFactor(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
	if len(s) != OTPDigits || strings.Trim(s, "0123456789") != "" {
		return "", fmt.Errorf("issuer: a one-time code is %d digits", OTPDigits)
	}
	return s, nil
}

func randomDigits() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("issuer: reading randomness for a one-time code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// factorOf returns the second factor asked of a voter: TOTP if they
// enrolled an app, else the issuer's configured one.
func (is *Issuer) factorOf(rec *RollEntry) string {
	if rec.TOTP != nil {
		return issuerapi.FactorTOTP
	}
	return is.secondFactor
}

// secondFactorCheck asks for, sends or checks the second factor of a voter
// whose enrolment code was right (rec, read then). It returns nil when the
// second factor passed, so that the token may be signed.
func (is *Issuer) secondFactorCheck(ctx context.Context, rec RollEntry, given, tag string) error {
	factor := is.factorOf(&rec)
	if factor == issuerapi.FactorTOTP {
		if given == "" {
			return &SecondFactorError{Err: ErrSecondFactorRequired, Factor: factor}
		}
		return is.checkTOTP(ctx, rec, given, tag)
	}
	c, _, err := is.contact(&rec)
	if err != nil {
		return err
	}
	to := c.Email
	if factor == issuerapi.FactorSMS {
		to = c.Phone
	}
	if to == "" {
		return &SecondFactorError{Err: ErrNoSecondFactor, Factor: factor}
	}
	sentTo := MaskContact(factor, to)
	if given == "" {
		return is.sendOTP(ctx, rec.VoterID, factor, to, c.Lang, sentTo)
	}
	now := is.now()
	sum := is.otpTag(rec.VoterID, factor, given)
	var ok bool
	_, err = is.roll.Update(ctx, rec.VoterID, func(r *RollEntry) error {
		ok = false
		o := r.OTP
		if o == nil || o.Sum == nil || now.Unix() >= o.Expires || o.Wrong >= OTPMaxWrong {
			return nil // nothing to spend: written as is, answered as wrong
		}
		if subtle.ConstantTimeCompare(o.Sum, sum) == 1 {
			ok = true
			o.Sum, o.Expires, o.Wrong = nil, 0, 0 // spent: a code passes once
			return nil
		}
		o.Wrong++
		r.Failures++
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return &SecondFactorError{Err: ErrBadSecondFactor, Factor: factor, SentTo: sentTo}
	}
	return nil
}

// sendOTP sends a new one-time code unless one was sent less than
// OTPCooldown ago, and answers ErrSecondFactorRequired either way.
func (is *Issuer) sendOTP(ctx context.Context, voterID, factor, to, lang, sentTo string) error {
	code, err := randomDigits()
	if err != nil {
		return err
	}
	now := is.now()
	sum := is.otpTag(voterID, factor, code)
	var send bool
	var wait time.Duration
	_, err = is.roll.Update(ctx, voterID, func(r *RollEntry) error {
		send, wait = false, 0
		o := r.OTP
		if o == nil {
			o = &SentCode{}
		} else {
			c := *o
			o = &c
		}
		if now.Unix()-o.Window >= int64(OTPSendWindow/time.Second) {
			o.Window, o.Sends = now.Unix(), 0
		}
		switch {
		case now.Unix()-o.LastSent < int64(OTPCooldown/time.Second):
			// The code sent a moment ago stands; if it was voided by
			// wrong tries, the next comes after the cool-down all the
			// same, or five wrong tries a second would each get a send.
			return nil
		case o.Sends >= OTPMaxSends:
			wait = time.Duration(o.Window+int64(OTPSendWindow/time.Second)-now.Unix()) * time.Second
			return nil
		}
		send = true
		o.Sum, o.Expires, o.Wrong = sum, now.Add(OTPLifetime).Unix(), 0
		o.LastSent = now.Unix()
		o.Sends++
		r.OTP = o
		return nil
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &SecondFactorError{Err: ErrTooManyCodes, Factor: factor, SentTo: sentTo, RetryAfter: wait}
	}
	if send {
		err := is.sender.Send(ctx, OneTimeCode{Factor: factor, To: to, Lang: lang, Code: code, Expires: now.Add(OTPLifetime)})
		if err != nil {
			// Log the failure, never the address or the code.
			is.log.Error("a one-time code could not be sent", "factor", factor, "err", err)
			// Give the send back, so that the voter may ask again at once.
			is.roll.Update(context.WithoutCancel(ctx), voterID, func(r *RollEntry) error {
				if r.OTP != nil && hmac.Equal(r.OTP.Sum, sum) {
					o := *r.OTP
					o.Sum, o.Expires, o.LastSent = nil, 0, 0
					o.Sends--
					r.OTP = &o
				}
				return nil
			})
			return &SecondFactorError{Err: ErrSendFailed, Factor: factor, SentTo: sentTo}
		}
		is.log.Info("a one-time code was sent", "factor", factor)
	}
	return &SecondFactorError{Err: ErrSecondFactorRequired, Factor: factor, SentTo: sentTo}
}

// checkTOTP checks an authenticator's code: one of the steps within
// TOTPSkew of now, newer than the last one accepted. A wrong code counts
// as a wrong enrolment code does, in the address's back-off.
func (is *Issuer) checkTOTP(ctx context.Context, rec RollEntry, given, tag string) error {
	secret, err := is.open("totp", rec.VoterID, rec.TOTP)
	if err != nil {
		return err
	}
	defer clear(secret)
	b32 := base32.StdEncoding.EncodeToString(secret)
	now := is.now()
	cur := now.Unix() / int64(TOTPPeriod/time.Second)
	match := int64(-1)
	for step := cur - TOTPSkew; step <= cur+TOTPSkew; step++ {
		want, err := hotp.GenerateCodeCustom(b32, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return fmt.Errorf("issuer: TOTP: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(given)) == 1 {
			match = step
		}
	}
	addr := []byte(tag)
	var ok bool
	var wait time.Duration
	_, err = is.roll.Update(ctx, rec.VoterID, func(r *RollEntry) error {
		ok, wait = false, 0
		if now.Unix()-r.TOTPWindow >= int64(TOTPWrongWindow/time.Second) {
			r.TOTPWindow, r.TOTPWrong = now.Unix(), 0
		}
		if r.TOTPWrong >= TOTPMaxWrong {
			// Not tested, the right code neither, until the window ends
			// or the help desk unlocks.
			wait = time.Duration(r.TOTPWindow+int64(TOTPWrongWindow/time.Second)-now.Unix()) * time.Second
			return nil
		}
		ok = match >= 0 && match > r.TOTPStep
		if ok {
			r.TOTPStep = match
			return nil
		}
		r.TOTPWrong++
		r.fail(addr, now)
		return nil
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &SecondFactorError{Err: ErrTooManyCodes, Factor: issuerapi.FactorTOTP, RetryAfter: wait}
	}
	if !ok {
		return &SecondFactorError{Err: ErrBadSecondFactor, Factor: issuerapi.FactorTOTP}
	}
	return nil
}

// EnrolTOTP makes a new authenticator secret for a voter, replacing any
// they had, and returns the otpauth:// URI to show them once (as a QR code
// or text) for their app: RFC 6238 with SHA-1, 6 digits, 30 s, the form
// authenticator apps read. account labels the entry in the app (the
// voter's own words; it is not stored).
func (is *Issuer) EnrolTOTP(ctx context.Context, voterID, issuerName, account string) (string, error) {
	voterID, err := NormalizeVoterID(voterID)
	if err != nil {
		return "", err
	}
	secret := make([]byte, totpSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("issuer: reading randomness for a TOTP secret: %w", err)
	}
	defer clear(secret)
	sealed, err := is.seal("totp", voterID, secret)
	if err != nil {
		return "", err
	}
	if _, err := is.roll.Update(ctx, voterID, func(r *RollEntry) error {
		r.TOTP, r.TOTPStep = sealed, 0
		return nil
	}); err != nil {
		return "", err
	}
	if !utf8.ValidString(issuerName) || !utf8.ValidString(account) {
		return "", errors.New("issuer: the issuer name and account label must be UTF-8")
	}
	v := url.Values{}
	v.Set("secret", strings.TrimRight(base32.StdEncoding.EncodeToString(secret), "="))
	v.Set("issuer", issuerName)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(OTPDigits))
	v.Set("period", fmt.Sprint(int(TOTPPeriod/time.Second)))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuerName + ":" + account, RawQuery: v.Encode()}
	is.log.Info("an authenticator app was enrolled") // no voter ID
	return u.String(), nil
}

// MaskContact shows enough of an address or number for a voter to know
// it as theirs and a bystander little: "m•••@e•••.it", "•••• 4567".
func MaskContact(factor, to string) string {
	if factor == issuerapi.FactorSMS {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, to)
		if len(digits) > 4 {
			digits = digits[len(digits)-4:]
		}
		return "•••• " + digits
	}
	local, domain, ok := strings.Cut(to, "@")
	if !ok {
		return "•••"
	}
	first := func(s string) string {
		r, _ := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError {
			return ""
		}
		return string(r)
	}
	tld := ""
	if i := strings.LastIndexByte(domain, '.'); i >= 0 {
		tld = domain[i:]
	}
	return first(local) + "•••@" + first(domain) + "•••" + tld
}
