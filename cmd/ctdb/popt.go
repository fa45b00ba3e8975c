package main

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
)

// The real tool parses its command line with popt, and scripts depend on
// popt's behaviour and messages: options anywhere (they are permuted out of
// the arguments), "--" ending them, "-n1", "-n=1", "--node=1", "-Xn1",
// numbers in C syntax ("0x10", "010"), and errors such as
// "Invalid option all: invalid numeric value". Kong differs on all of these,
// so the command line first goes through this emulation, which takes the
// options from the kong model, and then reaches kong in a canonical form
// (--name=value ... command -- args...).

type optKind int

const (
	optNone   optKind = iota // a switch
	optInt                   // POPT_ARG_INT
	optString                // POPT_ARG_STRING
)

type poptOpt struct {
	long  string
	short byte
	kind  optKind
}

// poptTable lists the application's flags, as popt options.
func poptTable(app *kong.Application) []poptOpt {
	var opts []poptOpt
	for _, f := range app.Flags {
		o := poptOpt{long: f.Name, short: byte(f.Short)}
		switch {
		case f.IsBool():
			o.kind = optNone
		case f.Target.Kind() == reflect.Int32 || f.Target.Kind() == reflect.Int:
			o.kind = optInt
		default:
			o.kind = optString
		}
		opts = append(opts, o)
	}
	return opts
}

// poptError is popt's complaint about an option, as the real tool prints it.
type poptError struct {
	arg string // the offending argument, as popt's poptBadOption gives it
	msg string
}

func (e *poptError) Error() string { return fmt.Sprintf("Invalid option %s: %s", e.arg, e.msg) }

type optSetting struct {
	opt   poptOpt
	value string // canonical value (decimal for numbers)
}

// poptResult is a parsed command line.
type poptResult struct {
	settings []optSetting // in command line order
	args     []string     // the arguments that are not options, in order
	help     bool         // -? or --help
	usage    bool         // --usage
}

// poptParse splits args into options and arguments as popt does for the
// real tool, stopping at the first error (or at a help option, which popt
// acts on at once).
func poptParse(args []string, table []poptOpt) (*poptResult, *poptError) {
	res := &poptResult{}
	byLong := map[string]poptOpt{}
	byShort := map[byte]poptOpt{}
	for _, o := range table {
		byLong[o.long] = o
		if o.short != 0 {
			byShort[o.short] = o
		}
	}
	endOpts := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if endOpts || a == "-" || !strings.HasPrefix(a, "-") {
			res.args = append(res.args, a)
			continue
		}
		if a == "--" {
			endOpts = true
			continue
		}
		if strings.HasPrefix(a, "--") {
			name, val, hasVal := strings.Cut(a[2:], "=")
			o, ok := byLong[name]
			if !ok {
				return nil, &poptError{a, "unknown option"}
			}
			if o.long == "help" || o.long == "usage" {
				res.help, res.usage = o.long == "help", o.long == "usage"
				return res, nil
			}
			if o.kind == optNone {
				if hasVal {
					return nil, &poptError{a, "option does not take an argument"}
				}
				res.settings = append(res.settings, optSetting{opt: o})
				continue
			}
			bad := a
			if !hasVal {
				if i+1 >= len(args) {
					return nil, &poptError{a, "missing argument"}
				}
				i++
				val, bad = args[i], args[i]
			}
			s, err := optValue(o, val, bad)
			if err != nil {
				return nil, err
			}
			res.settings = append(res.settings, s)
			continue
		}
		// A cluster of short options: -XY, -n1, -Xn 1, -n=1.
		for j := 1; j < len(a); j++ {
			o, ok := byShort[a[j]]
			if !ok {
				return nil, &poptError{a, "unknown option"}
			}
			if o.long == "help" {
				res.help = true
				return res, nil
			}
			if o.kind == optNone {
				if j+1 < len(a) && a[j+1] == '=' {
					return nil, &poptError{a, "option does not take an argument"}
				}
				res.settings = append(res.settings, optSetting{opt: o})
				continue
			}
			val, bad := strings.TrimPrefix(a[j+1:], "="), a
			if val == "" && !strings.HasPrefix(a[j+1:], "=") {
				if i+1 >= len(args) {
					return nil, &poptError{a, "missing argument"}
				}
				i++
				val, bad = args[i], args[i]
			}
			s, err := optValue(o, val, bad)
			if err != nil {
				return nil, err
			}
			res.settings = append(res.settings, s)
			break
		}
	}
	return res, nil
}

// optValue checks an option's value; bad is the argument popt names when
// the value is not valid.
func optValue(o poptOpt, val, bad string) (optSetting, *poptError) {
	if o.kind == optInt {
		n, msg := poptInt(val)
		if msg != "" {
			return optSetting{}, &poptError{bad, msg}
		}
		val = strconv.Itoa(int(n))
	}
	return optSetting{opt: o, value: val}, nil
}

// intValue returns the last value given to the integer option long, or def.
func (r *poptResult) intValue(long string, def int32) int32 {
	v := def
	for _, s := range r.settings {
		if s.opt.long == long {
			n, _ := strconv.Atoi(s.value)
			v = int32(n)
		}
	}
	return v
}

// kongArgs renders the parsed command line in the canonical form handed to
// kong: options as --name[=value], then the command, "--" and its
// arguments.
func (r *poptResult) kongArgs() []string {
	var out []string
	for _, s := range r.settings {
		if s.opt.kind == optNone {
			out = append(out, "--"+s.opt.long)
		} else {
			out = append(out, "--"+s.opt.long+"="+s.value)
		}
	}
	if len(r.args) > 0 {
		out = append(out, r.args[0], "--")
		out = append(out, r.args[1:]...)
	}
	return out
}
