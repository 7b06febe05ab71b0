package issuer

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/evote/evote/issuer/issuerapi"
)

// rollState is everything the roll stores about the fixture's voters.
func rollState(t *testing.T, f *fixture) (Counts, []RollEntry) {
	t.Helper()
	c, err := f.roll.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var recs []RollEntry
	for _, id := range f.ids {
		r, err := f.roll.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return c, recs
}

// refuseRequest posts body and checks the reply has status want, a JSON
// error containing wantMsg, and that the roll did not change: no token
// issued, no failure counted.
func refuseRequest(t *testing.T, f *fixture, what, contentType string, body []byte, want int, wantMsg string) {
	t.Helper()
	c0, r0 := rollState(t, f)
	st, reply := post(t, f.srv.URL, contentType, body)
	var er issuerapi.ErrorResponse
	if err := json.Unmarshal([]byte(reply), &er); err != nil || er.Error == "" {
		t.Errorf("%s: %d reply %.80q is not a JSON error", what, st, reply)
	}
	if st != want || !strings.Contains(er.Error, wantMsg) {
		t.Errorf("%s: got %d %q, want %d and an error with %q", what, st, er.Error, want, wantMsg)
	}
	c1, r1 := rollState(t, f)
	if c0 != c1 || !reflect.DeepEqual(r0, r1) {
		t.Fatalf("%s: refused, but the roll changed: %+v -> %+v", what, c0, c1)
	}
}

// validRequest is a token request with the right code for the fixture's
// first voter, which the issuer would sign.
func validRequest(t *testing.T, f *fixture) (issuerapi.TokenRequest, []byte) {
	blinded, _ := blind(t, newTokenKey(t))
	id := f.ids[0]
	req := issuerapi.TokenRequest{VoterID: id, Code: f.codes[id], BlindedMsg: base64.StdEncoding.EncodeToString(blinded)}
	b, _ := json.Marshal(req)
	return req, b
}

// TestAttackOversizedTokenRequest: a token request over MaxRequestBytes,
// however it is padded, is refused with 413 and issues nothing, even with
// the right code.
func TestAttackOversizedTokenRequest(t *testing.T) {
	roll := NewMemRoll()
	f := newFixture(t, 2, roll, HandlerConfig{})
	req, valid := validRequest(t, f)
	pad := func(n int) string { return strings.Repeat(" ", n) }
	for name, body := range map[string][]byte{
		"whitespace before":   append([]byte(pad(MaxRequestBytes)), valid...),
		"long voter id":       []byte(fmt.Sprintf(`{"voter_id":%q,"code":%q,"blinded_msg":%q}`, strings.Repeat("a", MaxRequestBytes), req.Code, req.BlindedMsg)),
		"long blinded_msg":    []byte(fmt.Sprintf(`{"voter_id":%q,"code":%q,"blinded_msg":%q}`, req.VoterID, req.Code, strings.Repeat("A", 2*MaxRequestBytes))),
		"whitespace after":    append(bytes.Clone(valid), pad(MaxRequestBytes)...),
		"10 MB":               bytes.Repeat([]byte("["), 10<<20),
		"huge string, no end": []byte(`{"voter_id":"` + strings.Repeat("x", 1<<20)),
	} {
		refuseRequest(t, f, name, "application/json", body, http.StatusRequestEntityTooLarge, "larger than")
	}
	// The valid request itself is signed: the refusals were about size.
	if st, reply := post(t, f.srv.URL, "application/json", valid); st != http.StatusOK {
		t.Fatalf("the valid request: %d %s", st, reply)
	}
}

// TestAttackDeeplyNestedJSON: deeply nested arrays and objects in place
// of a field, or as the whole body, within and beyond the size limit, are
// refused (400 or 413) without reaching the roll.
func TestAttackDeeplyNestedJSON(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	req, _ := validRequest(t, f)
	nest := func(open, close string, depth int) string {
		return strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth)
	}
	for _, depth := range []int{100, 1000, 1900, 100000} {
		for name, body := range map[string]string{
			"arrays as voter_id":  fmt.Sprintf(`{"voter_id":%s,"code":%q,"blinded_msg":%q}`, nest("[", "]", depth), req.Code, req.BlindedMsg),
			"objects as code":     fmt.Sprintf(`{"voter_id":%q,"code":%s,"blinded_msg":%q}`, req.VoterID, nest(`{"a":`, "}", depth), req.BlindedMsg),
			"arrays as the body":  nest("[", "]", depth),
			"objects as the body": nest(`{"voter_id":`, "}", depth),
		} {
			want := http.StatusBadRequest
			if len(body) > MaxRequestBytes {
				want = http.StatusRequestEntityTooLarge
			}
			refuseRequest(t, f, fmt.Sprintf("%s, depth %d", name, depth), "application/json", []byte(body), want, "")
		}
	}
}

