package main

import (
	"encoding/hex"
	"errors"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/spf13/cobra"
)

func boardStatusCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the election's phase and the board's size",
		Long: `status prints the election's phase (ceremony, open, closed), the number of
entries and, given --board-key, the newest checkpoint after checking its
signature.

With --json it prints one JSON object: "phase", "entries", "manifest_hash",
"open_index" and "close_index" (0 before open, before close), "election_key"
("" before open): the board's own word, unsigned; and "checkpoint" ({"size",
"root"} hex, its signature verified), or null without --board-key. On a
failure nothing is printed on stdout; the error goes to stderr.`,
		Example: `  evote board status --board http://127.0.0.1:8080 --board-key board.vkey
  evote board status --board http://127.0.0.1:8080 --board-key board.vkey --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(false)
			if err != nil {
				return err
			}
			info, err := c.Election(cmd.Context())
			if err != nil {
				return err
			}
			out := boardStatusJSON{Phase: info.Phase, Entries: info.Size, ManifestHash: info.ManifestHash,
				OpenIndex: info.OpenIndex, CloseIndex: info.CloseIndex, ElectionKey: info.ElectionKey}
			if !asJSON {
				// The board's answer is unsigned: printed escaped.
				g.printf("phase %s\nentries %d\nmanifest hash %s\n", ops.Printable(info.Phase), info.Size, ops.Printable(info.ManifestHash))
				if info.ElectionKey != "" {
					g.printf("election key %s\n", ops.Printable(info.ElectionKey))
				}
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
				out.Checkpoint = &checkpointJSON{Size: cp.Size, Root: hex.EncodeToString(cp.Hash[:])}
				if !asJSON {
					g.printf("checkpoint size %d root %x (signature verified)\n", cp.Size, cp.Hash[:])
				}
			}
			if asJSON {
				return g.printJSON(out)
			}
			return nil
		},
	}
	bf.add(c, false, true)
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys in the help)")
	return c
}

// boardStatusJSON is what evote board status --json prints.
type boardStatusJSON struct {
	Phase        string          `json:"phase"`
	Entries      uint64          `json:"entries"`
	ManifestHash string          `json:"manifest_hash"`
	OpenIndex    uint64          `json:"open_index"`
	CloseIndex   uint64          `json:"close_index"`
	ElectionKey  string          `json:"election_key"`
	Checkpoint   *checkpointJSON `json:"checkpoint"`
}
