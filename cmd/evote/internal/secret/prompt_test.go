package secret

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// fakeTerminal types lines as a person would, and keeps what was shown.
type fakeTerminal struct {
	shown bytes.Buffer
	lines []string
	reads int
}

func (t *fakeTerminal) Write(p []byte) (int, error) { return t.shown.Write(p) }
func (t *fakeTerminal) ReadPassword() ([]byte, error) {
	if t.reads == len(t.lines) {
		return nil, io.EOF
	}
	t.reads++
	return []byte(t.lines[t.reads-1]), nil
}

// TestAskReading: reading a secret asks once and keeps the passphrase as
// typed (spaces included); the prompt names the command.
func TestAskReading(t *testing.T) {
	ft := &fakeTerminal{lines: []string{"  correct horse  ", "never read"}}
	k, err := Ask(ft, "evote trustee decrypt", false, 12)
	if err != nil {
		t.Fatal(err)
	}
	if k.Passphrase != "  correct horse  " || k.WorkFactor != 12 || k.Identities != nil {
		t.Fatalf("keyring %+v", k)
	}
	if ft.reads != 1 || strings.Count(ft.shown.String(), "assphrase") != 1 || !strings.Contains(ft.shown.String(), "evote trustee decrypt") {
		t.Fatalf("%d reads, shown %q", ft.reads, ft.shown.String())
	}
}

// TestAskMaking: making a key asks twice; the same passphrase twice gives
// a keyring that encrypts and decrypts.
func TestAskMaking(t *testing.T) {
	ft := &fakeTerminal{lines: []string{"s3cret words", "s3cret words"}}
	k, err := Ask(ft, "evote board keygen", true, 10)
	if err != nil {
		t.Fatal(err)
	}
	if ft.reads != 2 || !strings.Contains(ft.shown.String(), "again, to confirm") {
		t.Fatalf("%d reads, shown %q", ft.reads, ft.shown.String())
	}
	ct, err := k.Encrypt([]byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := (&Keyring{Passphrase: "s3cret words"}).Decrypt(ct); err != nil || string(p) != "key" {
		t.Fatalf("the typed passphrase does not open the file: %q, %v", p, err)
	}
}

// TestAttackAskMismatch: two different passphrases, an empty one, and
// input that ends are refused, with no keyring to write a file under.
func TestAttackAskMismatch(t *testing.T) {
	for _, c := range []struct {
		lines   []string
		confirm bool
		want    string
	}{
		{[]string{"one", "onE"}, true, "differ"},
		{[]string{"one", ""}, true, "differ"},
		{[]string{""}, false, "empty"},
		{[]string{""}, true, "empty"},
		{nil, false, "reading the passphrase"},
		{[]string{"one"}, true, "reading the passphrase"},
	} {
		k, err := Ask(&fakeTerminal{lines: c.lines}, "evote board keygen", c.confirm, 10)
		if err == nil || k != nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q (confirm %v): %v, %v; want an error with %q", c.lines, c.confirm, k, err, c.want)
		}
		if c.want == "differ" && !errors.Is(err, ErrMismatch) {
			t.Errorf("%q: %v is not ErrMismatch", c.lines, err)
		}
	}
}

// TestOpenTerminalNotATerminal: a pipe, a file or a buffer is no terminal,
// so scripts get the error that names the flags, never a prompt.
func TestOpenTerminalNotATerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, c := range map[string]struct {
		in  *os.File
		out io.Writer
	}{
		"pipe": {r, w}, "file": {f, f}, "buffer": {r, &bytes.Buffer{}}, "no input": {nil, w},
	} {
		if _, ok := OpenTerminal(c.in, c.out); ok {
			t.Errorf("%s: taken for a terminal", name)
		}
	}
}
