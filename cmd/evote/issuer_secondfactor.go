package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/spf13/cobra"
)

// smtpFlags are the submission server's flags, shared by "issuer invite"
// (the invitations) and "issuer serve" (the one-time codes), so that both
// take the same names and the same TLS rules.
type smtpFlags struct {
	addr, from, user, passFile, caCert string
	useTLS, useStartTLS, plaintext     bool
}

func (s *smtpFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.addr, "smtp", "", "the submission server, `host:port`")
	f.StringVar(&s.from, "from", "", "the sender's e-mail `ADDR`")
	f.BoolVar(&s.useStartTLS, "starttls", false, "SMTP: connect in plaintext and require STARTTLS (the default)")
	f.BoolVar(&s.useTLS, "tls", false, "SMTP: TLS from the first byte (port 465)")
	f.BoolVar(&s.plaintext, "insecure-plaintext", false, "SMTP: no TLS: only to a loopback address")
	f.StringVar(&s.user, "smtp-user", "", "log in as `USER` (AUTH PLAIN)")
	f.StringVar(&s.passFile, "smtp-password-file", "", "the SMTP password, in this `FILE`")
	f.StringVar(&s.caCert, "ca-cert", "", "trust only the CA certificate(s) in this PEM `FILE` for the SMTP server")
}

// others reports whether any SMTP flag but --smtp is given.
func (s *smtpFlags) others() bool {
	return s.from != "" || s.user != "" || s.passFile != "" || s.caCert != "" || s.useTLS || s.useStartTLS || s.plaintext
}

// check is the usage rules of the flags among themselves.
func (s *smtpFlags) check() error {
	switch {
	case s.addr == "" && s.others():
		return usagef("--from, --starttls, --tls, --insecure-plaintext, --smtp-user, --smtp-password-file and --ca-cert are the SMTP server's: give --smtp host:port with them (HTTPS is --tls-cert and --tls-key)")
	case s.addr != "" && s.from == "":
		return usagef("--smtp needs --from ADDR, the sender's address")
	case btoi(s.useTLS)+btoi(s.useStartTLS)+btoi(s.plaintext) > 1:
		return usagef("give one of --starttls, --tls and --insecure-plaintext")
	case (s.user == "") != (s.passFile == ""):
		return usagef("--smtp-user and --smtp-password-file go together")
	}
	return nil
}

// config checks the flags and reads the password and the CA.
func (s *smtpFlags) config() (invite.SMTPConfig, error) {
	if err := s.check(); err != nil {
		return invite.SMTPConfig{}, err
	}
	cfg := invite.SMTPConfig{Addr: s.addr, Security: invite.StartTLS, User: s.user}
	if s.useTLS {
		cfg.Security = invite.ImplicitTLS
	}
	if s.plaintext {
		cfg.Security = invite.InsecurePlaintext
	}
	if s.passFile != "" {
		b, err := os.ReadFile(s.passFile)
		if err != nil {
			return cfg, err
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
		if cfg.Password == "" {
			return cfg, usagef("%s is empty: it holds the SMTP password", s.passFile)
		}
	}
	tc, err := ops.TLSConfig(s.caCert)
	if err != nil {
		return cfg, usageError{fmt.Errorf("--ca-cert: %w", err)}
	}
	if tc != nil {
		cfg.RootCAs = tc.RootCAs
	}
	return cfg, nil
}

// codeSMTPTimeout bounds each SMTP command of a one-time code: a voter is
// waiting for the answer, so a hung server fails fast (invite's 30 s suits
// a batch, not a person).
const codeSMTPTimeout = 10 * time.Second

// secondFactorFlags configure the issuer's second factor: which one, and
// how its one-time codes are sent.
type secondFactorFlags struct {
	factor    string
	smtp      smtpFlags
	webhook   string
	tokenFile string
	templates string
}

func (s *secondFactorFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&s.factor, "second-factor", "none", "ask voters, after the enrolment code, for a one-time code sent by e-mail or SMS: `none|email|sms`; a voter with an authenticator app enrolled is asked for its code whatever this says")
	s.smtp.add(c)
	f.StringVar(&s.webhook, "sms-webhook", "", "with --second-factor sms, the SMS provider's webhook `URL` (https; http only to loopback), POSTed {\"to\",\"text\",\"lang\"} as JSON")
	f.StringVar(&s.tokenFile, "sms-token-file", "", "with --sms-webhook, the `FILE` holding the provider's token, sent as Authorization: Bearer")
	f.StringVar(&s.templates, "code-templates", "", "a `DIR` whose code-it.txt, code-en.txt (e-mail: a Subject: line, then the body) and sms-it.txt, sms-en.txt replace the one-time code's built-in texts; each must carry {{.Code}} and may use {{.Minutes}}")
}

