"""A/B of `evaluate_many` between two builds of the binding, interleaved in one run: each
interpreter given (a virtual environment with one build installed) runs one process in
turn, `processes` times. A process alternates 1-thread and 2-thread batches of 100,000
inputs (the `rules/examples` inputs, or with `--cases FILE` the JSON lines of FILE, as
`benches/examples/node_reference` writes them), `rounds` times, with the stub table, and
keeps the fastest of each: other work on a shared machine only ever slows a run.

    python bench/ab_many.py PYTHON_A PYTHON_B [processes] [--dicts] [--rounds N] [--cases FILE]

Prints, per build: the fastest 1-thread and 2-thread ns/input over all processes, the
median of the processes' own fastest, and the ratio of the fastest (2 threads / 1).
Run by each interpreter with `--process`, it measures and prints one process's figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules" / "acs_rules_top25.yaml"
STUBS = REPO / "rules" / "examples" / "stubs.json"


def measure(dicts: bool, rounds: int, cases: str) -> Tuple[float, float]:
    import acs

    if cases:
        texts = [line.encode() for line in Path(cases).read_text().splitlines() if line]
    else:
        examples = sorted((REPO / "rules" / "examples").glob("*.json"))
        texts = [p.read_bytes() for p in examples if p.name != "stubs.json"]
    given = [json.loads(t) for t in texts] if dicts else texts
    inputs = [given[i % len(given)] for i in range(100_000)]
    engine = acs.Engine.from_path(RULES, stubs=STUBS)
    engine.evaluate_many(inputs[:1000], threads=2)

    def ns(threads: int) -> float:
        started = time.perf_counter_ns()
        engine.evaluate_many(inputs, threads=threads)
        return (time.perf_counter_ns() - started) / len(inputs)

    one: List[float] = []
    two: List[float] = []
    for _ in range(rounds):
        one.append(ns(1))
        two.append(ns(2))
    return min(one), min(two)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("builds", nargs="*")
    parser.add_argument("--process", action="store_true")
    parser.add_argument("--dicts", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="")
    args, rest = parser.parse_known_args()
    if args.process:
        print(json.dumps(measure(args.dicts, args.rounds, args.cases)))
        return
    builds = args.builds[:2]
    processes = int(args.builds[2]) if len(args.builds) > 2 else 6
    flags = ["--rounds", str(args.rounds)] + (["--dicts"] if args.dicts else [])
    flags += ["--cases", args.cases] if args.cases else []
    figures: dict[str, list[Tuple[float, float]]] = {b: [] for b in builds}
    for _ in range(processes):
        for build in builds:
            out = subprocess.run([build, __file__, "--process", *flags], check=True, capture_output=True, text=True)
            one, two = json.loads(out.stdout)
            figures[build].append((one, two))
    for build in builds:
        runs = figures[build]
        one = min(r[0] for r in runs)
        two = min(r[1] for r in runs)
        print(
            f"{build}: fastest 1 thread {one:.0f} ns/input, 2 threads {two:.0f}; "
            f"medians of the processes {statistics.median(r[0] for r in runs):.0f} / "
            f"{statistics.median(r[1] for r in runs):.0f}; 2 threads / 1 {one / two:.2f}x"
        )


if __name__ == "__main__":
    main()
