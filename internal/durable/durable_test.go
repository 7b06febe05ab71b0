package durable

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ticket.json")
	if err := WriteFile(p, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), false); !errors.Is(err, ErrExists) {
		t.Fatalf("a second write without overwrite: %v, want ErrExists", err)
	}
	// A file planted where an older version put its temporary file, open
	// to all: never written through, and the result is owner-only.
	planted := p + ".tmp"
	if err := os.WriteFile(planted, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("three"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "three" {
		t.Fatalf("content %q", b)
	}
	if b, _ := os.ReadFile(planted); len(b) != 0 {
		t.Fatal("the planted file was written through")
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // the file and the planted one: no temporary left
		t.Fatalf("left in the directory: %v", entries)
	}
}

func TestZero(t *testing.T) {
	p := filepath.Join(t.TempDir(), "roll.csv")
	data := bytes.Repeat([]byte("voter-000001,7XQ2M-K9D4T-0HVB3-RWE8N\n"), 50000)
	os.WriteFile(p, data, 0o600)
	if err := Zero(p); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if len(got) != len(data) || len(bytes.Trim(got, "\x00")) != 0 {
		t.Fatalf("after Zero: %d bytes, %d of them not zero", len(got), len(bytes.Trim(got, "\x00")))
	}
	if err := Zero(t.TempDir()); err == nil {
		t.Fatal("a directory zeroed")
	}
}
