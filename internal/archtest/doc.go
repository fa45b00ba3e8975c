// Package archtest holds no code: its tests check the architecture of the
// tree against docs/architecture.md (every package in the map, importing
// only what its row allows, with a doc comment; cgo only in tdb; server
// imported only by the daemon's main and the tests), and that no interface
// is declared twice and no internal opcode is defined outside noderpc.
package archtest
