package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
	"github.com/spf13/cobra"
)

func voteCmd(g *globals) *cobra.Command {
	var bf boardFlags
	var issuerURL, voterID, code, second, receipt, manifest, ticket string
	var choose []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "vote",
		Short: "Cast a ballot",
		Long: `vote runs the voter's whole flow: it reads the election from the board
and checks it against the board's signed log, trusting the board for nothing:
the log must begin with the manifest given by --manifest (the published file,
or its hash), and the election key must be what the trustees' signed ceremony
messages decide. It then gets an eligibility token from the issuer with the
voter ID and enrolment code (blind-signed: the issuer never sees it), encrypts
the choices with proofs that
the ballot follows the rules, casts it and checks the board's receipt: the
ballot is provably in the board's signed log. The receipt is saved (--receipt)
to check later with "evote receipt check".

--choose "question=choice" picks a choice by name (or number, from 1); repeat
it, or list several choices "question=a,b" where a question allows several.
With one question, "--choose yes" is enough. The code may come from
EVOTE_CODE instead of --code, to keep it out of the process list.

The issuer may ask for a second factor after the enrolment code: a
one-time code of 6 digits it sends to the e-mail address or phone it has
for the voter (valid 10 minutes; a new one at most once a minute; 5 wrong
tries void it), or the code of the authenticator app (TOTP) the voter
enrolled. On a terminal, vote says where the code went and asks for it
(press Enter for a new one). Otherwise it stops with exit code 4, saying
where the code went: run the same command again with --second-factor CODE.
Nothing is lost meanwhile: the ticket keeps the request, and the issuer
signs nothing before the code passes. With an authenticator app, give
--second-factor on the first run.

Nothing is lost to a dropped connection: the vote's state (the token key, the
token, the encrypted ballot, the receipt) is saved in a ticket file (--ticket,
readable by you only) before each step that talks to a service, and running
the same command again resumes where it stopped: it asks the issuer again
with the same blinded message, sends the same ballot again, or fetches the
receipt of a ballot the board already holds. Under the last-ballot-counts
policy, running it again with other choices revotes with the same token. The
ticket is secret: it can vote in your name. Delete it once the election is
over.

Exit codes: 0 the ballot is cast (now or before), 1 failure, 2 usage
mistake, 4 the issuer wants a one-time code this run was not given, or the
one given was wrong or expired: run again with --second-factor CODE.

With --json, once the ballot is cast, it prints one JSON object: "cast"
(true), "already_cast" (this run found the ballot on the board already),
"tracking_code", "entry" (its place in the board's log) and "receipt" (the
file saved, or ""). Otherwise nothing is printed on stdout: what went wrong,
or where the one-time code went, is on stderr, with the same exit codes.`,
		Example: `  evote vote --issuer http://127.0.0.1:8081 --board http://127.0.0.1:8080 \
      --board-key board.vkey --manifest manifest.json --voter-id voter-000001 --code 7XQ2M-K9D4T-0HVB3-RWE8N \
      --choose motion=yes --receipt receipt.json

  # The issuer e-mailed a one-time code (the first run exited 4 saying where):
  evote vote --issuer http://127.0.0.1:8081 --board http://127.0.0.1:8080 \
      --board-key board.vkey --manifest manifest.json --voter-id voter-000001 --code 7XQ2M-K9D4T-0HVB3-RWE8N \
      --choose motion=yes --receipt receipt.json --second-factor 493817`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if second != "" {
				n, err := voter.NormalizeSecondFactor(second)
				if err != nil {
					return usagef("--second-factor %q is not a one-time code: it is %d digits, such as 123456 (spaces and dashes do not matter)", second, voter.SecondFactorDigits)
				}
				second = n
			}
			bc, err := bf.client(false)
			if err != nil {
				return err
			}
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			if issuerURL == "" || voterID == "" {
				return usagef("--issuer URL and --voter-id ID are required")
			}
			if code == "" {
				code = os.Getenv("EVOTE_CODE")
			}
			if ticket == "" {
				ticket = defaultTicket(voterID)
			}
			hc, err := bf.httpClient()
			if err != nil {
				return err
			}
			mh, err := ops.ManifestHash(manifest)
			if err != nil {
				return usageError{err}
			}
			vc := &voter.Client{Issuer: issuerapi.NewClient(strings.TrimRight(issuerURL, "/"), hc), Board: bc, BoardKey: key, ManifestHash: mh}
			ctx := cmd.Context()
			e, err := vc.Election(ctx)
			if err != nil {
				return err
			}
			sel, err := selections(e.Manifest, choose)
			if err != nil {
				return usageError{err}
			}
			rc, again, err := voteWithTicket(ctx, g, vc, e, ticket, voterID, code, second, sel)
			if errors.Is(err, voter.ErrNotCosigned) {
				return fmt.Errorf("%w\n  the ballot is kept in %s: run the same command again in a minute and it fetches the receipt, casting nothing twice", err, ticket)
			}
			if err != nil {
				return err
			}
			if !asJSON {
				if again {
					g.printf("already cast, with these choices: the board holds this ballot\n  tracking code %s\n  entry %d\n", rc.TrackingCode, rc.Index)
				} else {
					g.printf("ballot cast and in the board's log\n  tracking code %s\n  entry %d\n", rc.TrackingCode, rc.Index)
				}
			}
			out := voteJSON{Cast: true, AlreadyCast: again, TrackingCode: rc.TrackingCode, Entry: rc.Index}
			if receipt != "" {
				saved, err := saveReceipt(receipt, rc)
				if err != nil {
					return fmt.Errorf("the ballot is cast (its receipt is in %s), but saving the receipt failed: %w", ticket, err)
				}
				out.Receipt = saved
				if asJSON {
					return g.printJSON(out)
				}
				ca := ""
				if bf.caCert != "" {
					ca = " --ca-cert " + bf.caCert
				}
				g.printf("  receipt saved to %s; check it later with: evote receipt check --board %s --board-key %s%s %s\n", saved, bf.url, bf.key, ca, saved)
			}
			if asJSON {
				return g.printJSON(out)
			}
			return nil
		},
	}
	bf.add(c, false, true)
	f := c.Flags()
	f.StringVar(&issuerURL, "issuer", "", "the issuer's `URL`")
	f.StringVar(&manifest, "manifest", "", "the election's published manifest `FILE`, or its hash (64 hex digits)")
	f.StringVar(&voterID, "voter-id", "", "the voter's `ID` on the roll")
	f.StringVar(&code, "code", "", "the voter's enrolment `CODE` (or EVOTE_CODE)")
	f.StringVar(&second, "second-factor", "", "the one-time `CODE` (6 digits) the issuer sent, or your authenticator app shows, when the issuer asks for a second factor")
	f.StringArrayVar(&choose, "choose", nil, "a choice, \"question=choice[,choice...]\" (repeatable)")
	f.StringVar(&receipt, "receipt", "", "save the receipt to this `FILE` (JSON)")
	f.StringVar(&ticket, "ticket", "", "keep this vote's state in this `FILE` (secret, mode 0600; default ticket-VOTER-ID.json), to resume after a lost connection or revote")
	f.BoolVar(&asJSON, "json", false, "print one JSON object once the ballot is cast (keys in the help)")
	return c
}

