package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/report"
	"github.com/evote/evote/report/page"
	"github.com/evote/evote/verify"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
)

func reportCmd(g *globals) *cobra.Command {
	var boardKey, manifest, out string
	var cosigners []string
	c := &cobra.Command{
		Use:   "report RECORD",
		Short: "Verify an election record and write its report for people (HTML)",
		Long: `report verifies the election record as evote verify does (every check,
trusting no one) and writes the result as one self-contained HTML file, in
Italian and English: each question's result with a chart, the ballots
counted, the trustees who decrypted, the final checkpoint, every check the
verifier performed, and how to verify it oneself. The file runs no script and
fetches nothing; it prints well.

A record that does not verify gets a report that says so and shows no
result, and the command exits 1, as evote verify does. Give the election's
published manifest (--manifest, the file or its hash) so that the record is
checked to be of that election.

"evote report page" builds the in-browser verifier instead: a static page
that makes the same report from a record file the reader drops on it.`,
		Example: `  evote report record.evr --board-key board.vkey --manifest manifest.json --out report.html
  evote report page --board-key board.vkey --manifest manifest.json --out verifier/`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			key, err := ops.BoardKey(boardKey)
			if err != nil {
				return usageError{err}
			}
			if out == "" {
				return usagef("--out report.html is needed")
			}
			var pinned *[32]byte
			if manifest != "" {
				h, err := ops.ManifestHash(manifest)
				if err != nil {
					return usageError{err}
				}
				pinned = &h
			}
			f, err := os.Open(a[0])
			if err != nil {
				return err
			}
			defer f.Close()
			p := ops.NewProgress(g.stderr, g.showProgress(), "verifying", "bytes")
			rep, verr := verify.Record(bufio.NewReaderSize(f, 1<<20), key, verify.Options{Progress: p.Set})
			p.Done()
			var ve *verify.Error
			if verr != nil && !errors.As(verr, &ve) {
				return verr
			}
			if verr == nil && pinned != nil && !report.PinManifest(rep, *pinned) {
				verr = errors.New("its manifest is not the one given with --manifest")
			}
			var buf bytes.Buffer
			if err := report.Write(&buf, rep, report.Options{
				RecordName: filepath.Base(a[0]), BoardKey: keyForReader(boardKey), ManifestPinned: verr == nil && pinned != nil,
				Cosigners: cosigners,
			}); err != nil {
				return err
			}
			if err := writeFileAtomic(out, buf.Bytes()); err != nil {
				return err
			}
			if verr != nil {
				g.printf("verification FAILED: %d check(s) failed; wrote %s, a report that says so and shows no result\n", rep.Failures, out)
				return fmt.Errorf("the record does not verify: %w", verr)
			}
			if pinned == nil {
				g.printf("note: no --manifest given; compare the manifest hash in the report with the election's published one\n")
			}
			if rep.Result == nil {
				g.printf("the record verifies but has no result yet; wrote %s\n", out)
				return nil
			}
			g.printf("verified: %d entries, %d ballots (%d counted), %d checks, all hold; wrote %s\n", rep.Entries, rep.Ballots, rep.Counted, len(rep.Checks), out)
			return nil
		},
	}
	c.Flags().StringVar(&boardKey, "board-key", "", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	c.Flags().StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`, or its hash (64 hex digits): the record must be of it")
	c.Flags().StringVar(&out, "out", "", "the report's `FILE` (HTML)")
	c.Flags().StringArrayVar(&cosigners, "cosigner", nil, "a witness that cosigned the checkpoint, as the report names it (repeatable)")
	c.AddCommand(reportPageCmd(g))
	return c
}

func reportPageCmd(g *globals) *cobra.Command {
	var boardKey, manifest, out, src string
	c := &cobra.Command{
		Use:   "page --board-key K --out DIR",
		Short: "Build the in-browser verifier: a static page that makes the report from a dropped record",
		Long: `page builds the in-browser verifier for one election: static files (index.html,
its script and style, the worker with Go's loader, and the verifier compiled
to WebAssembly) that any web server can host. The reader drops the record
file on the page; the browser verifies it against the board key pinned in
the page and shows the report evote report writes. The file never leaves the
reader's browser.

The board key (and the manifest hash, with --manifest) is written into
index.html with the digest of every other file, so the page's own SHA-256
fixes what the browser runs; SHA256SUMS lists every file. Building compiles
the verifier with the Go toolchain and runs in the evote checkout (or give
--src).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out DIR is needed")
			}
			text, err := boardKeyText(boardKey)
			if err != nil {
				return usageError{err}
			}
			o := page.Options{BoardKey: text, Source: src}
			if manifest != "" {
				if o.ManifestHash, err = ops.ManifestHash(manifest); err != nil {
					return usageError{err}
				}
			}
			g.logf("compiling the verifier to WebAssembly (half a minute the first time)…\n")
			p, err := page.Build(cmd.Context(), o)
			if err != nil {
				return err
			}
			if err := p.Write(out); err != nil {
				return err
			}
			for _, f := range p.Files {
				g.printf("%s  %s\n", f.SHA256, f.Name)
			}
			g.printf("wrote the verifier page to %s (%s); host the directory as it is\n", out, p.GoVersion)
			return nil
		},
	}
	c.Flags().StringVar(&boardKey, "board-key", "", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	c.Flags().StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`, or its hash: a record of another election fails")
	c.Flags().StringVar(&out, "out", "", "the `DIR` to write the page's files into")
	c.Flags().StringVar(&src, "src", ".", "the evote source `DIR` the verifier is compiled from (needs the Go toolchain)")
	return c
}

// boardKeyText reads the board key's text: the file named s, or s itself.
func boardKeyText(s string) (string, error) {
	if _, err := ops.BoardKey(s); err != nil {
		return "", err
	}
	if b, err := os.ReadFile(s); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	return strings.TrimSpace(s), nil
}

// keyForReader is the board key as a reader of the report types it: the
// file's name (its directory is of no use to them), or the key.
func keyForReader(s string) string {
	if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() {
		return filepath.Base(s)
	}
	return strings.TrimSpace(s)
}

// writeFileAtomic writes data to name through a temporary file beside it,
// so a reader never sees half a report.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".report-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// boardReport is the board's report writer (board.HandlerConfig.Report):
// it verifies the board's record under the board's own verifier key, made
// from its signing key skey, and writes package report's page.
func boardReport(skey []byte) (func(io.Writer, io.Reader) error, error) {
	vkey, err := verifierKeyOf(skey)
	if err != nil {
		return nil, err
	}
	key, err := verify.BoardKey(vkey)
	if err != nil {
		return nil, err
	}
	return func(w io.Writer, r io.Reader) error {
		_, err := report.FromRecord(w, r, key, report.Options{RecordName: "record.evr", BoardKey: vkey})
		return err
	}, nil
}

// verifierKeyOf returns the note verifier key of the Ed25519 note signer
// key skey ("PRIVATE+KEY+name+hash+key", as note.GenerateKey makes it). It
// copies no secret byte it does not clear: the caller clears skey.
func verifierKeyOf(skey []byte) (string, error) {
	parts := bytes.SplitN(bytes.TrimSpace(skey), []byte("+"), 5)
	if len(parts) != 5 || string(parts[0]) != "PRIVATE" || string(parts[1]) != "KEY" {
		return "", errors.New("the board's key is not a note signer key (PRIVATE+KEY+name+hash+key)")
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(parts[4])))
	defer clear(raw)
	n, err := base64.StdEncoding.Decode(raw, parts[4])
	if err != nil || n != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("the board's key is not an Ed25519 note signer key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:n])
	defer clear(priv)
	vkey, err := note.NewEd25519VerifierKey(string(parts[2]), priv.Public().(ed25519.PublicKey))
	if err != nil {
		return "", err
	}
	// The verifier key made must be the one the signer names.
	if v, err := note.NewVerifier(vkey); err != nil || fmt.Sprintf("%08x", v.KeyHash()) != string(parts[3]) {
		return "", errors.New("the board's signer key's hash does not match its key")
	}
	return vkey, nil
}
