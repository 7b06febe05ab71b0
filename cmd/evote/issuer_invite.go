package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/evote/evote/internal/durable"
	"github.com/evote/evote/invite"
	"github.com/spf13/cobra"
)

func issuerInviteCmd(g *globals) *cobra.Command {
	var roll, contacts, boothURL, manifest string
	var sm smtpFlags
	var merge string
	var mergeFields bool
	var templates, state, failures string
	var resend, asJSON bool
	var coolDown time.Duration
	var maxSends int
	c := &cobra.Command{
		Use:   "invite",
		Short: "Send each voter their personal link and enrolment code by e-mail",
		Long: `invite sends each voter on the roll (--roll, "voter_id,enrolment_code") with an
e-mail address in the contacts (--contacts, "voter_id,email,phone,lang", as
"evote issuer import" writes them) their invitation: their personal link to the
booth (--booth, the link "evote booth link" makes, the code in its #fragment)
and their enrolment code, in their language (en, or else Italian).

Mail goes to a submission server (--smtp host:port, --from ADDR) over TLS:
--starttls (the default, port 587; a server that does not offer STARTTLS is
refused) or --tls (port 465); --insecure-plaintext only to a loopback address,
such as a local relay. --smtp-user and --smtp-password-file log in with AUTH
PLAIN; --ca-cert trusts a private CA. Or, instead of sending, --merge FILE
writes a mail-merge CSV (0600) for the organisation's own mailer:
voter_id,email,lang,subject,body, or with --merge-fields
voter_id,email,lang,link,code.

--templates DIR replaces the wording with DIR/it.txt and DIR/en.txt: a first
line "Subject: ...", then the body, text/template over {{.Title}},
{{.Link}}, {{.Code}}, {{.VoterID}} and {{.Booth}}; the body must carry
{{.Link}}. Without it, the built-in Italian and English texts are used.

--state FILE (0600) records, per voter, the sends the server accepted and the
last one's time. A voter already sent to is skipped; with --resend, voters
are sent again only if their last send is older than --cool-down and they
have had fewer than --max-sends. A failed send is not recorded: run again to
retry it. The state names voters: delete it with the roll and the contacts
after the election.

Nothing printed or logged names a voter, a code or a link: the summary
counts voters, and gives each SMTP error with how many voters got it.
--failures FILE (0600) lists the voters whose sending failed, with the error.
The exit code is 1 if any send failed.`,
		Example: `  evote issuer invite --roll roll.csv --contacts contacts.csv --manifest manifest.json \
      --booth https://vote.example.org/ --smtp smtp.example.org:587 --from elezioni@example.org \
      --smtp-user elezioni --smtp-password-file smtp.pass --state invite-state.json
  evote issuer invite ... --resend --cool-down 24h --max-sends 3
  evote issuer invite --roll roll.csv --contacts contacts.csv --manifest manifest.json \
      --booth https://vote.example.org/ --merge merge.csv`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case roll == "" || contacts == "" || boothURL == "" || manifest == "":
				return usagef("give --roll, --contacts, --booth and --manifest")
			case (sm.addr == "") == (merge == ""):
				return usagef("give either --smtp host:port (to send) or --merge FILE (to write a mail-merge file)")
			case merge != "" && (resend || sm.others()):
				return usagef("--merge writes a file and sends nothing: leave out --resend and the SMTP flags")
			case merge == "" && mergeFields:
				return usagef("--merge-fields goes with --merge FILE")
			case maxSends < 1 || coolDown < 0:
				return usagef("--max-sends must be at least 1 and --cool-down not negative")
			}
			if err := sm.check(); err != nil {
				return err
			}
			m, err := readManifestFile(manifest)
			if err != nil {
				return err
			}
			voters, err := readVoters(roll, contacts)
			if err != nil {
				return err
			}
			tm := invite.DefaultTemplates()
			if templates != "" {
				if tm, err = invite.LoadTemplates(templates); err != nil {
					return err
				}
			}
			logger := slog.New(slog.NewTextHandler(g.stderr, nil))
			o := invite.Options{
				Election:  invite.Election{ID: m.ElectionID, Title: m.Title, BoothURL: boothURL},
				Templates: tm, From: sm.from, Resend: resend, CoolDown: coolDown, MaxSends: maxSends, Logger: logger,
			}
			// One link is made before anything is sent or written, so a bad
			// --booth fails at once, as a usage error.
			for _, v := range voters[:min(1, len(voters))] {
				if _, err := tm.Render(o.Election, v); err != nil {
					return usageError{err}
				}
			}
			if merge != "" {
				format := invite.MergeMessages
				if mergeFields {
					format = invite.MergeFields
				}
				rep, err := invite.WriteMerge(merge, voters, format, o)
				if err != nil {
					return err
				}
				if asJSON {
					return json.NewEncoder(g.stdout).Encode(rep)
				}
				g.printf("wrote %s: %d invitations; %d voters with no e-mail. It holds every code: delete it once your mailer has sent\n", merge, rep.Written, rep.NoEmail)
				return nil
			}
			cfg, err := sm.config()
			if err != nil {
				return err
			}
			if o.State, err = invite.OpenState(state, m.ElectionID); err != nil {
				return err
			}
			snd, err := invite.DialSMTP(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer snd.Close()
			rep, sendErr := invite.Send(cmd.Context(), snd, voters, o)
			if rep == nil {
				return sendErr
			}
			if failures != "" && len(rep.Failures) > 0 {
				if err := writeFailures(failures, rep.Failures); err != nil {
					return err
				}
			}
			if asJSON {
				if err := json.NewEncoder(g.stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				printInviteReport(g, rep, maxSends)
			}
			switch {
			case sendErr != nil:
				return sendErr
			case rep.Failed > 0:
				return fmt.Errorf("%d invitations failed (not recorded as sent: run the same command again to retry them)", rep.Failed)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&roll, "roll", "", "the roll `CSV` (voter_id,enrolment_code)")
	f.StringVar(&contacts, "contacts", "", "the contacts `CSV` (voter_id,email,phone,lang)")
	f.StringVar(&boothURL, "booth", "", "the booth's address voters open, such as https://vote.example.org/")
	f.StringVar(&manifest, "manifest", "manifest.json", "the election manifest `FILE`")
	sm.add(c)
	f.StringVar(&merge, "merge", "", "write a mail-merge `FILE` instead of sending")
	f.BoolVar(&mergeFields, "merge-fields", false, "the merge file has link and code columns instead of subject and body")
	f.StringVar(&templates, "templates", "", "a `DIR` with it.txt and en.txt replacing the built-in texts")
	f.StringVar(&state, "state", "invite-state.json", "the `FILE` recording sends per voter")
	f.BoolVar(&resend, "resend", false, "send again to voters already sent to, within --cool-down and --max-sends")
	f.DurationVar(&coolDown, "cool-down", invite.DefaultCoolDown, "with --resend, skip voters sent to less than this long ago")
	f.IntVar(&maxSends, "max-sends", invite.DefaultMaxSends, "with --resend, skip voters sent to this many times")
	f.StringVar(&failures, "failures", "", "write the voters whose sending failed, with the error, to this `CSV` (0600)")
	f.BoolVar(&asJSON, "json", false, "print the counts as one JSON object")
	return c
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func readVoters(rollPath, contactsPath string) ([]invite.Voter, error) {
	rb, err := os.ReadFile(rollPath)
	if err != nil {
		return nil, err
	}
	defer clear(rb)
	r, err := invite.ReadRoll(bytes.NewReader(rb))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rollPath, err)
	}
	cb, err := os.ReadFile(contactsPath)
	if err != nil {
		return nil, err
	}
	cs, err := invite.ReadContacts(bytes.NewReader(cb))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", contactsPath, err)
	}
	v, err := invite.Join(r, cs)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", rollPath, contactsPath, err)
	}
	return v, nil
}

func writeFailures(path string, fs []invite.Failure) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"voter_id", "error"})
	for _, f := range fs {
		w.Write([]string{f.VoterID, f.Err})
	}
	w.Flush()
	return durable.WriteFile(path, b.Bytes(), true)
}

func printInviteReport(g *globals, r *invite.Report, maxSends int) {
	g.printf("%d voters: %d invitations sent, %d failed, %d with no e-mail\n", r.Voters, r.Sent, r.Failed, r.NoEmail)
	g.printf("skipped: %d already sent to, %d within the cool-down, %d at the limit of %d sends\n", r.SkippedAlreadySent, r.SkippedCoolDown, r.SkippedLimit, maxSends)
	errs := make([]string, 0, len(r.Errors))
	for e := range r.Errors {
		errs = append(errs, e)
	}
	sort.Strings(errs)
	for _, e := range errs {
		g.printf("  %d × %s\n", r.Errors[e], e)
	}
}
