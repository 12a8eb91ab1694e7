#!/usr/bin/env bash
# Builds the kernel and turns the ELF into the arm64 Linux Image (raw binary, header at
# offset 0) that QEMU `-kernel` and U-Boot `booti` load. Prints the Image's path.
#   kernel/mkimage.sh            -> $CARGO_TARGET_DIR/aarch64-unknown-none/release/Image
# The ELF next to it (`kernel`) keeps the symbols for gdb and backtrace symbolization.
# tools/check-relocs.sh refuses an ELF whose relocations boot/head.s could not apply.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q -p kernel --target aarch64-unknown-none --release
elf="$target_dir/aarch64-unknown-none/release/kernel"
objcopy="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-objcopy"
"$root/tools/check-relocs.sh" "$elf"
"$objcopy" -O binary "$elf" "$(dirname "$elf")/Image"
echo "$(dirname "$elf")/Image"
