"""Threads: several Python threads evaluating at once; evaluate_many on every core with
the GIL released (a pure-Python thread keeps running meanwhile); results in order."""

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import acs
from support import RULES, STUBS, example_inputs, load, recorded_lines


def engine():
    return acs.Engine.from_path(RULES, stubs=STUBS)


def test_python_threads_evaluate_at_once():
    shared = engine()
    inputs = [load(p) for p in example_inputs()]
    expected = [shared.evaluate(i) for i in inputs]

    def work(n):
        return [shared.evaluate(inputs[k % len(inputs)]) == expected[k % len(inputs)] for k in range(n, n + 200)]

    with ThreadPoolExecutor(4) as pool:
        assert all(all(r) for r in pool.map(work, range(8)))


def test_evaluate_many_one_result_per_input_in_order():
    shared = engine()
    inputs = [load(p) for p in example_inputs()]
    many = [inputs[i % len(inputs)] for i in range(400)]
    mixed = many + [42, '{"event": ', json.dumps(inputs[0]), json.dumps(inputs[1]).encode(), {"event": {"type": 2**80}}]
    results = shared.evaluate_many(mixed, threads=2)
    assert len(results) == len(mixed)
    for i, data in enumerate(many):
        assert results[i] == shared.evaluate(data), i
    tail = results[len(many):]
    assert isinstance(tail[0], acs.InputError) and tail[0].code == "not_an_object"
    assert isinstance(tail[1], acs.InputError) and tail[1].code == "json"
    assert tail[2] == shared.evaluate(inputs[0])
    assert tail[3] == shared.evaluate(inputs[1])
    assert isinstance(tail[4], acs.InputError) and tail[4].code == "not_json"
    assert shared.evaluate_many(iter(many[:10]), threads=1) == [shared.evaluate(d) for d in many[:10]]
    assert shared.evaluate_many([]) == []


def test_a_decision_object_holds_its_decision_by_pointer():
    # A batch's results are 100,000 of these: the engine's decision stays boxed in Rust,
    # so each costs the interpreter's object memory a header and a pointer (inline, it
    # took 208 bytes and twice the page faults per batch; BENCHMARKS.md, issue #14).
    class Bare:  # an object the collector tracks, with no field: the interpreter's part
        __slots__ = ()

    decision = engine().evaluate(load(example_inputs()[0]))
    assert sys.getsizeof(decision) <= sys.getsizeof(Bare()) + 16
    assert decision.to_dict() == json.loads(decision.to_json())


def test_evaluate_many_across_many_chunks_keeps_every_result_in_its_place():
    # Thousands of mixed inputs: the batch is read, decided and built back a chunk at a
    # time (on workers, or on this thread alone), so every kind of input must land where
    # it was given.
    shared = engine()
    inputs = [load(p) for p in example_inputs()]
    kinds = [
        lambda i: inputs[i % len(inputs)],
        lambda i: json.dumps(inputs[i % len(inputs)]).encode(),
        lambda i: json.dumps(inputs[i % len(inputs)]),
        lambda i: '{"event": ',
        lambda i: [i],
    ]
    mixed = [kinds[(i * 7) % len(kinds)](i) for i in range(3001)]

    def one_by_one(item):
        try:
            if isinstance(item, (bytes, str)):
                return shared.evaluate_json(item)
            return shared.evaluate(item)
        except acs.InputError as error:
            return error.code

    expected = [one_by_one(item) for item in mixed]
    for threads in (1, 2, 3):
        results = shared.evaluate_many(iter(mixed), threads=threads)
        assert len(results) == len(mixed)
        got = [r.code if isinstance(r, acs.InputError) else r for r in results]
        assert got == expected


