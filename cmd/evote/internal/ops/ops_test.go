package ops

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/mod/sumdb/note"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/tally"
)

// A record made by other software may name its questions and choices with
// terminal escapes and bidirectional controls, to make the result table
// show counts other than the checked ones (a choice "yes\x1b[0G\x1b[2K..."
// that rewrites its own line, or U+202E reversing "no 1" into "1 on").
// PrintResult prints every such text escaped: no control or format
// character reaches the terminal.
func TestAttackEscapesInPrintedResult(t *testing.T) {
	m := &ballot.Manifest{ // as parsed from another's record, unchecked
		Title: "Vote\x1b[2J\x1b[H",
		Questions: []ballot.Question{{
			ID: "q\u202e", Text: "Adopt?\r\x1b[31m", Min: 1, Max: 1,
			Choices: []string{"yes\x1b[0G\x1b[2K    yes     9999", "no\u2066\u202e"},
		}},
	}
	r := &tally.Result{Ballots: 3, Counts: [][]uint64{{1, 2}}, Trustees: []int{1, 2}}
	var out bytes.Buffer
	PrintResult(&out, m, r)
	for _, c := range out.String() {
		if c != '\n' && (unicode.Is(unicode.Cc, c) || unicode.Is(unicode.Cf, c)) {
			t.Fatalf("U+%04X reached the terminal:\n%q", c, out.String())
		}
	}
	for _, want := range []string{`"Vote\x1b[2J\x1b[H": 3 ballots`, `"Adopt?\r\x1b[31m"`, `"q\u202e"`, `"yes\x1b[0G\x1b[2K    yes     9999"`, `"no\u2066\u202e"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %s:\n%s", want, out.String())
		}
	}
	// Text a manifest may hold prints as it is.
	for _, s := range []string{"Assemblée générale", "Chloé", "総会", "yes, with changes", "Zoë\u00a0Smith"} {
		if got := Printable(s); got != s {
			t.Errorf("Printable(%q) = %q", s, got)
		}
	}
	if got := Printable("a\xffb"); got != `"a\xffb"` {
		t.Errorf("bytes not UTF-8: %s", got)
	}
}

// ParseQuestion refuses an empty choice (two commas together, or one at an
// end) instead of silently dropping it.
func TestParseQuestionEmptyChoice(t *testing.T) {
	for _, s := range []string{"q:Q?:yes,,no", "q:Q?:yes,no,", "q:Q?:,yes,no", "q:Q?:yes, ,no:1:1"} {
		if _, err := ParseQuestion(s); err == nil || !strings.Contains(err.Error(), "is empty") {
			t.Errorf("%q: %v", s, err)
		}
	}
	q, err := ParseQuestion("board:Elect two: or none:Ana, Ben ,Chloé:0:2")
	if err != nil || q.ID != "board" || q.Text != "Elect two: or none" || len(q.Choices) != 3 || q.Choices[1] != "Ben" || q.Min != 0 || q.Max != 2 {
		t.Fatalf("%+v %v", q, err)
	}
}

// TestPrintResultKOfN: in a question where a ballot marks up to k choices,
// each percentage is of the ballots counted (of voters), not of the marks,
// and the table says they may add up to more than 100%.
func TestPrintResultKOfN(t *testing.T) {
	m := &ballot.Manifest{Title: "AGM", Questions: []ballot.Question{
		{ID: "motion", Text: "Adopt?", Choices: []string{"yes", "no"}, Min: 0, Max: 1},
		{ID: "board", Text: "Elect two", Choices: []string{"Ana", "Ben", "Chloé"}, Min: 0, Max: 2},
	}}
	// Four voters: one left the motion blank; all four marked Ana.
	r := &tally.Result{Ballots: 4, Counts: [][]uint64{{2, 1}, {4, 3, 1}}, Trustees: []int{1, 3}}
	var out bytes.Buffer
	PrintResult(&out, m, r)
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	s := strings.Join(lines, "\n")
	for _, want := range []string{
		"yes 2 50.0%", "no 1 25.0%", "(% of the 4 ballots counted)\n",
		"Ana 4 100.0% ####################\n", "Ben 3 75.0%", "Chloé 1 25.0%",
		"(% of the 4 ballots counted; a ballot marks up to 2, so they may add up to more than 100%)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the table lacks %q:\n%s", want, s)
		}
	}
	if PercentOfBallots(3, 0) != 0 {
		t.Error("a percentage of no ballots")
	}
}

// TestAddrScrubber: net/http's own log lines lose the client's address,
// IPv4 or IPv6, with a port or not; the rest of the line stays.
func TestAddrScrubber(t *testing.T) {
	var b strings.Builder
	w := addrScrubber{&b}
	for _, line := range []string{
		"http: TLS handshake error from 192.0.2.7:40852: EOF\n",
		"http: TLS handshake error from [2001:db8::1]:443: remote error\n",
		"http: Accept error: accept tcp [::]:8081: too many open files\n",
		"http2: server: error reading preface from client 2001:db8:0:1::9: EOF\n",
	} {
		w.Write([]byte(line))
	}
	out := b.String()
	for _, addr := range []string{"192.0.2.7", "40852", "2001:db8", "[::]"} {
		if strings.Contains(out, addr) {
			t.Errorf("%q left in %q", addr, out)
		}
	}
	if !strings.Contains(out, "TLS handshake error from [address]: EOF") {
		t.Errorf("the line lost its words: %q", out)
	}
}

// TestAttackBoardKeyPlantedFile: a board key given as itself (as the
// election bundle gives it) is also a relative path; a file planted at
// that path, holding another board's key, must not be read instead.
func TestAttackBoardKeyPlantedFile(t *testing.T) {
	_, realKey, _ := note.GenerateKey(nil, "board.example.org/ga2025")
	_, otherKey, _ := note.GenerateKey(nil, "board.example.org/ga2025")
	dir := t.TempDir()
	t.Chdir(dir)
	os.MkdirAll(filepath.Dir(realKey), 0o755)
	if err := os.WriteFile(realKey, []byte(otherKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := BoardKey(realKey)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := note.NewVerifier(realKey); v.KeyHash() != want.KeyHash() {
		t.Fatalf("the key given was read as a path to the planted file: key hash %08x, want %08x", v.KeyHash(), want.KeyHash())
	}
	// A file's path still works.
	os.WriteFile("board.vkey", []byte(otherKey+"\n"), 0o644)
	if v, err := BoardKey("board.vkey"); err != nil || v.Name() != "board.example.org/ga2025" {
		t.Fatalf("a key file: %v", err)
	}
}
