package main

import (
	"bytes"
	"context"
	"encoding/hex"
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
	var st storeFlag
	var sf serviceFlags
	var rate float64
	var burst int
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the board's HTTP API",
		Long: `serve runs the board on its log in --store (bolt:DIR, a bbolt file in DIR;
--data DIR is the same as --store bolt:DIR). On first start it creates
the election from --manifest (entry 0); later starts resume it and need no
manifest. The admin endpoints (ceremony, open, close, result, issuance) need
the token in --admin-token-file. SIGINT or SIGTERM stops it gracefully: it
stops accepting, every cast in flight gets its receipt after its commit, then
the log is closed.

Hardening: each client address gets a token bucket for POSTs (--rate,
--burst; 0 turns it off). The default, 10,000 a second, is above what one
board on a small machine accepts at all, so that voters behind one NAT and
"evote loadtest" from one host are never throttled; lower it on a big
machine facing the internet. At most --max-in-flight casts are worked on at
once: beyond that a cast is answered 503 with Retry-After: 1 at once, never
queued. Slow clients are cut off by --read-header-timeout and fixed read,
write and idle timeouts. GET /healthz and GET /metrics (Prometheus) serve
operators; the log (--log-format, --log-level) has one line per request and
nothing that identifies a voter.`,
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
				if tok, err = adminToken("", tokFile); err != nil {
					return err
				}
			} else {
				g.logf("no --admin-token-file: the admin endpoints are disabled\n")
			}
			log, err := st.openLog(signer)
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
				if b, err = board.Create(ctx, log, mb); err != nil {
					return err
				}
				g.logf("created the election's board in %s\n", &st)
			} else {
				if b, err = board.Load(log); err != nil {
					return err
				}
				if manifest != "" {
					mb, err := os.ReadFile(manifest)
					if err == nil && !bytes.Equal(bytes.TrimSpace(mb), b.Manifest().Bytes()) {
						return fmt.Errorf("%s is not the manifest of the election in %s", manifest, &st)
					}
				}
				g.logf("resumed the board in %s: %d entries\n", &st, size)
			}
			if rate < 0 {
				return usagef("--rate must be 0 (no limit) or more")
			}
			cosigner, err := startCosigner(ctx, b, log, vkey, witnessURLs, logger)
			if err != nil {
				return err
			}
			var h http.Handler = board.NewHandler(b, board.HandlerConfig{AdminToken: tok, Logger: logger, Limits: sf.limits(rate, burst), CORSOrigins: origins, Report: reportOf, Cosigner: cosigner})
			if boothDir != "" {
				if err := checkServedBooth(boothDir, b.Manifest()); err != nil {
					return err
				}
				h = booth.Mount(h, booth.Handler(os.DirFS(boothDir)))
				g.logf("serving the booth in %s at / beside the API\n", boothDir)
			}
			return ops.Serve(ctx, sf.server(ops.ServerConfig{
				Handler: h, Logger: logger, Name: "board",
				Ready: func(u string) { g.printf("board listening on %s\n", u) },
			}))
		},
	}
	f := c.Flags()
	st.add(c, "the board's log", "board-data")
	f.StringVar(&key, "key", "board.key", "the board's signer key `FILE` (age-encrypted)")
	f.StringVar(&manifest, "manifest", "", "the election manifest `FILE`, to create the board")
	f.StringVar(&tokFile, "admin-token-file", "", "`FILE` holding the admin token")
	f.StringArrayVar(&witnessURLs, "witness", nil, "a witness's base `URL` (where evote witness serve listens; the board posts to URL/add-checkpoint; repeatable): the board asks each to cosign its checkpoints, as the manifest's witnesses require")
	f.StringVar(&boothDir, "booth", "", "also serve the voting booth built in `DIR` (evote booth build) at /, beside the API")
	f.Float64Var(&rate, "rate", board.DefaultRatePerSecond, "POST requests per second per client IP (-1: no limit)")
	f.IntVar(&burst, "burst", board.DefaultBurst, "burst of POST requests per client IP")
	sf.add(c, "127.0.0.1:8080")
	return c
}

// startCosigner starts gathering the witnesses' cosignatures when the
// manifest names witnesses, refusing to serve without enough of them to
// reach the quorum: receipts, exports and trustees would all fail.
func startCosigner(ctx context.Context, b *board.Board, log store.Log, vkey string, urls []string, logger *slog.Logger) (*board.Cosigner, error) {
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
	hc := &http.Client{Timeout: 10 * time.Second}
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
