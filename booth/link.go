package booth

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// An Invitation is what a voter's link carries (SPEC.md §10.3).
type Invitation struct {
	ElectionID string // 64 hex digits
	VoterID    string
	Code       string // the enrolment code; "" when the invitation gives it apart, to be typed
}

// Link is the voter's personal link: the booth's address with the
// invitation in its fragment, form-encoded as e (election id), v (voter id)
// and c (enrolment code). Browsers never send a fragment to a server.
func Link(boothURL string, inv Invitation) (string, error) {
	u, err := url.Parse(boothURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return "", fmt.Errorf("booth: the booth's address %q is not an http(s) URL without a fragment", boothURL)
	}
	if err := inv.check(); err != nil {
		return "", err
	}
	v := url.Values{"e": {inv.ElectionID}, "v": {inv.VoterID}}
	if inv.Code != "" {
		v.Set("c", inv.Code)
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String() + "#" + v.Encode(), nil
}

// ParseLink reads the invitation from a voter's link.
func ParseLink(link string) (*Invitation, error) {
	_, frag, ok := strings.Cut(link, "#")
	if !ok {
		return nil, errors.New("booth: the link has no #fragment: it is the booth's address, not a voter's invitation")
	}
	v, err := url.ParseQuery(frag)
	if err != nil {
		return nil, fmt.Errorf("booth: the link's fragment: %w", err)
	}
	for k, vs := range v {
		if k != "e" && k != "v" && k != "c" || len(vs) != 1 {
			return nil, fmt.Errorf("booth: the link's fragment has %q %d times; it carries e, v and c once each", k, len(vs))
		}
	}
	inv := &Invitation{ElectionID: v.Get("e"), VoterID: v.Get("v"), Code: v.Get("c")}
	return inv, inv.check()
}

func (inv Invitation) check() error {
	if b, err := hex.DecodeString(inv.ElectionID); err != nil || len(b) != 32 || strings.ToLower(inv.ElectionID) != inv.ElectionID {
		return errors.New("booth: the invitation's election id is not 64 lower-case hex digits")
	}
	if inv.VoterID == "" {
		return errors.New("booth: the invitation names no voter")
	}
	return nil
}
