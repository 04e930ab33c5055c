"""Engine.evaluate_arrow: Arrow batches in (PyCapsule interface), a batch of decisions out."""

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

import acs

RULES = Path(__file__).resolve().parents[3] / "rules"
EXAMPLES = RULES / "examples"
COLUMNS = ["verdict", "code", "rule_id", "matched_ids", "shadow_matched_ids", "errors", "ruleset_hash"]


def documents():
    """Every shipped example and every recorded line, as JSON text."""
    texts = [p.read_text() for p in sorted(EXAMPLES.glob("*.json")) if p.name != "stubs.json"]
    texts += [line for line in (EXAMPLES / "recorded.jsonl").read_text().splitlines() if line.strip()]
    return texts


@pytest.fixture(scope="module")
def engine():
    return acs.Engine.from_path(str(RULES))


@pytest.fixture(scope="module")
def texts():
    return documents()


def expected_row(engine, text):
    """What evaluate_arrow must say of `text`, from the engine's JSON-text path."""
    try:
        decision = engine.evaluate_json(text.encode()).to_dict()
    except ValueError as e:  # recorded.jsonl holds a line cut short
        return {
            "verdict": "error",
            "code": None,
            "rule_id": None,
            "matched_ids": [],
            "shadow_matched_ids": [],
            "errors": [str(e)],
            "ruleset_hash": expected_row(engine, "{}")["ruleset_hash"],
        }
    verdict = decision["verdict"]
    rejected = verdict["outcome"] == "rejected"
    return {
        "verdict": verdict["outcome"],
        "code": verdict.get("code") if rejected else None,
        "rule_id": verdict["rule_id"] if rejected else None,
        "matched_ids": [m["id"] for m in decision["matched"]],
        "shadow_matched_ids": [m["id"] for m in decision["shadow_matched"]],
        "errors": [f"{e['rule_id']}: {e['message']}" for e in decision["errors"]],
        "ruleset_hash": decision["ruleset_hash"],
    }


def rows(result):
    batch = pa.record_batch(result)
    assert batch.schema.names == COLUMNS
    return batch.to_pylist()


def test_a_string_array_decides_as_the_json_text_path(engine, texts):
    got = rows(engine.evaluate_arrow(pa.array(texts)))
    assert len(got) == len(texts) > 300
    for text, row in zip(texts, got):
        assert row == expected_row(engine, text)
    assert {row["verdict"] for row in got} == {"allowed", "rejected", "error"}


def test_the_output_schema(engine, texts):
    batch = pa.record_batch(engine.evaluate_arrow(pa.array(texts[:3])))
    assert batch.schema.field("verdict").type == pa.utf8()
    assert batch.schema.field("code").type == pa.utf8()
    assert batch.schema.field("rule_id").type == pa.utf8()
    for name in ["matched_ids", "shadow_matched_ids", "errors"]:
        assert pa.types.is_list(batch.schema.field(name).type)
        assert batch.schema.field(name).type.value_type == pa.utf8()
    assert batch.schema.field("ruleset_hash").type == pa.utf8()


@pytest.mark.parametrize("kind", [pa.large_string(), pa.string_view(), pa.binary(), pa.large_binary()])
def test_every_json_column_type(engine, texts, kind):
    data = pa.array([t.encode() for t in texts[:20]] if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) else texts[:20], type=kind)
    got = rows(engine.evaluate_arrow(data))
    assert got == [expected_row(engine, t) for t in texts[:20]]


def test_a_record_batch_with_a_named_column(engine, texts):
    batch = pa.record_batch({"id": list(range(len(texts))), "input": texts})
    got = rows(engine.evaluate_arrow(batch, column="input"))
    assert got == [expected_row(engine, t) for t in texts]


def test_a_one_column_table_needs_no_name(engine, texts):
    assert rows(engine.evaluate_arrow(pa.table({"doc": texts}))) == [expected_row(engine, t) for t in texts]


