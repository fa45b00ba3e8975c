// Package nodecert makes the certificates of authenticated node links: a
// cluster CA and, per node, a certificate naming the node's address (ECDSA
// P-256, crypto/x509 of the standard library). ctdb-local and the tests use
// it; production clusters bring certificates of their own PKI.
package nodecert
