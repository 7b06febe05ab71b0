package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/crypto/elgamal"
	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/store"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"github.com/gtank/ristretto255"
)

// tokenFor gets a genuine token for the next voter on the roll, over the
// issuer's HTTP API, as a voter's device would.
func (e *election) tokenFor(ctx context.Context) (*ballot.Election, *voterToken) {
	e.t.Helper()
	key, err := verify.BoardKey(strings.TrimSpace(string(readFile(e.t, filepath.Join(e.dir, "board.vkey")))))
	if err != nil {
		e.t.Fatal(err)
	}
	ic := issuerapi.NewClient(e.issuerURL, nil)
	vc := &voter.Client{Issuer: ic, Board: boardapi.NewClient(e.boardURL, nil), BoardKey: key, ManifestHash: e.manifestHash()}
	el, err := vc.Election(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	m := el.Manifest
	secret, pk, err := ballot.GenerateTokenKey(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	blinded, st, err := token.Blind(nil, m.Issuer(), m.ID(), pk.Bytes())
	if err != nil {
		e.t.Fatal(err)
	}
	id, code := e.voter()
	sig, err := ic.RequestToken(ctx, issuerapi.Credentials{VoterID: id, Code: code}, blinded)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, err := token.Finalize(st, sig)
	if err != nil {
		e.t.Fatal(err)
	}
	return el, &voterToken{el: el, secret: secret, pk: pk, tok: tok}
}

type voterToken struct {
	el     *ballot.Election
	secret *ristretto255.Scalar
	pk     *elgamal.PublicKey
	tok    *token.Token
}

// encrypt builds a ballot choosing choice on the motion.
func encrypt(t *testing.T, el *ballot.Election, v *voterToken, choice int) []byte {
	t.Helper()
	b, err := ballot.Encrypt(nil, el, v.secret, v.pk, v.tok, [][]int{{choice}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refused checks that err is the board's refusal with the given HTTP
// status and the code of sentinel.
func refused(t *testing.T, err error, status int, sentinel error) {
	t.Helper()
	var ae *boardapi.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want the board's refusal (HTTP %d, %v), got %v", status, sentinel, err)
	}
	if ae.StatusCode != status || !errors.Is(err, sentinel) {
		t.Fatalf("want HTTP %d, %v; got %v", status, sentinel, err)
	}
	t.Logf("board refused: %v", err)
}

// TestAttackDoubleVote: a voter asks the issuer for a second token (refused
// by the issuer), and a token casts a second ballot, different or the very
// same bytes again (refused by the board). Nothing is stored.
func TestAttackDoubleVote(t *testing.T) {
	e := newElection(t, 4)
	ctx := context.Background()

	id, code := e.voter()
	if r := e.vote(id, code, "yes"); r.code != 0 {
		t.Fatalf("first vote: exit %d\n%s", r.code, r.stderr)
	}
	before := e.size()
	// From another device (no ticket): a second token is asked for.
	r := e.vote(id, code, "no", "--ticket", "another-device.json")
	if after := e.size(); after != before {
		t.Fatalf("the board grew from %d to %d entries on a refused voter", before, after)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "already issued") {
		t.Fatalf("second vote with the same voter ID: want exit 1 naming the issued token, got %d\n%s", r.code, r.stderr)
	}
	t.Logf("evote vote, again: exit %d: %s", r.code, strings.TrimSpace(r.stderr))
	// From the same device, other choices: the election refuses revotes.
	r = e.vote(id, code, "no")
	if after := e.size(); after != before {
		t.Fatalf("the board grew from %d to %d entries on a refused revote", before, after)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "refuses a second ballot") {
		t.Fatalf("second vote from the same ticket: want exit 1 saying revotes are refused, got %d\n%s", r.code, r.stderr)
	}

	// The same token, two ballots.
	el, v := e.tokenFor(ctx)
	bc := boardapi.NewClient(e.boardURL, nil)
	first := encrypt(t, el, v, 0)
	if _, err := bc.Cast(ctx, first); err != nil {
		t.Fatal(err)
	}
	before = e.size()
	_, err := bc.Cast(ctx, encrypt(t, el, v, 1))
	refused(t, err, http.StatusConflict, boardapi.ErrAlreadyVoted)
	if errors.Is(err, boardapi.ErrBallotOnBoard) {
		t.Fatalf("another ballot of the token is taken for the first: %v", err)
	}
	_, err = bc.Cast(ctx, first)
	refused(t, err, http.StatusConflict, boardapi.ErrBallotOnBoard)
	t.Logf("replayed ballot refused: %v", err)
	if after := e.size(); after != before {
		t.Fatalf("the board grew from %d to %d entries on refused ballots", before, after)
	}
}

// TestAttackBallotAfterClose: after close, a fresh voter's ballot and a
// ballot prepared before close are both refused, and nothing is stored.
func TestAttackBallotAfterClose(t *testing.T) {
	e := newElection(t, 4)
	ctx := context.Background()
	el, v := e.tokenFor(ctx)
	prepared := encrypt(t, el, v, 0)
	e.must("board", "close", "--board", e.boardURL, "--admin-token-file", "admin.token", "--accept-untallied")
	before := e.size()

	id, code := e.voter()
	r := e.vote(id, code, "yes")
	if r.code != 1 || !strings.Contains(r.stderr, "closed") {
		t.Fatalf("vote after close: want exit 1 saying the election is closed, got %d\n%s", r.code, r.stderr)
	}
	t.Logf("evote vote after close: exit %d: %s", r.code, strings.TrimSpace(r.stderr))
	_, err := boardapi.NewClient(e.boardURL, nil).Cast(ctx, prepared)
	refused(t, err, http.StatusForbidden, boardapi.ErrClosed)
	if ae := new(boardapi.Error); errors.As(err, &ae) && (strings.Contains(ae.Message, "store/") || strings.Contains(ae.Message, "board:")) {
		t.Errorf("the refusal names the board's inner layers: %q", ae.Message)
	}
	if after := e.size(); after != before {
		t.Fatalf("the board grew from %d to %d entries after close", before, after)
	}
}

// TestAttackForgedToken: a ballot whose eligibility token has one bit
// flipped is refused and nothing is stored; the genuine token still votes.
func TestAttackForgedToken(t *testing.T) {
	e := newElection(t, 4)
	ctx := context.Background()
	el, v := e.tokenFor(ctx)
	bc := boardapi.NewClient(e.boardURL, nil)
	before := e.size()
	// The voter's device refuses to build a ballot on a bad token, so the
	// attacker flips the bit in the encoded ballot.
	genuine := encrypt(t, el, v, 0)
	at := bytes.Index(genuine, v.tok.Bytes())
	if at < 0 {
		t.Fatal("the token is not in the ballot's encoding")
	}
	for _, bit := range []int{0, 8*token.PrefixSize + 1000, 8*len(v.tok.Bytes()) - 1} {
		forged := append([]byte(nil), genuine...)
		forged[at+bit/8] ^= 1 << (bit % 8)
		_, err := bc.Cast(ctx, forged)
		refused(t, err, http.StatusBadRequest, boardapi.ErrInvalidBallot)
	}
	if after := e.size(); after != before {
		t.Fatalf("the board grew from %d to %d entries on forged tokens", before, after)
	}
	if _, err := bc.Cast(ctx, encrypt(t, el, v, 0)); err != nil {
		t.Fatalf("the genuine token no longer votes: %v", err)
	}
}

// TestAttackFlippedBitRecord: a record with one bit flipped, in a ballot,
// the open entry, a partial decryption or the result, fails "evote verify"
// with exit code 1 and a message naming the entry.
func TestAttackFlippedBitRecord(t *testing.T) {
	dir := t.TempDir()
	e := &election{t: t, dir: dir}
	e.must("demo", "--voters", "10", "--dir", dir, "--seed", "7")
	rec := readFile(t, filepath.Join(dir, "record.evr"))
	if r := e.evote("verify", "record.evr", "--board-key", "board.vkey"); r.code != 0 {
		t.Fatalf("the untouched record: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	entries := entryOffsets(t, rec)
	for _, typ := range []store.EntryType{store.Ballot, store.Open, store.Partial, store.Result} {
		i := -1
		for j, en := range entries {
			if store.EntryType(rec[en.off]) == typ {
				i = j // the last of its type
			}
		}
		if i < 0 {
			t.Fatalf("no %v entry", typ)
		}
		en := entries[i]
		bad := append([]byte(nil), rec...)
		pos := en.off + en.len/2
		bad[pos] ^= 0x10
		name := fmt.Sprintf("flipped-%v.evr", typ)
		if err := os.WriteFile(filepath.Join(dir, name), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.evote("verify", name, "--board-key", "board.vkey", "--quiet")
		want := fmt.Sprintf("entry %d (", i)
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%v entry %d, byte %d flipped: want exit 1 naming %q, got exit %d\nstdout:\n%s\nstderr:\n%s", typ, i, pos, want, r.code, r.stdout, r.stderr)
			continue
		}
		t.Logf("%v entry %d flipped: %s", typ, i, strings.TrimSpace(r.stderr))
	}
}

type entry struct{ off, len int }

// entryOffsets walks an export file (store/SPEC.md): the magic line, then
// each leaf as a 4-byte big-endian length and its bytes, then a zero length.
func entryOffsets(t *testing.T, rec []byte) []entry {
	off := len(store.Magic)
	var out []entry
	for {
		n := int(binary.BigEndian.Uint32(rec[off:]))
		off += 4
		if n == 0 {
			return out
		}
		out = append(out, entry{off, n})
		off += n
	}
}
