package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/loadtest"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
	"github.com/spf13/cobra"
)

func loadtestCmd(g *globals) *cobra.Command {
	var issuerURL, rollFile, preset, manifest, castHook string
	var bf boardFlags
	var boardURLs []string
	var ballots, eligible, conns, hold int
	var rate float64
	var local, asJSON bool
	c := &cobra.Command{
		Use:   "loadtest",
		Short: "Drive an issuer and a board with many voters at once, and measure them",
		Long: `loadtest plays many voters against an issuer and a board over HTTP: each voter
gets a token (timed: tokens per second), every ballot is then encrypted in
advance so the load generator takes as little CPU from the services as it
can, and the ballots are cast from --connections concurrent connections, flat
out or at --rate ballots per second. Each cast is timed from its release to a
checked receipt (tracking code, board signature, inclusion proof); it reports
throughput and the p50, p99 and p99.9 latencies.

Against running services, give --issuer, --board, --board-key and --roll (the
roll CSV with enrolment codes, as evote issuer roll writes it); each voter of
the roll votes once, so use a fresh roll for each run. With --local, loadtest
starts its own issuer and board in this process on loopback.

--board may be given several times: board processes of one election on one
store (--store postgres:DSN). The casts then go round-robin, the i-th through
board i mod N, and each receipt is checked against the board that gave it
(each first reads and checks the election itself).

--cast-hook CMD runs CMD (with sh -c) just before the timed casting starts and
again just after its last receipt, and waits for it each time: to sample the
services' CPU time around the casting alone. It is told the moment in
EVOTE_LOADTEST_PHASE (cast-start, then cast-end) and loadtest's own process ID
in EVOTE_LOADTEST_PID; if it fails, so does the run.

--hold N holds N idle keep-alive connections open against the board while
the ballots are cast (each asks GET /healthz once when opened, every 30 s, and
once after the casting), to show the board serving its crowd: 24,000 was the
replaced platform's peak of concurrent connections. Each needs a file
descriptor on both ends (twice in this process with --local): Go raises the
soft RLIMIT_NOFILE to the hard one at start, and loadtest says when the hard
one is too low.

--preset rousseau-2019 replays the busiest day of the platform evote
replaces (3 September 2019): 117,194 eligible voters and 79,634 ballots, its
first two hours' peak of 29,781 ballots compressed into as short a time as the
machine allows. It takes minutes, most of them issuing tokens (RSA signing).`,
		Example: `  evote loadtest --local --ballots 5000
  evote loadtest --local --ballots 20000 --rate 1200 --json
  evote loadtest --local --preset rousseau-2019
  evote loadtest --local --ballots 20000 --rate 1200 --hold 24000
  evote loadtest --issuer http://127.0.0.1:8081 --board http://127.0.0.1:8080 --board-key board.vkey --roll roll.csv
  evote loadtest --issuer http://127.0.0.1:8081 --board http://127.0.0.1:8080 --board http://127.0.0.1:8082 \
      --board-key board.vkey --manifest manifest.json --roll roll.csv`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			switch preset {
			case "":
			case loadtest.Rousseau2019.Name:
				eligible, ballots = loadtest.Rousseau2019.Eligible, loadtest.Rousseau2019.Ballots
			default:
				return usagef("unknown --preset %q; the one preset is %s", preset, loadtest.Rousseau2019.Name)
			}
			if ballots < 1 || conns < 1 || rate < 0 || hold < 0 {
				return usagef("--ballots and --connections must be at least 1, --rate and --hold at least 0")
			}
			if hold > 0 {
				need := uint64(hold) + uint64(conns) + 256
				if local {
					need += uint64(hold) + uint64(conns)
				}
				if cur, hard, ok := fileLimit(); ok && cur < need {
					g.logf("warning: --hold %d needs about %d file descriptors here, but RLIMIT_NOFILE is %d (hard %d); raise the hard limit (ulimit -Hn) or expect failures\n", hold, need, cur, hard)
				}
			}
			tc, err := ops.TLSConfig(bf.caCert)
			if err != nil {
				return usageError{fmt.Errorf("--ca-cert: %w", err)}
			}
			var cfg loadtest.Config
			if local {
				if eligible < ballots {
					eligible = ballots
				}
				if len(boardURLs) > 0 {
					return usagef("--local starts its own board; give --board only without it")
				}
				g.logf("starting an issuer with %d eligible voters and a board on loopback...\n", eligible)
				site, err := loadtest.StartLocal(ctx, eligible, ballots, conns)
				if err != nil {
					return err
				}
				defer site.Stop()
				cfg = site.Config
			} else {
				if issuerURL == "" || rollFile == "" {
					return usagef("give --issuer, --board, --board-key, --manifest and --roll, or --local")
				}
				if len(boardURLs) == 0 {
					return usagef("--board URL is required")
				}
				key, err := ops.BoardKey(bf.key)
				if err != nil {
					return usageError{err}
				}
				mh, err := ops.ManifestHash(manifest)
				if err != nil {
					return usageError{err}
				}
				voters, err := readRoll(rollFile, ballots)
				if err != nil {
					return err
				}
				hc := loadtest.HTTPClient(conns)
				hc.Transport.(*http.Transport).TLSClientConfig = tc
				var boards []voter.Board
				for _, u := range boardURLs {
					boards = append(boards, boardapi.NewClient(strings.TrimRight(u, "/"), hc))
				}
				cfg = loadtest.Config{Issuer: issuerapi.NewClient(issuerURL, hc), Board: boards[0], BoardURL: boardURLs[0], BoardKey: key, ManifestHash: mh, Voters: voters, TLS: tc}
				if len(boards) > 1 {
					cfg.Boards = boards
				}
			}
			if castHook != "" {
				hook := func(phase string) func() error {
					return func() error {
						h := exec.CommandContext(ctx, "sh", "-c", castHook)
						h.Env = append(os.Environ(), "EVOTE_LOADTEST_PHASE="+phase, fmt.Sprintf("EVOTE_LOADTEST_PID=%d", os.Getpid()))
						h.Stdout, h.Stderr = g.stderr, g.stderr
						if err := h.Run(); err != nil {
							return fmt.Errorf("--cast-hook at %s: %w", phase, err)
						}
						return nil
					}
				}
				cfg.BeforeCast, cfg.AfterCast = hook("cast-start"), hook("cast-end")
			}
			cfg.Connections, cfg.Rate, cfg.Hold = conns, rate, hold
			// Progress is called from every worker at once: the map of
			// bars needs the lock (a phase's first calls raced to make it).
			bars := map[string]*ops.Progress{}
			var barsMu sync.Mutex
			cfg.Progress = func(phase string, done, total int) {
				barsMu.Lock()
				p, ok := bars[phase]
				if !ok {
					p = ops.NewProgress(g.stderr, g.showProgress(), phase, "")
					bars[phase] = p
				}
				barsMu.Unlock()
				p.Set(uint64(done), uint64(total))
			}
			rep, err := loadtest.Run(ctx, cfg)
			for _, p := range bars {
				p.Done()
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			g.printf("tokens   %d issued in %.1f s: %.0f tokens/s\n", rep.Tokens, rep.IssueSeconds, rep.TokensPerS)
			target := "flat out"
			if rep.TargetRate > 0 {
				target = fmt.Sprintf("at %.0f/s", rep.TargetRate)
			}
			g.printf("ballots  %d cast %s over %d connections in %.1f s: %.0f ballots/s, %d errors\n",
				rep.Ballots, target, rep.Connections, rep.CastSeconds, rep.BallotsPerS, rep.Errors)
			if len(rep.PerBoard) > 1 {
				g.printf("boards   %d, round-robin: %s casts each\n", len(rep.PerBoard), strings.ReplaceAll(joinInts(rep.PerBoard), ",", ", "))
			}
			g.printf("latency  p50 %v  p99 %v  p99.9 %v (release to checked receipt)\n",
				rep.P50.Round(time.Microsecond*100), rep.P99.Round(time.Microsecond*100), rep.P999.Round(time.Microsecond*100))
			if rep.Hold > 0 {
				g.printf("held     %d of %d idle keep-alive connections through the casting (opened in %.1f s), %d errors (%.2f%%)\n",
					rep.Held, rep.Hold, rep.HoldOpenSecs, rep.HoldErrors, 100*float64(rep.HoldErrors)/float64(rep.Hold))
				if rep.HoldFirstErr != "" {
					g.printf("         first hold error: %s\n", rep.HoldFirstErr)
				}
			}
			if rep.Errors > 0 {
				return fmt.Errorf("%d of %d casts failed; the first: %s", rep.Errors, rep.Ballots, rep.FirstError)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&issuerURL, "issuer", "", "the issuer's `URL`")
	// --board as boardFlags.add has it, but repeatable.
	f.StringArrayVar(&boardURLs, "board", nil, "the board's `URL`, such as https://board.example.org; repeat for several board processes of one election, cast to round-robin")
	f.StringVar(&bf.caCert, "ca-cert", "", "trust only the CA certificate(s) in this PEM `FILE` for HTTPS to the board (and issuer), such as a self-signed deployment's")
	f.StringVar(&bf.key, "board-key", "", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	f.StringVar(&castHook, "cast-hook", "", "run `CMD` (sh -c) just before and just after the timed casting, and wait for it (EVOTE_LOADTEST_PHASE=cast-start|cast-end)")
	f.StringVar(&manifest, "manifest", "", "the election's manifest `FILE`, or its hash (64 hex digits)")
	f.StringVar(&rollFile, "roll", "", "the roll `CSV` with enrolment codes (voter_id,enrolment_code)")
	f.BoolVar(&local, "local", false, "start an issuer and a board in this process instead")
	f.IntVar(&ballots, "ballots", 2000, "number of voters who vote")
	f.IntVar(&eligible, "eligible", 0, "with --local, voters on the roll (default: --ballots)")
	f.IntVar(&conns, "connections", 64, "concurrent connections casting")
	f.Float64Var(&rate, "rate", 0, "ballots per second to cast at; 0 casts flat out")
	f.IntVar(&hold, "hold", 0, "idle keep-alive `N` connections to hold open against the board while casting")
	f.StringVar(&preset, "preset", "", "replay a known day: "+loadtest.Rousseau2019.Name)
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

// readRoll reads the first n voters of a roll CSV with codes.
func readRoll(path string, n int) ([]loadtest.Voter, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) < 2 || len(recs[0]) != 2 || recs[0][0] != "voter_id" {
		return nil, fmt.Errorf("%s: not a roll with codes (header voter_id,enrolment_code)", path)
	}
	recs = recs[1:]
	if len(recs) < n {
		return nil, fmt.Errorf("%s holds %d voters, fewer than --ballots %d", path, len(recs), n)
	}
	var out []loadtest.Voter
	for _, r := range recs[:n] {
		out = append(out, loadtest.Voter{ID: r[0], Code: r[1]})
	}
	return out, nil
}
