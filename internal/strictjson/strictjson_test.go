package strictjson

import "testing"

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
	} {
		if err := Decode([]byte(bad), &doc{}); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
