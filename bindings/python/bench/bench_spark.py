#!/usr/bin/env python3
"""Issue #16: backtests on Spark `local[2]` beside `acs replay --threads 2`, in one run.

N recorded requests are generated from the valid lines of `rules/examples/recorded.jsonl`
(cycled; each gets `"seq": <its line number>` as the first field of its `event`, a field
no rule reads, so every row differs and every verdict stays the sample's), and written
twice: as one JSON-lines file for `acs replay`, and as Parquet files (snappy, 128k-row
row groups) with the columns `line` (int64, the row's line number in the JSON-lines file)
and `value` (the same JSON text) for Spark.

Then, ROUNDS times, interleaved so that the machine's swings hit every path alike:

  (d)  acs replay --threads 2 on the JSON lines (a subprocess; wall clock)
  (b)  acs.spark.backtest(spark.read.parquet(...), column="value", line="line") on
       Spark local[2]: the headline, as a user runs it
  (e)  the same backtest on the JSON-lines file read with spark.read.text (not Parquet)
  (a)  the same read, its Arrow batches handed to Python workers that only count rows
       (mapInArrow): Spark's Parquet scan + row conversion + Arrow + the Python worker
  (a0) the same read aggregated in the JVM (sum of octet_length(value)): the scan alone
  (c1) the engine alone: one Python process reading the Parquet with pyarrow (one
       thread) and counting its 10k-row batches with BacktestRun.count_arrow
  (c2) the same in two processes, each taking half the files

and once after the rounds, an instrumented copy of acs.spark's worker function (the same
calls, timed inside the Python workers: waiting for the next batch vs in count_arrow).

The Spark report must equal acs replay's field for field except `throughput` (the
`line` column numbers Spark's rows, so example line numbers compare too: Spark packs
Parquet splits into partitions largest first, not in file order). CPU seconds per
process group (the JVM, Spark's Python workers, acs replay) come from /proc.

    bindings/python/.venv/bin/python bindings/python/bench/bench_spark.py [N] [--work DIR] [--reuse] [--rounds R]

Build first: cargo build --release -p acs-cli; (cd bindings/python && .venv/bin/python -m maturin develop --release).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules" / "acs_rules_top25.yaml"
STUBS = REPO / "rules" / "examples" / "stubs.json"
RECORDED = REPO / "rules" / "examples" / "recorded.jsonl"
ACS = REPO / "target" / "release" / "acs"
PREFIX = '{"event":{'
CHUNK = 250_000  # rows generated at a time
ROW_GROUP = 131_072
BATCH = 10_000  # = Spark's default spark.sql.execution.arrow.maxRecordsPerBatch
TICK = os.sysconf("SC_CLK_TCK")


# --- generation ------------------------------------------------------------------------


def valid_lines() -> List[str]:
    lines = []
    for line in RECORDED.read_text(encoding="utf-8").split("\n"):
        try:
            json.loads(line)  # strict: the line with a raw control character fails
        except ValueError:
            continue
        if not (line.startswith(PREFIX) and line[len(PREFIX)] == '"'):
            raise SystemExit(f"a recorded line does not start with {PREFIX}\"...: {line[:60]}")
        lines.append(line)
    return lines


def generate(n: int, work: Path, reuse: bool) -> Tuple[Path, Path, List[Path]]:
    jsonl = work / "requests.jsonl"
    folder = work / "requests.parquet"
    meta = work / "meta.json"
    source = RECORDED.read_bytes()
    want = {"rows": n, "recorded_bytes": len(source), "recorded_hash": hash_bytes(source), "format": 2}
    if reuse and meta.exists() and json.loads(meta.read_text()) == want:
        files = sorted(folder.glob("*.parquet"))
        print(f"reusing {n:,} rows in {work}")
        return jsonl, folder, files
    if work.exists():
        shutil.rmtree(work)
    folder.mkdir(parents=True)
    lines = valid_lines()
    rests = pa.array([line[len(PREFIX) :] for line in lines], pa.string())
    # An even number of files of at most ~1M rows: Spark reads them two at a time.
    nfiles = max(4, -(-n // 1_000_000))
    nfiles += nfiles % 2
    per_file = -(-n // nfiles)
    started = time.monotonic()
    files = []
    with open(jsonl, "wb") as out:
        for k in range(nfiles):
            lo, hi = k * per_file, min(n, (k + 1) * per_file)
            if lo >= hi:
                break
            path = folder / f"part-{k:05d}.parquet"
            files.append(path)
            schema = pa.schema([("line", pa.int64()), ("value", pa.string())])
            with pq.ParquetWriter(path, schema, compression="snappy") as writer:
                for start in range(lo, hi, CHUNK):
                    end = min(hi, start + CHUNK)
                    numbers = np.arange(start + 1, end + 1, dtype=np.int64)
                    rest = rests.take(pa.array(np.arange(start, end, dtype=np.int64) % len(lines)))
                    seq = pc.cast(pa.array(numbers), pa.string())
                    value = pc.binary_join_element_wise('{"event":{"seq":', seq, ",", rest, "")
                    with_newline = pc.binary_join_element_wise(value, "\n", "")
                    offsets = np.frombuffer(with_newline.buffers()[1], dtype=np.int32)
                    first, last = offsets[with_newline.offset], offsets[with_newline.offset + len(with_newline)]
                    out.write(memoryview(with_newline.buffers()[2])[first:last])
                    table = pa.table({"line": pa.array(numbers), "value": value}, schema=schema)
                    writer.write_table(table, row_group_size=ROW_GROUP)
    meta.write_text(json.dumps(want))
    size = sum(f.stat().st_size for f in files)
    print(
        f"generated {n:,} rows in {time.monotonic() - started:.1f} s: {jsonl} "
        f"({jsonl.stat().st_size / 1e9:.2f} GB), {len(files)} Parquet files ({size / 1e9:.2f} GB, snappy)"
    )
    return jsonl, folder, files


def hash_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# --- CPU accounting --------------------------------------------------------------------


def proc_table() -> Dict[int, Tuple[int, float]]:
    """pid -> (parent pid, CPU seconds so far) of every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK)
    return table


