import json
from pathlib import Path

import acs

RULES = Path(__file__).resolve().parents[3] / "rules"


def test_the_shipped_rules_load_and_decide():
    engine = acs.Engine.from_path(str(RULES))
    text = (RULES / "examples" / "bid_create_kyc_missing.json").read_bytes()
    decision = engine.evaluate_json(text)
    assert decision.verdict["outcome"] == "rejected"
    assert json.loads(decision.to_json())["verdict"]["outcome"] == "rejected"
