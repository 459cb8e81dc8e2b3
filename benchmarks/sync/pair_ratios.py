#!/usr/bin/env python3
"""Pairs keel's locks with their Concurrency Kit equivalents in bench_sync's JSON
output and prints keel/ck throughput ratios (>1: keel faster) and latency ratios
(<1: keel faster).

    bench_sync --benchmark_format=json > out.json && pair_ratios.py out.json

Benchmark names are throughput/<family>/<impl>/<args> and latency/<family>/<impl>;
a pair is the same family and args with an impl named keel* and ck.
"""
import json
import sys


def main(path):
    with open(path) as f:
        runs = [b for b in json.load(f)["benchmarks"] if b.get("run_type", "iteration") == "iteration"]
    table = {}
    for b in runs:
        if b.get("error_occurred"):
            print(f"ERROR {b['name']}: {b.get('error_message')}")
            continue
        kind, family, impl, *rest = b["name"].split("/")
        key = (kind, family, "/".join(rest))
        value = b["acq_per_s"] if kind == "throughput" else b["real_time"]
        table.setdefault(key, {})[impl] = value
    print(f"{'benchmark':60} {'keel':>12} {'ck':>12} {'keel/ck':>8}")
    for (kind, family, args), impls in sorted(table.items()):
        if "ck" not in impls:
            continue
        for mine in sorted(i for i in impls if i.startswith("keel")):
            name = f"{kind}/{family}/{mine}/{args}".rstrip("/")
            print(f"{name:60} {impls[mine]:12.4g} {impls['ck']:12.4g} {impls[mine] / impls['ck']:8.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
