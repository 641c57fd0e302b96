#!/usr/bin/env bash
# Carepath's POST /v1/decide side by side with Open Policy Agent serving the same policy
# (triage.rego: the demo rule set mh-triage in force, ILLUSTRATIVE demo policy translated for this
# benchmark, not clinical advice), on this machine, in one run:
#   1. installs OPA (go install from the Go module proxy) and builds carepath;
#   2. checks that both decide alike (TestEquivalentToOPA: thousands of cases through both);
#   3. serves both on loopback and measures them with `carepath loadtest`, interleaved: ROUNDS
#      rounds of DURATION each, at CONNECTIONS connections, alternating which goes first;
#   4. in process: `opa bench` on the scored input against Carepath's Go benchmarks.
# Both servers and the load generator share this machine's cores, so the figures compare the two
# engines with each other, not with a dedicated deployment.
#
# Settings (environment): ROUNDS (3), DURATION (10s), CONNECTIONS (16), CAREPATH_ADDR
# (127.0.0.1:8180), OPA_ADDR (127.0.0.1:8181), CAREPATH_OPA (an opa binary to use instead of
# installing one), KEEP=1 keeps the working directory.
set -euo pipefail

OPA_VERSION=v1.22.3
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
CAREPATH_ADDR=${CAREPATH_ADDR:-127.0.0.1:8180}
OPA_ADDR=${OPA_ADDR:-127.0.0.1:8181}
OPA_PATH=/v1/data/carepath/triage/decision
# The demo clinician's API token, created by the demo data this script loads into its own database.
DEMO_TOKEN=cpt_demo_clinician

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d -t carepath-opa.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ "${KEEP:-}" == 1 ]]; then
		echo "kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*" >&2; }

wait_for() { # URL: until it answers, at most 60 s
	for _ in $(seq 1 240); do
		if curl -sf -o /dev/null "$1"; then return 0; fi
		sleep 0.25
	done
	echo "no answer from $1" >&2
	return 1
}

cd "$root"

say "installing OPA $OPA_VERSION and building carepath"
opa=${CAREPATH_OPA:-}
if [[ -z "$opa" ]]; then
	GOBIN="$work/bin" go install "github.com/open-policy-agent/opa@$OPA_VERSION"
	opa="$work/bin/opa"
fi
"$opa" version | sed -n 1p >&2
go build -o "$work/carepath" .
carepath="$work/carepath"

say "equivalence: the same cases through Carepath's engine and OPA"
CAREPATH_OPA="$opa" go test ./bench/opa -count=1 -run 'TestSampleInput|TestRegoFollowsRuleSet|TestEquivalentToOPA' -v 2>&1 |
	grep -E '^(--- |ok|FAIL|\s+opa_test)' >&2

say "starting carepath serve (SQLite, demo data) on $CAREPATH_ADDR and opa run --server on $OPA_ADDR"
cat >"$work/carepath.yaml" <<EOF
database:
  dsn: sqlite:$work/carepath.db
server:
  addr: $CAREPATH_ADDR
  # High enough that the load test measures the decision, not the per-account limit.
  decide_rate: 1000000
  decide_burst: 1000000
log:
  level: warn
  access_sample: 0
outbox:
  deliver: false
EOF
"$carepath" serve --config "$work/carepath.yaml" >"$work/carepath.log" 2>&1 &
carepath_pid=$!
pids+=("$carepath_pid")
"$opa" run --server --addr "$OPA_ADDR" --log-level error "$here/triage.rego" >"$work/opa.log" 2>&1 &
opa_pid=$!
pids+=("$opa_pid")
wait_for "http://$CAREPATH_ADDR/healthz"
wait_for "http://$OPA_ADDR/health"

# One request each: both must answer the sample with the same pathway before anything is timed.
cp_answer=$(curl -sf "http://$CAREPATH_ADDR/v1/decide" -H "Authorization: Bearer $DEMO_TOKEN" -H 'Content-Type: application/json' --data-binary @"$here/submission.json")
opa_answer=$(curl -sf "http://$OPA_ADDR$OPA_PATH" -H 'Content-Type: application/json' --data-binary @"$here/input.json")
for answer in "$cp_answer" "$opa_answer"; do
	if [[ "$answer" != *'"pathway":"watchful-waiting"'* ]]; then
		echo "unexpected answer to the sample: $answer" >&2
		exit 1
	fi
