"""Engine.evaluate_arrow against the Rust engine's own bytes path, in one run.

The representative inputs and the Rust figure come from the benches' `node_reference`
example, as for the Node binding's bench: it writes the cases as JSON lines and prints the
mean ns per `Engine::evaluate_json` over them (with `--no-functions`, of an engine with
no host functions, as this binding's engines are for now). Those lines, repeated to ROWS rows, make one
pyarrow string array, decided by evaluate_arrow on one thread and on every core; then the
same rows as struct columns.

    .venv/bin/python bench/bench_arrow.py [rows] [rounds]   (after ./test.sh; from bindings/python)
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

import acs

REPO = Path(__file__).resolve().parents[3]
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def rust_reference(cases_file, *flags):
    subprocess.run(
        ["cargo", "build", "-q", "--release", "-p", "acs-benches", "--example", "node_reference"],
        cwd=REPO,
        check=True,
    )
    exe = REPO / "target" / "release" / "examples" / "node_reference"
    # Best of ROUNDS runs, as for evaluate_arrow: the least disturbed by other work.
    runs = []
    for _ in range(ROUNDS):
        out = subprocess.run([str(exe), str(cases_file), str(ROWS), *flags], check=True, capture_output=True, text=True)
        runs.append(json.loads(out.stdout))
    return min(runs, key=lambda run: run["evaluate_json_ns"])


def best_ns_per_row(engine, data, threads):
    engine.evaluate_arrow(data, threads=threads)  # warm up
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter_ns()
        result = engine.evaluate_arrow(data, threads=threads)
        best = min(best, time.perf_counter_ns() - started)
    assert pa.record_batch(result).num_rows == len(data)
    return best / len(data)


def main():
    with tempfile.TemporaryDirectory(prefix="acs-bench-") as tmp:
        cases_file = Path(tmp) / "cases.jsonl"
        rust = rust_reference(cases_file)
        # The same rules with no host functions, as this engine has them: the same work.
        plain = rust_reference(cases_file, "--no-functions")
        lines = [line for line in cases_file.read_text().splitlines() if line]
    data = pa.array([lines[i % len(lines)] for i in range(ROWS)])
    # The rules of the benches' bundle. The binding registers no host functions yet, so
    # the rules calling them record an error where the Rust reference calls its stubs;
    # the ratio is taken against the Rust engine in the same state.
    engine = acs.Engine.from_path(str(REPO / "rules" / "acs_rules_top25.yaml"))
    one = best_ns_per_row(engine, data, 1)
    every = best_ns_per_row(engine, data, None)
    # The same rows as struct columns `event`, `ctx`, `system`, `db` (each row's struct
    # holds the fields of every event type, null where it has none).
    docs = [json.loads(line) for line in lines]
    structs = pa.Table.from_pylist([docs[i % len(docs)] for i in range(ROWS)]).combine_chunks().to_batches()[0]
    struct_one = best_ns_per_row(engine, structs, 1)
    struct_every = best_ns_per_row(engine, structs, None)
    rust_ns = plain["evaluate_json_ns"]
    print(f"{len(lines)} representative inputs x {ROWS} rows, best of {ROUNDS}; {os.cpu_count()} cpus")
    print("| path | ns/row | vs Rust evaluate_json |")
    print("|---|---:|---:|")
    print(f"| evaluate_arrow, threads=1 | {one:.0f} | {one / rust_ns:.2f}x |")
    print(f"| evaluate_arrow, threads=default | {every:.0f} | {every / rust_ns:.2f}x |")
    print(f"| evaluate_arrow, struct columns, threads=1 | {struct_one:.0f} | {struct_one / rust_ns:.2f}x |")
    print(f"| evaluate_arrow, struct columns, threads=default | {struct_every:.0f} | {struct_every / rust_ns:.2f}x |")
    print(f"| Rust Engine::evaluate_json, no host functions (reference) | {rust_ns:.0f} | 1.00x |")
    with_functions = rust["evaluate_json_ns"]
    print(f"| Rust Engine::evaluate_json, the benches' host functions | {with_functions:.0f} | {with_functions / rust_ns:.2f}x |")


if __name__ == "__main__":
    main()
