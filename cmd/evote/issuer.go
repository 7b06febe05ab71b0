package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/durable"
	"github.com/evote/evote/invite"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/spf13/cobra"
)

func issuerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "issuer",
		Short: "The identity authority: voter roll, one eligibility token per voter",
		Long: `The issuer checks who a voter is (voter ID and a one-time enrolment code) and
blind-signs one eligibility token for them (RFC 9474). It never sees the token
it signs, so it cannot link a voter to a ballot. It shares no store and no key
with the board.`,
	}
	c.AddCommand(issuerKeygenCmd(g), issuerRollCmd(g), issuerServeCmd(g), issuerPurgeCmd(g), issuerInviteCmd(g))
	c.AddCommand(issuerImportCmd(g), issuerTOTPCmd(g), issuerHelpdeskCmd(g))
	c.AddCommand(issuerPubCmd(g), issuerStatementCmd(g), issuerCountsCmd(g), issuerMigrateCmd(g))
	return c
}

func issuerKeygenCmd(g *globals) *cobra.Command {
	var key, pub string
	var bits int
	c := &cobra.Command{
		Use:   "keygen",
		Short: "Make the issuer's RSA token-signing key",
		Long: `keygen makes a fresh RSA issuing key. The private key is written age-encrypted
(--passphrase-file, EVOTE_PASSPHRASE or --identity); the public key as PEM, to
name in the manifest (evote election init --issuer-key issuer.pub), followed
by the Ed25519 key derived from it that signs the issuer's counts at close
(evote issuer statement); evote issuer pub writes issuer.pub again. A key
serves one election only: its first "evote issuer serve" records the election
in the key file, and serving another election with it is refused (a voter on
one roll would get tokens valid in the other).`,
		Example: `  EVOTE_PASSPHRASE=... evote issuer keygen --key issuer.key --pub issuer.pub`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			sk, err := token.GenerateKey(bits)
			if err != nil {
				return err
			}
			pem, err := sk.MarshalPEM()
			if err != nil {
				return err
			}
			pubPEM := issuerPubPEM(sk)
			if err := kr.WriteFile(key, pem, false); err != nil {
				return err
			}
			if err := writeNew(pub, pubPEM, 0o644, false); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted) and %s\n  key ID %s\n", key, pub, sk.Public().ID())
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "issuer.key", "where to write the private key (age-encrypted)")
	c.Flags().StringVar(&pub, "pub", "issuer.pub", "where to write the public key (PEM)")
	c.Flags().IntVar(&bits, "bits", token.DefaultKeyBits, "RSA modulus size")
	return c
}

func issuerRollCmd(g *globals) *cobra.Command {
	var n int
	var out string
	c := &cobra.Command{
		Use:   "roll",
		Short: "Make a voter roll with fresh enrolment codes (for trials)",
		Long: `roll writes a CSV roll "voter_id,enrolment_code" of N voters with IDs
voter-000001, ... and fresh 100-bit codes. It holds plaintext codes: hand each
voter their own line, import it (evote issuer serve --roll), then delete it.`,
		Example: `  evote issuer roll --voters 1000 --out roll.csv`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return usagef("--voters must be at least 1")
			}
			b, err := issuer.GenerateRoll(n)
			if err != nil {
				return err
			}
			if err := writeNew(out, b, 0o600, false); err != nil {
				return err
			}
			g.printf("wrote %s: %d voters with enrolment codes; keep it secret\n", out, n)
			return nil
		},
	}
	c.Flags().IntVar(&n, "voters", 100, "number of voters")
	c.Flags().StringVar(&out, "out", "roll.csv", "where to write the roll")
	return c
}

// pemElectionType is the PEM block, after the key in an issuer's key file,
// that names the one election the key serves.
const pemElectionType = "EVOTE ISSUER ELECTION"

// loadIssuerKey reads the issuer's key file and binds the key to m's
// election. An issuing key must serve one election only: the election ID
// is inside the blinded message, which the issuer cannot see, so a voter on
// one election's roll would otherwise get a token valid in any other
// election naming the same key. The first serve records m's election ID in
// the key file; a later serve for another election is refused.
func loadIssuerKey(g *globals, kr *secret.Keyring, path string, m *ballot.Manifest) (*token.PrivateKey, error) {
	return loadIssuerKeyTold(kr, path, m, func(msg string) { g.logf("%s\n", msg) })
}

