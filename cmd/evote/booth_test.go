package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/booth/boothapi"
	"github.com/evote/evote/internal/electiontest"
)

// TestServedBoothChecked: board serve --booth refuses a booth it cannot
// serve, saying which and how to rebuild it: one for another election,
// one that would ask the board itself for tokens, one built to reach a
// board elsewhere, and a directory with no booth.
func TestServedBoothChecked(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	m := e.Board.Manifest()
	h := m.Hash()
	page := func(c boothapi.Config) string {
		dir := t.TempDir()
		b, _ := json.Marshal(c)
		os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<!doctype html><script type="application/json" id="evote-config">`+string(b)+`</script>`), 0o644)
		return dir
	}
	good := boothapi.Config{Version: 1, ManifestHash: hex.EncodeToString(h[:]), Issuer: "https://issuer.example.org"}
	if err := checkServedBooth(page(good), m); err != nil {
		t.Fatalf("a good booth: %v", err)
	}
	other, noIssuer, elsewhere := good, good, good
	other.ManifestHash = strings.Repeat("0", 64)
	noIssuer.Issuer = ""
	elsewhere.Board = "https://board.example.org"
	for name, c := range map[string]struct {
		dir  string
		want string
	}{
		"another election": {page(other), "another election"},
		"no issuer":        {page(noIssuer), "--issuer URL"},
		"board elsewhere":  {page(elsewhere), "without --board"},
		"no booth":         {t.TempDir(), "evote booth build"},
	} {
		err := checkServedBooth(c.dir, m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}

// TestBoothLinkChecksTheCode: a link is never printed with a code that
// cannot be one; a good one rides in the fragment.
func TestBoothLinkChecksTheCode(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	mf := filepath.Join(t.TempDir(), "manifest.json")
	os.WriteFile(mf, e.Board.Manifest().Bytes(), 0o644)
	_, stderr, code := evote(t, "booth", "link", "--booth", "https://vote.example.org/", "--manifest", mf, "--voter-id", "m-1", "--code", "S4RAD")
	if code != 2 || !strings.Contains(stderr, "enrolment code must be 20 characters") {
		t.Errorf("a short code: exit %d, %s", code, stderr)
	}
	out, _, code := evote(t, "booth", "link", "--booth", "https://vote.example.org/", "--manifest", mf, "--voter-id", "m-1", "--code", "7XQ2M-K9D4T-0HVB3-RWE8N")
	if code != 0 || !strings.Contains(out, "#c=7XQ2M-K9D4T-0HVB3-RWE8N&e=") || !strings.Contains(out, "&v=m-1") {
		t.Errorf("a good code: exit %d, %s", code, out)
	}
}
