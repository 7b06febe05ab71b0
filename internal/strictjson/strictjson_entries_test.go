package strictjson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/evote/evote/ballot"
	"github.com/evote/evote/board"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/record"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"github.com/evote/evote/tally"
	"github.com/evote/evote/verify"
	"github.com/evote/evote/voter"
	"golang.org/x/mod/sumdb/note"
)

// dupFirst returns the JSON object b with its first member written twice,
// once with value first (or the member's own value when first is nil) and
// then as it was: {"k":first,"k":v,...}.
func dupFirst(t *testing.T, b []byte, first []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	k, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if first == nil {
		first = v
	}
	name, _ := json.Marshal(k)
	start := bytes.IndexByte(b, '{')
	return append(append(append(append([]byte("{"), name...), ':'), first...), append([]byte(","), b[start+1:]...)...)
}

func size(t *testing.T, l interface{ Size() (uint64, error) }) uint64 {
	t.Helper()
	n, err := l.Size()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantTwice(t *testing.T, what string, err error, name string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), `"`+name+`" appears twice`) {
		t.Fatalf("%s with %q twice: error %v, want one naming the duplicate", what, name, err)
	}
}

// A manifest with "questions" twice, the first with its choices reversed,
// reads as one election to encoding/json (the last) and as another to a
// reader that keeps the first: refused, and a board will not publish it.
func TestAttackDuplicateKeyManifest(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	m := e.Board.Manifest()
	q := m.Questions[0]
	q.Choices = []string{q.Choices[1], q.Choices[0]}
	reversed, err := json.Marshal([]ballot.Question{q})
	if err != nil {
		t.Fatal(err)
	}
	// Put "questions" first, reversed, before the whole manifest.
	raw := append(append([]byte(`{"questions":`), reversed...), append([]byte(","), m.Bytes()[1:]...)...)
	if _, err := ballot.ParseManifest(raw); err == nil {
		t.Fatal("a manifest with questions twice was accepted")
	} else {
		wantTwice(t, "manifest", err, "questions")
	}
	// Nested: "choices" twice inside a question.
	nested := bytes.Replace(m.Bytes(), []byte(`"choices": [`), []byte(`"choices": ["no", "yes"], "choices": [`), 1)
	_, err = ballot.ParseManifest(nested)
	wantTwice(t, "manifest", err, "choices")

	skey, _, err := note.GenerateKey(nil, "board.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	log, err := bolt.Open(t.TempDir(), signer, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := board.Create(context.Background(), log, raw); err == nil {
		t.Fatal("the board published a manifest with questions twice")
	}
	if n := size(t, log); n != 0 {
		t.Fatalf("the refused manifest left %d entries on the board", n)
	}
}

// A result with "counts" twice, the first inventing the counts, is what
// the partial decryptions combine to for encoding/json (it keeps the last)
// and something else for a reader that keeps the first: refused, nothing
// stored; the honest result is then accepted.
func TestAttackDuplicateKeyResult(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	for _, sel := range []int{0, 0, 1} {
		e.Cast(t, e.Voter(t), []int{sel})
	}
	ctx := context.Background()
	if _, err := e.Board.CloseVoting(ctx); err != nil {
		t.Fatal(err)
	}
	agg, err := e.Board.Aggregate()
	if err != nil {
		t.Fatal(err)
	}
	el := e.Board.Election()
	for _, ks := range e.Shares[:2] {
		s, err := tally.Decrypt(el, agg, ks.Index, ks.Secret, ks.VerificationKey)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Board.PostPartial(ctx, s.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	shares, err := e.Board.Partials()
	if err != nil {
		t.Fatal(err)
	}
	res, err := tally.Combine(el, agg, shares)
	if err != nil {
		t.Fatal(err)
	}
	honest := res.Bytes()
	forged := bytes.Replace(honest, []byte(`"counts":`), []byte(`"counts":[[1,2]],"counts":`), 1)
	if bytes.Equal(forged, honest) {
		t.Fatalf("no counts in %s", honest)
	}
	_, err = tally.ParseResult(forged)
	wantTwice(t, "result", err, "counts")
	before := size(t, e.Log)
	if _, err := e.Board.PostResult(ctx, forged); !errors.Is(err, board.ErrInvalidEntry) {
		t.Fatalf("posting a result with counts twice: %v, want ErrInvalidEntry", err)
	}
	if n := size(t, e.Log); n != before {
		t.Fatalf("the refused result grew the log from %d to %d entries", before, n)
	}
	if _, err := e.Board.PostResult(ctx, honest); err != nil {
		t.Fatalf("the honest result after the refused one: %v", err)
	}
}

// The open entry and a saved receipt are read by the same rules.
func TestAttackDuplicateKeyOpenAndReceipt(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	n := size(t, e.Log)
	var open []byte
	for i := uint64(0); i < n; i++ {
		leaf, err := e.Log.Leaf(i)
		if err != nil {
			t.Fatal(err)
		}
		if store.EntryType(leaf[0]) == store.Open {
			open = leaf[1:]
		}
	}
	if open == nil {
		t.Fatal("no open entry")
	}
	m := e.Board.Manifest()
	if _, err := record.ParseOpen(m, open); err != nil {
		t.Fatalf("the board's own open entry: %v", err)
	}
	_, err := record.ParseOpen(m, dupFirst(t, open, nil))
	if err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("an open entry with a field twice: %v", err)
	}

	saved := (&voter.Receipt{Inclusion: []string{}}).Marshal()
	if _, err := voter.ParseReceipt(saved); err != nil {
		t.Fatalf("a receipt as saved: %v", err)
	}
	if _, err := voter.ParseReceipt(dupFirst(t, saved, nil)); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("a receipt with a field twice: %v", err)
	}
}

