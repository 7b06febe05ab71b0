package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
)

// exitSecondFactor is evote vote's exit code when the issuer wants a
// one-time code the command was not given (or was given a wrong one):
// run it again with --second-factor CODE. A script tells it from a
// failure (1) and a usage mistake (2).
const exitSecondFactor = 4

// The issuer's rules for a sent code (SPEC.md §11), as the command
// explains them; the issuer enforces them.
const (
	codeCoolDown = time.Minute // between two codes sent
	codeLifetime = "10 minutes"
	codeMaxWrong = 5
	// maxPrompts bounds the questions on a terminal: the issuer bounds
	// the codes it sends and the wrong tries, and an input that answers
	// forever (yes '') must not keep the command asking.
	maxPrompts = 20
)

// voteTerminal is where evote vote asks for a one-time code: standard
// input, when it and standard error are terminals; ok false otherwise,
// and then the command says where the code went and exits. Tests replace
// it.
var voteTerminal = func(g *globals) (in io.Reader, ok bool) {
	f, isFile := g.stderr.(*os.File)
	if !isFile || !ops.IsTerminal(f) || !ops.IsTerminal(os.Stdin) {
		return nil, false
	}
	return os.Stdin, true
}

// getToken gets the ticket's token with the enrolment code and, if the
// issuer asks for one, the second factor: second (--second-factor), or
// typed at the terminal. Every request sends the same blinded message (the
// ticket's seed gives it), so asking again, for a new code or with one,
// can never cost a second token. second is normalised
// (voter.NormalizeSecondFactor) or "".
func getToken(ctx context.Context, g *globals, vc *voter.Client, e *ballot.Election, t *voter.Ticket, path, code, second string) error {
	in, interactive := voteTerminal(g)
	var lines *bufio.Reader
	if interactive {
		lines = bufio.NewReader(in)
	}
	// lastSent is when the issuer last sent a code, as this run saw it, and
	// wrongs how many wrong tries that code had: it stands, and no new one
	// is sent, until a minute has passed or five tries voided it.
	var lastSent time.Time
	var wrongs int
	stands := func() bool { return !lastSent.IsZero() && time.Since(lastSent) < codeCoolDown && wrongs < codeMaxWrong }
	for prompts := 0; ; {
		err := vc.GetToken(ctx, e, t, code, second)
		if err == nil {
			return nil
		}
		var ie *issuerapi.Error
		if !errors.As(err, &ie) {
			return err
		}
		wrong := errors.Is(err, issuerapi.ErrBadSecondFactor)
		switch {
		case errors.Is(err, issuerapi.ErrSecondFactorRequired), wrong:
		case errors.Is(err, issuerapi.ErrNoSecondFactor):
			return fmt.Errorf("%w: the issuer confirms who votes with a one-time code, and has no e-mail address, phone number or authenticator app for voter %s. Call the election's help desk; the ticket %s keeps the progress", err, t.VoterID, path)
		case errors.Is(err, issuerapi.ErrTooManyCodes):
			return fmt.Errorf("%w: wait %s before asking for another, or call the election's help desk. A code already received may still work: run again with --second-factor CODE (the ticket %s keeps the progress)", err, waitFor(ie.RetryAfter, "an hour"), path)
		case errors.Is(err, issuerapi.ErrSendFailed):
			return fmt.Errorf("%w: the issuer could not send it; run the same command again in %s (the ticket %s keeps the progress). If it keeps failing, call the election's help desk", err, waitFor(ie.RetryAfter, "a minute"), path)
		default:
			return err
		}
		switch {
		case wrong:
			wrongs++
		case ie.Factor != issuerapi.FactorTOTP && !stands():
			lastSent, wrongs = time.Now(), 0 // the issuer sent a new code
		}
		if !interactive {
			return exitCodeError{secondFactorNeeded(ie, wrong, path), exitSecondFactor}
		}
		// Ask until what is typed can be a code, or is empty: a new code.
		if wrong {
			g.logf("That code is wrong or has expired (a code lasts %s; %d wrong tries void it).\n", codeLifetime, codeMaxWrong)
		} else {
			g.logf("%s.\n", capitalise(factorWhere(ie)))
		}
		for second = ""; ; {
			if prompts++; prompts > maxPrompts {
				return exitCodeError{secondFactorNeeded(ie, wrong, path), exitSecondFactor}
			}
			if ie.Factor == issuerapi.FactorTOTP {
				g.logf("Type the 6-digit code your authenticator app shows now: ")
			} else {
				g.logf("Type the code, or press Enter for a new one: ")
			}
			line, rerr := lines.ReadString('\n')
			if rerr != nil && line == "" { // the input ended: no code
				g.logf("\n")
				return exitCodeError{secondFactorNeeded(ie, wrong, path), exitSecondFactor}
			}
			line = strings.TrimSpace(line)
			if line == "" {
				if ie.Factor == issuerapi.FactorTOTP {
					continue
				}
				if wait := codeCoolDown - time.Since(lastSent); stands() {
					g.logf("A new code can be sent a minute after the last: wait %s, or type the code you have.\n", waitFor(wait.Round(time.Second), ""))
					continue
				}
				break // ask the issuer again without a code: it sends a new one
			}
			n, nerr := voter.NormalizeSecondFactor(line)
			if nerr != nil {
				g.logf("That is not a code: it is %d digits, such as 123456 (spaces and dashes do not matter).\n", voter.SecondFactorDigits)
				continue
			}
			second = n
			break
		}
	}
}

// secondFactorNeeded is the error of a run that cannot ask for the code:
// where the code went, and how to go on.
func secondFactorNeeded(ie *issuerapi.Error, wrong bool, path string) error {
	again := fmt.Sprintf("run the same command again with --second-factor CODE (the ticket %s keeps the progress)", path)
	if wrong {
		how := "run it without --second-factor for a new code, at most one a minute"
		if ie.Factor == issuerapi.FactorTOTP {
			how = "take the code your authenticator app shows now, and check the clock of the device it runs on"
		}
		return fmt.Errorf("the one-time code is wrong or has expired (%s): %s; or %s. A code lasts %s, and %d wrong tries void it", factorAsked(ie), again, how, codeLifetime, codeMaxWrong)
	}
	return fmt.Errorf("%s: %s", factorWhere(ie), again)
}

// factorAsked says which code the issuer asks for, and where codes go,
// without saying one was just sent: after a wrong code none was.
func factorAsked(ie *issuerapi.Error) string {
	switch ie.Factor {
	case issuerapi.FactorTOTP:
		return "the code of the authenticator app you enrolled"
	case issuerapi.FactorSMS:
		return "the code sent by text message to " + ie.SentTo
	}
	return "the code sent by e-mail to " + ie.SentTo
}

// factorWhere says which second factor the issuer asks for, and where it
// sent the code.
func factorWhere(ie *issuerapi.Error) string {
	to := ie.SentTo
	if to == "" {
		to = "the address the issuer has for you"
	}
	switch ie.Factor {
	case issuerapi.FactorTOTP:
		return "the issuer asks for the 6-digit code of the authenticator app you enrolled"
	case issuerapi.FactorSMS:
		return fmt.Sprintf("a one-time code was sent by text message to %s (valid %s)", to, codeLifetime)
	}
	return fmt.Sprintf("a one-time code was sent by e-mail to %s (valid %s)", to, codeLifetime)
}

// waitFor says a wait; unknown (a wait of 0) says it when the issuer gave
// none.
func waitFor(d time.Duration, unknown string) string {
	switch {
	case d <= 0:
		return unknown
	case d < 90*time.Second && d%time.Minute != 0:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d <= time.Minute:
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
