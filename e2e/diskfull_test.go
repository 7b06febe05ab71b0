package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/voter"
)

// stopServe stops a process newElection started (SIGINT) and waits for a
// clean exit.
func (e *election) stopServe(name string) {
	e.t.Helper()
	cmd := e.procs[name]
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			e.t.Fatalf("evote %s serve did not stop cleanly: %v", name, err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		e.t.Fatalf("evote %s serve did not stop within 15 s of SIGINT", name)
	}
}

// castSeq casts ballots one at a time on a board.
type castSeq struct {
	t   *testing.T
	e   *election
	vc  *voter.Client
	el  *ballot.Election
	isk *token.PrivateKey
	url string // the board's
}

func (c *castSeq) ballots(n int) []*soakBallot {
	return prepareBallots(c.t, c.el, c.isk, n)
}

func (c *castSeq) size() uint64 {
	c.t.Helper()
	info, err := c.vc.Board.Election(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return info.Size
}

// notStored checks that err is the board's 503 saying the ballot was not
// stored, and that the same cast over plain HTTP gets no receipt but a
// Retry-After.
func (c *castSeq) notStored(b *soakBallot, err error) {
	c.t.Helper()
	var ae *boardapi.Error
	if !errors.Is(err, boardapi.ErrStorage) || !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable || ae.RetryAfter == 0 || !strings.Contains(ae.Message, "NOT stored") {
		c.t.Fatalf("cast on a full store: want HTTP 503 %s saying the ballot was NOT stored, with Retry-After, got %v", boardapi.CodeStorage, err)
	}
	resp, err := http.Post(c.url+boardapi.PathBallots, "application/octet-stream", bytes.NewReader(b.raw))
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rc boardapi.Receipt
	json.Unmarshal(body, &rc)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || rc.Checkpoint != "" || rc.TrackingCode != "" {
		c.t.Fatalf("cast on a full store over HTTP: HTTP %d, Retry-After %q, body %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

// diskFull fills the board's storage (fill), casts until the board cannot
// store a ballot, checks that the failing casts get a clear 503 and no
// receipt and leave the log as it was, then makes room (free) and checks
// that the refused ballots, cast again, are stored and their receipts hold.
func (c *castSeq) diskFull(fill, free func()) {
	t, ctx := c.t, context.Background()
	before := c.ballots(2)
	for _, b := range before {
		if _, err := c.vc.Cast(ctx, c.el, b.raw); err != nil {
			t.Fatalf("cast before the disk is full: %v", err)
		}
	}
	fill()
	// Pages freed inside the file can take a few commits; the board must
	// fail within a few hundred.
	var failed []*soakBallot
	stored := 0
	var size uint64
	for batch := 0; len(failed) == 0; batch++ {
		if batch == 10 {
			t.Fatalf("the board stored %d ballots on a full disk and never failed", stored)
		}
		for _, b := range c.ballots(30) {
			size = c.size()
			rc, err := c.vc.Cast(ctx, c.el, b.raw)
			if err == nil {
				b.receipt = rc
				stored++
				continue
			}
			c.notStored(b, err)
			failed = append(failed, b)
			t.Logf("after %d more ballots stored, the board refused: %v", stored, err)
			break
		}
	}
	// More casts on the full disk: all refused, the log unchanged, reads
	// still served.
	for _, b := range c.ballots(3) {
		_, err := c.vc.Cast(ctx, c.el, b.raw)
		c.notStored(b, err)
		failed = append(failed, b)
	}
	if now := c.size(); now != size {
		t.Fatalf("the log went from %d to %d entries on casts the board refused", size, now)
	}
	if _, err := c.vc.Board.Checkpoint(ctx, 0); err != nil {
		t.Fatalf("a full disk stops the board serving checkpoints: %v", err)
	}

	free()
	for _, b := range failed {
		rc, err := c.vc.Cast(ctx, c.el, b.raw)
		if err != nil {
			t.Fatalf("a ballot refused on the full disk, cast again once there is room: %v", err)
		}
		if _, err := c.vc.CheckReceipt(ctx, rc); err != nil {
			t.Fatal(err)
		}
	}
	if now := c.size(); now != size+uint64(len(failed)) {
		t.Fatalf("after %d ballots cast again, the log holds %d entries, not %d", len(failed), now, size+uint64(len(failed)))
	}
	t.Logf("%d ballots refused with HTTP 503 while full, none stored; all stored once there was room (log %d -> %d)", len(failed), size, c.size())
}

func newCastSeq(t *testing.T, e *election, boardURL string) *castSeq {
	vc := &voter.Client{Board: boardapi.NewClient(boardURL, nil), BoardKey: boardVerifier(t, e.dir), ManifestHash: e.manifestHash()}
	el, err := vc.Election(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &castSeq{t: t, e: e, vc: vc, el: el, isk: issuerKey(t, e.dir), url: boardURL}
}

// TestDiskFullNoReceipt: when the board's store cannot write, a cast gets
// HTTP 503 saying the ballot was NOT stored and to retry, no receipt, and
// the log is unchanged; once there is room, casting works again without a
// restart. Two ways to fill the disk: the board process's file size limit
// (RLIMIT_FSIZE, set on the running process with prlimit; writes fail with
// EFBIG), and a small tmpfs filled to the brim (ENOSPC; needs root to
// mount, skipped otherwise).
func TestDiskFullNoReceipt(t *testing.T) {
	t.Run("rlimit", func(t *testing.T) {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			t.Skip("prlimit (util-linux) is not installed: cannot limit the board's file size")
		}
		e := newElection(t, 4)
		c := newCastSeq(t, e, e.boardURL)
		pid := fmt.Sprint(e.procs["board"].Process.Pid)
		limit := func(v string) {
			if out, err := exec.Command(prlimit, "--pid", pid, "--fsize="+v).CombinedOutput(); err != nil {
				t.Fatalf("prlimit --fsize=%s: %v\n%s", v, err, out)
			}
		}
		// Writes past 16 KiB (the meta and root pages) fail: no new page.
		// Only the soft limit: raising a hard one back needs privilege.
		c.diskFull(func() { limit("16384:") }, func() { limit("unlimited:") })
	})
	t.Run("tmpfs", func(t *testing.T) {
		e := newElection(t, 4)
		disk := filepath.Join(e.dir, "small-disk")
		if err := os.Mkdir(disk, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=8m,mode=0700"); err != nil {
			t.Skipf("cannot mount a small tmpfs here (%v): run as root (CI does) to test a truly full disk", err)
		}
		t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) }) // after the board stops
		// Move the board's log onto the small disk.
		e.stopServe("board")
		data := filepath.Join("small-disk", "board-data")
		if err := os.Mkdir(filepath.Join(e.dir, data), 0o700); err != nil {
			t.Fatal(err)
		}
		db := readFile(t, filepath.Join(e.dir, "board-data", "log.db"))
		if err := os.WriteFile(filepath.Join(e.dir, data, "log.db"), db, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := e.startBoard(data, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := p.stop(); err != nil {
				t.Errorf("the board did not shut down cleanly: %v\n%s", err, p.stderr.String())
			}
		})
		c := newCastSeq(t, e, p.url)
		filler := filepath.Join(e.dir, "small-disk", "filler")
		c.diskFull(func() {
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zero := make([]byte, 64<<10)
			for {
				if _, err := f.Write(zero); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling the disk: %v", err)
					}
					break
				}
			}
			// The last partial blocks too.
			for _, n := range []int{4096, 512, 1} {
				for {
					if _, err := f.Write(zero[:n]); err != nil {
						break
					}
				}
			}
		}, func() {
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
		})
		if !strings.Contains(p.stderr.String(), "no space left on device") {
			t.Errorf("the board's log does not name the cause:\n%s", p.stderr.String())
		}
	})
}
