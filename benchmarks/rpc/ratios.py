#!/usr/bin/env python3
"""Ratios of keel::rpc round trips to the floor and the alternatives in bench_rpc's
JSON output.

    bench_rpc --benchmark_format=json > out.json && ratios.py out.json

Names are floor/cacheline, floor/futex, pipe/<bytes>, uds/<bytes>,
keel/<noop|64B>/mode:<1 busy_poll|2 hybrid|3 futex> (see rpc_bench.cpp); times are ns
per round trip (real time). With --benchmark_repetitions the medians are used. Prints
keel/floor (busy poll against the cache-line ping-pong, the parking modes against the
futex ping-pong as well) and uds/keel (the Unix socket with the same payload size:
1 byte for noop, 64 for 64B).
"""
import json
import sys

MODES = {"1": "busy_poll", "2": "hybrid", "3": "futex"}


def parse(path):
    with open(path) as f:
        entries = json.load(f)["benchmarks"]
    medians = [b for b in entries if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"]
    runs = medians or [b for b in entries if b.get("run_type", "iteration") == "iteration"]
    ns = {}
    for b in runs:
        if b.get("error_occurred"):
            print(f"ERROR {b['name']}: {b.get('error_message')}")
            continue
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        ns[b.get("run_name", b["name"])] = b["real_time"] * scale
    return ns


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ns = parse(sys.argv[1])
    floor = ns.get("floor/cacheline")
    futex = ns.get("floor/futex")
    print(f"{'call':<22}{'ns':>10}{'keel/cacheline':>16}{'keel/futex':>12}{'uds/keel':>10}")
    for call, uds_bytes in (("noop", 1), ("64B", 64)):
        uds = ns.get(f"uds/{uds_bytes}")
        for code, mode in MODES.items():
            t = ns.get(f"keel/{call}/mode:{code}")
            if t is None:
                continue
            row = f"{call + '/' + mode:<22}{t:>10.0f}"
            row += f"{t / floor:>16.2f}" if floor else f"{'-':>16}"
            row += f"{t / futex:>12.2f}" if futex else f"{'-':>12}"
            row += f"{uds / t:>10.1f}" if uds else f"{'-':>10}"
            print(row)


if __name__ == "__main__":
    main()
