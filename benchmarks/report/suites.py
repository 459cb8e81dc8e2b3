"""The suites scripts/bench-report runs and plots: which binary, which command, which JSON
it leaves, which plots are drawn from it and which of benchmarks/*/ ratio scripts print
its tables. Parsing of the per-benchmark names reuses those scripts where they have it."""
import importlib.util
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from . import gbench, plot

BENCHMARKS = pathlib.Path(__file__).resolve().parent.parent


def existing_script(relative):
    """Imports benchmarks/<relative> (the ratio scripts share a file name, so each gets its own)."""
    name = "keel_bench_" + relative.removesuffix(".py").replace("/", "_")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / relative)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def threads_above_filter(binary, max_threads):
    """A Google Benchmark filter (a leading '-' excludes) that leaves out the binary's cases
    named .../threads:K with K above max_threads; None when it has none."""
    listed = subprocess.run([str(binary), "--benchmark_list_tests"], capture_output=True, text=True, check=True)
    counts = sorted({int(m.group(1)) for m in re.finditer(r"/threads:(\d+)$", listed.stdout, re.MULTILINE)
                     if int(m.group(1)) > max_threads})
    return f"-/threads:({'|'.join(map(str, counts))})$" if counts else None


class Suite:
    """One Google Benchmark binary whose JSON goes to <json dir>/<binary name>.json."""

    def __init__(self, name, binary, table_script, describe, plots):
        self.name = name
        self.binary = binary  # relative to the build folder
        self.targets = [pathlib.PurePath(binary).name]
        self.table_script = table_script  # relative to benchmarks/, or None
        self.describe = describe
        self.plots = plots  # (json dir, plot dir, terminal) -> [image path]

    def needs(self, build):
        return [build / self.binary]

    def json_files(self):
        return [pathlib.PurePath(self.binary).name + ".json"]

    def run(self, build, json_dir, min_time, log, max_threads=None):
        """Runs the binary; returns the commands it ran, as argv lists. max_threads: cases
        named .../threads:K with K above it are left out."""
        out = json_dir / self.json_files()[0]
        argv = [str(build / self.binary), f"--benchmark_out={out}", "--benchmark_out_format=json"]
        if min_time is not None:
            argv.append(f"--benchmark_min_time={min_time}")
        if max_threads is not None:
            left_out = threads_above_filter(build / self.binary, max_threads)
            if left_out:
                argv.append(f"--benchmark_filter={left_out}")
        log(argv)
        subprocess.run(argv, check=True)
        return [argv]

    def table_commands(self, json_dir):
        if self.table_script is None:
            return []
        return [[sys.executable, str(BENCHMARKS / self.table_script)] + [str(json_dir / f) for f in self.json_files()]]

    def errors(self, json_dir):
        return gbench.load(json_dir / self.json_files()[0])[1]


class Fragmentation(Suite):
    """benchmarks/alloc/fragmentation.sh: keel-alloc replay of recorded and generated traces
    (not Google Benchmark: --min-time does not apply)."""

    SCALE = "4"

    def __init__(self):
        super().__init__("fragmentation", "src/tools/keel-alloc", "alloc/summarize.py",
                         "Fragmentation (J&W #4: peak heap / peak live) and replay speed of every heap "
                         "on traces recorded on this machine and on keel-alloc's generated suites.",
                         fragmentation_plots)
        self.targets = ["keel_alloc_tool", "keel_alloc_trace"]

    def needs(self, build):
        return [build / "src/tools/keel-alloc", build / "src/alloc/libkeel-alloc-trace.so"]

    def json_files(self):
        return ["fragmentation-real.json", "fragmentation-generated.json"]

    def run(self, build, json_dir, min_time, log, max_threads=None):
        # The traces (hundreds of MiB) stay out of the report: only the replay results are kept.
        with tempfile.TemporaryDirectory(prefix="keel-fragmentation-") as work:
            argv = ["sh", str(BENCHMARKS / "alloc/fragmentation.sh"), str(build), work, self.SCALE]
            log(argv)
            subprocess.run(argv, check=True)
            for kind in ("real", "generated"):
                shutil.copyfile(pathlib.Path(work) / f"{kind}.json", json_dir / f"fragmentation-{kind}.json")
        return [argv]

    def errors(self, json_dir):
        return []


def mops(value):
    return value / 1e6


def scaling_panels(table, keep, title=lambda panel: panel):
    """{panel: {impl: {threads: ops/s}}} -> panels in Mops/s for the panels keep() accepts."""
    return [(title(panel), {impl: {t: mops(v) for t, v in sorted(points.items())} for impl, points in impls.items()})
            for panel, impls in sorted(table.items()) if keep(panel)]


