package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Load reads the config file at path, then the nodes file it names, and
// validates the result. The nodes file defaults to "nodes" in the directory
// of path, and a relative nodes file is taken relative to that directory,
// so that a cluster's files can be moved together.
func Load(path string) (*Config, error) { return load(path, nil) }

// load is Load; a layout, if given, decides what the file leaves unset
// (see Layout.Load).
func load(path string, l *Layout) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, lines, err := parse(path, f)
	if err != nil {
		return nil, err
	}

	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c.TunablesFile = filepath.Join(dir, TunablesFileName)
	if l != nil {
		dir = l.Base
		l.fill(&c, func(section, key string) bool {
			_, set := lines[lineKey(section, key)]
			return set
		})
	}
	if _, set := lines[lineKey(secCluster, keyNodesFile)]; !set {
		c.Cluster.NodesFile = filepath.Join(dir, "nodes")
	} else if !filepath.IsAbs(c.Cluster.NodesFile) {
		c.Cluster.NodesFile = filepath.Join(dir, c.Cluster.NodesFile)
	}

	if _, set := lines[lineKey(secPublic, keyAddressesFile)]; !set {
		c.Failover.AddressesFile = filepath.Join(dir, "public_addresses")
	} else if !filepath.IsAbs(c.Failover.AddressesFile) {
		c.Failover.AddressesFile = filepath.Join(dir, c.Failover.AddressesFile)
	}

	c.Event.Base = dir
	if e := resolveTLSFiles(&c, dir, func(section, key string) bool {
		_, set := lines[lineKey(section, key)]
		return set
	}); e != nil {
		annotate(e, path, lines)
		return nil, e
	}

	nodes, err := loadNodes(c.Cluster.NodesFile)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err // already names the nodes file and line
		}
		e = &Error{Section: secCluster, Key: keyNodesFile, Err: err}
		annotate(e, path, lines)
		return nil, e
	}
	c.Nodes = nodes
	if l != nil {
		if err := l.chooseAddress(&c); err != nil {
			e := &Error{Section: secCluster, Key: keyNodeAddress, Err: err}
			annotate(e, path, lines)
			return nil, e
		}
	}

	if e := c.validate(); e != nil {
		annotate(e, path, lines)
		return nil, e
	}
	return &c, nil
}

// Parse reads ctdb.conf syntax from r, starting from Default(); name is the
// file path used in error messages. Each value is checked as it is read, and
// options that depend on each other once the whole input is read; whether
// the node address is set and is in the nodes file is left to Validate,
// since the nodes file is not read here.
func Parse(name string, r io.Reader) (Config, error) {
	c, _, err := parse(name, r)
	return c, err
}

// lineKey identifies an option in the map of lines where options were set.
func lineKey(section, key string) string { return section + "\x00" + key }

// annotate turns an error of Validate into one that points into the file.
func annotate(e *Error, file string, lines map[string]int) {
	e.File = file
	e.Line = lines[lineKey(e.Section, e.Key)]
	if e.Line == 0 && e.related != "" {
		e.Line = lines[lineKey(e.Section, e.related)]
	}
}

// isSpace is C's isspace in the C locale, which CTDB's parser uses; Unicode
// spaces are part of a value.
func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}

func trimSpace(s string) string { return strings.TrimFunc(s, isSpace) }

// parser holds the state of one Parse.
type parser struct {
	name    string
	c       Config
	section string         // canonical name of the open section, "" before any
	lines   map[string]int // option -> line it was last set on
}

