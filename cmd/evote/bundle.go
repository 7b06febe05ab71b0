package main

// The election bundle (SPEC.md §15): one file holding what every role is
// told about an election by its authority (the manifest, the board's
// verifier key, the CA of a private deployment, the board's, the issuer's
// and the witnesses' addresses), so that a role is given one file and one
// flag, --bundle, instead of three files and up to nine flags, each a
// chance to give the wrong one.

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/verify"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	bundleFormat = "evote-election-bundle/v1"
	// maxBundleSize bounds what is read: a manifest is at most 64 KiB
	// (base64 makes it 88), and a CA chain a few KiB.
	maxBundleSize = 256 << 10
)

// electionBundle is the bundle's JSON, field for field (SPEC.md §15).
type electionBundle struct {
	Format    string   `json:"format"`
	Board     string   `json:"board"`
	Issuer    string   `json:"issuer"`
	Witnesses []string `json:"witnesses,omitempty"`
	BoardKey  string   `json:"board_key"`
	CACert    string   `json:"ca_cert,omitempty"`
	Manifest  []byte   `json:"manifest"`

	manifest *ballot.Manifest // Manifest, parsed
}

// marshal is the bundle's one encoding: two-space indented JSON in the
// struct's field order, no HTML escaping, a final line feed.
func (eb *electionBundle) marshal() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(eb); err != nil {
		panic(err) // strings, a []byte and a []string always encode
	}
	return buf.Bytes()
}

// parseBundle reads a bundle strictly: strict JSON (internal/strictjson),
// every field valid, and the bytes exactly the ones marshal writes, so that
// a bundle has one spelling and its SHA-256 names it.
func parseBundle(b []byte) (*electionBundle, error) {
	if len(b) > maxBundleSize {
		return nil, fmt.Errorf("%d bytes, more than a bundle's %d", len(b), maxBundleSize)
	}
	var eb electionBundle
	if err := strictjson.Decode(b, &eb); err != nil {
		return nil, fmt.Errorf("not an election bundle's JSON: %w", err)
	}
	if err := eb.validate(); err != nil {
		return nil, err
	}
	if !bytes.Equal(eb.marshal(), b) {
		return nil, errors.New("not in the bundle's one encoding (two-space indented, fields in order, a final line feed): write it with evote election bundle, never by hand")
	}
	return &eb, nil
}

func (eb *electionBundle) validate() error {
	if eb.Format != bundleFormat {
		return fmt.Errorf("format %q: this evote reads %q", eb.Format, bundleFormat)
	}
	m, err := ballot.ParseManifest(eb.Manifest)
	if err != nil {
		return fmt.Errorf("its manifest: %w", err)
	}
	eb.manifest = m
	if err := checkServiceURL("board", eb.Board); err != nil {
		return err
	}
	if err := checkServiceURL("issuer", eb.Issuer); err != nil {
		return err
	}
	if len(eb.Witnesses) > ballot.MaxWitnesses {
		return fmt.Errorf("%d witnesses, at most %d", len(eb.Witnesses), ballot.MaxWitnesses)
	}
	for i, w := range eb.Witnesses {
		if err := checkServiceURL("witness", w); err != nil {
			return err
		}
		if slices.Contains(eb.Witnesses[:i], w) {
			return fmt.Errorf("witness %s is there twice", w)
		}
	}
	// The key exactly as a board.vkey holds it, without its line feed: one
	// spelling, and no white space a flag would carry.
	if strings.TrimSpace(eb.BoardKey) != eb.BoardKey || strings.ContainsAny(eb.BoardKey, " \t\r\n") {
		return errors.New("board_key holds white space")
	}
	if _, err := verify.BoardKey(eb.BoardKey); err != nil {
		return fmt.Errorf("board_key: %w", err)
	}
	if eb.CACert != "" {
		canon, err := canonicalCACerts([]byte(eb.CACert))
		if err != nil {
			return fmt.Errorf("ca_cert: %w", err)
		}
		if canon != eb.CACert {
			return errors.New("ca_cert is not its certificates' PEM exactly (nothing before, between or after them)")
		}
	}
	return nil
}

