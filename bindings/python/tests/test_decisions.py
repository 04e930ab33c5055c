"""Decisions equal the CLI's JSON, field for field, on every example and recorded line."""

import asyncio
import gc
import json

import pytest

import acs
from support import RULES, STUBS, EXAMPLES, cli, example_inputs, recorded_lines, load


@pytest.fixture(scope="module")
def engine() -> acs.Engine:
    return acs.Engine.from_path(RULES, stubs=STUBS)


@pytest.mark.parametrize("path", example_inputs(), ids=lambda p: p.name)
def test_every_example_decides_as_the_cli(engine, path):
    printed = cli("eval", "--rules", str(RULES), "--functions", str(STUBS), str(path))
    expected = json.loads(printed)
    by_dict = engine.evaluate(load(path))
    by_bytes = engine.evaluate_json(path.read_bytes())
    by_text = engine.evaluate_json(path.read_text())
    assert by_dict.to_dict() == expected
    assert by_bytes == by_dict == by_text
    assert json.loads(by_bytes.to_json()) == expected
    assert by_bytes.to_json(pretty=True) + "\n" == printed


def test_recorded_lines_decide_as_the_cli(engine, tmp_path):
    for number, line in enumerate(recorded_lines()[:40]):
        file = tmp_path / f"line{number}.json"
        file.write_text(line)
        done = cli("eval", "--rules", str(RULES), "--functions", str(STUBS), str(file), check=False)
        try:
            expected = json.loads(done)
        except json.JSONDecodeError:
            with pytest.raises(acs.InputError):
                engine.evaluate_json(line)
            continue
        assert engine.evaluate_json(line).to_dict() == expected, f"line {number + 1}"
        assert engine.evaluate(json.loads(line)).to_dict() == expected, f"line {number + 1}"


def test_decision_attributes(engine):
    decision = engine.evaluate(load(EXAMPLES / "bid_create_kyc_missing.json"))
    whole = decision.to_dict()
    assert decision.verdict == whole["verdict"]
    assert decision.matched == whole["matched"]
    assert decision.shadow_matched == whole["shadow_matched"]
    assert decision.errors == whole["errors"]
    assert decision.rules_evaluated == whole["rules_evaluated"]
    assert decision.generation == whole["generation"] == 1
    assert decision.ruleset_hash == whole["ruleset_hash"]
    assert decision.ruleset_hash.startswith("sha256:")
    assert decision.is_rejected
    assert decision.matched_ids == [m["id"] for m in whole["matched"]]
    assert decision.rejection == {k: v for k, v in whole["verdict"].items() if k != "outcome"}
    assert "rejected" in repr(decision)
    clean = engine.evaluate(load(EXAMPLES / "bid_create_clean.json"))
    assert not clean.is_rejected and clean.rejection is None
    assert clean != decision


def test_a_cut_input_decides_as_the_whole(engine):
    for path in example_inputs():
        document = load(path)
        document["unread"] = {"noise": list(range(100)), "text": "x" * 1000}
        assert engine.evaluate(document) == engine.evaluate_json(path.read_bytes())
        # explain reads the whole input; evaluate_async too
        assert engine.explain(document)


def test_decisions_are_not_tracked_by_the_cyclic_garbage_collector(engine):
    # A Decision holds no Python reference, so it can never be part of a cycle; tracking
    # the results of a large evaluate_many cost the collector a tenth of the calling thread.
    path = EXAMPLES / "bid_create_kyc_missing.json"
    document = load(path)
    decisions = [
        engine.evaluate(document),
        engine.evaluate_json(path.read_bytes()),
        *engine.evaluate_many([document, path.read_bytes()], threads=1),
        *engine.evaluate_many([document, path.read_bytes()] * 300, threads=2),
        asyncio.run(engine.evaluate_async(document)),
    ]
    assert all(isinstance(d, acs.Decision) for d in decisions)
    assert not any(gc.is_tracked(d) for d in decisions)
    gc.collect()
    assert all(d == decisions[0] for d in decisions)
    assert decisions[-1].to_dict() == json.loads(decisions[0].to_json())
