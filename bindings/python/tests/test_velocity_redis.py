"""Velocity counts in a real `redis-server` (test.sh installs it when missing; without it
these tests fail, they do not skip), started on a free localhost port and killed
afterwards: engines of the shipped bundle in two Python processes share exact counts of
RF20's bid.modify counter (at once, and taking turns), and a Redis killed mid-test, or
none listening, answers through the counter's failure policy (open). The Node binding's
test/velocity.test.js checks the same."""

import json
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from typing import Any, Iterator, List, Optional

import pytest

import acs
from support import RULES

BUNDLE = RULES / "acs_rules_top25.yaml"
RF20 = "RF20_BID_FLOOD_RATE_LIMIT"
UNKNOWN = re.compile(r"^counter `bid\.modify` is unknown \(failing open\): velocity store: ")


def change(user: str) -> dict:
    return {"event": {"type": "bid.modify"}, "ctx": {"userId": user}, "system": {"config": {"bidModifyRateLimit": 20}}}


def free_port() -> int:
    """A port nothing listens on, as the kernel hands one out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pong(port: int) -> bool:
    """Whether a `PING` on `port` gets `+PONG` back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            text = b""
            while b"\r\n" not in text:
                chunk = s.recv(64)
                if not chunk:
                    return False
                text += chunk
            return text.startswith(b"+PONG")
    except OSError:
        return False


class Redis:
    """A `redis-server` of this file's own on a free port; `stop()` kills it (again: no-op)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        try:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            pytest.fail("redis-server is not installed: bindings/python/test.sh installs it (apt-get install redis-server)")

    def wait_until_it_answers(self) -> None:
        for _ in range(200):
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise AssertionError(f"redis-server exited ({self.process.returncode}) before answering on port {self.port}: {stderr}")
            if pong(self.port):
                return
            time.sleep(0.025)
        raise AssertionError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture
def redis() -> Iterator[Redis]:
    server = Redis()
    try:
        server.wait_until_it_answers()
        yield server
    finally:
        # Never leave a server running, whatever the test did (a test may have killed it).
        server.stop()


# One replica: loads the shipped bundle against Redis, then answers the lines of its
# standard input, one JSON line each: `eval N USER` makes N bid changes of USER and says
# what each decided; `metrics` gives its engine's metrics text.
REPLICA = """
import json, sys
import acs
bundle, velocity = sys.argv[1], json.loads(sys.argv[2])
engine = acs.Engine.from_path(bundle, velocity=velocity)
def say(value):
    sys.stdout.write(json.dumps(value) + "\\n")
    sys.stdout.flush()
say("ready")
for line in sys.stdin:
    command, *rest = line.split()
    if command == "metrics":
        say(engine.metrics())
        continue
    count, user = int(rest[0]), rest[1]
    change = {"event": {"type": "bid.modify"}, "ctx": {"userId": user}, "system": {"config": {"bidModifyRateLimit": 20}}}
    decisions = []
    for _ in range(count):
        decision = engine.evaluate(change)
        decisions.append({"matched": decision.matched_ids, "errors": decision.errors})
    say(decisions)
"""


class Replica:
    """A replica process: `send(line)` then `answer()`, or `ask(line)`; `ready()` once loaded."""

    def __init__(self, url: str) -> None:
        velocity = {"redis": url, "budget_ms": 2000}
        self.process = subprocess.Popen(
            [sys.executable, "-c", REPLICA, str(BUNDLE), json.dumps(velocity)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)  # its standard output closed: it died

    def answer(self) -> Any:
        try:
            line = self.lines.get(timeout=60)
        except queue.Empty:
            raise AssertionError("a replica did not answer within 60 seconds") from None
        if line is None:
            self.process.wait()
            stderr = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"replica exited ({self.process.returncode}): {stderr}")
        return json.loads(line)

    def send(self, line: str) -> None:
        assert self.process.stdin
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def ask(self, line: str) -> Any:
        self.send(line)
        return self.answer()

    def ready(self) -> None:
        assert self.answer() == "ready"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(timeout=10)  # it reads to the end of the dead process's output
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream:
                stream.close()


@pytest.fixture
def replicas(redis: Redis) -> Iterator[List[Replica]]:
    started: List[Replica] = []
    try:
        started.extend(Replica(redis.url) for _ in range(2))
        for r in started:
            r.ready()
        yield started
    finally:
        for r in started:
            r.kill()


def metric(text: str, name: str) -> float:
    """The value of a metric line `name{backend="redis"} value` in Prometheus text."""
    prefix = f'{name}{{backend="redis"}} '
    line = next((l for l in text.splitlines() if l.startswith(prefix)), None)
    assert line is not None, f'no {name}{{backend="redis"}} line in:\n{text}'
    return float(line.split(" ")[1])


def assert_redis_metrics(replicas: List[Replica], changes: int) -> None:
    """The replicas' metrics: `changes` round trips each, none timed out, failed or fell back."""
    for i, r in enumerate(replicas):
        metrics = r.ask("metrics")
        # One round trip per evaluation, each within the budget, none answered by the policy.
        assert metric(metrics, "acs_velocity_round_trips_total") == changes, f"replica {i}:\n{metrics}"
        assert metric(metrics, "acs_velocity_latency_seconds_count") == changes, metrics
        assert metric(metrics, "acs_velocity_timeouts_total") == 0, metrics
        assert metric(metrics, "acs_velocity_errors_total") == 0, metrics
        assert metric(metrics, "acs_velocity_fallbacks_total") == 0, metrics
        assert 'backend="local"' not in metrics


