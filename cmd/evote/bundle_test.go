package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// bundled parses args as evote would and fills the command's flags from
// the bundle, as the root's hook does before the command runs.
func bundled(t *testing.T, bundle string, args ...string) (*cobra.Command, error) {
	t.Helper()
	root := newRoot(io.Discard, io.Discard)
	c, rest, err := root.Find(args)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ParseFlags(rest); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return c, applyBundle(c, bundle)
}

func flagValue(t *testing.T, c *cobra.Command, name string) string {
	t.Helper()
	f := c.Flags().Lookup(name)
	if f == nil {
		t.Fatalf("%s has no --%s", c.CommandPath(), name)
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return strings.Join(sv.GetSlice(), " ")
	}
	return f.Value.String()
}

// TestBundleFillsEachRole: every role's command takes its election flags
// from the bundle: the manifest and the CA as files in the private
// directory, the board's key itself, the addresses.
func TestBundleFillsEachRole(t *testing.T) {
	f := newBundleFixture(t)
	b := f.in("election.bundle")
	f.write(t, b, "--witness", "https://w1.example.org", "--witness", "https://w2.example.org")
	sumDir := bundleCacheDir(t, b)
	manifest, ca := filepath.Join(sumDir, "manifest.json"), filepath.Join(sumDir, "ca.pem")
	const board, issuer = "https://board.example.org", "https://issuer.example.org"
	for _, tc := range []struct {
		args []string
		want map[string]string
	}{
		{[]string{"vote", "--voter-id", "v1"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board, "issuer": issuer}},
		{[]string{"receipt", "check", "r.json"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "init", "--index", "1"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "deal", "--state", "s"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "verify", "--state", "s"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "answer", "--state", "s"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "status"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "finalize", "--state", "s"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "checkpoint"}, map[string]string{"board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"trustee", "decrypt", "--share", "s"}, map[string]string{"board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"board", "serve"}, map[string]string{"manifest": manifest, "witness": "https://w1.example.org https://w2.example.org"}},
		{[]string{"board", "open"}, map[string]string{"ca-cert": ca, "board": board}},
		{[]string{"board", "export"}, map[string]string{"board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"tally"}, map[string]string{"board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"issuer", "serve"}, map[string]string{"election": manifest, "ca-cert": ""}},
		{[]string{"issuer", "statement"}, map[string]string{"election": manifest}},
		{[]string{"issuer", "invite"}, map[string]string{"manifest": manifest, "ca-cert": ""}},
		{[]string{"issuer", "helpdesk", "show", "--voter", "v1"}, map[string]string{"issuer": issuer, "ca-cert": ca}},
		{[]string{"issuer", "helpdesk", "resend", "--voter", "v1"}, map[string]string{"issuer": issuer, "ca-cert": ca, "manifest": manifest, "smtp-ca-cert": ""}},
		{[]string{"witness", "serve"}, map[string]string{"log": f.boardKey}},
		{[]string{"verify", "record.evr"}, map[string]string{"manifest": manifest, "board-key": f.boardKey}},
		{[]string{"report", "record.evr"}, map[string]string{"manifest": manifest, "board-key": f.boardKey}},
		{[]string{"monitor"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
		{[]string{"booth", "build", "--out", "booth"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "issuer": issuer, "board": ""}},
		{[]string{"booth", "link", "--voter-id", "v1"}, map[string]string{"manifest": manifest}},
		{[]string{"audit", "a.json"}, map[string]string{"manifest": manifest, "board-key": f.boardKey, "ca-cert": ca, "board": board}},
	} {
		c, err := bundled(t, b, tc.args...)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		for name, want := range tc.want {
			if got := flagValue(t, c, name); got != want {
				t.Errorf("%s --%s = %q from the bundle, want %q", c.CommandPath(), name, got, want)
			}
		}
	}
	if got := mustRead(t, manifest); !bytes.Equal(got, mustRead(t, f.manifest)) {
		t.Error("the bundle's manifest file is not the manifest")
	}
	for _, d := range []string{sumDir, filepath.Dir(sumDir)} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v; want a private directory (0700)", d, err, fi.Mode().Perm())
		}
	}
}

// bundleCacheDir is where the bundle at path writes its files.
func bundleCacheDir(t *testing.T, path string) string {
	t.Helper()
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, "evote", "bundles", fmt.Sprintf("%x", sha256.Sum256(mustRead(t, path))))
}

