package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Options tune the Log [New] makes. The zero value is the production
// default.
type Options struct {
	// NoGroupCommit commits each append in a transaction of its own, for
	// comparison: see [New] for what group commit is worth.
	NoGroupCommit bool
	// MaxBatchSize and MaxBatchDelay bound a group commit: a group is
	// committed when it holds MaxBatchSize appends or MaxBatchDelay after
	// its first one arrived. Zero means 1000 and 2ms (measured on bbolt:
	// 2ms gives 3x the throughput of 10ms, 1ms no more than 2ms).
	MaxBatchSize  int
	MaxBatchDelay time.Duration
}

// New returns the Log kept in engine e, whose checkpoints signer signs:
// the first New on an empty store binds it to signer's name and key
// ([Engine.Bind]), and a store bound to another refuses. The Log owns e:
// its Close closes e. Many Logs, in one process or many, may share one
// store if the engine allows it; they then see one log.
//
// What the Log does once for every engine:
//
//   - Validation. Every leaf passes [ValidateLeaf] and every key is 1 to
//     [MaxKeySize] bytes before it reaches the engine; the uniqueness key,
//     [Append.Check] and the extra keys are decided inside the engine's
//     transaction, so two Logs on one store cannot both win a key.
//   - Group commit. Concurrent appends share one engine transaction (and
//     so, on bbolt, one fsync), each returning once that transaction is
//     committed. A refused append (invalid leaf, duplicate key, failed
//     check) is skipped inside the shared transaction, so it neither writes
//     anything nor fails the others; a storage failure fails the whole
//     group, and each of its appends returns [ErrNotStored]. Measured on
//     bbolt, 64 appenders per core on 2 cores (BenchmarkAppend in
//     store/bolt, medians of 5 runs): 22,600 appends a second with group
//     commit against 1,000 without, which is what lets the board answer
//     thousands of casts a second, each only after its ballot is durable.
//     Grouping here rather than in bbolt (DB.Batch, which store/bolt used
//     before the engine seam) costs nothing (20,400 then, in the same
//     session) and gives every engine group commit.
//   - Checkpoints, signed lazily: Checkpoint signs the current tree only if
//     the last one this Log handed out does not already cover every
//     committed leaf, and one signer runs at a time, so many concurrent
//     appenders share a few signatures. Checkpoints are not stored: the
//     note signature (Ed25519) is deterministic, so CheckpointAt signs the
//     tree of any size again and gets the very bytes handed out before, by
//     this Log or another on the same store (measured: storing each one
//     cost a second fsync on every receipt's path and halved casting
//     throughput).
//   - Proofs, from the engine's stored hashes by tlog, and the export,
//     streamed in batches read before they are written (see Export).
func New(e Engine, signer note.Signer, opts *Options) (Log, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := e.Bind(context.Background(), signer.Name(), signer.KeyHash()); err != nil {
		return nil, err
	}
	l := &engineLog{e: e, signer: signer, group: !opts.NoGroupCommit, maxBatch: 1000, delay: 2 * time.Millisecond}
	if opts.MaxBatchSize > 0 {
		l.maxBatch = opts.MaxBatchSize
	}
	if opts.MaxBatchDelay > 0 {
		l.delay = opts.MaxBatchDelay
	}
	return l, nil
}

// engineLog is the Log over an Engine.
type engineLog struct {
	e      Engine
	signer note.Signer

	group    bool
	maxBatch int
	delay    time.Duration

	mu       sync.Mutex
	commitMu sync.Mutex     // held by the group committing
	pending  *batch         // the group appends join, nil if none is open
	running  sync.WaitGroup // groups not yet committed
	closed   bool

	signMu sync.Mutex
	latest atomic.Pointer[Checkpoint]
}

// A batch is a group of appends committed in one transaction.
type batch struct {
	once  sync.Once
	timer *time.Timer
	reqs  []*request
}

type request struct {
	a     *Append
	index uint64
	err   error
	done  chan struct{}
}

var errClosed = errors.New("store: the log is closed")

func checkKey(k []byte) error {
	if len(k) == 0 || len(k) > MaxKeySize {
		return fmt.Errorf("store: key of %d bytes; keys are 1 to %d bytes", len(k), MaxKeySize)
	}
	return nil
}

