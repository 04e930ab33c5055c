"""Types of the native module `acs._acs` (the engine, its decisions, the tools)."""

import os
from types import TracebackType
from typing import Any, Callable, Coroutine, Dict, Iterable, List, Literal, Mapping, Optional, Protocol, Tuple, Type, TypedDict, Union

from ._errors import InputError

_Path = Union[str, "os.PathLike[str]"]
_Json = Union[bytes, bytearray, str]
Input = Mapping[str, Any]
HostFunction = Callable[..., Any]

class ArrowData(Protocol):
    """Anything with `__arrow_c_stream__` or `__arrow_c_array__` (pyarrow, polars, DuckDB)."""

class ArrowRecordBatch:
    """The decisions, one row per input row; read it with `pyarrow.record_batch(result)`."""
    def __arrow_c_array__(self, requested_schema: Optional[object] = None) -> Tuple[object, object]: ...
    def __arrow_c_schema__(self) -> object: ...

class Verdict(TypedDict, total=False):
    outcome: Literal["allowed", "rejected"]
    rule_id: str
    code: Optional[str]
    message: Optional[str]

class Rejection(TypedDict):
    rule_id: str
    code: Optional[str]
    message: Optional[str]

class Action(TypedDict):
    name: str
    params: Dict[str, Any]

class RuleMatch(TypedDict):
    id: str
    priority: int
    severity: str
    audit: bool
    actions: List[Action]

class RuleError(TypedDict):
    rule_id: str
    message: str
    location: Optional[Dict[str, Any]]

class Limits(TypedDict, total=False):
    max_rules_file_bytes: int
    max_condition_bytes: int
    max_nesting: int
    max_input_bytes: int
    max_input_depth: int
    max_rendered_bytes: int

class Decision:
    """The outcome of evaluating one input (the engine's `Decision`)."""

    @property
    def verdict(self) -> Verdict: ...
    @property
    def matched(self) -> List[RuleMatch]: ...
    @property
    def shadow_matched(self) -> List[RuleMatch]: ...
    @property
    def errors(self) -> List[RuleError]: ...
    @property
    def rules_evaluated(self) -> int: ...
    @property
    def generation(self) -> int: ...
    @property
    def ruleset_hash(self) -> str: ...
    @property
    def is_rejected(self) -> bool: ...
    @property
    def matched_ids(self) -> List[str]: ...
    @property
    def rejection(self) -> Optional[Rejection]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def to_json(self, pretty: bool = False) -> str: ...

