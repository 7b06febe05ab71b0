package loadtest

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"github.com/evote/evote/internal/service"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
)

// Local is an issuer and an open board running in this process, both real
// HTTP servers on loopback, with a roll of eligible voters.
type Local struct {
	// Config casts the ballots of the first voters of the roll.
	Config
	// Election is the board's side, for the tally and the export.
	Election *sim.Election
	stops    []func()
	dir      string
}

// Stop shuts both services down and deletes their files.
func (l *Local) Stop() {
	for i := len(l.stops) - 1; i >= 0; i-- {
		l.stops[i]()
	}
	os.RemoveAll(l.dir)
}

// StartLocal starts a Local site whose Config casts ballots of the
// eligible voters' ballots over conns connections.
func StartLocal(ctx context.Context, eligible, ballots, conns int) (l *Local, err error) {
	if ballots > eligible {
		return nil, fmt.Errorf("loadtest: %d ballots from %d eligible voters", ballots, eligible)
	}
	l = &Local{}
	if l.dir, err = os.MkdirTemp("", "evote-loadtest-"); err != nil {
		return nil, err
	}
	dir := l.dir
	stops := &l.stops
	defer func() {
		if err != nil {
			l.Stop()
		}
	}()
	isk, err := token.GenerateKey(2048)
	if err != nil {
		return nil, err
	}
	e, err := sim.New(sim.Options{Dir: dir, Issuer: isk})
	if err != nil {
		return nil, err
	}
	l.Election = e
	*stops = append(*stops, func() { e.Close() })
	rollCSV, err := issuer.GenerateRoll(eligible)
	if err != nil {
		return nil, err
	}
	roll := issuer.NewMemRoll()
	if _, err := issuer.ImportRoll(ctx, roll, bytes.NewReader(rollCSV)); err != nil {
		return nil, err
	}
	is, err := issuer.New(issuer.Config{ElectionID: e.Board.Manifest().ID(), Key: isk, Roll: roll})
	if err != nil {
		return nil, err
	}
	isURL, err := serve(issuer.NewHandler(is, issuer.HandlerConfig{Limits: service.Limits{RatePerSecond: -1}}), stops)
	if err != nil {
		return nil, err
	}
	bURL, err := serve(board.NewHandler(e.Board, board.HandlerConfig{}), stops)
	if err != nil {
		return nil, err
	}
	recs, err := csv.NewReader(bytes.NewReader(rollCSV)).ReadAll()
	if err != nil {
		return nil, err
	}
	hc := HTTPClient(conns)
	l.Config = Config{Issuer: issuerapi.NewClient(isURL, hc), Board: boardapi.NewClient(bURL, hc), BoardURL: bURL, BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash(), Connections: conns}
	for _, r := range recs[1 : 1+ballots] {
		l.Voters = append(l.Voters, Voter{ID: r[0], Code: r[1]})
	}
	return l, nil
}

// serve starts h on a loopback port and returns its URL.
func serve(h http.Handler, stops *[]func()) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	*stops = append(*stops, func() { srv.Close() })
	return "http://" + l.Addr().String(), nil
}
