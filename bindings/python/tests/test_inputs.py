"""Inputs the engine refuses: a clear exception each, never a crash."""

import json

import pytest

import acs

READS = """
- id: P
  priority: 1
  severity: low
  description: d
  condition: event.payload != null
  action: [ { flagWatchlist: {} } ]
  audit: false
"""


@pytest.fixture(scope="module")
def engine():
    return acs.Engine.from_string(READS)


def refused(engine, data, code):
    with pytest.raises(acs.InputError) as caught:
        engine.evaluate(data)
    assert caught.value.code == code, str(caught.value)
    assert isinstance(caught.value, ValueError)
    return caught.value


def test_non_dict_inputs(engine):
    for data in ([1, 2], "text", 3, None):
        refused(engine, data, "not_an_object")


def test_unserialisable_values_name_the_field(engine):
    error = refused(engine, {"event": {"type": "x", "payload": {"amount": object()}}}, "not_json")
    assert error.path == "input.event.payload.amount"
    error = refused(engine, {"event": {"type": "x", "payload": [1, {1, 2}]}}, "not_json")
    assert error.path == "input.event.payload[1]"
    error = refused(engine, {"event": {"type": "x", "payload": {3: "int key"}}}, "not_json")
    assert error.path == "input.event.payload"


def test_nan_and_infinity(engine):
    for bad in (float("nan"), float("inf"), float("-inf")):
        error = refused(engine, {"event": {"payload": bad}}, "not_json")
        assert error.path == "input.event.payload"


def test_integers_of_64_bits_are_exact_beyond_is_an_error(engine):
    assert engine.evaluate({"event": {"payload": 2**64 - 1}}).matched_ids == ["P"]
    assert engine.evaluate({"event": {"payload": -(2**63)}}).matched_ids == ["P"]
    error = refused(engine, {"event": {"payload": 2**64}}, "not_json")
    assert "64 bits" in str(error)


def test_deep_nesting_and_cycles(engine):
    deep = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    refused(engine, {"event": {"payload": deep}}, "too_deep")
    cyclic = {}
    cyclic["self"] = cyclic
    refused(engine, {"event": {"payload": cyclic}}, "too_deep")
    looped = []
    looped.append(looped)
    refused(engine, {"event": {"payload": looped}}, "too_deep")
    with pytest.raises(acs.InputError) as caught:
        engine.evaluate_json("[" * 100_000 + "]" * 100_000)
    assert caught.value.code in ("too_deep", "not_an_object", "json")


def test_huge_strings(engine):
    huge = "x" * (17 << 20)
    refused(engine, {"event": {"payload": huge}}, "too_large")
    with pytest.raises(acs.InputError) as caught:
        engine.evaluate_json(json.dumps({"event": {"payload": huge}}))
    assert caught.value.code == "too_large"


def test_bad_json(engine):
    for text, code in (('{"event": ', "json"), ('{"a": 1, "a": 2}', "duplicate_key")):
        with pytest.raises(acs.InputError) as caught:
            engine.evaluate_json(text)
        assert caught.value.code == code


def test_explain_and_async_read_the_whole_input(engine):
    with pytest.raises(acs.InputError):
        engine.explain({"event": {}, "unread": float("nan")})


def test_accepted_python_values(engine):
    data = {"event": {"payload": (1, 2.5, True, None, "é", [{"x": -1}])}}
    assert engine.evaluate(data).matched_ids == ["P"]
    assert engine.evaluate(data) == engine.evaluate_json(json.dumps(data))
