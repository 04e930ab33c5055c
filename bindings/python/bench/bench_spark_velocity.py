#!/usr/bin/env python3
"""Issue #17 on Spark: what counting velocity in time order costs a Spark backtest, in
one run, side by side.

N payments of N / 10 users over one day (each user ten in under a second), shuffled, are written as Parquet
(`line` int64, `value` the JSON text) and as one JSON-lines file. Then, ROUNDS times,
interleaved:

  (v)  acs.spark.backtest of a rule reading a counter with `time:` and `id:` (the
       time-ordered pipeline: events gathered, shuffled by counter and key, counted in
       the engine's timeline, joined back by line, decided);
  (p)  the same backtest of the same rule without the count and no counter declared
       (one job, as before velocity);
  (r)  acs replay --threads 2 of the velocity rule on the JSON lines.

The Spark report of (v) must equal acs replay's field for field, `throughput` aside.

    bindings/python/.venv/bin/python bindings/python/bench/bench_spark_velocity.py [N] [--rounds R]

Build first: cargo build --release -p acs-cli; the binding installed in the venv.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

REPO = Path(__file__).resolve().parents[3]
ACS = REPO / "target" / "release" / "acs"

VELOCITY = """
velocity:
  - name: pays
    events: [pay]
    key: ctx.userId
    windows: [1m, 1h]
    time: event.at
    id: event.id
rules:
  - id: BURST
    priority: 1
    severity: medium
    description: a fourth payment within a minute
    condition: "event.type == 'pay' && ctx.amount > 0 && velocity.count('pays', ctx.userId, '1m') > 3"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
"""

PLAIN = """
- id: BURST
  priority: 1
  severity: medium
  description: a fourth payment within a minute
  condition: "event.type == 'pay' && ctx.amount > 0"
  action: [ { flagWatchlist: { reason: burst } } ]
  audit: false
"""


def without_throughput(report: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in report.items() if k != "throughput"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    os.environ["PYSPARK_PYTHON"] = sys.executable
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import SparkSession

    import acs.spark

    work = Path(tempfile.mkdtemp(prefix="acs-spark-velocity-"))
    # Removed however the bench ends (an assertion, Ctrl-C): the inputs are regenerated.
    atexit.register(shutil.rmtree, work, True)
    users = max(1, n // 10)
    rng = random.Random(17)
    order = list(range(n))
    rng.shuffle(order)
    lines = []
    for k in order:
        at = 1_764_800_000_000 + k * 86_400_000 // n
        lines.append(json.dumps({"event": {"type": "pay", "at": at, "id": f"E{k}"},
                                 "ctx": {"userId": f"U-{(k // 10) % users}", "amount": 10}}))
    (work / "input.jsonl").write_text("".join(line + "\n" for line in lines))
    pq.write_table(pa.table({"line": pa.array(range(1, n + 1), pa.int64()), "value": lines}),
                   work / "input.parquet", row_group_size=131_072)
    (work / "velocity.yaml").write_text(VELOCITY)
    (work / "plain.yaml").write_text(PLAIN)
    del lines

    spark = (SparkSession.builder.master("local[2]").appName("acs-velocity-bench")
             .config("spark.ui.enabled", "false").config("spark.driver.memory", "4g")
             .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(str(work / "input.parquet"))

    times: Dict[str, list] = {"v": [], "p": [], "r": []}
    reports: Dict[str, Any] = {}
    for _ in range(args.rounds):
        started = time.monotonic()
        reports["v"] = acs.spark.backtest(df, str(work / "velocity.yaml"), column="value", line="line")
        times["v"].append(time.monotonic() - started)
        started = time.monotonic()
        reports["p"] = acs.spark.backtest(df, str(work / "plain.yaml"), column="value", line="line")
        times["p"].append(time.monotonic() - started)
        started = time.monotonic()
        done = subprocess.run([str(ACS), "replay", "--threads", "2", "--format", "json", "--rules",
                               str(work / "velocity.yaml"), str(work / "input.jsonl")],
                              capture_output=True, text=True)
        times["r"].append(time.monotonic() - started)
        assert done.returncode in (0, 1), done.stderr
        reports["r"] = json.loads(done.stdout)
    spark.stop()
    same = without_throughput(reports["v"]) == without_throughput(reports["r"])
    matches = next(r["matches"] for r in reports["v"]["rules"] if r["id"] == "BURST")
    print(f"{n:,} shuffled payments of {users:,} users; {args.rounds} interleaved rounds; Spark local[2]")
    for key, label in (("v", "Spark, velocity rule (time-ordered)"), ("p", "Spark, same rule, no counter"),
                       ("r", "acs replay --threads 2, velocity rule")):
        shown = ", ".join(f"{t:.1f}" for t in times[key])
        print(f"{label:<40} {shown} s; median {statistics.median(times[key]):.1f} s")
    ratio = [v / p for v, p in zip(times["v"], times["p"])]
    print(f"velocity / no counter on Spark, per round: {', '.join(f'{r:.2f}' for r in ratio)}; "
          f"median {statistics.median(ratio):.2f}x")
    print(f"Spark report equals acs replay's (throughput aside): {same}; BURST matches {matches:,}")


if __name__ == "__main__":
    main()