def draw_scaling(plot_dir, term, stem, title, panels, logy=False):
    # A benchmark registered at one thread count (a ping-pong pair) has no scaling to show.
    panels = [(name, series) for name, series in panels if len({t for p in series.values() for t in p}) > 1]
    if not panels:
        return []
    return [plot.lines(plot_dir / stem, term, title, panels, "threads", "Mops/s (all threads)", logx=True, logy=logy)]


def sync_plots(json_dir, plot_dir, term):
    runs, _ = gbench.load(json_dir / "bench_sync.json")
    spin = gbench.by_threads([r for r in runs if r["name"].startswith("throughput/")], 2, "acq_per_s")
    blocking = gbench.by_threads([r for r in runs if r["name"].startswith("blocking/")], 3, "ops_per_s")
    out = []
    for args in sorted({panel.split("/", 2)[2] for panel in spin}):
        panels = scaling_panels(spin, lambda p, a=args: p.split("/", 2)[2] == a, lambda p: p.split("/")[1])
        stem = "sync-spin-" + args.replace("/", "-").replace(":", "")
        out += draw_scaling(plot_dir, term, stem, f"bench_sync: spin locks, acquisitions/s ({args})", panels)
    out += draw_scaling(plot_dir, term, "sync-blocking", "bench_sync: blocking primitives, operations/s",
                        scaling_panels(blocking, lambda p: True, lambda p: p.removeprefix("blocking/")))
    return out


def trust_plots(json_dir, plot_dir, term):
    table = existing_script("trust/ratios.py").parse(json_dir / "bench_trust.json")
    by_panel = {}
    for (scenario, args, threads), impls in table.items():
        if scenario == "single":  # one client: no scaling, the table has it
            continue
        panel = f"{scenario}/{args}" if args else scenario
        for impl, v in impls.items():
            by_panel.setdefault(panel, {}).setdefault(impl, {})[threads] = v
    # ffwd's panels go in g order (g:1, g:4, ...), not string order.
    def g_of(panel):
        return int(panel.split(":")[1])
    out = draw_scaling(plot_dir, term, "trust-scaling", "bench_trust: delegation vs locks, ops/s (log scale)",
                       scaling_panels(by_panel, lambda p: not p.startswith("ffwd/")), logy=True)
    ffwd = sorted(scaling_panels(by_panel, lambda p: p.startswith("ffwd/")), key=lambda kv: g_of(kv[0]))
    out += draw_scaling(plot_dir, term, "trust-ffwd", "bench_trust: g independent counters, ops/s (log scale)",
                        ffwd, logy=True)
    return out


def rpc_plots(json_dir, plot_dir, term):
    ratios = existing_script("rpc/ratios.py")
    r = ratios.parse(json_dir / "bench_rpc.json")
    sizes = ratios.SIZES
    transports = [("pipe", "pipe/{}"), ("uds", "uds/{}"), ("mq", "mq/{}"), ("grpc", "grpc/{}")]
    transports += [(f"keel {mode}", "keel/{}/mode:" + code) for code, mode in ratios.MODES.items()]
    refs = [(r[f]["mean"], f"{f}: {r[f]['mean']:.0f} ns (mean)") for f in ("floor/cacheline", "floor/futex") if f in r]
    panels = []
    for key, what in (("mean", "mean"), ("p50", "median (p50)"), ("p99", "p99")):
        series = {}
        for label, pattern in transports:
            points = {i: r[pattern.format(s)][key] for i, s in enumerate(sizes)
                      if pattern.format(s) in r and r[pattern.format(s)][key]}
            if points:
                series[label] = points
        if series:
            panels.append((f"{what} ns per round trip", series))
    out = []
    if panels:
        out.append(plot.lines(plot_dir / "rpc-latency", term, "bench_rpc: round trip by payload (log scale)",
                              panels, "request payload", "ns per round trip", logy=True,
                              xtics=dict(enumerate(sizes)), refs=refs))
    cases = {"tree": "tree, prebuilt", "tree_build": "tree, built per call"}
    series = {}
    if "serial_uds/tree" in r:
        series["serialise + uds"] = {cases["tree"]: r["serial_uds/tree"]["mean"]}
    for code, mode in ratios.MODES.items():
        points = {label: r[f"keel/{case}/mode:{code}"]["mean"] for case, label in cases.items()
                  if f"keel/{case}/mode:{code}" in r}
        if points:
            series[f"keel {mode}"] = points
    if series:
        out.append(plot.bars(plot_dir / "rpc-tree", term, "bench_rpc: 1,000-node tree per call (log scale)",
                             [("mean ns per call", list(cases.values()), series)], "ns per call", logy=True))
    return out


BASELINE_ALLOCATORS = ("glibc_malloc", "mimalloc", "pmr_unsynchronized_pool")


