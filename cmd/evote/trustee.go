package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/record"
	"github.com/evote/evote/trustee"
	"github.com/spf13/cobra"
)

func trusteeCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "trustee",
		Short: "A trustee's key ceremony and decryption",
		Long: `Trustees make the election key together, without a dealer: no one ever holds
the election's secret key, and any threshold t of the n trustees decrypt the
tally. Each step reads the ceremony's messages from the board (--board and
--board-key, or the election bundle), checking the board's log as every
trustee read of it does, and posts this trustee's own messages there. Each
message is signed with the trustee's Ed25519 signing key, whose public half
the manifest lists (trustees.keys, in index order), and that signature is
the credential: the board takes a trustee's messages from anyone and
refuses one its sender did not sign, so no admin token is needed and no one
else, the board's operator included, can speak for a trustee. Without
--board the steps read message files and write their own (*.msg), which
someone carries and posts (evote board post). Only the signing key, the
state file and the key share are secret, and they are age-encrypted.

Every step says where the trustee stands and what comes next; run twice it
sends nothing twice and says so, run too early it refuses and says whom it
waits for. evote trustee status shows the whole ceremony, and what this
trustee should do (--state).

  0. evote trustee keygen                    before the manifest: writes trustee.sign, trustee.pub
                                             (the admin lists every trustee.pub: evote election init --trustee-key)
  1. evote trustee init --index i            writes trustee-i.state; sends its announcement
  2. evote trustee deal                      once all have announced: sends its deal
  3. evote trustee verify                    once all have dealt: sends its complaints, if any, and its check
  4. evote trustee answer                    only if accused: sends its answers
  5. evote board open                        the authority; refused while a trustee is missing, unless --without
  6. evote trustee finalize                  after open: writes trustee-i.share, the key share
  ... voting (evote trustee checkpoint now and then), evote board close ...
  7. evote trustee decrypt                   posts trustee i's partial decryption`,
	}
	c.AddCommand(trusteeKeygenCmd(g), trusteeInitCmd(g), trusteeDealCmd(g), trusteeVerifyCmd(g), trusteeAnswerCmd(g), trusteeFinalizeCmd(g), trusteeStatusCmd(g), trusteeCheckpointCmd(g), trusteeDecryptCmd(g))
	return c
}

// trusteeFlags are the flags the ceremony steps share.
type trusteeFlags struct {
	manifest, state, dir, signingKey, journal string
	bf                                        boardFlags
	// noJournal: the board's checkpoint is not recorded (status run by
	// anyone, who has no trustee's journal).
	noJournal bool
}

// defaultSigningKey is where keygen writes a trustee's signing key, and
// where the ceremony steps look for it.
const defaultSigningKey = "trustee.sign"

// addSigning adds --signing-key, for the steps that emit messages.
func (tf *trusteeFlags) addSigning(c *cobra.Command) {
	c.Flags().StringVar(&tf.signingKey, "signing-key", defaultSigningKey,
		"this trustee's Ed25519 signing key `FILE` (age-encrypted, from evote trustee keygen); it signs every message")
}

// loadSigningKey decrypts the signing key.
func (tf *trusteeFlags) loadSigningKey(kr *secret.Keyring) (ed25519.PrivateKey, error) {
	b, err := kr.ReadFile(tf.signingKey)
	if err != nil {
		return nil, fmt.Errorf("reading the signing key: %w", err)
	}
	key, err := trustee.ParseSigningKey(b)
	clear(b)
	if errors.Is(err, trustee.ErrNotSigningKey) {
		return nil, fmt.Errorf("%s: %w; evote trustee keygen writes one", tf.signingKey, err)
	}
	return key, err
}

// keyRefused words trustee.ErrWrongKey for the signing key file given.
func (tf *trusteeFlags) keyRefused(err error) error {
	if errors.Is(err, trustee.ErrWrongKey) {
		return fmt.Errorf("%s: %w; give this trustee's own key with --signing-key", tf.signingKey, err)
	}
	return err
}

