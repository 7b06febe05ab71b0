package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// KeyLister is an [Engine] that lists its uniqueness keys. The Engine seam
// has no listing (a Log only ever looks a key up), but a copy of a store
// must carry every key along with its leaves, or a ballot already cast
// could be cast again in the copy: [Copy] needs its source to be one.
// MemEngine, store/bolt and store/postgres are.
type KeyLister interface {
	// Keys calls fn once for every key committed before the call, with
	// the index it points to, in no particular order. key is fn's own. It
	// holds no transaction while fn runs. An error from fn stops the
	// listing, and Keys returns it.
	Keys(ctx context.Context, fn func(key []byte, index uint64) error) error
}

// ErrNotEmpty means [Copy]'s destination already holds a log.
var ErrNotEmpty = errors.New("store: the destination is not empty")

// CopyOptions tune [Copy]. The zero value is the default.
type CopyOptions struct {
	// BatchLeaves and BatchBytes bound one transaction of the
	// destination: at most BatchLeaves leaves, and none after the first
	// that takes them to BatchBytes. Zero means 4096 and 8 MiB.
	BatchLeaves, BatchBytes int
	// Progress, if set, is called after each batch: step is "copying",
	// then "checking" for the pass that reads both stores back.
	Progress func(step string, done, total uint64)
}

// Copied is what [Copy] copied.
type Copied struct {
	Entries uint64    // leaves
	Keys    int       // uniqueness keys
	Root    tlog.Hash // the tree's hash at Entries, the same in both stores
}

// keyAt is a key and the index it points to.
type keyAt struct {
	index uint64
	key   []byte
}

