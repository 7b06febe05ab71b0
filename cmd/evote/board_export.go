package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/store"
	"github.com/evote/evote/trustee"
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
signature and that every entry hashes to it before keeping the file.

On a terminal, or with --progress, a bar on stderr shows the entries
downloaded of the board's size, with the time left.`,
		Example: `  evote board export --board http://127.0.0.1:8080 --board-key board.vkey --out record.evr`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := bf.client(false)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			p := ops.NewProgress(g.stderr, g.showProgress(), "exporting the record", "entries")
			meter := newEntryMeter(p, boardSize(cmd.Context(), c, p))
			err = c.Export(cmd.Context(), io.MultiWriter(&buf, meter))
			p.Done()
			if err != nil {
				return err
			}
			n := uint64(0)
			if bf.key != "" {
				v, err := ops.BoardKey(bf.key)
				if err != nil {
					return usageError{err}
				}
				p := ops.NewProgress(g.stderr, g.showProgress(), "checking the record", "entries")
				r := store.NewReader(bytes.NewReader(buf.Bytes()), v)
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						p.Done()
						return fmt.Errorf("the board's export is not a record signed by its key: %w", err)
					}
					p.Set(r.Count(), max(meter.n, r.Count()))
				}
				p.Done()
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

// boardSize is the board's number of entries, the total of a bar in
// entries over its export; 0 (unknown) when the bar is not drawn or the
// board does not say. It is the board's unsigned word, good for a bar only.
func boardSize(ctx context.Context, c *boardapi.Client, p *ops.Progress) uint64 {
	if p == nil {
		return 0
	}
	info, err := c.Election(ctx)
	if err != nil {
		return 0
	}
	return info.Size
}

// entryMeter counts the entries of an export file as its bytes go by and
// moves a progress bar: the file is Magic, then each entry as a 4-byte
// big-endian length and its bytes, a zero length, and the checkpoint
// (SPEC.md). It checks nothing; the reader the same bytes go to does.
type entryMeter struct {
	p       *ops.Progress
	total   uint64
	skip    int // bytes of the header or of an entry still to pass
	inEntry bool
	length  [4]byte
	have    int    // bytes of length read
	n       uint64 // entries passed
	ended   bool
}

func newEntryMeter(p *ops.Progress, total uint64) *entryMeter {
	return &entryMeter{p: p, total: total, skip: len(store.Magic)}
}

func (m *entryMeter) Write(b []byte) (int, error) {
	size := len(b)
	for len(b) > 0 && !m.ended {
		if m.skip > 0 {
			k := min(m.skip, len(b))
			m.skip, b = m.skip-k, b[k:]
			if m.skip == 0 && m.inEntry {
				m.n++
				m.inEntry = false
				m.p.Set(m.n, max(m.total, m.n))
			}
			continue
		}
		k := copy(m.length[m.have:], b)
		m.have, b = m.have+k, b[k:]
		if m.have == len(m.length) {
			m.have = 0
			l := binary.BigEndian.Uint32(m.length[:])
			if l == 0 {
				m.ended = true
				break
			}
			m.skip, m.inEntry = int(l), true
		}
	}
	return size, nil
}

// meteredExport is a board whose export also goes through a meter.
type meteredExport struct {
	b     trustee.Exporter
	meter io.Writer
}

func (e meteredExport) Export(ctx context.Context, w io.Writer) error {
	return e.b.Export(ctx, io.MultiWriter(w, e.meter))
}
