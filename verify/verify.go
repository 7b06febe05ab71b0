package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/crypto/ceremony"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Names of the checks, as they appear in a [Check].
const (
	CheckFormat     = "format"     // the export file's framing and leaf rules
	CheckCheckpoint = "checkpoint" // the signed checkpoint and the tree root
	CheckWitnesses  = "witnesses"  // the checkpoint's cosignatures reach the manifest's witness quorum
	CheckManifest   = "manifest"
	CheckCeremony   = "ceremony"
	CheckOpen       = "open"
	CheckBallot     = "ballot" // one ballot entry, or a range of them
	CheckTokens     = "tokens" // no token counted twice
	CheckClose      = "close"  // the close entry and what follows it
	CheckAggregate  = "aggregate"
	CheckPartial    = "partial"
	CheckResult     = "result"
	CheckIssuance   = "issuance" // the issuer's signed counts: counted ≤ issued ≤ eligible (SPEC.md §10 step 10)
	CheckComplete   = "complete" // the record has its open, close and result entries (SPEC.md §8)
)

// Check is one check performed, on one entry or a range of entries.
type Check struct {
	Name   string // one of the Check* constants
	First  int64  // first entry index the check is about, or -1 for the whole record
	Last   int64  // last entry index, or -1
	OK     bool
	Detail string // what was checked, or what is wrong
}

// String formats the check as "entry 57 (ballot): detail", "entries 1-6
// (ceremony): detail" or "checkpoint: detail".
func (c Check) String() string {
	switch {
	case c.First < 0:
		return c.Name + ": " + c.Detail
	case c.First == c.Last:
		return fmt.Sprintf("entry %d (%s): %s", c.First, c.Name, c.Detail)
	default:
		return fmt.Sprintf("entries %d-%d (%s): %s", c.First, c.Last, c.Name, c.Detail)
	}
}

// Options tune Record. The zero value is ready to use.
type Options struct {
	// Workers is how many goroutines verify ballots; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// ChunkSize is how many ballots go into one batch verification; 0
	// means 512.
	ChunkSize int
	// AllowIncomplete accepts a record that stops before its result (an
	// election still open, or not yet tallied) and verifies what it holds.
	// By default a record must be complete (SPEC.md §8): open, closed and
	// with its result entry.
	AllowIncomplete bool
	// Size is the file's length in bytes, for Progress. 0 means unknown;
	// Record then asks r for it if r has a Stat or Size method.
	Size int64
	// Progress, if set, is called now and then with the number of bytes
	// read and Size (0 if unknown), and once more at the end.
	Progress func(done, total uint64)
	// OnCheck, if set, is called with each check as it completes (in
	// completion order, not entry order; calls are serialised).
	OnCheck func(Check)
	// MaxFailures caps how many failing checks the Report keeps (0 means
	// 1000); the rest are counted in Report.Omitted.
	MaxFailures int
	// OnEntry, if set, is called with each entry as the file streams, in
	// entry order, on the reading goroutine, before the next entry is
	// read: i is the entry's index, leaf its bytes (the type byte, then
	// the body; not to be modified, and safe to keep), and root returns
	// the RFC 6962 root hash of entries 0 to i, the hash a checkpoint of
	// size i+1 signs (computed only when called, in O(log i), and only
	// valid during the call). It lets a caller that needs more than the
	// Report (a trustee checking the record extends the checkpoints it
	// saw) read the record in this one pass. What it is shown is
	// unchecked until Record returns with no error.
	OnEntry func(i uint64, leaf []byte, root func() (tlog.Hash, error))
}

