package main

import (
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/alecthomas/kong"
)

// usageLine is the synopsis of the options as popt prints it for the real
// tool (our --json is left out, so that the usage text is the same; --help
// shows it).
const usageLine = "Usage: [-?YXv] [-?|--help] [--usage] [-d|--debug=STRING]\n" +
	"        [-t|--timelimit=INT] [-n|--node=INT] [-Y] [-x|--separator=CHAR]\n" +
	"        [-X] [-v|--verbose] [-T|--maxruntime=INT]\n"

// printUsage prints the usage of one command, or of all of them when cmd
// is "", as the real tool does (on standard output) before exiting with 1.
func printUsage(w io.Writer, cmd string) {
	fmt.Fprint(w, usageLine)
	fmt.Fprintf(w, "\nCommands:\n")
	var names []string
	if cmd != "" {
		names = []string{cmd}
	} else {
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-15s %-27s  %s\n", n, commands[n].args, commandHelp(n))
	}
}

// commandHelp is the one-line description of a command, from the kong
// grammar.
func commandHelp(name string) string {
	helpOnce.Do(func() {
		helps = map[string]string{}
		var cli CLI
		parser, err := kong.New(&cli, kong.Name("ctdb"), kong.NoDefaultHelp())
		if err != nil {
			return
		}
		for _, c := range parser.Model.Children {
			helps[c.Name] = c.Help
		}
	})
	return helps[name]
}

var (
	helpOnce sync.Once
	helps    map[string]string
)

// printHelp prints kong's help (--help, -?) or the short synopsis
// (--usage), then the command list.
func printHelp(parser *kong.Kong, w io.Writer, brief bool) {
	if brief {
		fmt.Fprint(w, usageLine)
		return
	}
	ctx, err := kong.Trace(parser, nil)
	if err == nil {
		err = ctx.PrintUsage(false)
	}
	if err != nil {
		printUsage(w, "")
	}
}
