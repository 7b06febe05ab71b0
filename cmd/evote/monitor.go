package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/monitor"
	"github.com/evote/evote/witness"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

// exitUnreachable is evote monitor --once's exit code when the board
// cannot be reached: neither consistent (0) nor caught lying (1).
const exitUnreachable = 3

// exitCodeError carries a command's own exit code.
type exitCodeError struct {
	error
	code int
}

func (e exitCodeError) Unwrap() error { return e.error }

// exitCode is the exit code err asks for, if it asks for one.
func exitCode(err error) (int, bool) {
	var e exitCodeError
	if errors.As(err, &e) {
		return e.code, true
	}
	return 0, false
}

// The monitor's defaults.
const (
	defaultMonitorInterval = 10 * time.Second
	defaultMonitorStall    = 5 * time.Minute
)

// monitorTimes reads --interval and --stall as every limit flag of evote
// is read: 0 is the default, and a negative --stall no bound (a stall is
// never alerted). An interval has no "no bound": a negative one is
// refused.
func monitorTimes(interval, stall time.Duration) (time.Duration, time.Duration, error) {
	switch {
	case interval < 0:
		return 0, 0, usagef("--interval %s: give how often to check, or 0 for the default (%s)", interval, defaultMonitorInterval)
	case interval == 0:
		interval = defaultMonitorInterval
	}
	if stall == 0 {
		stall = defaultMonitorStall
	}
	return interval, stall, nil
}

func monitorCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var manifest, stateFile, listen, logFormat, logLevel string
	var held, witnessKeys []string
	var interval, stall time.Duration
	var quorum int
	var once bool
	c := &cobra.Command{
		Use:   "monitor",
		Short: "Follow a board's log and alert on a fork, a rollback or a stall",
		Long: `monitor follows a board as an observer: every --interval it fetches the
board's newest signed checkpoint, verifies it under the pinned board key, and
has the board prove it consistent with the last checkpoint the monitor
accepted (kept in --state, so a restart continues the chain and a fork made
while the monitor was down is still caught). With --manifest, entry 0 must be
that election's manifest.

Each alert is one log line at ERROR level (msg "monitor alert", kind fork,
rollback, bad_signature, stall, unreachable, wrong_election or no_quorum),
with the offending and the accepted checkpoints as evidence, and is counted
in the metrics served on --listen at /metrics (Prometheus text format; also
/healthz). A stall is no growth for --stall while the board says the election
is open; a board that says it closed must show its close entry.

--checkpoint FILE (repeatable) compares a checkpoint someone else holds (a
voter's receipt, another monitor's --state file, a signed checkpoint) once at
start. --witness-key FILE (repeatable) and --witness-quorum N check the
board's cosigned checkpoint carries a quorum of those witnesses' cosignatures.

With --once it checks once and exits: 0 consistent, 1 an alert (fork,
rollback, bad signature, stall, wrong election, no quorum), 3 the board could
not be reached. Without, it runs until interrupted.`,
		Example: `  evote monitor --board https://board.example.org --board-key board.vkey \
      --manifest manifest.json --state monitor.json --listen 127.0.0.1:9464
  evote monitor --board https://board.example.org --board-key board.vkey --state monitor.json --once`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, a []string) error {
			bc, err := bf.client(false)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			cfg := monitor.Config{Board: bc, BoardKey: key, Stall: stall, State: stateFile, Quorum: quorum}
			if manifest != "" {
				if cfg.ManifestHash, err = ops.ManifestHash(manifest); err != nil {
					return usageError{err}
				}
			}
			for _, f := range held {
				h, err := monitor.ReadHeld(f)
				if err != nil {
					return usageError{err}
				}
				cfg.Held = append(cfg.Held, h)
			}
			if cfg.Witnesses, err = witnessVerifiers(witnessKeys); err != nil {
				return usageError{err}
			}
			// The manifest file names the witnesses and the quorum; the
			// flags stand in when it is not given (or is only a hash).
			if b, err := os.ReadFile(manifest); err == nil && len(witnessKeys) == 0 {
				if m, err := ballot.ParseManifest(b); err == nil && len(m.Witnesses) > 0 {
					cfg.Witnesses = m.WitnessVerifiers()
					if quorum == 0 {
						quorum = m.WitnessQuorum
					}
				}
			}
			if quorum == 0 && len(cfg.Witnesses) > 0 {
				quorum = len(cfg.Witnesses)/2 + 1 // a majority, as election init's default
			}
			cfg.Quorum = quorum
			if quorum < 0 || quorum > len(cfg.Witnesses) {
				return usagef("--witness-quorum %d: give 0 to %d (the --witness-key files given)", quorum, len(cfg.Witnesses))
			}
			if interval, stall, err = monitorTimes(interval, stall); err != nil {
				return err
			}
			cfg.Stall = stall
			if cfg.Logger, err = ops.NewLogger(g.stderr, logFormat, logLevel); err != nil {
				return usageError{err}
			}
			m, err := monitor.New(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if once {
				err := m.Check(ctx)
				switch monitor.KindOf(err) {
				case monitor.Ok:
					cp := m.Last()
					g.printf("consistent: the board's log has %d entries, root %x\n", cp.Size, cp.Hash[:8])
					return nil
				case monitor.Unreachable:
					return exitCodeError{err, exitUnreachable}
				}
				return err
			}
			if listen == "" {
				return m.Run(ctx, interval)
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				errc <- ops.Serve(ctx, ops.ServerConfig{Listen: listen, Handler: m.Handler(), Logger: cfg.Logger, Name: "monitor",
					Ready: func(url string) { cfg.Logger.Info("monitor: metrics at " + url + "/metrics") }})
			}()
			runErr := m.Run(ctx, interval)
			cancel()
			if err := <-errc; err != nil {
				return fmt.Errorf("--listen %s: %w", listen, err)
			}
			return runErr
		},
	}
	bf.add(c, false, true)
	f := c.Flags()
	f.StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`, or its hash (64 hex digits): entry 0 must be it")
	f.DurationVar(&interval, "interval", defaultMonitorInterval, "how often to check (0: the default)")
	f.DurationVar(&stall, "stall", defaultMonitorStall, "alert when the log has not grown for this long while the election is open (0: the default; -1s: no bound, never alert)")
	f.StringVar(&listen, "listen", "127.0.0.1:9464", "serve /metrics and /healthz at this `ADDRESS` (\"\": not at all)")
	f.StringVar(&stateFile, "state", "", "`FILE` keeping the last accepted checkpoint across restarts (recommended)")
	f.StringArrayVar(&held, "checkpoint", nil, "compare once with the checkpoint in this `FILE`: a receipt, a monitor's state file or a signed checkpoint (repeatable)")
	f.StringArrayVar(&witnessKeys, "witness-key", nil, "a witness's verifier key: a `FILE` or the key itself (repeatable)")
	f.IntVar(&quorum, "witness-quorum", 0, "how many of the --witness-key witnesses must cosign the board's cosigned checkpoint")
	f.BoolVar(&once, "once", false, "check once and exit: 0 consistent, 1 an alert, 3 the board unreachable")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

// witnessVerifiers reads witness verifier keys, each a file or the key.
func witnessVerifiers(keys []string) ([]note.Verifier, error) {
	var out []note.Verifier
	for _, k := range keys {
		text := k
		if b, err := os.ReadFile(k); err == nil {
			text = string(b)
		} else if !strings.Contains(k, "+") {
			return nil, fmt.Errorf("--witness-key %s: %w", k, err)
		}
		v, err := witness.NewVerifier(strings.TrimSpace(text))
		if err != nil {
			return nil, fmt.Errorf("--witness-key %s: %w", k, err)
		}
		out = append(out, v)
	}
	return out, nil
}