class Watch:
    """A running watcher: a context manager; `close()` stops it."""

    @property
    def active(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Watch": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class Evaluation:
    """One resumable evaluation (the native half of `Engine.evaluate_async`)."""

    def poll(self) -> Optional[List[int]]: ...
    def call(self, id: int) -> Any: ...
    def answer(self, id: int, value: Any) -> None: ...
    def fail(self, id: int, error: BaseException) -> None: ...
    def decision(self) -> Decision: ...

class Engine:
    """A loaded rule set serving decisions."""

    @staticmethod
    def from_path(
        path: _Path,
        functions: Optional[Mapping[str, HostFunction]] = None,
        limits: Optional[Limits] = None,
        stubs: Optional[_Path] = None,
        public_key: Optional[_Path] = None,
        audit: Optional[Mapping[str, Any]] = None,
        velocity: Optional[Mapping[str, Any]] = None,
    ) -> "Engine": ...
    @staticmethod
    def from_string(
        yaml: str,
        name: str = "<string>",
        functions: Optional[Mapping[str, HostFunction]] = None,
        limits: Optional[Limits] = None,
        stubs: Optional[_Path] = None,
        public_key: Optional[_Path] = None,
        audit: Optional[Mapping[str, Any]] = None,
        velocity: Optional[Mapping[str, Any]] = None,
    ) -> "Engine": ...
    def audit_flush(self, timeout: float = 10.0) -> None: ...
    def evaluate(self, input: Input) -> Decision: ...
    def evaluate_json(self, json: _Json) -> Decision: ...
    def evaluate_many(
        self, inputs: Iterable[Union[Input, _Json]], threads: Optional[int] = None
    ) -> List[Union[Decision, InputError]]: ...
    def evaluate_async(self, input: Union[Input, _Json]) -> Coroutine[Any, Any, Decision]: ...
    def evaluate_arrow(
        self,
        data: ArrowData,
        column: Optional[str] = None,
        threads: Optional[int] = None,
        calls: Optional[str] = None,
        now: Optional[str] = None,
    ) -> ArrowRecordBatch: ...
    def start_evaluation(self, input: Union[Input, _Json]) -> Evaluation: ...
    def explain(self, input: Union[Input, _Json]) -> Dict[str, Any]: ...
    def reload(self) -> Dict[str, Any]: ...
    def status(self) -> Dict[str, Any]: ...
    def metrics(self) -> str: ...
    def metrics_snapshot(self) -> Dict[str, Any]: ...
    def set_rule_enabled(self, id: str, enabled: bool) -> Literal["applied", "pending"]: ...
    def clear_rule_override(self, id: str) -> None: ...
    def on_reload(self, callback: Callable[[Dict[str, Any]], object]) -> None: ...
    def watch(self) -> Watch: ...
    @property
    def rule_ids(self) -> List[str]: ...
    @property
    def function_names(self) -> List[str]: ...

def lint(
    paths: Union[_Path, List[_Path]], config: Optional[_Path] = None, deny_warnings: bool = False
) -> Dict[str, Any]: ...
def explain_code(code: str) -> Optional[str]: ...
def run_tests(
    paths: Union[_Path, List[_Path]], rules: Optional[_Path] = None, allow_outside_reads: bool = False
) -> Dict[str, Any]: ...
def _backtest(
    source: Union[_Path, bytes],
    rules: _Path,
    baseline: Optional[_Path] = None,
    functions: Optional[Mapping[str, HostFunction]] = None,
    stubs: Optional[_Path] = None,
    threads: int = 0,
    examples: int = 5,
) -> str: ...

class BacktestRun:
    """One backtest's rules compiled once, counting Arrow batches into parts (`acs.spark`)."""

    def __init__(
        self,
        rules: List[Tuple[str, str]],
        baseline: Optional[List[Tuple[str, str]]] = None,
        stubs: Optional[str] = None,
        recorded: bool = False,
        examples: int = 5,
    ) -> None: ...
    @property
    def ruleset_hash(self) -> str: ...
    def count_arrow(
        self,
        data: ArrowData,
        column: Optional[str] = None,
        calls: Optional[str] = None,
        now: Optional[str] = None,
        line: Optional[str] = None,
        first_line: int = 1,
        velocity: Optional[str] = None,
    ) -> Tuple[int, bytes]: ...
    def decide_arrow(
        self,
        data: ArrowData,
        column: Optional[str] = None,
        calls: Optional[str] = None,
        now: Optional[str] = None,
        velocity: Optional[str] = None,
    ) -> ArrowRecordBatch: ...
    @property
    def counts_velocity(self) -> bool: ...
    def events_arrow(self, data: ArrowData, line: str, column: Optional[str] = None) -> ArrowRecordBatch:
        """Each row's velocity events (and counts its rules read of other keys, `read`)."""
        ...
    def counts_arrow(self, events: ArrowData) -> ArrowRecordBatch: ...
    def merge(self, parts: List[Tuple[int, bytes]]) -> bytes: ...
    def report(self, parts: List[Tuple[int, bytes]], threads: int, elapsed_seconds: float) -> str: ...

def audit_decisions(
    dir: Union[str, "os.PathLike[str]"],
) -> List[Tuple[int, str, str, str, Optional[float], str]]: ...