// loadIssuerKeyTold is loadIssuerKey telling the binding to tell, for
// issuer serve's log, where a plain line would break a JSON log.
func loadIssuerKeyTold(kr *secret.Keyring, path string, m *ballot.Manifest, tell func(string)) (*token.PrivateKey, error) {
	plain, err := kr.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	keyPEM, rest := plain, []byte(nil)
	if block, r := pem.Decode(plain); block != nil {
		keyPEM, rest = plain[:len(plain)-len(r)], bytes.TrimSpace(r)
	}
	sk, err := token.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !m.Issuer().Equal(sk.Public()) {
		return nil, fmt.Errorf("the manifest names issuer key %s, but %s is key %s", m.Issuer().ID(), path, sk.Public().ID())
	}
	if err := checkStatementKey(m, sk, path); err != nil {
		return nil, err
	}
	if len(rest) == 0 {
		bound := append(append([]byte(nil), keyPEM...), pem.EncodeToMemory(&pem.Block{Type: pemElectionType, Bytes: m.ID()})...)
		defer clear(bound)
		if err := kr.WriteFile(path, bound, true); err != nil {
			return nil, fmt.Errorf("binding %s to election %s: %w", path, m.ElectionID, err)
		}
		tell(fmt.Sprintf("%s now serves election %s, and no other", path, m.ElectionID))
		return sk, nil
	}
	b, after := pem.Decode(rest)
	if b == nil || b.Type != pemElectionType || len(b.Headers) != 0 || len(b.Bytes) != len(m.ID()) || len(bytes.TrimSpace(after)) != 0 {
		return nil, fmt.Errorf("%s: after the key, an issuer key file holds only the election it serves (a %q block)", path, pemElectionType)
	}
	if !bytes.Equal(b.Bytes, m.ID()) {
		return nil, fmt.Errorf("%s serves election %x, not %s: an issuing key serves one election only, or a voter on one election's roll would get tokens valid in the other; make a new key for this election (evote issuer keygen) and name it in its manifest", path, b.Bytes, m.ElectionID)
	}
	return sk, nil
}

