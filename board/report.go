package board

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/report"
	"github.com/evote/evote/verify"
)

// PathReport is where the board serves the election's report for people
// (package report) once the result is in.
const PathReport = "/report.html"

// reportPage serves GET /report.html: the report made from the board's
// own export, verified as any reader would verify it, so the page the
// board shows is the page anyone makes from the record. Before the result
// entry it answers 404 with the API's JSON error. The page is built once
// for each log size (after the result nothing more is appended, so once in
// all) while other requests wait for it, and kept.
type reportPage struct {
	h   *handler
	key string // the board's note verifier key, for the report's verify command

	mu   sync.Mutex
	size uint64
	page []byte
}

func newReportPage(h *handler, key string) http.HandlerFunc {
	p := &reportPage{h: h, key: key}
	return p.serve
}

func (p *reportPage) serve(w http.ResponseWriter, r *http.Request) {
	if p.key == "" {
		p.h.refuse(w, boardapi.ErrNotFound, "this board serves no report: it was not given its verifier key")
		return
	}
	if _, ok, err := p.h.b.log.Lookup(keyResult); err != nil {
		p.h.fail(w, r, err)
		return
	} else if !ok {
		p.h.refuse(w, boardapi.ErrNotFound, "the report is published once the result is on the board")
		return
	}
	size, err := p.h.b.log.Size()
	if err != nil {
		p.h.fail(w, r, err)
		return
	}
	page, err := p.get(size)
	if err != nil {
		p.h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", report.ContentSecurityPolicy)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(page)
}

// get returns the page for a log of size entries, building it if the one
// kept is of another size.
func (p *reportPage) get(size uint64) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.page != nil && p.size == size {
		return p.page, nil
	}
	page, err := p.build()
	if err != nil {
		return nil, err
	}
	p.page, p.size = page, size
	return page, nil
}

// build verifies the board's export as it streams and writes its report.
func (p *reportPage) build() ([]byte, error) {
	v, err := verify.BoardKey(p.key)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(p.h.b.log.Export(pw)) }()
	rep, verr := verify.Record(pr, v, verify.Options{})
	pr.CloseWithError(io.ErrClosedPipe) // stop the export if verify stopped early
	var ve *verify.Error
	if verr != nil && !errors.As(verr, &ve) {
		return nil, verr
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, rep, report.Options{RecordName: "record.evr", BoardKey: p.key}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