def descendants(table: Dict[int, Tuple[int, float]], root: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class SparkCpu:
    """CPU seconds of the JVM and of its descendants (Spark's Python daemon and workers)
    over a measured span."""

    def __init__(self, jvm: int):
        self.jvm = jvm

    def snapshot(self) -> Dict[str, Dict[int, float]]:
        table = proc_table()
        workers = descendants(table, self.jvm)
        return {
            "jvm": {self.jvm: table[self.jvm][1]},
            "python": {p: table[p][1] for p in workers if p in table},
            "driver": {os.getpid(): table[os.getpid()][1]},
        }

    @staticmethod
    def spent(before: Dict[str, Dict[int, float]], after: Dict[str, Dict[int, float]]) -> Dict[str, float]:
        return {
            group: sum(cpu - before[group].get(pid, 0.0) for pid, cpu in after[group].items())
            for group in after
        }


def jvm_pid() -> int:
    table = proc_table()
    for pid in descendants(table, os.getpid()):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "java":
                    return pid
        except OSError:
            pass
    raise SystemExit("no java process under this one: is the Spark session started?")


# --- the paths -------------------------------------------------------------------------


def without_throughput(report: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in report.items() if k != "throughput"}


def replay(path: Path) -> Tuple[float, float, Dict[str, Any]]:
    """acs replay --threads 2: wall seconds, CPU seconds, the report."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(
        [str(ACS), "replay", "--rules", str(RULES), "--functions", str(STUBS), "--threads", "2",
         "--format", "json", str(path)],
        check=True, capture_output=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(out.stdout)


def engine_alone(paths: List[str]) -> Tuple[int, float, float, float, float, bytes]:
    """One process (a pool worker): read `paths` with pyarrow on one thread in 10k-row
    batches and count them with BacktestRun.count_arrow. Rows, seconds reading, seconds
    in count_arrow (wall, then CPU), process CPU seconds, the merged part."""
    from acs._acs import BacktestRun

    cpu0 = time.process_time()
    run = BacktestRun([(str(RULES), RULES.read_text())], None, STUBS.read_text(), False, 5)
    rows, reading, counting, counting_cpu = 0, 0.0, 0.0, 0.0
    parts = []
    for path in paths:
        batches = pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["value", "line"], use_threads=False)
        while True:
            t0 = time.perf_counter()
            batch = next(batches, None)
            t1 = time.perf_counter()
            reading += t1 - t0
            if batch is None:
                break
            c0 = time.thread_time()
            counted, part = run.count_arrow(batch, column="value", line="line")
            counting_cpu += time.thread_time() - c0
            counting += time.perf_counter() - t1
            parts.append((0, part))
            rows += counted
    merged = run.merge(parts)
    return rows, reading, counting, counting_cpu, time.process_time() - cpu0, merged


def warm(_: int) -> None:
    """A pool worker's imports and a first compile of the rules, before anything is timed."""
    from acs._acs import BacktestRun

    BacktestRun([(str(RULES), RULES.read_text())], None, STUBS.read_text(), False, 5)


def timed_worker(shipped: Any, line: str, column: str) -> Any:
    """acs.spark.backtest's worker function (the same calls: count each Arrow batch with
    BacktestRun.count_arrow, merge the parts) with timers: seconds waiting for the next
    batch (Spark's side), in count_arrow (the engine), and the rest. Self-contained (the
    rules compiled per task, ~2 ms) so that it does not lean on acs.spark's internals."""
    from pyspark import TaskContext

    def count(batches: Iterator[Any]) -> Iterator[Any]:
        from acs._acs import BacktestRun

        t_start = time.perf_counter()
        cpu0 = time.process_time()
        shipment = shipped.value
        run = BacktestRun(shipment["rules"], None, shipment["stubs"], False, 5)
        parts, rows, waiting, counting, counting_cpu = [], 0, 0.0, 0.0, 0.0
        it = iter(batches)
        while True:
            t0 = time.perf_counter()
            batch = next(it, None)
            t1 = time.perf_counter()
            waiting += t1 - t0
            if batch is None:
                break
            if batch.num_rows == 0:
                continue
            c0 = time.thread_time()
            counted, part = run.count_arrow(batch, first_line=rows + 1, line=line, column=column)
            counting_cpu += time.thread_time() - c0
            counting += time.perf_counter() - t1
            parts.append((0, part))
            rows += counted
        run.merge(parts)
        context = TaskContext.get()
        yield pa.RecordBatch.from_pydict({
            "partition": [context.partitionId() if context else 0],
            "pid": [os.getpid()],
            "rows": [rows],
            "waiting": [waiting],
            "counting": [counting],
            "counting_cpu": [counting_cpu],
            "wall": [time.perf_counter() - t_start],
            "cpu": [time.process_time() - cpu0],
        })

    return count


def count_only(batches: Iterable[Any]) -> Iterator[Any]:
    rows = 0
    for batch in batches:
        rows += batch.num_rows
    yield pa.RecordBatch.from_pydict({"rows": [rows]}, schema=pa.schema([("rows", pa.int64())]))


# --- report helpers --------------------------------------------------------------------


def machine() -> Dict[str, str]:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for row in f:
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.strip().splitlines()
    import pyspark

    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "cpu": model,
        "memory": f"{mem:.0f} GiB",
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "pyspark": pyspark.__version__,
        "pyarrow": pa.__version__,
        "java": java[0] if java else "?",
        "acs": subprocess.run([str(ACS), "--version"], capture_output=True, text=True).stdout.strip(),
        "commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip()
        + (" (with uncommitted changes)" if subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                                           "--untracked-files=no"], capture_output=True,
                                                          text=True).stdout.strip() else ""),
    }


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rows", nargs="?", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/acs-bench-spark"))
    parser.add_argument("--reuse", action="store_true", help="keep the generated data, and use it if it is there")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.rows
    begun = time.monotonic()
    command = " ".join([sys.executable, *sys.argv])
    for needed in (ACS,):
        if not needed.exists():
            raise SystemExit(f"{needed}: build it first (cargo build --release -p acs-cli)")

    print(f"# acs bench_spark: {n:,} rows, {args.rounds} rounds")
    print(f"command: {command}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC; load average {loadavg()}")
    info = machine()
    for key, value in info.items():
        print(f"{key}: {value}")

    jsonl, folder, files = generate(n, args.work, args.reuse)

    # The engine-alone pool first (spawned processes, before the JVM's threads exist).
    pool = multiprocessing.get_context("spawn").Pool(2)
    pool.map(warm, [0, 1])

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    import acs.spark

    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("acs-bench-spark")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark session: {time.perf_counter() - t0:.1f} s; arrow batch "
          f"{spark.conf.get('spark.sql.execution.arrow.maxRecordsPerBatch')} rows, "
          f"maxPartitionBytes {spark.conf.get('spark.sql.files.maxPartitionBytes')}")
    cpu = SparkCpu(jvm_pid())

    # Warm-up (JIT, Python workers, the rules compiled in each) and a first check: the
    # sample itself, blank and invalid lines included, read as text.
    t0 = time.perf_counter()
    sample = acs.spark.backtest(spark.read.text(str(RECORDED)), str(RULES), functions=str(STUBS))
    _, _, sample_replay = replay(RECORDED)
    sample_ok = without_throughput(sample) == without_throughput(sample_replay)
    print(f"check on {RECORDED.name} (spark.read.text, its blank and invalid line included): "
          f"{'equal to acs replay' if sample_ok else 'DIFFERENT from acs replay'}")
    df = spark.read.parquet(str(folder))
    partitions = df.rdd.getNumPartitions()
    acs.spark.backtest(spark.read.parquet(str(files[0])), str(RULES), functions=str(STUBS), column="value",
                       line="line")
    print(f"warm-up: {time.perf_counter() - t0:.1f} s; the Parquet makes {partitions} Spark partitions")

    results: Dict[str, List[Dict[str, float]]] = {k: [] for k in ("d", "b", "e", "a", "a0", "c1", "c2")}
    reports: Dict[str, Any] = {}

    def spark_timed(name: str, job: Any) -> Any:
        before = cpu.snapshot()
        started = time.perf_counter()
        out = job()
        wall = time.perf_counter() - started
        spent = SparkCpu.spent(before, cpu.snapshot())
        results[name].append({"wall": wall, "cpu_jvm": spent["jvm"], "cpu_python": spent["python"],
                              "cpu_driver": spent["driver"]})
        return out

    for r in range(1, args.rounds + 1):
        # (d) acs replay
        wall, used, report = replay(jsonl)
        results["d"].append({"wall": wall, "cpu": used, "engine_elapsed": report["throughput"]["elapsed_seconds"]})
        reports.setdefault("d", []).append(report)
        # (b) acs.spark.backtest
        report = spark_timed("b", lambda: acs.spark.backtest(
            spark.read.parquet(str(folder)), str(RULES), functions=str(STUBS), column="value", line="line"))
        reports.setdefault("b", []).append(report)
        # (e) acs.spark.backtest on the JSON lines read as text (rows numbered in order)
        report = spark_timed("e", lambda: acs.spark.backtest(
            spark.read.text(str(jsonl)), str(RULES), functions=str(STUBS)))
        reports.setdefault("e", []).append(report)
        # (a) Spark -> Arrow -> Python workers that only count
        counted = spark_timed("a", lambda: spark.read.parquet(str(folder)).select("value", "line")
                              .mapInArrow(count_only, "rows long").agg(F.sum("rows")).collect()[0][0])
        assert counted == n, (counted, n)
        # (a0) Spark's scan alone
        scanned = spark_timed("a0", lambda: spark.read.parquet(str(folder))
                              .agg(F.count("*"), F.sum(F.octet_length("value")), F.max("line")).collect()[0])
        assert scanned[0] == n, scanned
        # (c1) the engine alone, one process
        t0 = time.perf_counter()
        rows, reading, counting, counting_cpu, used, part1 = pool.apply(engine_alone, ([str(f) for f in files],))
        results["c1"].append({"wall": time.perf_counter() - t0, "reading": reading, "counting": counting,
                              "counting_cpu": counting_cpu, "cpu": used})
        assert rows == n, (rows, n)
        # (c2) the engine alone, two processes
        t0 = time.perf_counter()
        halves = pool.map(engine_alone, [[str(f) for f in files[0::2]], [str(f) for f in files[1::2]]])
        wall = time.perf_counter() - t0
        results["c2"].append({"wall": wall, "reading": max(h[1] for h in halves),
                              "counting": max(h[2] for h in halves), "cpu": sum(h[4] for h in halves)})
        assert sum(h[0] for h in halves) == n
        reports["c"] = (part1, [h[5] for h in halves])
        line = " ".join(f"{k} {fmt_rate(n, results[k][-1]['wall'])}" for k in ("d", "b", "e", "a", "a0", "c1", "c2"))
        print(f"round {r} ({datetime.now(timezone.utc):%H:%M:%S}, load {loadavg()}): rows/s {line}")

    # Instrumented: where a Spark Python worker's time goes.
    shipped = spark.sparkContext.broadcast({"rules": [(str(RULES), RULES.read_text())], "stubs": STUBS.read_text()})
    schema = ("partition long, pid long, rows long, waiting double, counting double, counting_cpu double, "
              "wall double, cpu double")
    before = cpu.snapshot()
    t0 = time.perf_counter()
    tasks = (spark.read.parquet(str(folder)).select("value", "line")
             .mapInArrow(timed_worker(shipped, "line", "value"), schema).collect())
    instrumented_wall = time.perf_counter() - t0
    instrumented_cpu = SparkCpu.spent(before, cpu.snapshot())
    spark.stop()
    pool.close()

    # --- checks ---------------------------------------------------------------------
    from acs._acs import BacktestRun

    expected = without_throughput(reports["d"][0])
    run = BacktestRun([(str(RULES), RULES.read_text())], None, STUBS.read_text(), False, 5)
    part1, halves = reports["c"]
    alone1 = without_throughput(json.loads(run.report([(0, part1)], 1, 1.0)))
    alone2 = without_throughput(json.loads(run.report([(0, h) for h in halves], 2, 1.0)))
    problems = [] if sample_ok else [f"the Spark backtest of {RECORDED.name} differs from acs replay's"]
    compared = [(f"acs replay, round {i + 1}", without_throughput(x)) for i, x in enumerate(reports["d"][1:], 1)]
    compared += [(f"Spark backtest (b), round {i + 1}", without_throughput(x)) for i, x in enumerate(reports["b"])]
    compared += [(f"Spark backtest of the JSON lines (e), round {i + 1}", without_throughput(x))
                 for i, x in enumerate(reports["e"])]
    compared += [("engine alone, 1 process (c1)", alone1), ("engine alone, 2 processes (c2)", alone2)]
    for name, report in compared:
        if report != expected:
            keys = sorted(k for k in set(report) | set(expected) if report.get(k) != expected.get(k))
            problems.append(f"{name}: differs from acs replay's report in {keys}")
            for key in keys:
                print(f"  {name} {key}: {json.dumps(report.get(key))[:400]}")
                print(f"  acs replay {key}: {json.dumps(expected.get(key))[:400]}")
    print()
    if problems:
        print("CHECK FAILED: " + "; ".join(problems))
    else:
        print(f"check: every round's Spark report equals acs replay's field for field except throughput "
              f"({expected['lines']:,} lines, {expected['inputs']:,} inputs, verdicts "
              f"{expected['verdicts']['allowed']:,} allowed / {expected['verdicts']['rejected']:,} rejected, "
              f"{expected['inputs_with_errors']:,} with errors; example and first-error lines included); "
              f"so do those of the text-read Spark backtest (e) and of the engine alone (c)")

    # --- tables ---------------------------------------------------------------------
    med = {k: statistics.median(x["wall"] for x in v) for k, v in results.items()}
    print(f"\n### {n:,} rows, {args.rounds} rounds, interleaved (rows/s; end-to-end wall clock)\n")
    print("| round | `acs replay --threads 2` (JSON lines) | `acs.spark.backtest`, `local[2]` (Parquet) | Spark / replay, time per row |")
    print("|---|---:|---:|---:|")
    for i in range(args.rounds):
        d, b = results["d"][i]["wall"], results["b"][i]["wall"]
        print(f"| {i + 1} | {fmt_rate(n, d)} | {fmt_rate(n, b)} | {b / d:.2f}x |")
    ratios = [results["b"][i]["wall"] / results["d"][i]["wall"] for i in range(args.rounds)]
    print(f"| **median** | **{fmt_rate(n, med['d'])}** | **{fmt_rate(n, med['b'])}** | "
          f"**{med['b'] / med['d']:.2f}x** (median of the rounds' ratios {statistics.median(ratios):.2f}x) |")
    print(f"\nGoal: Spark at most 1.5x acs replay per row: "
          f"{'MET' if med['b'] / med['d'] <= 1.5 else 'NOT MET'} ({med['b'] / med['d']:.2f}x).")

    ns = {k: med[k] * 1e9 / n for k in med}
    c1_engine = statistics.median(x["counting"] for x in results["c1"]) * 1e9 / n
    c1_engine_cpu = statistics.median(x["counting_cpu"] for x in results["c1"]) * 1e9 / n
    c1_read = statistics.median(x["reading"] for x in results["c1"]) * 1e9 / n

    def cpu_col(k: str) -> str:
        xs = results[k]
        if "cpu_jvm" in xs[0]:
            j = statistics.median(x["cpu_jvm"] for x in xs)
            p = statistics.median(x["cpu_python"] for x in xs)
            total = statistics.median(x["cpu_jvm"] + x["cpu_python"] for x in xs)
            where = f"JVM {j * 1e9 / n:.0f} + Python workers {p * 1e9 / n:.0f}"
        else:
            total = statistics.median(x["cpu"] for x in xs)
            where = ""
        return f"{total * 1e9 / n:.0f} | {where} | {total / (2 * med[k]):.0%}"

    print(f"\n### Where the time goes (medians of {args.rounds} rounds; share = of the Spark backtest's time)\n")
    print("| path | rows/s | ns/row (wall) | share | CPU ns/row | of which | cores busy |")
    print("|---|---:|---:|---:|---:|---|---:|")
    rows_table = [
        ("a0", "(a0) Spark: Parquet scan only, aggregated in the JVM"),
        ("a", "(a) Spark: scan + rows -> Arrow -> Python workers counting rows (`mapInArrow`, no engine)"),
        ("b", "(b) Spark: `acs.spark.backtest` (a) + `BacktestRun.count_arrow`"),
        ("e", "(e) Spark: `acs.spark.backtest` of the JSON-lines file (`spark.read.text`) instead"),
        ("c1", "(c1) engine alone: 1 process, pyarrow reads + `count_arrow` (10k-row batches)"),
        ("c2", "(c2) engine alone: 2 processes, half the files each"),
        ("d", "(d) `acs replay --threads 2`, JSON lines"),
    ]
    for k, label in rows_table:
        share = f"{med[k] / med['b']:.0%}" if k in ("a0", "a", "b") else ""
        print(f"| {label} | {fmt_rate(n, med[k])} | {ns[k]:.0f} | {share} | {cpu_col(k)} |")
    print(f"| (c1) of which `count_arrow` alone (one thread) | {1e9 / c1_engine:,.0f} | {c1_engine:.0f} | | "
          f"{c1_engine_cpu:.0f} | | |")
    print(f"| (c1) of which pyarrow reading the Parquet (one thread) | | {c1_read:.0f} | | | | |")
    d_engine = statistics.median(x["engine_elapsed"] for x in results["d"]) * 1e9 / n
    print(f"| (d) acs replay's own `elapsed_seconds` (after loading the rules) | {1e9 / d_engine:,.0f} | "
          f"{d_engine:.0f} | | | | |")

    print("\nSplit of the Spark backtest's wall time per row (differences of the medians):\n")
    print("| part | ns/row | share |")
    print("|---|---:|---:|")
    parts = [
        ("Spark's Parquet scan (a0)", ns["a0"]),
        ("rows -> Arrow, to the Python workers and read there (a - a0)", ns["a"] - ns["a0"]),
        ("the engine and what it adds in the workers (b - a)", ns["b"] - ns["a"]),
    ]
    for label, value in parts:
        print(f"| {label} | {value:.0f} | {value / ns['b']:.0%} |")
    print(f"| total (b) | {ns['b']:.0f} | 100% |")
    print(f"| for comparison: `count_arrow` on one core (c1) / 2, i.e. the engine's work spread on two cores | "
          f"{c1_engine / 2:.0f} | {c1_engine / 2 / ns['b']:.0%} |")

    waiting = sum(t["waiting"] for t in tasks)
    counting = sum(t["counting"] for t in tasks)
    task_wall = sum(t["wall"] for t in tasks)
    task_cpu = sum(t["cpu"] for t in tasks)
    rows = sum(t["rows"] for t in tasks)
    assert rows == n, (rows, n)
    print(f"\n### Inside Spark's Python workers (one instrumented pass of the backtest's worker function, "
          f"{len(tasks)} tasks in {len({t['pid'] for t in tasks})} worker processes, "
          f"{instrumented_wall:.1f} s wall, {fmt_rate(n, instrumented_wall)} rows/s)\n")
    print("| | seconds, summed over tasks | ns/row | share of the tasks' time |")
    print("|---|---:|---:|---:|")
    for label, value in (("waiting for the next Arrow batch (JVM scan + conversion + socket + pyarrow read)", waiting),
                         ("in `count_arrow` (the engine)", counting),
                         ("the rest (merge, output, start)", task_wall - waiting - counting),
                         ("tasks' wall time, summed", task_wall)):
        print(f"| {label} | {value:.1f} | {value * 1e9 / n:.0f} | {value / task_wall:.0%} |")
    counting_cpu = sum(t["counting_cpu"] for t in tasks)
    print(f"| CPU time of the threads in `count_arrow` (thread_time, summed) | {counting_cpu:.1f} | "
          f"{counting_cpu * 1e9 / n:.0f} | |")
    print(f"| Python workers' CPU (process_time, summed) | {task_cpu:.1f} | {task_cpu * 1e9 / n:.0f} | |")
    print(f"| JVM CPU over the pass (/proc) | {instrumented_cpu['jvm']:.1f} | {instrumented_cpu['jvm'] * 1e9 / n:.0f} | |")
    print(f"\n`count_arrow` per row inside Spark's workers: {counting * 1e9 / n:.0f} ns wall, "
          f"{counting_cpu * 1e9 / n:.0f} ns CPU; alone in one process (c1): {c1_engine:.0f} ns wall, "
          f"{c1_engine_cpu:.0f} ns CPU ({counting * 1e9 / n / c1_engine:.2f}x wall, "
          f"{counting_cpu / n * 1e9 / c1_engine_cpu:.2f}x CPU).")
    print(f"date at the end: {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC; load average {loadavg()}; "
          f"the whole run {time.monotonic() - begun:.0f} s")

    if not args.reuse:
        shutil.rmtree(args.work, ignore_errors=True)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
