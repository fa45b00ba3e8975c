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
// The usage of all commands starts with popt's help of the options and
// lists the commands in the order of 4.17's command table.
func printUsage(w io.Writer, cmd string) {
	if cmd != "" {
		fmt.Fprint(w, usageLine)
		fmt.Fprintf(w, "\nCommands:\n")
		fmt.Fprintf(w, "  %-15s %-27s  %s\n", cmd, commands[cmd].args, commandHelp(cmd))
		return
	}
	fmt.Fprint(w, optionsHelp)
	fmt.Fprintf(w, "\nCommands:\n")
	for _, n := range commandsInOrder() {
		fmt.Fprintf(w, "  %-15s %-27s  %s\n", n, commands[n].args, commandHelp(n))
	}
}

// optionsHelp is popt's help of the real tool's options (our --json is
// left out, as in usageLine).
const optionsHelp = `Usage: [OPTION...]
  -d, --debug=STRING       debug level
  -t, --timelimit=INT      timelimit (in seconds)
  -n, --node=INT           node specification - integer
  -Y                       enable machine readable output
  -x, --separator=CHAR     specify separator for machine readable output
  -X                       enable machine parsable output with separator |
  -v, --verbose            enable verbose output
  -T, --maxruntime=INT     die if runtime exceeds this limit (in seconds)

Help options:
  -?, --help               Show this help message
      --usage              Display brief usage message
`

// tableOrder is the order of ctdb 4.17's command table, which its usage
// follows. It names commands we may not have; those are left out.
var tableOrder = []string{
	"version", "status", "uptime", "ping", "runstate", "getvar", "setvar", "listvars",
	"statistics", "statisticsreset", "stats", "ip", "ipinfo", "ifaces", "setifacelink",
	"process-exists", "getdbmap", "getdbstatus", "catdb", "cattdb", "getcapabilities", "pnn",
	"lvs", "setdebug", "getdebug", "attach", "detach", "dumpmemory", "rddumpmemory", "getpid",
	"disable", "enable", "stop", "continue", "ban", "unban", "shutdown", "recover", "sync",
	"ipreallocate", "gratarp", "tickle", "gettickles", "addtickle", "deltickle", "listnodes",
	"reloadnodes", "moveip", "addip", "delip", "backupdb", "restoredb", "dumpdbbackup", "wipedb",
	"leader", "event", "scriptstatus", "natgw", "getreclock", "setlmasterrole", "setleaderrole",
	"setdbreadonly", "setdbsticky", "pfetch", "pstore", "pdelete", "ptrans", "tfetch", "tstore",
	"readkey", "writekey", "deletekey", "checktcpport", "getdbseqnum", "nodestatus",
	"dbstatistics", "reloadips",
}

// commandsInOrder lists our commands in the real tool's table order, any
// the real tool lacks after them, sorted.
func commandsInOrder() []string {
	var names []string
	known := map[string]bool{}
	for _, n := range tableOrder {
		known[n] = true
		if _, ok := commands[n]; ok {
			names = append(names, n)
		}
	}
	var extra []string
	for n := range commands {
		if !known[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	return append(names, extra...)
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