// readTrusteePub reads a trustee's public key file, as keygen writes it
// (trustee.MarshalPublicKey). It returns the hex.
func readTrusteePub(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	k, err := trustee.ParsePublicKey(b)
	switch {
	case errors.Is(err, trustee.ErrNotPublicKey):
		return "", fmt.Errorf("%s is not a trustee public key: want 64 hex digits on one line (the trustee.pub that evote trustee keygen writes)", path)
	case err != nil:
		return "", fmt.Errorf("%s is refused: %w; the trustee must make a fresh key with evote trustee keygen", path, err)
	}
	return hex.EncodeToString(k), nil
}

func trusteeKeygenCmd(g *globals) *cobra.Command {
	var out, pub string
	c := &cobra.Command{
		Use:   "keygen",
		Short: "Step 0: make this trustee's key for signing its ceremony messages",
		Long: `keygen makes a fresh Ed25519 key pair, with which this trustee signs every
key ceremony message it sends. Run it before the manifest exists: the private
key is written age-encrypted (--out, with --passphrase-file, EVOTE_PASSPHRASE
or --identity), the public key as hex on one line (--pub), and printed. Give
the public key to the election admin, who lists every trustee's in the
manifest, in trustee index order (evote election init --trustee-key). Keep the
private key until the ceremony is over: the steps init, deal, verify and
answer read it (--signing-key).`,
		Example: `  EVOTE_PASSPHRASE=... evote trustee keygen --out trustee.sign --pub trustee.pub`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			for _, f := range []string{out, pub} {
				if _, err := os.Stat(f); err == nil {
					return fmt.Errorf("%s exists; remove it first or choose another name", f)
				}
			}
			pk, sk, err := trustee.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			enc, err := trustee.MarshalSigningKey(sk)
			if err != nil {
				return err
			}
			if err := kr.WriteFile(out, enc, false); err != nil {
				return err
			}
			if err := writeNew(pub, trustee.MarshalPublicKey(pk), 0o644, false); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted) and %s\n  public key %x\n", out, pub, pk)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", defaultSigningKey, "where to write the private signing key (age-encrypted)")
	c.Flags().StringVar(&pub, "pub", "trustee.pub", "where to write the public key (hex, one line)")
	return c
}

func (tf *trusteeFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&tf.manifest, "manifest", "manifest.json", "the election manifest `FILE`")
	f.StringVar(&tf.state, "state", "", "this trustee's state `FILE` (age-encrypted; default trustee-INDEX.state)")
	f.StringVar(&tf.dir, "dir", ".", "`DIR` to write this trustee's message files to")
	f.StringVar(&tf.journal, "journal", "", "this trustee's journal `FILE` of the board's checkpoints, which every read of the board extends (default trustee-ORIGIN.journal, after the board key's name)")
	tf.bf.add(c, true, true)
	f.Lookup("board").Usage = "read the ceremony's messages from the board at this `URL` (checked against --board-key) and post this trustee's own there, signed: no admin token needed"
	f.Lookup("admin-token").Usage = "post through the board's admin path with this `TOKEN` instead (not needed: the board takes a trustee's signed messages from anyone)"
	f.Lookup("admin-token-file").Usage = "`FILE` holding the admin token, for the admin path (not needed)"
}

func (tf *trusteeFlags) loadManifest() (*ballot.Manifest, error) {
	return readManifestFile(tf.manifest)
}

func (tf *trusteeFlags) saveState(kr *secret.Keyring, tr *trustee.Trustee, fresh bool) error {
	return kr.WriteFile(tf.state, tr.State(), !fresh)
}

