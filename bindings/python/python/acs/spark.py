"""Backtests on Apache Spark: the engine's backtest, run where the recorded requests are.

`backtest(df, rules)` gives the report `acs replay` prints for the same inputs in the same
order, counted on the cluster: the rules' text is broadcast once, every Python worker
compiles it once (and checks its hash), each partition's rows go through the engine's
Arrow entry point in `mapInArrow` and come back as one part (the engine's counts, a few
kilobytes), and the driver merges the parts, in partition order, into the report.
`decisions(df, rules)` gives one decision per row instead, beside the input's key
columns. `read_audit(spark, dir)` reads an audit log's recorded decisions as a
DataFrame to backtest production traffic with the answers its host calls got.

Rows are inputs in the DataFrame's order: line `n` of the report is its `n`-th row,
partition by partition. One JSON-lines file read with `spark.read.text` keeps its line
order; a folder of files does not (Spark reads larger files first), so give a `line`
column (int64, 1-based) to number the rows whatever their order. Host functions answer
from a stub table (`functions=`, as `acs replay --functions`) or from each row's recorded
calls (`calls=`, and `now=` for the instant `now()` read); a call with no answer is an
error of its rule, counted in the report. Python callables are not shipped to executors.
Everything that can be checked before a task starts (the rules, the columns and their
types) is checked on the driver. pyspark is imported only by the functions that need it.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import BacktestReport
from ._acs import BacktestRun

Rules = Union[str, "os.PathLike[str]"]

__all__ = ["backtest", "decisions", "read_audit", "rules_files"]

# Compiled rules per Python worker process, by what was broadcast: a worker runs many
# tasks, and compiles each rule set once.
_RUNS: Dict[str, BacktestRun] = {}


def _named_like_rules(name: str) -> bool:
    """The files a rules directory serves, as the engine lists them: `*.yaml` or `*.yml`,
    not hidden."""
    base = name.rstrip("/").rsplit("/", 1)[-1]
    return base.endswith((".yaml", ".yml")) and not base.startswith(".")


def rules_files(
    rules: Union[Rules, Sequence[Tuple[str, str]]], spark: Any = None
) -> List[Tuple[str, str]]:
    """`rules` as `(name, text)` pairs: YAML text (anything with a line break), a local
    rules file or bundle directory (its `*.yaml` and `*.yml` files), a URI Spark can read
    (`s3://...`, `dbfs:/...`, `hdfs://...`; read through `spark`, the active session by
    default), or pairs already."""
    if isinstance(rules, (list, tuple)):
        return [(str(name), str(text)) for name, text in rules]
    text = os.fspath(rules)
    if "\n" in text:
        return [("rules.yaml", text)]
    if os.path.isdir(text):
        names = sorted(n for n in os.listdir(text) if _named_like_rules(n))
        if not names:
            raise ValueError(f"{text}: no *.yaml or *.yml rules files in the directory")
        files = []
        for name in names:
            with open(os.path.join(text, name), encoding="utf-8") as f:
                files.append((os.path.join(text, name), f.read()))
        return files
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            return [(text, f.read())]
    if "://" in text or text.startswith("dbfs:"):
        if spark is None:
            from pyspark.sql import SparkSession

            spark = SparkSession.getActiveSession()
        if spark is None:
            raise ValueError(f"{text}: no active Spark session to read it with")
        found = spark.sparkContext.wholeTextFiles(text).collect()
        files = sorted((name, body) for name, body in found if _named_like_rules(name))
        if not files:
            raise FileNotFoundError(f"{text}: no *.yaml or *.yml rules files there")
        return files
    raise FileNotFoundError(f"{text}: no such rules file or directory")


def _stubs_text(functions: Optional[Union[Mapping[str, Any], Rules]]) -> Optional[str]:
    if functions is None:
        return None
    if isinstance(functions, Mapping):
        called = [name for name, answers in functions.items() if callable(answers)]
        if called:
            raise TypeError(
                f"functions={called!r} are Python callables, which are not shipped to "
                "executors: give a stub table ({name: [[args, result], ...]}) or recorded "
                "answers (calls=...)"
            )
        return json.dumps(functions, allow_nan=False)
    with open(os.fspath(functions), encoding="utf-8") as f:
        return f.read()


def _shipment(
    spark: Any,
    rules: Any,
    baseline: Any,
    functions: Any,
    recorded: bool,
    examples: int,
) -> Dict[str, Any]:
    """What the executors need, checked on the driver first: a rule set that does not
    compile fails here, with its diagnostics, before any task starts."""
    shipment = {
        "rules": rules_files(rules, spark),
        "baseline": rules_files(baseline, spark) if baseline is not None else None,
        "stubs": _stubs_text(functions),
        "recorded": recorded,
        "examples": examples,
    }
    run = _run(shipment)
    shipment["hash"] = run.ruleset_hash
    return shipment


def _key(shipment: Mapping[str, Any]) -> str:
    fields = ("rules", "baseline", "stubs", "recorded", "examples")
    return json.dumps([shipment.get(k) for k in fields])


def _run(shipment: Mapping[str, Any]) -> BacktestRun:
    """The worker's compiled rules for `shipment`, compiled on first use."""
    key = _key(shipment)
    run = _RUNS.get(key)
    if run is None:
        run = BacktestRun(
            shipment["rules"],
            shipment["baseline"],
            shipment["stubs"],
            shipment["recorded"],
            shipment["examples"],
        )
        expected = shipment.get("hash")
        if expected is not None and run.ruleset_hash != expected:
            raise RuntimeError(
                f"the rules compiled on this worker hash to {run.ruleset_hash}, "
                f"the driver's to {expected}: the workers run another acs version?"
            )
        _RUNS.clear()  # one rule set at a time per worker: memory stays bounded
        _RUNS[key] = run
    return run


