package issuer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/evote/evote/issuer/issuerapi"
	"golang.org/x/crypto/argon2"
)

// Enrolment code format and hashing parameters. See the package
// documentation for why the argon2id parameters can be this light.
const (
	// HashTime is argon2id's number of passes.
	HashTime = 1
	// HashMemoryKiB is argon2id's memory in KiB.
	HashMemoryKiB = 256
	// HashThreads is argon2id's parallelism.
	HashThreads = 1
	// HashSize is the length of a code hash in bytes.
	HashSize = 32
	// SaltSize is the length of a per-voter salt in bytes.
	SaltSize = 16
	// MaxVoterIDLen is the longest voter ID accepted, in bytes.
	MaxVoterIDLen = 128
)

// GenerateCode returns a fresh enrolment code from crypto/rand: 100 random
// bits as 20 Crockford base32 characters in four dash-separated groups,
// such as "7XQ2M-K9D4T-0HVB3-RWE8N".
func GenerateCode() (string, error) {
	var raw [issuerapi.CodeChars]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("issuer: reading randomness for a code: %w", err)
	}
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(issuerapi.CodeAlphabet[r&31]) // 32 symbols: no modulo bias
	}
	return b.String(), nil
}

// CodeHash is an enrolment code as the roll keeps it: argon2id with the
// parameters it was made with, so they can change between elections.
type CodeHash struct {
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
	Salt      []byte `json:"salt"`
	Sum       []byte `json:"sum"`
}

// HashCode hashes a code (in any form [NormalizeCode] accepts) with a fresh
// salt and the package's parameters.
func HashCode(code string) (CodeHash, error) {
	norm, err := issuerapi.NormalizeCode(code)
	if err != nil {
		return CodeHash{}, err
	}
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return CodeHash{}, fmt.Errorf("issuer: reading randomness for a salt: %w", err)
	}
	h := CodeHash{Time: HashTime, MemoryKiB: HashMemoryKiB, Threads: HashThreads, Salt: salt}
	h.Sum = h.compute(norm)
	return h, nil
}

func (h CodeHash) compute(normCode string) []byte {
	return argon2.IDKey([]byte(normCode), h.Salt, h.Time, h.MemoryKiB, h.Threads, HashSize)
}

// Verify reports whether code (in any accepted form) matches the hash,
// comparing in constant time.
func (h CodeHash) Verify(code string) bool {
	norm, err := issuerapi.NormalizeCode(code)
	if err != nil || h.Time == 0 || h.MemoryKiB == 0 || h.Threads == 0 || len(h.Sum) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(h.compute(norm), h.Sum) == 1
}

// dummyHash is verified against when a voter is unknown, so that an unknown
// voter ID costs the same time as a wrong code.
var dummyHash = CodeHash{Time: HashTime, MemoryKiB: HashMemoryKiB, Threads: HashThreads, Salt: make([]byte, SaltSize), Sum: make([]byte, HashSize)}

// CheckVoterID reports whether id can be a voter ID: 1 to [MaxVoterIDLen]
// bytes of UTF-8 without control characters or surrounding spaces.
func CheckVoterID(id string) error {
	switch {
	case id == "":
		return errors.New("issuer: voter ID is empty")
	case len(id) > MaxVoterIDLen:
		return fmt.Errorf("issuer: voter ID is %d bytes, at most %d allowed", len(id), MaxVoterIDLen)
	case !utf8.ValidString(id):
		return errors.New("issuer: voter ID is not valid UTF-8")
	case strings.TrimSpace(id) != id:
		return errors.New("issuer: voter ID starts or ends with a space")
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return errors.New("issuer: voter ID contains a control character")
	}
	return nil
}

var rollHeader = []string{"voter_id", "enrolment_code"}

