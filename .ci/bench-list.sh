#!/usr/bin/env bash
# Reproduces the list-scale figures of docs/benchmarks.md (issue 9), as root
# (one lab per machine: wrap it in `flock /tmp/fwlab.lock` on a shared one).
# Needs jq. Usage: .ci/bench-list.sh [FIREWATCH_BINARY]
#
# 1. `lab verify` of a generated N-target scenario (default 1,000), wall time.
# 2. In one lab of that scenario: `firewatch run` over all N targets with the
#    defaults (parallel schedule, --concurrency 64), and the baseline,
#    `--concurrency 1 --schedule serial`, over a stratified sample of S
#    targets (default 20) with the mix's exact proportions; the baseline of N
#    is the sample's time × N / S. The sample's statuses and methods must be
#    the same under both schedules.
set -euo pipefail
bin=$(realpath "${1:-./firewatch}")
n=${N:-1000}
s=${SAMPLE:-20}
seed=${SEED:-1}
dir=$(mktemp -d)
trap '"$bin" lab down >/dev/null 2>&1 || true' EXIT
"$bin" lab gen --targets "$n" --seed "$seed" >"$dir/list.yaml"

start=$(date +%s.%N)
"$bin" lab verify --scenario "$dir/list.yaml" >"$dir/verify.txt" 2>"$dir/verify.err" || true
verify_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "lab verify, $n targets: $(tail -1 "$dir/verify.txt") in ${verify_s}s (lab up and down included)"

grep -o 'target: "[^"]*"' "$dir/list.yaml" | cut -d'"' -f2 >"$dir/all.list"
# The sample: the first targets of each technique, in the mix's proportions
# (a generated scenario of S targets has the counts: take as many of each).
"$bin" lab gen --targets "$s" --seed "$seed" >"$dir/sample.yaml"
: >"$dir/sample.list"
for tech in blackhole dns falun mitm blockpage throttle down ok; do
	k=$(grep -o 'target: "[^"]*"' "$dir/sample.yaml" | grep -c "//$tech-" || true)
	[ "$k" -gt 0 ] && grep "//$tech-" "$dir/all.list" | head -n "$k" >>"$dir/sample.list"
done

"$bin" lab up --scenario "$dir/list.yaml" >/dev/null 2>&1
run() { # name list flags...
	local name=$1 list=$2
	shift 2
	local t0
	t0=$(date +%s.%N)
	"$bin" lab exec -- "$bin" run --list "$list" --out "$dir/$name.jsonl" --no-progress "$@" 2>"$dir/$name.err"
	echo "$(date +%s.%N) - $t0" | bc
}
par_s=$(run parallel "$dir/all.list")
par_sample_s=$(run parallel-sample "$dir/sample.list")
ser_s=$(run serial-sample "$dir/sample.list" --concurrency 1 --schedule serial)
"$bin" lab down >/dev/null

outcomes() { jq -r '[.input, .status, (.methods | sort | join(","))] | @tsv' "$1" | sort; }
expected() { # the expect list of a generated scenario (one method per entry at most)
	sed -n 's/^  - {target: "\([^"]*\)", status: \([a-z]*\)\(, methods: \[\([^]]*\)\]\)\?}$/\1\t\2\t\4/p' "$1" | sort
}
if diff <(expected "$dir/list.yaml") <(outcomes "$dir/parallel.jsonl") >"$dir/diff-all.txt"; then
	all="every one of the $n records has the expected status and methods"
else
	all="records DIFFER from the expectations: see $dir/diff-all.txt"
fi
if diff <(outcomes "$dir/serial-sample.jsonl") <(outcomes "$dir/parallel-sample.jsonl") >"$dir/diff.txt"; then
	same="same statuses and methods for all $(wc -l <"$dir/sample.list") sample targets"
else
	same="DIFFERENT outcomes: $(cat "$dir/diff.txt")"
fi
baseline=$(echo "$ser_s * $n / $(wc -l <"$dir/sample.list")" | bc)
echo "firewatch run, $n targets, defaults: ${par_s}s ($(tail -1 "$dir/parallel.err")); $all"
echo "baseline --concurrency 1 --schedule serial: ${ser_s}s for $(wc -l <"$dir/sample.list") targets → ${baseline}s for $n"
echo "speed-up: $(echo "$baseline / $par_s" | bc)x; $same"
echo "files in $dir"
