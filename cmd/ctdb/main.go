package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/alecthomas/kong"
)

// Globals are the options of the real tool, plus --json. Their values are
// checked and normalised by the popt emulation (popt.go) before kong sees
// them.
type Globals struct {
	Debug      string `short:"d" name:"debug" placeholder:"LEVEL" help:"Debug level (accepted, ignored)."`
	Timelimit  int32  `short:"t" name:"timelimit" default:"10" placeholder:"SECS" help:"Timeout of each control, in seconds."`
	Node       int32  `short:"n" name:"node" default:"-1" placeholder:"PNN" help:"Node to address (default: the local node)."`
	Readable   bool   `short:"Y" name:"machinereadable" help:"Machine readable output."`
	Separator  string `short:"x" name:"separator" default:"|" placeholder:"SEP" help:"Separator of machine readable output."`
	Parsable   bool   `short:"X" name:"machineparsable" help:"Machine readable output with separator '|' (or -x)."`
	Verbose    bool   `short:"v" name:"verbose" help:"Verbose output (ip: the interfaces of each address)."`
	Maxruntime int32  `short:"T" name:"maxruntime" default:"0" placeholder:"SECS" help:"Limit of the whole run, in seconds (default: $CTDB_TIMEOUT or 120)."`
	JSON       bool   `name:"json" help:"Print a JSON document instead of the ctdb tool's text."`
	Cluster    bool   `name:"cluster" help:"setvar: set the tunable on every node, not only on the addressed one (rctdb only)."`
	Help       bool   `short:"?" name:"help" help:"Show this help."`
	Usage      bool   `name:"usage" help:"Show a brief usage message."`
}