// checkServiceURL checks an address in a bundle: https (http only to a
// loopback host, as for tests), a host, no user, query or fragment, no
// final slash, and written as Go writes it back, so one address has one
// spelling.
func checkServiceURL(what, s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("the %s's address %q: %w", what, s, err)
	}
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())):
		return fmt.Errorf("the %s's address %q: want https:// (http:// only to a loopback address)", what, s)
	case u.Host == "" || u.Opaque != "":
		return fmt.Errorf("the %s's address %q has no host", what, s)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("the %s's address %q: want scheme://host[:port][/path], with no user, query or fragment", what, s)
	case strings.HasSuffix(s, "/"):
		return fmt.Errorf("the %s's address %q ends with /: give it without", what, s)
	case u.String() != s:
		return fmt.Errorf("the %s's address %q is not written as %q", what, s, u.String())
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// canonicalCACerts returns the CERTIFICATE blocks of a PEM file written
// again by encoding/pem, refusing anything else in it: a private key given
// by mistake must not travel in a public file.
func canonicalCACerts(b []byte) (string, error) {
	var out []byte
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return "", fmt.Errorf("a %s block: give only the CA's certificate(s)", blk.Type)
		}
		if len(blk.Headers) != 0 {
			return "", errors.New("a certificate block with headers")
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return "", err
		}
		out = append(out, pem.EncodeToMemory(blk)...)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return "", errors.New("text that is not a PEM certificate")
	}
	if len(out) == 0 {
		return "", errors.New("no PEM certificate in it")
	}
	return string(out), nil
}

// A bundleUse is which piece of a bundle a flag takes.
type bundleUse int

const (
	useManifest bundleUse = iota + 1
	useBoardKey
	useCA
	useBoard
	useIssuer
	useWitnesses
)

// bundleFlagUses names, across cmd/evote, every flag a bundle fills, by
// the piece it takes. Commands spell the same thing differently: the
// issuer's commands take the manifest as --election, witness serve the
// board's key as --log.
var bundleFlagUses = map[string]bundleUse{
	"manifest":  useManifest,
	"election":  useManifest,
	"board-key": useBoardKey,
	"log":       useBoardKey,
	"ca-cert":   useCA,
	"board":     useBoard,
	"issuer":    useIssuer,
	"witness":   useWitnesses,
}

// bundleNotFor are flags of those names that mean something else in one
// command, which the bundle leaves alone, with why.
var bundleNotFor = map[string]string{
	"evote issuer serve --ca-cert":  "the SMTP server's CA, not the deployment's",
	"evote issuer invite --ca-cert": "the SMTP server's CA, not the deployment's",
	"evote booth build --board":     "the board as voters' browsers reach it; left out, the booth calls its own origin, as board serve --booth requires",
}

// bundleSkipsCommand: commands a bundle does not fill (election bundle
// makes one from the very flags it would fill).
func bundleSkipsCommand(c *cobra.Command) bool {
	return c.CommandPath() == "evote election bundle"
}

// addBundle adds the root flag --bundle (and EVOTE_BUNDLE), which fills
// every command's unset election flags from a bundle, and the command that
// writes one, evote election bundle.
func addBundle(root *cobra.Command, g *globals) {
	var path string
	root.PersistentFlags().StringVar(&path, "bundle", "", "the election bundle `FILE` (evote election bundle; or set EVOTE_BUNDLE): fills every unset flag naming the manifest, the board's key, the CA, and the board's, issuer's and witnesses' addresses")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if path == "" {
			path = os.Getenv("EVOTE_BUNDLE")
		}
		return applyBundle(c, path)
	}
	for _, c := range root.Commands() {
		if c.Name() == "election" {
			c.AddCommand(electionBundleCmd(g))
		}
	}
}

// bundleTargets are the flags of c a bundle may fill.
func bundleTargets(c *cobra.Command) []*pflag.Flag {
	if bundleSkipsCommand(c) {
		return nil
	}
	var fs []*pflag.Flag
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := bundleFlagUses[f.Name]; !ok {
			return
		}
		if _, skip := bundleNotFor[c.CommandPath()+" --"+f.Name]; skip {
			return
		}
		fs = append(fs, f)
	})
	return fs
}

