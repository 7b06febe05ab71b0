package secret

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the controller side (what a terminal
// emulator holds) and the device a program reads and writes as its
// terminal.
func openPTY(t *testing.T) (ctl, dev *os.File) {
	t.Helper()
	ctl, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(ctl.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		ctl.Close()
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		ctl.Close()
		t.Skipf("naming the pseudo-terminal: %v", err)
	}
	dev, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ctl.Close()
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { dev.Close(); ctl.Close() })
	return ctl, dev
}

// screen collects what the terminal shows.
type screen struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *screen) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestAskOnATerminal types the passphrase on a real (pseudo-)terminal, as
// a person does, to make a key: it is asked twice, and never echoed.
func TestAskOnATerminal(t *testing.T) {
	ctl, dev := openPTY(t)
	term, ok := OpenTerminal(dev, dev)
	if !ok {
		t.Fatal("a pseudo-terminal is not taken for a terminal")
	}
	var shown screen
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := ctl.Read(buf)
			shown.mu.Lock()
			shown.b.Write(buf[:n])
			shown.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	type answer struct {
		k   *Keyring
		err error
	}
	done := make(chan answer, 1)
	go func() {
		k, err := Ask(term, "evote board keygen", true, 10)
		done <- answer{k, err}
	}()
	// typeWhenAsked waits for the prompt and for the terminal to stop
	// echoing (ReadPassword turns echo off), then types a line.
	typeWhenAsked := func(prompt, line string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			tio, err := unix.IoctlGetTermios(int(dev.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(shown.String(), prompt) && tio.Lflag&unix.ECHO == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no prompt %q with echo off; the terminal shows %q", prompt, shown.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := ctl.Write([]byte(line + "\r")); err != nil {
			t.Fatal(err)
		}
	}
	typeWhenAsked("Passphrase for secrets at rest (evote board keygen): ", "tr0ub4dor & 3")
	typeWhenAsked("again, to confirm: ", "tr0ub4dor & 3")
	var a answer
	select {
	case a = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("Ask did not return; the terminal shows %q", shown.String())
	}
	if a.err != nil || a.k.Passphrase != "tr0ub4dor & 3" {
		t.Fatalf("%+v, %v", a.k, a.err)
	}
	if strings.Contains(shown.String(), "tr0ub4dor") {
		t.Fatalf("the passphrase was echoed: %q", shown.String())
	}
	tio, err := unix.IoctlGetTermios(int(dev.Fd()), unix.TCGETS)
	if err != nil || tio.Lflag&unix.ECHO == 0 {
		t.Fatalf("echo is not back on after the prompt: %v", err)
	}
}
