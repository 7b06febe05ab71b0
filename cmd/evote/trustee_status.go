package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/evote/evote/record"
	"github.com/spf13/cobra"
)

// ceremonyStatusJSON is what evote trustee status --json prints.
type ceremonyStatusJSON struct {
	Phase    string              `json:"phase"`   // "ceremony", or "open" once the open entry is there
	Entries  uint64              `json:"entries"` // in the board's checkpoint (0 from files)
	N        int                 `json:"n"`
	T        int                 `json:"t"`
	Trustees []trusteeStatusJSON `json:"trustees"`
	Missing  []gapJSON           `json:"missing"`
	// CanOpen: nothing is missing. Otherwise, if a key can be made,
	// OpenWithout is what an open must be told to go on without (evote
	// board open --without), and Loss what the election would lose;
	// Undecided says why no key can be made at all.
	CanOpen     bool     `json:"can_open"`
	OpenWithout []int    `json:"open_without"`
	Loss        string   `json:"loss,omitempty"`
	Undecided   string   `json:"undecided,omitempty"`
	OpenIndex   uint64   `json:"open_index,omitempty"`
	ElectionKey string   `json:"election_key,omitempty"`
	You         *youJSON `json:"you,omitempty"`
}

type trusteeStatusJSON struct {
	record.TrusteeProgress
	Entries []uint64 `json:"entries"` // its messages' entries on the board, ascending
}

type gapJSON struct {
	record.Gap
	Text string `json:"text"`
}

type youJSON struct {
	Index int    `json:"index"`
	Stage string `json:"stage"` // "announced", "dealt" or "finalized": this trustee's state
	Next  string `json:"next"`
}

func trusteeStatusCmd(g *globals) *cobra.Command {
	var tf trusteeFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [MESSAGE...]",
		Short: "Say what the key ceremony waits for, and what this trustee should do next",
		Long: `status reads the key ceremony from the board (--board and --board-key, or the
election bundle; its log checked as a trustee's every read of it is), or
from the message files given, and says which trustees announced, dealt,
checked their shares, complained and answered; what is missing and what an
open would lose without those trustees; and whether the board can open.
Anyone can run it. Given this trustee's --state (and its passphrase), it
also says where this trustee stands and what it should do next.

With --json it prints one JSON object: "phase" ("ceremony" or "open"),
"entries", "n", "t", "trustees" (each "index", "announced", "dealt",
"checked", "complained", "accused_by", "answered", "entries"), "missing"
(each "trustee", "missing": announcement, deal, answer, fault or check,
"dealers", "accusers", "fault", and "text" for people), "can_open",
"open_without" (the trustees an open must be told to go on without),
"loss", "undecided" (why no key can be made yet), "open_index" and
"election_key" after open, and with --state "you" ("index", "stage",
"next").`,
		Example: `  evote trustee status --board https://board.example.org --board-key board.vkey
  evote trustee status --board https://board.example.org --board-key board.vkey --state trustee-1.state --json`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			s := &session{}
			var err error
			if s.m, err = tf.loadManifest(); err != nil {
				return err
			}
			// Anyone may ask; only a trustee's run (its state, or its
			// journal named) records the board's checkpoint.
			tf.noJournal = tf.state == "" && tf.journal == ""
			if tf.state != "" {
				if s.kr, err = g.keyring(); err != nil {
					return err
				}
				if err := tf.loadState(s, false); err != nil {
					return err
				}
			}
			if err := tf.readBoard(cmd.Context(), s, files); err != nil {
				return err
			}
			if s.tr != nil {
				if err := s.checkOwnAnnouncement(); err != nil {
					return err
				}
			}
			out := s.status()
			if asJSON {
				return g.printJSON(out)
			}
			s.printStatus(g, out)
			return nil
		},
	}
	tf.add(c)
	c.Flags().Lookup("state").Usage = "this trustee's state `FILE`, to say what it should do next (optional)"
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys in the help)")
	return c
}

// status gathers what status prints.
func (s *session) status() *ceremonyStatusJSON {
	p := s.cer.Progress()
	out := &ceremonyStatusJSON{Phase: "ceremony", N: p.N, T: p.T, OpenWithout: []int{}, Missing: []gapJSON{}}
	if s.ob != nil {
		out.Entries = s.ob.Checkpoint.Size
		if s.ob.Open != nil {
			out.Phase, out.OpenIndex = "open", s.ob.OpenIndex
			out.ElectionKey = hex.EncodeToString(s.ob.Open.Key.Bytes())
		}
	}
	for _, tp := range p.Trustees {
		ts := trusteeStatusJSON{TrusteeProgress: tp, Entries: []uint64{}}
		if s.ob != nil {
			for _, e := range s.ob.Entries {
				if e.From == tp.Index {
					ts.Entries = append(ts.Entries, e.Index)
				}
			}
		}
		for _, l := range []*[]int{&ts.Checked, &ts.Complained, &ts.Accusers, &ts.Answered} {
			if *l == nil {
				*l = []int{} // [] in the JSON, never null
			}
		}
		out.Trustees = append(out.Trustees, ts)
	}
	for _, gp := range p.Gaps {
		out.Missing = append(out.Missing, gapJSON{Gap: gp, Text: gp.Text()})
	}
	switch {
	case p.Open == nil:
		out.Undecided = p.Undecided.Error()
	case len(p.Gaps) == 0:
		out.CanOpen = true
	default:
		out.OpenWithout, out.Loss = p.Missing(), p.Loss()
	}
	if s.tr != nil {
		i := s.tr.Index()
		out.You = &youJSON{Index: i, Stage: s.tr.Stage().String(), Next: strings.TrimPrefix(s.next(p, i, s.tr.Stage()), "next: ")}
	}
	return out
}

func (s *session) printStatus(g *globals, out *ceremonyStatusJSON) {
	p := s.cer.Progress()
	from := fmt.Sprintf("%d message files", len(s.cer.Anns)+len(s.cer.Deals)+len(s.cer.Complaints)+len(s.cer.Answers)+len(s.cer.Checks))
	if s.ob != nil {
		from = fmt.Sprintf("the board: %d entries (checkpoint verified)", out.Entries)
	}
	g.printf("key ceremony of %d trustees, threshold %d, from %s\n", p.N, p.T, from)
	for _, tp := range p.Trustees {
		g.printf("  %s\n", s.standing(p, tp.Index))
	}
	if len(p.Gaps) > 0 {
		g.printf("missing:\n")
		for _, gp := range p.Gaps {
			g.printf("  %s\n", gp.Text())
		}
	}
	switch {
	case out.Phase == "open":
		g.printf("open: the board opened at entry %d, election key %s\n", out.OpenIndex, out.ElectionKey)
	case out.CanOpen:
		g.printf("open: nothing is missing; the authority may open (evote board open)\n")
	case out.Undecided != "":
		g.printf("open: not possible yet: %s\n", out.Undecided)
	default:
		g.printf("open: only going on %s (evote board open --without %s)\n", out.Loss, joinInts(out.OpenWithout))
	}
	if out.You != nil {
		g.printf("you: trustee %d, %s\nnext: %s\n", out.You.Index, out.You.Stage, out.You.Next)
	}
}

// joinInts writes indices as a comma list, as --without takes them.
func joinInts(is []int) string {
	s := ""
	for k, i := range is {
		if k > 0 {
			s += ","
		}
		s += fmt.Sprint(i)
	}
	return s
}
