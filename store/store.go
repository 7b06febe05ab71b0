// Package store is the append-only log of the evote bulletin board: its
// entries, its Merkle tree, its signed checkpoints, its proofs and its export
// file as plain data, and the one [Log] over a storage [Engine]. It imports
// nothing from evote and no database, so the board, a voter checking a
// receipt and an outside verifier reading an exported record all run the
// same code.
//
// # Entries
//
// A leaf is one byte of [EntryType] followed by an opaque body, stored exactly
// as it is hashed. A leaf is at most [MaxLeafSize] bytes (the limit of C2SP
// tlog-tiles, so the log can later be served as tiles), and the first leaf of
// every log is a [Manifest] entry. [ValidateLeaf] checks both; bodies are the
// business of the packages that write them.
//
// # Tree, checkpoints, proofs
//
// The tree is RFC 6962 (SHA-256, leaf prefix 0x00, node prefix 0x01), computed
// by golang.org/x/mod/sumdb/tlog; proofs are tlog's plain [tlog.RecordProof]
// and [tlog.TreeProof]. A [Checkpoint] is a C2SP tlog-checkpoint (origin line,
// size, base64 root hash) written by github.com/transparency-dev/formats/log and
// signed as a note by golang.org/x/mod/sumdb/note with the board's Ed25519
// key, whose name is the log's origin. Use [SignCheckpoint] to make one,
// [ParseCheckpoint] to accept one from outside, and [VerifyInclusion] and
// [VerifyConsistency] to check proofs against checkpoints; these are pure
// functions that need nothing but their arguments.
//
// # The Log and its engines
//
// Services see a [Log], never a storage engine. [Log.Append] adds one leaf
// atomically with an optional uniqueness key ([Append.Key],
// [Append.Replace]), a caller check run inside the write transaction
// ([Append.Check]) and extra keys ([Append.SetKeys]); it returns only once
// the leaf is durable. [Log.Checkpoint] hands out a signed checkpoint
// covering everything committed, and the checkpoint of any size stays
// retrievable ([Log.CheckpointAt]), so consistency between any two can be
// shown.
//
// There is one Log, made by [New] over an [Engine], the storage seam in the
// manner of sumdb's ServerOps: a few methods, each with a ctx, that store
// and read bytes (a transaction that appends leaves, tree hashes and keys;
// range reads of leaves and of tree hashes; lookup; size). Validation,
// group commit, checkpoint signing, proofs and the export are the Log's,
// written once for every engine. Package store/bolt is the embedded engine
// (bbolt), [MemEngine] the in-memory reference, and store/storetest the
// conformance suite both pass and the next engine (PostgreSQL) must. Two
// Logs on one store (two board processes on one database) are one log.
//
// # The export file
//
// One file holds a whole record: every leaf in order, then the signed
// checkpoint of exactly that many leaves. [Writer] writes it, [Reader] reads it
// strictly and streams, keeping only the O(log n) right edge of the tree in
// memory. SPEC.md beside this file gives the format byte by byte.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/tlog"
)

// EntryType is the first byte of every leaf.
type EntryType byte

// The entry types. Open is implied by the manifest; an explicit Open entry
// exists for boards that want one.
const (
	Manifest EntryType = 1
	Ceremony EntryType = 2
	Ballot   EntryType = 3
	Close    EntryType = 4
	Partial  EntryType = 5
	Result   EntryType = 6
	Open     EntryType = 7
	// Issuance is the issuer's signed statement of eligible voters and
	// tokens issued, after close (package issuance).
	Issuance EntryType = 8
)

var typeNames = [...]string{Manifest: "manifest", Ceremony: "ceremony", Ballot: "ballot",
	Close: "close", Partial: "partial", Result: "result", Open: "open", Issuance: "issuance"}

// String returns the type's name, or "unknown(N)".
func (t EntryType) String() string {
	if t.Known() {
		return typeNames[t]
	}
	return fmt.Sprintf("unknown(%d)", byte(t))
}

// Known reports whether t is one of the defined entry types.
func (t EntryType) Known() bool { return t >= Manifest && t <= Issuance }

// MaxLeafSize is the largest leaf, type byte included: C2SP tlog-tiles frames
// entries with a 2-byte length.
const MaxLeafSize = 1<<16 - 1

// MaxKeySize is the largest uniqueness key [Append.Key] or [Append.SetKeys]
// may hold.
const MaxKeySize = 1024

// Leaf returns the leaf of type t with the given body (a new slice).
func Leaf(t EntryType, body []byte) []byte {
	return append([]byte{byte(t)}, body...)
}

// ValidateLeaf checks that leaf may be entry index of a log: not empty, at
// most MaxLeafSize bytes, a known entry type, and a Manifest if index is 0.
// Errors wrap ErrInvalidLeaf and name the index.
func ValidateLeaf(index uint64, leaf []byte) error {
	switch {
	case len(leaf) == 0:
		return fmt.Errorf("%w: entry %d is empty; a leaf is a type byte and a body", ErrInvalidLeaf, index)
	case len(leaf) > MaxLeafSize:
		return fmt.Errorf("%w: entry %d is %d bytes, over the %d-byte limit", ErrInvalidLeaf, index, len(leaf), MaxLeafSize)
	case !EntryType(leaf[0]).Known():
		return fmt.Errorf("%w: entry %d has unknown entry type %d", ErrInvalidLeaf, index, leaf[0])
	case index == 0 && EntryType(leaf[0]) != Manifest:
		return fmt.Errorf("%w: entry 0 is a %v entry; the first entry of a log must be the manifest", ErrInvalidLeaf, EntryType(leaf[0]))
	}
	return nil
}

