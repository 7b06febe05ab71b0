package strictjson

import (
	"strings"
	"testing"
)

type inner struct {
	Count int `json:"count"`
}

type doc struct {
	Name  string  `json:"name"`
	Items []inner `json:"items"`
	Opt   string  `json:"opt,omitempty"`
}

func TestDecode(t *testing.T) {
	var d doc
	if err := Decode([]byte(`{"name":"a","items":[{"count":1}]}`), &d); err != nil || d.Items[0].Count != 1 {
		t.Fatalf("valid input: %v %+v", err, d)
	}
	for _, bad := range []string{
		`{"Name":"a","items":[]}`,
		`{"name":"a","items":[{"Count":1}]}`,
		`{"name":"a","items":[],"extra":1}`,
		`{"name":"a","items":[]} {}`,
		`{"name":"a","items":[]}x`,
		`[`,
		"{\"name\":\"a\xff\",\"items\":[]}",
	} {
		if err := Decode([]byte(bad), &doc{}); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// Two readers of one byte string must read one entry: encoding/json keeps
// the last of two same-named fields, another reader may keep the first, so
// a name given twice, at any depth and however escaped, is refused, and
// the error names it.
func TestAttackDuplicateKeys(t *testing.T) {
	for _, tc := range []struct{ in, name string }{
		{`{"name":"a","name":"b","items":[]}`, `"name"`},
		{`{"name":"a","items":[],"items":[{"count":1}]}`, `"items"`},
		{`{"name":"a","items":[{"count":1,"count":2}]}`, `"count" appears twice in items[0]`},
		{`{"name":"a","items":[{"count":1},{"count":2,"count":3}]}`, `in items[1]`},
		{`{"name":"a","n\u0061me":"b","items":[]}`, `"name"`},
		{`{"name":"a","items":[],"opt":"x","opt":"x"}`, `"opt"`},
	} {
		var d doc
		err := Decode([]byte(tc.in), &d)
		if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: error %v, want one containing %s and saying twice", tc.in, err, tc.name)
		}
	}
	// Duplicates inside a value decoded as any are refused too.
	var m map[string]any
	if err := Decode([]byte(`{"a":{"b":[{"c":1,"c":1}]}}`), &m); err == nil || !strings.Contains(err.Error(), `"c" appears twice in a.b[0]`) {
		t.Errorf("nested duplicate in a map: %v", err)
	}
	// The same name in different objects is no duplicate.
	var d doc
	if err := Decode([]byte(`{"name":"a","items":[{"count":1},{"count":2}]}`), &d); err != nil {
		t.Errorf("one name in two objects: %v", err)
	}
}
