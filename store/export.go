package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Magic is the first line of an export file.
const Magic = "evote-record/v1\n"

// RecordError is an export file that is malformed or does not match its
// checkpoint. Entry is the index of the entry at fault, or -1 when the fault
// is in the header, the checkpoint or the record as a whole.
type RecordError struct {
	Entry  int64 // entry index, or -1
	Offset int64 // byte offset in the file where the fault was found
	Err    error
}

func (e *RecordError) Error() string {
	if e.Entry < 0 {
		return fmt.Sprintf("store: export file: at byte %d: %v", e.Offset, e.Err)
	}
	return fmt.Sprintf("store: export file: entry %d at byte %d: %v", e.Entry, e.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// ErrRootMismatch is the fault of an export file whose entries, each well
// formed, do not hash to its signed checkpoint's root: some entry was
// altered after the board signed (it is a RecordError's Err).
var ErrRootMismatch = errors.New("store: the entries do not match the checkpoint")

// edge computes the RFC 6962 root of a growing tree in O(log n) memory: it
// is a tlog.HashReader holding only the stored hashes tlog.StoredHashes and
// tlog.TreeHash read, the roots of the complete subtrees on the tree's right
// edge, one per set bit of the size.
type edge struct {
	n     int64
	roots [64]tlog.Hash // roots[l]: the subtree of 2^l leaves ending the tree, if bit l of n is set
}

func (e *edge) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		l, k := tlog.SplitStoredHashIndex(x)
		if e.n>>l&1 == 0 || k != e.n>>l-1 {
			return nil, fmt.Errorf("store: hash %d is not on the right edge of a tree of size %d", x, e.n)
		}
		out[i] = e.roots[l]
	}
	return out, nil
}

func (e *edge) add(leaf []byte) error {
	hashes, err := tlog.StoredHashes(e.n, leaf, e)
	if err != nil {
		return err
	}
	// StoredHashes returns the leaf hash, then the root of each subtree the
	// leaf completes; the last is the new right-edge root at its level.
	l := len(hashes) - 1
	if l != bits.TrailingZeros64(uint64(e.n+1)) {
		return fmt.Errorf("store: tlog returned %d hashes for leaf %d", len(hashes), e.n)
	}
	e.roots[l] = hashes[l]
	e.n++
	return nil
}

func (e *edge) root() (tlog.Hash, error) { return tlog.TreeHash(e.n, e) }

// TreeHash returns the RFC 6962 root hash of a tree of the given leaves,
// such as a log's first entries fetched one by one, to check against a
// checkpoint of that size or, with a consistency proof, of a later one.
func TreeHash(leaves [][]byte) (tlog.Hash, error) {
	var e edge
	for _, l := range leaves {
		if err := e.add(l); err != nil {
			return tlog.Hash{}, err
		}
	}
	return e.root()
}

// Writer writes an export file: Magic, each leaf as a 4-byte big-endian
// length and its bytes, a zero length, then the signed checkpoint as a 4-byte
// big-endian length and its bytes. See SPEC.md.
type Writer struct {
	w    *bufio.Writer
	e    edge
	err  error
	done bool
}

// NewWriter returns a Writer to w. Call Append for each leaf in order, then
// Finish.
func NewWriter(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	_, err := bw.WriteString(Magic)
	return &Writer{w: bw, err: err}
}

// Append writes the next leaf, after checking it with ValidateLeaf.
func (w *Writer) Append(leaf []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("store: Writer.Append after Finish")
	}
	if err := ValidateLeaf(uint64(w.e.n), leaf); err != nil {
		return err
	}
	if err := w.e.add(leaf); err != nil {
		w.err = err
		return err
	}
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(leaf)))
	w.w.Write(l[:])
	_, w.err = w.w.Write(leaf)
	return w.err
}

// Finish writes the end marker and cp, which must sign exactly the leaves
// written, followed by its Cosignatures, and flushes. It does not close
// the underlying writer.
func (w *Writer) Finish(cp *Checkpoint) error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return errors.New("store: Writer.Finish called twice")
	}
	w.done = true
	if cp.Size != uint64(w.e.n) {
		return fmt.Errorf("store: checkpoint covers %d leaves but %d were written", cp.Size, w.e.n)
	}
	root, err := w.e.root()
	if err != nil {
		return err
	}
	if root != cp.Hash {
		return fmt.Errorf("store: checkpoint root hash %v does not match the %d leaves written (%v)", cp.Hash, w.e.n, root)
	}
	var b [8]byte
	binary.BigEndian.PutUint32(b[4:], uint32(len(cp.Signed)+len(cp.Cosignatures)))
	w.w.Write(b[:])
	w.w.Write(cp.Signed)
	w.w.Write(cp.Cosignatures)
	return w.w.Flush()
}

