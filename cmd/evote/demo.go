package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/demo"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/store"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func demoCmd(g *globals) *cobra.Command {
	var o demo.Options
	var questions []string
	var withBooth bool
	var links int
	var src, storeSpec string
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole election on this machine",
		Long: `demo runs a complete election on this machine, through the same HTTP APIs a
deployment uses: it makes the issuer and board keys and a manifest (one yes/no
question, plus any --question), starts the issuer and the board as HTTP
servers on loopback ports (the board on the embedded bbolt log), runs the key
ceremony among 3 trustees with threshold 2 through the board's API (each
trustee signing its messages with the key the manifest names for it), has N
voters get tokens and cast ballots concurrently (random choices, counted as
they are drawn), closes, has trustees 1 and 2 decrypt (each re-verifying the
record and recomputing the aggregate itself), tallies, exports the record and
verifies it independently.

It prints the result, each phase's time and the ballots per second, and the
command to re-check the record. It exits 1 if the result differs from what
was cast or the record does not verify. Files go to --dir, or a new
temporary directory that is kept.

With --booth you vote too, in your own browser. The board also serves the
voting booth (evote booth build), and the roll holds --links more voters,
kept for people. Once the simulated voters have cast, demo prints the
booth's address and those voters' invitation links (each with its
enrolment code in the #fragment; or type the voter ID and code shown), and
keeps the issuer, the board and the booth running on loopback until you
press Ctrl-C; then it closes the election, tallies, exports and verifies as
above. The booth's ballots are secret, so the result is checked against
what the simulated voters cast only as far as it can be: every count at
least theirs, and exactly theirs if nobody voted in the booth. The booth is
compiled to WebAssembly from the evote source, so --booth needs the Go
toolchain and runs in the evote checkout (or give --src).

With --store postgres:DSN the board's log and the issuer's roll are kept in
that PostgreSQL database (which must be empty: createdb evote_demo) instead
of bbolt files in --dir, as a deployment with several board processes keeps
them.`,
		Example: `  evote demo
  evote demo --voters 1000 --dir /tmp/election --question "color:Favourite colour?:red,green,blue:1:1"
  go run ./cmd/evote demo --booth
  evote demo --store postgres:postgres://evote@127.0.0.1/evote_demo`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range questions {
				q, err := ops.ParseQuestion(s)
				if err != nil {
					return usageError{err}
				}
				o.Questions = append(o.Questions, q)
			}
			if o.Voters < 1 {
				return usagef("--voters must be at least 1")
			}
			if withBooth {
				if links < 0 {
					return usagef("--links must not be negative")
				}
				o.Booth = &demo.Booth{Links: links, Source: src, Ready: func(r demo.BoothReady) { printBooth(g, r) }}
			} else if cmd.Flags().Changed("links") || cmd.Flags().Changed("src") {
				return usagef("--links and --src go with --booth")
			}
			if storeSpec != "" {
				st := &storeFlag{spec: storeSpec}
				engine, _, err := st.open()
				if err != nil {
					return err
				}
				if engine != "postgres" {
					return usagef("--store %s: the demo keeps its bbolt files in --dir; --store takes postgres:DSN", storeSpec)
				}
				ctx := cmd.Context()
				o.OpenLog = func(s note.Signer) (store.Log, error) { return st.openLog(ctx, s) }
				o.OpenRoll = func() (issuer.Roll, error) { return st.openRoll(ctx, true) }
			}
			if o.Dir == "" {
				d, err := os.MkdirTemp("", "evote-demo-")
				if err != nil {
					return err
				}
				o.Dir = d
			} else if err := os.MkdirAll(o.Dir, 0o755); err != nil {
				return err
			}
			if o.Out != "" {
				if abs, err := filepath.Abs(o.Out); err == nil {
					o.Out = abs
				}
			}
			o.Stdout = g.stderr
			show := g.showProgress()
			o.Progress = ops.NewProgress(g.stderr, show, "casting", "ballots")
			o.Verify = ops.NewProgress(g.stderr, show, "verifying", "bytes")
			if o.Booth != nil {
				g.logf("evote demo: %d simulated voters and %d for people in the booth, 3 trustees (threshold 2), working in %s\n", o.Voters, links, o.Dir)
			} else {
				g.logf("evote demo: %d voters, 3 trustees (threshold 2), working in %s\n", o.Voters, o.Dir)
			}
			out, err := demo.Run(cmd.Context(), o)
			if out != nil {
				printDemo(g, o, out)
			}
			return err
		},
	}
	f := c.Flags()
	f.IntVar(&o.Voters, "voters", 100, "number of voters, each casting one ballot")
	f.StringVar(&o.Out, "out", "", "where to export the record (default DIR/record.evr)")
	f.StringVar(&o.Dir, "dir", "", "working `DIR` for keys, stores and the record (default: a new temporary directory)")
	f.StringArrayVar(&questions, "question", nil, "an extra question, \"id:text:choice1,choice2,...:min:max\" (repeatable)")
	f.IntVar(&o.Workers, "workers", 32, "voters casting at the same time")
	f.Uint64Var(&o.Seed, "seed", 0, "seed for the voters' random choices (0: random)")
	f.BoolVar(&withBooth, "booth", false, "serve the voting booth and keep the election open for you to vote in the browser, until Ctrl-C")
	f.IntVar(&links, "links", 5, "with --booth: voters on the roll kept for people, beyond --voters; their invitation links are printed")
	f.StringVar(&storeSpec, "store", "", "keep the board's log and the issuer's roll in `postgres:DSN`, an empty PostgreSQL database, instead of bbolt files in --dir")
	f.StringVar(&src, "src", ".", "with --booth: the evote source `DIR` the booth is compiled from (needs the Go toolchain)")
	return c
}

