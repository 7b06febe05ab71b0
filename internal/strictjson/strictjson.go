// Package strictjson decodes JSON the way every evote entry must be read,
// so that one byte string is one entry to every reader and an entry has no
// second spelling a reader would take for it:
//
//   - UTF-8 (RFC 8259 §8.1), with no byte-order mark;
//   - one JSON value, with RFC 8259 white space (space, tab, line feed,
//     carriage return) before, after and between its tokens and nothing
//     else after it;
//   - field names spelt exactly as the target type spells them
//     (encoding/json alone would take "Ballots" for "ballots"), with no
//     escape in a name ("\u0074itle" is refused, not read as "title"), and
//     no name twice in one object (encoding/json keeps the last of two
//     "counts", another reader the first);
//   - no unknown field, and every field of the target struct that is not
//     omitempty or omitzero present (a missing "min" is refused, not read
//     as 0); an optional field, when present, does not hold its empty value;
//   - no null anywhere (it would read as the zero value, as a missing field
//     would);
//   - every number an integer in its shortest form: -?(0|[1-9][0-9]*),
//     and not -0 (no fraction, no exponent: 1.0 and 1e0 are refused);
//   - no \u escape of half a surrogate pair without its other half
//     (encoding/json reads it as U+FFFD);
//   - a []byte field is a string of canonical base64: RFC 4648 §4, the
//     standard alphabet with padding, nothing else in it (encoding/json
//     alone skips line breaks, ignores nonzero unused bits in the last
//     character and takes an array of numbers too).
//
// Escapes in string values are allowed: "\u0041" is "A" (a manifest
// written by encoding/json escapes <, > and &).
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decode decodes b into v strictly (see the package documentation).
func Decode(b []byte, v any) error { return decode(b, v, true) }

// DecodeTemplate is Decode for a file that other input completes (such as
// the manifest `evote election init --from` starts from): a field outside
// every array may be left out; inside an array (a question of a manifest)
// every required field must be given. Every other rule of Decode holds.
func DecodeTemplate(b []byte, v any) error { return decode(b, v, false) }

var bom = []byte("\xef\xbb\xbf")

func decode(b []byte, v any, complete bool) error {
	if bytes.HasPrefix(b, bom) {
		return errors.New("the JSON text begins with a byte-order mark (EF BB BF): JSON is written without one (RFC 8259 §8.1); remove it")
	}
	// encoding/json reads bytes that are not UTF-8 as U+FFFD; another
	// reader may keep them or refuse: refuse.
	if !utf8.Valid(b) {
		return errors.New("not UTF-8: JSON text is UTF-8 (RFC 8259 §8.1)")
	}
	if len(bytes.Trim(b, " \t\n\r")) == 0 {
		return errors.New("empty: want a JSON value")
	}
	if !json.Valid(b) {
		// Let the decoder say what is wrong and where.
		dec := json.NewDecoder(bytes.NewReader(b))
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		return errors.New("trailing data after the JSON value: only space, tab, line feed and carriage return may follow it")
	}
	// b is now one valid JSON value (of bounded depth: the scanner refuses
	// deeper nesting), so the scan below cannot fail for want of syntax.
	s := scanner{b: b}
	in, err := s.value("")
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Every name in the input must appear, spelt the same, when v is
	// encoded again.
	var out any
	again, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(again, &out); err != nil {
		return err
	}
	if err := sameNames(in, out, ""); err != nil {
		return err
	}
	return checkType(in, reflect.TypeOf(v), "", complete, false)
}

// scanner walks a JSON text already known to be valid, refusing what
// encoding/json accepts but this package does not, and returns the value
// as encoding/json's generic form would (map[string]any, []any, string,
// bool; numbers as json.Number).
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) value(path string) (any, error) {
	s.ws()
	switch c := s.b[s.i]; c {
	case '{':
		return s.object(path)
	case '[':
		return s.array(path)
	case '"':
		return s.str(path)
	case 't':
		s.i += len("true")
		return true, nil
	case 'f':
		s.i += len("false")
		return false, nil
	case 'n':
		return nil, fmt.Errorf("%s is null: no value may be null; leave an optional field out, give a required one its value", what(path))
	default:
		return s.number(path)
	}
}

func (s *scanner) object(path string) (any, error) {
	s.i++ // {
	obj := map[string]any{}
	for {
		s.ws()
		if s.b[s.i] == '}' {
			s.i++
			return obj, nil
		}
		if s.b[s.i] == ',' {
			s.i++
			s.ws()
		}
		start := s.i
		end, escaped, err := s.skipString(path)
		if err != nil {
			return nil, err
		}
		raw := s.b[start:end]
		if escaped {
			return nil, fmt.Errorf("the field name %s%s is written with an escape: a field name is spelt literally, with no \\ in it (names are compared as written)", printable(raw), inObject(path))
		}
		k := string(raw[1 : len(raw)-1])
		if _, dup := obj[k]; dup {
			return nil, fmt.Errorf("field %q appears twice%s: a JSON object names each field once (readers differ on which of the two counts); remove one", k, inObject(path))
		}
		s.ws()
		s.i++ // :
		v, err := s.value(path + segment(k))
		if err != nil {
			return nil, err
		}
		obj[k] = v
	}
}