// GenerateRoll makes a roll of n voters with IDs "voter-000001", ... and
// fresh codes, as CSV with the header "voter_id,enrolment_code": the same
// file is handed out (each voter gets their own line) and imported with
// [ImportRoll]. It holds plaintext codes: keep it secret, and delete it once
// the codes are delivered.
func GenerateRoll(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("issuer: cannot generate a roll of %d voters", n)
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(rollHeader); err != nil {
		return nil, err
	}
	for i := 1; i <= n; i++ {
		code, err := GenerateCode()
		if err != nil {
			return nil, err
		}
		if err := w.Write([]string{fmt.Sprintf("voter-%06d", i), code}); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ImportRoll reads a roll as CSV (header "voter_id,enrolment_code", then one
// voter a line), hashes every code and adds all voters to roll in one step:
// either every voter is added or, on any error, none. Voter IDs must pass
// [CheckVoterID] and be unique (in the file and against roll); codes must be
// well-formed ([NormalizeCode]). It returns the number of voters added.
// Errors name the line at fault.
func ImportRoll(ctx context.Context, roll Roll, r io.Reader) (int, error) {
	recs, err := readRoll(ctx, r)
	if err != nil {
		return 0, err
	}
	if err := roll.Add(ctx, recs); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// ImportRoll is the package's ImportRoll with the voters' contacts, where
// one-time codes are sent (the second factor), sealed into their entries
// (seal.go). contacts is keyed by voter ID, in any spelling
// [NormalizeVoterID] makes one; a contact for a voter not in the roll file
// is an error, and voters without one may be (they cannot pass an e-mail
// or SMS second factor until the help desk adds one).
func (is *Issuer) ImportRoll(ctx context.Context, r io.Reader, contacts map[string]Contact) (int, error) {
	recs, err := readRoll(ctx, r)
	if err != nil {
		return 0, err
	}
	byID := make(map[string]int, len(recs))
	for i := range recs {
		byID[recs[i].VoterID] = i
	}
	for id, c := range contacts {
		norm, err := NormalizeVoterID(id)
		if err != nil {
			return 0, fmt.Errorf("issuer: contacts: voter %q: %w", id, err)
		}
		i, ok := byID[norm]
		if !ok {
			return 0, fmt.Errorf("issuer: contacts name voter %q, who is not in the roll file; give the contacts file made with this roll (evote issuer import)", id)
		}
		if recs[i].Contact != nil {
			return 0, fmt.Errorf("issuer: contacts name voter %q twice", norm)
		}
		if recs[i].Contact, err = is.SealContact(norm, c); err != nil {
			return 0, err
		}
	}
	if err := is.roll.Add(ctx, recs); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// readRoll reads and hashes a roll file for ImportRoll.
func readRoll(ctx context.Context, r io.Reader) ([]RollEntry, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 2
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("issuer: reading roll header: %w", err)
	}
	if len(head) != 2 || strings.TrimPrefix(head[0], "\ufeff") != rollHeader[0] || head[1] != rollHeader[1] {
		return nil, fmt.Errorf("issuer: roll header is %q, want %q", strings.Join(head, ","), strings.Join(rollHeader, ","))
	}
	type row struct{ id, code string }
	var rows []row
	seen := make(map[string]int)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("issuer: reading roll: %w", err)
		}
		line, _ := cr.FieldPos(0)
		id, err := NormalizeVoterID(rec[0]) // one spelling per member, as Issue looks them up
		if err != nil {
			return nil, &lineError{line, err}
		}
		if prev, dup := seen[id]; dup {
			return nil, &lineError{line, fmt.Errorf("%w: voter %q is already on line %d", ErrDuplicateVoter, id, prev)}
		}
		seen[id] = line
		norm, err := issuerapi.NormalizeCode(rec[1])
		if err != nil {
			return nil, &lineError{line, err}
		}
		rows = append(rows, row{id, norm})
	}

	// Hash in parallel: ~0.25 ms a code, 30 s a core for 117,000 voters.
	recs := make([]RollEntry, len(rows))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				h, err := HashCode(rows[i].code)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				recs[i] = RollEntry{VoterID: rows[i].id, Code: h}
			}
		})
	}
	for i := range rows {
		if i%1024 == 0 && ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return recs, nil
}

// lineError names the roll line an import error is on.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string {
	msg := strings.TrimPrefix(strings.TrimPrefix(e.err.Error(), "issuer: "), "issuerapi: ")
	return fmt.Sprintf("issuer: roll line %d: %s", e.line, msg)
}

func (e *lineError) Unwrap() error { return e.err }

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
