// Package monitor follows a board's log from outside and raises an alert
// when the board misbehaves in a way anyone can prove: a fork, a rollback,
// a checkpoint not signed by the board's key, or a log that stops growing
// while the election is open.
//
// A board signs a checkpoint (SPEC.md §5) of its log at every size. Every
// voter holds one in a receipt, and the verifier checks one over the whole
// record; "unmodifiable" holds only if all of them are checkpoints of one
// history. A voter checks that once, when casting or checking a receipt. A
// monitor checks it continuously: it polls the newest checkpoint, verifies
// it under the pinned board key, and asks the board for a consistency proof
// (RFC 6962, tlog) from the last checkpoint it accepted. A board cannot
// answer that proof for a log it rewrote, so a board that shows the monitor
// a second history is caught at the first poll after it starts, and two
// signed checkpoints of one size with different roots, or one signed
// checkpoint that does not extend another, are evidence a third party can
// check with the board key alone (the alert carries both notes).
//
// The last accepted checkpoint is kept on disk (Config.State), so a monitor
// restarted after a day continues the same chain: a board that rolled back
// or forked while the monitor was down is caught at the first poll.
// Checkpoints other parties hold (a voter's receipt, another monitor's
// state: Config.Held) are compared once, with the same logic as
// voter.CompareCheckpoints.
//
// When the election has witnesses (package witness), the board's cosigned
// checkpoint must also carry a quorum of their cosignatures (C2SP
// tlog-cosignature): with Config.Witnesses and Config.Quorum set, each
// check fetches it from a board that is a [CosignedBoard], proves it of the
// accepted history and counts its cosigners (NoQuorum below the quorum).
//
// Each alert is one log line at Error level (message "monitor alert",
// attribute kind) and one increment of evote_monitor_alerts_total{kind}. A
// fork, a rollback or a bad signature is alerted once per offending
// checkpoint; a stall and an unreachable board once per episode.
package monitor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/durable"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/store"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Board is what the monitor asks of a board: *boardapi.Client.
type Board interface {
	Checkpoint(ctx context.Context, size uint64) ([]byte, error)
	Consistency(ctx context.Context, old, new uint64) (tlog.TreeProof, error)
	Inclusion(ctx context.Context, index, size uint64) (tlog.RecordProof, error)
	Entry(ctx context.Context, index uint64) ([]byte, error)
	Election(ctx context.Context) (*boardapi.ElectionInfo, error)
}

var _ Board = (*boardapi.Client)(nil)

// Kind names a check's result and an alert's cause; it is the label value
// of the metrics.
type Kind string

// The kinds. Ok and Unreachable are check results only (an unreachable
// board is also alerted, once per episode); Stall is an alert only.
const (
	Ok            Kind = "ok"
	Fork          Kind = "fork"           // two checkpoints that are not of one history
	Rollback      Kind = "rollback"       // a checkpoint smaller than one accepted before
	BadSignature  Kind = "bad_signature"  // a checkpoint not signed, or not canonically, by the board key
	Unreachable   Kind = "unreachable"    // no answer, or a server error
	WrongElection Kind = "wrong_election" // entry 0 is not the pinned manifest
	NoQuorum      Kind = "no_quorum"      // fewer witness cosignatures than the quorum
	Stall         Kind = "stall"          // no growth for Config.Stall while open
)

var checkKinds = []Kind{Ok, Fork, Rollback, BadSignature, Unreachable, WrongElection, NoQuorum}
var alertKinds = []Kind{Fork, Rollback, BadSignature, Unreachable, WrongElection, NoQuorum, Stall}

// The sentinels Check and Compare wrap, one per alert kind.
var (
	ErrFork          = errors.New("monitor: the board signed checkpoints of two different histories (a fork)")
	ErrRollback      = errors.New("monitor: the board's log shrank (a rollback)")
	ErrBadSignature  = errors.New("monitor: the board's checkpoint does not verify with the board key")
	ErrUnreachable   = errors.New("monitor: the board cannot be reached")
	ErrWrongElection = errors.New("monitor: the board's entry 0 is not the pinned manifest")
	ErrNoQuorum      = errors.New("monitor: the checkpoint lacks a quorum of witness cosignatures")
	ErrStall         = errors.New("monitor: the board's log stopped growing while the election is open")
)

