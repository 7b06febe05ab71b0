package board

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"

	"github.com/evote/evote/board/boardapi"
)

// PathReport is where the board serves the election's report for people
// (package report) once the result is in.
const PathReport = "/report.html"

// reportPage serves GET /report.html: the page HandlerConfig.Report makes
// from the board's own export (evote board serve verifies it as any reader
// would and writes package report's page, so the page the board shows is
// the page anyone makes from the record). Before the result entry, and
// the issuer's statement when the manifest names its key, it answers 404
// with the API's JSON error. The page is built once
// for each log size (after the result nothing more is appended, so once in
// all) while other requests wait for it, and kept.
type reportPage struct {
	h     *handler
	write func(w io.Writer, record io.Reader) error

	mu   sync.Mutex
	size uint64
	page []byte
}

func newReportPage(h *handler, write func(io.Writer, io.Reader) error) http.HandlerFunc {
	p := &reportPage{h: h, write: write}
	return p.serve
}

func (p *reportPage) serve(w http.ResponseWriter, r *http.Request) {
	if p.write == nil {
		p.h.refuse(w, boardapi.ErrNotFound, "this board serves no report")
		return
	}
	if _, ok, err := p.h.b.log.Lookup(keyResult); err != nil {
		p.h.fail(w, r, err)
		return
	} else if !ok {
		p.h.refuse(w, boardapi.ErrNotFound, "the report is published once the result is on the board")
		return
	}
	// A record whose manifest names the issuer's statement key is
	// complete only with the statement (SPEC.md §8): before it, the page
	// would say the record does not verify.
	if p.h.b.manifest.Issuance() != nil {
		if _, ok, err := p.h.b.log.Lookup(keyIssuance); err != nil {
			p.h.fail(w, r, err)
			return
		} else if !ok {
			p.h.refuse(w, boardapi.ErrNotFound, "the report is published once the result and the issuer's counts are on the board")
			return
		}
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
	// The page carries its own policy, which allows its one style by
	// hash; this one, in force with it, forbids any script whatever the
	// page holds.
	w.Header().Set("Content-Security-Policy", reportPolicy)
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

// reportPolicy is the header policy of /report.html.
const reportPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// build streams the board's export into the page writer.
func (p *reportPage) build() ([]byte, error) {
	// The record as /v1/export gives it: with witnesses, ending with
	// their cosigned checkpoint, which the report's verification requires.
	cp, err := p.h.recordCheckpoint(context.Background())
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(p.h.exportAt(pw, cp)) }()
	var buf bytes.Buffer
	err = p.write(&buf, pr)
	pr.CloseWithError(io.ErrClosedPipe) // stop the export if the writer stopped early
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
