package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/record"
	"github.com/evote/evote/trustee"
)

// A ceremony step reads the ceremony's messages from the board (--board
// and --board-key: checked as every board read of a trustee's is, and its
// checkpoint recorded in the trustee's journal) or from message files,
// and sends its own messages to the board itself, signed, with no admin
// token: the signature is the credential (SPEC.md §7, §11). Files are
// written either way (--dir), for a ceremony run by hand.

// session is what a ceremony step works from.
type session struct {
	m   *ballot.Manifest
	kr  *secret.Keyring
	tr  *trustee.Trustee // nil for init before the state exists
	cer *record.Ceremony // the messages the step reads: the board's, or the files'
	ob  *trustee.OnBoard // the board's ceremony, nil without --board
	bc  *boardapi.Client
}

// where says where the messages were read from, for people.
func (s *session) where() string {
	if s.ob != nil {
		return "on the board"
	}
	return "in the messages given"
}

// readBoard reads the ceremony from the board, if --board is given: the
// session's messages are then the board's, and files given must be among
// them (so that a step never acts on a message the board will not hold).
func (tf *trusteeFlags) readBoard(ctx context.Context, s *session, files []string) error {
	if tf.bf.url == "" {
		var err error
		s.cer, err = readCeremony(s.m, files)
		return err
	}
	if tf.bf.key == "" {
		return usagef("--board-key is required with --board: a trustee checks the board's log against the board's key (or give --bundle)")
	}
	key, err := ops.BoardKey(tf.bf.key)
	if err != nil {
		return usageError{err}
	}
	if s.bc, err = tf.bf.client(tf.bf.adminToken != "" || tf.bf.adminTokenFile != ""); err != nil {
		return err
	}
	journal := tf.journal
	if journal == "" {
		journal = trustee.DefaultJournal(key)
	}
	var j *trustee.Journal
	if !tf.noJournal {
		if j, err = trustee.OpenJournal(journal, key); err != nil {
			return err
		}
	}
	if s.ob, err = trustee.FetchCeremony(ctx, s.bc, key, s.m, j); err != nil {
		if errors.Is(err, trustee.ErrFork) {
			return fmt.Errorf("%w; keep %s and the board's answers as evidence, and tell the election authority", err, journal)
		}
		return err
	}
	s.cer = s.ob.Ceremony
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(s.ob.Entries, func(e trustee.Entry) bool { return string(e.Body) == string(b) }) {
			return fmt.Errorf("%s is not on the board: the step reads the board's messages; post it (evote board post) or leave it out", f)
		}
	}
	return nil
}

// loadState loads the trustee's state, with its signing key if signing.
func (tf *trusteeFlags) loadState(s *session, signing bool) error {
	if tf.state == "" {
		return usagef("--state trustee-INDEX.state is required")
	}
	state, err := s.kr.ReadFile(tf.state)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist: give this trustee's --state; if it never ran, run evote trustee init first; if its state is lost, a new init is refused (its announcement is on the board, and its shares were sealed to the lost key): the election opens without this trustee (evote board open --without INDEX), and evote trustee status shows where the ceremony stands", tf.state)
	}
	if err != nil {
		return err
	}
	defer clear(state)
	var sk ed25519.PrivateKey
	if signing {
		if sk, err = tf.loadSigningKey(s.kr); err != nil {
			return err
		}
	}
	if s.tr, err = trustee.Load(s.m, state, sk); errors.Is(err, trustee.ErrWrongKey) {
		return tf.keyRefused(err)
	} else if err != nil {
		return fmt.Errorf("%s: %w", tf.state, err)
	}
	return nil
}

