// Package booth builds and serves the voting booth: the voter's page in the
// browser, made of static files that any web server can host.
//
// The booth is the voter client of package voter compiled to WebAssembly
// (booth/wasm) and run in a Web Worker, under a page that shows the
// election's questions, checks the voter's choices as they are made, and
// walks the voter through token, encryption, cast or audit, and receipt.
// What the browser runs is the code `evote vote` runs and the tests check.
//
// # What is pinned, and how
//
// Build writes the booth for one election. Its configuration
// (boothapi.Config: the election's id and manifest hash, the board's key,
// the services' addresses) is written into index.html itself, and so is the
// Subresource Integrity digest of every other file: the page loads its
// script and style with integrity attributes, and the script fetches the
// worker, the WebAssembly module and the catalogues with fetch's integrity
// option, refusing any byte that differs. The page's own SHA-256 therefore
// fixes everything the voter's browser runs. Build is reproducible (the
// same source, Go version and configuration give the same bytes) and
// reports every file's SHA-256, so anyone can rebuild the booth and compare
// what their browser got.
//
// The board's key and the manifest hash are never taken from the board: a
// board that serves another election, or an election key the trustees did
// not make, is refused by the worker (voter.Client.Election).
//
// The page runs under a strict Content-Security-Policy, in a meta element
// so that it holds on any static host, and in a header where Handler
// serves it: scripts only from the booth's own origin (plus WebAssembly
// compilation), no inline script, connections only to the booth's origin
// and the two services, no third-party origin at all.
//
// # The invitation link
//
// A voter's link is the booth's address with a fragment (Link): the
// election id, the voter id and, if the invitation carries it, the
// enrolment code. A fragment is never sent in a request line, so neither
// the code nor the voter's id reaches any server's log; the page removes
// the code from the address bar as soon as it has read it. SPEC.md §10.3
// defines the link.
//
// # Nothing lost
//
// Before every step that talks to a service the page saves the voter's
// ticket (voter.Ticket) in the browser's local storage, and on load it
// resumes from the saved one: a closed tab or a dropped connection ends,
// once the voter comes back, with exactly one counted ballot and a checked
// receipt. The ticket is cleared once the receipt is checked; the receipt
// stays, for the check page.
//
// When the issuer asks for a second factor after the enrolment code, the
// saved step says so (which factor, where the code went, when it was sent
// and how many wrong tries it had), so a reopened tab comes back to the
// code's screen with the cool-down the issuer keeps. The enrolment code is
// never stored: a reopened tab asks for it again beside the one-time code.
package booth

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/booth/boothapi"
	"github.com/evote/evote/verify"
)

//go:embed static
var static embed.FS

// Module is the module whose source Build compiles.
const Module = "github.com/evote/evote"

// Options configure Build.
type Options struct {
	// Manifest is the election's published manifest, as published.
	Manifest []byte
	// BoardKey is the board's note verifier key.
	BoardKey string
	// Board and Issuer are the services' base URLs, as the voter's
	// browser reaches them; "" means the booth's own origin (the board
	// serving the booth, or a proxy in front of both).
	Board, Issuer string
	// Source is the root of the evote module's source the WebAssembly
	// module is compiled from; Go names the go command ("" means "go").
	Source, Go string
}

// File is one file of a built booth.
type File struct {
	Name   string // slash-separated, relative to the booth's directory
	Size   int
	Gzip   int    // its size gzipped, as a phone downloads it
	SHA256 string // hex
	data   []byte
}

// Booth is a built booth: its files, and the Go version that compiled it.
type Booth struct {
	Files     []File
	GoVersion string
}

// The booth's files besides index.html.
const (
	fileScript = "booth.js"
	fileStyle  = "style.css"
	fileWorker = "worker.js"
	fileWasm   = "booth.wasm"
)

// Locales are the catalogues a booth carries, the first the default.
var Locales = []string{"en", "it"}

