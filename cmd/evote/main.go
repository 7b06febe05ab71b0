// Command evote runs an election with evote: the election authority's
// manifest and keys, the identity authority (issuer), the bulletin board,
// the trustees' key ceremony and decryption, voting, the tally, and the
// independent verification of an exported record.
//
// Run "evote help" for the command tree, "evote demo" for a whole election
// on this machine.
//
// Exit codes: 0 success, 1 failure (including a record that does not
// verify), 2 usage error, 3 the board could not be reached (evote monitor
// --once), 4 the issuer asks for a one-time code (evote vote without a
// terminal: run it again with --second-factor).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a mistake in how a command was called (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// run executes the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	cmd, _, _ := root.Find(args)
	if cmd == nil {
		cmd = root
	}
	if isUsage(err) {
		fmt.Fprintf(stderr, "evote: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return 2
	}
	fmt.Fprintf(stderr, "evote: %v\n", err)
	if hint := networkHint(err); hint != "" {
		fmt.Fprintf(stderr, "  %s\n", hint)
	}
	if code, ok := exitCode(err); ok {
		return code
	}
	return 1
}

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// Errors cobra makes itself, before any command runs.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "if any flags in the group"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// args wraps a cobra argument validator so its errors are usage errors.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// globals are the flags every command shares.
type globals struct {
	identity, passphraseFile string
	workFactor               int
	progress                 bool
	stdout, stderr           io.Writer
	command                  *cobra.Command  // the command running (noteCommands)
	asked                    *secret.Keyring // the passphrase typed at the terminal, once per command
}

// keyring is the key for secrets at rest: --identity, --passphrase-file or
// EVOTE_PASSPHRASE, for scripts; else, on a terminal, a passphrase typed
// there (twice when making a key); else a usage error saying how to give one.
func (g *globals) keyring() (*secret.Keyring, error) {
	k, err := secret.Load(g.identity, g.passphraseFile, "EVOTE_PASSPHRASE", g.workFactor)
	if errors.Is(err, secret.ErrNoKey) {
		if k, ok, err := g.askPassphrase(); ok {
			return k, err
		}
		return nil, usageError{err}
	}
	return k, err
}

// showProgress reports whether to draw progress bars: on a terminal, or
// when asked.
func (g *globals) showProgress() bool {
	if g.progress {
		return true
	}
	f, ok := g.stderr.(*os.File)
	return ok && ops.IsTerminal(f)
}

func (g *globals) printf(format string, a ...any) { fmt.Fprintf(g.stdout, format, a...) }
func (g *globals) logf(format string, a ...any)   { fmt.Fprintf(g.stderr, format, a...) }

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "evote",
		Short: "Run and verify a cryptographic election",
		Long: `evote runs an election whose result anyone can check.

An election has five roles, each with its own commands:

  election authority  evote election init, evote board open|close, evote tally
  issuer              evote issuer keygen|roll|serve|purge: checks who votes,
                      blind-signs one eligibility token per voter
  board               evote board keygen|serve: the public append-only log
  trustees            evote trustee init|deal|verify|answer|finalize|decrypt:
                      make the election key together, none ever holds it whole,
                      and any threshold of them decrypts the tally
  voters              evote vote, evote receipt check
  anyone              evote verify: re-checks the exported record, trusting no one

Secrets at rest (the issuer and board keys, trustee states and key shares) are
age-encrypted: give --passphrase-file FILE, set EVOTE_PASSPHRASE, or give
--identity FILE (an age identity file); with none of them, on a terminal,
evote asks for the passphrase (twice when making a key).

Commands a script calls take --json: one JSON object on stdout, its keys
listed in each command's help, diagnostics on stderr, the same exit codes.
"evote version" (or --version) says which build this is.

Start with "evote demo": a whole election on this machine in seconds.`,
		Example: `  evote demo --voters 100
  evote verify record.evr --board-key board.vkey`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion().String(),
	}
	root.SetVersionTemplate("{{.Version}}")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.identity, "identity", "", "age identity `FILE` that encrypts and decrypts secrets at rest (instead of a passphrase)")
	pf.StringVar(&g.passphraseFile, "passphrase-file", "", "`FILE` holding the passphrase for secrets at rest (or set EVOTE_PASSPHRASE)")
	pf.IntVar(&g.workFactor, "scrypt-work-factor", secret.DefaultWorkFactor, "scrypt work factor (log2 N) for new passphrase-encrypted files")
	pf.BoolVar(&g.progress, "progress", false, "draw progress bars on stderr even when it is not a terminal")
	root.AddCommand(
		electionCmd(g), issuerCmd(g), boardCmd(g), trusteeCmd(g),
		witnessCmd(g),
		voteCmd(g), auditCmd(g), receiptCmd(g), boothCmd(g), tallyCmd(g), verifyCmd(g), reportCmd(g), demoCmd(g),
		benchCmd(g), loadtestCmd(g),
		monitorCmd(g),
		versionCmd(g),
	)
	addBundle(root, g)
	noteCommands(root, g)
	return root
}

