package board_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"filippo.io/torchwood"
	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tiledSize is the log the tile tests read: 11 full tiles and entry
// bundles, a partial one of width 196, and a partial level-1 tile of width
// 11.
const tiledSize = 3012

// growLog appends leaves to l until it holds n: ballot entries of random
// bytes, of the length of a real ballot of the election (about what a
// board of n ballots holds), appended by 64 writers so group commit batches
// them. The board reads none of them: the tiles serve the log's bytes as
// they are.
func growLog(t testing.TB, l store.Log, n uint64, ballotLen int) {
	t.Helper()
	size, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	todo := make(chan int, n)
	for i := size; i < n; i++ {
		todo <- int(i)
	}
	close(todo)
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := range todo {
				body := make([]byte, ballotLen-1-i%7) // lengths vary
				rand.Read(body)
				if _, err := l.Append(context.Background(), store.Append{Leaf: store.Leaf(store.Ballot, body)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

// tiledBoard is an election with a few real ballots, its log grown to n
// entries, and its handler on a test server.
func tiledBoard(t testing.TB, n uint64) (*electiontest.Election, *httptest.Server) {
	t.Helper()
	e := electiontest.New(t, electiontest.Options{})
	var ballotLen int
	for range 5 {
		b := e.Ballot(t, e.Voter(t), []int{0})
		if _, err := e.Board.Cast(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		ballotLen = len(b) + 1
	}
	growLog(t, e.Log, n, ballotLen)
	srv := httptest.NewServer(board.NewHandler(e.Board, board.HandlerConfig{}))
	t.Cleanup(srv.Close)
	return e, srv
}

// exported returns every leaf of the board's record, read by store's
// strict export reader, and the record's checkpoint.
func exported(t testing.TB, e *electiontest.Election) ([][]byte, *store.Checkpoint) {
	t.Helper()
	r := store.NewReader(bytes.NewReader(e.Export(t)), e.Verifier)
	var leaves [][]byte
	for {
		leaf, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaf)
	}
	return leaves, r.Checkpoint()
}

func get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// tileCheckpoint fetches /tlog/checkpoint and verifies it with the board's
// key.
func tileCheckpoint(t testing.TB, srv *httptest.Server, v note.Verifier) *store.Checkpoint {
	t.Helper()
	resp, body := get(t, srv.URL+board.TlogPrefix+"checkpoint")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET checkpoint: %d %s", resp.StatusCode, body)
	}
	cp, err := store.ParseCheckpoint(body, v)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// TestTilesTorchwood reads the whole log through the tiles with an
// independent tlog-tiles client, filippo.io/torchwood's Client over its
// TileFetcher, which checks every entry bundle against the hash tiles and
// those against the checkpoint's root; every entry is the export's, in
// order. It also proves entries through torchwood's tile hash reader.
func TestTilesTorchwood(t *testing.T) {
	e, srv := tiledBoard(t, tiledSize)
	want, _ := exported(t, e)
	fetcher, err := torchwood.NewTileFetcher(srv.URL + board.TlogPrefix)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := fetcher.ReadEndpoint(t.Context(), "checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.ParseCheckpoint(signed, e.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != tiledSize {
		t.Fatalf("checkpoint of size %d, want %d", cp.Size, tiledSize)
	}
	tc, err := torchwood.ParseCheckpoint(string(signed[:bytes.Index(signed, []byte("\n\n"))+1]))
	if err != nil || tc.N != int64(cp.Size) || tc.Hash != cp.Hash || tc.Origin != cp.Origin {
		t.Fatalf("torchwood reads the checkpoint as %+v (%v), store as size %d", tc, err, cp.Size)
	}
	client, err := torchwood.NewClient(fetcher)
	if err != nil {
		t.Fatal(err)
	}
	tree := tlog.Tree{N: int64(cp.Size), Hash: cp.Hash}
	var got [][]byte
	// Entries stops before a partial bundle while a full one is left; ask
	// again from where it stopped.
	for int64(len(got)) < tree.N {
		before := len(got)
		for i, entry := range client.Entries(t.Context(), tree, int64(len(got))) {
			if i != int64(len(got)) {
				t.Fatalf("torchwood yielded entry %d after %d entries", i, len(got))
			}
			got = append(got, bytes.Clone(entry))
		}
		if err := client.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) == before {
			t.Fatalf("torchwood stopped at entry %d of %d", len(got), tree.N)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d entries through the tiles, the export holds %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("entry %d read through the tiles differs from the export's", i)
		}
	}
	for _, i := range []int64{0, 1, 255, 256, 2047, tree.N - 1} {
		entry, proof, err := client.Entry(t.Context(), tree, i)
		if err != nil {
			t.Fatalf("torchwood Entry(%d): %v", i, err)
		}
		if !bytes.Equal(entry, want[i]) {
			t.Fatalf("torchwood Entry(%d) differs from the export's", i)
		}
		if err := store.VerifyInclusion(cp, uint64(i), entry, proof); err != nil {
			t.Fatal(err)
		}
	}
}

// tileHashes is the hash tiles of a tree as read from the server: level
// -> the hashes of every tile at that level, full ones then the partial.
type tileHashes map[int][]tlog.Hash

// readHashTiles fetches every hash tile a tree of size n has, by our own
// reading of tlog-tiles (not torchwood's), and checks each is the width
// the spec gives.
func readHashTiles(t testing.TB, base string, n uint64) tileHashes {
	t.Helper()
	out := tileHashes{}
	for level := 0; n>>(8*level) > 0; level++ {
		units := n >> (8 * level)
		for k := uint64(0); k*256 < units; k++ {
			w := min(units-k*256, 256)
			path := fmt.Sprintf("%stile/%d/%s", base, level, tileIndex(k))
			if w < 256 {
				path += fmt.Sprintf(".p/%d", w)
			}
			resp, body := get(t, path)
			if resp.StatusCode != http.StatusOK || len(body) != int(w)*tlog.HashSize {
				t.Fatalf("GET %s: %d, %d bytes; want %d", path, resp.StatusCode, len(body), w*tlog.HashSize)
			}
			for i := 0; i < len(body); i += tlog.HashSize {
				out[level] = append(out[level], tlog.Hash(body[i:i+tlog.HashSize]))
			}
		}
		if uint64(len(out[level])) != units {
			t.Fatalf("level %d holds %d hashes, want %d", level, len(out[level]), units)
		}
	}
	return out
}

// tileIndex encodes N as tlog-tiles does: three-digit groups, all but the
// last x-prefixed (written from the spec's text, independently of the
// board's parser).
func tileIndex(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

// subtreeRoot is the RFC 6962 root of the hashes hs, 2^k of them, by
// tlog.NodeHash.
func subtreeRoot(hs []tlog.Hash) tlog.Hash {
	for len(hs) > 1 {
		next := make([]tlog.Hash, len(hs)/2)
		for i := range next {
			next[i] = tlog.NodeHash(hs[2*i], hs[2*i+1])
		}
		hs = next
	}
	return hs[0]
}

// ReadHashes answers tlog's stored-hash indexes from the tiles: a hash at
// tree level 8L+j is the root of 2^j hashes of tile level L.
func (th tileHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		level, n := tlog.SplitStoredHashIndex(x)
		base, j := level/8, level%8
		hs := th[base]
		lo, hi := n<<j, (n+1)<<j
		if hi > int64(len(hs)) {
			return nil, fmt.Errorf("hash %d at level %d is not in the tiles", n, level)
		}
		out[i] = subtreeRoot(hs[lo:hi])
	}
	return out, nil
}

// TestTilesHashes reads every hash tile and entry bundle with our own
// reading of the spec: level 0 is the leaf hashes of the export's entries,
// each hash at level 1 the root of a full tile at level 0, the tree hash
// tlog computes from the tiles the checkpoint's root, and the bundles are
// the export's entries, length-prefixed.
func TestTilesHashes(t *testing.T) {
	e, srv := tiledBoard(t, tiledSize)
	want, _ := exported(t, e)
	base := srv.URL + board.TlogPrefix
	cp := tileCheckpoint(t, srv, e.Verifier)
	th := readHashTiles(t, base, cp.Size)
	if len(th) != 2 || len(th[0]) != tiledSize || len(th[1]) != tiledSize/256 {
		t.Fatalf("tiles of %d levels, %d and %d hashes", len(th), len(th[0]), len(th[1]))
	}
	for i, leaf := range want {
		if th[0][i] != store.LeafHash(leaf) {
			t.Fatalf("level-0 hash %d is not entry %d's leaf hash", i, i)
		}
	}
	for k, h := range th[1] {
		if h != subtreeRoot(th[0][k*256:(k+1)*256]) {
			t.Fatalf("level-1 hash %d is not the root of level-0 tile %d", k, k)
		}
	}
	root, err := tlog.TreeHash(int64(cp.Size), th)
	if err != nil || root != cp.Hash {
		t.Fatalf("tree hash from the tiles %v (%v), the checkpoint's %v", root, err, cp.Hash)
	}
	var got [][]byte
	for k := uint64(0); k*256 < cp.Size; k++ {
		path := base + "tile/entries/" + tileIndex(k)
		if w := min(cp.Size-k*256, 256); w < 256 {
			path += fmt.Sprintf(".p/%d", w)
		}
		resp, body := get(t, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		for len(body) > 0 {
			if len(body) < 2 || len(body) < 2+int(body[0])<<8|int(body[1]) {
				t.Fatalf("bundle %d cut short", k)
			}
			l := int(body[0])<<8 | int(body[1])
			got = append(got, body[2:2+l])
			body = body[2+l:]
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries in the bundles, %d in the export", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("bundled entry %d differs from the export's", i)
		}
	}
}

// TestTilesLevelOne serves a full level-1 tile, a log of 65,536+300
// entries (a board over store.MemEngine, the manifest of a real election
// as entry 0), and torchwood proves entries through it.
func TestTilesLevelOne(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 65,836 entries")
	}
	const n = 1<<16 + 300
	e := electiontest.New(t, electiontest.Options{})
	manifest, err := e.Log.Leaf(0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.New(store.NewMemEngine(), e.Signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	b, err := board.Create(t.Context(), l, manifest[1:])
	if err != nil {
		t.Fatal(err)
	}
	growLog(t, l, n, 40)
	srv := httptest.NewServer(board.NewHandler(b, board.HandlerConfig{}))
	defer srv.Close()
	cp := tileCheckpoint(t, srv, e.Verifier)
	th := readHashTiles(t, srv.URL+board.TlogPrefix, cp.Size)
	if len(th) != 3 || len(th[2]) != 1 {
		t.Fatalf("a tree of %d has tiles at %d levels, want 3", cp.Size, len(th))
	}
	if root, err := tlog.TreeHash(int64(cp.Size), th); err != nil || root != cp.Hash {
		t.Fatalf("tree hash from the tiles %v (%v), the checkpoint's %v", root, err, cp.Hash)
	}
	for k, h := range th[2] {
		if h != subtreeRoot(th[1][k*256:(k+1)*256]) {
			t.Fatalf("level-2 hash %d is not the root of level-1 tile %d", k, k)
		}
	}
	fetcher, _ := torchwood.NewTileFetcher(srv.URL + board.TlogPrefix)
	client, _ := torchwood.NewClient(fetcher)
	tree := tlog.Tree{N: int64(cp.Size), Hash: cp.Hash}
	for _, i := range []int64{0, 65535, 65536, n - 1} {
		entry, proof, err := client.Entry(t.Context(), tree, i)
		if err != nil {
			t.Fatalf("torchwood Entry(%d): %v", i, err)
		}
		if err := store.VerifyInclusion(cp, uint64(i), entry, proof); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTilesCaching checks the content types and caching headers the spec
// asks: full tiles and bundles immutable and long-cached, partial ones
// short-lived, the checkpoint not cached.
func TestTilesCaching(t *testing.T) {
	_, srv := tiledBoard(t, tiledSize)
	base := srv.URL + board.TlogPrefix
	for _, c := range []struct{ path, ctype, cache string }{
		{"checkpoint", "text/plain; charset=utf-8", "no-cache"},
		{"tile/0/000", "application/octet-stream", "public, max-age=31536000, immutable"},
		{"tile/0/010", "application/octet-stream", "public, max-age=31536000, immutable"},
		{"tile/0/011.p/196", "application/octet-stream", "public, max-age=60"},
		{"tile/0/011.p/1", "application/octet-stream", "public, max-age=60"},
		{"tile/1/000.p/11", "application/octet-stream", "public, max-age=60"},
		{"tile/entries/000", "application/octet-stream", "public, max-age=31536000, immutable"},
		{"tile/entries/011.p/196", "application/octet-stream", "public, max-age=60"},
	} {
		resp, body := get(t, base+c.path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", c.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := resp.Header.Get("Cache-Control"); got != c.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", c.path, got, c.cache)
		}
	}
	resp, body := get(t, base+"tile/0/000")
	if len(body) != 8192 || resp.ContentLength != 8192 {
		t.Errorf("a full tile is %d bytes (Content-Length %d), want 8192", len(body), resp.ContentLength)
	}
}

// TestAttackTilePaths asks for tiles by every non-canonical name of a
// real one and for tiles the tree does not hold: each is refused (400 for
// a malformed name, 404 beyond the tree, 405 another method), nothing is
// served and the log is unchanged.
func TestAttackTilePaths(t *testing.T) {
	e, srv := tiledBoard(t, tiledSize)
	before, err := e.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"tile/0/1", "tile/0/01", "tile/0/0000", "tile/00/000", "tile/01/000", "tile/+0/000", "tile/-1/000",
		"tile/64/000", "tile/0/x000/001", "tile/0/x001", "tile/0/x01/000", "tile/0/X001/000", "tile/0/-01",
		"tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/-1", "tile/0/000.p/", "tile/0/000.p",
		"tile/0/000.p/1/", "tile/0/000.p/1.p/1", "tile/0/000/", "tile/0/", "tile/0", "tile/", "tile",
		"tile/0/../0/000", "tile/0/./000", "tile//0/000", "tile/0//000", "./tile/0/000", "tile/entries/../0/000",
		"tile/entries/", "tile/entries/1", "tile/entries/x000/001", "tile/data/000", "tile/8/0/000",
		"tile/0/x999/x999/x999/x999/x999/x999/999", "tile/entries/x999/x999/x999/x999/x999/x999/x999/999",
		"tile/0/%30%30%30", "tile/0/00%30", "tile/%30/000", "tile/0/000%2ep/1", "checkpoint/", "checkpoints",
		"tile/0/000?x=1", "checkpoint?size=1", "", "tile/0/18446744073709551616",
		"tile/0/x018/x446/x744/x073/x709/551/616",
	}
	beyond := []string{
		"tile/0/011", "tile/0/011.p/197", "tile/0/011.p/255", "tile/0/012.p/1", "tile/1/000", "tile/1/000.p/12",
		"tile/2/000.p/1", "tile/63/000.p/1", "tile/entries/011", "tile/entries/011.p/197", "tile/entries/012.p/1",
		"tile/0/x999/x999/x999/x999/x999/999", "tile/entries/x009/x223/x372/x036/x854/775",
	}
	for _, p := range bad {
		resp, body := get(t, srv.URL+board.TlogPrefix+p)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %q: %d %s; want 400", p, resp.StatusCode, body)
		}
	}
	for _, p := range beyond {
		resp, body := get(t, srv.URL+board.TlogPrefix+p)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %q: %d %s; want 404", p, resp.StatusCode, body)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(m, srv.URL+board.TlogPrefix+"checkpoint", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s checkpoint: %d, want 405", m, resp.StatusCode)
		}
	}
	if after, err := e.Log.Size(); err != nil || after != before {
		t.Fatalf("the log went from %d to %d entries (%v)", before, after, err)
	}
}

// BenchmarkTile serves a full level-0 hash tile and a full entry bundle
// from a bbolt-backed board of 3,012 entries of a real ballot's length,
// through the handler in process.
func BenchmarkTile(b *testing.B) {
	e, _ := tiledBoard(b, tiledSize)
	h := board.NewHandler(e.Board, board.HandlerConfig{})
	for _, c := range []struct{ name, path string }{
		{"Hash", "tile/0/005"},
		{"Entries", "tile/entries/005"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", board.TlogPrefix+c.path, nil)
			var n int
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
				n = w.Body.Len()
			}
			b.SetBytes(int64(n))
		})
	}
}
