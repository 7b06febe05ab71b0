package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveOnce starts "evote <args>" until it says it is listening, then
// stops it; it fails the test if the service does not start.
func serveOnce(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{ready: make(chan string, 1)}
	errs := &syncWriter{}
	root := newRoot(out, errs)
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	select {
	case <-out.ready:
	case err := <-done:
		cancel()
		t.Fatalf("evote %s: %v\n%s", strings.Join(args, " "), err, errs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("evote %s did not start:\n%s", strings.Join(args, " "), errs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("evote %s: %v", strings.Join(args, " "), err)
	}
}

// issuerWorkdir is a directory for the issuer's commands: a passphrase
// for its secret files and three trustees' keys, so that an election can
// be made in it.
type issuerWorkdir struct {
	t        *testing.T
	dir      string
	secret   []string // the passphrase flags
	trustees []string // --trustee-key flags
}

func newIssuerWorkdir(t *testing.T) *issuerWorkdir {
	t.Helper()
	w := &issuerWorkdir{t: t, dir: t.TempDir()}
	os.WriteFile(w.in("pass"), []byte("s3cret\n"), 0o600)
	w.secret = []string{"--passphrase-file", w.in("pass"), "--scrypt-work-factor", "10"}
	for i := 1; i <= 3; i++ {
		pub := w.in(fmt.Sprintf("t%d.pub", i))
		w.must(append(w.sec(), "trustee", "keygen", "--out", w.in(fmt.Sprintf("t%d.sign", i)), "--pub", pub)...)
		w.trustees = append(w.trustees, "--trustee-key", pub)
	}
	return w
}

func (w *issuerWorkdir) in(f string) string { return filepath.Join(w.dir, f) }

// sec is a fresh copy of the passphrase flags, to append a command to.
func (w *issuerWorkdir) sec() []string { return append([]string(nil), w.secret...) }

func (w *issuerWorkdir) must(args ...string) string {
	w.t.Helper()
	out, errs, code := evote(w.t, args...)
	if code != 0 {
		w.t.Fatalf("evote %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// keygen makes an issuing key NAME.key with its NAME.pub.
func (w *issuerWorkdir) keygen(name string) {
	w.t.Helper()
	w.must(append(w.sec(), "issuer", "keygen", "--key", w.in(name+".key"), "--pub", w.in(name+".pub"))...)
}

// election writes the manifest of an election titled title, with the
// issuing key of key.pub and the three trustees, to out.
func (w *issuerWorkdir) election(title, key, out string) {
	w.t.Helper()
	w.must(append([]string{"election", "init", "--title", title, "--question", "q:Yes?:yes,no",
		"--issuer-key", w.in(key + ".pub"), "--out", w.in(out)}, w.trustees...)...)
}

// TestAttackIssuerKeyInTwoElections: the authority names one issuing key
// in two elections' manifests. The issuer cannot see the election ID
// inside a blinded message, so a voter on the first election's roll would
// get tokens valid in the second. The key file records the first election
// it serves; serving the second with it is refused, naming both, and the
// key file is left as it was.
func TestAttackIssuerKeyInTwoElections(t *testing.T) {
	w := newIssuerWorkdir(t)
	in, secret := w.in, w.secret
	w.keygen("issuer")
	for _, e := range []string{"a", "b"} {
		w.election("Election "+e, "issuer", e+".json")
	}
	w.must("issuer", "roll", "--voters", "3", "--out", in("roll.csv"))
	serve := func(election, data string) []string {
		return append(append([]string(nil), secret...), "issuer", "serve", "--key", in("issuer.key"), "--election", in(election),
			"--roll", in("roll.csv"), "--data", in(data), "--listen", "127.0.0.1:0")
	}
	before := mustRead(t, in("issuer.key"))
	serveOnce(t, serve("a.json", "data-a")...)
	bound := mustRead(t, in("issuer.key"))
	if bytes.Equal(before, bound) {
		t.Fatal("serving election a did not record it in the key file")
	}
	serveOnce(t, serve("a.json", "data-a")...) // the same election again: fine

	_, errs, code := evote(t, serve("b.json", "data-b")...)
	if code == 0 || !strings.Contains(errs, "serves election") || !strings.Contains(errs, "one election only") {
		t.Fatalf("serving a second election with the key: exit %d\n%s", code, errs)
	}
	if now := mustRead(t, in("issuer.key")); !bytes.Equal(now, bound) {
		t.Fatal("the refused serve changed the key file")
	}
	if _, err := os.Stat(in("data-b")); err == nil {
		if entries, _ := os.ReadDir(in("data-b")); len(entries) != 0 {
			t.Fatalf("the refused serve left a roll behind: %v", entries)
		}
	}
}

// TestAttackTrialRollServed: a trial election's roll is left in the
// default store, and the real election's issuer is started on it with the
// real key, manifest and roll: it must not serve the trial's voters (nor
// state their counts), so it is refused naming both elections, with the
// roll as it was; the real one starts on its own store. A purged roll is
// refused too: there is no one left to serve.
func TestAttackTrialRollServed(t *testing.T) {
	w := newIssuerWorkdir(t)
	in, secret, must := w.in, w.secret, w.must
	for _, e := range []string{"trial", "real"} {
		w.keygen(e)
		w.election(e, e, e+".json")
		must("issuer", "roll", "--voters", "3", "--out", in(e+".csv"))
	}
	serve := func(e, store string) []string {
		return append(append([]string(nil), secret...), "issuer", "serve", "--key", in(e+".key"), "--election", in(e+".json"),
			"--roll", in(e+".csv"), "--store", "bolt:"+in(store), "--listen", "127.0.0.1:0")
	}
	serveOnce(t, serve("trial", "issuer-data")...)
	before := mustRead(t, in("issuer-data/roll.db"))
	_, errs, code := evote(t, serve("real", "issuer-data")...)
	if code == 0 || !strings.Contains(errs, "belongs to another election or key") || !strings.Contains(errs, "give this election its own --store") {
		t.Fatalf("the real election on the trial's roll: exit %d\n%s", code, errs)
	}
	if !bytes.Equal(before, mustRead(t, in("issuer-data/roll.db"))) {
		t.Fatal("the refused start changed the trial's roll")
	}
	serveOnce(t, serve("real", "real-data")...)
	must("issuer", "purge", "--store", "bolt:"+in("real-data"))
	_, errs, code = evote(t, serve("real", "real-data")...)
	if code == 0 || !strings.Contains(errs, "was purged") {
		t.Fatalf("serving a purged roll: exit %d\n%s", code, errs)
	}
}

// TestSecondFactorWithoutContacts: a roll imported with no contacts, then
// served with a second factor, would refuse every voter (no address to
// send a code to): the start is refused saying what to do; a first start
// with a second factor and no --contacts is refused too.
func TestSecondFactorWithoutContacts(t *testing.T) {
	w := newIssuerWorkdir(t)
	in, secret := w.in, w.secret
	os.WriteFile(in("sms.token"), []byte("provider-token\n"), 0o600)
	w.keygen("issuer")
	w.election("E", "issuer", "m.json")
	w.must("issuer", "roll", "--voters", "3", "--out", in("roll.csv"))
	serve := append(append([]string(nil), secret...), "issuer", "serve", "--key", in("issuer.key"), "--election", in("m.json"),
		"--roll", in("roll.csv"), "--store", "bolt:"+in("data"), "--listen", "127.0.0.1:0")
	sms := []string{"--second-factor", "sms", "--sms-webhook", "http://127.0.0.1:9/", "--sms-token-file", in("sms.token")}
	_, errs, code := evote(t, append(append([]string(nil), serve...), sms...)...)
	if code == 0 || !strings.Contains(errs, "give --contacts contacts.csv") {
		t.Fatalf("a first start with a second factor and no contacts: exit %d\n%s", code, errs)
	}
	serveOnce(t, serve...)
	_, errs, code = evote(t, append(append([]string(nil), serve...), sms...)...)
	if code == 0 || !strings.Contains(errs, "imported without contacts") {
		t.Fatalf("a roll with no contacts served with a second factor: exit %d\n%s", code, errs)
	}
}
