package main

// evote issuer helpdesk: the issuer's operator's commands for one voter.
// The issuer holds its roll exclusively while it runs, so these go through
// its admin API (issuer/admin.go), each logged there as an operator action
// with the voter's tag; invitations go out through package invite, with
// the state file and limits of evote issuer invite.

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func issuerHelpdeskCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "helpdesk",
		Short: "The help desk: a voter's state, unlock, a late member, an invitation again",
		Long: `helpdesk is what the issuer's operator does for one voter while the issuer
runs, through its admin API: start "evote issuer serve" with --admin-token-file
FILE and give the same file here with --issuer URL (and --ca-cert for a private
CA).

  show     what the issuer knows of the voter: on the roll or not, a token issued
           or not (never the token), wrong codes and the addresses that wait
           (never the addresses), the second factor and its masked contact, the
           one-time codes sent this hour, an authenticator app or not
  unlock   clear the voter's wrong codes and every address's wait
  add      add a late member, before the first token is issued; the fresh
           enrolment code is e-mailed as their invitation (--smtp ...) or shown once
  resend   send a voter their invitation again, within --cool-down and --max-sends
  tag      the voter's tag in the issuer's log

The issuer logs each as an "operator action" with the voter's tag, an HMAC of
the ID under the roll key, never the ID: find a voter's lines with
"evote issuer helpdesk tag --voter ID". Check who is asking before you act:
unlock and resend help whoever the voter is, or says they are.`,
	}
	c.AddCommand(helpdeskShowCmd(g), helpdeskUnlockCmd(g), helpdeskAddCmd(g), helpdeskResendCmd(g), helpdeskTagCmd(g))
	return c
}

// helpdeskFlags reach the issuer's admin API.
type helpdeskFlags struct {
	url, tokenFile, caCert, voter string
}

func (h *helpdeskFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&h.voter, "voter", "", "the voter's `ID`, in any spelling the roll's normalisation makes one")
	f.StringVar(&h.url, "issuer", "", "the issuer's `URL`, such as https://issuer.example.org")
	f.StringVar(&h.tokenFile, "admin-token-file", "", "`FILE` holding the issuer's admin token (the one evote issuer serve was given)")
	f.StringVar(&h.caCert, "ca-cert", "", "trust only the CA certificate(s) in this PEM `FILE` for HTTPS to the issuer")
}

// client checks the flags and returns the admin API's client.
func (h *helpdeskFlags) client() (*issuerapi.AdminClient, error) {
	switch {
	case h.voter == "":
		return nil, usagef("give the voter's ID: --voter ID")
	case h.url == "":
		return nil, usagef("give the issuer's address: --issuer URL")
	case h.tokenFile == "":
		return nil, usagef("give --admin-token-file FILE: the file holding the admin token evote issuer serve was started with")
	}
	tok, err := adminToken("", h.tokenFile)
	if err != nil {
		return nil, err
	}
	hc, err := ops.HTTPClient(h.caCert)
	if err != nil {
		return nil, usageError{fmt.Errorf("--ca-cert: %w", err)}
	}
	return issuerapi.NewAdminClient(strings.TrimRight(h.url, "/"), hc, tok), nil
}

// helpdeskErr says what to do about the admin API's refusals that need
// more than the issuer's words.
func helpdeskErr(err error) error {
	switch {
	case errors.Is(err, issuerapi.ErrNotFound):
		return fmt.Errorf("%w\n  the issuer's admin API is off: start evote issuer serve with --admin-token-file FILE, and give the same file here", err)
	case errors.Is(err, issuerapi.ErrUnauthorized):
		return fmt.Errorf("%w\n  --admin-token-file is not the file evote issuer serve was started with", err)
	}
	return err
}

func helpdeskShowCmd(g *globals) *cobra.Command {
	var hf helpdeskFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "show",
		Short: "Show what the issuer knows of one voter (never their token)",
		Long: `show prints what the running issuer knows of a voter: whether they are on the
roll, whether a token was issued to them (never the token or what was signed),
their wrong codes and the addresses that must wait and until when (never the
addresses), the second factor they will be asked for and where its codes go
(masked, as the voter sees it), the one-time codes sent this hour, and whether
an authenticator app is enrolled. It changes nothing. --json prints the
issuer's answer as it is.`,
		Example: `  evote issuer helpdesk show --voter SOC-1004 --issuer https://issuer.example.org \
      --admin-token-file issuer-admin.token`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := hf.client()
			if err != nil {
				return err
			}
			st, err := cl.Voter(cmd.Context(), hf.voter)
			if err != nil {
				return helpdeskErr(err)
			}
			if asJSON {
				return json.NewEncoder(g.stdout).Encode(st)
			}
			printVoterState(g, st)
			return nil
		},
	}
	hf.add(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print the voter's state as one JSON object")
	return c
}

