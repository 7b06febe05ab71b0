package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evote/evote/board"
	"github.com/evote/evote/board/boardapi"
	"github.com/evote/evote/cmd/evote/internal/secret"
	"github.com/evote/evote/internal/electiontest"
	"github.com/evote/evote/store"
	"github.com/evote/evote/store/bolt"
	"golang.org/x/mod/sumdb/note"
)

// A trustee public key file holding a small-order point (anyone could sign
// as that trustee) or a non-canonical encoding is refused by election init,
// naming the file, and no manifest is written. The vectors are those of
// package ballot's TestAttackSmallOrderTrusteeKey.
func TestAttackSmallOrderTrusteeKeyFile(t *testing.T) {
	dir, base := initFixture(t)
	t2 := filepath.Join(dir, "t2.pub")
	for _, tc := range []struct{ key, want string }{
		{"0100000000000000000000000000000000000000000000000000000000000000", "a point of small order"},                   // identity
		{"ECFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF7F", "a point of small order"},                   // order 2, upper-case hex
		{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "a point of small order"},                   // order 8
		{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "a non-canonical encoding"},                 // y = p+1
		{"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "a non-canonical encoding"},                 // y = p+3, large order
		{"0200000000000000000000000000000000000000000000000000000000000000", "not the encoding of a point of the curve"}, // off the curve
	} {
		if err := os.WriteFile(t2, []byte(tc.key+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		refusedInit(t, dir, append(append([]string(nil), base...), "--title", "T", "--question", "q:Q?:yes,no"), "t2.pub is refused: ballot: trustee key")
		refusedInit(t, dir, append(append([]string(nil), base...), "--title", "T", "--question", "q:Q?:yes,no"), tc.want)
	}
}

// ceremonyFixture is an election's manifest, the signing keys of its
// three trustees (threshold 2) made by evote trustee keygen, and a board
// in its key ceremony served over HTTP on loopback, whose admin token the
// trustees never hold: requests to the admin's ceremony path are counted.
type ceremonyFixture struct {
	t          *testing.T
	dir        string
	url        string
	log        store.Log
	adminPosts atomic.Int64
}

func newCeremonyFixture(t *testing.T) *ceremonyFixture {
	t.Helper()
	t.Setenv("EVOTE_PASSPHRASE", "s3cret")
	f := &ceremonyFixture{t: t, dir: t.TempDir()}
	if err := os.WriteFile(f.in("issuer.pub"), electiontest.Issuer(t).Public().MarshalPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	initArgs := []string{"election", "init", "--title", "T", "--question", "q:Q?:yes,no:1:1", "--trustees", "3", "--threshold", "2",
		"--issuer-key", f.in("issuer.pub"), "--out", f.in("manifest.json")}
	for i := 1; i <= 3; i++ {
		f.must("trustee", "keygen", "--out", f.in(fmt.Sprintf("t%d.sign", i)), "--pub", f.in(fmt.Sprintf("t%d.pub", i)))
		initArgs = append(initArgs, "--trustee-key", f.in(fmt.Sprintf("t%d.pub", i)))
	}
	f.must(initArgs...)
	skey, vkey, err := note.GenerateKey(rand.Reader, "board.trustee.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	os.WriteFile(f.in("board.vkey"), []byte(vkey+"\n"), 0o644)
	os.WriteFile(f.in("admin.token"), []byte("the-admins-token\n"), 0o600)
	if f.log, err = bolt.Open(t.TempDir(), signer, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.log.Close() })
	b, err := board.Create(t.Context(), f.log, mustRead(t, f.in("manifest.json")))
	if err != nil {
		t.Fatal(err)
	}
	h := board.NewHandler(b, board.HandlerConfig{AdminToken: "the-admins-token"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == boardapi.PathCeremony {
			f.adminPosts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	for i := 1; i <= 3; i++ {
		os.Mkdir(f.in(fmt.Sprintf("t%d", i)), 0o755)
	}
	return f
}

func (f *ceremonyFixture) in(name string) string { return filepath.Join(f.dir, name) }

func (f *ceremonyFixture) run(args ...string) (string, string, int) {
	return evote(f.t, append([]string{"--scrypt-work-factor", "10"}, args...)...)
}

func (f *ceremonyFixture) must(args ...string) string {
	f.t.Helper()
	out, errs, code := f.run(args...)
	if code != 0 {
		f.t.Fatalf("evote %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// step runs trustee i's ceremony step against the board, as the trustee
// would on its own machine: its state, signing key, journal and directory.
func (f *ceremonyFixture) step(i int, step string, more ...string) (string, string, int) {
	f.t.Helper()
	args := []string{"trustee", step, "--manifest", f.in("manifest.json"), "--state", f.in(fmt.Sprintf("t%d.state", i)),
		"--board", f.url, "--board-key", f.in("board.vkey"), "--journal", f.in(fmt.Sprintf("t%d.journal", i)), "--dir", f.in(fmt.Sprintf("t%d", i))}
	switch step {
	case "finalize":
		args = append(args, "--share", f.in(fmt.Sprintf("t%d.share", i)))
	case "init":
		args = append(args, "--index", fmt.Sprint(i))
		fallthrough
	case "deal", "verify", "answer":
		args = append(args, "--signing-key", f.in(fmt.Sprintf("t%d.sign", i)))
	}
	return f.run(append(args, more...)...)
}

// says runs a step that must exit code and print each of want.
func (f *ceremonyFixture) says(i int, step string, code int, want ...string) string {
	f.t.Helper()
	out, errs, got := f.step(i, step)
	if got != code {
		f.t.Fatalf("trustee %d %s: exit %d, want %d\n%s%s", i, step, got, code, out, errs)
	}
	for _, w := range want {
		if !strings.Contains(out+errs, w) {
			f.t.Errorf("trustee %d %s does not say %q:\n%s%s", i, step, w, out, errs)
		}
	}
	return out
}

func (f *ceremonyFixture) size() uint64 {
	n, err := f.log.Size()
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func (f *ceremonyFixture) open(more ...string) (string, string, int) {
	return f.run(append([]string{"board", "open", "--board", f.url, "--admin-token-file", f.in("admin.token")}, more...)...)
}

// TestTrusteeCeremonyOverHTTP: three trustees run the ceremony each on its
// own, reading the board and posting their own signed messages with no
// admin token; each step says where its trustee stands and what comes
// next, and run too early or twice says which. Finalize before open is
// refused with nothing written.
func TestTrusteeCeremonyOverHTTP(t *testing.T) {
	f := newCeremonyFixture(t)
	f.says(1, "init", 0, "posted "+f.in("t1/ann-1.msg")+" as entry 1",
		"next: evote trustee deal, once every trustee has announced (1 of 3 on the board; waiting for trustees 2 and 3)")
	f.says(1, "deal", 1, "too early: 1 of 3 announcements on the board; wait for trustees 2 and 3")
	f.says(1, "init", 0, "already initialized", "already on the board: "+f.in("t1/ann-1.msg")+" is entry 1")
	f.says(2, "init", 0)
	f.says(3, "init", 0)
	if f.size() != 4 {
		t.Fatalf("%d entries after three announcements, one sent twice", f.size())
	}

	// Finalize before open: refused, and the state is as it was.
	state := mustRead(t, f.in("t1.state"))
	f.says(1, "finalize", 1, "too early: the board has not opened yet", "trustee 1's deal", "Nothing was written")
	if _, err := os.Stat(f.in("t1.share")); err == nil {
		t.Fatal("finalize before open wrote a share")
	}
	if !bytes.Equal(mustRead(t, f.in("t1.state")), state) {
		t.Fatal("finalize before open changed the state")
	}

	f.says(1, "deal", 0, "posted", "next: evote trustee verify, once every trustee has dealt (1 of 3 on the board; waiting for trustees 2 and 3")
	f.says(1, "deal", 0, "already dealt", "already on the board: "+f.in("t1/deal-1.msg")+" is entry 4")
	f.says(2, "deal", 0)
	f.says(1, "verify", 0, "checked the deals of trustees 1 and 2: 0 complaint(s)", "next: evote trustee verify again once trustee 3 has dealt")
	f.says(3, "deal", 0)
	for i := 1; i <= 3; i++ {
		f.says(i, "verify", 0, "checked the deals of trustees 1, 2 and 3: 0 complaint(s)", "posted")
	}
	f.says(1, "verify", 0, "already on the board: "+f.in("t1/check-1-3.msg"))
	f.says(2, "answer", 0, "nothing to answer: no complaint against trustee 2 on the board",
		"next: nothing for now: no message is missing; the authority opens the board (evote board open), then evote trustee finalize")

	size := f.size()
	out, errs, code := f.run("trustee", "status", "--manifest", f.in("manifest.json"), "--board", f.url, "--board-key", f.in("board.vkey"), "--json")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, errs)
	}
	var st ceremonyStatusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if !st.CanOpen || st.Phase != "ceremony" || st.Entries != size || len(st.Missing) != 0 || st.You != nil || !slices.Equal(st.Trustees[2].Checked, []int{1, 2, 3}) {
		t.Fatalf("status before open:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "trustee-board.trustee.test.journal")); err == nil {
		t.Error("status run by anyone wrote a journal")
	}

	if out, errs, code := f.open(); code != 0 {
		t.Fatalf("board open: exit %d\n%s%s", code, out, errs)
	}
	for i := 1; i <= 3; i++ {
		f.says(i, "finalize", 0, "the board's election key matches", "trustee "+fmt.Sprint(i)+": finalized", "next: during voting, evote trustee checkpoint")
	}
	f.says(1, "finalize", 0, "already finalized", "the board's election key matches")
	// A share lost after finalize is written again from the state; a file
	// holding another share is never replaced.
	kr, err := secret.Load("", "", "EVOTE_PASSPHRASE", 10)
	if err != nil {
		t.Fatal(err)
	}
	plain := func(name string) []byte {
		t.Helper()
		b, err := kr.ReadFile(f.in(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	share1 := plain("t1.share")
	os.Remove(f.in("t1.share"))
	f.says(1, "finalize", 0, "already finalized")
	if !bytes.Equal(plain("t1.share"), share1) {
		t.Fatal("the share written again is not the first")
	}
	os.WriteFile(f.in("t1.share"), mustRead(t, f.in("t2.share")), 0o600)
	f.says(1, "finalize", 1, "holds another key share")
	if !bytes.Equal(mustRead(t, f.in("t1.share")), mustRead(t, f.in("t2.share"))) {
		t.Fatal("finalize replaced a share file")
	}
	f.says(1, "verify", 0, "already finalized")
	if n := f.adminPosts.Load(); n != 0 {
		t.Fatalf("%d requests to the admin's ceremony path", n)
	}
	// The trustee's journal holds the board's checkpoint from its reads.
	if b, err := os.ReadFile(f.in("t1.journal")); err != nil || !strings.Contains(string(b), "board.trustee.test") {
		t.Fatalf("trustee 1's journal: %v\n%s", err, b)
	}
}

// TestAttackTrusteeInitTwice: trustee 3 loses its state after it
// announced. Init again would make a new announcement, stranding every
// share sealed to the first: it is refused, saying what happened and what
// to do, from the board and from the message files alike, and nothing is
// written or posted. The others go on; an open is refused naming trustee
// 3 and what it costs, with the log unchanged, until the authority opens
// without it; trustees 1 and 2 then finalize.
func TestAttackTrusteeInitTwice(t *testing.T) {
	f := newCeremonyFixture(t)
	for i := 1; i <= 3; i++ {
		f.says(i, "init", 0)
	}
	os.Remove(f.in("t3.state"))
	size := f.size()
	f.says(3, "init", 1, "trustee 3 announced already (on the board (entry 3))", "does not exist: was the state lost?",
		"evote board open --without 3", "a new manifest")
	if _, err := os.Stat(f.in("t3.state")); err == nil || f.size() != size {
		t.Fatal("a refused init wrote a state or posted")
	}
	// From files: the announcement in --dir, or among the messages given.
	for _, extra := range [][]string{nil, {f.in("t3/ann-3.msg")}} {
		args := append([]string{"trustee", "init", "--index", "3", "--manifest", f.in("manifest.json"), "--state", f.in("t3.state"),
			"--signing-key", f.in("t3.sign"), "--dir", f.in("t3")}, extra...)
		if out, errs, code := f.run(args...); code != 1 || !strings.Contains(errs, "announced already") {
			t.Fatalf("init again from files %v: exit %d\n%s%s", extra, code, out, errs)
		}
	}
	if _, err := os.Stat(f.in("t3.state")); err == nil {
		t.Fatal("a refused init wrote a state")
	}

	f.says(1, "deal", 0)
	f.says(2, "deal", 0)
	f.says(1, "verify", 0, "checked the deals of trustees 1 and 2")
	f.says(2, "verify", 0)
	f.says(1, "finalize", 1, "too early: the board has not opened yet (it waits for trustee 3's deal")

	// Status, for people and for scripts, with trustee 1's state.
	status := []string{"trustee", "status", "--manifest", f.in("manifest.json"), "--board", f.url, "--board-key", f.in("board.vkey"), "--state", f.in("t1.state"), "--journal", f.in("t1.journal")}
	out := f.must(status...)
	t.Logf("evote trustee status:\n%s", out)
	for _, w := range []string{
		"trustee 1: announced (entry 1), dealt (entry 4), checked the deals of trustees 1 and 2 (entry 6)",
		"trustee 3: announced (entry 3)\n",
		"missing:\n  trustee 3 has not dealt", "open: only going on without trustee 3, all of trustees 1 and 2 must decrypt; one more lost and the election cannot be tallied (evote board open --without 3)",
		"you: trustee 1, dealt\nnext: evote trustee verify again once trustee 3 has dealt",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("status does not say %q:\n%s", w, out)
		}
	}
	var st ceremonyStatusJSON
	if err := json.Unmarshal([]byte(f.must(append(status, "--json")...)), &st); err != nil {
		t.Fatal(err)
	}
	if st.CanOpen || !slices.Equal(st.OpenWithout, []int{3}) || len(st.Missing) != 2 || st.Missing[0].Kind != "deal" || st.Missing[1].Kind != "check" ||
		!strings.HasPrefix(st.Missing[0].Text, "trustee 3 has not dealt") || st.You == nil || st.You.Index != 1 || st.You.Stage != "dealt" ||
		!strings.Contains(st.Loss, "one more lost") || !slices.Equal(st.Trustees[0].Entries, []uint64{1, 4, 6}) {
		t.Fatalf("status --json: %+v", st)
	}

	size = f.size()
	out, errs, code := f.open()
	t.Logf("evote board open:\n%s", errs)
	if code != 1 || !strings.Contains(errs, "trustee 3 has not dealt") || !strings.Contains(errs, "all of trustees 1 and 2 must decrypt") ||
		!strings.Contains(errs, "evote board open --without 3") {
		t.Fatalf("board open with trustee 3 missing: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := f.open("--without", "2"); code != 1 || !strings.Contains(errs, "trustee 3 has not dealt") {
		t.Fatalf("board open --without 2: exit %d\n%s%s", code, out, errs)
	}
	if f.size() != size {
		t.Fatal("a refused open changed the log")
	}
	out = f.must("board", "open", "--board", f.url, "--admin-token-file", f.in("admin.token"), "--without", "3")
	if !strings.Contains(out, "opened without trustee 3: trustee 3 has not dealt") || !strings.Contains(out, "one more lost") {
		t.Errorf("board open --without 3 says:\n%s", out)
	}
	for i := 1; i <= 2; i++ {
		f.says(i, "finalize", 0, "the board's election key matches", "disqualified: trustee 3 published no deal")
	}
}
