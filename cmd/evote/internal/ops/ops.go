// Package ops holds what the evote commands and the demo share: serving HTTP
// with sane limits, reading a board's record as a trustee or tallier does
// (re-verified, never trusting the board's own aggregate), printing results,
// and a progress bar.
package ops

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/dkg"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"golang.org/x/mod/sumdb/note"
)

// ServerConfig configures Serve. Its limits protect the service from slow
// and greedy clients: a client that trickles its headers (slowloris) is cut
// off after ReadHeaderTimeout, one that trickles its body after
// ReadTimeout, an idle keep-alive connection is closed after IdleTimeout,
// and headers are bounded by MaxHeaderBytes (bodies by each handler).
type ServerConfig struct {
	Listen            string
	Handler           http.Handler
	TLSCert, TLSKey   string
	ReadHeaderTimeout time.Duration // 0 means 5 s
	ReadTimeout       time.Duration // 0 means 30 s: a whole request, body included
	WriteTimeout      time.Duration // 0 means 5 minutes (a large record export)
	IdleTimeout       time.Duration // 0 means 2 minutes
	MaxHeaderBytes    int           // 0 means 16 KiB
	Logger            *slog.Logger
	Name              string           // "board", "issuer": for messages
	Ready             func(url string) // called once listening
	ShutdownDeadline  time.Duration    // 0 means 10 s
}

