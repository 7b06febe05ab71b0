package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/service"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/witness"
	"github.com/evote/evote/witness/httpwitness"
	"golang.org/x/mod/sumdb/note"
)

// SiteOptions shape a Site: the election (Options), the voters on the roll
// and the roll they are kept in.
type SiteOptions struct {
	Options
	Voters int         // on the roll
	Roll   issuer.Roll // nil means an in-memory roll
	// Board configures the board's HTTP API; its AdminToken is set by the
	// site.
	Board board.HandlerConfig
	// Witnesses, if not 0, stands up that many witnesses (package
	// witness/httpwitness) on loopback, names them in the manifest with
	// quorum WitnessQuorum (0: all of them), and has the board gather
	// their cosignatures.
	Witnesses, WitnessQuorum int
	// Front, if set, is called once the issuer's and the board's
	// addresses are known and before either serves: it returns the
	// origins whose pages may call the issuer (CORS) and the handler the
	// board's address serves around the board's API (a booth beside it,
	// evote demo --booth; a test's fault injection).
	Front func(issuerURL, boardURL string, api http.Handler) (issuerOrigins []string, h http.Handler, err error)
}

// A Site is an election stood up in this process the way a deployment
// runs it: an issuer with a roll of fresh voters and a board, each an HTTP
// server on loopback, and the key ceremony among the trustees posted
// through the board's HTTP API and opened by its admin endpoint. The demo
// and the local load test stand up this one; New is the same election
// without the servers, for tests.
type Site struct {
	*Election
	Issuer *issuer.Issuer
	// RollCSV is the roll with its enrolment codes (voter_id,code), and
	// Voters the same as rows.
	RollCSV             []byte
	Voters              [][2]string
	IssuerURL, BoardURL string
	WitnessURLs         []string // the witnesses', when SiteOptions.Witnesses asked for some
	AdminToken          string
	stops               []func()
}

// StartSite stands up a site; Stop shuts it down.
func StartSite(ctx context.Context, o SiteOptions) (s *Site, err error) {
	var wkeys []string
	for i := range o.Witnesses {
		skey, vkey, err := witness.GenerateKey(nil, fmt.Sprintf("witness-%d.test", i+1))
		if err != nil {
			return nil, err
		}
		wkeys = append(wkeys, skey)
		o.Options.Witnesses = append(o.Options.Witnesses, vkey)
	}
	if o.Witnesses > 0 {
		o.Options.WitnessQuorum = o.WitnessQuorum
		if o.WitnessQuorum == 0 {
			o.Options.WitnessQuorum = o.Witnesses
		}
	}
	e, m, err := create(o.Options)
	if err != nil {
		return nil, err
	}
	s = &Site{Election: e, AdminToken: rand.Text()}
	s.stops = append(s.stops, func() { e.Close() })
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.RollCSV, err = issuer.GenerateRoll(o.Voters); err != nil {
		return nil, err
	}
	roll := o.Roll
	if roll == nil {
		roll = issuer.NewMemRoll()
	}
	if _, err := issuer.ImportRoll(ctx, roll, bytes.NewReader(s.RollCSV)); err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(s.RollCSV)).ReadAll()
	if err != nil {
		return nil, err
	}
	for _, r := range rows[1:] {
		s.Voters = append(s.Voters, [2]string{r[0], r[1]})
	}
	if s.Issuer, err = issuer.New(issuer.Config{ElectionID: m.ID(), Key: o.Issuer, Roll: roll}); err != nil {
		return nil, err
	}
	il, err := s.listen()
	if err != nil {
		return nil, err
	}
	bl, err := s.listen()
	if err != nil {
		return nil, err
	}
	s.IssuerURL, s.BoardURL = "http://"+il.Addr().String(), "http://"+bl.Addr().String()
	bc := o.Board
	bc.AdminToken = s.AdminToken
	if len(wkeys) > 0 {
		if bc.Cosigner, err = s.startWitnesses(ctx, o.Dir, wkeys, m); err != nil {
			return nil, err
		}
	}
	boardHandler := board.NewHandler(e.Board, bc)
	ic := issuer.HandlerConfig{Limits: service.Limits{RatePerSecond: -1}}
	if o.Front != nil {
		if ic.CORSOrigins, boardHandler, err = o.Front(s.IssuerURL, s.BoardURL, boardHandler); err != nil {
			return nil, err
		}
	}
	s.serve(il, issuer.NewHandler(s.Issuer, ic))
	s.serve(bl, boardHandler)
	admin := s.Admin(nil)
	err = e.ceremony(ctx, m, func(ctx context.Context, body []byte) error {
		_, err := admin.PostCeremony(ctx, body)
		return err
	}, func(ctx context.Context) error {
		_, err := admin.Open(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Admin is a client of the site's board holding its admin token; hc nil
// means http.DefaultClient.
func (s *Site) Admin(hc *http.Client) *boardapi.Client {
	c := boardapi.NewClient(s.BoardURL, hc)
	c.AdminToken = s.AdminToken
	return c
}

// startWitnesses serves a witness of the board's log for each key, on
// loopback with its state under dir, and starts the board's cosigner of
// them.
func (s *Site) startWitnesses(ctx context.Context, dir string, skeys []string, m *ballot.Manifest) (*board.Cosigner, error) {
	var ws []board.Witness
	for i, skey := range skeys {
		signer, err := witness.NewSigner(skey)
		if err != nil {
			return nil, err
		}
		w, err := httpwitness.Open(filepath.Join(dir, fmt.Sprintf("witness-%d", i+1)), signer, []note.Verifier{s.Verifier})
		if err != nil {
			return nil, err
		}
		s.stops = append(s.stops, func() { w.Close() })
		l, err := s.listen()
		if err != nil {
			return nil, err
		}
		s.serve(l, w.Handler(httpwitness.HandlerConfig{}))
		u := "http://" + l.Addr().String()
		s.WitnessURLs = append(s.WitnessURLs, u)
		ws = append(ws, board.HTTPWitness(u, nil))
	}
	c := board.NewCosigner(s.Log, s.Verifier, ws, m.WitnessVerifiers(), m.WitnessQuorum, nil)
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { c.Run(cctx, 200*time.Millisecond); close(done) }()
	s.stops = append(s.stops, func() { cancel(); <-done })
	return c, nil
}

// listen takes a loopback port, closed by Stop.
func (s *Site) listen() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, func() { l.Close() })
	return l, nil
}

// serve serves h on l until Stop.
func (s *Site) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	s.stops = append(s.stops, func() { srv.Close() })
}

// Stop shuts the servers down and closes the log, the last started first.
func (s *Site) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}