def test_a_chunked_table_a_chunked_array_and_a_stream_keep_row_order(engine, texts):
    expected = [expected_row(engine, t) for t in texts]
    chunks = [pa.record_batch({"doc": texts[i : i + 37]}) for i in range(0, len(texts), 37)]
    table = pa.Table.from_batches(chunks)
    assert table.column("doc").num_chunks > 5
    assert rows(engine.evaluate_arrow(table)) == expected
    assert rows(engine.evaluate_arrow(table.column("doc"))) == expected
    reader = pa.RecordBatchReader.from_batches(chunks[0].schema, iter(chunks))
    assert rows(engine.evaluate_arrow(reader)) == expected


def test_a_polars_data_frame(engine, texts):
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": list(range(len(texts))), "json": texts})
    got = rows(engine.evaluate_arrow(frame, column="json"))
    assert got == [expected_row(engine, t) for t in texts]
    # The decisions go back to polars through the same interface.
    back = pl.DataFrame(pa.record_batch(engine.evaluate_arrow(frame, column="json")))
    assert back.columns == COLUMNS


def test_struct_columns_decide_as_the_same_documents(engine, texts):
    compared = 0
    for text in texts:
        try:
            doc = json.loads(text)
        except ValueError:
            continue
        try:
            table = pa.Table.from_pylist([{root: doc[root] for root in ["event", "ctx", "system", "db"] if root in doc}])
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            continue  # pyarrow infers no single type for some mixed lists
        got = rows(engine.evaluate_arrow(table))
        want = expected_row(engine, text)
        assert got == [want], text[:200]
        compared += 1
    assert compared > 200


def test_struct_columns_beside_other_columns_and_absent_roots(engine):
    example = json.loads((EXAMPLES / "bid_create_kyc_missing.json").read_text())
    table = pa.table(
        {
            "request_id": ["a", "b"],
            "event": [example["event"], example["event"]],
            "ctx": [example["ctx"], None],
        }
    )
    got = rows(engine.evaluate_arrow(table))
    with_ctx = {"event": example["event"], "ctx": example["ctx"]}
    assert got[0] == expected_row(engine, json.dumps(with_ctx))
    assert got[1] == expected_row(engine, json.dumps({"event": example["event"]}))


def test_maps_lists_and_non_finite_floats_convert(engine):
    event = pa.array(
        [{"type": "bid.create", "tags": {"a": 1}, "xs": [1.5, None], "f": float("nan")}],
        type=pa.struct(
            [
                ("type", pa.string()),
                ("tags", pa.map_(pa.string(), pa.int64())),
                ("xs", pa.list_(pa.float64())),
                ("f", pa.float64()),
            ]
        ),
    )
    got = rows(engine.evaluate_arrow(pa.table({"event": event})))
    text = json.dumps({"event": {"type": "bid.create", "tags": {"a": 1}, "xs": [1.5, None], "f": None}})
    assert got == [expected_row(engine, text)]


def test_null_rows_invalid_json_and_non_objects_are_error_rows(engine, texts):
    data = pa.array([texts[0], None, "{not json", "[1, 2]", texts[1]])
    got = rows(engine.evaluate_arrow(data))
    assert got[0] == expected_row(engine, texts[0])
    assert got[4] == expected_row(engine, texts[1])
    for row in got[1:4]:
        assert row["verdict"] == "error"
        assert row["code"] is None and row["rule_id"] is None
        assert row["matched_ids"] == [] and row["shadow_matched_ids"] == []
        assert len(row["errors"]) == 1
        assert row["ruleset_hash"] == got[0]["ruleset_hash"]
    assert got[1]["errors"] == ["the input is null"]
    assert "invalid JSON" in got[2]["errors"][0]


def test_an_all_null_column_and_a_null_struct_row(engine):
    assert [r["verdict"] for r in rows(engine.evaluate_arrow(pa.array([None, None])))] == ["error", "error"]
    table = pa.StructArray.from_arrays([pa.array(["{}", "{}"])], names=["doc"], mask=pa.array([False, True]))
    got = rows(engine.evaluate_arrow(table))
    assert got[0]["verdict"] == "allowed"
    assert got[1]["verdict"] == "error" and got[1]["errors"] == ["the row is null"]


