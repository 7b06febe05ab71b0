package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/invite/smtptest"
)

// The walk-through test runs README.md's "A real election, each role on
// its own machine" as written: it reads the section's command lines (the
// "role$ command" lines of its code blocks), puts loopback addresses for
// the example hosts, and runs each line with sh in that role's own
// directory, with the evote binary on PATH, TLS from a private CA and
// three trustees. Between directories it copies only the files the README
// says a person hands over (handedOver), each time a line names one that
// its role does not have, and counts them: "files copied by hand: N".
//
// The order and the repetitions are the test's (each trustee runs the
// trustee lines, ten voters the voting line); every command is the
// README's. A README line the test does not run, or runs for no role,
// fails the test, so the README and the test change together.

// handedOver are the files the README says a person gives to another
// role: public keys, the board's verifier key, the manifest and the
// bundle, the CA certificate, the ceremony messages, the issuer's
// statement, and the roll and contacts where another role made them.
var handedOver = []string{"*.pub", "board.vkey", "manifest.json", "election.bundle", "ca.pem", "*.msg", "issuance.json", "roll.csv", "contacts.csv", "booth"}

// A wstep is one command line of the walk-through.
type wstep struct {
	role, text string
	line       int // in README.md
	runs       int
	skipped    string
}

var promptRE = regexp.MustCompile(`^    ([a-z]+)\$\s+(.*)$`)

