package store

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed statement of the log's size and root hash: a C2SP
// tlog-checkpoint body signed as a note by the board's key, whose name is
// the origin.
type Checkpoint struct {
	Origin string    // the log's origin line, equal to the signing key's name
	Size   uint64    // number of leaves covered, at least 1
	Hash   tlog.Hash // RFC 6962 root hash of the first Size leaves
	Signed []byte    // the whole signed note, as handed out
	// Cosignatures are the signature lines after the board's, as given
	// (witnesses' cosignatures, C2SP tlog-cosignature), unverified: only
	// ParseCosignedCheckpoint sets them, and the caller checks the ones it
	// trusts (package witness). Signed holds the board's signature only.
	Cosignatures []byte
}

// MaxCheckpointSize bounds the signed note text ParseCheckpoint accepts.
const MaxCheckpointSize = 8 << 10

// ErrProof means an inclusion or consistency proof does not verify.
var ErrProof = errors.New("store: proof does not verify")

// SignCheckpoint signs the checkpoint of a tree of size leaves with root hash.
// The origin line is signer.Name().
func SignCheckpoint(signer note.Signer, size uint64, hash tlog.Hash) (*Checkpoint, error) {
	if size == 0 || size > math.MaxInt64 {
		return nil, fmt.Errorf("store: cannot sign a checkpoint of size %d: a log must hold 1 to 2^63-1 leaves", size)
	}
	text := log.Checkpoint{Origin: signer.Name(), Size: size, Hash: hash[:]}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		return nil, fmt.Errorf("store: signing checkpoint of size %d: %w", size, err)
	}
	return &Checkpoint{Origin: signer.Name(), Size: size, Hash: hash, Signed: signed}, nil
}

// ParseCheckpoint verifies and parses a signed checkpoint from outside. The
// origin must be verifier.Name(), the note must carry exactly one signature,
// by verifier, and every byte must be in canonical form (no extension lines,
// no leading zeros, canonical base64), so a checkpoint has one encoding only.
func ParseCheckpoint(signed []byte, verifier note.Verifier) (*Checkpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return nil, fmt.Errorf("store: checkpoint is %d bytes, over the %d-byte limit", len(signed), MaxCheckpointSize)
	}
	n, err := note.Open(signed, note.VerifierList(verifier))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("store: checkpoint is not signed by the log key %q (%08x): check the record comes from this board", verifier.Name(), verifier.KeyHash())
		}
		return nil, fmt.Errorf("store: checkpoint signature does not verify with the log key %q: %w", verifier.Name(), err)
	}
	if len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 0 {
		return nil, fmt.Errorf("store: checkpoint carries %d signatures; want only the log's", len(n.Sigs)+len(n.UnverifiedSigs))
	}
	var c log.Checkpoint
	rest, err := c.Unmarshal([]byte(n.Text))
	if err != nil {
		return nil, fmt.Errorf("store: malformed checkpoint body: %w", err)
	}
	switch {
	case len(rest) != 0:
		return nil, fmt.Errorf("store: checkpoint has extension lines; this log writes none")
	case c.Origin != verifier.Name():
		return nil, fmt.Errorf("store: checkpoint origin %q is not the log key's name %q", c.Origin, verifier.Name())
	case len(c.Hash) != tlog.HashSize:
		return nil, fmt.Errorf("store: checkpoint root hash is %d bytes, want %d", len(c.Hash), tlog.HashSize)
	case c.Size == 0 || c.Size > math.MaxInt64:
		return nil, fmt.Errorf("store: checkpoint size %d out of range 1 to 2^63-1", c.Size)
	case string(c.Marshal()) != n.Text:
		return nil, fmt.Errorf("store: checkpoint body is not in canonical form")
	}
	sig, err := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	if err != nil {
		return nil, fmt.Errorf("store: checkpoint signature line: %w", err)
	}
	canonical := n.Text + "\n— " + n.Sigs[0].Name + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
	if !bytes.Equal(signed, []byte(canonical)) {
		return nil, fmt.Errorf("store: checkpoint signature line is not in canonical form")
	}
	cp := &Checkpoint{Origin: c.Origin, Size: c.Size, Signed: bytes.Clone(signed)}
	copy(cp.Hash[:], c.Hash)
	return cp, nil
}

