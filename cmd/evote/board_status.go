package main

import (
	"errors"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/spf13/cobra"
)

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
