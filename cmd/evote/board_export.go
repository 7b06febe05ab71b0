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
	"golang.org/x/mod/sumdb/note"
)

func boardExportCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var st storeFlag
	var out, key string
	c := &cobra.Command{
		Use:   "export",
		Short: "Download the board's whole record",
		Long: `export downloads the election record (every entry and the signed checkpoint
covering them, in the format of SPEC.md) to a file, to verify with
"evote verify" or to publish. Given --board-key it checks the checkpoint's
signature and that every entry hashes to it before keeping the file.

With --store ENGINE:WHERE and --key instead of --board, it takes the record
from the board's log itself, with no board running: it opens the log only to
read it (a PostgreSQL log, with a database role that may only read it, while
the board's fronts serve; a bbolt log only while no board holds it), signs a
checkpoint of the log's current size with the board's key --key, as the
board would, and writes the record, checked against that key (or against
--board-key, the published one, if given). The bytes are those a board on
that log would export at that size.

On a terminal, or with --progress, a bar on stderr shows the entries
downloaded of the board's size, with the time left.`,
		Example: `  evote board export --board http://127.0.0.1:8080 --board-key board.vkey --out record.evr
  evote board export --store postgres:postgres://evote@db.example.org/evote_board --key board.key --out record.evr`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if st.spec != "" {
				if bf.url != "" {
					return usagef("give --board URL (a running board) or --store ENGINE:WHERE (its log), not both")
				}
				return exportFromStore(cmd.Context(), g, &st, key, bf.key, out)
			}
			if cmd.Flags().Changed("key") {
				return usagef("--key goes with --store; to check a running board's record give --board-key board.vkey")
			}
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
				if n, err = checkRecord(g, buf.Bytes(), v, meter.n); err != nil {
					return fmt.Errorf("the board's export is not a record signed by its key: %w", err)
				}
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
	c.Flags().StringVar(&st.spec, "store", "", fmt.Sprintf("take the record from the board's log, as `ENGINE:WHERE` (%s), not from a running board; with --key", engines))
	c.Flags().IntVar(&st.pool, "db-pool", 0, "with --store postgres: the most database connections to open (0: the default)")
	c.Flags().StringVar(&key, "key", "board.key", "with --store: the board's signing key (age-encrypted), which signs the record's checkpoint")
	return c
}

// checkRecord reads the record rec through, checking every entry against
// its checkpoint and the checkpoint's signature by v, and returns its
// number of entries; a bar shows them of total.
func checkRecord(g *globals, rec []byte, v note.Verifier, total uint64) (uint64, error) {
	p := ops.NewProgress(g.stderr, g.showProgress(), "checking the record", "entries")
	defer p.Done()
	r := store.NewReader(bytes.NewReader(rec), v)
	for {
		_, err := r.Next()
		if err == io.EOF {
			return r.Count(), nil
		}
		if err != nil {
			return 0, err
		}
		p.Set(r.Count(), max(total, r.Count()))
	}
}

// exportFromStore is export --store: the record of the log in st as it
// is now, its checkpoint signed with key.
func exportFromStore(ctx context.Context, g *globals, st *storeFlag, key, boardKey, out string) error {
	if _, _, err := st.open(); err != nil {
		return err
	}
	signer, v, err := readBoardKey(g, key)
	if err != nil {
		return err
	}
	if boardKey != "" {
		if v, err = ops.BoardKey(boardKey); err != nil {
			return usageError{err}
		}
	}
	e, err := st.openEngine(ctx, true)
	if err != nil {
		return fmt.Errorf("--store %s: %w", st, err)
	}
	n, err := e.Size(ctx)
	if err != nil {
		e.Close()
		return fmt.Errorf("--store %s: %w", st, err)
	}
	if n == 0 {
		e.Close()
		return fmt.Errorf("--store %s holds no log yet: there is no record to export", st)
	}
	l, err := store.New(e, signer, nil)
	if err != nil {
		e.Close()
		return fmt.Errorf("--store %s is not the log of --key %s: %w", st, key, err)
	}
	defer l.Close()
	var buf bytes.Buffer
	p := ops.NewProgress(g.stderr, g.showProgress(), "exporting the record", "entries")
	meter := newEntryMeter(p, n)
	err = l.Export(io.MultiWriter(&buf, meter))
	p.Done()
	if err != nil {
		return fmt.Errorf("--store %s: %w", st, err)
	}
	count, err := checkRecord(g, buf.Bytes(), v, meter.n)
	if err != nil {
		return fmt.Errorf("the record taken from %s is not signed by the board's key: %w", st, err)
	}
	if err := writeNew(out, buf.Bytes(), 0o644, true); err != nil {
		return err
	}
	g.printf("wrote %s: %d entries, %d bytes, from %s; checkpoint signed with %s and checked\n", out, count, buf.Len(), st, key)
	return nil
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
