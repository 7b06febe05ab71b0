package store

import (
	"context"

	"golang.org/x/mod/sumdb/tlog"
)

// Engine is the storage seam under a [Log]: where the leaves, the tree's
// stored hashes and the uniqueness keys live. It knows nothing of entry
// types, checkpoints or proofs; [New] builds the one Log every engine
// shares on top of it, so an engine only stores and returns bytes, in
// transactions. Package store/bolt is the embedded engine, [MemEngine] the
// in-memory reference, and package store/storetest the conformance suite
// an engine must pass.
//
// What an engine promises:
//
//   - Every method is safe for concurrent use, by many Logs in one process
//     and, for an engine that can be shared, by many processes.
//   - Reads see committed transactions only, each whole: once Size reports
//     n, leaves 0..n-1, their hashes and the keys set with them are there.
//     What lies below the size never changes.
//   - No method holds a transaction, lock or cursor once it has returned,
//     and every slice it returns is the caller's own copy. (A Log writes
//     the export to the network between reads: an engine that let a reader
//     pin its state let one unread download stop every append.)
type Engine interface {
	EngineReader
	// Update runs fn in one read-write transaction and commits it, durably,
	// before it returns nil. If fn returns an error nothing fn wrote is
	// kept, and Update returns that error. Updates on one store are
	// serializable, from any Log or process. An engine may run fn again to
	// retry a transaction it could not commit; fn then starts over. The
	// Tx must not be used once fn has returned.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// Leaves returns committed leaves from index start on, in order, each
	// exactly as appended: those below end, but after the first that takes
	// their total size to maxBytes or more it returns no more (so it
	// returns at least one). It returns fewer if the log ends sooner, and
	// an error wrapping [ErrNotFound] if the log holds no leaf at start.
	Leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error)
	// Bind ties the store to one log: the first Bind on an empty store
	// records origin (the checkpoint key's name) and the key's hash; a
	// later Bind with another origin or hash fails, so a store is never
	// signed for by two keys.
	Bind(ctx context.Context, origin string, keyHash uint32) error
	// Close releases the engine.
	Close() error
}

// EngineReader is what an engine reads, outside a transaction ([Engine]) and
// inside one ([Tx], where it also sees the transaction's own writes).
type EngineReader interface {
	// Size is the number of leaves.
	Size(ctx context.Context) (uint64, error)
	// Hashes returns the tree's stored hashes at the given tlog stored-hash
	// indexes (see tlog.StoredHashIndex); it is tlog.HashReader with a ctx.
	// An index not stored is an error.
	Hashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// Lookup returns the index a key points to.
	Lookup(ctx context.Context, key []byte) (index uint64, ok bool, err error)
}

// Tx is an engine's read-write transaction, valid only inside the function
// given to [Engine.Update].
type Tx interface {
	EngineReader
	// Append stores leaf as entry n, where n is Size before the call;
	// stores hashes, the tree hashes tlog.StoredHashes computes for it, at
	// stored-hash indexes tlog.StoredHashIndex(0, n) on; sets every key in
	// keys (set or moved) to n; and makes Size n+1. The Log has validated
	// everything: an engine stores it as given (keys are 1 to
	// [MaxKeySize] bytes, leaves 1 to [MaxLeafSize]) and keeps no
	// reference to the slices.
	Append(ctx context.Context, leaf []byte, hashes []tlog.Hash, keys [][]byte) error
}

// Prefetcher is a Tx that can read many keys at once. The Log hands it
// every key a group's appends will look up or set (their Key and SetKeys)
// before it runs them, so an engine across a network answers the group's
// lookups from one round trip instead of one each, while it holds the
// lock every appender waits for. Keys a Check looks up are not known in
// advance and are read as usual.
type Prefetcher interface {
	Prefetch(ctx context.Context, keys [][]byte) error
}

// hashReader reads an engine's hashes as a tlog.HashReader.
type hashReader struct {
	ctx context.Context
	r   EngineReader
}

func (h hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return h.r.Hashes(h.ctx, indexes)
}
