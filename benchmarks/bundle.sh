#!/usr/bin/env bash
# Packs benchmark binaries with the shared libraries they load, so they run on a
# machine that has none of keel's dependencies installed (a lent measurement host).
#   benchmarks/bundle.sh OUT BINARY...
# Then, on the other machine:  OUT/run BINARY_NAME [ARGS...]
# The binaries run under the bundled dynamic loader and libraries (glibc included),
# so the host's own library versions do not matter.
set -euo pipefail
out=$1
shift
mkdir -p "$out/lib" "$out/bin"
for binary in "$@"; do
    cp "$binary" "$out/bin/"
    strip "$out/bin/$(basename "$binary")"
    # Every library the loader resolves, plus the loader itself.
    ldd "$binary" | awk '/=> \//{print $3} /^\s*\/lib/{print $1}' | while read -r lib; do
        cp -L "$lib" "$out/lib/"
    done
done
loader=$(ldd "$1" | awk '/ld-linux/{print $1}')
cp -L "$loader" "$out/lib/ld.so"
cat > "$out/run" <<'RUN'
#!/usr/bin/env bash
here=$(cd "$(dirname "$0")" && pwd)
name=$1
shift
exec "$here/lib/ld.so" --library-path "$here/lib" "$here/bin/$name" "$@"
RUN
chmod +x "$out/run"
du -sh "$out"