// applyBundle fills c's unset election flags from the bundle at path (none
// when path is empty). A flag given wins, but a manifest given that is not
// the bundle's is refused: the two name different elections.
func applyBundle(c *cobra.Command, path string) error {
	targets := bundleTargets(c)
	if path == "" || len(targets) == 0 {
		return nil
	}
	raw, err := readBundleFile(path)
	if err != nil {
		return err
	}
	eb, err := parseBundle(raw)
	if err != nil {
		return fmt.Errorf("bundle %s is refused: %w; ask the election authority for its bundle again and check its SHA-256", path, err)
	}
	sum := sha256.Sum256(raw)
	var dir string // the pieces written as files, made at most once
	fileOf := func(name string, data []byte) (string, error) {
		if dir == "" {
			d, err := bundleDir(sum)
			if err != nil {
				return "", err
			}
			dir = d
		}
		p := filepath.Join(dir, name)
		return p, writeIfChanged(p, data)
	}
	// Every manifest given is checked before anything is filled or
	// written.
	for _, f := range targets {
		if f.Changed && bundleFlagUses[f.Name] == useManifest {
			if err := sameManifest(f, eb, path); err != nil {
				return err
			}
		}
	}
	for _, f := range targets {
		if f.Changed {
			continue
		}
		use := bundleFlagUses[f.Name]
		var vals []string
		switch use {
		case useManifest:
			p, err := fileOf("manifest.json", eb.Manifest)
			if err != nil {
				return err
			}
			vals = []string{p}
		case useBoardKey:
			vals = []string{eb.BoardKey} // the flags take the key itself
		case useCA:
			if eb.CACert == "" {
				continue
			}
			p, err := fileOf("ca.pem", []byte(eb.CACert))
			if err != nil {
				return err
			}
			vals = []string{p}
		case useBoard:
			vals = []string{eb.Board}
		case useIssuer:
			vals = []string{eb.Issuer}
		case useWitnesses:
			vals = eb.Witnesses
		}
		for _, v := range vals {
			if err := c.Flags().Set(f.Name, v); err != nil {
				return fmt.Errorf("--%s from bundle %s: %w", f.Name, path, err)
			}
		}
	}
	return nil
}

// sameManifest refuses a manifest flag given beside a bundle of another
// election.
func sameManifest(f *pflag.Flag, eb *electionBundle, path string) error {
	h, err := ops.ManifestHash(f.Value.String())
	if err != nil {
		return usagef("--%s %s cannot be checked against bundle %s: %v", f.Name, f.Value, path, err)
	}
	if want := eb.manifest.Hash(); h != want {
		return usagef("--%s %s is election manifest %x, but bundle %s carries manifest %x: they are two elections; give the bundle alone, or the right one", f.Name, f.Value, h, path, want)
	}
	return nil
}

func readBundleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--bundle: %w", err)
	}
	defer f.Close()
	// One byte more than a bundle may hold, so that a larger file is
	// refused as larger, not read cut.
	b, err := io.ReadAll(io.LimitReader(f, maxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("--bundle %s: %w", path, err)
	}
	return b, nil
}

// bundleDir is the private directory a bundle's files are written to:
// UserCacheDir/evote/bundles/<the bundle's SHA-256>/, mode 0700, so that no
// other user can swap the manifest a command reads.
func bundleDir(sum [32]byte) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the bundle's files: %w (set XDG_CACHE_HOME or HOME)", err)
	}
	dir := filepath.Join(base, "evote", "bundles", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory; remove it", dir)
	}
	// Made by another user (a cache directory shared, or made beforehand),
	// it could have its files swapped between our write and our read.
	if !ownedByMe(fi) {
		return "", fmt.Errorf("%s belongs to another user, who could swap the bundle's files in it; remove it, or give this user a cache directory of its own (XDG_CACHE_HOME)", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// writeIfChanged writes data to path unless it holds exactly data already,
// replacing it whole (a temporary file renamed), so that a reader never
// sees half a manifest and a changed copy is put right.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
