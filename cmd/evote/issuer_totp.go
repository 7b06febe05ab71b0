package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"

	"github.com/evote/evote/issuer"
	"github.com/pquerna/otp"
	"github.com/spf13/cobra"
)

func issuerTOTPCmd(g *globals) *cobra.Command {
	var voterID, key, manifest, name, account, qr string
	var st storeFlag
	c := &cobra.Command{
		Use:   "totp",
		Short: "Enrol a voter's authenticator app for the second factor",
		Long: `totp makes a new authenticator secret (RFC 6238: SHA-1, 6 digits, 30 s, what
Google Authenticator, Aegis, FreeOTP and the like read) for one voter, seals it
in the roll, and prints the otpauth:// link once; with --qr it also writes the
link as a QR code image for the voter to scan. From then on the issuer asks
this voter for the app's code after the enrolment code, instead of sending a
one-time code. Enrolling again replaces the secret (a lost phone).

Stop the issuer first: the roll file is open to one process at a time. Do it
with the voter present (in person, or on a call the help desk trusts), and
give the link or image to them alone: whoever holds it holds the factor. The
link is not stored anywhere but the roll, sealed, and is erased by purge.`,
		Example: `  evote issuer totp --voter rossi-1004 --qr rossi.png --store bolt:issuer-data \
      --key issuer.key --election manifest.json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if voterID == "" {
				return usagef("give the voter's ID: --voter ID")
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			m, err := readManifestFile(manifest)
			if err != nil {
				return err
			}
			sk, err := loadIssuerKey(g, kr, key, m)
			if err != nil {
				return err
			}
			if qr != "" {
				// Before the secret changes: a refusal after it would
				// leave the voter's old app dead and no one the new one.
				if _, err := os.Stat(qr); err == nil {
					return fmt.Errorf("%s exists; remove it or give another --qr (nothing was changed)", qr)
				}
			}
			r, err := st.openRoll(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer r.Close()
			if err := st.bindRoll(cmd.Context(), r, m, sk.Public()); err != nil {
				return err
			}
			is, err := issuer.New(issuer.Config{ElectionID: m.ID(), Key: sk, Roll: r})
			if err != nil {
				return err
			}
			if account == "" {
				account = voterID
			}
			uri, err := is.EnrolTOTP(cmd.Context(), voterID, name, account)
			if err != nil {
				return err
			}
			if qr != "" {
				k, err := otp.NewKeyFromURL(uri)
				if err != nil {
					return err
				}
				img, err := k.Image(512, 512)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := png.Encode(&buf, img); err != nil {
					return err
				}
				if err := writeNew(qr, buf.Bytes(), 0o600, false); err != nil {
					return err
				}
				g.logf("wrote the QR code to %s (mode 0600): give it to the voter, then delete it\n", qr)
			}
			g.printf("%s\n", uri)
			g.logf("enrolled an authenticator app for this voter; the issuer now asks them for its code\n")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&voterID, "voter", "", "the voter's `ID` on the roll")
	f.StringVar(&key, "key", "issuer.key", "the issuer's private key `FILE` (age-encrypted)")
	f.StringVar(&manifest, "election", "manifest.json", "the election manifest `FILE`")
	f.StringVar(&name, "name", "evote", "the issuer's `NAME` the app shows")
	f.StringVar(&account, "account", "", "the account `LABEL` the app shows (default: the voter ID)")
	f.StringVar(&qr, "qr", "", "also write the link as a QR code PNG `FILE`")
	st.add(c, "the issuer's roll", "issuer-data")
	return c
}