// voteJSON is what evote vote --json prints.
type voteJSON struct {
	Cast         bool   `json:"cast"`
	AlreadyCast  bool   `json:"already_cast"`
	TrackingCode string `json:"tracking_code"`
	Entry        uint64 `json:"entry"`
	Receipt      string `json:"receipt"`
}

// receiptJSON is what evote receipt check --json prints.
type receiptJSON struct {
	OK             bool   `json:"ok"`
	Offline        bool   `json:"offline"`
	TrackingCode   string `json:"tracking_code"`
	Entry          uint64 `json:"entry"`
	CheckpointSize uint64 `json:"checkpoint_size,omitempty"`
	Error          string `json:"error,omitempty"`
}

// selections turns --choose values into choice indices per question.
func selections(m *ballot.Manifest, choose []string) ([][]int, error) {
	sel := make([][]int, len(m.Questions))
	given := make([]bool, len(m.Questions))
	for _, s := range choose {
		qid, list, ok := strings.Cut(s, "=")
		if !ok {
			if len(m.Questions) != 1 {
				return nil, fmt.Errorf("--choose %q: say which question, as question=choice; the questions are %s", s, questionIDs(m))
			}
			qid, list = m.Questions[0].ID, s
		}
		qi := slices.IndexFunc(m.Questions, func(q ballot.Question) bool { return q.ID == qid })
		if qi < 0 {
			return nil, fmt.Errorf("--choose %q: no question %q; the questions are %s", s, qid, questionIDs(m))
		}
		q := m.Questions[qi]
		given[qi] = true
		for _, name := range strings.Split(list, ",") {
			name = strings.TrimSpace(name)
			ci := slices.Index(q.Choices, name)
			if ci < 0 {
				var n int
				if _, err := fmt.Sscanf(name, "%d", &n); err == nil && fmt.Sprint(n) == name && n >= 1 && n <= len(q.Choices) {
					ci = n - 1
				}
			}
			if ci < 0 {
				return nil, fmt.Errorf("question %s has no choice %q; its choices are %s", q.ID, name, strings.Join(q.Choices, ", "))
			}
			if slices.Contains(sel[qi], ci) {
				return nil, fmt.Errorf("question %s: %q chosen twice", q.ID, name)
			}
			sel[qi] = append(sel[qi], ci)
		}
	}
	var missing []string
	for qi, q := range m.Questions {
		n := len(sel[qi])
		if !given[qi] && q.Min > 0 {
			missing = append(missing, fmt.Sprintf("%s (%s: %s)", q.ID, q.Text, strings.Join(q.Choices, ", ")))
			continue
		}
		if n < q.Min || n > q.Max {
			return nil, fmt.Errorf("question %s: choose %d to %d, not %d", q.ID, q.Min, q.Max, n)
		}
		slices.Sort(sel[qi])
	}
	if len(missing) > 0 {
		return nil, errors.New("no --choose for " + strings.Join(missing, "; "))
	}
	return sel, nil
}