// Serve listens and serves until ctx is done, then shuts down gracefully:
// it stops accepting, lets requests in flight finish (a cast answers only
// after its ballot is committed) for up to ShutdownDeadline, and returns;
// the caller closes its store after Serve returns.
func Serve(ctx context.Context, c ServerConfig) error {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.ReadHeaderTimeout, 5*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 5*time.Minute)
	def(&c.IdleTimeout, 2*time.Minute)
	def(&c.ShutdownDeadline, 10*time.Second)
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 16 << 10
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	srv := &http.Server{
		Handler:           c.Handler,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if c.Logger != nil {
		srv.ErrorLog = slog.NewLogLogger(c.Logger.Handler(), slog.LevelWarn)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	errc := make(chan error, 1)
	go func() {
		if c.TLSCert != "" {
			errc <- srv.ServeTLS(ln, c.TLSCert, c.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if c.Ready != nil {
		c.Ready(url)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if c.Logger != nil {
		c.Logger.Info("shutting down: no new connections; waiting for requests in flight", "service", c.Name)
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownDeadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down the %s: %w", c.Name, err)
	}
	if c.Logger != nil {
		c.Logger.Info("shut down: every request in flight answered", "service", c.Name)
	}
	return nil
}

// NewLogger returns the services' logger: format "text" or "json", level
// "debug", "info", "warn" or "error".
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// TLSConfig returns a client TLS configuration that trusts only the CA
// certificates (PEM) in caFile, such as a self-signed deployment's; nil
// when caFile is empty (the system's roots).
func TLSConfig(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// HTTPClient returns an HTTP client for the board or the issuer that
// trusts caFile's CA certificates (see TLSConfig), or nil (the default
// client) when caFile is empty.
func HTTPClient(caFile string) (*http.Client, error) {
	tc, err := TLSConfig(caFile)
	if err != nil || tc == nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return &http.Client{Transport: t}, nil
}

// BoardKey reads the board's checkpoint verifier key: the contents of the
// file named s, or s itself if it is no file but a key.
func BoardKey(s string) (note.Verifier, error) {
	if s == "" {
		return nil, errors.New("the board's verifier key is needed: --board-key board.vkey")
	}
	text := s
	if b, err := os.ReadFile(s); err == nil {
		text = string(b)
	} else if !strings.Contains(s, "+") {
		return nil, err
	}
	v, err := verify.BoardKey(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("board key %s: %w", s, err)
	}
	return v, nil
}

// ManifestHash reads the hash that pins a voter to an election: the
// manifest file named s (its hash is computed), or s itself if it is the
// hash as 64 hex digits (as evote election init prints it).
func ManifestHash(s string) ([32]byte, error) {
	var h [32]byte
	if s == "" {
		return h, errors.New("the election's manifest is needed from outside the board: --manifest manifest.json, or its hash as the invitation gives it")
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == len(h) {
		copy(h[:], b)
		return h, nil
	}
	raw, err := os.ReadFile(s)
	if err != nil {
		return h, fmt.Errorf("--manifest %s: neither a manifest file nor 64 hex digits of its hash: %w", s, err)
	}
	m, err := ballot.ParseManifest(raw)
	if err != nil {
		return h, fmt.Errorf("%s: %w", s, err)
	}
	return m.Hash(), nil
}

// Record is a board's record as a trustee or a tallier reads it: every
// entry re-verified, the aggregate recomputed from the ballots.
type Record struct {
	Report   *verify.Report
	Election *ballot.Election
	Open     *record.Open
	Closed   bool
	Shares   []*tally.Share // valid partial decryptions, in record order
	Raw      []byte
}

// FetchRecord downloads the board's record and reads it with ReadRecord.
func FetchRecord(ctx context.Context, c *boardapi.Client, key note.Verifier, progress func(done, total uint64)) (*Record, error) {
	var buf bytes.Buffer
	if err := c.Export(ctx, &buf); err != nil {
		return nil, fmt.Errorf("fetching the record: %w", err)
	}
	return ReadRecord(buf.Bytes(), key, progress)
}

// ReadRecord verifies a record that may be incomplete (not yet tallied)
// and collects what a trustee or tallier needs. A record that fails any
// check is refused: decrypting an aggregate that includes a bad ballot
// would help whoever put it there.
func ReadRecord(raw []byte, key note.Verifier, progress func(done, total uint64)) (*Record, error) {
	rep, err := verify.Record(bytes.NewReader(raw), key, verify.Options{AllowIncomplete: true, Size: int64(len(raw)), Progress: progress})
	if err != nil {
		return nil, fmt.Errorf("the board's record does not verify: %w", err)
	}
	rec := &Record{Report: rep, Raw: raw}
	r := store.NewReader(bytes.NewReader(raw), key)
	for {
		leaf, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch store.EntryType(leaf[0]) {
		case store.Open:
			o, err := record.ParseOpen(rep.Manifest, leaf[1:])
			if err != nil {
				return nil, err
			}
			rec.Open = o
			rec.Election = &ballot.Election{Manifest: rep.Manifest, Key: o.Key}
		case store.Close:
			rec.Closed = true
		case store.Partial:
			s, err := tally.ParseShare(rec.Election, leaf[1:])
			if err != nil {
				continue
			}
			if s.Trustee < 1 || s.Trustee > len(rec.Open.VerificationKeys) {
				continue
			}
			if tally.VerifyShare(rec.Election, rep.Aggregate, rec.Open.VerificationKeys[s.Trustee-1], s) == nil {
				rec.Shares = append(rec.Shares, s)
			}
		}
	}
	if rec.Open == nil {
		return nil, errors.New("the election is not open yet: the key ceremony has not ended")
	}
	return rec, nil
}

// ErrTooFewBallots means the record counts fewer ballots than the
// manifest's min_ballots: no trustee decrypts its tally.
var ErrTooFewBallots = errors.New("too few ballots to decrypt")

// Decrypt makes trustee ks.Index's partial decryption of the aggregate the
// record's own ballots add up to.
func (rec *Record) Decrypt(ks *dkg.KeyShare) (*tally.Share, error) {
	switch {
	case !rec.Closed:
		return nil, errors.New("the election is still open: trustees decrypt only after close (evote board close)")
	case !bytes.Equal(ks.Context, record.CeremonyContext(rec.Election.Manifest)):
		return nil, errors.New("this key share is from another election's ceremony")
	case !bytes.Equal(ks.ElectionKey.Bytes(), rec.Election.Key.Bytes()):
		return nil, errors.New("this key share's election key is not the one the record's ceremony produced")
	case ks.Index < 1 || ks.Index > len(rec.Open.VerificationKeys) || !bytes.Equal(ks.VerificationKey.Bytes(), rec.Open.VerificationKeys[ks.Index-1].Bytes()):
		return nil, fmt.Errorf("trustee %d's verification key differs from the record's", ks.Index)
	}
	if m := rec.Election.Manifest; rec.Report.Counted < uint64(m.MinBallots) {
		return nil, fmt.Errorf("%w: the record counts %d ballots, fewer than the %d the manifest sets as the least a tally may be decrypted from (a tally of so few would tell how each voted)", ErrTooFewBallots, rec.Report.Counted, m.MinBallots)
	}
	for _, s := range rec.Shares {
		if s.Trustee == ks.Index {
			return nil, fmt.Errorf("trustee %d's partial decryption is already on the board", ks.Index)
		}
	}
	return tally.Decrypt(rec.Election, rec.Report.Aggregate, ks.Index, ks.Secret, ks.VerificationKey)
}

// Combine combines the first t valid partial decryptions on the record.
func (rec *Record) Combine() (*tally.Result, error) {
	if !rec.Closed {
		return nil, errors.New("the election is still open: close it first (evote board close)")
	}
	t := rec.Election.Manifest.Trustees.T
	if rec.Report.Aggregate.Ballots == 0 {
		// No ballots: nothing to decrypt, every count is 0 (SPEC.md §9).
		return tally.Combine(rec.Election, rec.Report.Aggregate, nil)
	}
	if len(rec.Shares) < t {
		return nil, fmt.Errorf("%w: the board holds %d valid partial decryptions, the threshold is %d; trustees post theirs with evote trustee decrypt", tally.ErrNotEnoughShares, len(rec.Shares), t)
	}
	return tally.Combine(rec.Election, rec.Report.Aggregate, rec.Shares[:t])
}

// ParseQuestion parses "id:text:choice1,choice2,...:min:max"; min and max
// may be left out (then 1 and 1). The text may hold colons.
func ParseQuestion(s string) (ballot.Question, error) {
	bad := func(why string) (ballot.Question, error) {
		return ballot.Question{}, fmt.Errorf("question %q: %s; the form is id:text:choice1,choice2,...:min:max, such as \"motion:Adopt the motion?:yes,no:1:1\"", s, why)
	}
	parts := strings.Split(s, ":")
	if len(parts) < 3 {
		return bad("too few fields")
	}
	q := ballot.Question{ID: parts[0], Min: 1, Max: 1}
	rest := parts[1:]
	if len(rest) >= 4 {
		mn, err1 := strconv.Atoi(rest[len(rest)-2])
		mx, err2 := strconv.Atoi(rest[len(rest)-1])
		if err1 == nil && err2 == nil {
			q.Min, q.Max = mn, mx
			rest = rest[:len(rest)-2]
		}
	}
	q.Text = strings.Join(rest[:len(rest)-1], ":")
	for i, c := range strings.Split(rest[len(rest)-1], ",") {
		if c = strings.TrimSpace(c); c == "" {
			return bad(fmt.Sprintf("choice %d is empty (two commas together, or one at an end): name every choice", i+1))
		}
		q.Choices = append(q.Choices, c)
	}
	if q.ID == "" || q.Text == "" || len(q.Choices) < 2 {
		return bad("it needs an id, a text and at least two choices")
	}
	return q, nil
}

// Printable returns s as it is safe to print on a terminal: s itself if
// it is UTF-8 with only graphic characters and spaces, else s quoted with
// Go escapes (strconv.Quote), so that text from a record made by other
// software cannot move the cursor, clear the screen, recolour or reorder
// what is shown (terminal escapes, bidirectional controls).
func Printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// PrintResult prints the result as a table. Every text from the manifest
// is printed through Printable: evote refuses manifests with control
// characters, but a record made by other software may hold them.
func PrintResult(w io.Writer, m *ballot.Manifest, r *tally.Result) {
	fmt.Fprintf(w, "%s: %d ballots counted, decrypted by trustees %s\n", Printable(m.Title), r.Ballots, joinInts(r.Trustees))
	for qi, q := range m.Questions {
		fmt.Fprintf(w, "\n  %s  (%s; choose %d to %d)\n", Printable(q.Text), Printable(q.ID), q.Min, q.Max)
		width := 0
		for _, c := range q.Choices {
			width = max(width, utf8.RuneCountInString(Printable(c)))
		}
		var total uint64
		for _, n := range r.Counts[qi] {
			total += n
		}
		for ci, c := range q.Choices {
			n := r.Counts[qi][ci]
			pct := 0.0
			if total > 0 {
				pct = 100 * float64(n) / float64(total)
			}
			bar := strings.Repeat("#", int(pct/5+0.5))
			fmt.Fprintf(w, "    %-*s %8d  %5.1f%%  %s\n", width, Printable(c), n, pct, bar)
		}
	}
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
