package postgres_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evote/evote/crypto/token"
	"github.com/evote/evote/internal/pgdb"
	"github.com/evote/evote/internal/pgtest"
	"github.com/evote/evote/issuer"
	"github.com/evote/evote/issuer/issuerapi"
	"github.com/evote/evote/issuer/postgres"
	"github.com/evote/evote/issuer/rolltest"
	"github.com/jackc/pgx/v5"
)

var ctx = context.Background()

func open(t testing.TB, dsn string) *postgres.Roll {
	t.Helper()
	r, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestRollConformance runs the issuer.Roll conformance suite on
// PostgreSQL, each test on a database of its own.
func TestRollConformance(t *testing.T) {
	rolltest.Run(t, func(t testing.TB) issuer.Roll { return open(t, pgtest.NewDatabase(t)) })
}

var (
	keyOnce sync.Once
	key     *token.PrivateKey
	keyErr  error
)

func issuingKey(t testing.TB) *token.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { key, keyErr = token.GenerateKey(token.DefaultKeyBits) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return key
}

var election = bytes.Repeat([]byte{0x42}, token.ElectionIDSize)

func blinded(t testing.TB) []byte {
	t.Helper()
	tokenKey, _, _ := ed25519.GenerateKey(rand.Reader)
	b, _, err := token.Blind(nil, issuingKey(t).Public(), election, tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// twoIssuers opens the roll of one database twice, two pools as two
// issuer processes have, with an issuer on each whose clock stands.
func twoIssuers(t *testing.T, dsn string) ([2]*postgres.Roll, [2]*issuer.Issuer) {
	t.Helper()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var rolls [2]*postgres.Roll
	var iss [2]*issuer.Issuer
	for i := range rolls {
		rolls[i] = open(t, dsn)
		var err error
		if iss[i], err = issuer.New(issuer.Config{ElectionID: election, Key: issuingKey(t), Roll: rolls[i], Now: func() time.Time { return now }}); err != nil {
			t.Fatal(err)
		}
	}
	return rolls, iss
}

// TestTwoProcessesIssue: two issuer processes, each with its own pool on
// one database, race requests for the same voters, each request with a
// blinded message of its own: exactly one blinded message is signed per
// voter, the one the roll holds, and both processes count the tokens
// right.
func TestTwoProcessesIssue(t *testing.T) {
	rolls, iss := twoIssuers(t, pgtest.NewDatabase(t))
	const voters, perVoter = 8, 4
	codes := make([]string, voters)
	recs := make([]issuer.RollEntry, voters)
	for v := range recs {
		codes[v], _ = issuer.GenerateCode()
		h, err := issuer.HashCode(codes[v])
		if err != nil {
			t.Fatal(err)
		}
		recs[v] = issuer.RollEntry{VoterID: fmt.Sprintf("voter-%d", v), Code: h}
	}
	if err := rolls[0].Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	type win struct{ blinded, sig []byte }
	var mu sync.Mutex
	wins := make(map[string][]win)
	msgs := make([][][]byte, voters)
	for v := range msgs {
		for range perVoter {
			msgs[v] = append(msgs[v], blinded(t))
		}
	}
	var wg sync.WaitGroup
	for v := range voters {
		for i := range perVoter {
			wg.Go(func() {
				cred := issuerapi.Credentials{VoterID: recs[v].VoterID, Code: codes[v]}
				sig, err := iss[i%2].Issue(ctx, cred, msgs[v][i], fmt.Sprintf("198.51.100.%d", i))
				switch {
				case err == nil:
					mu.Lock()
					wins[recs[v].VoterID] = append(wins[recs[v].VoterID], win{msgs[v][i], sig})
					mu.Unlock()
				case !errors.Is(err, issuer.ErrAlreadyIssued):
					t.Errorf("voter %d, request %d: %v", v, i, err)
				}
			})
		}
	}
	wg.Wait()
	for v := range recs {
		id := recs[v].VoterID
		if len(wins[id]) != 1 {
			t.Fatalf("%s: %d of %d blinded messages signed through two processes, want 1", id, len(wins[id]), perVoter)
		}
		rec, err := rolls[1].Get(ctx, id)
		if err != nil || !bytes.Equal(rec.Blinded, wins[id][0].blinded) || !bytes.Equal(rec.BlindSig, wins[id][0].sig) {
			t.Fatalf("%s: the roll holds another blinded message than the one signed (%v)", id, err)
		}
	}
	for i, r := range rolls {
		if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: voters, Issued: voters}) {
			t.Fatalf("counts through process %d = %+v, %v; want %d eligible, %d issued", i, c, err, voters, voters)
		}
	}
}

// TestTwoProcessesGuess: rolltest's TwoIssuersOneRoll on two pools, as
// two issuer processes: the back-off of wrong codes holds across them.
func TestTwoProcessesGuess(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	rolltest.TwoIssuers(t, [2]issuer.Roll{open(t, dsn), open(t, dsn)})
}

// waitFor polls the server until a backend runs a statement holding
// query, waiting for a lock, or done is closed (the statement did not
// wait); it fails after a minute, which only a broken server takes.
func waitFor(t *testing.T, watch *pgx.Conn, query string, done <-chan struct{}) bool {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case <-done:
			return false
		default:
		}
		var n int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND position($1 in query) > 0`, query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return true
		}
	}
	t.Fatalf("no statement %q waited for a lock in a minute", query)
	return false
}

// TestAttackAddRacesFirstToken: an Add (a late member, through one
// process) that has found no token issued is held before it commits, and
// the first token is issued through the other process meanwhile. The
// issuance must wait for the Add to commit: had it committed first, the
// roll would have taken a voter after a token was issued, the count of
// eligible voters changing under the turnout. (The hold is the test's own
// connection inserting the late voter's ID without committing, which
// Add's insert waits for.)
func TestAttackAddRacesFirstToken(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	rolls, _ := twoIssuers(t, dsn)
	if err := rolls[0].Add(ctx, []issuer.RollEntry{{VoterID: "a"}}); err != nil {
		t.Fatal(err)
	}
	hold := connect(t, dsn)
	htx, err := hold.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := htx.Exec(ctx, "INSERT INTO roll_voters (id, entry) VALUES ('late', '{}')"); err != nil {
		t.Fatal(err)
	}
	watch := connect(t, dsn)
	addDone := make(chan struct{})
	var addErr error
	go func() {
		defer close(addDone)
		addErr = rolls[0].Add(ctx, []issuer.RollEntry{{VoterID: "late"}})
	}()
	if !waitFor(t, watch, "INSERT INTO roll_voters (id, entry, issued)", addDone) {
		t.Fatalf("the late Add did not wait for the held insert: %v", addErr)
	}
	issueDone := make(chan struct{})
	var issueErr error
	go func() {
		defer close(issueDone)
		_, issueErr = rolls[1].Update(ctx, "a", func(e *issuer.RollEntry) error { _, err := e.Issue([]byte("b"), []byte("s")); return err })
	}()
	if !waitFor(t, watch, "FOR KEY SHARE", issueDone) {
		t.Fatalf("the first token was issued (%v) while an Add that had found none issued was still open", issueErr)
	}
	if err := htx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	<-addDone
	<-issueDone
	if addErr != nil || issueErr != nil {
		t.Fatalf("add %v, issue %v", addErr, issueErr)
	}
	if c, _ := rolls[1].Counts(ctx); c != (issuer.Counts{Eligible: 2, Issued: 1}) {
		t.Fatalf("counts %+v", c)
	}
	if err := rolls[1].Add(ctx, []issuer.RollEntry{{VoterID: "later"}}); !errors.Is(err, issuer.ErrIssuanceStarted) {
		t.Fatalf("an add after the first token: %v", err)
	}
}

// TestUnknownVoterDecoys: an Update for an ID not on the roll writes one
// of the decoy rows, the same one for the same ID from every process (so
// its requests take turns as a voter's do), and different IDs spread over
// many; no decoy is counted, got, or added over, and none ever holds a
// token.
func TestUnknownVoterDecoys(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	rolls, _ := twoIssuers(t, dsn)
	if err := rolls[0].Add(ctx, []issuer.RollEntry{{VoterID: "a"}}); err != nil {
		t.Fatal(err)
	}
	db := connect(t, dsn)
	written := func() map[string]int {
		rows, _ := db.Query(ctx, "SELECT id, entry FROM roll_voters WHERE decoy")
		m := make(map[string]int)
		for rows.Next() {
			var id string
			var e issuer.RollEntry
			var raw []byte
			if err := rows.Scan(&id, &raw); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.VoterID != id || e.Issued() {
				t.Fatalf("decoy %q: %+v, %v", id, e, err)
			}
			if e.Failures > 0 {
				m[id] = e.Failures
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	fail := func(r *postgres.Roll, id string) {
		t.Helper()
		if _, err := r.Update(ctx, id, func(e *issuer.RollEntry) error { e.Failures++; return nil }); !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Fatalf("Update of unknown %q: %v", id, err)
		}
		// A token is never recorded on a decoy (written() checks).
		if _, err := r.Update(ctx, id, func(e *issuer.RollEntry) error { _, err := e.Issue([]byte("b"), []byte("s")); return err }); !errors.Is(err, issuer.ErrUnknownVoter) {
			t.Fatalf("Issue to unknown %q: %v", id, err)
		}
	}
	fail(rolls[0], "stranger")
	fail(rolls[1], "stranger")
	w := written()
	if len(w) != 1 {
		t.Fatalf("one unknown ID through two processes wrote %d decoys: %v", len(w), w)
	}
	for _, n := range w {
		if n != 2 {
			t.Fatalf("the two processes wrote the unknown ID's decoy %d times, want 2", n)
		}
	}
	for i := range 64 {
		fail(rolls[i%2], fmt.Sprint("stranger-", i))
	}
	if n := len(written()); n < 32 {
		t.Fatalf("65 unknown IDs wrote only %d decoys: they are not spread", n)
	}
	var decoys int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM roll_voters WHERE decoy").Scan(&decoys); err != nil || decoys < 2 {
		t.Fatalf("%d decoys, %v", decoys, err)
	}
	var anyDecoy string
	db.QueryRow(ctx, "SELECT id FROM roll_voters WHERE decoy LIMIT 1").Scan(&anyDecoy)
	if _, err := rolls[0].Get(ctx, anyDecoy); !errors.Is(err, issuer.ErrUnknownVoter) {
		t.Fatalf("Get of a decoy's ID: %v", err)
	}
	if c, _ := rolls[0].Counts(ctx); c != (issuer.Counts{Eligible: 1}) {
		t.Fatalf("counts with decoys written: %+v", c)
	}
	// A decoy deleted by hand is put back.
	if _, err := db.Exec(ctx, "DELETE FROM roll_voters WHERE decoy"); err != nil {
		t.Fatal(err)
	}
	fail(rolls[0], "stranger")
	fail(rolls[1], "stranger")
	if w := written(); len(w) != 1 {
		t.Fatalf("after the decoys were deleted: %v, want the unknown ID's decoy back", w)
	}
}

// TestPurgeRacesUpdates: a purge through one process, once a few tokens
// are issued, while the other's issuances and wrong codes race it: each Update either lands before the
// purge or is refused ErrPurged, never fails otherwise (the locks have one
// order, so none deadlocks), and the purge counts exactly the tokens whose
// issuance succeeded.
func TestPurgeRacesUpdates(t *testing.T) {
	rolls, _ := twoIssuers(t, pgtest.NewDatabase(t))
	const voters = 32
	recs := make([]issuer.RollEntry, voters)
	for i := range recs {
		recs[i].VoterID = fmt.Sprint("voter-", i)
	}
	if err := rolls[0].Add(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var issued, finished atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range voters {
		wg.Go(func() {
			defer finished.Add(1)
			<-start
			for round := range 8 {
				r := rolls[(i+round)%2]
				_, err := r.Update(ctx, recs[i].VoterID, func(e *issuer.RollEntry) error {
					if i%2 == 1 || round < 2 {
						e.Failures++
						return nil
					}
					_, err := e.Issue([]byte("b"), []byte("s"))
					return err
				})
				switch {
				case err == nil && i%2 == 0 && round == 2:
					issued.Add(1)
				case err == nil, errors.Is(err, issuer.ErrPurged):
				default:
					t.Errorf("an Update racing the purge: %v", err)
				}
			}
		})
	}
	var c issuer.Counts
	var perr error
	wg.Go(func() {
		<-start
		for issued.Load() < 4 && finished.Load() < voters {
			time.Sleep(time.Millisecond)
		}
		c, perr = rolls[1].Purge(ctx)
	})
	close(start)
	wg.Wait()
	if perr != nil || c.Issued != int(issued.Load()) || c.Eligible != voters || !c.Purged {
		t.Fatalf("Purge = %+v, %v; %d issuances succeeded", c, perr, issued.Load())
	}
	t.Logf("the purge counted %d tokens of %d", c.Issued, voters/2)
	if again, err := rolls[0].Counts(ctx); err != nil || again != c {
		t.Fatalf("counts through the other process %+v, %v; want %+v", again, err, c)
	}
}

// TestMigrate: a second open (another process) finds the schema at its
// version and the roll as it was; a database whose roll schema a newer
// evote wrote is refused with ErrNewerSchema, and nothing is written to it.
func TestMigrate(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	first := open(t, dsn)
	if err := first.Add(ctx, []issuer.RollEntry{{VoterID: "a"}}); err != nil {
		t.Fatal(err)
	}
	second := open(t, dsn)
	if c, err := second.Counts(ctx); err != nil || c.Eligible != 1 {
		t.Fatalf("second open: counts %+v, %v", c, err)
	}
	db := connect(t, dsn)
	var v int
	if err := db.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = 'issuer-roll'").Scan(&v); err != nil || v != 1 {
		t.Fatalf("schema version %d, %v", v, err)
	}

	newer := pgtest.NewDatabase(t)
	db = connect(t, newer)
	if _, err := db.Exec(ctx, `CREATE TABLE evote_schema (part text PRIMARY KEY, version integer NOT NULL);
		INSERT INTO evote_schema VALUES ('issuer-roll', 99)`); err != nil {
		t.Fatal(err)
	}
	r, err := postgres.Open(ctx, newer, nil)
	if err == nil {
		r.Close()
		t.Fatal("a roll schema newer than the program was opened")
	}
	if !errors.Is(err, pgdb.ErrNewerSchema) {
		t.Fatalf("newer schema: %v, want ErrNewerSchema", err)
	}
	var tables []string
	rows, _ := db.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) != 1 || tables[0] != "evote_schema" {
		t.Fatalf("after the refusal the database has tables %v (%v), want evote_schema alone", tables, err)
	}
	if err := db.QueryRow(ctx, "SELECT version FROM evote_schema WHERE part = 'issuer-roll'").Scan(&v); err != nil || v != 99 {
		t.Fatalf("after the refusal the schema version is %d, %v; want 99", v, err)
	}
}

// TestBindAndContacts: the first binding is stored and every later Bind,
// from any process and after the purge too, gets it back; two processes
// binding at once store one. The contacts noted are -1 until noted, and
// refused after the purge.
func TestBindAndContacts(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	if _, err := a.Bind(ctx, ""); err == nil {
		t.Fatal("an empty binding was stored")
	}
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			r := a
			if i%2 == 1 {
				r = b
			}
			s, err := r.Bind(ctx, fmt.Sprintf("election %d\n", i))
			if err != nil {
				t.Error(err)
			}
			got[i] = s
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] || !strings.HasPrefix(got[0], "election ") {
			t.Fatalf("Binds racing through two processes got %q", got)
		}
	}
	if s, err := b.Bind(ctx, "another election\n"); err != nil || s != got[0] {
		t.Fatalf("Bind of another election = %q, %v; want the stored %q", s, err, got[0])
	}

	if n, err := a.ContactsNoted(ctx); err != nil || n != -1 {
		t.Fatalf("ContactsNoted before any = %d, %v; want -1", n, err)
	}
	if err := a.NoteContacts(ctx, -1); err == nil {
		t.Fatal("a negative count of contacts was noted")
	}
	for _, n := range []int{0, 42} {
		if err := a.NoteContacts(ctx, n); err != nil {
			t.Fatal(err)
		}
		if got, err := b.ContactsNoted(ctx); err != nil || got != n {
			t.Fatalf("ContactsNoted through the other process = %d, %v; want %d", got, err, n)
		}
	}

	if _, err := a.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := b.Bind(ctx, "another election\n"); err != nil || s != got[0] {
		t.Fatalf("Bind after the purge = %q, %v; want the stored %q", s, err, got[0])
	}
	if err := b.NoteContacts(ctx, 1); !errors.Is(err, issuer.ErrPurged) {
		t.Fatalf("NoteContacts after the purge: %v, want ErrPurged", err)
	}
	if _, err := b.ContactsNoted(ctx); !errors.Is(err, issuer.ErrPurged) {
		t.Fatalf("ContactsNoted after the purge: %v, want ErrPurged", err)
	}
}

// relFiles returns the server's files of roll_voters and of every index
// and TOAST table it has, as paths under the data directory.
func relFiles(t *testing.T, db *pgx.Conn) []string {
	t.Helper()
	rows, _ := db.Query(ctx, `SELECT pg_relation_filepath(c.oid) FROM pg_class c
		WHERE c.oid = 'roll_voters'::regclass
		   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'roll_voters'::regclass)
		   OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'roll_voters'::regclass)
		   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'roll_voters'::regclass))`)
	files, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(files) < 3 {
		t.Fatalf("roll_voters files %v, %v", files, err)
	}
	return files
}

// readFiles returns the files' contents (as the server reads them, the
// test running as its superuser); a file gone reads as empty.
func readFiles(t *testing.T, db *pgx.Conn, files []string) []byte {
	t.Helper()
	var all []byte
	for _, f := range files {
		var b []byte
		if err := db.QueryRow(ctx, "SELECT pg_read_binary_file($1, 0, 64 << 20, true)", f).Scan(&b); err != nil {
			t.Fatalf("reading %s: %v (the test reads the table's files as the server's superuser)", f, err)
		}
		all = append(all, b...)
	}
	return all
}

// TestPurgeLeavesNoRows: after the purge, no file of the voters' table or
// its indexes, the old ones or the new, holds a voter ID or code hash,
// which they did before (checked once written out by a checkpoint); the
// counts and the purge survive a reopen.
func TestPurgeLeavesNoRows(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	r := open(t, dsn)
	ids := []string{"voter-secret-000001", "voter-secret-000002"}
	h, _ := issuer.HashCode("00000-00000-00000-00000")
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: ids[0], Code: h}, {VoterID: ids[1], Code: h}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, ids[0], func(e *issuer.RollEntry) error { _, err := e.Issue([]byte("b"), []byte("s")); return err }); err != nil {
		t.Fatal(err)
	}
	db := connect(t, dsn)
	if _, err := db.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	old := relFiles(t, db)
	salt, _ := json.Marshal(h.Salt)
	salt = bytes.Trim(salt, `"`)
	before := readFiles(t, db, old)
	for _, id := range ids {
		if !bytes.Contains(before, []byte(id)) {
			t.Fatalf("before the purge the table's files do not hold %q: the test cannot see what the purge removes", id)
		}
	}
	c, err := r.Purge(ctx)
	if err != nil || c != (issuer.Counts{Eligible: 2, Issued: 1, Purged: true}) {
		t.Fatalf("Purge = %+v, %v", c, err)
	}
	if _, err := db.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	after := readFiles(t, db, append(old, relFiles(t, db)...))
	for _, secret := range append([]string{string(salt)}, ids...) {
		if bytes.Contains(after, []byte(secret)) {
			t.Fatalf("after the purge a file of the voters' table still holds %q", secret)
		}
	}
	r.Close()
	again := open(t, dsn)
	if c2, err := again.Counts(ctx); err != nil || c2 != c {
		t.Fatalf("counts after reopen = %+v, %v; want %+v", c2, err, c)
	}
	if _, err := again.Update(ctx, ids[1], func(*issuer.RollEntry) error { return nil }); !errors.Is(err, issuer.ErrPurged) {
		t.Fatalf("Update after reopen: %v, want ErrPurged", err)
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM roll_voters").Scan(&n); err != nil || n != 0 {
		t.Fatalf("a reopen of a purged roll wrote %d rows (decoys?), %v", n, err)
	}
}

