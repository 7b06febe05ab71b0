package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/evote/evote/cmd/evote/internal/bench"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/spf13/cobra"
)

func benchCmd(g *globals) *cobra.Command {
	var o bench.Options
	var asJSON bool
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure every primitive and a whole election on this machine",
		Long: `bench measures, on this machine and in one run: each primitive (encrypting
and proving a ballot, verifying one, verifying many in a batch, issuing and
verifying a token, a partial decryption, combining, appending to the board),
then a whole election end to end (tokens from an issuer and ballots cast to a
board, both real HTTP servers on loopback; the tally; verifying the exported
record), and the floor: the time this machine needs for the group operations a
ballot's verification cannot avoid (decoding its points and its share of one
large multi-scalar multiplication). Verification figures are also given as a
ratio to that floor.

Every figure is the median of --runs runs, with the slowest and fastest beside
it. With --json it prints one JSON object (keys include cast_ballots_per_s,
verify_ballots_per_s, issue_tokens_per_s, issue_tokens_email_otp_per_s,
issue_tokens_totp_per_s, blind_sign_over_sign_pss, tally_seconds, ballots, cores and
floor_us_per_ballot) for tools; BENCHMARKS.md says how each published figure
was made.`,
		Example: `  evote bench
  evote bench --ballots 20000 --runs 5 --json > bench.json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Ballots < 1 || o.Runs < 1 {
				return usagef("--ballots and --runs must be at least 1")
			}
			o.Progress = func(what string) { g.logf("measuring %s...\n", what) }
			rep, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			g.printf("%d cores, %s, median of %d runs (slowest to fastest)\n\n", rep.Cores, rep.GoVersion, rep.Runs)
			g.printf("%-26s %12s %22s %10s %8s\n", "primitive", "ops/s", "spread", "µs/op", "×floor")
			for _, f := range rep.Primitives {
				ratio := ""
				if f.FloorRatio > 0 {
					ratio = fmt.Sprintf("%.2f", f.FloorRatio)
				}
				g.printf("%-26s %12.0f %10.0f to %-9.0f %10.1f %8s\n", f.Name, f.Median, f.Min, f.Max, f.MicrosPerOp, ratio)
			}
			g.printf("\nfloor: %.1f µs of group operations per 1-of-2 ballot (all cores)\n\n", rep.FloorMicros)
			g.printf("election of %d ballots, end to end:\n", rep.Ballots)
			g.printf("  tokens issued over HTTP    %10.0f /s\n", rep.IssueTokensPerS)
			g.printf("    with an e-mailed code    %10.0f /s   (two requests each; the code to an in-memory sender)\n", rep.IssueTokensEmailPerS)
			g.printf("    with TOTP                %10.0f /s\n", rep.IssueTokensTOTPPerS)
			g.printf("  a blind signature takes %.2f× an rsa.SignPSS of the same size (same run)\n", rep.BlindSignOverSignPSS)
			g.printf("  ballots cast over HTTP     %10.0f /s   (p50 %.1f ms, p99 %.1f ms)\n", rep.CastBallotsPerS, rep.CastP50ms, rep.CastP99ms)
			g.printf("  tally                      %10.3f s\n", rep.TallySeconds)
			g.printf("  record verified            %10.0f ballots/s   (%.2f × floor)\n", rep.VerifyBallotsPerS, rep.VerifyFloorRatio)
			return nil
		},
	}
	c.AddCommand(benchRecordCmd(g))
	f := c.Flags()
	f.IntVar(&o.Ballots, "ballots", 2000, "ballots in the end-to-end election")
	f.IntVar(&o.Runs, "runs", 5, "runs of each figure; the median is reported")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of tables")
	return c
}

func benchRecordCmd(g *globals) *cobra.Command {
	var n int
	var out, vkeyOut string
	c := &cobra.Command{
		Use:   "record",
		Short: "Make a large election record to time the verifier on",
		Long: `record runs an election of --ballots yes/no ballots in this process (tokens
signed in process, every ballot cast to a board with all its checks, the tally
posted) and exports the record to --out, with the board's verifier key in
--vkey. Time the verifier on it with evote verify --stats. Making a record
takes far longer than verifying it (an RSA blind signature and the proofs of
every ballot): 100,000 ballots took 4.5 minutes on 2 cores.`,
		Example: `  evote bench record --ballots 100000 --out big.evr --vkey big.vkey
  evote verify big.evr --board-key big.vkey --quiet --stats`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return usagef("--ballots must be at least 1")
			}
			p := ops.NewProgress(g.stderr, g.showProgress(), "casting", "ballots")
			vkey, tallySeconds, err := bench.MakeRecord(cmd.Context(), out, n, func(done, total int) { p.Set(uint64(done), uint64(total)) })
			p.Done()
			if err != nil {
				return err
			}
			if err := os.WriteFile(vkeyOut, []byte(vkey+"\n"), 0o644); err != nil {
				return err
			}
			g.printf("tally of %d ballots (close, aggregate, 2 trustees, combine): %.2f s\n", n, tallySeconds)
			g.printf("wrote %s (%d ballots) and %s\nverify it with: evote verify %s --board-key %s --quiet --stats\n", out, n, vkeyOut, out, vkeyOut)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&n, "ballots", 10000, "ballots in the record")
	f.StringVar(&out, "out", "record.evr", "where to write the record")
	f.StringVar(&vkeyOut, "vkey", "record.vkey", "where to write the board's verifier key")
	return c
}
