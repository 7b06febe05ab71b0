package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuance"
	"github.com/spf13/cobra"
)

// pemStatementKeyType is the PEM block, after the RSA public key in
// issuer.pub, that holds the issuer's Ed25519 statement key (32 bytes):
// the key its statement of counts at close is signed with (package
// issuance, SPEC.md §4 issuance_key).
const pemStatementKeyType = "EVOTE ISSUANCE STATEMENT KEY"

// issuerPubPEM is issuer.pub for sk: the RSA public key, then the
// statement key derived from sk.
func issuerPubPEM(sk *token.PrivateKey) []byte {
	pub := issuance.DeriveKey(sk).Public().(ed25519.PublicKey)
	return append(sk.Public().MarshalPEM(), pem.EncodeToMemory(&pem.Block{Type: pemStatementKeyType, Bytes: pub})...)
}

// readIssuerPub reads issuer.pub: the issuer's RSA public key (PEM, or
// DER as older tools wrote it) and, after it, its statement key, nil when
// the file was written before statement keys existed.
func readIssuerPub(path string) (*token.PublicKey, ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	trimmed := bytes.TrimSpace(b)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")) {
		pk, err := token.ParsePublicKey(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return pk, nil, nil
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: not PEM: want the issuer's public key, as evote issuer keygen writes it", path)
	}
	pk, err := token.ParsePublicKey(pem.EncodeToMemory(block))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	rest = bytes.TrimSpace(rest)
	if len(rest) == 0 {
		return pk, nil, nil
	}
	sb, after := pem.Decode(rest)
	if sb == nil || sb.Type != pemStatementKeyType || len(sb.Headers) != 0 || len(bytes.TrimSpace(after)) != 0 {
		return nil, nil, fmt.Errorf("%s: after the issuer's public key, issuer.pub holds only its statement key (a %q block); write it again with evote issuer pub", path, pemStatementKeyType)
	}
	if len(sb.Bytes) != ed25519.PublicKeySize {
		return nil, nil, fmt.Errorf("%s: the statement key is %d bytes, an Ed25519 public key is %d; write it again with evote issuer pub", path, len(sb.Bytes), ed25519.PublicKeySize)
	}
	return pk, ed25519.PublicKey(sb.Bytes), nil
}

// readIssuingKey reads the issuing key from the issuer's key file, whose
// key block may be followed by the election it serves (loadIssuerKey).
func readIssuingKey(kr *secret.Keyring, path string) (*token.PrivateKey, error) {
	plain, err := kr.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	keyPEM := plain
	if block, r := pem.Decode(plain); block != nil {
		keyPEM = plain[:len(plain)-len(r)]
	}
	sk, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sk, nil
}

// checkStatementKey refuses an issuing key whose statement key is not the
// one m names: the issuer's statement would be refused by the board and
// by every verifier.
func checkStatementKey(m *ballot.Manifest, sk *token.PrivateKey, path string) error {
	want := m.Issuance()
	if want == nil {
		return nil
	}
	if got := issuance.DeriveKey(sk).Public().(ed25519.PublicKey); !bytes.Equal(got, want) {
		return fmt.Errorf("the manifest names issuance statement key %s, but %s derives %s: the manifest was made from another issuer.pub", base64.StdEncoding.EncodeToString(want), path, base64.StdEncoding.EncodeToString(got))
	}
	return nil
}

func issuerPubCmd(g *globals) *cobra.Command {
	var key, pub string
	var force bool
	c := &cobra.Command{
		Use:   "pub",
		Short: "Write issuer.pub again from the issuer's key file",
		Long: `pub writes the public half of the issuer's key file: the RSA public key that
signs voters' tokens and, after it, the Ed25519 statement key derived from it,
with which the issuer signs its counts at close (evote issuer statement).
"evote issuer keygen" writes both; run pub for a key made before statement
keys existed, then name the new issuer.pub in the manifest (evote election
init --issuer-key issuer.pub) so the record will hold the issuer's counts.`,
		Example: `  EVOTE_PASSPHRASE=... evote issuer pub --key issuer.key --pub issuer.pub`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			sk, err := readIssuingKey(kr, key)
			if err != nil {
				return err
			}
			if err := writeNew(pub, issuerPubPEM(sk), 0o644, force); err != nil {
				return err
			}
			st := issuance.DeriveKey(sk).Public().(ed25519.PublicKey)
			g.printf("wrote %s\n  key ID %s\n  statement key %s\n", pub, sk.Public().ID(), base64.StdEncoding.EncodeToString(st))
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "issuer.key", "the issuer's private key `FILE` (age-encrypted)")
	c.Flags().StringVar(&pub, "pub", "issuer.pub", "where to write the public key (PEM)")
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing output file")
	return c
}