// cosignedBy says whose cosignatures a manifest's checkpoints carry.
func cosignedBy(m *ballot.Manifest) string {
	if len(m.Witnesses) == 0 {
		return ""
	}
	return fmt.Sprintf(" and cosigned by at least %d of the election's %d witnesses", m.WitnessQuorum, len(m.Witnesses))
}

func questionIDs(m *ballot.Manifest) string {
	var ids []string
	for _, q := range m.Questions {
		ids = append(ids, q.ID)
	}
	return strings.Join(ids, ", ")
}

func receiptCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "receipt",
		Short: "Check a voter's receipt",
	}
	var bf boardFlags
	var offline, asJSON bool
	var manifest string
	check := &cobra.Command{
		Use:   "check RECEIPT",
		Short: "Prove the board still holds a cast ballot",
		Long: `check proves, against the board's newest signed checkpoint, that the ballot
of a receipt (from evote vote --receipt) is still in the board's log: the
receipt's checkpoint is consistent with the newest one (the log only grew),
the ballot's leaf is included in it, and it lies after the open entry and
before the close entry (a ballot elsewhere does not count). A failure is evidence against the
board: keep the receipt.

With --json it prints one JSON object: "ok", "offline", "tracking_code",
"entry", "checkpoint_size" (the checkpoint it was checked in: the board's
newest, or with --offline the receipt's own) and, when the receipt does not
check out, "error" (exit code 1 as without --json). A receipt file that
cannot be read or parsed prints nothing on stdout.`,
		Example: `  evote receipt check --board http://127.0.0.1:8080 --board-key board.vkey receipt.json
  evote receipt check --offline --manifest manifest.json --board-key board.vkey receipt.json
  evote receipt check --board http://127.0.0.1:8080 --board-key board.vkey --json receipt.json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			key, err := ops.BoardKey(bf.key)
			if err != nil {
				return usageError{err}
			}
			b, err := os.ReadFile(a[0])
			if err != nil {
				return err
			}
			r, err := voter.ParseReceipt(b)
			if err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			out := receiptJSON{Offline: offline, TrackingCode: r.TrackingCode, Entry: r.Index}
			failed := func(err error) error {
				err = fmt.Errorf("the receipt does not check out: %w", err)
				if asJSON {
					out.Error = err.Error()
					if e := g.printJSON(out); e != nil {
						return e
					}
				}
				return err
			}
			if offline {
				if manifest == "" {
					return usagef("--offline needs the election's --manifest FILE: it names the witnesses whose cosignatures the receipt must carry")
				}
				mb, err := os.ReadFile(manifest)
				if err != nil {
					return usageError{err}
				}
				m, err := ballot.ParseManifest(mb)
				if err != nil {
					return fmt.Errorf("%s: %w", manifest, err)
				}
				cp, err := voter.CheckReceiptOffline(r, key, m)
				if err != nil {
					return failed(err)
				}
				if asJSON {
					out.OK, out.CheckpointSize = true, cp.Size
					return g.printJSON(out)
				}
				g.printf("ballot %s is entry %d of the board's log in its checkpoint of size %d, signed by the board%s; checked with no network: run without --offline to prove the board still holds it\n",
					r.TrackingCode, r.Index, cp.Size, cosignedBy(m))
				return nil
			}
			bc, err := bf.client(false)
			if err != nil {
				return err
			}
			vc := &voter.Client{Board: bc, BoardKey: key}
			cp, err := vc.CheckReceipt(cmd.Context(), r)
			if err != nil {
				return failed(err)
			}
			if asJSON {
				out.OK, out.CheckpointSize = true, cp.Size
				return g.printJSON(out)
			}
			g.printf("ballot %s is entry %d of the board's log, cast while the election was open, included in its newest checkpoint (size %d), which is consistent with the receipt's\n",
				r.TrackingCode, r.Index, cp.Size)
			return nil
		},
	}
	bf.add(check, false, true)
	check.Flags().BoolVar(&offline, "offline", false, "check the receipt with no network: its ballot, its inclusion proof and its checkpoint's signatures (needs --manifest)")
	check.Flags().StringVar(&manifest, "manifest", "", "the election's manifest `FILE`, for --offline")
	check.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys in the help)")
	c.AddCommand(check)
	return c
}
