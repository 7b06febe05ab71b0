package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func electionBundleCmd(g *globals) *cobra.Command {
	var (
		manifest, boardKey, caCert, board, issuer, out string
		witnesses                                      []string
		force                                          bool
	)
	c := &cobra.Command{
		Use:   "bundle",
		Short: "Write the election bundle every role reads with --bundle",
		Long: `bundle writes one file with what every role is told about this election by
its authority: the manifest, the board's verifier key, the CA certificate of
a private deployment, and the board's, the issuer's and the witnesses'
addresses (SPEC.md §15). Give it to every role, and publish its SHA-256 (it
prints it) beside the manifest's hash, so each can check the copy it got.

Every command then takes --bundle FILE (or EVOTE_BUNDLE=FILE) in place of
--manifest or --election, --board-key (or witness serve's --log), --ca-cert,
--board, --issuer and board serve's --witness: each flag left out is taken
from the bundle, and a flag given wins, except that a manifest given that is
not the bundle's is refused. The manifest and the CA are written, for the
commands that read files, to a private directory under the user's cache
directory (evote/bundles/SHA-256/, mode 0700).

The addresses are the ones people and their browsers reach: https://, or
http:// only to a loopback address.`,
		Example: `  evote election bundle --manifest manifest.json --board-key board.vkey --ca-cert ca.pem \
    --board https://board.example.org --issuer https://issuer.example.org \
    --witness https://w1.example.org --out election.bundle`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if manifest == "" || boardKey == "" || board == "" || issuer == "" {
				return usagef("--manifest, --board-key, --board and --issuer are required")
			}
			raw, err := os.ReadFile(manifest)
			if err != nil {
				return err
			}
			eb := &electionBundle{Format: bundleFormat, Manifest: raw, Witnesses: witnesses,
				Board: strings.TrimRight(board, "/"), Issuer: strings.TrimRight(issuer, "/")}
			for i, w := range eb.Witnesses {
				eb.Witnesses[i] = strings.TrimRight(w, "/")
			}
			if eb.BoardKey, err = boardKeyText(boardKey); err != nil {
				return err
			}
			if caCert != "" {
				b, err := os.ReadFile(caCert)
				if err != nil {
					return err
				}
				if eb.CACert, err = canonicalCACerts(b); err != nil {
					return fmt.Errorf("--ca-cert %s: %w", caCert, err)
				}
			}
			if err := eb.validate(); err != nil {
				return usageError{err}
			}
			if len(eb.manifest.Witnesses) > 0 && len(eb.Witnesses) == 0 {
				return usagef("the manifest names %d witnesses: give their addresses with --witness, as the board is to reach them", len(eb.manifest.Witnesses))
			}
			enc := eb.marshal()
			if err := writeNew(out, enc, 0o644, force); err != nil {
				return err
			}
			g.printf("wrote %s\n  manifest hash %x\n  board key %s\n  board %s\n  issuer %s\n", out, eb.manifest.Hash(), eb.BoardKey, eb.Board, eb.Issuer)
			for _, w := range eb.Witnesses {
				g.printf("  witness %s\n", w)
			}
			if eb.CACert != "" {
				g.printf("  with the CA certificate of %s\n", caCert)
			}
			g.printf("  bundle SHA-256 %x (publish it beside the manifest hash)\n", sha256.Sum256(enc))
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&manifest, "manifest", "manifest.json", "the election manifest `FILE`")
	f.StringVar(&boardKey, "board-key", "board.vkey", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	f.StringVar(&caCert, "ca-cert", "", "the CA certificate `FILE` (PEM) of the board's and issuer's TLS certificates, when it is a private CA")
	f.StringVar(&board, "board", "", "the board's `URL`, such as https://board.example.org")
	f.StringVar(&issuer, "issuer", "", "the issuer's `URL`, such as https://issuer.example.org")
	f.StringArrayVar(&witnesses, "witness", nil, "a witness's `URL`, where the board reaches it (repeatable)")
	f.StringVarP(&out, "out", "o", "election.bundle", "where to write the bundle")
	f.BoolVar(&force, "force", false, "overwrite --out if it exists")
	return c
}
