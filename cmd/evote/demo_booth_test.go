package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/booth/boothapi"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
)

// TestDemoBooth runs "evote demo --booth": once the 3 simulated voters have
// cast, it prints the booth's address, which serves the booth's page under
// its policy, and 2 invitation links naming the roll's last two voters with
// their codes. One of them votes through the link's voter ID and code over
// HTTP, as the booth's worker does; then the test interrupts the command,
// which closes the election, tallies 4 ballots, says 1 came through the
// booth, verifies the record and exits 0.
func TestDemoBooth(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("building the booth needs the go command")
	}
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errs := &syncWriter{}, &syncWriter{}
	root := newRoot(out, errs)
	root.SetArgs([]string{"demo", "--booth", "--voters", "3", "--links", "2", "--src", src, "--dir", dir, "--seed", "7"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	// The booth is built (half a minute cold) and the simulated voters
	// cast; then the address and the links.
	deadline := time.After(120 * time.Second)
	for !strings.Contains(out.String(), "press Ctrl-C") {
		select {
		case err := <-done:
			t.Fatalf("evote demo --booth ended before the booth opened: %v\nstdout:\n%s\nstderr:\n%s", err, out, errs)
		case <-deadline:
			cancel()
			t.Fatalf("evote demo --booth printed no booth address in 120 s\nstdout:\n%s\nstderr:\n%s", out, errs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	printed := out.String()
	t.Log(printed)
	m := regexp.MustCompile(`the booth is open at (http://127\.0\.0\.1:\d+/)\n`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("no booth address in:\n%s", printed)
	}
	boothURL := m[1]
	if !strings.Contains(printed, "check a receipt at "+boothURL+"#check") {
		t.Errorf("no check page address in:\n%s", printed)
	}

	// The booth's page, under its Content-Security-Policy.
	resp, err := http.Get(boothURL)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="evote-config"`) {
		t.Fatalf("GET %s: %s, not the booth's page:\n%.500s", boothURL, resp.Status, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("the booth is served with Content-Security-Policy %q", csp)
	}
	cm := regexp.MustCompile(`(?s)<script type="application/json" id="evote-config">(.*?)</script>`).FindSubmatch(page)
	if cm == nil {
		t.Fatal("no configuration in the booth's page")
	}
	var cfg boothapi.Config
	if err := json.Unmarshal(cm[1], &cfg); err != nil {
		t.Fatal(err)
	}
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := ballot.ParseManifest(mb)
	if err != nil {
		t.Fatal(err)
	}
	eid := hex.EncodeToString(manifest.ID())
	if cfg.ElectionID != eid || cfg.Board != "" || !strings.HasPrefix(cfg.Issuer, "http://127.0.0.1:") {
		t.Fatalf("the booth's configuration: election %s, board %q, issuer %q", cfg.ElectionID, cfg.Board, cfg.Issuer)
	}

	// The links: the roll's voters 4 and 5 (after the 3 simulated ones),
	// each with its code in the fragment and typed out below it.
	var invs []*booth.Invitation
	for _, line := range strings.Split(printed, "\n") {
		if l, ok := strings.CutPrefix(line, "  "+boothURL+"#"); ok {
			inv, err := booth.ParseLink(boothURL + "#" + l)
			if err != nil {
				t.Fatalf("printed link %q: %v", line, err)
			}
			invs = append(invs, inv)
		}
	}
	if len(invs) != 2 {
		t.Fatalf("%d links printed, want 2:\n%s", len(invs), printed)
	}
	for i, inv := range invs {
		if want := fmt.Sprintf("voter-%06d", 4+i); inv.VoterID != want || inv.ElectionID != eid || inv.Code == "" {
			t.Errorf("link %d: %+v, want voter %s of election %s with a code", i, inv, want, eid)
		}
		if typed := fmt.Sprintf("    or type: voter ID %s, code %s\n", inv.VoterID, inv.Code); !strings.Contains(printed, typed) {
			t.Errorf("no line %q", typed)
		}
	}

	// Voter 4 votes with the link's ID and code, through the services the
	// booth's page names.
	key, err := ops.BoardKey(filepath.Join(dir, "board.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	vc := &voter.Client{Issuer: issuerapi.NewClient(cfg.Issuer, nil), Board: boardapi.NewClient(strings.TrimSuffix(boothURL, "/"), nil), BoardKey: key, ManifestHash: manifest.Hash()}
	rc, err := vc.Vote(ctx, invs[0].VoterID, invs[0].Code, [][]int{{0}})
	if err != nil {
		t.Fatalf("voting with the link's voter ID and code: %v", err)
	}
	if _, err := vc.CheckReceipt(ctx, rc); err != nil {
		t.Errorf("the receipt: %v", err)
	}

	// Ctrl-C: close, tally, export, verify.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("evote demo --booth: %v (exit 1)\nstdout:\n%s\nstderr:\n%s", err, out, errs)
		}
	case <-time.After(120 * time.Second):
		t.Fatalf("evote demo --booth did not finish within 120 s of the interrupt\nstdout:\n%s\nstderr:\n%s", out, errs)
	}
	final := out.String()
	t.Log(final[len(printed):])
	for _, want := range []string{"4 ballots counted", "1 ballot came through the booth (4 counted, minus the 3 the simulated voters cast)", "every count is at least theirs", "verified: every check holds"} {
		if !strings.Contains(final, want) {
			t.Errorf("the report lacks %q:\n%s", want, final)
		}
	}
	if strings.Contains(final, "matches what the voters cast") {
		t.Errorf("the report claims a match it cannot check:\n%s", final)
	}
	f, err := os.Open(filepath.Join(dir, "record.evr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := verify.Record(f, key, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ballots != 4 || rep.Result.Ballots != 4 {
		t.Errorf("the record holds %d ballots, its result counts %d; want 4", rep.Ballots, rep.Result.Ballots)
	}
}
