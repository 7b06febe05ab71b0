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
	"strings"
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
	// RollCSV, if set, is the roll to import (voter_id,enrolment_code, as
	// evote issuer import writes it) instead of Voters fresh voters.
	RollCSV []byte
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
	// SecondFactor and Sender set the issuer's second factor
	// (issuer.Config); Contacts gives each voter's contact, and nil with a
	// second factor gives voter ID "voter-000007" the e-mail address
	// voter-000007@voters.test and the phone +39 300 000 0007.
	SecondFactor string
	Sender       issuer.Sender
	Contacts     func(voterID string) issuer.Contact
	// Now is the issuer's clock (issuer.Config.Now); nil means time.Now.
	Now func() time.Time
}

// TestContact is the contact SiteOptions gives a voter by default.
func TestContact(voterID string) issuer.Contact {
	n := strings.TrimPrefix(voterID, "voter-")
	for len(n) < 4 {
		n = "0" + n
	}
	return issuer.Contact{Email: voterID + "@voters.test", Phone: "+39 300 000 " + n[len(n)-4:], Lang: "it"}
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
	if s.RollCSV = o.RollCSV; s.RollCSV == nil {
		if s.RollCSV, err = issuer.GenerateRoll(o.Voters); err != nil {
			return nil, err
		}
	}
	roll := o.Roll
	if roll == nil {
		roll = issuer.NewMemRoll()
	}
	if s.Issuer, err = issuer.New(issuer.Config{ElectionID: m.ID(), Key: o.Issuer, Roll: roll, SecondFactor: o.SecondFactor, Sender: o.Sender, Now: o.Now}); err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(s.RollCSV)).ReadAll()
	if err != nil {
		return nil, err
	}
	contacts := map[string]issuer.Contact{}
	for _, r := range rows[1:] {
		s.Voters = append(s.Voters, [2]string{r[0], r[1]})
		switch {
		case o.Contacts != nil:
			contacts[r[0]] = o.Contacts(r[0])
		case o.SecondFactor != "":
			contacts[r[0]] = TestContact(r[0])
		}
	}
	if _, err := s.Issuer.ImportRoll(ctx, bytes.NewReader(s.RollCSV), contacts); err != nil {
		return nil, err
	}
	e.counts = func(ctx context.Context) (uint64, uint64, error) {
		c, err := s.Issuer.Counts(ctx)
		return uint64(c.Eligible), uint64(c.Issued), err
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

// Close ends voting through the board's admin endpoint and, when the
// manifest names an issuance key, has the issuer state its roll's counts
// (eligible voters, tokens issued) on the board right after, as a
// deployment's issuer does once voting has closed (evote issuer statement,
// evote board issuance). It returns the close entry's index.
func (s *Site) Close(ctx context.Context) (uint64, error) {
	admin := s.Admin(nil)
	i, err := admin.Close(ctx)
	if err != nil {
		return 0, err
	}
	if s.Board.Manifest().Issuance() == nil {
		return i, nil
	}
	body, err := s.IssuanceStatement(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := admin.PostIssuance(ctx, body); err != nil {
		return 0, fmt.Errorf("sim: posting the issuer's statement: %w", err)
	}
	return i, nil
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
