package board

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/tlog"
)

// TlogPrefix is the URL prefix under which the board serves its log by
// the C2SP tlog-tiles read API (https://c2sp.org/tlog-tiles): the
// checkpoint at TlogPrefix+"checkpoint", tiles under TlogPrefix+"tile/".
// Any tlog client, monitor or witness can follow it there with no evote
// code: the signed checkpoint, the Merkle tree as hash tiles (256 hashes of 32 bytes at
// level L, each the root of a full tile at level L-1; at level 0 the RFC
// 6962 leaf hashes), and the entries as bundles (each leaf, exactly as the
// tree hashes it, type byte and body, after its length as a big-endian
// uint16; store.MaxLeafSize is that length's bound). The tiles are read
// from the tree hashes the store keeps (store.Log.ReadHashes, by
// tlog.ReadTileData): nothing is hashed to serve one.
//
// Paths are parsed strictly: one resource has one path, and a path that is
// not the canonical one of a tile (x-prefixed three-digit groups, no
// leading x000, no leading zeros in the level or width, a width 1 to 255,
// no dot segments, no escapes) is refused with 400 before the store is
// read, so no cache holds the same bytes under two names. A tile or
// bundle the tree does not hold yet is 404. Every partial tile whose width
// the tree covers is served (every tree size has a checkpoint, see
// store.Log.CheckpointAt), and so is the full tile once it exists.
//
// Caching follows the spec: a full tile or bundle never changes, and is
// public for a year and immutable; a partial one (the tree's right edge,
// soon replaced by a wider one) for a minute; the checkpoint, which
// changes with every append, is no-cache. Bundles are not compressed: a
// ballot is mostly group elements and proofs, which do not compress.
const TlogPrefix = "/tlog/"

// tileHeight is the height of tlog-tiles tiles: 256 hashes wide.
const tileHeight = 8

// Cache-Control values of the tlog-tiles responses.
const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cachePartial    = "public, max-age=60"
	cacheCheckpoint = "no-cache"
)

// maxTileGroups bounds the three-digit groups of a tile index: six hold
// every index below 10^18, more than any tree of 2^63 leaves has tiles.
const maxTileGroups = 6

// errBadTilePath is why a tile path is refused.
var errBadTilePath = errors.New("not a canonical tlog-tiles path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], <N> in three-digit groups, all but the last x-prefixed (see c2sp.org/tlog-tiles)")

// parseTilePath parses a tile path of C2SP tlog-tiles, relative to the
// prefix ("tile/0/x001/234", "tile/entries/005.p/7"), accepting only the
// canonical path of each tile. The tile is of height 8; an entry bundle
// has L -1, as in tlog's data tiles; a full tile has W 256.
func parseTilePath(p string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(p, "tile/")
	if !ok {
		return tlog.Tile{}, errBadTilePath
	}
	t := tlog.Tile{H: tileHeight, W: 1 << tileHeight}
	if r, ok := strings.CutPrefix(rest, "entries/"); ok {
		t.L, rest = -1, r
	} else {
		l, r, ok := strings.Cut(rest, "/")
		if !ok {
			return tlog.Tile{}, errBadTilePath
		}
		lv, ok := decimal(l, 63)
		if !ok {
			return tlog.Tile{}, errBadTilePath
		}
		t.L, rest = int(lv), r
	}
	if idx, w, ok := strings.Cut(rest, ".p/"); ok {
		wv, ok := decimal(w, 255)
		if !ok || wv == 0 {
			return tlog.Tile{}, errBadTilePath
		}
		t.W, rest = int(wv), idx
	}
	groups := strings.Split(rest, "/")
	if len(groups) > maxTileGroups {
		return tlog.Tile{}, errBadTilePath
	}
	for i, g := range groups {
		last := i == len(groups)-1
		if !last {
			var ok bool
			if g, ok = strings.CutPrefix(g, "x"); !ok || (i == 0 && g == "000") {
				return tlog.Tile{}, errBadTilePath
			}
		}
		if len(g) != 3 || !allDigits(g) {
			return tlog.Tile{}, errBadTilePath
		}
		d, _ := strconv.Atoi(g)
		t.N = t.N*1000 + int64(d)
	}
	return t, nil
}

