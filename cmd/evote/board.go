package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

func boardCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "board",
		Short: "The bulletin board: the election's public append-only record",
		Long: `The board is the election's public record: the manifest, the key ceremony,
every ballot, the close, the trustees' partial decryptions, the result and the
issuer's counts of eligible voters and tokens issued, each a leaf of a Merkle
tree whose checkpoints the board signs. It checks every ballot fully before
accepting it and never learns who a voter is.

Admin commands (post, open, close, issuance) need the board's admin token.`,
	}
	c.AddCommand(boardKeygenCmd(g), boardServeCmd(g), boardPostCmd(g), boardPhaseCmd(g, "open"), boardPhaseCmd(g, "close"), boardStatusCmd(g), boardExportCmd(g))
	c.AddCommand(boardIssuanceCmd(g))
	return c
}

func boardKeygenCmd(g *globals) *cobra.Command {
	var key, vkey, origin string
	c := &cobra.Command{
		Use:   "keygen",
		Short: "Make the board's checkpoint-signing key",
		Long: `keygen makes the board's Ed25519 note key. The signer key is written
age-encrypted; the verifier key (board.vkey, one line such as
"board.example.org+1a2b3c4d+Ab...") is public: publish it with the election,
since voters and verifiers check every checkpoint against it. Its name,
--origin, is the first line of every checkpoint.`,
		Example: `  EVOTE_PASSPHRASE=... evote board keygen --origin board.example.org/ga2025`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			skey, vk, err := note.GenerateKey(rand.Reader, origin)
			if err != nil {
				return usageError{fmt.Errorf("--origin %q: %w", origin, err)}
			}
			if err := writeKeyPair(g, key, skey, vkey, vk); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted) and %s\n  verifier key %s\n", key, vkey, vk)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "board.key", "where to write the signer key (age-encrypted)")
	c.Flags().StringVar(&vkey, "vkey", "board.vkey", "where to write the verifier key (public)")
	c.Flags().StringVar(&origin, "origin", "evote.example/board", "the log's origin: a name for this board, such as its host and election")
	return c
}

// writeKeyPair writes a note key pair: the signer key age-encrypted to
// key, the verifier key in the clear to pub, neither over an existing
// file.
func writeKeyPair(g *globals, key, skey, pub, vkey string) error {
	kr, err := g.keyring()
	if err != nil {
		return err
	}
	if err := kr.WriteFile(key, []byte(skey+"\n"), false); err != nil {
		return err
	}
	return writeNew(pub, []byte(vkey+"\n"), 0o644, false)
}

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

func boardPostCmd(g *globals) *cobra.Command {
	var bf boardFlags
	c := &cobra.Command{
		Use:   "post FILE...",
		Short: "Post key-ceremony messages to the board",
		Long: `post sends ceremony message files (the ann-*, deal-*, complaint-* and
answer-* files "evote trustee" writes) to the board, in the order given:
announcements first, then deals, complaints, answers. The board refuses a
message that does not parse or repeats one it holds.`,
		Example: `  evote board post --board http://127.0.0.1:8080 --admin-token-file admin.token ann-*.msg`,
		Args:    args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			c, err := bf.client(true)
			if err != nil {
				return err
			}
			for _, f := range files {
				msg, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				i, err := c.PostCeremony(cmd.Context(), msg)
				if err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				g.printf("posted %s as entry %d\n", f, i)
			}
			return nil
		},
	}
	bf.add(c, true, false)
	return c
}

