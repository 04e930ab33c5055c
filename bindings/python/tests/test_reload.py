"""Hot reload through real file changes; a watcher that never holds the interpreter."""

import subprocess
import sys

import pytest

import acs
from support import rule, until


def test_watch_serves_a_valid_change_and_keeps_the_old_rules_on_a_broken_one(tmp_path):
    file = tmp_path / "rules.yaml"
    file.write_text(rule("FIRST"))
    engine = acs.Engine.from_path(tmp_path)
    events = []
    engine.on_reload(events.append)
    with engine.watch() as watch:
        assert watch.active
        file.write_text(rule("SECOND"))
        until(lambda: engine.rule_ids == ["SECOND"], "the valid change")
        assert engine.evaluate({"event": {"type": "x"}}).matched_ids == ["SECOND"]
        file.write_text(rule("THIRD", "event.type == 'x' &&"))
        until(lambda: engine.status()["last_error"] is not None, "the failure to be reported")
        failure = engine.status()["last_error"]
        assert "rules.yaml:6:" in failure["message"]
        assert failure["diagnostics"][0]["location"]["line"] == 6
        assert engine.rule_ids == ["SECOND"]
        assert engine.evaluate({"event": {"type": "x"}}).matched_ids == ["SECOND"]
        until(lambda: any(e["outcome"] == "failed" for e in events), "the failed event")
        assert any(e["outcome"] == "loaded" for e in events)
        assert engine.status()["watch"]["alive"] is True
    assert not watch.active
    watch.close()


def test_reload_raises_and_keeps_serving(tmp_path):
    file = tmp_path / "rules.yaml"
    file.write_text(rule("FIRST"))
    engine = acs.Engine.from_path(file)
    file.write_text(rule("X", "event.type == &&"))
    with pytest.raises(acs.RulesError) as caught:
        engine.reload()
    assert caught.value.line == 6
    assert engine.rule_ids == ["FIRST"]


def test_an_exception_in_on_reload_is_reported_not_raised(tmp_path):
    file = tmp_path / "rules.yaml"
    file.write_text(rule("FIRST"))
    engine = acs.Engine.from_path(file)
    seen = []

    def bad(event):
        seen.append(event)
        raise RuntimeError("callback bug")

    engine.on_reload(bad)
    hooked = []
    old = sys.unraisablehook
    sys.unraisablehook = hooked.append
    try:
        engine.reload()
    finally:
        sys.unraisablehook = old
    assert seen and hooked
    assert engine.rule_ids == ["FIRST"]


def test_a_running_watcher_does_not_keep_the_interpreter_alive(tmp_path):
    file = tmp_path / "rules.yaml"
    file.write_text(rule("FIRST"))
    script = f"""
import acs
engine = acs.Engine.from_path({str(tmp_path)!r})
engine.on_reload(lambda event: None)
watch = engine.watch()
print("watching", flush=True)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "watching" in done.stdout


def test_watch_errors(tmp_path):
    engine = acs.Engine.from_string(rule("A"))
    with pytest.raises(acs.WatchError) as caught:
        engine.watch()
    assert isinstance(caught.value, OSError)
