package ops

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

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
// others (voters' receipts, monitors: Require), or by witnesses.
type Journal struct {
	path   string
	key    note.Verifier
	Newest *store.Checkpoint // nil before the first
	// Decrypted is the closed log this trustee decrypted the tally of:
	// the log's first Closed entries (through the close entry) and their
	// root hash. Zero before.
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
		return nil, fmt.Errorf("%s: not a trustee journal: %w", path, err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s: journal version %d, this software reads 1", path, f.Version)
	}
	if f.Checkpoint != "" {
		if j.Newest, err = store.ParseCheckpoint([]byte(f.Checkpoint), key); err != nil {
			return nil, fmt.Errorf("%s is not a journal of this board's log (of another election's board?): give each election its own --journal (%v)", path, err)
		}
	}
	if f.Closed > 0 {
		h, err := hex.DecodeString(f.Root)
		if err != nil || len(h) != len(j.Root) {
			return nil, fmt.Errorf("%s: decrypted_root is not 64 hex digits", path)
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
	tmp := j.path + ".tmp"
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		w.Close()
		return err
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, j.path)
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
			return nil, fmt.Errorf("%s: JSON, but not a receipt: %w", path, err)
		}
		b = []byte(r.Checkpoint)
	}
	cp, err := store.ParseCheckpoint(b, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cp, nil
}

// ErrFork means the board showed a history that is not an extension of a
// checkpoint seen before: evidence against the board, not to be decrypted.
var ErrFork = errors.New("the board's log is not an extension of a checkpoint seen before")

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

// Check refuses rec unless this journal's trustee may decrypt its tally:
// it is closed; it extends the newest checkpoint recorded and every one in
// others (checkpoints someone else was shown: receipts, monitors); and if
// this trustee decrypted a closed log before, it is that one. Record what
// was decrypted with Decrypted before the partial decryption is posted.
func (j *Journal) Check(rec *Record, others []*store.Checkpoint) error {
	if !rec.Closed {
		return errors.New("the election is still open: trustees decrypt only after close (evote board close)")
	}
	seen := others
	if j.Newest != nil {
		seen = append([]*store.Checkpoint{j.Newest}, others...)
	}
	if err := rec.Extends(seen); err != nil {
		return err
	}
	closed, root, err := rec.ClosedRoot()
	if err != nil {
		return err
	}
	if j.Closed != 0 && (j.Closed != closed || j.Root != root) {
		return fmt.Errorf("%w: this trustee already decrypted the tally of another closed log (%d entries, root %x), and a board that asks for the tally of a second one is forking its log", ErrFork, j.Closed, j.Root[:8])
	}
	return nil
}

// Decrypted records that this trustee decrypts rec's tally, and saves the
// journal: call it before the partial decryption leaves the machine, so
// that a crash cannot let a second closed log through.
func (j *Journal) Decrypted(rec *Record) error {
	closed, root, err := rec.ClosedRoot()
	if err != nil {
		return err
	}
	j.Newest, j.Closed, j.Root = rec.Report.Checkpoint, closed, root
	return j.Save()
}

// Extends checks that the record rec is of one history with every
// checkpoint in seen (the journal's and any others given): the record's
// first entries hash to each one's root. A checkpoint larger than the
// record means the board shows a log cut back from one seen before.
func (rec *Record) Extends(seen []*store.Checkpoint) error {
	want := map[uint64][]*store.Checkpoint{}
	for _, cp := range seen {
		if cp.Size > rec.Report.Checkpoint.Size {
			return fmt.Errorf("%w: the record has %d entries, but a checkpoint of size %d was seen: the board cut its log back", ErrFork, rec.Report.Checkpoint.Size, cp.Size)
		}
		want[cp.Size] = append(want[cp.Size], cp)
	}
	r := store.NewReader(bytes.NewReader(rec.Raw), nil)
	for len(want) > 0 {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
		cps, ok := want[r.Count()]
		if !ok {
			continue
		}
		root, err := r.Root()
		if err != nil {
			return err
		}
		for _, cp := range cps {
			if cp.Hash != root {
				return fmt.Errorf("%w: the record's first %d entries do not hash to the checkpoint of that size seen before", ErrFork, cp.Size)
			}
		}
		delete(want, r.Count())
	}
	if len(want) > 0 {
		return errors.New("the record ended before a checkpoint's size; it was checked already, so this is a bug")
	}
	return nil
}

// ClosedRoot returns the size of the record's closed log (its entries
// through the close entry) and that log's root hash: what the aggregate a
// trustee decrypts is made of.
func (rec *Record) ClosedRoot() (uint64, tlog.Hash, error) {
	r := store.NewReader(bytes.NewReader(rec.Raw), nil)
	for {
		leaf, err := r.Next()
		if err != nil {
			return 0, tlog.Hash{}, fmt.Errorf("the record has no close entry: %w", err)
		}
		if store.EntryType(leaf[0]) == store.Close {
			root, err := r.Root()
			return r.Count(), root, err
		}
	}
}
