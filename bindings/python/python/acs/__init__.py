"""ACS fraud rules engine for Python: the Rust engine, in-process.

`Engine` loads rules and decides; `lint`, `run_tests`, `explain_code` and `backtest` are
the analysts' tools. Every decision, error and report is the engine's own (the native
module `acs._acs`); this file adds the loop `evaluate_async` drives and the backtest
report's Python face.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Union

from ._acs import Decision, Engine, Evaluation, Watch, explain_code, lint, run_tests
from ._acs import BacktestRun, _backtest, audit_decisions
from ._errors import (
    AcsError,
    FunctionError,
    InputError,
    RulesError,
    RulesNotFound,
    TestsError,
    WatchError,
)

__all__ = [
    "AcsError",
    "BacktestReport",
    "BacktestRun",
    "Decision",
    "Engine",
    "Evaluation",
    "FunctionError",
    "InputError",
    "RulesError",
    "RulesNotFound",
    "TestsError",
    "Watch",
    "WatchError",
    "audit_decisions",
    "backtest",
    "explain_code",
    "lint",
    "run_tests",
]


async def _drive(evaluation: Evaluation) -> Decision:
    """Run `evaluation` to its decision: the calls each round needs are made together and
    awaited together (`asyncio.gather`), answered by id, and the engine polled again."""
    calls = evaluation.poll()
    while calls is not None:
        await asyncio.gather(*[_answer(evaluation, call) for call in calls])
        calls = evaluation.poll()
    return evaluation.decision()


async def _answer(evaluation: Evaluation, call: int) -> None:
    try:
        value = evaluation.call(call)
        if inspect.isawaitable(value):
            value = await value
    except Exception as error:  # the call's error, not the caller's: its rule errs
        evaluation.fail(call, error)
        return
    evaluation.answer(call, value)


class BacktestReport(Dict[str, Any]):
    """The engine's backtest report (the JSON `acs replay --format json` prints) as a
    dict; `to_pandas()` gives one row per rule."""

    def to_pandas(self) -> Any:
        """The per-rule counts as a `pandas.DataFrame` (pandas imported only here)."""
        import pandas  # type: ignore[import-untyped,unused-ignore]  # optional dependency

        return pandas.DataFrame(self["rules"])


def backtest(
    source: Union[str, "os.PathLike[str]", bytes, Iterable[Any]],
    rules: Union[str, "os.PathLike[str]"],
    baseline: Optional[Union[str, "os.PathLike[str]"]] = None,
    functions: Optional[Mapping[str, Callable[..., Any]]] = None,
    stubs: Optional[Union[str, "os.PathLike[str]"]] = None,
    threads: int = 0,
    examples: int = 5,
) -> BacktestReport:
    """Backtest `rules` on recorded inputs as `acs replay` does: `source` is a JSON-lines
    file, JSON lines as bytes, or an iterable of inputs (dicts, JSON str or bytes; each
    one line). Optionally against a `baseline` rule set."""
    if isinstance(source, (str, os.PathLike, bytes)):
        data: Any = source
    else:
        lines = []
        for item in source:
            if isinstance(item, (bytes, bytearray)):
                lines.append(bytes(item).replace(b"\n", b" "))
            elif isinstance(item, str):
                lines.append(item.replace("\n", " ").encode())
            else:
                lines.append(json.dumps(item, allow_nan=False).encode())
        data = b"\n".join(lines) + b"\n"
    text = _backtest(data, rules, baseline, functions, stubs, threads, examples)
    return BacktestReport(json.loads(text))
