# rctdb: build, demo, tests.
GO      ?= go
BIN     := $(CURDIR)/bin
DEMO    ?= /tmp/rctdb-demo
CMDS    := ctdbd ctdb ctdb-local
UNIT    := $(shell $(GO) list ./... 2>/dev/null | grep -v /tests$$)

.PHONY: all build install deb demo demo-down deps test unit integration integration-bench vet fuzz fuzz-short clean bench bench-recovery bench-failover bench-health chaos

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# The daemon and the tool where Debian's ctdb package has them
# (/usr/sbin/ctdbd, /usr/bin/ctdb); /etc/ctdb is left alone.
PREFIX  ?= /usr
DESTDIR ?=
install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/ctdbd $(DESTDIR)$(PREFIX)/sbin/ctdbd
	install -m 0755 $(BIN)/ctdb $(DESTDIR)$(PREFIX)/bin/ctdb

# A Debian package, rctdb, that puts the same two binaries in place of
# the ctdb package's with dpkg-divert (their originals are kept as
# *.distrib and come back when rctdb is removed); it depends on ctdb for
# the event scripts, /etc/ctdb and the systemd unit.
DEB_VERSION ?= 0.1.0
DEB_OUT     ?= $(BIN)
deb: build
	./scripts/build-deb.sh $(BIN) $(DEB_VERSION) $(DEB_OUT)

# A local 3-node cluster on loopback, left running.
demo: deps build
	@$(BIN)/ctdb-local down --base $(DEMO) --purge >/dev/null 2>&1 || true
	$(BIN)/ctdb-local up 3 --base $(DEMO)
	@echo
	@echo '$$ ctdb status    # on node 0'
	@CTDB_SOCKET=$(DEMO)/node0/run/ctdbd.socket $(BIN)/ctdb status
	@echo
	@echo '$$ ctdb status    # on node 2'
	@CTDB_SOCKET=$(DEMO)/node2/run/ctdbd.socket $(BIN)/ctdb status
	@echo
	@echo '$$ ctdb attach demo.tdb; ctdb writekey demo.tdb greeting hello    # on node 0'
	@CTDB_SOCKET=$(DEMO)/node0/run/ctdbd.socket $(BIN)/ctdb attach demo.tdb
	@CTDB_SOCKET=$(DEMO)/node0/run/ctdbd.socket $(BIN)/ctdb writekey demo.tdb greeting hello
	@echo '$$ ctdb readkey demo.tdb greeting    # on node 2: the record migrates there'
	@CTDB_SOCKET=$(DEMO)/node2/run/ctdbd.socket $(BIN)/ctdb readkey demo.tdb greeting
	@echo '$$ ctdb catdb demo.tdb    # on node 1'
	@CTDB_SOCKET=$(DEMO)/node1/run/ctdbd.socket $(BIN)/ctdb catdb demo.tdb
	@echo '$$ ctdb attach demo_persistent.tdb persistent; ctdb pstore demo_persistent.tdb motd "committed through Raft"    # on node 0'
	@CTDB_SOCKET=$(DEMO)/node0/run/ctdbd.socket $(BIN)/ctdb attach demo_persistent.tdb persistent
	@CTDB_SOCKET=$(DEMO)/node0/run/ctdbd.socket $(BIN)/ctdb pstore demo_persistent.tdb motd "committed through Raft"
	@echo '$$ ctdb pfetch demo_persistent.tdb motd    # on node 2, right after'
	@CTDB_SOCKET=$(DEMO)/node2/run/ctdbd.socket $(BIN)/ctdb pfetch demo_persistent.tdb motd
	@echo
	@echo "The cluster keeps running. Try:"
	@echo "  CTDB_SOCKET=$(DEMO)/node1/run/ctdbd.socket $(BIN)/ctdb ban 5"
	@echo "  $(BIN)/ctdb-local kill 0 --base $(DEMO)"
	@echo "  $(BIN)/ctdb-bench --sockets=$(DEMO)/node0/run/ctdbd.socket,$(DEMO)/node1/run/ctdbd.socket,$(DEMO)/node2/run/ctdbd.socket fetch-ring"
	@echo "Stop it with: make demo-down   (or $(BIN)/ctdb-local down --base $(DEMO))"

demo-down:
	$(BIN)/ctdb-local down --base $(DEMO) --purge

deps:
	./scripts/install-deps.sh

vet:
	$(GO) vet ./...

# Unit and in-process cluster tests (race detector) beside the
# multi-process tests with real daemons and Debian's ctdb tool (one test at
# a time there, so that clusters do not starve each other of CPU); the quick
# forms of the benchmarks (whole clusters of both daemons in network
# namespaces) run once the unit tests are done, beside the rest. All of them
# wait on timers far more than they compute, so they share the machine
# well. Each one's output is printed whole when it ends. cmd/ctdb's
# comparisons with the real ctdbd take about 6 minutes beside another
# make test and passed 12 at a load average of 24; the timeout is 20.
BENCH_TESTS := ^TestBench
test: deps vet
	@$(MAKE) --no-print-directory -j2 --output-sync=target unit integration integration-bench fuzz-short

