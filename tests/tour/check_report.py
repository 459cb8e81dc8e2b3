#!/usr/bin/env python3
"""Runs keel-tour --report at a small scale, loads the page in headless Chromium and
checks that the browser rendered every table and plot the tour says it wrote
(tour.json), and that the page is self-contained (no external resources).
Exit 77 (CTest's skip) only when no Chromium is installed."""
import argparse
import json
import pathlib
import re
import shutil
import subprocess
import sys


def fail(message):
    print(f"check_report: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tour", required=True, help="the keel-tour executable")
    parser.add_argument("--chromium", default="", help="the Chromium executable ('' to look on PATH)")
    parser.add_argument("--work-dir", required=True, help="scratch directory (emptied first)")
    parser.add_argument("--scale", default="0.05")
    args = parser.parse_args()

    chromium = args.chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("check_report: SKIP: Chromium is not installed (scripts/install-deps installs it)")
        sys.exit(77)

    work = pathlib.Path(args.work_dir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    report = work / "report"
    tour = subprocess.run([args.tour, "--scale", args.scale, "--report", str(report),
                           "--work-dir", str(work)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=150)
    if tour.returncode != 0:
        fail(f"keel-tour exited {tour.returncode}\n{tour.stdout[-4000:]}\n{tour.stderr[-4000:]}")

    manifest = json.loads((report / "tour.json").read_text())
    expected_tables, expected_images = manifest["tables"], manifest["images"]
    if expected_tables < 1 or expected_images < 1:
        fail(f"the report declares {expected_tables} tables and {expected_images} plots")
    failed = [s["component"] for s in manifest["sections"] if not s["ok"]]
    if failed:
        fail(f"sections failed: {failed}")

    page = (report / "index.html").read_text()
    # Self-contained: every src is a data URI, nothing is linked from outside.
    sources = re.findall(r'\ssrc="([^"]*)"', page)
    external = [s[:60] for s in sources if not s.startswith("data:")]
    if external or "<link" in page:
        fail(f"the page loads external resources: {external}")
    declared = re.search(r'data-expected-tables="(\d+)" data-expected-images="(\d+)"', page)
    if not declared or (int(declared[1]), int(declared[2])) != (expected_tables, expected_images):
        fail("the page's declared counts differ from tour.json's")

    browser = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={work / 'chromium-profile'}", "--virtual-time-budget=10000",
         "--dump-dom", report.resolve().as_uri() + "/index.html"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    if browser.returncode != 0:
        fail(f"chromium exited {browser.returncode}: {browser.stderr[-2000:]}")
    check = re.search(r'<p id="render-check"[^>]*>', browser.stdout)
    if not check:
        fail("the dumped DOM has no render-check paragraph")
    found = dict(re.findall(r'data-([a-z-]+)="(\d+)"', check[0]))
    if "tables" not in found:
        fail(f"the page's load script did not run: {check[0]}")
    tables, images, rendered = int(found["tables"]), int(found["images"]), int(found["rendered-images"])
    if tables != expected_tables:
        fail(f"Chromium found {tables} tables, the tour wrote {expected_tables}")
    if images != expected_images or rendered != expected_images:
        fail(f"Chromium rendered {rendered} of {images} images, the tour wrote {expected_images}")
    print(f"check_report: ok: Chromium rendered all {rendered} plots and {tables} tables "
          f"of {len(manifest['sections'])} sections")


if __name__ == "__main__":
    main()
