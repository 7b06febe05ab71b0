package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/cmd/evote/internal/secret"
)

// typist is a terminal on which a person types lines.
type typist struct {
	mu    sync.Mutex
	shown bytes.Buffer
	lines []string
	reads int
}

func (t *typist) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shown.Write(p)
}
func (t *typist) ReadPassword() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reads == len(t.lines) {
		return nil, io.EOF
	}
	t.reads++
	return []byte(t.lines[t.reads-1]), nil
}

var passphraseMu sync.Mutex

// typing makes the commands see a terminal on which lines are typed (nil:
// no terminal, as under a script).
func typing(t *testing.T, lines ...string) *typist {
	passphraseMu.Lock()
	old := passphraseTerminal
	ty := &typist{lines: lines}
	passphraseTerminal = func(*globals) (secret.Terminal, bool) { return ty, lines != nil }
	t.Cleanup(func() { passphraseTerminal = old; passphraseMu.Unlock() })
	return ty
}

// TestPassphrasePromptKeygen: with no passphrase given, a keygen command
// on a terminal asks twice and writes the key under what was typed; two
// different answers write nothing; without a terminal it is the usage
// error that names the flags, as before.
func TestPassphrasePromptKeygen(t *testing.T) {
	t.Setenv("EVOTE_PASSPHRASE", "")
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	keygen := []string{"--scrypt-work-factor", "10", "board", "keygen", "--key", in("board.key"), "--vkey", in("board.vkey")}

	ty := typing(t, "first try", "frist try")
	_, errs, code := evote(t, keygen...)
	if code != 1 || !strings.Contains(errs, "the two passphrases differ") || ty.reads != 2 {
		t.Fatalf("two different passphrases: exit %d after %d reads\n%s", code, ty.reads, errs)
	}
	for _, f := range []string{"board.key", "board.vkey"} {
		if _, err := os.Stat(in(f)); err == nil {
			t.Fatalf("%s written under passphrases that differ", f)
		}
	}
	passphraseTerminal = func(*globals) (secret.Terminal, bool) { return nil, false }
	if _, errs, code := evote(t, keygen...); code != 2 || !strings.Contains(errs, "EVOTE_PASSPHRASE") {
		t.Fatalf("no terminal: exit %d\n%s", code, errs)
	}

	ty = &typist{lines: []string{"correct horse", "correct horse"}}
	passphraseTerminal = func(*globals) (secret.Terminal, bool) { return ty, true }
	if _, errs, code := evote(t, keygen...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if ty.reads != 2 || !strings.Contains(ty.shown.String(), "(evote board keygen)") || !strings.Contains(ty.shown.String(), "again, to confirm") {
		t.Fatalf("%d reads; the terminal showed %q", ty.reads, ty.shown.String())
	}
	kr := &secret.Keyring{Passphrase: "correct horse"}
	if b, err := kr.ReadFile(in("board.key")); err != nil || !bytes.HasPrefix(b, []byte("PRIVATE+KEY+")) {
		t.Fatalf("the key does not open with the typed passphrase: %v", err)
	}
}

// TestPassphrasePromptReading: a command that reads a secret asks once; a
// wrong passphrase fails to open it; a passphrase from the environment or
// a file is used without asking (scripts keep working).
func TestPassphrasePromptReading(t *testing.T) {
	t.Setenv("EVOTE_PASSPHRASE", "")
	dir := t.TempDir()
	in := func(f string) string { return filepath.Join(dir, f) }
	pass := in("pass")
	os.WriteFile(pass, []byte("from a file\n"), 0o600)
	if _, errs, code := evote(t, "--passphrase-file", pass, "--scrypt-work-factor", "10", "issuer", "keygen", "--key", in("issuer.key"), "--pub", in("issuer.pub")); code != 0 {
		t.Fatal(errs)
	}
	pub := []string{"issuer", "pub", "--key", in("issuer.key"), "--pub", in("again.pub")}

	ty := typing(t, "wrong")
	if _, errs, code := evote(t, pub...); code != 1 || !strings.Contains(errs, "wrong passphrase") || ty.reads != 1 {
		t.Fatalf("a wrong typed passphrase: exit %d after %d reads\n%s", code, ty.reads, errs)
	}
	ty = &typist{lines: []string{"from a file", "never asked"}}
	passphraseTerminal = func(*globals) (secret.Terminal, bool) { return ty, true }
	if _, errs, code := evote(t, pub...); code != 0 || ty.reads != 1 || strings.Contains(ty.shown.String(), "confirm") {
		t.Fatalf("the right typed passphrase: exit %d after %d reads\n%s", code, ty.reads, errs)
	}
	os.Remove(in("again.pub"))
	ty = &typist{}
	passphraseTerminal = func(*globals) (secret.Terminal, bool) { return ty, true }
	if _, errs, code := evote(t, append([]string{"--passphrase-file", pass}, pub...)...); code != 0 || ty.reads != 0 {
		t.Fatalf("--passphrase-file with a terminal: exit %d after %d reads\n%s", code, ty.reads, errs)
	}
	os.Remove(in("again.pub"))
	t.Setenv("EVOTE_PASSPHRASE", "from a file")
	if _, errs, code := evote(t, pub...); code != 0 || ty.reads != 0 {
		t.Fatalf("EVOTE_PASSPHRASE with a terminal: exit %d after %d reads\n%s", code, ty.reads, errs)
	}
}
