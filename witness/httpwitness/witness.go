// Package httpwitness is a transparency-log witness speaking C2SP
// tlog-witness over HTTP, and the client a log uses to gather cosignatures.
//
// A Witness knows its logs by origin and the log's note verifier key. It
// answers POST /add-checkpoint: the body is an old size line, the
// consistency proof lines from the old size, an empty line, then the
// checkpoint note. It cosigns (cosignature/v1, see package witness) only a
// checkpoint consistent with the latest one it cosigned for that origin, and
// keeps that latest size and root hash per origin in a bbolt file, checked
// and advanced in one fsynced transaction before it answers, so two
// concurrent requests cannot both advance from one old size and a restart
// neither forgets nor cosigns a fork of what it cosigned.
//
// Status codes, as the spec asks: 200 with the cosignature line; 400 for a
// malformed body or an old size above the checkpoint's; 403 when no
// signature verifies with a key trusted for the origin; 404 for an unknown
// origin; 409 with a text/x.tlog.size body naming the latest cosigned size
// when old is not that size (or the same size with another root hash); 422
// when the consistency proof does not verify.
//
// evote ships its own witness rather than filippo.io/torchwood's
// litewitness, which signs through an SSH agent and keeps its state in
// SQLite: this one keeps its state in bbolt like the board's log and its key
// age-encrypted at rest like every other evote key, and adds no cgo or
// agent to an election's operators. Both speak the same protocol and make
// the same cosignatures, so either can witness an evote board.
package httpwitness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/witness"
	"github.com/transparency-dev/formats/log"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// FileName is the witness's state file in its state directory.
const FileName = "witness.db"

// MaxBodySize bounds an add-checkpoint request body.
const MaxBodySize = 64 << 10

// maxProof is the most consistency proof lines the spec allows.
const maxProof = 63

// ErrLocked means another process holds the witness's state file.
var ErrLocked = errors.New("httpwitness: state file is in use")

var (
	bLogs = []byte("logs") // origin -> size(8) || root hash(32) || latest cosigned note
	bMeta = []byte("meta")
	kKey  = []byte("witness-key")
)

// Witness is a C2SP tlog-witness for a fixed set of logs.
type Witness struct {
	signer *witness.Signer
	logs   map[string][]note.Verifier
	db     *bbolt.DB
	now    func() time.Time
}

// Open opens or creates the witness state in dir for the witness key signer
// (a *witness.Signer, from witness.NewSigner), trusting logs, each a log's
// note verifier whose name is the log's origin. A state directory belongs
// to one witness key: opening it with another is refused.
func Open(dir string, signer note.Signer, logs []note.Verifier) (*Witness, error) {
	s, ok := signer.(*witness.Signer)
	if !ok {
		return nil, fmt.Errorf("httpwitness: the witness key must be a cosignature/v1 key from witness.NewSigner")
	}
	w := &Witness{signer: s, logs: map[string][]note.Verifier{}, now: time.Now}
	for _, v := range logs {
		w.logs[v.Name()] = append(w.logs[v.Name()], v)
	}
	if len(w.logs) == 0 {
		return nil, fmt.Errorf("httpwitness: no logs to witness; pass at least one log key")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("httpwitness: creating state directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s; stop the other witness or use another state directory", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("httpwitness: opening %s: %w", path, err)
	}
	vkey := []byte(s.Verifier().String())
	err = db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bLogs); err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		switch k := m.Get(kKey); {
		case k == nil:
			return m.Put(kKey, vkey)
		case !bytes.Equal(k, vkey):
			return fmt.Errorf("httpwitness: state in %s belongs to witness key %s, not %s; use that key or another state directory", path, k, vkey)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	w.db = db
	return w, nil
}

// Close closes the state file.
func (w *Witness) Close() error { return w.db.Close() }

// Verifier is the verifier of this witness's cosignatures.
func (w *Witness) Verifier() *witness.Verifier { return w.signer.Verifier() }

// Latest returns the size, root hash and note of the latest checkpoint
// cosigned for origin; ok is false if none was.
func (w *Witness) Latest(origin string) (size uint64, hash tlog.Hash, signed []byte, ok bool, err error) {
	err = w.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bLogs).Get([]byte(origin))
		if v == nil {
			return nil
		}
		size, hash, signed, err = decodeState(v)
		ok = err == nil
		return err
	})
	return
}