def alloc_plots(json_dir, plot_dir, term):
    medians = existing_script("alloc/ratios.py").parse(json_dir / "bench_alloc.json")
    panels = []
    for mix, subjects in medians.items():
        order = sorted(subjects, key=subjects.get)
        series = {"keel heaps": {s: subjects[s] for s in order if s not in BASELINE_ALLOCATORS},
                  "baselines": {s: subjects[s] for s in order if s in BASELINE_ALLOCATORS}}
        panels.append((f"{mix}: ns per allocate/free pair (lower is faster)", order, series))
    if not panels:
        return []
    return [plot.bars(plot_dir / "alloc-pairs", term, "bench_alloc: allocate/free pairs (log scale)", panels,
                      "ns per pair", logy=True, one_per_category=True)]


def fragmentation_plots(json_dir, plot_dir, term):
    summarize = existing_script("alloc/summarize.py")
    jw4, speed = [], []
    for kind in ("real", "generated"):
        traces = summarize.load(json_dir / f"fragmentation-{kind}.json")
        heaps = [h for h in summarize.FIXED + ["adaptive"] if any(h in t for t in traces.values())]
        names = list(traces)
        jw4.append((f"{kind} traces: J&W #4, peak heap / peak live (lower is better)", names,
                    {h: {n: t[h]["jw4"] for n, t in traces.items() if h in t} for h in heaps}))
        speed.append((f"{kind} traces: replay speed (Mops/s)", names,
                      {h: {n: mops(t[h]["ops_per_second"]) for n, t in traces.items()
                           if h in t and t[h].get("ops_per_second")} for h in heaps + ["malloc"]}))
    return [plot.bars(plot_dir / "alloc-fragmentation", term, "keel-alloc replay: fragmentation (log scale)",
                      jw4, "J&W #4", logy=True),
            plot.bars(plot_dir / "alloc-replay-speed", term, "keel-alloc replay: speed (log scale)",
                      speed, "Mops/s", logy=True)]


def iospec_plots(json_dir, plot_dir, term):
    runs, _ = gbench.load(json_dir / "bench_iospec.json")
    out = []
    # The reference case of each ratio (always 1) is the dashed line, not a bar.
    for counter, reference, stem, title, refs in (
            ("of_qd16", "io_uring_bound/qd:16", "iospec-bound", "the QD-16 io_uring bound's time / this case's",
             [(1.0, "QD-16 bound"), (0.7, "goal 0.7")]),
            ("vs_serial", "serial", "iospec-serial", "the serial program's time / this case's (> 1: faster)",
             [(1.0, "serial")])):
        panels = {}  # cache state -> (workloads, {case: {workload: ratio}})
        for r in runs:
            parts = gbench.name_parts(r)  # iospec/<workload>/<cold|warm>/<case>[/<arg>]
            case = "/".join(parts[3:])
            if counter not in r or case == reference:
                continue
            if case == "speculative":  # cp has the adaptive depth only
                case = "speculative/depth:-1"
            workloads, series = panels.setdefault(parts[2], ([], {}))
            if parts[1] not in workloads:
                workloads.append(parts[1])
            series.setdefault(case, {})[parts[1]] = r[counter]
        if panels:
            out.append(plot.bars(plot_dir / stem, term, f"bench_iospec: {title}",
                                 [(f"{cache} cache", *panels[cache]) for cache in sorted(panels)], counter,
                                 refs=refs))
    return out


SUITES = {
    "sync": Suite("sync", "benchmarks/sync/bench_sync", "sync/pair_ratios.py",
                  "Spin locks and blocking primitives: keel against Concurrency Kit, oneTBB, pthread "
                  "and the standard library, throughput against thread count.", sync_plots),
    "trust": Suite("trust", "benchmarks/trust/bench_trust", "trust/ratios.py",
                   "Delegation (keel::trust) against std::mutex, keel's locks, oneTBB and atomics, "
                   "throughput against client threads.", trust_plots),
    "rpc": Suite("rpc", "benchmarks/rpc/bench_rpc", "rpc/ratios.py",
                 "Round trip between two processes by payload: keel::rpc in each wait mode against "
                 "pipes, a Unix socket, Boost message_queue and gRPC (where built in), and the floors.",
                 rpc_plots),
    "alloc": Suite("alloc", "benchmarks/alloc/bench_alloc", "alloc/ratios.py",
                   "Allocate/free pairs with random sizes and lifetimes: every keel heap against glibc "
                   "malloc, mimalloc and std::pmr.", alloc_plots),
    "fragmentation": Fragmentation(),
    "iospec": Suite("iospec", "benchmarks/iospec/bench_iospec", None,
                    "keel::iospec against the serial programs and a plain io_uring reader at queue "
                    "depth 1 and 16 (the bound), cold and warm cache.", iospec_plots),
}
