import json
from pathlib import Path

import acs

RULES = Path(__file__).resolve().parents[3] / "rules"


def test_the_shipped_rules_load_and_decide():
    engine = acs.Engine.from_path(str(RULES))
    text = (RULES / "examples" / "bid_create_kyc_missing.json").read_bytes()
    decision = json.loads(engine.evaluate_json_text(text))
    assert decision["verdict"]["outcome"] == "rejected"
