#!/usr/bin/env python3
"""Ratios of keel::trust to its baselines in bench_trust's JSON output (>1: trust
does more ops per second).

    bench_trust --benchmark_format=json > out.json && ratios.py out.json

Names are <scenario>/<impl>/<args...>[/real_time][/threads:<n>] (see trust_bench.cpp).
With --benchmark_repetitions the medians are used. Prints, per scenario and thread count:
  counter, map: trust_apply and trust_then over std::mutex and over the best keel lock
                (the fastest of ttas, mcs, futex at that thread count, named)
  ffwd:         each trust impl over a std::mutex per counter, per g
  kv:           trust shards (per trustee count) over mutex shards
  single:       apply_then throughput over an uncontended std::mutex, and apply's
                round trip in ns next to the mutex's lock/increment/unlock
"""
import json
import sys

KEEL_LOCKS = ("ttas", "mcs", "futex")


def parse(path):
    with open(path) as f:
        entries = json.load(f)["benchmarks"]
    # With --benchmark_repetitions, use each benchmark's median; else its single run.
    medians = [b for b in entries if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"]
    runs = medians or [b for b in entries if b.get("run_type", "iteration") == "iteration"]
    table = {}  # (scenario, args, threads) -> {impl: items_per_second}
    for b in runs:
        if b.get("error_occurred"):
            print(f"ERROR {b['name']}: {b.get('error_message')}")
            continue
        scenario, impl, *rest = b.get("run_name", b["name"]).split("/")
        threads = 1
        args = []
        for part in rest:
            if part.startswith("threads:"):
                threads = int(part.split(":")[1])
            elif part.startswith("trustees:"):
                impl += "_t" + part.split(":")[1]
            elif part != "real_time":
                args.append(part)
        table.setdefault((scenario, "/".join(args), threads), {})[impl] = b["items_per_second"]
    return table


def rows(table, scenario):
    return sorted((k, v) for k, v in table.items() if k[0] == scenario)


def fmt(x):
    return f"{x:12.4g}"


def main(path):
    table = parse(path)

    for scenario in ("counter", "map"):
        got = rows(table, scenario)
        if not got:
            continue
        print(f"\n== {scenario}: ops/s, and trust over std::mutex and over the best keel lock")
        print(f"{'threads':>7} {'impl':12} {'trust':>12} {'std_mutex':>12} {'/mutex':>7}"
              f" {'best keel':>18} {'/keel':>7}")
        for (_, _, threads), impls in got:
            locks = {i: impls[i] for i in KEEL_LOCKS if i in impls}
            best = max(locks, key=locks.get) if locks else None
            for mine in ("trust_apply", "trust_then"):
                if mine not in impls:
                    continue
                v = impls[mine]
                line = f"{threads:7} {mine:12} {fmt(v)}"
                line += f" {fmt(impls['std_mutex'])} {v / impls['std_mutex']:7.3f}" if "std_mutex" in impls else " " * 21
                if best:
                    line += f" {best:>5} {fmt(locks[best])} {v / locks[best]:7.3f}"
                print(line)

    got = rows(table, "ffwd")
    if got:
        print("\n== ffwd: g independent counters, trust over a std::mutex per counter")
        print(f"{'g':>6} {'threads':>7} {'impl':16} {'trust':>12} {'mutex':>12} {'/mutex':>7} {'atomic':>12}")
        for (_, args, threads), impls in sorted(got, key=lambda kv: (int(kv[0][1].split(':')[1]), kv[0][2])):
            g = args.split(":")[1]
            for mine in sorted(i for i in impls if i.startswith("trust")):
                v = impls[mine]
                line = f"{g:>6} {threads:7} {mine:16} {fmt(v)}"
                if "mutex" in impls:
                    line += f" {fmt(impls['mutex'])} {v / impls['mutex']:7.3f}"
                if "atomic" in impls:
                    line += f" {fmt(impls['atomic'])}"
                print(line)

    got = rows(table, "kv")
    if got:
        print("\n== kv: hot-key store, trust shards over mutex shards")
        print(f"{'shards':>6} {'threads':>7} {'impl':14} {'trust':>12} {'mutex':>12} {'/mutex':>7}")
        for (_, args, threads), impls in got:
            for mine in sorted(i for i in impls if i.startswith("trust")):
                v = impls[mine]
                line = f"{args.split(':')[1]:>6} {threads:7} {mine:14} {fmt(v)}"
                if "mutex" in impls:
                    line += f" {fmt(impls['mutex'])} {v / impls['mutex']:7.3f}"
                print(line)

    single = table.get(("single", "", 1), {})
    if single:
        print("\n== single client, no contention")
        m = single.get("std_mutex")
        if "trust_then" in single and m:
            print(f"apply_then ops/s {single['trust_then']:.4g} / uncontended mutex ops/s {m:.4g}"
                  f" = {single['trust_then'] / m:.3f}")
        if "trust_apply" in single and m:
            print(f"apply round trip {1e9 / single['trust_apply']:.1f} ns;"
                  f" mutex lock/increment/unlock {1e9 / m:.1f} ns"
                  f" (apply ops/s / mutex ops/s = {single['trust_apply'] / m:.4f})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
