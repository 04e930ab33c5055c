#!/usr/bin/env python3
"""Print the Markdown tables of BENCHMARKS.md from criterion's last run.

Usage: python3 benches/report.py [CRITERION_DIR]   (default: target/criterion)

Reads <group>/<event>/new/estimates.json for the groups of benches/benches/evaluate.rs
and prints, per group, the median and its 95% confidence bounds per event, then the
ratios computed from those medians. Standard library only.
"""

import json
import sys
from pathlib import Path

EVENTS = [
    "bid_create_clean",
    "bid_create_kyc_missing",
    "truck_create_over_limit",
    "gps_ping",
    "pod_uploaded",
    "inspection_uploaded",
    "message_send_pii",
    "unknown_event",
]
GROUPS = [
    ("evaluate/preparsed", "evaluate_preparsed"),
    ("evaluate/json_bytes", "evaluate_json_bytes"),
    ("serde_json_parse", "serde_json_parse"),
]
TARGET_NS = 500.0


def median(root: Path, directory: str, bench: str):
    path = root / directory / bench / "new" / "estimates.json"
    estimates = json.loads(path.read_text())["median"]
    bounds = estimates["confidence_interval"]
    return estimates["point_estimate"], bounds["lower_bound"], bounds["upper_bound"]


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
    medians = {}
    for title, directory in GROUPS:
        print(f"### `{title}/<event>`\n")
        print("| event | median | low | high |")
        print("|---|---:|---:|---:|")
        for event in EVENTS:
            mid, low, high = median(root, directory, event)
            medians[(directory, event)] = mid
            print(f"| {event} | **{fmt(mid)}** | {fmt(low)} | {fmt(high)} |")
        print()

    print("### `mix/<input form>` (one event per iteration, cycling all eight)\n")
    print("| bench | median | low | high |")
    print("|---|---:|---:|---:|")
    for bench in ["preparsed", "json_bytes"]:
        mid, low, high = median(root, "mix", bench)
        print(f"| mix/{bench} | **{fmt(mid)}** | {fmt(low)} | {fmt(high)} |")
    print()

    print("### Ratios (medians of this run)\n")
    print(
        "| event | json_bytes / preparsed | serde_parse / preparsed "
        "| json_bytes / serde_parse | json_bytes − serde_parse |"
    )
    print("|---|---:|---:|---:|---:|")
    for event in EVENTS:
        pre = medians[("evaluate_preparsed", event)]
        js = medians[("evaluate_json_bytes", event)]
        serde = medians[("serde_json_parse", event)]
        print(
            f"| {event} | {js / pre:.1f}× | {serde / pre:.1f}× "
            f"| {js / serde:.2f}× | {fmt(js - serde)} |"
        )
    print()

    print(f"### Target: median < {TARGET_NS:.0f} ns per pre-parsed evaluation\n")
    print("| event | median | target met |")
    print("|---|---:|:---:|")
    for event in EVENTS:
        pre = medians[("evaluate_preparsed", event)]
        print(f"| {event} | {fmt(pre)} | {'yes' if pre < TARGET_NS else 'no'} |")


if __name__ == "__main__":
    main()