// printBooth tells the user where to vote, once the simulated voters have
// cast.
func printBooth(g *globals, r demo.BoothReady) {
	g.printf("\nthe booth is open at %s\n", r.URL)
	if len(r.Links) > 0 {
		g.printf("\ninvitation links, one per voter (the code is in the #fragment, which a browser never sends to a server):\n")
		for i, l := range r.Links {
			g.printf("  %s\n", l)
			g.printf("    or type: voter ID %s, code %s\n", r.Invitations[i].VoterID, r.Invitations[i].Code)
		}
	}
	g.printf("\ncheck a receipt at %s#check\n", r.URL)
	g.printf("press Ctrl-C to close the election, tally and verify\n")
}

func printDemo(g *globals, o demo.Options, out *demo.Outcome) {
	// A result is shown only once the exported record verified.
	if out.Result != nil && (out.Report == nil || !out.Report.OK) {
		g.printf("no result shown: the exported record does not verify\n")
	} else if out.Result != nil && o.Booth != nil && out.BoothBallots > 0 {
		ops.PrintResult(g.stdout, out.Manifest, out.Result)
		// Only the simulated voters' part of the result is known.
		atLeast := "is at least"
		for q := range out.Expected {
			for c := range out.Expected[q] {
				if out.Result.Counts[q][c] < out.Expected[q][c] {
					atLeast = "is NOT at least"
				}
			}
		}
		came := fmt.Sprintf("%d ballots came", out.BoothBallots)
		if out.BoothBallots == 1 {
			came = "1 ballot came"
		}
		g.printf("\n%s through the booth (%d counted, minus the %d the simulated voters cast); their choices are secret, so\n", came, out.Result.Ballots, o.Voters)
		g.printf("the result is checked against the simulated voters' only: every count %s theirs (%s)\n", atLeast, fmtCounts(out.Manifest, out.Expected))
	} else if out.Result != nil {
		ops.PrintResult(g.stdout, out.Manifest, out.Result)
		if o.Booth != nil {
			g.printf("\nno ballot came through the booth\n")
		}
		match := "matches"
		for q := range out.Expected {
			for c := range out.Expected[q] {
				if out.Expected[q][c] != out.Result.Counts[q][c] {
					match = "DOES NOT MATCH"
				}
			}
		}
		g.printf("\nthe result %s what the voters cast (%s)\n", match, fmtCounts(out.Manifest, out.Expected))
	}
	g.printf("\nphase                                     time\n")
	var total time.Duration
	for _, p := range out.Phases {
		total += p.Took
		extra := ""
		if p.Name == "issuance + casting" {
			extra = fmt.Sprintf("   %.0f ballots/s", float64(o.Voters)/p.Took.Seconds())
		}
		if p.Name == "verify" && out.Report != nil {
			extra = fmt.Sprintf("   %.0f ballots/s", float64(out.Report.Ballots)/p.Took.Seconds())
		}
		g.printf("%-40s %8s%s\n", p.Name, p.Took.Round(time.Millisecond), extra)
	}
	g.printf("%-40s %8s\n", "total", total.Round(time.Millisecond))
	if out.Report != nil {
		status := "verified: every check holds"
		if !out.Report.OK {
			status = fmt.Sprintf("verification FAILED (%d checks)", out.Report.Failures)
		}
		g.printf("\nrecord %s (%d entries, %d ballots): %s\n", out.Record, out.Report.Entries, out.Report.Ballots, status)
		g.printf("re-check it with (or go run ./cmd/evote verify ... from the source tree):\n  evote verify %s --board-key %s --manifest %s\n", out.Record, out.BoardKey, filepath.Join(filepath.Dir(out.BoardKey), "manifest.json"))
	}
}

func fmtCounts(m *ballot.Manifest, counts [][]uint64) string {
	s := ""
	for q, qq := range m.Questions {
		if q > 0 {
			s += "; "
		}
		s += qq.ID + ":"
		for c, name := range qq.Choices {
			s += fmt.Sprintf(" %s %d", name, counts[q][c])
		}
	}
	return s
}
