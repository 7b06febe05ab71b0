package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
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
tally. Each step reads the messages of the step before as files and writes its
own messages as files (*.msg), which the trustees exchange and the admin posts
to the board (evote board post), or the step posts itself when given --board
and the admin token. Every message is public; only the trustee's signing key,
state file and key share are secret, and they are age-encrypted.

Each trustee signs every message it emits (steps 1 to 4) with its own Ed25519
key, whose public half the manifest lists (trustees.keys, in index order); the
board and every verifier refuse a message its sender did not sign, so no one
else, the board's operator included, can speak for a trustee. The steps read
the signing key from --signing-key (default trustee.sign, what keygen writes).

  0. evote trustee keygen                    before the manifest: writes trustee.sign, trustee.pub
                                             (the admin lists every trustee.pub: evote election init --trustee-key)
  1. evote trustee init --index i            writes trustee-i.state, ann-i.msg
  2. evote trustee deal ann-*.msg            writes deal-i.msg
  3. evote trustee verify deal-*.msg         writes complaint-i-j.msg for each bad share
  4. evote trustee answer complaint-*.msg    writes answer-i-j.msg for each complaint against i
  5. evote board open                        the board decides the ceremony
  6. evote trustee finalize *.msg            writes trustee-i.share, the key share
  ... voting, evote board close ...
  7. evote trustee decrypt                   posts trustee i's partial decryption`,
	}
	c.AddCommand(trusteeKeygenCmd(g), trusteeInitCmd(g), trusteeDealCmd(g), trusteeVerifyCmd(g), trusteeAnswerCmd(g), trusteeFinalizeCmd(g), trusteeCheckpointCmd(g), trusteeDecryptCmd(g))
	return c
}

// trusteeFlags are the flags the ceremony steps share.
type trusteeFlags struct {
	manifest, state, dir, signingKey string
	bf                               boardFlags
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
	f.StringVar(&tf.dir, "dir", ".", "`DIR` to write message files to")
	tf.bf.add(c, true, false)
	c.Flags().Lookup("board").Usage = "also post the messages to the board at this `URL` (needs the admin token)"
}

func (tf *trusteeFlags) loadManifest() (*ballot.Manifest, error) {
	b, err := os.ReadFile(tf.manifest)
	if err != nil {
		return nil, err
	}
	m, err := ballot.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tf.manifest, err)
	}
	return m, nil
}

func (tf *trusteeFlags) saveState(kr *secret.Keyring, tr *trustee.Trustee, fresh bool) error {
	return kr.WriteFile(tf.state, tr.State(), !fresh)
}

// stepState is what a ceremony step after init starts from.
type stepState struct {
	m   *ballot.Manifest
	kr  *secret.Keyring
	tr  *trustee.Trustee
	cer *record.Ceremony
}

// step loads the manifest, the ceremony messages in files and the
// trustee's state with, if signing, its signing key.
func (tf *trusteeFlags) step(g *globals, files []string, signing bool) (*stepState, error) {
	st := &stepState{}
	var err error
	if st.m, err = tf.loadManifest(); err != nil {
		return nil, err
	}
	if st.kr, err = g.keyring(); err != nil {
		return nil, err
	}
	if tf.state == "" {
		return nil, usagef("--state trustee-INDEX.state is required")
	}
	state, err := st.kr.ReadFile(tf.state)
	if err != nil {
		return nil, err
	}
	defer clear(state)
	var sk ed25519.PrivateKey
	if signing {
		if sk, err = tf.loadSigningKey(st.kr); err != nil {
			return nil, err
		}
	}
	if st.tr, err = trustee.Load(st.m, state, sk); errors.Is(err, trustee.ErrWrongKey) {
		return nil, tf.keyRefused(err)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %w", tf.state, err)
	}
	if st.cer, err = readCeremony(st.m, files); err != nil {
		return nil, err
	}
	return st, nil
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

// emit writes each message to its file in dir and, with --board, posts it.
func (tf *trusteeFlags) emit(ctx context.Context, g *globals, msgs ...trustee.Message) error {
	var c *boardapi.Client
	if tf.bf.url != "" {
		var err error
		if c, err = tf.bf.client(true); err != nil {
			return err
		}
	}
	for _, msg := range msgs {
		path := filepath.Join(tf.dir, messageFile(msg))
		if err := writeNew(path, msg.Body, 0o644, true); err != nil {
			return err
		}
		g.printf("wrote %s\n", path)
		if c != nil {
			idx, err := c.PostCeremony(ctx, msg.Body)
			if err != nil {
				return fmt.Errorf("posting %s: %w", path, err)
			}
			g.printf("posted %s as entry %d\n", path, idx)
		}
	}
	return nil
}

func trusteeInitCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	var index int
	c := &cobra.Command{
		Use:   "init",
		Short: "Step 1: start a trustee; write its state and announcement",
		Long: `init starts trustee --index of the manifest's n: it makes the key pair other
trustees seal its shares to, writes its secret state (age-encrypted) and its
announcement ann-INDEX.msg to publish, signed with its signing key
(--signing-key), which must be the one the manifest lists for --index.`,
		Example: `  EVOTE_PASSPHRASE=... evote trustee init --index 1 --manifest manifest.json --signing-key trustee.sign`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := tf.loadManifest()
			if err != nil {
				return err
			}
			if index < 1 || index > m.Trustees.N {
				return usagef("--index must be 1 to %d (the manifest's trustees)", m.Trustees.N)
			}
			kr, err := g.keyring()
			if err != nil {
				return err
			}
			sk, err := tf.loadSigningKey(kr)
			if err != nil {
				return err
			}
			if tf.state == "" {
				tf.state = fmt.Sprintf("trustee-%d.state", index)
			}
			tr, ann, err := trustee.New(rand.Reader, m, index, sk)
			if err != nil {
				return tf.keyRefused(err)
			}
			if err := tf.saveState(kr, tr, true); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted; keep it until the tally)\n", tf.state)
			return tf.emit(cmd.Context(), g, ann)
		},
	}
	tf.add(c)
	tf.addSigning(c)
	c.Flags().IntVar(&index, "index", 0, "this trustee's index, 1 to n")
	return c
}

func trusteeDealCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	c := &cobra.Command{
		Use:   "deal ANNOUNCEMENT...",
		Short: "Step 2: deal shares to every trustee; write deal-INDEX.msg",
		Long: `deal reads all n announcements, picks this trustee's random polynomial and
writes its deal: commitments to the polynomial, a proof of knowledge of its
constant term, and one share sealed to each trustee's announced key. Dealing
again gives the same deal.`,
		Example: `  evote trustee deal --state trustee-1.state ann-1.msg ann-2.msg ann-3.msg`,
		Args:    args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			st, err := tf.step(g, files, true)
			if err != nil {
				return err
			}
			if n := st.m.Trustees.N; len(st.cer.Anns) != n {
				return usagef("deal needs all %d announcements; got %d", n, len(st.cer.Anns))
			}
			d, err := st.tr.Deal(rand.Reader, st.cer)
			if err != nil {
				return err
			}
			if err := tf.saveState(st.kr, st.tr, false); err != nil {
				return err
			}
			return tf.emit(cmd.Context(), g, d)
		},
	}
	tf.add(c)
	tf.addSigning(c)
	return c
}

func trusteeVerifyCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	c := &cobra.Command{
		Use:   "verify DEAL...",
		Short: "Step 3: check the shares dealt to this trustee; write complaints",
		Long: `verify opens this trustee's share from every deal and checks it against the
dealer's commitments. For each share that does not open or does not match it
writes complaint-INDEX-DEALER.msg, signed with this trustee's signing key, to
publish; the accused dealer must then answer it in public (evote trustee
answer) or be disqualified.`,
		Example: `  evote trustee verify --state trustee-1.state deal-1.msg deal-2.msg deal-3.msg`,
		Args:    args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			st, err := tf.step(g, files, true)
			if err != nil {
				return err
			}
			cs, err := st.tr.Verify(st.cer)
			if err != nil {
				return err
			}
			g.printf("trustee %d checked %d deals: %d complaint(s)\n", st.tr.Index(), len(st.cer.Deals), len(cs)-min(len(cs), 1))
			return tf.emit(cmd.Context(), g, cs...)
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
complained about it, as answer-INDEX-ACCUSER.msg, signed with this trustee's
signing key. Anyone can check an answered share against the commitments; a
dealer that does not answer is disqualified. With no complaint against it, a
trustee has nothing to do. With t or more complaints against it, it answers
none: t revealed shares would publish its secret contribution to the election
key, so it is disqualified instead.`,
		Example: `  evote trustee answer --state trustee-2.state complaint-*.msg`,
		Args:    args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			st, err := tf.step(g, files, true)
			if err != nil {
				return err
			}
			as, err := st.tr.Answer(st.cer)
			if err != nil {
				return err
			}
			g.printf("trustee %d: %d complaint(s) against it answered\n", st.tr.Index(), len(as))
			return tf.emit(cmd.Context(), g, as...)
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
		Use:   "finalize MESSAGE...",
		Short: "Step 6: compute this trustee's key share from the whole ceremony",
		Long: `finalize reads every message of the ceremony (announcements, deals,
complaints, answers), decides which dealers qualify exactly as the board and
every verifier do, and computes this trustee's key share, checking it against
its public verification key. The share is written age-encrypted (--share);
the polynomial is erased from the state. Given --board, it also checks that
the board's election key is the one the ceremony produced.`,
		Example: `  evote trustee finalize --state trustee-1.state --share trustee-1.share *.msg`,
		Args:    args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			st, err := tf.step(g, files, false)
			if err != nil {
				return err
			}
			kr, tr := st.kr, st.tr
			res, ks, err := tr.Finalize(st.cer)
			if err != nil {
				return err
			}
			if share == "" {
				share = fmt.Sprintf("trustee-%d.share", tr.Index())
			}
			if err := kr.WriteFile(share, ks.Marshal(), false); err != nil {
				return err
			}
			if err := tf.saveState(kr, tr, false); err != nil {
				return err
			}
			g.printf("wrote %s (age-encrypted): trustee %d's key share\n  qualified dealers %v\n  election key %x\n  verification key %x\n",
				share, ks.Index, res.Qualified, res.ElectionKey.Bytes(), ks.VerificationKey.Bytes())
			for _, d := range res.Disqualified {
				g.printf("  disqualified: %s\n", d)
			}
			if tf.bf.url != "" {
				bc, err := tf.bf.client(false)
				if err != nil {
					return err
				}
				info, err := bc.Election(cmd.Context())
				if err != nil {
					return err
				}
				if info.ElectionKey != hex.EncodeToString(res.ElectionKey.Bytes()) {
					return fmt.Errorf("the board's election key %q is not the one the ceremony produced; do not let voting go on", info.ElectionKey)
				}
				g.printf("  the board's election key matches\n")
			}
			return nil
		},
	}
	tf.add(c)
	c.Flags().StringVar(&share, "share", "", "where to write the key share (age-encrypted; default trustee-INDEX.share)")
	c.Flags().Lookup("board").Usage = "check the election key of the board at this `URL`"
	return c
}
