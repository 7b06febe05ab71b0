//go:build unix

package main

import "syscall"

// fileLimit is RLIMIT_NOFILE: the soft limit (which Go raises to the hard
// one at start) and the hard one.
func fileLimit() (cur, hard uint64, ok bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, false
	}
	return uint64(lim.Cur), uint64(lim.Max), true
}
