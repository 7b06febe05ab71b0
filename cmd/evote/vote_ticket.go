package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// defaultTicket is the ticket file of a voter ID: ticket-ID.json, with any
// character unsafe in a file name replaced.
func defaultTicket(voterID string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, voterID)
	return "ticket-" + strings.TrimLeft(safe, ".") + ".json"
}

// voteWithTicket runs the voting steps on the ticket at path, saving it
// before every step that talks to a service, so that running it again
// after any failure resumes: a lost token reply is asked again with the
// same blinded message, a lost ballot is sent again, a lost receipt is
// fetched. It returns the receipt and whether the ballot was cast before.
func voteWithTicket(ctx context.Context, g *globals, vc *voter.Client, e *ballot.Election, path, voterID, code, second string, sel [][]int) (*voter.Receipt, bool, error) {
	t, err := loadTicket(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if t, err = voter.NewTicket(nil, e, voterID); err != nil {
			return nil, false, err
		}
		if err := saveTicket(path, t, true); err != nil {
			return nil, false, err
		}
	case err != nil:
		return nil, false, err
	case t.VoterID != voterID:
		return nil, false, usagef("%s is voter %q's ticket, not %q's: give each voter their own --ticket", path, t.VoterID, voterID)
	default:
		g.logf("resuming from %s\n", path)
	}
	if t.Token == "" {
		if code == "" {
			return nil, false, usagef("the enrolment code is needed: --code CODE or EVOTE_CODE")
		}
		if err := getToken(ctx, g, vc, e, t, path, code, second); err != nil {
			switch {
			case errors.Is(err, issuerapi.ErrAlreadyIssued):
				return nil, false, fmt.Errorf("a token was already issued to voter %s for another request: the one from the device (or the ticket file) that first asked. Only that ticket can finish or change this vote; run evote vote there, with its ticket (%s here is not it)", voterID, path)
			case transient(err):
				return nil, false, fmt.Errorf("%w (the vote's state is saved in %s: run the same command again to resume)", err, path)
			}
			return nil, false, err
		}
		if err := saveTicket(path, t, false); err != nil {
			return nil, false, err
		}
	}
	again := false
	switch {
	case t.Ballot == "":
	case t.SameChoices(sel):
		again = t.Receipt != nil
	case t.Receipt == nil:
		return nil, false, usagef("an earlier run sent a ballot with other choices (%s) and got no receipt for it: run again with those choices to finish casting it", describeChoices(e.Manifest, t.Choices))
	case e.Manifest.Revoting != ballot.RevotingLastCounts:
		return nil, false, fmt.Errorf("you have voted (tracking code %s, with %s), and this election refuses a second ballot", t.Receipt.TrackingCode, describeChoices(e.Manifest, t.Choices))
	default:
		g.logf("revoting: a new ballot replaces the one cast with %s\n", describeChoices(e.Manifest, t.Choices))
		t.Ballot = ""
	}
	if t.Ballot == "" {
		if err := vc.Seal(e, t, sel); err != nil {
			return nil, false, err
		}
		if err := saveTicket(path, t, false); err != nil {
			return nil, false, err
		}
	}
	rc, err := vc.CastTicket(ctx, e, t)
	if err != nil {
		if transient(err) {
			return nil, false, fmt.Errorf("%w (the ballot is saved in %s: run the same command again to resume; it will not be cast twice)", err, path)
		}
		return nil, false, err
	}
	if err := saveTicket(path, t, false); err != nil {
		return nil, false, fmt.Errorf("the ballot is cast (tracking code %s), but saving %s failed: %w", rc.TrackingCode, path, err)
	}
	return rc, again, nil
}

// transient reports whether err may pass if the same step is tried again:
// the network, or a service that is busy or cannot write for now.
func transient(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, boardapi.ErrOverloaded) || errors.Is(err, boardapi.ErrRateLimited) || errors.Is(err, boardapi.ErrStorage) || errors.Is(err, boardapi.ErrInternal) ||
		errors.Is(err, issuerapi.ErrOverloaded) || errors.Is(err, issuerapi.ErrRateLimited) || errors.Is(err, issuerapi.ErrInternal)
}

func describeChoices(m *ballot.Manifest, sel [][]int) string {
	var parts []string
	for qi, cs := range sel {
		if qi >= len(m.Questions) {
			break
		}
		var names []string
		for _, c := range cs {
			if c >= 0 && c < len(m.Questions[qi].Choices) {
				names = append(names, m.Questions[qi].Choices[c])
			}
		}
		parts = append(parts, m.Questions[qi].ID+"="+strings.Join(names, ","))
	}
	return strings.Join(parts, " ")
}

func loadTicket(path string) (*voter.Ticket, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	if err := secret.CheckPrivate(path); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := voter.ParseTicket(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// saveTicket writes the ticket, readable by its owner only, durably
// before it replaces the old one. fresh refuses to replace any file.
func saveTicket(path string, t *voter.Ticket, fresh bool) error {
	return secret.WritePrivate(path, t.Marshal(), !fresh)
}

// saveReceipt writes rc to path; if path holds another receipt, it writes
// beside it instead (path with the tracking code's start before the
// extension), so that no receipt is overwritten. It returns where it wrote.
func saveReceipt(path string, rc *voter.Receipt) (string, error) {
	b := rc.Marshal()
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, b):
		return path, nil
	case err == nil:
		if prev, perr := voter.ParseReceipt(old); perr == nil && prev.TrackingCode == rc.TrackingCode {
			return path, nil // the same ballot's receipt, of an older checkpoint: still good
		}
		ext := filepath.Ext(path)
		path = strings.TrimSuffix(path, ext) + "-" + rc.TrackingCode[:min(12, len(rc.TrackingCode))] + ext
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	return path, writeNew(path, b, 0o644, true)
}
