package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evote/evote/cmd/evote/internal/ops"
	"github.com/evote/evote/internal/service"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// startServe starts "evote <args>" and waits (10 s at most) until it
// listens; it returns its URL, its stderr so far and stop, which stops it
// and returns its error.
func startServe(t *testing.T, args ...string) (url string, errs *syncWriter, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncWriter{ready: make(chan string, 1)}
	errs = &syncWriter{}
	root := newRoot(out, errs)
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stop = func() error {
		cancel()
		return <-done
	}
	select {
	case url = <-out.ready:
	case err := <-done:
		cancel()
		t.Fatalf("evote %s: %v\n%s", strings.Join(args, " "), err, errs)
	case <-time.After(10 * time.Second):
		stop()
		t.Fatalf("evote %s did not start:\n%s", strings.Join(args, " "), errs)
	}
	return url, errs, stop
}

// serveLog starts "evote <args>", waits until it listens and then until
// until holds of its stderr (at most 10 s each), stops it and returns its
// stderr.
func serveLog(t *testing.T, until func(stderr string) bool, args ...string) string {
	t.Helper()
	_, errs, stop := startServe(t, args...)
	for deadline := time.Now().Add(10 * time.Second); until != nil && !until(errs.String()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("evote %s: its log never showed what the test waits for:\n%s", strings.Join(args, " "), errs)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("evote %s: %v\n%s", strings.Join(args, " "), err, errs)
	}
	return errs.String()
}

// serviceSite is the keys, manifest and roll of an election whose
// services the tests start, its window opened in the past and closing in
// the future.
type serviceSite struct {
	dir    string
	secret []string
}

func (s *serviceSite) in(f string) string { return filepath.Join(s.dir, f) }

