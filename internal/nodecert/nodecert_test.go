package nodecert

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNodeCertificateChainsToItsCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddr("127.0.0.9")
	f := FilesIn(filepath.Join(dir, "node"))
	if err := loaded.WriteNode(f, "node 9", []netip.Addr{addr}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{f.Key: 0o600, f.Cert: 0o644, f.CA: 0o644, filepath.Join(dir, "ca-key.pem"): 0o600} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, %v; want %v", path, st.Mode().Perm(), err, mode)
		}
	}
	certPEM, _ := os.ReadFile(f.Cert)
	keyPEM, _ := os.ReadFile(f.Key)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if err := pair.Leaf.VerifyHostname("127.0.0.9"); err != nil {
		t.Error(err)
	}
	if err := pair.Leaf.VerifyHostname("127.0.0.8"); err == nil {
		t.Error("certificate valid for another address")
	}
	other, err := NewCA("other CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AddCert(other.Cert)
	if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: otherRoots}); err == nil {
		t.Error("certificate verified against another CA")
	}
}