def test_evaluate_many_of_bytes_outrunning_the_workers_keeps_every_result_in_its_place():
    # JSON bytes are quick to take: the calling thread fills the workers' queue and then
    # decides chunks itself, and helps with the last ones; the order must hold all the same.
    shared = engine()
    texts = [json.dumps(load(p)).encode() for p in example_inputs()]
    lines = [texts[i % len(texts)] for i in range(20_011)]
    expected = [shared.evaluate_json(text) for text in texts]
    for threads in (2, 4):
        results = shared.evaluate_many(lines, threads=threads)
        assert len(results) == len(lines)
        assert all(r == expected[i % len(texts)] for i, r in enumerate(results))


def test_an_iterable_that_raises_midway_stops_the_batch_with_its_exception():
    shared = engine()
    inputs = [load(p) for p in example_inputs()]

    def feed():
        for i in range(1500):
            yield inputs[i % len(inputs)]
        raise ValueError("the feed broke")

    for threads in (1, 2):
        try:
            shared.evaluate_many(feed(), threads=threads)
        except ValueError as error:
            assert str(error) == "the feed broke"
        else:
            raise AssertionError("the exception was lost")
    assert shared.evaluate_many(inputs, threads=2) == [shared.evaluate(i) for i in inputs]


def test_recorded_lines_in_a_batch_decide_as_one_by_one():
    shared = engine()
    lines = recorded_lines()
    results = shared.evaluate_many(lines)
    for line, result in zip(lines, results):
        if isinstance(result, acs.InputError):
            continue
        assert result == shared.evaluate_json(line)


def test_python_host_functions_in_a_batch_are_called_on_the_calling_thread():
    text = """
- id: H
  priority: 1
  severity: low
  description: d
  condition: f.double(event.n) > 10
  action: [ { flagWatchlist: {} } ]
  audit: false
"""
    calls = []
    lock = threading.Lock()

    def double(n):
        with lock:
            calls.append(n)
        return n * 2

    hosted = acs.Engine.from_string(text, functions={"f.double": double})
    results = hosted.evaluate_many([{"event": {"n": n}} for n in range(1000)], threads=2)
    assert [r.matched_ids for r in results] == [["H"] if n * 2 > 10 else [] for n in range(1000)]
    assert sorted(calls) == list(range(1000))
    # Python calls are made on the calling thread: the GIL would serialise workers anyway.
    callers = set()

    def where(n):
        callers.add(threading.get_ident())
        return n

    tracked = acs.Engine.from_string(text.replace("f.double", "f.where"), functions={"f.where": where})
    tracked.evaluate_many([{"event": {"n": n}} for n in range(200)], threads=2)
    assert callers == {threading.get_ident()}


def test_a_batch_with_dependent_python_calls_decides_as_one_by_one():
    text = """
- id: CHAIN
  priority: 1
  severity: low
  description: d
  condition: f.a(event.n) > 2 && f.b(f.a(event.n)) == true
  action: [ { flagWatchlist: { v: "{{f.a(event.n)}}" } } ]
  audit: false
"""
    functions = {"f.a": lambda n: (n or 0) % 7, "f.b": lambda m: m % 2 == 1}
    engine = acs.Engine.from_string(text, functions=functions)
    inputs = [{"event": {"n": n}} for n in range(300)] + [b'{"event": {"n": 5}}', 42]
    results = engine.evaluate_many(inputs, threads=2)
    for given, result in zip(inputs[:301], results):
        expected = engine.evaluate_json(given) if isinstance(given, bytes) else engine.evaluate(given)
        assert result.to_dict() == expected.to_dict()
    assert isinstance(results[-1], acs.InputError)


def test_a_python_thread_runs_during_a_long_evaluate_many():
    shared = engine()
    lines = recorded_lines()
    good = []
    for line in lines:
        try:
            good.append(json.loads(line))
        except ValueError:
            pass
    data = [good[i % len(good)] for i in range(2000)]
    big = [line.encode() for line in lines] * 100
    stop = threading.Event()
    counter = {"n": 0}

    def spin():
        while not stop.is_set():
            counter["n"] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        before = counter["n"]
        shared.evaluate_many(big, threads=2)
        shared.evaluate_many(data, threads=2)
        during = counter["n"] - before
    finally:
        stop.set()
        thread.join()
    assert during > 0
