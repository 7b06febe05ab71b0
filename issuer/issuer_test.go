package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evote/evote/internal/ratelimit"
	"github.com/evote/evote/internal/service"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer/issuerapi"
)

var ctx = context.Background()

func TestIssuanceRoundTrip(t *testing.T) {
	f := newFixture(t, 3, nil, HandlerConfig{})
	info, err := f.client.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info.ElectionID, testElection) || !info.PublicKey.Equal(issuerKey(t).Public()) {
		t.Fatal("Info does not describe the issuer")
	}
	for _, id := range f.ids {
		tokenPub := newTokenKey(t)
		blinded, st, err := token.Blind(nil, info.PublicKey, info.ElectionID, tokenPub)
		if err != nil {
			t.Fatal(err)
		}
		// Voters type codes loosely: lower case, no dashes.
		code := strings.ToLower(strings.ReplaceAll(f.codes[id], "-", ""))
		sig, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: code}, blinded)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := token.Finalize(st, sig)
		if err != nil {
			t.Fatal(err)
		}
		if err := token.Verify(info.PublicKey, testElection, tokenPub, tok); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.is.Counts(ctx)
	if err != nil || c != (Counts{Eligible: 3, Issued: 3}) {
		t.Fatalf("Counts = %+v, %v; want 3 eligible, 3 issued", c, err)
	}

}

func TestSameBlindedMessageTwice(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	id := f.ids[0]
	blinded, st := blind(t, newTokenKey(t))
	sig1, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded)
	if err != nil {
		t.Fatal(err)
	}
	sig2, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded)
	if err != nil {
		t.Fatalf("repeating the same request (lost reply): %v", err)
	}
	if !bytes.Equal(sig1, sig2) {
		t.Fatal("the same blinded message got two different signatures")
	}
	if _, err := token.Finalize(st, sig2); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.is.Counts(ctx); c.Issued != 1 {
		t.Fatalf("issued = %d, want 1", c.Issued)
	}
}

func TestAttackIssuerSecondBlindedMessage(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	id := f.ids[0]
	b1, _ := blind(t, newTokenKey(t))
	b2, _ := blind(t, newTokenKey(t))
	if _, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, b1); err != nil {
		t.Fatal(err)
	}
	_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, b2)
	var apiErr *issuerapi.Error
	if !errors.Is(err, issuerapi.ErrAlreadyIssued) || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
		t.Fatalf("second blinded message: err = %v, want 409 ErrAlreadyIssued", err)
	}
	if !strings.Contains(apiErr.Message, "already issued") {
		t.Fatalf("409 message %q does not say what happened", apiErr.Message)
	}
}

func TestAttackIssuerConcurrentBlindedMessages(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	id := f.ids[0]
	const n = 16
	blinded := make([][]byte, n)
	for i := range blinded {
		blinded[i], _ = blind(t, newTokenKey(t))
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		wins     int
		conflict int
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded[i])
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, issuerapi.ErrAlreadyIssued):
				conflict++
			default:
				t.Errorf("request %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 || conflict != n-1 {
		t.Fatalf("%d requests with different blinded messages: %d signed, %d refused; want 1 and %d", n, wins, conflict, n-1)
	}

}

func TestAttackWrongCodeCounted(t *testing.T) {
	f := newFixture(t, 2, nil, HandlerConfig{})
	id, other := f.ids[0], f.ids[1]
	blinded, _ := blind(t, newTokenKey(t))
	// Another voter's valid code is a wrong code here.
	_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[other]}, blinded)
	if !errors.Is(err, issuerapi.ErrBadCredentials) {
		t.Fatalf("wrong code: err = %v, want 401", err)
	}
	rec, err := f.roll.Get(ctx, id)
	if err != nil || rec.Failures != 1 || rec.Issued() {
		t.Fatalf("after a wrong code: failures = %d, issued = %v, err = %v", rec.Failures, rec.Issued(), err)
	}
	if _, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded); err != nil {
		t.Fatalf("right code after one wrong one: %v", err)
	}
}

