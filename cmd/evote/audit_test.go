package main

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// TestAudit audits a ballot sealed by a voter of an election served over
// HTTP (sim.StartSite): "evote audit" prints the fingerprint the booth
// showed (Ticket.Fingerprint) and the choices the ballot encrypts and
// exits 0; the same file claiming other choices, or with a changed scalar,
// exits 1 saying the ballot does NOT encrypt them; a file of another
// election's manifest, a malformed file and missing flags are refused.
func TestAudit(t *testing.T) {
	ctx := context.Background()
	colour := ballot.Question{ID: "colour", Text: "Favourite colours?", Choices: []string{"red", "green", "blue"}, Min: 1, Max: 2}
	s, err := sim.StartSite(ctx, sim.SiteOptions{
		Options: sim.Options{Dir: t.TempDir(), Issuer: electiontest.Issuer(t), Questions: []ballot.Question{sim.YesNo, colour}},
		Voters:  1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	mh := s.Board.Manifest().Hash()
	vc := &voter.Client{
		Issuer: issuerapi.NewClient(s.IssuerURL, nil), Board: boardapi.NewClient(s.BoardURL, nil),
		BoardKey: s.Verifier, ManifestHash: mh,
	}
	e, err := vc.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := voter.NewTicket(nil, e, s.Voters[0][0])
	if err != nil {
		t.Fatal(err)
	}
	if err := vc.GetToken(ctx, e, tk, s.Voters[0][1], ""); err != nil {
		t.Fatal(err)
	}
	if err := vc.Seal(e, tk, [][]int{{1}, {0, 2}}); err != nil {
		t.Fatal(err)
	}
	shown, err := tk.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	a, err := tk.Audit()
	if err != nil {
		t.Fatal(err)
	}
	if a.Fingerprint != shown {
		t.Fatalf("the audit names fingerprint %s, the booth showed %s", a.Fingerprint, shown)
	}
	dir := t.TempDir()
	write := func(name string, a *voter.Audit) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, a.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flags := []string{"--board", s.BoardURL, "--board-key", s.VKey, "--manifest", hex.EncodeToString(mh[:])}
	audit := func(file string, extra ...string) (string, string, int) {
		return evote(t, append(append([]string{"audit", file}, flags...), extra...)...)
	}

	out, errs, code := audit(write("audit.json", a))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"audited ballot, fingerprint " + a.Fingerprint,
		"compare the fingerprint and the choices above with what the booth showed",
		"Adopt the motion? (motion): no\n",
		"Favourite colours? (colour): red, blue\n",
		"this ballot encrypts exactly these choices; it was audited, so it must never be cast: the booth encrypts again",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the audit's report lacks %q:\n%s", want, out)
		}
	}

	// The booth showed "yes" but encrypted "no".
	lied := *a
	lied.Choices = [][]int{{0}, {0, 2}}
	out, errs, code = audit(write("lied.json", &lied))
	if code != 1 || !strings.Contains(out, "AUDIT FAILED") || !strings.Contains(out, "does NOT encrypt") || !strings.Contains(errs, `question "motion" choice 0 ("yes")`) || strings.Contains(out, "encrypts exactly") {
		t.Errorf("a booth that encrypted no and showed yes: exit %d\n%s%s", code, out, errs)
	}
	// One scalar changed (its lowest bit).
	changed, err := voter.ParseAudit(a.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := hex.DecodeString(changed.Opening[1][1])
	sc[0] ^= 1
	changed.Opening[1][1] = hex.EncodeToString(sc)
	out, errs, code = audit(write("changed.json", changed))
	if code != 1 || !strings.Contains(out, "does NOT encrypt") || !strings.Contains(errs, `"colour" choice 1 ("green")`) {
		t.Errorf("a changed scalar: exit %d\n%s%s", code, out, errs)
	}
	// A file that is not audit data, or another election's.
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(strings.Replace(string(a.Marshal()), `"version": 1`, `"version": 1, "cast": true`, 1)), 0o644)
	if out, errs, code := audit(bad); code != 1 || !strings.Contains(errs, "cast") {
		t.Errorf("an audit file with an unknown field: exit %d\n%s%s", code, out, errs)
	}
	other := *a
	other.ElectionID = strings.Repeat("ab", 32)
	if out, errs, code := audit(write("other.json", &other)); code != 1 || !strings.Contains(out, "AUDIT FAILED") || !strings.Contains(errs, "not this one") {
		t.Errorf("another election's audit: exit %d\n%s%s", code, out, errs)
	}
	// Usage: a file and the board are needed.
	for _, args := range [][]string{
		append([]string{"audit"}, flags...),
		{"audit", filepath.Join(dir, "audit.json"), "--board-key", s.VKey, "--manifest", hex.EncodeToString(mh[:])},
		{"audit", filepath.Join(dir, "audit.json"), "--board", s.BoardURL, "--board-key", s.VKey},
	} {
		if _, errs, code := evote(t, args...); code != 2 {
			t.Errorf("evote %s: exit %d, want 2\n%s", strings.Join(args, " "), code, errs)
		}
	}
}