// printVoterState writes a voter's state for a person at the help desk.
func printVoterState(g *globals, st *issuerapi.VoterState) {
	when := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05 MST") }
	if !st.OnRoll {
		g.printf("not on the roll (voter tag %s)\n", st.VoterTag)
		return
	}
	g.printf("on the roll (voter tag %s)\n", st.VoterTag)
	if st.TokenIssued {
		g.printf("  token: issued (the voter's device holds it; the issuer signs only that one again)\n")
	} else {
		g.printf("  token: not issued yet\n")
	}
	g.printf("  wrong codes: %d", st.WrongCodes)
	if n := len(st.Addresses); n > 0 {
		g.printf(", from %d address%s", n, map[bool]string{true: "", false: "es"}[n == 1])
	}
	g.printf("\n")
	for _, a := range st.Addresses {
		if a.WaitUntil != nil {
			g.printf("    one waits until %s (%d wrong codes, the last at %s)\n", when(*a.WaitUntil), a.WrongCodes, when(a.Last))
		} else {
			g.printf("    one need not wait (%d wrong codes, the last at %s)\n", a.WrongCodes, when(a.Last))
		}
	}
	switch {
	case st.SecondFactor == "":
		g.printf("  second factor: none\n")
	case st.SecondFactor == issuerapi.FactorTOTP:
		g.printf("  second factor: the authenticator app's code\n")
	case st.SentTo == "":
		g.printf("  second factor: %s, but none is registered: the issuer refuses this voter (no_second_factor) until one is; enrol an authenticator app (evote issuer totp)\n", st.SecondFactor)
	default:
		g.printf("  second factor: %s, codes go to %s\n", st.SecondFactor, st.SentTo)
	}
	if st.SecondFactor == issuerapi.FactorEmail || st.SecondFactor == issuerapi.FactorSMS {
		g.printf("  one-time codes sent this hour: %d of %d", st.CodesSent, issuer.OTPMaxSends)
		if st.WindowEnds != nil {
			g.printf(" (the hour ends %s)", when(*st.WindowEnds))
		}
		if st.CodeExpires != nil {
			g.printf("; the last is valid until %s", when(*st.CodeExpires))
		}
		g.printf("\n")
	}
	if st.TOTP {
		g.printf("  authenticator app: enrolled\n")
	} else {
		g.printf("  authenticator app: none\n")
	}
	var contacts []string
	if st.Email != "" {
		contacts = append(contacts, "e-mail "+st.Email)
	}
	if st.Phone != "" {
		contacts = append(contacts, "phone "+st.Phone)
	}
	if len(contacts) > 0 {
		g.printf("  contacts: %s\n", strings.Join(contacts, ", "))
	}
}

func helpdeskUnlockCmd(g *globals) *cobra.Command {
	var hf helpdeskFlags
	c := &cobra.Command{
		Use:   "unlock",
		Short: "Clear a voter's wrong codes and every address's wait",
		Long: `unlock clears the voter's count of wrong codes and the wait of every address
that sent wrong codes for them, so that their next code is tested at once.
Wrong codes never lock a voter out (their right code from their own address
passes whatever a stranger's address did); unlock is for a voter who typed
their code wrong too often themselves. Check who is asking first.`,
		Example: `  evote issuer helpdesk unlock --voter SOC-1004 --issuer https://issuer.example.org \
      --admin-token-file issuer-admin.token`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := hf.client()
			if err != nil {
				return err
			}
			st, err := cl.Unlock(cmd.Context(), hf.voter)
			if err != nil {
				return helpdeskErr(err)
			}
			g.printf("unlocked (voter tag %s): no wrong codes counted, no address waits\n", st.VoterTag)
			return nil
		},
	}
	hf.add(c)
	return c
}

// inviteFlags are the invitation's flags of add and resend, as evote
// issuer invite names them, but for the SMTP server's CA: --ca-cert here is
// the issuer's, so the server's is --smtp-ca-cert.
type inviteFlags struct {
	roll, contacts, booth, manifest, templates, state string
	sm                                                smtpFlags
	coolDown                                          time.Duration
	maxSends                                          int
}

