package strictjson

import (
	"encoding/json"
	"testing"
)

// FuzzDecode checks Decode never panics, accepts only one valid JSON
// value, and that what it accepts encodes back to JSON it accepts again
// with the same meaning.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"ballots":3,"counts":[[2,1]]}`))
	f.Add([]byte(`{"ballots":3,"Ballots":4}`))
	f.Add([]byte(`{"ballots":3} {}`))
	f.Add([]byte(`{"ballots":3}]`))
	f.Add([]byte(`{"name":"\u00e9","tags":["a"],"sub":{"x":1}}`))
	// Duplicate names (refused), at the top, nested, escaped.
	f.Add([]byte(`{"counts":[[2,1]],"ballots":3,"counts":[[1,2]]}`))
	f.Add([]byte(`{"sub":{"x":1,"x":2}}`))
	f.Add([]byte(`{"name":"a","n\u0061me":"b"}`))
	f.Add([]byte(`{"tags":["a"],"sub":{"x":1},"sub":{"x":1}}`))
	// Escaped names, null, numbers not in shortest integer form, a
	// byte-order mark, half a surrogate pair, a missing required field,
	// non-canonical base64 (all refused), and white space (accepted).
	f.Add([]byte(`{"n\u0061me":"a"}`))
	f.Add([]byte(`{"sub":{"\u0078":1}}`))
	f.Add([]byte(`{"name":null}`))
	f.Add([]byte(`{"tags":[null]}`))
	f.Add([]byte(`{"ballots":-0}`))
	f.Add([]byte(`{"ballots":1.0}`))
	f.Add([]byte(`{"ballots":1e0}`))
	f.Add([]byte("\xef\xbb\xbf{\"ballots\":3}"))
	f.Add([]byte(`{"name":"\ud800"}`))
	f.Add([]byte(`{"name":"\ud83d\uddf3"}`))
	f.Add([]byte(`{"sub":{}}`))
	f.Add([]byte(`{"key":"AAE="}`))
	f.Add([]byte(`{"key":"AAF="}`))
	f.Add([]byte(`{"key":"AA\nAA"}`))
	f.Add([]byte(`{"key":[0,1]}`))
	f.Add([]byte(" {\n\t\"ballots\" : 3\r\n}\n"))
	type sub struct {
		X int `json:"x"`
	}
	type value struct {
		Ballots uint64     `json:"ballots,omitempty"`
		Counts  [][]uint64 `json:"counts,omitempty"`
		Name    string     `json:"name,omitempty"`
		Tags    []string   `json:"tags,omitempty"`
		Sub     *sub       `json:"sub,omitempty"`
		Key     []byte     `json:"key,omitempty"`
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v value
		if err := Decode(b, &v); err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var w value
		if err := Decode(again, &w); err != nil {
			t.Fatalf("re-encoding %q of accepted %q is refused: %v", again, b, err)
		}
		if again2, _ := json.Marshal(w); string(again2) != string(again) {
			t.Fatalf("meaning changed: %s then %s", again, again2)
		}
	})
}
