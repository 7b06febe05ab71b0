package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/spf13/cobra"
)

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
