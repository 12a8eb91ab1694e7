#!/usr/bin/env bash
# Boots Debian bookworm's arm64 Linux in the same QEMU machine as the kernel, with
# zram (lz4) as its only swap, and runs the kernel bench's workload on it
# (linux/, built as a static aarch64 musl program). Everything comes from Debian's
# packages, fetched once with apt-get download and cached under target/linux-guest/;
# the initramfs is made at each run with cpio. Nothing binary is committed.
#
#   tools/linux-guest.sh [options] [-- linux-bench words: pages=N ops=N seed=N ...]
#     --mem SIZE      guest RAM (default 124M: about 64 MiB free before the workload)
#     --smp N         vCPUs (default 4)
#     --runs N        workload runs in the one boot (default 1)
#     --icount        -icount shift=0,sleep=off: the guest clock counts instructions
#     --min-free-kbytes N  set vm.min_free_kbytes (Linux's watermarks) before the runs
#     --timeout SECS  stop QEMU after SECS (default 600)
#     --prepare       fetch and build what is needed, boot nothing
#     --profile FILE  count guest instructions per block in linux-bench's window
#                     (profile/plugin, kernel booted nokaslr) into FILE, and the
#                     guest's /proc/kallsyms (kernel and modules) into FILE.kallsyms
# Prints the guest's console; each run ends with a line RESULT {json} (linux-bench).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=$root/target/linux-guest
kernel_pkg_glob='linux-image-6.1.0-*-arm64-unsigned'
mem=124M smp=4 runs=1 icount=0 timeout=600 prepare=0 min_free_kbytes= profile=

die() {
    echo "linux-guest.sh: $*" >&2
    exit 2
}
need() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }
while (($#)); do
    case $1 in
    --mem) need "$@"; mem=$2; shift 2 ;;
    --smp) need "$@"; smp=$2; shift 2 ;;
    --runs) need "$@"; runs=$2; shift 2 ;;
    --timeout) need "$@"; timeout=$2; shift 2 ;;
    --icount) icount=1; shift ;;
    --min-free-kbytes) need "$@"; min_free_kbytes=$2; shift 2 ;;
    --prepare) prepare=1; shift ;;
    --profile) need "$@"; profile=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
bench_args=("$@")
[[ $mem =~ ^[1-9][0-9]*[MG]$ ]] || die "--mem wants a size like 120M, not '$mem'"
[[ -z $min_free_kbytes || $min_free_kbytes =~ ^[1-9][0-9]*$ ]] ||
    die "--min-free-kbytes wants a positive number, not '$min_free_kbytes'"
# QEMU splits -plugin's arguments at commas.
[[ $profile != *,* ]] || die "--profile wants a file name without commas, not '$profile'"
for n in smp runs timeout; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "--$n wants a positive number, not '${!n}'"
done
for word in "${bench_args[@]}"; do
    [[ $word =~ ^[a-z_]+=[A-Za-z0-9/_.]+$ ]] || die "'$word' is not a linux-bench key=value word"
done

# --- Debian's packages: the arm64 kernel (zram, zsmalloc, lz4 are modules) and a
# static busybox for the init script. apt-get download needs the arm64 architecture
# added; the .debs are kept, so later runs need no network.
mkdir -p "$cache/debs"
if ! compgen -G "$cache/debs/linux-image-*.deb" >/dev/null || ! compgen -G "$cache/debs/busybox-static_*.deb" >/dev/null; then
    sudo=()
    ((EUID == 0)) || sudo=(sudo -n)
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        "${sudo[@]}" dpkg --add-architecture arm64
    fi
    "${sudo[@]}" apt-get update -qq
    # The newest bookworm 6.1 arm64 kernel the archive offers.
    pkg=$(apt-cache search --names-only "^${kernel_pkg_glob//\*/[0-9]+}\$" | awk '{print $1}' | sort -V | tail -1)
    [[ -n $pkg ]] || die "no $kernel_pkg_glob in the apt sources (is bookworm listed?)"
    (cd "$cache/debs" && apt-get download "$pkg" busybox-static:arm64) ||
        die "apt-get download $pkg busybox-static:arm64 failed"
fi
kernel_deb=$(compgen -G "$cache/debs/linux-image-*.deb" | sort -V | tail -1)
busybox_deb=$(compgen -G "$cache/debs/busybox-static_*.deb" | tail -1)
if [[ ! -d $cache/root/boot || $kernel_deb -nt $cache/root/boot ]]; then
    rm -rf "$cache/root"
    dpkg -x "$kernel_deb" "$cache/root"
    dpkg -x "$busybox_deb" "$cache/root"
    touch "$cache/root/boot"
fi
vmlinuz=$(compgen -G "$cache/root/boot/vmlinuz-*" | head -1)
moddir=$(compgen -G "$cache/root/lib/modules/*" | head -1)
[[ -f $vmlinuz && -d $moddir ]] || die "no kernel or modules in $kernel_deb"
modules=(kernel/mm/zsmalloc.ko kernel/lib/lz4/lz4_compress.ko kernel/crypto/lz4.ko
    kernel/drivers/block/zram/zram.ko)
for m in "${modules[@]}"; do
    [[ -f $moddir/$m ]] || die "$m is not a module of $(basename "$moddir")"
done

# --- The workload: linux/, static for aarch64 Linux (musl, linked by rust-lld).
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$root/rust-toolchain.toml")
rustup target list --installed --toolchain "$channel" | grep -qx aarch64-unknown-linux-musl ||
    rustup target add --toolchain "$channel" aarch64-unknown-linux-musl >&2
(cd "$root" && CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
    cargo build -q --release -p linux-bench --target aarch64-unknown-linux-musl)
