package store

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// ErrNoQuorum means a checkpoint carries fewer valid witness cosignatures
// than the quorum asks: gather more cosignatures (or the log forked and the
// witnesses refused it).
var ErrNoQuorum = errors.New("store: checkpoint lacks a quorum of witness cosignatures")

// cosigSize is the length of a cosignature/v1 signature (C2SP
// tlog-cosignature): an 8-byte timestamp and an Ed25519 signature.
const cosigSize = 8 + 64

// Cosigned is a checkpoint signed by its log's key and cosigned by witnesses.
type Cosigned struct {
	Checkpoint *Checkpoint // the board's checkpoint; Signed holds the board's signature only
	Cosigners  []string    // names of the known witnesses whose cosignatures verify, in note order
	Times      []int64     // the Unix time of each cosignature, parallel to Cosigners
}

// OpenCosigned opens a checkpoint note signed by the board's key board and
// cosigned by witnesses. The body and the board's signature line must be as
// ParseCheckpoint asks (canonical C2SP tlog-checkpoint, the origin the
// key's name); then every other signature line is matched against
// witnesses, by name and key ID: a line of an unknown key is ignored (C2SP
// tlog-cosignature), as is one that does not verify, and each witness counts
// once. Fewer than quorum distinct cosigners is ErrNoQuorum.
func OpenCosigned(signed []byte, board note.Verifier, witnesses []note.Verifier, quorum int) (*Cosigned, error) {
	if len(signed) > MaxCheckpointSize+100*(len("— \n")+255+4*((4+cosigSize+2)/3)) {
		return nil, fmt.Errorf("store: cosigned checkpoint is %d bytes, too large", len(signed))
	}
	// note.Open with the board's key only: every cosignature is then an
	// unverified signature, which we check ourselves so that a bad line of a
	// known witness does not make the whole note unreadable.
	n, err := note.Open(signed, note.VerifierList(board))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return nil, fmt.Errorf("store: checkpoint is not signed by the log key %q (%08x): check it comes from this board", board.Name(), board.KeyHash())
		}
		return nil, fmt.Errorf("store: checkpoint signature does not verify with the log key %q: %w", board.Name(), err)
	}
	if len(n.Sigs) != 1 {
		return nil, fmt.Errorf("store: checkpoint carries %d signatures by the log key; want one", len(n.Sigs))
	}
	boardOnly := []byte(n.Text + "\n— " + n.Sigs[0].Name + " " + n.Sigs[0].Base64 + "\n")
	cp, err := ParseCheckpoint(boardOnly, board)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	out := &Cosigned{Checkpoint: cp}
	type id struct {
		name string
		hash uint32
	}
	seen := map[id]bool{}
	for _, s := range n.UnverifiedSigs {
		for _, w := range witnesses {
			if w == nil || seen[id{s.Name, s.Hash}] || w.Name() != s.Name || w.KeyHash() != s.Hash {
				continue
			}
			raw, err := base64.StdEncoding.Strict().DecodeString(s.Base64)
			if err != nil || len(raw) < 12 || !w.Verify([]byte(n.Text), raw[4:]) {
				continue
			}
			t := int64(binary.BigEndian.Uint64(raw[4:12]))
			seen[id{s.Name, s.Hash}] = true
			out.Cosigners = append(out.Cosigners, w.Name())
			out.Times = append(out.Times, t)
		}
	}
	if len(out.Cosigners) < quorum {
		return nil, fmt.Errorf("%w: %d of %d known witnesses cosigned checkpoint %d of %q, the quorum is %d",
			ErrNoQuorum, len(out.Cosigners), len(witnesses), cp.Size, cp.Origin, quorum)
	}
	return out, nil
}