func decodeState(v []byte) (uint64, tlog.Hash, []byte, error) {
	var h tlog.Hash
	if len(v) < 8+tlog.HashSize {
		return 0, h, nil, fmt.Errorf("httpwitness: corrupt state record of %d bytes", len(v))
	}
	copy(h[:], v[8:])
	return binary.BigEndian.Uint64(v), h, bytes.Clone(v[8+tlog.HashSize:]), nil
}

// Error is a refused add-checkpoint: Code is the HTTP status the spec asks.
type Error struct {
	Code int
	Msg  string
	Size uint64 // for 409, the latest cosigned size
}

func (e *Error) Error() string { return "httpwitness: " + e.Msg }

func refuse(code int, format string, a ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// ParseRequest parses an add-checkpoint body strictly: "old N\n" with N in
// canonical decimal, at most 63 lines of canonical base64 hashes, an empty
// line, and the checkpoint note.
func ParseRequest(body []byte) (old uint64, proof tlog.TreeProof, signed []byte, err error) {
	rest := body
	line := func() (string, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return "", false
		}
		l := string(rest[:i])
		rest = rest[i+1:]
		return l, true
	}
	l, ok := line()
	n, found := strings.CutPrefix(l, "old ")
	if !ok || !found {
		return 0, nil, nil, refuse(http.StatusBadRequest, "request must start with an \"old <size>\" line")
	}
	old, perr := strconv.ParseUint(n, 10, 64)
	if perr != nil || strconv.FormatUint(old, 10) != n || old > math.MaxInt64 {
		return 0, nil, nil, refuse(http.StatusBadRequest, "old size %q is not a canonical decimal", n)
	}
	for {
		l, ok := line()
		if !ok {
			return 0, nil, nil, refuse(http.StatusBadRequest, "request lacks the empty line before the checkpoint")
		}
		if l == "" {
			break
		}
		if len(proof) == maxProof {
			return 0, nil, nil, refuse(http.StatusBadRequest, "more than %d consistency proof lines", maxProof)
		}
		h, derr := base64.StdEncoding.Strict().DecodeString(l)
		if derr != nil || len(h) != tlog.HashSize || base64.StdEncoding.EncodeToString(h) != l {
			return 0, nil, nil, refuse(http.StatusBadRequest, "consistency proof line %d is not a base64 hash", len(proof)+1)
		}
		proof = append(proof, tlog.Hash(h))
	}
	return old, proof, rest, nil
}

// Add checks a checkpoint against the latest one cosigned for its origin,
// records it and returns the witness's cosignature line. A refusal is an
// *Error carrying the HTTP status of C2SP tlog-witness.
func (w *Witness) Add(old uint64, proof tlog.TreeProof, signed []byte) ([]byte, error) {
	origin, _, _ := strings.Cut(string(signed), "\n")
	keys, ok := w.logs[origin]
	if !ok {
		return nil, refuse(http.StatusNotFound, "unknown log origin %q; this witness does not witness it", origin)
	}
	n, err := note.Open(signed, note.VerifierList(keys...))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) || errors.As(err, &invalid) {
			return nil, refuse(http.StatusForbidden, "checkpoint of %q carries no valid signature by a key trusted for it", origin)
		}
		return nil, refuse(http.StatusBadRequest, "malformed checkpoint note: %v", err)
	}
	var c log.Checkpoint
	if _, err := c.Unmarshal([]byte(n.Text)); err != nil {
		return nil, refuse(http.StatusBadRequest, "malformed checkpoint body: %v", err)
	}
	if c.Origin != origin || len(c.Hash) != tlog.HashSize || c.Size > math.MaxInt64 {
		return nil, refuse(http.StatusBadRequest, "malformed checkpoint body")
	}
	if c.Size == 0 {
		return nil, refuse(http.StatusBadRequest, "checkpoint of an empty log: nothing to witness")
	}
	var hash tlog.Hash
	copy(hash[:], c.Hash)
	if old > c.Size {
		return nil, refuse(http.StatusBadRequest, "old size %d is above the checkpoint size %d", old, c.Size)
	}
	if old == 0 && len(proof) != 0 {
		return nil, refuse(http.StatusBadRequest, "a consistency proof from size 0 must be empty")
	}
	// The note as cosigned: the body and the log's verified signatures.
	var mine bytes.Buffer
	mine.WriteString(n.Text + "\n")
	for _, s := range n.Sigs {
		mine.WriteString("— " + s.Name + " " + s.Base64 + "\n")
	}

	err = w.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bLogs)
		var have uint64
		var haveHash tlog.Hash
		if v := b.Get([]byte(origin)); v != nil {
			var err error
			if have, haveHash, _, err = decodeState(v); err != nil {
				return err
			}
		}
		if old != have {
			return &Error{Code: http.StatusConflict, Size: have,
				Msg: fmt.Sprintf("old size %d is not %d, the latest size cosigned for %q; retry with a proof from %d", old, have, origin, have)}
		}
		if old == c.Size {
			if hash != haveHash {
				return &Error{Code: http.StatusConflict, Size: have,
					Msg: fmt.Sprintf("checkpoint of size %d of %q has another root hash than the one cosigned: the log forked", c.Size, origin)}
			}
		} else if old > 0 {
			if err := tlog.CheckTree(proof, int64(c.Size), hash, int64(old), haveHash); err != nil {
				return refuse(http.StatusUnprocessableEntity, "consistency proof from size %d to %d of %q does not verify: %v", old, c.Size, origin, err)
			}
		}
		v := binary.BigEndian.AppendUint64(nil, c.Size)
		v = append(v, hash[:]...)
		v = append(v, mine.Bytes()...)
		return b.Put([]byte(origin), v)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, fmt.Errorf("httpwitness: recording checkpoint: %w", err)
	}
	sig, err := w.signer.SignAt(w.now(), []byte(n.Text))
	if err != nil {
		return nil, fmt.Errorf("httpwitness: cosigning: %w", err)
	}
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], w.signer.KeyHash())
	return []byte("— " + w.signer.Name() + " " + base64.StdEncoding.EncodeToString(append(h[:], sig...)) + "\n"), nil
}