func issuerServeCmd(g *globals) *cobra.Command {
	var roll, contacts, key, manifest, tokFile string
	var second secondFactorFlags
	var st storeFlag
	var sf serviceFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the issuer's HTTP API",
		Long: `serve runs the issuer: GET /v1/issuer (its key and election), POST /v1/token
(a voter ID, enrolment code and blinded message, answered with a blind
signature, once per voter).

The roll (--roll CSV) is imported into the issuer's own store, --store
(bolt:DIR, a bbolt file in DIR; --data DIR is the same as --store bolt:DIR;
or postgres:DSN, a PostgreSQL database several issuer processes share, one
token per voter and the back-off holding across them), on first start, codes kept only as argon2id hashes; later starts reuse it and
need no --roll. Each client IP gets a token bucket (--rate, --burst; -1
turns it off, only behind a proxy that limits instead; every limit flag
reads 0 as its default and -1 as no bound). At most
--max-in-flight token requests are worked on at once: beyond that a request
is answered 503 with Retry-After: 1 at once, never queued. GET /healthz and
GET /metrics (Prometheus) serve operators; the log (--log-format,
--log-level; with json every line is JSON, from the first) has one line per
request, with the refusal's code when it refuses (refused=bad_credentials),
and no voter ID, code or blinded message in it. SIGINT or SIGTERM stops it gracefully: requests in flight
are answered, then the roll is closed.

A second factor (--second-factor email or sms): after a right enrolment code
the issuer sends a 6-digit one-time code to the voter's registered address or
phone and answers 401 second_factor_required; the voter sends the request
again with it. The contacts come from --contacts (evote issuer import's
contacts file), read with --roll on the first start and sealed into the roll;
e-mail goes out through --smtp (the same flags as evote issuer invite), SMS
through --sms-webhook, your provider's HTTP endpoint. A voter who enrolled an
authenticator app (evote issuer totp) is asked for its code instead.

Wrong codes do not lock a voter out (a stranger could lock anyone): after 5
from one address for one voter, that address waits 1 s, then 2, doubling up
to 15 minutes; the voter's right code from their own address still passes.
The per-address limit (--rate, --burst) is sized for a mobile carrier's NAT,
thousands of phones behind one address.

--admin-token-file FILE (mode 0600, like the board's) turns on the help desk's
admin API under /v1/admin/ for evote issuer helpdesk: a voter's state, unlock,
a late member. Without it those paths answer 404 as any unknown path.`,
		Example: `  evote issuer serve --roll roll.csv --key issuer.key --election manifest.json \
      --store bolt:issuer-data --listen 127.0.0.1:8081
  evote issuer serve --roll roll.csv --contacts contacts.csv --key issuer.key \
      --election manifest.json --second-factor email --smtp smtp.example.org:587 \
      --from elezioni@example.org --smtp-user elezioni --smtp-password-file smtp.pass`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := st.open(); err != nil {
				return err
			}
			logger, err := sf.logger(g)
			if err != nil {
				return err
			}
			origins, err := sf.origins()
			if err != nil {
				return err
			}
			tok := "" // the help desk's admin API (evote issuer helpdesk) is off without one
			if tokFile != "" {
				if tok, err = serviceAdminToken(tokFile); err != nil {
					return err
				}
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			m, err := readManifestFile(manifest)
			if err != nil {
				return err
			}
			sk, err := loadIssuerKeyTold(kr, key, m, func(msg string) { logger.Info(msg) })
			if err != nil {
				return err
			}
			// A bbolt roll's binding first: opening the file writes to it.
			ctx := cmd.Context()
			if err := st.bindRoll(ctx, nil, m, sk.Public()); err != nil {
				return err
			}
			r, err := st.openRoll(ctx, true)
			if err != nil {
				return err
			}
			defer r.Close()
			if err := st.bindRoll(ctx, r, m, sk.Public()); err != nil {
				return err
			}
			// A database roll is not locked as a bbolt file is: a serving
			// issuer says so, and evote issuer purge refuses until it stops.
			if s, ok := r.(interface{ Serve(context.Context) error }); ok {
				if err := s.Serve(ctx); err != nil {
					return err
				}
			}
			counts, err := r.Counts(ctx)
			if err != nil {
				return err
			}
			if counts.Purged {
				return fmt.Errorf("the roll in %s was purged after its election (%d eligible voters, %d tokens issued): there is no one left to serve; a new election needs a new --store", &st, counts.Eligible, counts.Issued)
			}
			factor, snd, err := second.sender(g)
			if err != nil {
				return err
			}
			is, err := issuer.New(issuer.Config{ElectionID: m.ID(), Key: sk, Roll: r, SecondFactor: factor, Sender: snd, Logger: logger})
			if err != nil {
				return err
			}
			switch {
			case roll != "" && counts.Eligible == 0:
				b, err := os.ReadFile(roll)
				if err != nil {
					return err
				}
				cs, err := readContacts(contacts)
				if err != nil {
					return err
				}
				if factor != "" && contacts == "" {
					return usagef("--second-factor %s sends each voter a code at the address in the contacts: give --contacts contacts.csv (evote issuer import writes it) with --roll on this first start", factor)
				}
				added, err := is.ImportRoll(ctx, bytes.NewReader(b), cs)
				if err != nil {
					return fmt.Errorf("%s: %w", roll, err)
				}
				if err := st.noteContacts(ctx, r, len(cs)); err != nil {
					return err
				}
				if n := unreachable(factor, cs, added); n > 0 {
					logger.Warn("some voters have no contact for the second factor: they cannot get a one-time code until the help desk enrols an authenticator app for them (evote issuer totp)", "voters", n, "factor", factor)
				}
				if contacts != "" {
					logger.Info("imported the roll, and the contacts (sealed in the roll)", "voters", added, "roll", roll, "contacts", len(cs), "contacts_file", contacts)
				} else {
					logger.Info("imported the roll", "voters", added, "roll", roll)
				}
			case factor != "" && st.contactsNoted(ctx, r) == 0:
				return fmt.Errorf("--second-factor %s sends each voter a code at their address, but the roll in %s was imported without contacts, so it can reach no one: serve it without --second-factor, or import the roll again into a new --store with --contacts contacts.csv", factor, &st)
			case roll != "" || contacts != "":
				logger.Info("the roll already holds its voters; not importing --roll or --contacts again", "store", st.String(), "voters", counts.Eligible)
			case counts.Eligible == 0:
				return usagef("the issuer has no voters yet: give --roll roll.csv")
			}
			clientIP, err := sf.clientIP()
			if err != nil {
				return err
			}
			h := issuer.NewHandler(is, issuer.HandlerConfig{Logger: logger, Limits: sf.limits(sf.rate, sf.burst), CORSOrigins: origins, AdminToken: tok, ClientIP: clientIP})
			return ops.Serve(ctx, sf.server(ops.ServerConfig{
				Handler: h, Logger: logger, Name: "issuer",
				Ready: func(u string) {
					logger.Info("listening", "url", u)
					g.printf("issuer listening on %s\n", u)
				},
			}))
		},
	}
	f := c.Flags()
	f.StringVar(&roll, "roll", "", "voter roll `CSV` to import on first start")
	f.StringVar(&contacts, "contacts", "", "the voters' contacts `CSV` (voter_id,email,phone,lang, as evote issuer import writes it), imported with --roll, where one-time codes go")
	f.StringVar(&key, "key", "issuer.key", "the issuer's private key `FILE` (age-encrypted)")
	f.StringVar(&manifest, "election", "manifest.json", "the election manifest `FILE`")
	st.add(c, "the issuer's roll", "issuer-data")
	f.StringVar(&tokFile, "admin-token-file", "", "`FILE` holding the admin token of the help desk's admin API (evote issuer helpdesk); without it the API is off")
	sf.addRate(c, issuer.DefaultRatePerSecond, issuer.DefaultBurst, "token requests")
	sf.add(c, "127.0.0.1:8081")
	second.add(c)
	return c
}