// CLI is the kong grammar: the global options and one field per command.
type CLI struct {
	Globals

	Status          StatusCmd          `cmd:"" help:"show node status"`
	Uptime          UptimeCmd          `cmd:"" help:"show node uptime"`
	Ping            PingCmd            `cmd:"" help:"ping a node"`
	Runstate        RunstateCmd        `cmd:"" help:"get/check runstate of a node"`
	Getvar          GetvarCmd          `cmd:"" help:"get a tunable variable"`
	Setvar          SetvarCmd          `cmd:"" help:"set a tunable variable"`
	Listvars        ListvarsCmd        `cmd:"" help:"list tunable variables"`
	Statistics      StatisticsCmd      `cmd:"" help:"show ctdb statistics"`
	Statisticsreset StatisticsresetCmd `cmd:"" help:"reset ctdb statistics"`
	Stats           StatsCmd           `cmd:"" help:"show rolling statistics"`
	Getcapabilities GetcapabilitiesCmd `cmd:"" help:"show node capabilities"`
	Pnn             PnnCmd             `cmd:"" help:"show the pnn of the currnet node"`
	Getpid          GetpidCmd          `cmd:"" help:"get ctdbd process ID"`
	Setdebug        SetdebugCmd        `cmd:"" help:"set debug level"`
	Getdebug        GetdebugCmd        `cmd:"" help:"get debug level"`
	Disable         DisableCmd         `cmd:"" help:"disable a node"`
	Enable          EnableCmd          `cmd:"" help:"enable a node"`
	Stop            StopCmd            `cmd:"" help:"stop a node"`
	Continue        ContinueCmd        `cmd:"" help:"continue a stopped node"`
	Ban             BanCmd             `cmd:"" help:"ban a node"`
	Unban           UnbanCmd           `cmd:"" help:"unban a node"`
	Shutdown        ShutdownCmd        `cmd:"" help:"shutdown ctdb daemon"`
	Listnodes       ListnodesCmd       `cmd:"" help:"list nodes in the cluster"`
	Reloadnodes     ReloadnodesCmd     `cmd:"" help:"reload the nodes file all nodes"`
	Leader          LeaderCmd          `cmd:"" help:"show the pnn of the leader"`
	Nodestatus      NodestatusCmd      `cmd:"" help:"show and return node status"`
	Version         VersionCmd         `cmd:"" help:"show version of ctdb"`
	Getdbmap        GetdbmapCmd        `cmd:"" help:"show attached databases"`
	Getdbstatus     GetdbstatusCmd     `cmd:"" help:"show database status"`
	Catdb           CatdbCmd           `cmd:"" help:"dump cluster-wide ctdb database"`
	Cattdb          CattdbCmd          `cmd:"" help:"dump local ctdb database"`
	Attach          AttachCmd          `cmd:"" help:"attach a database"`
	Detach          DetachCmd          `cmd:"" help:"detach database(s)"`
	Wipedb          WipedbCmd          `cmd:"" help:"wipe the contents of a database."`
	Setdbreadonly   SetdbreadonlyCmd   `cmd:"" help:"enable readonly records"`
	Setdbsticky     SetdbstickyCmd     `cmd:"" help:"enable sticky records"`
	Readkey         ReadkeyCmd         `cmd:"" help:"read value of a database key"`
	Writekey        WritekeyCmd        `cmd:"" help:"write value for a database key"`
	Deletekey       DeletekeyCmd       `cmd:"" help:"delete a database key"`
	Getdbseqnum     GetdbseqnumCmd     `cmd:"" help:"get database sequence number"`
	Dbstatistics    DbstatisticsCmd    `cmd:"" help:"show database statistics"`
	Pfetch          PfetchCmd          `cmd:"" help:"fetch record from persistent database"`
	Pstore          PstoreCmd          `cmd:"" help:"write record to persistent database"`
	Pdelete         PdeleteCmd         `cmd:"" help:"delete record from persistent database"`
	Ptrans          PtransCmd          `cmd:"" help:"update a persistent database (from file or stdin)"`
	Tfetch          TfetchCmd          `cmd:"" help:"fetch a record"`
	Tstore          TstoreCmd          `cmd:"" help:"store a record"`
	Backupdb        BackupdbCmd        `cmd:"" help:"backup a database into a file"`
	Restoredb       RestoredbCmd       `cmd:"" help:"restore a database from a file"`
	Dumpdbbackup    DumpdbbackupCmd    `cmd:"" help:"dump database from a backup file"`
	Ip              IpCmd              `cmd:"" help:"show public ips"`
	Ipinfo          IpinfoCmd          `cmd:"" help:"show public ip details"`
	Ifaces          IfacesCmd          `cmd:"" help:"show interfaces"`
	Setifacelink    SetifacelinkCmd    `cmd:"" help:"set interface link status"`
	Ipreallocate    IpreallocateCmd    `cmd:"" help:"run ip reallocation"`
	Sync            SyncCmd            `cmd:"" help:"run ip reallocation (deprecated)"`
	Gratarp         GratarpCmd         `cmd:"" help:"send a gratuitous arp"`
	Tickle          TickleCmd          `cmd:"" help:"send a tcp tickle ack"`
	Gettickles      GetticklesCmd      `cmd:"" help:"get the list of tickles"`
	Addtickle       AddtickleCmd       `cmd:"" help:"add a tickle"`
	Deltickle       DeltickleCmd       `cmd:"" help:"delete a tickle"`
	Moveip          MoveipCmd          `cmd:"" help:"move an ip address to another node"`
	Addip           AddipCmd           `cmd:"" help:"add an ip address to a node"`
	Delip           DelipCmd           `cmd:"" help:"delete an ip address from a node"`
	Reloadips       ReloadipsCmd       `cmd:"" help:"reload the public addresses file"`
	Event           EventCmd           `cmd:"" help:"event and event script commands"`
	Scriptstatus    ScriptstatusCmd    `cmd:"" help:"show event script status"`
	ProcessExists   ProcessExistsCmd   `cmd:"" name:"process-exists" help:"check if a process exists on a node"`
	Dumpmemory      DumpmemoryCmd      `cmd:"" help:"dump ctdbd memory map"`
	Rddumpmemory    RddumpmemoryCmd    `cmd:"" help:"dump recoverd memory map"`
	Getreclock      GetreclockCmd      `cmd:"" help:"get recovery lock file"`
	Setlmasterrole  SetlmasterroleCmd  `cmd:"" help:"set LMASTER role"`
	Setleaderrole   SetleaderroleCmd   `cmd:"" help:"set LEADER role"`
	Checktcpport    ChecktcpportCmd    `cmd:"" help:"check if a service is bound to a specific tcp port or not"`
}

// cmdInfo is what the real tool's command table says about a command.
type cmdInfo struct {
	withoutDaemon bool   // runs without connecting to ctdbd
	remote        bool   // may address another node with -n
	args          string // argument synopsis for usage
}

