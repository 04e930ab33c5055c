"""A backtest on Spark, end to end (docs/SPARK.md walks through it):

1. a Parquet folder of recorded requests (made here from rules/examples/recorded.jsonl:
   a JSON string column `request`, a `line` column numbering the rows, an `event_type`
   key; three files);
2. a candidate rule set (the shipped rules with four conditions changed) backtested
   against the shipped rules, on Spark `local[2]`, with `acs.spark.backtest`;
3. a short summary of the report, checked against `acs.backtest` on the JSON-lines file
   (the engine's `acs replay`);
4. every row's decision under the candidate written to Parquet with
   `acs.spark.decisions`, then read back and counted;
5. a per-rule bar chart, matches under the baseline and the candidate, as a PNG.

Run it from bindings/python, the package installed in the venv (`maturin develop` or the
wheel), with pyspark, pyarrow and matplotlib installed there too:

    .venv/bin/python -m pip install matplotlib      # once
    .venv/bin/python examples/spark_backtest.py [CHART.png] [--work DIR]

CHART.png defaults to docs/spark_backtest.png in the repository; DIR (the Parquet
folders, the candidate rules and report.json) defaults to a new temporary directory,
which is kept, since the example prints the paths it wrote there for you to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "rules" / "acs_rules_top25.yaml"
STUBS = REPO / "rules" / "examples" / "stubs.json"
RECORDED = REPO / "rules" / "examples" / "recorded.jsonl"

# The candidate: the shipped rules with these conditions changed (old text, new text).
CHANGES = [
    # Tighter: freeze GPS streams from a spoof score of 0.45 (the config says 0.85).
    ("telemetry.spoofScore >= system.config.spoofThreshold", "telemetry.spoofScore >= 0.45"),
    # Tighter: a bid needs a ledger balance of twice its fee.
    (
        "operator.ledgerBalance < computedFees.bidFee\"",
        "operator.ledgerBalance < computedFees.bidFee * 2\"",
    ),
    # Looser: hold a bid as predatory below half the estimator's lower bound (config: 0.6).
    (
        "priceEstimator.lowerBound(booking) * system.config.predatoryBidFactor",
        "priceEstimator.lowerBound(booking) * 0.5",
    ),
    # Looser: a PENDING KYC no longer blocks bookings and bids.
    (
        "ctx.userKycStatus != 'VERIFIED'\"",
        "!(ctx.userKycStatus in ['VERIFIED', 'PENDING'])\"",
    ),
]


def write_parquet(folder: Path, files: int = 3) -> int:
    """recorded.jsonl as a Parquet folder of `files` files: `line` (int64, the line's
    number in the file), `event_type` (a key for the decisions) and `request` (the line,
    blank and broken ones kept). Returns the number of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = RECORDED.read_text(encoding="utf-8").splitlines()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    per_file = -(-len(lines) // files)
    for n in range(files):
        chunk = list(enumerate(lines))[n * per_file : (n + 1) * per_file]
        table = pa.table(
            {
                "line": pa.array([i + 1 for i, _ in chunk], pa.int64()),
                "event_type": pa.array([event_type(text) for _, text in chunk], pa.string()),
                "request": pa.array([text for _, text in chunk], pa.string()),
            }
        )
        pq.write_table(table, folder / f"part-{n:05d}.parquet")
    return len(lines)


def event_type(line: str) -> Optional[str]:
    try:
        return str(json.loads(line)["event"]["type"])
    except (ValueError, KeyError, TypeError):
        return None


def write_candidate(path: Path) -> Path:
    text = SHIPPED.read_text(encoding="utf-8")
    for old, new in CHANGES:
        if text.count(old) != 1:
            raise SystemExit(f"the shipped rules changed: {old!r} is not there once")
        text = text.replace(old, new)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def code(verdict: Dict[str, Any]) -> str:
    if verdict["outcome"] == "allowed":
        return "allowed"
    return f"rejected {verdict.get('code') or verdict.get('rule_id')}"


def summarize(report: Dict[str, Any]) -> None:
    base = report["baseline"]
    print(f"rules     {report['ruleset_hash'][:19]}…  against baseline {base['ruleset_hash'][:19]}…")
    print(
        f"rows      {report['lines']}: {report['inputs']} inputs, "
        f"{report['blank_lines']} blank, {report['invalid']['count']} invalid"
    )
    for example in report["invalid"]["examples"]:
        print(f"            invalid line {example['line']}: {example['message']}")
    verdicts = report["verdicts"]
    print(
        f"verdicts  {verdicts['allowed']} allowed, {verdicts['rejected']} rejected "
        f"(baseline: {base['verdicts']['allowed']} allowed, {base['verdicts']['rejected']} rejected)"
    )
    print(
        f"changed   {base['inputs_with_changed_verdict']} verdicts, "
        f"{base['inputs_with_changed_matches']} inputs with other matched rules"
    )
    for kind, transition in base["transitions"].items():
        if not transition["count"]:
            continue
        print(f"  {kind.replace('_', ' ')}: {transition['count']}")
        for change in transition["by_code"]:
            print(f"    {change['from'] or 'allowed'} -> {change['to'] or 'allowed'}: {change['count']}")
        for example in transition["examples"][:2]:
            before, after = example["before"], example["after"]
            print(
                f"    e.g. line {example['line']}: {code(before['verdict'])} {before['matched']}"
                f" -> {code(after['verdict'])} {after['matched']}"
            )
    print("matches per rule, where they change:")
    for rule in base["rules"]:
        if rule["change"]:
            print(f"  {rule['id']:<34} {rule['before']:>3} -> {rule['after']:<3} ({rule['change']:+d})")
    print("rule errors (a host call with no answer; the rule did not match):")
    for rule in report["rules"]:
        if rule["errors"]:
            first = rule["first_error"]
            print(f"  {rule['id']}: {rule['errors']}, first on line {first['line']}: {first['message']}")


def draw(report: Dict[str, Any], png: Path) -> None:
    """Matches per rule under the baseline and the candidate, as horizontal bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows: List[Dict[str, Any]] = report["baseline"]["rules"]
    ids = [r["id"] for r in rows]
    before = [r["before"] or 0 for r in rows]
    after = [r["after"] or 0 for r in rows]
    y = list(range(len(rows)))
    height = 0.4
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.6))
    ax.barh([i - height / 2 for i in y], before, height, label="baseline (shipped rules)", color="#9aa5b1")
    ax.barh([i + height / 2 for i in y], after, height, label="candidate", color="#1f6feb")
    for i, row in enumerate(rows):
        if row["change"]:
            ax.annotate(
                f"{row['change']:+d}",
                (max(before[i], after[i]), i),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                fontweight="bold",
                color="#24292f",
            )
    errors = {r["id"]: r["errors"] for r in report["rules"]}
    ax.set_yticks(y)
    ax.set_yticklabels(
        [f"{i} ({errors[i]} errors)" if errors.get(i) else i for i in ids], fontsize=8
    )
    for label, row in zip(ax.get_yticklabels(), rows):
        if row["change"]:
            label.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, max(before + after + [1]) * 1.1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"inputs matched (of {report['inputs']})")
    base = report["baseline"]
    moves = base["transitions"]
    ax.set_title(
        "Matches per rule: baseline vs candidate\n"
        f"{base['inputs_with_changed_verdict']} verdicts change: "
        f"{moves['allowed_to_rejected']['count']} allowed→rejected, "
        f"{moves['rejected_to_allowed']['count']} rejected→allowed, "
        f"{moves['code_changed']['count']} other code",
        fontsize=10,
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chart", nargs="?", default=str(REPO / "docs" / "spark_backtest.png"))
    parser.add_argument("--work", help="where the Parquet folders and report go (default: a new temp dir)")
    args = parser.parse_args()
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(
            "this example draws its chart with matplotlib, which is not installed: "
            f"{sys.executable} -m pip install matplotlib",
            file=sys.stderr,
        )
        return 2

    import acs
    import acs.spark

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="acs-spark-"))
    requests = work / "recorded.parquet"
    rows = write_parquet(requests)
    candidate = write_candidate(work / "candidate.yaml")
    print(f"wrote     {requests} ({rows} rows in 3 files) and {candidate}")

    # The Python workers must run this interpreter: it has acs and pyarrow.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("acs-spark-backtest")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        df = spark.read.parquet(str(requests))
        print(f"read      {df.count()} rows in {df.rdd.getNumPartitions()} partitions")

        report = acs.spark.backtest(
            df,
            str(candidate),
            baseline=str(SHIPPED),
            functions=str(STUBS),
            column="request",
            line="line",
        )
        (work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        summarize(report)

        # The engine's own backtest of the JSON-lines file (what `acs replay` prints).
        local = acs.backtest(str(RECORDED), rules=str(candidate), baseline=str(SHIPPED), stubs=str(STUBS))
        same = {k: v for k, v in report.items() if k != "throughput"} == {
            k: v for k, v in local.items() if k != "throughput"
        }
        print(f"same report as acs.backtest on {RECORDED.name} (throughput aside): {same}")

        per_rule = report.to_pandas()[["id", "matches", "rate", "errors"]]
        print("to_pandas(), the busiest rules:")
        print(per_rule.sort_values(["matches", "id"], ascending=[False, True]).head(5).to_string(index=False))

        decided = work / "decisions.parquet"
        acs.spark.decisions(
            df, str(candidate), keys=["line", "event_type"], functions=str(STUBS), column="request"
        ).write.mode("overwrite").parquet(str(decided))
        back = spark.read.parquet(str(decided))
        print(f"decisions {decided}: {back.columns}")
        for row in back.groupBy("verdict").count().orderBy("verdict").collect():
            print(f"  {row['verdict']:<9} {row['count']}")
        rejected = back.where("verdict = 'rejected'").groupBy("event_type", "code").count()
        for row in rejected.orderBy(["count", "code"], ascending=[False, True]).limit(3).collect():
            print(f"  rejected {row['event_type']:<16} {row['code']:<24} {row['count']}")
    finally:
        spark.stop()

    chart = Path(args.chart)
    draw(report, chart)
    print(f"chart     {chart}")
    print(f"report    {work / 'report.json'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
