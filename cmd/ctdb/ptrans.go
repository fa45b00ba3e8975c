package main

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strings"
)

// PtransCmd is "ctdb ptrans DB [FILE]": store the records of FILE (or of
// standard input), one "KEY" "VALUE" line each, in one transaction.
type PtransCmd struct{ Args }

// ptransLineMax is the real tool's fgets buffer: a longer line is read as
// several lines.
const ptransLineMax = 1024

// Run follows control_ptrans: find the database, open the file, attach,
// a transaction, a store per usable line (an empty value deletes), and
// the commit. Lines that do not parse are skipped, some with a message.
func (c *PtransCmd) Run(t *tool) error {
	args := c.Args.Args
	if len(args) < 1 || len(args) > 2 {
		return t.usage()
	}
	ref, err := t.persistentRef(args[0])
	if err != nil {
		return err
	}
	in := t.in
	if len(args) == 2 {
		f, err := os.Open(args[1])
		if err != nil {
			t.eprintf("Failed to open file %s\n", args[1])
			return exitCode(1)
		}
		defer f.Close()
		in = f
	}
	db, err := t.attachRef(ref)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := t.startTx(db, false)
	if err != nil {
		return err
	}
	r := bufio.NewReader(in)
	stored := 0
	for {
		line, ok := fgets(r, ptransLineMax)
		if !ok {
			break
		}
		key, value, ok := t.ptransKeyValue(line)
		if !ok || len(key) == 0 {
			continue
		}
		if err := tx.Store(key, value); err != nil {
			return t.txFailed(db, tx, err, "Failed to store record\n")
		}
		stored++
	}
	if err := t.commitTx(db, tx); err != nil {
		return err
	}
	if t.opts.json {
		return t.printJSON(struct {
			jsonDBCommand
			Stored int `json:"stored"`
		}{t.dbCommandJSON(t.pnn, ref.id, ref.name, ref.flags), stored})
	}
	return nil
}

// fgets reads a line as C's fgets(buf, size) does: up to and including a
// newline, at most size-1 bytes. ok is false at the end of the input (or
// on a read error) when nothing was read.
func fgets(r *bufio.Reader, size int) (string, bool) {
	var b strings.Builder
	for b.Len() < size-1 {
		c, err := r.ReadByte()
		if errors.Is(err, io.EOF) {
			return b.String(), b.Len() > 0
		}
		if err != nil {
			return "", false
		}
		b.WriteByte(c)
		if c == '\n' {
			break
		}
	}
	return b.String(), true
}

// ptransKeyValue is ptrans_get_key_value on one line: a quoted key, then a
// quoted value. ok is false when the line is to be skipped; a key of ""
// skips the line before the value is looked at, and a value of "" is nil.
func (t *tool) ptransKeyValue(line string) (key, value []byte, ok bool) {
	// The C string functions stop at a NUL.
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	key, rest, ok := t.ptransString(line)
	if !ok || key == nil {
		return nil, nil, false
	}
	value, _, ok = t.ptransString(rest)
	return key, value, ok
}

// ptransString is ptrans_parse_string: blanks, then a string between
// double quotes, converted as a command line argument (hex after "0x").
// It returns the data (nil for ""), what follows the closing quote, and
// false after a message when the input does not parse.
func (t *tool) ptransString(s string) (data []byte, rest string, ok bool) {
	q := strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(q, `"`) {
		t.eprintf("Unsupported input format in %s\n", s)
		return nil, "", false
	}
	q = q[1:]
	n := strings.IndexByte(q, '"')
	if n < 0 {
		t.eprintf("Unmatched \" in input %s\n", s)
		return nil, "", false
	}
	if n > 0 {
		var msg string
		if data, msg, ok = parseDataN(q, n); !ok {
			t.eprintf("%s", msg)
			return nil, "", false
		}
	}
	return data, q[n+1:], true
}