// HandlerConfig configures the witness's HTTP handler.
type HandlerConfig struct {
	Logger      *slog.Logger // one line per request, nil for none
	MaxInFlight int          // add-checkpoint requests worked on at once (0: 64, negative: no bound); beyond it 503
}

// Handler serves POST /add-checkpoint under its root, and GET /healthz and
// GET /metrics (Prometheus) for operators.
func (w *Witness) Handler(cfg HandlerConfig) http.Handler {
	svc := service.New("witness", cfg.Logger)
	cosigned := svc.Metrics.Counter(svc.MetricName("add_checkpoint_total"), "add-checkpoint requests, by HTTP status.", "code")
	var gate *service.Gate
	switch {
	case cfg.MaxInFlight == 0:
		gate = service.NewGate(64)
	case cfg.MaxInFlight > 0:
		gate = service.NewGate(cfg.MaxInFlight)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", func(rw http.ResponseWriter, r *http.Request) {
		if gate != nil {
			if !gate.TryEnter() {
				service.Overloaded(rw)
				return
			}
			defer gate.Leave()
		}
		code := w.serveAdd(rw, r, cfg.Logger)
		cosigned.With(strconv.Itoa(code)).Inc()
	})
	mux.HandleFunc("GET "+service.PathHealth, svc.Health(func(context.Context) error {
		return w.db.View(func(*bbolt.Tx) error { return nil })
	}))
	mux.HandleFunc("GET "+service.PathMetrics, svc.ServeMetrics)
	return svc.Wrap(mux)
}

func (w *Witness) serveAdd(rw http.ResponseWriter, r *http.Request, log *slog.Logger) int {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, MaxBodySize))
	if err != nil {
		http.Error(rw, fmt.Sprintf("httpwitness: request body over %d bytes or unreadable", MaxBodySize), http.StatusRequestEntityTooLarge)
		return http.StatusRequestEntityTooLarge
	}
	old, proof, signed, err := ParseRequest(body)
	var cos []byte
	if err == nil {
		cos, err = w.Add(old, proof, signed)
	}
	var e *Error
	switch {
	case err == nil:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(cos)
		return http.StatusOK
	case errors.As(err, &e) && e.Code == http.StatusConflict:
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", e.Size)
		return e.Code
	case errors.As(err, &e):
		http.Error(rw, e.Error(), e.Code)
		return e.Code
	default:
		if log != nil {
			log.Error("add-checkpoint", "err", err.Error())
		}
		http.Error(rw, "httpwitness: internal error; see the witness's log", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
}