func (f *inviteFlags) add(c *cobra.Command, withRoll bool) {
	fs := c.Flags()
	if withRoll {
		fs.StringVar(&f.roll, "roll", "", "the roll `CSV` the invitations were sent from (voter_id,enrolment_code)")
		fs.StringVar(&f.contacts, "contacts", "", "the contacts `CSV` (voter_id,email,phone,lang)")
		fs.DurationVar(&f.coolDown, "cool-down", invite.DefaultCoolDown, "send no invitation to a voter sent one less than this long ago")
		fs.IntVar(&f.maxSends, "max-sends", invite.DefaultMaxSends, "send no invitation to a voter sent this many")
	} else {
		// A late member's first invitation: the limits do not apply.
		f.coolDown, f.maxSends = invite.DefaultCoolDown, invite.DefaultMaxSends
	}
	fs.StringVar(&f.booth, "booth", "", "the booth's address voters open, such as https://vote.example.org/")
	fs.StringVar(&f.manifest, "manifest", "manifest.json", "the election manifest `FILE`")
	fs.StringVar(&f.templates, "templates", "", "a `DIR` with it.txt and en.txt replacing the built-in texts (as for evote issuer invite)")
	fs.StringVar(&f.state, "state", "invite-state.json", "the `FILE` recording sends per voter, evote issuer invite's")
	tmp := &cobra.Command{Use: "smtp"}
	f.sm.add(tmp)
	tmp.Flags().VisitAll(func(fl *pflag.Flag) {
		if fl.Name == "ca-cert" {
			fl.Name = "smtp-ca-cert"
			fl.Usage = "trust only the CA certificate(s) in this PEM `FILE` for the SMTP server (--ca-cert is the issuer's)"
		}
		fs.AddFlag(fl)
	})
}

// inviter is an SMTP connection and the options to send invitations with,
// made before the issuer is asked anything, so that a wrong flag, server
// or password stops a command before it adds a member whose code only the
// invitation would carry.
type inviter struct {
	snd *invite.SMTPSender
	o   invite.Options
}

