package invite

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/evote/evote/internal/durable"
	"github.com/evote/evote/issuer/issuerapi"
)

// Defaults for resending.
const (
	DefaultCoolDown = time.Hour
	DefaultMaxSends = 3
)

// maxConnectFailures in a row stop a run: the server is down, and every
// further voter would wait out a timeout to fail the same way.
const maxConnectFailures = 5

// A Mailer sends one message; [*SMTPSender] is one.
type Mailer interface {
	Send(ctx context.Context, from, to string, msg []byte) error
}

// Options are how [Send] and [WriteMerge] run.
type Options struct {
	Election  Election
	Templates *Templates // nil: [DefaultTemplates]
	From      string     // the sender's address
	State     *State     // nil: in memory, nothing kept
	Resend    bool       // send again to voters already sent to, within the limits
	CoolDown  time.Duration
	MaxSends  int
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // progress, by counts only; nil: none
}

// A Report counts what a run did. It never holds a code or a link.
type Report struct {
	Voters             int            `json:"voters"`
	Sent               int            `json:"sent"`
	Written            int            `json:"written"` // to the merge file
	SkippedAlreadySent int            `json:"skipped_already_sent"`
	SkippedCoolDown    int            `json:"skipped_cool_down"`
	SkippedLimit       int            `json:"skipped_limit"`
	Failed             int            `json:"failed"`
	NoEmail            int            `json:"no_email"`
	Errors             map[string]int `json:"errors,omitempty"` // each failure's error, with how many voters got it
	// Failures names the voters whose sending failed; it is not in the
	// JSON, to be written only where the operator asks.
	Failures []Failure `json:"-"`
}

// A Failure is one voter's failed send.
type Failure struct{ VoterID, Err string }

func (o *Options) defaults() {
	if o.Templates == nil {
		o.Templates = DefaultTemplates()
	}
	if o.CoolDown == 0 {
		o.CoolDown = DefaultCoolDown
	}
	if o.MaxSends == 0 {
		o.MaxSends = DefaultMaxSends
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.State == nil {
		o.State, _ = OpenState("", o.Election.ID)
	}
}

// Send sends each voter with an e-mail address their invitation through m,
// within the resending limits, recording each send in o.State. A wrong
// password, a cancelled ctx or a server down for several voters in a row
// stops the run with an error, the report so far and the state written;
// a voter's message the server refuses is counted failed and the run goes
// on.
func Send(ctx context.Context, m Mailer, voters []Voter, o Options) (rep *Report, err error) {
	o.defaults()
	if err := checkAddress(o.From); err != nil {
		return nil, fmt.Errorf("invite: the sender %q: %v", o.From, err)
	}
	rep = &Report{Voters: len(voters), Errors: map[string]int{}}
	defer func() {
		if ferr := o.State.Flush(); ferr != nil && err == nil {
			err = ferr
		}
		o.Logger.Info("invite: done", rep.attrs()...)
	}()
	connectFails := 0
	for i, v := range voters {
		if i > 0 && i%100 == 0 {
			o.Logger.Info("invite: progress", append([]any{"done", i}, rep.attrs()...)...)
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if v.Email == "" {
			rep.NoEmail++
			continue
		}
		now := o.Now()
		if d, ok := o.State.Get(v.ID); ok {
			switch {
			case !o.Resend:
				rep.SkippedAlreadySent++
				continue
			case d.Sends >= o.MaxSends:
				rep.SkippedLimit++
				continue
			case now.Sub(d.Last) < o.CoolDown:
				rep.SkippedCoolDown++
				continue
			}
		}
		msg, err := o.Templates.Render(o.Election, v)
		if err != nil {
			return rep, err
		}
		raw, err := msg.MIME(o.From, now)
		if err != nil {
			return rep, err
		}
		err = m.Send(ctx, o.From, v.Email, raw)
		if err == nil {
			connectFails = 0
			rep.Sent++
			if err := o.State.record(v.ID, now); err != nil {
				return rep, err
			}
			continue
		}
		if errors.Is(err, ErrAuth) {
			return rep, err
		}
		text := scrub(err.Error(), msg)
		rep.Failed++
		rep.Errors[text]++
		rep.Failures = append(rep.Failures, Failure{VoterID: v.ID, Err: text})
		o.Logger.Warn("invite: a send failed", "error", text)
		if errors.Is(err, ErrConnect) {
			if connectFails++; connectFails >= maxConnectFailures {
				return rep, fmt.Errorf("invite: stopped after %d failures to connect in a row: %w", connectFails, err)
			}
		} else {
			connectFails = 0
		}
	}
	return rep, nil
}

func (r *Report) attrs() []any {
	return []any{"sent", r.Sent, "written", r.Written, "skipped_already_sent", r.SkippedAlreadySent,
		"skipped_cool_down", r.SkippedCoolDown, "skipped_limit", r.SkippedLimit, "failed", r.Failed, "no_email", r.NoEmail}
}

// scrub takes the message's code and link out of an error's text, in case
// a server echoes what it was sent.
func scrub(s string, m *Message) string {
	for _, secret := range []string{m.Link, m.Code} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	if norm, err := issuerapi.NormalizeCode(m.Code); err == nil && norm != "" {
		s = strings.ReplaceAll(s, norm, "[redacted]")
	}
	return s
}

// MergeFormat is the columns of a mail-merge file.
type MergeFormat int

const (
	// MergeMessages: voter_id,email,lang,subject,body, the message written
	// out from the templates.
	MergeMessages MergeFormat = iota
	// MergeFields: voter_id,email,lang,link,code, for the mailer's own
	// template.
	MergeFields
)

// WriteMerge writes, instead of sending, a mail-merge CSV at path (0600,
// refusing a file that exists) with one line for each voter with an e-mail
// address, for the organisation's own mailer. It holds every code: delete
// it once the mailer has sent. It neither reads nor writes the state: the
// file says nothing of what the mailer did.
func WriteMerge(path string, voters []Voter, format MergeFormat, o Options) (*Report, error) {
	o.defaults()
	rep := &Report{Voters: len(voters)}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"voter_id", "email", "lang", "subject", "body"}
	if format == MergeFields {
		head = []string{"voter_id", "email", "lang", "link", "code"}
	}
	w.Write(head)
	for _, v := range voters {
		if v.Email == "" {
			rep.NoEmail++
			continue
		}
		msg, err := o.Templates.Render(o.Election, v)
		if err != nil {
			return nil, err
		}
		rec := []string{v.ID, v.Email, v.Lang, msg.Subject, msg.Body}
		if format == MergeFields {
			rec = []string{v.ID, v.Email, v.Lang, msg.Link, msg.Code}
		}
		w.Write(rec)
		rep.Written++
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	if err := durable.WriteFile(path, buf.Bytes(), false); err != nil {
		return nil, fmt.Errorf("invite: writing the merge file: %w", err)
	}
	o.Logger.Info("invite: merge file written", rep.attrs()...)
	return rep, nil
}
