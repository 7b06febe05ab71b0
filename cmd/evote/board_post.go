package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

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
