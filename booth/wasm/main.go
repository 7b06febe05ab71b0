//go:build js && wasm

// Command wasm is the voter client of the browser booth: package voter,
// compiled to WebAssembly and run in the booth's Web Worker, so the page
// stays responsive while a ballot is encrypted and proved, and the code the
// browser runs is the code `evote vote` runs and the tests check.
//
// It answers the worker's calls, evoteCall(op, json) → Promise of json, one
// per step of voting. The page keeps the voter's ticket (voter.Ticket) in
// the browser's storage between the steps: every call that changes it
// returns the new ticket, and the page saves it before the next step that
// talks to a service, so a closed tab resumes where it stopped. A refusal
// rejects the promise with {code, message}: code names the cause for the
// page's catalogues (booth.ErrorCode), message is for the log.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"syscall/js"
	"time"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/booth/boothapi"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// state is the worker's one election.
type state struct {
	client   *voter.Client
	election *ballot.Election
}

var st state

func main() {
	js.Global().Set("evoteCall", js.FuncOf(call))
	js.Global().Call("evoteReady")
	select {}
}

// call runs op in a goroutine (a network call must not block the event
// loop the fetch it makes answers on) and returns a Promise.
func call(_ js.Value, args []js.Value) any {
	op, arg := args[0].String(), args[1].String()
	var resolve, reject js.Value
	promise := js.Global().Get("Promise").New(js.FuncOf(func(_ js.Value, a []js.Value) any {
		resolve, reject = a[0], a[1]
		return nil
	}))
	go func() {
		out, err := run(op, []byte(arg))
		if err != nil {
			b, _ := json.Marshal(boothapi.FailureOf(err))
			reject.Invoke(string(b))
			return
		}
		b, _ := json.Marshal(out)
		resolve.Invoke(string(b))
	}()
	return promise
}

func run(op string, arg []byte) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if op == boothapi.OpInit {
		return nil, initClient(arg)
	}
	if st.client == nil {
		return nil, errors.New("booth: not initialised")
	}
	switch op {
	case boothapi.OpElection:
		return election(ctx)
	case boothapi.OpCheckReceipt:
		var a boothapi.ReceiptArg
		if err := json.Unmarshal(arg, &a); err != nil {
			return nil, err
		}
		return checkReceipt(ctx, a.Receipt)
	}
	// Every other step needs the election, checked.
	if st.election == nil {
		r, err := election(ctx)
		if err != nil {
			return nil, err
		}
		if st.election == nil {
			if r.(boothapi.ElectionResult).Phase == "closed" {
				return nil, boardapi.ErrClosed
			}
			return nil, boardapi.ErrNotOpen
		}
	}
	e := st.election
	var a boothapi.TicketArg
	if err := json.Unmarshal(arg, &a); err != nil {
		return nil, err
	}
	var t *voter.Ticket
	if op != boothapi.OpNewTicket && op != boothapi.OpCheckAudit {
		var err error
		if t, err = voter.ParseTicket([]byte(a.Ticket)); err != nil {
			return nil, err
		}
	}
	switch op {
	case boothapi.OpNewTicket:
		t, err := voter.NewTicket(nil, e, a.VoterID)
		if err != nil {
			return nil, err
		}
		return boothapi.TicketResult{Ticket: string(t.Marshal())}, nil
	case boothapi.OpToken:
		// The code's form is public: a slip is told apart from a wrong
		// code here, without asking the issuer.
		if _, err := issuerapi.NormalizeCode(a.Code); err != nil {
			return nil, err
		}
		// The one-time code too: a slip is not a wrong try, which the
		// issuer counts (five void a sent code).
		var second string
		if a.SecondFactor != "" {
			var err error
			if second, err = voter.NormalizeSecondFactor(a.SecondFactor); err != nil {
				return nil, err
			}
		}
		if err := st.client.GetToken(ctx, e, t, a.Code, second); err != nil {
			return nil, err
		}
		return boothapi.TicketResult{Ticket: string(t.Marshal())}, nil
	case boothapi.OpSeal:
		if err := st.client.Seal(e, t, a.Choices); err != nil {
			return nil, err
		}
		return sealed(t)
	case boothapi.OpAudit:
		au, err := t.Audit()
		if err != nil {
			return nil, err
		}
		return boothapi.TicketResult{Ticket: string(t.Marshal()), Audit: string(au.Marshal()), Fingerprint: au.Fingerprint}, nil
	case boothapi.OpPrepareCast:
		t.ForgetOpening()
		return boothapi.TicketResult{Ticket: string(t.Marshal())}, nil
	case boothapi.OpCast:
		rc, err := st.client.CastTicket(ctx, e, t)
		if err != nil {
			return nil, err
		}
		return boothapi.TicketResult{Ticket: string(t.Marshal()), Receipt: string(rc.Marshal()), TrackingCode: rc.TrackingCode, Index: rc.Index}, nil
	case boothapi.OpCheckAudit:
		au, err := voter.ParseAudit([]byte(a.Audit))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", boothapi.ErrFileFormat, err)
		}
		if err := voter.CheckAudit(e, au); err != nil {
			return nil, err
		}
		return boothapi.TicketResult{Fingerprint: au.Fingerprint, Choices: au.Choices}, nil
	case boothapi.OpBench:
		return bench(e, t, a.Choices, a.N)
	}
	return nil, fmt.Errorf("booth: no operation %q", op)
}

