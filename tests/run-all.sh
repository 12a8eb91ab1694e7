#!/usr/bin/env bash
# THE test command: runs every test of the repository, in order, and stops at the
# first failure. Installs what it needs on a fresh machine (tools/setup.sh). Sections:
# setup, fmt, clippy (host, aarch64, loom, fuzz targets), host tests, loom, benches
# (built, not run), kernel build, QEMU boots. docs/testing.md says what each covers.
# --exercises adds a last section: the docs' slower exercises (tests/tests/exercises.rs,
# its #[ignore]d tests; a few minutes), which CI leaves out.
set -euo pipefail

exercises=false
for arg in "$@"; do
    case $arg in
        --exercises) exercises=true ;;
        *)
            echo "usage: tests/run-all.sh [--exercises]" >&2
            exit 2
            ;;
    esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# cargo reads a relative CARGO_TARGET_DIR from the caller's directory; keep that meaning.
target_dir=${CARGO_TARGET_DIR:-$root/target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"
export CARGO_TARGET_DIR=$target_dir
cd "$root"
logs=$(mktemp -d)

start=$SECONDS
timings=()
passed=0
current=""

on_exit() {
    local status=$?
    if ((status != 0)) && [[ -n $current ]]; then
        echo
        echo "run-all: FAILED in section '$current' (exit status $status); nothing after it ran."
        ((${#timings[@]})) && printf '%s\n' "${timings[@]}"
        echo "run-all: total time $((SECONDS - start)) s"
    fi
    rm -rf "$logs"
}
trap on_exit EXIT

# section NAME: prints a header; the section lasts until the next one (or `finish`).
section_start=0
section() {
    finish_section
    current=$1
    section_start=$SECONDS
    echo
    echo "==================== $current ===================="
}
finish_section() {
    if [[ -n $current ]]; then
        timings+=("$(printf '%-52s %5d s' "$current" $((SECONDS - section_start)))")
    fi
    current=""
}

# cargo_tests NAME ARGS...: runs `cargo ARGS`, shows its output, and fails if it ran no
# test at all (a filter that matches nothing must not pass for a green run).
cargo_tests() {
    local name=$1
    shift
    local log="$logs/$name.log"
    cargo "$@" 2>&1 | tee "$log"
    local n=0 count
    while read -r count; do
        n=$((n + count))
    done < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed.*/\1/p' "$log")
    if ((n == 0)); then
        echo "run-all: '$name' ran no test (cargo $*)"
        return 1
    fi
    passed=$((passed + n))
    echo "run-all: $name: $n tests passed"
}

section "setup (tools/setup.sh)"
tools/setup.sh

section "cargo fmt --check"
cargo fmt --all --check
# The fuzz crates are workspaces of their own: --all does not reach them.
for fuzz in mm/fuzz platform/fuzz; do
    cargo fmt --manifest-path "$fuzz/Cargo.toml" --check
done

section "clippy, host (every crate, every target)"
cargo clippy --workspace --all-targets -- -D warnings

section "clippy, kernel (aarch64-unknown-none)"
cargo clippy -p kernel --target aarch64-unknown-none -- -D warnings

section "clippy, loom (what the loom tests build, under --cfg loom)"
# The loom section's flags and target dir (--cfg loom changes every crate: its own
# target dir keeps the normal build cache).
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target_dir/loom" \
    cargo clippy --workspace --exclude qemu-tests --release --all-targets -- -D warnings

section "clippy, fuzz targets (mm/fuzz, platform/fuzz)"
# On stable: without their default feature `libfuzzer` the C++ libFuzzer is not built
# (cargo-fuzz, on nightly, builds it).
for fuzz in mm/fuzz platform/fuzz; do
    cargo clippy --manifest-path "$fuzz/Cargo.toml" --all-targets --no-default-features -- -D warnings
done

section "host tests (mm, platform, kernel's portable part)"
cargo_tests host test --workspace --exclude qemu-tests

section "loom tests (mm, kernel)"
# --cfg loom changes every crate: its own target dir keeps the normal build cache.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR="$target_dir/loom" \
    cargo_tests loom test --workspace --exclude qemu-tests --release loom

section "benches build (mm, not run)"
cargo bench --no-run -p mm 2>&1 | tee "$logs/bench.log"
grep -q 'Executable benches/' "$logs/bench.log" || {
    echo "run-all: mm has no benchmark to build"
    exit 1
}

section "kernel build (ELF and Image)"
./qemu-run.sh --build-only

section "QEMU boots (tests/, at most 2 QEMUs at a time)"
cargo_tests qemu test -p qemu-tests

if $exercises; then
    section "exercises, the slow ones (tests/tests/exercises.rs --ignored)"
    export EXERCISES_STRICT=1
    cargo_tests exercises test -p qemu-tests --test exercises -- --ignored
fi

finish_section
echo
echo "==================== summary ===================="
printf '%s\n' "${timings[@]}"
echo "total time $((SECONDS - start)) s"
echo "run-all: $passed passed, 0 failed"
