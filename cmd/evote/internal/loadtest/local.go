package loadtest

import (
	"context"
	"fmt"
	"os"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/sim"
	"github.com/evote/evote/issuer/issuerapi"
)

// Local is an issuer and an open board running in this process, both real
// HTTP servers on loopback, with a roll of eligible voters: sim's Site.
type Local struct {
	// Config casts the ballots of the first voters of the roll.
	Config
	// Election is the board's side, for the tally and the export.
	Election *sim.Election
	site     *sim.Site
	dir      string
}

// Stop shuts both services down and deletes their files.
func (l *Local) Stop() {
	if l.site != nil {
		l.site.Stop()
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
	defer func() {
		if err != nil {
			l.Stop()
		}
	}()
	isk, err := token.GenerateKey(2048)
	if err != nil {
		return nil, err
	}
	if l.site, err = sim.StartSite(ctx, sim.SiteOptions{Options: sim.Options{Dir: l.dir, Issuer: isk}, Voters: eligible}); err != nil {
		return nil, err
	}
	s := l.site
	l.Election = s.Election
	hc := HTTPClient(conns)
	l.Config = Config{Issuer: issuerapi.NewClient(s.IssuerURL, hc), Board: boardapi.NewClient(s.BoardURL, hc), BoardURL: s.BoardURL,
		BoardKey: s.Verifier, ManifestHash: s.Board.Manifest().Hash(), Connections: conns}
	for _, v := range s.Voters[:ballots] {
		l.Voters = append(l.Voters, Voter{ID: v[0], Code: v[1]})
	}
	return l, nil
}
