#!/usr/bin/env bash
# Packs this machine's qemu-system-aarch64 with every shared library it loads and the
# dynamic loader into one archive that runs on another x86-64 Linux with nothing
# installed: bin/qemu-system-aarch64 starts the binary through the packed loader
# (ld-linux-x86-64.so.2 --library-path lib), so the host's own libraries are never used.
# Used to take QEMU to a many-core host for tools/bench-many.sh (docs/results.md).
#
#   tools/qemu-bundle.sh [--out FILE]     default target/qemu-bundle.tar.gz
#   tools/qemu-bundle.sh --check FILE     unpack FILE and boot-test it with env -i
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/target/qemu-bundle.tar.gz
check=
# Compressed size the archive must stay under (it travels to the other host).
max_bytes=$((30 << 20))

die() {
    echo "qemu-bundle.sh: $*" >&2
    exit 2
}

while (($#)); do
    case $1 in
    --out) [[ -n ${2:-} ]] || die "--out needs a file"; out=$2; shift 2 ;;
    --check) [[ -n ${2:-} ]] || die "--check needs an archive"; check=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done

# Boots the bundle's QEMU in a clean environment (no PATH, no LD_LIBRARY_PATH) on the
# smallest machine that answers: QEMU's version, then a dump of the virt DTB.
check_bundle() {
    local archive=$1 dir
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' RETURN
    tar -xzf "$archive" -C "$dir"
    local b=$dir/qemu-bundle qemu=$dir/qemu-bundle/bin/qemu-system-aarch64
    # Every library must resolve inside the bundle, none on this host.
    local outside
    outside=$(env -i "$b/lib/ld-linux-x86-64.so.2" --library-path "$b/lib" --list \
        "$b/libexec/qemu-system-aarch64" | awk '$2 == "=>" && index($3, "'"$b"'/lib/") != 1')
    [[ -z $outside ]] || die "libraries resolved outside the bundle: $outside"
    env -i "$qemu" --version | head -1
    env -i "$qemu" -machine "virt,gic-version=3,dumpdtb=$dir/virt.dtb" -cpu cortex-a53 \
        -smp 2 -m 128M -nographic -nic none >/dev/null 2>&1 </dev/null ||
        die "the bundled QEMU could not build a virt machine"
    [[ -s $dir/virt.dtb ]] || die "the bundled QEMU wrote no DTB"
    echo "qemu-bundle.sh: $archive runs under env -i (virt machine built)"
}

if [[ -n $check ]]; then
    check_bundle "$check"
    exit 0
fi

[[ $(uname -m) == x86_64 ]] || die "this packs an x86-64 QEMU; this machine is $(uname -m)"
qemu=$(command -v qemu-system-aarch64) || die "no qemu-system-aarch64 here: run tools/setup.sh"
qemu=$(readlink -f "$qemu")

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
b=$stage/qemu-bundle
mkdir -p "$b/bin" "$b/lib" "$b/libexec"
cp "$qemu" "$b/libexec/qemu-system-aarch64"

# ldd lists the whole closure of DT_NEEDED, and the loader as an absolute path.
loader=
while read -r name arrow path _; do
    if [[ $name == /* ]]; then
        loader=$(readlink -f "$name")
        continue
    fi
    [[ $arrow == "=>" && $path == /* ]] || continue
    cp -L "$path" "$b/lib/$name"
done < <(ldd "$qemu")
[[ -n $loader ]] || die "ldd named no dynamic loader for $qemu"
cp -L "$loader" "$b/lib/ld-linux-x86-64.so.2"

# QEMU loads its display, audio and USB modules from an absolute path when asked;
# none is needed for -nographic -nic none, and without them it falls back quietly.
cat >"$b/bin/qemu-system-aarch64" <<'EOF'
#!/bin/sh
# qemu-system-aarch64 from the bundle: the packed loader and libraries, not the host's.
dir=$(cd "$(dirname "$0")/.." && pwd)
exec "$dir/lib/ld-linux-x86-64.so.2" --library-path "$dir/lib" \
    "$dir/libexec/qemu-system-aarch64" "$@"
EOF
chmod +x "$b/bin/qemu-system-aarch64"
{
    "$qemu" --version | head -1
    echo "packed from $(uname -n) on $(date -u +%Y-%m-%dT%H:%MZ): $(find "$b/lib" -type f | wc -l) files in lib/"
} >"$b/VERSION"

mkdir -p "$(dirname "$out")"
tar -czf "$out.tmp" -C "$stage" qemu-bundle
size=$(stat -c %s "$out.tmp")
((size <= max_bytes)) || die "the archive is $((size >> 20)) MiB, over the $((max_bytes >> 20)) MiB limit"
mv "$out.tmp" "$out"
echo "qemu-bundle.sh: $out ($((size >> 20)) MiB, $(find "$b/lib" -type f | wc -l) files in lib/: libraries and the loader)"
check_bundle "$out"
