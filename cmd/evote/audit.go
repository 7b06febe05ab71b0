package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/voter"
	"github.com/spf13/cobra"
)

func auditCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var manifest string
	c := &cobra.Command{
		Use:   "audit FILE",
		Short: "Check an audited ballot: that it encrypts what the booth showed",
		Long: `audit checks a ballot the voter chose to audit instead of casting (cast or
audit, SPEC.md §10.3). Before casting, a voter may have the booth open its
sealed ballot: the booth shows the ballot's fingerprint, and on "audit" gives
the ballot without its signature, the choices it showed and the randomness
of the ballot's ciphertexts (the audit FILE), and never casts that ballot.
Run this on another device than the booth: it reads the election from the
board and checks it as "evote vote" does (--manifest pins it), then checks
that the ballot is valid in that election (its token and every proof), that
its fingerprint is the file's, and that it encrypts exactly the file's
choices.

On success it prints the fingerprint and the choices the ballot encrypts and
exits 0: compare them with what the booth showed. If the ballot encrypts
anything else, the booth lied about the vote: audit exits 1. Keep the file
as evidence.

An audited ballot's choices are known, so it is never cast: the booth
encrypts the vote again, with fresh randomness and a new fingerprint, and
the voter again chooses to cast or to audit. The file cannot vote: it holds
no signature, and only the voter's device can sign a ballot, so neither
this device nor anyone else can cast the audited ballot. It reveals only
the choices of a ballot that is never cast.`,
		Example: `  evote audit audit.json --board http://127.0.0.1:8080 --board-key board.vkey --manifest manifest.json`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			bc, err := bf.client(false)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			mh, err := ops.ManifestHash(manifest)
			if err != nil {
				return usageError{err}
			}
			b, err := os.ReadFile(a[0])
			if err != nil {
				return err
			}
			au, err := voter.ParseAudit(b)
			if err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			vc := &voter.Client{Board: bc, BoardKey: key, ManifestHash: mh}
			e, err := vc.Election(cmd.Context())
			if err != nil {
				return err
			}
			if err := voter.CheckAudit(e, au); err != nil {
				if errors.Is(err, ballot.ErrOpeningMismatch) {
					g.printf("AUDIT FAILED: ballot %s does NOT encrypt the choices in %s\n", au.Fingerprint, a[0])
					g.printf("The device that sealed it showed one vote and encrypted another: do not vote on it, keep %s as evidence and report it to the election authority.\n", a[0])
				} else {
					g.printf("AUDIT FAILED: %s is not the audit of a valid ballot of this election\n", a[0])
				}
				return fmt.Errorf("the audit fails: %w", err)
			}
			g.printf("audited ballot, fingerprint %s, election %s\n", au.Fingerprint, ops.Printable(e.Manifest.Title))
			for qi, q := range e.Manifest.Questions {
				var names []string
				for _, ci := range au.Choices[qi] {
					names = append(names, ops.Printable(q.Choices[ci]))
				}
				if len(names) == 0 {
					names = []string{"(no choice)"}
				}
				g.printf("  %s (%s): %s\n", ops.Printable(q.Text), ops.Printable(q.ID), strings.Join(names, ", "))
			}
			g.printf("this ballot encrypts exactly these choices; it was audited, so it must never be cast: the booth encrypts again\n")
			g.printf("compare the fingerprint and the choices above with what the booth showed\n")
			return nil
		},
	}
	bf.add(c, false, true)
	c.Flags().StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`, or its hash (64 hex digits)")
	return c
}