func TestAttackUnknownVoter(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	blinded, _ := blind(t, newTokenKey(t))
	code, _ := GenerateCode()
	_, errUnknown := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: "no-such-voter", Code: code}, blinded)
	_, errWrong := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: f.ids[0], Code: code}, blinded)
	var a, b *issuerapi.Error
	if !errors.As(errUnknown, &a) || !errors.As(errWrong, &b) {
		t.Fatalf("errors: %v, %v", errUnknown, errWrong)
	}
	if a.StatusCode != http.StatusUnauthorized || a.StatusCode != b.StatusCode || a.Message != b.Message {
		t.Fatalf("unknown voter (%d %q) is told apart from a wrong code (%d %q)", a.StatusCode, a.Message, b.StatusCode, b.Message)
	}
}

func TestAttackEnrolmentCodeBruteForce(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	id := f.ids[0]
	blinded, _ := blind(t, newTokenKey(t))
	// Many guesses in parallel from one address must not test more than
	// FreeFailures+1 codes: each attempt is counted in the roll before its
	// code is tested, and the last of them starts the address's wait.
	const guesses = 40
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tested int
	)
	for range guesses {
		wg.Go(func() {
			code, _ := GenerateCode()
			_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: code}, blinded)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, issuerapi.ErrBadCredentials):
				tested++ // tested, or not tested and answered alike
			default:
				t.Errorf("guess: %v", err)
			}
		})
	}
	wg.Wait()
	// Every wrong guess gets 401, tested or not: a stranger learns nothing
	// from the answers about whether the ID is on the roll. The roll
	// counted exactly the free failures and one: no more codes than that
	// were tested.
	if tested != guesses {
		t.Fatalf("%d parallel guesses: %d answered 401, want all", guesses, tested)
	}
	if rec, err := f.roll.Get(ctx, id); err != nil || rec.Failures != FreeFailures+1 {
		t.Fatalf("the roll counts %d failures (%v), want exactly %d", rec.Failures, err, FreeFailures+1)
	}

	// Waiting: even the right code from that address is refused,
	// untested, answered as a wrong code whose message says to wait or
	// ask the help desk.
	_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded)
	var apiErr *issuerapi.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || !strings.Contains(apiErr.Message, "help desk") {
		t.Fatalf("right code while waiting: %v, want 401 naming the help desk", err)
	}
	// The back-off is not logged: a line for a voter on the roll, and
	// none for an unknown ID, would tell the log's reader who is on it.
	if strings.Contains(f.logs.String(), "must wait") {
		t.Error("the back-off of a voter on the roll was logged")
	}
	if err := f.is.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, blinded); err != nil {
		t.Fatalf("right code after unlock: %v", err)
	}
	// The unlock is logged, but not whose it is.
	logs := f.logs.String()
	if !strings.Contains(logs, "unlocked") {
		t.Error("the unlock was not logged")
	}
	if strings.Contains(logs, id) {
		t.Errorf("the log names the voter locked out and unlocked, %q:\n%s", id, logs)
	}
}

