package secret

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Terminal is where a person types a passphrase: prompts are written to
// it, and ReadPassword reads one line without echoing it.
type Terminal interface {
	io.Writer
	ReadPassword() ([]byte, error)
}

// ErrMismatch means the two passphrases typed to make a secret differ.
var ErrMismatch = errors.New("the two passphrases differ; nothing was written: run the command again and type the same passphrase twice")

// Ask asks for the passphrase on t and returns the Keyring it gives, with
// scrypt work factor workFactor for new files. To make a new secret
// (confirm) it asks twice and refuses two that differ: a typing mistake
// would otherwise lock the secret away for good. To read one it asks once;
// a wrong one fails when the file does not decrypt. what says what the
// passphrase is for (such as "evote board keygen").
func Ask(t Terminal, what string, confirm bool, workFactor int) (*Keyring, error) {
	fmt.Fprintf(t, "Passphrase for secrets at rest (%s): ", what)
	p, err := readLine(t)
	if err != nil {
		return nil, err
	}
	if p == "" {
		return nil, errors.New("the passphrase is empty")
	}
	if confirm {
		fmt.Fprint(t, "The same passphrase again, to confirm: ")
		again, err := readLine(t)
		if err != nil {
			return nil, err
		}
		if again != p {
			return nil, ErrMismatch
		}
	}
	return &Keyring{Passphrase: p, WorkFactor: workFactor}, nil
}

func readLine(t Terminal) (string, error) {
	b, err := t.ReadPassword()
	// The typed newline is not echoed either: end the prompt's line.
	fmt.Fprintln(t)
	if err != nil {
		return "", fmt.Errorf("reading the passphrase: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	clear(b)
	return p, nil
}

// OpenTerminal returns the terminal to ask a passphrase on: in, with the
// prompts on out, when both are terminals; ok false otherwise (a script,
// a pipe, a service), and then a passphrase comes only from a file, the
// environment or an identity.
func OpenTerminal(in *os.File, out io.Writer) (t Terminal, ok bool) {
	f, isFile := out.(*os.File)
	if in == nil || !isFile || !term.IsTerminal(int(in.Fd())) || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return &fileTerminal{in: in, out: f}, true
}

type fileTerminal struct{ in, out *os.File }

func (t *fileTerminal) Write(p []byte) (int, error)   { return t.out.Write(p) }
func (t *fileTerminal) ReadPassword() ([]byte, error) { return term.ReadPassword(int(t.in.Fd())) }
