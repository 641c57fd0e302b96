#!/usr/bin/env bash
# The ceiling PostgreSQL puts on stored decisions on this machine. It stores one booked decision
# through a real server with PostgreSQL logging its statements, turns the logged writes (the route
# claim and the one gathered statement, between BEGIN and COMMIT) into a pgbench script, stops the
# server, and runs pgbench alone: the same writes, the same rows, the same durability
# (synchronous_commit as the server has it), with no Carepath process on the machine. No server
# stores decisions faster than its database commits them, so this rate bounds `carepath loadtest`
# on PostgreSQL from above. The demo data it loads are illustrative, as everywhere in the project.
#
# Needs go, pgbench and curl, and a PostgreSQL superuser (log_statement is a superuser setting).
# Settings (environment):
#   ADMIN_DSN  superuser connection URL of the server to measure, naming any database
#              (postgres://postgres@/postgres?host=/var/run/postgresql: run as the postgres user)
#   PG_LOG     that server's log file (default: pg_current_logfile(), else the Debian location
#              /var/log/postgresql/postgresql-<major>-main.log)
#   CLIENTS    pgbench client counts to run ("16 64"), DURATION seconds each (10), ROUNDS (2)
#   ADDR       loopback address for the capturing server (127.0.0.1:8185), KEEP=1 keeps the database
set -euo pipefail

ADMIN_DSN=${ADMIN_DSN:-postgres://postgres@/postgres?host=/var/run/postgresql}
CLIENTS=${CLIENTS:-16 64}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
ADDR=${ADDR:-127.0.0.1:8185}
DB=carepath_floor

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d -t carepath-pgfloor.XXXXXX)
server_pid=
admin() { psql "$ADMIN_DSN" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
cleanup() {
	if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
	admin -c "ALTER DATABASE $DB RESET log_statement" 2>/dev/null || true
	if [[ ${KEEP:-} != 1 ]]; then admin -c "DROP DATABASE IF EXISTS $DB" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*" >&2; }

# The same server, user and options, database $DB.
dsn=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$DB#" <<<"$ADMIN_DSN")
[[ $dsn == *"/$DB"* ]] || { echo "ADMIN_DSN must be a postgres:// URL naming a database" >&2; exit 1; }

pgbench=${PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1)}
[[ -x $pgbench ]] || { echo "pgbench not found: set PGBENCH" >&2; exit 1; }

say "building carepath"
cd "$root"
go build -o "$work/carepath" .
go build -o "$work/pgfloor" ./bench/pgfloor

serve() {
	"$work/carepath" --db "$dsn" serve --addr "$ADDR" >"$work/serve.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 240); do curl -sf -o /dev/null "http://$ADDR/healthz" && return 0; sleep 0.25; done
	echo "the server did not start; its log:" >&2
	cat "$work/serve.log" >&2
	exit 1
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }

say "fresh database $DB with the demo data"
admin -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
serve
stop

log=${PG_LOG:-}
if [[ -z $log ]]; then
	log=$(admin -c "SELECT COALESCE(pg_current_logfile(), '')")
	if [[ -n $log && $log != /* ]]; then log="$(admin -c 'SHOW data_directory')/$log"; fi
fi
if [[ -z $log ]]; then
	major=$(admin -c "SHOW server_version_num" | cut -c1-2)
	log=/var/log/postgresql/postgresql-$major-main.log
fi
[[ -r $log ]] || { echo "cannot read PostgreSQL's log $log: set PG_LOG" >&2; exit 1; }

say "capturing the statements of stored decisions from $log"
admin -c "ALTER DATABASE $DB SET log_statement = 'all'"
offset=$(stat -c %s "$log")
serve
# A few generated assessments, so that at least one is booked.
CAREPATH_TOKEN=cpt_demo_clinician "$work/carepath" loadtest --url "http://$ADDR" --form mental-health \
	--connections 1 --duration 1s --warmup 0s >/dev/null
stop
admin -c "ALTER DATABASE $DB RESET log_statement"
tail -c +$((offset + 1)) "$log" >"$work/statements.log"
"$work/pgfloor" <"$work/statements.log" >"$work/decision.sql"
echo "pgbench script: $(wc -c <"$work/decision.sql") bytes" >&2

cpu() { head -1 /proc/stat; }
share() { # BEFORE AFTER: "busy% steal%" of the whole machine between two /proc/stat cpu lines
	awk -v a="$1" -v b="$2" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 2; i <= n; i++) { d[i] = y[i] - x[i]; t += d[i] }
		if (t <= 0) { print "- -"; exit }
		printf "%.0f%% %.0f%%\n", 100 * (t - d[5] - d[6]) / t, 100 * d[9] / t }'
}

say "pgbench alone: the decision's writes, $DURATION s per run"
printf '%-8s %-6s %12s %10s %10s %8s\n' clients round "commits/s" "latency" "CPU busy" steal
for round in $(seq "$ROUNDS"); do
	for c in $CLIENTS; do
		before=$(cpu)
		out=$("$pgbench" -n -M prepared -c "$c" -j 1 -T "$DURATION" -f "$work/decision.sql" "$dsn" 2>&1) || {
			echo "$out" >&2
			exit 1
		}
		after=$(cpu)
		tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
		lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1 ms/p' <<<"$out")
		failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
		if [[ ${failed:-0} != 0 ]]; then echo "$failed transactions failed" >&2; exit 1; fi
		read -r busy steal <<<"$(share "$before" "$after")"
		printf '%-8s %-6s %12.0f %10s %10s %8s\n' "$c" "$round" "$tps" "$lat" "$busy" "$steal"
	done
done
