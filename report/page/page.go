// Package page builds the in-browser verifier: a static page that verifies
// an election's record in the reader's browser and shows its report, the
// same one `evote report` writes.
//
// The page is the verifier of package verify and the report of package
// report compiled to WebAssembly (report/wasm, with the booth's compiler,
// booth.CompileWASM) and run in a Web Worker. The reader drops a record
// file on the page or chooses it; the browser reads it from disk, the
// worker verifies it against the board key pinned in the page and writes
// the report, and the page shows it in a sandboxed frame that may run no
// script, with a link to save it. The file is never sent anywhere: the
// page may connect only to its own origin (for its own files), and asks
// nothing of it once loaded.
//
// # What is pinned
//
// As in the booth, the configuration (the board's note verifier key, and
// the election's manifest hash if given) is written into index.html, and
// so is the Subresource Integrity digest of every other file: the page
// loads its script and style with integrity attributes, and fetches the
// worker and the module with fetch's integrity option. The page's own
// SHA-256 therefore fixes everything the browser runs; Build is
// reproducible (the same source, Go version and options give the same
// bytes), so anyone can rebuild the page and compare.
//
// The page runs under a strict Content-Security-Policy in a meta element:
// scripts only from its own origin plus WebAssembly compilation, the
// worker from a blob the page made of the checked worker file,
// connections only to its own origin, styles from its own origin plus the
// report's one inline style (by its hash, report.StyleHash), no
// third-party origin at all.
package page

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evote/evote/booth"
	"github.com/evote/evote/report"
	"github.com/evote/evote/verify"
)

//go:embed static
var static embed.FS

// Options configure Build.
type Options struct {
	// BoardKey is the board's note verifier key, as the election
	// published it.
	BoardKey string
	// ManifestHash, if not zero, is the election's published manifest's
	// hash: a record of any other manifest fails.
	ManifestHash [32]byte
	// Source is the root of the evote module's source the WebAssembly
	// module is compiled from ("" means "."); Go names the go command
	// ("" means "go").
	Source, Go string
}

// Config is the page's configuration, in its index.html.
type Config struct {
	Version      int               `json:"version"`
	BoardKey     string            `json:"board_key"`
	ManifestHash string            `json:"manifest_hash,omitempty"` // hex
	Files        map[string]string `json:"files"`                   // name -> SRI digest
}

// File is one file of the page.
type File struct {
	Name   string
	SHA256 string // hex
	Data   []byte
}

// Page is a built verifier page.
type Page struct {
	Files     []File // index.html first
	GoVersion string
}

// Names of the page's files besides index.html.
const (
	FileScript = "verifier.js"
	FileStyle  = "style.css"
	FileWorker = "worker.js"
	FileWasm   = "verifier.wasm"
)

// Build compiles the verifier page.
func Build(ctx context.Context, o Options) (*Page, error) {
	key := strings.TrimSpace(o.BoardKey)
	if _, err := verify.BoardKey(key); err != nil {
		return nil, fmt.Errorf("page: the board key: %w", err)
	}
	wasm, gv, err := booth.CompileWASM(ctx, o.Source, o.Go, "./report/wasm")
	if err != nil {
		return nil, err
	}
	execJS, err := gv.ExecJS()
	if err != nil {
		return nil, err
	}
	p := &Page{GoVersion: gv.Version}
	cfg := Config{Version: 1, BoardKey: key, Files: map[string]string{}}
	if o.ManifestHash != ([32]byte{}) {
		cfg.ManifestHash = hex.EncodeToString(o.ManifestHash[:])
	}
	add := func(name string, data []byte) string {
		sum := sha256.Sum256(data)
		p.Files = append(p.Files, File{Name: name, SHA256: hex.EncodeToString(sum[:]), Data: data})
		return sri(data)
	}
	worker, err := static.ReadFile("static/" + FileWorker)
	if err != nil {
		return nil, err
	}
	// The worker is Go's loader followed by the message loop: one file,
	// fetched with its digest checked and started from a blob.
	cfg.Files[FileWorker] = add(FileWorker, slices.Concat(execJS, []byte("\n"), worker))
	cfg.Files[FileWasm] = add(FileWasm, wasm)
	data := map[string]any{"Config": cfg, "CSP": ContentSecurityPolicy}
	for _, f := range []struct{ key, name string }{{"ScriptSRI", FileScript}, {"StyleSRI", FileStyle}} {
		b, err := static.ReadFile("static/" + f.name)
		if err != nil {
			return nil, err
		}
		data[f.key] = add(f.name, b)
	}
	var index bytes.Buffer
	if err := indexTemplate.Execute(&index, data); err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	sum := sha256.Sum256(index.Bytes())
	p.Files = append([]File{{Name: "index.html", SHA256: hex.EncodeToString(sum[:]), Data: index.Bytes()}}, p.Files...)
	return p, nil
}

// ContentSecurityPolicy is the page's policy. The report shown in the
// page's frame inherits it, so its inline style is allowed by hash.
var ContentSecurityPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src blob:; " +
	"connect-src 'self'; style-src 'self' " + report.StyleHash + "; img-src 'self' data:; frame-src 'self' blob:; " +
	"base-uri 'none'; form-action 'none'"

var indexTemplate = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"json": func(v any) (template.JS, error) {
		// encoding/json escapes <, > and &, so the block holds no "</script>".
		b, err := json.Marshal(v)
		return template.JS(b), err
	},
}).ParseFS(static, "static/index.html"))

func sri(data []byte) string {
	sum := sha512.Sum384(data)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Write writes the page's files into dir, and SHA256SUMS (sha256sum -c
// reads it) listing them.
func (p *Page) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var sums bytes.Buffer
	for _, f := range p.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&sums, "%s  %s\n", f.SHA256, f.Name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums.Bytes(), 0o644)
}
