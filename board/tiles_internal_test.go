package board

import (
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/tlog"
)

// TestTilePathOracle: the board's strict parser and torchwood's
// (filippo.io/torchwood, an independent tlog-tiles implementation) agree
// on canonical paths, and every tile the board accepts it names back by
// torchwood's TilePath exactly as asked.
func TestTilePathOracle(t *testing.T) {
	for _, tile := range []tlog.Tile{
		{H: 8, L: 0, N: 0, W: 256}, {H: 8, L: 0, N: 0, W: 1}, {H: 8, L: 0, N: 999, W: 256}, {H: 8, L: 0, N: 1000, W: 256},
		{H: 8, L: 3, N: 1234067, W: 17}, {H: 8, L: 63, N: 999_999_999_999_999_999, W: 255}, {H: 8, L: -1, N: 0, W: 256},
		{H: 8, L: -1, N: 1_000_000, W: 128}, {H: 8, L: 1, N: 1001, W: 256},
	} {
		p := torchwood.TilePath(tile)
		got, err := parseTilePath(p)
		if err != nil || got != tile {
			t.Errorf("parseTilePath(%q) = %+v, %v; want %+v", p, got, err, tile)
		}
	}
	if p := torchwood.TilePath(tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}); p != "tile/0/x001/x234/067" {
		t.Fatalf("torchwood names the spec's example %q", p) // c2sp.org/tlog-tiles: index 1234067 is x001/x234/067
	}
}

// FuzzTilePath: whatever the board's parser accepts, torchwood's parser
// accepts as the same tile, and torchwood's TilePath gives back the very
// path (one name per tile); whatever canonical path torchwood makes of a
// tile it parses, the board accepts too, up to the board's bound on N.
func FuzzTilePath(f *testing.F) {
	for _, s := range []string{"tile/0/000", "tile/0/x001/x234/067.p/7", "tile/entries/005", "tile/entries/x001/000.p/255",
		"tile/63/999", "tile/0/x000/001", "tile/0/000.p/0", "tile/00/000", "tile/0/../000", "tile/data/000", "tile/8/0/000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tile, err := parseTilePath(p)
		if err == nil {
			if tile.H != 8 || tile.L < -1 || tile.L > 63 || tile.N < 0 || tile.W < 1 || tile.W > 256 {
				t.Fatalf("parseTilePath(%q) = %+v", p, tile)
			}
			if back := torchwood.TilePath(tile); back != p {
				t.Fatalf("parseTilePath(%q) = %+v, which torchwood names %q", p, tile, back)
			}
			if tw, err := torchwood.ParseTilePath(p); err != nil || tw != tile {
				t.Fatalf("parseTilePath(%q) = %+v, torchwood %+v (%v)", p, tile, tw, err)
			}
			return
		}
		tw, err := torchwood.ParseTilePath(p)
		if err == nil && torchwood.TilePath(tw) == p && tw.N < 1e18 && tw.L <= 63 {
			t.Fatalf("the board refuses %q, the canonical path of %+v", p, tw)
		}
	})
}