// boardFlags are the flags of a command that talks to the board.
type boardFlags struct {
	url, key, adminToken, adminTokenFile, caCert string
}

func (b *boardFlags) add(c *cobra.Command, admin, key bool) {
	c.Flags().StringVar(&b.url, "board", "", "the board's `URL`, such as https://board.example.org")
	c.Flags().StringVar(&b.caCert, "ca-cert", "", "trust only the CA certificate(s) in this PEM `FILE` for HTTPS to the board (and issuer), such as a self-signed deployment's")
	if key {
		c.Flags().StringVar(&b.key, "board-key", "", "the board's verifier key: a `FILE` such as board.vkey, or the key itself")
	}
	if admin {
		c.Flags().StringVar(&b.adminToken, "admin-token", "", "the board's admin `TOKEN` (or --admin-token-file, or EVOTE_ADMIN_TOKEN)")
		c.Flags().StringVar(&b.adminTokenFile, "admin-token-file", "", "`FILE` holding the board's admin token")
	}
}

func (b *boardFlags) client(admin bool) (*boardapi.Client, error) {
	if b.url == "" {
		return nil, usagef("--board URL is required")
	}
	hc, err := b.httpClient()
	if err != nil {
		return nil, err
	}
	c := boardapi.NewClient(strings.TrimRight(b.url, "/"), hc)
	if admin {
		tok, err := adminToken(b.adminToken, b.adminTokenFile)
		if err != nil {
			return nil, err
		}
		c.AdminToken = tok
	}
	return c, nil
}

// httpClient is the HTTP client for the board and the issuer: nil (the
// default) unless --ca-cert names a CA to trust.
func (b *boardFlags) httpClient() (*http.Client, error) {
	hc, err := ops.HTTPClient(b.caCert)
	if err != nil {
		return nil, usageError{fmt.Errorf("--ca-cert: %w", err)}
	}
	return hc, nil
}

// minAdminToken is the shortest admin token a service accepts: 16
// characters, as many bits as a stranger cannot guess (README makes one of
// 44: head -c 32 /dev/urandom | base64).
const minAdminToken = 16

// serviceAdminToken reads the admin token a service is to accept, from
// file, and refuses one short enough to guess.
func serviceAdminToken(file string) (string, error) {
	tok, err := adminToken("", file)
	if err != nil {
		return "", err
	}
	if len(tok) < minAdminToken {
		return "", fmt.Errorf("the admin token in %s is %d characters; a service accepts one of at least %d, random: make one with head -c 32 /dev/urandom | base64 > %s", file, len(tok), minAdminToken, file)
	}
	return tok, nil
}

func adminToken(tok, file string) (string, error) {
	switch {
	case tok != "":
		return tok, nil
	case file != "":
		if err := secret.CheckPrivate(file); err != nil {
			return "", err
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("%s is empty", file)
		}
		return t, nil
	case os.Getenv("EVOTE_ADMIN_TOKEN") != "":
		return os.Getenv("EVOTE_ADMIN_TOKEN"), nil
	}
	return "", usagef("the board's admin token is needed: --admin-token-file FILE, --admin-token TOKEN or EVOTE_ADMIN_TOKEN")
}
