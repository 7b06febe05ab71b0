// Package report writes an election's result as one HTML file a person can
// read, print and keep: the page members, the press and observers are shown,
// made from a verified record alone.
//
// Write takes what [verify.Record] found and nothing else: every number on
// the page is one the verifier recomputed from the record (the counts from
// the trustees' partial decryptions, the ballots counted from the
// aggregate), never the board's word. A record that did not verify gets a
// report that says so at the top and shows no result at all, so a page
// with numbers on it always means the record checked out.
//
// # What the file is
//
// One self-contained file, in Italian and in English: two sections, each
// with its lang attribute, and a language switch made of two links and a
// CSS :target rule, so it works with no script (the file has none). Its
// style is inline, under a Content-Security-Policy in a meta element that
// allows only that style (by its hash) and nothing else, so opening it
// fetches nothing from anywhere; the charts are inline SVG. Printed, both
// languages come out, one after the other, without the switch. Every text
// taken from the record (the title, questions, choices) goes through
// html/template, so a hostile manifest cannot put markup or script in the
// page.
//
// The same function runs in three places, so the page is the same
// wherever it is made: `evote report` on the command line, the board's
// GET /report.html once the result is in, and the in-browser verifier
// (package report/page), where it runs as WebAssembly on a record file the
// reader drops on the page. Package report therefore links no network
// code.
//
// # What is not in the record
//
// The record holds the ballots counted and, when the manifest names the
// issuer's statement key, the issuer's signed statement of how many voters
// were eligible and how many tokens it handed out, which the verifier
// checked ([verify.Report.Issuance]): the report shows those figures and
// the turnout, saying they come from the record. Without such a statement
// it says a figure is "not recorded in this election's record" unless
// [Options.Turnout] supplies it, and then it says where the figure came
// from, unverified. Witness cosignatures of the checkpoint are likewise
// given in [Options.Cosigners].
package report

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
)

// Options say what the report cannot take from the record. The zero value
// is ready to use.
type Options struct {
	// RecordName is the record's file name, for the command that verifies
	// it ("" means record.evr).
	RecordName string
	// BoardKey is the board's note verifier key, as the election
	// published it, for the same command ("" means the file board.vkey).
	BoardKey string
	// ManifestPinned says the record's manifest was compared with the
	// election's published manifest (evote verify --manifest) and is it;
	// otherwise the report asks the reader to compare the hash.
	ManifestPinned bool
	// Turnout holds the figures the record does not. It is used only when
	// the record holds no issuer's statement (verify.Report.Issuance).
	Turnout Turnout
	// Cosigners are the witnesses that cosigned the checkpoint, as the
	// reader should see them named; nil means the verifier's
	// (verify.Report.Cosigners: the manifest's witnesses whose
	// cosignatures verified).
	Cosigners []string
}

// Turnout holds turnout figures that are not in the record. A nil field is
// shown as "not recorded in this election's record".
type Turnout struct {
	TokensIssued *uint64 // eligibility tokens the issuer handed out
	Eligible     *uint64 // voters on the roll
	// Source says where the figures come from (such as "the issuer's
	// roll, 2025-06-01"); it is shown beside them.
	Source string
}

//go:embed report.css
var css string

// StyleHash is the CSP source of the report's one inline style element,
// 'sha256-…': a page that shows the report in a frame must allow it.
var StyleHash = func() string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// ContentSecurityPolicy is the policy the report carries in its meta
// element: its own style and nothing else (no script, no fetch, no form).
var ContentSecurityPolicy = "default-src 'none'; style-src " + StyleHash + "; img-src data:; base-uri 'none'; form-action 'none'"

