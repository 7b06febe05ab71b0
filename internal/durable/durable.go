// Package durable writes a file so that, once the write returns, it is on
// disk whole or not at all: a temporary file in the same directory, created
// new and readable by its owner only, written and synced, renamed over the
// old one, and the directory synced so that the rename survives a power
// loss. The voter's ticket, a trustee's journal and every secret file go
// through it: one lost would lose a vote, let a trustee decrypt twice, or
// lose a share of the election key.
package durable

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrExists means the file exists and overwrite was not set.
var ErrExists = errors.New("durable: the file exists")

// WriteFile writes data to path, mode 0600. Unless overwrite is set it
// refuses a path that exists.
func WriteFile(path string, data []byte, overwrite bool) error {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%w: %s; remove it first or choose another name", ErrExists, path)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp opens with O_EXCL and mode 0600: a file planted under the
	// temporary name, with another mode or owner, is never written through.
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("durable: syncing directory %s after writing %s: %w", dir, base, err)
	}
	return nil
}

// Zero overwrites the regular file at path in place with zeros, as long as
// it is, and syncs it: what erasure can do from a program (on an SSD, a
// copy-on-write file system, a snapshot or a backup old blocks may
// survive). The issuer's purge zeroes the old roll, and --erase the other
// files identity went to.
func Zero(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("durable: %s is not a regular file", path)
	}
	zeros := make([]byte, 1<<20)
	for left := int64(0); err == nil && left < fi.Size(); {
		n := min(fi.Size()-left, int64(len(zeros)))
		_, err = f.Write(zeros[:n])
		left += n
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