def _columns(
    df: Any, column: Optional[str], calls: Optional[str], now: Optional[str], line: Optional[str]
) -> Tuple[Any, Dict[str, Optional[str]]]:
    """The DataFrame reduced to the columns the engine reads, and how to name them."""
    names = list(df.columns)
    for given in (column, calls, now, line):
        if given is not None and given not in names:
            raise ValueError(f"no column {given!r}; the DataFrame's columns are {names}")
    if now is not None and calls is None:
        raise ValueError("now=... names the recorded instants of recorded calls: give calls=... too")
    if column is None:
        roots = [r for r in ("event", "ctx", "system", "db") if r in names]
        others = [n for n in names if n not in (calls, now, line)]
        if roots:
            keep = roots
        elif len(others) == 1:
            column = others[0]
            keep = [column]
        else:
            raise ValueError(
                f"which column holds the inputs? The DataFrame's columns are {names}: "
                "name a JSON column with column=..., or give struct columns named "
                "event, ctx, system, db"
            )
    else:
        keep = [column]
    keep += [c for c in (calls, now, line) if c is not None]
    return df.select(*keep), {"column": column, "calls": calls, "now": now}


def _check_types(run: BacktestRun, selected: Any, names: Mapping[str, Optional[str]], line: Optional[str]) -> None:
    """Count an empty batch of `selected`'s Arrow schema on the driver: a column of a type
    the engine does not read fails here, with its name, not inside a task."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    try:
        schema = to_arrow_schema(selected.schema)
    except TypeError as error:  # a Spark type with no Arrow form: Spark would refuse it too
        raise TypeError(f"a column has no Arrow form: {error}") from None
    empty = pa.RecordBatch.from_pylist([], schema=schema)
    run.count_arrow(empty, line=line, **names)


def _ship(df: Any, shipment: Dict[str, Any]) -> Any:
    """A zero-argument function giving `shipment` on an executor: a broadcast variable
    where there is a SparkContext, else (Spark Connect) the value in the task's closure."""
    try:
        shipped = df.sparkSession.sparkContext.broadcast(shipment)
    except Exception:  # Spark Connect has no SparkContext
        return lambda: shipment
    return lambda: shipped.value


def _parallelism(df: Any) -> int:
    try:
        return int(df.sparkSession.sparkContext.defaultParallelism)
    except Exception:  # Spark Connect
        return 0