// Report is what Record found.
type Report struct {
	// OK is true when every check held.
	OK bool
	// Checks lists each check performed, in entry order (a check about a
	// range of entries at its last one); checks about the whole record come
	// last.
	Checks []Check
	// Failures counts the failing checks, Omitted those not kept in Checks.
	Failures, Omitted int

	Entries      uint64            // entries read
	Checkpoint   *store.Checkpoint // the verified checkpoint, or nil
	Cosigners    []string          // the witnesses whose cosignatures on it verify, when the manifest names witnesses
	Manifest     *ballot.Manifest  // entry 0, if it parsed
	ManifestHash [32]byte
	ElectionKey  []byte // from the ceremony as the verifier decided it
	Ballots      uint64 // ballot entries
	Counted      uint64 // ballots counted in the aggregate
	Aggregate    *tally.Aggregate
	// Result is the result the verifier computed from the partial
	// decryptions; Posted is the result entry as the board posted it.
	Result, Posted *tally.Result
	// Issuance is the issuer's statement of its counts, when the record
	// holds a valid one; nil when the manifest names no issuance key, the
	// statement is not posted yet, or it failed its check.
	Issuance *Issuance
}

// Error is the error Record returns when a check fails.
type Error struct {
	Check    Check // the first failing check in the Report's order
	Failures int   // how many checks failed in all
	// RootMismatch is set when the entries also do not hash to the signed
	// checkpoint's root, which is not the first failure.
	RootMismatch bool
}

func (e *Error) Error() string {
	s := e.Check.String()
	if e.RootMismatch {
		s += "; the entries also do not hash to the signed checkpoint's root, so the record was altered after the board signed it"
	}
	if e.Failures > 1 {
		s += fmt.Sprintf(" (and %d more failed checks)", e.Failures-1)
	}
	return s
}

// BoardKey parses the board's checkpoint key in its text form, a note
// verifier key such as "evote.example/board+1a2b3c4d+AaBb...". Its name is
// the origin line of the record's checkpoint.
func BoardKey(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("verify: board key %q is not a note verifier key (name+hash+base64 key): %w", vkey, err)
	}
	return v, nil
}

// Record verifies the export file read from r, whose checkpoint must be
// signed by boardKey. It reads r once. The error is nil exactly when
// Report.OK; a failed check gives an *Error, a failure to read r another
// error. The Report is never nil.
func Record(r io.Reader, boardKey note.Verifier, opts Options) (*Report, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 512
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 1000
	}
	if opts.Size <= 0 {
		opts.Size = sizeOf(r)
	}
	v := &verifier{opts: opts, rep: &Report{}, openAt: -1, closeAt: -1, resultAt: -1, issuanceAt: -1,
		dealEntry: map[int]uint64{}, shares: map[int]share{}}
	cr := &countingReader{r: r, opts: &opts}
	sr := store.NewReader(cr, boardKey)
	var readErr error
	for {
		leaf, err := sr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		v.entry(sr.Count()-1, leaf)
		if opts.OnEntry != nil {
			opts.OnEntry(sr.Count()-1, leaf, sr.Root)
		}
	}
	v.rep.Entries = sr.Count()
	v.finishBallots()
	cr.report(true)

	var rerr *store.RecordError
	rootMismatch := false
	switch {
	case readErr == nil:
		cp := sr.Checkpoint()
		v.rep.Checkpoint = cp
		v.complete()
		v.add(Check{Name: CheckCheckpoint, First: -1, Last: -1, OK: true, Detail: fmt.Sprintf(
			"signed by %s (key hash %08x); the %d entries hash to its root %s", boardKey.Name(), boardKey.KeyHash(), cp.Size, cp.Hash)})
		v.witnesses(cp, boardKey)
	case errors.As(readErr, &rerr):
		msg := fmt.Sprintf("%v (at byte %d)", rerr.Err, rerr.Offset)
		switch {
		case rerr.Entry >= 0:
			v.add(Check{Name: CheckFormat, First: rerr.Entry, Last: rerr.Entry, Detail: msg})
		case rerr.Offset <= int64(len(store.Magic)) && sr.Count() == 0:
			v.add(Check{Name: CheckFormat, First: -1, Last: -1, Detail: msg})
		default:
			rootMismatch = errors.Is(rerr, store.ErrRootMismatch)
			if rootMismatch && v.failures() == 0 {
				msg += "; every entry passes its own checks, so the altered bytes are ones no check covers alone" +
					" (such as the manifest's text, a ceremony message's encryption keys or sealed shares, the close time)"
			}
			v.add(Check{Name: CheckCheckpoint, First: -1, Last: -1, Detail: msg})
		}
	default:
		return v.report(), fmt.Errorf("verify: reading the record: %w", readErr)
	}
	rep := v.report()
	if rep.OK {
		return rep, nil
	}
	var first *Check
	for i := range rep.Checks {
		if !rep.Checks[i].OK {
			first = &rep.Checks[i]
			break
		}
	}
	e := &Error{Check: *first, Failures: rep.Failures}
	e.RootMismatch = rootMismatch && first.Name != CheckCheckpoint
	return rep, e
}

