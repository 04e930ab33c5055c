"""`acs.spark` on a real Spark in local mode (`local[2]`): the report equals `acs replay`'s
field for field (throughput aside), on the shipped recorded requests and on a generated
set, with and without a baseline; per-row decisions; host calls answered from recorded
answers, a missing one counted as a rule error; an audit log replayed on the cluster."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import acs
import acs.spark
from support import RECORDED, RULES, STUBS, acs_binary, recorded_lines

SHIPPED = RULES / "acs_rules_top25.yaml"


@pytest.fixture(scope="module")
def spark():
    # The workers must import this interpreter's `acs` and pyarrow.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("acs-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        # Small splits: a 300-line file is read as several partitions, in order.
        .config("spark.sql.files.maxPartitionBytes", "40000")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def replay(*args: str) -> Dict[str, Any]:
    done = subprocess.run(
        [acs_binary(), "replay", "--format", "json", *args], capture_output=True, text=True
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def without_throughput(report: Dict[str, Any]) -> Dict[str, Any]:
    report = dict(report)
    report.pop("throughput")
    return report


def test_backtest_of_the_recorded_requests_equals_acs_replay(spark):
    df = spark.read.text(str(RECORDED))
    assert df.rdd.getNumPartitions() > 1, "the test must cross partitions"
    report = acs.spark.backtest(df, str(SHIPPED), functions=str(STUBS))
    expected = replay("--rules", str(SHIPPED), "--functions", str(STUBS), str(RECORDED))
    assert without_throughput(report) == without_throughput(expected)
    # The file's blank and invalid lines are where `acs replay` put them.
    assert report["blank_lines"] == 1 and report["invalid"]["count"] == 1
    assert report["invalid"]["examples"][0]["line"] == expected["invalid"]["examples"][0]["line"]
    assert report["throughput"]["bytes"] == RECORDED.stat().st_size
    assert isinstance(report, acs.BacktestReport)
    assert list(report.to_pandas()["id"])[:2] == ["RF01_KYC_MANDATORY", "RF02_TRUCK_DOCS_EXPIRED"]


def stricter_rules(tmp_path: Path) -> Path:
    """The shipped rules with two thresholds moved and one rule gone: a baseline whose
    verdicts differ."""
    text = SHIPPED.read_text()
    changed = text.replace("system.config.spoofThreshold", "0.3").replace(
        "ledgerBalance < computedFees.bidFee", "ledgerBalance < computedFees.bidFee * 4"
    )
    assert changed != text
    path = tmp_path / "stricter.yaml"
    path.write_text(changed)
    return path


def test_backtest_against_a_baseline_equals_acs_replay(spark, tmp_path):
    baseline = stricter_rules(tmp_path)
    df = spark.read.text(str(RECORDED))
    report = acs.spark.backtest(df, str(SHIPPED), baseline=str(baseline), functions=str(STUBS))
    expected = replay(
        "--rules", str(SHIPPED), "--baseline", str(baseline), "--functions", str(STUBS), str(RECORDED)
    )
    assert without_throughput(report) == without_throughput(expected)
    assert report["baseline"]["inputs_with_changed_verdict"] > 0


def generated_lines(count: int, seed: int) -> List[str]:
    """Recorded requests varied at random: amounts, balances, KYC, OTP attempts, spoof
    scores; some blank, some broken, some not objects."""
    rng = random.Random(seed)
    base = [json.loads(line) for line in recorded_lines() if line.startswith("{") and line.endswith("}")]
    lines = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.01:
            lines.append("")
            continue
        if roll < 0.02:
            lines.append('{"event": {"type": "bid.create"')
            continue
        if roll < 0.025:
            lines.append("[1, 2, 3]")
            continue
        doc = json.loads(json.dumps(rng.choice(base)))
        event = doc.get("event", {})
        if "bid" in event and isinstance(event["bid"], dict):
            event["bid"]["amount"] = rng.randrange(100, 90000)
        if "operator" in event and isinstance(event["operator"], dict):
            event["operator"]["ledgerBalance"] = rng.randrange(0, 5000)
        if "telemetry" in event and isinstance(event["telemetry"], dict):
            event["telemetry"]["spoofScore"] = round(rng.random(), 3)
        if "shipment" in event and isinstance(event["shipment"], dict) and rng.random() < 0.5:
            event["shipment"]["otpAttempts"] = rng.randrange(0, 9)
        if isinstance(doc.get("ctx"), dict) and rng.random() < 0.1:
            doc["ctx"]["userKycStatus"] = rng.choice(["PENDING", "VERIFIED", "REJECTED"])
        lines.append(json.dumps(doc, separators=(",", ":")))
    return lines


def test_backtest_of_a_generated_set_from_parquet_equals_acs_replay(spark, tmp_path):
    lines = generated_lines(4000, seed=16)
    jsonl = tmp_path / "generated.jsonl"
    jsonl.write_text("\n".join(lines) + "\n")
    # Parquet in several files, the rows shuffled: the `line` column numbers them.
    order = list(range(len(lines)))
    random.Random(7).shuffle(order)
    folder = tmp_path / "generated.parquet"
    folder.mkdir()
    for n, start in enumerate(range(0, len(order), 900)):
        rows = order[start : start + 900]
        table = pa.table(
            {
                "line": pa.array([i + 1 for i in rows], pa.int64()),
                "request": pa.array([lines[i] for i in rows], pa.string()),
            }
        )
        pq.write_table(table, folder / f"part-{n}.parquet", row_group_size=300)
    df = spark.read.parquet(str(folder))
    assert df.rdd.getNumPartitions() > 1
    baseline = stricter_rules(tmp_path)
    report = acs.spark.backtest(
        df, str(SHIPPED), baseline=str(baseline), functions=str(STUBS), column="request", line="line"
    )
    expected = replay(
        "--rules", str(SHIPPED), "--baseline", str(baseline), "--functions", str(STUBS), str(jsonl)
    )
    assert without_throughput(report) == without_throughput(expected)
    assert report["invalid"]["count"] > 0 and report["blank_lines"] > 0
    # The baseline is stricter: what it rejected and these rules allow, with examples.
    assert report["baseline"]["transitions"]["rejected_to_allowed"]["examples"]


def test_decisions_are_the_engines_row_by_row_beside_the_key_columns(spark):
    lines = [line for line in recorded_lines() if line.startswith("{")][:120]
    df = spark.createDataFrame([(i, line) for i, line in enumerate(lines)], "id long, request string")
    out = acs.spark.decisions(df, str(SHIPPED), keys=["id"], functions=str(STUBS), column="request")
    assert out.columns[:2] == ["id", "verdict"]
    rows = {r["id"]: r for r in out.collect()}
    engine = acs.Engine.from_path(str(SHIPPED), stubs=str(STUBS))
    assert len(rows) == len(lines)
    for i, line in enumerate(lines):
        decision = engine.evaluate_json(line)
        row = rows[i]
        if line.endswith("}") and decision is not None:
            assert row["verdict"] == decision.verdict["outcome"], line
            assert row["matched_ids"] == decision.matched_ids
            assert row["ruleset_hash"] == decision.ruleset_hash


def test_decisions_of_rows_that_are_no_input_say_why(spark):
    df = spark.createDataFrame([(1, "{broken"), (2, None), (3, "[1]")], "id long, request string")
    rows = {r["id"]: r for r in acs.spark.decisions(df, str(SHIPPED), keys=["id"], column="request").collect()}
    assert {r["verdict"] for r in rows.values()} == {"error"}
    assert "null" in rows[2]["errors"][0]
    assert "object" in rows[3]["errors"][0]


HOST_RULES = """
- id: MANY_TRUCKS
  priority: 10
  severity: high
  description: Too many trucks for the operator
  condition: "event.type == 'truck.create' && db.count.trucksByOperator(ctx.operatorId) >= 10"
  action:
    - rejectRequest: { code: TOO_MANY_TRUCKS, message: "{{ctx.operatorId}} has too many trucks" }
  audit: true
