package service

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseText reads the Prometheus text format as WriteText writes it and
// returns each sample's value by its series, "name" or
// `name{label="value",...}` exactly as written. It checks that every sample
// follows a # TYPE line of its family; tests and probes use it.
func ParseText(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	typed := map[string]string{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if s == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(s, "# "); ok {
			f := strings.SplitN(rest, " ", 3)
			if len(f) < 3 || (f[0] != "HELP" && f[0] != "TYPE") {
				continue
			}
			if f[0] == "TYPE" {
				switch f[2] {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					return nil, fmt.Errorf("line %d: unknown type %q", line, f[2])
				}
				typed[f[1]] = f[2]
			}
			continue
		}
		i := strings.LastIndexByte(s, ' ')
		if i < 0 {
			return nil, fmt.Errorf("line %d: no value: %q", line, s)
		}
		series, val := s[:i], s[i+1:]
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q: %v", line, val, err)
		}
		name := series
		if j := strings.IndexByte(series, '{'); j >= 0 {
			if !strings.HasSuffix(series, "}") {
				return nil, fmt.Errorf("line %d: unterminated labels: %q", line, series)
			}
			name = series[:j]
		}
		fam := name
		if _, ok := typed[fam]; !ok {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && typed[b] == "histogram" {
					fam = b
				}
			}
		}
		if _, ok := typed[fam]; !ok {
			return nil, fmt.Errorf("line %d: sample %q has no # TYPE line", line, name)
		}
		if _, dup := out[series]; dup {
			return nil, fmt.Errorf("line %d: series %q twice", line, series)
		}
		out[series] = v
	}
	return out, sc.Err()
}