func boardPhaseCmd(g *globals, which string) *cobra.Command {
	var bf boardFlags
	var untallied bool
	short, long := "End the key ceremony and open voting",
		`open ends the key ceremony: the board decides it from the posted messages
(which trustees qualify, the election key, each trustee's verification key)
and appends the open entry. Ballots are accepted from then on.`
	if which == "close" {
		short, long = "End voting",
			`close appends the close entry: from then on every ballot is refused, and
trustees can decrypt the aggregate (evote trustee decrypt). It cannot be
undone. If fewer ballots are counted than the manifest's min_ballots, the
trustees will decrypt no tally, so close refuses unless --accept-untallied
says to end an election that will have no result. When the manifest names the
issuer's statement key, the issuer then states its counts (evote issuer
statement, then evote board issuance): the record is complete only with them.`
	}
	c := &cobra.Command{
		Use:     which,
		Short:   short,
		Long:    long,
		Example: "  evote board " + which + " --board http://127.0.0.1:8080 --admin-token-file admin.token",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(true)
			if err != nil {
				return err
			}
			do := c.Open
			if which == "close" {
				do = c.Close
				if !untallied {
					if err := checkMinBallots(cmd.Context(), c); err != nil {
						return err
					}
				}
			}
			i, err := do(cmd.Context())
			if err != nil {
				return err
			}
			g.printf("%s: entry %d\n", which, i)
			if which == "open" {
				info, err := c.Election(cmd.Context())
				if err != nil {
					return err
				}
				g.printf("  election key %s\n", ops.Printable(info.ElectionKey))
			}
			return nil
		},
	}
	bf.add(c, true, false)
	if which == "close" {
		c.Flags().BoolVar(&untallied, "accept-untallied", false, "close even with fewer counted ballots than the manifest's min_ballots (there will be no result)")
	}
	return c
}

func boardStatusCmd(g *globals) *cobra.Command {
	var bf boardFlags
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the election's phase and the board's size",
		Long: `status prints the election's phase (ceremony, open, closed), the number of
entries and, given --board-key, the newest checkpoint after checking its
signature.`,
		Example: "  evote board status --board http://127.0.0.1:8080 --board-key board.vkey",
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(false)
			if err != nil {
				return err
			}
			info, err := c.Election(cmd.Context())
			if err != nil {
				return err
			}
			// The board's answer is unsigned: printed escaped.
			g.printf("phase %s\nentries %d\nmanifest hash %s\n", ops.Printable(info.Phase), info.Size, ops.Printable(info.ManifestHash))
			if info.ElectionKey != "" {
				g.printf("election key %s\n", ops.Printable(info.ElectionKey))
			}
			if bf.key != "" {
				v, err := ops.BoardKey(bf.key)
				if err != nil {
					return err
				}
				signed, err := c.Checkpoint(cmd.Context(), 0)
				if err != nil {
					return err
				}
				cp, err := store.ParseCheckpoint(signed, v)
				if err != nil {
					return errors.Join(errors.New("the board's checkpoint does not verify"), err)
				}
				g.printf("checkpoint size %d root %x (signature verified)\n", cp.Size, cp.Hash[:])
			}
			return nil
		},
	}
	bf.add(c, false, true)
	return c
}

func boardExportCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var out string
	c := &cobra.Command{
		Use:   "export",
		Short: "Download the board's whole record",
		Long: `export downloads the election record (every entry and the signed checkpoint
covering them, in the format of SPEC.md) to a file, to verify with
"evote verify" or to publish. Given --board-key it checks the checkpoint's
signature and that every entry hashes to it before keeping the file.`,
		Example: `  evote board export --board http://127.0.0.1:8080 --board-key board.vkey --out record.evr`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(false)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := c.Export(cmd.Context(), &buf); err != nil {
				return err
			}
			n := uint64(0)
			if bf.key != "" {
				v, err := ops.BoardKey(bf.key)
				if err != nil {
					return usageError{err}
				}
				r := store.NewReader(bytes.NewReader(buf.Bytes()), v)
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						return fmt.Errorf("the board's export is not a record signed by its key: %w", err)
					}
				}
				n = r.Count()
			}
			if err := writeNew(out, buf.Bytes(), 0o644, true); err != nil {
				return err
			}
			if n > 0 {
				g.printf("wrote %s: %d entries, %d bytes, checkpoint signature checked\n", out, n, buf.Len())
			} else {
				g.printf("wrote %s: %d bytes (not checked: no --board-key)\n", out, buf.Len())
			}
			return nil
		},
	}
	bf.add(c, false, true)
	c.Flags().StringVarP(&out, "out", "o", "record.evr", "where to write the record")
	return c
}