def test_an_empty_batch(engine):
    batch = pa.record_batch(engine.evaluate_arrow(pa.array([], type=pa.string())))
    assert batch.num_rows == 0 and batch.schema.names == COLUMNS
    empty = pa.RecordBatchReader.from_batches(pa.schema([("doc", pa.string())]), iter([]))
    assert pa.record_batch(engine.evaluate_arrow(empty)).num_rows == 0


def test_wrong_column_types_name_the_column(engine):
    with pytest.raises(TypeError, match=r'column "n" is of type Int64'):
        engine.evaluate_arrow(pa.table({"n": [1, 2]}))
    with pytest.raises(TypeError, match=r'column "doc" is of type Int64'):
        engine.evaluate_arrow(pa.table({"doc": [1], "s": ["{}"]}), column="doc")
    with pytest.raises(TypeError, match="the input array is of type Float64"):
        engine.evaluate_arrow(pa.array([1.5]))
    with pytest.raises(TypeError, match=r'column "event" is of type Utf8; a root column must be a struct'):
        engine.evaluate_arrow(pa.table({"event": ["{}"], "ctx": [{"a": 1}]}))
    with pytest.raises(TypeError, match=r"event\.at is of type Timestamp"):
        engine.evaluate_arrow(pa.table({"event": pa.array([{"at": 0}], type=pa.struct([("at", pa.timestamp("ms"))]))}))
    with pytest.raises(ValueError, match=r"no column \"missing\"; the input's columns are \[\"a\"\]"):
        engine.evaluate_arrow(pa.table({"a": ["{}"]}), column="missing")
    with pytest.raises(ValueError, match="which column holds the inputs"):
        engine.evaluate_arrow(pa.table({"a": ["{}"], "b": ["{}"]}))
    with pytest.raises(ValueError, match="single array"):
        engine.evaluate_arrow(pa.array(["{}"]), column="a")
    with pytest.raises(TypeError, match="expected an Arrow array, .* got list"):
        engine.evaluate_arrow(["{}"])
    with pytest.raises(ValueError, match="threads must be at least 1"):
        engine.evaluate_arrow(pa.array(["{}"]), threads=0)


def test_one_thread_and_every_thread_give_the_same_batch(engine, texts):
    data = pa.array(texts * 8)
    one = pa.record_batch(engine.evaluate_arrow(data, threads=1))
    assert one.equals(pa.record_batch(engine.evaluate_arrow(data)))
    assert one.equals(pa.record_batch(engine.evaluate_arrow(data, threads=7)))
    assert one.num_rows == len(texts) * 8