func parse(name string, r io.Reader) (Config, map[string]int, error) {
	p := &parser{name: name, c: Default(), lines: map[string]int{}}
	br := bufio.NewReader(r)
	var (
		logical strings.Builder
		start   int // line where the logical line began
		cont    bool
		lineNo  int
	)
	for {
		raw, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return Config{}, nil, &Error{File: name, Err: rerr}
		}
		if raw == "" && rerr == io.EOF {
			break
		}
		lineNo++
		raw = strings.TrimSuffix(raw, "\n")
		if !cont {
			t := trimSpace(raw)
			// Comments are whole lines only, as in CTDB; they do not
			// continue even when they end in a backslash.
			if t == "" || t[0] == '#' || t[0] == ';' {
				if rerr == io.EOF {
					break
				}
				continue
			}
			start = lineNo
		}
		if body := strings.TrimRightFunc(raw, isSpace); strings.HasSuffix(body, `\`) {
			logical.WriteString(body[:len(body)-1])
			cont = true
		} else {
			logical.WriteString(raw)
			cont = false
			if err := p.line(logical.String(), start); err != nil {
				return Config{}, nil, err
			}
			logical.Reset()
		}
		if rerr == io.EOF {
			break
		}
	}
	if cont {
		if err := p.line(logical.String(), start); err != nil {
			return Config{}, nil, err
		}
	}

	for _, rule := range crossRules {
		if err := rule.check(&p.c); err != nil {
			e := &Error{Section: rule.section, Key: rule.key, Err: err, related: rule.related}
			annotate(e, name, p.lines)
			return Config{}, nil, e
		}
	}
	return p.c, p.lines, nil
}

// line handles one logical line, which is neither blank nor a comment.
func (p *parser) line(text string, n int) error {
	t := trimSpace(text)
	if t == "" {
		// Only a continued line can end up empty.
		return nil
	}
	if t[0] == '[' {
		return p.header(t, n)
	}

	eq := strings.IndexByte(t, '=')
	if eq < 0 {
		return &Error{File: p.name, Line: n, Err: fmt.Errorf("%q: not a \"key = value\" line or a [section] header", t)}
	}
	name := strings.Join(strings.FieldsFunc(t[:eq], isSpace), " ")
	value := trimSpace(t[eq+1:])
	if name == "" {
		return &Error{File: p.name, Line: n, Err: fmt.Errorf("%q: no key before '='", t)}
	}
	if p.section == "" {
		return &Error{File: p.name, Line: n, Err: fmt.Errorf("key %q is outside of any section", name)}
	}
	k := findKey(p.section, name)
	if k == nil {
		msg := fmt.Sprintf("unknown key %q in section [%s]", name, p.section)
		if s := similarKey(p.section, name); s != "" {
			msg += fmt.Sprintf(" (keys are case-sensitive: %q)", s)
		}
		return &Error{File: p.name, Line: n, Section: p.section, Err: errors.New(msg)}
	}
	fail := func(err error) error {
		return &Error{File: p.name, Line: n, Section: k.section, Key: k.name, Err: err}
	}
	if value == "" {
		return fail(errors.New("empty value"))
	}

	id := lineKey(k.section, k.name)
	if prev, ok := p.lines[id]; ok {
		p.c.Warnings = append(p.c.Warnings, fmt.Sprintf("%s:%d: [%s] %s is set again (first on line %d); the last value wins",
			p.name, n, k.section, k.name, prev))
	}
	p.lines[id] = n

	if err := k.set(&p.c, value); err != nil {
		return fail(err)
	}
	if k.check != nil {
		if err := k.check(&p.c); err != nil {
			return fail(err)
		}
	}
	if k.warn != nil {
		if w := k.warn(&p.c); w != "" {
			p.c.Warnings = append(p.c.Warnings, fmt.Sprintf("%s:%d: [%s] %s %s", p.name, n, k.section, k.name, w))
		}
	}
	return nil
}

func (p *parser) header(t string, n int) error {
	end := strings.IndexByte(t, ']')
	if end < 0 {
		return &Error{File: p.name, Line: n, Err: fmt.Errorf("%q: section header without ']'", t)}
	}
	// CTDB ignores whatever follows ']'; only a comment is allowed here so
	// that "[cluster] port = 1" is not silently dropped.
	if rest := trimSpace(t[end+1:]); rest != "" && rest[0] != '#' && rest[0] != ';' {
		return &Error{File: p.name, Line: n, Err: fmt.Errorf("%q: unexpected text after section header", t)}
	}
	name := trimSpace(t[1:end])
	sec, ok := findSection(name)
	if !ok {
		return &Error{File: p.name, Line: n, Err: fmt.Errorf("unknown section [%s]", name)}
	}
	p.section = sec
	return nil
}