unit:
	$(GO) test -race -count=1 -timeout 20m $(UNIT)

integration:
	$(GO) test -race -count=1 -timeout 15m -p 1 -v -skip '$(BENCH_TESTS)' ./tests/

integration-bench:
	$(GO) test -race -count=1 -timeout 15m -p 1 -v -run '$(BENCH_TESTS)' ./tests/

# rctdb against the real ctdbd 4.17 (3-node clusters on loopback, the
# standard workloads, 3 runs each; about 6 minutes on 2 cores): the table on
# stdout, rows as JSON and one SVG plot per workload in $(BENCH_OUT).
BENCH_OUT ?= $(BIN)/bench
bench: deps build
	@mkdir -p $(BENCH_OUT)
	$(BIN)/ctdb-bench compare --json $(BENCH_OUT)/results.json --svg $(BENCH_OUT)

# Recovery after kill -9 of a node that is not the leader, while clients on
# the other two fetch-lock and increment 10,000 keys: kill to all databases
# thawed, rctdb against the real ctdbd 4.17, a fresh 3-node cluster per run;
# 3 runs with 10,000 records, then 1 with 1,000,000: about 2 min + 40 s on
# 2 cores; a 1,000,000-record run uses about 500 MB of the temporary
# directory while it lasts. Tables on stdout, rows and runs as JSON in
# $(BENCH_OUT).
bench-recovery: deps build
	@mkdir -p $(BENCH_OUT)
	$(BIN)/ctdb-bench recovery --records 10000 --runs 3 --json $(BENCH_OUT)/recovery-10k.json
	$(BIN)/ctdb-bench recovery --records 1000000 --runs 1 --json $(BENCH_OUT)/recovery-1m.json

# Public-IP failover: kill -9 of an address's holder (a non-leader, then
# the leader), rctdb against the real ctdbd 4.17, a fresh 3-node cluster in
# network namespaces per run, 5 runs per daemon and case (about 5 minutes
# on 2 cores): the table on stdout, rows and runs as JSON in $(BENCH_OUT).
bench-failover: deps build
	@mkdir -p $(BENCH_OUT)
	$(BIN)/ctdb-bench failover --runs 5 --json $(BENCH_OUT)/failover.json

# A node's smbd killed with SIGKILL while its daemon lives (every node runs
# Debian's 00.ctdb, 05.system, 10.interface and 50.samba, its own smbd
# serving a share), then started again: until the node is UNHEALTHY
# everywhere and its address answers SMB on another node, and until it is
# healthy and holds an address again; rctdb against the real ctdbd 4.17 with
# the same scripts and MonitorInterval 15, a fresh 3-node cluster in network
# namespaces per run, 5 runs per daemon: the table on stdout, rows and runs
# as JSON in $(BENCH_OUT).
bench-health: deps build
	@mkdir -p $(BENCH_OUT)
	$(BIN)/ctdb-bench health --runs 5 --monitor-interval 15 --json $(BENCH_OUT)/health.json

# The fault campaign (README "Fault campaign"): 5 daemons in network
# namespaces, clients on every node, CHAOS_CYCLES seeded faults (kill -9,
# SIGSTOP, restarts, partitions), then the histories checked. It ends with
# "chaos: cycles=N operations=N violations=N seed=S" and fails on any
# violation, keeping the run's directory (replay with the same CHAOS_SEED;
# empty: a random seed). CHAOS_BUG=1 runs it against a ctdbd built with the
# tag chaosbug (a commit acknowledged before Raft applied it), which it
# must catch. About 6 s a cycle on 2 cores; run it under nice.
CHAOS_CYCLES ?= 200
CHAOS_SEED   ?=
CHAOS_BUG    ?=
CHAOS_FLAGS  ?=
chaos: build
ifneq ($(CHAOS_BUG),)
	$(GO) build -tags chaosbug -o $(BIN)/chaosbug/ctdbd ./cmd/ctdbd
endif
	CHAOS_CYCLES=$(CHAOS_CYCLES) CHAOS_SEED=$(CHAOS_SEED) $(BIN)/ctdb-chaos $(CHAOS_FLAGS) $(if $(CHAOS_BUG),-ctdbd $(BIN)/chaosbug/ctdbd)

# Every fuzz target of the module (decoders, configuration parsers, and
# the daemon's client socket and node link readers fed as streams) for
# FUZZTIME each (default: 600 s shared among them, about 13 minutes in
# all with the builds); a table of executions per target at the end, and
# a failure if any target crashed (the input is saved under the package's
# testdata/fuzz). FUZZ_TARGETS='regexp' picks targets.
fuzz:
	GO=$(GO) ./scripts/fuzz.sh

# The short pass of make test: the stream targets 1,000 executions each,
# a few seconds (the seed corpora of every target already run as unit
# tests). A count, not a duration: Go 1.26's coordinator can fail a
# duration-bound run at its deadline on a loaded machine (scripts/fuzz.sh).
fuzz-short:
	GO=$(GO) FUZZTIME=$${FUZZTIME:-1000x} FUZZ_TARGETS='Stream' ./scripts/fuzz.sh

clean:
	rm -rf $(BIN)
