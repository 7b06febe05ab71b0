package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadOnlyStore: the board refuses to start on a data directory it
// cannot write (its log file read-only, or a new data directory in a
// read-only place), exiting with an error that names the file and the
// cause, and never listening; the store is unharmed: started again where it
// can write, the board resumes with every entry and takes ballots.
func TestReadOnlyStore(t *testing.T) {
	e := newElection(t, 2)
	ctx := context.Background()
	c := newCastSeq(t, e, e.boardURL)
	b := c.ballots(2)
	if _, err := c.vc.Cast(ctx, c.el, b[0].raw); err != nil {
		t.Fatal(err)
	}
	size := c.size()
	e.stopServe("board")

	data, want := "board-data", "permission denied"
	if os.Geteuid() == 0 {
		// Root writes through permission bits: mount the data directory
		// again, read-only.
		data, want = "read-only", "read-only file system"
		ro := filepath.Join(e.dir, data)
		if err := os.Mkdir(ro, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount(filepath.Join(e.dir, "board-data"), ro, "", syscall.MS_BIND, ""); err != nil {
			t.Skipf("running as root, but cannot bind-mount here (%v): no way to make the store read-only", err)
		}
		t.Cleanup(func() { syscall.Unmount(ro, syscall.MNT_DETACH) })
		if err := syscall.Mount("", ro, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
			t.Skipf("cannot remount read-only here (%v)", err)
		}
	} else {
		dir := filepath.Join(e.dir, data)
		if err := os.Chmod(filepath.Join(dir, "log.db"), 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	for _, dir := range []string{data, filepath.Join(data, "new")} {
		p, err := e.startBoard(dir, "127.0.0.1:0")
		if err == nil {
			p.stop()
			t.Fatalf("the board started on %s, which it cannot write", dir)
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.Contains(msg, dir) || strings.Contains(msg, "panic") {
			t.Fatalf("starting on %s: want an error naming it and %q, got: %v", dir, want, err)
		}
		t.Logf("started on %s: %s", dir, strings.TrimSpace(msg[strings.Index(msg, "\n")+1:]))
	}

	if os.Geteuid() != 0 {
		os.Chmod(filepath.Join(e.dir, data), 0o700)
		os.Chmod(filepath.Join(e.dir, data, "log.db"), 0o600)
	}
	p, err := e.startBoard("board-data", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("the store after a refused start: %v", err)
	}
	defer p.stop()
	c = newCastSeq(t, e, p.url)
	if got := c.size(); got != size {
		t.Fatalf("the board resumed with %d entries, not %d", got, size)
	}
	rc, err := c.vc.Cast(ctx, c.el, b[1].raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.vc.CheckReceipt(ctx, rc); err != nil {
		t.Fatal(err)
	}
}