// Build compiles the booth for one election. It runs the go command to
// compile booth/wasm for GOOS=js GOARCH=wasm with -trimpath, so the result
// depends only on the source, the Go version and o.
func Build(ctx context.Context, o Options) (*Booth, error) {
	m, err := ballot.ParseManifest(o.Manifest)
	if err != nil {
		return nil, fmt.Errorf("booth: the manifest: %w", err)
	}
	if _, err := verify.BoardKey(strings.TrimSpace(o.BoardKey)); err != nil {
		return nil, fmt.Errorf("booth: the board key: %w", err)
	}
	var origins []string
	for _, s := range []struct{ name, url string }{{"board", o.Board}, {"issuer", o.Issuer}} {
		if s.url == "" {
			continue
		}
		u, err := url.Parse(s.url)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("booth: the %s's address %q is not an http(s) URL such as https://%s.example.org", s.name, s.url, s.name)
		}
		origins = append(origins, u.Scheme+"://"+u.Host)
	}
	wasm, goVersion, err := CompileWASM(ctx, o.Source, o.Go, "./booth/wasm")
	if err != nil {
		return nil, err
	}
	execJS, err := goVersion.ExecJS()
	if err != nil {
		return nil, err
	}
	workerJS, err := static.ReadFile("static/worker.js")
	if err != nil {
		return nil, err
	}
	b := &Booth{GoVersion: goVersion.Version}
	add := func(name string, data []byte) string {
		b.Files = append(b.Files, newFile(name, data))
		return sri(data)
	}
	h := m.Hash()
	cfg := boothapi.Config{
		Version: 1, ElectionID: hex.EncodeToString(m.ID()), Title: m.Title, Opens: m.Opens, Closes: m.Closes,
		ManifestHash: hex.EncodeToString(h[:]), BoardKey: strings.TrimSpace(o.BoardKey),
		Board: strings.TrimRight(o.Board, "/"), Issuer: strings.TrimRight(o.Issuer, "/"),
		Files: map[string]string{},
	}
	// The worker is Go's loader followed by the booth's message loop: one
	// file, fetched with its digest checked and started from a blob.
	cfg.Files[fileWorker] = add(fileWorker, slices.Concat(execJS, []byte("\n"), workerJS))
	cfg.Files[fileWasm] = add(fileWasm, wasm)
	for _, l := range Locales {
		data, err := static.ReadFile("static/locales/" + l + ".json")
		if err != nil {
			return nil, err
		}
		cfg.Files["locales/"+l+".json"] = add("locales/"+l+".json", data)
	}
	page := map[string]any{"Config": cfg, "Title": m.Title, "CSP": ContentSecurityPolicy(origins)}
	for _, f := range []struct{ key, name string }{{"ScriptSRI", fileScript}, {"StyleSRI", fileStyle}} {
		data, err := static.ReadFile("static/" + f.name)
		if err != nil {
			return nil, err
		}
		page[f.key] = add(f.name, data)
	}
	var index bytes.Buffer
	if err := indexTemplate.Execute(&index, page); err != nil {
		return nil, err
	}
	b.Files = append([]File{newFile("index.html", index.Bytes())}, b.Files...)
	return b, nil
}

var indexTemplate = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"json": func(v any) (template.JS, error) {
		// encoding/json escapes <, > and & in strings, so the data block
		// can hold no "</script>".
		b, err := json.Marshal(v)
		return template.JS(b), err
	},
}).ParseFS(static, "static/index.html"))

// ContentSecurityPolicy is the booth's policy: its own origin and the
// services' (origins), nothing else.
func ContentSecurityPolicy(origins []string) string {
	connect := strings.Join(append([]string{"'self'"}, origins...), " ")
	return "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src blob:; " +
		"connect-src " + connect + "; style-src 'self'; img-src 'self' data:; " +
		"base-uri 'none'; form-action 'none'"
}

func newFile(name string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Name: name, Size: len(data), Gzip: len(gzipped(data)), SHA256: hex.EncodeToString(sum[:]), data: data}
}

