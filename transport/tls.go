package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rctdb/rctdb/config"
)

// Node links with TLS. With [tls] mode = on every connection between nodes,
// packet links and Raft streams alike, is TLS 1.3 before the first byte of
// the hello, and both ends present a certificate:
//
//   - signed by the cluster CA of [tls] ca file (any other CA, a
//     self-signed certificate or none at all fails the TLS handshake);
//   - naming, as an IP address SAN, the node address of the node it
//     speaks for: the dialer checks the acceptor's certificate against the
//     address it dialled, the acceptor checks the dialer's against the
//     address of the pnn the hello claims. A certificate thus speaks for
//     one node only: the key of one node cannot pose as another, and a
//     certificate of a removed node stops working when its address leaves
//     the nodes file.
//
// The files are read again when one of them changes (modification time or
// size), checked at every new connection; connections already made keep
// the certificate they were made with. A file that cannot be read or
// parsed then is logged and the last good set stays in use.

// tlsFile is one of the three files of [tls] and its option's name.
type tlsFile struct {
	path, key string
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	modNanos int64
	size     int64
}

func stampOf(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{modNanos: st.ModTime().UnixNano(), size: st.Size()}, nil
}

// tlsMaterial is one consistent read of the three files.
type tlsMaterial struct {
	pool   *x509.CertPool
	cert   tls.Certificate
	server *tls.Config
}

// tlsSource hands out the current TLS material, reloading it when a file
// changed.
type tlsSource struct {
	files [3]tlsFile // CA, certificate, key
	// self is this node's address, which its certificate must name.
	self netip.Addr
	log  *slog.Logger
	// now is the clock certificates are checked against at load.
	now func() time.Time

	mu     sync.Mutex
	stamps [3]fileStamp
	cur    *tlsMaterial
	// failed is the stamps of the last set that failed to load, so that a
	// broken file is reported once, not at every connection.
	failed [3]fileStamp
}

func newTLSSource(c config.TLS, self netip.Addr, log *slog.Logger) (*tlsSource, error) {
	s := &tlsSource{
		files: [3]tlsFile{{c.CAFile, config.TLSKeyCAFile}, {c.CertFile, config.TLSKeyCertFile}, {c.KeyFile, config.TLSKeyKeyFile}},
		self:  self,
		log:   log,
		now:   time.Now,
	}
	stamps, m, err := s.load()
	if err != nil {
		return nil, fmt.Errorf("node TLS: %w", err)
	}
	s.stamps, s.cur = stamps, m
	return s, nil
}

// load reads the files and checks that this node's certificate is one the
// peers will accept; its errors name the file and the option.
func (s *tlsSource) load() ([3]fileStamp, *tlsMaterial, error) {
	stamps, data, err := s.read()
	if err != nil {
		return stamps, nil, err
	}
	m, err := s.newMaterial(data)
	if err != nil {
		return stamps, nil, err
	}
	if err := s.checkOwn(m); err != nil {
		return stamps, nil, err
	}
	return stamps, m, nil
}

func (s *tlsSource) read() ([3]fileStamp, [3][]byte, error) {
	var stamps [3]fileStamp
	var data [3][]byte
	for i, f := range s.files {
		st, err := stampOf(f.path)
		if err == nil {
			data[i], err = os.ReadFile(f.path)
		}
		if err != nil {
			return stamps, data, fmt.Errorf("%s %s: %w", f.key, f.path, err)
		}
		stamps[i] = st
	}
	return stamps, data, nil
}

// newMaterial parses the CA, certificate and key files' contents.
func (s *tlsSource) newMaterial(data [3][]byte) (*tlsMaterial, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data[0]) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it", s.files[0].key, s.files[0].path)
	}
	cert, err := tls.X509KeyPair(data[1], data[2])
	if err != nil {
		return nil, fmt.Errorf("%s %s with %s %s: %w", s.files[1].key, s.files[1].path, s.files[2].key, s.files[2].path, err)
	}
	m := &tlsMaterial{pool: pool, cert: cert}
	m.server = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		// Every connection is a full handshake, verified against the
		// current CA: a resumed session would skip that.
		SessionTicketsDisabled: true,
	}
	return m, nil
}

// checkOwn rejects a certificate of this node that every peer would
// refuse, one connection after another: better said once, at start or
// reload.
func (s *tlsSource) checkOwn(m *tlsMaterial) error {
	if _, err := m.cert.Leaf.Verify(x509.VerifyOptions{
		Roots: m.pool, CurrentTime: s.now(), Intermediates: intermediates(m.cert),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return fmt.Errorf("%s %s: not valid for the CA of %s %s: %w", s.files[1].key, s.files[1].path, s.files[0].key, s.files[0].path, err)
	}
	if s.self.IsValid() {
		if reason := checkPeerCert(m.cert.Leaf, 0, s.self); reason != "" {
			return fmt.Errorf("%s %s: does not name this node's address %s", s.files[1].key, s.files[1].path, s.self)
		}
	}
	return nil
}

func intermediates(c tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			p.AddCert(ic)
		}
	}
	return p
}