func (l *engineLog) Append(ctx context.Context, a Append) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if a.Key != nil {
		if err := checkKey(a.Key); err != nil {
			return 0, err
		}
	}
	for _, k := range a.SetKeys {
		if err := checkKey(k); err != nil {
			return 0, err
		}
	}
	r := &request{a: &a, done: make(chan struct{})}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, errClosed
	}
	if !l.group {
		l.running.Add(1)
		l.mu.Unlock()
		l.commit([]*request{r})
		l.running.Done()
		return r.index, r.err
	}
	b := l.pending
	if b == nil {
		b = &batch{}
		l.pending = b
		l.running.Add(1)
		b.timer = time.AfterFunc(l.delay, func() { l.flush(b) })
	}
	b.reqs = append(b.reqs, r)
	full := len(b.reqs) >= l.maxBatch
	if full {
		l.pending = nil
	}
	l.mu.Unlock()
	if full {
		l.flush(b)
	}
	<-r.done
	return r.index, r.err
}

// flush commits batch b, once, whether its timer or its last append comes
// first.
//
// One group of a Log commits at a time: a group whose time is up while the
// one before it still commits stays open, taking more appends, until that
// one is done. Cut every 2 ms regardless, groups queued on the engine's
// write lock (bbolt's, or PostgreSQL's sequencer, held across a network
// by whichever process has it), each paying its own round trips and
// fsync: with the log on PostgreSQL a group held the sequencer 10.6 ms for
// 2.9 casts on average, and 1.7 groups waited for it (BENCHMARKS.md).
func (l *engineLog) flush(b *batch) {
	b.once.Do(func() {
		l.commitMu.Lock()
		l.mu.Lock()
		if l.pending == b {
			l.pending = nil
		}
		reqs := b.reqs // no append joins b from here on
		l.mu.Unlock()
		b.timer.Stop()
		l.commit(reqs)
		l.commitMu.Unlock()
		l.running.Done()
	})
}

// commit appends reqs in order in one transaction, and ends each request.
// Once submitted, an append is not cancelled: the transaction belongs to
// every append in it, so it runs under no caller's ctx.
func (l *engineLog) commit(reqs []*request) {
	ctx := context.Background()
	err := l.e.Update(ctx, func(tx Tx) error {
		// The engine may run this more than once; start clean each time.
		n, err := tx.Size(ctx)
		if err != nil {
			return err
		}
		if p, ok := tx.(Prefetcher); ok {
			var keys [][]byte
			for _, r := range reqs {
				if r.a.Key != nil {
					keys = append(keys, r.a.Key)
				}
				keys = append(keys, r.a.SetKeys...)
			}
			if err := p.Prefetch(ctx, keys); err != nil {
				return err
			}
		}
		for _, r := range reqs {
			r.index, r.err = 0, nil
			refused, err := appendTx(ctx, tx, n, r.a)
			if err != nil {
				return err
			}
			if refused != nil {
				r.err = refused
				continue
			}
			r.index = n
			n++
		}
		return nil
	})
	for _, r := range reqs {
		if err != nil {
			r.index, r.err = 0, fmt.Errorf("%w: %w", ErrNotStored, err)
		}
		close(r.done)
	}
}

// appendTx checks a against the log in tx, of size n, and appends it. A
// refusal is returned as refused and writes nothing; err is a storage
// failure, which aborts the transaction.
func appendTx(ctx context.Context, tx Tx, n uint64, a *Append) (refused, err error) {
	if err := ValidateLeaf(n, a.Leaf); err != nil {
		return err, nil
	}
	if a.Check != nil {
		v := &txView{ctx: ctx, tx: tx, size: n}
		err := runCheck(a.Check, v)
		if v.err != nil {
			return nil, v.err // the check saw a storage failure, not the log
		}
		if err != nil {
			return err, nil
		}
	}
	if a.Key != nil && !a.Replace {
		old, ok, err := tx.Lookup(ctx, a.Key)
		if err != nil {
			return nil, err
		}
		if ok {
			return fmt.Errorf("%w: key %x already points at entry %d", ErrDuplicate, a.Key, old), nil
		}
	}
	hashes, err := tlog.StoredHashes(int64(n), a.Leaf, hashReader{ctx, tx})
	if err != nil {
		return nil, err
	}
	keys := a.SetKeys
	if a.Key != nil {
		keys = append([][]byte{a.Key}, a.SetKeys...)
	}
	return nil, tx.Append(ctx, a.Leaf, hashes, keys)
}