var commands = map[string]cmdInfo{
	"version":         {withoutDaemon: true},
	"status":          {remote: true},
	"uptime":          {remote: true},
	"ping":            {remote: true},
	"runstate":        {remote: true, args: "[setup|first_recovery|startup|running]"},
	"getvar":          {remote: true, args: "<name>"},
	"setvar":          {remote: true, args: "<name> <value>"},
	"listvars":        {remote: true},
	"statistics":      {remote: true},
	"statisticsreset": {remote: true},
	"stats":           {remote: true, args: "[count]"},
	"getcapabilities": {remote: true},
	"pnn":             {},
	"getpid":          {remote: true},
	"setdebug":        {remote: true, args: "ERROR|WARNING|NOTICE|INFO|DEBUG"},
	"getdebug":        {remote: true},
	"disable":         {remote: true},
	"enable":          {remote: true},
	"stop":            {remote: true},
	"continue":        {remote: true},
	"ban":             {remote: true, args: "<bantime>"},
	"unban":           {remote: true},
	"shutdown":        {remote: true},
	"listnodes":       {withoutDaemon: true, remote: true},
	"reloadnodes":     {},
	"leader":          {remote: true},
	"nodestatus":      {remote: true, args: "[all|<pnn-list>]"},
	"getdbmap":        {remote: true},
	"getdbstatus":     {remote: true, args: "<dbname|dbid>"},
	"catdb":           {args: "<dbname|dbid>"},
	"cattdb":          {args: "<dbname|dbid>"},
	"attach":          {args: "<dbname> [persistent|replicated]"},
	"detach":          {args: "<dbname|dbid> ..."},
	"wipedb":          {args: "<dbname|dbid>"},
	"setdbreadonly":   {remote: true, args: "<dbname|dbid>"},
	"setdbsticky":     {remote: true, args: "<dbname|dbid>"},
	"readkey":         {args: "<dbname|dbid> <key> [readonly]"},
	"writekey":        {args: "<dbname|dbid> <key> <value>"},
	"deletekey":       {args: "<dbname|dbid> <key>"},
	"getdbseqnum":     {args: "<dbname|dbid>"},
	"dbstatistics":    {remote: true, args: "<dbname|dbid>"},
	"pfetch":          {args: "<dbname|dbid> <key>"},
	"pstore":          {args: "<dbname|dbid> <key> <value>"},
	"pdelete":         {args: "<dbname|dbid> <key>"},
	"ptrans":          {args: "<dbname|dbid> [<file>]"},
	"tfetch":          {remote: true, args: "<tdb-file> <key> [<file>]"},
	"tstore":          {remote: true, args: "<tdb-file> <key> <data> [<rsn> <dmaster> <flags>]"},
	"backupdb":        {args: "<dbname|dbid> <file>"},
	"restoredb":       {args: "<file> [dbname]"},
	"dumpdbbackup":    {withoutDaemon: true, args: "<file>"},
	"ip":              {remote: true, args: "[all]"},
	"ipinfo":          {remote: true, args: "<ip>"},
	"ifaces":          {remote: true},
	"setifacelink":    {remote: true, args: "<iface> up|down"},
	"ipreallocate":    {remote: true},
	"sync":            {remote: true},
	"gratarp":         {remote: true, args: "<ip> <interface>"},
	"tickle":          {withoutDaemon: true, args: "<srcip:port> <dstip:port>"},
	"gettickles":      {remote: true, args: "<ip> [<port>]"},
	"addtickle":       {remote: true, args: "<ip>:<port> <ip>:<port>"},
	"deltickle":       {remote: true, args: "<ip>:<port> <ip>:<port>"},
	"moveip":          {args: "<ip> <node>"},
	"addip":           {remote: true, args: "<ip/mask> <iface>"},
	"delip":           {remote: true, args: "<ip>"},
	"reloadips":       {args: "[all|<pnn-list>]"},
	"event":           {withoutDaemon: true},
	"scriptstatus":    {withoutDaemon: true, args: "[init|setup|startup|monitor|takeip|releaseip|ipreallocated]"},
	"process-exists":  {remote: true, args: "<pid> [<srvid>]"},
	"dumpmemory":      {remote: true},
	"rddumpmemory":    {remote: true},
	"getreclock":      {remote: true},
	"setlmasterrole":  {remote: true, args: "on|off"},
	"setleaderrole":   {remote: true, args: "on|off"},
	"checktcpport":    {withoutDaemon: true, args: "<port>"},
}

