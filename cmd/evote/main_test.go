package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/record"
	"github.com/evote/evote/verify"
)

func evote(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

// TestDemo runs "evote demo" with 20 voters and two questions, checks its
// exit code and report, and verifies the record it wrote independently.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := evote(t, "demo", "--voters", "20", "--dir", dir, "--seed", "42",
		"--question", "colour:Favourite colour?:red,green,blue:1:2")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, want := range []string{
		"20 ballots counted", "the result matches what the voters cast", "ballots/s",
		"verified: every check holds", "evote verify " + filepath.Join(dir, "record.evr") + " --board-key " + filepath.Join(dir, "board.vkey"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the demo's report lacks %q:\n%s", want, out)
		}
	}
	for _, phase := range []string{"key ceremony", "issuance + casting", "close", "tally", "export", "verify"} {
		if !strings.Contains(out, phase) {
			t.Errorf("no time for phase %q", phase)
		}
	}
	t.Log(out)

	// The record verifies on its own, and says what the demo said.
	f, err := os.Open(filepath.Join(dir, "record.evr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	key, err := ops.BoardKey(filepath.Join(dir, "board.vkey"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Record(f, key, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Ballots != 20 || rep.Result.Ballots != 20 || len(rep.Result.Counts) != 2 {
		t.Fatalf("record: %d ballots, result %+v", rep.Ballots, rep.Result)
	}
	var yesNo uint64
	for _, n := range rep.Result.Counts[0] {
		yesNo += n
	}
	if yesNo != 20 {
		t.Fatalf("the yes/no question has %d answers from 20 ballots", yesNo)
	}

	// And through the command.
	out, errs, code = evote(t, "verify", filepath.Join(dir, "record.evr"), "--board-key", filepath.Join(dir, "board.vkey"))
	if code != 0 || !strings.Contains(out, "all hold") {
		t.Fatalf("evote verify: exit %d\n%s%s", code, out, errs)
	}
}

// TestUsageErrors: mistakes in calling evote exit 2 with a pointer to help.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"verify"},
		{"verify", "a", "b"},
		{"demo", "--voters", "many"},
		{"demo", "--voters", "0"},
		{"vote", "--nope"},
		{"election", "init", "--question", "just-an-id"},
		{"tally", "--board-key", "x"},
	} {
		_, errs, code := evote(t, args...)
		if code != 2 || !strings.Contains(errs, "--help") {
			t.Errorf("evote %s: want exit 2 and a pointer to --help, got %d:\n%s", strings.Join(args, " "), code, errs)
		}
	}
}

// TestSecretsNeedAKey: a command that handles secrets says how to give it
// a key when none is given.
func TestSecretsNeedAKey(t *testing.T) {
	t.Setenv("EVOTE_PASSPHRASE", "")
	dir := t.TempDir()
	_, errs, code := evote(t, "board", "keygen", "--key", filepath.Join(dir, "k"), "--vkey", filepath.Join(dir, "v"))
	if code != 2 || !strings.Contains(errs, "EVOTE_PASSPHRASE") {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
}

// TestKeysAtRest: keys are written age-encrypted, open with the right
// passphrase only, and an election manifest can be made from them.
func TestKeysAtRest(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("s3cret\n"), 0o600)
	in := func(f string) string { return filepath.Join(dir, f) }
	if _, errs, code := evote(t, "--passphrase-file", pass, "--scrypt-work-factor", "10", "board", "keygen", "--key", in("board.key"), "--vkey", in("board.vkey")); code != 0 {
		t.Fatal(errs)
	}
	if _, errs, code := evote(t, "--passphrase-file", pass, "--scrypt-work-factor", "10", "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub")); code != 0 {
		t.Fatal(errs)
	}
	var keyFlags []string
	for i := 1; i <= 3; i++ {
		sign, pub := in(fmt.Sprintf("trustee-%d.sign", i)), in(fmt.Sprintf("trustee-%d.pub", i))
		out, errs, code := evote(t, "--passphrase-file", pass, "--scrypt-work-factor", "10", "trustee", "keygen", "--out", sign, "--pub", pub)
		if code != 0 || !strings.Contains(out, strings.TrimSpace(string(mustRead(t, pub)))) {
			t.Fatalf("trustee keygen: exit %d\n%s%s", code, out, errs)
		}
		keyFlags = append(keyFlags, "--trustee-key", pub)
	}
	for _, f := range []string{"board.key", "issuer.key", "trustee-1.sign"} {
		if b, _ := os.ReadFile(in(f)); !bytes.HasPrefix(b, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) {
			t.Errorf("%s is not age-encrypted:\n%.80s", f, b)
		}
	}
	out, errs, code := evote(t, append([]string{"election", "init", "--title", "T", "--question", "q:Which: one?:a,b,c:1:1",
		"--question", "r:Pick up to two:x,y,z:0:2", "--issuer-key", in("issuer.pub"), "--out", in("manifest.json"), "--revoting", "last-ballot-counts"},
		keyFlags...)...)
	if code != 0 {
		t.Fatal(errs)
	}
	t.Log(out)
	m, err := ballot.ParseManifest(mustRead(t, in("manifest.json")))
	if err != nil {
		t.Fatal(err)
	}
	if m.Questions[0].Text != "Which: one?" || m.Questions[1].Max != 2 || m.Revoting != ballot.RevotingLastCounts {
		t.Fatalf("manifest %+v", m)
	}
	// A wrong passphrase cannot open the board key.
	os.WriteFile(pass, []byte("wrong\n"), 0o600)
	_, errs, code = evote(t, "--passphrase-file", pass, "board", "serve", "--key", in("board.key"), "--data", in("data"), "--manifest", in("manifest.json"))
	if code != 1 || !strings.Contains(errs, "board.key") {
		t.Fatalf("wrong passphrase: exit %d:\n%s", code, errs)
	}
}

