"""Every entry of the API: loading, errors, host functions, operations, the tools."""

import json
import os
import re

import pytest

import acs
from support import EXAMPLES, RECORDED, REPO, RULES, STUBS, cli, load, rule

TWO = rule("A", "event.type == 'x'") + rule("B", "event.amount > 10").replace("priority: 1", "priority: 2")


def test_from_string_and_rule_ids():
    engine = acs.Engine.from_string(TWO, name="mine.yaml")
    assert engine.rule_ids == ["B", "A"] or sorted(engine.rule_ids) == ["A", "B"]
    assert engine.evaluate({"event": {"type": "x"}}).matched_ids == ["A"]
    assert "acs.Engine" in repr(engine)


def test_rules_errors_name_the_place():
    broken = rule("A", "event.type == 'x' &&")
    with pytest.raises(acs.RulesError) as caught:
        acs.Engine.from_string(broken, name="broken.yaml")
    error = caught.value
    assert isinstance(error, ValueError) and isinstance(error, acs.AcsError)
    assert error.file == "broken.yaml"
    assert error.line == 6 and isinstance(error.column, int)
    assert re.match(r"ACS\d+", error.code)
    assert error.kind == "invalid"
    assert error.diagnostics and error.diagnostics[0]["code"] == error.code
    assert "broken.yaml:6:" in str(error)


def test_a_missing_rules_file_is_rules_not_found():
    with pytest.raises(acs.RulesNotFound) as caught:
        acs.Engine.from_path("/nonexistent/rules.yaml")
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, acs.RulesError)
    assert caught.value.errno == 2
    assert caught.value.kind == "io"


