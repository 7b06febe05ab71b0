//go:build unix

package main

import (
	"os"
	"syscall"
)

// ownedByMe reports whether fi is owned by the user running the command.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
