package localcluster

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/rctdb/rctdb/internal/nodecert"
)

// With Options.TLS the cluster's node links are mutual TLS: Up makes a
// cluster CA in Base/tls (ca.pem, ca-key.pem with mode 0600) and, per
// node, a certificate naming the node's address in NodeDir/tls (ca.pem,
// node.pem, node-key.pem with mode 0600), and writes a [tls] section
// naming them into every node's ctdb.conf.

// certValidity is how long ctdb-local's certificates are valid: a local
// cluster lives for a test or a demo, but may be kept around.
const certValidity = 5 * 365 * 24 * time.Hour

// caFiles are the cluster CA's certificate and key.
func (c *Cluster) caFiles() (cert, key string) {
	dir := filepath.Join(c.Base, "tls")
	return filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
}

// makeCA creates the cluster CA.
func (c *Cluster) makeCA() error {
	ca, err := nodecert.NewCA("rctdb local cluster "+c.ClusterID, certValidity)
	if err != nil {
		return err
	}
	cert, key := c.caFiles()
	return ca.Save(cert, key)
}

// CA loads the cluster CA, to issue or renew node certificates.
func (c *Cluster) CA() (*nodecert.CA, error) {
	if !c.TLS {
		return nil, fmt.Errorf("the cluster in %s has no TLS", c.Base)
	}
	return nodecert.LoadCA(c.caFiles())
}

// TLSFiles are node pnn's TLS files, as its ctdb.conf names them.
func (c *Cluster) TLSFiles(pnn uint32) nodecert.NodeFiles {
	return nodecert.FilesIn(filepath.Join(c.Nodes[pnn].Dir, "tls"))
}

// IssueNodeCert issues node pnn a certificate of the cluster CA for its
// address and writes its files; a running node takes it at its next
// connection.
func (c *Cluster) IssueNodeCert(pnn uint32) error {
	ca, err := c.CA()
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(c.Nodes[pnn].Addr)
	if err != nil {
		return fmt.Errorf("issue certificate for node %d: %w", pnn, err)
	}
	return ca.WriteNode(c.TLSFiles(pnn), fmt.Sprintf("node %d", pnn), []netip.Addr{addr}, certValidity)
}

// tlsSection is the [tls] section of node n's ctdb.conf.
func tlsSection(c *Cluster, n Node) string {
	if !c.TLS {
		return ""
	}
	f := nodecert.FilesIn(filepath.Join(n.Dir, "tls"))
	return fmt.Sprintf("[tls]\n\tmode = on\n\tca file = %s\n\tcertificate file = %s\n\tkey file = %s\n", f.CA, f.Cert, f.Key)
}