def test_importing_acs_imports_no_arrow_library():
    code = "import sys, acs; assert 'pyarrow' not in sys.modules and 'polars' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_struct_columns_of_many_event_types_in_one_table_decide_as_their_documents(engine):
    """Rows of every event type in one table (each row's struct holds the fields of all of
    them, null where it has none): each row's fields are read as the plan for its
    `event.type` may read them, and decide as its own JSON does."""
    docs = [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json")) if p.name != "stubs.json"]
    # An unknown event type, with fields no rule reads at all.
    docs.append({"event": {"type": "noise", "extra": {"deep": [1, 2]}}, "ctx": {"userId": "U-1", "unread": "x"}})
    table = pa.Table.from_pylist(docs)
    assert rows(engine.evaluate_arrow(table)) == [expected_row(engine, json.dumps(d)) for d in docs]
    assert rows(engine.evaluate_arrow(table, threads=2)) == [expected_row(engine, json.dumps(d)) for d in docs]


def test_struct_columns_are_recorded_whole_when_the_engine_audits(tmp_path):
    from support import audit_decisions, audit_key

    key = audit_key(tmp_path)
    log = tmp_path / "log"
    audited = acs.Engine.from_path(str(RULES), audit={"dir": str(log), "key": str(key), "record_all": True})
    doc = json.loads((EXAMPLES / "bid_create_kyc_missing.json").read_text())
    doc["ctx"]["unreadByAnyRule"] = "kept"
    audited.evaluate_arrow(pa.Table.from_pylist([doc]))
    audited.audit_flush()
    (record,) = audit_decisions(log, key)
    assert record["input"] == doc


VALUES = """
- { id: F64, priority: 9, severity: low, description: f, condition: "event.a.f == 1.5", action: [], audit: false }
- { id: F32, priority: 9, severity: low, description: f, condition: "event.a.g == 0.25", action: [], audit: false }
- { id: I64, priority: 9, severity: low, description: i, condition: "event.a.i == 9007199254740993", action: [], audit: false }
- { id: U64, priority: 9, severity: low, description: u, condition: "event.a.u == 18446744073709551615", action: [], audit: false }
- { id: I8, priority: 9, severity: low, description: i, condition: "event.a.small == -3", action: [], audit: false }
- { id: STR, priority: 9, severity: low, description: s, condition: "event.a.s == 'é😀 x'", action: [], audit: false }
- { id: BOOL, priority: 9, severity: low, description: b, condition: "event.a.b == false", action: [], audit: false }
- { id: NULL, priority: 9, severity: low, description: absent or null, condition: "event.a.s == null", action: [], audit: false }
- { id: DEEP, priority: 9, severity: low, description: nested, condition: "event.a.deep.x == 2", action: [], audit: false }
- { id: LIST, priority: 9, severity: low, description: a list read whole, condition: "3 in event.a.xs", action: [], audit: false }
- { id: NAN, priority: 9, severity: low, description: NaN reads as null, condition: "event.a.nan == null && event.type == 'x'", action: [], audit: false }
- { id: MAP, priority: 9, severity: low, description: a map on the way, condition: "ctx.tags.k == 'v'", action: [], audit: false }
"""


def test_struct_columns_read_every_value_type_as_their_json_does():
    """Rows of every Arrow type a rule may compare, exact integers past 2^53, floats that
    must stay floats, null structs on the way and a map on the way: struct columns decide
    as the same documents given as JSON."""
    engine = acs.Engine.from_string(VALUES)
    a = pa.struct(
        [
            ("f", pa.float64()),
            ("g", pa.float32()),
            ("i", pa.int64()),
            ("u", pa.uint64()),
            ("small", pa.int8()),
            ("s", pa.string()),
            ("b", pa.bool_()),
            ("deep", pa.struct([("x", pa.int32())])),
            ("xs", pa.list_(pa.int64())),
            ("nan", pa.float64()),
        ]
    )
    rows_ = [
        {"f": 1.5, "g": 0.25, "i": 2**53 + 1, "u": 2**64 - 1, "small": -3, "s": "é😀 x", "b": False, "deep": {"x": 2}, "xs": [1, 3], "nan": float("nan")},
        {"f": 1.25, "g": 0.5, "i": 2**53, "u": 2**63, "small": 3, "s": "é😀", "b": True, "deep": {"x": 3}, "xs": [2], "nan": 1.0},
        {"f": None, "g": None, "i": None, "u": None, "small": None, "s": None, "b": None, "deep": None, "xs": None, "nan": None},
        None,
    ]
    types = ["x", "x", "y", None]
    tags = [[("k", "v")], [("k", "w")], None, [("k", "v")]]
    table = pa.table(
        {
            "event": pa.StructArray.from_arrays(
                [pa.array(types, pa.string()), pa.array(rows_, a)], names=["type", "a"]
            ),
            "ctx": pa.StructArray.from_arrays([pa.array(tags, pa.map_(pa.string(), pa.string()))], names=["tags"]),
        }
    )
    # Without the map, every path runs through structs and rows are read as leaves; with
    # it, rows are converted into documents (a map's keys differ per row).
    for with_map in (False, True):
        given = table if with_map else table.drop_columns(["ctx"])
        got = rows(engine.evaluate_arrow(given))
        want_first = {"BOOL", "DEEP", "F32", "F64", "I64", "I8", "LIST", "NAN", "STR", "U64"} | ({"MAP"} if with_map else set())
        assert set(got[0]["matched_ids"]) == want_first, got[0]
        for row, value, kind, tag in zip(got, rows_, types, tags):
            doc = {"event": {"type": kind}}
            if with_map:
                doc["ctx"] = {"tags": dict(tag) if tag is not None else None}
            if value is not None:
                doc["event"]["a"] = {k: (None if isinstance(v, float) and v != v else v) for k, v in value.items()}
            assert row == expected_row(engine, json.dumps(doc)), (row, doc)


STRINGS = """
- { id: TYPED, priority: 9, severity: low, description: d, condition: "event.type == 'x' && event.s == 'é😀'", action: [], audit: false }
- { id: ANY, priority: 8, severity: low, description: d, condition: "event.s == 'é😀' && event.flag", action: [], audit: false }
"""


@pytest.mark.parametrize("text", [pa.string(), pa.large_string(), pa.string_view()])
def test_struct_columns_read_every_string_type_as_their_json_does(text):
    """Text and `event.type` in each Arrow string type, a null `event` row and a type that
    is no string: each row decides as its document given as JSON."""
    engine = acs.Engine.from_string(STRINGS)
    events = [
        {"type": "x", "s": "é😀", "flag": True},
        {"type": "y", "s": "é😀", "flag": True},
        {"type": None, "s": "é😀", "flag": False},
        None,
    ]
    kind = pa.struct([("type", text), ("s", text), ("flag", pa.bool_())])
    table = pa.table({"event": pa.array(events, kind)})
    got = rows(engine.evaluate_arrow(table))
    assert got[0]["matched_ids"] == ["TYPED", "ANY"]
    assert got[1]["matched_ids"] == ["ANY"]
    for row, event in zip(got, events):
        doc = {} if event is None else {"event": event}
        assert row == expected_row(engine, json.dumps(doc)), (row, doc)
    numbered = pa.table({"event": pa.array([{"type": 7, "s": "é😀"}], pa.struct([("type", pa.int64()), ("s", text)]))})
    assert rows(engine.evaluate_arrow(numbered)) == [expected_row(engine, json.dumps({"event": {"type": 7, "s": "é😀"}}))]


def test_struct_columns_read_every_integer_width():
    """Each signed and unsigned width read from a struct column, at its extremes, decides
    as the same number given as JSON."""
    widths = {
        "i8": (pa.int8(), -(2**7)), "i16": (pa.int16(), -(2**15)), "i32": (pa.int32(), -(2**31)),
        "i64": (pa.int64(), -(2**63)), "u8": (pa.uint8(), 2**8 - 1), "u16": (pa.uint16(), 2**16 - 1),
        "u32": (pa.uint32(), 2**32 - 1), "u64": (pa.uint64(), 2**64 - 1),
    }
    yaml = "".join(
        f"- {{ id: {name.upper()}, priority: 9, severity: low, description: d, "
        f"condition: \"event.n.{name} == {value}\", action: [], audit: false }}\n"
        for name, (_, value) in widths.items()
    )
    engine = acs.Engine.from_string(yaml)
    kind = pa.struct([(name, t) for name, (t, _) in widths.items()])
    values = [{name: v for name, (_, v) in widths.items()}, {name: 1 for name in widths}]
    table = pa.table({"event": pa.StructArray.from_arrays([pa.array(values, kind)], names=["n"])})
    got = rows(engine.evaluate_arrow(table))
    assert set(got[0]["matched_ids"]) == {name.upper() for name in widths}, got[0]
    assert got[1]["matched_ids"] == []
    for row, value in zip(got, values):
        assert row == expected_row(engine, json.dumps({"event": {"n": value}}))