def backtest(
    df: Any,
    rules: Union[Rules, Sequence[Tuple[str, str]]],
    baseline: Optional[Union[Rules, Sequence[Tuple[str, str]]]] = None,
    functions: Optional[Union[Mapping[str, Any], Rules]] = None,
    column: Optional[str] = None,
    calls: Optional[str] = None,
    now: Optional[str] = None,
    line: Optional[str] = None,
    examples: int = 5,
) -> BacktestReport:
    """Backtest `rules` (a file, a bundle directory or YAML text) on the recorded inputs of
    the Spark DataFrame `df`, optionally against `baseline`: the engine's report, as
    `acs replay --format json` prints it, counted on the cluster.

    `df` holds a JSON column (`column`, or its only column) or struct columns named
    `event`, `ctx`, `system`, `db`. `functions` is a stub table (a mapping or a JSON file,
    as `acs replay --functions`); `calls` names a column of recorded host-call answers (JSON,
    an audit record's `calls`) and `now` one of recorded `now()` instants (epoch ms).
    `line` names a column numbering the rows (the report's line numbers); without it the
    rows are numbered in the DataFrame's order."""
    import pyarrow as pa
    from pyspark import TaskContext

    started = time.monotonic()
    if calls is not None and functions is not None:
        raise ValueError("functions= (a stub table) and calls= (recorded answers) exclude each other")
    selected, names = _columns(df, column, calls, now, line)
    shipment = _shipment(df.sparkSession, rules, baseline, functions, calls is not None, examples)
    _check_types(_run(shipment), selected, names, line)
    shipped = _ship(df, shipment)
    persisted = None
    if _run(shipment).counts_velocity:
        # Each row reads the counts of its keys' events before it in time, over the whole
        # input: gathered, shuffled by counter and key, counted, joined back by line.
        if line is None:
            selected, persisted = _numbered(selected)
            line = _LINE
        counts = _velocity_counts(selected, shipped, names, line)
        selected = selected.join(counts, on=line, how="left")
        names = dict(names, velocity=_VELOCITY)
    by_column = line is not None

    def count(batches: Iterator[Any]) -> Iterator[Any]:
        run = _run(shipped())
        context = TaskContext.get()
        partition = context.partitionId() if context is not None else 0
        # The partition's batches as one stream: one part, counted in one call (no part
        # per batch to serialize and merge again).
        first = next(batches, None)
        if first is None:
            rows, part = 0, run.merge([])
        else:
            stream = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
            rows, part = run.count_arrow(stream, first_line=1, line=line, **names)
        yield pa.RecordBatch.from_pydict(
            {"partition": [partition], "rows": [rows], "part": [part]},
            schema=_part_schema(),
        )

    try:
        counted = selected.mapInArrow(count, "partition int, rows long, part binary").collect()
    finally:
        if persisted is not None:
            persisted.unpersist()
    counted.sort(key=lambda r: r["partition"])
    parts: List[Tuple[int, bytes]] = []
    offset = 0
    for row in counted:
        parts.append((0 if by_column else offset, bytes(row["part"])))
        offset += row["rows"]
    run = _run(shipment)
    text = run.report(parts, _parallelism(df), time.monotonic() - started)
    return BacktestReport(json.loads(text))


# Columns a velocity backtest adds: a line number when the caller gave none, and each
# row's counts (JSON).
_LINE = "__acs_line"
_VELOCITY = "__acs_velocity"


def _numbered(selected: Any) -> Tuple[Any, Any]:
    """`selected` with a column `_LINE` numbering its rows 1, 2, ... in the DataFrame's
    order (partition by partition, as `backtest` numbers them), and the persisted
    DataFrame to unpersist when done: the rows must keep their numbers across the jobs
    that read them."""
    from pyspark.sql import functions as F

    ids = selected.withColumn("__acs_id", F.monotonically_increasing_id()).persist()
    # monotonically_increasing_id: the partition index in the upper 31 bits, the row's
    # place in its partition in the lower 33.
    partition = F.shiftright("__acs_id", 33)
    sizes = sorted(
        (row["p"], row["count"]) for row in ids.groupBy(partition.alias("p")).count().collect()
    )
    offsets = []
    total = 0
    for index, size in sizes:
        offsets += [F.lit(index), F.lit(total)]
        total += size
    before = F.create_map(*offsets)[partition] if offsets else F.lit(0)
    place = F.col("__acs_id") - F.shiftleft(partition, 33)
    lined = ids.withColumn(_LINE, (before + place + 1).cast("long")).drop("__acs_id")
    return lined, ids