- id: AFTER_HOURS
  priority: 5
  severity: low
  description: Trucks created after the cut-off instant
  condition: "event.type == 'truck.create' && now() > 1700000000000"
  action:
    - flagWatchlist: { reason: "after hours" }
  audit: true
"""


def test_recorded_answers_decide_and_a_missing_one_is_a_counted_rule_error(spark):
    truck = lambda op: json.dumps({"event": {"type": "truck.create"}, "ctx": {"operatorId": op}})  # noqa: E731
    answer = lambda op, n: json.dumps([{"name": "db.count.trucksByOperator", "args": [op], "result": n}])  # noqa: E731
    rows = [
        (1, truck("OP-1"), answer("OP-1", 12), 1800000000000.0),  # rejects, after hours
        (2, truck("OP-2"), answer("OP-2", 3), 1600000000000.0),  # allowed
        (3, truck("OP-3"), answer("OP-9", 12), 1600000000000.0),  # no answer for OP-3
        (4, truck("OP-4"), None, None),  # nothing recorded: an error, now() the clock
        (5, truck("OP-5"), "not json", None),  # an unreadable recording: an invalid row
    ]
    df = spark.createDataFrame(rows, "n long, input string, calls string, now double")
    report = acs.spark.backtest(df, HOST_RULES, column="input", calls="calls", now="now", line="n")
    rule = {r["id"]: r for r in report["rules"]}
    assert rule["MANY_TRUCKS"]["matches"] == 1
    assert rule["MANY_TRUCKS"]["errors"] == 2
    assert rule["MANY_TRUCKS"]["first_error"]["line"] == 3
    assert "not in the recording" in rule["MANY_TRUCKS"]["first_error"]["message"]
    assert rule["AFTER_HOURS"]["matches"] == 2  # row 1 by its recorded instant, row 4 by the clock
    assert report["inputs"] == 4 and report["invalid"]["count"] == 1
    assert report["invalid"]["examples"][0]["line"] == 5
    assert report["verdicts"]["rejections"] == [
        {"rule_id": "MANY_TRUCKS", "code": "TOO_MANY_TRUCKS", "count": 1}
    ]
    decided = {
        r["n"]: r
        for r in acs.spark.decisions(df, HOST_RULES, keys=["n"], column="input", calls="calls", now="now").collect()
    }
    assert decided[1]["verdict"] == "rejected" and decided[1]["matched_ids"] == ["MANY_TRUCKS", "AFTER_HOURS"]
    assert decided[3]["errors"][0].startswith("MANY_TRUCKS: ")
    assert decided[5]["verdict"] == "error"


def test_an_audit_log_replays_on_the_cluster_with_its_recorded_answers(spark, tmp_path):
    log = tmp_path / "log"
    key = tmp_path / "audit.key"
    subprocess.run([acs_binary(), "bundle", "keygen", str(key)], check=True, capture_output=True)
    counts = {"OP-1": 12, "OP-2": 3}
    engine = acs.Engine.from_string(
        HOST_RULES,
        functions={"db.count.trucksByOperator": lambda op: counts.get(op, 0)},
        audit={"dir": str(log), "key": str(key), "record_all": True},
    )
    verdicts = []
    for i in range(40):
        op = ["OP-1", "OP-2", "OP-3"][i % 3]
        decision = engine.evaluate({"event": {"type": "truck.create"}, "ctx": {"operatorId": op}})
        verdicts.append(decision.verdict["outcome"])
    engine.audit_flush()
    df = acs.spark.read_audit(spark, str(log))
    assert df.count() == 40
    assert [r["seq"] for r in df.orderBy("seq").collect()] == sorted(r["seq"] for r in df.collect())
    # The databases say something else today: the recorded answers decide.
    counts.clear()
    report = acs.spark.backtest(df, HOST_RULES, column="input", calls="calls", now="now", line="seq")
    assert report["verdicts"]["rejected"] == verdicts.count("rejected") > 0
    assert report["verdicts"]["allowed"] == verdicts.count("allowed")
    assert all(r["errors"] == 0 for r in report["rules"])
    recorded = {r["verdict"] for r in df.collect()}
    assert recorded == set(verdicts)


def test_an_audit_log_of_velocity_rules_replays_with_its_recorded_counts(spark, tmp_path):
    rules = """