func (f *inviteFlags) dial(ctx context.Context, g *globals, resend bool) (*inviter, error) {
	switch {
	case f.sm.addr == "":
		return nil, usagef("give the submission server: --smtp host:port and --from ADDR (and --smtp-user, --smtp-password-file, as for evote issuer invite)")
	case f.booth == "" || f.manifest == "":
		return nil, usagef("an invitation needs --booth URL and --manifest FILE, as for evote issuer invite")
	case f.maxSends < 1 || f.coolDown < 0:
		return nil, usagef("--max-sends must be at least 1 and --cool-down not negative")
	}
	if f.sm.caCert != "" {
		if _, err := ops.TLSConfig(f.sm.caCert); err != nil {
			return nil, usageError{fmt.Errorf("--smtp-ca-cert: %w", err)}
		}
	}
	m, err := readManifestFile(f.manifest)
	if err != nil {
		return nil, err
	}
	tm := invite.DefaultTemplates()
	if f.templates != "" {
		if tm, err = invite.LoadTemplates(f.templates); err != nil {
			return nil, err
		}
	}
	o := invite.Options{
		Election:  invite.Election{ID: m.ElectionID, Title: m.Title, BoothURL: f.booth},
		Templates: tm, From: f.sm.from, Resend: resend, CoolDown: f.coolDown, MaxSends: f.maxSends,
		Logger: slog.New(slog.NewTextHandler(g.stderr, nil)),
	}
	// A link made now: a bad --booth is a usage error before anything else.
	if _, err := tm.Render(o.Election, invite.Voter{ID: "x", Code: "00000-00000-00000-00000", Lang: invite.Languages[0]}); err != nil {
		return nil, usageError{err}
	}
	cfg, err := f.sm.config()
	if err != nil {
		return nil, err
	}
	if o.State, err = invite.OpenState(f.state, m.ElectionID); err != nil {
		return nil, err
	}
	snd, err := invite.DialSMTP(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &inviter{snd: snd, o: o}, nil
}

// send sends v their invitation within the limits and says what happened;
// an invitation not sent is an error saying why.
func (iv *inviter) send(ctx context.Context, g *globals, v invite.Voter) error {
	rep, err := invite.Send(ctx, iv.snd, []invite.Voter{v}, iv.o)
	if err != nil {
		return err
	}
	d, _ := iv.o.State.Get(v.ID)
	switch {
	case rep.Sent == 1:
		g.printf("invitation sent to %s (%d sent to this voter in all)\n", issuer.MaskContact(issuerapi.FactorEmail, v.Email), d.Sends)
		return nil
	case rep.NoEmail == 1:
		return errors.New("the contacts give this voter no e-mail address: add it to the contacts file, or hand the code over another way")
	case rep.SkippedLimit == 1:
		return fmt.Errorf("not sent: %d invitations went to this voter already, the limit of --max-sends %d", d.Sends, iv.o.MaxSends)
	case rep.SkippedCoolDown == 1:
		return fmt.Errorf("not sent: the last invitation went out at %s, less than --cool-down %s ago; try again after %s",
			d.Last.Local().Format("15:04:05 MST"), iv.o.CoolDown, d.Last.Add(iv.o.CoolDown).Local().Format("2006-01-02 15:04:05 MST"))
	case rep.Failed == 1:
		return fmt.Errorf("the send failed (nothing recorded; run the same command again): %s", rep.Failures[0].Err)
	}
	return fmt.Errorf("not sent: %+v", rep)
}

func (iv *inviter) close() { iv.snd.Close() }

// inviteLang is an invitation's language for a contact's lang, as
// invite.Join picks it.
func inviteLang(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	for _, x := range invite.Languages {
		if l == x || (x == "en" && l == "english") {
			return x
		}
	}
	return invite.Languages[0]
}

func helpdeskAddCmd(g *globals) *cobra.Command {
	var hf helpdeskFlags
	var inv inviteFlags
	var email, phone, lang string
	c := &cobra.Command{
		Use:   "add",
		Short: "Add a late member to the roll, before the first token is issued",
		Long: `add puts a late member on the running issuer's roll with a fresh enrolment
code and their contact (--email, --phone, --lang; the issuer's second factor's
contact is required), sealed in the roll as the imported ones are. The issuer
refuses, changing nothing, a voter ID on the roll already, and any add once it
has issued a token: it does not watch the board, so for it voting opened with
the first token, and the number of eligible voters must not change under the
voters' feet (turnout and the issuer's statement count it). Add late members
before voting opens.

The code is in the issuer's answer only; the roll keeps its hash. With the
invitation flags (--smtp, --from, --booth, --manifest, as for evote issuer
invite) it is e-mailed to --email as the member's invitation, recorded in the
invitation state file, and not printed; without them it is printed once, for
you to hand to the member alone. If the e-mail fails the code is printed too.`,
		Example: `  evote issuer helpdesk add --voter SOC-2001 --email lucia.verdi@example.it --lang it \
      --issuer https://issuer.example.org --admin-token-file issuer-admin.token \
      --booth https://vote.example.org/ --manifest manifest.json \
      --smtp smtp.example.org:587 --from elezioni@example.org \
      --smtp-user elezioni --smtp-password-file smtp.pass`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := hf.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var iv *inviter
			if inv.sm.addr != "" || inv.sm.others() || inv.booth != "" {
				if email == "" {
					return usagef("the invitation goes by e-mail: give --email ADDR")
				}
				if iv, err = inv.dial(ctx, g, false); err != nil {
					return err
				}
				defer iv.close()
			}
			out, err := cl.Add(ctx, issuerapi.AdminAddRequest{VoterID: hf.voter, Email: email, Phone: phone, Lang: lang})
			if err != nil {
				return helpdeskErr(err)
			}
			g.printf("added %s to the roll (voter tag %s)\n", out.VoterID, out.VoterTag)
			showCode := func() {
				g.printf("enrolment code, shown this once (the issuer keeps only its hash): %s\n", out.Code)
				g.logf("hand it to the member alone, with the booth's address; it is not stored anywhere in clear\n")
			}
			if iv == nil {
				showCode()
				return nil
			}
			if err := iv.send(ctx, g, invite.Voter{ID: out.VoterID, Code: out.Code, Email: strings.TrimSpace(email), Lang: inviteLang(lang)}); err != nil {
				showCode()
				return fmt.Errorf("the member is on the roll, but their invitation was not e-mailed: %w", err)
			}
			return nil
		},
	}
	hf.add(c)
	f := c.Flags()
	f.StringVar(&email, "email", "", "the member's e-mail `ADDR` (one-time codes and the invitation go there)")
	f.StringVar(&phone, "phone", "", "the member's phone `NUMBER` (one-time codes by SMS)")
	f.StringVar(&lang, "lang", "", "the member's language, such as it or en")
	inv.add(c, false)
	return c
}