// txView is the View a Check sees: the log inside the transaction. A
// storage failure in a Lookup is kept in err, and fails the transaction.
type txView struct {
	ctx  context.Context
	tx   Tx
	size uint64
	err  error
}

func (v *txView) Size() uint64 { return v.size }

func (v *txView) Lookup(key []byte) (uint64, bool) {
	if len(key) == 0 || v.err != nil {
		return 0, false
	}
	i, ok, err := v.tx.Lookup(v.ctx, key)
	if err != nil {
		v.err = err
		return 0, false
	}
	return i, ok
}

// runCheck runs check, turning a panic into a refusal of this append only,
// so one faulty check cannot fail or re-run the rest of its group.
func runCheck(check func(View) error, v View) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: check panicked: %v", p)
		}
	}()
	return check(v)
}

func (l *engineLog) Size() (uint64, error) { return l.e.Size(context.Background()) }

func (l *engineLog) Leaf(index uint64) ([]byte, error) {
	ctx := context.Background()
	leaves, err := l.e.Leaves(ctx, index, index+1, 0)
	if errors.Is(err, ErrNotFound) {
		if n, err := l.e.Size(ctx); err == nil && index >= n {
			return nil, fmt.Errorf("%w: entry %d; the log holds %d", ErrNotFound, index, n)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(leaves) != 1 {
		return nil, fmt.Errorf("store: the engine returned %d leaves for entry %d", len(leaves), index)
	}
	return leaves[0], nil
}

func (l *engineLog) Leaves(start, end uint64, maxBytes int) ([][]byte, error) {
	ctx := context.Background()
	leaves, err := l.e.Leaves(ctx, start, end, maxBytes)
	if errors.Is(err, ErrNotFound) {
		if n, err := l.e.Size(ctx); err == nil && start >= n {
			return nil, fmt.Errorf("%w: entry %d; the log holds %d", ErrNotFound, start, n)
		}
	}
	return leaves, err
}

func (l *engineLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	ctx := context.Background()
	n, err := l.e.Size(ctx)
	if err != nil {
		return nil, err
	}
	// What lies below the size never changes, so hashes checked against
	// it now are there when read.
	stored := tlog.StoredHashCount(int64(n))
	for _, x := range indexes {
		if x < 0 || x >= stored {
			return nil, fmt.Errorf("%w: tree hash %d; the log of %d entries stores %d", ErrNotFound, x, n, stored)
		}
	}
	return l.e.Hashes(ctx, indexes)
}

func (l *engineLog) Lookup(key []byte) (uint64, bool, error) {
	if len(key) == 0 {
		return 0, false, nil
	}
	return l.e.Lookup(context.Background(), key)
}

func (l *engineLog) Checkpoint(ctx context.Context) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The newest checkpoint handed out, taken before the size is read: the
	// log, append-only, holds at least its entries then.
	prev := l.latest.Load()
	n, err := l.e.Size(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 && prev == nil {
		return nil, fmt.Errorf("%w: the log is empty, so it has no checkpoint; append the manifest first", ErrNotFound)
	}
	if prev != nil && prev.Size > n {
		return nil, shrunk(prev, n)
	}
	if cp := l.latest.Load(); cp != nil && cp.Size >= n {
		return cp, nil
	}
	l.signMu.Lock()
	defer l.signMu.Unlock()
	if cp := l.latest.Load(); cp != nil && cp.Size >= n {
		return cp, nil // signed by another caller while we waited
	}
	// Sign what is committed now, which covers n and perhaps more.
	prev = l.latest.Load() // stable: it is stored under signMu
	if n, err = l.e.Size(ctx); err != nil {
		return nil, err
	}
	if prev != nil && prev.Size > n {
		return nil, shrunk(prev, n)
	}
	cp, err := l.sign(ctx, n)
	if err != nil {
		return nil, err
	}
	l.latest.Store(cp)
	return cp, nil
}

// sign signs the tree of size n, which the log holds, once it has checked
// that the tree is of one history with the newest checkpoint this Log
// handed out: the consistency proof between the two, read from the
// engine's hashes in the same one read as the tree's own, must hold. A
// log is append-only, so only a store rewritten under the running board
// fails it: a database restored from an older backup or failed over to a
// standby that lacked the last commits, with other entries appended since
// in place of the lost ones, or hashes altered by hand. Signing then would
// put the board key under two histories, a split view no proof can mend;
// refused, the board gives no receipt until its operator has looked. (A
// process started since, which holds no checkpoint, cannot tell: the
// witnesses, monitors and voters that hold one can.)
func (l *engineLog) sign(ctx context.Context, n uint64) (*Checkpoint, error) {
	prev := l.latest.Load()
	lo, hi := int64(n), int64(n)
	if prev != nil {
		lo, hi = int64(min(prev.Size, n)), int64(max(prev.Size, n))
	}
	// One engine read for both: the indexes first, then the hashes.
	var rec hashRecorder
	tlog.TreeHash(int64(n), &rec)
	if lo < hi {
		tlog.ProveTree(hi, lo, &rec)
	}
	r, err := rec.read(ctx, l.e)
	if err != nil {
		return nil, err
	}
	root, err := tlog.TreeHash(int64(n), r)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		ok := root == prev.Hash
		if lo < hi {
			proof, err := tlog.ProveTree(hi, lo, r)
			if err != nil {
				return nil, err
			}
			if n > prev.Size {
				ok = tlog.CheckTree(proof, hi, root, lo, prev.Hash) == nil
			} else {
				ok = tlog.CheckTree(proof, hi, prev.Hash, lo, root) == nil
			}
		}
		if !ok {
			return nil, fmt.Errorf("store: the log's tree of %d entries is not of one history with the checkpoint of %d entries this board process signed (root %x): the store was rewritten under it, restored from an older backup, failed over to a copy that lacked the last commits, or altered by hand. No checkpoint is signed over it; stop every board process on this store and compare it with the last export and the witnesses' checkpoints", n, prev.Size, prev.Hash[:8])
		}
	}
	return SignCheckpoint(l.signer, n, root)
}

// shrunk is the refusal of a log that holds fewer entries than a
// checkpoint this Log signed.
func shrunk(cp *Checkpoint, n uint64) error {
	return fmt.Errorf("store: the log holds %d entries, fewer than the checkpoint of %d entries this board process signed: the store was restored from an older backup, failed over to a copy that lacked the last commits, or altered by hand. No checkpoint is handed out over it; stop every board process on this store and compare it with the last export and the witnesses' checkpoints", n, cp.Size)
}

// hashRecorder is a tlog.HashReader that reads nothing: it notes the
// indexes asked for (answering zero hashes), so that several tlog
// computations can then share one engine read of them all.
type hashRecorder struct{ indexes []int64 }

func (h *hashRecorder) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	h.indexes = append(h.indexes, indexes...)
	return make([]tlog.Hash, len(indexes)), nil
}

