package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/internal/strictjson"
	"github.com/evote/evote/witness"
	"github.com/spf13/cobra"
)

func electionCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "election",
		Short: "Define an election (its manifest)",
		Long: `The manifest is the election's definition: its questions and their rules,
the trustees and threshold, the issuer's public key and the revoting policy.
The board publishes it as entry 0 of the record, and its hash is bound into
every proof and every token, so it cannot change once voting starts.`,
	}
	c.AddCommand(electionInitCmd(g))
	return c
}

func electionInitCmd(g *globals) *cobra.Command {
	var (
		title, revoting, opens, closes, issuerKey, from, out string
		questions, trusteeKeys                               []string
		n, t, minBallots, witnessQuorum                      int
		witnessKeys                                          []string
		force, minority                                      bool
	)
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a new election manifest",
		Long: `init writes an election manifest (manifest.json) with a fresh random election
ID, from flags or from a JSON file (--from) that flags then override.

A question is "id:text:choice1,choice2,...:min:max": the voter picks between
min and max of the choices. min = max = 1 is a pick-one question; a yes/no
question is "id:text:yes,no:1:1". Repeat --question for several questions.

The issuer key (--issuer-key, the issuer.pub that "evote issuer keygen"
writes) names the only key whose tokens the board accepts, and the key the
issuer signs its counts with at close (issuance_key): the record then holds
how many voters were eligible and how many tokens were issued, and every
verifier checks the ballots counted against them. An issuer.pub made before
statement keys existed holds only the first; "evote issuer pub" writes it
again with both.

--trustees n --threshold t: n trustees share the election key; any t of them
decrypt the tally, t-1 learn nothing.

--trustee-key FILE, once per trustee in trustee index order (the first is
trustee 1), names the public key each trustee signs its key ceremony messages
with: the trustee.pub that "evote trustee keygen" writes. Exactly n are
needed; with --from, the file's trustees.keys serve unless --trustee-key is
given.`,
		Example: `  evote issuer keygen
  evote trustee keygen --pub trustee-1.pub   # each trustee, on its own machine
  evote election init --title "General assembly 2025" \
      --question "motion:Adopt the motion?:yes,no:1:1" \
      --question "board:Elect two members:Ana,Ben,Chloé,Dev:0:2" \
      --trustees 3 --threshold 2 --issuer-key issuer.pub \
      --trustee-key trustee-1.pub --trustee-key trustee-2.pub --trustee-key trustee-3.pub`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var m ballot.Manifest
			if from != "" {
				b, err := os.ReadFile(from)
				if err != nil {
					return err
				}
				// A field left out is filled in by the flags (or
				// their defaults); a question is given whole.
				if err := strictjson.DecodeTemplate(b, &m); err != nil {
					return usagef("%s is not a manifest's JSON (each field once, spelt as evote election init writes it): %v", from, err)
				}
			}
			f := cmd.Flags()
			if f.Changed("title") || m.Title == "" {
				m.Title = title
			}
			if len(questions) > 0 {
				m.Questions = nil
				for _, s := range questions {
					q, err := ops.ParseQuestion(s)
					if err != nil {
						return usageError{err}
					}
					m.Questions = append(m.Questions, q)
				}
			}
			if len(m.Questions) == 0 {
				return usagef("give at least one --question (or --from a manifest that has questions)")
			}
			if f.Changed("trustees") || m.Trustees.N == 0 {
				m.Trustees.N = n
			}
			if f.Changed("threshold") || m.Trustees.T == 0 {
				m.Trustees.T = t
			}
			// Each trustee decrypts one closed log only; that keeps a board
			// from getting two tallies (one with a ballot, one without)
			// only if any two groups of t trustees share a trustee.
			if 2*m.Trustees.T <= m.Trustees.N && m.Trustees.T >= 1 && !minority {
				return usagef("a threshold of %d of %d trustees lets two separate groups of %d each decrypt a different log a dishonest board shows them, and the two tallies' difference reveals ballots; choose a threshold above half the trustees (--threshold %d), or accept that risk with --minority-threshold", m.Trustees.T, m.Trustees.N, m.Trustees.T, m.Trustees.N/2+1)
			}
			if len(trusteeKeys) > 0 {
				if len(trusteeKeys) != m.Trustees.N {
					return usagef("--trustee-key given %d times for %d trustees: give each trustee's public key (the trustee.pub of evote trustee keygen), in trustee index order", len(trusteeKeys), m.Trustees.N)
				}
				m.Trustees.Keys = nil
				seen := map[string]string{}
				for _, file := range trusteeKeys {
					k, err := readTrusteePub(file)
					if err != nil {
						return usageError{err}
					}
					if prev, ok := seen[k]; ok {
						return usagef("--trustee-key %s and %s hold the same key; each trustee needs its own (evote trustee keygen)", prev, file)
					}
					seen[k] = file
					m.Trustees.Keys = append(m.Trustees.Keys, k)
				}
			}
			if len(m.Trustees.Keys) != m.Trustees.N {
				if from != "" && len(m.Trustees.Keys) > 0 {
					return usagef("%s lists %d trustee keys (trustees.keys) for %d trustees: give --trustee-key once per trustee, in trustee index order", from, len(m.Trustees.Keys), m.Trustees.N)
				}
				return usagef("each trustee's public key is needed: give --trustee-key FILE %d times, in trustee index order (evote trustee keygen makes each trustee.pub)", m.Trustees.N)
			}
			if f.Changed("revoting") || m.Revoting == "" {
				m.Revoting = revoting
			}
			if f.Changed("min-ballots") || from == "" {
				m.MinBallots = minBallots
			}
			for _, tm := range []struct {
				flag string
				v    *string
				s    string
			}{{"opens", &m.Opens, opens}, {"closes", &m.Closes, closes}} {
				if tm.s != "" {
					if _, err := ballot.ParseTime(tm.s); err != nil {
						return usagef("--%s: %v", tm.flag, err)
					}
					*tm.v = tm.s
				}
			}
			if len(witnessKeys) > 0 {
				m.Witnesses = nil
				for _, file := range witnessKeys {
					b, err := os.ReadFile(file)
					if err != nil {
						return usageError{err}
					}
					k := strings.TrimSpace(string(b))
					if _, err := witness.NewVerifier(k); err != nil {
						return usagef("--witness-key %s: %v (a witness's public key is the .pub of evote witness keygen)", file, err)
					}
					m.Witnesses = append(m.Witnesses, k)
				}
				m.WitnessQuorum = witnessQuorum
				if m.WitnessQuorum == 0 {
					m.WitnessQuorum = len(m.Witnesses)/2 + 1
				}
				if 2*m.WitnessQuorum <= len(m.Witnesses) {
					return usagef("a witness quorum of %d of %d lets two separate groups of honest witnesses each cosign a different history of the board's log; choose more than half (--witness-quorum %d)", m.WitnessQuorum, len(m.Witnesses), len(m.Witnesses)/2+1)
				}
			} else if witnessQuorum != 0 {
				return usagef("--witness-quorum needs the witnesses: --witness-key FILE, once per witness")
			}
			noStatementKey := false
			if issuerKey != "" {
				pk, statementKey, err := readIssuerPub(issuerKey)
				if err != nil {
					return err
				}
				// The statement key is the issuer's too: a --from file's is
				// replaced with the RSA key, never kept beside another's.
				m.IssuerKey, m.IssuanceKey = pk.Bytes(), statementKey
				noStatementKey = statementKey == nil
			}
			if len(m.IssuerKey) == 0 {
				return usagef("the issuer's public key is needed: --issuer-key issuer.pub (evote issuer keygen makes it)")
			}
			m.Version = 1
			if m.ElectionID == "" {
				id, err := ballot.NewElectionID(rand.Reader)
				if err != nil {
					return err
				}
				m.ElectionID = id
			}
			mm, err := ballot.NewManifest(m)
			if err != nil {
				return err
			}
			if err := writeNew(out, mm.Bytes(), 0o644, force); err != nil {
				return err
			}
			h := mm.Hash()
			g.printf("wrote %s\n  election %s\n  manifest hash %x\n  %d question(s), %d trustees, threshold %d, revoting %s, tallied from %d ballots\n",
				out, mm.ElectionID, h, len(mm.Questions), mm.Trustees.N, mm.Trustees.T, mm.Revoting, mm.MinBallots)
			for i, k := range mm.Trustees.Keys {
				g.printf("  trustee %d signs with %s\n", i+1, k)
			}
			if len(mm.Witnesses) > 0 {
				g.printf("  checkpoints need %d of %d witnesses' cosignatures\n", mm.WitnessQuorum, len(mm.Witnesses))
			}
			if k := mm.Issuance(); k != nil {
				g.printf("  the issuer states its counts with statement key %s\n", base64.StdEncoding.EncodeToString(k))
			} else if noStatementKey {
				g.logf("note: %s holds no issuance statement key, so the record will hold no count of eligible voters or tokens issued; evote issuer pub --key issuer.key writes an issuer.pub with it\n", issuerKey)
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&title, "title", "", "the election's title")
	fl.StringArrayVar(&questions, "question", nil, "a question, \"id:text:choice1,choice2,...:min:max\" (repeatable)")
	fl.IntVar(&n, "trustees", 3, "number of trustees sharing the election key")
	fl.IntVar(&t, "threshold", 2, "number of trustees needed to decrypt")
	fl.StringArrayVar(&trusteeKeys, "trustee-key", nil, "a trustee's public key `FILE` (trustee.pub from evote trustee keygen); once per trustee, in index order")
	fl.StringVar(&revoting, "revoting", ballot.RevotingRefuse, "what a second ballot with the same token does: refuse | last-ballot-counts")
	fl.BoolVar(&minority, "minority-threshold", false, "allow a threshold of half the trustees or fewer (two separate groups could then each decrypt a different log)")
	fl.StringArrayVar(&witnessKeys, "witness-key", nil, "a witness's public key `FILE` (the .pub of evote witness keygen; repeatable): the board's checkpoints must carry their cosignatures")
	fl.IntVar(&witnessQuorum, "witness-quorum", 0, "how many of the witnesses must cosign a checkpoint (default: a majority of them)")
	fl.IntVar(&minBallots, "min-ballots", 10, "trustees decrypt no tally of fewer counted ballots (0: no minimum); a tally of a few tells how each voted")
	fl.StringVar(&opens, "opens", "", "when voting opens, such as 2025-06-01T08:00:00Z or 2025-06-01T10:00:00+02:00 (informational; the board's open entry rules)")
	fl.StringVar(&closes, "closes", "", "when voting closes, in the form of --opens (informational; the board's close entry rules)")
	fl.StringVar(&issuerKey, "issuer-key", "", "the issuer's public key `FILE` (issuer.pub)")
	fl.StringVar(&from, "from", "", "start from this manifest JSON `FILE`; flags override its fields")
	fl.StringVarP(&out, "out", "o", "manifest.json", "where to write the manifest")
	fl.BoolVar(&force, "force", false, "overwrite an existing output file")
	return c
}

// writeNew writes data to path, refusing to overwrite unless force.
func writeNew(path string, data []byte, perm os.FileMode, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		flags |= os.O_EXCL
	}
	f, err := os.OpenFile(path, flags, perm)
	if os.IsExist(err) {
		return fmt.Errorf("%s exists; remove it, choose another name or give --force", path)
	}
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readManifestFile reads and parses the manifest file at path; a parse
// error names the file.
func readManifestFile(path string) (*ballot.Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ballot.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
