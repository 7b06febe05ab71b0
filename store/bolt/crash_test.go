package bolt_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
)

const crashEnv = "EVOTE_STORE_CRASH_DIR"

// TestCrashChild is the child of TestCrash: it appends from many goroutines
// until killed, printing "index leaf-hex checkpoint-base64" for each append
// once Append and Checkpoint have returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	s, _ := keys(t)
	l, err := bolt.Open(dir, s, &bolt.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if n, _ := l.Size(); n == 0 {
		mustAppend(t, l, store.Append{Leaf: manifest()})
	}
	run := os.Getenv("EVOTE_STORE_CRASH_RUN")
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := 0; ; i++ {
				leaf := ballot(fmt.Sprintf("run %s writer %d ballot %d", run, g, i))
				idx, err := l.Append(ctx, store.Append{Leaf: leaf, Key: leaf})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				cp, err := l.Checkpoint(ctx)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				line := fmt.Sprintf("%d %x %s\n", idx, leaf, base64.StdEncoding.EncodeToString(cp.Signed))
				mu.Lock()
				os.Stdout.WriteString(line) // one write: a line is whole or absent
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrash kills a child appending under load at several moments and checks
// that everything it was told is durable is there after reopening: each
// returned leaf at its index with a valid inclusion proof against a new
// checkpoint, and each checkpoint it was given consistent with the new one.
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	_, v := keys(t)
	dir := t.TempDir()
	total := 0
	for run, delay := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir, "EVOTE_STORE_CRASH_RUN="+strconv.Itoa(run))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan []string)
		first := make(chan struct{})
		go func() {
			var got []string
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if len(got) == 0 {
					close(first)
				}
				got = append(got, sc.Text())
			}
			if len(got) == 0 {
				close(first)
			}
			lines <- got
		}()
		<-first
		time.Sleep(delay)
		cmd.Process.Kill()
		got := <-lines
		cmd.Wait()
		if len(got) == 0 {
			t.Fatalf("run %d: child printed nothing: %s", run, stderr.Bytes())
		}
		total += len(got)

		l := open(t, dir, nil)
		now, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		for _, line := range got {
			f := strings.Fields(line)
			if len(f) != 3 {
				t.Fatalf("run %d: bad line %q from the child", run, line)
			}
			idx, err1 := strconv.ParseUint(f[0], 10, 64)
			leaf, err2 := hex.DecodeString(f[1])
			signed, err3 := base64.StdEncoding.DecodeString(f[2])
			if err1 != nil || err2 != nil || err3 != nil {
				t.Fatalf("run %d: bad line %q from the child", run, line)
			}
			stored, err := l.Leaf(idx)
			if err != nil || !bytes.Equal(stored, leaf) {
				t.Fatalf("run %d: entry %d returned to the child is lost after the crash: %v", run, idx, err)
			}
			if x, ok, _ := l.Lookup(leaf); !ok || x != idx {
				t.Fatalf("run %d: key of entry %d lost", run, idx)
			}
			p, err := l.ProveInclusion(idx, now.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := store.VerifyInclusion(now, idx, leaf, p); err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			old, err := store.ParseCheckpoint(signed, v)
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			if old.Size <= idx {
				t.Fatalf("run %d: checkpoint of size %d handed out with entry %d", run, old.Size, idx)
			}
			if !seen[old.Size] {
				seen[old.Size] = true
				tp, err := l.ProveConsistency(old.Size, now.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := store.VerifyConsistency(old, now, tp); err != nil {
					t.Fatalf("run %d: checkpoint the child saw is not consistent with the log after the crash: %v", run, err)
				}
				if kept, err := l.CheckpointAt(old.Size); err != nil || !bytes.Equal(kept.Signed, old.Signed) {
					t.Fatalf("run %d: checkpoint of size %d handed out but not kept: %v", run, old.Size, err)
				}
			}
		}
		t.Logf("run %d: killed after %v, %d appends returned, %d checkpoints seen, log size %d", run, delay, len(got), len(seen), now.Size)
		l.Close()
	}
}
