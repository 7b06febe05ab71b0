package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/pquerna/otp/totp"
)

// codeBox is a Sender that keeps what it was asked to send, for tests of
// the issuer's side; package invite's senders are tested against a real
// SMTP server and webhook.
type codeBox struct {
	mu   sync.Mutex
	sent []OneTimeCode
	fail error
}

func (b *codeBox) Send(ctx context.Context, m OneTimeCode) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.sent = append(b.sent, m)
	return nil
}

func (b *codeBox) last(t *testing.T) OneTimeCode {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sent) == 0 {
		t.Fatal("no one-time code was sent")
	}
	return b.sent[len(b.sent)-1]
}

func (b *codeBox) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sent)
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type sfFixture struct {
	is    *Issuer
	roll  Roll
	box   *codeBox
	clock *clock
	codes map[string]string
}

const (
	sfVoter  = "rossi-1004"
	sfEmail  = "mario.rossi@example.it"
	sfNoMail = "bianchi-2001"
)

// newSF makes an issuer asking for factor, with two voters: sfVoter with
// an e-mail and a phone, sfNoMail with neither.
func newSF(t *testing.T, factor string, roll Roll) *sfFixture {
	t.Helper()
	f := &sfFixture{roll: roll, box: &codeBox{}, clock: &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, codes: map[string]string{}}
	if f.roll == nil {
		f.roll = NewMemRoll()
	}
	is, err := New(Config{ElectionID: testElection, Key: issuerKey(t), Roll: f.roll, SecondFactor: factor, Sender: f.box, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	f.is = is
	var csv strings.Builder
	csv.WriteString("voter_id,enrolment_code\n")
	for _, id := range []string{sfVoter, sfNoMail} {
		f.codes[id], _ = GenerateCode()
		csv.WriteString(id + "," + f.codes[id] + "\n")
	}
	if c, _ := f.roll.Counts(ctx); c.Eligible == 0 {
		if _, err := is.ImportRoll(ctx, strings.NewReader(csv.String()), map[string]Contact{
			"Rossi-1004": {Email: sfEmail, Phone: "+39 333 123 4567", Lang: "it"},
		}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *sfFixture) issue(t *testing.T, id, second string, blinded []byte) ([]byte, error) {
	t.Helper()
	return f.is.Issue(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id], SecondFactor: second}, blinded, "192.0.2.1")
}

func wantSF(t *testing.T, err, want error) *SecondFactorError {
	t.Helper()
	var sf *SecondFactorError
	if !errors.Is(err, want) || !errors.As(err, &sf) {
		t.Fatalf("got %v, want %v", err, want)
	}
	return sf
}

// TestSecondFactorEmail: the enrolment code alone gets a one-time code
// sent to the voter's e-mail; a wrong one is refused; the right one gets
// the token; the same request again (a lost reply) gets the same
// signature without a second factor.
func TestSecondFactorEmail(t *testing.T) {
	f := newSF(t, issuerapi.FactorEmail, nil)
	blinded, _ := blind(t, newTokenKey(t))
	sf := wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	if sf.Factor != issuerapi.FactorEmail || sf.SentTo != "m•••@e•••.it" {
		t.Fatalf("asked for %q sent to %q", sf.Factor, sf.SentTo)
	}
	m := f.box.last(t)
	if m.To != sfEmail || m.Factor != issuerapi.FactorEmail || m.Lang != "it" || len(m.Code) != OTPDigits || !m.Expires.Equal(f.clock.now().Add(OTPLifetime)) {
		t.Fatalf("sent %+v", m)
	}
	wrong := "000000"
	if m.Code == wrong {
		wrong = "111111"
	}
	wantSF(t, firstErr(f.issue(t, sfVoter, wrong, blinded)), ErrBadSecondFactor)
	// Typed with a space, as people copy it from a mail.
	sig, err := f.issue(t, sfVoter, m.Code[:3]+" "+m.Code[3:], blinded)
	if err != nil {
		t.Fatalf("the right one-time code: %v", err)
	}
	again, err := f.issue(t, sfVoter, "", blinded)
	if err != nil || !bytes.Equal(again, sig) {
		t.Fatalf("the same request after a lost reply: %v", err)
	}
	if f.box.count() != 1 {
		t.Fatalf("%d codes sent, want 1", f.box.count())
	}
	// Spent: the code does not pass twice (here, for another blinded
	// message, it is the token that is refused first).
	other, _ := blind(t, newTokenKey(t))
	if _, err := f.issue(t, sfVoter, m.Code, other); !errors.Is(err, ErrAlreadyIssued) {
		t.Fatalf("another blinded message: %v", err)
	}
}

func firstErr(_ []byte, err error) error { return err }

// TestSecondFactorLimits: the cool-down, the lifetime, the wrong tries
// that void a code, the sends a voter may have, a failed send given back,
// a voter with no contact.
func TestSecondFactorLimits(t *testing.T) {
	f := newSF(t, issuerapi.FactorEmail, nil)
	blinded, _ := blind(t, newTokenKey(t))
	f.issue(t, sfVoter, "", blinded)
	first := f.box.last(t).Code
	// Within the cool-down, asking again sends nothing new.
	wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	if f.box.count() != 1 {
		t.Fatalf("a second code was sent within the cool-down")
	}
	// Expired: refused.
	f.clock.add(OTPLifetime)
	wantSF(t, firstErr(f.issue(t, sfVoter, first, blinded)), ErrBadSecondFactor)
	// A new code after the cool-down; five wrong tries void it.
	f.issue(t, sfVoter, "", blinded)
	code := f.box.last(t).Code
	if f.box.count() != 2 {
		t.Fatalf("%d codes sent", f.box.count())
	}
	for i := range OTPMaxWrong {
		wrong := []string{"000000", "111111", "222222", "333333", "444444", "555555"}[i]
		if wrong == code {
			wrong = "999999"
		}
		wantSF(t, firstErr(f.issue(t, sfVoter, wrong, blinded)), ErrBadSecondFactor)
	}
	wantSF(t, firstErr(f.issue(t, sfVoter, code, blinded)), ErrBadSecondFactor)
	if rec, _ := f.roll.Get(ctx, sfVoter); rec.Issued() {
		t.Fatal("a token was issued after the code was voided")
	}
	// Sends are limited: OTPMaxSends in the window, then a wait.
	for f.box.count() < OTPMaxSends {
		f.clock.add(OTPCooldown)
		wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	}
	f.clock.add(OTPCooldown)
	sf := wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrTooManyCodes)
	if sf.RetryAfter <= 0 || sf.RetryAfter > OTPSendWindow {
		t.Fatalf("too many codes with Retry-After %v", sf.RetryAfter)
	}
	// After the window, a send that fails is given back: the voter may
	// ask again at once.
	f.clock.add(OTPSendWindow)
	f.box.fail = errors.New("smtp: 451 try later")
	wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSendFailed)
	f.box.fail = nil
	wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	if _, err := f.issue(t, sfVoter, f.box.last(t).Code, blinded); err != nil {
		t.Fatalf("the code sent after a failed send: %v", err)
	}
	// No contact: the help desk.
	wantSF(t, firstErr(f.issue(t, sfNoMail, "", blinded)), ErrNoSecondFactor)
}

