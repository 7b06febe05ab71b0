package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionInfo is what evote version prints: which build of evote this is,
// so a report of a problem, or an auditor comparing a verifier's binary
// with the published one, can name it.
type versionInfo struct {
	Module   string `json:"module"`   // the module path, github.com/evote/evote
	Version  string `json:"version"`  // the module version, or "(devel)" for a build in a checkout
	Revision string `json:"revision"` // the VCS commit, or "" when the build did not record it
	Time     string `json:"revision_time,omitempty"`
	Modified bool   `json:"modified"` // the checkout had uncommitted changes
	Go       string `json:"go"`       // the Go toolchain that built it
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// buildVersion reads bi (runtime/debug.ReadBuildInfo's; nil when the
// binary holds none).
func buildVersion(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Module: "github.com/evote/evote", Version: "(devel)", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi == nil {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildVersion(bi)
}

func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "evote %s (%s)\n", v.Version, v.Module)
	switch {
	case v.Revision == "":
		b.WriteString("revision unknown: built without VCS information (go build -buildvcs=true in a git checkout records it)\n")
	default:
		fmt.Fprintf(&b, "revision %s", v.Revision)
		if v.Time != "" {
			fmt.Fprintf(&b, " of %s", v.Time)
		}
		if v.Modified {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "built with %s for %s/%s\n", v.Go, v.OS, v.Arch)
	return b.String()
}

func versionCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print which build of evote this is",
		Long: `version prints the module version, the commit it was built from (when the
build recorded it), whether the checkout had uncommitted changes, and the Go
version that built it, all read from the binary itself (runtime/debug).
"evote --version" prints the same.

With --json it prints one JSON object with the keys module, version,
revision ("" when unknown), revision_time (omitted when unknown), modified,
go, os and arch.`,
		Example: `  evote version
  evote version --json`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			if asJSON {
				return g.printJSON(v)
			}
			g.printf("%s", v)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (keys in the help)")
	return c
}