def _velocity_counts(selected: Any, shipped: Any, names: Mapping[str, Optional[str]], line: str) -> Any:
    """(line, counts JSON) of every row that counts in a velocity counter or reads one:
    the events of every row (and the counts its rules read of other keys), shuffled by
    counter and key so that one task sees all of a key's, counted there in time order
    (the engine's timeline), grouped back by line."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    column = names.get("column")

    def events(batches: Iterator[Any]) -> Iterator[Any]:
        run = _run(shipped())
        for batch in batches:
            yield pa.record_batch(run.events_arrow(batch, line=line, column=column))

    def counts(batches: Iterator[Any]) -> Iterator[Any]:
        run = _run(shipped())
        first = next(batches, None)
        if first is None:
            return
        stream = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
        yield pa.record_batch(run.counts_arrow(stream))

    gathered = selected.mapInArrow(
        events, "line long, counter string, key string, at double, id string, read boolean"
    )
    counted = gathered.repartition("counter", "key").mapInArrow(counts, "line long, velocity string")
    return counted.groupBy(F.col("line").alias(line)).agg(
        F.concat(F.lit("["), F.concat_ws(",", F.collect_list("velocity")), F.lit("]")).alias(_VELOCITY)
    )


def _part_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("partition", pa.int32()),
            pa.field("rows", pa.int64()),
            pa.field("part", pa.binary()),
        ]
    )


_DECISION_NAMES = (
    "verdict",
    "code",
    "rule_id",
    "matched_ids",
    "shadow_matched_ids",
    "errors",
    "ruleset_hash",
)

_DECISION_COLUMNS = (
    "verdict string, code string, rule_id string, matched_ids array<string>, "
    "shadow_matched_ids array<string>, errors array<string>, ruleset_hash string"
)


def decisions(
    df: Any,
    rules: Union[Rules, Sequence[Tuple[str, str]]],
    keys: Iterable[str] = (),
    functions: Optional[Union[Mapping[str, Any], Rules]] = None,
    column: Optional[str] = None,
    calls: Optional[str] = None,
    now: Optional[str] = None,
) -> Any:
    """One decision per row of `df` as a DataFrame: the `keys` columns of the input, then
    `verdict` (`allowed`, `rejected`, or `error` for a row that is no input), `code`,
    `rule_id`, `matched_ids`, `shadow_matched_ids`, `errors` and `ruleset_hash`. Inputs and
    host functions as for `backtest`. Lazy: write it (to Parquet, say) or aggregate it.
    Velocity counts are read in time order over the whole input, as `backtest` reads
    them (the input is then checkpointed first, and the rows come back in another
    order: join on the key columns)."""
    import pyarrow as pa

    keys = list(keys)
    if calls is not None and functions is not None:
        raise ValueError("functions= (a stub table) and calls= (recorded answers) exclude each other")
    selected, names = _columns(df, column, calls, now, None)
    for key in keys:
        if key not in df.columns:
            raise ValueError(f"no key column {key!r}; the DataFrame's columns are {list(df.columns)}")
    taken = [k for k in keys if k in _DECISION_NAMES]
    if taken:
        raise ValueError(
            f"key columns {taken} are named like decision columns {list(_DECISION_NAMES)}: "
            "rename them first (df.withColumnRenamed)"
        )
    shipment = _shipment(df.sparkSession, rules, None, functions, calls is not None, 0)
    _check_types(_run(shipment), selected, names, None)
    inputs = list(selected.columns)
    selected = df.select(*inputs, *[k for k in keys if k not in inputs])
    shipped = _ship(df, shipment)
    if _run(shipment).counts_velocity:
        # As in `backtest`: each row reads the counts of its keys' events before it in
        # time, over the whole input. The rows are numbered in the DataFrame's order (for
        # events at one instant) and checkpointed, so the numbers hold for both jobs.
        from pyspark.sql import functions as F

        numbered = selected.withColumn(_LINE, F.monotonically_increasing_id() + 1).localCheckpoint()
        counts = _velocity_counts(numbered, shipped, names, _LINE)
        selected = numbered.join(counts, on=_LINE, how="left")
        inputs = inputs + [_VELOCITY]
        names = dict(names, velocity=_VELOCITY)
    key_schema = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}" for f in df.select(*keys).schema.fields
    )
    schema = (key_schema + ", " if key_schema else "") + _DECISION_COLUMNS

    def decide(batches: Iterator[Any]) -> Iterator[Any]:
        run = _run(shipped())
        for batch in batches:
            decided = pa.record_batch(run.decide_arrow(batch.select(inputs), **names))
            columns = [batch.column(k) for k in keys] + list(decided.columns)
            yield pa.RecordBatch.from_arrays(columns, names=keys + decided.schema.names)

    return selected.mapInArrow(decide, schema)


def read_audit(spark: Any, directory: Union[str, "os.PathLike[str]"]) -> Any:
    """The decisions recorded in the audit log `directory` as a DataFrame with the columns
    `seq`, `ruleset_hash`, `input` (JSON), `calls` (JSON), `now` (epoch ms) and `verdict`:
    backtest it with `backtest(df, rules, column="input", calls="calls", now="now",
    line="seq")`. The log is checked as it is read (framing, checksums, sequence, the
    Merkle tree against its checkpoints; a damaged log raises); checkpoint signatures
    are `acs audit verify`'s.

    The log is read on the driver, whole (a log is one directory on one host); its rows
    are then spread over the cluster like any DataFrame's."""
    from . import audit_decisions

    rows = list(audit_decisions(os.fspath(directory)))
    schema = "seq long, ruleset_hash string, input string, calls string, now double, verdict string"
    return spark.createDataFrame(rows, schema)