// TestSecondFactorSMS: the phone, masked to its last four digits.
func TestSecondFactorSMS(t *testing.T) {
	f := newSF(t, issuerapi.FactorSMS, nil)
	blinded, _ := blind(t, newTokenKey(t))
	sf := wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	if sf.Factor != issuerapi.FactorSMS || sf.SentTo != "•••• 4567" || f.box.last(t).To != "+39 333 123 4567" {
		t.Fatalf("asked for %q sent to %q, %+v", sf.Factor, sf.SentTo, f.box.last(t))
	}
	if _, err := f.issue(t, sfVoter, f.box.last(t).Code, blinded); err != nil {
		t.Fatal(err)
	}
}

// TestTOTP: an enrolled authenticator's code passes, once; a wrong one is
// refused and counts in the address's back-off.
func TestTOTP(t *testing.T) {
	f := newSF(t, "", nil) // no configured factor: the app alone asks
	uri, err := f.is.EnrolTOTP(ctx, "Rossi-1004", "evote test", "Mario")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("digits") != "6" || u.Query().Get("period") != "30" {
		t.Fatalf("enrolment URI %q, %v", uri, err)
	}
	secret := u.Query().Get("secret")
	if rec, _ := f.roll.Get(ctx, sfVoter); bytes.Contains(rec.TOTP, []byte(secret)) || rec.TOTP == nil {
		t.Fatal("the roll keeps the TOTP secret in the clear")
	}
	blinded, _ := blind(t, newTokenKey(t))
	sf := wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	if sf.Factor != issuerapi.FactorTOTP || sf.SentTo != "" || f.box.count() != 0 {
		t.Fatalf("asked for %+v; %d codes sent", sf, f.box.count())
	}
	now := f.clock.now()
	code, err := totp.GenerateCode(secret, now) // a second implementation's code
	if err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	wantSF(t, firstErr(f.issue(t, sfVoter, wrong, blinded)), ErrBadSecondFactor)
	if rec, _ := f.roll.Get(ctx, sfVoter); rec.Failures != 1 {
		t.Fatalf("a wrong TOTP code counted %d failures, want 1", rec.Failures)
	}
	// A clock 30 s behind the voter's phone still works.
	ahead, _ := totp.GenerateCode(secret, now.Add(TOTPPeriod))
	if _, err := f.issue(t, sfVoter, ahead, blinded); err != nil {
		t.Fatalf("the app's code one step ahead: %v", err)
	}
	// The wrong code stays counted for the help desk; the address's
	// back-off is cleared.
	if rec, _ := f.roll.Get(ctx, sfVoter); rec.Failures != 1 || rec.Backoffs != nil {
		t.Fatalf("after the token: failures %d, back-offs %+v", rec.Failures, rec.Backoffs)
	}
}

