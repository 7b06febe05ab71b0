// Package pgtest gives tests a real PostgreSQL: a fresh database on the
// server EVOTE_TEST_POSTGRES names (a DSN, such as
// postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable), or, for
// the fault tests that stop and fill it, a private cluster of their own
// started from Debian's PostgreSQL binaries, with, for the tests of
// synchronous replication, a standby of its own ([Cluster.Standby]).
//
// Without PostgreSQL a test skips, saying what to set; CI (.ci/run)
// installs PostgreSQL 15, starts a cluster, and sets
// EVOTE_REQUIRE_POSTGRES=1, so there a missing server fails instead of
// skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the variable naming the test server's DSN.
const Env = "EVOTE_TEST_POSTGRES"

func skip(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("EVOTE_REQUIRE_POSTGRES") != "" {
		t.Fatalf("EVOTE_REQUIRE_POSTGRES is set, but %s", why)
	}
	t.Skipf("%s: the PostgreSQL tests need it (see .ci/run, which starts one); CI never skips them", why)
}

// DSN is the test server's DSN, or t skips (fails under
// EVOTE_REQUIRE_POSTGRES).
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		skip(t, Env+" is not set")
	}
	return dsn
}

// NewDatabase creates an empty database on the test server and returns
// its DSN; the database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, DSN(t), "")
}

func createDatabase(t testing.TB, dsn, tablespace string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(dsn), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "evote_test_" + hex.EncodeToString(b[:])
	q := "CREATE DATABASE " + name
	if tablespace != "" {
		q += " TABLESPACE " + tablespace
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("pgtest: %s: %v", q, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return // the server is gone with its cluster
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		t.Fatalf("pgtest: %s must be a postgres:// URL", Env)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the DSN"
	}
	return u.Redacted()
}

// A Cluster is a private PostgreSQL server a test may stop, restart and
// fill, on a loopback port of its own; it is stopped when the test ends.
type Cluster struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	run  func(name string, args ...string) *exec.Cmd
	// DSN is the cluster's postgres database, as its superuser.
	DSN string
}

// binDir finds Debian's PostgreSQL binaries: pg_config's, else the newest
// under /usr/lib/postgresql.
func binDir() string {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	ds, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(ds) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(ds[i], "initdb")); err == nil {
			return ds[i]
		}
	}
	return ""
}

// StartCluster initdbs and starts a private cluster, or t skips (fails
// under EVOTE_REQUIRE_POSTGRES) when no PostgreSQL is installed. As root,
// the server runs as the postgres user, since PostgreSQL refuses root.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir()
	if bin == "" {
		skip(t, "no PostgreSQL server binaries (initdb) are installed (apt-get install postgresql)")
	}
	c := &Cluster{t: t, bin: bin}
	c.run = func(name string, args ...string) *exec.Cmd {
		return exec.Command(filepath.Join(bin, name), args...)
	}
	if os.Geteuid() == 0 {
		c.run = func(name string, args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
	}
	c.dir = serverDir(t)
	data := filepath.Join(c.dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	c.port = freePort(t)
	c.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	c.Start()
	t.Cleanup(func() { c.run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run() })
	return c
}

// serverDir makes a directory for one server's data, socket and log,
// removed when the test ends; as root, it is the postgres user's, whom
// the server runs as.
func serverDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "evote-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			skip(t, "running as root with no postgres user to run the server as")
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Standby makes a streaming standby of c (pg_basebackup -R -X stream),
// on a port and directory of its own, starts it, and makes it c's one
// synchronous standby (synchronous_standby_names = 'standby', its
// application_name): from then on a commit on c returns only once the
// standby has flushed it, and waits, however long, while the standby is
// stopped. The standby is a hot standby: its DSN takes read-only
// queries, to see what reached it (the databases are c's, on its port).
//
// The base backup copies c's databases; those made later are streamed
// like any other commit. When the test ends, c is made asynchronous
// again, releasing any commit still waiting, and the standby is stopped.
func (c *Cluster) Standby(t testing.TB) *Cluster {
	t.Helper()
	s := &Cluster{t: t, bin: c.bin, run: c.run, dir: serverDir(t), port: freePort(t)}
	s.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	data := filepath.Join(s.dir, "data")
	// -d's application_name is written into primary_conninfo by -R, and
	// is the name synchronous_standby_names gives.
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres application_name=standby", c.port)
	if out, err := c.run("pg_basebackup", "-d", conninfo, "-D", data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("pgtest: pg_basebackup: %v\n%s", err, out)
	}
	auto, err := os.ReadFile(filepath.Join(data, "postgresql.auto.conf"))
	if err != nil || !strings.Contains(string(auto), "application_name=standby") {
		t.Fatalf("pgtest: pg_basebackup -R wrote no primary_conninfo naming application_name=standby (%v):\n%s", err, auto)
	}
	s.Start()
	t.Cleanup(func() { s.run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop").Run() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatalf("pgtest: connecting to the primary: %v", err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{"ALTER SYSTEM SET synchronous_standby_names = 'standby'", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: %s: %v", q, err)
		}
	}
	// Registered after the standby's stop, so run before it: a commit
	// waiting for the standby (the test's, or a database's drop) ends.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, c.DSN)
		if err != nil {
			return // the primary is down
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "ALTER SYSTEM RESET synchronous_standby_names")
		conn.Exec(ctx, "SELECT pg_reload_conf()")
	})
	for {
		var state string
		err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'").Scan(&state)
		if err == nil && state == "sync" {
			return s
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("pgtest: reading pg_stat_replication: %v", err)
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			t.Fatalf("pgtest: the standby is not the primary's synchronous standby after 30s (sync_state %q)\n%s", state, log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts the cluster's server and waits until it accepts
// connections.
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on", c.port, c.dir)
	cmd := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.t.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server at once (-m immediate: as if it crashed, every
// connection cut and no shutdown checkpoint), or, with fast set, as an
// operator's restart does (-m fast: sessions ended cleanly).
func (c *Cluster) Stop(fast bool) {
	c.t.Helper()
	mode := "immediate"
	if fast {
		mode = "fast"
	}
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", mode, "-w", "stop").CombinedOutput(); err != nil {
		c.t.Fatalf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
}

// NewDatabase creates an empty database on the cluster and returns its
// DSN.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	return createDatabase(t, c.DSN, "")
}

// SmallDisk makes a tablespace on a filesystem of its own of the given
// size (a tmpfs; mounting needs root, else t skips) and an empty database
// whose tables live there, and returns its DSN: what the database writes
// fills that filesystem alone, a full disk the test can make and empty.
func (c *Cluster) SmallDisk(t testing.TB, mib int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, "a full disk is made on a tmpfs, and mounting one needs root")
	}
	mnt := filepath.Join(c.dir, "small")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0700", mib), "tmpfs", mnt).CombinedOutput(); err != nil {
		skip(t, fmt.Sprintf("mount -t tmpfs failed (%v: %s)", err, out))
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	if out, err := exec.Command("chown", "postgres:postgres", mnt).CombinedOutput(); err != nil {
		t.Fatalf("pgtest: chown: %v: %s", err, out)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLESPACE small LOCATION '"+mnt+"'"); err != nil {
		t.Fatal(err)
	}
	return createDatabase(t, c.DSN, "small")
}