// Copy copies the log in src into dst, an empty store, as a move from one
// engine to another (bbolt to PostgreSQL): every leaf, the tree's stored
// hashes and every key pointing at each leaf, in transactions of a batch
// of leaves each. It binds dst to origin and keyHash (the board key's
// name and hash) as the first [New] would, after checking that src is
// that key's log. Nothing may write to either store meanwhile: stop every
// board on them first.
//
// What it refuses, before it writes anything: a src that is not a
// [KeyLister], or empty, or another key's (the [Engine.Bind] error); a
// dst that holds any entry or key ([ErrNotEmpty]) or is bound to another
// key.
//
// What it checks: every leaf passes [ValidateLeaf], and the hashes dst
// stores for it are computed again from the leaf and dst's own earlier
// hashes, and must equal src's stored ones; once the last batch is in,
// src has not grown, both stores are read back whole and must hold the
// same leaves and stored hashes, and dst's keys must be src's, each at the
// same index. A copy that fails part way leaves dst holding a prefix of
// the log, which a second Copy refuses: empty dst and copy again.
func Copy(ctx context.Context, dst, src Engine, origin string, keyHash uint32, opts *CopyOptions) (Copied, error) {
	var o CopyOptions
	if opts != nil {
		o = *opts
	}
	if o.BatchLeaves <= 0 {
		o.BatchLeaves = 4096
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 8 << 20
	}
	progress := func(step string, done, total uint64) {
		if o.Progress != nil {
			o.Progress(step, done, total)
		}
	}
	lister, ok := src.(KeyLister)
	if !ok {
		return Copied{}, fmt.Errorf("store: copy: the source engine (%T) cannot list its keys, and a copy without them would take a second ballot on a token already used", src)
	}
	n, err := src.Size(ctx)
	if err != nil {
		return Copied{}, fmt.Errorf("store: copy: the source: %w", err)
	}
	if n == 0 {
		return Copied{}, errors.New("store: copy: the source log is empty; there is nothing to copy")
	}
	if err := src.Bind(ctx, origin, keyHash); err != nil {
		return Copied{}, fmt.Errorf("store: copy: the source: %w", err)
	}
	if err := checkEmpty(ctx, dst); err != nil {
		return Copied{}, err
	}
	if err := dst.Bind(ctx, origin, keyHash); err != nil {
		return Copied{}, fmt.Errorf("store: copy: the destination: %w", err)
	}

	keys, err := listKeys(ctx, lister)
	if err != nil {
		return Copied{}, fmt.Errorf("store: copy: listing the source's keys: %w", err)
	}
	for _, k := range keys {
		if err := checkKey(k.key); err != nil {
			return Copied{}, fmt.Errorf("store: copy: the source: %w", err)
		}
		if k.index >= n {
			return Copied{}, fmt.Errorf("store: copy: the source's key %x points at entry %d, past its %d entries: something is writing to it; stop every board on it, empty the destination and copy again", k.key, k.index, n)
		}
	}
	root, err := tlog.TreeHash(int64(n), hashReader{ctx, src})
	if err != nil {
		return Copied{}, fmt.Errorf("store: copy: the source's tree hash: %w", err)
	}

	rest := keys // sorted by index: each batch takes its leaves' keys off the front
	for i := uint64(0); i < n; {
		leaves, err := src.Leaves(ctx, i, min(i+uint64(o.BatchLeaves), n), o.BatchBytes)
		if err == nil && len(leaves) == 0 {
			err = fmt.Errorf("no leaf at entry %d", i)
		}
		if err != nil {
			return Copied{}, fmt.Errorf("store: copy: reading the source: %w", err)
		}
		end := i + uint64(len(leaves))
		want, err := src.Hashes(ctx, hashRange(i, end))
		if err != nil {
			return Copied{}, fmt.Errorf("store: copy: reading the source: %w", err)
		}
		var batchKeys []keyAt
		for len(rest) > 0 && rest[0].index < end {
			batchKeys, rest = append(batchKeys, rest[0]), rest[1:]
		}
		err = dst.Update(ctx, func(tx Tx) error {
			// The engine may run this more than once: it starts over.
			size, err := tx.Size(ctx)
			if err != nil {
				return err
			}
			if size != i {
				return fmt.Errorf("the destination holds %d entries where the copy has written %d: something else is writing to it", size, i)
			}
			want, ks := want, batchKeys
			for j, leaf := range leaves {
				index := i + uint64(j)
				if err := ValidateLeaf(index, leaf); err != nil {
					return fmt.Errorf("the source: %w", err)
				}
				hs, err := tlog.StoredHashes(int64(index), leaf, hashReader{ctx, tx})
				if err != nil {
					return err
				}
				if len(hs) > len(want) || !slices.Equal(hs, want[:len(hs)]) {
					return fmt.Errorf("the source's stored hashes at entry %d are not those of its leaves: the source is damaged; restore it from a backup or an export", index)
				}
				want = want[len(hs):]
				var set [][]byte
				for len(ks) > 0 && ks[0].index == index {
					set, ks = append(set, ks[0].key), ks[1:]
				}
				if err := tx.Append(ctx, leaf, hs, set); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return Copied{}, fmt.Errorf("store: copy: writing entries %d to %d: %w", i, end-1, err)
		}
		i = end
		progress("copying", i, n)
	}

	if now, err := src.Size(ctx); err != nil {
		return Copied{}, fmt.Errorf("store: copy: the source: %w", err)
	} else if now != n {
		return Copied{}, fmt.Errorf("store: copy: the source grew from %d to %d entries during the copy: stop every board on it, empty the destination and copy again", n, now)
	}
	if err := compareStores(ctx, dst, src, n, o, progress); err != nil {
		return Copied{}, err
	}
	if err := compareKeys(ctx, dst, keys); err != nil {
		return Copied{}, err
	}
	dstRoot, err := tlog.TreeHash(int64(n), hashReader{ctx, dst})
	if err != nil {
		return Copied{}, fmt.Errorf("store: copy: the destination's tree hash: %w", err)
	}
	if dstRoot != root {
		return Copied{}, fmt.Errorf("store: copy: the destination's tree hash at %d entries is %v, the source's %v", n, dstRoot, root)
	}
	return Copied{Entries: n, Keys: len(keys), Root: root}, nil
}

// checkEmpty refuses a destination holding any entry or key.
func checkEmpty(ctx context.Context, dst Engine) error {
	m, err := dst.Size(ctx)
	if err != nil {
		return fmt.Errorf("store: copy: the destination: %w", err)
	}
	if m > 0 {
		return fmt.Errorf("%w: it holds a log of %d entries, and a copy goes only into an empty store", ErrNotEmpty, m)
	}
	l, ok := dst.(KeyLister)
	if !ok {
		return nil
	}
	errFound := errors.New("found")
	err = l.Keys(ctx, func([]byte, uint64) error { return errFound })
	switch {
	case errors.Is(err, errFound):
		return fmt.Errorf("%w: it holds no entry but holds keys, and a copy goes only into an empty store", ErrNotEmpty)
	case err != nil:
		return fmt.Errorf("store: copy: the destination: %w", err)
	}
	return nil
}

// listKeys lists l's keys, sorted by index and then by key.
func listKeys(ctx context.Context, l KeyLister) ([]keyAt, error) {
	var keys []keyAt
	seen := make(map[string]bool)
	err := l.Keys(ctx, func(key []byte, index uint64) error {
		if seen[string(key)] {
			return fmt.Errorf("key %x listed twice", key)
		}
		seen[string(key)] = true
		keys = append(keys, keyAt{index, key})
		return nil
	})
	slices.SortFunc(keys, func(a, b keyAt) int {
		return cmp.Or(cmp.Compare(a.index, b.index), bytes.Compare(a.key, b.key))
	})
	return keys, err
}

// hashRange is the stored-hash indexes of leaves start to end-1.
func hashRange(start, end uint64) []int64 {
	lo, hi := tlog.StoredHashIndex(0, int64(start)), tlog.StoredHashIndex(0, int64(end))
	out := make([]int64, 0, hi-lo)
	for x := lo; x < hi; x++ {
		out = append(out, x)
	}
	return out
}

// compareStores reads both stores' first n leaves and their stored
// hashes back, batch by batch, and fails at the first difference.
func compareStores(ctx context.Context, dst, src Engine, n uint64, o CopyOptions, progress func(string, uint64, uint64)) error {
	for i := uint64(0); i < n; {
		a, err := src.Leaves(ctx, i, min(i+uint64(o.BatchLeaves), n), o.BatchBytes)
		if err != nil {
			return fmt.Errorf("store: copy: reading the source back: %w", err)
		}
		b, err := dst.Leaves(ctx, i, i+uint64(len(a)), o.BatchBytes)
		if err != nil {
			return fmt.Errorf("store: copy: reading the destination back: %w", err)
		}
		for j := range a {
			if j >= len(b) || !bytes.Equal(a[j], b[j]) {
				return fmt.Errorf("store: copy: the destination's entry %d differs from the source's", i+uint64(j))
			}
		}
		end := i + uint64(len(a))
		x := hashRange(i, end)
		ha, err := src.Hashes(ctx, x)
		if err != nil {
			return fmt.Errorf("store: copy: reading the source back: %w", err)
		}
		hb, err := dst.Hashes(ctx, x)
		if err != nil {
			return fmt.Errorf("store: copy: reading the destination back: %w", err)
		}
		if !slices.Equal(ha, hb) {
			return fmt.Errorf("store: copy: the destination's stored hashes for entries %d to %d differ from the source's", i, end-1)
		}
		i = end
		progress("checking", i, n)
	}
	return nil
}

// compareKeys checks that dst holds exactly the keys want, each at its
// index: listed, if dst is a KeyLister, else looked up one by one.
func compareKeys(ctx context.Context, dst Engine, want []keyAt) error {
	if l, ok := dst.(KeyLister); ok {
		got, err := listKeys(ctx, l)
		if err != nil {
			return fmt.Errorf("store: copy: listing the destination's keys: %w", err)
		}
		for i := range max(len(got), len(want)) {
			if i >= len(got) || i >= len(want) || got[i].index != want[i].index || !bytes.Equal(got[i].key, want[i].key) {
				return fmt.Errorf("store: copy: the destination holds %d keys, the source %d, and they differ", len(got), len(want))
			}
		}
		return nil
	}
	for _, k := range want {
		i, ok, err := dst.Lookup(ctx, k.key)
		if err != nil {
			return fmt.Errorf("store: copy: looking a key up in the destination: %w", err)
		}
		if !ok || i != k.index {
			return fmt.Errorf("store: copy: the destination's key %x does not point at entry %d", k.key, k.index)
		}
	}
	return nil
}
