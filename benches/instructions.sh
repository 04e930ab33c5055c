#!/usr/bin/env bash
# Instructions per evaluation for every bench event, from callgrind (deterministic: the
# same count on every run of the same binary and input, whatever the machine's speed).
#
#   benches/instructions.sh [BIN_DIR]
#
# BIN_DIR holds `profile` and `bytes_path` (default: target/release/examples, built here).
# Per evaluation = (total for N+1 rounds - total for 1 round) / N, so start-up cancels.
# Columns: `evaluate` (pre-parsed Value), `evaluate_json` (the bytes path).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet -p acs-benches --example profile --example bytes_path
  bin=target/release/examples
fi
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
rounds=${ROUNDS:-2000}

total() { # total instructions of one run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
    awk '/Collected :/ { print $NF }'
}
per_call() { # per-call instructions of `cmd event rounds [mode]`
  local cmd=$1 event=$2 mode=${3:-}
  local one many
  one=$(total "$bin/$cmd" "$event" 1 $mode)
  many=$(total "$bin/$cmd" "$event" $((rounds + 1)) $mode)
  echo $(( (many - one) / rounds ))
}

echo "| event | evaluate | evaluate_json |"
echo "|---|---:|---:|"
for event in unknown_event gps_ping pod_uploaded truck_create_over_limit message_send_pii \
             bid_create_clean inspection_uploaded bid_create_kyc_missing; do
  echo "| $event | $(per_call profile "$event") | $(per_call bytes_path "$event" engine) |"
done
