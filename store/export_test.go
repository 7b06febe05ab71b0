package store_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite testdata/small.record")

// readAll reads a whole record, returning its leaves and checkpoint.
func readAll(b []byte, v note.Verifier) ([][]byte, *store.Checkpoint, error) {
	r := store.NewReader(bytes.NewReader(b), v)
	var leaves [][]byte
	for {
		l, err := r.Next()
		if err == io.EOF {
			return leaves, r.Checkpoint(), nil
		}
		if err != nil {
			return leaves, nil, err
		}
		leaves = append(leaves, l)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	s, v := testKeys(t)
	for _, n := range []int{1, 2, 3, 8, 100} {
		m := newTree(t, n, 40)
		b := record(t, m, s)
		leaves, cp, err := readAll(b, v)
		if err != nil {
			t.Fatalf("%d leaves: %v", n, err)
		}
		if len(leaves) != n || cp.Size != uint64(n) || cp.Hash != m.checkpoint(t, s, n).Hash {
			t.Fatalf("%d leaves: read %d leaves, checkpoint %+v", n, len(leaves), cp)
		}
		for i := range leaves {
			if !bytes.Equal(leaves[i], m.leaves[i]) {
				t.Fatalf("leaf %d differs", i)
			}
		}
	}
}

// TestWorkedRecord keeps testdata/small.record, the worked example of
// SPEC.md, readable and byte-for-byte what the Writer writes.
func TestWorkedRecord(t *testing.T) {
	s, v := testKeys(t)
	m := &memTree{}
	m.add(t, store.Leaf(store.Manifest, []byte(`{"election":"test"}`)))
	m.add(t, store.Leaf(store.Ballot, []byte("ballot A")))
	m.add(t, store.Leaf(store.Ballot, []byte("ballot B")))
	m.add(t, store.Leaf(store.Close, nil))
	b := record(t, m, s)
	if *update {
		if err := os.WriteFile("testdata/small.record", b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/small.record")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("Writer output differs from testdata/small.record (run with -update if the format changed on purpose)")
	}
	leaves, cp, err := readAll(want, v)
	if err != nil || len(leaves) != 4 || cp.Size != 4 {
		t.Fatalf("reading testdata/small.record: %d leaves, %v", len(leaves), err)
	}
	// SPEC.md gives the keys, so the record's signature can be checked from
	// the text alone, and the checkpoint as it prints it.
	spec, err := os.ReadFile("SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"signer   " + testSKey, "verifier " + testVKey} {
		if !bytes.Contains(spec, []byte(k)) {
			t.Errorf("SPEC.md does not give the worked record's key %q", k)
		}
	}
	sigLine := string(cp.Signed[bytes.LastIndex(cp.Signed, []byte("\n— "))+1:])
	if !bytes.Contains(spec, []byte("              "+strings.TrimSuffix(sigLine, "\n"))) {
		t.Errorf("SPEC.md's worked record does not show the checkpoint's signature line %q", sigLine)
	}
}

// TestRecordTamper flips every byte of a record, several ways, and checks
// the reader refuses it. A flip in the high bytes of a leaf's length names
// that entry; a flip in a body is caught by the root hash (no entry can be
// named: any of them could be the altered one); a flip in the low bytes of
// a length desynchronizes the framing and is caught at that entry or later.
func TestRecordTamper(t *testing.T) {
	s, v := testKeys(t)
	m := newTree(t, 6, 12)
	b := record(t, m, s)
	// owner[i] is the entry whose length's two high bytes include byte i, else -1.
	owner := make([]int64, len(b))
	for i := range owner {
		owner[i] = -1
	}
	off := len(store.Magic)
	for i, l := range m.leaves {
		owner[off], owner[off+1] = int64(i), int64(i)
		off += 4 + len(l)
	}
	for i := range b {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= x
			_, _, err := readAll(c, v)
			var re *store.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("byte %d ^ %#x: got %v, want a *RecordError", i, x, err)
			}
			if owner[i] >= 0 && re.Entry != owner[i] {
				t.Errorf("byte %d ^ %#x: error names entry %d, want %d: %v", i, x, re.Entry, owner[i], err)
			}
		}
	}
}

