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
        # No object on the way to `event.payload`: nothing is read there, but the value
        # is still no JSON.
        error = refused(engine, {"event": [bad]}, "not_json")
        assert error.path == "input.event[0]"


def test_integers_of_64_bits_are_exact_beyond_is_an_error(engine):
    assert engine.evaluate({"event": {"payload": 2**64 - 1}}).matched_ids == ["P"]
    assert engine.evaluate({"event": {"payload": -(2**63)}}).matched_ids == ["P"]
    error = refused(engine, {"event": {"payload": 2**64}}, "not_json")
    assert "64 bits" in str(error)


def nested(depth):
    """A dict `depth` levels deep: {"a": {"a": ... {}}}."""
    deep = {}
    node = deep
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return deep


def test_deep_nesting_and_cycles(engine):
    refused(engine, {"event": {"payload": nested(100_000)}}, "too_deep")
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


def test_strings_are_read_as_their_utf8_and_lone_surrogates_are_refused(engine):
    texts = ["ascii", "é", "😀 emoji", "日本語", "", "a\x00b", "x" * 10_000]
    equal = acs.Engine.from_string(
        "".join(
            f"- {{ id: T{i}, priority: 1, severity: low, description: d, condition: 'event.payload == {json.dumps(t, ensure_ascii=False)}', action: [], audit: false }}\n"
            for i, t in enumerate(texts[:4])
        )
    )
    for i, text in enumerate(texts):
        data = {"event": {"payload": text, text: {"k": text}}}
        assert engine.evaluate(data) == engine.evaluate_json(json.dumps(data)), text
        assert engine.evaluate_many([data])[0] == engine.evaluate_json(json.dumps(data)), text
        if i < 4:
            assert equal.evaluate(data).matched_ids == [f"T{i}"], text
    error = refused(engine, {"event": {"payload": "a\ud800b"}}, "not_json")
    assert error.path == "input.event.payload"
    assert "lone surrogates" in str(error)
    error = refused(engine, {"event": {"payload": {"\udfff": 1}}}, "not_json")
    assert error.path == "input.event.payload"
    # The refusal leaves no Python exception pending: a batch goes on past it and returns.
    for threads in (1, 2):
        alone = engine.evaluate_many([{"event": {"payload": "\ud800"}}], threads=threads)
        assert isinstance(alone[0], acs.InputError) and alone[0].code == "not_json"
        results = engine.evaluate_many([{"event": {"payload": "\ud800"}}, {"event": {"payload": "é"}}], threads=threads)
        assert isinstance(results[0], acs.InputError) and results[0].code == "not_json"
        assert results[1].matched_ids == ["P"]


def test_accepted_python_values(engine):
    data = {"event": {"payload": (1, 2.5, True, None, "é", [{"x": -1}])}}
    assert engine.evaluate(data).matched_ids == ["P"]
    assert engine.evaluate(data) == engine.evaluate_json(json.dumps(data))


def outcome(result):
    if isinstance(result, acs.InputError):
        return ("refused", result.code, getattr(result, "path", None), str(result))
    return ("decided", result.to_dict())


def one_by_one(engine, data):
    try:
        return outcome(engine.evaluate(data))
    except acs.InputError as error:
        return outcome(error)


def test_a_batch_refuses_and_decides_each_dict_as_evaluate_does(engine):
    # A batch (read in chunks, decided on workers) must give every dict the decision or
    # the refusal evaluate gives it.
    deep = nested(300)
    cyclic = {}
    cyclic["self"] = cyclic
    inputs = [
        {"event": {"type": "x", "payload": {"amount": object()}}},
        {"event": {"type": "x", "payload": [1, {1, 2}]}},
        {"event": {"type": "x", "payload": {3: "int key"}}},
        {"event": {"payload": float("nan")}},
        {"event": {"payload": float("-inf")}},
        {"event": {"payload": 1}, "unread": float("nan")},
        {"event": [1, 2]},
        {"event": [float("nan")]},
        {"event": "text"},
        {"event": {"payload": 2**64 - 1}},
        {"event": {"payload": -(2**63)}},
        {"event": {"payload": 2**64}},
        {"event": {"payload": 3.0}},
        {"event": {"payload": deep}},
        {"event": {"payload": cyclic}},
        {"event": {"payload": "x" * (17 << 20)}},
        {"event": {"payload": (1, 2.5, True, None, "é", [{"x": -1}])}},
        {"event": {"payload": None}},
        {"event": {"type": 5, "payload": False}},
        {},
        [1],
    ]
    expected = [one_by_one(engine, data) for data in inputs]
    assert {kind for kind, *_ in expected} == {"refused", "decided"}
    # Where a dict is decided, its JSON text is decided alike: the bytes path shares none
    # of the dict reading.
    compared = 0
    for data, (kind, *decided) in zip(inputs, expected):
        try:
            text = json.dumps(data, allow_nan=False)
        except (TypeError, ValueError):
            continue
        if kind == "decided":
            assert decided == [engine.evaluate_json(text).to_dict()], text[:200]
            compared += 1
    assert compared >= 8
    for threads in (1, 2):
        got = [outcome(r) for r in engine.evaluate_many(inputs * 3, threads=threads)]
        assert got == expected * 3


def test_a_batch_read_before_a_reload_is_decided_by_the_new_rules(tmp_path):
    # The first chunk is read for the plan serving then; a host function reloads new rules
    # midway, and the inputs read for the old plan are decided again, whole, by the new.
    rules = tmp_path / "rules.yaml"
    old = """
- id: OLD
  priority: 1
  severity: low
  description: d
  condition: f.hook(event.n) > 100 || event.a == 1
  action: [ { flagWatchlist: {} } ]
  audit: false
"""
    new = old.replace("OLD", "NEW").replace("event.a == 1", "ctx.b == 2")
    rules.write_text(old)
    holder = {}

    def hook(n):
        if n == 5:
            rules.write_text(new)
            holder["engine"].reload()
        return n

    engine = acs.Engine.from_path(rules, functions={"f.hook": hook})
    holder["engine"] = engine
    inputs = [{"event": {"n": n, "a": 1}, "ctx": {"b": 2}} for n in range(300)]
    results = engine.evaluate_many(inputs)
    assert [r.matched_ids for r in results[:6]] == [["OLD"]] * 6
    assert [r.matched_ids for r in results[6:]] == [["NEW"]] * 294
    assert all(r.generation == 2 for r in results[6:])