// Args catches a command's positional arguments; each command checks their
// number as the real tool does (some ignore extra arguments).
type Args struct {
	Args []string `arg:"" optional:"" hidden:""`
}

func main() {
	os.Exit(run(os.Args[1:], os.LookupEnv, os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole tool: it returns the exit status.
func run(args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) int {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("ctdb"),
		kong.Description("CTDB control tool (rctdb)."),
		kong.NoDefaultHelp(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) {}),
	)
	if err != nil {
		fmt.Fprintf(stderr, "ctdb: %v\n", err)
		return 1
	}

	pr, perr := poptParse(args, poptTable(parser.Model))
	if perr != nil {
		fmt.Fprintf(stderr, "%v\n", perr)
		return 1
	}
	if pr.help || pr.usage {
		printHelp(parser, stdout, pr.usage)
		return 0
	}

	limit, ok := maxRuntime(pr, lookupEnv)
	if !ok {
		fmt.Fprintf(stderr, "Invalid value CTDB_TIMEOUT\n")
		return 1
	}
	if len(pr.args) == 0 {
		printUsage(stdout, "")
		return 1
	}
	name := pr.args[0]
	info, known := commands[name]
	if !known {
		fmt.Fprintf(stderr, "Unknown command '%s'\n", name)
		return 1
	}
	kctx, err := parser.Parse(pr.kongArgs())
	if err != nil {
		printUsage(stdout, name)
		return 1
	}
	if cli.Globals.Cluster && name != "setvar" {
		fmt.Fprintf(stderr, "Invalid option --cluster: only setvar takes it\n")
		return 1
	}

	ctx := context.Background()
	cancel := context.CancelFunc(func() {})
	if limit > 0 {
		ctx, cancel = context.WithTimeout(ctx, limit)
	}
	defer cancel()

	out, errw := newGate(stdout), newGate(stderr)
	t := newTool(ctx, cli.Globals, name, lookupEnv, stdin, out, errw)

	done := make(chan int, 1)
	go func() {
		done <- t.exec(info, func() error { return kctx.Run(t) })
	}()
	select {
	case rc := <-done:
		if rc == rcMaxRuntime {
			return maxRuntimeExceeded(out, errw, stderr)
		}
		return rc
	case <-ctx.Done():
		return maxRuntimeExceeded(out, errw, stderr)
	}
}

// rcMaxRuntime is exec's answer when the -T limit ended the run.
const rcMaxRuntime = -1000

// maxRuntimeExceeded silences the command still running and reports the
// end of the run as the real tool's alarm handler does.
func maxRuntimeExceeded(out, errw *gate, stderr io.Writer) int {
	out.close()
	errw.close()
	fmt.Fprintf(stderr, "Maximum runtime exceeded - exiting\n")
	return 1
}

// maxRuntime is the -T limit: the option, else $CTDB_TIMEOUT, else 120 s;
// 0 (or less) means no limit. ok is false for an unparsable CTDB_TIMEOUT.
func maxRuntime(pr *poptResult, lookupEnv func(string) (string, bool)) (time.Duration, bool) {
	secs := int64(pr.intValue("maxruntime", 0))
	if secs == 0 {
		if v, set := lookupEnv("CTDB_TIMEOUT"); set {
			n, errno := smbStrtoul(v)
			if errno != 0 {
				return 0, false
			}
			secs = int64(uint32(n)) // alarm() takes an unsigned int
		} else {
			secs = 120
		}
	}
	if secs <= 0 {
		return 0, true
	}
	return time.Duration(secs) * time.Second, true
}

// exitCode is a non-zero exit status a command returns.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// errDisconnected: the daemon closed the connection; the real tool's
// client library exits with status 1 without a message at its default
// debug level.
var errDisconnected = errors.New("connection to daemon closed")

// errMaxRuntime: the -T limit ended a wait.
var errMaxRuntime = errors.New("maximum runtime exceeded")

// status converts a command's result to the exit status the real tool's
// main returns: -1 becomes 1, and the status is truncated to 8 bits as
// exit() does.
func status(err error) int {
	var ec exitCode
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		if ec == -1 {
			return 1
		}
		return int(ec) & 0xff
	case errors.Is(err, errMaxRuntime):
		return rcMaxRuntime
	}
	return 1
}