// Reader reads an export file strictly and in constant memory. Next returns
// the leaves in order; only when it returns io.EOF has the whole record been
// checked against its signed checkpoint, so a caller must not act on a leaf
// until then (it may check them as they come and discard the results on
// error).
type Reader struct {
	r   *bufio.Reader
	v   note.Verifier
	e   edge
	off int64
	cp  *Checkpoint
	err error
}

// NewReader returns a Reader of the export file r, whose checkpoint must be
// signed by v.
func NewReader(r io.Reader, v note.Verifier) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), v: v}
}

// Next returns the next leaf (a fresh slice), or io.EOF after the end marker,
// the checkpoint and the end of the input have been read and checked. Any
// other error is a *RecordError and is returned again by every later call.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	leaf, err := r.next()
	if err != nil {
		r.err = err
	}
	return leaf, err
}

// Checkpoint returns the record's verified checkpoint once Next has returned
// io.EOF, and nil before.
func (r *Reader) Checkpoint() *Checkpoint {
	if r.err == io.EOF {
		return r.cp
	}
	return nil
}

// Count is the number of leaves returned so far.
func (r *Reader) Count() uint64 { return uint64(r.e.n) }

// Root returns the RFC 6962 root hash of the leaves returned so far: a
// reader can check that the record extends a checkpoint it saw earlier by
// comparing Root with that checkpoint's hash once Count equals its size.
func (r *Reader) Root() (tlog.Hash, error) { return r.e.root() }

func (r *Reader) fail(entry int64, format string, args ...any) error {
	return &RecordError{Entry: entry, Offset: r.off, Err: fmt.Errorf(format, args...)}
}

func (r *Reader) read(buf []byte, entry int64, what string) error {
	n, err := io.ReadFull(r.r, buf)
	r.off += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return r.fail(entry, "file truncated in %s", what)
	}
	if err != nil {
		return r.fail(entry, "reading %s: %v", what, err)
	}
	return nil
}

func (r *Reader) next() ([]byte, error) {
	if r.off == 0 {
		var m [len(Magic)]byte
		if err := r.read(m[:], -1, "the header"); err != nil {
			return nil, err
		}
		if string(m[:]) != Magic {
			return nil, r.fail(-1, "not an evote record: header %q, want %q", m[:], Magic)
		}
	}
	i := r.e.n
	var l [4]byte
	if err := r.read(l[:], i, "the length"); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n == 0 {
		return nil, r.finish()
	}
	if n > MaxLeafSize {
		return nil, r.fail(i, "length %d is over the %d-byte leaf limit", n, MaxLeafSize)
	}
	leaf := make([]byte, n)
	if err := r.read(leaf, i, "the leaf"); err != nil {
		return nil, err
	}
	if err := ValidateLeaf(uint64(i), leaf); err != nil {
		return nil, r.fail(i, "%v", err)
	}
	if err := r.e.add(leaf); err != nil {
		return nil, r.fail(i, "%v", err)
	}
	return leaf, nil
}

func (r *Reader) finish() error {
	if r.e.n == 0 {
		return r.fail(0, "record ends before its first entry, the manifest")
	}
	var l [4]byte
	if err := r.read(l[:], -1, "the checkpoint length"); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n == 0 || n > MaxCheckpointSize {
		return r.fail(-1, "checkpoint length %d out of range 1 to %d", n, MaxCheckpointSize)
	}
	signed := make([]byte, n)
	if err := r.read(signed, -1, "the checkpoint"); err != nil {
		return err
	}
	cp, err := ParseCosignedCheckpoint(signed, r.v)
	if err != nil {
		return r.fail(-1, "%v", err)
	}
	if cp.Size != uint64(r.e.n) {
		return r.fail(-1, "checkpoint covers %d entries but the record holds %d", cp.Size, r.e.n)
	}
	root, err := r.e.root()
	if err != nil {
		return r.fail(-1, "%v", err)
	}
	if root != cp.Hash {
		return &RecordError{Entry: -1, Offset: r.off, Err: fmt.Errorf("%w: the %d entries do not hash to the signed checkpoint's root: an entry was altered", ErrRootMismatch, r.e.n)}
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		if err == nil {
			return r.fail(-1, "trailing bytes after the checkpoint")
		}
		return r.fail(-1, "reading past the checkpoint: %v", err)
	}
	r.cp = cp
	return io.EOF
}