// TestBundleExplicitFlagsWin: a flag given is kept, the manifest given
// when it is the bundle's, by file or by hash.
func TestBundleExplicitFlagsWin(t *testing.T) {
	f := newBundleFixture(t)
	b := f.in("election.bundle")
	f.write(t, b)
	c, err := bundled(t, b, "vote", "--board", "https://127.0.0.1:9", "--board-key", f.vkey, "--manifest", f.manifest,
		"--ca-cert", "other.pem", "--issuer", "https://127.0.0.1:10")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"board": "https://127.0.0.1:9", "board-key": f.vkey, "manifest": f.manifest, "ca-cert": "other.pem", "issuer": "https://127.0.0.1:10"} {
		if got := flagValue(t, c, name); got != want {
			t.Errorf("--%s = %q, want the %q given", name, got, want)
		}
	}
	if c, err = bundled(t, b, "verify", "r.evr", "--manifest", fmt.Sprintf("%x", f.hash)); err != nil {
		t.Fatalf("the bundle's manifest hash given: %v", err)
	}
	if got := flagValue(t, c, "board-key"); got != f.boardKey {
		t.Errorf("--board-key = %q beside --manifest HASH", got)
	}
	// Witnesses given replace the bundle's, not join them.
	f.write(t, f.in("w.bundle"), "--witness", "https://w1.example.org")
	if c, err = bundled(t, f.in("w.bundle"), "board", "serve", "--witness", "https://w9.example.org"); err != nil {
		t.Fatal(err)
	}
	if got := flagValue(t, c, "witness"); got != "https://w9.example.org" {
		t.Errorf("--witness = %q, want only the one given", got)
	}
	// No bundle: nothing filled.
	if c, err = bundled(t, "", "vote"); err != nil || flagValue(t, c, "board") != "" {
		t.Errorf("no bundle: %v, --board %q", err, flagValue(t, c, "board"))
	}
}

// TestAttackBundleOtherManifest: a manifest given beside a bundle of
// another election is refused (exit 2, both hashes named), by --manifest
// and the issuer's --election, by file and by hash, by flag and by
// EVOTE_BUNDLE, and nothing is written to the cache.
func TestAttackBundleOtherManifest(t *testing.T) {
	f := newBundleFixture(t)
	b := f.in("election.bundle")
	f.write(t, b)
	other := newBundleFixture(t) // a second election; the cache is now its
	cache := filepath.Join(other.dir, "cache")
	wantMsg := fmt.Sprintf("carries manifest %x", f.hash)
	for _, args := range [][]string{
		{"verify", "r.evr", "--bundle", b, "--manifest", other.manifest},
		{"verify", "r.evr", "--bundle", b, "--manifest", fmt.Sprintf("%x", other.hash)},
		{"vote", "--bundle", b, "--manifest", other.manifest, "--voter-id", "v", "--code", "c", "--choose", "m=yes"},
		{"issuer", "serve", "--bundle", b, "--election", other.manifest},
		{"trustee", "init", "--bundle", b, "--index", "1", "--manifest", other.manifest},
	} {
		_, se, code := evote(t, args...)
		if code != 2 || !strings.Contains(se, wantMsg) || !strings.Contains(se, fmt.Sprintf("%x", other.hash)) {
			t.Errorf("%q: exit %d, want 2 naming both manifests:\n%s", args, code, se)
		}
	}
	t.Setenv("EVOTE_BUNDLE", b)
	if _, se, code := evote(t, "verify", "r.evr", "--manifest", other.manifest); code != 2 || !strings.Contains(se, wantMsg) {
		t.Errorf("EVOTE_BUNDLE with another manifest: exit %d\n%s", code, se)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("a refused bundle wrote to the cache: %v", err)
	}
	// The flag names the bundle over the environment's.
	t.Setenv("EVOTE_BUNDLE", filepath.Join(other.dir, "none.bundle"))
	if _, se, code := evote(t, "verify", "r.evr", "--bundle", b); code != 1 || !strings.Contains(se, "r.evr") {
		t.Errorf("--bundle beside EVOTE_BUNDLE: exit %d\n%s", code, se)
	}
}

// TestAttackBundleTampered: a bundle changed in any way (a field, the
// manifest, its spelling) is refused before any command uses it, and
// writes nothing.
func TestAttackBundleTampered(t *testing.T) {
	f := newBundleFixture(t)
	b := f.in("election.bundle")
	f.write(t, b)
	raw := mustRead(t, b)
	for _, tc := range tamperedBundles(t, raw) {
		p := f.in("tampered.bundle")
		if err := os.WriteFile(p, tc.b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := parseBundle(tc.b); err == nil {
			t.Errorf("%s: parsed", tc.name)
		}
		_, se, code := evote(t, "verify", "r.evr", "--bundle", p)
		if code != 1 || !strings.Contains(se, "is refused") {
			t.Errorf("%s: exit %d, want the bundle refused:\n%s", tc.name, code, se)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "cache")); !os.IsNotExist(err) {
		t.Errorf("a tampered bundle wrote to the cache: %v", err)
	}
}

type tampered struct {
	name string
	b    []byte
}

func tamperedBundles(t testing.TB, raw []byte) []tampered {
	eb, err := parseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(*electionBundle)) []byte {
		c := *eb
		c.Manifest = bytes.Clone(eb.Manifest)
		fn(&c)
		return c.marshal()
	}
	flip := bytes.Clone(raw)
	i := bytes.Index(flip, []byte(`"manifest": "`)) + 20
	flip[i] ^= 1
	return []tampered{
		{"a manifest byte changed", edit(func(c *electionBundle) { c.Manifest[len(c.Manifest)/2] ^= 0x20 })},
		{"a base64 character changed", flip},
		{"another format", edit(func(c *electionBundle) { c.Format = "evote-election-bundle/v2" })},
		{"the board in clear text", edit(func(c *electionBundle) { c.Board = "http://board.example.org" })},
		{"a board key that is none", edit(func(c *electionBundle) { c.BoardKey = "board.example.org" })},
		{"a board key with a line feed", edit(func(c *electionBundle) { c.BoardKey += "\n" })},
		{"a CA with text after it", edit(func(c *electionBundle) { c.CACert += "extra\n" })},
		{"an empty witness list", bytes.Replace(raw, []byte(`"board_key"`), []byte(`"witnesses": [],`+"\n  "+`"board_key"`), 1)},
		{"an unknown field", bytes.Replace(raw, []byte(`"board_key"`), []byte(`"admin": "x",`+"\n  "+`"board_key"`), 1)},
		{"a field twice", bytes.Replace(raw, []byte(`"board_key"`), []byte(`"board": "https://evil.example.org",`+"\n  "+`"board_key"`), 1)},
		{"compact JSON", compact(t, raw)},
		{"no final line feed", bytes.TrimSuffix(raw, []byte("\n"))},
		{"CRLF", bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))},
		{"cut", raw[:len(raw)/2]},
		{"too large", append(bytes.Repeat([]byte(" "), maxBundleSize), raw...)},
	}
}