// readCeremony reads ceremony message files for manifest m.
func readCeremony(m *ballot.Manifest, files []string) (*record.Ceremony, error) {
	c := record.NewCeremony(m)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := c.Add(b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return c, nil
}

// messageFile names the file a ceremony message is written to.
func messageFile(msg trustee.Message) string {
	switch msg.Kind {
	case record.KindAnnouncement:
		return fmt.Sprintf("ann-%d.msg", msg.From)
	case record.KindDeal:
		return fmt.Sprintf("deal-%d.msg", msg.From)
	case record.KindComplaint:
		return fmt.Sprintf("complaint-%d-%d.msg", msg.From, msg.To)
	case record.KindCheck:
		// One check per number of deals it names (SPEC.md §7): kind,
		// version, kind, checker, then that number.
		return fmt.Sprintf("check-%d-%d.msg", msg.From, msg.Body[4])
	default:
		return fmt.Sprintf("answer-%d-%d.msg", msg.From, msg.To)
	}
}

// lostState is the refusal of an init whose trustee announced before,
// from a state that is gone.
func lostState(i int, where, state string) error {
	return fmt.Errorf("trustee %d announced already (%s), signed by this signing key, but %s does not exist: was the state lost? An announcement cannot be replaced, since every deal seals a share to its key. If you have the state file, give it with --state. If it is truly lost, this trustee cannot take part in this ceremony: the election authority opens without it once the others are done (evote board open --without %d), or starts the ceremony again with a new manifest", i, where, state, i)
}

func trusteeInitCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	var index int
	c := &cobra.Command{
		Use:   "init [MESSAGE...]",
		Short: "Step 1: start a trustee; write its state and announcement",
		Long: `init starts trustee --index of the manifest's n: it makes the key pair other
trustees seal its shares to, writes its secret state (age-encrypted) and its
announcement ann-INDEX.msg, signed with its signing key (--signing-key),
which must be the one the manifest lists for --index, and with --board posts
it (no admin token needed).

It refuses to replace an announcement: if the board (with --board), the
messages given or --dir already hold one of this trustee, and no state
file, the state was lost, and a new announcement would strand every share
sealed to the first. Run again with the state there, it sends the state's
announcement if the board lacks it and says where the trustee stands.`,
		Example: `  EVOTE_PASSPHRASE=... evote trustee init --index 1 --manifest manifest.json --signing-key trustee.sign \
      --board https://board.example.org --board-key board.vkey`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			m, err := tf.loadManifest()
			if err != nil {
				return err
			}
			if index < 1 || index > m.Trustees.N {
				return usagef("--index must be 1 to %d (the manifest's trustees)", m.Trustees.N)
			}
			if tf.state == "" {
				tf.state = fmt.Sprintf("trustee-%d.state", index)
			}
			s := &session{m: m}
			if s.kr, err = g.keyring(); err != nil {
				return err
			}
			sk, err := tf.loadSigningKey(s.kr)
			if err != nil {
				return err
			}
			if err := tf.readBoard(cmd.Context(), s, files); err != nil {
				return err
			}
			if _, err := os.Stat(tf.state); err == nil {
				// Run again: the state is there; send its announcement
				// if it was not, and say where the trustee stands.
				if err := tf.loadState(s, true); err != nil {
					return err
				}
				if s.tr.Index() != index {
					return usagef("%s is trustee %d's state, not trustee %d's", tf.state, s.tr.Index(), index)
				}
				if err := s.checkOwnAnnouncement(); err != nil {
					return err
				}
				g.printf("already initialized: %s holds trustee %d's state (%s)\n", tf.state, index, s.tr.Stage())
				ann, err := s.tr.Announce()
				if err != nil {
					return err
				}
				if err := tf.send(cmd.Context(), g, s, ann); err != nil {
					return err
				}
				s.cer.Add(ann.Body) // for the report, if it was only just sent
				s.report(g, index, s.tr.Stage())
				return nil
			}
			for _, a := range s.cer.Anns {
				if a.Index == index {
					return lostState(index, s.where()+s.entryOf(record.KindAnnouncement, index), tf.state)
				}
			}
			own := filepath.Join(tf.dir, messageFile(trustee.Message{Kind: record.KindAnnouncement, From: index}))
			if b, err := os.ReadFile(own); err == nil && record.NewCeremony(m).Add(b) == nil {
				return lostState(index, own+" holds its announcement", tf.state)
			}
			tr, ann, err := trustee.New(rand.Reader, m, index, sk)
			if err != nil {
				return tf.keyRefused(err)
			}
			if err := tf.saveState(s.kr, tr, true); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted; keep it, and a copy, until the tally)\n", tf.state)
			s.tr = tr
			if err := tf.send(cmd.Context(), g, s, ann); err != nil {
				return err
			}
			if err := s.cer.Add(ann.Body); err != nil {
				return err
			}
			s.report(g, index, tr.Stage())
			return nil
		},
	}
	tf.add(c)
	tf.addSigning(c)
	c.Flags().IntVar(&index, "index", 0, "this trustee's index, 1 to n")
	return c
}

