#!/usr/bin/env bash
# Instructions per evaluation that recording a decision adds on the request thread, from
# callgrind (deterministic, whatever the machine's speed): (I(N+1) - I(1)) / N of
# `audit profile CASE ROUNDS [json|owned] [off]`, whose writer is held before the loop and
# whose queue has room for every record: each is built and queued as in service, and
# nothing of the writer's work (nor the record's drop, which the writer does) is counted.
#
#   benches/audit_instructions.sh            (ROUNDS=1000 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p acs-benches --example audit
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
bin=target/release/examples/audit
n=${ROUNDS:-1000}
total() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | awk '/Collected :/ { print $NF }'; }
per() {
  local case=$1; shift
  local one many
  one=$(total $bin profile "$case" 1 "$@")
  many=$(total $bin profile "$case" $((n + 1)) "$@")
  echo $(( (many - one) / n ))
}
# percentages to one decimal (tenths, rounded down)
pct() { local tenths=$(( ($2 - $1) * 1000 / $1 )); echo "+$(( tenths / 10 )).$(( tenths % 10 ))%"; }
# evaluate_json_owned and evaluate_owned: the loop's copy of the bytes or document is in
# both runs; a recorded decision hands it to the writer, so the request thread skips its
# drop (and makes no copy of its own).
echo "| case | evaluate_json off | on, recorded | added | evaluate_json_owned off | on, recorded | added | evaluate off | on, recorded | added | evaluate_owned off | on, recorded | added (instructions) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for case in unknown_event gps_ping pod_uploaded truck_create_over_limit message_send_pii bid_create_clean inspection_uploaded bid_create_kyc_missing; do
  a=$(per "$case" json off); b=$(per "$case" json); g=$(per "$case" json owned off); h=$(per "$case" json owned)
  c=$(per "$case" off); d=$(per "$case")
  e=$(per "$case" owned off); f=$(per "$case" owned)
  echo "| $case | $a | $b | $(pct "$a" "$b") | $g | $h | $(pct "$g" "$h") | $c | $d | $(pct "$c" "$d") | $e | $f | $(( f - e )) |"
done
