package verify_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/verify"
)

var update = flag.Bool("update", false, "rewrite testdata/election.record")

// TestWriteTestdata rewrites the example's record with go test -run
// TestWriteTestdata -update: an election of three ballots (yes, no, yes),
// re-signed with the test board key so that the example can name its key.
func TestWriteTestdata(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/election.record")
	}
	e, rec, _ := election(t, electiontest.Options{}, 0, 1, 0)
	if err := os.WriteFile("testdata/election.record", resign(t, leaves(t, rec, e.Verifier)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func Example() {
	f, err := os.Open("testdata/election.record")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	key, err := verify.BoardKey("evote.example/verify-test-board+f17c07d1+Ad0FrqVzPtOJNJcN2R4k+mkcRnAfZT7V2RDr9heZCa1d")
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := verify.Record(f, key, verify.Options{})
	if err != nil {
		fmt.Println("the record does not verify:", err)
		return
	}
	q := rep.Manifest.Questions[0]
	for i, c := range q.Choices {
		fmt.Printf("%s: %d\n", c, rep.Result.Counts[0][i])
	}
	fmt.Println("ballots:", rep.Result.Ballots, "checks:", len(rep.Checks))
	// Output:
	// yes: 2
	// no: 1
	// ballots: 3 checks: 13
}
