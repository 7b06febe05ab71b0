package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

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
// cosigned by witnesses. It reads the note as ParseCosignedCheckpoint
// does (the board's canonical checkpoint and signature line first, then
// canonical signature lines, 8 KiB in all), then matches every further
// line against witnesses by name and key ID: a line of an unknown key is
// ignored (C2SP tlog-cosignature), as is one that does not verify, and
// each witness counts once. Fewer than quorum distinct cosigners is
// ErrNoQuorum.
func OpenCosigned(signed []byte, board note.Verifier, witnesses []note.Verifier, quorum int) (*Cosigned, error) {
	cp, err := ParseCosignedCheckpoint(signed, board)
	if err != nil {
		return nil, err
	}
	text := signed[:bytes.Index(signed, []byte("\n\n"))+1] // the body, with its final newline
	out := &Cosigned{Checkpoint: cp}
	seen := map[note.Verifier]bool{}
	for _, line := range strings.SplitAfter(string(cp.Cosignatures), "\n") {
		name, b64, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "— "), "\n"), " ")
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil || len(raw) != 4+cosigSize {
			continue
		}
		hash := binary.BigEndian.Uint32(raw)
		for _, w := range witnesses {
			if w == nil || seen[w] || w.Name() != name || w.KeyHash() != hash || !w.Verify(text, raw[4:]) {
				continue
			}
			seen[w] = true
			out.Cosigners = append(out.Cosigners, w.Name())
			out.Times = append(out.Times, int64(binary.BigEndian.Uint64(raw[4:12])))
		}
	}
	if len(out.Cosigners) < quorum {
		return nil, fmt.Errorf("%w: %d of %d known witnesses cosigned checkpoint %d of %q, the quorum is %d",
			ErrNoQuorum, len(out.Cosigners), len(witnesses), cp.Size, cp.Origin, quorum)
	}
	return out, nil
}
