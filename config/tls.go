package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// TLS is rctdb's [tls] section: mutual TLS on the node links and Raft
// streams (package transport). With Mode TLSOn every connection between
// nodes is TLS 1.3, and both ends must present a certificate signed by the
// cluster CA in CAFile.
type TLS struct {
	// Mode is TLSOff (plaintext links, as ctdbd) or TLSOn (TLS required).
	Mode string
	// CAFile holds the cluster CA certificate(s), PEM.
	CAFile string
	// CertFile holds this node's certificate (PEM, optionally followed by
	// intermediates); KeyFile its private key (PEM).
	CertFile string
	KeyFile  string
}

// The modes of [tls] mode.
const (
	TLSOff = "off"
	TLSOn  = "on"
)

// Enabled reports whether node links must use TLS.
func (t TLS) Enabled() bool { return t.Mode == TLSOn }

const (
	secTLS      = "tls"
	keyTLSMode  = "mode"
	keyTLSCA    = "ca file"
	keyTLSCert  = "certificate file"
	keyTLSKey   = "key file"
	defaultTLSD = "/etc/ctdb/tls"
)

// TLS key names as "[tls] name", for error messages of the packages that
// read the files.
const (
	TLSKeyCAFile   = "[" + secTLS + "] " + keyTLSCA
	TLSKeyCertFile = "[" + secTLS + "] " + keyTLSCert
	TLSKeyKeyFile  = "[" + secTLS + "] " + keyTLSKey
)

// Default file names of the [tls] files, in a "tls" directory beside the
// configuration file.
const (
	DefaultTLSCAFile   = "ca.pem"
	DefaultTLSCertFile = "node.pem"
	DefaultTLSKeyFile  = "node-key.pem"
)

func defaultTLS() TLS {
	return TLS{
		Mode:     TLSOff,
		CAFile:   filepath.Join(defaultTLSD, DefaultTLSCAFile),
		CertFile: filepath.Join(defaultTLSD, DefaultTLSCertFile),
		KeyFile:  filepath.Join(defaultTLSD, DefaultTLSKeyFile),
	}
}

func checkTLSMode(s string) error {
	if s != TLSOff && s != TLSOn {
		return fmt.Errorf("%q: must be %s or %s", s, TLSOff, TLSOn)
	}
	return nil
}

func checkNonEmpty(s string) error {
	if s == "" {
		return errRequired
	}
	return nil
}

// tlsKeys are the options of the [tls] section.
func tlsKeys() []key {
	return []key{
		strKey(secTLS, keyTLSMode, func(c *Config) *string { return &c.TLS.Mode }, checkTLSMode),
		strKey(secTLS, keyTLSCA, func(c *Config) *string { return &c.TLS.CAFile }, checkNonEmpty),
		strKey(secTLS, keyTLSCert, func(c *Config) *string { return &c.TLS.CertFile }, checkNonEmpty),
		strKey(secTLS, keyTLSKey, func(c *Config) *string { return &c.TLS.KeyFile }, checkNonEmpty),
	}
}

// resolveTLSFiles puts the [tls] files left unset in dir/tls, takes
// relative ones relative to dir and, when TLS is on, checks that each can
// be opened, so that a missing file stops the daemon at start with the
// file and the option named.
func resolveTLSFiles(c *Config, dir string, set func(section, key string) bool) *Error {
	files := []struct {
		name, def string
		field     *string
	}{
		{keyTLSCA, DefaultTLSCAFile, &c.TLS.CAFile},
		{keyTLSCert, DefaultTLSCertFile, &c.TLS.CertFile},
		{keyTLSKey, DefaultTLSKeyFile, &c.TLS.KeyFile},
	}
	for _, f := range files {
		switch {
		case !set(secTLS, f.name):
			*f.field = filepath.Join(dir, "tls", f.def)
		case !filepath.IsAbs(*f.field):
			*f.field = filepath.Join(dir, *f.field)
		}
	}
	if !c.TLS.Enabled() {
		return nil
	}
	for _, f := range files {
		fh, err := os.Open(*f.field)
		if err != nil {
			return &Error{Section: secTLS, Key: f.name, Err: fmt.Errorf("cannot read %s: %w", *f.field, err)}
		}
		fh.Close()
	}
	return nil
}