// tooEarly is the refusal of a step run before the messages it needs.
func tooEarly(format string, a ...any) error {
	return fmt.Errorf("too early: "+format, a...)
}

func trusteeDealCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	c := &cobra.Command{
		Use:   "deal [ANNOUNCEMENT...]",
		Short: "Step 2: deal shares to every trustee; write deal-INDEX.msg",
		Long: `deal reads all n announcements (from the board with --board, or the files
given), picks this trustee's random polynomial and writes its deal:
commitments to the polynomial, a proof of knowledge of its constant term,
and one share sealed to each trustee's announced key; with --board it posts
it. Run before every trustee has announced, it refuses and says whom it
waits for. Dealing again gives the same deal, and posts it only if the
board lacks it.`,
		Example: `  evote trustee deal --state trustee-1.state --board https://board.example.org --board-key board.vkey
  evote trustee deal --state trustee-1.state ann-1.msg ann-2.msg ann-3.msg`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			s, err := tf.open(cmd.Context(), g, files, true, false)
			if err != nil {
				return err
			}
			i, stage := s.tr.Index(), s.tr.Stage()
			if stage == trustee.Final {
				g.printf("already finalized: trustee %d holds its key share; there is nothing to deal\n", i)
				s.report(g, i, stage)
				return nil
			}
			p := s.cer.Progress()
			if wait := waitingFor(p, func(t record.TrusteeProgress) bool { return t.Announced }); len(wait) > 0 {
				return tooEarly("%d of %d announcements %s; wait for %s, then run deal again", p.N-len(wait), p.N, s.where(), record.Names(wait))
			}
			d, err := s.tr.Deal(rand.Reader, s.cer)
			if err != nil {
				return err
			}
			if stage == trustee.Dealt {
				g.printf("already dealt: %s holds trustee %d's deal; it is the same deal again\n", tf.state, i)
			} else if err := tf.saveState(s.kr, s.tr, false); err != nil {
				return err // saved before it is sent: the polynomial must outlive the deal
			}
			if err := tf.send(cmd.Context(), g, s, d); err != nil {
				return err
			}
			s.cer.Add(d.Body) // a repeat, once on the board: ignored
			s.report(g, i, s.tr.Stage())
			return nil
		},
	}
	tf.add(c)
	tf.addSigning(c)
	return c
}

func trusteeVerifyCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	c := &cobra.Command{
		Use:   "verify [DEAL...]",
		Short: "Step 3: check the shares dealt to this trustee; write complaints and a check",
		Long: `verify opens this trustee's share from every deal (on the board with --board,
or the files given) and checks it against the dealer's commitments. For each
share that does not open or does not match it writes complaint-INDEX-DEALER.msg,
which the accused dealer must answer in public (evote trustee answer) or be
disqualified; then check-INDEX-K.msg, this trustee's word that it checked
the K deals it names, which the board waits for before it opens (a trustee
with good shares has no complaint to show it checked). All are signed with
this trustee's signing key, and posted with --board.

Run before every trustee has dealt, it checks the deals there are and says
whom it waits for: run it again once they have dealt. Run again with nothing
new, it posts nothing and says so.`,
		Example: `  evote trustee verify --state trustee-1.state --board https://board.example.org --board-key board.vkey
  evote trustee verify --state trustee-1.state deal-1.msg deal-2.msg deal-3.msg`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			s, err := tf.open(cmd.Context(), g, files, true, false)
			if err != nil {
				return err
			}
			i, stage := s.tr.Index(), s.tr.Stage()
			switch {
			case stage == trustee.Announced:
				return tooEarly("trustee %d has not dealt: run evote trustee deal first (its state checks shares once it has dealt)", i)
			case stage == trustee.Final:
				g.printf("already finalized: trustee %d holds its key share; its shares were checked then\n", i)
				s.report(g, i, stage)
				return nil
			case len(s.cer.Deals) == 0:
				return tooEarly("no deal %s yet; run verify once the trustees have dealt", s.where())
			}
			msgs, err := s.tr.Verify(s.cer)
			if err != nil {
				return err
			}
			var dealers []int
			for _, d := range s.cer.Deals {
				dealers = append(dealers, d.Dealer)
			}
			slices.Sort(dealers)
			g.printf("trustee %d checked the deals of %s: %d complaint(s)\n", i, record.Names(dealers), len(msgs)-1)
			if err := tf.send(cmd.Context(), g, s, msgs...); err != nil {
				return err
			}
			for _, m := range msgs {
				s.cer.Add(m.Body)
			}
			s.report(g, i, stage)
			return nil
		},
	}
	tf.add(c)
	tf.addSigning(c)
	return c
}

func trusteeAnswerCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	c := &cobra.Command{
		Use:   "answer [COMPLAINT...]",
		Short: "Step 4: answer complaints against this trustee",
		Long: `answer reveals, in public, the share this trustee dealt to each trustee that
complained about it (on the board with --board, or the files given), as
answer-INDEX-ACCUSER.msg, signed with this trustee's signing key and posted
with --board. Anyone can check an answered share against the commitments; a
dealer that does not answer is disqualified. With no complaint against it, a
trustee has nothing to do, and answer says so. With t or more complaints
against it, it answers none: t revealed shares would publish its secret
contribution to the election key, so it is disqualified instead.`,
		Example: `  evote trustee answer --state trustee-2.state --board https://board.example.org --board-key board.vkey
  evote trustee answer --state trustee-2.state complaint-1-2.msg`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			s, err := tf.open(cmd.Context(), g, files, true, false)
			if err != nil {
				return err
			}
			i, stage := s.tr.Index(), s.tr.Stage()
			switch stage {
			case trustee.Announced:
				return tooEarly("trustee %d has not dealt, so no complaint can be about its deal: run evote trustee deal first", i)
			case trustee.Final:
				g.printf("already finalized: trustee %d holds its key share, and the ceremony is over\n", i)
				s.report(g, i, stage)
				return nil
			}
			var accusers []int
			for _, cm := range s.cer.Complaints {
				if cm.Accused == i {
					accusers = append(accusers, cm.Accuser)
				}
			}
			if len(accusers) == 0 {
				g.printf("nothing to answer: no complaint against trustee %d %s\n", i, s.where())
				s.report(g, i, stage)
				return nil
			}
			as, err := s.tr.Answer(s.cer)
			if err != nil {
				return err
			}
			g.printf("trustee %d: the complaint of %s answered\n", i, record.Names(accusers))
			if err := tf.send(cmd.Context(), g, s, as...); err != nil {
				return err
			}
			for _, a := range as {
				s.cer.Add(a.Body)
			}
			s.report(g, i, stage)
			return nil
		},
	}
	tf.add(c)
	tf.addSigning(c)
	return c
}

func trusteeFinalizeCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	var share string
	c := &cobra.Command{
		Use:   "finalize [MESSAGE...]",
		Short: "Step 6: compute this trustee's key share once the board has opened",
		Long: `finalize reads every message of the ceremony (from the board with --board,
or the files given), decides which dealers qualify exactly as the board and
every verifier do, and computes this trustee's key share, checking it against
its public verification key. The share is written age-encrypted (--share);
the polynomial is erased from the state, so no complaint can be answered
after it.

With --board it refuses, writing nothing, until the board has opened, and
checks the board opened with the election key this share belongs to (if
not, do not let voting go on). From files it cannot tell whether the board
opened: run it only after evote board open, with every message. Run again
after a failure or a success, it writes the share from the state and
changes nothing else.`,
		Example: `  evote trustee finalize --state trustee-1.state --share trustee-1.share --board https://board.example.org --board-key board.vkey`,
		Args:    args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			s, err := tf.open(cmd.Context(), g, files, false, false)
			if err != nil {
				return err
			}
			i, stage := s.tr.Index(), s.tr.Stage()
			if share == "" {
				share = fmt.Sprintf("trustee-%d.share", i)
			}
			if s.ob != nil && s.ob.Open == nil {
				p := s.cer.Progress()
				waits := "nothing is missing: the authority opens it (evote board open)"
				if len(p.Gaps) > 0 {
					var gs []string
					for _, gp := range p.Gaps {
						gs = append(gs, shortGap(gp))
					}
					waits = "it waits for " + strings.Join(gs, "; ")
				}
				return tooEarly("the board has not opened yet (%s); run finalize after evote board open. Nothing was written", waits)
			}
			if stage == trustee.Announced {
				return fmt.Errorf("trustee %d has not dealt, and a trustee's key share is summed from the state it dealt with: this one holds none", i)
			}
			var ks *trustee.KeyShare
			decided := "" // the qualified and disqualified dealers, for people
			if stage == trustee.Final {
				ks = s.tr.KeyShare()
				g.printf("already finalized: %s holds trustee %d's key share\n", tf.state, i)
			} else {
				res, k, err := s.tr.Finalize(s.cer)
				if err != nil {
					return err
				}
				ks, decided = k, fmt.Sprintf("  qualified dealers %v\n", res.Qualified)
				for _, d := range res.Disqualified {
					decided += fmt.Sprintf("  disqualified: %s\n", d)
				}
			}
			if s.ob != nil {
				o := s.ob.Open
				if !bytes.Equal(o.Key.Bytes(), ks.ElectionKey.Bytes()) || !bytes.Equal(o.VerificationKeys[i-1].Bytes(), ks.VerificationKey.Bytes()) {
					return fmt.Errorf("the board opened (entry %d) with election key %x, and this trustee's share is of %x: do not let voting go on. Nothing was written", s.ob.OpenIndex, o.Key.Bytes(), ks.ElectionKey.Bytes())
				}
			}
			if err := writeShare(s.kr, share, ks); err != nil {
				return err
			}
			if stage != trustee.Final {
				if err := tf.saveState(s.kr, s.tr, false); err != nil {
					return err
				}
			}
			g.printf("%s (age-encrypted) holds trustee %d's key share\n  election key %x\n  verification key %x\n", share, ks.Index, ks.ElectionKey.Bytes(), ks.VerificationKey.Bytes())
			g.printf("%s", decided)
			if s.ob != nil {
				g.printf("  the board's election key matches (open entry %d)\n", s.ob.OpenIndex)
			} else {
				g.logf("warning: not checked against the board: give --board and --board-key to check that it opened with this key\n")
			}
			g.printf("trustee %d: finalized\n%s\n", i, s.next(s.cer.Progress(), i, trustee.Final))
			return nil
		},
	}
	tf.add(c)
	c.Flags().StringVar(&share, "share", "", "where to write the key share (age-encrypted; default trustee-INDEX.share)")
	return c
}

// writeShare writes the key share to path, or leaves a file there that
// holds this very share: a run after a failure writes what the first
// could not, and no run replaces another share.
func writeShare(kr *secret.Keyring, path string, ks *trustee.KeyShare) error {
	b, err := kr.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return kr.WriteFile(path, ks.Marshal(), false)
	case err != nil:
		return fmt.Errorf("%s exists and cannot be read (%w): move it away, then run finalize again", path, err)
	}
	defer clear(b)
	if !bytes.Equal(b, ks.Marshal()) {
		return fmt.Errorf("%s exists and holds another key share: move it away, then run finalize again", path)
	}
	return nil
}
