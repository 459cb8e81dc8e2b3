#!/usr/bin/env python3
"""CTest test of scripts/bench-report: runs a few of bench_sync's benchmarks briefly, draws
the report from that JSON with --from-json, and checks that the plots are real images,
that they plot the JSON's numbers, that index.md lists them, and that bad input is refused.

    test_bench_report.py BENCH_SYNC WORK_DIR
"""
import json
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPORT = ROOT / "scripts/bench-report"
# Two spin-lock families and the blocking mutex, 1 and 2 threads: both sync plots get data.
FILTER = (r"^throughput/ttas/(keel|ck)/cs_ns:0/.*threads:(1|2)$"
          r"|^blocking/throughput/mutex/(std|keel_futex)/cs_ns:0/.*threads:(1|2)$")
PLOTS = ["sync-spin-cs_ns0-out_ns200", "sync-blocking"]


def fail(message):
    sys.exit(f"FAIL: {message}")


def check_image(path):
    data = path.read_bytes()
    if not data:
        fail(f"{path} is empty")
    if path.suffix == ".png":
        # Signature, then the IHDR chunk: length 13, type, width, height.
        if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
            fail(f"{path} is not a PNG")
        width, height = struct.unpack(">II", data[16:24])
        if width < 100 or height < 100:
            fail(f"{path}: {width}x{height} is too small for a plot")
    else:
        root = ET.fromstring(data)
        if not root.tag.endswith("svg"):
            fail(f"{path} is not an SVG (root element {root.tag})")


def plotted_series(script):
    """{series title: [(x, y)]} from a plot's gnuplot script (data inline in datablocks)."""
    text = script.read_text()
    blocks = {name: [tuple(float(v) for v in row.split()) for row in body.strip().splitlines()]
              for name, body in re.findall(r"^\$(\w+) << EOD\n(.*?)^EOD$", text, re.S | re.M)}
    return {title: blocks[name] for name, title in re.findall(r'\$(\w+) using 1:2 .*? title "([^"]*)"', text)}


def run(argv, expect_ok=True):
    done = subprocess.run(argv, capture_output=True, text=True)
    if expect_ok and done.returncode != 0:
        fail(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def main(bench_sync, work):
    shutil.rmtree(work, ignore_errors=True)
    saved = work / "saved"
    saved.mkdir(parents=True)
    source = saved / "bench_sync.json"
    run([bench_sync, f"--benchmark_filter={FILTER}", "--benchmark_min_time=0.01",
         f"--benchmark_out={source}", "--benchmark_out_format=json"])
    runs = [b for b in json.loads(source.read_text())["benchmarks"] if not b.get("error_occurred")]
    if not runs:
        fail("bench_sync ran no benchmark without error")

    out = work / "report"
    run([sys.executable, REPORT, "--from-json", saved, "--out", out, "--only", "sync"])

    index = (out / "index.md").read_text()
    if (out / "json/bench_sync.json").read_bytes() != source.read_bytes():
        fail("the report's json/bench_sync.json is not the JSON it was drawn from")
    if "](json/bench_sync.json)" not in index:
        fail("index.md does not link json/bench_sync.json")
    for stem in PLOTS:
        images = list((out / "plots").glob(stem + ".*g"))
        if len(images) != 1:
            fail(f"expected one image plots/{stem}.png or .svg, found {images}")
        check_image(images[0])
        if f"](plots/{images[0].name})" not in index:
            fail(f"index.md does not list plots/{images[0].name}")

    # The spin-lock plot draws the JSON's acquisitions per second, in millions.
    series = plotted_series(out / "plots" / (PLOTS[0] + ".gp"))
    for b in runs:
        m = re.match(r"throughput/ttas/(\w+)/.*threads:(\d+)$", b["name"])
        if not m:
            continue
        want = (float(m.group(2)), b["acq_per_s"] / 1e6)
        points = series.get(m.group(1), [])
        if not any(abs(x - want[0]) < 1e-9 and abs(y - want[1]) <= 1e-9 * want[1] for x, y in points):
            fail(f"{b['name']}: {want} not among the plotted points of {m.group(1)}: {points}")
    if "keel/ck" not in index:
        fail("index.md lacks pair_ratios.py's keel/ck table")

    # Bad input: a folder without the suite's JSON, and JSON that is not Google Benchmark's.
    empty = work / "empty"
    empty.mkdir()
    done = run([sys.executable, REPORT, "--from-json", empty, "--out", work / "bad", "--only", "sync"], False)
    if done.returncode == 0 or "bench_sync.json" not in done.stderr:
        fail(f"--from-json on an empty folder: exit {done.returncode}, stderr {done.stderr!r}")
    (empty / "bench_sync.json").write_text('{"not": "benchmark output"}')
    done = run([sys.executable, REPORT, "--from-json", empty, "--out", work / "bad", "--only", "sync"], False)
    if done.returncode == 0 or "not Google Benchmark JSON" not in (work / "bad/index.md").read_text():
        fail(f"--from-json on bad JSON: exit {done.returncode}, index does not say why")
    print(f"ok: {len(runs)} benchmarks, plots {', '.join(p.name for p in sorted((out / 'plots').iterdir()))}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))