func initClient(arg []byte) error {
	var c boothapi.Config
	if err := json.Unmarshal(arg, &c); err != nil {
		return err
	}
	key, err := note.NewVerifier(c.BoardKey)
	if err != nil {
		return err
	}
	var mh [32]byte
	if b, err := hex.DecodeString(c.ManifestHash); err != nil || len(b) != len(mh) {
		return errors.New("booth: the configuration's manifest_hash is not 64 hex digits")
	} else {
		copy(mh[:], b)
	}
	// The page resolves the services' addresses against its own.
	st = state{client: &voter.Client{
		Board:        boardapi.NewClientOver(c.Board, fetchTransport{}),
		Issuer:       issuerapi.NewClientOver(c.Issuer, fetchTransport{}),
		BoardKey:     key,
		ManifestHash: mh,
	}}
	return nil
}

func election(ctx context.Context) (any, error) {
	info, err := st.client.Board.Election(ctx)
	if err != nil {
		return nil, err
	}
	if info.OpenIndex == 0 {
		// Said by the board and not trusted for more than the message: a
		// board that lies about its phase only keeps its voters away.
		return boothapi.ElectionResult{Phase: info.Phase}, nil
	}
	e, err := st.client.Election(ctx)
	if err != nil {
		return nil, err
	}
	st.election = e
	m := e.Manifest
	// Once open, and after close (for audits and a reply lost before it),
	// the election is read and checked.
	return boothapi.ElectionResult{
		Phase: info.Phase, ElectionID: hex.EncodeToString(m.ID()), Title: m.Title,
		Questions: m.Questions, Opens: m.Opens, Closes: m.Closes, Revoting: m.Revoting,
	}, nil
}

// sealed returns the sealed ticket and its ballot's fingerprint, which the
// page shows before the voter chooses to cast or to audit: an audit reveals
// the ballot's body, whose fingerprint it is.
func sealed(t *voter.Ticket) (any, error) {
	fp, err := t.Fingerprint()
	if err != nil {
		return nil, err
	}
	return boothapi.TicketResult{Ticket: string(t.Marshal()), Fingerprint: fp}, nil
}

func checkReceipt(ctx context.Context, text string) (any, error) {
	r, err := voter.ParseReceipt([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", boothapi.ErrFileFormat, err)
	}
	cp, err := st.client.CheckReceipt(ctx, r)
	if err != nil {
		return nil, err
	}
	return boothapi.TicketResult{TrackingCode: r.TrackingCode, Index: r.Index, Size: cp.Size}, nil
}

// bench seals n ballots with t's token and returns each one's time: the
// booth's benchmark, beside ballot's native one (BENCHMARKS.md).
func bench(e *ballot.Election, t *voter.Ticket, choices [][]int, n int) (any, error) {
	var ms []float64
	for range n {
		start := time.Now()
		if err := st.client.Seal(e, t, choices); err != nil {
			return nil, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	return boothapi.TicketResult{Millis: ms}, nil
}
