#!/usr/bin/env python3
"""Ratios and tables from bench_rpc's JSON output.

    bench_rpc --benchmark_format=json --benchmark_out=out.json && ratios.py out.json

Names (see rpc_bench.cpp; Google Benchmark appends /real_time, dropped here):
floor/cacheline, floor/futex, pipe/<size>, uds/<size>, mq/<size>,
keel/<size>/mode:<1 busy_poll|2 hybrid|3 futex>, keel/tree/mode:<m>,
keel/tree_build/mode:<m>, serial_uds/tree, with <size> noop, 64B, 4KiB, 64KiB, 1MiB.
Times are ns per round trip: the mean (real time, as Google Benchmark reports it)
and the p50_ns / p99_ns counters. With --benchmark_repetitions the medians are used.

Prints: the floor; keel no-op and 64 B in each mode against the floor and the Unix
socket (the goals: busy-poll no-op <= 2x the cache-line floor, uds/keel >= 20x for
no-op and 64 B); the tree (serialise + uds / keel, goal >= 20x); and the per-size
table (mean, p50, p99 and throughput of every transport).
"""
import json
import sys

MODES = {"1": "busy_poll", "2": "hybrid", "3": "futex"}
SIZES = ["noop", "64B", "4KiB", "64KiB", "1MiB"]


def parse(path):
    with open(path) as f:
        entries = json.load(f)["benchmarks"]
    medians = [b for b in entries if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"]
    runs = medians or [b for b in entries if b.get("run_type", "iteration") == "iteration"]
    out = {}
    for b in runs:
        name = b.get("run_name", b["name"])
        if name.endswith("/real_time"):
            name = name[: -len("/real_time")]
        if b.get("error_occurred"):
            print(f"ERROR {name}: {b.get('error_message')}")
            continue
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        out[name] = {
            "mean": b["real_time"] * scale,
            "p50": b.get("p50_ns"),
            "p99": b.get("p99_ns"),
            "bps": b.get("bytes_per_second"),
            "ips": b.get("items_per_second"),
            "ser": b.get("serialised_bytes"),
        }
    return out


def fmt(v, width, spec=".0f"):
    return f"{v:>{width}{spec}}" if v is not None else f"{'-':>{width}}"


def ratio(a, b):
    return a / b if a is not None and b else None


def mean(r, name):
    e = r.get(name)
    return e["mean"] if e else None


def p50(r, name):
    e = r.get(name)
    return e["p50"] if e else None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    r = parse(sys.argv[1])

    print("floor (ns per round trip)")
    print(f"{'':<18}{'mean':>10}{'p50':>10}{'p99':>10}")
    for name in ("floor/cacheline", "floor/futex"):
        e = r.get(name)
        if e:
            print(f"{name:<18}{fmt(e['mean'], 10)}{fmt(e['p50'], 10)}{fmt(e['p99'], 10)}")

    floor = mean(r, "floor/cacheline")
    futex = mean(r, "floor/futex")
    print()
    print("keel no-op and 64 B (mean ns; ratios of means, p50 ratio in brackets)")
    print(f"{'call':<18}{'mean':>10}{'p50':>10}{'p99':>10}{'keel/cacheline':>16}{'keel/futex':>12}{'uds/keel':>10}{'uds/keel p50':>14}")
    for size in ("noop", "64B"):
        uds = f"uds/{size}"
        for code, mode in MODES.items():
            e = r.get(f"keel/{size}/mode:{code}")
            if e is None:
                continue
            row = f"{size + '/' + mode:<18}{fmt(e['mean'], 10)}{fmt(e['p50'], 10)}{fmt(e['p99'], 10)}"
            row += fmt(ratio(e["mean"], floor), 16, ".2f")
            row += fmt(ratio(e["mean"], futex), 12, ".2f")
            row += fmt(ratio(mean(r, uds), e["mean"]), 10, ".1f")
            row += fmt(ratio(p50(r, uds), e["p50"]), 14, ".1f")
            print(row)

    print()
    print("goals")
    busy = mean(r, "keel/noop/mode:1")
    print(f"  busy-poll no-op / cache-line floor: {fmt(ratio(busy, floor), 0, '.2f')} (mean), "
          f"{fmt(ratio(p50(r, 'keel/noop/mode:1'), p50(r, 'floor/cacheline')), 0, '.2f')} (p50); goal <= 2")
    for size in ("noop", "64B"):
        print(f"  uds / keel busy-poll, {size}: {fmt(ratio(mean(r, f'uds/{size}'), mean(r, f'keel/{size}/mode:1')), 0, '.1f')} (mean), "
              f"{fmt(ratio(p50(r, f'uds/{size}'), p50(r, f'keel/{size}/mode:1')), 0, '.1f')} (p50); goal >= 20")

    print()
    ser = r.get("serial_uds/tree")
    print("1,000-node tree (ns per call)" + (f"; serialised archive {ser['ser']:.0f} bytes" if ser and ser["ser"] else ""))
    print(f"{'case':<26}{'mean':>10}{'p50':>10}{'p99':>10}{'serial_uds/keel':>17}{'(p50)':>8}")
    if ser:
        print(f"{'serial_uds/tree':<26}{fmt(ser['mean'], 10)}{fmt(ser['p50'], 10)}{fmt(ser['p99'], 10)}")
    for case in ("tree", "tree_build"):
        for code, mode in MODES.items():
            e = r.get(f"keel/{case}/mode:{code}")
            if e is None:
                continue
            row = f"{'keel/' + case + '/' + mode:<26}{fmt(e['mean'], 10)}{fmt(e['p50'], 10)}{fmt(e['p99'], 10)}"
            row += fmt(ratio(ser["mean"] if ser else None, e["mean"]), 17, ".1f")
            row += fmt(ratio(ser["p50"] if ser else None, e["p50"]), 8, ".1f")
            print(row)
    print("  goal: serialise + uds / keel (tree, prebuilt) >= 20")

    transports = [("pipe", "pipe/{}"), ("uds", "uds/{}"), ("mq", "mq/{}")]
    transports += [(f"keel {MODES[c]}", "keel/{}/mode:" + c) for c in MODES]
    w = 12
    head = f"{'':<16}" + "".join(f"{s:>{w}}" for s in SIZES)
    for key, what in (("mean", "mean"), ("p50", "p50"), ("p99", "p99")):
        print()
        print(f"per size: {what} ns per round trip")
        print(head)
        for label, pattern in transports:
            row = f"{label:<16}"
            for s in SIZES:
                e = r.get(pattern.format(s))
                row += fmt(e[key] if e else None, w)
            print(row)
    print()
    print("per size: throughput of request bytes, GB/s (from the mean)")
    print(head)
    for label, pattern in transports:
        row = f"{label:<16}"
        for s in SIZES:
            e = r.get(pattern.format(s))
            row += fmt(e["bps"] / 1e9 if e and e["bps"] else None, w, ".3f")
        print(row)
    print()
    print("per size: ratio of means, baseline / keel in each mode (>1: keel faster)")
    print(head)
    for base in ("pipe", "uds", "mq"):
        for code, mode in MODES.items():
            row = f"{base + '/' + mode:<16}"
            for s in SIZES:
                row += fmt(ratio(mean(r, f"{base}/{s}"), mean(r, f"keel/{s}/mode:{code}")), w, ".1f")
            print(row)

if __name__ == "__main__":
    main()
