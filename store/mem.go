package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// MemEngine is the in-memory reference [Engine]: the contract in its
// plainest form, for tests, for trials, and as the oracle other engines
// are checked against (store/storetest). Nothing survives the process. One
// MemEngine may serve many Logs at once, as one database serves many board
// processes.
type MemEngine struct {
	update sync.Mutex // one Update at a time

	mu      sync.RWMutex // guards what follows: the committed store
	leaves  [][]byte
	hashes  []tlog.Hash
	keys    map[string]uint64
	origin  string
	keyHash uint32
	bound   bool
	closed  bool
}

// NewMemEngine returns an empty in-memory engine.
func NewMemEngine() *MemEngine { return &MemEngine{keys: make(map[string]uint64)} }

var errMemClosed = errors.New("store: the memory engine is closed")

var (
	_ Engine    = (*MemEngine)(nil)
	_ KeyLister = (*MemEngine)(nil)
)

// Size implements [EngineReader].
func (m *MemEngine) Size(ctx context.Context) (uint64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, errMemClosed
	}
	return uint64(len(m.leaves)), nil
}

// Hashes implements [EngineReader].
func (m *MemEngine) Hashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errMemClosed
	}
	return readHashes(indexes, m.hashes, nil)
}

func readHashes(indexes []int64, committed, own []tlog.Hash) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		switch {
		case x >= 0 && x < int64(len(committed)):
			out[i] = committed[x]
		case x >= int64(len(committed)) && x < int64(len(committed)+len(own)):
			out[i] = own[x-int64(len(committed))]
		default:
			return nil, fmt.Errorf("store: tree hash %d is not stored", x)
		}
	}
	return out, nil
}

// Lookup implements [EngineReader].
func (m *MemEngine) Lookup(ctx context.Context, key []byte) (uint64, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, false, errMemClosed
	}
	i, ok := m.keys[string(key)]
	return i, ok, nil
}

// Keys implements [KeyLister]: fn sees the keys as they were when Keys
// was called.
func (m *MemEngine) Keys(ctx context.Context, fn func(key []byte, index uint64) error) error {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return errMemClosed
	}
	keys := make([]keyAt, 0, len(m.keys))
	for k, i := range m.keys {
		keys = append(keys, keyAt{i, []byte(k)})
	}
	m.mu.RUnlock()
	for _, k := range keys {
		if err := fn(k.key, k.index); err != nil {
			return err
		}
	}
	return nil
}

// Leaves implements [Engine].
func (m *MemEngine) Leaves(ctx context.Context, start, end uint64, maxBytes int) ([][]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errMemClosed
	}
	if start >= uint64(len(m.leaves)) {
		return nil, fmt.Errorf("%w: entry %d; the log holds %d", ErrNotFound, start, len(m.leaves))
	}
	var out [][]byte
	total := 0
	for i := start; i < min(end, uint64(len(m.leaves))) && (i == start || total < maxBytes); i++ {
		out = append(out, bytes.Clone(m.leaves[i]))
		total += len(m.leaves[i])
	}
	return out, nil
}

// Bind implements [Engine].
func (m *MemEngine) Bind(ctx context.Context, origin string, keyHash uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errMemClosed
	}
	if !m.bound {
		m.origin, m.keyHash, m.bound = origin, keyHash, true
		return nil
	}
	if m.origin != origin || m.keyHash != keyHash {
		return fmt.Errorf("store: this memory engine holds the log %q (key %08x), not %q (key %08x)", m.origin, m.keyHash, origin, keyHash)
	}
	return nil
}

// Update implements [Engine]. The transaction's writes are kept apart and
// applied at once on commit, so readers never see part of one.
func (m *MemEngine) Update(ctx context.Context, fn func(Tx) error) error {
	m.update.Lock()
	defer m.update.Unlock()
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return errMemClosed
	}
	tx := &memTx{m: m, keys: make(map[string]uint64)}
	err := fn(tx)
	tx.done = true
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaves = append(m.leaves, tx.leaves...)
	m.hashes = append(m.hashes, tx.hashes...)
	for k, i := range tx.keys {
		m.keys[k] = i
	}
	return nil
}

// Close implements [Engine].
func (m *MemEngine) Close() error {
	m.update.Lock()
	defer m.update.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// memTx is a MemEngine transaction: the committed store, which no other
// Update can change meanwhile, and this transaction's own writes.
type memTx struct {
	m      *MemEngine
	leaves [][]byte
	hashes []tlog.Hash
	keys   map[string]uint64
	done   bool
}

var errTxDone = errors.New("store: memory engine transaction used after its Update returned")

func (t *memTx) Size(ctx context.Context) (uint64, error) {
	if t.done {
		return 0, errTxDone
	}
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	return uint64(len(t.m.leaves) + len(t.leaves)), nil
}

func (t *memTx) Hashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if t.done {
		return nil, errTxDone
	}
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	return readHashes(indexes, t.m.hashes, t.hashes)
}

func (t *memTx) Lookup(ctx context.Context, key []byte) (uint64, bool, error) {
	if t.done {
		return 0, false, errTxDone
	}
	if i, ok := t.keys[string(key)]; ok {
		return i, true, nil
	}
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	i, ok := t.m.keys[string(key)]
	return i, ok, nil
}

func (t *memTx) Append(ctx context.Context, leaf []byte, hashes []tlog.Hash, keys [][]byte) error {
	if t.done {
		return errTxDone
	}
	t.m.mu.RLock()
	n := len(t.m.leaves) + len(t.leaves)
	first := len(t.m.hashes) + len(t.hashes)
	t.m.mu.RUnlock()
	if want := tlog.StoredHashIndex(0, int64(n)); int64(first) != want {
		return fmt.Errorf("store: entry %d's hashes would start at stored hash %d, but %d are stored", n, want, first)
	}
	t.leaves = append(t.leaves, bytes.Clone(leaf))
	t.hashes = append(t.hashes, hashes...)
	for _, k := range keys {
		t.keys[string(k)] = uint64(n)
	}
	return nil
}
