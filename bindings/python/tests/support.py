"""Shared by the tests: where the repository's rules and CLI are, and how to ask the CLI."""

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, List

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "rules"
EXAMPLES = RULES / "examples"
STUBS = EXAMPLES / "stubs.json"
RECORDED = EXAMPLES / "recorded.jsonl"


def acs_binary() -> str:
    for candidate in (os.environ.get("ACS_BIN"), REPO / "target/debug/acs", REPO / "target/release/acs"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise RuntimeError("no acs binary: run `cargo build -p acs-cli` (test.sh does)")


def cli(*args: str, check: bool = True) -> str:
    done = subprocess.run([acs_binary(), *args], capture_output=True, text=True)
    if check and done.returncode not in (0, 1):
        raise RuntimeError(done.stderr)
    return done.stdout


def audit_key(directory: Path) -> Path:
    """A new Ed25519 key for an audit log (`acs bundle keygen`); its public half is `<key>.pub`."""
    key = directory / "audit.key"
    subprocess.run([acs_binary(), "bundle", "keygen", str(key)], check=True, capture_output=True)
    return key


def audit_decisions(log: Path, key: Path) -> List[Any]:
    """The decision records of an audit log, once `acs audit verify` has found it sound."""
    verified = subprocess.run([acs_binary(), "audit", "verify", str(log), "--key", f"{key}.pub"], capture_output=True, text=True)
    assert verified.returncode == 0 and verified.stdout.startswith("ok: "), verified.stderr
    exported = subprocess.run([acs_binary(), "audit", "export", str(log)], capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in exported.stdout.splitlines() if line]
    return [r for r in records if r["kind"] == "decision"]


def example_inputs() -> List[Path]:
    return sorted(p for p in EXAMPLES.glob("*.json") if p.name != "stubs.json")


def recorded_lines() -> List[str]:
    return [line for line in RECORDED.read_text().splitlines() if line.strip()]


def until(check: Callable[[], Any], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def rule(rule_id: str, condition: str = "event.type == 'x'") -> str:
    return f"""
- id: {rule_id}
  priority: 1
  severity: low
  description: d
  condition: "{condition}"
  action: [ {{ flagWatchlist: {{}} }} ]
  audit: false
"""


def load(path: Path) -> Any:
    return json.loads(path.read_text())
