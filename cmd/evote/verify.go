package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"time"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/verify"
	"github.com/spf13/cobra"
)

func verifyCmd(g *globals) *cobra.Command {
	var boardKey, manifest string
	var incomplete, quiet, stats, asJSON bool
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
board made up. The result is printed only if every check holds. Its
percentages are of the ballots counted (of voters), not of the marks: where
a ballot may mark several choices they may add up to more than 100%.

A progress bar (bytes of the file, with the time left) is drawn on stderr on
a terminal, or with --progress.

With --json it prints one JSON object instead: "ok" (every check holds, and
the manifest is the one given), "complete" (the record holds its result),
"entries", "ballots", "counted", "manifest_hash" (hex), "manifest_pinned"
(--manifest given and matched), "checkpoint" ({"size", "root"} hex, or null),
"failures", "omitted" (failing checks not listed), "checks" ([{"name",
"first", "last", "ok", "detail"}], entries 0-based, -1 for the whole record;
with --quiet only the failing ones), "error" (the first failure, when not
ok), "result" (null unless ok and complete) and "turnout" ({"eligible",
"issued", "counted", "percent", "entry"}: the issuer's signed counts, or null
when the record holds none). ` + resultHelp + `
The exit code is the same: 0 only if ok.`,
		Example: `  evote verify record.evr --board-key board.vkey
  curl -s http://127.0.0.1:8080/v1/export > record.evr && evote verify record.evr --board-key board.vkey
  evote verify record.evr --board-key board.vkey --manifest manifest.json --json --quiet`,
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
			// The buffered reader hides the file's size from Record: give it,
			// for the bar's total and time left.
			var size int64
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				size = st.Size()
			}
			p := ops.NewProgress(g.stderr, g.showProgress(), "verifying", "bytes")
			start := time.Now()
			rep, verr := verify.Record(bufio.NewReaderSize(f, 1<<20), key, verify.Options{AllowIncomplete: incomplete, Workers: workers, Size: size, Progress: p.Set})
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
			if asJSON {
				return printVerifyJSON(g, rep, verr, pinned, quiet)
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
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of the checks and the result (keys in the help)")
	return c
}

// verifyJSON is what evote verify --json prints; its keys are in the
// command's help.
type verifyJSON struct {
	OK             bool            `json:"ok"`
	Complete       bool            `json:"complete"`
	Entries        uint64          `json:"entries"`
	Ballots        uint64          `json:"ballots"`
	Counted        uint64          `json:"counted"`
	ManifestHash   string          `json:"manifest_hash"`
	ManifestPinned bool            `json:"manifest_pinned"`
	Checkpoint     *checkpointJSON `json:"checkpoint"`
	Failures       int             `json:"failures"`
	Omitted        int             `json:"omitted"`
	Checks         []checkJSON     `json:"checks"`
	Error          string          `json:"error,omitempty"`
	Result         *resultJSON     `json:"result"`
	Turnout        *turnoutJSON    `json:"turnout"`
}

type checkpointJSON struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
}

type checkJSON struct {
	Name   string `json:"name"`
	First  int64  `json:"first"`
	Last   int64  `json:"last"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

type turnoutJSON struct {
	Eligible uint64  `json:"eligible"`
	Issued   uint64  `json:"issued"`
	Counted  uint64  `json:"counted"`
	Percent  float64 `json:"percent"` // counted of eligible
	Entry    uint64  `json:"entry"`   // the issuer's statement's
}

// printVerifyJSON prints the report as one JSON object: the result and
// the turnout only when every check held (and the manifest is the one
// pinned), as the text does. It returns the command's error, so the exit
// code is the text's.
func printVerifyJSON(g *globals, rep *verify.Report, verr error, pinned *[32]byte, quiet bool) error {
	out := verifyJSON{Entries: rep.Entries, Ballots: rep.Ballots, Counted: rep.Counted, Failures: rep.Failures, Omitted: rep.Omitted,
		Checks: []checkJSON{}}
	if rep.Manifest != nil {
		out.ManifestHash = hex.EncodeToString(rep.ManifestHash[:])
	}
	if cp := rep.Checkpoint; cp != nil {
		out.Checkpoint = &checkpointJSON{Size: cp.Size, Root: hex.EncodeToString(cp.Hash[:])}
	}
	for _, ch := range rep.Checks {
		if !quiet || !ch.OK {
			out.Checks = append(out.Checks, checkJSON{Name: ch.Name, First: ch.First, Last: ch.Last, OK: ch.OK, Detail: ch.Detail})
		}
	}
	err := verr
	if verr == nil && pinned != nil && rep.ManifestHash != *pinned {
		detail := fmt.Sprintf("the record's manifest has hash %x, the election's published one %x: this record is of another election", rep.ManifestHash, *pinned)
		out.Checks = append(out.Checks, checkJSON{Name: verify.CheckManifest, First: 0, Last: 0, Detail: detail})
		out.Failures++
		err = errors.New("its manifest is not the one given with --manifest")
	}
	if err != nil {
		out.Error = err.Error()
		if e := g.printJSON(out); e != nil {
			return e
		}
		return fmt.Errorf("the record does not verify: %w", err)
	}
	out.OK, out.ManifestPinned = true, pinned != nil
	if rep.Manifest != nil && rep.Result != nil {
		out.Complete, out.Result = true, newResultJSON(rep.Manifest, rep.Result)
	}
	if is := rep.Issuance; is != nil {
		out.Turnout = &turnoutJSON{Eligible: is.Eligible, Issued: is.Issued, Counted: rep.Counted, Percent: math.Round(10000*is.Turnout) / 100, Entry: is.Entry}
	}
	return g.printJSON(out)
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
