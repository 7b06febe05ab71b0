package service

import (
	"bytes"
	"testing"
)

// TestGaugeFuncVec writes one series per key, read at each scrape, and
// none when the function cannot tell.
func TestGaugeFuncVec(t *testing.T) {
	var r Registry
	phase, ok := "open", true
	r.GaugeFuncVec("evote_test_phase", "Phase.", "phase", func() (map[string]float64, bool) {
		m := map[string]float64{"ceremony": 0, "open": 0, "closed": 0}
		m[phase] = 1
		return m, ok
	})
	scrape := func() map[string]float64 {
		t.Helper()
		var buf bytes.Buffer
		r.WriteText(&buf)
		m, err := ParseText(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := scrape()
	for k, v := range map[string]float64{`evote_test_phase{phase="ceremony"}`: 0, `evote_test_phase{phase="open"}`: 1, `evote_test_phase{phase="closed"}`: 0} {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	phase = "closed"
	if m := scrape(); m[`evote_test_phase{phase="closed"}`] != 1 || m[`evote_test_phase{phase="open"}`] != 0 {
		t.Errorf("not read again at the second scrape: %v", m)
	}
	ok = false
	if m := scrape(); len(m) != 0 {
		t.Errorf("written though it could not tell: %v", m)
	}
}
