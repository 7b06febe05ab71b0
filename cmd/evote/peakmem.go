package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// peakMemory returns this program's peak resident memory in bytes, or 0
// where it cannot be known. It reads VmHWM from /proc/self/status (Linux):
// the high-water mark of this program's own memory, which starts afresh at
// exec. getrusage's ru_maxrss does not: Linux carries the larger of it and
// the exec'ing process's mark across exec, so "verify --stats" started by
// a large process reported that process's peak.
func peakMemory() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return vmHWM(b)
}

// vmHWM parses the "VmHWM:  1234 kB" line of a /proc/PID/status file.
func vmHWM(status []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok {
			return 0
		}
		n, err := strconv.ParseUint(strings.TrimSpace(kb), 10, 64)
		if err != nil {
			return 0
		}
		return n << 10
	}
	return 0
}
