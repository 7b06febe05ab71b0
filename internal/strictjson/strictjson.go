// Package strictjson decodes JSON the way every evote entry must be read:
// one value, no unknown fields, nothing after it, and field names spelt
// exactly (encoding/json alone would take "Ballots" for "ballots", so two
// different byte strings would mean the same entry).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Decode decodes b into v strictly.
func Decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	// Every name in the input must appear, spelt the same, when v is
	// encoded again.
	var in, out any
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	again, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(again, &out); err != nil {
		return err
	}
	return sameNames(in, out, "")
}

func sameNames(in, out any, path string) error {
	switch a := in.(type) {
	case map[string]any:
		b, _ := out.(map[string]any)
		for k, v := range a {
			w, ok := b[k]
			if !ok {
				return fmt.Errorf("field %q%s is not spelt as this format spells it (names are case-sensitive), or holds its empty default (leave it out)", k, at(path))
			}
			if err := sameNames(v, w, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		b, _ := out.([]any)
		for i := range a {
			if i < len(b) {
				if err := sameNames(a[i], b[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path[1:]
}
