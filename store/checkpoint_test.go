package store_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestValidateLeaf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		index uint64
		leaf  []byte
		want  string // "" means valid
	}{
		{"manifest first", 0, store.Leaf(store.Manifest, []byte("m")), ""},
		{"ballot later", 5, store.Leaf(store.Ballot, []byte("b")), ""},
		{"empty body", 1, store.Leaf(store.Close, nil), ""},
		{"largest", 1, make([]byte, store.MaxLeafSize), "unknown entry type 0"},
		{"largest ballot", 1, store.Leaf(store.Ballot, make([]byte, store.MaxLeafSize-1)), ""},
		{"empty", 3, nil, "entry 3 is empty"},
		{"oversized", 2, store.Leaf(store.Ballot, make([]byte, store.MaxLeafSize)), "entry 2 is 65536 bytes, over the 65535-byte limit"},
		{"unknown type", 4, []byte{99, 1}, "entry 4 has unknown entry type 99"},
		{"type zero", 4, []byte{0}, "unknown entry type 0"},
		{"ballot first", 0, store.Leaf(store.Ballot, nil), "entry 0 is a ballot entry; the first entry of a log must be the manifest"},
	} {
		err := store.ValidateLeaf(tc.index, tc.leaf)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, store.ErrInvalidLeaf) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrInvalidLeaf containing %q", tc.name, err, tc.want)
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	s, v := testKeys(t)
	m := newTree(t, 7, 10)
	cp := m.checkpoint(t, s, 7)
	want := "evote.example/test-board\n7\n"
	if !strings.HasPrefix(string(cp.Signed), want) || !strings.Contains(string(cp.Signed), "\n\n— evote.example/test-board ") {
		t.Fatalf("signed checkpoint not in tlog-checkpoint form:\n%s", cp.Signed)
	}
	got, err := store.ParseCheckpoint(cp.Signed, v)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != cp.Origin || got.Size != 7 || got.Hash != cp.Hash || !bytes.Equal(got.Signed, cp.Signed) {
		t.Fatalf("round trip: got %+v, want %+v", got, cp)
	}
}

