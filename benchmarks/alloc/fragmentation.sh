#!/bin/sh
# Fragmentation, footprint and speed of every keel heap (and glibc malloc, for
# speed) on allocation traces recorded on this machine from real programs and on
# keel-alloc's adversarial and synthetic suites: one keel-alloc replay per set, so
# every heap runs the same traces in the same run.
#   benchmarks/alloc/fragmentation.sh BUILD_DIR OUT_DIR [SCALE]
# Writes OUT_DIR/{real,generated}.{txt,json}; the traces stay in OUT_DIR/traces.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
out=$2
scale=${3:-4}
tool="$build/src/tools/keel-alloc"
[ -x "$tool" ] || { echo "fragmentation: no keel-alloc at $tool" >&2; exit 1; }
mkdir -p "$out/traces"

"$here/record_traces.sh" "$build" "$out/traces"

generated=""
for kind in $("$tool" generate list | awk '{print $1}'); do
    "$tool" generate "$kind" --seed 1 --scale "$scale" -o "$out/traces/gen-$kind.trace"
    generated="$generated $out/traces/gen-$kind.trace"
done

real=$(ls "$out"/traces/*.trace | grep -v '/gen-')
# shellcheck disable=SC2086
"$tool" replay $real --heap all >"$out/real.txt"
"$tool" replay $real --heap all --json >"$out/real.json"
"$tool" replay $generated --heap all >"$out/generated.txt"
"$tool" replay $generated --heap all --json >"$out/generated.json"
cat "$out/real.txt" "$out/generated.txt"
