// Package ops holds what the evote commands and the demo share: serving HTTP
// with sane limits, reading keys and hashes given on the command line,
// printing results, and a progress bar. Reading a board's record as a
// trustee or a tallier does is package trustee's.
package ops

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evote/evote/ballot"
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
	// MaxConnsPerAddress bounds the connections one client address holds
	// open (0: DefaultMaxConnsPerAddress, negative: none); MaxConns bounds
	// them in all (0 or negative: none; the command sets it below its file
	// descriptor limit). A connection beyond either is closed at once.
	MaxConnsPerAddress, MaxConns int
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
		// net/http names the client's address in its own lines ("TLS
		// handshake error from 192.0.2.7:40852"): the issuer's log must
		// not tie an address to a time (SECURITY.md), so it is taken out.
		srv.ErrorLog = log.New(addrScrubber{slog.NewLogLogger(c.Logger.Handler(), slog.LevelWarn).Writer()}, "", 0)
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return err
	}
	if c.MaxConnsPerAddress == 0 {
		c.MaxConnsPerAddress = DefaultMaxConnsPerAddress
	}
	ln = limitConns(ln, c.MaxConnsPerAddress, c.MaxConns)
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

// BoardKey reads the board's checkpoint verifier key: s itself if it is a
// key, else the contents of the file named s. The key first: a key's text
// is also a relative path ("board.example.org/ga+1a2b3c4d+Ab..."), and a
// file planted at that path beside a bundle that gives the key itself
// made a command trust another board.
func BoardKey(s string) (note.Verifier, error) {
	if s == "" {
		return nil, errors.New("the board's verifier key is needed: --board-key board.vkey")
	}
	if v, err := verify.BoardKey(s); err == nil {
		return v, nil
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
//
// Percentages are of the ballots counted (of voters), never of the marks:
// where a ballot may mark up to k choices, a share of marks would make a
// choice every voter marked look like a minority. They may then add up to
// more than 100%, and the table says so, as package report's page does.
func PrintResult(w io.Writer, m *ballot.Manifest, r *tally.Result) {
	fmt.Fprintf(w, "%s: %d ballots counted, decrypted by trustees %s\n", Printable(m.Title), r.Ballots, joinInts(r.Trustees))
	for qi, q := range m.Questions {
		fmt.Fprintf(w, "\n  %s  (%s; choose %d to %d)\n", Printable(q.Text), Printable(q.ID), q.Min, q.Max)
		width := 0
		for _, c := range q.Choices {
			width = max(width, utf8.RuneCountInString(Printable(c)))
		}
		for ci, c := range q.Choices {
			n := r.Counts[qi][ci]
			pct := PercentOfBallots(n, r.Ballots)
			bar := strings.Repeat("#", int(min(pct, 100)/5+0.5))
			fmt.Fprintf(w, "    %-*s %8d  %5.1f%%  %s\n", width, Printable(c), n, pct, bar)
		}
		if q.Max > 1 {
			fmt.Fprintf(w, "    (%% of the %d ballots counted; a ballot marks up to %d, so they may add up to more than 100%%)\n", r.Ballots, q.Max)
		} else {
			fmt.Fprintf(w, "    (%% of the %d ballots counted)\n", r.Ballots)
		}
	}
}

// PercentOfBallots is n as a percentage of the ballots counted (0 when
// none were).
func PercentOfBallots(n, ballots uint64) float64 {
	if ballots == 0 {
		return 0
	}
	return 100 * float64(n) / float64(ballots)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// clientAddr matches an IPv4 or IPv6 address, with a port or not.
var clientAddr = regexp.MustCompile(`\[[0-9A-Fa-f:.%]+\](:[0-9]+)?|\b[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]+)?\b|\b[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}\b`)

// addrScrubber writes its lines with every network address replaced.
type addrScrubber struct{ w io.Writer }

func (a addrScrubber) Write(p []byte) (int, error) {
	if _, err := a.w.Write(clientAddr.ReplaceAll(p, []byte("[address]"))); err != nil {
		return 0, err
	}
	return len(p), nil
}
