package trustee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evote/evote/internal/durable"
	"os"
	"strings"

	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// ErrFork means the board showed a history that is not an extension of a
// checkpoint seen before: evidence against the board, not to be decrypted.
var ErrFork = errors.New("trustee: the board's log is not an extension of a checkpoint seen before")

// A Journal is what a trustee remembers of the board between runs: the
// newest checkpoint of the board's log it has seen, and the closed log
// whose tally it decrypted. With it a trustee decrypts only a record that
// extends every checkpoint it saw (so a board cannot hand it a fork made
// to isolate a few ballots once it has seen the real log grow past them),
// and only one closed log, ever (so a board cannot get two tallies whose
// difference is one ballot).
//
// The prefix relation is transitive, so one checkpoint is enough: each new
// one is recorded only once it is proven to extend the one before.
//
// What a journal cannot do alone: a board that shows a trustee nothing but
// a fork, from the start, is caught only by comparing checkpoints with
// others (voters' receipts, monitors: Checkpoints' others), or by
// witnesses.
type Journal struct {
	path   string
	key    note.Verifier
	Newest *store.Checkpoint // nil before the first
	// Closed and Root are the closed log this trustee decrypted the tally
	// of: the log's first Closed entries (through the close entry) and
	// their root hash. Zero before.
	Closed uint64
	Root   tlog.Hash
}

type journalFile struct {
	Version    int    `json:"version"`
	Checkpoint string `json:"checkpoint,omitempty"` // the newest, as signed
	Closed     uint64 `json:"decrypted_closed_size,omitempty"`
	Root       string `json:"decrypted_root,omitempty"` // hex
}

// OpenJournal reads the journal at path, whose checkpoints must be signed
// by key; a missing file is an empty journal, written on Save.
func OpenJournal(path string, key note.Verifier) (*Journal, error) {
	j := &Journal{path: path, key: key}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, err
	}
	var f journalFile
	if err := strictjson.Decode(b, &f); err != nil {
		return nil, fmt.Errorf("trustee: %s: not a trustee journal: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("trustee: %s: journal version %d, this software reads 1", path, f.Version)
	}
	if f.Checkpoint != "" {
		if j.Newest, err = store.ParseCheckpoint([]byte(f.Checkpoint), key); err != nil {
			return nil, fmt.Errorf("trustee: %s is not a journal of this board's log (of another election's board?): give each election its own journal (%v)", path, err)
		}
	}
	if f.Closed > 0 {
		h, err := hex.DecodeString(f.Root)
		if err != nil || len(h) != len(j.Root) {
			return nil, fmt.Errorf("trustee: %s: decrypted_root is not 64 hex digits", path)
		}
		j.Closed = f.Closed
		copy(j.Root[:], h)
	}
	return j, nil
}

// Save writes the journal, replacing the old file only once the new one
// is on disk.
func (j *Journal) Save() error {
	f := journalFile{Version: 1}
	if j.Newest != nil {
		f.Checkpoint = string(j.Newest.Signed)
	}
	if j.Closed > 0 {
		f.Closed, f.Root = j.Closed, hex.EncodeToString(j.Root[:])
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return durable.WriteFile(j.path, append(b, '\n'), true)
}

// DefaultJournal is a trustee's journal file for the board whose key is
// key: one per board (so per election), named after the board's origin.
func DefaultJournal(key note.Verifier) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, key.Name())
	return "trustee-" + strings.TrimLeft(safe, ".") + ".journal"
}

// ReadCheckpoint reads a checkpoint of the board's, signed by key, from a
// file holding either the signed checkpoint or a voter's receipt (JSON,
// whose "checkpoint" is one).
func ReadCheckpoint(path string, key note.Verifier) (*store.Checkpoint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		r, err := voter.ParseReceipt(b)
		if err != nil {
			return nil, fmt.Errorf("trustee: %s: JSON, but not a receipt: %w", path, err)
		}
		b = []byte(r.Checkpoint)
	}
	// A receipt's checkpoint may carry witnesses' cosignatures; the record
	// must extend it all the same (its own quorum is verify's check).
	cp, err := store.ParseCosignedCheckpoint(b, key)
	if err != nil {
		return nil, fmt.Errorf("trustee: %s: %w", path, err)
	}
	return cp, nil
}

// Observe records cp as the newest checkpoint once proof shows it extends
// the one recorded before (proof is from the older size to the newer; nil
// when the sizes are equal or nothing is recorded). A cp older than the one
// recorded is checked the other way round and leaves the journal as it is.
func (j *Journal) Observe(cp *store.Checkpoint, proof tlog.TreeProof) error {
	if j.Newest == nil {
		j.Newest = cp
		return nil
	}
	old, now := j.Newest, cp
	if now.Size < old.Size {
		old, now = now, old
	}
	if old.Size == now.Size && old.Hash != now.Hash {
		return fmt.Errorf("%w: two checkpoints of size %d with different roots", ErrFork, old.Size)
	}
	if old.Size < now.Size {
		if err := store.VerifyConsistency(old, now, proof); err != nil {
			return fmt.Errorf("%w: %v", ErrFork, err)
		}
	}
	j.Newest = now
	return nil
}

// Checkpoints returns what a record must extend for this journal's
// trustee to decrypt it: the journal's newest checkpoint, if any, then
// others (checkpoints someone else was shown: voters' receipts, a
// monitor's). Read the record with them as Options.Checkpoints. None at
// all means the trustee has seen nothing of the board, and a fork made
// for it from the start would pass: see the package documentation.
func (j *Journal) Checkpoints(others ...*store.Checkpoint) []*store.Checkpoint {
	if j.Newest == nil {
		return others
	}
	return append([]*store.Checkpoint{j.Newest}, others...)
}

// Check refuses t unless this journal's trustee may decrypt its tally: it
// is closed (ErrNotClosed); it was read to extend the journal's newest
// checkpoint (Checkpoints); and if this trustee decrypted a closed log
// before, it is that one (ErrFork). Record what was decrypted with
// Decrypted before the partial decryption is posted.
func (j *Journal) Check(t *Tally) error {
	if !t.Closed {
		return ErrNotClosed
	}
	if err := j.readAgainst(t); err != nil {
		return err
	}
	if j.Closed != 0 && (j.Closed != t.closedSize || j.Root != t.closedRoot) {
		return fmt.Errorf("%w: this trustee already decrypted the tally of another closed log (%d entries, root %x), and a board that asks for the tally of a second one is forking its log", ErrFork, j.Closed, j.Root[:8])
	}
	return nil
}

// Decrypted records that this trustee decrypts t's tally, and saves the
// journal: call it before the partial decryption leaves the machine, so
// that a crash cannot let a second closed log through.
func (j *Journal) Decrypted(t *Tally) error {
	if !t.Closed {
		return ErrNotClosed
	}
	if err := j.readAgainst(t); err != nil {
		return err
	}
	j.Newest, j.Closed, j.Root = t.Report.Checkpoint, t.closedSize, t.closedRoot
	return j.Save()
}

// readAgainst refuses a t that was not read to extend the journal's newest
// checkpoint: a caller's mistake, which would let a fork through.
func (j *Journal) readAgainst(t *Tally) error {
	if j.Newest != nil && !t.Extends(j.Newest) {
		return errors.New("trustee: the record was not read against the journal's newest checkpoint: give Journal.Checkpoints as Options.Checkpoints")
	}
	return nil
}
