package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildVersion: the module version, the revision and whether the
// checkout was modified come from the binary's build information, and a
// build without VCS information says so instead of inventing a revision.
func TestBuildVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/evote/evote", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-03-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	v := buildVersion(bi)
	if v.Version != "v1.4.0" || v.Revision != "0123456789abcdef0123456789abcdef01234567" || !v.Modified || v.Time != "2026-03-01T10:00:00Z" || v.Go != "go1.26.8" {
		t.Fatalf("%+v", v)
	}
	s := v.String()
	for _, w := range []string{"evote v1.4.0", "revision 0123456789abcdef0123456789abcdef01234567 of 2026-03-01T10:00:00Z, with uncommitted changes", "built with go1.26.8"} {
		if !strings.Contains(s, w) {
			t.Errorf("%q lacks %q", s, w)
		}
	}
	for _, bare := range []*debug.BuildInfo{nil, {Main: debug.Module{Path: "github.com/evote/evote", Version: "(devel)"}}} {
		v := buildVersion(bare)
		if v.Revision != "" || v.Version != "(devel)" || v.Go != runtime.Version() || !strings.Contains(v.String(), "revision unknown") {
			t.Errorf("%+v: %q", v, v.String())
		}
	}
}

// TestVersionCommand: evote version, --version and version --json say
// the same, the JSON with its documented keys.
func TestVersionCommand(t *testing.T) {
	out, errs, code := evote(t, "version")
	if code != 0 || errs != "" || !strings.HasPrefix(out, "evote ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	flag, _, code := evote(t, "--version")
	if code != 0 || flag != out {
		t.Fatalf("--version: exit %d\n%q\nwant %q", code, flag, out)
	}
	js, errs, code := evote(t, "version", "--json")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var keys map[string]any
	if err := json.Unmarshal([]byte(js), &keys); err != nil {
		t.Fatalf("%v:\n%s", err, js)
	}
	for _, k := range []string{"module", "version", "revision", "modified", "go", "os", "arch"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("no key %q in %s", k, js)
		}
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(js), &v); err != nil || v.Go != runtime.Version() || v.Module != "github.com/evote/evote" || v.String() != out {
		t.Fatalf("%+v, %v; the text said\n%s", v, err, out)
	}
}