// read reads the noted hashes from e, each once, and serves them.
func (h *hashRecorder) read(ctx context.Context, e EngineReader) (tlog.HashReader, error) {
	seen := make(map[int64]tlog.Hash, len(h.indexes))
	var want []int64
	for _, x := range h.indexes {
		if _, ok := seen[x]; !ok {
			seen[x] = tlog.Hash{}
			want = append(want, x)
		}
	}
	hs, err := e.Hashes(ctx, want)
	if err != nil {
		return nil, err
	}
	if len(hs) != len(want) {
		return nil, fmt.Errorf("store: the engine returned %d hashes for %d indexes", len(hs), len(want))
	}
	for i, x := range want {
		seen[x] = hs[i]
	}
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			v, ok := seen[x]
			if !ok {
				return nil, fmt.Errorf("store: tree hash %d was not read", x)
			}
			out[i] = v
		}
		return out, nil
	}), nil
}

func (l *engineLog) CheckpointAt(n uint64) (*Checkpoint, error) {
	if cp := l.latest.Load(); cp != nil && cp.Size == n {
		return cp, nil
	}
	ctx := context.Background()
	cur, err := l.e.Size(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > cur {
		return nil, fmt.Errorf("%w: no checkpoint of size %d: the log holds %d entries", ErrNotFound, n, cur)
	}
	return l.sign(ctx, n)
}

func (l *engineLog) ProveInclusion(index, n uint64) (tlog.RecordProof, error) {
	ctx := context.Background()
	cur, err := l.e.Size(ctx)
	if err != nil {
		return nil, err
	}
	if index >= n || n > cur {
		return nil, fmt.Errorf("%w: cannot prove entry %d in a tree of size %d; the log holds %d", ErrNotFound, index, n, cur)
	}
	return tlog.ProveRecord(int64(n), int64(index), hashReader{ctx, l.e})
}

func (l *engineLog) ProveConsistency(oldSize, newSize uint64) (tlog.TreeProof, error) {
	ctx := context.Background()
	cur, err := l.e.Size(ctx)
	if err != nil {
		return nil, err
	}
	if oldSize == 0 || oldSize > newSize || newSize > cur {
		return nil, fmt.Errorf("%w: cannot prove size %d a prefix of size %d; need 0 < old <= new <= %d", ErrNotFound, oldSize, newSize, cur)
	}
	return tlog.ProveTree(int64(newSize), int64(oldSize), hashReader{ctx, l.e})
}

// Export reads the log in batches of at most exportBatchLeaves leaves or
// exportBatchBytes bytes (one leaf may take a batch past it), each one
// engine read that holds nothing once it returns (see [Engine]), and
// writes a batch only after reading it. A write to the network may block
// for as long as the client likes, and bbolt can grow its memory map only
// once every reader is out: an export that wrote inside its read
// transaction let one unread download stop every cast and /healthz after
// about 100 casts, until the write timeout (5 minutes) cut it off. A batch
// is a copy, so a blocked export holds memory, never the store: at most
// 1 MiB and 64 KiB of leaves, plus the record writer's 64 KiB buffer.
// Measured on bbolt, 100,000 leaves of 300 bytes: a batch's read lasts
// 0.35 ms on average (5 ms at worst), and the export as a whole is about
// 10% slower for the copy.
const (
	exportBatchLeaves = 4096
	exportBatchBytes  = 1 << 20
)

// Export writes the record up to a fresh checkpoint. Leaves below the
// checkpoint's size never change, so reading them in many batches gives
// the same bytes as reading them at once.
func (l *engineLog) Export(w io.Writer) error {
	cp, err := l.Checkpoint(context.Background())
	if err != nil {
		return err
	}
	return l.ExportAt(w, cp)
}

// ExportAt writes the export file of the log's first cp.Size leaves,
// ending with cp: a checkpoint of the log's (ParseCheckpoint), and its
// Cosignatures if any.
func (l *engineLog) ExportAt(w io.Writer, cp *Checkpoint) error {
	ctx := context.Background()
	if n, err := l.Size(); err != nil {
		return err
	} else if cp.Size > n {
		return fmt.Errorf("store: export: a checkpoint of %d leaves, but the log holds %d", cp.Size, n)
	}
	ew := NewWriter(w)
	for i := uint64(0); i < cp.Size; {
		leaves, err := l.e.Leaves(ctx, i, min(i+exportBatchLeaves, cp.Size), exportBatchBytes)
		if err == nil && len(leaves) == 0 {
			err = fmt.Errorf("the engine returned no leaf at entry %d", i)
		}
		if err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		// The read is over: from here on the writes may block.
		for _, leaf := range leaves {
			if err := ew.Append(leaf); err != nil {
				return fmt.Errorf("store: export: %w", err)
			}
		}
		i += uint64(len(leaves))
	}
	if err := ew.Finish(cp); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	return nil
}

// Close waits for the appends already submitted to commit, then closes
// the engine. Appends after Close fail.
func (l *engineLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errClosed
	}
	l.closed = true
	b := l.pending
	l.mu.Unlock()
	if b != nil {
		l.flush(b)
	}
	l.running.Wait()
	return l.e.Close()
}