// decimal parses s as a decimal integer of at most max, with no sign and
// no leading zeros.
func decimal(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 3 || !allDigits(s) || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	v, _ := strconv.ParseUint(s, 10, 64)
	return v, v <= max
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// tileInTree reports whether a tree of size n holds all of tile t: its
// hashes are stored (or, for a bundle, its entries appended).
func tileInTree(t tlog.Tile, n uint64) bool {
	level := max(t.L, 0) * tileHeight
	if level >= 64 {
		return false
	}
	// Width-256 tiles at this level the tree holds, and the hashes beyond.
	units := n >> level
	return uint64(t.N) < units>>tileHeight || (uint64(t.N) == units>>tileHeight && uint64(t.W) <= units%(1<<tileHeight))
}

// serveTlog answers every path under TlogPrefix. It runs before the
// mux, which would answer a path with dot segments or doubled slashes
// with a redirect to its cleaned form: here every name but the canonical
// one is refused.
func (h *handler) serveTlog(w http.ResponseWriter, r *http.Request) {
	r.Pattern = TlogPrefix // the request metrics' endpoint label
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.refuse(w, boardapi.ErrMethodNotAllowed, "use GET")
		return
	}
	if r.URL.RawPath != "" || r.URL.RawQuery != "" {
		h.refuse(w, boardapi.ErrBadRequest, "a tlog-tiles path has no escapes and no query")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, TlogPrefix)
	if p == "checkpoint" {
		signed, err := h.tlogCheckpoint(r.Context())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", cacheCheckpoint)
		w.Write(signed)
		return
	}
	t, err := parseTilePath(p)
	if err != nil {
		h.refuse(w, boardapi.ErrBadRequest, err.Error())
		return
	}
	n, err := h.b.log.Size()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !tileInTree(t, n) {
		h.refuse(w, store.ErrNotFound, "the tree does not hold this tile yet; fetch "+TlogPrefix+"checkpoint and only the tiles its size needs")
		return
	}
	cache := cacheImmutable
	if t.W < 1<<tileHeight {
		cache = cachePartial
	}
	if t.L == -1 {
		h.serveBundle(w, r, t, cache)
		return
	}
	data, err := tlog.ReadTileData(t, h.b.log)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

// bundleBatchBytes bounds one read of a bundle's entries, as the export's
// batches do: a bundle of 256 leaves of 64 KiB is 16 MiB, and a client that
// reads slowly holds one batch, never the store.
const bundleBatchBytes = 1 << 20

// serveBundle streams entry bundle t, which the tree holds, in batches
// read before they are written. A storage failure after the first batch
// can only cut the stream short; a client checks a bundle against the
// level-0 tile anyway.
func (h *handler) serveBundle(w http.ResponseWriter, r *http.Request, t tlog.Tile, cache string) {
	start := uint64(t.N) << tileHeight
	end := start + uint64(t.W)
	var buf []byte
	for i := start; i < end; {
		leaves, err := h.b.log.Leaves(i, end, bundleBatchBytes)
		if err == nil && len(leaves) == 0 {
			err = errors.New("board: the log returned no leaf for an entry bundle")
		}
		if err != nil {
			if i == start {
				h.fail(w, r, err)
			} else {
				h.log.Error("entry bundle cut short", "path", r.URL.Path, "err", err)
			}
			return
		}
		buf = buf[:0]
		for _, leaf := range leaves {
			buf = appendBundleEntry(buf, leaf)
		}
		if i == start {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Cache-Control", cache)
		}
		if _, err := w.Write(buf); err != nil {
			return
		}
		i += uint64(len(leaves))
	}
}

// appendBundleEntry appends leaf to an entry bundle: its length as a
// big-endian uint16, then its bytes. Every leaf in the log is at most
// store.MaxLeafSize, 2^16-1, bytes (store.ValidateLeaf).
func appendBundleEntry(b, leaf []byte) []byte {
	b = append(b, byte(len(leaf)>>8), byte(len(leaf)))
	return append(b, leaf...)
}

// tlogCheckpoint is the checkpoint /tlog/checkpoint serves: the board's
// newest signed checkpoint, as note text. It is the one place that
// decides it (a cosigned checkpoint goes here).
func (h *handler) tlogCheckpoint(ctx context.Context) ([]byte, error) {
	// With witnesses, the checkpoint a tlog client follows is the newest
	// one a quorum cosigned (C2SP tlog-cosignature lines after the
	// board's), a round's time behind the board's own at most.
	if h.cosigner != nil {
		if signed, err := h.cosigner.Cosigned(ctx, 1, time.Second); err == nil {
			return signed, nil
		}
	}
	cp, err := h.b.log.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	return cp.Signed, nil
}
