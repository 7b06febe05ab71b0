package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/booth"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/spf13/cobra"
)

func boothCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "booth",
		Short: "Build the voting booth for the browser, and voters' links",
	}
	c.AddCommand(boothBuildCmd(g), boothLinkCmd(g))
	return c
}

func boothBuildCmd(g *globals) *cobra.Command {
	var out, manifest, boardKey, boardURL, issuerURL, src string
	var asJSON bool
	c := &cobra.Command{
		Use:   "build",
		Short: "Build the booth's static files for one election",
		Long: `build writes the voting booth for one election into --out: an HTML page, the
voter client compiled to WebAssembly (run in a Web Worker), its loader, a
style sheet and the Italian and English catalogues. Any static web server
can host the directory; "evote board serve --booth DIR" serves it beside the
board's API.

The page carries the booth's configuration: the election's manifest hash and
the board's key (pinned here, never taken from the board), and the services'
addresses. It also carries the digest of every other file, and refuses any
that does not match, so the page's SHA-256 fixes everything a voter's
browser runs. The build is reproducible: the same evote source, Go version
and flags give the same bytes, so anyone can rebuild the booth and compare
the SHA-256 sums printed here (also written to DIR/SHA256SUMS) with what
their browser downloaded.

It compiles the WebAssembly module from the evote source, so it needs the Go
toolchain and runs in the evote checkout (or give --src).

--board and --issuer are the addresses voters' browsers reach; leave --board
out when the board serves the booth itself. The issuer must then allow the
booth's origin: evote issuer serve --cors-origin https://BOOTH-HOST.`,
		Example: `  evote booth build --out booth --manifest manifest.json --board-key board.vkey \
      --issuer https://issuer.example.org
  evote board serve ... --booth booth`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" || manifest == "" || boardKey == "" {
				return usagef("--out DIR, --manifest FILE and --board-key FILE are required")
			}
			mb, err := os.ReadFile(manifest)
			if err != nil {
				return usageError{err}
			}
			key := boardKey
			if b, err := os.ReadFile(boardKey); err == nil {
				key = string(b)
			}
			if issuerURL == "" {
				g.logf("no --issuer: the booth will ask its own origin for voting tokens (a proxy in front of both services); when the board serves the booth, give --issuer\n")
			}
			g.logf("compiling the voter client to WebAssembly (half a minute the first time)…\n")
			b, err := booth.Build(cmd.Context(), booth.Options{Manifest: mb, BoardKey: key, Board: boardURL, Issuer: issuerURL, Source: src})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			if err := b.Write(out); err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(map[string]any{"dir": out, "go": b.GoVersion, "files": b.Files})
			}
			var total, gz int
			g.printf("%-64s  %9s  %9s  %s\n", "SHA-256", "bytes", "gzipped", "file")
			for _, f := range b.Files {
				g.printf("%s  %9d  %9d  %s\n", f.SHA256, f.Size, f.Gzip, f.Name)
				total += f.Size
				gz += f.Gzip
			}
			g.printf("%-64s  %9d  %9d  in all (what a phone downloads: %.2f MB)\n", "", total, gz, float64(gz)/1e6)
			g.printf("\nbuilt with %s into %s (sums in %s)\n", b.GoVersion, out, filepath.Join(out, "SHA256SUMS"))
			g.printf("the booth reaches the board at %s and the issuer at %s\n", orOwn(boardURL), orOwn(issuerURL))
			g.printf("index.html's SHA-256 fixes every other file: the page refuses any file whose digest differs.\n")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "out", "", "write the booth into this `DIR`")
	f.StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`")
	f.StringVar(&boardKey, "board-key", "", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	f.StringVar(&boardURL, "board", "", "the board's `URL` as voters' browsers reach it (default: the booth's own origin)")
	f.StringVar(&issuerURL, "issuer", "", "the issuer's `URL` as voters' browsers reach it (default: the booth's own origin)")
	f.StringVar(&src, "src", ".", "the evote source `DIR` to compile the voter client from")
	f.BoolVar(&asJSON, "json", false, "print the files and their sums as JSON")
	return c
}

func orOwn(u string) string {
	if u == "" {
		return "its own origin"
	}
	return u
}

func boothLinkCmd(g *globals) *cobra.Command {
	var boothURL, manifest, voterID, code string
	c := &cobra.Command{
		Use:   "link",
		Short: "Print a voter's personal link to the booth",
		Long: `link prints a voter's invitation link: the booth's address with the election,
the voter's ID and, if given, the enrolment code in its #fragment. Browsers
never send a fragment to a server, so neither the code nor the voter's ID
reaches any log; the booth removes the code from the address bar once read.
Without --code the voter types the code from the invitation.`,
		Example: `  evote booth link --booth https://vote.example.org/ --manifest manifest.json --voter-id m-00042 --code 7XQ2M-K9D4T-0HVB3-RWE8N`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if boothURL == "" || manifest == "" || voterID == "" {
				return usagef("--booth URL, --manifest FILE and --voter-id ID are required")
			}
			mb, err := os.ReadFile(manifest)
			if err != nil {
				return usageError{err}
			}
			m, err := ballot.ParseManifest(mb)
			if err != nil {
				return fmt.Errorf("%s: %w", manifest, err)
			}
			if code == "" {
				code = os.Getenv("EVOTE_CODE")
			}
			if code != "" {
				if _, err := issuerapi.NormalizeCode(code); err != nil {
					return usageError{fmt.Errorf("--code: %w", err)}
				}
			}
			l, err := booth.Link(boothURL, booth.Invitation{ElectionID: hex.EncodeToString(m.ID()), VoterID: voterID, Code: code})
			if err != nil {
				return usageError{err}
			}
			g.printf("%s\n", l)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&boothURL, "booth", "", "the booth's `URL`")
	f.StringVar(&manifest, "manifest", "", "the election's manifest `FILE`")
	f.StringVar(&voterID, "voter-id", "", "the voter's `ID` on the roll")
	f.StringVar(&code, "code", "", "the voter's enrolment `CODE` (or EVOTE_CODE); left out, the voter types it")
	return c
}