func helpdeskResendCmd(g *globals) *cobra.Command {
	var hf helpdeskFlags
	var inv inviteFlags
	c := &cobra.Command{
		Use:   "resend",
		Short: "Send one voter their invitation again, within the cool-down and the sends allowed",
		Long: `resend sends one voter their invitation again, as evote issuer invite --resend
would send it to them alone: from the same roll and contacts files (--roll,
--contacts), through the same SMTP flags, recorded in the same state file
(--state), and only if their last invitation is older than --cool-down and
they have had fewer than --max-sends. The issuer is asked first, and logs it:
a voter not on its roll, or who has a token already (a new invitation cannot
help them), is refused. A late member added with helpdesk add is not in the
roll file: add e-mails their invitation.`,
		Example: `  evote issuer helpdesk resend --voter SOC-1004 --issuer https://issuer.example.org \
      --admin-token-file issuer-admin.token --roll roll.csv --contacts contacts.csv \
      --booth https://vote.example.org/ --manifest manifest.json --state invite-state.json \
      --smtp smtp.example.org:587 --from elezioni@example.org \
      --smtp-user elezioni --smtp-password-file smtp.pass`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := hf.client()
			if err != nil {
				return err
			}
			if inv.roll == "" || inv.contacts == "" {
				return usagef("give --roll and --contacts, the files the invitations were sent from")
			}
			want, err := issuer.NormalizeVoterID(hf.voter)
			if err != nil {
				return usageError{fmt.Errorf("--voter: %w", err)}
			}
			voters, err := readVoters(inv.roll, inv.contacts)
			if err != nil {
				return err
			}
			var v *invite.Voter
			for i := range voters {
				if id, err := issuer.NormalizeVoterID(voters[i].ID); err == nil && id == want {
					v = &voters[i]
				}
			}
			if v == nil {
				return fmt.Errorf("the voter is not in %s: check the ID (evote issuer helpdesk show); a late member's invitation is e-mailed by helpdesk add", inv.roll)
			}
			ctx := cmd.Context()
			iv, err := inv.dial(ctx, g, true)
			if err != nil {
				return err
			}
			defer iv.close()
			if _, err := cl.Resend(ctx, v.ID); err != nil {
				return helpdeskErr(err)
			}
			return iv.send(ctx, g, *v)
		},
	}
	hf.add(c)
	inv.add(c, true)
	return c
}

func helpdeskTagCmd(g *globals) *cobra.Command {
	var hf helpdeskFlags
	var key string
	c := &cobra.Command{
		Use:   "tag",
		Short: "Print a voter's tag in the issuer's log of operator actions",
		Long: `tag prints the voter's tag: the issuer's log names a voter in its operator
actions by it, never by their ID. Ask the running issuer (--issuer,
--admin-token-file) or compute it from the issuing key (--key, with its
passphrase; --issuer is then not asked), for a log read after the issuer
stopped. A tag is the same for every spelling of an ID that the roll's
normalisation makes one.`,
		Example: `  evote issuer helpdesk tag --voter SOC-1004 --key issuer.key
  grep "$(evote issuer helpdesk tag --voter SOC-1004 --key issuer.key)" issuer.log`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				cl, err := hf.client()
				if err != nil {
					return err
				}
				tag, err := cl.Tag(cmd.Context(), hf.voter)
				if err != nil {
					return helpdeskErr(err)
				}
				g.printf("%s\n", tag)
				return nil
			}
			switch {
			case hf.voter == "":
				return usagef("give the voter's ID: --voter ID")
			case hf.tokenFile != "":
				// Not --issuer: an election bundle fills it.
				return usagef("give either --key FILE or --admin-token-file FILE (with --issuer URL), not both")
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			plain, err := kr.ReadFile(key)
			if err != nil {
				return err
			}
			defer clear(plain)
			// The key's block; an election block may follow it (loadIssuerKey).
			block, _ := pem.Decode(plain)
			if block == nil {
				return fmt.Errorf("%s holds no PEM key", key)
			}
			sk, err := token.ParsePrivateKey(pem.EncodeToMemory(block))
			clear(block.Bytes)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			tag, err := issuer.VoterTag(sk, hf.voter)
			if err != nil {
				return usageError{fmt.Errorf("--voter: %w", err)}
			}
			g.printf("%s\n", tag)
			return nil
		},
	}
	hf.add(c)
	c.Flags().StringVar(&key, "key", "", "compute the tag from the issuer's private key `FILE` (age-encrypted) instead of asking the issuer")
	return c
}