func issuerPurgeCmd(g *globals) *cobra.Command {
	var st storeFlag
	var erase []string
	c := &cobra.Command{
		Use:   "purge",
		Short: "Delete the voter roll after the election, keeping only the counts",
		Long: `purge deletes every voter record (IDs, code hashes, issued blinded messages,
sealed contacts and authenticator secrets, one-time codes, back-offs) from the
issuer's roll, keeping only the numbers of eligible voters and of tokens
issued. A bbolt roll's file is rewritten, not edited, so no page of it keeps
an old record; a PostgreSQL roll's table is emptied with TRUNCATE, whose old
files PostgreSQL drops, but its write-ahead log, standbys and backups keep
the rows until they are rotated (README, "Running on PostgreSQL"). Stop every
issuer first: a PostgreSQL roll that an issuer serves refuses the purge. No
tokens are issued afterwards.

Identity went to other files too: the roll and contacts CSVs that evote issuer
import wrote, the registry export, the invitations' state file and merge file,
the list of failed sends. Name each with --erase (repeat it, or separate with
commas): purge overwrites it with zeros, syncs and removes it, and says which
it erased. Overwriting in place is what a program can do; on an SSD or a
copy-on-write or journaling file system old blocks may survive it, so keep
these files on an encrypted volume and destroy its key too, or erase the
medium. Purge any copy of them elsewhere (backups, mail) by hand.`,
		Example: `  evote issuer purge --store bolt:issuer-data \
      --erase roll.csv,contacts.csv,invite-state.json,members.csv`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, p := range erase {
				if _, err := os.Stat(p); err != nil {
					return fmt.Errorf("--erase %s: %w (nothing was purged)", p, err)
				}
			}
			r, err := st.openRoll(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer r.Close()
			c, err := r.Purge(cmd.Context())
			if err != nil {
				return err
			}
			g.printf("purged the roll in %s: %d eligible voters, %d tokens issued\n", &st, c.Eligible, c.Issued)
			for _, p := range erase {
				if err := eraseFile(p); err != nil {
					return fmt.Errorf("erasing %s: %w", p, err)
				}
				g.printf("erased %s\n", p)
			}
			return nil
		},
	}
	st.add(c, "the issuer's roll", "issuer-data")
	c.Flags().StringSliceVar(&erase, "erase", nil, "also overwrite and remove these `FILES` that hold identity data (roll and contacts CSVs, invitation state)")
	return c
}

// eraseFile overwrites a regular file with zeros, syncs it and removes it.
func eraseFile(path string) error {
	if err := durable.Zero(path); err != nil {
		return err
	}
	return os.Remove(path)
}

// readContacts reads a contacts file (evote issuer import's) into the map
// Issuer.ImportRoll seals; "" is none.
func readContacts(path string) (map[string]issuer.Contact, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := invite.ReadContacts(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make(map[string]issuer.Contact, len(list))
	for _, c := range list {
		out[c.VoterID] = issuer.Contact{Email: c.Email, Phone: c.Phone, Lang: c.Lang}
	}
	return out, nil
}

// unreachable counts the voters of a roll of n whom factor's codes cannot
// reach: those with no e-mail address (factor email) or phone (sms).
func unreachable(factor string, cs map[string]issuer.Contact, n int) int {
	if factor == "" {
		return 0
	}
	reach := 0
	for _, c := range cs {
		if factor == issuerapi.FactorEmail && c.Email != "" || factor == issuerapi.FactorSMS && c.Phone != "" {
			reach++
		}
	}
	return n - reach
}