var sentinels = map[Kind]error{Fork: ErrFork, Rollback: ErrRollback, BadSignature: ErrBadSignature,
	Unreachable: ErrUnreachable, WrongElection: ErrWrongElection, NoQuorum: ErrNoQuorum, Stall: ErrStall}

// KindOf is the kind of an error of Check or Compare: Ok for nil, "" for
// an error that is none of the sentinels (such as a state file that cannot
// be written).
func KindOf(err error) Kind {
	if err == nil {
		return Ok
	}
	for _, k := range alertKinds {
		if errors.Is(err, sentinels[k]) {
			return k
		}
	}
	return ""
}

// Held is a checkpoint another party holds, to compare with the board's.
type Held struct {
	Source string // where it came from, for the alert: a file name
	Signed []byte // the signed note
}

// Config configures a Monitor.
type Config struct {
	Board    Board
	BoardKey note.Verifier
	// ManifestHash, if not zero, pins the election: entry 0 of the log,
	// proved included in the first checkpoint accepted, must be the
	// manifest of this hash.
	ManifestHash [32]byte
	// Witnesses and Quorum: the board's cosigned checkpoint with fewer
	// than Quorum valid cosignatures of Witnesses is alerted (NoQuorum).
	// Quorum 0 checks no cosignature.
	Witnesses []note.Verifier
	Quorum    int
	// Stall is how long the log may stay the same size while the election
	// is open before a stall alert (0: never).
	Stall time.Duration
	// State is the file holding the last accepted checkpoint ("": none).
	State string
	// Held are compared with the board's checkpoint after the first
	// successful check.
	Held []Held
	// Logger receives the alerts (Error) and progress (Info); nil discards.
	Logger *slog.Logger
	// Metrics receives the evote_monitor_ metrics; nil makes a new registry.
	Metrics *service.Registry
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Monitor follows one board. It is safe for concurrent use.
type Monitor struct {
	cfg Config
	log *slog.Logger
	reg *service.Registry

	mu           sync.Mutex
	last         *store.Checkpoint // the newest accepted checkpoint
	grewAt       time.Time         // when last was first seen
	lastSuccess  time.Time
	manifestOK   bool
	held         []Held // not yet compared
	stalled      bool   // a stall alert was raised since the last growth
	unreachable  bool   // an unreachable alert was raised since the last answer
	alerted      map[[32]byte]bool
	checks, alrt *service.CounterVec
}

// New makes a monitor, reading the last accepted checkpoint from
// cfg.State if the file exists.
func New(cfg Config) (*Monitor, error) {
	if cfg.Board == nil || cfg.BoardKey == nil {
		return nil, errors.New("monitor: a board and its verifier key are needed")
	}
	if cfg.Quorum > len(cfg.Witnesses) {
		return nil, fmt.Errorf("monitor: a quorum of %d out of %d witness keys can never be met", cfg.Quorum, len(cfg.Witnesses))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Monitor{cfg: cfg, log: cfg.Logger, reg: cfg.Metrics, held: cfg.Held, alerted: map[[32]byte]bool{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.reg == nil {
		m.reg = new(service.Registry)
	}
	if cfg.State != "" {
		if err := m.loadState(); err != nil {
			return nil, err
		}
	}
	m.register()
	return m, nil
}

func (m *Monitor) register() {
	m.reg.GaugeFunc("evote_monitor_checkpoint_size", "Size of the newest checkpoint the monitor accepted.", func() (float64, bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.last == nil {
			return 0, false
		}
		return float64(m.last.Size), true
	})
	m.reg.GaugeFunc("evote_monitor_checkpoint_age_seconds", "Seconds since the accepted checkpoint's size was first seen: how long the log has not grown.", func() (float64, bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.last == nil {
			return 0, false
		}
		return m.cfg.Now().Sub(m.grewAt).Seconds(), true
	})
	m.checks = m.reg.Counter("evote_monitor_checks_total", "Checks of the board's newest checkpoint, by result.", "result")
	m.alrt = m.reg.Counter("evote_monitor_alerts_total", "Alerts raised, by kind.", "kind")
	m.reg.GaugeFunc("evote_monitor_last_success_timestamp_seconds", "Unix time of the last check that found the board consistent.", func() (float64, bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.lastSuccess.IsZero() {
			return 0, false
		}
		return float64(m.lastSuccess.UnixNano()) / 1e9, true
	})
	for _, k := range checkKinds {
		m.checks.With(string(k))
	}
	for _, k := range alertKinds {
		m.alrt.With(string(k))
	}
}

// Metrics is the registry the monitor's metrics are in.
func (m *Monitor) Metrics() *service.Registry { return m.reg }

// Last is the newest accepted checkpoint, nil before the first.
func (m *Monitor) Last() *store.Checkpoint {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Handler serves GET /metrics (Prometheus text format) and GET /healthz
// (200 while the monitor runs; the board's health is in the metrics).
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+service.PathMetrics, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", service.ContentType)
		w.Header().Set("Cache-Control", "no-store")
		m.reg.WriteText(w)
	})
	mux.HandleFunc("GET "+service.PathHealth, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	return mux
}

// Run checks every interval until ctx is done, and returns nil then. The
// alerts are logged and counted; Run itself never stops on one.
func (m *Monitor) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("monitor: the interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := m.Check(ctx); err != nil && KindOf(err) == "" && ctx.Err() == nil {
			m.log.Error("monitor check failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check polls the board once: it fetches the newest checkpoint, verifies
// it, proves it consistent with the last accepted one and, if it is newer,
// accepts it (and writes the state file). It then compares the held
// checkpoints not yet compared, and looks for a stall. The error wraps the
// sentinel of what was found (see KindOf); the accepted checkpoint does not
// change on any error.
func (m *Monitor) Check(ctx context.Context) error {
	err := m.check(ctx)
	if err == nil {
		err = m.compareHeld(ctx)
	}
	if err == nil {
		err = m.checkStall(ctx)
	}
	k := KindOf(err)
	if k == Stall {
		k = Ok
	}
	if k != "" {
		m.checks.With(string(k)).Inc()
	}
	m.mu.Lock()
	if k == Ok {
		m.lastSuccess = m.cfg.Now()
	}
	if k != Unreachable {
		m.unreachable = false
	}
	m.mu.Unlock()
	return err
}

func (m *Monitor) check(ctx context.Context) error {
	signed, err := m.cfg.Board.Checkpoint(ctx, 0)
	if err != nil {
		return m.unreachableAlert(err)
	}
	cp, _, err := m.open(signed)
	if err != nil {
		return m.alert(BadSignature, signed, fmt.Errorf("%w: %v", ErrBadSignature, err), "checkpoint", string(signed))
	}
	m.mu.Lock()
	last := m.last
	m.mu.Unlock()
	if last == nil {
		if err := m.checkManifest(ctx, cp); err != nil {
			return err
		}
		if err := m.accept(cp); err != nil {
			return err
		}
		m.log.Info("monitor: first checkpoint accepted", "origin", cp.Origin, "size", cp.Size, "root", hex.EncodeToString(cp.Hash[:]))
		return m.checkCosigned(ctx)
	}
	if err := m.extends(ctx, last, cp, "board"); err != nil {
		return err
	}
	if cp.Size > last.Size {
		if err := m.accept(cp); err != nil {
			return err
		}
		m.log.Info("monitor: checkpoint accepted", "size", cp.Size, "grew_by", cp.Size-last.Size)
	}
	return m.checkCosigned(ctx)
}

// extends checks that cp, from source, and the accepted checkpoint last are
// of one history, cp not smaller.
func (m *Monitor) extends(ctx context.Context, last, cp *store.Checkpoint, source string) error {
	evidence := []any{"accepted", string(last.Signed), "offending", string(cp.Signed), "source", source}
	switch {
	case cp.Size < last.Size:
		return m.alert(Rollback, cp.Signed, fmt.Errorf("%w: %s's checkpoint has size %d, the monitor accepted size %d before", ErrRollback, source, cp.Size, last.Size), evidence...)
	case cp.Size == last.Size:
		if cp.Hash != last.Hash {
			return m.alert(Fork, cp.Signed, fmt.Errorf("%w: two checkpoints of size %d with root hashes %x and %x", ErrFork, cp.Size, last.Hash[:8], cp.Hash[:8]), evidence...)
		}
		return nil
	}
	proof, err := m.cfg.Board.Consistency(ctx, last.Size, cp.Size)
	if err != nil {
		if transient(err) {
			return m.unreachableAlert(err)
		}
		return m.alert(Fork, cp.Signed, fmt.Errorf("%w: the board gives no proof that its checkpoint of size %d extends the one of size %d: %v", ErrFork, cp.Size, last.Size, err), evidence...)
	}
	if err := store.VerifyConsistency(last, cp, proof); err != nil {
		return m.alert(Fork, cp.Signed, fmt.Errorf("%w: %v", ErrFork, err), evidence...)
	}
	return nil
}

// transient reports whether err is one a retry may change: no answer, a
// rate limit, a server error. A 4xx refusal of a proof is not.
func transient(err error) bool {
	var be *boardapi.Error
	if errors.As(err, &be) {
		return be.StatusCode == http.StatusTooManyRequests || be.StatusCode >= 500
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// accept makes cp the accepted checkpoint and writes the state file.
func (m *Monitor) accept(cp *store.Checkpoint) error {
	m.mu.Lock()
	prev, prevAt := m.last, m.grewAt
	m.last, m.grewAt, m.stalled = cp, m.cfg.Now(), false
	m.mu.Unlock()
	if err := m.saveState(); err != nil {
		m.mu.Lock()
		m.last, m.grewAt = prev, prevAt
		m.mu.Unlock()
		return err
	}
	return nil
}

// checkManifest proves entry 0 of the tree cp signs is the pinned manifest.
func (m *Monitor) checkManifest(ctx context.Context, cp *store.Checkpoint) error {
	m.mu.Lock()
	ok := m.manifestOK
	m.mu.Unlock()
	if ok || m.cfg.ManifestHash == ([32]byte{}) {
		return nil
	}
	leaf, err := m.cfg.Board.Entry(ctx, 0)
	if err != nil {
		return m.unreachableAlert(err)
	}
	var proof tlog.RecordProof
	if cp.Size > 1 {
		if proof, err = m.cfg.Board.Inclusion(ctx, 0, cp.Size); err != nil {
			return m.unreachableAlert(err)
		}
	}
	if err := store.VerifyInclusion(cp, 0, leaf, proof); err != nil {
		return m.alert(WrongElection, cp.Signed, fmt.Errorf("%w: the board's entry 0 is not in its checkpoint of size %d: %v", ErrWrongElection, cp.Size, err))
	}
	if len(leaf) == 0 || store.EntryType(leaf[0]) != store.Manifest {
		return m.alert(WrongElection, cp.Signed, fmt.Errorf("%w: the board's entry 0 is not a manifest", ErrWrongElection))
	}
	man, err := ballot.ParseManifest(leaf[1:])
	if err != nil {
		return m.alert(WrongElection, cp.Signed, fmt.Errorf("%w: %v", ErrWrongElection, err))
	}
	if h := man.Hash(); h != m.cfg.ManifestHash {
		return m.alert(WrongElection, cp.Signed, fmt.Errorf("%w: the board's manifest has hash %x, the pinned one %x: check --board and --manifest", ErrWrongElection, h[:8], m.cfg.ManifestHash[:8]))
	}
	m.mu.Lock()
	m.manifestOK = true
	m.mu.Unlock()
	return nil
}

// Compare checks a checkpoint another party holds against the accepted
// one (Check must have accepted one): of one size, the same root; of
// different sizes, the board must prove the smaller a prefix of the
// larger. A held checkpoint newer than the accepted one, and consistent
// with it, is accepted. A note not signed by the board key is an error
// wrapping ErrBadSignature but no alert: it is no evidence against the
// board.
func (m *Monitor) Compare(ctx context.Context, h Held) error {
	other, _, err := m.open(h.Signed)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadSignature, h.Source, err)
	}
	last := m.Last()
	if last == nil {
		return errors.New("monitor: no checkpoint of the board accepted yet to compare with")
	}
	if other.Size < last.Size {
		// The board must prove the held one a prefix of the newest.
		evidence := []any{"accepted", string(last.Signed), "offending", string(other.Signed), "source", h.Source}
		proof, err := m.cfg.Board.Consistency(ctx, other.Size, last.Size)
		if err != nil {
			if transient(err) {
				return m.unreachableAlert(err)
			}
			return m.alert(Fork, other.Signed, fmt.Errorf("%w: the board gives no proof that %s's checkpoint of size %d is a prefix of its checkpoint of size %d: %v", ErrFork, h.Source, other.Size, last.Size, err), evidence...)
		}
		if err := store.VerifyConsistency(other, last, proof); err != nil {
			return m.alert(Fork, other.Signed, fmt.Errorf("%w: %s: %v", ErrFork, h.Source, err), evidence...)
		}
		return nil
	}
	if err := m.extends(ctx, last, other, h.Source); err != nil {
		return err
	}
	if other.Size > last.Size {
		return m.accept(other)
	}
	return nil
}

func (m *Monitor) compareHeld(ctx context.Context) error {
	m.mu.Lock()
	held := m.held
	m.mu.Unlock()
	for len(held) > 0 {
		if err := m.Compare(ctx, held[0]); err != nil && KindOf(err) == Unreachable {
			return err // compare it at the next check
		} else if err != nil && KindOf(err) != BadSignature {
			m.dropHeld()
			return err
		} else if err != nil {
			m.log.Warn("monitor: a held checkpoint is not the board's; ignored", "source", held[0].Source, "err", err)
		}
		m.dropHeld()
		m.mu.Lock()
		held = m.held
		m.mu.Unlock()
	}
	return nil
}

func (m *Monitor) dropHeld() {
	m.mu.Lock()
	m.held = m.held[1:]
	m.mu.Unlock()
}

// checkStall alerts when the log has not grown for cfg.Stall and the board
// says the election is open. A board that says it is closed must prove it:
// the close entry it names is in the accepted checkpoint.
func (m *Monitor) checkStall(ctx context.Context) error {
	m.mu.Lock()
	last, since, alerted := m.last, m.cfg.Now().Sub(m.grewAt), m.stalled
	m.mu.Unlock()
	if m.cfg.Stall <= 0 || last == nil || since < m.cfg.Stall {
		return nil
	}
	info, err := m.cfg.Board.Election(ctx)
	if err != nil {
		return m.unreachableAlert(err)
	}
	switch info.Phase {
	case "ceremony":
		return nil
	case "closed":
		err := m.provedClosed(ctx, last, info.CloseIndex)
		if err == nil {
			return nil
		}
		if transient(err) {
			return m.unreachableAlert(err)
		}
		m.log.Warn("monitor: the board says the election is closed but does not prove it", "err", err)
	}
	err = fmt.Errorf("%w: size %d for %s", ErrStall, last.Size, since.Round(time.Second))
	if alerted {
		return err
	}
	m.mu.Lock()
	m.stalled = true
	m.mu.Unlock()
	m.alrt.With(string(Stall)).Inc()
	m.log.Error("monitor alert", "kind", string(Stall), "err", err.Error(), "size", last.Size, "since", since.String())
	return err
}

// provedClosed checks that entry i is a close entry in the tree cp signs.
func (m *Monitor) provedClosed(ctx context.Context, cp *store.Checkpoint, i uint64) error {
	if i == 0 || i >= cp.Size {
		return fmt.Errorf("monitor: the board names entry %d as the close entry of a log of %d entries", i, cp.Size)
	}
	leaf, err := m.cfg.Board.Entry(ctx, i)
	if err != nil {
		return err
	}
	proof, err := m.cfg.Board.Inclusion(ctx, i, cp.Size)
	if err != nil {
		return err
	}
	if err := store.VerifyInclusion(cp, i, leaf, proof); err != nil {
		return err
	}
	if store.EntryType(leaf[0]) != store.Close {
		return fmt.Errorf("monitor: the board's entry %d is not a close entry", i)
	}
	return nil
}

// alert logs and counts an alert of kind, once per offending note, and
// returns err.
func (m *Monitor) alert(kind Kind, offending []byte, err error, attrs ...any) error {
	key := sha256.Sum256(append([]byte(kind+"\n"), offending...))
	m.mu.Lock()
	seen := m.alerted[key]
	if !seen {
		if len(m.alerted) > 10000 {
			clear(m.alerted)
		}
		m.alerted[key] = true
	}
	m.mu.Unlock()
	if !seen {
		m.alrt.With(string(kind)).Inc()
		m.log.Error("monitor alert", append([]any{"kind", string(kind), "err", err.Error()}, attrs...)...)
	}
	return err
}

func (m *Monitor) unreachableAlert(cause error) error {
	err := fmt.Errorf("%w: %v", ErrUnreachable, cause)
	m.mu.Lock()
	seen := m.unreachable
	m.unreachable = true
	m.mu.Unlock()
	if !seen {
		m.alrt.With(string(Unreachable)).Inc()
		m.log.Error("monitor alert", "kind", string(Unreachable), "err", err.Error())
	}
	return err
}

// open verifies a checkpoint note from the board (or another party) under
// the board key, and returns the names of the configured witnesses whose
// cosignatures on it verify: the one place a checkpoint is read. Witness
// cosignature lines are allowed (C2SP tlog-cosignature); the checkpoint
// returned holds the board's signature only.
func (m *Monitor) open(signed []byte) (*store.Checkpoint, []string, error) {
	c, err := store.OpenCosigned(signed, m.cfg.BoardKey, m.cfg.Witnesses, 0)
	if err != nil {
		return nil, nil, err
	}
	return c.Checkpoint, c.Cosigners, nil
}

// CosignedBoard is a board that hands out checkpoints cosigned by its
// witnesses (GET /v1/checkpoint/cosigned); a Board that is one is asked
// for one at each check when Config.Quorum is set.
type CosignedBoard interface {
	Cosigned(ctx context.Context, minSize uint64) ([]byte, error)
}

// checkCosigned, when a quorum is configured, fetches the board's newest
// cosigned checkpoint, counts its cosigners against the quorum, and checks
// it is of the accepted history.
func (m *Monitor) checkCosigned(ctx context.Context) error {
	cb, ok := m.cfg.Board.(CosignedBoard)
	if m.cfg.Quorum == 0 {
		return nil
	}
	if !ok {
		return fmt.Errorf("monitor: a witness quorum is set but this board client cannot fetch cosigned checkpoints")
	}
	// A checkpoint the witnesses cosigned that covers the board's newest
	// accepted one: the board waits a round for it, and answers 503 when
	// no quorum cosigns (witnesses down, or refusing a fork).
	var want uint64 = 1
	if m.last != nil {
		want = m.last.Size
	}
	signed, err := cb.Cosigned(ctx, want)
	if err != nil {
		if errors.Is(err, boardapi.ErrOverloaded) {
			return m.alert(NoQuorum, []byte(err.Error()), fmt.Errorf("%w: no checkpoint of %d entries or more is cosigned by a quorum of the witnesses: they are down, slow or refusing the board's log: %v", ErrNoQuorum, want, err))
		}
		if transient(err) {
			return m.unreachableAlert(err)
		}
		return m.alert(NoQuorum, []byte(err.Error()), fmt.Errorf("%w: the board has no cosigned checkpoint: %v", ErrNoQuorum, err))
	}
	cp, cosigners, err := m.open(signed)
	if err != nil {
		return m.alert(BadSignature, signed, fmt.Errorf("%w: the cosigned checkpoint: %v", ErrBadSignature, err), "checkpoint", string(signed))
	}
	if err := m.Compare(ctx, Held{Source: "the board's cosigned checkpoint", Signed: signed}); err != nil {
		return err
	}
	if len(cosigners) < m.cfg.Quorum {
		return m.alert(NoQuorum, signed, fmt.Errorf("%w: %d of the %d witnesses cosigned checkpoint %d, the quorum is %d", ErrNoQuorum, len(cosigners), len(m.cfg.Witnesses), cp.Size, m.cfg.Quorum), "checkpoint", string(signed))
	}
	return nil
}

// state is the state file: JSON, the accepted checkpoint as the board
// signed it, when it was first seen, and the manifest hash proved for it.
type state struct {
	Checkpoint   string `json:"checkpoint"`
	GrewAt       int64  `json:"grew_at"`                 // Unix seconds
	ManifestHash string `json:"manifest_hash,omitempty"` // hex, once proved
}

func (m *Monitor) loadState() error {
	b, err := os.ReadFile(m.cfg.State)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("monitor: reading the state file: %w", err)
	}
	var s state
	if err := strictjson.Decode(b, &s); err != nil {
		return fmt.Errorf("monitor: the state file %s is damaged (%v): restore it from a backup; removing it loses the chain", m.cfg.State, err)
	}
	cp, _, err := m.open([]byte(s.Checkpoint))
	if err != nil {
		return fmt.Errorf("monitor: the state file %s holds a checkpoint of another board or key: %v", m.cfg.State, err)
	}
	if s.ManifestHash != "" {
		if s.ManifestHash != hex.EncodeToString(m.cfg.ManifestHash[:]) && m.cfg.ManifestHash != ([32]byte{}) {
			return fmt.Errorf("monitor: the state file %s is of the election with manifest %s, not the pinned one", m.cfg.State, s.ManifestHash)
		}
		m.manifestOK = m.cfg.ManifestHash != ([32]byte{})
	}
	m.last, m.grewAt = cp, time.Unix(s.GrewAt, 0)
	return nil
}

func (m *Monitor) saveState() error {
	if m.cfg.State == "" {
		return nil
	}
	m.mu.Lock()
	s := state{Checkpoint: string(m.last.Signed), GrewAt: m.grewAt.Unix()}
	if m.manifestOK {
		s.ManifestHash = hex.EncodeToString(m.cfg.ManifestHash[:])
	}
	m.mu.Unlock()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := durable.WriteFile(m.cfg.State, append(b, '\n'), true); err != nil {
		return fmt.Errorf("monitor: writing the state file: %w", err)
	}
	return nil
}

// ReadHeld reads a checkpoint another party holds from a file: a voter's
// receipt or a monitor's state file (JSON with a "checkpoint" field), or
// the signed note itself.
func ReadHeld(path string) (Held, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Held{}, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		var v struct {
			Checkpoint string `json:"checkpoint"`
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Checkpoint == "" {
			return Held{}, fmt.Errorf("monitor: %s is JSON without a \"checkpoint\" field: give a receipt, a monitor's state file or a signed checkpoint", path)
		}
		return Held{Source: path, Signed: []byte(v.Checkpoint)}, nil
	}
	if !strings.Contains(string(b), "\n— ") {
		return Held{}, fmt.Errorf("monitor: %s is not a signed checkpoint, a receipt or a monitor's state file", path)
	}
	return Held{Source: path, Signed: b}, nil
}
