package voter_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
)

// cutter is an HTTP transport that cuts the connection once, at the first
// request whose path has the given prefix: before the request reaches the
// service (the request is lost) or after the service answered (the reply
// is lost, though the service did the work).
type cutter struct {
	mu          sync.Mutex
	path        string
	afterServer bool
	done        bool
}

var errCut = errors.New("connection reset (cut by the test)")

func (c *cutter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	cut := !c.done && strings.HasPrefix(r.URL.Path, c.path)
	if cut {
		c.done = true
	}
	c.mu.Unlock()
	if cut && !c.afterServer {
		return nil, errCut
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if cut && err == nil {
		resp.Body.Close()
		return nil, errCut
	}
	return resp, err
}

// TestResumeAfterCut cuts the connection at every step of voting (each
// request lost, and each reply lost after the service acted: the issuer
// signed, the ballot became durable), as a phone losing its network would.
// After each cut the device "restarts": a new client resumes from the
// ticket as it was saved before the step. Each voter ends with exactly one
// ballot on the board, counted, and a receipt that checks.
func TestResumeAfterCut(t *testing.T) {
	cuts := []struct {
		name  string
		path  string
		after bool
	}{
		{"token request lost", issuerapi.PathToken, false},
		{"token reply lost after the issuer signed", issuerapi.PathToken, true},
		{"ballot lost", boardapi.PathBallots, false},
		{"receipt lost after the ballot is durable", boardapi.PathBallots, true},
	}
	s := newSetupOf(t, len(cuts), electiontest.Options{})
	ctx := context.Background()
	for i, cut := range cuts {
		id, code := s.codes[i][0], s.codes[i][1]
		client := func(rt http.RoundTripper) *voter.Client {
			hc := &http.Client{Transport: rt}
			return &voter.Client{Issuer: issuerapi.NewClient(s.issuerURL, hc), Board: boardapi.NewClient(s.boardURL, hc),
				BoardKey: s.e.Verifier, ManifestHash: s.e.Board.Manifest().Hash()}
		}
		c := client(&cutter{path: cut.path, afterServer: cut.after})
		e, err := c.Election(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := voter.NewTicket(nil, e, id)
		if err != nil {
			t.Fatal(err)
		}
		saved := tk.Marshal()
		// Run the steps, saving the ticket after each; the first failure
		// is the cut. Then restart from what was saved.
		step := func(c *voter.Client) error {
			t.Helper()
			tk, err := voter.ParseTicket(saved)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.GetToken(ctx, e, tk, code, ""); err != nil {
				return err
			}
			saved = tk.Marshal()
			if tk.Ballot == "" {
				if err := c.Seal(e, tk, [][]int{{i % 2}}); err != nil {
					t.Fatal(err)
				}
				saved = tk.Marshal()
			}
			if _, err := c.CastTicket(ctx, e, tk); err != nil {
				return err
			}
			saved = tk.Marshal()
			return nil
		}
		if err := step(c); !errors.Is(err, errCut) {
			t.Fatalf("%s: the first run ended with %v, not the cut", cut.name, err)
		}
		if err := step(client(http.DefaultTransport)); err != nil {
			t.Fatalf("%s: resuming from the saved ticket: %v", cut.name, err)
		}
		tk, err = voter.ParseTicket(saved)
		if err != nil {
			t.Fatal(err)
		}
		if tk.Receipt == nil {
			t.Fatalf("%s: the ticket holds no receipt", cut.name)
		}
		if _, err := client(http.DefaultTransport).CheckReceipt(ctx, tk.Receipt); err != nil {
			t.Fatalf("%s: the receipt does not check: %v", cut.name, err)
		}
	}
	// Exactly one ballot per voter, each its own token key's: every voter
	// counted once.
	n, err := s.e.Log.Size()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int{}
	for i := uint64(0); i < n; i++ {
		leaf, err := s.e.Log.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		if store.EntryType(leaf[0]) == store.Ballot {
			b, err := ballot.Parse(s.e.Board.Election(), leaf[1:])
			if err != nil {
				t.Fatal(err)
			}
			keys[string(b.TokenKey.Bytes())]++
		}
	}
	if len(keys) != len(cuts) {
		t.Fatalf("%d token keys voted, want %d", len(keys), len(cuts))
	}
	for _, k := range keys {
		if k != 1 {
			t.Fatalf("a token key has %d ballots, want 1", k)
		}
	}
	res := s.e.Tally(t)
	if res.Ballots != uint64(len(cuts)) || res.Counts[0][0] != 2 || res.Counts[0][1] != 2 {
		t.Fatalf("tally %+v, want 4 ballots, 2 and 2", res)
	}
}

// TestRevoteWithTicket: under last-ballot-counts, the voter's saved ticket
// revotes under the same token (no second token is asked for), and only the
// last ballot counts. Under refuse, the same second ballot is refused.
func TestRevoteWithTicket(t *testing.T) {
	for _, policy := range []string{ballot.RevotingLastCounts, ballot.RevotingRefuse} {
		s := newSetupOf(t, 1, electiontest.Options{Revoting: policy})
		ctx := context.Background()
		e, err := s.client.Election(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tk, err := voter.NewTicket(nil, e, s.codes[0][0])
		if err != nil {
			t.Fatal(err)
		}
		if err := s.client.GetToken(ctx, e, tk, s.codes[0][1], ""); err != nil {
			t.Fatal(err)
		}
		if err := s.client.Seal(e, tk, [][]int{{0}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.CastTicket(ctx, e, tk); err != nil {
			t.Fatal(err)
		}
		if err := s.client.Seal(e, tk, [][]int{{1}}); err != nil {
			t.Fatal(err)
		}
		_, err = s.client.CastTicket(ctx, e, tk)
		if policy == ballot.RevotingRefuse {
			var ae *boardapi.Error
			if !errors.Is(err, boardapi.ErrAlreadyVoted) || errors.Is(err, boardapi.ErrBallotOnBoard) || !errors.As(err, &ae) || ae.StatusCode != http.StatusConflict {
				t.Fatalf("refuse: a second ballot got %v, want 409 %s", err, boardapi.CodeAlreadyVoted)
			}
			continue
		}
		if err != nil {
			t.Fatalf("revote: %v", err)
		}
		res := s.e.Tally(t)
		if res.Ballots != 1 || res.Counts[0][1] != 1 {
			t.Fatalf("revote: tally %+v, want the second ballot (no) only", res)
		}
	}
}

// TestTicketBlankAnswer: a question that may be left blank, left blank,
// saves as an empty list (not null) and the ticket parses again, as
// resuming needs.
func TestTicketBlankAnswer(t *testing.T) {
	blank := ballot.Question{ID: "extras", Text: "Any extras?", Choices: []string{"a", "b"}, Min: 0, Max: 2}
	e := electiontest.New(t, electiontest.Options{Questions: []ballot.Question{electiontest.YesNo, blank}})
	c := &voter.Client{Board: memBoard{e.Board}, Issuer: memIssuer{e.Issuer, e.Board.Manifest().ID()}, BoardKey: e.Verifier, ManifestHash: e.Board.Manifest().Hash()}
	el, err := c.Election(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tk := sealed(t, c, el, "voter-blank", [][]int{{0}, nil})
	back, err := voter.ParseTicket(tk.Marshal())
	if err != nil {
		t.Fatalf("a ticket with a blank answer does not parse again: %v\n%s", err, tk.Marshal())
	}
	if !back.SameChoices([][]int{{0}, {}}) {
		t.Errorf("choices %v", back.Choices)
	}
}