bench_bin=$root/target/aarch64-unknown-linux-musl/release/linux-bench
# --- The instruction profiler (profile/plugin), counting in linux-bench's window.
if [[ -n $profile ]]; then
    plugin=$("$root/profile/build-plugin.sh")
    # With nokaslr the kernel's addresses are the same at every boot of this package:
    # one boot that only prints /proc/kallsyms gives memcpy's and memset's ranges,
    # which the plugin charges to their callers.
    symbols_cache=$cache/kallsyms-$(basename "$vmlinuz")
fi
((prepare)) && {
    echo "linux-guest.sh: ready: $(basename "$kernel_deb"), $(basename "$busybox_deb"), $bench_bin"
    exit 0
}

# --- The initramfs, made now: busybox, the four modules, the workload, /init.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/initramfs"/{bin,dev,proc,sys,lib/modules}
cp "$cache/root/bin/busybox" "$stage/initramfs/bin/"
for m in "${modules[@]}"; do cp "$moddir/$m" "$stage/initramfs/lib/modules/"; done
cp "$bench_bin" "$stage/initramfs/bin/linux-bench"
# Profiling: the kernel's and the modules' symbols, from the guest itself (Debian's
# System.map is a placeholder; the real one is in the 800 MB -dbg package), on the
# console between two markers for the host side to pick out.
profile_init=
[[ -n $profile ]] && profile_init='echo 0 > /proc/sys/kernel/kptr_restrict
echo "init: kallsyms begin"
cat /proc/kallsyms
echo "init: kallsyms end"
grep -qw symbols_only /proc/cmdline && poweroff -f'
cat >"$stage/initramfs/init" <<EOF
#!/bin/busybox sh
# Linux's side of the comparison: global reclaim into zram (lz4), swappiness 100,
# 4 KiB pages (THP off), then the bench's workload, $runs time(s).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in zsmalloc lz4_compress lz4 zram; do insmod /lib/modules/\$m.ko || echo "init: insmod \$m failed"; done
$profile_init
for run in \$(seq $runs); do
    echo lz4 > /sys/block/zram0/comp_algorithm
    echo 256M > /sys/block/zram0/disksize
    mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
    echo 100 > /proc/sys/vm/swappiness
    echo never > /sys/kernel/mm/transparent_hugepage/enabled
    # After THP: turning it off puts back Linux's own min_free_kbytes.
    ${min_free_kbytes:+echo $min_free_kbytes > /proc/sys/vm/min_free_kbytes}
    echo "init: run \$run: \$(uname -r), \$(grep -c ^processor /proc/cpuinfo) CPUs, \$(grep MemFree /proc/meminfo), zram \$(cat /sys/block/zram0/comp_algorithm)"
    echo "init: watermarks (pages): \$(awk '/^Node/ { z = \$4 } /^ +min / { mn = \$2 } /^ +low / { lo = \$2 } /^ +high / { hi = \$2 } /^ +managed / && \$2 > 0 { printf "%s managed %s min %s low %s high %s; ", z, \$2, mn, lo, hi }' /proc/zoneinfo)"
    /bin/linux-bench ${bench_args[*]}
    echo "init: linux-bench exited \$?"
    swapoff /dev/zram0
    echo 1 > /sys/block/zram0/reset
done
poweroff -f
EOF
chmod +x "$stage/initramfs/init"
(cd "$stage/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$stage/initramfs.cpio.gz"

qemu=(qemu-system-aarch64 -machine "virt,gic-version=3" -cpu cortex-a53 -smp "$smp" -m "$mem"
    -nographic -nic none -no-reboot -kernel "$vmlinuz" -initrd "$stage/initramfs.cpio.gz")
append="console=ttyAMA0 panic=-1 quiet loglevel=3"
# boot_qemu KALLSYMS_OUT ARGS...: QEMU with the console on stdout, but for the symbols
# between the init's markers (some 50,000 lines), which go to KALLSYMS_OUT without the
# \r the serial console ends lines with. Returns QEMU's status.
boot_qemu() {
    local out=$1
    shift
    : >"$out" || die "cannot write $out"
    timeout --foreground -k 5 "$timeout" "${qemu[@]}" "$@" </dev/null |
        out=$out awk '
            /^init: kallsyms end/ { f = 0 }
            f {
                line = $0
                sub(/\r$/, "", line)
                if (line ~ /^[0-9a-f]+ [A-Za-z] [^ \t]+(\t\[[^ ]+\])?$/) { print line >ENVIRON["out"]; next }
            }
            { print; fflush() }
            /^init: kallsyms begin/ { f = 1 }'
    return "${PIPESTATUS[0]}"
}
((icount)) && qemu+=(-icount "shift=0,sleep=off")
set +e
if [[ -n $profile ]]; then
    if [[ ! -s $symbols_cache ]]; then
        boot_qemu "$symbols_cache.tmp" -append "$append nokaslr symbols_only" >/dev/null &&
            [[ -s $symbols_cache.tmp ]] || die "the symbols boot printed no /proc/kallsyms"
        mv "$symbols_cache.tmp" "$symbols_cache"
    fi
    leaves=$("$(dirname "$plugin")/insn-profile" leaves --kallsyms "$symbols_cache") ||
        die "no memcpy/memset in $symbols_cache"
    boot_qemu "$profile.kallsyms" -append "$append nokaslr" \
        -plugin "$plugin,out=$profile,window=marked${leaves:+,$leaves}"
    status=$?
else
    timeout --foreground -k 5 "$timeout" "${qemu[@]}" -append "$append" </dev/null
    status=$?
fi
set -e
((status == 124)) && echo "linux-guest.sh: timed out after $timeout s" >&2
[[ -n $profile ]] &&
    echo "linux-guest.sh: profile in $profile, symbols in $profile.kallsyms ($(wc -l <"$profile.kallsyms") lines)" >&2
exit "$status"
