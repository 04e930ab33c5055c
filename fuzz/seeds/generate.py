#!/usr/bin/env python3
"""Regenerate the committed seed corpora (fuzz/seeds/<target>/) from the project's rules,
examples and test cases. Run from anywhere: `python3 fuzz/seeds/generate.py`."""

import hashlib
import json
import pathlib
import re
import shutil

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
TARGETS = ["condition", "rules_file", "evaluate", "template", "test_file"]


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()[:16]
    (SEEDS / target / name).write_bytes(data)


def main():
    for target in TARGETS:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
        (SEEDS / target).mkdir(parents=True)

    bundle_text = (ROOT / "rules" / "acs_rules_top25.yaml").read_text()
    bundle = yaml.safe_load(bundle_text)
    case_files = sorted((ROOT / "acs-engine" / "tests" / "cases").glob("*.yaml"))
    cases = [case for path in case_files for case in yaml.safe_load(path.read_text()) or []]

    # condition: every condition of the bundle and of the expression cases.
    conditions = {rule["condition"] for rule in bundle}
    conditions |= {c["condition"] for c in cases if isinstance(c.get("condition"), str)}
    for condition in sorted(conditions):
        write("condition", condition)

    # template: the bundle's template expressions and the case conditions, each with an
    # example input (template text, NUL, JSON document).
    templates = set(re.findall(r"\{\{(.*?)\}\}", bundle_text))
    templates |= {c["condition"] for c in cases if isinstance(c.get("condition"), str)}
    templates.add("plain text, no template")
    templates.add("a {{x}} b {{y}}")
    examples = sorted((ROOT / "rules" / "examples").glob("*.json"))
    inputs = [json.dumps(json.loads(p.read_text()), separators=(",", ":")) for p in examples]
    inputs += [json.dumps(c["input"], separators=(",", ":")) for c in cases if "input" in c]
    for i, template in enumerate(sorted(templates)):
        write("template", template + "\0" + inputs[i % len(inputs)])

    # rules_file: the bundle, the lint cases, the load-error cases, the rules in the cases.
    rule_files = [ROOT / "rules" / "acs_rules_top25.yaml"]
    rule_files += sorted((ROOT / "acs-cli" / "tests" / "lint_cases").rglob("*.yaml"))
    rule_files += sorted((ROOT / "acs-engine" / "tests" / "load_errors").glob("*.yaml"))
    for path in rule_files:
        write("rules_file", path.read_text())
    for case in cases:
        if isinstance(case.get("rules"), str):
            write("rules_file", case["rules"])

    # evaluate: the example inputs, the case inputs and the first recorded events.
    for text in inputs:
        write("evaluate", text)
    recorded = (ROOT / "rules" / "examples" / "recorded.jsonl").read_text().splitlines()
    for line in recorded[:40]:
        write("evaluate", line)

    # test_file: the bundle's rule tests, whole and cut into one file per test.
    test_path = ROOT / "rules" / "tests" / "acs_rules_top25.test.yaml"
    test_text = test_path.read_text()
    write("test_file", test_text)
    header, _, body = test_text.partition("\ntests:\n")
    for test in yaml.safe_load(body and "tests:\n" + body)["tests"]:
        write("test_file", header + "\n" + yaml.safe_dump({"tests": [test]}, sort_keys=False))


if __name__ == "__main__":
    main()
