package main

import (
	"encoding/json"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// With --json each command prints one JSON document (indented, ending with
// a newline) on standard output instead of the real tool's text; -X, -Y and
// -x are then ignored. Errors are reported exactly as without --json (same
// messages on standard error, same exit status), and no document is printed
// for a failed command. Times are RFC 3339 strings in UTC with microseconds,
// null for a time that is not set (zero). A pnn that is unknown is null.
//
// Schemas, by command:
//
//	status      {"nodes": [NODE...], "generation": uint|null (null: INVALID),
//	             "vnnmap": [{"hash": int, "lmaster": uint}...],
//	             "recovery_mode": "NORMAL"|"RECOVERY", "recovery_mode_value": int,
//	             "leader": uint|null}
//	nodestatus  {"nodes": [NODE...]}  (the exit status is still the OR of the flags)
//	            NODE = {"pnn": uint, "address": string,
//	                    "flags": [string...] (as shown: ["OK"], ["PARTIALLYONLINE"],
//	                             ["DISCONNECTED","UNHEALTHY","INACTIVE"], ...),
//	                    "flags_value": uint, "partially_online": bool, "this_node": bool}
//	pnn         {"pnn": uint}
//	leader      {"leader": uint|null}
//	uptime      {"pnn": uint, "current_time": TIME, "start_time": TIME,
//	             "last_recovery_started": TIME|null, "last_recovery_finished": TIME|null,
//	             "uptime_seconds": int, "seconds_since_last_recovery": int,
//	             "last_recovery_duration_seconds": float}
//	ping        {"pnn": uint, "time_seconds": float, "clients": int}
//	runstate    {"pnn": uint, "runstate": string, "required": [string...],
//	             "matched": bool}  (exit status 1 when not matched)
//	getpid      {"pnn": uint, "pid": int}
//	getcapabilities {"pnn": uint, "capabilities": uint, "leader": bool, "lmaster": bool}
//	listvars    {"pnn": uint, "tunables": [{"name": string, "value": uint}...]}
//	getvar      {"pnn": uint, "name": string, "value": uint}
//	setvar      {"pnn": uint, "name": string, "value": uint, "obsolete": bool}
//	ban, unban, stop, continue, disable, enable, statisticsreset, shutdown
//	            {"command": string, "pnn": uint, "changed": bool}
//	            (changed is false when the node already was in the requested state)
//	statistics  STATS
//	stats       {"pnn": uint, "history": [STATS...]}
//	            STATS = {"protocol_version": 1, "current_time": TIME, "start_time": TIME,
//	                     "counters": {"num_clients": uint, ..., "node.req_call": uint, ...}
//	                                 (the names of the -X header),
//	                     "hop_count_buckets": [uint x16], "lock_buckets": [uint x16],
//	                     "latency": {"locks"|"reclock_ctdbd"|"reclock_recd"|"call"|
//	                                 "childwrite": {"num": int, "min": float,
//	                                                "avg": float, "max": float}}}
//	listnodes   {"nodes": [{"pnn": uint, "address": string}...]}
//
// The database commands (DB = "db_id": uint, "name": string, "persistent": bool,
// "replicated": bool, "sticky": bool, "readonly": bool, "flags_value": uint,
// inlined; pnn is the node asked, ours for the commands that only act locally;
// bytes are given as the real tool prints them between quotes, printable ASCII
// with other bytes, '"' and '\' as \XX, and in hex):
//
//	getdbmap    {"pnn": uint, "databases": [DBSTATUS...]}
//	getdbstatus {"pnn": uint, DBSTATUS...}
//	            DBSTATUS = {DB..., "path": string, "healthy": bool,
//	                        "health": string|null (the reason it is unhealthy)}
//	attach      {"command": "attach", "pnn": uint, DB..., "path": string}
//	            (the flags are those asked for)
//	detach      {"pnn": uint, "detached": [DB...]}  (databases not found are skipped,
//	            after the message; no document when a detach failed)
//	catdb, cattdb {"pnn": uint, DB..., "records": [RECORD...], "count": uint}
//	            RECORD = {"key": string, "key_hex": string, "dmaster": uint, "rsn": uint,
//	                      "flags": [string...] ("MIGRATED_WITH_DATA", ...), "flags_value": uint,
//	                      "data": string, "data_hex": string}
//	readkey     {"command": "readkey", "pnn": uint, DB..., "key": string, "key_hex": string,
//	             "size": int, "data": string, "data_hex": string}
//	writekey, deletekey {"command": string, "pnn": uint, DB..., "key": string, "key_hex": string}
//	wipedb      {"command": "wipedb", "pnn": uint, DB..., "nodes": [uint...] (the nodes wiped)}
//	setdbreadonly, setdbsticky {"command": string, "pnn": uint, DB...}
//	            (DB's flags as found before the change)
//	getdbseqnum {"pnn": uint, DB..., "seqnum": uint}
//	dbstatistics {"pnn": uint, DB..., "counters": {"db_ro_delegations": uint, "db_ro_revokes": uint,
//	              "locks.num_calls": uint, ...} (the names of the plain output),
//	              "hop_count_buckets": [uint x16], "lock_buckets": [uint x16],
//	              "latency": {"locks"|"vacuum": {"num": int, "min": float, "avg": float, "max": float}},
//	              "hot_keys": [{"count": uint, "key_hex": string}...]}
//	pfetch      {"command": "pfetch", "pnn": uint, DB..., "key": string, "key_hex": string,
//	             "size": int, "data": string, "data_hex": string}  (size 0: no record)
//	pstore, pdelete {"command": string, "pnn": uint, DB..., "key": string, "key_hex": string}
//	ptrans      {"command": "ptrans", "pnn": uint, DB..., "stored": int (the lines stored,
//	             unchanged values included)}
//	backupdb    {"command": "backupdb", "pnn": uint, DB..., "file": string, "buffers": uint,
//	             "records": uint}
//	restoredb   {"command": "restoredb", "pnn": uint, DB..., "file": string,
//	             "timestamp": TIME (of the backup), "records": uint, "nodes": [uint...]}
//	            (the "Restoring database" line is not printed)
//	dumpdbbackup {"name": string, "timestamp": TIME, "flags_value": uint,
//	              "records": [RECORD...], "count": uint}
//	tfetch, tstore {"command": string, "file": string, RECORD...}
//	version     {"version": "4.17.12-Debian", "implementation": "rctdb",
//	             "rctdb_version": string}
//
// The public-IP commands (addresses as the real tool prints them, without
// port; a pnn that is unknown, or an address nobody hosts, is null):
//
//	ip          {"pnn": uint|null (null with "all"), "all": bool, "ips": [{"address": string,
//	             "pnn": uint|null, "active_interface": string|null (the interface carrying it
//	             on the node asked: for "all" the holder), "available_interfaces": [string...]
//	             (link up), "configured_interfaces": [string...]}...]}
//	            (the interfaces are given whether -v is or not)
//	ipinfo      {"pnn": uint, "address": string, "current_node": uint|null,
//	             "interfaces": [{"name": string, "link_up": bool, "references": uint,
//	                             "active": bool}...]}
//	            (an address the node does not know is reported as without --json)
//	ifaces      {"pnn": uint, "interfaces": [{"name": string, "link_up": bool, "references": uint}...]}
//	gettickles  {"pnn": uint, "address": string, "port": uint (0: every port),
//	             "connections": [{"source": string, "source_port": uint,
//	                              "destination": string, "destination_port": uint}...]}
//	setifacelink, ipreallocate, sync {"command": string, "pnn": uint, "changed": true}
//	moveip, addip, delip, gratarp {"command": string, "pnn": uint, "changed": bool,
//	             "address": string, "interface": string (addip, gratarp)}
//	            (moveip: pnn is the node the address moved to; addip, delip: changed is
//	             false when the node already knew, or did not know, the address)
//	reloadips   {"command": "reloadips", "pnn": uint (ours), "changed": true,
//	             "nodes": [uint...] (the nodes that reloaded)}
//	addtickle, deltickle {"command": string, "pnn": uint, "changed": bool,
//	             "connections": int (sent; changed is false for an empty list)}
//	tickle      {"command": "tickle", "sent": int (the tickle ACKs sent)}
//
// The other commands:
//
//	process-exists {"pnn": uint, "pid": int, "srvid": uint (omitted when none given),
//	             "exists": bool}  (exit status 1 when it does not exist)
//	getreclock  {"pnn": uint, "reclock": string|null (null: no cluster lock)}
//	setleaderrole, setlmasterrole {"command": string, "pnn": uint, "changed": true}
//	dumpmemory, rddumpmemory {"pnn": uint, "report": string (the text printed
//	             without --json)}
//	checktcpport {"port": uint (after the 16-bit truncation), "free": true}
//	            (a port that is taken is reported as without --json)

// printJSON prints v as the command's JSON document.
func (t *tool) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	t.print(string(b) + "\n")
	return nil
}

// optPNN is a pnn for JSON: null when unknown.
func optPNN(p uint32) *uint32 {
	if p == protocol.UnknownPNN {
		return nil
	}
	return &p
}

// jsonTime renders a timeval for JSON: null when zero.
func jsonTime(tv protocol.Timeval) *string {
	if tv.Sec == 0 && tv.Usec == 0 {
		return nil
	}
	s := time.Unix(tv.Sec, tv.Usec*1000).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	return &s
}

// jsonAction is the document of the commands that change a node's state.
type jsonAction struct {
	Command string `json:"command"`
	PNN     uint32 `json:"pnn"`
	Changed bool   `json:"changed"`
}

// done prints the JSON document of an action command, when asked for.
func (t *tool) done(changed bool) error {
	if !t.opts.json {
		return nil
	}
	return t.printJSON(jsonAction{Command: t.name, PNN: t.cmdPNN, Changed: changed})
}