func (s *scanner) array(path string) (any, error) {
	s.i++ // [
	arr := []any{}
	for {
		s.ws()
		switch s.b[s.i] {
		case ']':
			s.i++
			return arr, nil
		case ',':
			s.i++
		}
		v, err := s.value(fmt.Sprintf("%s[%d]", path, len(arr)))
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
}

func (s *scanner) str(path string) (any, error) {
	start := s.i
	end, escaped, err := s.skipString(path)
	if err != nil {
		return nil, err
	}
	raw := s.b[start:end]
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var out string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// skipString moves past the string at s.i and returns where it ends,
// whether it holds an escape, and an error for an escape of half a
// surrogate pair.
func (s *scanner) skipString(path string) (end int, escaped bool, err error) {
	s.i++ // "
	for {
		switch s.b[s.i] {
		case '"':
			s.i++
			return s.i, escaped, nil
		case '\\':
			escaped = true
			if s.b[s.i+1] != 'u' {
				s.i += 2
				continue
			}
			r := hex4(s.b[s.i+2 : s.i+6])
			switch {
			case r >= 0xd800 && r < 0xdc00:
				if s.i+12 <= len(s.b) && s.b[s.i+6] == '\\' && s.b[s.i+7] == 'u' {
					if lo := hex4(s.b[s.i+8 : s.i+12]); lo >= 0xdc00 && lo < 0xe000 {
						s.i += 12
						continue
					}
				}
				return 0, false, loneSurrogate(path, s.b[s.i:s.i+6])
			case r >= 0xdc00 && r < 0xe000:
				return 0, false, loneSurrogate(path, s.b[s.i:s.i+6])
			}
			s.i += 6
		default:
			s.i++
		}
	}
}

func loneSurrogate(path string, esc []byte) error {
	return fmt.Errorf("%s holds the escape %s, half of a surrogate pair without its other half, which is no character (encoding/json reads it as U+FFFD); escape a character beyond U+FFFF as both halves, or write it in UTF-8", what(path), esc)
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b), 16, 16) // valid JSON: 4 hex digits
	return rune(n)
}

func (s *scanner) number(path string) (any, error) {
	start := s.i
	for s.i < len(s.b) && strings.IndexByte("+-0123456789.eE", s.b[s.i]) >= 0 {
		s.i++
	}
	raw := string(s.b[start:s.i])
	// JSON already refuses leading zeros (01) and a plus sign.
	if strings.ContainsAny(raw, ".eE") || raw == "-0" {
		return nil, fmt.Errorf("%s is %s, not an integer in its shortest form: write integers in decimal with no fraction, exponent or sign on zero (1, not 1.0 or 1e0; 0, not -0)", what(path), raw)
	}
	return json.Number(raw), nil
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// custom reports whether t decodes itself, so that its JSON form is its
// own business.
func custom(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType) ||
		reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// checkType checks the parsed input in against the type t it was decoded
// into: every required field of a struct present (when complete, or inside
// an array), and every []byte canonical base64.
func checkType(in any, t reflect.Type, path string, complete, inArray bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if custom(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := in.(map[string]any)
		if !ok {
			return nil
		}
		for _, f := range jsonFields(t) {
			v, ok := obj[f.name]
			if !ok {
				if !f.optional && (complete || inArray) {
					return fmt.Errorf("field %q is missing%s: every field not marked optional must be given (a missing field is not read as 0, \"\" or empty); add it", f.name, inObject(path))
				}
				continue
			}
			if err := checkType(v, f.typ, path+segment(f.name), complete, inArray); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return checkBase64(in, path)
		}
		arr, _ := in.([]any)
		for i, v := range arr {
			if err := checkType(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), complete, true); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, _ := in.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if err := checkType(obj[k], t.Elem(), path+segment(k), complete, inArray); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkBase64 requires a []byte's JSON form to be a string of canonical
// standard base64 with padding: the one encoding/json writes.
func checkBase64(in any, path string) error {
	s, ok := in.(string)
	if !ok {
		return fmt.Errorf("%s must be a base64 string, not an array of numbers", what(path))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return fmt.Errorf("%s is not canonical base64: write it in the standard alphabet (RFC 4648 §4) with = padding, with no line break, space or other character in it, and the unused bits of its last character zero", what(path))
	}
	return nil
}

type field struct {
	name     string
	typ      reflect.Type
	optional bool
}

// jsonFields lists the fields encoding/json reads into a value of struct
// type t: exported fields under their tag's name (or their own), with the
// fields of an untagged embedded struct promoted; a field tagged "-" is
// none, and one tagged omitempty or omitzero is optional.
func jsonFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && !custom(et) {
				out = append(out, jsonFields(et)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := false
		for _, o := range strings.Split(opts, ",") {
			optional = optional || o == "omitempty" || o == "omitzero"
		}
		out = append(out, field{name: name, typ: ft, optional: optional})
	}
	return out
}

func sameNames(in, out any, path string) error {
	switch a := in.(type) {
	case map[string]any:
		b, _ := out.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(a)) {
			w, ok := b[k]
			if !ok {
				return fmt.Errorf("field %q%s is not spelt as this format spells it (names are case-sensitive), or holds its empty default (leave it out)", k, at(path))
			}
			if err := sameNames(a[k], w, path+segment(k)); err != nil {
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

// printable returns b with every byte outside printable ASCII written as
// \xNN, so that an error never prints what a terminal would act on.
func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			fmt.Fprintf(&sb, "\\x%02x", c)
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// what names the value at path: "questions[0].min", or "the value" at the
// top.
func what(path string) string {
	if path == "" {
		return "the value"
	}
	return strings.TrimPrefix(path, ".")
}

func inObject(path string) string {
	if path == "" {
		return " in the top-level object"
	}
	return " in " + strings.TrimPrefix(path, ".")
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimPrefix(path, ".")
}