func TestParseCheckpointRefuses(t *testing.T) {
	s, v := testKeys(t)
	m := newTree(t, 3, 10)
	cp := m.checkpoint(t, s, 3)
	_, otherV, _ := note.GenerateKey(rand.Reader, "evote.example/other")
	other, _ := note.NewVerifier(otherV)
	otherS, _, _ := note.GenerateKey(rand.Reader, "evote.example/test-board")
	impostor, _ := note.NewSigner(otherS)
	sign := func(text string, signers ...note.Signer) []byte {
		b, err := note.Sign(&note.Note{Text: text}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	text, _, _ := strings.Cut(string(cp.Signed), "\n\n")
	text += "\n"
	h := strings.Split(text, "\n")[2]
	witnessS, _, _ := note.GenerateKey(rand.Reader, "evote.example/witness")
	w2, _ := note.NewSigner(witnessS)
	for _, tc := range []struct {
		name   string
		signed []byte
		v      note.Verifier
		want   string
	}{
		{"other key", cp.Signed, other, "not signed by the log key"},
		{"impostor key same name", sign(text, impostor), v, "not signed by the log key"},
		{"extension line", sign(text+"extra\n", s), v, "extension lines"},
		{"leading zero", sign("evote.example/test-board\n03\n"+h+"\n", s), v, "canonical"},
		{"other origin", sign("evote.example/elsewhere\n3\n"+h+"\n", s), v, "origin"},
		{"short hash", sign("evote.example/test-board\n3\nAAAA\n", s), v, "root hash is 3 bytes"},
		{"size zero", sign("evote.example/test-board\n0\n"+h+"\n", s), v, "size 0 out of range"},
		{"two signatures", sign(text, s, w2), v, "2 signatures"},
		{"altered size", bytes.Replace(cp.Signed, []byte("\n3\n"), []byte("\n4\n"), 1), v, "does not verify"},
		{"not a note", []byte("hello"), v, "does not verify"},
		{"too long", make([]byte, store.MaxCheckpointSize+1), v, "over the"},
		{"plus sign", sign("evote.example/test-board\n+3\n"+h+"\n", s), v, "malformed checkpoint body"},
		{"leading zero, two digits", sign("evote.example/test-board\n015\n"+h+"\n", s), v, "canonical"},
		{"unpadded root", sign("evote.example/test-board\n3\n"+strings.TrimRight(h, "=")+"\n", s), v, "malformed checkpoint body"},
		{"root with trailing bits", sign("evote.example/test-board\n3\n"+trailingBits(h)+"\n", s), v, "canonical form"},
		{"root as URL base64", sign("evote.example/test-board\n3\n"+base64.URLEncoding.EncodeToString(cp.Hash[:])+"\n", s), v, ""},
		{"signature with trailing bits", sigTrailingBits(cp.Signed), v, "signature line is not in canonical form"},
		{"no blank line", bytes.Replace(cp.Signed, []byte("\n\n"), []byte("\n"), 1), v, "does not verify"},
	} {
		if tc.want == "" {
			// Only refused if the encoding differs; the URL alphabet agrees
			// with the standard one on hashes without + or /.
			if enc := base64.URLEncoding.EncodeToString(cp.Hash[:]); enc == h {
				continue
			}
			tc.want = "checkpoint"
		}
		_, err := store.ParseCheckpoint(tc.signed, tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	// Every single-byte change of a valid checkpoint is refused.
	for i := range cp.Signed {
		for _, x := range []byte{0x01, 0x20, 0xff} {
			b := bytes.Clone(cp.Signed)
			b[i] ^= x
			if _, err := store.ParseCheckpoint(b, v); err == nil {
				t.Fatalf("byte %d ^ %#x accepted:\n%s", i, x, b)
			}
		}
	}
}

// trailingBits re-encodes standard base64 ending in "=" with its unused low
// bits set: the same bytes to a lenient decoder, not the canonical text.
func trailingBits(b64 string) string {
	i := strings.IndexByte(b64, '=') - 1
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	c := strings.IndexByte(alphabet, b64[i])
	return b64[:i] + string(alphabet[c|1]) + b64[i+1:]
}

// sigTrailingBits rewrites a signed note's signature line the same way.
func sigTrailingBits(signed []byte) []byte {
	s := strings.TrimSuffix(string(signed), "\n")
	i := strings.LastIndexByte(s, ' ')
	return []byte(s[:i+1] + trailingBits(s[i+1:]) + "\n")
}

// TestProofs checks an inclusion proof of every entry against every
// checkpoint and consistency between every two checkpoints, and that wrong
// leaves, indexes and checkpoints fail.
func TestProofs(t *testing.T) {
	s, _ := testKeys(t)
	const N = 33
	m := newTree(t, N, 5)
	cps := make([]*store.Checkpoint, N+1)
	for n := 1; n <= N; n++ {
		cps[n] = m.checkpoint(t, s, n)
	}
	for n := 1; n <= N; n++ {
		for i := range n {
			p, err := tlog.ProveRecord(int64(n), int64(i), m)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.VerifyInclusion(cps[n], uint64(i), m.leaves[i], p); err != nil {
				t.Fatalf("entry %d in size %d: %v", i, n, err)
			}
			if err := store.VerifyInclusion(cps[n], uint64(i), m.leaves[(i+1)%N], p); !errors.Is(err, store.ErrProof) {
				t.Fatalf("entry %d in size %d: wrong leaf accepted (%v)", i, n, err)
			}
			if n > 1 {
				if err := store.VerifyInclusion(cps[n], uint64((i+1)%n), m.leaves[i], p); err == nil {
					t.Fatalf("entry %d in size %d: wrong index accepted", i, n)
				}
			}
			if err := store.VerifyInclusion(cps[n], uint64(n), m.leaves[i], p); err == nil {
				t.Fatalf("index %d beyond size %d accepted", n, n)
			}
		}
		for o := 1; o <= n; o++ {
			p, err := tlog.ProveTree(int64(n), int64(o), m)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.VerifyConsistency(cps[o], cps[n], p); err != nil {
				t.Fatalf("size %d to %d: %v", o, n, err)
			}
			if o < n {
				if err := store.VerifyConsistency(cps[n], cps[o], p); err == nil {
					t.Fatalf("size %d to %d: reversed accepted", n, o)
				}
				forged := *cps[o]
				forged.Hash[0] ^= 1
				if err := store.VerifyConsistency(&forged, cps[n], p); !errors.Is(err, store.ErrProof) {
					t.Fatalf("size %d to %d: forked old tree accepted (%v)", o, n, err)
				}
			}
		}
	}
}