// TestTOTPVectors checks the issuer's TOTP against RFC 6238 Appendix B
// (SHA-1, the secret "12345678901234567890", T = 59 s gives 94287082, of
// which six digits are 287082), and that a code passes once (RFC 6238
// §5.2): the same step again is refused.
func TestTOTPVectors(t *testing.T) {
	f := newSF(t, "", nil)
	sealed, err := f.is.seal("totp", sfVoter, []byte("12345678901234567890"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.roll.Update(ctx, sfVoter, func(e *RollEntry) error { e.TOTP = sealed; return nil }); err != nil {
		t.Fatal(err)
	}
	f.clock.t = time.Unix(59, 0)
	rec, _ := f.roll.Get(ctx, sfVoter)
	tag := string(f.is.addrTag("a"))
	if err := f.is.checkTOTP(ctx, rec, "287082", tag); err != nil {
		t.Fatalf("RFC 6238's vector at T=59: %v", err)
	}
	rec, _ = f.roll.Get(ctx, sfVoter)
	if err := f.is.checkTOTP(ctx, rec, "287082", tag); !errors.Is(err, ErrBadSecondFactor) {
		t.Fatalf("the same code again: %v, want refused", err)
	}
	// T = 1111111109 gives 07081804: 081804.
	f.clock.t = time.Unix(1111111109, 0)
	rec, _ = f.roll.Get(ctx, sfVoter)
	if err := f.is.checkTOTP(ctx, rec, "081804", tag); err != nil {
		t.Fatalf("RFC 6238's vector at T=1111111109: %v", err)
	}
}

// TestAttackSecondFactorStrangers: without the right enrolment code no
// one-time code is sent, whatever the request says, and the answer is the
// one an unknown voter gets; the second factor is not reached.
func TestAttackSecondFactorStrangers(t *testing.T) {
	f := newSF(t, issuerapi.FactorEmail, nil)
	blinded, _ := blind(t, newTokenKey(t))
	wrong, _ := GenerateCode()
	for _, second := range []string{"", "123456"} {
		_, err := f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: wrong, SecondFactor: second}, blinded, "203.0.113.9")
		_, errUnknown := f.is.Issue(ctx, issuerapi.Credentials{VoterID: "nobody-1", Code: wrong, SecondFactor: second}, blinded, "203.0.113.9")
		if !errors.Is(err, ErrBadCredentials) || err.Error() != errUnknown.Error() {
			t.Fatalf("a wrong enrolment code with second factor %q: %v; an unknown voter: %v", second, err, errUnknown)
		}
	}
	if f.box.count() != 0 {
		t.Fatalf("%d one-time codes sent to a stranger's requests", f.box.count())
	}
}