velocity:
  - name: pays
    events: [pay]
    key: ctx.userId
    windows: [1m]
rules:
  - id: FAST
    priority: 1
    severity: high
    description: the third payment in a minute
    condition: "event.type == 'pay' && velocity.count('pays', ctx.userId, '1m') >= 3"
    action: [ { rejectRequest: { code: FAST, message: fast } } ]
    audit: true
"""
    log = tmp_path / "log"
    key = tmp_path / "audit.key"
    subprocess.run([acs_binary(), "bundle", "keygen", str(key)], check=True, capture_output=True)
    engine = acs.Engine.from_string(rules, audit={"dir": str(log), "key": str(key), "record_all": True})
    verdicts = [engine.evaluate({"event": {"type": "pay"}, "ctx": {"userId": "U-V"}}).verdict["outcome"] for _ in range(5)]
    assert verdicts == ["allowed", "allowed", "rejected", "rejected", "rejected"]
    engine.audit_flush()
    df = acs.spark.read_audit(spark, str(log))
    # The cluster's store starts empty: the recorded counts decide, as production did.
    report = acs.spark.backtest(df, rules, column="input", calls="calls", now="now", line="seq")
    assert (report["verdicts"]["allowed"], report["verdicts"]["rejected"]) == (2, 3)
    assert report["inputs_with_errors"] == 0


def test_bad_arguments_fail_on_the_driver_before_any_task(spark):
    df = spark.read.text(str(RECORDED))
    with pytest.raises(acs.RulesError):
        acs.spark.backtest(df, "- id: X\n  condition: 'a &&'\n")
    with pytest.raises(ValueError, match="no column"):
        acs.spark.backtest(df, str(SHIPPED), column="request")
    with pytest.raises(ValueError, match="exclude each other"):
        acs.spark.backtest(df, str(SHIPPED), functions=str(STUBS), calls="value")
    with pytest.raises(FileNotFoundError):
        acs.spark.backtest(df, "no/such/rules.yaml")
    two = spark.createDataFrame([("a", "b")], "x string, y string")
    with pytest.raises(ValueError, match="which column"):
        acs.spark.backtest(two, str(SHIPPED))


def test_column_mistakes_fail_on_the_driver_with_the_column_named(spark):
    import datetime

    df = spark.createDataFrame([(1, "{}", "[]", 1.0)], "n long, input string, calls string, now double")
    with pytest.raises(ValueError, match="give calls"):
        acs.spark.backtest(df, HOST_RULES, column="input", now="now")
    with pytest.raises(ValueError, match="named like decision columns"):
        acs.spark.decisions(df.withColumnRenamed("n", "verdict"), HOST_RULES, keys=["verdict"], column="input")
    with pytest.raises(TypeError, match="not shipped"):
        acs.spark.backtest(df, HOST_RULES, column="input", functions={"db.count.trucksByOperator": lambda op: 1})
    with pytest.raises(TypeError, match="int64"):
        acs.spark.backtest(df.withColumn("n", df["n"].cast("int")), HOST_RULES, column="input", line="n")
    dated = spark.createDataFrame(
        [({"type": "truck.create", "at": datetime.date(2026, 1, 1)},)], "event struct<type: string, at: date>"
    )
    with pytest.raises(TypeError, match="event.at"):
        acs.spark.backtest(dated, HOST_RULES)
    # A value in the data is found where the data is read: the task fails, saying why.
    with pytest.raises(Exception, match="line numbers start at 1"):
        acs.spark.backtest(df.withColumn("n", df["n"] - 5), HOST_RULES, column="input", line="n")


def test_struct_columns_decide_as_their_json_does(spark):
    rows = [
        ({"type": "truck.create"}, {"operatorId": "OP-1"}),
        ({"type": "truck.create"}, {"operatorId": None}),
        ({"type": "gps.ping"}, {"operatorId": "OP-2"}),
    ]
    df = spark.createDataFrame(rows, "event struct<type: string>, ctx struct<operatorId: string>")
    stubs = {"db.count.trucksByOperator": [[["OP-1"], 12]]}
    report = acs.spark.backtest(df, HOST_RULES, functions=stubs)
    rule = {r["id"]: r for r in report["rules"]}
    assert report["inputs"] == 3
    assert rule["MANY_TRUCKS"]["matches"] == 1
    # ctx.operatorId null is absent: the call gets null, which the stub table does not hold.
    assert rule["MANY_TRUCKS"]["errors"] == 1 and rule["MANY_TRUCKS"]["first_error"]["line"] == 2


def test_blank_lines_are_blank_with_recorded_calls_too(spark):
    df = spark.createDataFrame([(1, "", "[]"), (2, "  ", None)], "n long, input string, calls string")
    report = acs.spark.backtest(df, HOST_RULES, column="input", calls="calls", line="n")
    assert (report["blank_lines"], report["inputs"], report["invalid"]["count"]) == (2, 0, 0)


def test_a_worker_whose_rules_hash_differently_refuses_to_count():
    shipment = {
        "rules": acs.spark.rules_files(str(SHIPPED)),
        "baseline": None,
        "stubs": None,
        "recorded": False,
        "examples": 5,
        "hash": "sha256:" + "0" * 64,
    }
    with pytest.raises(RuntimeError, match="hash"):
        acs.spark._run(shipment)


def test_rules_files_reads_a_bundle_directory_text_and_uris(spark, tmp_path):
    (tmp_path / "a.yaml").write_text(HOST_RULES)
    (tmp_path / "b.yml").write_text(HOST_RULES.replace("MANY_TRUCKS", "MORE_TRUCKS").replace("AFTER_HOURS", "LATER"))
    (tmp_path / "notes.txt").write_text("not rules")
    (tmp_path / ".draft.yaml").write_text("hidden, as the engine skips it in a directory")
    files = acs.spark.rules_files(str(tmp_path))
    assert [Path(name).name for name, _ in files] == ["a.yaml", "b.yml"]
    assert acs.spark.rules_files("file://" + str(tmp_path)) == [
        ("file:" + name, text) for name, text in files
    ]
    assert acs.spark.rules_files(HOST_RULES) == [("rules.yaml", HOST_RULES)]
    with pytest.raises(FileNotFoundError):
        acs.spark.rules_files("no-such-rules.yaml")
    # Two files load as one bundle: both files' rules count.
    run = acs.BacktestRun(files)
    df = spark.createDataFrame([('{"event": {"type": "truck.create"}}',)], "request string")
    report = acs.spark.backtest(df, str(tmp_path))
    assert report["ruleset_hash"] == run.ruleset_hash
    assert [r["id"] for r in report["rules"]] == ["MANY_TRUCKS", "MORE_TRUCKS", "AFTER_HOURS", "LATER"]


VELOCITY_RULES = """
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
    severity: high
    description: a fourth payment within a minute
    condition: "event.type == 'pay' && velocity.count('pays', ctx.userId, '1m') > 3"
    action: [ { rejectRequest: { code: BURST, message: "{{velocity.count('pays', ctx.userId, '1h')}} this hour" } } ]
    audit: false
  - id: BUSY_FRIEND
    priority: 0
    severity: low
    description: the payer's friend paid 3 times within the hour (a count of another key)
    condition: "event.type == 'pay' && velocity.count('pays', ctx.friendId, '1h') >= 3"
    action: [ { flagWatchlist: { reason: busy friend } } ]
    audit: false