// open starts a step: the manifest, the keyring, the state (unless
// noState) and the messages.
func (tf *trusteeFlags) open(ctx context.Context, g *globals, files []string, signing, noState bool) (*session, error) {
	s := &session{}
	var err error
	if s.m, err = tf.loadManifest(); err != nil {
		return nil, err
	}
	if s.kr, err = g.keyring(); err != nil {
		return nil, err
	}
	if !noState {
		if err := tf.loadState(s, signing); err != nil {
			return nil, err
		}
	}
	if err := tf.readBoard(ctx, s, files); err != nil {
		return nil, err
	}
	if s.tr != nil {
		if err := s.checkOwnAnnouncement(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkOwnAnnouncement refuses messages whose announcement for this
// trustee is not its state's: another init made it, and every share sealed
// to it is lost to this state.
func (s *session) checkOwnAnnouncement() error {
	i := s.tr.Index()
	for _, a := range s.cer.Anns {
		if a.Index == i && a.EncryptionKey != s.tr.Announcement().EncryptionKey {
			at := ""
			if s.ob != nil {
				at = fmt.Sprintf(" (entry %d)", s.ob.Of(record.KindAnnouncement, i)[0].Index)
			}
			return fmt.Errorf("the announcement of trustee %d %s%s is not this state's: a second evote trustee init made this state after the first was lost. Shares sealed to the first are lost with it: the ceremony cannot go on with this state. If the first state is truly lost, the election authority opens without trustee %d (evote board open --without %d), or the ceremony starts again with a new manifest", i, s.where(), at, i, i)
		}
	}
	return nil
}

// send writes each message to its file in --dir and posts to the board
// what it does not hold yet; a message the board holds is said, not sent
// again, and one in its place that differs is refused.
func (tf *trusteeFlags) send(ctx context.Context, g *globals, s *session, msgs ...trustee.Message) error {
	for _, msg := range msgs {
		path := filepath.Join(tf.dir, messageFile(msg))
		if err := writeNew(path, msg.Body, 0o644, true); err != nil {
			return err
		}
		g.printf("wrote %s\n", path)
		if s.ob == nil {
			continue
		}
		if e, same, ok := s.ob.Holding(msg); ok {
			if !same {
				return fmt.Errorf("the board holds another %s in this one's place (entry %d), made from another state than %s: the board keeps the first; run the step with the state that made it", kindName(msg.Kind), e.Index, tf.state)
			}
			g.printf("already on the board: %s is entry %d\n", path, e.Index)
			continue
		}
		post := s.bc.PostCeremonyMessage
		if s.bc.AdminToken != "" {
			post = s.bc.PostCeremony // an admin's token given: the admin path, as before
		}
		idx, err := post(ctx, msg.Body)
		if err != nil {
			return fmt.Errorf("posting %s: %w", path, err)
		}
		g.printf("posted %s as entry %d\n", path, idx)
	}
	return nil
}

func kindName(k byte) string {
	switch k {
	case record.KindAnnouncement:
		return "announcement"
	case record.KindDeal:
		return "deal"
	case record.KindComplaint:
		return "complaint"
	case record.KindAnswer:
		return "answer"
	case record.KindCheck:
		return "check"
	}
	return fmt.Sprintf("message of kind %d", k)
}

// entryOf names the board's entry holding trustee i's message of kind,
// " (entry N)", or "" (none, or no board).
func (s *session) entryOf(kind byte, i int) string {
	if s.ob == nil {
		return ""
	}
	es := s.ob.Of(kind, i)
	if len(es) == 0 {
		return ""
	}
	idx := make([]string, len(es))
	for k, e := range es {
		idx[k] = fmt.Sprint(e.Index)
	}
	if len(es) == 1 {
		return " (entry " + idx[0] + ")"
	}
	return " (entries " + strings.Join(idx, ", ") + ")"
}

// standing says what trustee i has done, as the messages show it: "trustee
// 1: announced (entry 1), dealt (entry 4), checked the deals of trustees
// 1, 2 and 3 (entry 7)".
func (s *session) standing(p *record.Progress, i int) string {
	tp := p.Trustees[i-1]
	var done []string
	if tp.Announced {
		done = append(done, "announced"+s.entryOf(record.KindAnnouncement, i))
	}
	if tp.Dealt {
		done = append(done, "dealt"+s.entryOf(record.KindDeal, i))
	}
	if len(tp.Checked) > 0 {
		done = append(done, "checked the deals of "+record.Names(tp.Checked)+s.entryOf(record.KindCheck, i))
	}
	if len(tp.Complained) > 0 {
		done = append(done, "complained about "+record.Names(tp.Complained)+s.entryOf(record.KindComplaint, i))
	}
	if len(tp.Accusers) > 0 {
		done = append(done, fmt.Sprintf("accused by %s, answered %d of them%s", record.Names(tp.Accusers), len(tp.Answered), s.entryOf(record.KindAnswer, i)))
	}
	if len(done) == 0 {
		return fmt.Sprintf("trustee %d: nothing %s yet", i, s.where())
	}
	return fmt.Sprintf("trustee %d: %s", i, strings.Join(done, ", "))
}

// waitingFor lists the trustees whose message of a kind is missing.
func waitingFor(p *record.Progress, has func(record.TrusteeProgress) bool) []int {
	var out []int
	for _, tp := range p.Trustees {
		if !has(tp) {
			out = append(out, tp.Index)
		}
	}
	return out
}

// gapsOf returns trustee i's gaps.
func gapsOf(p *record.Progress, i int) map[record.GapKind]record.Gap {
	out := map[record.GapKind]record.Gap{}
	for _, g := range p.Gaps {
		if g.Trustee == i {
			out[g.Kind] = g
		}
	}
	return out
}

// next says what trustee i should do now, given its stage (0 with no
// state): one sentence beginning "next: ".
func (s *session) next(p *record.Progress, i int, stage trustee.Stage) string {
	if s.ob != nil && s.ob.Open != nil {
		if stage == trustee.Final {
			return "next: during voting, evote trustee checkpoint now and then; after close, evote trustee decrypt"
		}
		return fmt.Sprintf("next: the board opened (entry %d): evote trustee finalize", s.ob.OpenIndex)
	}
	if stage == trustee.Final {
		return "next: nothing: this trustee holds its key share; during voting, evote trustee checkpoint now and then; after close, evote trustee decrypt"
	}
	tp, gaps := p.Trustees[i-1], gapsOf(p, i)
	if !tp.Announced {
		if stage == 0 {
			return "next: evote trustee init"
		}
		return "next: evote trustee init again, which sends this state's announcement"
	}
	if !tp.Dealt {
		if wait := waitingFor(p, func(t record.TrusteeProgress) bool { return t.Announced }); len(wait) > 0 {
			return fmt.Sprintf("next: evote trustee deal, once every trustee has announced (%d of %d %s; waiting for %s)", p.N-len(wait), p.N, s.where(), record.Names(wait))
		}
		return "next: evote trustee deal"
	}
	undealt := waitingFor(p, func(t record.TrusteeProgress) bool { return t.Dealt })
	if g, ok := gaps[record.GapCheck]; ok {
		if len(undealt) > 0 {
			return fmt.Sprintf("next: evote trustee verify, once every trustee has dealt (%d of %d %s; waiting for %s; should it never deal, verify the deals there are)", p.N-len(undealt), p.N, s.where(), record.Names(undealt))
		}
		return fmt.Sprintf("next: evote trustee verify (the deals of %s are not checked yet)", record.Names(g.Dealers))
	}
	if g, ok := gaps[record.GapAnswer]; ok {
		return fmt.Sprintf("next: evote trustee answer (the complaint of %s)", record.Names(g.Accusers))
	}
	var others []string
	for _, g := range p.Gaps {
		if g.Trustee != i {
			others = append(others, shortGap(g))
		}
	}
	switch {
	case len(undealt) > 0 && len(others) > 0:
		return fmt.Sprintf("next: evote trustee verify again once %s %s dealt, to check those deals too; the ceremony waits for: %s", record.Names(undealt), hasHave(undealt), strings.Join(others, "; "))
	case len(others) > 0:
		return "next: nothing for now; the ceremony waits for: " + strings.Join(others, "; ") + "; then the authority opens it (evote board open)"
	}
	return "next: nothing for now: no message is missing; the authority opens the board (evote board open), then evote trustee finalize"
}

func hasHave(is []int) string {
	if len(is) == 1 {
		return "has"
	}
	return "have"
}

// shortGap says a gap in a few words: "trustee 3's deal".
func shortGap(g record.Gap) string {
	switch g.Kind {
	case record.GapAnnouncement:
		return fmt.Sprintf("trustee %d's announcement", g.Trustee)
	case record.GapDeal:
		return fmt.Sprintf("trustee %d's deal", g.Trustee)
	case record.GapCheck:
		return fmt.Sprintf("trustee %d's check of the deals of %s", g.Trustee, record.Names(g.Dealers))
	case record.GapAnswer:
		return fmt.Sprintf("trustee %d's answer to %s", g.Trustee, record.Names(g.Accusers))
	}
	return fmt.Sprintf("trustee %d: disqualified (%s)", g.Trustee, g.Fault)
}

// report prints where trustee i stands and what comes next.
func (s *session) report(g *globals, i int, stage trustee.Stage) {
	p := s.cer.Progress()
	g.printf("%s\n%s\n", s.standing(p, i), s.next(p, i, stage))
}
