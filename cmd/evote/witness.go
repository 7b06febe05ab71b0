package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/witness"
	"github.com/evote/evote/witness/httpwitness"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func witnessCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "witness",
		Short: "A witness: cosigns the board's checkpoints only if consistent with all it cosigned",
		Long: `A witness is an independent party that cosigns a board's checkpoint only if it
is consistent with every checkpoint of that board it cosigned before, so a
board cannot show two histories of its log and get a quorum for both. It speaks
C2SP tlog-witness (POST /add-checkpoint) and signs C2SP tlog-cosignature
(cosignature/v1, Ed25519), so any witness of that protocol can serve an evote
board and this one can witness any such log.`,
	}
	c.AddCommand(witnessKeygenCmd(g), witnessServeCmd(g))
	return c
}

func witnessKeygenCmd(g *globals) *cobra.Command {
	var key, pub, name string
	c := &cobra.Command{
		Use:   "keygen",
		Short: "Make a witness's cosigning key",
		Long: `keygen makes the witness's Ed25519 cosignature/v1 key. The private key is
written age-encrypted; the verifier key (one line such as
"witness.example.org+1a2b3c4d+BA...") is public: give it to the election
authority, who names it in the manifest's witness set.`,
		Example: `  EVOTE_PASSPHRASE=... evote witness keygen --name witness.example.org --key witness.key --pub witness.vkey`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			skey, vkey, err := witness.GenerateKey(rand.Reader, name)
			if err != nil {
				return usageError{fmt.Errorf("--name %q: %w", name, err)}
			}
			if err := writeKeyPair(g, key, skey, pub, vkey); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted) and %s\n  witness key %s\n", key, pub, vkey)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "witness.key", "where to write the private key (age-encrypted)")
	c.Flags().StringVar(&pub, "pub", "witness.vkey", "where to write the verifier key (public)")
	c.Flags().StringVar(&name, "name", "", "the witness's name, such as its host name")
	c.MarkFlagRequired("name")
	return c
}

func witnessServeCmd(g *globals) *cobra.Command {
	var key, state string
	var logs []string
	var sf serviceFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve C2SP tlog-witness add-checkpoint",
		Long: `serve runs the witness for the logs whose note verifier keys are given with
--log (a board.vkey file, or the key itself; repeat for several boards). For
each log it keeps the size and root hash of the latest checkpoint it cosigned
in a bbolt file in --state, written and fsynced before it answers: keep that
directory as safe as the key, since a witness that loses it could be made to
cosign a fork. A witness whose state is lost must get a new key.

It serves POST /add-checkpoint, GET /healthz and GET /metrics, with the
listening, TLS, log and connection flags of evote board serve (every limit
flag reads 0 as its default and -1 as no bound).`,
		Example: `  evote witness serve --key witness.key --log board.vkey --state witness-data --listen 127.0.0.1:8090`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(logs) == 0 {
				return usagef("name at least one log to witness: --log board.vkey")
			}
			var verifiers []note.Verifier
			for _, l := range logs {
				text := l
				if v, err := note.NewVerifier(l); err == nil {
					// The key itself first, as ops.BoardKey does: a file
					// at the path its text spells must not win.
					verifiers = append(verifiers, v)
					continue
				}
				if b, err := os.ReadFile(l); err == nil {
					text = string(b)
				} else if !strings.Contains(l, "+") {
					return usagef("--log %s: %v", l, err)
				}
				v, err := note.NewVerifier(strings.TrimSpace(text))
				if err != nil {
					return usagef("--log %s: not a log's note verifier key: %v", l, err)
				}
				verifiers = append(verifiers, v)
			}
			logger, err := sf.logger(g)
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
			signer, err := witness.NewSigner(strings.TrimSpace(string(skey)))
			clear(skey)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			w, err := httpwitness.Open(state, signer, verifiers)
			if err != nil {
				return err
			}
			defer w.Close()
			for _, v := range verifiers {
				n, _, _, ok, err := w.Latest(v.Name())
				if err != nil {
					return err
				}
				if ok {
					logger.Info("witnessing", "log", v.Name(), "cosigned_size", n)
				} else {
					logger.Info("witnessing, nothing cosigned yet", "log", v.Name())
				}
			}
			h := w.Handler(httpwitness.HandlerConfig{Logger: logger, MaxInFlight: sf.maxInFlight})
			return ops.Serve(cmd.Context(), sf.server(ops.ServerConfig{
				Handler: h, Logger: logger, Name: "witness",
				Ready: func(u string) {
					logger.Info("listening", "url", u)
					g.printf("witness %s listening on %s\n", w.Verifier().Name(), u)
				},
			}))
		},
	}
	f := c.Flags()
	f.StringVar(&key, "key", "witness.key", "the witness's private key `FILE` (age-encrypted)")
	f.StringArrayVar(&logs, "log", nil, "a log to witness: its note verifier key, a `FILE` such as board.vkey or the key itself; repeat for several")
	f.StringVar(&state, "state", "witness-data", "the `DIR` holding the witness's state")
	// 64, httpwitness's own default: a cosignature is an fsync each, and
	// a witness serves a few boards.
	sf.addServer(c, "127.0.0.1:8090", 64, "most add-checkpoint requests worked on at once; beyond it 503 with Retry-After")
	return c
}