def test_two_processes_share_one_redis_count_of_30_concurrent_bid_changes_the_21st_to_30th_are_throttled(redis, replicas):
    # Both are loaded: each makes its 15 changes at the same time as the other.
    for r in replicas:
        r.send("eval 15 U-PY")
    results = [r.answer() for r in replicas]

    throttled = 0
    for i, decisions in enumerate(results):
        assert len(decisions) == 15
        # Each process's count only grows: once RF20 matched, every later change matches.
        seen = False
        for n, d in enumerate(decisions, 1):
            assert d["errors"] == [], f"replica {i}, change {n}"
            if d["matched"]:
                assert d["matched"] == [RF20], f"replica {i}, change {n}"
                seen = True
                throttled += 1
            else:
                assert not seen, f"replica {i}, change {n}: not throttled after a throttled one"
    # 20 changes a minute are allowed, whichever process made them: changes 21..30 are not.
    assert throttled == 10
    assert_redis_metrics(replicas, 15)

    # A third engine, in this process, reads the same count: the 31st change is throttled,
    # another user's first is not.
    engine = acs.Engine.from_path(str(BUNDLE), velocity={"redis": redis.url, "budget_ms": 2000})
    assert engine.evaluate(change("U-PY")).matched_ids == [RF20]
    assert engine.evaluate(change("U-OTHER")).matched_ids == []
    assert metric(engine.metrics(), "acs_velocity_round_trips_total") == 2


def test_two_processes_taking_turns_the_21st_change_made_by_the_first_process_is_the_first_throttled(replicas):
    throttled = []
    for n in range(1, 25):
        # Odd changes by the first process, even ones by the second.
        [decision] = replicas[(n - 1) % 2].ask("eval 1 U-TURNS")
        assert decision["errors"] == [], f"change {n}"
        if decision["matched"]:
            assert decision["matched"] == [RF20], f"change {n}"
            throttled.append(n)
    assert throttled == [21, 22, 23, 24]
    assert_redis_metrics(replicas, 12)


def test_a_redis_killed_mid_test_fails_open_no_raise_no_hang_rf20_does_not_fire_and_says_why(redis):
    engine = acs.Engine.from_path(str(BUNDLE), velocity={"redis": redis.url, "budget_ms": 50})
    for n in range(1, 21):
        decision = engine.evaluate(change("U-DOWN"))
        assert (decision.matched, decision.errors) == ([], []), f"change {n}"
    assert engine.evaluate(change("U-DOWN")).matched_ids == [RF20], "the 21st, Redis up"

    redis.stop()
    # The 22nd and 23rd changes: the count is unknown, so the shipped counter's default
    # policy (open) keeps RF20 from firing, and the decision says why.
    for n in (22, 23):
        decision = engine.evaluate(change("U-DOWN"))
        assert decision.matched == [], f"change {n}, Redis down"
        assert len(decision.errors) == 1, decision.errors
        assert decision.errors[0]["rule_id"] == RF20
        assert UNKNOWN.match(decision.errors[0]["message"]), decision.errors[0]["message"]
    metrics = engine.metrics()
    assert metric(metrics, "acs_velocity_round_trips_total") == 23, metrics
    assert metric(metrics, "acs_velocity_errors_total") + metric(metrics, "acs_velocity_timeouts_total") == 2, metrics


def test_an_engine_pointed_at_a_port_where_nothing_listens_loads_and_fails_open():
    engine = acs.Engine.from_path(str(BUNDLE), velocity={"redis": f"redis://127.0.0.1:{free_port()}", "budget_ms": 50})
    decision = engine.evaluate(change("U-NOWHERE"))
    assert decision.matched == []
    assert [e["rule_id"] for e in decision.errors] == [RF20]
    assert UNKNOWN.match(decision.errors[0]["message"]), decision.errors[0]["message"]
    metrics = engine.metrics()
    assert metric(metrics, "acs_velocity_errors_total") + metric(metrics, "acs_velocity_timeouts_total") == 1, metrics
