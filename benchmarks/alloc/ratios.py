#!/usr/bin/env python3
"""Prints, from bench_alloc's JSON output, each subject's time per allocate/free pair
and its ratio to mimalloc and to glibc malloc in the same run (< 1: faster).

    bench_alloc --benchmark_format=json > out.json && ratios.py out.json

Benchmark names are pairs/<mix>/<subject>. With repetitions, medians are used.
"""
import json
import statistics
import sys


def parse(path):
    """{mix: {subject: median ns per pair}}; prints the runs that reported an error."""
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    times = {}
    for b in runs:
        if b.get("error_occurred"):
            print(f"ERROR {b['name']}: {b.get('error_message')}")
            continue
        if b.get("run_type", "iteration") != "iteration":
            continue
        _, mix, subject = b["run_name"].split("/")[:3] if "run_name" in b else b["name"].split("/")[:3]
        times.setdefault(mix, {}).setdefault(subject, []).append(1e9 / b["items_per_second"])
    return {mix: {s: statistics.median(v) for s, v in subjects.items()} for mix, subjects in times.items()}


def main(path):
    for mix, med in parse(path).items():
        print(f"\n{mix}: ns per pair, ratio to mimalloc and glibc malloc (< 1: faster)")
        print(f"{'subject':28} {'ns':>9} {'x mimalloc':>11} {'x glibc':>9}")
        for s, t in sorted(med.items(), key=lambda kv: kv[1]):
            mi = t / med["mimalloc"] if "mimalloc" in med else float("nan")
            gl = t / med["glibc_malloc"] if "glibc_malloc" in med else float("nan")
            print(f"{s:28} {t:9.1f} {mi:11.2f} {gl:9.2f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