// TestAttackWrongContentTypeIssuer: a token request that is not
// application/json is refused with 415 before anything is read, even with
// the right code: no token, no failure counted.
func TestAttackWrongContentTypeIssuer(t *testing.T) {
	f := newFixture(t, 1, nil, HandlerConfig{})
	_, valid := validRequest(t, f)
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/octet-stream", "application/jsonx", "application/json/x", "text/json", "application/json; charset=\""} {
		refuseRequest(t, f, "content type "+ct, ct, valid, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	// And the wrong method.
	resp, err := http.Get(f.srv.URL + issuerapi.PathToken)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET %s: %d, want 405", issuerapi.PathToken, resp.StatusCode)
	}
}

// TestAttackGarbageTokenRequest: empty, truncated, trailing, mistyped and
// malformed token requests, several with the right code, are refused with
// 400 and a message; the roll does not change (no token issued and, for a
// request that never reached the code check, no failure counted).
func TestAttackGarbageTokenRequest(t *testing.T) {
	roll := NewMemRoll()
	f := newFixture(t, 2, roll, HandlerConfig{})
	req, valid := validRequest(t, f)
	with := func(field, value string) []byte {
		m := map[string]any{"voter_id": req.VoterID, "code": req.Code, "blinded_msg": req.BlindedMsg}
		m[field] = json.RawMessage(value)
		b, _ := json.Marshal(m)
		return b
	}
	modulus := issuerKey(t).Public().Size()
	for name, body := range map[string][]byte{
		"empty":                  nil,
		"null":                   []byte("null"),
		"a string":               []byte(`"hello"`),
		"truncated":              valid[:len(valid)-1],
		"half":                   valid[:len(valid)/2],
		"trailing object":        append(bytes.Clone(valid), "{}"...),
		"trailing garbage":       append(bytes.Clone(valid), "x"...),
		"two requests":           append(bytes.Clone(valid), valid...),
		"unknown field":          []byte(`{"voter_id":"a","code":"b","blinded_msg":"AA==","admin":true}`),
		"voter_id a number":      with("voter_id", "12"),
		"code an array":          with("code", `["x"]`),
		"blinded_msg not base64": with("blinded_msg", `"!!!!"`),
		"blinded_msg unpadded":   with("blinded_msg", fmt.Sprintf("%q", strings.TrimRight(req.BlindedMsg, "="))+""),
		"blinded_msg URL base64": with("blinded_msg", fmt.Sprintf("%q", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, modulus)))),
		"blinded_msg short":      with("blinded_msg", fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(make([]byte, 10)))),
		"blinded_msg ≥ modulus":  with("blinded_msg", fmt.Sprintf("%q", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, modulus)))),
		"blinded_msg empty":      with("blinded_msg", `""`),
		"voter_id missing":       []byte(fmt.Sprintf(`{"code":%q,"blinded_msg":%q}`, req.Code, req.BlindedMsg)),
		"voter_id with NUL":      with("voter_id", fmt.Sprintf("%q", req.VoterID+"\x00")),
		"code malformed":         with("code", `"not-a-code"`),
	} {
		refuseRequest(t, f, name, "application/json", body, http.StatusBadRequest, "")
	}
	// Invalid UTF-8 in the voter ID decodes to U+FFFD: an unknown voter
	// (401, after the same slow hash as a known one), nothing stored.
	refuseRequest(t, f, "invalid UTF-8 voter_id", "application/json",
		[]byte("{\"voter_id\":\"\xff\xfe\",\"code\":\""+req.Code+"\",\"blinded_msg\":\""+req.BlindedMsg+"\"}"),
		http.StatusUnauthorized, "wrong")
	if st, reply := post(t, f.srv.URL, "application/json", valid); st != http.StatusOK {
		t.Fatalf("the valid request after the garbage: %d %s", st, reply)
	}
}