// ParseCosignedCheckpoint is ParseCheckpoint for a checkpoint that may
// carry, after the board's signature line, other signature lines:
// witnesses' cosignatures. The note up to the board's line must be exactly
// what ParseCheckpoint accepts; each further line must be a well-formed
// signature line ("— name base64\n", canonical base64, a name without
// spaces), and they are kept, unverified, in Cosignatures: whose they are
// and whether they verify is for the caller (store.OpenCosigned).
func ParseCosignedCheckpoint(signed []byte, verifier note.Verifier) (*Checkpoint, error) {
	if len(signed) > MaxCheckpointSize {
		return nil, fmt.Errorf("store: checkpoint is %d bytes, over the %d-byte limit", len(signed), MaxCheckpointSize)
	}
	// The body, the blank line, then the board's line: its end is the
	// first newline after the blank line.
	body := bytes.Index(signed, []byte("\n\n"))
	if body < 0 {
		return nil, errors.New("store: checkpoint has no blank line before its signatures")
	}
	end := bytes.IndexByte(signed[body+2:], '\n')
	if end < 0 {
		return nil, errors.New("store: checkpoint's signature line has no newline")
	}
	cut := body + 2 + end + 1
	cp, err := ParseCheckpoint(signed[:cut], verifier)
	if err != nil {
		return nil, err
	}
	rest := signed[cut:]
	for line := rest; len(line) > 0; {
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			return nil, errors.New("store: a cosignature line has no newline")
		}
		name, b64, ok := strings.Cut(strings.TrimPrefix(string(line[:i]), "— "), " ")
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if !strings.HasPrefix(string(line[:i]), "— ") || !ok || name == "" || strings.ContainsAny(name, " +") || err != nil || len(raw) < 5 || base64.StdEncoding.EncodeToString(raw) != b64 {
			return nil, fmt.Errorf("store: cosignature line %q is not a canonical signature line", line[:i])
		}
		line = line[i+1:]
	}
	if len(rest) > 0 {
		cp.Cosignatures = bytes.Clone(rest)
	}
	return cp, nil
}

// VerifyInclusion checks that leaf is entry index of the tree cp signs.
func VerifyInclusion(cp *Checkpoint, index uint64, leaf []byte, proof tlog.RecordProof) error {
	if index >= cp.Size {
		return fmt.Errorf("%w: entry %d is not in the checkpoint of size %d", ErrProof, index, cp.Size)
	}
	if err := tlog.CheckRecord(proof, int64(cp.Size), cp.Hash, int64(index), LeafHash(leaf)); err != nil {
		return fmt.Errorf("%w: entry %d is not in the tree of checkpoint size %d (%v)", ErrProof, index, cp.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree old signs is a prefix of the tree
// new signs: the log only grew between them.
func VerifyConsistency(old, new *Checkpoint, proof tlog.TreeProof) error {
	switch {
	case old.Origin != new.Origin:
		return fmt.Errorf("%w: checkpoints are of different logs, %q and %q", ErrProof, old.Origin, new.Origin)
	case old.Size > new.Size:
		return fmt.Errorf("%w: old checkpoint size %d is larger than new size %d; pass the older one first", ErrProof, old.Size, new.Size)
	case old.Size == 0 || new.Size > math.MaxInt64:
		return fmt.Errorf("%w: checkpoint sizes %d and %d out of range", ErrProof, old.Size, new.Size)
	}
	if err := tlog.CheckTree(proof, int64(new.Size), new.Hash, int64(old.Size), old.Hash); err != nil {
		return fmt.Errorf("%w: checkpoint of size %d is not a prefix of checkpoint of size %d (%v)", ErrProof, old.Size, new.Size, err)
	}
	return nil
}