// material returns the current material, reloaded first if a file
// changed since it was read.
func (s *tlsSource) material() *tlsMaterial {
	s.mu.Lock()
	defer s.mu.Unlock()
	var now [3]fileStamp
	for i, f := range s.files {
		st, err := stampOf(f.path)
		if err != nil {
			// Being replaced (rename over it) or gone: keep what works.
			return s.cur
		}
		now[i] = st
	}
	if now == s.stamps || now == s.failed {
		return s.cur
	}
	stamps, m, err := s.load()
	if err != nil {
		s.failed = now
		s.log.Error("node TLS: cannot reload certificates, keeping the previous ones", "err", err)
		return s.cur
	}
	s.stamps, s.cur, s.failed = stamps, m, [3]fileStamp{}
	s.log.Info("node TLS: certificates reloaded", "certificate", s.files[1].path,
		"subject", m.cert.Leaf.Subject.String(), "not_after", m.cert.Leaf.NotAfter)
	return m
}

// client wraps a dialled connection to the node at addr in TLS and runs
// the handshake; the acceptor's certificate must name addr.
func (s *tlsSource) client(ctx context.Context, conn net.Conn, addr netip.Addr) (net.Conn, error) {
	m := s.material()
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.cert},
		RootCAs:      m.pool,
		// An IP address as server name makes crypto/tls check the
		// certificate's IP SANs.
		ServerName: addr.String(),
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		// A certificate either side rejected is a refusal, worth a
		// warning; a connection that broke is not.
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) || isRemoteAlert(err) {
			return nil, fmt.Errorf("%w: TLS handshake with %s: %w", errRefused, addr, err)
		}
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return &tlsConn{Conn: tc, raw: conn}, nil
}

// server wraps an accepted connection in TLS and runs the handshake; the
// dialer's certificate is checked against the cluster CA here, and
// against the node it claims to be by checkPeerCert after the hello.
func (s *tlsSource) server(conn net.Conn) (*tlsConn, error) {
	tc := tls.Server(conn, s.material().server)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return &tlsConn{Conn: tc, raw: conn}, nil
}

// tlsConn is a TLS connection whose Close closes the socket at once.
// tls.Conn.Close would first send a close_notify alert, which can block
// for seconds on a peer that stopped reading; the node link protocol
// frames its own packets and needs no alert.
type tlsConn struct {
	*tls.Conn
	raw net.Conn
}

func (c *tlsConn) Close() error { return c.raw.Close() }

// peerCertificate is the certificate a TLS connection's peer presented,
// or nil for a plaintext connection.
func peerCertificate(conn net.Conn) *x509.Certificate {
	tc, ok := conn.(*tlsConn)
	if !ok {
		return nil
	}
	if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
		return pc[0]
	}
	return nil
}

// checkPeerCert returns why a certificate does not speak for the node at
// addr, or "".
func checkPeerCert(cert *x509.Certificate, pnn uint32, addr netip.Addr) string {
	if cert == nil {
		return "no TLS certificate"
	}
	for _, ip := range cert.IPAddresses {
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == addr {
			return ""
		}
	}
	names := make([]string, 0, len(cert.IPAddresses))
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	slices.Sort(names)
	return fmt.Sprintf("TLS certificate %q names addresses %v, not node %d's address %s", cert.Subject.CommonName, names, pnn, addr)
}

// tlsRecordStart is the first byte of a TLS handshake record: what a node
// with TLS on sends to one with TLS off.
const tlsRecordStart = 0x16

// errTLSDialer is a plaintext acceptor's view of a TLS dialer.
var errTLSDialer = errors.New("TLS handshake from a node with [tls] mode = on, but this node has TLS off")

// tlsRefusal words a failed TLS handshake of an accepted connection.
func tlsRefusal(err error) string {
	var rh tls.RecordHeaderError
	switch {
	case errors.As(err, &rh) && rh.Conn != nil:
		return "not TLS (a node with [tls] mode = off?), TLS is required: " + err.Error()
	case isRemoteAlert(err):
		// In TLS 1.3 the dialer checks the acceptor's certificate first.
		return err.Error() + " (the dialer does not accept this node's certificate: its CA differs?)"
	}
	return err.Error()
}

// isRemoteAlert reports an alert the other end sent: it refused the
// handshake, for instance our certificate.
func isRemoteAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}