// witnesses checks, when the manifest names witnesses, that the record's
// checkpoint carries a quorum of their cosignatures (SPEC.md §10.5): the
// record is then the history the witnesses saw, not one the board made for
// this verifier.
func (v *verifier) witnesses(cp *store.Checkpoint, boardKey note.Verifier) {
	if v.m == nil || len(v.m.Witnesses) == 0 {
		return
	}
	signed := append(bytes.Clone(cp.Signed), cp.Cosignatures...)
	cs, err := store.OpenCosigned(signed, boardKey, v.m.WitnessVerifiers(), v.m.WitnessQuorum)
	if err != nil {
		v.add(Check{Name: CheckWitnesses, First: -1, Last: -1, Detail: err.Error()})
		return
	}
	v.rep.Cosigners = cs.Cosigners
	v.add(Check{Name: CheckWitnesses, First: -1, Last: -1, OK: true, Detail: fmt.Sprintf(
		"cosigned by %d of the manifest's %d witnesses (%s), the quorum %d", len(cs.Cosigners), len(v.m.Witnesses), strings.Join(cs.Cosigners, ", "), v.m.WitnessQuorum)})
}

// sizeOf asks r for its length, if it can tell.
func sizeOf(r io.Reader) int64 {
	switch x := r.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := x.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	case interface{ Size() int64 }:
		return x.Size()
	}
	return 0
}

type countingReader struct {
	r          io.Reader
	opts       *Options
	n, shown   uint64
	lastReport time.Time
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	if c.opts.Progress != nil && c.n-c.shown >= 256<<10 {
		c.report(false)
	}
	return n, err
}

func (c *countingReader) report(final bool) {
	if c.opts.Progress == nil || (!final && time.Since(c.lastReport) < 50*time.Millisecond) {
		return
	}
	c.shown, c.lastReport = c.n, time.Now()
	c.opts.Progress(c.n, uint64(max(c.opts.Size, 0)))
}

type share struct {
	entry uint64
	s     *tally.Partial
}

// verifier holds the state of one pass over a record. Everything but add
// runs on the reading goroutine.
type verifier struct {
	opts Options

	mu  sync.Mutex // guards rep.Checks, rep.Failures, rep.Omitted and OnCheck
	rep *Report

	m         *ballot.Manifest
	cer       *record.Ceremony
	dealEntry map[int]uint64 // dealer → entry of its (first) deal
	cerFirst  int64
	cerLast   int64
	openAt    int64
	closeAt   int64
	closeTime time.Time // the close entry's time, zero if it is not valid
	resultAt  int64
	// issuanceAt is the issuer's statement's entry, or -1.
	issuanceAt int64
	open       *record.Open     // the ceremony's outcome (or the posted one if none)
	el         *ballot.Election // nil until a usable open entry

	pool         *pool
	ballotsFirst int64
	ballotsLast  int64
	ballotsDone  bool

	agg    *tally.Aggregate
	shares map[int]share
	order  []int // the trustees of the valid partial entries, in record order
}

