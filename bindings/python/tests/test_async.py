"""evaluate_async: coroutines awaited together, each distinct call once, the same decision
as evaluate with the same answers."""

import asyncio
import json
import random

import acs
from support import EXAMPLES, RULES, STUBS, example_inputs, load

TWO_CALLS = """
- id: A
  priority: 2
  severity: high
  description: d
  condition: slow.count(event.id) > 1
  action: [ { flagWatchlist: { n: "{{slow.count(event.id)}}" } } ]
  audit: false
- id: B
  priority: 1
  severity: low
  description: d
  condition: slow.flag(event.id) == true && slow.count(event.other) > 5
  action: [ { flagWatchlist: {} } ]
  audit: false
"""


def test_independent_calls_run_together_each_once_while_the_loop_runs():
    log = []
    state = {"in_flight": 0, "most": 0}

    def track(name, value):
        async def call(arg):
            log.append(f"{name}({arg})")
            state["in_flight"] += 1
            state["most"] = max(state["most"], state["in_flight"])
            await asyncio.sleep(0.03)
            state["in_flight"] -= 1
            return value(arg)

        return call

    engine = acs.Engine.from_string(
        TWO_CALLS,
        functions={"slow.count": track("count", lambda i: 2 if i == "x" else 9), "slow.flag": track("flag", lambda i: True)},
    )

    async def main():
        ticks = 0
        done = False

        async def ticker():
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(ticker())
        decision = await engine.evaluate_async({"event": {"id": "x", "other": "y"}})
        done = True
        await task
        return decision, ticks

    decision, ticks = asyncio.run(main())
    assert sorted(decision.matched_ids) == ["A", "B"]
    assert decision.matched[0]["actions"][0]["params"]["n"] == 2
    assert log == ["count(x)", "flag(x)", "count(y)"]
    assert state["most"] == 2
    assert ticks > 0


def test_sync_functions_work_in_evaluate_async_and_errors_match():
    failing = {"slow.count": lambda i: 1 / 0, "slow.flag": lambda i: True}

    async def boom(i):
        raise ZeroDivisionError("division by zero")

    async def yes(i):
        return True

    rejecting = {"slow.count": boom, "slow.flag": yes}
    data = {"event": {"id": "x", "other": "y"}}
    sync = acs.Engine.from_string(TWO_CALLS, functions=failing).evaluate(data)
    via_async = asyncio.run(acs.Engine.from_string(TWO_CALLS, functions=rejecting).evaluate_async(data))
    via_async_sync_fns = asyncio.run(acs.Engine.from_string(TWO_CALLS, functions=failing).evaluate_async(data))
    assert len(sync.errors) == 2
    assert "ZeroDivisionError: division by zero" in sync.errors[0]["message"]
    assert via_async == sync == via_async_sync_fns


def test_the_async_decision_equals_the_sync_one_on_generated_rules():
    rng = random.Random(7)
    choices = [
        "f.a(event.k) > 2",
        "f.b(event.k, ctx.n) == true || f.a(ctx.n) < 1",
        "f.c(event.k) == 'x' && f.a(f.a(event.k)) > 3",
        "!(f.b(ctx.n, ctx.n) == false) && event.k != null",
        "f.c(ctx.n) in ['x', 'y']",
    ]
    for round_ in range(60):
        conditions = [rng.choice(choices) for _ in range(1 + rng.randrange(4))]
        text = "".join(
            f'- id: R{i}\n  priority: {i}\n  severity: low\n  description: d\n  condition: "{c}"\n'
            f'  action: [ {{ flagWatchlist: {{ v: "{{{{f.a(event.k)}}}}" }} }} ]\n  audit: false\n'
            for i, c in enumerate(conditions)
        )
        table = {}

        def answer(name, args):
            key = name + json.dumps(args)
            if key not in table:
                table[key] = ValueError(f"no {key}") if rng.random() < 0.15 else rng.choice([0, 1, 2, 5, "x", "y", True, False, None])
            value = table[key]
            if isinstance(value, Exception):
                raise value
            return value

        sync_fns = {name: (lambda name: lambda *args: answer(name, list(args)))(name) for name in ("f.a", "f.b", "f.c")}

        def make_async(name):
            async def call(*args):
                await asyncio.sleep(0 if rng.random() < 0.5 else 0.001)
                return answer(name, list(args))

            return call

        async_fns = {name: make_async(name) for name in ("f.a", "f.b", "f.c")}
        data = {"event": {"k": rng.choice([1, 2, "x", None])}, "ctx": {"n": rng.choice([0, 3, "y"])}}
        expected = acs.Engine.from_string(text, functions=sync_fns).evaluate(data)
        actual = asyncio.run(acs.Engine.from_string(text, functions=async_fns).evaluate_async(data))
        assert actual == expected, f"round {round_}: {text}\n{data}"


def test_evaluate_async_decides_every_example_as_evaluate_does():
    engine = acs.Engine.from_path(RULES, stubs=STUBS)
    for path in example_inputs():
        data = load(path)
        assert asyncio.run(engine.evaluate_async(data)) == engine.evaluate(data), path.name
        assert asyncio.run(engine.evaluate_async(path.read_bytes())) == engine.evaluate(data)
