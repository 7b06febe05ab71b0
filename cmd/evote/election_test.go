package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/witness"
)

// initFixture writes an issuer key and three trustee keys to a fresh
// directory and returns it with the election init arguments that use them
// (no question, no title).
func initFixture(t *testing.T) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	issuer := filepath.Join(dir, "issuer.pub")
	if err := os.WriteFile(issuer, electiontest.Issuer(t).Public().MarshalPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	args = []string{"election", "init", "--issuer-key", issuer, "--out", filepath.Join(dir, "manifest.json")}
	for i := 1; i <= 3; i++ {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("t%d.pub", i))
		if err := os.WriteFile(f, []byte(hex.EncodeToString(pub)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--trustee-key", f)
	}
	return dir, args
}

// refusedInit runs election init and requires it to fail saying want, and
// to write no manifest.
func refusedInit(t *testing.T, dir string, args []string, want string) {
	t.Helper()
	_, errs, code := evote(t, args...)
	if code == 0 || !strings.Contains(errs, want) {
		t.Errorf("election init %q: exit %d, want a refusal saying %q:\n%s", args[len(args)-4:], code, want, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		t.Fatalf("election init %q: refused, but wrote a manifest", args[len(args)-4:])
	}
}

// election init writes no manifest with duplicate or empty choice names,
// look-alike ids, or text holding terminal escapes or bidirectional
// controls.
func TestAttackElectionInitText(t *testing.T) {
	dir, base := initFixture(t)
	for _, tc := range []struct{ title, question, want string }{
		{"T", "q:Q?:yes,yes", `choice 2, "yes", is choice 1, "yes", again`},
		{"T", "q:Q?:Yes,yes, yes ", `choice 2, "yes", is choice 1, "Yes", again`},
		{"T", "q:Q?:yes,,no", "choice 2 is empty"},
		{"T", "q:Q?:yes,no,", "choice 3 is empty"},
		{"T", "q:Q?:,yes,no", "choice 1 is empty"},
		{"T", "q:Adopt\x1b[2J?:yes,no", "U+001B"},
		{"T", "q:Adopt?:yes\u202e,no", "U+202E"},
		{"T", "q:Adopt\u2066?:yes,no", "U+2066"},
		{"T\u200f", "q:Q?:yes,no", "title holds the control or format character U+200F"},
		{"T", "Motion:Adopt?:yes,no", "question 1: id"},
		{"T", "mоtion:Adopt?:yes,no", "question 1: id"}, // Cyrillic о
	} {
		refusedInit(t, dir, append(append([]string(nil), base...), "--title", tc.title, "--question", tc.question), tc.want)
	}
	if _, errs, code := evote(t, append(base, "--title", "Assemblée", "--question", "board:Élire deux membres:Ana,Ben,Chloé,Dev:0:2")...); code != 0 {
		t.Fatalf("a good manifest: exit %d\n%s", code, errs)
	}
}

// election init --from reads the file as strictly as every entry: an
// unknown or misspelt field, a case-folded name or a field given twice is
// refused, naming it, and nothing is written.
func TestAttackElectionInitFromStrict(t *testing.T) {
	dir, base := initFixture(t)
	from := filepath.Join(dir, "from.json")
	for _, tc := range []struct{ json, want string }{
		{`{"titel":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`, `unknown field "titel"`},
		{`{"title":"T","questions":[{"id":"q","text":"Q?","choises":["yes","no"],"min":1,"max":1}]}`, `unknown field "choises"`},
		{`{"Title":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`, `field "Title" is not spelt`},
		{`{"title":"T","questions":[{"id":"q","text":"Q?","choices":["no","yes"],"min":1,"max":1}],"questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`, `field "questions" appears twice`},
		{`{"title":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1,"max":2}]}`, `field "max" appears twice in questions[0]`},
		{`{"title":"T"} {}`, "trailing data"},
		// Fields may be left out, but not inside a question; no null, no
		// escaped name, no -0 (SPEC.md §4).
		{`{"title":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"max":1}]}`, `field "min" is missing in questions[0]`},
		{`{"title":"T","questions":[{"id":"q","choices":["yes","no"],"min":1,"max":1}]}`, `field "text" is missing in questions[0]`},
		{`{"title":null,"questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`, "title is null"},
		{`{"\u0074itle":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`, "written with an escape"},
		{`{"title":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":-0,"max":1}]}`, "questions[0].min is -0"},
		{`{"title":"T","opens":"2025-06-01T8:00:00Z","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`, `opens: "2025-06-01T8:00:00Z" is not a time`},
	} {
		if err := os.WriteFile(from, []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		refusedInit(t, dir, append(append([]string(nil), base...), "--from", from), tc.want)
	}
	good := `{"title":"T","questions":[{"id":"q","text":"Q?","choices":["yes","no"],"min":1,"max":1}]}`
	if err := os.WriteFile(from, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := evote(t, append(base, "--from", from)...); code != 0 {
		t.Fatalf("a good --from file: exit %d\n%s", code, errs)
	}
	m, err := ballot.ParseManifest(mustRead(t, filepath.Join(dir, "manifest.json")))
	if err != nil || m.Title != "T" || m.Questions[0].ID != "q" {
		t.Fatalf("the manifest from a good --from file: %v %+v", err, m)
	}
}

// --opens and --closes take the time grammar of SPEC.md §4 (ballot.ParseTime),
// not whatever time.Parse takes for RFC 3339, and the manifest holds them
// as given.
func TestElectionInitTimes(t *testing.T) {
	dir, base := initFixture(t)
	base = append(base, "--title", "T", "--question", "q:Q?:yes,no:1:1")
	for _, tc := range []struct{ flag, v string }{
		{"--opens", "2025-06-01T8:00:00Z"},
		{"--opens", "2025-06-01T08:00:00,5Z"},
		{"--closes", "2025-06-01T08:00:00+24:00"},
		{"--closes", "2025-06-01t08:00:00z"},
		{"--opens", "2025-06-01T08:00:00.5Z"},
		{"--opens", "2025-02-29T08:00:00Z"},
	} {
		refusedInit(t, dir, append(append([]string(nil), base...), tc.flag, tc.v), tc.flag+`: ballot: "`+tc.v+`" is not a time`)
	}
	args := append(append([]string(nil), base...), "--opens", "2025-06-01T08:00:00Z", "--closes", "2025-06-01T20:00:00+02:00")
	if _, errs, code := evote(t, args...); code != 0 {
		t.Fatalf("good times: exit %d\n%s", code, errs)
	}
	m, err := ballot.ParseManifest(mustRead(t, filepath.Join(dir, "manifest.json")))
	if err != nil || m.Opens != "2025-06-01T08:00:00Z" || m.Closes != "2025-06-01T20:00:00+02:00" {
		t.Fatalf("the manifest's times: %v %q %q", err, m.Opens, m.Closes)
	}
}

// TestAttackElectionInitMinorityThreshold: with a threshold of half the
// trustees or fewer, two separate groups of t trustees could each decrypt a
// different log a dishonest board shows them (one with a ballot, one
// without), so decrypt-once no longer keeps the board from subtracting
// tallies. election init refuses it, saying why and what to choose, unless
// told --minority-threshold.
func TestAttackElectionInitMinorityThreshold(t *testing.T) {
	dir, args := initFixture(t)
	q := []string{"--title", "T", "--question", "q:Yes?:yes,no"}
	refusedInit(t, dir, append(append(args, q...), "--trustees", "3", "--threshold", "1"), "choose a threshold above half the trustees (--threshold 2)")
	if _, errs, code := evote(t, append(append(args, q...), "--trustees", "3", "--threshold", "1", "--minority-threshold")...); code != 0 {
		t.Fatalf("--minority-threshold: exit %d\n%s", code, errs)
	}
}

// TestElectionInitWitnesses: the witnesses' keys go into the manifest with
// a majority quorum by default; a key that is not a witness's, a quorum
// above their number, or a quorum without witnesses is refused.
func TestElectionInitWitnesses(t *testing.T) {
	dir, base := initFixture(t)
	base = append(base, "--title", "T", "--question", "q:Q?:yes,no:1:1")
	var keys []string
	for i := range 3 {
		_, vkey, err := witness.GenerateKey(nil, fmt.Sprintf("w%d.example", i))
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("w%d.pub", i))
		os.WriteFile(f, []byte(vkey+"\n"), 0o644)
		keys = append(keys, "--witness-key", f)
	}
	bad := filepath.Join(dir, "bad.pub")
	os.WriteFile(bad, []byte("board.example+01234567+AQ==\n"), 0o644)
	refusedInit(t, dir, append(append([]string(nil), base...), "--witness-key", bad), "--witness-key "+bad)
	refusedInit(t, dir, append(append(append([]string(nil), base...), keys...), "--witness-quorum", "4"), "witness_quorum must be 1 to 3")
	refusedInit(t, dir, append(append([]string(nil), base...), "--witness-quorum", "1"), "--witness-quorum needs the witnesses")
	if _, errs, code := evote(t, append(append([]string(nil), base...), keys...)...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	m, err := ballot.ParseManifest(mustRead(t, filepath.Join(dir, "manifest.json")))
	if err != nil || len(m.Witnesses) != 3 || m.WitnessQuorum != 2 || len(m.WitnessVerifiers()) != 3 {
		t.Fatalf("manifest: %v, %d witnesses, quorum %d", err, len(m.Witnesses), m.WitnessQuorum)
	}
}