// TestServerRestart: while the database server is down (stopped as if it
// crashed), every method fails with ErrRollUnavailable, and a token
// request is answered 503 with Retry-After, saying to send it again; once
// the server is back, the same roll, not reopened, works again, and the
// same request gets its token. Nothing is lost of what was committed
// before.
func TestServerRestart(t *testing.T) {
	cl := pgtest.StartCluster(t)
	dsn := cl.NewDatabase(t)
	r := open(t, dsn)
	code, _ := issuer.GenerateCode()
	h, _ := issuer.HashCode(code)
	if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "voter-1", Code: h}, {VoterID: "voter-2", Code: h}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, "voter-2", func(e *issuer.RollEntry) error { e.Failures = 3; return nil }); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	is, err := issuer.New(issuer.Config{ElectionID: election, Key: issuingKey(t), Roll: r, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(issuer.NewHandler(is, issuer.HandlerConfig{}))
	defer srv.Close()
	msg := blinded(t)
	body, _ := json.Marshal(issuerapi.TokenRequest{VoterID: "voter-1", Code: code, BlindedMsg: issuerapi.Base64.EncodeToString(msg)})
	post := func() (*http.Response, string) {
		resp, err := http.Post(srv.URL+issuerapi.PathToken, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	cl.Stop(false)
	for name, op := range map[string]func() error{
		"Add": func() error { return r.Add(ctx, []issuer.RollEntry{{VoterID: "voter-3"}}) },
		"Get": func() error { _, err := r.Get(ctx, "voter-1"); return err },
		"Update": func() error {
			_, err := r.Update(ctx, "voter-1", func(*issuer.RollEntry) error { return nil })
			return err
		},
		"Counts": func() error { _, err := r.Counts(ctx); return err },
		"Purge":  func() error { _, err := r.Purge(ctx); return err },
		"Bind":   func() error { _, err := r.Bind(ctx, "x"); return err },
	} {
		if err := op(); !errors.Is(err, issuer.ErrRollUnavailable) {
			t.Errorf("%s while the server is down: %v, want ErrRollUnavailable", name, err)
		}
	}
	resp, text := post()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(text, "send the same request again") {
		t.Fatalf("token request while the server is down: %d, Retry-After %q, %s", resp.StatusCode, resp.Header.Get("Retry-After"), text)
	}
	if !strings.Contains(logs.String(), "could not be reached") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}

	cl.Start()
	resp, text = post()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the same token request once the server is back: %d %s", resp.StatusCode, text)
	}
	var tr issuerapi.TokenResponse
	json.Unmarshal([]byte(text), &tr)
	rec, err := r.Get(ctx, "voter-1")
	if err != nil || !rec.Issued() || issuerapi.Base64.EncodeToString(rec.BlindSig) != tr.BlindSig {
		t.Fatalf("after the restart the roll does not hold the token given: %v", err)
	}
	if rec, _ := r.Get(ctx, "voter-2"); rec.Failures != 3 {
		t.Fatalf("what was committed before the crash is lost: failures %d, want 3", rec.Failures)
	}
	if c, err := r.Counts(ctx); err != nil || c != (issuer.Counts{Eligible: 2, Issued: 1}) {
		t.Fatalf("counts after the restart: %+v, %v", c, err)
	}
}

// BenchmarkIssue: concurrent issuances (Update recording a token, each
// for a voter of its own, the way Issue's last step does), through one
// pool and through two (two issuer processes), on the server
// EVOTE_TEST_POSTGRES names: each one transaction and one commit.
//
//	go test -run '^$' -bench Issue ./issuer/postgres
func BenchmarkIssue(b *testing.B) {
	for _, pools := range []int{1, 2} {
		b.Run(fmt.Sprintf("pools=%d", pools), func(b *testing.B) {
			dsn := pgtest.NewDatabase(b)
			rolls := make([]*postgres.Roll, pools)
			for i := range rolls {
				rolls[i] = open(b, dsn)
			}
			recs := make([]issuer.RollEntry, b.N)
			h, _ := issuer.HashCode("00000-00000-00000-00000")
			for i := range recs {
				recs[i] = issuer.RollEntry{VoterID: fmt.Sprintf("voter-%07d", i), Code: h}
			}
			if err := rolls[0].Add(ctx, recs); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					r := rolls[int(i)%pools]
					if _, err := r.Update(ctx, recs[i].VoterID, func(e *issuer.RollEntry) error {
						_, err := e.Issue([]byte("blinded"), []byte("sig"))
						return err
					}); err != nil {
						panic(err)
					}
				}
			})
		})
	}
}