func issuerStatementCmd(g *globals) *cobra.Command {
	var key, manifest, out string
	var force bool
	var st storeFlag
	c := &cobra.Command{
		Use:   "statement",
		Short: "Sign the issuer's public count: eligible voters and tokens issued",
		Long: `statement writes the issuer's signed statement of its counts (--out,
issuance.json): how many voters its roll holds and how many eligibility tokens
it signed, and when it counted. No voter ID or anything else of the roll is in
it: counts are public, never who. The board records it (evote board issuance,
after close) and every verifier then checks that the ballots counted are no
more than the tokens issued, and these no more than the eligible voters, and
reports turnout.

Run it once voting has closed (the board refuses a statement before close,
and records one only). On a bbolt roll stop the issuer first: its file is
locked while "evote issuer serve" runs (a PostgreSQL roll is not). It works before or after "evote issuer
purge", which keeps the counts. The statement is signed with the Ed25519 key
derived from the issuing key (--key), never the RSA key itself, and the
manifest (--election) must name that key (issuance_key, from issuer.pub).`,
		Example: `  evote board close --board http://127.0.0.1:8080 --admin-token-file admin.token
  # stop evote issuer serve, then:
  EVOTE_PASSPHRASE=... evote issuer statement --store bolt:issuer-data --key issuer.key \
      --election manifest.json --out issuance.json
  evote board issuance --board http://127.0.0.1:8080 --admin-token-file admin.token issuance.json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := st.open(); err != nil {
				return err
			}
			m, err := readManifestFile(manifest)
			if err != nil {
				return err
			}
			if m.Issuance() == nil {
				return usagef("the manifest %s names no issuance statement key (issuance_key): its record holds no count of the issuer's, and the board would refuse one. The key goes in an election's manifest before it opens (evote issuer pub, then evote election init --issuer-key issuer.pub)", manifest)
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			// The same checks as serve: the key is the manifest's, serves
			// this election only, and derives the manifest's statement key.
			sk, err := loadIssuerKey(g, kr, key, m)
			if err != nil {
				return err
			}
			r, err := st.openRoll(cmd.Context(), false)
			if err != nil {
				return fmt.Errorf("%w (stop evote issuer serve first: it holds the roll)", err)
			}
			defer r.Close()
			if err := st.bindRoll(cmd.Context(), r, m, sk.Public()); err != nil {
				return err
			}
			counts, err := r.Counts(cmd.Context())
			if err != nil {
				return err
			}
			if counts.Eligible == 0 {
				return errors.New("the roll holds no voters: is --store the issuer's store for this election?")
			}
			e, err := issuance.Sign(issuance.DeriveKey(sk), issuance.Statement{
				ElectionID: m.ID(), Eligible: uint64(counts.Eligible), Issued: uint64(counts.Issued), Time: time.Now()})
			if err != nil {
				return err
			}
			if err := writeNew(out, e.Bytes(), 0o644, force); err != nil {
				return err
			}
			purged := ""
			if counts.Purged {
				purged = " (the roll is purged; its counts remain)"
			}
			g.printf("wrote %s: %d eligible voters, %d tokens issued, counted %s%s\n  post it once voting has closed: evote board issuance --board URL --admin-token-file FILE %s\n",
				out, e.Eligible, e.Issued, e.Time.Format(issuance.TimeLayout), purged, out)
			return nil
		},
	}
	f := c.Flags()
	st.add(c, "the issuer's roll", "issuer-data")
	f.StringVar(&key, "key", "issuer.key", "the issuer's private key `FILE` (age-encrypted)")
	f.StringVar(&manifest, "election", "manifest.json", "the election manifest `FILE`")
	f.StringVar(&out, "out", "issuance.json", "where to write the signed statement")
	f.BoolVar(&force, "force", false, "overwrite an existing output file")
	return c
}
