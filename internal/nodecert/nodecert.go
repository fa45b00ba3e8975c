package nodecert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// CA is a cluster certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// CertPEM is Cert, PEM-encoded: the [tls] ca file of every node.
	CertPEM []byte
}

// backdate keeps certificates valid on nodes whose clocks lag a little.
const backdate = time.Hour

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

// NewCA makes a self-signed CA called name, valid for validFor.
func NewCA(name string, validFor time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	sn, err := serial()
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"rctdb"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA %s: %w", name, err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: pemBlock("CERTIFICATE", der)}, nil
}

// Issue makes a certificate and key for a node called name at addrs,
// valid for validFor from now, for both ends of a link (server and client
// authentication). It returns both PEM-encoded.
func (ca *CA) Issue(name string, addrs []netip.Addr, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	return ca.IssueAt(name, addrs, time.Now(), validFor)
}

// IssueAt is Issue with the validity starting at notBefore (tests make
// expired certificates with it).
func (ca *CA) IssueAt(name string, addrs []netip.Addr, notBefore time.Time, validFor time.Duration) (certPEM, keyPEM []byte, err error) {
	if len(addrs) == 0 {
		return nil, nil, fmt.Errorf("issue certificate %s: no address", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %s: %w", name, err)
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"rctdb"}},
		NotBefore:    notBefore.Add(-backdate),
		NotAfter:     notBefore.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, a := range addrs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.Unmap().AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %s: %w", name, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %s: %w", name, err)
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", kder), nil
}

// KeyPEM is the CA's private key, PEM-encoded.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(ca.Key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

// Save writes the CA to certPath (0644) and its key to keyPath (0600).
func (ca *CA) Save(certPath, keyPath string) error {
	kp, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	if err := WriteFile(certPath, ca.CertPEM, 0o644); err != nil {
		return err
	}
	return WriteFile(keyPath, kp, 0o600)
}

// LoadCA reads a CA that Save wrote.
func LoadCA(certPath, keyPath string) (*CA, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, fmt.Errorf("load CA %s, %s: not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load CA %s: %w", certPath, err)
	}
	key, err := x509.ParseECPrivateKey(kblk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("load CA key %s: %w", keyPath, err)
	}
	if !cert.IsCA {
		return nil, errors.New("load CA " + certPath + ": not a CA certificate")
	}
	return &CA{Cert: cert, Key: key, CertPEM: cb}, nil
}

// NodeFiles are where a node's TLS files live, as its [tls] section names
// them.
type NodeFiles struct {
	CA, Cert, Key string
}

// FilesIn are the default files in dir: ca.pem, node.pem and
// node-key.pem.
func FilesIn(dir string) NodeFiles {
	return NodeFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "node.pem"), Key: filepath.Join(dir, "node-key.pem")}
}

// WriteNode issues a certificate for a node and writes the CA, the
// certificate and the key (0600) to f, each replaced atomically so that a
// running daemon never reads half a file.
func (ca *CA) WriteNode(f NodeFiles, name string, addrs []netip.Addr, validFor time.Duration) error {
	cert, key, err := ca.Issue(name, addrs, validFor)
	if err != nil {
		return err
	}
	return WriteNodeFiles(f, ca.CertPEM, cert, key)
}

// WriteNodeFiles writes the three files of a node, the key with mode 0600.
// The key goes first: a daemon reloads when the certificate changes, and
// must then find the matching key already there.
func WriteNodeFiles(f NodeFiles, caPEM, certPEM, keyPEM []byte) error {
	if err := WriteFile(f.Key, keyPEM, 0o600); err != nil {
		return err
	}
	if err := WriteFile(f.CA, caPEM, 0o644); err != nil {
		return err
	}
	return WriteFile(f.Cert, certPEM, 0o644)
}

// WriteFile writes data to path through a temporary file and a rename,
// creating the directory (0700) if needed.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err == nil {
		_, err = tmp.Write(data)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