// LeafHash is the RFC 6962 hash of a leaf, SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) tlog.Hash { return tlog.RecordHash(leaf) }

var (
	// ErrInvalidLeaf means a leaf broke a rule of ValidateLeaf.
	ErrInvalidLeaf = errors.New("store: invalid leaf")
	// ErrDuplicate means Append.Key is already in the log and Replace is false.
	ErrDuplicate = errors.New("store: key already in the log")
	// ErrNotFound means an index, size or checkpoint is beyond what the log holds.
	ErrNotFound = errors.New("store: not found")
	// ErrNotStored means an append failed in storage (a full disk, a
	// read-only or failing file, a database that went away): nothing of
	// it was written, and the same append may be retried once the storage
	// is fixed. One case is not either-or: an engine across a network
	// whose connection is lost during the commit cannot tell whether the
	// commit happened, and reports ErrNotStored; a retry of the same
	// append is then refused as a duplicate if it did.
	ErrNotStored = errors.New("store: append not stored")
	// ErrUnavailable means the storage cannot be reached for now (a
	// database restarting, failing over, or its connections cut): a
	// network engine wraps it, in a failed append's error beside
	// ErrNotStored and in a read's, and the same call may succeed in a
	// few seconds.
	ErrUnavailable = errors.New("store: the storage cannot be reached for now")
)

// Append is one request to [Log.Append]. Nothing about a refused Append is
// stored: the leaf, its keys and its tree hashes are written in one
// transaction together with the checks.
type Append struct {
	// Leaf is the entry, stored exactly as hashed; see ValidateLeaf.
	Leaf []byte
	// Key is an optional uniqueness key (such as a token public key); nil
	// means none. Keys share one namespace with SetKeys: prefix them.
	Key []byte
	// Replace decides what happens when Key is already in the log: false
	// refuses with ErrDuplicate; true appends anyway and points Key at the
	// new leaf (a last-ballot-counts policy).
	Replace bool
	// Check, if set, runs inside the write transaction just before the
	// append, against the log as it will be appended to. An error refuses
	// this append only and is returned by Append as it is. Check must use
	// only v, never the Log, and must not keep v. It may run more than
	// once, if the engine retries the transaction.
	Check func(v View) error
	// SetKeys are extra keys set (or moved) to this leaf's index, such as a
	// phase marker written by a close entry.
	SetKeys [][]byte
}

// View is the log as seen inside a write transaction.
type View interface {
	// Size is the number of leaves.
	Size() uint64
	// Lookup returns the index a key points to.
	Lookup(key []byte) (index uint64, ok bool)
}

// Log is the bulletin board's append-only log, safe for concurrent use. [New]
// makes the one implementation, over any [Engine]; the interface lets a
// caller wrap it (tests hold or fail appends).
type Log interface {
	// Append validates and appends a.Leaf and returns its index, only after
	// it is durably committed. Refusals (ErrInvalidLeaf, ErrDuplicate, a
	// Check error) leave the log unchanged, and so does a storage failure,
	// which wraps ErrNotStored. Once submitted, an append is not cancelled
	// by ctx.
	Append(ctx context.Context, a Append) (index uint64, err error)
	// Size is the number of committed leaves.
	Size() (uint64, error)
	// Leaf returns leaf index, or an error wrapping ErrNotFound.
	Leaf(index uint64) ([]byte, error)
	// Leaves returns leaves start to end-1, in order, each exactly as
	// appended, but none after the first that takes their total size to
	// maxBytes or more (so at least one); fewer if the log ends sooner, and
	// an error wrapping ErrNotFound if it holds no leaf at start. The
	// board serves them as tlog-tiles entry bundles.
	Leaves(start, end uint64, maxBytes int) ([][]byte, error)
	// ReadHashes returns the tree's stored hashes at the given tlog
	// stored-hash indexes (tlog.StoredHashIndex): a Log is a
	// tlog.HashReader, so tlog.ReadTileData reads its hash tiles. An index
	// the log does not hold yet is an error wrapping ErrNotFound.
	ReadHashes(indexes []int64) ([]tlog.Hash, error)
	// Lookup returns the index a key points to.
	Lookup(key []byte) (index uint64, ok bool, err error)
	// Checkpoint returns a signed checkpoint covering at least every leaf
	// committed before the call. An empty log has none (ErrNotFound).
	Checkpoint(ctx context.Context) (*Checkpoint, error)
	// CheckpointAt returns the checkpoint of the tree of the given size,
	// identical to any handed out before for that size, or an error wrapping
	// ErrNotFound when the log is smaller.
	CheckpointAt(size uint64) (*Checkpoint, error)
	// ProveInclusion proves leaf index is in the tree of the given size.
	ProveInclusion(index, size uint64) (tlog.RecordProof, error)
	// ProveConsistency proves the tree of oldSize is a prefix of the tree of
	// newSize (0 < oldSize <= newSize <= Size).
	ProveConsistency(oldSize, newSize uint64) (tlog.TreeProof, error)
	// Export writes the export file (see Writer) of the log up to a fresh
	// checkpoint, streaming, in constant memory.
	Export(w io.Writer) error
	// ExportAt writes the export file of the log's first cp.Size leaves,
	// ending with cp (a checkpoint of this log, such as one CheckpointAt
	// gave) and its Cosignatures: the record as witnesses cosigned it.
	ExportAt(w io.Writer, cp *Checkpoint) error
	// Close waits for the appends already submitted, then releases the
	// log and its engine.
	Close() error
}
