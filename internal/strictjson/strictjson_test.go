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
// a name given twice, at any depth, is refused, and the error names it (a
// name written with an escape is refused before it can be one: see
// TestEscapedNames).
func TestAttackDuplicateKeys(t *testing.T) {
	for _, tc := range []struct{ in, name string }{
		{`{"name":"a","name":"b","items":[]}`, `"name"`},
		{`{"name":"a","items":[],"items":[{"count":1}]}`, `"items"`},
		{`{"name":"a","items":[{"count":1,"count":2}]}`, `"count" appears twice in items[0]`},
		{`{"name":"a","items":[{"count":1},{"count":2,"count":3}]}`, `in items[1]`},
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

type keyed struct {
	Key  []byte `json:"key"`
	Note string `json:"note,omitzero"`
	Sub  *inner `json:"sub,omitempty"`
	Embedded
	Skip int `json:"-"`
}

// Embedded's fields are promoted into keyed, as encoding/json reads them.
type Embedded struct {
	Level int `json:"level"`
}

// Each rule of the package, with inputs it accepts and inputs it refuses,
// and what the refusal says.
func TestStrictRules(t *testing.T) {
	for _, in := range []string{
		`{"name":"a","items":[{"count":1}]}`,
		"\t{\n  \"name\": \"a\",\r\n  \"items\": [ { \"count\" : -7 } ]\n}\n",        // RFC 8259 white space anywhere
		`{"name":"\u0074\u00e9\ud83d\uddf3\"\\\/\b\f\n\r\t","items":[]}`,             // escapes in values, a surrogate pair
		`{"name":"a","items":[{"count":0},{"count":10},{"count":-1},{"count":120}]}`, // shortest-form integers
		`{"name":"a","items":[],"opt":"x"}`,                                          // an optional field present
	} {
		if err := Decode([]byte(in), &doc{}); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		// A byte-order mark, and white space RFC 8259 does not name.
		{"\xef\xbb\xbf{\"name\":\"a\",\"items\":[]}", "byte-order mark"},
		{"\u00a0{\"name\":\"a\",\"items\":[]}", "invalid character"},
		{"{\"name\":\"a\",\"items\":[]}\f", "trailing data"},
		{"", "empty"},
		{" \n", "empty"},
		// Names are spelt literally: no escape, however harmless.
		{`{"n\u0061me":"a","items":[]}`, `the field name "n\u0061me" in the top-level object is written with an escape`},
		{`{"name":"a","items":[{"\u0063ount":1}]}`, `"\u0063ount" in items[0] is written with an escape`},
		{`{"name":"a","items":[],"\u006fpt":"x"}`, "written with an escape"},
		{`{"na\/me":"a","items":[]}`, "written with an escape"},
		// No null, in a required field, an optional one or an array.
		{`{"name":null,"items":[]}`, "name is null"},
		{`{"name":"a","items":null}`, "items is null"},
		{`{"name":"a","items":[null]}`, "items[0] is null"},
		{`{"name":"a","items":[{"count":null}]}`, "items[0].count is null"},
		{`{"name":"a","items":[],"opt":null}`, "opt is null"},
		{`null`, "the value is null"},
		// Every field but the optional ones is present.
		{`{"items":[]}`, `field "name" is missing in the top-level object`},
		{`{"name":"a"}`, `field "items" is missing`},
		{`{"name":"a","items":[{}]}`, `field "count" is missing in items[0]`},
		{`{"name":"a","items":[{"count":1},{}]}`, `field "count" is missing in items[1]`},
		// Integers in shortest form only.
		{`{"name":"a","items":[{"count":-0}]}`, "items[0].count is -0, not an integer in its shortest form"},
		{`{"name":"a","items":[{"count":1.0}]}`, "is 1.0, not an integer"},
		{`{"name":"a","items":[{"count":1e0}]}`, "is 1e0, not an integer"},
		{`{"name":"a","items":[{"count":1E+1}]}`, "not an integer"},
		{`{"name":"a","items":[{"count":0.5}]}`, "not an integer"},
		{`{"name":"a","items":[{"count":01}]}`, "invalid character"},
		{`{"name":"a","items":[{"count":+1}]}`, "invalid character"},
		// Half a surrogate pair is no character.
		{`{"name":"\ud800","items":[]}`, `name holds the escape \ud800`},
		{`{"name":"\udc00\ud800","items":[]}`, `\udc00`},
		{`{"name":"\ud800\u0041","items":[]}`, `\ud800`},
		{`{"name":"a\uDBFF","items":[]}`, `\uDBFF`},
		// An optional field holding its empty value, and invalid UTF-8.
		{`{"name":"a","items":[],"opt":""}`, `field "opt" is not spelt as this format spells it`},
		{"{\"name\":\"a\xc3\",\"items\":[]}", "not UTF-8"},
		{"{\"name\":\"\xed\xa0\x80\",\"items\":[]}", "not UTF-8"}, // a surrogate in UTF-8
	} {
		err := Decode([]byte(tc.in), &doc{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// A []byte field is canonical base64, as encoding/json writes it: not
// without padding, with a line break, with nonzero unused bits or as an
// array of numbers (all but the first of which encoding/json accepts).
func TestBase64(t *testing.T) {
	for _, in := range []string{
		`{"key":"","level":0}`,
		`{"key":"AA==","level":1}`,
		`{"key":"AAE=","level":1}`,
		`{"key":"AAEC","level":1,"note":"n","sub":{"count":2}}`,
		`{"key":"\u0041\u0041\u003d\u003d","level":1}`, // escapes in the value: AA==
	} {
		var k keyed
		if err := Decode([]byte(in), &k); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{`{"key":"AA","level":1}`, "illegal base64"},
		{`{"key":"AAE","level":1}`, "illegal base64"},
		{`{"key":"AB==","level":1}`, "key is not canonical base64"},   // unused bits 0001
		{`{"key":"AAF=","level":1}`, "key is not canonical base64"},   // unused bits 01
		{`{"key":"AA\nAA","level":1}`, "key is not canonical base64"}, // encoding/json skips \n
		{`{"key":"AAA=\r\n","level":1}`, "key is not canonical base64"},
		{`{"key":[0,1],"level":1}`, "key must be a base64 string"},
		{`{"key":"-_8=","level":1}`, "illegal base64"}, // URL alphabet
		{`{"level":1}`, `field "key" is missing`},
		{`{"key":""}`, `field "level" is missing`}, // promoted from Embedded
		{`{"key":"","level":0,"sub":{}}`, `field "count" is missing in sub`},
		{`{"key":"","level":0,"Skip":1}`, `unknown field "Skip"`},
		{`{"key":"","level":0,"note":""}`, `field "note" is not spelt`},
	} {
		var k keyed
		err := Decode([]byte(tc.in), &k)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}

// DecodeTemplate lets a field outside every array be left out, and
// nothing else: a field inside an array element must still be given, and
// every other rule holds.
func TestDecodeTemplate(t *testing.T) {
	for _, in := range []string{`{}`, `{"name":"a"}`, `{"items":[]}`, `{"items":[{"count":1}]}`} {
		if err := DecodeTemplate([]byte(in), &doc{}); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	var k keyed
	if err := DecodeTemplate([]byte(`{"sub":{}}`), &k); err != nil {
		t.Errorf("a nested object outside any array, left empty: %v", err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"items":[{}]}`, `field "count" is missing in items[0]`},
		{`{"name":null}`, "name is null"},
		{`{"n\u0061me":"a"}`, "escape"},
		{`{"items":[{"count":-0}]}`, "-0"},
		{`{"name":"a","name":"a"}`, "twice"},
	} {
		err := DecodeTemplate([]byte(tc.in), &doc{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
}
