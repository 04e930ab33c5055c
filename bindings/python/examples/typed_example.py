"""A typed tour of the Python API; `mypy --strict` checks it against the stubs, and it
runs: `python examples/typed_example.py` (from bindings/python, the package installed)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import List, Union

import acs

RULES = Path(__file__).resolve().parents[3] / "rules"
EXAMPLES = RULES / "examples"


def trucks_by_operator(operator_id: str) -> int:
    return 12


async def slow_count(operator_id: str) -> int:
    await asyncio.sleep(0)
    return 12


def main() -> None:
    engine = acs.Engine.from_path(
        RULES,
        stubs=EXAMPLES / "stubs.json",
        limits={"max_input_bytes": 1 << 20},
    )
    document = json.loads((EXAMPLES / "bid_create_kyc_missing.json").read_text())
    decision: acs.Decision = engine.evaluate(document)
    if decision.is_rejected and decision.rejection is not None:
        print("rejected:", decision.rejection["code"], decision.matched_ids)
    print("verdict:", decision.verdict["outcome"], "generation", decision.generation)
    same = engine.evaluate_json((EXAMPLES / "bid_create_kyc_missing.json").read_bytes())
    assert same == decision and json.loads(same.to_json()) == decision.to_dict()

    results: List[Union[acs.Decision, acs.InputError]] = engine.evaluate_many([document, b"{"], threads=2)
    for result in results:
        if isinstance(result, acs.InputError):
            print("refused:", result.code)
        else:
            print("decided:", result.verdict["outcome"])

    decided = asyncio.run(engine.evaluate_async(document))
    assert decided == decision

    try:
        acs.Engine.from_string("- id: X\n  condition: event.type ==\n", name="broken.yaml")
    except acs.RulesError as error:
        print("rules error:", error.code, f"{error.file}:{error.line}:{error.column}")

    with engine.watch():
        print("serving generation", engine.status()["generation"], "rules", len(engine.rule_ids))
    print(engine.set_rule_enabled("RF01_KYC_MANDATORY", False))
    engine.clear_rule_override("RF01_KYC_MANDATORY")
    print(engine.metrics().splitlines()[0])

    findings = acs.lint(str(RULES / "acs_rules_top25.yaml"))["findings"]
    print("lint findings:", len(findings), acs.explain_code("ACS101") is not None)
    report = acs.backtest(EXAMPLES / "recorded.jsonl", rules=RULES, stubs=EXAMPLES / "stubs.json")
    print("backtest inputs:", report["inputs"])


if __name__ == "__main__":
    main()