def test_bad_argument_types_are_type_errors():
    with pytest.raises(TypeError):
        acs.Engine.from_path(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        acs.Engine.from_string(TWO, functions={"f": 3})
    with pytest.raises(TypeError):
        acs.Engine.from_string(TWO, functions=[1])
    with pytest.raises(TypeError):
        acs.Engine.from_string(TWO, limits={"max_nothing": 1})
    with pytest.raises(TypeError):
        acs.Engine.from_string(TWO, limits={"max_input_bytes": -1})
    engine = acs.Engine.from_string(TWO)
    with pytest.raises(TypeError):
        engine.evaluate_json(42)
    with pytest.raises(TypeError):
        engine.evaluate_many({"event": {}})
    with pytest.raises(TypeError):
        engine.on_reload(3)
    with pytest.raises(TypeError):
        acs.lint(3)


def test_limits_are_the_engines():
    engine = acs.Engine.from_string(TWO, limits={"max_input_bytes": 50})
    with pytest.raises(acs.InputError) as caught:
        engine.evaluate_json(json.dumps({"event": {"type": "x" * 100}}))
    assert caught.value.code == "too_large"
    assert 'limits["max_input_bytes"]' in str(caught.value)
    with pytest.raises(acs.InputError) as caught:
        engine.evaluate({"event": {"type": "x" * 100}})
    assert caught.value.code == "too_large"


HOSTED = """
- id: COUNT
  priority: 2
  severity: high
  description: d
  condition: db.count(event.user) > 2
  action: [ { flagWatchlist: { n: "{{db.count(event.user)}}" } } ]
  audit: false
- id: OTHER
  priority: 1
  severity: low
  description: d
  condition: event.type == 'x'
  action: [ { flagWatchlist: {} } ]
  audit: false
"""


def test_host_functions_get_arguments_and_answer():
    seen = []

    def count(user):
        seen.append(user)
        return 5

    engine = acs.Engine.from_string(HOSTED, functions={"db.count": count})
    decision = engine.evaluate({"event": {"type": "x", "user": "u1"}})
    assert decision.matched_ids == ["COUNT", "OTHER"]
    assert decision.matched[0]["actions"][0]["params"]["n"] == 5
    assert seen and set(seen) == {"u1"}
    assert engine.function_names == ["db.count"]


def test_an_exception_in_a_host_function_is_its_rules_error():
    def count(user):
        raise KeyError("no such user")

    engine = acs.Engine.from_string(HOSTED, functions={"db.count": count})
    decision = engine.evaluate({"event": {"type": "x", "user": "u1"}})
    assert decision.matched_ids == ["OTHER"]
    assert len(decision.errors) == 1
    assert decision.errors[0]["rule_id"] == "COUNT"
    assert "KeyError: 'no such user'" in decision.errors[0]["message"]


def test_a_function_error_carries_its_own_code():
    def count(user):
        raise acs.FunctionError("db down", code="unavailable")

    engine = acs.Engine.from_string(HOSTED, functions={"db.count": count})
    errors = engine.evaluate({"event": {"type": "x", "user": "u1"}}).errors
    assert "db down" in errors[0]["message"]


def test_a_coroutine_to_a_sync_evaluation_is_an_error_not_a_hang():
    async def count(user):
        return 5

    engine = acs.Engine.from_string(HOSTED, functions={"db.count": count})
    decision = engine.evaluate({"event": {"type": "x", "user": "u1"}})
    assert decision.matched_ids == ["OTHER"]
    assert "evaluate_async" in decision.errors[0]["message"]


def test_a_host_function_may_call_an_engine():
    inner = acs.Engine.from_path(RULES, stubs=STUBS)
    example = load(EXAMPLES / "bid_create_kyc_missing.json")

    def count(user):
        return len(inner.evaluate(example).matched) + 10

    outer = acs.Engine.from_string(HOSTED, functions={"db.count": count})
    decision = outer.evaluate({"event": {"type": "x", "user": "u1"}})
    assert decision.matched[0]["actions"][0]["params"]["n"] == 11
    # and re-entering the same engine
    def again(user):
        return 3 if user == "u1" else same.evaluate({"event": {"type": "y", "user": "u2"}}).rules_evaluated

    same = acs.Engine.from_string(HOSTED, functions={"db.count": again})
    assert same.evaluate({"event": {"type": "x", "user": "u1"}}).matched_ids == ["COUNT", "OTHER"]


def test_stubs_and_python_functions_together():
    engine = acs.Engine.from_path(RULES, stubs=STUBS, functions={"unused.fn": lambda: 1})
    path = EXAMPLES / "truck_create_over_limit.json"
    assert engine.evaluate(load(path)).to_dict() == json.loads(
        cli("eval", "--rules", str(RULES), "--functions", str(STUBS), str(path))
    )


def test_operations():
    engine = acs.Engine.from_string(TWO)
    status = engine.status()
    assert status["generation"] == 1 and status["last_error"] is None
    engine.evaluate({"event": {"type": "x"}})
    assert "acs_" in engine.metrics()
    snapshot = engine.metrics_snapshot()
    assert isinstance(snapshot, dict)
    assert engine.set_rule_enabled("A", False) == "applied"
    assert engine.evaluate({"event": {"type": "x"}}).matched_ids == []
    assert engine.set_rule_enabled("LATER", False) == "pending"
    engine.clear_rule_override("A")
    assert engine.evaluate({"event": {"type": "x"}}).matched_ids == ["A"]
    explanation = engine.explain({"event": {"type": "x"}})
    assert isinstance(explanation, dict)
    assert "A" in json.dumps(explanation)
    events = []
    engine.on_reload(events.append)
    assert engine.reload()["generation"] == 2
    assert events and events[-1]["outcome"] in ("loaded", "unchanged")


def test_lint_and_explain_code():
    result = acs.lint(str(RULES / "acs_rules_top25.yaml"))
    assert set(result) >= {"errors", "warnings", "findings", "failed", "reports"}
    assert result["failed"] is False
    for finding in result["findings"]:
        assert {"code", "severity", "message", "file", "line", "column"} <= set(finding)
    broken = RULES.parent / "bindings/python/tests/broken.yaml"
    broken.write_text(rule("A", "event.type == 'x' &&"))
    try:
        failed = acs.lint([broken])
        assert failed["failed"] is True and failed["errors"] >= 1
        assert failed["findings"][0]["line"] == 6
    finally:
        broken.unlink()
    assert acs.explain_code("acs101")
    assert acs.explain_code("NOPE999") is None


def test_run_tests_equals_acs_test(monkeypatch):
    report = acs.run_tests(str(RULES / "tests"))
    expected = json.loads(cli("test", "--quiet", "--format", "json", str(RULES / "tests")))
    assert report == expected
    monkeypatch.chdir(REPO)
    report_here = acs.run_tests("rules/tests")
    assert report_here == json.loads(cli("test", "--quiet", "--format", "json", "rules/tests"))
    assert len(report["files"]) == len(expected["files"])
    assert all(t["passed"] for f in report["files"] for t in f["tests"])
    with pytest.raises(acs.TestsError) as caught:
        acs.run_tests("/nonexistent.test.yaml")
    assert caught.value.problems


def _stable(report):
    report = dict(report)
    report.pop("throughput", None)
    return report


def test_backtest_equals_acs_replay():
    expected = json.loads(
        cli("replay", "--rules", str(RULES), "--functions", str(STUBS), "--format", "json", str(RECORDED))
    )
    report = acs.backtest(RECORDED, rules=RULES, stubs=STUBS)
    assert isinstance(report, dict)
    assert _stable(report) == _stable(expected)
    from_bytes = acs.backtest(RECORDED.read_bytes(), rules=RULES, stubs=STUBS)
    assert _stable(from_bytes) == _stable(expected)
    def parsed(line):
        try:
            return json.loads(line)
        except ValueError:
            return None

    lines = [parsed(l) for l in RECORDED.read_text().splitlines() if l.strip()]
    from_dicts = acs.backtest([l for l in lines if isinstance(l, dict)], rules=RULES, stubs=STUBS)
    assert from_dicts["inputs"] == expected["inputs"]
    assert from_dicts["verdicts"] == expected["verdicts"]
    with_baseline = acs.backtest(RECORDED, rules=RULES, baseline=RULES, stubs=STUBS)
    expected_baseline = json.loads(
        cli("replay", "--rules", str(RULES), "--baseline", str(RULES), "--functions", str(STUBS),
            "--format", "json", str(RECORDED))
    )
    assert _stable(with_baseline) == _stable(expected_baseline)


def test_backtest_to_pandas():
    pandas = pytest.importorskip("pandas")
    frame = acs.backtest(RECORDED, rules=RULES, stubs=STUBS).to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert "id" in frame.columns and len(frame) > 0


def test_a_panic_would_be_an_exception():
    # pyo3 turns a Rust panic into `PanicException` (a BaseException): reachable from Python.
    from acs import _acs  # noqa: F401
    assert issubclass(acs.AcsError, Exception)


def test_audit_option_records_audit_decisions_that_acs_audit_verifies(tmp_path):
    from support import audit_decisions, audit_key

    key = audit_key(tmp_path)
    log = tmp_path / "log"
    engine = acs.Engine.from_path(
        str(RULES), audit={"dir": str(log), "key": str(key), "redact": {"remove": ["/ctx/userId"]}}
    )
    document = json.loads((RULES / "examples" / "bid_create_kyc_missing.json").read_text())
    assert engine.evaluate(document).is_rejected
    engine.audit_flush()
    decision = audit_decisions(log, key)[0]
    assert decision["matched"][0]["id"] == "RF01_KYC_MANDATORY"
    assert "userId" not in decision["input"]["ctx"]
    with pytest.raises(TypeError, match="key"):
        acs.Engine.from_path(str(RULES), audit={"dir": str(log)})
    with pytest.raises(RuntimeError):
        acs.Engine.from_path(str(RULES)).audit_flush()


def test_a_counter_reads_its_key_and_instant_from_a_dict_though_no_rule_reads_them():
    # The binding converts only what the plan reads of a dict: the counters' paths too.
    rules = """
velocity:
  - { name: pays, events: [pay], key: ctx.userId, windows: [1m], time: event.at }
rules:
  - id: BURST
    priority: 1
    severity: low
    description: a third payment within a minute
    condition: "event.type == 'pay' && rate.limitExceeded(ctx.accountId, 'pays', 2)"
    action: [ { flagWatchlist: { reason: burst } } ]
    audit: false
"""
    engine = acs.Engine.from_string(rules)
    start = 1_764_800_000_000
    matched = []
    for i in range(4):  # a payment every 40 s: never 3 within a minute
        event = {"event": {"type": "pay", "at": start + i * 40_000}, "ctx": {"userId": "U-1", "accountId": "U-1"}}
        decision = engine.evaluate(event)
        assert decision.errors == []
        matched.append(decision.matched_ids)
    assert matched == [[], [], [], []]


def test_the_shipped_velocity_rule_counts_in_the_process_and_the_velocity_option_is_checked():
    # RF20 reads the bid.modify counter the bundle declares: no host function needed.
    engine = acs.Engine.from_path(str(RULES / "acs_rules_top25.yaml"), velocity={})
    change = {"event": {"type": "bid.modify"}, "ctx": {"userId": "U-PY"}, "system": {"config": {"bidModifyRateLimit": 20}}}
    for n in range(20):
        assert engine.evaluate(change).matched_ids == [], n
    assert engine.evaluate(change).matched_ids == ["RF20_BID_FLOOD_RATE_LIMIT"]
    assert 'acs_velocity_keys{backend="local"} 1' in engine.metrics()
    with pytest.raises(TypeError, match="unknown field `redsi`"):
        acs.Engine.from_path(str(RULES / "acs_rules_top25.yaml"), velocity={"redsi": "x"})
    with pytest.raises(TypeError, match="velocity"):
        acs.Engine.from_path(str(RULES / "acs_rules_top25.yaml"), velocity={"redis": "not a url"})