"""


def matches(report: Dict[str, Any], rule: str) -> int:
    return next(r["matches"] for r in report["rules"] if r["id"] == rule)


def velocity_lines() -> List[str]:
    """Payments of 40 users over a day in time order: every fifth user pays in a burst
    (6 within a minute, one of them retried), the others every few minutes."""
    start = 1_764_800_000_000
    events = []
    for user in range(40):
        burst = user % 5 == 0
        for i in range(6):
            at = start + user * 600_000 + i * (5_000 if burst else 400_000)
            ctx = {"userId": f"U-{user}", "friendId": f"U-{(user + 1) % 40}"}
            events.append((at, {"event": {"type": "pay", "at": at, "id": f"E{user}-{i}"}, "ctx": ctx}))
        if burst:  # a retry of the last payment: not counted again
            events.append((at + 1_000, {"event": {"type": "pay", "at": at + 1_000, "id": f"E{user}-5"}, "ctx": ctx}))
    events.sort(key=lambda e: e[0])
    return [json.dumps(e) for _, e in events]


def test_a_velocity_backtest_counts_in_time_order_across_partitions(spark, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(VELOCITY_RULES)
    lines = velocity_lines()
    shuffled = list(lines)
    random.Random(7).shuffle(shuffled)
    (tmp_path / "sorted.jsonl").write_text("".join(line + "\n" for line in lines))
    (tmp_path / "shuffled.jsonl").write_text("".join(line + "\n" for line in shuffled))
    expected = replay("--rules", str(rules), str(tmp_path / "sorted.jsonl"))
    # 8 bursting users: their 4th, 5th, 6th payments and the retry.
    assert matches(expected, "BURST") == 8 * 4
    # Reading the friend's count: the friend's payments before this one, in time.
    busy = matches(expected, "BUSY_FRIEND")
    assert 0 < busy < len(lines)
    # The same lines shuffled, read as several partitions, numbered by Spark.
    df = spark.read.text(str(tmp_path / "shuffled.jsonl")).repartition(3)
    report = acs.spark.backtest(df, str(rules))
    assert matches(report, "BURST") == 8 * 4
    assert matches(report, "BUSY_FRIEND") == busy
    assert report["inputs_with_errors"] == 0
    assert report["verdicts"] == expected["verdicts"]
    # Numbered by a line column: the report equals acs replay's of the shuffled file.
    numbered = spark.createDataFrame(
        [(i + 1, line) for i, line in enumerate(shuffled)], "line long, value string"
    ).repartition(4)
    report = acs.spark.backtest(numbered, str(rules), column="value", line="line")
    assert without_throughput(report) == without_throughput(
        replay("--rules", str(rules), str(tmp_path / "shuffled.jsonl"))
    )


def test_velocity_decisions_row_by_row_read_the_counts_of_time_order(spark, tmp_path):
    lines = velocity_lines()
    shuffled = list(lines)
    random.Random(11).shuffle(shuffled)
    df = spark.createDataFrame(
        [(json.loads(line)["event"]["id"], line) for line in shuffled], "id string, value string"
    ).repartition(3)
    rows = acs.spark.decisions(df, VELOCITY_RULES, keys=["id"], column="value").collect()
    assert len(rows) == len(lines)
    # What a live engine decides, the events in time order.
    engine = acs.Engine.from_string(VELOCITY_RULES)
    expected = {}
    expected_ids = []
    for line in lines:
        event = json.loads(line)
        decision = engine.evaluate(event)
        expected_ids.append(decision.matched_ids)
        # A retry shares its id with the payment it repeats: keep both outcomes.
        expected.setdefault(event["event"]["id"], []).append(decision.verdict["outcome"])
    got = {}
    for row in rows:
        assert row["errors"] == []
        got.setdefault(row["id"], []).append(row["verdict"])
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}
    assert sum(v.count("rejected") for v in got.values()) == 8 * 4
    friends = [row for row in rows if "BUSY_FRIEND" in row["matched_ids"]]
    assert friends and len(friends) == sum(
        "BUSY_FRIEND" in engine_ids for engine_ids in expected_ids
    )