// TestTrusteeSigningKeys: the manifest lists exactly one public key per
// trustee, read from keygen's files, and a trustee step refuses a signing
// key that is not its own in the manifest.
func TestTrusteeSigningKeys(t *testing.T) {
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	t.Setenv("EVOTE_PASSPHRASE", "s3cret")
	run := func(args ...string) (string, string, int) {
		return evote(t, append([]string{"--scrypt-work-factor", "10"}, args...)...)
	}
	if _, errs, code := run("issuer", "keygen", "--bits", "2048", "--key", in("issuer.key"), "--pub", in("issuer.pub")); code != 0 {
		t.Fatal(errs)
	}
	for i := 1; i <= 3; i++ {
		if _, errs, code := run("trustee", "keygen", "--out", in(fmt.Sprintf("t%d.sign", i)), "--pub", in(fmt.Sprintf("t%d.pub", i))); code != 0 {
			t.Fatal(errs)
		}
	}
	if _, errs, code := run("trustee", "keygen", "--out", in("t1.sign"), "--pub", in("other.pub")); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("keygen over an existing key: exit %d\n%s", code, errs)
	}
	os.WriteFile(in("bad.pub"), []byte("not a key\n"), 0o644)
	initArgs := []string{"election", "init", "--title", "T", "--question", "q:Q?:a,b:1:1", "--issuer-key", in("issuer.pub"), "--out", in("manifest.json")}
	for _, c := range []struct {
		keys []string
		want string
	}{
		{nil, "--trustee-key FILE 3 times"},
		{[]string{"t1.pub", "t2.pub"}, "--trustee-key given 2 times for 3 trustees"},
		{[]string{"t1.pub", "bad.pub", "t3.pub"}, "bad.pub is not a trustee public key"},
		{[]string{"t1.pub", "t2.pub", "t1.pub"}, "hold the same key"},
	} {
		args := append([]string(nil), initArgs...)
		for _, k := range c.keys {
			args = append(args, "--trustee-key", in(k))
		}
		_, errs, code := run(args...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("election init with keys %v: want exit 2 saying %q, got %d:\n%s", c.keys, c.want, code, errs)
		}
	}
	if _, errs, code := run(append(initArgs, "--trustee-key", in("t1.pub"), "--trustee-key", in("t2.pub"), "--trustee-key", in("t3.pub"))...); code != 0 {
		t.Fatal(errs)
	}
	m, err := ballot.ParseManifest(mustRead(t, in("manifest.json")))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Trustees.Keys[1], strings.TrimSpace(string(mustRead(t, in("t2.pub")))); got != want {
		t.Fatalf("trustee 2's key in the manifest is %s, t2.pub holds %s", got, want)
	}
	step := []string{"trustee", "init", "--index", "2", "--manifest", in("manifest.json"), "--state", in("t2.state"), "--dir", dir}
	_, errs, code := run(append(step, "--signing-key", in("t1.sign"))...)
	if code != 1 || !strings.Contains(errs, "is not trustee 2's key in the manifest") {
		t.Fatalf("trustee init with trustee 1's key as trustee 2: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(in("t2.state")); err == nil {
		t.Fatal("a state was written for a refused signing key")
	}
	if _, errs, code := run(append(step, "--signing-key", in("t2.sign"))...); code != 0 {
		t.Fatal(errs)
	}
	if err := record.NewCeremony(m).Add(mustRead(t, in("ann-2.msg"))); err != nil {
		t.Fatalf("trustee 2's announcement: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSelections(t *testing.T) {
	m := &ballot.Manifest{Questions: []ballot.Question{
		{ID: "motion", Choices: []string{"yes", "no"}, Min: 1, Max: 1},
		{ID: "board", Choices: []string{"Ana", "Ben", "Chloé"}, Min: 0, Max: 2},
	}}
	sel, err := selections(m, []string{"motion=no", "board=Chloé,1"})
	if err != nil || len(sel) != 2 || sel[0][0] != 1 || len(sel[1]) != 2 || sel[1][0] != 0 || sel[1][1] != 2 {
		t.Fatalf("%v, %v", sel, err)
	}
	if sel, err := selections(m, []string{"motion=yes"}); err != nil || len(sel[1]) != 0 {
		t.Fatalf("an optional question left out: %v, %v", sel, err)
	}
	for _, bad := range [][]string{
		{"board=Ana"},                   // motion missing
		{"motion=maybe"},                // no such choice
		{"motion=yes", "board=Ana,Ana"}, // twice
		{"motion=yes", "board=Ana,Ben,Chloé"},
		{"motion=yes", "nope=1"},
		{"yes"}, // two questions: which?
	} {
		if _, err := selections(m, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAttackShortAdminToken: a service refuses an admin token short
// enough to guess, saying how to make one; a long one passes.
func TestAttackShortAdminToken(t *testing.T) {
	dir := t.TempDir()
	short, long := filepath.Join(dir, "short.token"), filepath.Join(dir, "long.token")
	os.WriteFile(short, []byte("k\n"), 0o600)
	os.WriteFile(long, []byte("the-board-admin-token-0123456789\n"), 0o600)
	if _, err := serviceAdminToken(short); err == nil || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Fatalf("a 1-character token: %v", err)
	}
	if tok, err := serviceAdminToken(long); err != nil || tok != "the-board-admin-token-0123456789" {
		t.Fatalf("a long token: %q, %v", tok, err)
	}
}
