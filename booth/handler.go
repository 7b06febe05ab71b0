package booth

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Handler serves a booth's directory (as Build.Write lays it out) with the
// headers a voter's page needs: the policy the page's meta element cannot
// set (frame-ancestors: no other site may frame the booth), no referrer, no
// sniffing, and revalidation on every load, so a rebuilt booth is never
// mixed with a cached one (the digests would refuse the mixture). A client
// that accepts gzip gets the precompressed copy where there is one.
func Handler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the booth is static: use GET", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" || strings.HasSuffix(r.URL.Path, "/") {
			name = path.Join(name, "index.html")
		}
		if strings.HasSuffix(name, ".gz") {
			http.NotFound(w, r)
			return
		}
		h.Add("Vary", "Accept-Encoding")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			if gz, err := fs.ReadFile(fsys, name+".gz"); err == nil {
				if ct := contentType(name); ct != "" {
					h.Set("Content-Type", ct)
				}
				h.Set("Content-Encoding", "gzip")
				w.Write(gz)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	case ".wasm":
		return "application/wasm"
	}
	return "application/octet-stream"
}

// Mount serves a service's API (paths under /v1/ and /tlog/, /healthz,
// /metrics and /report.html) beside a booth served at the root: `evote
// board serve --booth DIR`.
func Mount(api, booth http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/tlog/") || p == "/healthz" || p == "/metrics" || p == "/report.html" {
			api.ServeHTTP(w, r)
			return
		}
		booth.ServeHTTP(w, r)
	})
}