// sri is a Subresource Integrity digest.
func sri(data []byte) string {
	sum := sha512.Sum384(data)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// gzipped compresses data deterministically (no name, no time).
func gzipped(data []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

// GoVersion is the Go toolchain that compiled a WebAssembly module.
type GoVersion struct {
	Version string // go env GOVERSION, such as "go1.25.1"
	Root    string // go env GOROOT
}

// ExecJS returns the toolchain's wasm_exec.js, the loader a module it
// compiled needs in the browser (it must match the compiler's version).
func (g GoVersion) ExecJS() ([]byte, error) {
	js, err := os.ReadFile(filepath.Join(g.Root, "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		return nil, fmt.Errorf("booth: Go's wasm_exec.js (the loader the WebAssembly module needs): %w", err)
	}
	return js, nil
}

// CompileWASM compiles the main package pkg (such as "./booth/wasm") of the
// evote module whose source is at src ("" means ".") for GOOS=js
// GOARCH=wasm, with -trimpath and no build id, so the module depends only
// on the source and the Go version; goCmd names the go command ("" means
// "go"). The booth and the in-browser verifier (package report/page) are
// both built with it.
func CompileWASM(ctx context.Context, src, goCmd, pkg string) ([]byte, GoVersion, error) {
	if goCmd == "" {
		goCmd = "go"
	}
	if src == "" {
		src = "."
	}
	var gi GoVersion
	if _, err := exec.LookPath(goCmd); err != nil {
		return nil, gi, fmt.Errorf("booth: compiling %s to WebAssembly needs the Go toolchain (%s) on the PATH: %w", pkg, goCmd, err)
	}
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil || !strings.HasPrefix(string(mod), "module "+Module+"\n") {
		return nil, gi, fmt.Errorf("booth: %s is not the root of the evote source (no go.mod of module %s there): run this in the evote checkout, or pass its directory (--src)", src, Module)
	}
	env := append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	out, err := goOutput(ctx, src, goCmd, env, "env", "GOVERSION", "GOROOT")
	if err != nil {
		return nil, gi, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return nil, gi, errors.New("booth: go env printed no GOVERSION and GOROOT")
	}
	gi = GoVersion{Version: lines[0], Root: lines[1]}
	dir, err := os.MkdirTemp("", "evote-wasm-")
	if err != nil {
		return nil, gi, err
	}
	defer os.RemoveAll(dir)
	wasm := filepath.Join(dir, "module.wasm")
	if _, err := goOutput(ctx, src, goCmd, env, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid=", "-o", wasm, pkg); err != nil {
		return nil, gi, err
	}
	data, err := os.ReadFile(wasm)
	return data, gi, err
}

func goOutput(ctx context.Context, dir, goCmd string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("booth: go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return out, nil
}

// Write writes the booth's files into dir, each with a gzipped copy
// (NAME.gz) for servers that send precompressed files, and SHA256SUMS
// (sha256sum -c reads it) listing the files.
func (b *Booth) Write(dir string) error {
	var sums bytes.Buffer
	for _, f := range b.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(p+".gz", gzipped(f.data), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums.Bytes(), 0o644)
}

// Data returns the named file's bytes.
func (b *Booth) Data(name string) []byte {
	for _, f := range b.Files {
		if f.Name == name {
			return f.data
		}
	}
	return nil
}

// configBlock finds the configuration in a built page.
var configBlock = regexp.MustCompile(`(?s)<script type="application/json" id="evote-config">(.*?)</script>`)

// ReadConfig reads the configuration of the booth built in fsys (its
// index.html), so that a server can check the booth is for its election.
func ReadConfig(fsys fs.FS) (*boothapi.Config, error) {
	page, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		return nil, fmt.Errorf("booth: no booth here (make one with evote booth build): %w", err)
	}
	m := configBlock.FindSubmatch(page)
	if m == nil {
		return nil, errors.New("booth: index.html holds no booth configuration: it is not a page evote booth build wrote")
	}
	var c boothapi.Config
	if err := json.Unmarshal(m[1], &c); err != nil || c.Version != 1 {
		return nil, fmt.Errorf("booth: index.html's configuration does not parse (version %d): %v", c.Version, err)
	}
	return &c, nil
}
