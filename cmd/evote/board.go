package main

import (
	"crypto/rand"
	"fmt"

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
	c.AddCommand(boardIssuanceCmd(g), boardMigrateCmd(g))
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
