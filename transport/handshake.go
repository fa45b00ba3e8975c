package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Connection tags: the first byte a dialer writes.
const (
	tagNode byte = 'C'
	tagRaft byte = 'R'
)

// linkVersion is the version of our node link protocol (handshake,
// framing and the node-to-node controls it carries); both ends must agree.
// 2: the welcome's Formed bit; 3: recovery pulls and pushes carry packed
// records and pushes only changes; 4: the hello carries the Samba release
// the node is compatible with and rctdb's own version; 5: a record goes
// from its dmaster to the requester directly, with a notice to the lmaster
// (volatile/migration's RecFlagNotice), which a node of version 4 would
// take for a hand-over through it and deliver a second time.
const linkVersion = 5

// Versions from firstVersionWithSamba to linkVersion share the hello's
// layout, so that a refused peer of an older build is named in full.
//
// firstVersionWithSamba is the first link version whose hello carries the
// Samba release, right after the link version: later versions must keep
// it there, so that a node of another release is told why it is refused.
const firstVersionWithSamba = 4

var helloMagic = [4]byte{'R', 'C', 'T', 'D'}

const maxClusterID = 255

// hello is what a dialer sends after the tag byte.
type hello struct {
	Version uint32
	// SambaVersion is the Samba release the node is compatible with, as
	// ctdbd's keepalives carry it (major<<16 | minor); 0 in the hello of a
	// link version before firstVersionWithSamba.
	SambaVersion uint32
	PNN          uint32
	ClusterID    string
	// Software is rctdb's own version, for the other side's logs.
	Software string
}

// welcome is the acceptor's answer.
type welcome struct {
	OK bool
	// Formed says the acceptor already has cluster state (it bootstrapped
	// or joined), so a node without state must join, not bootstrap.
	Formed    bool
	PNN       uint32
	ClusterID string
	Reason    string
}

// Bits of the welcome's first byte.
const (
	welcomeOK     = 1 << 0
	welcomeFormed = 1 << 1
)

// errRefused marks a handshake the other side refused.
var errRefused = errors.New("handshake refused")

// writeHello writes the tag, magic, link version, Samba release, pnn,
// cluster id and software version (each string with a length byte).
func writeHello(w io.Writer, tag byte, h hello) error {
	b := make([]byte, 0, 20+len(h.ClusterID)+len(h.Software))
	b = append(b, tag)
	b = append(b, helloMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, h.Version)
	b = binary.LittleEndian.AppendUint32(b, h.SambaVersion)
	b = binary.LittleEndian.AppendUint32(b, h.PNN)
	b = append(b, byte(len(h.ClusterID)))
	b = append(b, h.ClusterID...)
	sw := h.Software
	if len(sw) > 255 {
		sw = sw[:255]
	}
	b = append(b, byte(len(sw)))
	b = append(b, sw...)
	_, err := w.Write(b)
	return err
}

// readHello reads the tag and hello; it rejects anything that is not ours
// without reading further than the fixed part. Of a hello of an older link
// version than 4 or a later one than ours it reads only what every version
// has at the same place (the version, and the Samba release from version 4
// on); the caller refuses any version but ours.
func readHello(r *bufio.Reader) (byte, hello, error) {
	var fixed [9]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return 0, hello{}, fmt.Errorf("read hello: %w", err)
	}
	tag := fixed[0]
	if tag == tlsRecordStart {
		return 0, hello{}, errTLSDialer
	}
	if tag != tagNode && tag != tagRaft {
		return 0, hello{}, fmt.Errorf("unknown connection tag 0x%02x (not an rctdb node)", tag)
	}
	if [4]byte(fixed[1:5]) != helloMagic {
		return 0, hello{}, fmt.Errorf("bad hello magic %q (not an rctdb node)", fixed[1:5])
	}
	h := hello{Version: binary.LittleEndian.Uint32(fixed[5:])}
	if h.Version < firstVersionWithSamba {
		return tag, h, nil
	}
	var samba [4]byte
	if _, err := io.ReadFull(r, samba[:]); err != nil {
		return 0, hello{}, fmt.Errorf("read hello: %w", err)
	}
	h.SambaVersion = binary.LittleEndian.Uint32(samba[:])
	if h.Version > linkVersion {
		// A later layout: the caller refuses it on the version.
		return tag, h, nil
	}
	var rest [5]byte
	if _, err := io.ReadFull(r, rest[:]); err != nil {
		return 0, hello{}, fmt.Errorf("read hello: %w", err)
	}
	h.PNN = binary.LittleEndian.Uint32(rest[:])
	id, err := readShortString(r, rest[4])
	if err != nil {
		return 0, hello{}, fmt.Errorf("read hello cluster id: %w", err)
	}
	h.ClusterID = id
	var swLen [1]byte
	if _, err := io.ReadFull(r, swLen[:]); err != nil {
		return 0, hello{}, fmt.Errorf("read hello software version: %w", err)
	}
	if h.Software, err = readShortString(r, swLen[0]); err != nil {
		return 0, hello{}, fmt.Errorf("read hello software version: %w", err)
	}
	return tag, h, nil
}

// readShortString reads n bytes as a string.
func readShortString(r io.Reader, n byte) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

func writeWelcome(w io.Writer, m welcome) error {
	b := make([]byte, 0, 16+len(m.ClusterID)+len(m.Reason))
	var bits byte
	if m.OK {
		bits |= welcomeOK
	}
	if m.Formed {
		bits |= welcomeFormed
	}
	b = append(b, bits)
	b = binary.LittleEndian.AppendUint32(b, m.PNN)
	b = append(b, byte(len(m.ClusterID)))
	b = append(b, m.ClusterID...)
	reason := m.Reason
	if len(reason) > 255 {
		reason = reason[:255]
	}
	b = append(b, byte(len(reason)))
	b = append(b, reason...)
	_, err := w.Write(b)
	return err
}

func readWelcome(r io.Reader) (welcome, error) {
	var fixed [6]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return welcome{}, fmt.Errorf("read welcome: %w", err)
	}
	m := welcome{
		OK:     fixed[0]&welcomeOK != 0,
		Formed: fixed[0]&welcomeFormed != 0,
		PNN:    binary.LittleEndian.Uint32(fixed[1:]),
	}
	id, err := readShortString(r, fixed[5])
	if err != nil {
		return welcome{}, fmt.Errorf("read welcome cluster id: %w", err)
	}
	m.ClusterID = id
	var rl [1]byte
	if _, err := io.ReadFull(r, rl[:]); err != nil {
		return welcome{}, fmt.Errorf("read welcome reason: %w", err)
	}
	if m.Reason, err = readShortString(r, rl[0]); err != nil {
		return welcome{}, fmt.Errorf("read welcome reason: %w", err)
	}
	return m, nil
}

// checkWelcome verifies the acceptor's answer to our hello for peer pnn.
func checkWelcome(m welcome, wantPNN uint32, clusterID string) error {
	if !m.OK {
		return fmt.Errorf("%w by node %d: %s", errRefused, m.PNN, m.Reason)
	}
	if m.ClusterID != clusterID {
		return fmt.Errorf("%w: node answering as %d belongs to cluster %q, not %q", errRefused, m.PNN, m.ClusterID, clusterID)
	}
	if m.PNN != wantPNN {
		return fmt.Errorf("%w: expected node %d, node %d answered", errRefused, wantPNN, m.PNN)
	}
	return nil
}
