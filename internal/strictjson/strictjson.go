// Package strictjson decodes JSON the way every evote entry must be read:
// UTF-8, one value, no unknown fields, no name twice in one object, nothing
// after it, and field names spelt exactly (encoding/json alone would take
// "Ballots" for "ballots", and keep the last of two "counts", so two
// different byte strings would mean the same entry, or one byte string two
// entries to two readers).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decode decodes b into v strictly.
func Decode(b []byte, v any) error {
	// encoding/json reads bytes that are not UTF-8 as U+FFFD; another
	// reader may keep them or refuse: refuse.
	if !utf8.Valid(b) {
		return errors.New("not UTF-8: JSON text is UTF-8 (RFC 8259 §8.1)")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	// b is now known to be one valid JSON value (of bounded depth: the
	// decoder refuses deeper nesting), so walking its tokens cannot fail
	// for want of syntax.
	if err := noDuplicates(b); err != nil {
		return err
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

// noDuplicates refuses an object, at any depth, that names one field twice
// (compared after JSON unescaping, so "a" and "\u0061" are the same name):
// encoding/json keeps the last, other readers the first, and the two would
// read different entries from the same bytes.
func noDuplicates(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return walk(dec, "")
}

func walk(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if seen[k] {
				return fmt.Errorf("field %q appears twice%s: a JSON object names each field once (readers differ on which of the two counts); remove one", k, inObject(path))
			}
			seen[k] = true
			if err := walk(dec, path+segment(k)); err != nil {
				return err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := walk(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	default:
		return nil
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func inObject(path string) string {
	if path == "" {
		return " in the top-level object"
	}
	return " in " + strings.TrimPrefix(path, ".")
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
			if err := sameNames(v, w, path+segment(k)); err != nil {
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

// segment is how a path names field k: .k, or ["k"] quoted when k is not
// a plain name (so a path never prints raw control characters).
func segment(k string) string {
	for _, r := range k {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Sprintf("[%q]", k)
		}
	}
	return "." + k
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(path, ".")
}
