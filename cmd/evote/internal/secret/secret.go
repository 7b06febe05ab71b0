// Package secret keeps evote's secrets at rest (trustee states and key
// shares, the issuer's and the board's signing keys) as age-encrypted files,
// under a passphrase (age's scrypt recipient) or an age identity file.
package secret

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/evote/evote/internal/durable"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// DefaultWorkFactor is the scrypt work factor (log2 N) secrets are
// encrypted with under a passphrase: age's own default, about a second.
const DefaultWorkFactor = 18

// Keyring says how secrets are encrypted and decrypted: by a passphrase,
// or by the identities of an age identity file (and their recipients).
type Keyring struct {
	Passphrase string
	Identities []age.Identity
	// WorkFactor is the scrypt work factor for new files under a
	// passphrase; 0 means DefaultWorkFactor.
	WorkFactor int
}

// ErrNoKey means neither a passphrase nor an identity was given.
var ErrNoKey = errors.New("no key for secrets at rest: give --passphrase-file FILE, set EVOTE_PASSPHRASE, or give --identity FILE (an age identity file, made with age-keygen), or run the command on a terminal to type the passphrase")

// Load builds a Keyring from an identity file, else a passphrase file, else
// the passphrase in the environment variable env.
func Load(identityFile, passphraseFile, env string, workFactor int) (*Keyring, error) {
	k := &Keyring{WorkFactor: workFactor}
	switch {
	case identityFile != "":
		if err := CheckPrivate(identityFile); err != nil {
			return nil, err
		}
		f, err := os.Open(identityFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		ids, err := age.ParseIdentities(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", identityFile, err)
		}
		k.Identities = ids
	case passphraseFile != "":
		if err := CheckPrivate(passphraseFile); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(passphraseFile)
		if err != nil {
			return nil, err
		}
		k.Passphrase = strings.TrimRight(string(b), "\r\n")
		clear(b)
	case os.Getenv(env) != "":
		k.Passphrase = os.Getenv(env)
	default:
		return nil, ErrNoKey
	}
	if k.Identities == nil && k.Passphrase == "" {
		return nil, errors.New("the passphrase is empty")
	}
	return k, nil
}

func (k *Keyring) recipients() ([]age.Recipient, error) {
	if k.Identities == nil {
		r, err := age.NewScryptRecipient(k.Passphrase)
		if err != nil {
			return nil, err
		}
		if k.WorkFactor > 0 {
			r.SetWorkFactor(k.WorkFactor)
		} else {
			r.SetWorkFactor(DefaultWorkFactor)
		}
		return []age.Recipient{r}, nil
	}
	var rs []age.Recipient
	for _, id := range k.Identities {
		switch id := id.(type) {
		case *age.X25519Identity:
			rs = append(rs, id.Recipient())
		case *age.HybridIdentity:
			rs = append(rs, id.Recipient())
		default:
			return nil, fmt.Errorf("cannot encrypt to an identity of type %T; use an X25519 or hybrid age identity", id)
		}
	}
	return rs, nil
}

func (k *Keyring) identities() ([]age.Identity, error) {
	if k.Identities != nil {
		return k.Identities, nil
	}
	id, err := age.NewScryptIdentity(k.Passphrase)
	if err != nil {
		return nil, err
	}
	return []age.Identity{id}, nil
}

// Encrypt returns plain encrypted, ASCII-armored.
func (k *Keyring) Encrypt(plain []byte) ([]byte, error) {
	rs, err := k.recipients()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, rs...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decrypt opens a file Encrypt made (armored or not).
func (k *Keyring) Decrypt(ct []byte) ([]byte, error) {
	ids, err := k.identities()
	if err != nil {
		return nil, err
	}
	var src io.Reader = bytes.NewReader(ct)
	if bytes.HasPrefix(bytes.TrimSpace(ct), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(ct))
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		return nil, fmt.Errorf("%w (wrong passphrase or identity?)", err)
	}
	return io.ReadAll(r)
}

// WriteFile encrypts plain into path, readable by its owner only. It
// refuses to overwrite an existing file unless overwrite is set.
func (k *Keyring) WriteFile(path string, plain []byte, overwrite bool) error {
	ct, err := k.Encrypt(plain)
	if err != nil {
		return err
	}
	return WritePrivate(path, ct, overwrite)
}

// WritePrivate writes data to path, readable by its owner only, and
// durably before it replaces an older file: a trustee's state or key share
// lost to a crash would lose its part of the election key, a voter's
// ticket their vote. It refuses to overwrite an existing file unless
// overwrite is set.
func WritePrivate(path string, data []byte, overwrite bool) error {
	return durable.WriteFile(path, data, overwrite)
}

// CheckPrivate refuses a secret file that others than its owner can read
// or write: encrypted or not, a key file open to others is a mistake to
// correct before it is used, not after.
func CheckPrivate(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s is readable or writable by others (mode %04o); it holds a secret: run chmod 600 %s", path, perm, path)
	}
	return nil
}

// ReadFile decrypts the file at path, after checking that only its owner
// can read it. The caller should clear the returned bytes once parsed.
func (k *Keyring) ReadFile(path string) ([]byte, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, err
	}
	ct, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	plain, err := k.Decrypt(ct)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return plain, nil
}
