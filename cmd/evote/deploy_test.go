package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The deployment files, from this package's directory.
const (
	deployDir     = "../../deploy"
	containerfile = deployDir + "/Containerfile"
)

// unit is a systemd unit file: each key of each section with its values
// in order (a key such as LoadCredential= is given many times).
type unit map[string][]string // "Service.ExecStart" -> values

// readUnit parses a unit file as systemd does for the subset the units
// use: sections, key=value lines, comments (# and ;) and lines continued
// by a final backslash.
func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section, pending := "", ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			t.Fatalf("%s:%d: not a key=value line of a section: %q", path, n, line)
		}
		u[section+"."+strings.TrimSpace(k)] = append(u[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// one is the single value of key, failing the test if it is not given
// exactly once.
func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	if len(u[key]) != 1 {
		t.Fatalf("%s given %d times, want once", key, len(u[key]))
	}
	return u[key][0]
}

// splitCommand splits a command line as systemd does: words apart by
// white space, single or double quotes around a word with spaces.
func splitCommand(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// hardening is what each service unit must set, and the value.
var hardening = map[string]string{
	"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
	"PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
	"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
	"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
	"ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectControlGroups": "yes", "UMask": "0077",
}

// TestSystemdUnits reads deploy/systemd's units, checks their hardening
// options, and runs each one's ExecStartPre and ExecStart with systemd's
// specifiers pointed into a temporary directory (%d the credentials, each
// a copy of mode 0400 as systemd makes it; %S the state, %E the
// configuration), as its service's user would: the service comes up and
// answers /healthz, logging JSON from its first line. It also restarts
// each (the state kept). When systemd-analyze is installed, it verifies
// each unit, its binary pointed at this test's own.
func TestSystemdUnits(t *testing.T) {
	s := newServiceSite(t, "", "")
	token := make([]byte, 16)
	rand.Read(token)
	os.WriteFile(s.in("admin.token"), []byte(hex.EncodeToString(token)+"\n"), 0o600)
	// Each credential's file, by the name the unit loads it as.
	sources := map[string]string{
		"passphrase": s.in("pass"), "admin.token": s.in("admin.token"),
		"board.key": s.in("board.key"), "issuer.key": s.in("issuer.key"), "roll.csv": s.in("roll.csv"),
	}
	for _, name := range []string{"evote-board", "evote-issuer"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(deployDir, "systemd", name+".service")
			u := readUnit(t, path)
			for k, want := range hardening {
				if got := u["Service."+k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s=%q, want %q", k, got, want)
				}
			}
			if f := u["Service.SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
				t.Errorf("SystemCallFilter=%q, want @system-service first", f)
			}
			if u.one(t, "Service.StateDirectory") != name || u.one(t, "Install.WantedBy") != "multi-user.target" {
				t.Errorf("StateDirectory=%v, WantedBy=%v", u["Service.StateDirectory"], u["Install.WantedBy"])
			}

			root := t.TempDir()
			dirs := map[string]string{"%d": filepath.Join(root, "credentials"), "%S": filepath.Join(root, "var/lib"), "%E": filepath.Join(root, "etc")}
			os.MkdirAll(dirs["%d"], 0o700)
			os.MkdirAll(filepath.Join(dirs["%S"], name), 0o700)
			conf := filepath.Join(dirs["%E"], "evote", strings.TrimPrefix(name, "evote-"))
			os.MkdirAll(conf, 0o755)
			os.WriteFile(filepath.Join(conf, "manifest.json"), mustRead(t, s.in("manifest.json")), 0o644)
			for _, lc := range u["Service.LoadCredential"] {
				cred, src, ok := strings.Cut(lc, ":")
				if !ok || !strings.HasPrefix(src, "/etc/evote/") {
					t.Fatalf("LoadCredential=%s: want NAME:/etc/evote/...", lc)
				}
				from, ok := sources[cred]
				if !ok {
					t.Fatalf("LoadCredential=%s: the test has no file for credential %q", lc, cred)
				}
				if err := os.WriteFile(filepath.Join(dirs["%d"], cred), mustRead(t, from), 0o400); err != nil {
					t.Fatal(err)
				}
			}
			expand := func(line string) []string {
				for spec, dir := range dirs {
					line = strings.ReplaceAll(line, spec, dir)
				}
				if strings.Contains(line, "%") {
					t.Fatalf("a specifier the test does not know in %q", line)
				}
				return splitCommand(t, line)
			}
			start := expand(u.one(t, "Service.ExecStart"))
			if start[0] != "/usr/local/bin/evote" {
				t.Fatalf("ExecStart runs %s, want /usr/local/bin/evote", start[0])
			}
			for run := range 2 { // a first start, and a restart
				for _, pre := range u["Service.ExecStartPre"] {
					argv := expand(pre)
					if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
						t.Fatalf("ExecStartPre %q: %v\n%s", argv, err, out)
					}
				}
				url, errs, stop := startServe(t, start[1:]...)
				resp, err := http.Get(url + "/healthz")
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("start %d: GET /healthz: %v %v", run+1, resp, err)
				}
				resp.Body.Close()
				if err := stop(); err != nil {
					t.Fatalf("start %d: %v\n%s", run+1, err, errs)
				}
				jsonLines(t, name, errs.String())
			}

			verify, err := exec.LookPath("systemd-analyze")
			if err != nil {
				t.Skip("no systemd-analyze on this machine: the units are not verified by systemd")
			}
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			text := strings.ReplaceAll(string(mustRead(t, path)), "/usr/local/bin/evote", self)
			tmp := filepath.Join(t.TempDir(), name+".service")
			os.WriteFile(tmp, []byte(text), 0o644)
			if out, err := exec.Command(verify, "verify", tmp).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
		})
	}
}