// resign writes leaves as an export file whose checkpoint signer signs.
func resign(t *testing.T, ls [][]byte, signer note.Signer) []byte {
	return electiontest.Signed(t, signer, ls)
}

// SPEC.md §4 and §8: the close entry is byte-exact canonical JSON,
// {"closed":"<time>"}, read by the strict rules: a record whose board
// signed any other spelling fails verification at the close entry, and one
// with another valid time verifies.
func TestCloseEntryRules(t *testing.T) {
	e := electiontest.New(t, electiontest.Options{})
	for _, sel := range []int{0, 0, 1} {
		e.Cast(t, e.Voter(t), []int{sel})
	}
	e.Tally(t)
	r := store.NewReader(bytes.NewReader(e.Export(t)), e.Verifier)
	var ls [][]byte
	at := -1
	for {
		leaf, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if store.EntryType(leaf[0]) == store.Close {
			at = len(ls)
		}
		ls = append(ls, leaf)
	}
	if at < 0 {
		t.Fatal("no close entry")
	}
	closed := ls[at][1:]
	if !bytes.HasPrefix(closed, []byte(`{"closed":"`)) || !bytes.HasSuffix(closed, []byte(`Z"}`)) || len(closed) != len(`{"closed":"2025-06-01T08:00:00Z"}`) {
		t.Fatalf("the board's close entry %s is not {\"closed\":\"YYYY-MM-DDTHH:MM:SSZ\"}", closed)
	}
	if _, err := ballot.ParseTime(string(closed[11 : len(closed)-2])); err != nil {
		t.Fatalf("the board's close time: %v", err)
	}
	with := func(body string) []byte {
		c := append([][]byte(nil), ls...)
		c[at] = store.Leaf(store.Close, []byte(body))
		return resign(t, c, e.Signer)
	}
	for _, body := range []string{string(closed), `{"closed":"2025-06-01T08:00:00Z"}`, `{"closed":"2025-06-01T10:00:00+02:00"}`} {
		if rep, err := verify.Record(bytes.NewReader(with(body)), e.Verifier, verify.Options{}); err != nil || !rep.OK {
			t.Errorf("close entry %s: %v", body, err)
		}
	}
	for _, body := range []string{
		`{"closed": "2025-06-01T08:00:00Z"}`,
		` {"closed":"2025-06-01T08:00:00Z"}`,
		`{"closed":"2025-06-01T08:00:00Z"}` + "\n",
		`{"closed":"2025-06-01T08:00:00Z","closed":"2025-06-01T08:00:00Z"}`,
		`{"\u0063losed":"2025-06-01T08:00:00Z"}`,
		`{"Closed":"2025-06-01T08:00:00Z"}`,
		`{"closed":null}`,
		`{"closed":""}`,
		`{}`,
		`{"closed":"2025-06-01T08:00:00Z","at":1}`,
		`{"closed":"2025-06-01t08:00:00z"}`,
		`{"closed":"2025-06-01 08:00:00Z"}`,
		`{"closed":"\u0032025-06-01T08:00:00Z"}`,
		"\xef\xbb\xbf" + `{"closed":"2025-06-01T08:00:00Z"}`,
		// What Go's time.Parse takes and SPEC.md §4's grammar does not.
		`{"closed":"2025-06-01T8:00:00Z"}`,
		`{"closed":"2025-06-01T08:00:00,5Z"}`,
		`{"closed":"2025-06-01T08:00:00.5Z"}`,
		`{"closed":"2025-06-01T08:00:00+24:00"}`,
	} {
		rep, err := verify.Record(bytes.NewReader(with(body)), e.Verifier, verify.Options{})
		if err == nil || rep.OK || !strings.Contains(err.Error(), fmt.Sprintf("entry %d (close)", at)) {
			t.Errorf("close entry %q: %v, want a failure at entry %d (close)", body, err, at)
		}
	}
}
