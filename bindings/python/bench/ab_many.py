"""A/B of `evaluate_many` scaling between two builds of the binding, interleaved in one
run: each interpreter given (a virtual environment with one build installed) measures
one pair (1 thread, then 2 threads) over 100,000 JSON inputs with the stub table, in
turn, `pairs` times; then the median 2-thread / 1-thread ratio of each.

    python bench/ab_many.py PYTHON_A PYTHON_B [pairs]

Run by each interpreter with `--pair`, it measures one pair and prints the ratio.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules" / "acs_rules_top25.yaml"
STUBS = REPO / "rules" / "examples" / "stubs.json"


def pair() -> float:
    import acs

    examples = sorted((REPO / "rules" / "examples").glob("*.json"))
    buffers = [p.read_bytes() for p in examples if p.name != "stubs.json"]
    inputs = [buffers[i % len(buffers)] for i in range(100_000)]
    engine = acs.Engine.from_path(RULES, stubs=STUBS)
    engine.evaluate_many(inputs[:1000], threads=2)

    def ns(threads: int) -> float:
        started = time.perf_counter_ns()
        engine.evaluate_many(inputs, threads=threads)
        return (time.perf_counter_ns() - started) / len(inputs)

    return ns(1) / ns(2)


def main() -> None:
    if sys.argv[1:2] == ["--pair"]:
        print(f"{pair():.4f}")
        return
    builds = sys.argv[1:3]
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    ratios: dict[str, list[float]] = {b: [] for b in builds}
    for _ in range(pairs):
        for build in builds:
            out = subprocess.run([build, __file__, "--pair"], check=True, capture_output=True, text=True)
            ratios[build].append(float(out.stdout))
    for build in builds:
        values = sorted(ratios[build])
        shown = " ".join(f"{r:.2f}" for r in values)
        print(f"{build}: {shown}; median {values[len(values) // 2]:.2f}")


if __name__ == "__main__":
    main()