// containerStage is one FROM of a Containerfile and its instructions.
type containerStage struct {
	from, as string
	lines    []string // "RUN ...", "COPY ...", with continuations joined
}

// readContainerfile reads a Containerfile's stages.
func readContainerfile(t *testing.T) []containerStage {
	t.Helper()
	var stages []containerStage
	pending := ""
	for _, line := range strings.Split(string(mustRead(t, containerfile)), "\n") {
		line = strings.TrimSpace(line)
		if pending == "" && (line == "" || line[0] == '#') {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		if f := strings.Fields(line); strings.EqualFold(f[0], "FROM") {
			st := containerStage{from: f[1]}
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				st.as = f[3]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %q before any FROM", containerfile, line)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	return stages
}

// instruction returns the arguments of stage's only instruction named
// name, "" when it has none.
func (s containerStage) instruction(t *testing.T, name string) string {
	t.Helper()
	var got []string
	for _, l := range s.lines {
		if n, rest, _ := strings.Cut(l, " "); strings.EqualFold(n, name) {
			got = append(got, strings.TrimSpace(rest))
		}
	}
	if len(got) > 1 {
		t.Fatalf("%s given %d times in one stage", name, len(got))
	}
	if len(got) == 0 {
		return ""
	}
	return got[0]
}

// TestContainerfile checks deploy/Containerfile without a container
// engine (none runs offline here): a Go builder of go.mod's version
// builds the static binary from ./cmd/evote; the image is FROM scratch
// with the binary as its entry point, runs as a user other than root, and
// keeps its state in the volume /data. Its default command, and the
// issuer's command its comment gives, are commands of this CLI whose
// every flag parses, whose files are under /data, /run/secrets or
// /etc/evote, and which, those directories pointed into a temporary
// directory, start and answer /healthz.
func TestContainerfile(t *testing.T) {
	stages := readContainerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a builder and the image", len(stages))
	}
	build, image := stages[0], stages[1]
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mustRead(t, "../../go.mod"))
	if build.from != "golang:"+string(goVersion[1]) || build.as == "" {
		t.Errorf("builder FROM %s AS %q, want golang:%s, named", build.from, build.as, goVersion[1])
	}
	built := false
	for _, l := range build.lines {
		if strings.Contains(l, "CGO_ENABLED=0 go build") && strings.Contains(l, "-o /out/evote ./cmd/evote") {
			built = true
		}
	}
	if !built {
		t.Error("the builder does not build ./cmd/evote with CGO_ENABLED=0 into /out/evote")
	}
	if image.from != "scratch" {
		t.Errorf("image FROM %s, want scratch", image.from)
	}
	if u := image.instruction(t, "USER"); u == "" || u == "root" || strings.HasPrefix(u, "0") {
		t.Errorf("USER %q: the image must not run as root", u)
	}
	if v := image.instruction(t, "VOLUME"); v != "/data" {
		t.Errorf("VOLUME %q, want /data", v)
	}
	if !strings.Contains(strings.Join(image.lines, "\n"), "COPY --from="+build.as+" /out/evote /evote") {
		t.Error("the image does not copy the built binary to /evote")
	}
	var entry, cmd []string
	if err := json.Unmarshal([]byte(image.instruction(t, "ENTRYPOINT")), &entry); err != nil || len(entry) != 1 || entry[0] != "/evote" {
		t.Fatalf("ENTRYPOINT %q (%v), want [\"/evote\"]", image.instruction(t, "ENTRYPOINT"), err)
	}
	if err := json.Unmarshal([]byte(image.instruction(t, "CMD")), &cmd); err != nil {
		t.Fatalf("CMD is not the exec form: %v", err)
	}
	// The issuer's command, as the file's comment gives it.
	text := string(mustRead(t, containerfile))
	_, after, ok := strings.Cut(text, "The issuer's image command:")
	if !ok {
		t.Fatal("the Containerfile's comment gives no issuer command")
	}
	var issuerLine string
	for _, l := range strings.Split(after, "\n")[1:] {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
		if l == "" {
			if issuerLine != "" {
				break
			}
			continue
		}
		issuerLine += strings.TrimSuffix(l, `\`) + " "
	}
	issuer := strings.Fields(issuerLine)
	if len(issuer) == 0 || issuer[0] != "evote" {
		t.Fatalf("the issuer's command %q does not start with evote", issuerLine)
	}

	s := newServiceSite(t, "", "")
	token := make([]byte, 16)
	rand.Read(token)
	os.WriteFile(s.in("admin.token"), []byte(hex.EncodeToString(token)+"\n"), 0o600)
	for _, c := range []struct {
		what, path string
		args       []string
	}{{"CMD", "evote board serve", cmd}, {"the issuer's command", "evote issuer serve", issuer[1:]}} {
		root := newRoot(os.Stdout, os.Stderr)
		found, rest, err := root.Find(c.args)
		if err != nil || found.CommandPath() != c.path {
			t.Fatalf("%s %q is not %s: %v", c.what, c.args, c.path, err)
		}
		if err := found.ParseFlags(rest); err != nil {
			t.Fatalf("%s %q: %v", c.what, c.args, err)
		}
		// Point the image's directories into a temporary one, with the
		// secrets mounted as a compose file's secrets are (mode 0400).
		tmp := t.TempDir()
		mounts := map[string]string{"/data": filepath.Join(tmp, "data"), "/run/secrets": filepath.Join(tmp, "secrets"), "/etc/evote": filepath.Join(tmp, "etc")}
		for _, d := range mounts {
			os.MkdirAll(d, 0o700)
		}
		files := map[string]string{
			"/run/secrets/passphrase": s.in("pass"), "/run/secrets/board.key": s.in("board.key"), "/run/secrets/admin.token": s.in("admin.token"),
			"/run/secrets/roll.csv": s.in("roll.csv"), "/etc/evote/manifest.json": s.in("manifest.json"), "/data/issuer.key": s.in("issuer.key"),
		}
		args := append([]string(nil), c.args...)
		for i, a := range args {
			if !strings.HasPrefix(a, "/") {
				continue
			}
			prefix := ""
			for p := range mounts {
				if a == p || strings.HasPrefix(a, p+"/") {
					prefix = p
				}
			}
			if prefix == "" {
				t.Fatalf("%s: %s is in none of the image's directories", c.what, a)
			}
			local := mounts[prefix] + strings.TrimPrefix(a, prefix)
			if src, ok := files[a]; ok {
				if err := os.WriteFile(local, mustRead(t, src), 0o400); err != nil {
					t.Fatal(err)
				}
			} else if a != prefix {
				t.Fatalf("%s names %s, which the test has no file for", c.what, a)
			}
			args[i] = local
		}
		url, errs, stop := startServe(t, args...)
		resp, err := http.Get(url + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET /healthz: %v %v", c.what, resp, err)
		}
		resp.Body.Close()
		if err := stop(); err != nil {
			t.Fatalf("%s: %v\n%s", c.what, err, errs)
		}
		jsonLines(t, c.what, errs.String())
	}
}
