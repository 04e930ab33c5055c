"""Engine.evaluate_arrow against the Rust engine's own bytes path, in one run.

The representative inputs and the Rust figure come from the benches' `node_reference`
example, as for the Node binding's bench: it writes the cases as JSON lines and prints the
mean ns per `Engine::evaluate_json` over them (with `--no-functions`, of an engine with
no host functions). Those lines, repeated to ROWS rows, make one pyarrow string array,
decided by evaluate_arrow on one thread and on every core; then the same rows as struct
columns. The Rust reference and every path run once per round, interleaved, ROUNDS rounds.

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


def build_reference():
    subprocess.run(
        ["cargo", "build", "-q", "--release", "-p", "acs-benches", "--example", "node_reference"],
        cwd=REPO,
        check=True,
    )


def rust_reference(cases_file, *flags):
    """One run of the Rust reference over the cases (which it writes to `cases_file`)."""
    exe = REPO / "target" / "release" / "examples" / "node_reference"
    out = subprocess.run([str(exe), str(cases_file), str(ROWS), *flags], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def ns_per_row(engine, data, threads):
    started = time.perf_counter_ns()
    result = engine.evaluate_arrow(data, threads=threads)
    elapsed = time.perf_counter_ns() - started
    assert pa.record_batch(result).num_rows == len(data)
    return elapsed / len(data)


def main():
    build_reference()
    with tempfile.TemporaryDirectory(prefix="acs-bench-") as tmp:
        cases_file = Path(tmp) / "cases.jsonl"
        rust_reference(cases_file)
        lines = [line for line in cases_file.read_text().splitlines() if line]
        data = pa.array([lines[i % len(lines)] for i in range(ROWS)])
        # The same rows as struct columns `event`, `ctx`, `system`, `db` (each row's struct
        # holds the fields of every event type, null where it has none).
        docs = [json.loads(line) for line in lines]
        structs = pa.Table.from_pylist([docs[i % len(docs)] for i in range(ROWS)]).combine_chunks().to_batches()[0]
        # The rules of the benches' bundle with no host functions: the rules calling them
        # record an error, and the Rust reference run with `--no-functions` does the same work.
        engine = acs.Engine.from_path(str(REPO / "rules" / "acs_rules_top25.yaml"))
        paths = {
            "evaluate_arrow, threads=1": (data, 1),
            "evaluate_arrow, threads=default": (data, None),
            "evaluate_arrow, struct columns, threads=1": (structs, 1),
            "evaluate_arrow, struct columns, threads=default": (structs, None),
        }
        for rows, threads in paths.values():
            engine.evaluate_arrow(rows, threads=threads)  # warm up
        # Side by side: each round runs the Rust reference and then every path once; each
        # figure is the fastest of its ROUNDS runs (other work on the machine only slows).
        best = {name: float("inf") for name in [*paths, "rust", "rust_functions"]}
        for _ in range(ROUNDS):
            best["rust"] = min(best["rust"], rust_reference(cases_file, "--no-functions")["evaluate_json_ns"])
            best["rust_functions"] = min(best["rust_functions"], rust_reference(cases_file)["evaluate_json_ns"])
            for name, (rows, threads) in paths.items():
                best[name] = min(best[name], ns_per_row(engine, rows, threads))
    rust_ns = best["rust"]
    print(f"{len(lines)} representative inputs x {ROWS} rows, fastest of {ROUNDS} interleaved rounds; {os.cpu_count()} cpus")
    print("| path | ns/row | vs Rust evaluate_json |")
    print("|---|---:|---:|")
    for name in paths:
        print(f"| {name} | {best[name]:.0f} | {best[name] / rust_ns:.2f}x |")
    print(f"| Rust Engine::evaluate_json, no host functions (reference) | {rust_ns:.0f} | 1.00x |")
    with_functions = best["rust_functions"]
    print(f"| Rust Engine::evaluate_json, the benches' host functions | {with_functions:.0f} | {with_functions / rust_ns:.2f}x |")


if __name__ == "__main__":
    main()
