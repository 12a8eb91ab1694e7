#!/usr/bin/env bash
# Installs what building, booting and testing the kernel needs, and nothing else:
# the pinned Rust toolchain with the aarch64-unknown-none and aarch64-unknown-linux-musl
# targets and the llvm-tools, clippy and rustfmt components; QEMU, Debian's U-Boot for
# QEMU, dtc, llvm-symbolizer and cpio; the boot artifacts' tools (tools/mkboot.sh: mkimage,
# mkbootimg, futility and vboot's developer keys). (The Linux guest's Debian packages are fetched by
# tools/linux-guest.sh itself, into target/.) Idempotent and quick (a few checks) when everything is present.
# Called by ./qemu-run.sh and tests/run-all.sh; run it by hand on a fresh machine too.
# With --quiet it prints only what it changes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quiet=0
[[ ${1:-} == --quiet ]] && quiet=1

say() { echo "setup: $*" >&2; }
fail() {
    say "error: $*"
    exit 1
}

# --- Rust: the channel pinned in rust-toolchain.toml (RUSTUP_AUTO_INSTALL=0 may be set,
# so nothing is installed behind our back: ask for every piece explicitly).
command -v rustup >/dev/null || fail "rustup not found: install it from your distribution or rustup.rs, then rerun"
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$root/rust-toolchain.toml")
[[ -n $channel ]] || fail "no channel in $root/rust-toolchain.toml"

if ! rustup toolchain list | grep -q "^$channel-"; then
    say "installing Rust $channel"
    rustup toolchain install "$channel" --profile minimal
fi
# aarch64-unknown-none for the kernel; aarch64-unknown-linux-musl for the Linux guest's
# workload (linux/, linked statically by rust-lld: no cross toolchain needed).
installed_targets=$(rustup target list --installed --toolchain "$channel")
for target in aarch64-unknown-none aarch64-unknown-linux-musl; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
        say "adding target $target"
        rustup target add --toolchain "$channel" "$target"
    fi
done
installed_components=$(rustup component list --installed --toolchain "$channel")
for component in llvm-tools clippy rustfmt; do
    if ! grep -q "^$component" <<<"$installed_components"; then
        say "adding component $component"
        rustup component add --toolchain "$channel" "$component"
    fi
done

# --- Debian packages: QEMU (qemu-system-aarch64 comes in qemu-system-arm), U-Boot built
# for QEMU's virt board, dtc for inspecting DTBs, llvm-symbolizer for panic backtraces
# (rustup's llvm-tools does not ship it; Debian's llvm does).
uboot_bin=/usr/lib/u-boot/qemu_arm64/u-boot.bin
missing=()
command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm)
[[ -f $uboot_bin ]] || missing+=(u-boot-qemu)
command -v dtc >/dev/null || missing+=(device-tree-compiler)
# cpio packs the Linux guest's initramfs (tools/linux-guest.sh).
command -v cpio >/dev/null || missing+=(cpio)
# tools/mkboot.sh: mkimage and dumpimage (FIT), mkbootimg and unpack_bootimg (Android),
# futility (ChromeOS kernel partition) and the developer keys it signs with.
devkeys=/usr/share/vboot/devkeys
command -v mkimage >/dev/null || missing+=(u-boot-tools)
command -v mkbootimg >/dev/null || missing+=(mkbootimg)
command -v futility >/dev/null || missing+=(vboot-kernel-utils)
[[ -f $devkeys/kernel.keyblock ]] || missing+=(vboot-utils)
host=$(rustc +"$channel" -vV | sed -n 's/^host: //p')
sysroot_bin="$(rustc +"$channel" --print sysroot)/lib/rustlib/$host/bin"
if [[ ! -x $sysroot_bin/llvm-symbolizer ]] && ! command -v llvm-symbolizer >/dev/null; then
    missing+=(llvm)
fi

if ((${#missing[@]})); then
    sudo=()
    if ((EUID != 0)); then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            fail "missing Debian packages and no root rights to install them; run:
    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
        fi
    fi
    command -v apt-get >/dev/null || fail "no apt-get here; install the equivalents of: ${missing[*]}"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { "${sudo[@]}" apt-get update -q && "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; }; then
        fail "could not install; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    fi
fi

# Re-check: the packages must really provide what we use.
command -v qemu-system-aarch64 >/dev/null || fail "qemu-system-aarch64 still missing (Debian package qemu-system-arm)"
[[ -f $uboot_bin ]] || fail "$uboot_bin still missing (Debian package u-boot-qemu)"
command -v dtc >/dev/null || fail "dtc still missing (Debian package device-tree-compiler)"
[[ -x $sysroot_bin/llvm-objcopy ]] || fail "llvm-objcopy missing from $sysroot_bin (rustup component llvm-tools)"
if [[ ! -x $sysroot_bin/llvm-symbolizer ]] && ! command -v llvm-symbolizer >/dev/null; then
    fail "llvm-symbolizer still missing (Debian package llvm)"
fi
command -v mkimage >/dev/null || fail "mkimage still missing (Debian package u-boot-tools)"
command -v mkbootimg >/dev/null || fail "mkbootimg still missing (Debian package mkbootimg)"
command -v futility >/dev/null || fail "futility still missing (Debian package vboot-kernel-utils)"
[[ -f $devkeys/kernel.keyblock ]] || fail "$devkeys still missing (Debian package vboot-utils)"
((quiet)) || say "ok: Rust $channel (aarch64-unknown-none, aarch64-unknown-linux-musl, llvm-tools, clippy, rustfmt), $(qemu-system-aarch64 --version | head -1), U-Boot, dtc, llvm-symbolizer, cpio, mkimage, mkbootimg, futility and vboot's devkeys"
