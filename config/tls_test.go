package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSDefaultsOff(t *testing.T) {
	c := Default()
	if c.TLS.Enabled() || c.TLS.Mode != TLSOff {
		t.Fatalf("TLS is %q by default", c.TLS.Mode)
	}
	if c.TLS.CAFile != "/etc/ctdb/tls/ca.pem" || c.TLS.CertFile != "/etc/ctdb/tls/node.pem" || c.TLS.KeyFile != "/etc/ctdb/tls/node-key.pem" {
		t.Fatalf("default files %+v", c.TLS)
	}
}

func TestTLSParse(t *testing.T) {
	c := mustParse(t, "[tls]\n\tmode = on\n\tca file = /x/ca.pem\n\tcertificate file = /x/n.pem\n\tkey file = /x/k.pem\n")
	want := TLS{Mode: TLSOn, CAFile: "/x/ca.pem", CertFile: "/x/n.pem", KeyFile: "/x/k.pem"}
	if c.TLS != want || !c.TLS.Enabled() {
		t.Fatalf("got %+v", c.TLS)
	}
	_, err := parseString(t, "[tls]\n\tmode = required\n")
	if err == nil || err.Error() != testFile+`:2: [tls] mode: "required": must be off or on` {
		t.Fatalf("bad mode: %v", err)
	}
}

// writeCluster writes a ctdb.conf with body and a nodes file in a fresh
// directory and returns the config's path.
func writeCluster(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nodes"), []byte("127.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ctdb.conf")
	text := "[cluster]\n\tnode address = 127.0.0.1\n" + body
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSLoadResolvesFilesBesideTheConfig(t *testing.T) {
	path := writeCluster(t, "[tls]\n\tkey file = secret/k.pem\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	want := TLS{Mode: TLSOff, CAFile: filepath.Join(dir, "tls/ca.pem"), CertFile: filepath.Join(dir, "tls/node.pem"), KeyFile: filepath.Join(dir, "secret/k.pem")}
	if c.TLS != want {
		t.Fatalf("got %+v, want %+v", c.TLS, want)
	}
}

func TestTLSLoadNamesMissingFile(t *testing.T) {
	// Mode on: a file that cannot be read stops the load, naming the
	// option, its line and the file.
	path := writeCluster(t, "[tls]\n\tmode = on\n\tcertificate file = /nonexistent/node.pem\n")
	dir := filepath.Dir(path)
	for _, f := range []string{"ca.pem", "node-key.pem"} {
		if err := os.MkdirAll(filepath.Join(dir, "tls"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "tls", f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Load(path)
	want := path + ":5: [tls] certificate file: cannot read /nonexistent/node.pem"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %q...", err, want)
	}
	// A defaulted file has no line.
	os.Remove(filepath.Join(dir, "tls", "ca.pem"))
	_, err = Load(path)
	want = path + ": [tls] ca file: cannot read " + filepath.Join(dir, "tls", "ca.pem")
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %v, want %q...", err, want)
	}
}