// readWalkthrough reads the section's command lines and its prose (for the
// commands it gives inline, in backquotes).
func readWalkthrough(t *testing.T, path string) (steps []*wstep, prose string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	in := false
	var last *wstep
	var p strings.Builder
	for i, l := range lines {
		if strings.HasPrefix(l, "## ") {
			in = l == "## A real election, each role on its own machine"
			continue
		}
		if !in {
			continue
		}
		if last != nil && strings.HasSuffix(last.text, `\`) {
			last.text = strings.TrimSuffix(last.text, `\`) + " " + strings.TrimSpace(l)
			continue
		}
		last = nil
		if m := promptRE.FindStringSubmatch(l); m != nil {
			last = &wstep{role: m[1], text: strings.TrimSpace(m[2]), line: i + 1}
			steps = append(steps, last)
			continue
		}
		if !strings.HasPrefix(l, "    ") {
			p.WriteString(l + "\n")
		}
	}
	if len(steps) == 0 {
		t.Fatalf("%s: no command lines in the walk-through section", path)
	}
	return steps, p.String()
}

// A walk is one run of the walk-through.
type walk struct {
	t      *testing.T
	root   string // one directory per role below it
	path   string // PATH with the evote wrapper first
	steps  []*wstep
	prose  string
	subst  []string          // old, new: the example hosts and ports
	owner  map[string]string // a handed-over file's name: the directory that made it
	copies int
	copied []string
	procs  []*wproc
	// witnessListen are the witnesses' addresses, for their --listen.
	witnessListen []string
}

type wproc struct {
	name string
	cmd  *exec.Cmd
	out  logFile
	done chan error
}

// logFile is a service's log, read whole.
type logFile string

func (l logFile) String() string {
	b, _ := os.ReadFile(string(l))
	return string(b)
}

// dir is a role's directory; trustees and witnesses are numbered.
func (w *walk) dir(role string, i int) string {
	name := role
	switch role {
	case "admin":
		// The board's admin token is in "a file only its operator can
		// read": the admin is the board's operator.
		name = "board"
	case "helpdesk":
		// The help desk is the issuer's operator, on its machine.
		name = "issuer"
	case "trustee", "witness":
		name = fmt.Sprintf("%s-%d", role, i)
	}
	d := filepath.Join(w.root, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		w.t.Fatal(err)
	}
	return d
}

// find returns the one command line that starts with prefix and holds
// every one of also.
func (w *walk) find(prefix string, also ...string) *wstep {
	w.t.Helper()
	var found []*wstep
	for _, s := range w.steps {
		if !strings.HasPrefix(s.text, prefix) {
			continue
		}
		ok := true
		for _, a := range also {
			ok = ok && strings.Contains(s.text, a)
		}
		if ok {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		var lines []string
		for _, s := range found {
			lines = append(lines, fmt.Sprintf("README.md:%d: %s", s.line, s.text))
		}
		w.t.Fatalf("the walk-through has %d command lines %q with %q, want one:\n%s", len(found), prefix, also, strings.Join(lines, "\n"))
	}
	return found[0]
}

// skip marks a command line the test does not run, with why.
func (w *walk) skip(s *wstep, why string) { s.skipped = why }

// text is a step's command for instance i of its role (trustee i, witness
// i; 0 for the others), with the test's addresses.
func (w *walk) text(s *wstep, i int, more ...string) string {
	x := s.text
	switch s.role {
	case "trustee":
		x = strings.ReplaceAll(x, "--index 1", fmt.Sprintf("--index %d", i))
		x = strings.ReplaceAll(x, "trustee-1.", fmt.Sprintf("trustee-%d.", i))
	case "witness":
		x = strings.ReplaceAll(x, "w1.", fmt.Sprintf("w%d.", i))
		x = strings.ReplaceAll(x, "--listen :8090", "--listen "+w.witnessListen[i-1])
	}
	x = strings.NewReplacer(append(slices.Clone(more), w.subst...)...).Replace(x)
	return x
}

// run runs a step for instance i and fails the test unless it exits 0.
func (w *walk) run(s *wstep, i int, more ...string) result {
	w.t.Helper()
	r := w.try(s, i, more...)
	if r.code != 0 {
		w.t.Fatalf("README.md:%d (%s %d): exit %d\n%s\nstdout:\n%s\nstderr:\n%s", s.line, s.role, i, r.code, w.text(s, i, more...), r.stdout, r.stderr)
	}
	return r
}

// try runs a step for instance i and returns what it did.
func (w *walk) try(s *wstep, i int, more ...string) result {
	w.t.Helper()
	s.runs++
	return w.sh(s.role, i, w.text(s, i, more...), fmt.Sprintf("README.md:%d", s.line))
}

// sh runs a command line in a role's directory, first copying there the
// handed-over files it names.
func (w *walk) sh(role string, i int, line, where string) result {
	w.t.Helper()
	dir := w.dir(role, i)
	line = w.withCA(line)
	w.handOver(dir, line)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = dir
	cmd.Env = w.env(dir)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{so.String(), se.String(), 0}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			w.t.Fatalf("%s: %v", where, err)
		}
		r.code = ee.ExitCode()
	}
	w.t.Logf("%s$ %s  (%s, exit %d)", filepath.Base(dir), line, where, r.code)
	w.made(dir)
	return r
}

func (w *walk) env(dir string) []string {
	var env []string
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k == "PATH" || k == "HOME" || k == "XDG_CACHE_HOME" || strings.HasPrefix(k, "EVOTE_") {
			continue
		}
		env = append(env, e)
	}
	// Each machine its own home and cache (where --bundle writes its files).
	return append(env, "PATH="+w.path, "HOME="+dir, "XDG_CACHE_HOME="+filepath.Join(dir, ".cache"), "EVOTE_PASSPHRASE="+passphrase)
}

// withCA follows the README's "every client command takes its CA
// certificate with --ca-cert ca.pem" for a line that reaches one of the
// test's services and says neither --ca-cert nor --bundle.
func (w *walk) withCA(line string) string {
	if strings.Contains(line, "--ca-cert") || strings.Contains(line, "--bundle") || !strings.Contains(line, "https://127.0.0.1") {
		return line
	}
	for _, c := range []string{"evote vote", "evote receipt", "evote board open", "evote board close", "evote board post", "evote board status",
		"evote board export", "evote board issuance", "evote trustee", "evote tally", "evote monitor", "evote audit"} {
		if strings.HasPrefix(line, c) {
			cmd, comment := splitComment(line)
			return strings.TrimSpace(cmd) + " --ca-cert ca.pem" + comment
		}
	}
	return line
}

// splitComment cuts a shell line at its comment (a # that begins a word
// outside quotes).
func splitComment(line string) (cmd, comment string) {
	var q rune
	for i, c := range line {
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return line[:i], " " + line[i:]
		}
	}
	return line, ""
}

// words splits a shell line into its words (quotes removed), up to a
// comment.
func words(line string) []string {
	cmd, _ := splitComment(line)
	var out []string
	var cur strings.Builder
	var q rune
	in := false
	for _, c := range cmd {
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			q, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func isHandedOver(name string) bool {
	for _, p := range handedOver {
		if ok, _ := filepath.Match(p, name); ok {
			return true
		}
	}
	return false
}

// handOver copies into dir each handed-over file the line names (a glob
// such as ann-*.msg names every such file any role has) that dir lacks,
// from the role that made it.
func (w *walk) handOver(dir, line string) {
	w.t.Helper()
	var names []string
	for _, word := range words(line) {
		if _, v, ok := strings.Cut(word, "="); ok && strings.HasPrefix(word, "-") {
			word = v
		}
		for _, n := range strings.Split(word, ",") {
			if strings.ContainsAny(n, "*?[") {
				for name := range w.owner {
					if ok, _ := filepath.Match(n, name); ok {
						names = append(names, name)
					}
				}
				continue
			}
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		if strings.Contains(n, "/") || !isHandedOver(n) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			continue
		}
		from, ok := w.owner[n]
		if !ok {
			continue // an output, or a file no one has
		}
		if err := os.CopyFS(filepath.Join(dir, n), os.DirFS(filepath.Join(from, n))); err != nil {
			// os.CopyFS copies directories; a file is copied here.
			b, rerr := os.ReadFile(filepath.Join(from, n))
			if rerr != nil {
				w.t.Fatal(rerr)
			}
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				w.t.Fatal(err)
			}
		}
		w.copies++
		w.copied = append(w.copied, fmt.Sprintf("%s/%s -> %s", filepath.Base(from), n, filepath.Base(dir)))
	}
}

// made records the handed-over files that appeared in dir as made there.
func (w *walk) made(dir string) {
	es, err := os.ReadDir(dir)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range es {
		if _, ok := w.owner[e.Name()]; !ok && isHandedOver(e.Name()) {
			w.owner[e.Name()] = dir
		}
	}
}

// serve starts a step's long-running command for instance i and waits
// until it listens: it prints "listening on URL", or, with health, that
// URL answers.
func (w *walk) serve(s *wstep, i int, health string, more ...string) *wproc {
	w.t.Helper()
	s.runs++
	dir := w.dir(s.role, i)
	line := w.withCA(w.text(s, i, more...))
	w.handOver(dir, line)
	cmd := exec.Command("sh", "-c", "exec "+line)
	cmd.Dir = dir
	cmd.Env = w.env(dir)
	// A service logs to ROLE.log in its directory, as its operator's
	// service manager would keep it (the help desk greps issuer.log).
	logPath := filepath.Join(dir, s.role+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logf.Close() // the process has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	out := logFile(logPath)
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	p := &wproc{name: fmt.Sprintf("%s %d (README.md:%d)", s.role, i, s.line), cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	w.procs = append(w.procs, p)
	w.t.Logf("%s$ %s &  (README.md:%d)", filepath.Base(dir), line, s.line)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-p.done:
			p.done <- err
			w.t.Fatalf("%s exited before serving: %v\n%s", p.name, err, out.String())
		default:
		}
		if health == "" && strings.Contains(out.String(), " listening on ") {
			break
		}
		if health != "" {
			if resp, err := http.Get(health); err == nil {
				resp.Body.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s did not start:\n%s", p.name, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.made(dir)
	return p
}

// stop stops a served command with SIGINT; it must exit 0.
func (w *walk) stop(p *wproc) {
	w.t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-p.done:
		if err != nil {
			w.t.Errorf("%s did not shut down cleanly: %v\n%s", p.name, err, p.out.String())
		}
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		w.t.Errorf("%s did not stop within 15 s of SIGINT", p.name)
	}
}

// done checks that every command line was run or skipped with a reason.
func (w *walk) done() {
	w.t.Helper()
	for _, s := range w.steps {
		switch {
		case s.runs == 0 && s.skipped == "":
			w.t.Errorf("README.md:%d is never run by the walk-through test: %s %s", s.line, s.role, s.text)
		case s.skipped != "":
			w.t.Logf("README.md:%d not run: %s", s.line, s.skipped)
		}
	}
}

// freeAddr is a loopback address no one listens on now.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// privateCA is a private certificate authority: its certificate, and
// a certificate and key for 127.0.0.1 signed by it for each service.
type privateCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newPrivateCA(t *testing.T) *privateCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evote walk-through CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &privateCA{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes cert.pem and key.pem for 127.0.0.1 into dir.
func (ca *privateCA) issue(t *testing.T, dir, name string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// registry writes the members' registry export the import line reads:
// eligible members enrolled before the cut-off, and one after it.
func registry(t *testing.T, path string, eligible int) {
	var b strings.Builder
	b.WriteString("Codice socio,Nome,E-mail,Cellulare,Data iscrizione,Lingua\n")
	for i := 1; i <= eligible; i++ {
		lang := "it"
		if i%4 == 0 {
			lang = "en"
		}
		fmt.Fprintf(&b, "SOC-%04d,Socio %d,socio%d@example.org,+39333%07d,2024-0%d-15,%s\n", 1000+i, i, i, i, 1+i%9, lang)
	}
	fmt.Fprintf(&b, "SOC-9999,Nuovo,nuovo@example.org,+393339999999,2025-03-01,it\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// backquoted is the first `command` in the prose that holds every one of
// want.
func backquoted(t *testing.T, prose string, want ...string) string {
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(prose, -1) {
		ok := true
		for _, x := range want {
			ok = ok && strings.Contains(m[1], x)
		}
		if ok {
			return strings.Join(strings.Fields(m[1]), " ") // a line break in the prose is a space
		}
	}
	t.Fatalf("the walk-through's prose gives no command with %q", want)
	return ""
}

// wrapper writes the evote on the walk's PATH: the test's binary, with a
// low scrypt work factor so that the many secret files are quick.
func wrapper(t *testing.T, dir string) {
	s := fmt.Sprintf("#!/bin/sh\nexec %q --scrypt-work-factor 10 \"$@\"\n", bin)
	if err := os.WriteFile(filepath.Join(dir, "evote"), []byte(s), 0o755); err != nil {
		t.Fatal(err)
	}
}

// newWalk reads the README and makes the machines: a directory per role,
// the private CA (its certificate with the election authority, a
// certificate for the board and the issuer), and the addresses.
func newWalk(t *testing.T) *walk {
	if runtime.GOOS == "windows" {
		t.Skip("the walk-through's command lines are POSIX shell")
	}
	w := &walk{t: t, root: t.TempDir(), owner: map[string]string{}}
	w.steps, w.prose = readWalkthrough(t, "../README.md")
	bindir := filepath.Join(w.root, ".bin")
	os.Mkdir(bindir, 0o755)
	wrapper(t, bindir)
	w.path = bindir + string(os.PathListSeparator) + os.Getenv("PATH")
	t.Cleanup(func() {
		for _, p := range slices.Backward(w.procs) {
			w.stop(p)
		}
	})
	return w
}

// TestWalkthrough: README.md's walk-through, as separate processes with
// TLS and three trustees, one of whom loses its machine after it
// announced, so the election opens without it once an early open has been
// refused naming who is missing, and two decrypt; an invitation that fails
// and the help desk's resend; ten voters, who read their codes in their
// invitations.
func TestWalkthrough(t *testing.T) {
	w := newWalk(t)
	const members = 12 // on the registry, and one more enrolled too late
	const voters = 10  // the manifest's min_ballots, election init's default
	ca := newPrivateCA(t)
	board, issuer := freeAddr(t), freeAddr(t)
	monitorAddr := freeAddr(t)
	w.witnessListen = []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	mail := smtptest.Start(t, smtptest.STARTTLS)
	mail.User = "elezioni"
	w.subst = []string{
		"https://board.example.org", "https://" + board,
		"https://issuer.example.org", "https://" + issuer,
		"--listen :8080", "--listen " + board,
		"--listen :8081", "--listen " + issuer,
		"--listen 127.0.0.1:9464", "--listen " + monitorAddr,
		"smtp.example.org:587", mail.Addr,
	}
	for i, a := range w.witnessListen {
		w.subst = append(w.subst, fmt.Sprintf("https://w%d.example.org", i+1), "https://"+a)
	}
	// The private CA: the authority holds its certificate; the board's and
	// the issuer's operators each install a certificate it signed.
	authority := w.dir("authority", 0)
	if err := os.WriteFile(filepath.Join(authority, "ca.pem"), ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	w.made(authority)
	ca.issue(t, w.dir("board", 0), "board")
	ca.issue(t, w.dir("issuer", 0), "issuer")
	for i := 1; i <= 3; i++ {
		ca.issue(t, w.dir("witness", i), "witness")
	}

	// Before the manifest: keys; the manifest and the bundle.
	w.run(w.find("evote issuer keygen"), 0)
	w.run(w.find("evote board keygen"), 0)
	for i := 1; i <= 3; i++ {
		w.run(w.find("evote trustee keygen"), i)
	}
	for i := 1; i <= 3; i++ {
		w.run(w.find("evote witness keygen"), i)
	}
	w.run(w.find("evote election init"), 0)
	w.run(w.find("evote election bundle"), 0)

	// The roll from the registry; the services.
	imp := w.find("evote issuer import")
	registry(t, filepath.Join(w.dir(imp.role, 0), "soci.csv"), members)
	if out := w.run(imp, 0).stdout; !strings.Contains(out, fmt.Sprintf("soci.csv: %d lines read: %d eligible, 1 not eligible (enrolled after 2025-01-31), 0 refused, 0 blank", members+1, members)) {
		t.Errorf("issuer import says:\n%s", out)
	}
	// The admin tokens, made as the README says.
	token := backquoted(t, w.prose, "admin.token", "urandom")
	w.sh("board", 0, token, "README's admin token")
	w.sh("issuer", 0, strings.ReplaceAll(token, "admin.token", "issuer-admin.token"), "README's admin token, for the issuer")
	issuerProc := w.serve(w.find("evote issuer serve", "--tls-cert", "--admin-token-file"), 0, "")
	for i := 1; i <= 3; i++ {
		w.serve(w.find("evote witness serve"), i, "")
	}
	w.serve(w.find("evote board serve", "--tls-cert"), 0, "")
	w.serve(w.find("evote monitor"), 0, "http://"+monitorAddr+"/healthz")

	// The key ceremony.
	w.ceremony()

	// Invitations, by e-mail through the test's SMTP server (whose
	// certificate is its own: the test adds it as the SMTP server's CA).
	// Member 4's mail server refuses at first.
	inv := w.find("evote issuer invite")
	invDir := w.dir(inv.role, 0)
	os.WriteFile(filepath.Join(invDir, "smtp.pass"), []byte(mail.Pass+"\n"), 0o600)
	os.WriteFile(filepath.Join(invDir, "smtp-ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mail.CertDER}), 0o644)
	mail.Reject("socio4@example.org", true)
	smtpCA := []string{"--smtp-password-file smtp.pass", "--smtp-password-file smtp.pass --ca-cert smtp-ca.pem"}
	if r := w.try(inv, 0, smtpCA...); r.code != 1 || !strings.Contains(r.stderr, "1 invitations failed") {
		t.Errorf("issuer invite with one address refused: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Member 4 calls the help desk: shown, sent again, found in the log.
	mail.Reject("socio4@example.org", false)
	if out := w.run(w.find("evote issuer helpdesk show"), 0).stdout; !strings.Contains(strings.ToLower(out), "on the roll") {
		t.Errorf("helpdesk show:\n%s", out)
	}
	w.run(w.find("evote issuer helpdesk resend"), 0, "--smtp-password-file smtp.pass", "--smtp-password-file smtp.pass --smtp-ca-cert smtp-ca.pem")
	w.run(w.find("grep", "helpdesk tag"), 0)
	codes := invitedCodes(t, mail.Mails())
	if len(codes) != members {
		t.Fatalf("%d members got an invitation, want %d", len(codes), members)
	}

	// Voting: ten voters, 7 yes and 3 no, each with the code of their
	// invitation; the first checks its receipt.
	vote := w.find("evote vote")
	for k := 1; k <= voters; k++ {
		id := fmt.Sprintf("SOC-%04d", 1000+k)
		choice := "motion=yes"
		if k%3 == 0 {
			choice = "motion=no"
		}
		receipt := "receipt.json"
		if k > 1 {
			receipt = fmt.Sprintf("receipt-%d.json", k)
		}
		w.run(vote, 0, "--voter-id voter-000001", "--voter-id "+id, "7XQ2M-K9D4T-0HVB3-RWE8N", codes[id],
			"--choose motion=yes", "--choose "+choice, "--receipt receipt.json", "--receipt "+receipt)
		if k == 1 {
			w.run(w.find("evote receipt check"), 0)
		}
	}
	for i := 1; i <= 2; i++ {
		w.run(w.find("evote trustee checkpoint"), i)
	}

	// The tally.
	w.run(w.find("evote board close"), 0)
	w.stop(issuerProc)
	w.run(w.find("evote issuer statement"), 0)
	w.run(w.find("evote board issuance"), 0)
	for i := 1; i <= 2; i++ {
		w.run(w.find("evote trustee decrypt"), i)
	}
	w.run(w.find("evote tally"), 0)
	w.run(w.find("evote board export"), 0)
	out := w.run(w.find("evote verify"), 0).stdout
	for _, want := range []string{"verified:", "all hold", "decrypted by trustees 1, 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("evote verify does not say %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`yes\s+7\b`).MatchString(out) || !regexp.MustCompile(`no\s+3\b`).MatchString(out) {
		t.Errorf("evote verify: not 7 yes and 3 no:\n%s", out)
	}
	w.run(w.find("evote report", "--out report.html"), 0)
	w.run(w.find("evote issuer purge"), 0)

	// The variants the test does not run, and why.
	w.skip(w.find("evote issuer serve", "--second-factor"), "the second factor's serve: TestIdentityEndToEnd (cmd/evote) runs it")
	w.skip(w.find("evote issuer totp"), "an authenticator app: TestIssuerTOTP (cmd/evote) runs it")
	w.skip(w.find("evote booth build"), "the booth compiles to WebAssembly for minutes: TestServedBoothChecked and the booth's browser tests build it")
	w.skip(w.find("evote board serve ..."), "the booth's variant of board serve above")
	w.skip(w.find("evote issuer serve ..."), "the booth's variant of issuer serve above")
	w.skip(w.find("evote booth link"), "the booth's links: TestBoothLinkChecksTheCode (cmd/evote)")
	w.done()
	slices.Sort(w.copied)
	t.Logf("copied by hand:\n  %s", strings.Join(w.copied, "\n  "))
	t.Logf("files copied by hand: %d", w.copies)
	fmt.Printf("files copied by hand: %d\n", w.copies)
}

// invitedCodes reads each member's enrolment code from their invitation
// (the registry's socioN@example.org is member SOC-(1000+N)).
func invitedCodes(t *testing.T, mails []smtptest.Received) map[string]string {
	t.Helper()
	codeRE := regexp.MustCompile(`: ([0-9A-Z]{5}(?:-[0-9A-Z]{5}){3})\s`)
	codes := map[string]string{}
	for _, m := range mails {
		var n int
		if _, err := fmt.Sscanf(m.To, "socio%d@example.org", &n); err != nil {
			t.Fatalf("an invitation to %q", m.To)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatal(err)
		}
		c := codeRE.FindSubmatch(body)
		if c == nil {
			t.Fatalf("no enrolment code in the invitation:\n%s", body)
		}
		codes[fmt.Sprintf("SOC-%04d", 1000+n)] = string(c[1])
	}
	return codes
}

// ceremony runs the README's key ceremony among the three trustees, one
// of whom loses its machine after it announced: its init again is
// refused, opens too early are refused naming who is missing, and the
// authority opens without it, as the README says.
func (w *walk) ceremony() {
	w.t.Helper()
	init, deal, verify, answer := w.find("evote trustee init"), w.find("evote trustee deal"), w.find("evote trustee verify"), w.find("evote trustee answer")
	status, open, finalize := w.find("evote trustee status"), w.find("evote board open"), w.find("evote trustee finalize")
	for i := 1; i <= 3; i++ {
		w.run(init, i)
	}
	// Trustee 3's machine is lost; on a new one, init is refused.
	if err := os.Remove(filepath.Join(w.dir("trustee", 3), "trustee-3.state")); err != nil {
		w.t.Fatal(err)
	}
	if r := w.try(init, 3); r.code != 1 || !strings.Contains(r.stderr, "trustee 3 announced already") || !strings.Contains(r.stderr, "evote board open --without 3") {
		w.t.Fatalf("trustee 3's init again, its state lost: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	} else {
		w.t.Logf("trustee 3's init again is refused:\n%s", r.stderr)
	}
	for i := 1; i <= 2; i++ {
		w.run(deal, i)
	}
	w.run(verify, 1)
	early := func(want ...string) {
		w.t.Helper()
		r := w.try(open, 0)
		for _, x := range append(want, "evote board open --without") {
			if r.code != 1 || !strings.Contains(r.stderr, x) {
				w.t.Fatalf("board open too early: exit %d, want a refusal saying %q:\n%s%s", r.code, x, r.stdout, r.stderr)
			}
		}
		w.t.Logf("board open, too early, is refused:\n%s", r.stderr)
	}
	early("trustee 2 has not checked its shares", "trustee 3 has not dealt")
	w.run(verify, 2)
	for i := 1; i <= 2; i++ {
		w.run(answer, i) // no one was accused: nothing to answer
	}
	if out := w.run(status, 1).stdout; !strings.Contains(out, "trustee 3 has not dealt") {
		w.t.Fatalf("trustee 1's status with trustee 3 lost:\n%s", out)
	}
	early("trustee 3 has not dealt", "all of trustees 1 and 2 must decrypt")
	// The authority opens without trustee 3, by the README's command.
	r := w.sh("admin", 0, strings.NewReplacer(w.subst...).Replace(backquoted(w.t, w.prose, "board open", "--without 3")), "README's open without trustee 3")
	if r.code != 0 || !strings.Contains(r.stdout, "opened without trustee 3") {
		w.t.Fatalf("board open --without 3: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for i := 1; i <= 2; i++ {
		w.run(finalize, i)
	}
}
