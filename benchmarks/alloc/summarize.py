#!/usr/bin/env python3
"""Summarises `keel-alloc replay --json` output (see fragmentation.sh): per trace,
J&W #4 (peak heap / peak live) of every heap, the best fixed policy, adaptive's
ratio to it, and replay speed of head-first best fit against plain best fit.

    summarize.py real.json generated.json
"""
import json
import os
import sys

FIXED = ["tlsf", "buddy", "best_fit", "head_first_best_fit", "first_fit", "next_fit", "worst_fit"]


def load(path):
    """{trace name: {heap: replay row}} from one `keel-alloc replay --json` file."""
    with open(path) as f:
        rows = json.load(f)
    traces = {}
    for r in rows:
        traces.setdefault(os.path.basename(r["trace"]).removesuffix(".trace"), {})[r["heap"]] = r
    return traces


def main(paths):
    for path in paths:
        traces = load(path)
        heaps = [h for h in FIXED + ["adaptive"] if any(h in t for t in traces.values())]
        print(f"\n{os.path.basename(path)}: J&W #4 (peak heap / peak live)")
        print("| trace | " + " | ".join(heaps) + " | best fixed | adaptive / best |")
        print("|---" * (len(heaps) + 3) + "|")
        for name, t in traces.items():
            fixed = {h: t[h]["jw4"] for h in FIXED if h in t}
            best = min(fixed, key=fixed.get)
            cells = [f"{t[h]['jw4']:.3f}" if h in t else "–" for h in heaps]
            ratio = t["adaptive"]["jw4"] / fixed[best] if "adaptive" in t else float("nan")
            print(f"| {name} | " + " | ".join(cells) + f" | {best} {fixed[best]:.3f} | {ratio:.3f} |")
        print(f"\n{os.path.basename(path)}: replay speed, millions of ops/s")
        speed_heaps = heaps + ["malloc"]
        print("| trace | " + " | ".join(speed_heaps) + " | head-first / best fit |")
        print("|---" * (len(speed_heaps) + 2) + "|")
        for name, t in traces.items():
            cells = [f"{t[h]['ops_per_second'] / 1e6:.2f}" if h in t and t[h].get("ops_per_second") else "–"
                     for h in speed_heaps]
            hf = (t["head_first_best_fit"]["ops_per_second"] / t["best_fit"]["ops_per_second"]
                  if "head_first_best_fit" in t and "best_fit" in t else float("nan"))
            print(f"| {name} | " + " | ".join(cells) + f" | {hf:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
