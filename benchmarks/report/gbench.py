"""Reading Google Benchmark's JSON output (--benchmark_format=json or --benchmark_out).

Shared by scripts/bench-report and the ratio scripts under benchmarks/*/.
"""
import json

# Google Benchmark's time units, in nanoseconds.
NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(path):
    """Returns (runs, errors) from one JSON file: the median aggregate of every benchmark
    when the run had --benchmark_repetitions, else every plain iteration run. errors
    holds (name, message) of the benchmarks that reported an error."""
    try:
        with open(path) as f:
            entries = json.load(f)["benchmarks"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not Google Benchmark JSON output ({e})") from e
    medians = [b for b in entries if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"]
    chosen = medians or [b for b in entries if b.get("run_type", "iteration") == "iteration"]
    runs, errors = [], []
    for b in chosen:
        if b.get("error_occurred"):
            errors.append((b["name"], b.get("error_message", "")))
        else:
            runs.append(b)
    return runs, errors


def name_parts(run):
    """The benchmark's name split at '/', without Google Benchmark's own suffixes
    (real_time, manual_time, iterations:<n>, threads:<n>); the thread count is run["threads"]."""
    parts = run.get("run_name", run["name"]).split("/")
    return [p for p in parts
            if p not in ("real_time", "manual_time") and not p.startswith(("threads:", "iterations:"))]


def real_time_ns(run):
    return run["real_time"] * NS_PER_UNIT[run.get("time_unit", "ns")]


def by_threads(runs, impl_at, counter):
    """Groups the runs that report `counter` into {panel: {impl: {threads: value}}}, where
    impl is name part number impl_at and panel is the name without it."""
    out = {}
    for r in runs:
        if counter not in r:
            continue
        parts = name_parts(r)
        if len(parts) <= impl_at:
            continue
        impl = parts.pop(impl_at)
        out.setdefault("/".join(parts), {}).setdefault(impl, {})[int(r.get("threads", 1))] = r[counter]
    return out
