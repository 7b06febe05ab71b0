package main

import (
	"os"

	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/spf13/cobra"
)

// passphraseTerminal is where keyring asks for a passphrase when none is
// given: standard input, with the prompts on standard error, when both
// are terminals. Tests replace it.
var passphraseTerminal = func(g *globals) (secret.Terminal, bool) {
	return secret.OpenTerminal(os.Stdin, g.stderr)
}

// askPassphrase asks for the passphrase on a terminal, once per command:
// twice to confirm it when the command makes a key (a keygen command), once
// when it reads secrets. ok is false without a terminal.
func (g *globals) askPassphrase() (k *secret.Keyring, ok bool, err error) {
	if g.asked != nil {
		return g.asked, true, nil
	}
	t, ok := passphraseTerminal(g)
	if !ok {
		return nil, false, nil
	}
	what, making := "evote", false
	if g.command != nil {
		what, making = g.command.CommandPath(), g.command.Name() == "keygen"
	}
	k, err = secret.Ask(t, what, making, g.workFactor)
	if err != nil {
		return nil, true, err
	}
	g.asked = k
	return k, true, nil
}

// noteCommands has every command record itself in g when it runs, so that
// keyring knows whether it makes a key (its passphrase is asked twice).
func noteCommands(c *cobra.Command, g *globals) {
	for _, sub := range c.Commands() {
		noteCommands(sub, g)
	}
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, a []string) error {
			g.command = cmd
			return run(cmd, a)
		}
	}
}
