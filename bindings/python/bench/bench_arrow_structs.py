"""evaluate_arrow on the same rows as a JSON column and as struct columns, in one run: the
stub table, the four `rules/examples` requests repeated to 100,000 rows, best of 3.

    .venv/bin/python bench/bench_arrow_structs.py   (from bindings/python)
"""

import json
import time
from pathlib import Path

import pyarrow as pa

import acs

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules"
ROWS = 100_000


def best_ns_per_row(engine, batch, threads):
    engine.evaluate_arrow(batch, threads=threads)  # warm up
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter_ns()
        engine.evaluate_arrow(batch, threads=threads)
        best = min(best, (time.perf_counter_ns() - started) / ROWS)
    return best


def main():
    examples = sorted(p for p in (RULES / "examples").glob("*.json") if p.name != "stubs.json")
    docs = [json.loads(p.read_text()) for p in examples]
    rows = [docs[i % len(docs)] for i in range(ROWS)]
    engine = acs.Engine.from_path(RULES, stubs=RULES / "examples" / "stubs.json")
    structs = pa.Table.from_pylist(rows).to_batches()[0]
    texts = pa.record_batch([pa.array([json.dumps(d) for d in rows])], names=["json"])
    for threads in (1, 2):
        as_json = best_ns_per_row(engine, texts, threads)
        as_structs = best_ns_per_row(engine, structs, threads)
        print(
            f"threads={threads}: JSON column {as_json:.0f} ns/row, struct columns {as_structs:.0f} ns/row,"
            f" struct / JSON {as_structs / as_json:.2f}"
        )


if __name__ == "__main__":
    main()
