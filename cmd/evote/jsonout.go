package main

import (
	"encoding/json"
	"math"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/tally"
)

// printJSON prints v as the one JSON object a command's --json gives, on
// standard output; diagnostics and progress bars stay on standard error.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// resultJSON is a result as evote verify --json and evote tally --json
// print it, only once the record it comes from has verified.
type resultJSON struct {
	Title          string         `json:"title"`
	BallotsCounted uint64         `json:"ballots_counted"`
	Trustees       []int          `json:"trustees"` // who decrypted, by index
	Questions      []questionJSON `json:"questions"`
}

type questionJSON struct {
	ID      string       `json:"id"`
	Text    string       `json:"text"`
	Min     int          `json:"min"`
	Max     int          `json:"max"` // above 1, a ballot marks up to max choices
	Choices []choiceJSON `json:"choices"`
}

type choiceJSON struct {
	Name  string `json:"name"`
	Votes uint64 `json:"votes"`
	// PercentOfBallots is of the ballots counted (of voters), never of the
	// marks: in a k-of-n question they may add up to more than 100.
	PercentOfBallots float64 `json:"percent_of_ballots"`
}

// resultHelp documents resultJSON's keys for the commands' help.
const resultHelp = `"result" is {"title", "ballots_counted", "trustees" (who decrypted), "questions":
[{"id", "text", "min", "max", "choices": [{"name", "votes", "percent_of_ballots"}]}]}:
each percentage is of the ballots counted (of voters), not of the marks, so in
a question where a ballot marks up to max > 1 choices they may add up to more
than 100.`

func newResultJSON(m *ballot.Manifest, r *tally.Result) *resultJSON {
	out := &resultJSON{Title: m.Title, BallotsCounted: r.Ballots, Trustees: r.Trustees, Questions: []questionJSON{}}
	if out.Trustees == nil {
		out.Trustees = []int{}
	}
	for qi, q := range m.Questions {
		jq := questionJSON{ID: q.ID, Text: q.Text, Min: q.Min, Max: q.Max, Choices: []choiceJSON{}}
		for ci, c := range q.Choices {
			var n uint64
			if qi < len(r.Counts) && ci < len(r.Counts[qi]) {
				n = r.Counts[qi][ci]
			}
			jq.Choices = append(jq.Choices, choiceJSON{Name: c, Votes: n, PercentOfBallots: math.Round(100*ops.PercentOfBallots(n, r.Ballots)) / 100})
		}
		out.Questions = append(out.Questions, jq)
	}
	return out
}
