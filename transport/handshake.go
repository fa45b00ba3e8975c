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
// records and pushes only changes.
const linkVersion = 3

var helloMagic = [4]byte{'R', 'C', 'T', 'D'}

const maxClusterID = 255

// hello is what a dialer sends after the tag byte.
type hello struct {
	Version   uint32
	PNN       uint32
	ClusterID string
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

func writeHello(w io.Writer, tag byte, h hello) error {
	b := make([]byte, 0, 16+len(h.ClusterID))
	b = append(b, tag)
	b = append(b, helloMagic[:]...)
	b = binary.LittleEndian.AppendUint32(b, h.Version)
	b = binary.LittleEndian.AppendUint32(b, h.PNN)
	b = append(b, byte(len(h.ClusterID)))
	b = append(b, h.ClusterID...)
	_, err := w.Write(b)
	return err
}

// readHello reads the tag and hello; it rejects anything that is not ours
// without reading further than the fixed part.
func readHello(r *bufio.Reader) (byte, hello, error) {
	var fixed [14]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return 0, hello{}, fmt.Errorf("read hello: %w", err)
	}
	tag := fixed[0]
	if tag != tagNode && tag != tagRaft {
		return 0, hello{}, fmt.Errorf("unknown connection tag 0x%02x (not an rctdb node)", tag)
	}
	if [4]byte(fixed[1:5]) != helloMagic {
		return 0, hello{}, fmt.Errorf("bad hello magic %q (not an rctdb node)", fixed[1:5])
	}
	h := hello{
		Version: binary.LittleEndian.Uint32(fixed[5:]),
		PNN:     binary.LittleEndian.Uint32(fixed[9:]),
	}
	id := make([]byte, fixed[13])
	if _, err := io.ReadFull(r, id); err != nil {
		return 0, hello{}, fmt.Errorf("read hello cluster id: %w", err)
	}
	h.ClusterID = string(id)
	return tag, h, nil
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
	id := make([]byte, fixed[5])
	if _, err := io.ReadFull(r, id); err != nil {
		return welcome{}, fmt.Errorf("read welcome cluster id: %w", err)
	}
	m.ClusterID = string(id)
	var rl [1]byte
	if _, err := io.ReadFull(r, rl[:]); err != nil {
		return welcome{}, fmt.Errorf("read welcome reason: %w", err)
	}
	reason := make([]byte, rl[0])
	if _, err := io.ReadFull(r, reason); err != nil {
		return welcome{}, fmt.Errorf("read welcome reason: %w", err)
	}
	m.Reason = string(reason)
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
