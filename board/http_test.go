package board_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/store/bolt"
)

// makeBallots returns n valid ballots of n fresh voters, made on every core.
func makeBallots(t *testing.T, e *sim.Election, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				v, err := e.Voter()
				if err == nil {
					out[i], err = e.Ballot(v, []int{i % 2})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// dialTiny connects to host with a receive buffer as small as the kernel
// allows, so that whatever the server sends fills it at once.
func dialTiny(t *testing.T, host string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// smallSendBuffers gives each accepted connection a small fixed send
// buffer. Loopback autotunes it to 1.6 MB here (measured), more than a
// test's record; over a real network a record of any size fills whatever
// the buffers are, and this only makes the same happen with a small record.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// An export that its client never reads must not stop the board. Before
// the fix the export wrote to the network inside a bbolt read transaction,
// and bbolt grows its memory map only once every reader is out: the first
// cast that needed a bigger map waited for the export, and every cast and
// /healthz behind it, until the write timeout (5 minutes) cut the client
// off. Here the unread export is held open while the board's file grows
// past its map; every cast must still get its receipt, and /healthz its
// "ok", within a bound.
func TestAttackUnreadExport(t *testing.T) {
	dir := t.TempDir()
	e, err := sim.New(sim.Options{Dir: dir, Issuer: electiontest.Issuer(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	srv := httptest.NewUnstartedServer(board.NewHandler(e.Board, board.HandlerConfig{}))
	srv.Listener = smallSendBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close) // after the held connection is closed
	const first, then = 100, 400
	raws := makeBallots(t, e, first+then)
	// A record larger than every buffer between the board and the client
	// (the export's own 64 KiB, the sockets'), so the export blocks in a
	// write: a real record (60 MB for 80,000 ballots) is larger than any.
	for _, raw := range raws[:first] {
		if _, err := e.Board.Cast(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, bolt.FileName)
	fileSize := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	startSize := fileSize()

	host := strings.TrimPrefix(srv.URL, "http://")
	c := dialTiny(t, host)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", board.PathExport, host)
	// Read the first bytes only, to know the export has started, then
	// never read again.
	if _, err := io.ReadFull(c, make([]byte, 12)); err != nil {
		t.Fatal(err)
	}

	hc := &http.Client{Timeout: 5 * time.Second}
	post := func(raw []byte) error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+board.PathBallots, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	health := func() error {
		resp, err := hc.Get(srv.URL + board.PathHealth)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, then)
	next := make(chan []byte)
	for range 16 {
		wg.Go(func() {
			for raw := range next {
				if err := post(raw); err != nil {
					errs <- err
				}
			}
		})
	}
	for i, raw := range raws[first:] {
		select {
		case next <- raw:
		case err := <-errs:
			close(next)
			t.Fatalf("with an unread export open, cast %d failed after the board grew from %d to %d bytes: %v", i, startSize, fileSize(), err)
		case <-ctx.Done():
			t.Fatal("casting did not finish")
		}
		if i%100 == 0 {
			if err := health(); err != nil {
				close(next)
				t.Fatalf("with an unread export open, /healthz failed after %d casts: %v", i, err)
			}
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("with an unread export open, a cast failed after the board grew from %d to %d bytes: %v", startSize, fileSize(), err)
	}
	if err := health(); err != nil {
		t.Fatalf("with an unread export open, /healthz: %v", err)
	}
	if end := fileSize(); end < 2*startSize {
		t.Fatalf("the board's file grew from %d to %d bytes only, not past its memory map: the test did not test", startSize, end)
	}
	t.Logf("file %d -> %d bytes", startSize, fileSize())
}
