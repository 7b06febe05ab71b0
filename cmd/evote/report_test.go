package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// TestReportCommand runs a demo election, writes its report, and checks
// the exit codes: 0 for a verified record, 1 (with a report saying so and
// no result) for a tampered one or another election's manifest, 2 for a
// usage mistake.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	if out, errs, code := evote(t, "demo", "--voters", "6", "--dir", dir, "--seed", "7"); code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	rec, vkey, man := filepath.Join(dir, "record.evr"), filepath.Join(dir, "board.vkey"), filepath.Join(dir, "manifest.json")
	html := filepath.Join(dir, "report.html")
	out, errs, code := evote(t, "report", rec, "--board-key", vkey, "--manifest", man, "--out", html, "--cosigner", "witness.example+abcd1234")
	if code != 0 || !strings.Contains(out, "verified:") {
		t.Fatalf("report: exit %d\n%s%s", code, out, errs)
	}
	page := string(mustRead(t, html))
	for _, w := range []string{"Verificato", "Verified", "evote verify record.evr --board-key board.vkey --manifest ", "witness.example&#43;abcd1234",
		"uguale al manifesto pubblicato", `<td class="num count">`} {
		if !strings.Contains(page, w) {
			t.Errorf("the report lacks %q", w)
		}
	}

	// Another election's manifest: exit 1, a report that shows no result.
	other := strings.Repeat("ab", 32)
	if _, _, code := evote(t, "report", rec, "--board-key", vkey, "--manifest", other, "--out", html); code != 1 {
		t.Errorf("another election's manifest: exit %d, want 1", code)
	}
	if page := string(mustRead(t, html)); !strings.Contains(page, "NOT VERIFIED") || strings.Contains(page, `<td class="num count">`) {
		t.Error("the report of a record of another election does not say it fails, or shows a result")
	}

	// A tampered record: exit 1.
	b := mustRead(t, rec)
	b[len(b)/2] ^= 1
	bad := filepath.Join(dir, "bad.evr")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := evote(t, "report", bad, "--board-key", vkey, "--out", html); code != 1 {
		t.Errorf("a tampered record: exit %d, want 1", code)
	}
	if page := string(mustRead(t, html)); !strings.Contains(page, "NON VERIFICATO") || strings.Contains(page, `<td class="num count">`) {
		t.Error("the tampered record's report does not say it fails, or shows a result")
	}

	// Usage mistakes: exit 2.
	for _, args := range [][]string{
		{"report", rec, "--out", html},
		{"report", rec, "--board-key", vkey},
		{"report", "page", "--board-key", vkey},
	} {
		if _, _, code := evote(t, args...); code != 2 {
			t.Errorf("evote %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}

func TestVerifierKeyOf(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "board.example.org/e1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := verifierKeyOf([]byte(skey + "\n"))
	if err != nil || got != vkey {
		t.Fatalf("verifierKeyOf = %q, %v; want %q", got, err, vkey)
	}
	for _, bad := range []string{vkey, "PRIVATE+KEY+x", skey[:len(skey)-4] + "AAAA", strings.Replace(skey, "+", "+0", 3)} {
		if _, err := verifierKeyOf([]byte(bad)); err == nil {
			t.Errorf("verifierKeyOf(%q) succeeded", bad)
		}
	}
}
