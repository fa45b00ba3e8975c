package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sampleEntry is one command of a capture file, in file order, with the
// section it is in and its standard input.
type sampleEntry struct {
	section string
	stdin   string
	node    int
	args    []string
	want    sample
}

func (e sampleEntry) key() string {
	return strconv.Itoa(e.node) + " " + strings.Join(e.args, " ")
}

// loadSampleEntries parses a capture file like loadSamples, keeping the
// order, the sections ("# TITLE" lines) and the standard input ("#
// standard input: QUOTED" before a command).
func loadSampleEntries(t *testing.T, name string) []sampleEntry {
	t.Helper()
	data, err := readTestdata(name)
	if err != nil {
		t.Fatal(err)
	}
	var entries []sampleEntry
	var section, stdin string
	var cur *sampleEntry
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "# standard input: "):
			stdin, err = strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(line, "# standard input: "), "\n"))
			if err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
		case strings.HasPrefix(line, "# ") && cur == nil:
			section = strings.TrimSuffix(strings.TrimPrefix(line, "# "), "\n")
		case strings.HasPrefix(line, "$ ctdb-node.sh "):
			f := strings.Fields(strings.TrimPrefix(line, "$ ctdb-node.sh "))
			k, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("%s: %q", name, line)
			}
			cur = &sampleEntry{section: section, stdin: stdin, node: k, args: f[1:]}
			stdin = ""
		case cur == nil:
		case strings.HasPrefix(line, "[rc="):
			rc, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line, "[rc="), "]\n"))
			if err != nil {
				t.Fatalf("%s: %q", name, line)
			}
			cur.want.rc = rc
			entries = append(entries, *cur)
			cur = nil
		case strings.HasPrefix(line, "stderr: "):
			cur.want.stderr += strings.TrimPrefix(line, "stderr: ")
		default:
			cur.want.stdout += line
		}
	}
	return entries
}

// sectionEntries are the entries of the section whose title starts with
// prefix.
func sectionEntries(t *testing.T, entries []sampleEntry, prefix string) []sampleEntry {
	t.Helper()
	var l []sampleEntry
	for _, e := range entries {
		if strings.HasPrefix(e.section, prefix) {
			l = append(l, e)
		}
	}
	if len(l) == 0 {
		t.Fatalf("no section %q in the samples", prefix)
	}
	return l
}

// replay runs each entry with our tool against the fake daemon of its node
// and requires the captured output.
func replay(t *testing.T, fds []*fakeDaemon, entries []sampleEntry) {
	t.Helper()
	for _, e := range entries {
		got := runToolInput(fds[e.node], nil, e.stdin, e.args...)
		checkRun(t, e.key(), got, e.want)
	}
}

// TestIPFailoverCanonicalSamples replays the first section of
// samples-ipfailover.txt (every command that changes nothing, in the
// canonical state) against fake daemons serving that state.
func TestIPFailoverCanonicalSamples(t *testing.T) {
	entries := loadSampleEntries(t, "samples-ipfailover.txt")
	fds := ipFakes(t, canonicalModel())
	replay(t, fds, sectionEntries(t, entries, "canonical state"))
}

// TestIPFailoverTickleFlowSample replays the tickle flow of
// samples-ipfailover.txt: connections added (one by one and from a list,
// one of them refused), listed, filtered by port, and removed.
func TestIPFailoverTickleFlowSample(t *testing.T) {
	entries := loadSampleEntries(t, "samples-ipfailover.txt")
	fds := ipFakes(t, canonicalModel())
	replay(t, fds, sectionEntries(t, entries, "tickles on node 0"))
}

// TestFormatsSamplesPublicIPs reproduces the public-IP commands of
// samples-formats-publicips.txt (every node knows 10.99.0.1-3, hosted by
// nodes 2, 1 and 0) and of samples-formats.txt (no public addresses).
func TestFormatsSamplesPublicIPs(t *testing.T) {
	with := newIPModel(3)
	holders := map[int]uint32{1: 2, 2: 1, 3: 0}
	for k := 0; k < 3; k++ {
		for i := 1; i <= 3; i++ {
			with.addIP(k, "10.99.0."+strconv.Itoa(i), holders[i], "ctdb0")
		}
	}
	common := []string{"0 ip", "0 ip all", "0 -X ip", "0 -X ip all", "0 ip -v", "0 -X ip -v all", "0 ifaces", "0 -X ifaces"}
	for _, c := range []struct {
		file  string
		model *ipModel
		keys  []string
	}{
		{"samples-formats-publicips.txt", with, append(common, "1 -X ifaces", "0 ipinfo 10.99.0.1",
			"0 -X ipinfo 10.99.0.1", "0 gettickles 10.99.0.1", "0 -X gettickles 10.99.0.1")},
		{"samples-formats.txt", newIPModel(3), common},
	} {
		samples := loadSamples(t, c.file)
		fds := ipFakes(t, c.model)
		for _, key := range c.keys {
			want, ok := samples[key]
			if !ok {
				t.Fatalf("%s: no sample %q", c.file, key)
			}
			k, _ := strconv.Atoi(strings.Fields(key)[0])
			checkRun(t, c.file+": "+key, runTool(fds[k], nil, args(key)...), want)
		}
	}
}

// TestPublicIPSamplesAreCurrent checks our copy of
// samples-formats-publicips.txt against the shared reference when it is
// there.
func TestPublicIPSamplesAreCurrent(t *testing.T) {
	name := "samples-formats-publicips.txt"
	ref, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "reference", "ctdb-4.17-output", name))
	if err != nil {
		t.Skipf("no shared reference: %v", err)
	}
	ours, err := readTestdata(name)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ref, ours) {
		t.Errorf("testdata/%s differs from the shared reference", name)
	}
}
