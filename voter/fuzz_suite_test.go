package voter_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/voter"
)

// FuzzParseReceipt checks ParseReceipt never panics and that a receipt it
// accepts survives Marshal and ParseReceipt unchanged.
func FuzzParseReceipt(f *testing.F) {
	f.Add((&voter.Receipt{ElectionID: "ab", TrackingCode: "cd", Index: 7, LeafHash: "ef",
		Checkpoint: "board\n8\nAAAA\n\n— board sig\n", Inclusion: []string{"00", "11"}}).Marshal())
	f.Add([]byte(`{"election_id":"x","Index":1}`))
	f.Add([]byte(`{"index":-1}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := voter.ParseReceipt(b)
		if err != nil {
			return
		}
		r2, err := voter.ParseReceipt(r.Marshal())
		if err != nil {
			t.Fatalf("the marshalled receipt is refused: %v", err)
		}
		if string(r2.Marshal()) != string(r.Marshal()) {
			t.Fatal("receipt changed through Marshal")
		}
	})
}

// boardReply is an http.RoundTripper that answers every request with one
// status and body, standing for a hostile board.
type boardReply struct {
	status int
	body   []byte
}

func (b boardReply) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: b.status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b.body)), Request: r}, nil
}

// FuzzCastReply feeds arbitrary replies of a hostile board to the voter's
// Cast: it never panics, and it accepts a receipt only if the receipt names
// the ballot and proves it is in a tree the board key signed.
func FuzzCastReply(f *testing.F) {
	e := electiontest.New(f, electiontest.Options{})
	el := e.Board.Election()
	raw := e.Ballot(f, e.Voter(f), []int{0})
	rc, err := e.Board.Cast(context.Background(), raw)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(rc)
	f.Add(uint16(201), good)
	f.Add(uint16(201), good[:len(good)/2])
	f.Add(uint16(409), []byte(`{"error":"already voted"}`))
	f.Add(uint16(201), []byte(`{"tracking_code":"00","index":18446744073709551615,"checkpoint":"","inclusion":["zz"]}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		if status < 100 || status > 999 {
			status = 201
		}
		c := &voter.Client{
			Board:    boardapi.NewClient("http://board.invalid", &http.Client{Transport: boardReply{int(status), body}}),
			BoardKey: e.Verifier,
		}
		got, err := c.Cast(context.Background(), el, raw)
		if err != nil {
			return
		}
		tc := ballot.TrackingCode(raw)
		if got.TrackingCode != hex.EncodeToString(tc[:]) {
			t.Fatal("accepted a receipt for another ballot")
		}
		cp, err := store.ParseCheckpoint([]byte(got.Checkpoint), e.Verifier)
		if err != nil {
			t.Fatalf("accepted a receipt whose checkpoint does not verify: %v", err)
		}
		proof, _ := boardapi.DecodeHashes(got.Inclusion)
		if err := store.VerifyInclusion(cp, got.Index, store.Leaf(store.Ballot, raw), proof); err != nil {
			t.Fatalf("accepted a receipt that does not prove inclusion: %v", err)
		}
	})
}
