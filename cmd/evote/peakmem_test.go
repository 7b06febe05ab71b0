package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestVmHWM(t *testing.T) {
	status := "Name:\tevote\nVmPeak:\t  900000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 1000 kB\n"
	if got := vmHWM([]byte(status)); got != 12345<<10 {
		t.Fatalf("vmHWM = %d, want %d", got, 12345<<10)
	}
	for _, bad := range []string{"", "VmHWM: lots\n", "VmHWM: 12 MB\n"} {
		if got := vmHWM([]byte(bad)); got != 0 {
			t.Errorf("vmHWM(%q) = %d, want 0", bad, got)
		}
	}
}

// TestPeakMemoryIsThisProcess: a process that holds 512 MiB starts a small
// one; the small one's peak memory is its own, not its parent's (what
// getrusage's ru_maxrss reported for "verify --stats").
func TestPeakMemoryIsThisProcess(t *testing.T) {
	if os.Getenv("EVOTE_PEAKMEM_CHILD") == "1" {
		os.Stdout.WriteString(strconv.FormatUint(peakMemory(), 10))
		os.Exit(0)
	}
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's; elsewhere peakMemory reports 0 (unknown)")
	}
	big := make([]byte, 512<<20)
	for i := range big {
		if i%4096 == 0 {
			big[i] = 1
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPeakMemoryIsThisProcess$")
	cmd.Env = append(os.Environ(), "EVOTE_PEAKMEM_CHILD=1")
	out, err := cmd.Output()
	runtime.KeepAlive(big)
	if err != nil {
		t.Fatal(err)
	}
	child, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("child printed %q", out)
	}
	if child == 0 || child > 256<<20 {
		t.Fatalf("the child's peak memory is %d MiB; it holds far less, its parent 512 MiB", child>>20)
	}
	t.Logf("parent holds 512 MiB; the child reports %d MiB", child>>20)
}