done

# field FILE KEY: a number from the loadtest's JSON report (one key a line).
field() { sed -n "s/^ *\"$2\": *\([0-9.]*\),*$/\1/p" "$1" | sed -n 1p; }

# cpu_ticks PID: the CPU time the process has used (user and system), in clock ticks; the server's
# own CPU per request holds steadier than throughput on a machine whose cores are shared.
cpu_ticks() {
	local stat
	stat=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $stat
	echo $((${12} + ${13}))
}
ticks_per_s=$(getconf CLK_TCK 2>/dev/null || echo 100)

load() { # ENGINE DURATION OUT
	case $1 in
	carepath)
		CAREPATH_TOKEN=$DEMO_TOKEN "$carepath" loadtest --url "http://$CAREPATH_ADDR" --path /v1/decide \
			--body "$here/submission.json" --connections "$CONNECTIONS" --duration "$2" --warmup 0s --format json >"$3"
		;;
	opa)
		CAREPATH_TOKEN='' "$carepath" loadtest --url "http://$OPA_ADDR" --path "$OPA_PATH" \
			--body "$here/input.json" --connections "$CONNECTIONS" --duration "$2" --warmup 0s --format json >"$3"
		;;
	esac
}

run() { # ENGINE ROUND
	local out="$work/$1-$2.json" pid=$carepath_pid before after requests
	if [[ $1 == opa ]]; then pid=$opa_pid; fi
	before=$(cpu_ticks "$pid")
	load "$1" "$DURATION" "$out"
	after=$(cpu_ticks "$pid")
	requests=$(field "$out" requests)
	# The machine's steal share over the round (Linux only; "-" elsewhere): a hypervisor taking
	# CPU time from this machine makes rounds incomparable.
	steal=$(field "$out" steal_share)
	steal=${steal:+$(awk -v s="$steal" 'BEGIN { printf "%.1f%%", 100 * s }')}
	printf '%-9s %5s %12.0f %9.2f %9.2f %9.2f %7s %12.0f %7s\n' "$1" "$2" "$(field "$out" throughput)" "$(field "$out" p50)" \
		"$(field "$out" p95)" "$(field "$out" p99)" "$(($(field "$out" non_2xx) + $(field "$out" transport_errors)))" \
		"$(((after - before) * 1000000 / ticks_per_s / (requests > 0 ? requests : 1)))" "${steal:--}"
}

say "load: $ROUNDS rounds x {carepath POST /v1/decide, OPA POST $OPA_PATH}, $DURATION each, $CONNECTIONS connections"
# Each server warms up once, uncounted, so that every measured request's CPU is in the figures.
load carepath 2s "$work/warmup.json"
load opa 2s "$work/warmup.json"
printf '%-9s %5s %12s %9s %9s %9s %7s %12s %7s\n' engine round 'requests/s' 'p50 ms' 'p95 ms' 'p99 ms' errors 'CPU us/req' steal
for round in $(seq 1 "$ROUNDS"); do
	if ((round % 2)); then order="carepath opa"; else order="opa carepath"; fi
	for engine in $order; do
		run "$engine" "$round"
	done
done

say "in process: opa bench on the scored input, then Carepath's Go benchmarks on the same case"
"$opa" eval --input "$here/input.json" --format raw input.input >"$work/input-document.json"
"$opa" bench --count 3 --format gobench --data "$here/triage.rego" --input "$work/input-document.json" data.carepath.triage.decision |
	awk '/^Benchmark/ { print $1, $2, $3, $4, $(NF-3), $(NF-2), $(NF-1), $NF }'
go test ./bench/opa -run '^$' -bench Decide -benchmem -count 3 | grep -E '^Benchmark'
go test ./server -run '^$' -bench 'Decide/sqlite' -benchmem -count 3 | grep -E '^Benchmark'