func compact(t testing.TB, raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAttackBundleCacheSwapped: a manifest swapped in the cache directory
// (by anyone who could write there) is put back before a command reads it.
func TestAttackBundleCacheSwapped(t *testing.T) {
	f := newBundleFixture(t)
	b := f.in("election.bundle")
	f.write(t, b)
	if _, err := bundled(t, b, "verify", "r.evr"); err != nil {
		t.Fatal(err)
	}
	dir := bundleCacheDir(t, b)
	other := newBundleFixture(t)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(f.dir, "cache"))
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mustRead(t, other.manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	c, err := bundled(t, b, "verify", "r.evr")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, flagValue(t, c, "manifest")); !bytes.Equal(got, mustRead(t, f.manifest)) {
		t.Error("the command reads the swapped manifest")
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("the cache directory is left %v", fi.Mode().Perm())
	}
}

// TestBundleCoversEveryFlag walks the command tree: every flag whose name
// says it is the manifest, the board, its key, the issuer, a witness or a
// CA is filled by the bundle, left alone with a reason, or known to be
// another thing; and every exception names a flag that exists.
func TestBundleCoversEveryFlag(t *testing.T) {
	// Flags with such names that are not what a bundle holds.
	other := []string{"witness-key", "witness-quorum", "issuer-key", "log-format", "log-level", "booth", "election-key", "vkey", "smtp-ca-cert"}
	words := []string{"manifest", "election", "board", "issuer", "witness", "ca-", "log", "vkey"}
	root := newRoot(io.Discard, io.Discard)
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			walk(s)
		}
		c.Flags().VisitAll(func(fl *pflag.Flag) {
			key := c.CommandPath() + " --" + fl.Name
			seen[key] = true
			if _, ok := bundleFlagUses[fl.Name]; ok || slices.Contains(other, fl.Name) {
				return
			}
			for _, w := range words {
				if strings.Contains(fl.Name, w) {
					t.Errorf("%s: does the bundle fill it? Add it to bundleFlagUses, or to this test's other flags", key)
				}
			}
		})
	}
	walk(root)
	for k := range bundleNotFor {
		if !seen[k] {
			t.Errorf("bundleNotFor names %s, which does not exist", k)
		}
	}
}

// FuzzParseBundle: parseBundle never panics, and what it accepts is in
// the one encoding (it marshals back to the same bytes) and parses again.
func FuzzParseBundle(f *testing.F) {
	fx := bundleBytes(f)
	f.Add(fx)
	for _, tc := range tamperedBundles(f, fx) {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		eb, err := parseBundle(b)
		if err != nil {
			return
		}
		if !bytes.Equal(eb.marshal(), b) {
			t.Fatalf("accepted %q, which marshals as %q", b, eb.marshal())
		}
		if _, err := parseBundle(eb.marshal()); err != nil {
			t.Fatalf("accepted %q but not again: %v", b, err)
		}
	})
}

// TestAttackBundleCacheOtherUser: the bundle's cache directory made
// beforehand by another user (a shared cache), who could swap its files
// between the command's write and its read, is refused naming it.
func TestAttackBundleCacheOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root, to give the directory to another user")
	}
	f := newBundleFixture(t)
	b := f.in("election.bundle")
	f.write(t, b)
	if _, err := bundled(t, b, "verify", "r.evr"); err != nil {
		t.Fatal(err)
	}
	dir := bundleCacheDir(t, b)
	if err := os.Chown(dir, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	if _, err := bundled(t, b, "verify", "r.evr"); err == nil || !strings.Contains(err.Error(), "belongs to another user") {
		t.Fatalf("a cache directory of another user: %v", err)
	}
}