func newServiceSite(t *testing.T, opens, closes string) *serviceSite {
	t.Helper()
	s := &serviceSite{dir: t.TempDir()}
	os.WriteFile(s.in("pass"), []byte("s3cret\n"), 0o600)
	s.secret = []string{"--passphrase-file", s.in("pass"), "--scrypt-work-factor", "10"}
	must := func(args ...string) {
		t.Helper()
		if _, errs, code := evote(t, args...); code != 0 {
			t.Fatalf("evote %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		}
	}
	must(append(s.secret, "board", "keygen", "--key", s.in("board.key"), "--vkey", s.in("board.vkey"))...)
	must(append(s.secret, "issuer", "keygen", "--key", s.in("issuer.key"), "--pub", s.in("issuer.pub"))...)
	must(append(s.secret, "witness", "keygen", "--name", "witness.example", "--key", s.in("witness.key"), "--pub", s.in("witness.vkey"))...)
	initArgs := []string{"election", "init", "--title", "T", "--question", "q:Yes?:yes,no", "--issuer-key", s.in("issuer.pub"), "--out", s.in("manifest.json")}
	if opens != "" {
		initArgs = append(initArgs, "--opens", opens, "--closes", closes)
	}
	for i := 1; i <= 3; i++ {
		pub := s.in(fmt.Sprintf("t%d.pub", i))
		must(append(s.secret, "trustee", "keygen", "--out", s.in(fmt.Sprintf("t%d.sign", i)), "--pub", pub)...)
		initArgs = append(initArgs, "--trustee-key", pub)
	}
	must(initArgs...)
	must("issuer", "roll", "--voters", "3", "--out", s.in("roll.csv"))
	return s
}

func (s *serviceSite) board(extra ...string) []string {
	return append(append(append([]string(nil), s.secret...), "board", "serve", "--key", s.in("board.key"), "--data", s.in("board-data"),
		"--manifest", s.in("manifest.json"), "--listen", "127.0.0.1:0"), extra...)
}

func (s *serviceSite) issuer(extra ...string) []string {
	return append(append(append([]string(nil), s.secret...), "issuer", "serve", "--key", s.in("issuer.key"), "--election", s.in("manifest.json"),
		"--roll", s.in("roll.csv"), "--data", s.in("issuer-data"), "--listen", "127.0.0.1:0"), extra...)
}

func (s *serviceSite) witness(extra ...string) []string {
	return append(append(append([]string(nil), s.secret...), "witness", "serve", "--key", s.in("witness.key"), "--log", s.in("board.vkey"),
		"--state", s.in("witness-data"), "--listen", "127.0.0.1:0"), extra...)
}

// jsonLines fails the test unless every line of log is a JSON object
// with a level and a message, and returns the messages.
func jsonLines(t *testing.T, what, log string) []string {
	t.Helper()
	var msgs []string
	for i, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Level == "" || rec.Msg == "" {
			t.Fatalf("%s: line %d of its log is not a JSON log record: %q\n%s", what, i+1, l, log)
		}
		msgs = append(msgs, rec.Msg)
	}
	return msgs
}

func hasMsg(msgs []string, prefix string) bool {
	for _, m := range msgs {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// TestServeLogsJSONFromFirstLine: with --log-format json, what the board,
// the issuer and the witness say on starting (creating or resuming the
// board, the missing admin token, the schedule, the key bound to the
// election, the roll imported, the logs witnessed, where they listen) is
// JSON log records like their request lines, from the first line on, on
// a first start and a restart alike.
func TestServeLogsJSONFromFirstLine(t *testing.T) {
	s := newServiceSite(t, "2020-01-01T08:00:00Z", "2099-01-01T20:00:00Z")
	json := []string{"--log-format", "json"}
	scheduled := func(log string) bool { return strings.Contains(log, "not opening at the manifest's opening time") }
	for _, c := range []struct {
		what string
		args []string
		want []string
	}{
		{"board, first start", s.board(json...), []string{"created the election's board", "no --admin-token-file", "listening", "schedule: voting opens and closes"}},
		{"board, restarted", s.board(json...), []string{"resumed the board", "listening", "schedule: not opening"}},
		{"issuer, first start", s.issuer(json...), []string{s.in("issuer.key") + " now serves election", "imported the roll", "listening"}},
		{"issuer, restarted", s.issuer(json...), []string{"the roll already holds its voters", "listening"}},
		{"witness", s.witness(json...), []string{"witnessing, nothing cosigned yet", "listening"}},
	} {
		until := func(string) bool { return true }
		if strings.HasPrefix(c.what, "board") {
			until = scheduled
		}
		msgs := jsonLines(t, c.what, serveLog(t, until, c.args...))
		for _, w := range c.want {
			if !hasMsg(msgs, w) {
				t.Errorf("%s: no log record %q in %q", c.what, w, msgs)
			}
		}
	}
}

// limitFlags are the limit flags of the services, by command. Each reads
// 0 as its default and a negative value as no bound (an interval has
// none: a negative one is refused), and its help says so.
var limitFlags = map[string][]string{
	"evote board serve":   {"rate", "burst", "max-in-flight", "max-uploads-per-address", "max-conns-per-address", "read-header-timeout"},
	"evote issuer serve":  {"rate", "burst", "max-in-flight", "max-uploads-per-address", "max-conns-per-address", "read-header-timeout"},
	"evote witness serve": {"max-in-flight", "max-conns-per-address", "read-header-timeout"},
	"evote monitor":       {"interval", "stall"},
}

// notLimits are the other numeric flags of those commands, and why each
// is no limit.
var notLimits = map[string]string{
	"evote monitor witness-quorum": "a number of witnesses to require; 0 is the default (a majority) there too",
	"evote board serve db-pool":    "a number of database connections; 0 is the default (4, or the CPUs) there too, and a pool has no unbounded size",
	"evote issuer serve db-pool":   "a number of database connections; 0 is the default (4, or the CPUs) there too, and a pool has no unbounded size",
}

// TestLimitFlags lists every number a service command takes: each is a
// limit flag whose help gives the one meaning of 0 and of -1, or is named
// in notLimits; and the flags read so: 0 gives the default bound, -1 none.
func TestLimitFlags(t *testing.T) {
	root := newRoot(os.Stdout, os.Stderr)
	for path, names := range limitFlags {
		c, _, err := root.Find(strings.Fields(path)[1:])
		if err != nil || c.CommandPath() != path {
			t.Fatalf("%s: %v", path, err)
		}
		c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			switch f.Value.Type() {
			case "int", "int64", "uint", "uint64", "float64", "duration":
			default:
				return
			}
			if _, ok := notLimits[path+" "+f.Name]; ok {
				return
			}
			i := indexOf(names, f.Name)
			if i < 0 {
				t.Errorf("%s --%s takes a number but is neither in limitFlags nor in notLimits: say what its 0 means", path, f.Name)
				return
			}
			names = append(names[:i:i], names[i+1:]...)
			neg := "-1: no bound"
			if f.Value.Type() == "duration" {
				neg = "-1s: no bound"
			}
			if f.Name == "interval" {
				neg = ""
			}
			if !strings.Contains(f.Usage, "(0: the default") || !strings.Contains(f.Usage, neg) {
				t.Errorf("%s --%s: help %q does not say 0: the default and %s", path, f.Name, f.Usage, neg)
			}
		})
		if len(names) > 0 {
			t.Errorf("%s has no flags %v", path, names)
		}
	}

	// What the service flags make of 0 and -1.
	parse := func(args ...string) *serviceFlags {
		t.Helper()
		var sf serviceFlags
		c := &cobra.Command{Use: "x"}
		sf.addRate(c, 100, 1000, "requests")
		sf.add(c, "127.0.0.1:0")
		if err := c.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		return &sf
	}
	zero := parse("--rate=0", "--burst=0", "--max-in-flight=0", "--max-uploads-per-address=0", "--max-conns-per-address=0", "--read-header-timeout=0")
	l := zero.limits(zero.rate, zero.burst)
	if l.Gate().Cap() != service.DefaultMaxInFlight || l.Uploads().Max() != service.DefaultMaxUploadsPerAddress || l.Limiter(100, 1000, nil) == nil {
		t.Errorf("0: in flight %d, uploads %d, want the defaults and a rate limit", l.Gate().Cap(), l.Uploads().Max())
	}
	if sc := zero.server(ops.ServerConfig{}); sc.MaxConnsPerAddress != 0 || sc.ReadHeaderTimeout != 0 {
		t.Errorf("0 reaches the server as %d and %s, which it reads as its defaults", sc.MaxConnsPerAddress, sc.ReadHeaderTimeout)
	}
	none := parse("--rate=-1", "--max-in-flight=-1", "--max-uploads-per-address=-1", "--max-conns-per-address=-1", "--read-header-timeout=-1s")
	l = none.limits(none.rate, none.burst)
	if l.Gate() != nil || l.Uploads() != nil || l.Limiter(100, 1000, nil) != nil {
		t.Error("-1: a bound is left")
	}
	if sc := none.server(ops.ServerConfig{}); sc.MaxConnsPerAddress >= 0 || sc.ReadHeaderTimeout >= 0 {
		t.Errorf("-1 reaches the server as %d and %s, not as no bound", sc.MaxConnsPerAddress, sc.ReadHeaderTimeout)
	}
	if b := parse("--burst=-1"); b.limits(b.rate, b.burst).Limiter(100, 1000, nil) != nil {
		t.Error("--burst -1 leaves a rate limit")
	}
	if i, st, err := monitorTimes(0, 0); err != nil || i != defaultMonitorInterval || st != defaultMonitorStall {
		t.Errorf("monitor 0, 0: %s %s %v, want the defaults", i, st, err)
	}
	if _, st, err := monitorTimes(time.Second, -time.Second); err != nil || st >= 0 {
		t.Errorf("monitor --stall -1s: %s %v, want no bound", st, err)
	}
	if _, _, err := monitorTimes(-time.Second, 0); err == nil {
		t.Error("monitor --interval -1s accepted")
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestAttackForwardedForSpoofed: X-Forwarded-For is believed only from a
// --trusted-proxy: a stranger who sends the header directly is limited by
// their own address (else they could pose as any voter's address, or
// shed their back-off by naming a new one each time); through the proxy,
// the client is the rightmost address no trusted proxy holds.
func TestAttackForwardedForSpoofed(t *testing.T) {
	var sf serviceFlags
	sf.trustedProxies = []string{"10.0.0.0/8", "192.0.2.1"}
	ip, err := sf.clientIP()
	if err != nil || ip == nil {
		t.Fatalf("clientIP: %v", err)
	}
	req := func(remote string, xff ...string) *http.Request {
		r := httptest.NewRequest("POST", "/v1/token", nil)
		r.RemoteAddr = remote
		for _, h := range xff {
			r.Header.Add("X-Forwarded-For", h)
		}
		return r
	}
	for _, tc := range []struct {
		r    *http.Request
		want string
	}{
		{req("203.0.113.9:4000", "198.51.100.7"), "203.0.113.9"},                  // not a proxy: its header is ignored
		{req("10.1.2.3:4000", "198.51.100.7"), "198.51.100.7"},                    // the proxy's client
		{req("10.1.2.3:4000", "6.6.6.6, 198.51.100.7, 10.9.9.9"), "198.51.100.7"}, // the spoofed first hop is not believed
		{req("192.0.2.1:4000", "198.51.100.7", "10.2.2.2"), "198.51.100.7"},       // two header lines, two proxies
		{req("10.1.2.3:4000"), "10.1.2.3"},                                        // no header
		{req("10.1.2.3:4000", "not-an-address"), "10.1.2.3"},                      // garbage
		{req("[::ffff:10.1.2.3]:4000", "2001:db8::1"), "2001:db8::1"},             // a mapped proxy address
	} {
		if got := ip(tc.r); got != tc.want {
			t.Errorf("from %s with %q: %s, want %s", tc.r.RemoteAddr, tc.r.Header.Values("X-Forwarded-For"), got, tc.want)
		}
	}
	sf.trustedProxies = []string{"10.0.0.0/33"}
	if _, err := sf.clientIP(); err == nil {
		t.Error("a CIDR that is none was taken")
	}
}
