package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/verify"
	"github.com/spf13/cobra"
)

func verifyCmd(g *globals) *cobra.Command {
	var boardKey, manifest string
	var incomplete, quiet, stats bool
	var cpuprofile string
	var workers int
	c := &cobra.Command{
		Use:   "verify RECORD",
		Short: "Verify an exported election record, trusting no one",
		Long: `verify re-checks a whole election record (the board's export, such as
record.evr) with no secret and no trust in any operator: the signed checkpoint
and every entry's place in the tree, the manifest, the key ceremony and the
election key it yields, every ballot's eligibility token, proofs and signature,
that no token counts twice, the aggregate, every trustee's partial decryption
and that the result is exactly what they combine to, and, when the manifest
names the issuer's statement key, the issuer's signed counts: ballots counted
no more than tokens issued, tokens no more than eligible voters (turnout).

It prints each check and exits 0 only if all hold; otherwise it names the
first failing entry and check and exits 1. The board key is the verifier key
the election published (board.vkey). The board's operator holds the key that
signs the record, so give the election's published manifest too (--manifest,
the file or its hash): the record must be of that election, not one the
board made up. The result is printed only if every check holds.`,
		Example: `  evote verify record.evr --board-key board.vkey
  curl -s http://127.0.0.1:8080/v1/export > record.evr && evote verify record.evr --board-key board.vkey`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			key, err := ops.BoardKey(boardKey)
			if err != nil {
				return usageError{err}
			}
			var pinned *[32]byte
			if manifest != "" {
				h, err := ops.ManifestHash(manifest)
				if err != nil {
					return usageError{err}
				}
				pinned = &h
			}
			f, err := os.Open(a[0])
			if err != nil {
				return err
			}
			defer f.Close()
			if cpuprofile != "" {
				pf, err := os.Create(cpuprofile)
				if err != nil {
					return err
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			p := ops.NewProgress(g.stderr, g.showProgress(), "verifying", "bytes")
			start := time.Now()
			rep, verr := verify.Record(bufio.NewReaderSize(f, 1<<20), key, verify.Options{AllowIncomplete: incomplete, Workers: workers, Progress: p.Set})
			took := time.Since(start)
			p.Done()
			if stats {
				mem := "unknown on this system"
				if peak := peakMemory(); peak > 0 {
					mem = fmt.Sprintf("%.0f MiB", float64(peak)/(1<<20))
				}
				defer g.logf("verify: %d ballots in %.2f s, %.0f ballots/s, peak memory %s\n",
					rep.Ballots, took.Seconds(), float64(rep.Ballots)/took.Seconds(), mem)
			}
			var ve *verify.Error
			if verr != nil && !errors.As(verr, &ve) {
				return verr
			}
			for _, ch := range rep.Checks {
				if quiet && ch.OK {
					continue
				}
				mark := "ok  "
				if !ch.OK {
					mark = "FAIL"
				}
				g.printf("%s %s\n", mark, ops.Printable(ch.String()))
			}
			if rep.Omitted > 0 {
				g.printf("... and %d more failing checks\n", rep.Omitted)
			}
			if verr == nil && pinned != nil && rep.ManifestHash != *pinned {
				g.printf("FAIL manifest: the record's manifest has hash %x, the election's published one %x: this record is of another election\n", rep.ManifestHash, *pinned)
				g.printf("\nverification FAILED: the record is not of the given election\n")
				return fmt.Errorf("the record does not verify: its manifest is not the one given with --manifest")
			}
			if verr == nil && pinned == nil {
				g.printf("note: no --manifest given; compare the manifest hash above with the election's published one\n")
			}
			if verr == nil && rep.Manifest != nil && rep.Result != nil {
				g.printf("\n")
				ops.PrintResult(g.stdout, rep.Manifest, rep.Result)
			}
			if verr == nil && rep.Manifest != nil {
				printTurnout(g, rep)
			}
			if verr != nil {
				g.printf("\nverification FAILED: %d check(s) failed\n", rep.Failures)
				return fmt.Errorf("the record does not verify: %w", verr)
			}
			if rep.Result == nil {
				g.printf("\nincomplete, as allowed: %d entries, %d ballots (%d counted) so far, %d checks, all hold; there is no result yet\n", rep.Entries, rep.Ballots, rep.Counted, len(rep.Checks))
				return nil
			}
			g.printf("\nverified: %d entries, %d ballots (%d counted), %d checks, all hold\n", rep.Entries, rep.Ballots, rep.Counted, len(rep.Checks))
			return nil
		},
	}
	c.Flags().StringVar(&boardKey, "board-key", "", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	c.Flags().StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`, or its hash (64 hex digits): the record must be of it")
	c.Flags().BoolVar(&incomplete, "allow-incomplete", false, "accept a record that stops before its result (still open, or not yet tallied)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only failing checks")
	c.Flags().IntVar(&workers, "workers", 0, "goroutines verifying ballots (0: one per core)")
	c.Flags().StringVar(&cpuprofile, "cpuprofile", "", "write a CPU profile of the verification to `FILE` (go tool pprof reads it)")
	c.Flags().BoolVar(&stats, "stats", false, "print the time taken, ballots per second and peak memory on stderr")
	return c
}

// printTurnout prints the turnout the record holds: the issuer's signed
// counts against the ballots counted, or that the record holds none.
func printTurnout(g *globals, rep *verify.Report) {
	switch is := rep.Issuance; {
	case is != nil:
		g.printf("turnout: %d ballots counted of %d eligible voters (%.1f%%); %d voting tokens issued (the issuer's signed statement, entry %d)\n",
			rep.Counted, is.Eligible, 100*is.Turnout, is.Issued, is.Entry)
	case rep.Manifest.Issuance() == nil:
		g.printf("turnout: not recorded (the manifest names no issuance statement key, so the record holds no count of eligible voters or tokens issued)\n")
	default:
		g.printf("turnout: not recorded yet (the issuer has not posted its counts)\n")
	}
}
