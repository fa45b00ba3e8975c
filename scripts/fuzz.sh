#!/bin/sh
# Runs every fuzz target of the module (found in the *_test.go files, not
# listed by hand) for FUZZTIME each, one after the other, and prints a
# table of executions per target. A crash fails the run at the end; Go
# saves the crashing input under the package's testdata/fuzz/<target>/.
#
#   FUZZTIME       time per target (Go duration, or Nx executions); by
#                  default 600 s divided among the targets, at least 5 s
#   FUZZ_TARGETS   extended regexp found in the names of the targets to
#                  run (default all)
#   FUZZ_LOGS      directory for each target's output (default a temporary
#                  one, removed unless a target failed)
set -u
GO=${GO:-go}
cd "$(dirname "$0")/.."

targets=$(grep -rE --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]+\(' . |
	sed -E 's|^\./(.*)/[^/]*:func (Fuzz[A-Za-z0-9_]+)\($|\1 \2|' |
	grep -E " [A-Za-z0-9_]*(${FUZZ_TARGETS:-.})" | sort -u)
count=$(printf '%s\n' "$targets" | grep -c .)
if [ "$count" -eq 0 ]; then
	echo "fuzz: no target matches '${FUZZ_TARGETS:-}'" >&2
	exit 1
fi
if [ -z "${FUZZTIME:-}" ]; then
	per=$(((600 + count - 1) / count))
	[ "$per" -lt 5 ] && per=5
	FUZZTIME=${per}s
fi
logs=${FUZZ_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
echo "fuzz: $count targets, $FUZZTIME each, logs in $logs"

table=$(mktemp)
bins=$(mktemp -d)
cache=$($GO env GOCACHE)/fuzz
start=$(date +%s)
built=
printf '%s\n' "$targets" | while read -r pkg name; do
	log="$logs/$(echo "$pkg" | tr / _)-$name.log"
	bin="$bins/$(echo "$pkg" | tr / _).test"
	# One instrumented test binary per package, run in the package's
	# directory as go test runs it (seeds and crashers in testdata/fuzz,
	# the fuzzing cache where go test keeps it).
	if [ "$built" != "$pkg" ]; then
		built=$pkg
		if ! $GO test -c -fuzz=. -o "$bin" "./$pkg" >"$logs/$(echo "$pkg" | tr / _)-build.log" 2>&1; then
			cat "$logs/$(echo "$pkg" | tr / _)-build.log" >&2
			rm -f "$bin"
		fi
		importpath=$($GO list "./$pkg")
	fi
	if [ -x "$bin" ] && (cd "$pkg" && "$bin" -test.run='^$' -test.fuzz="^$name\$" -test.fuzztime="$FUZZTIME" \
		-test.fuzzcachedir="$cache/$importpath") >"$log" 2>&1; then
		result=ok
	elif grep -qx '    context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
		# Go 1.26's fuzzing coordinator can fail a run at its -fuzztime
		# deadline having found nothing (go.dev/issue/75804, fixed in Go
		# 1.27): the bare message, no input written.
		result=ok-deadline-race
	else
		result=FAIL
	fi
	# The last progress line has the total: "fuzz: elapsed: 10s, execs: 123 (12/sec), ...".
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	crasher=$(grep -o 'testdata/fuzz/[^ ]*' "$log" | tail -n 1)
	[ -n "$crasher" ] && crasher=$pkg/$crasher
	printf '%-10s %-28s %12s  %s %s\n' "$pkg" "$name" "${execs:-0}" "$result" "$crasher" | tee -a "$table"
done
rm -rf "$bins"

echo
echo "fuzz: $(wc -l <"$table") targets in $(($(date +%s) - start)) s, FUZZTIME=$FUZZTIME"
printf '%-10s %-28s %12s  %s\n' package target executions result
cat "$table"
total=$(awk '$3 ~ /^[0-9]+$/ { s += $3 } END { print s + 0 }' "$table")
failed=$(grep -c ' FAIL' "$table")
echo "fuzz: executions=$total crashes=$failed"
rm -f "$table"
if [ "$failed" -ne 0 ]; then
	echo "fuzz: $failed targets failed; their logs are in $logs, crashers under testdata/fuzz" >&2
	exit 1
fi
[ -z "${FUZZ_LOGS:-}" ] && rm -rf "$logs"
exit 0