// Write writes the report of rep, the Report of a verification, to w.
func Write(w io.Writer, rep *verify.Report, opts Options) error {
	if rep == nil {
		return fmt.Errorf("report: no verification report given")
	}
	d := build(rep, opts)
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// FromRecord verifies the record read from r under boardKey, as evote
// verify does, and writes its report to w. A record that fails
// verification still gets its report, which says so (rep.OK is false and
// the error nil); the error is for a record that could not be read at all
// or a report that could not be written, and then w holds nothing.
func FromRecord(w io.Writer, r io.Reader, boardKey note.Verifier, opts Options) (*verify.Report, error) {
	rep, err := verify.Record(r, boardKey, verify.Options{})
	var ve *verify.Error
	if err != nil && !errors.As(err, &ve) {
		return rep, err
	}
	return rep, Write(w, rep, opts)
}

type data struct {
	CSS, CSP  template.CSS
	CSPAttr   string
	OK        bool
	Title     string
	Langs     []lang
	Manifest  string // hex
	Opens     string
	Closes    string
	Questions []question
	Entries   uint64
	Ballots   uint64 // ballot entries
	Counted   uint64
	Turnout   Turnout
	// TurnoutPct is the ballots counted as a percentage of Turnout.Eligible
	// ("" when that is not known); StatementEntry the issuer's statement's
	// entry when the figures are the record's (-1 when they are not).
	TurnoutPct     string
	StatementEntry int64
	Trustees       []trustee
	TrusteeT       int
	TrusteeN       int
	CP             *checkpoint
	Cosigners      []string
	Checks         []check
	Failed         []check // the first failing checks, for the banner
	Failures       int
	Omitted        int
	Pinned         bool
	Command        string
	HasResult      bool
}

type question struct {
	ID, Text string
	Min, Max int
	Multi    bool // more than one mark per ballot
	Choices  []choice
}

type choice struct {
	Name  string
	Count uint64
	Pct   string // "42.5"
	Bar   string // SVG width, 0-100
	Top   bool
}

type trustee struct {
	Index int
	Key   string
}

type checkpoint struct {
	Origin     string
	Size       uint64
	Hex, B64   string
	Signed     string
	Incomplete bool
}

type check struct {
	Name    string
	Entries string
	OK      bool
	Detail  string
}

func build(rep *verify.Report, o Options) *data {
	d := &data{
		CSS: template.CSS(css), CSPAttr: ContentSecurityPolicy, OK: rep.OK,
		Entries: rep.Entries, Ballots: rep.Ballots, Counted: rep.Counted,
		Turnout: o.Turnout, Cosigners: o.Cosigners, Failures: rep.Failures, Omitted: rep.Omitted,
		Pinned: o.ManifestPinned, StatementEntry: -1,
	}
	if len(d.Cosigners) == 0 {
		d.Cosigners = rep.Cosigners // verify's witnesses check, when the manifest names witnesses
	}
	d.Langs = []lang{en, it}
	name := o.RecordName
	if name == "" {
		name = "record.evr"
	}
	key := o.BoardKey
	if key == "" {
		key = "board.vkey"
	}
	cmd := "evote verify " + shellQuote(name) + " --board-key " + shellQuote(key)
	if rep.OK && rep.Manifest != nil {
		cmd += " --manifest " + hex.EncodeToString(rep.ManifestHash[:])
	}
	d.Command = cmd
	for _, c := range rep.Checks {
		e := ""
		switch {
		case c.First < 0:
		case c.First == c.Last:
			e = strconv.FormatInt(c.First, 10)
		default:
			e = strconv.FormatInt(c.First, 10) + "–" + strconv.FormatInt(c.Last, 10)
		}
		d.Checks = append(d.Checks, check{Name: c.Name, Entries: e, OK: c.OK, Detail: c.Detail})
	}
	for _, c := range d.Checks {
		if !c.OK && len(d.Failed) < 10 {
			d.Failed = append(d.Failed, c)
		}
	}
	if !rep.OK {
		// Nothing of a record that does not verify is shown as fact: no
		// title, no result, no checkpoint.
		return d
	}
	if cp := rep.Checkpoint; cp != nil {
		d.CP = &checkpoint{Origin: cp.Origin, Size: cp.Size, Hex: hex.EncodeToString(cp.Hash[:]),
			B64: base64.StdEncoding.EncodeToString(cp.Hash[:]), Signed: string(cp.Signed)}
	}
	m := rep.Manifest
	if m == nil {
		return d
	}
	d.Title, d.Opens, d.Closes = m.Title, m.Opens, m.Closes
	if is := rep.Issuance; is != nil {
		// The record's own figures, checked by the verifier, rule over any
		// given from outside it.
		issued, eligible := is.Issued, is.Eligible
		d.Turnout = Turnout{TokensIssued: &issued, Eligible: &eligible}
		d.StatementEntry = int64(is.Entry)
	}
	if e := d.Turnout.Eligible; e != nil && *e > 0 {
		d.TurnoutPct = strconv.FormatFloat(100*float64(rep.Counted)/float64(*e), 'f', 1, 64)
	}
	d.Manifest = hex.EncodeToString(rep.ManifestHash[:])
	d.TrusteeT, d.TrusteeN = m.Trustees.T, m.Trustees.N
	res := rep.Result
	if res == nil || len(res.Counts) != len(m.Questions) {
		return d
	}
	d.HasResult = true
	for _, i := range res.Trustees {
		t := trustee{Index: i}
		if i >= 1 && i <= len(m.Trustees.Keys) {
			t.Key = m.Trustees.Keys[i-1]
		}
		d.Trustees = append(d.Trustees, t)
	}
	for qi, q := range m.Questions {
		counts := res.Counts[qi]
		dq := question{ID: q.ID, Text: q.Text, Min: q.Min, Max: q.Max, Multi: q.Max > 1}
		var top uint64
		for _, n := range counts {
			top = max(top, n)
		}
		for ci, c := range q.Choices {
			var n uint64
			if ci < len(counts) {
				n = counts[ci]
			}
			// Percentages are of ballots counted, not of marks: on a
			// question where a ballot marks up to k choices they may add
			// up to more than 100.
			pct := 0.0
			if res.Ballots > 0 {
				pct = 100 * float64(n) / float64(res.Ballots)
			}
			dq.Choices = append(dq.Choices, choice{Name: c, Count: n,
				Pct: strconv.FormatFloat(pct, 'f', 1, 64), Bar: strconv.FormatFloat(min(pct, 100), 'f', 2, 64),
				Top: n == top && n > 0})
		}
		d.Questions = append(d.Questions, dq)
	}
	return d
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+-_./=:@", r)) {
			safe = false
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// PinManifest compares the record's manifest with the election's
// published one, whose hash is want, and fails rep if they differ: a board
// holds the key that signs its record, so only the published manifest
// says the record is of this election. It returns whether they match.
func PinManifest(rep *verify.Report, want [32]byte) bool {
	if rep.Manifest != nil && rep.ManifestHash == want {
		return true
	}
	rep.OK = false
	rep.Failures++
	rep.Checks = append(rep.Checks, verify.Check{Name: verify.CheckManifest, First: 0, Last: 0,
		Detail: fmt.Sprintf("the record's manifest has hash %x, the election's published one %x: this record is of another election", rep.ManifestHash, want)})
	return false
}