func TestAttackRateLimit(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Unix(1_700_000_000, 0)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, 1, nil, HandlerConfig{Limits: service.Limits{RatePerSecond: 1, Burst: 3}, Now: clock})
	body := []byte(`{"voter_id":"x","code":"y","blinded_msg":"AA=="}`)
	for i := range 3 {
		if st, _ := post(t, f.srv.URL, "application/json", body); st == http.StatusTooManyRequests {
			t.Fatalf("request %d within the burst was limited", i)
		}
	}
	resp, err := http.Post(f.srv.URL+issuerapi.PathToken, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("4th request: %d Retry-After %q, want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	_, err = f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: "x", Code: "y"}, []byte{0})
	if !errors.Is(err, issuerapi.ErrRateLimited) {
		t.Fatalf("client error %v does not match ErrRateLimited", err)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if st, _ := post(t, f.srv.URL, "application/json", body); st == http.StatusTooManyRequests {
		t.Fatal("still limited after the bucket refilled")
	}
	// Another address has its own bucket.
	l := ratelimit.New(1, 1, clock)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first request of a refused")
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b limited by a's bucket")
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	id := f.ids[0]
	code := f.codes[id]
	blinded, _ := blind(t, newTokenKey(t))
	good := func(mut func(m map[string]any)) []byte {
		m := map[string]any{"voter_id": id, "code": code, "blinded_msg": issuerapi.Base64.EncodeToString(blinded)}
		if mut != nil {
			mut(m)
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name        string
		contentType string
		body        []byte
		status      int
		says        string
	}{
		{"no content type", "", good(nil), 415, "application/json"},
		{"text/plain", "text/plain", good(nil), 415, "application/json"},
		{"too large", "application/json", bytes.Repeat([]byte(" "), MaxRequestBytes+1), 413, "larger than"},
		{"too large value", "application/json", good(func(m map[string]any) { m["code"] = strings.Repeat("A", MaxRequestBytes) }), 413, "larger than"},
		{"empty body", "application/json", nil, 400, "not a token request"},
		{"not an object", "application/json", []byte(`[1,2]`), 400, "not a token request"},
		{"unknown field", "application/json", good(func(m map[string]any) { m["admin"] = true }), 400, "and no others"},
		{"trailing object", "application/json", append(good(nil), `{}`...), 400, "after the JSON object"},
		{"trailing garbage", "application/json", append(good(nil), `x`...), 400, "after the JSON object"},
		{"truncated JSON", "application/json", good(nil)[:20], 400, "not a token request"},
		{"wrong type", "application/json", good(func(m map[string]any) { m["code"] = 12 }), 400, "not a token request"},
		{"null", "application/json", []byte(`null`), 400, "voter_id is missing"},
		{"missing voter_id", "application/json", good(func(m map[string]any) { delete(m, "voter_id") }), 400, "voter_id is missing"},
		{"missing code", "application/json", good(func(m map[string]any) { delete(m, "code") }), 400, "code is missing"},
		{"missing blinded_msg", "application/json", good(func(m map[string]any) { delete(m, "blinded_msg") }), 400, "blinded_msg is missing"},
		{"bad base64", "application/json", good(func(m map[string]any) { m["blinded_msg"] = "!!!" }), 400, "base64"},
		{"unpadded base64", "application/json", good(func(m map[string]any) {
			m["blinded_msg"] = strings.TrimRight(issuerapi.Base64.EncodeToString(blinded[:10]), "=")
		}), 400, "base64"},
		{"short blinded_msg", "application/json", good(func(m map[string]any) { m["blinded_msg"] = issuerapi.Base64.EncodeToString(blinded[1:]) }), 400, "256"},
		{"blinded_msg above N", "application/json", good(func(m map[string]any) {
			m["blinded_msg"] = issuerapi.Base64.EncodeToString(bytes.Repeat([]byte{0xff}, len(blinded)))
		}), 400, "[1, N)"},
		{"malformed code", "application/json", good(func(m map[string]any) { m["code"] = "hunter2" }), 400, "not an enrolment code"},
		{"control char in voter_id", "application/json", good(func(m map[string]any) { m["voter_id"] = "a\nb" }), 400, "control character"},
	}
	for _, tc := range cases {
		st, body := post(t, f.srv.URL, tc.contentType, tc.body)
		var e issuerapi.ErrorResponse
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
			t.Errorf("%s: body %q is not a JSON error", tc.name, body)
		}
		if st != tc.status || !strings.Contains(e.Error, tc.says) {
			t.Errorf("%s: %d %q, want %d mentioning %q", tc.name, st, e.Error, tc.status, tc.says)
		}
	}
	// None of these spent an attempt or a token.
	rec, _ := f.roll.Get(ctx, id)
	if rec.Failures != 0 || rec.Issued() {
		t.Fatalf("bad requests changed the record: failures %d, issued %v", rec.Failures, rec.Issued())
	}
	// Methods and paths.
	for _, tc := range []struct{ method, path string }{
		{"GET", issuerapi.PathToken}, {"POST", issuerapi.PathInfo}, {"DELETE", issuerapi.PathToken},
	} {
		req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s, want a 405 JSON error", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, err := http.Get(f.srv.URL + "/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", resp.StatusCode)
	}
	// charset parameter is fine.
	if st, body := post(t, f.srv.URL, "application/json; charset=utf-8", good(nil)); st != 200 {
		t.Errorf("valid request with charset: %d %s", st, body)
	}
}

func TestPurge(t *testing.T) {
	roll := NewMemRoll()
	f := newFixture(t, 5, roll, HandlerConfig{})
	for _, id := range f.ids[:2] {
		b, _ := blind(t, newTokenKey(t))
		if _, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: f.codes[id]}, b); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.is.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{Eligible: 5, Issued: 2, Purged: true}) {
		t.Fatalf("Purge = %+v, want 5 eligible, 2 issued", c)
	}
	if c2, err := f.is.Purge(ctx); err != nil || c2 != c {
		t.Fatalf("second Purge = %+v, %v", c2, err)
	}
	b, _ := blind(t, newTokenKey(t))
	_, err = f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: f.ids[3], Code: f.codes[f.ids[3]]}, b)
	if !errors.Is(err, issuerapi.ErrPurged) {
		t.Fatalf("request after purge: %v, want 410 ErrPurged", err)
	}
	if _, err := f.client.Info(ctx); err != nil {
		t.Fatalf("Info after purge: %v", err)
	}
	if err := roll.Add(ctx, []RollEntry{{VoterID: "late"}}); !errors.Is(err, ErrPurged) {
		t.Fatalf("Add after purge: %v", err)
	}
}

func TestCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		c, err := GenerateCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 23 || c[5] != '-' || c[11] != '-' || c[17] != '-' {
			t.Fatalf("code %q is not four groups of five", c)
		}
		n, err := issuerapi.NormalizeCode(c)
		if err != nil || len(n) != issuerapi.CodeChars || seen[n] {
			t.Fatalf("issuerapi.NormalizeCode(%q) = %q, %v", c, n, err)
		}
		seen[n] = true
	}
	for in, want := range map[string]string{
		"abcde-fghjk-mnpqr-stvwx":      "ABCDEFGHJKMNPQRSTVWX",
		"ABCDE FGHJK MNPQR STVWX":      "ABCDEFGHJKMNPQRSTVWX",
		"oooooiiiiilllll00000":         "00000111111111100000",
		"0123456789abcdefghjkmnpqrs":   "",
		"ABCDE-FGHJK-MNPQR-STVWU":      "",
		"ABCDE-FGHJK-MNPQR-STVW":       "",
		"ABCDE-FGHJK-MNPQR-STVWXY":     "",
		"ABCDE-FGHJK-MNPQR-STVW\u00e9": "",
		"":                             "",
	} {
		got, err := issuerapi.NormalizeCode(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("issuerapi.NormalizeCode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	h, err := HashCode("abcde-fghjk-mnpqr-stvwx")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashCode("abcde-fghjk-mnpqr-stvwx")
	if bytes.Equal(h.Sum, h2.Sum) || bytes.Equal(h.Salt, h2.Salt) {
		t.Fatal("two hashes of one code share a salt")
	}
	if !h.Verify("ABCDEFGHJKMNPQRSTVWX") || h.Verify("ABCDEFGHJKMNPQRSTVWY") || h.Verify("bad") || (CodeHash{}).Verify("ABCDEFGHJKMNPQRSTVWX") {
		t.Fatal("Verify gives the wrong answer")
	}
}

func TestImportRoll(t *testing.T) {
	c1, _ := GenerateCode()
	c2, _ := GenerateCode()
	for _, tc := range []struct {
		name, csv, says string
	}{
		{"no header", "alice," + c1 + "\n", "header"},
		{"wrong header", "id,code\nalice," + c1 + "\n", "header"},
		{"empty", "", "header"},
		{"duplicate", "voter_id,enrolment_code\nalice," + c1 + "\nalice," + c2 + "\n", "line 3: voter is already on the roll"},
		{"bad code", "voter_id,enrolment_code\nalice," + c1 + "\nbob,password\n", "line 3: enrolment code"},
		{"empty id", "voter_id,enrolment_code\n," + c1 + "\n", "line 2: voter ID is empty"},
		{"three fields", "voter_id,enrolment_code\nalice," + c1 + ",x\n", "wrong number of fields"},
	} {
		roll := NewMemRoll()
		n, err := ImportRoll(ctx, roll, strings.NewReader(tc.csv))
		if err == nil || !strings.Contains(err.Error(), tc.says) || strings.Count(err.Error(), "issuer:") != 1 {
			t.Errorf("%s: ImportRoll = %d, %v; want an error saying %q", tc.name, n, err, tc.says)
		}
		if c, _ := roll.Counts(ctx); c.Eligible != 0 {
			t.Errorf("%s: failed import added %d voters", tc.name, c.Eligible)
		}
	}
	roll := NewMemRoll()
	n, err := ImportRoll(ctx, roll, strings.NewReader("\ufeffvoter_id,enrolment_code\r\nalice,"+c1+"\r\n\"bob smith\","+c2+"\r\n"))
	if err != nil || n != 2 {
		t.Fatalf("ImportRoll = %d, %v", n, err)
	}
	rec, err := roll.Get(ctx, "bob smith")
	if err != nil || !rec.Code.Verify(c2) {
		t.Fatalf("bob smith: %+v, %v", rec, err)
	}
	if _, err := ImportRoll(ctx, roll, strings.NewReader("voter_id,enrolment_code\nalice,"+c2+"\n")); !errors.Is(err, ErrDuplicateVoter) {
		t.Fatalf("re-import of alice: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for i, cfg := range []Config{
		{ElectionID: testElection[:31], Key: issuerKey(t), Roll: NewMemRoll()},
		{ElectionID: testElection, Roll: NewMemRoll()},
		{ElectionID: testElection, Key: issuerKey(t)},
		{ElectionID: testElection, Key: issuerKey(t), Roll: NewMemRoll(), SecondFactor: "carrier-pigeon"},
		{ElectionID: testElection, Key: issuerKey(t), Roll: NewMemRoll(), SecondFactor: issuerapi.FactorEmail}, // no Sender
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestInfoClientChecks(t *testing.T) {
	good := NewHandler(must(New(Config{ElectionID: testElection, Key: issuerKey(t), Roll: NewMemRoll()})), HandlerConfig{})
	for name, mut := range map[string]func(*issuerapi.InfoResponse){
		"wrong key id":      func(r *issuerapi.InfoResponse) { r.KeyID = strings.Repeat("0", 64) },
		"short election id": func(r *issuerapi.InfoResponse) { r.ElectionID = r.ElectionID[:62] },
		"other variant":     func(r *issuerapi.InfoResponse) { r.Variant = "RSABSSA-SHA384-PSS-Deterministic" },
		"garbage key":       func(r *issuerapi.InfoResponse) { r.PublicKey = "AAAA" },
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			good.ServeHTTP(rec, r)
			var info issuerapi.InfoResponse
			json.Unmarshal(rec.Body.Bytes(), &info)
			mut(&info)
			json.NewEncoder(w).Encode(info)
		}))
		if _, err := issuerapi.NewClient(srv.URL, nil).Info(ctx); err == nil {
			t.Errorf("%s: Info accepted it", name)
		}
		srv.Close()
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ExampleGenerateRoll() {
	csvData, err := GenerateRoll(2)
	if err != nil {
		panic(err)
	}
	roll := NewMemRoll()
	n, err := ImportRoll(context.Background(), roll, bytes.NewReader(csvData))
	fmt.Println(n, err, strings.SplitN(string(csvData), "\n", 2)[0])
	// Output: 2 <nil> voter_id,enrolment_code
}

// TestAttackRollMembershipByBackoff: a stranger sends wrong codes, more
// than the back-off lets be tested, for a voter ID on the roll and for one
// that is not. Every answer, status, code and message, is the same for
// both: the back-off does not tell the stranger that the first ID is on
// the roll. The voter's own right code from the stranger's address is not
// tested while it waits (so the back-off bounds the codes tested): it gets
// the same answer; from the voter's own address it passes, so a stranger
// cannot lock a member out.
func TestAttackRollMembershipByBackoff(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{Limits: service.Limits{RatePerSecond: -1}})
	blinded, _ := blind(t, newTokenKey(t))
	answers := func(id string) []string {
		var out []string
		for range FreeFailures + 8 {
			code, _ := GenerateCode()
			_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: code}, blinded)
			var e *issuerapi.Error
			if !errors.As(err, &e) {
				t.Fatalf("guess for %s: %v", id, err)
			}
			out = append(out, fmt.Sprintf("%d %s %s", e.StatusCode, e.Code, e.Message))
		}
		return out
	}
	// The public metrics too: what they count must not tell the two apart.
	metrics := func() map[string]float64 {
		resp, err := http.Get(f.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		m, err := service.ParseText(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	delta := func(id string) ([]string, map[string]float64) {
		before := metrics()
		out := answers(id)
		after, d := metrics(), map[string]float64{}
		for k, v := range after {
			if strings.Contains(k, "tokens_total") {
				d[k] = v - before[k]
			}
		}
		return out, d
	}
	known, mk := delta(f.ids[0])
	unknown, mu := delta("voter-999999")
	if !slices.Equal(known, unknown) {
		t.Fatalf("a stranger tells a voter on the roll from one that is not:\non the roll: %q\nnot on it:  %q", known, unknown)
	}
	for k := range mk {
		if mk[k] != mu[k] {
			t.Fatalf("the public metrics tell a voter on the roll from one that is not: %s went up by %v for one, %v for the other", k, mk[k], mu[k])
		}
	}
	_, err := f.client.RequestToken(ctx, issuerapi.Credentials{VoterID: f.ids[0], Code: f.codes[f.ids[0]]}, blinded)
	if !errors.Is(err, issuerapi.ErrBadCredentials) {
		t.Fatalf("the voter's right code from the waiting address: %v, want the wrong-code answer", err)
	}
	if _, err := f.is.Issue(ctx, issuerapi.Credentials{VoterID: f.ids[0], Code: f.codes[f.ids[0]]}, blinded, "198.51.100.23"); err != nil {
		t.Fatalf("the voter's right code from their own address while the stranger's waits: %v", err)
	}
}

// TestVoterIDSpellings: the roll keeps one spelling of each member's id
// (NormalizeVoterID), and a voter who types it in another case, with a
// zero-width space or in full-width letters, is the same voter and gets
// the token.
func TestVoterIDSpellings(t *testing.T) {
	f := newFixture(t, 2, nil, HandlerConfig{})
	id := f.ids[0] // "voter-000001"
	// The first gets the token; the others are the same voter asking for
	// a second (ErrAlreadyIssued), not strangers (ErrBadCredentials).
	for _, typed := range []string{strings.ToUpper(id), "\u200b" + id, "ＶＯＴＥＲ-000001"} {
		b, _ := blind(t, newTokenKey(t))
		if _, err := f.is.Issue(context.Background(), issuerapi.Credentials{VoterID: typed, Code: f.codes[id]}, b, ""); err != nil && !errors.Is(err, ErrAlreadyIssued) {
			t.Errorf("%q: %v", typed, err)
		}
	}
	// And an import of the roll with two spellings of one id refuses it.
	c1, _ := GenerateCode()
	c2, _ := GenerateCode()
	_, err := ImportRoll(context.Background(), NewMemRoll(), strings.NewReader("voter_id,enrolment_code\nRossi-1004,"+c1+"\nrossi-1004,"+c2+"\n"))
	if !errors.Is(err, ErrDuplicateVoter) {
		t.Errorf("two spellings of one id imported: %v", err)
	}
}
