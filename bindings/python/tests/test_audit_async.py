"""The audit log records the decisions evaluate_async makes (the engine's resumable
evaluation), as it records evaluate's: the audit: true rules' matches, with their calls."""

import asyncio

import acs
from support import audit_decisions, audit_key

RISKY = """
- id: RISKY
  priority: 10
  severity: high
  description: a payer the score calls risky
  condition: "event.type == 'pay' && db.score(ctx.user) > 5"
  action:
    - rejectRequest: { code: RISK, message: "risk {{ctx.user}}" }
  audit: true
"""


def test_evaluate_async_records_the_decision_of_an_audit_rule_with_its_async_call(tmp_path):
    key = audit_key(tmp_path)
    log = tmp_path / "log"
    asked = []

    async def score(user):
        asked.append(user)
        await asyncio.sleep(0.005)
        return 9 if user == "U-9" else 1

    engine = acs.Engine.from_string(
        RISKY,
        functions={"db.score": score},
        audit={"dir": str(log), "key": str(key), "record_all": False},
    )

    async def main():
        risky = await engine.evaluate_async({"event": {"type": "pay"}, "ctx": {"user": "U-9"}})
        quiet = await engine.evaluate_async({"event": {"type": "pay"}, "ctx": {"user": "U-1"}})
        return risky, quiet

    risky, quiet = asyncio.run(main())
    assert asked == ["U-9", "U-1"], "the async host function answered both evaluations"
    assert risky.is_rejected and risky.matched_ids == ["RISKY"]
    assert not quiet.is_rejected and quiet.matched_ids == []
    engine.audit_flush()

    decisions = audit_decisions(log, key)
    # Only the matching decision: record_all is off and the other matched no rule.
    assert len(decisions) == 1, decisions
    (record,) = decisions
    returned = risky.to_dict()
    assert record["calls"] == [{"name": "db.score", "args": ["U-9"], "result": 9}]
    assert record["verdict"] == returned["verdict"]
    assert record["verdict"]["outcome"] == "rejected" and record["verdict"]["rule_id"] == "RISKY"
    assert [m["id"] for m in record["matched"]] == risky.matched_ids
    assert record["matched"] == returned["matched"]
    assert record["errors"] == []
    assert record["ruleset_hash"] == risky.ruleset_hash
    assert record["generation"] == risky.generation
    assert record["input"]["ctx"]["user"] == "U-9"
    assert "decided_again" not in record, "the writer decided it again the same"


def test_an_engine_that_audits_records_the_whole_input(tmp_path):
    """A record's input serves replays against other rules, which may read any field: an
    engine that audits takes each input dict whole, never cut to what its rules read."""
    key = audit_key(tmp_path)

    def given(user):
        return {
            "event": {"type": "pay", "amount": 12.5, "channel": "app"},
            "ctx": {"user": user, "device": {"id": "D-7", "os": "android"}},
            "system": {"region": "eu"},
        }

    def sync_score(user):
        return 9 if user == "U-9" else 1

    async def async_score(user):
        return sync_score(user)

    def engine(log, score):
        return acs.Engine.from_string(
            RISKY,
            functions={"db.score": score},
            audit={"dir": str(log), "key": str(key), "record_all": True},
        )

    plain = engine(tmp_path / "log", sync_score)
    plain.evaluate(given("U-9"))
    assert len(plain.evaluate_many([given("U-1"), given("U-2")])) == 2
    plain.audit_flush()
    awaiting = engine(tmp_path / "log-async", async_score)
    assert not asyncio.run(awaiting.evaluate_async(given("U-3"))).is_rejected
    awaiting.audit_flush()

    def inputs(log):
        return [r["input"] for r in audit_decisions(log, key)]

    recorded = sorted(inputs(tmp_path / "log"), key=lambda i: i["ctx"]["user"])
    assert recorded == [given("U-1"), given("U-2"), given("U-9")]
    assert inputs(tmp_path / "log-async") == [given("U-3")]
