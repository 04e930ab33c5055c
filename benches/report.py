#!/usr/bin/env python3
"""Print the Markdown tables of BENCHMARKS.md from criterion's last run.

Usage: python3 benches/report.py [CRITERION_DIR]   (default: target/criterion)

Reads <group>/<event>/new/estimates.json for the groups of benches/benches/evaluate.rs
and prints, per group, the median and its 95% confidence bounds per event, then the
ratios computed from those medians; then, when they have run, the engine / floor ratios
and the scale groups of benches/benches/scale.rs (ratios to N = 25). Standard library only.
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
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
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

    floor_dir = root / "floor_preparsed"
    floors = {}
    if floor_dir.is_dir():
        floors = {event: median(root, "floor_preparsed", event)[0] for event in EVENTS}

    # The floor is hand-written Rust doing the same work on the same input: when it is
    # itself over the line, the machine is too slow to show the target, whatever the
    # engine does. Machines of one kind have differed 2-3x in speed between days.
    print(f"### Target: median < {TARGET_NS:.0f} ns per pre-parsed evaluation\n")
    if floors:
        print("| event | median | target met | floor | floor under the line |")
        print("|---|---:|:---:|---:|:---:|")
    else:
        print("| event | median | target met |")
        print("|---|---:|:---:|")
    for event in EVENTS:
        pre = medians[("evaluate_preparsed", event)]
        met = "yes" if pre < TARGET_NS else "no"
        if floors:
            floor = floors[event]
            print(f"| {event} | {fmt(pre)} | {met} | {fmt(floor)} | {'yes' if floor < TARGET_NS else 'no'} |")
        else:
            print(f"| {event} | {fmt(pre)} | {met} |")
    over = [event for event, floor in floors.items() if floor >= TARGET_NS]
    if over:
        print(
            f"\nThe hand-written floor itself takes {TARGET_NS:.0f} ns or more for "
            f"{', '.join(over)}: this machine cannot show the target for "
            f"{'that event' if len(over) == 1 else 'those events'}."
        )

    if floors:
        print("\n### Engine / hand-written floor (issue #5 target: at most 3x)\n")
        print("| event | engine | floor | engine / floor |")
        print("|---|---:|---:|---:|")
        for event in EVENTS:
            pre = medians[("evaluate_preparsed", event)]
            floor = floors[event]
            print(f"| {event} | {fmt(pre)} | {fmt(floor)} | {pre / floor:.2f}x |")

    scale_dir = root / "scale_evaluate_same"
    if scale_dir.is_dir():
        print("\n### Scale (issue #5): per-event cost and load time against N\n")
        groups = ["scale_evaluate_same", "scale_evaluate_mix", "scale_evaluate_mix_fresh", "scale_load"]
        print("| rules | " + " | ".join(g.removeprefix("scale_") for g in groups) + " |")
        print("|---:|" + "---:|" * len(groups))
        base = {}
        for n in ["25", "1000", "10000", "100000"]:
            cells = []
            for group in groups:
                try:
                    mid, _, _ = median(root, group, n)
                except FileNotFoundError:
                    cells.append("")
                    continue
                base.setdefault(group, mid)
                ratio = f" ({mid / base[group]:.2f}x)" if n != "25" else ""
                cells.append(f"{fmt(mid)}{ratio}")
            print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
