package main

import "runtime/debug"

// VersionCmd is "ctdb version". It prints the version of the real tool we
// are compatible with, as that tool prints it, so that scripts keep
// working; --json also gives our own version.
type VersionCmd struct{ Args }

// ctdbVersion is what Debian's ctdb 4.17 prints.
const ctdbVersion = "4.17.12-Debian"

// rctdbVersion is our module's version, "devel" in a development build.
func rctdbVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Run prints the version; no daemon is needed.
func (c *VersionCmd) Run(t *tool) error {
	if t.opts.json {
		return t.printJSON(struct {
			Version        string `json:"version"`
			Implementation string `json:"implementation"`
			RctdbVersion   string `json:"rctdb_version"`
		}{ctdbVersion, "rctdb", rctdbVersion()})
	}
	t.print(ctdbVersion + "\n")
	return nil
}