// BenchmarkWrongCode times a wrong enrolment code, the whole Issue, for a
// voter on the roll, for one whose address must wait, and for an ID not on
// the roll (its decoy's write), as issuer/bolt's does: a stranger must not
// tell them apart by the time. Compare the medians of a few runs:
//
//	go test -run '^$' -bench WrongCode -count 5 ./issuer/postgres
func BenchmarkWrongCode(b *testing.B) {
	for _, who := range []string{"on the roll", "on the roll, waiting", "not on the roll"} {
		b.Run(who, func(b *testing.B) {
			r := open(b, pgtest.NewDatabase(b))
			code, _ := issuer.GenerateCode()
			h, _ := issuer.HashCode(code)
			if err := r.Add(ctx, []issuer.RollEntry{{VoterID: "voter-1", Code: h}}); err != nil {
				b.Fatal(err)
			}
			is, err := issuer.New(issuer.Config{ElectionID: election, Key: issuingKey(b), Roll: r})
			if err != nil {
				b.Fatal(err)
			}
			id := "voter-1"
			if who == "not on the roll" {
				id = "voter-2"
			}
			wrong, _ := issuer.GenerateCode()
			msg := blinded(b)
			cred := issuerapi.Credentials{VoterID: id, Code: wrong}
			if who == "on the roll, waiting" {
				for range issuer.FreeFailures + 1 {
					is.Issue(ctx, cred, msg, "waiting")
				}
			}
			i := 0
			for b.Loop() {
				addr := fmt.Sprint(i)
				if who == "on the roll, waiting" {
					addr = "waiting"
				}
				i++
				if _, err := is.Issue(ctx, cred, msg, addr); !errors.Is(err, issuer.ErrBadCredentials) {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCounts: Counts on a roll of 100,000 voters, half of them
// issued a token, which it counts (the issuer's /healthz asks for the
// counts). The issued flags are set by SQL here, for speed; Update sets
// them as one issuance at a time would.
//
//	go test -run '^$' -bench Counts ./issuer/postgres
func BenchmarkCounts(b *testing.B) {
	dsn := pgtest.NewDatabase(b)
	r := open(b, dsn)
	const n = 100_000
	recs := make([]issuer.RollEntry, n)
	h, _ := issuer.HashCode("00000-00000-00000-00000")
	for i := range recs {
		recs[i] = issuer.RollEntry{VoterID: fmt.Sprintf("voter-%07d", i), Code: h}
	}
	if err := r.Add(ctx, recs); err != nil {
		b.Fatal(err)
	}
	db := connect(b, dsn)
	if _, err := db.Exec(ctx, "UPDATE roll_voters SET issued = true WHERE NOT decoy AND right(id, 1) IN ('0', '2', '4', '6', '8')"); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(ctx, "VACUUM ANALYZE roll_voters"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if c, err := r.Counts(ctx); err != nil || c.Issued != n/2 {
			b.Fatal(c, err)
		}
	}
}

// TestAttackPurgeWhileServing: a purge run against a roll issuers are
// serving (a DSN pasted from the wrong shell) is refused with
// ErrServing, and nothing is purged; once the serving processes have
// stopped (or died: the lock ends with their connection) it purges.
func TestAttackPurgeWhileServing(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	serving := open(t, dsn)
	if err := serving.Add(context.Background(), []issuer.RollEntry{{VoterID: "v1"}, {VoterID: "v2"}}); err != nil {
		t.Fatal(err)
	}
	if err := serving.Serve(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := open(t, dsn)
	if _, err := other.Purge(context.Background()); !errors.Is(err, postgres.ErrServing) {
		t.Fatalf("a purge while an issuer serves: %v, want ErrServing", err)
	}
	if c, err := other.Counts(context.Background()); err != nil || c.Purged || c.Eligible != 2 {
		t.Fatalf("after the refused purge: %+v, %v", c, err)
	}
	if _, err := serving.Get(context.Background(), "v1"); err != nil {
		t.Fatalf("the serving issuer after the refused purge: %v", err)
	}
	serving.Close()
	if c, err := other.Purge(context.Background()); err != nil || !c.Purged || c.Eligible != 2 {
		t.Fatalf("a purge once the issuer stopped: %+v, %v", c, err)
	}
}
