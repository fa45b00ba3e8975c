package config

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// Node is one line of the nodes file.
type Node struct {
	// PNN is the node's index in the nodes file, deleted nodes included.
	PNN uint32
	// Addr is the node's address; the zero Addr for a deleted node.
	Addr netip.Addr
	// Deleted marks a line commented out with '#': the node has left the
	// cluster but keeps its PNN so that the nodes after it keep theirs.
	Deleted bool
	// RemovedAddr is the address written after the '#' of a deleted
	// node's line, if any; it only names the node for operators and for
	// the derived cluster id.
	RemovedAddr netip.Addr
}

// LoadNodes reads the nodes file at path; see ParseNodes.
func LoadNodes(path string) ([]Node, error) {
	nodes, err := loadNodes(path)
	var e *Error
	if err != nil && !errors.As(err, &e) {
		return nil, fmt.Errorf("config: nodes file: %w", err)
	}
	return nodes, err
}

func loadNodes(path string) ([]Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseNodes(path, f)
}

// ParseNodes reads a nodes file from r; name is used in error messages.
// Lines are read as CTDB 4.17 reads them: spaces and tabs around an address
// are ignored, a carriage return ends the line, blank lines are skipped
// without taking a PNN, and a line starting with '#' is a deleted node
// whatever follows the '#'. Addresses are IPv4 or IPv6 (optionally in
// brackets), without a port or zone. Unlike CTDB, a duplicate address and a
// file without any active node are errors.
func ParseNodes(name string, r io.Reader) ([]Node, error) {
	var (
		nodes  []Node
		seen   = map[netip.Addr]int{} // address -> line
		active int
		lineNo int
	)
	br := bufio.NewReader(r)
	for {
		raw, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, &Error{File: name, Err: rerr}
		}
		if raw == "" && rerr == io.EOF {
			break
		}
		lineNo++
		raw, _, _ = strings.Cut(strings.TrimSuffix(raw, "\n"), "\r")
		t := strings.Trim(raw, " \t")
		switch {
		case t == "":
		case t[0] == '#':
			n := Node{PNN: uint32(len(nodes)), Deleted: true}
			if a, err := parseAddr(strings.Trim(t[1:], " \t"), true); err == nil {
				n.RemovedAddr = a
			}
			nodes = append(nodes, n)
		default:
			a, err := parseAddr(t, true)
			if err != nil {
				return nil, &Error{File: name, Line: lineNo, Err: err}
			}
			if prev, dup := seen[a]; dup {
				return nil, &Error{File: name, Line: lineNo,
					Err: fmt.Errorf("%s: duplicate of line %d", a, prev)}
			}
			seen[a] = lineNo
			nodes = append(nodes, Node{PNN: uint32(len(nodes)), Addr: a})
			active++
		}
		if rerr == io.EOF {
			break
		}
	}
	if active == 0 {
		return nil, &Error{File: name, Err: errNoActive(len(nodes))}
	}
	return nodes, nil
}

func errNoActive(total int) error {
	if total == 0 {
		return errors.New("no nodes")
	}
	return fmt.Errorf("no active nodes: all %d are deleted", total)
}

// checkNodeList applies the rules of ParseNodes to a list built in code.
func checkNodeList(nodes []Node) error {
	seen := map[netip.Addr]uint32{}
	for i, n := range nodes {
		if n.PNN != uint32(i) {
			return fmt.Errorf("node at index %d has pnn %d: nodes must be listed in pnn order", i, n.PNN)
		}
		if n.Deleted {
			continue
		}
		a := n.Addr.Unmap()
		switch {
		case !a.IsValid():
			return fmt.Errorf("pnn %d: no address", n.PNN)
		case a.Zone() != "":
			return fmt.Errorf("pnn %d: %s: an IPv6 zone is not allowed", n.PNN, a)
		case a.IsUnspecified():
			return fmt.Errorf("pnn %d: %s: not a usable node address", n.PNN, a)
		}
		if prev, dup := seen[a]; dup {
			return fmt.Errorf("pnn %d: %s: duplicate of pnn %d", n.PNN, a, prev)
		}
		seen[a] = n.PNN
	}
	if len(seen) == 0 {
		return errNoActive(len(nodes))
	}
	return nil
}

// WriteNodes writes nodes in nodes file syntax, one line per PNN. A deleted
// node is written as '#' followed by its address if it still has one, which
// keeps the file readable for operators; ParseNodes drops that address.
func WriteNodes(w io.Writer, nodes []Node) error {
	if err := checkNodeList(nodes); err != nil {
		return fmt.Errorf("config: nodes: %w", err)
	}
	var b bytes.Buffer
	for _, n := range nodes {
		if n.Deleted {
			b.WriteByte('#')
			if a := cmp.Or(n.RemovedAddr, n.Addr); a.IsValid() {
				b.WriteString(a.Unmap().String())
			}
		} else {
			b.WriteString(n.Addr.Unmap().String())
		}
		b.WriteByte('\n')
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("config: write nodes: %w", err)
	}
	return nil
}