func (v *verifier) add(c Check) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !c.OK {
		v.rep.Failures++
		if v.rep.Failures > v.opts.MaxFailures {
			v.rep.Omitted++
			return
		}
	}
	v.rep.Checks = append(v.rep.Checks, c)
	if v.opts.OnCheck != nil {
		v.opts.OnCheck(c)
	}
}

func (v *verifier) failures() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.rep.Failures
}

func (v *verifier) ok(name string, i uint64, format string, args ...any) {
	v.add(Check{Name: name, First: int64(i), Last: int64(i), OK: true, Detail: fmt.Sprintf(format, args...)})
}

func (v *verifier) fail(name string, i uint64, format string, args ...any) {
	v.add(Check{Name: name, First: int64(i), Last: int64(i), Detail: fmt.Sprintf(format, args...)})
}

func (v *verifier) report() *Report {
	v.mu.Lock()
	defer v.mu.Unlock()
	// A check is placed where it concludes: at its last entry. Checks about
	// the whole record (-1) come last.
	slices.SortStableFunc(v.rep.Checks, func(a, b Check) int {
		ka, kb := uint64(a.Last), uint64(b.Last)
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	v.rep.OK = v.rep.Failures == 0
	return v.rep
}

// detail turns a package's error into a message without its package prefix.
func detail(err error) string {
	s := err.Error()
	for _, p := range []string{"ballot: ", "record: ", "tally: ", "store: ", "dkg: ", "ceremony: ", "issuance: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// entry checks leaf i as it streams.
func (v *verifier) entry(i uint64, leaf []byte) {
	typ, body := store.EntryType(leaf[0]), leaf[1:]
	if i == 0 {
		m, err := ballot.ParseManifest(body)
		if err != nil {
			v.fail(CheckManifest, 0, "the manifest does not parse: %s; nothing after it can be checked", detail(err))
			return
		}
		v.m, v.rep.Manifest, v.rep.ManifestHash = m, m, m.Hash()
		v.cer = record.NewCeremony(m)
		h := m.Hash()
		v.ok(CheckManifest, 0, "election %s %q, %d questions, %d-of-%d trustees, revoting %q; manifest hash %x",
			m.ElectionID, m.Title, len(m.Questions), m.Trustees.T, m.Trustees.N, m.Revoting, h)
		return
	}
	if v.m == nil {
		return // reported at entry 0
	}
	// The order of entries is record.Phase's, the board's too (SPEC.md §8).
	if err := record.PhaseOf(v.openAt >= 0, v.closeAt >= 0).Admits(typ); err != nil {
		v.misplaced(typ, i, err)
		return
	}
	switch typ {
	case store.Ceremony:
		v.ceremony(i, body)
	case store.Open:
		v.openEntry(i, body)
	case store.Ballot:
		v.ballot(i, body)
	case store.Close:
		v.closeEntry(i, body)
	case store.Partial:
		v.partial(i, body)
	case store.Result:
		v.result(i, body)
	case store.Issuance:
		v.issuance(i, body)
	}
}

// misplaced reports entry i of type typ, which the record's phase does
// not admit (err says why), as a failure of its own type's check.
func (v *verifier) misplaced(typ store.EntryType, i uint64, err error) {
	switch {
	case typ == store.Manifest:
		v.fail(CheckManifest, i, "a second manifest entry; only entry 0 is the manifest")
	case typ == store.Ceremony:
		v.fail(CheckCeremony, i, "a ceremony message after the open entry (entry %d); the ceremony ended there", v.openAt)
	case typ == store.Open:
		v.fail(CheckOpen, i, "a second open entry; the first is entry %d", v.openAt)
	case typ == store.Ballot && errors.Is(err, record.ErrNotOpen):
		v.fail(CheckBallot, i, "a ballot before the open entry; no ballot is accepted before the election key is fixed")
	case typ == store.Ballot:
		v.fail(CheckBallot, i, "a ballot after the close entry (entry %d); it must not be there", v.closeAt)
	case typ == store.Close && errors.Is(err, record.ErrNotOpen):
		v.fail(CheckClose, i, "a close entry before the open entry")
	case typ == store.Close:
		v.fail(CheckClose, i, "a second close entry; the first is entry %d", v.closeAt)
	case typ == store.Partial:
		v.fail(CheckPartial, i, "a %s entry before the close entry; the tally starts only after voting closed", CheckPartial)
	case typ == store.Result:
		v.fail(CheckResult, i, "a %s entry before the close entry; the tally starts only after voting closed", CheckResult)
	case typ == store.Issuance:
		v.fail(CheckIssuance, i, "an issuance statement before the close entry; the issuer states its counts only once voting has closed")
	}
}

func (v *verifier) ceremony(i uint64, body []byte) {
	deals := len(v.cer.Deals)
	if err := v.cer.Add(body); err != nil {
		v.fail(CheckCeremony, i, "%s", detail(err))
		return
	}
	if len(v.cer.Deals) > deals {
		d := v.cer.Deals[deals].Dealer
		if _, ok := v.dealEntry[d]; !ok {
			v.dealEntry[d] = i
		}
	}
	if v.cerFirst == 0 {
		v.cerFirst = int64(i)
	}
	v.cerLast = int64(i)
}

func (v *verifier) ceremonyRange() string {
	if v.cerFirst == 0 {
		return "no ceremony messages"
	}
	return fmt.Sprintf("the ceremony messages in entries %d-%d", v.cerFirst, v.cerLast)
}

func (v *verifier) openEntry(i uint64, body []byte) {
	v.openAt = int64(i)
	if v.cerFirst > 0 {
		v.add(Check{Name: CheckCeremony, First: v.cerFirst, Last: v.cerLast, OK: true, Detail: fmt.Sprintf(
			"%d announcements, %d deals, %d complaints, %d answers, %d checks parse, each once", len(v.cer.Anns), len(v.cer.Deals), len(v.cer.Complaints), len(v.cer.Answers), len(v.cer.Checks))})
	}
	decided, qerr := v.cer.Qualify()
	posted, perr := record.ParseOpen(v.m, body)
	switch {
	case qerr == nil && bytes.Equal(decided.Bytes(), body):
		v.ok(CheckOpen, i, "exactly what %s decide: election key %x, qualified trustees %v", v.ceremonyRange(), decided.Key.Bytes(), decided.Qualified())
	// A dealer's fault (SPEC.md §7's table) is never a failure of its
	// ceremony entry, which is a valid message: the open entry is what
	// fails, and its detail names the deals concerned.
	case qerr != nil:
		var notes []string
		var ce *ceremony.CeremonyError
		if errors.As(qerr, &ce) {
			for _, d := range ce.Disqualified {
				notes = append(notes, fmt.Sprintf("trustee %d's deal%s is disqualified: it %s", d.Dealer, v.dealAt(d.Dealer), d.Text()))
			}
		}
		v.fail(CheckOpen, i, "%s decide no election key: %s%s", v.ceremonyRange(), detail(qerr), joinNotes(notes))
	default:
		var notes []string
		if perr == nil {
			faults := map[int][]string{}
			for _, d := range decided.Disqualified() {
				faults[d.Dealer] = append(faults[d.Dealer], d.Text())
			}
			for _, d := range posted.Qualified() {
				if f, ok := faults[d]; ok {
					notes = append(notes, fmt.Sprintf("trustee %d's deal%s is disqualified (it %s), yet the open entry counts it", d, v.dealAt(d), strings.Join(f, " and ")))
				}
			}
		}
		v.fail(CheckOpen, i, "not what %s decide: %s; this entry or one of those messages was altered%s", v.ceremonyRange(), openDiff(decided, posted, perr), joinNotes(notes))
	}
	// Ballots are checked against the key the ceremony decided, not the
	// board's word; only if the ceremony decides none is the posted key
	// used, so that the ballots can still be looked at.
	switch {
	case qerr == nil:
		v.open = decided
	case perr == nil:
		v.open = posted
	default:
		return
	}
	v.rep.ElectionKey = v.open.Key.Bytes()
	v.el = &ballot.Election{Manifest: v.m, Key: v.open.Key}
	v.pool = newPool(v, v.el, v.m.Revoting == ballot.RevotingLastCounts)
}

// dealAt names the entry of trustee d's deal, if there is one.
func (v *verifier) dealAt(d int) string {
	if e, ok := v.dealEntry[d]; ok {
		return fmt.Sprintf(" (entry %d)", e)
	}
	return ""
}

func joinNotes(notes []string) string {
	if len(notes) == 0 {
		return ""
	}
	return "; " + strings.Join(notes, "; ")
}

// openDiff says how the posted open entry differs from the decided one.
func openDiff(decided, posted *record.Open, perr error) string {
	if perr != nil {
		return "it does not parse: " + detail(perr)
	}
	var diffs []string
	if !bytes.Equal(decided.Key.Bytes(), posted.Key.Bytes()) {
		diffs = append(diffs, fmt.Sprintf("election key %x, the ceremony gives %x", posted.Key.Bytes(), decided.Key.Bytes()))
	}
	if !slices.Equal(decided.Qualified(), posted.Qualified()) {
		diffs = append(diffs, fmt.Sprintf("qualified trustees %v, the ceremony gives %v", posted.Qualified(), decided.Qualified()))
	}
	for j := range decided.VerificationKeys {
		if !bytes.Equal(decided.VerificationKeys[j].Bytes(), posted.VerificationKeys[j].Bytes()) {
			diffs = append(diffs, fmt.Sprintf("trustee %d's verification key differs", j+1))
		}
	}
	if !slices.EqualFunc(decided.Disqualified(), posted.Disqualified(), ceremony.Disqualification.Equal) {
		diffs = append(diffs, fmt.Sprintf("disqualifications %s, the ceremony gives %s", faults(posted.Disqualified()), faults(decided.Disqualified())))
	}
	if len(diffs) == 0 {
		return "same outcome, but not its canonical encoding"
	}
	return strings.Join(diffs, "; ")
}

// faults lists disqualifications as their codes, such as
// "[trustee 3 complaints-unanswered [1 2]]" or "none".
func faults(ds []ceremony.Disqualification) string {
	if len(ds) == 0 {
		return "none"
	}
	parts := make([]string, len(ds))
	for k, d := range ds {
		parts[k] = fmt.Sprintf("trustee %d %s", d.Dealer, d.Fault)
		if len(d.Accusers) > 0 {
			parts[k] += fmt.Sprint(" ", d.Accusers)
		}
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func (v *verifier) ballot(i uint64, body []byte) {
	switch {
	case v.pool == nil:
		v.fail(CheckBallot, i, "cannot be checked: the record has no usable election key")
		return
	}
	if v.ballotsFirst == 0 {
		v.ballotsFirst = int64(i)
	}
	v.ballotsLast = int64(i)
	v.rep.Ballots++
	v.pool.add(i, body)
}

// finishBallots waits for every ballot's verification and forms the
// aggregate. It runs once, at the close entry or at the end of the record.
func (v *verifier) finishBallots() {
	if v.ballotsDone || v.pool == nil {
		return
	}
	v.ballotsDone = true
	agg, tokens, valid := v.pool.finish()
	v.agg, v.rep.Aggregate, v.rep.Counted = agg, agg, agg.Ballots
	if v.rep.Ballots > 0 {
		v.add(Check{Name: CheckBallot, First: v.ballotsFirst, Last: v.ballotsLast, OK: valid == v.rep.Ballots,
			Detail: fmt.Sprintf("%d of %d ballots verify (token, proofs, signature)", valid, v.rep.Ballots)})
	}
	policy := "each token's only ballot counts (refuse policy)"
	if v.m.Revoting == ballot.RevotingLastCounts {
		policy = "each token's last ballot counts (last-ballot-counts policy)"
	}
	where := int64(v.openAt)
	if v.closeAt >= 0 {
		where = v.closeAt
	}
	v.add(Check{Name: CheckTokens, First: v.openAt, Last: where, OK: true,
		Detail: fmt.Sprintf("%d distinct tokens; %s", tokens, policy)})
	v.add(Check{Name: CheckAggregate, First: v.openAt, Last: where, OK: true,
		Detail: fmt.Sprintf("recomputed the aggregate of %d counted ballots", agg.Ballots)})
}

type closeBody struct {
	Closed string `json:"closed"`
}

func (v *verifier) closeEntry(i uint64, body []byte) {
	v.closeAt = int64(i)
	var cb closeBody
	if err := strictjson.Decode(body, &cb); err != nil {
		v.fail(CheckClose, i, "the close entry is not {\"closed\": time}: %v", err)
	} else if _, err := ballot.ParseTime(cb.Closed); err != nil {
		v.fail(CheckClose, i, "the close time %q is not of the form SPEC.md §4 gives (YYYY-MM-DDTHH:MM:SSZ or ±HH:MM)", cb.Closed)
	} else if canon, _ := json.Marshal(cb); !bytes.Equal(canon, body) {
		v.fail(CheckClose, i, "the close entry is not in its canonical encoding")
	} else {
		v.closeTime, _ = ballot.ParseTime(cb.Closed)
		v.ok(CheckClose, i, "voting closed at %s; only partial decryptions, the result and the issuer's statement of its counts may follow", cb.Closed)
	}
	v.finishBallots()
}

// afterClose checks that the aggregate a tally entry is about exists.
func (v *verifier) afterClose(name string, i uint64) bool {
	switch {
	case v.agg == nil:
		v.fail(name, i, "cannot be checked: the record has no usable election key")
		return false
	}
	return true
}

func (v *verifier) partial(i uint64, body []byte) {
	if !v.afterClose(CheckPartial, i) {
		return
	}
	s, err := tally.ParsePartial(v.el, body)
	if err != nil {
		v.fail(CheckPartial, i, "%s", detail(err))
		return
	}
	if prev, ok := v.shares[s.Trustee]; ok {
		v.fail(CheckPartial, i, "a second partial decryption from trustee %d; the first is entry %d", s.Trustee, prev.entry)
		return
	}
	if err := tally.VerifyPartial(v.el, v.agg, v.open.VerificationKeys[s.Trustee-1], s); err != nil {
		v.fail(CheckPartial, i, "%s", detail(err))
		return
	}
	v.shares[s.Trustee] = share{entry: i, s: s}
	v.order = append(v.order, s.Trustee)
	v.ok(CheckPartial, i, "trustee %d's partial decryption of the aggregate verifies against its verification key", s.Trustee)
}

func (v *verifier) result(i uint64, body []byte) {
	if v.resultAt >= 0 {
		v.fail(CheckResult, i, "a second result entry; the first is entry %d", v.resultAt)
		return
	}
	if !v.afterClose(CheckResult, i) {
		return
	}
	v.resultAt = int64(i)
	posted, err := tally.ParseResult(body)
	if err != nil {
		v.fail(CheckResult, i, "%s", detail(err))
		return
	}
	v.rep.Posted = posted
	var problems []string
	seen := map[int]bool{}
	for _, tr := range posted.Trustees {
		_, ok := v.shares[tr]
		switch {
		case seen[tr]:
			problems = append(problems, fmt.Sprintf("names trustee %d twice", tr))
		case !ok:
			problems = append(problems, fmt.Sprintf("names trustee %d, which has no valid partial decryption before it", tr))
		}
		seen[tr] = true
	}
	// With no counted ballots there is nothing to decrypt: every count is
	// zero and the result names no trustee (SPEC.md §9).
	if need := v.need(); len(posted.Trustees) != need {
		problems = append(problems, fmt.Sprintf("names %d trustees, the threshold is %d", len(posted.Trustees), need))
	}
	// The result is made by the first t partial entries in record order
	// (SPEC.md §9): any t give the same counts, but the entry must be the
	// one the board, the tallier and every verifier write.
	use := make([]*tally.Partial, 0, len(v.order))
	for _, tr := range v.order {
		use = append(use, v.shares[tr].s)
	}
	got, err := tally.Combine(v.el, v.agg, use)
	if err != nil {
		v.fail(CheckResult, i, "the partial decryptions before it do not combine: %s", detail(err))
		return
	}
	v.rep.Result = got
	if len(problems) == 0 && !slices.Equal(posted.Trustees, got.Trustees) {
		problems = append(problems, fmt.Sprintf("names trustees %v, but the result is made by the first %d partial decryptions in record order, trustees %v's", posted.Trustees, len(got.Trustees), got.Trustees))
	}
	switch {
	case len(problems) > 0:
		v.fail(CheckResult, i, "the result %s", strings.Join(problems, "; "))
	case posted.Ballots != got.Ballots:
		v.fail(CheckResult, i, "the result counts %d ballots, the record has %d counted ballots", posted.Ballots, got.Ballots)
	case !got.Equal(posted):
		v.fail(CheckResult, i, "the posted counts %v are not what the partial decryptions of trustees %v combine to: %v", posted.Counts, got.Trustees, got.Counts)
	case !bytes.Equal(got.Bytes(), body):
		v.fail(CheckResult, i, "the result is not in its canonical encoding")
	default:
		v.ok(CheckResult, i, "the counts %v of %d ballots are what trustees %v's partial decryptions combine to", got.Counts, got.Ballots, got.Trustees)
	}
}

// complete checks, once the whole record has been read, that it is
// complete (SPEC.md §8): it has the open, the close and the result entry.
// A record that stops before one of them is incomplete, which fails
// unless Options.AllowIncomplete; either way the check says what is
// missing, and every entry present has been checked by the same rules.
func (v *verifier) complete() {
	if v.m == nil {
		return
	}
	v.issuanceSummary()
	var missing string
	switch {
	case v.openAt < 0:
		missing = "no open entry: the key ceremony never finished"
	case v.closeAt < 0:
		missing = "no close entry: the election is still open"
	case v.resultAt < 0:
		missing = "no result entry: the election is closed but not tallied"
		if need := v.need(); need > 0 {
			missing += fmt.Sprintf(" (%d valid partial decryptions, the result needs %d)", len(v.order), need)
		}
	case v.m.Issuance() != nil && v.issuanceAt < 0:
		missing = "no issuance statement: the manifest names the issuer's statement key, and the issuer has not posted its counts of eligible voters and tokens issued (evote issuer statement, then evote board issuance)"
	default:
		also := ""
		if v.issuanceAt >= 0 {
			also = fmt.Sprintf(", and the issuer's statement (entry %d)", v.issuanceAt)
		}
		v.add(Check{Name: CheckComplete, First: -1, Last: -1, OK: true, Detail: fmt.Sprintf(
			"the record is complete: open (entry %d), close (entry %d) and result (entry %d)%s", v.openAt, v.closeAt, v.resultAt, also)})
		return
	}
	if v.opts.AllowIncomplete {
		v.add(Check{Name: CheckComplete, First: -1, Last: -1, OK: true, Detail: "the record is incomplete, as allowed: " + missing})
		return
	}
	v.add(Check{Name: CheckComplete, First: -1, Last: -1, Detail: "the record is incomplete: " + missing})
}

// need is how many partial entries the result combines: t, or none when
// no ballot is counted (SPEC.md §9).
func (v *verifier) need() int {
	if v.agg == nil || v.agg.Ballots == 0 {
		return 0
	}
	return v.m.Trustees.T
}
