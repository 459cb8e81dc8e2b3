#!/bin/sh
# Records allocation traces of real programs on this machine with
# libkeel-alloc-trace.so, for `keel-alloc replay` (see fragmentation.sh).
#   benchmarks/alloc/record_traces.sh BUILD_DIR OUT_DIR
# Programs: a g++ compile (cc1plus), a Python script with SQLite
# (workloads/python_sqlite.py) and the sqlite3 shell (workloads/sqlite_workload.sql).
# A program that starts children leaves one trace per process; the largest is kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "$1" && pwd)
out=$2
lib="$build/src/alloc/libkeel-alloc-trace.so"
[ -f "$lib" ] || { echo "record_traces: no recorder at $lib (build the keel_alloc_trace target)" >&2; exit 1; }
mkdir -p "$out/raw"

record() {
    name=$1
    shift
    rm -f "$out/raw/$name"-*.trace
    KEEL_ALLOC_TRACE="$out/raw/$name-%p.trace" LD_PRELOAD="$lib" "$@" >/dev/null
    largest=$(ls -S "$out/raw/$name"-*.trace | head -n 1)
    mv "$largest" "$out/$name.trace"
    echo "$name: $(wc -l <"$out/$name.trace") records"
}

record gcc g++ -std=c++20 -O2 -I "$root/include" -c "$root/src/platform/io_engine.cpp" -o "$out/raw/io_engine.o"
record python_sqlite python3 "$here/workloads/python_sqlite.py"
if command -v sqlite3 >/dev/null; then
    record sqlite_shell sh -c "sqlite3 :memory: < '$here/workloads/sqlite_workload.sql'"
else
    echo "sqlite_shell: skipped (no sqlite3 shell; apt-get install sqlite3)"
fi
rm -rf "$out/raw"