// sender returns the configured second factor (an issuerapi Factor
// constant, or "" for none) and the Sender of its codes. An e-mail sender
// is tried (connect, TLS, log in) before it is returned, so that a wrong
// server, certificate or password stops the issuer at its start.
func (s *secondFactorFlags) sender(g *globals) (factor string, snd issuer.Sender, err error) {
	sms := s.webhook != "" || s.tokenFile != ""
	mail := s.smtp.addr != "" || s.smtp.others()
	switch s.factor {
	case "none", "":
		switch {
		case mail:
			return "", nil, usagef("the SMTP flags send the one-time codes of --second-factor email: add it, or leave them out")
		case sms:
			return "", nil, usagef("--sms-webhook and --sms-token-file send the one-time codes of --second-factor sms: add it, or leave them out")
		case s.templates != "":
			return "", nil, usagef("--code-templates is the one-time code's wording: give --second-factor email or sms with it, or leave it out")
		}
		return "", nil, nil
	case issuerapi.FactorEmail, issuerapi.FactorSMS:
	default:
		return "", nil, usagef("--second-factor is none, email or sms, not %q", s.factor)
	}
	tm := invite.DefaultCodeTemplates()
	if s.templates != "" {
		if tm, err = invite.LoadCodeTemplates(s.templates); err != nil {
			return "", nil, usageError{err}
		}
	}
	if s.factor == issuerapi.FactorEmail {
		switch {
		case sms:
			return "", nil, usagef("--second-factor email sends codes over SMTP: leave out --sms-webhook and --sms-token-file")
		case s.smtp.addr == "":
			return "", nil, usagef("--second-factor email needs the submission server: give --smtp host:port and --from ADDR (and --smtp-user, --smtp-password-file as for \"evote issuer invite\")")
		}
		cfg, err := s.smtp.config()
		if err != nil {
			return "", nil, err
		}
		cfg.Timeout = codeSMTPTimeout
		m, err := invite.NewCodeMailer(cfg, s.smtp.from, tm)
		if err != nil {
			return "", nil, usageError{err}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*codeSMTPTimeout)
		defer cancel()
		if err := m.Check(ctx); err != nil {
			return "", nil, fmt.Errorf("--second-factor email: %w", err)
		}
		g.logf("second factor: one-time codes by e-mail from %s through %s\n", s.smtp.from, s.smtp.addr)
		return issuerapi.FactorEmail, m, nil
	}
	switch {
	case mail:
		return "", nil, usagef("--second-factor sms sends codes through --sms-webhook: leave out the SMTP flags")
	case s.webhook == "" || s.tokenFile == "":
		return "", nil, usagef("--second-factor sms needs --sms-webhook URL (the SMS provider's) and --sms-token-file FILE (its token)")
	}
	b, err := os.ReadFile(s.tokenFile)
	if err != nil {
		return "", nil, err
	}
	defer clear(b)
	token := strings.TrimRight(string(b), "\r\n")
	if token == "" {
		return "", nil, usagef("%s is empty: it holds the SMS provider's token", s.tokenFile)
	}
	w, err := invite.NewSMSWebhook(invite.SMSWebhookConfig{URL: s.webhook, Token: token, Templates: tm})
	if err != nil {
		return "", nil, usageError{fmt.Errorf("--sms-webhook: %w", err)}
	}
	g.logf("second factor: one-time codes by SMS through the webhook\n")
	return issuerapi.FactorSMS, w, nil
}