// TestAttackSecondFactorAcrossReplicas: two issuers on one roll: a code
// one sent passes on the other, and wrong tries on both count together.
func TestAttackSecondFactorAcrossReplicas(t *testing.T) {
	a := newSF(t, issuerapi.FactorEmail, nil)
	b := newSF(t, issuerapi.FactorEmail, a.roll)
	b.codes, b.box, b.clock = a.codes, a.box, a.clock
	is2, err := New(Config{ElectionID: testElection, Key: issuerKey(t), Roll: a.roll, SecondFactor: issuerapi.FactorEmail, Sender: a.box, Now: a.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	b.is = is2
	blinded, _ := blind(t, newTokenKey(t))
	a.issue(t, sfVoter, "", blinded)
	code := a.box.last(t).Code
	for i := range OTPMaxWrong {
		g := []*sfFixture{a, b}[i%2]
		w := "00000" + string(rune('0'+i))
		if w == code {
			w = "999999"
		}
		wantSF(t, firstErr(g.issue(t, sfVoter, w, blinded)), ErrBadSecondFactor)
	}
	wantSF(t, firstErr(b.issue(t, sfVoter, code, blinded)), ErrBadSecondFactor)
	a.clock.add(OTPCooldown)
	b.issue(t, sfVoter, "", blinded)
	if _, err := a.issue(t, sfVoter, a.box.last(t).Code, blinded); err != nil {
		t.Fatalf("a code sent by one issuer, on the other: %v", err)
	}
}

// TestSecondFactorHTTP: the answers on the wire: 401 with factor and
// sent_to, Retry-After on too_many_codes, and the info's second_factor.
func TestSecondFactorHTTP(t *testing.T) {
	f := newSF(t, issuerapi.FactorEmail, nil)
	srv := httptest.NewServer(NewHandler(f.is, HandlerConfig{}))
	defer srv.Close()
	c := issuerapi.NewClient(srv.URL, srv.Client())
	resp, err := http.Get(srv.URL + issuerapi.PathInfo)
	if err != nil {
		t.Fatal(err)
	}
	var info issuerapi.InfoResponse
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.SecondFactor != issuerapi.FactorEmail {
		t.Fatalf("info second_factor %q", info.SecondFactor)
	}
	tokenPub := newTokenKey(t)
	blinded, st := blind(t, tokenPub)
	cred := issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfVoter]}
	_, err = c.RequestToken(ctx, cred, blinded)
	var e *issuerapi.Error
	if !errors.Is(err, issuerapi.ErrSecondFactorRequired) || !errors.As(err, &e) || e.StatusCode != 401 || e.Factor != "email" || e.SentTo != "m•••@e•••.it" {
		t.Fatalf("without a second factor: %v (%+v)", err, e)
	}
	if _, err := c.RequestToken(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfVoter], SecondFactor: "12345"}, blinded); !errors.Is(err, issuerapi.ErrBadRequest) {
		t.Fatalf("a five-digit second factor: %v", err)
	}
	cred.SecondFactor = f.box.last(t).Code
	sig, err := c.RequestToken(ctx, cred, blinded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := token.Finalize(st, sig); err != nil {
		t.Fatal(err)
	}
	// Too many codes: 429 with Retry-After.
	g := newSF(t, issuerapi.FactorEmail, nil)
	gsrv := httptest.NewServer(NewHandler(g.is, HandlerConfig{}))
	defer gsrv.Close()
	blinded2, _ := blind(t, newTokenKey(t))
	body, _ := json.Marshal(issuerapi.TokenRequest{VoterID: sfVoter, Code: g.codes[sfVoter], BlindedMsg: issuerapi.Base64.EncodeToString(blinded2)})
	var last *http.Response
	for range OTPMaxSends + 1 {
		g.clock.add(OTPCooldown)
		if last, err = http.Post(gsrv.URL+issuerapi.PathToken, "application/json", bytes.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		last.Body.Close()
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d sends: %d, Retry-After %q", OTPMaxSends+1, last.StatusCode, last.Header.Get("Retry-After"))
	}
}

// TestAttackTOTPManyAddresses: a holder of the enrolment code guesses the
// voter's TOTP code from 17 addresses in turn, so that each new address
// evicts the oldest back-off and none ever waits. The voter's cap holds
// across them: after TOTPMaxWrong wrong codes no code is tested, the
// right one neither (429 too_many_codes), until the help desk unlocks.
func TestAttackTOTPManyAddresses(t *testing.T) {
	f := newSF(t, "", nil)
	uri, err := f.is.EnrolTOTP(ctx, sfVoter, "evote test", "Mario")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(uri)
	secret := u.Query().Get("secret")
	blinded, _ := blind(t, newTokenKey(t))
	right, _ := totp.GenerateCode(secret, f.clock.now())
	tried := 0
	for i := range 3 * TOTPMaxWrong {
		wrong := []string{"000000", "111111", "222222"}[i%3]
		if wrong == right {
			continue
		}
		addr := "192.0.2." + strconv.Itoa(i%17)
		_, err := f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfVoter], SecondFactor: wrong}, blinded, addr)
		if errors.Is(err, ErrBadSecondFactor) {
			tried++
		}
	}
	if tried != TOTPMaxWrong {
		t.Fatalf("%d wrong TOTP codes tested from 17 addresses, want %d", tried, TOTPMaxWrong)
	}
	_, err = f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfVoter], SecondFactor: right}, blinded, "198.51.100.7")
	if sf := wantSF(t, err, ErrTooManyCodes); sf.RetryAfter <= 0 {
		t.Fatalf("capped with Retry-After %v", sf.RetryAfter)
	}
	if rec, _ := f.roll.Get(ctx, sfVoter); rec.Issued() {
		t.Fatal("a token was issued past the cap")
	}
	if err := f.is.Unlock(ctx, sfVoter); err != nil {
		t.Fatal(err)
	}
	if _, err := f.issue(t, sfVoter, right, blinded); err != nil {
		t.Fatalf("the right code after the help desk's unlock: %v", err)
	}
}

// TestAttackOTPFactorBound: a code sent by e-mail does not pass a replica
// on the same roll that asks for an SMS code, and five wrong tries do not
// buy five sends: the cool-down holds after a code is voided.
func TestAttackOTPFactorBound(t *testing.T) {
	f := newSF(t, issuerapi.FactorEmail, nil)
	sms, err := New(Config{ElectionID: testElection, Key: issuerKey(t), Roll: f.roll, SecondFactor: issuerapi.FactorSMS, Sender: f.box, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	blinded, _ := blind(t, newTokenKey(t))
	f.issue(t, sfVoter, "", blinded)
	code := f.box.last(t).Code
	_, err = sms.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfVoter], SecondFactor: code}, blinded, "192.0.2.1")
	wantSF(t, err, ErrBadSecondFactor)
	for _, w := range []string{"000001", "000002", "000003", "000004", "000005"} {
		f.issue(t, sfVoter, w, blinded)
	}
	sent := f.box.count()
	wantSF(t, firstErr(f.issue(t, sfVoter, "", blinded)), ErrSecondFactorRequired)
	if f.box.count() != sent {
		t.Fatal("a voided code bought a new send within the cool-down")
	}
}