func TestRecordBadInput(t *testing.T) {
	s, v := testKeys(t)
	m := newTree(t, 4, 8)
	good := record(t, m, s)
	cpLen := len(m.checkpoint(t, s, 4).Signed)
	end := len(good) - cpLen - 8 // offset of the end marker
	u32 := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	frame := func(leaves ...[]byte) []byte {
		b := []byte(store.Magic)
		for _, l := range leaves {
			b = append(append(b, u32(uint32(len(l)))...), l...)
		}
		return b
	}
	finish := func(b []byte, cp *store.Checkpoint) []byte {
		return append(append(append(b, u32(0)...), u32(uint32(len(cp.Signed)))...), cp.Signed...)
	}
	short := &memTree{}
	short.add(t, m.leaves[0])
	short.add(t, m.leaves[1])
	_, otherV, _ := note.GenerateKey(nil, "evote.example/other")
	other, _ := note.NewVerifier(otherV)
	for _, tc := range []struct {
		name  string
		b     []byte
		v     note.Verifier
		entry int64
		want  string
	}{
		{"empty file", nil, v, -1, "truncated in the header"},
		{"bad magic", append([]byte("evote-record/v2\n"), good[16:]...), v, -1, "not an evote record"},
		{"no entries", finish([]byte(store.Magic), m.checkpoint(t, s, 1)), v, 0, "before its first entry"},
		{"ballot first", frame(m.leaves[1]), v, 0, "must be the manifest"},
		{"oversized length", append(frame(m.leaves[0]), u32(store.MaxLeafSize+1)...), v, 1, "over the 65535-byte leaf limit"},
		{"truncated length", good[:len(store.Magic)+2], v, 0, "truncated in the length"},
		{"truncated leaf", good[:len(store.Magic)+6], v, 0, "truncated in the leaf"},
		{"no end marker", good[:end], v, 4, "truncated in the length"},
		{"truncated checkpoint", good[:len(good)-1], v, -1, "truncated in the checkpoint"},
		{"trailing bytes", append(bytes.Clone(good), 0), v, -1, "trailing bytes"},
		{"checkpoint size mismatch", finish(frame(m.leaves...), short.checkpoint(t, s, 2)), v, -1, "covers 2 entries but the record holds 4"},
		{"root mismatch", finish(frame(m.leaves[0], m.leaves[2], m.leaves[1], m.leaves[3]), m.checkpoint(t, s, 4)), v, -1, "do not hash to the signed checkpoint"},
		{"dropped entry", finish(frame(m.leaves[:3]...), m.checkpoint(t, s, 4)), v, -1, "covers 4 entries but the record holds 3"},
		{"wrong key", good, other, -1, "not signed by the log key"},
		{"huge checkpoint", append(append(frame(m.leaves[0]), u32(0)...), u32(1<<20)...), v, -1, "checkpoint length 1048576 out of range"},
	} {
		leaves, cp, err := readAll(tc.b, tc.v)
		var re *store.RecordError
		if !errors.As(err, &re) || re.Entry != tc.entry || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v (after %d leaves), want entry %d and %q", tc.name, err, len(leaves), tc.entry, tc.want)
		}
		if cp != nil {
			t.Errorf("%s: checkpoint returned with an error", tc.name)
		}
	}
	// Every truncation is refused.
	for i := range good {
		if _, _, err := readAll(good[:i], v); err == nil {
			t.Fatalf("record cut to %d of %d bytes accepted", i, len(good))
		}
	}
}

func TestWriterRefuses(t *testing.T) {
	s, _ := testKeys(t)
	m := newTree(t, 3, 8)
	w := store.NewWriter(io.Discard)
	if err := w.Append(m.leaves[1]); !errors.Is(err, store.ErrInvalidLeaf) {
		t.Fatalf("ballot as first entry: %v", err)
	}
	for _, l := range m.leaves {
		if err := w.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(m.checkpoint(t, s, 2)); err == nil {
		t.Fatal("checkpoint of 2 leaves accepted after 3")
	}
	w = store.NewWriter(io.Discard)
	for _, l := range m.leaves {
		w.Append(l)
	}
	other := newTree(t, 3, 20).checkpoint(t, s, 3)
	if err := w.Finish(other); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("checkpoint of other leaves accepted: %v", err)
	}
}

// genRecord streams a record of n test leaves of the given size to w
// without holding it in memory; cp is their checkpoint.
func genRecord(t testing.TB, w io.Writer, n, size int, cp *store.Checkpoint) {
	ew := store.NewWriter(w)
	for i := range n {
		if err := ew.Append(testLeaf(i, size)); err != nil {
			t.Error(err)
			return
		}
	}
	if err := ew.Finish(cp); err != nil {
		t.Error(err)
	}
}

// bigCheckpoint returns the checkpoint of n test leaves.
func bigCheckpoint(t testing.TB, s note.Signer, n, size int) *store.Checkpoint {
	m := newTree(t, n, size)
	return m.checkpoint(t, s, n)
}

// TestReaderMemoryFlat reads a 60 MB record through a pipe and checks the
// heap does not grow with it.
func TestReaderMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads a 60 MB record")
	}
	s, v := testKeys(t)
	const n, size = 200_000, 300
	cp := bigCheckpoint(t, s, n, size)
	pr, pw := io.Pipe()
	go func() {
		genRecord(t, pw, n, size, cp)
		pw.Close()
	}()
	runtime.GC()
	var before, peak runtime.MemStats
	runtime.ReadMemStats(&before)
	r := store.NewReader(pr, v)
	for i := 0; ; i++ {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%20_000 == 0 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.HeapAlloc {
				peak = ms
			}
		}
	}
	if r.Count() != n || r.Checkpoint().Size != n {
		t.Fatalf("read %d leaves", r.Count())
	}
	grow := int64(peak.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap growth reading %d MB: %d KB", n*size>>20, grow>>10)
	if grow > 4<<20 {
		t.Fatalf("heap grew by %d KB while reading; the reader is not streaming", grow>>10)
	}
}

func BenchmarkExport100k(b *testing.B) {
	s, _ := testKeys(b)
	const n, size = 100_000, 300
	m := newTree(b, n, size)
	cp := m.checkpoint(b, s, n)
	b.SetBytes(int64(n * size))
	for b.Loop() {
		w := store.NewWriter(io.Discard)
		for _, l := range m.leaves {
			w.Append(l)
		}
		if err := w.Finish(cp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImport100k(b *testing.B) {
	s, v := testKeys(b)
	const n, size = 100_000, 300
	rec := record(b, newTree(b, n, size), s)
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		r := store.NewReader(bytes.NewReader(rec), v)
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
