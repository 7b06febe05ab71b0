package issuer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuer/issuerapi"
)

const adminTok = "help-desk-token-0123456789"

// adminFixture is newSF's issuer (sfVoter with an e-mail and a phone,
// sfNoMail with neither) logging to logs, served with the admin API when
// token is not empty.
type adminFixture struct {
	*sfFixture
	logs  *syncBuffer
	srv   *httptest.Server
	admin *issuerapi.AdminClient
}

func newAdmin(t *testing.T, factor, token string) *adminFixture {
	t.Helper()
	f := &adminFixture{sfFixture: newSF(t, factor, nil), logs: new(syncBuffer)}
	is, err := New(Config{ElectionID: testElection, Key: issuerKey(t), Roll: f.roll, SecondFactor: factor, Sender: f.box, Now: f.clock.now,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	f.is = is
	f.srv = httptest.NewServer(NewHandler(is, HandlerConfig{AdminToken: token, Limits: service.Limits{RatePerSecond: -1}}))
	t.Cleanup(f.srv.Close)
	f.admin = issuerapi.NewAdminClient(f.srv.URL, f.srv.Client(), token)
	return f
}

// raw sends a request to the fixture's server and returns the status and
// the body.
func (f *adminFixture) raw(t *testing.T, method, path, auth, contentType, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// snapshot is every entry and the counts, to show that nothing changed.
func (f *adminFixture) snapshot(t *testing.T, ids ...string) []any {
	t.Helper()
	var out []any
	for _, id := range ids {
		rec, err := f.roll.Get(ctx, id)
		out = append(out, rec, errors.Is(err, ErrUnknownVoter))
	}
	c, _ := f.roll.Counts(ctx)
	return append(out, c)
}

// noSecretsIn fails if s holds a voter ID, an enrolment code or a
// contact in clear.
func (f *adminFixture) noSecretsIn(t *testing.T, what, s string, extra ...string) {
	t.Helper()
	for _, x := range append([]string{sfVoter, sfNoMail, f.codes[sfVoter], f.codes[sfNoMail], sfEmail, "3331234567", "333 123 4567"}, extra...) {
		if x != "" && strings.Contains(s, x) {
			t.Errorf("%s holds %q:\n%s", what, x, s)
		}
	}
}

// TestAdminShow: the help desk sees a voter's wrong codes, the addresses
// that wait and until when (not the addresses), the second factor and its
// masked contact, the codes sent in the window, and whether a token was
// issued; never the token, the blinded message, a code or a contact in
// clear. A voter not on the roll is shown as such. Showing changes
// nothing.
func TestAdminShow(t *testing.T) {
	f := newAdmin(t, issuerapi.FactorEmail, adminTok)
	blinded, _ := blind(t, newTokenKey(t))
	for range FreeFailures + 1 {
		f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfNoMail]}, blinded, "198.51.100.7")
	}
	f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfNoMail]}, blinded, "203.0.113.9")
	f.issue(t, sfVoter, "", blinded) // a one-time code sent
	before := f.snapshot(t, sfVoter)
	st, err := f.admin.Voter(ctx, "ROSSI-1004")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.snapshot(t, sfVoter), before) {
		t.Fatal("show changed the roll")
	}
	tag, _ := f.is.VoterTag(sfVoter)
	now := f.clock.now()
	if !st.OnRoll || st.TokenIssued || st.WrongCodes != FreeFailures+2 || len(st.Addresses) != 2 || st.VoterTag != tag {
		t.Fatalf("state %+v", st)
	}
	if a := st.Addresses[0]; a.WrongCodes != FreeFailures+1 || a.WaitUntil == nil || !a.WaitUntil.Equal(now.Add(time.Second)) {
		t.Errorf("the waiting address: %+v", a)
	}
	if a := st.Addresses[1]; a.WrongCodes != 1 || a.WaitUntil != nil {
		t.Errorf("the other address: %+v", a)
	}
	if st.SecondFactor != issuerapi.FactorEmail || st.SentTo != "m•••@e•••.it" || st.Email != "m•••@e•••.it" || st.Phone != "•••• 4567" {
		t.Errorf("second factor %q to %q, email %q phone %q", st.SecondFactor, st.SentTo, st.Email, st.Phone)
	}
	if st.CodesSent != 1 || st.WindowEnds == nil || !st.WindowEnds.Equal(now.Add(OTPSendWindow)) || st.CodeExpires == nil || !st.CodeExpires.Equal(now.Add(OTPLifetime)) || st.TOTP {
		t.Errorf("codes: %+v", st)
	}

	// With the token issued: yes, and not a byte of it.
	sig, err := f.issue(t, sfVoter, f.box.last(t).Code, blinded)
	if err != nil {
		t.Fatal(err)
	}
	status, body := f.raw(t, "POST", issuerapi.PathAdminVoter, "Bearer "+adminTok, "application/json", `{"voter_id":"rossi-1004"}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var after issuerapi.VoterState
	json.Unmarshal(body, &after)
	if !after.TokenIssued || after.CodeExpires != nil {
		t.Fatalf("after issuance: %s", body)
	}
	f.noSecretsIn(t, "the state", string(body), issuerapi.Base64.EncodeToString(blinded), issuerapi.Base64.EncodeToString(sig), f.box.last(t).Code, "198.51.100.7", "203.0.113.9")

	// Not on the roll; with no contact (the factor's answer will be
	// no_second_factor).
	if st, err := f.admin.Voter(ctx, "nobody-1"); err != nil || st.OnRoll || st.VoterTag == "" || st.WrongCodes != 0 {
		t.Fatalf("not on the roll: %+v %v", st, err)
	}
	if st, err := f.admin.Voter(ctx, sfNoMail); err != nil || !st.OnRoll || st.SecondFactor != issuerapi.FactorEmail || st.SentTo != "" || st.Email != "" {
		t.Fatalf("no contact: %+v %v", st, err)
	}
}

// TestAdminUnlock: an address waiting after wrong codes has the voter's
// right code not tested; the help desk unlocks, and it passes. An unknown
// voter is 404 not_on_roll.
func TestAdminUnlock(t *testing.T) {
	f := newAdmin(t, "", adminTok)
	blinded, _ := blind(t, newTokenKey(t))
	for range FreeFailures + 1 {
		f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfNoMail]}, blinded, "192.0.2.1")
	}
	if _, err := f.issue(t, sfVoter, "", blinded); !errors.Is(err, ErrNotTested) {
		t.Fatalf("the right code from the waiting address: %v, want not tested", err)
	}
	st, err := f.admin.Unlock(ctx, sfVoter)
	if err != nil || st.WrongCodes != 0 || len(st.Addresses) != 0 {
		t.Fatalf("unlock: %+v %v", st, err)
	}
	if _, err := f.issue(t, sfVoter, "", blinded); err != nil {
		t.Fatalf("after the unlock: %v", err)
	}
	before := f.snapshot(t, "nobody-1")
	if _, err := f.admin.Unlock(ctx, "nobody-1"); !errors.Is(err, issuerapi.ErrNotOnRoll) {
		t.Fatalf("unlock of a voter not on the roll: %v", err)
	}
	if !reflect.DeepEqual(f.snapshot(t, "nobody-1"), before) {
		t.Fatal("the refused unlock changed the roll")
	}
}

// TestAdminAdd: a late member is added with a fresh code returned once,
// kept only as a hash; the code and the sealed contact work (a one-time
// code goes to the address given). Refused, with nothing changed: the same
// member again (in another spelling), a member without the contact the
// second factor needs, a malformed contact, and any member once a token was
// issued.
func TestAdminAdd(t *testing.T) {
	f := newAdmin(t, issuerapi.FactorEmail, adminTok)
	late := "verdi-3003"
	before := f.snapshot(t, late, sfVoter)
	for name, c := range map[string]struct {
		req  issuerapi.AdminAddRequest
		want error
	}{
		"duplicate":     {issuerapi.AdminAddRequest{VoterID: "Rossi-1004", Email: "x@example.org"}, issuerapi.ErrDuplicateVoter},
		"no e-mail":     {issuerapi.AdminAddRequest{VoterID: late, Phone: "+39 333 765 4321"}, issuerapi.ErrBadRequest},
		"bad e-mail":    {issuerapi.AdminAddRequest{VoterID: late, Email: "not an address"}, issuerapi.ErrBadRequest},
		"bad phone":     {issuerapi.AdminAddRequest{VoterID: late, Email: "v@example.org", Phone: "12"}, issuerapi.ErrBadRequest},
		"bad id":        {issuerapi.AdminAddRequest{VoterID: " ", Email: "v@example.org"}, issuerapi.ErrBadRequest},
		"control in id": {issuerapi.AdminAddRequest{VoterID: "a\x01b", Email: "v@example.org"}, issuerapi.ErrBadRequest},
	} {
		if out, err := f.admin.Add(ctx, c.req); !errors.Is(err, c.want) || out != nil {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if !reflect.DeepEqual(f.snapshot(t, late, sfVoter), before) {
			t.Fatalf("%s: the refused add changed the roll", name)
		}
	}

	out, err := f.admin.Add(ctx, issuerapi.AdminAddRequest{VoterID: "Verdi-3003", Email: "Lucia.Verdi@Example.IT", Lang: "Italiano"})
	if err != nil {
		t.Fatal(err)
	}
	if tag, _ := f.is.VoterTag(late); out.VoterID != late || out.VoterTag != tag {
		t.Fatalf("added %+v", out)
	}
	rec, err := f.roll.Get(ctx, late)
	if err != nil || rec.Contact == nil || bytes.Contains(rec.Contact, []byte("Verdi")) || rec.Code.Verify(f.codes[sfVoter]) || !rec.Code.Verify(out.Code) {
		t.Fatalf("the late member's entry: %+v %v", rec, err)
	}
	if c, _ := f.roll.Counts(ctx); c.Eligible != 3 {
		t.Fatalf("counts %+v", c)
	}
	blinded, _ := blind(t, newTokenKey(t))
	_, err = f.is.Issue(ctx, issuerapi.Credentials{VoterID: late, Code: out.Code}, blinded, "192.0.2.5")
	wantSF(t, err, ErrSecondFactorRequired)
	if m := f.box.last(t); m.To != "Lucia.Verdi@example.it" || m.Lang != "it" {
		t.Fatalf("the one-time code went to %q in %q", m.To, m.Lang)
	}
	if _, err := f.is.Issue(ctx, issuerapi.Credentials{VoterID: late, Code: out.Code, SecondFactor: f.box.last(t).Code}, blinded, "192.0.2.5"); err != nil {
		t.Fatalf("the late member's token: %v", err)
	}

	// A token is issued: the roll takes no one else.
	before = f.snapshot(t, "bruno-4004", late)
	if _, err := f.admin.Add(ctx, issuerapi.AdminAddRequest{VoterID: "bruno-4004", Email: "b@example.org"}); !errors.Is(err, issuerapi.ErrIssuanceStarted) {
		t.Fatalf("an add after issuance: %v", err)
	}
	if !reflect.DeepEqual(f.snapshot(t, "bruno-4004", late), before) {
		t.Fatal("the refused add changed the roll")
	}
	f.noSecretsIn(t, "the log", f.logs.String(), late, "Verdi", "verdi", out.Code, "bruno-4004")
}

// TestAdminResend: the issuer's yes to an invitation sent again is the
// voter's state; no to a voter not on the roll or one with a token (a new
// invitation cannot help them). Each is logged.
func TestAdminResend(t *testing.T) {
	f := newAdmin(t, "", adminTok)
	if st, err := f.admin.Resend(ctx, "Rossi-1004"); err != nil || !st.OnRoll {
		t.Fatalf("resend: %+v %v", st, err)
	}
	if _, err := f.admin.Resend(ctx, "nobody-1"); !errors.Is(err, issuerapi.ErrNotOnRoll) {
		t.Fatalf("resend to a voter not on the roll: %v", err)
	}
	blinded, _ := blind(t, newTokenKey(t))
	if _, err := f.issue(t, sfVoter, "", blinded); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.Resend(ctx, sfVoter); !errors.Is(err, issuerapi.ErrTokenIssued) {
		t.Fatalf("resend to a voter with a token: %v", err)
	}
	logs := f.logs.String()
	for _, o := range []string{"allowed", "not_on_roll", "token_issued"} {
		if !strings.Contains(logs, `"action":"resend","outcome":"`+o+`"`) {
			t.Errorf("no resend line with outcome %s:\n%s", o, logs)
		}
	}
	f.noSecretsIn(t, "the log", logs, "nobody-1")
}

// TestAttackAdminWithoutToken: with the admin API on, a request without
// the token, with a wrong one, with the token in another header or
// scheme, to every admin path and whatever its method or body, is 401
// unauthorized, the same bytes for a voter on the roll and one not, and
// changes nothing: the waiting address still waits, no late member is
// added. The log says an operator action was refused, with no voter in it.
func TestAttackAdminWithoutToken(t *testing.T) {
	f := newAdmin(t, "", adminTok)
	blinded, _ := blind(t, newTokenKey(t))
	for range FreeFailures + 1 {
		f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfNoMail]}, blinded, "192.0.2.1")
	}
	before := f.snapshot(t, sfVoter, "late-1")
	var first []byte
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "bearer " + adminTok, "Basic " + adminTok, "Bearer " + adminTok + "x", "Bearer " + adminTok[:len(adminTok)-1], adminTok} {
		for _, path := range []string{issuerapi.PathAdminVoter, issuerapi.PathAdminUnlock, issuerapi.PathAdminAdd, issuerapi.PathAdminTag, issuerapi.PathAdminResend} {
			for _, body := range []string{`{"voter_id":"` + sfVoter + `"}`, `{"voter_id":"nobody-1"}`, `{"voter_id":"late-1","email":"l@example.org"}`, `not json`} {
				for _, method := range []string{"POST", "GET"} {
					status, got := f.raw(t, method, path, auth, "application/json", body)
					if status != http.StatusUnauthorized {
						t.Fatalf("%s %s with %q: %d %s", method, path, auth, status, got)
					}
					if first == nil {
						first = got
					} else if !bytes.Equal(got, first) {
						t.Fatalf("%s %s with %q and %s: answered %s, another request %s", method, path, auth, body, got, first)
					}
				}
			}
		}
	}
	var e issuerapi.ErrorResponse
	if json.Unmarshal(first, &e); e.Code != issuerapi.CodeUnauthorized {
		t.Fatalf("answered %s", first)
	}
	if _, err := issuerapi.NewAdminClient(f.srv.URL, f.srv.Client(), "wrong").Unlock(ctx, sfVoter); !errors.Is(err, issuerapi.ErrUnauthorized) {
		t.Fatalf("the client with a wrong token: %v", err)
	}
	if !reflect.DeepEqual(f.snapshot(t, sfVoter, "late-1"), before) {
		t.Fatal("a request without the token changed the roll")
	}
	if _, err := f.issue(t, sfVoter, "", blinded); !errors.Is(err, ErrNotTested) {
		t.Fatalf("the waiting address no longer waits: %v", err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "operator action refused") || strings.Contains(logs, "voter_tag") {
		t.Fatalf("log:\n%s", logs)
	}
	f.noSecretsIn(t, "the log", logs, "nobody-1", "late-1", adminTok)
}

// TestAttackAdminOff: without an admin token the admin API is not there:
// each of its paths, with a token or not, answers exactly what an unknown
// path does (404), for a voter on the roll and one not, and changes
// nothing.
func TestAttackAdminOff(t *testing.T) {
	f := newAdmin(t, "", "")
	blinded, _ := blind(t, newTokenKey(t))
	for range FreeFailures + 1 {
		f.is.Issue(ctx, issuerapi.Credentials{VoterID: sfVoter, Code: f.codes[sfNoMail]}, blinded, "192.0.2.1")
	}
	before := f.snapshot(t, sfVoter, "late-1")
	status, unknown := f.raw(t, "POST", "/v1/nothing-here", "", "application/json", `{}`)
	if status != http.StatusNotFound {
		t.Fatalf("an unknown path: %d", status)
	}
	for _, auth := range []string{"", "Bearer " + adminTok, "Bearer "} {
		for _, path := range []string{issuerapi.PathAdminVoter, issuerapi.PathAdminUnlock, issuerapi.PathAdminAdd, issuerapi.PathAdminTag, issuerapi.PathAdminResend, "/v1/admin/", "/v1/admin"} {
			for _, body := range []string{`{"voter_id":"` + sfVoter + `"}`, `{"voter_id":"nobody-1"}`, `{"voter_id":"late-1","email":"l@example.org"}`} {
				status, got := f.raw(t, "POST", path, auth, "application/json", body)
				if status != http.StatusNotFound || !bytes.Equal(got, unknown) {
					t.Fatalf("%s with %q: %d %s, want the unknown path's %s", path, auth, status, got, unknown)
				}
			}
		}
	}
	if _, err := f.admin.Voter(ctx, sfVoter); !errors.Is(err, issuerapi.ErrNotFound) {
		t.Fatalf("the client: %v", err)
	}
	if !reflect.DeepEqual(f.snapshot(t, sfVoter, "late-1"), before) {
		t.Fatal("a request to the absent admin API changed the roll")
	}
}

// TestAdminRequests: the admin API's own refusals with the token: a GET
// (405), a body not JSON (415), unknown fields or data after the object
// (400); a purged roll (410).
func TestAdminRequests(t *testing.T) {
	f := newAdmin(t, "", adminTok)
	auth := "Bearer " + adminTok
	for name, c := range map[string]struct {
		method, ct, body string
		status           int
		code             string
	}{
		"GET":           {"GET", "application/json", `{"voter_id":"a"}`, 405, issuerapi.CodeMethodNotAllowed},
		"text":          {"POST", "text/plain", `{"voter_id":"a"}`, 415, issuerapi.CodeUnsupportedType},
		"unknown field": {"POST", "application/json", `{"voter_id":"a","code":"x"}`, 400, issuerapi.CodeBadRequest},
		"trailing data": {"POST", "application/json", `{"voter_id":"a"} {}`, 400, issuerapi.CodeBadRequest},
		"no voter":      {"POST", "application/json", `{}`, 400, issuerapi.CodeBadRequest},
		"too large":     {"POST", "application/json", `{"voter_id":"` + strings.Repeat("a", MaxRequestBytes) + `"}`, 413, issuerapi.CodeTooLarge},
	} {
		status, body := f.raw(t, c.method, issuerapi.PathAdminVoter, auth, c.ct, c.body)
		var e issuerapi.ErrorResponse
		if json.Unmarshal(body, &e); status != c.status || e.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", name, status, body, c.status, c.code)
		}
	}
	if _, err := f.is.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.Voter(ctx, sfVoter); !errors.Is(err, issuerapi.ErrPurged) {
		t.Fatalf("show after purge: %v", err)
	}
	if _, err := f.admin.Add(ctx, issuerapi.AdminAddRequest{VoterID: "late-1"}); !errors.Is(err, issuerapi.ErrPurged) {
		t.Fatalf("add after purge: %v", err)
	}
}

// TestAdminLog: every admin action is one Info line "operator action"
// with the action, the outcome and the voter's tag, which the package's
// VoterTag computes from the issuing key alone for any spelling of the
// ID; no line holds a voter ID, a code, a contact or a token.
func TestAdminLog(t *testing.T) {
	f := newAdmin(t, issuerapi.FactorEmail, adminTok)
	f.admin.Voter(ctx, sfVoter)
	f.admin.Unlock(ctx, "ROSSI-1004")
	f.admin.Voter(ctx, "nobody-1")
	out, err := f.admin.Add(ctx, issuerapi.AdminAddRequest{VoterID: "verdi-3003", Email: "lucia@example.it", Phone: "+39 333 999 8888"})
	if err != nil {
		t.Fatal(err)
	}
	f.admin.Add(ctx, issuerapi.AdminAddRequest{VoterID: "verdi-3003", Email: "lucia@example.it"})
	tagged, _ := f.admin.Tag(ctx, "Rossi-1004")
	want, _ := VoterTag(issuerKey(t), "rossi-1004")
	if tagged != want {
		t.Fatalf("the API's tag %q, VoterTag's %q", tagged, want)
	}
	type line struct {
		Level, Msg, Action, Outcome string
		Tag                         string `json:"voter_tag"`
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var x line
		if json.Unmarshal([]byte(l), &x) == nil && x.Msg == "operator action" {
			got = append(got, x)
		}
	}
	nobody, _ := VoterTag(issuerKey(t), "nobody-1")
	verdi, _ := VoterTag(issuerKey(t), "verdi-3003")
	wantLines := []line{
		{"INFO", "operator action", actShow, "shown", want},
		{"INFO", "operator action", actUnlock, "unlocked", want},
		{"INFO", "operator action", actShow, "not_on_roll", nobody},
		{"INFO", "operator action", actAdd, "added", verdi},
		{"INFO", "operator action", actAdd, "duplicate", verdi},
		{"INFO", "operator action", actTag, "tagged", want},
	}
	if !reflect.DeepEqual(got, wantLines) {
		t.Fatalf("operator lines:\n%+v\nwant\n%+v\nlog:\n%s", got, wantLines, f.logs)
	}
	f.noSecretsIn(t, "the log", f.logs.String(), "nobody", "verdi", "lucia", "9998888", out.Code)
}

// TestAttackAdminTokenGuessing: a stranger guessing the admin token is held
// to the address's rate as its token requests are: 429 with Retry-After
// beyond the burst, and no more tries reach the token check.
func TestAttackAdminTokenGuessing(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{Limits: service.Limits{RatePerSecond: 1, Burst: 5}, AdminToken: "the-help-desk-token-4f1c9a"})
	limited := 0
	for i := range 20 {
		req, _ := http.NewRequest("POST", f.srv.URL+issuerapi.PathAdminVoter, strings.NewReader(`{"voter_id":"voter-000001"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer guess-"+strconv.Itoa(i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		case http.StatusUnauthorized:
		default:
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	if limited < 10 {
		t.Fatalf("%d of 20 guesses at a burst of 5 were rate-limited", limited)
	}
}
