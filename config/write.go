package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// WriteTo writes c in ctdb.conf syntax, for a launcher that writes one file
// per node. Options that differ from Default are written as settings, the
// others as "# key = value" comments, as CTDB's own config dump does; the
// nodes file is always written because its default depends on where the
// file lives. Empty options without a default (cluster id, metrics address,
// lock debug script, an unset node address) are left out. Nodes and
// Warnings are not written: the nodes go to WriteNodes.
//
// A value that Parse could not read back (a line break, surrounding
// spaces, a trailing backslash, or empty where the default is not) is an
// error and nothing is written.
func (c *Config) WriteTo(w io.Writer) (int64, error) {
	def := Default()
	var b bytes.Buffer
	b.WriteString("# ctdbd configuration; commented settings show defaults\n")
	for _, sec := range sections {
		var body bytes.Buffer
		for i := range keys {
			k := &keys[i]
			if k.section != sec || k.get == nil {
				continue
			}
			v, dv := k.get(c), k.get(&def)
			if v == "" && dv == "" {
				continue
			}
			if err := writable(v); err != nil {
				return 0, &Error{Section: k.section, Key: k.name, Err: fmt.Errorf("cannot write %q: %w", v, err)}
			}
			if v == dv && !k.always {
				fmt.Fprintf(&body, "\t# %s = %s\n", k.name, v)
			} else {
				fmt.Fprintf(&body, "\t%s = %s\n", k.name, v)
			}
		}
		if body.Len() > 0 {
			fmt.Fprintf(&b, "\n[%s]\n", sec)
			b.Write(body.Bytes())
		}
	}
	n, err := w.Write(b.Bytes())
	if err != nil {
		return int64(n), fmt.Errorf("config: write: %w", err)
	}
	return int64(n), nil
}

func writable(v string) error {
	switch {
	case v == "":
		return errors.New("empty value")
	case strings.ContainsAny(v, "\n\r"):
		return errors.New("line break in value")
	case trimSpace(v) != v:
		return errors.New("spaces around value")
	case strings.HasSuffix(v, `\`):
		return errors.New("a trailing backslash would continue the line")
	}
	return nil
}
