package raftlayer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/hashicorp/raft"
)

// Snapshot format: a magic line, then sections, each a u16 name length,
// the name, a u64 body length and the body. "cluster" holds the JSON
// State, "data" the Data's snapshot. Version 2 ends with a section "end"
// whose 4-byte body is the CRC-32C of every byte before that body, so
// that a snapshot cut anywhere, at a section boundary too, or followed by
// anything, is refused instead of restored in part. Version 1 (no end
// section) is still read.
const (
	snapshotMagic   = "rctdb-snapshot-v2\n"
	snapshotMagicV1 = "rctdb-snapshot-v1\n"
	endSection      = "end"
)

// maxSectionSize bounds one section's claimed length; a body is read as
// it arrives, so a corrupt length costs no more memory than the bytes
// that are really there.
const maxSectionSize = 16 << 30

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type section struct {
	name string
	body []byte
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(sink, s.sections); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// writeSnapshot writes the magic, the sections and the end section.
func writeSnapshot(w io.Writer, sections []section) error {
	bw := bufio.NewWriter(w)
	sum := crc32.New(castagnoli)
	out := io.MultiWriter(bw, sum)
	if _, err := io.WriteString(out, snapshotMagic); err != nil {
		return err
	}
	for _, sec := range sections {
		if err := writeSectionHeader(out, sec.name, len(sec.body)); err != nil {
			return err
		}
		if _, err := out.Write(sec.body); err != nil {
			return err
		}
	}
	if err := writeSectionHeader(out, endSection, 4); err != nil {
		return err
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint32(nil, sum.Sum32())); err != nil {
		return err
	}
	return bw.Flush()
}

func writeSectionHeader(w io.Writer, name string, size int) error {
	b := binary.LittleEndian.AppendUint16(nil, uint16(len(name)))
	b = append(b, name...)
	b = binary.LittleEndian.AppendUint64(b, uint64(size))
	_, err := w.Write(b)
	return err
}

// readSnapshot reads every section of a snapshot and, for version 2,
// checks its end section; nothing is returned unless the whole snapshot
// is there and intact.
func readSnapshot(rc io.Reader) ([]section, error) {
	sum := crc32.New(castagnoli)
	r := io.TeeReader(bufio.NewReader(rc), sum)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return nil, fmt.Errorf("not an rctdb snapshot (magic %q): %w", magic, err)
	}
	v1 := string(magic) == snapshotMagicV1
	if !v1 && string(magic) != snapshotMagic {
		return nil, fmt.Errorf("not an rctdb snapshot (magic %q)", magic)
	}
	var sections []section
	for {
		name, size, err := readSectionHeader(r)
		if errors.Is(err, io.EOF) {
			if v1 {
				return sections, nil
			}
			return nil, errors.New("cut short: no end section")
		}
		if err != nil {
			return nil, err
		}
		if !v1 && name == endSection {
			return sections, checkEnd(r, size, sum)
		}
		body, err := readBody(r, size)
		if err != nil {
			return nil, fmt.Errorf("section %q body: %w", name, err)
		}
		sections = append(sections, section{name, body})
	}
}

// readSectionHeader reads a section's name and length; io.EOF means the
// stream ended cleanly before it.
func readSectionHeader(r io.Reader) (string, uint64, error) {
	var nl [2]byte
	if _, err := io.ReadFull(r, nl[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return "", 0, io.EOF
		}
		return "", 0, fmt.Errorf("section header: %w", unexpectedEOF(err))
	}
	name := make([]byte, binary.LittleEndian.Uint16(nl[:]))
	if _, err := io.ReadFull(r, name); err != nil {
		return "", 0, fmt.Errorf("section name: %w", unexpectedEOF(err))
	}
	var bl [8]byte
	if _, err := io.ReadFull(r, bl[:]); err != nil {
		return "", 0, fmt.Errorf("section %q length: %w", name, unexpectedEOF(err))
	}
	n := binary.LittleEndian.Uint64(bl[:])
	if n > maxSectionSize {
		return "", 0, fmt.Errorf("section %q claims %d bytes", name, n)
	}
	return string(name), n, nil
}

// readBody reads n bytes, allocating as they arrive.
func readBody(r io.Reader, n uint64) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(int(min(n, 1<<20)))
	got, err := io.CopyN(&b, r, int64(n))
	if err != nil {
		return nil, fmt.Errorf("%d of %d bytes: %w", got, n, unexpectedEOF(err))
	}
	return b.Bytes(), nil
}

// checkEnd verifies the end section: the checksum of everything before
// its body, then nothing more.
func checkEnd(r io.Reader, size uint64, sum hash.Hash32) error {
	want := sum.Sum32()
	if size != 4 {
		return fmt.Errorf("end section of %d bytes, want 4", size)
	}
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("end section: %w", unexpectedEOF(err))
	}
	if got := binary.LittleEndian.Uint32(b[:]); got != want {
		return fmt.Errorf("checksum 0x%08x, computed 0x%08x: the snapshot is corrupt", got, want)
	}
	if n, _ := io.Copy(io.Discard, r); n > 0 {
		return fmt.Errorf("%d bytes after the end section", n)
	}
	return nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
