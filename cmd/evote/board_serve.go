package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func boardServeCmd(g *globals) *cobra.Command {
	var key, manifest, tokFile, boothDir string
	var witnessURLs []string
	var witnessCA string
	var st storeFlag
	var sf serviceFlags
	var noSchedule bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the board's HTTP API",
		Long: `serve runs the board on its log in --store (bolt:DIR, a bbolt file in DIR;
--data DIR is the same as --store bolt:DIR; or postgres:DSN, a PostgreSQL
database that several board processes, on one machine or many, serve as one
board: see README, "Running on PostgreSQL"). On first start it creates
the election from --manifest (entry 0); later starts resume it and need no
manifest. The admin endpoints (ceremony, open, close, result, issuance) need
the token in --admin-token-file. SIGINT or SIGTERM stops it gracefully: it
stops accepting, every cast in flight gets its receipt after its commit, then
the log is closed.

Schedule: when the manifest names its opening and closing times (election
init --opens, --closes), the board opens voting at the first and closes it
at the second, as the log and the clock say at each step, so a board
started or restarted late does at once what is due. It opens only with
every trustee in the key ceremony: with one missing it logs at ERROR who and
why, and tries again every 10 s (evote board open --without opens without
one, saying what the election loses). It closes only once the manifest's
min_ballots are counted, logging at ERROR and trying again until then
(evote board close --accept-untallied ends it with no result). It never
opens after the closing time. evote board open and close work at any time
as before; --no-schedule leaves both to them.

Hardening: each client address gets a token bucket for POSTs (--rate,
--burst). The default, 10,000 a second, is above what one
board on a small machine accepts at all, so that voters behind one NAT and
"evote loadtest" from one host are never throttled; lower it on a big
machine facing the internet. At most --max-in-flight casts are worked on at
once: beyond that a cast is answered 503 with Retry-After: 1 at once, never
queued. Slow clients are cut off by --read-header-timeout and fixed read,
write and idle timeouts. Every limit flag reads 0 as its default and -1 as
no bound. GET /healthz and GET /metrics (Prometheus) serve operators; the
ballots, the phase and the turnout there are counted from the log, so they
survive a restart. The log (--log-format, --log-level; with json every line
is JSON, from the first) has one line per request, with the refusal's code
when it refuses (refused=already_voted), and nothing that identifies a
voter.`,
		Example: `  evote board serve --store bolt:board-data --key board.key --manifest manifest.json \
      --admin-token-file admin.token --listen 127.0.0.1:8080`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := st.open(); err != nil {
				return err
			}
			logger, err := sf.logger(g)
			if err != nil {
				return err
			}
			origins, err := sf.origins()
			if err != nil {
				return err
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			skey, err := kr.ReadFile(key)
			if err != nil {
				return err
			}
			signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
			// GET /report.html verifies the record with this key's verifier.
			reportOf, rerr := boardReport(skey)
			vkey, verr := verifierKeyOf(skey)
			clear(skey) // the signer keeps its own copy
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if rerr != nil {
				return fmt.Errorf("%s: %w", key, rerr)
			}
			if verr != nil {
				return fmt.Errorf("%s: %w", key, verr)
			}
			tok := ""
			if tokFile != "" {
				if tok, err = serviceAdminToken(tokFile); err != nil {
					return err
				}
			} else {
				logger.Warn("no --admin-token-file: the admin endpoints are disabled")
			}
			log, err := st.openLog(cmd.Context(), signer)
			if err != nil {
				return err
			}
			defer log.Close()
			size, err := log.Size()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var b *board.Board
			if size == 0 {
				if manifest == "" {
					return usagef("a new board needs --manifest manifest.json")
				}
				mb, err := os.ReadFile(manifest)
				if err != nil {
					return err
				}
				b, err = board.Create(ctx, log, mb)
				switch {
				case errors.Is(err, board.ErrCreated):
					// Another front on the same database came first.
					size = 1
				case err != nil:
					return err
				default:
					logger.Info("created the election's board", "store", st.String())
				}
			}
			if size > 0 {
				if b, err = board.Load(log); err != nil {
					return err
				}
				if manifest != "" {
					mb, err := os.ReadFile(manifest)
					if err == nil && !bytes.Equal(bytes.TrimSpace(mb), b.Manifest().Bytes()) {
						return fmt.Errorf("%s is not the manifest of the election in %s", manifest, &st)
					}
				}
			}
			// The counts are read from the whole log once, here, so that the
			// metrics and the schedule start from the log's, not from zero.
			counter := board.NewCounter(b)
			counts, err := counter.Read()
			if err != nil {
				return err
			}
			if size > 0 {
				logger.Info("resumed the board", "store", st.String(), "entries", counts.Entries, "phase", counts.Phase, "ballots", counts.Ballots, "counted", counts.Counted)
			}
			var sched *board.Schedule
			if !noSchedule {
				if sched, err = board.NewSchedule(b, board.ScheduleConfig{Logger: logger, Counter: counter}); err != nil {
					return usagef("%v: the board cannot act on that window; serve with --no-schedule and open and close by hand (evote board open, evote board close)", err)
				}
			}
			cosigner, err := startCosigner(ctx, b, log, vkey, witnessURLs, witnessCA, logger)
			if err != nil {
				return err
			}
			clientIP, err := sf.clientIP()
			if err != nil {
				return err
			}
			var h http.Handler = board.NewHandler(b, board.HandlerConfig{AdminToken: tok, Logger: logger, Limits: sf.limits(sf.rate, sf.burst), CORSOrigins: origins, Report: reportOf, Cosigner: cosigner, Counter: counter, ClientIP: clientIP})
			if boothDir != "" {
				if err := checkServedBooth(boothDir, b.Manifest()); err != nil {
					return err
				}
				h = booth.Mount(h, booth.Handler(os.DirFS(boothDir)))
				logger.Info("serving the booth at / beside the API", "dir", boothDir)
			}
			// The schedule starts once the board listens (a board that
			// cannot serve opens nothing) and has stopped before the log
			// closes.
			sctx, stop := context.WithCancel(ctx)
			scheduled := make(chan struct{})
			defer func() {
				stop()
				<-scheduled
			}()
			started := false
			err = ops.Serve(ctx, sf.server(ops.ServerConfig{
				Handler: h, Logger: logger, Name: "board",
				Ready: func(u string) {
					logger.Info("listening", "url", u)
					g.printf("board listening on %s\n", u)
					started = true
					go func() {
						defer close(scheduled)
						runSchedule(sctx, sched, b.Manifest(), logger)
					}()
				},
			}))
			if !started {
				close(scheduled)
			}
			return err
		},
	}
	f := c.Flags()
	st.add(c, "the board's log", "board-data")
	f.StringVar(&key, "key", "board.key", "the board's signer key `FILE` (age-encrypted)")
	f.StringVar(&manifest, "manifest", "", "the election manifest `FILE`, to create the board")
	f.StringVar(&tokFile, "admin-token-file", "", "`FILE` holding the admin token")
	f.StringVar(&witnessCA, "ca-cert", "", "CA certificate `FILE` (PEM) the witnesses' TLS certificates are checked against, for witnesses on a private CA (the bundle's)")
	f.StringArrayVar(&witnessURLs, "witness", nil, "a witness's base `URL` (where evote witness serve listens; the board posts to URL/add-checkpoint; repeatable): the board asks each to cosign its checkpoints, as the manifest's witnesses require")
	f.StringVar(&boothDir, "booth", "", "also serve the voting booth built in `DIR` (evote booth build) at /, beside the API")
	f.BoolVar(&noSchedule, "no-schedule", false, "do not open and close at the manifest's opens and closes; open and close by hand (evote board open, evote board close)")
	sf.addRate(c, board.DefaultRatePerSecond, board.DefaultBurst, "POST requests")
	sf.add(c, "127.0.0.1:8080")
	return c
}

