package issuerapi

import (
	"strings"
	"testing"
)

func FuzzNormalizeCode(f *testing.F) {
	f.Add("7XQ2M-K9D4T-0HVB3-RWE8N")
	f.Add("oil")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeCode(s)
		if err != nil {
			return
		}
		if len(n) != CodeChars || strings.Trim(n, CodeAlphabet) != "" {
			t.Fatalf("NormalizeCode(%q) = %q", s, n)
		}
		if again, err := NormalizeCode(n); err != nil || again != n {
			t.Fatalf("not idempotent: %q -> %q, %v", n, again, err)
		}
	})
}