// runSchedule acts on the manifest's times until voting is closed or ctx
// is done, saying first what it will do; s nil (--no-schedule) says only
// that.
func runSchedule(ctx context.Context, s *board.Schedule, m *ballot.Manifest, logger *slog.Logger) {
	switch {
	case s == nil:
		logger.Info("--no-schedule: voting opens and closes only by hand (evote board open, evote board close)", "opens", m.Opens, "closes", m.Closes)
		return
	case m.Opens == "" && m.Closes == "":
		logger.Info("the manifest names no opening or closing time: voting opens and closes by hand (evote board open, evote board close)")
		return
	}
	logger.Info("schedule: voting opens and closes at the manifest's times", "opens", m.Opens, "closes", m.Closes)
	s.Run(ctx)
}

// startCosigner starts gathering the witnesses' cosignatures when the
// manifest names witnesses, refusing to serve without enough of them to
// reach the quorum: receipts, exports and trustees would all fail.
func startCosigner(ctx context.Context, b *board.Board, log store.Log, vkey string, urls []string, caFile string, logger *slog.Logger) (*board.Cosigner, error) {
	m := b.Manifest()
	if len(m.Witnesses) == 0 {
		if len(urls) > 0 {
			return nil, usagef("--witness given, but this election's manifest names no witnesses (election init --witness-key)")
		}
		return nil, nil
	}
	if len(urls) < m.WitnessQuorum {
		return nil, usagef("the manifest asks %d of its %d witnesses to cosign every checkpoint: give at least %d --witness URL (each witness's evote witness serve address)", m.WitnessQuorum, len(m.Witnesses), m.WitnessQuorum)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	hc, err := ops.HTTPClient(caFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	hc.Timeout = 10 * time.Second
	var ws []board.Witness
	for _, u := range urls {
		ws = append(ws, board.HTTPWitness(strings.TrimRight(u, "/"), hc))
	}
	c := board.NewCosigner(log, verifier, ws, m.WitnessVerifiers(), m.WitnessQuorum, logger)
	go c.Run(ctx, time.Second)
	return c, nil
}

// checkServedBooth refuses a booth the board cannot serve: one built for
// another election, or one that would ask the board for tokens (its issuer
// left to the booth's own origin, which here is the board).
func checkServedBooth(dir string, m *ballot.Manifest) error {
	cfg, err := booth.ReadConfig(os.DirFS(dir))
	if err != nil {
		return usagef("--booth %s: %v", dir, err)
	}
	if h := m.Hash(); cfg.ManifestHash != hex.EncodeToString(h[:]) {
		return usagef("--booth %s: that booth is for another election (manifest %.16s…, this board's is %x…): rebuild it with evote booth build --manifest of this election", dir, cfg.ManifestHash, h[:8])
	}
	if cfg.Issuer == "" {
		return usagef("--booth %s: that booth asks its own origin for voting tokens, and here its origin is the board, which issues none: rebuild it with --issuer URL (the issuer's address as voters' browsers reach it)", dir)
	}
	if cfg.Board != "" {
		return usagef("--booth %s: that booth was built to reach the board at %s; served by the board itself it must reach its own origin: rebuild it without --board", dir, cfg.Board)
	}
	return nil
}
