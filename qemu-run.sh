#!/usr/bin/env bash
# Builds the kernel and boots it under qemu-system-aarch64 -machine virt, directly or
# through U-Boot, and exits with the kernel's exit status (semihosting). The console is
# on stdin/stdout; panic backtrace lines are symbolized from the kernel ELF.
# ./qemu-run.sh --help for the options.
set -euo pipefail

# The headline demo: what `./qemu-run.sh` with no kernel command line runs.
DEFAULT_CMDLINE="scenario=bench"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
uboot_bin=/usr/lib/u-boot/qemu_arm64/u-boot.bin
# Where U-Boot for QEMU expects the kernel (`printenv kernel_addr_r` in its default
# environment); booti runs the relocatable Image there (--load-addr changes it).
uboot_kernel_addr_r=0x40400000

usage() {
    cat <<EOF
usage: ./qemu-run.sh [options] [-- kernel command line]

Builds the kernel (cargo, release, aarch64-unknown-none), boots it under
qemu-system-aarch64 -machine virt and exits with the kernel's exit status.
Without a kernel command line it runs the headline demo: $DEFAULT_CMDLINE.
exit=semihosting is appended unless the command line has an exit= of its own.

options:
  --smp N         number of CPUs (default 4)
  --mem SIZE      RAM, QEMU syntax: 128M, 2G, 5G... (default 512M)
  --cpu MODEL     QEMU CPU model: cortex-a53, cortex-a72, cortex-a76, max... (default cortex-a53)
  --gic 2|3       GIC version (default 3; GICv2 allows at most 8 CPUs)
  --el2           enter the kernel at EL2 (virtualization=on; PSCI over SMC)
  --uart pl011|16550
                  the console UART (default pl011, virt's own): 16550 adds QEMU's PCI
                  16550 (-device pci-serial) on stdin/stdout and console=ttyS0 to the
                  command line (unless it has a console= or earlycon= of its own); the
                  PL011 then writes to a file, shown on stderr when QEMU ends
  --uboot         boot the Image through Debian's U-Boot with booti, as on a board
  --load-addr ADDR
                  with --uboot: U-Boot's kernel_addr_r, where booti runs the Image
                  (default 0x40400000; a 2 MiB-aligned address + the Image's text_offset,
                  inside RAM 0x40000000 + --mem), e.g. 0x45000000 as on MediaTek Genio
  --fit           boot through U-Boot's bootm a FIT (tools/mkboot.sh fit) of the Image
                  and this machine's DTB, its configuration chosen by name
  --elf           boot the ELF instead of the Image (no DTB pointer in x0)
  --gdb           wait for a debugger on localhost:1234 (QEMU -s -S)
  --timeout SECS  stop QEMU after SECS seconds and exit 124 (default: none)
  --pidfile FILE  QEMU writes its process id there (for tools that sample its load)
  --icount        -icount shift=0,sleep=off: vCPUs run in turn and the guest clock counts
                  instructions (1 ns each), a cost measure free of host load
  --profile FILE  count the guest instructions of every vCPU per translated block inside
                  the windows the kernel marks (each bench run's), with the project's
                  TCG plugin (profile/plugin), into FILE; profile/report attributes them
                  (docs/perf.md); --profile-all counts the whole boot as one window
  --no-build      do not run cargo; boot what was built last
  --image FILE    boot this prebuilt Image: nothing is built or installed (another host)
  --qemu BIN      the qemu-system-aarch64 to run (default: the one on PATH), e.g. the
                  one tools/qemu-bundle.sh packs
  --build-only    build the ELF and the Image, print their paths, do not boot
  -h, --help      this text

The console is QEMU's serial port on stdin/stdout (-nographic): Ctrl-A x quits QEMU,
Ctrl-A h lists the other keys. Examples:
  ./qemu-run.sh --smp 8 --mem 2G -- scenario=boot
  ./qemu-run.sh --uboot --el2 -- scenario=protect
  ./qemu-run.sh --fit -- scenario=boot
  ./qemu-run.sh --uart 16550 -- scenario=boot
EOF
}

die() {
    echo "qemu-run.sh: $*" >&2
    exit 2
}

smp=4 mem=512M cpu=cortex-a53 gic=3 el2=0 uboot=0 fit=0 elf=0 gdb=0 timeout=0 build=1 build_only=0
load_addr='' image='' qemu_bin=qemu-system-aarch64 pidfile='' icount=0 uart=pl011
profile='' profile_window=marked
need_value() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }
while (($#)); do
    case $1 in
    --smp) need_value "$@"; smp=$2; shift 2 ;;
    --mem) need_value "$@"; mem=$2; shift 2 ;;
    --cpu) need_value "$@"; cpu=$2; shift 2 ;;
    --gic) need_value "$@"; gic=$2; shift 2 ;;
    --timeout) need_value "$@"; timeout=$2; shift 2 ;;
    --uart) need_value "$@"; uart=$2; shift 2 ;;
    --el2) el2=1; shift ;;
    --uboot) uboot=1; shift ;;
    --load-addr) need_value "$@"; load_addr=$2; shift 2 ;;
    --fit) uboot=1 fit=1; shift ;;
    --elf) elf=1; shift ;;
    --gdb) gdb=1; shift ;;
    --no-build) build=0; shift ;;
    --image) need_value "$@"; image=$2; build=0; shift 2 ;;
    --qemu) need_value "$@"; qemu_bin=$2; shift 2 ;;
    --pidfile) need_value "$@"; pidfile=$2; shift 2 ;;
    --icount) icount=1; shift ;;
    --profile) need_value "$@"; profile=$2; shift 2 ;;
    --profile-all) need_value "$@"; profile=$2 profile_window=all; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
kernel_args=("$@")

[[ $smp =~ ^[1-9][0-9]*$ ]] || die "--smp wants a positive number, not '$smp'"
[[ $gic == 2 || $gic == 3 ]] || die "--gic wants 2 or 3, not '$gic'"
[[ $gic == 3 || $smp -le 8 ]] || die "GICv2 supports at most 8 CPUs (--smp $smp)"
[[ $mem =~ ^[1-9][0-9]*[MG]?$ ]] || die "--mem wants a size like 512M or 2G, not '$mem'"
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout wants seconds, not '$timeout'"
[[ $uart == pl011 || $uart == 16550 ]] || die "--uart wants pl011 or 16550, not '$uart'"
((uboot && elf)) && die "--uboot and --fit boot the Image; they cannot be combined with --elf"
[[ -z $load_addr ]] || ((uboot)) || die "--load-addr is where U-Boot loads the Image: it needs --uboot"
[[ -z $image ]] || ((!elf && !build_only && !gdb)) || die "--image boots a prebuilt Image only (no --elf, --build-only or --gdb)"
[[ -z $image || -f $image ]] || die "--image: no file '$image'"

# A prebuilt Image needs nothing installed here but QEMU (another host, a bundle).
if [[ -z $image ]]; then
    "$root/tools/setup.sh" --quiet
fi
command -v "$qemu_bin" >/dev/null || die "no QEMU '$qemu_bin': run tools/setup.sh, or give --qemu"

# The kernel command line: the user's words, or the headline demo; exit through
# semihosting so QEMU's exit status is the kernel's.
((${#kernel_args[@]})) || read -ra kernel_args <<<"$DEFAULT_CMDLINE"
cmdline="${kernel_args[*]}"
[[ " $cmdline" == *" exit="* ]] || cmdline+=" exit=semihosting"
# The 16550 behind PCI is the console only if the kernel is asked (Linux's ttyS0).
if [[ $uart == 16550 && " $cmdline" != *" console="* && " $cmdline" != *" earlycon="* ]]; then
    cmdline+=" console=ttyS0"
fi
# A bad exit= would make the kernel refuse its command line and power off through
# PSCI, which QEMU reports as status 0: refuse it here, where the status still counts.
for word in $cmdline; do
    case $word in
    exit=semihosting | exit=psci | exit=reset) ;;
    exit=*) die "'$word': the kernel exits with exit=semihosting|psci|reset" ;;
    esac
done


# --- Build: the ELF (cargo) and the arm64 Image next to it (kernel/mkimage.sh).
target_dir=${CARGO_TARGET_DIR:-$root/target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"
out="$target_dir/aarch64-unknown-none/release"
elf_path="$out/kernel"
image_path=${image:-$out/Image}
if ((build || build_only)); then
    [[ -f $elf_path ]] || echo "qemu-run.sh: building the kernel (the first build takes a few minutes)" >&2
    CARGO_TARGET_DIR="$target_dir" "$root/kernel/mkimage.sh" >/dev/null
fi
[[ -f $image_path && (-n $image || -f $elf_path) ]] || die "no kernel in $out: run ./qemu-run.sh --build-only"
if ((build_only)); then
    echo "$elf_path"
    echo "$image_path"
    exit 0
fi

# Busy vCPUs of the layout the command line picks (the reporting CPU 0 sleeps in WFI):
# the bench keeps kswapd, its largest kcompressd variant and its workloads busy; the
# reclaim scenarios every CPU. QEMU runs a host thread per vCPU: with fewer host cores
# than busy vCPUs they share cores, and async cannot add reclaim throughput.
busy_vcpus() {
    local word scenario=bench kcompressd=2 workloads='' counts=''
    for word in $cmdline; do
        case $word in
        scenario=*) scenario=${word#*=} ;;
        kcompressd_cpu=*) kcompressd=${word#*=} ;;
        workload_cpu=*) workloads=${word#*=} ;;
        bench_workers=*) counts=${word#*=} ;;
        esac
    done
    local n_listed n_workloads=1 most=0 c
    n_listed=$(tr ',' '\n' <<<"$kcompressd" | grep -c .)
    [[ -z $workloads ]] || n_workloads=$(tr ',' '\n' <<<"$workloads" | grep -c .)
    if [[ -n $counts ]]; then
        for c in ${counts//,/ }; do
            # A count the kernel will refuse counts for nothing here (bash would read
            # a word as a variable and 08 as octal).
            [[ $c =~ ^[0-9]{1,9}$ ]] && ((10#$c > most)) && most=$((10#$c))
        done
    else
        most=$n_listed
    fi
    case $scenario in
    bench) echo $((1 + most + n_workloads)) ;;
    reclaim | race | oom | soak) echo "$smp" ;;
    *) echo 0 ;;
    esac
}
host_cores=$(nproc 2>/dev/null || echo 0)
busy=$(busy_vcpus)
if ((busy > host_cores && host_cores > 0)); then
    echo "qemu-run.sh: note: $busy busy vCPUs on $host_cores host cores: they share cores (one host thread each), so here kcompressd moves work off the workload but cannot add reclaim throughput (docs/results.md)" >&2
fi

# --load-addr: booting.rst's rule for an Image with flags bit 3 (a 2 MiB-aligned base
# + text_offset), and the whole image_size inside virt's RAM (0x40000000 + --mem).
# Prints the address for U-Boot.
check_load_addr() {
    local addr=$1 text_offset image_size ram_end
    [[ $addr =~ ^0x[0-9a-fA-F]{1,16}$ ]] || die "--load-addr wants a hex address like 0x45000000, not '$addr'"
    read -r text_offset image_size < <(od -An -t u8 -j 8 -N 16 "$image_path")
    ram_end=$mem
    [[ $mem =~ [MG]$ ]] || ram_end+=M    # QEMU's -m counts MiB without a suffix
    ram_end=$((0x40000000 + $(numfmt --from=iec "$ram_end")))
    ((((addr - text_offset) & 0x1fffff) == 0)) ||
        die "--load-addr $addr is not a 2 MiB-aligned address + text_offset $(printf '%#x' "$text_offset")"
    ((addr >= 0x40000000 && addr + image_size <= ram_end)) ||
        die "--load-addr $addr: the Image ($image_size bytes) does not fit in RAM [0x40000000, $(printf '%#x' "$ram_end")) (--mem $mem)"
    echo "$addr"
}

# --- Machine.
machine="virt,gic-version=$gic"
((el2)) && machine+=",virtualization=on"
# -no-reboot: a guest reset (exit=reset, PSCI SYSTEM_RESET) ends QEMU instead of
# booting the kernel again in a loop.
qemu=("$qemu_bin" -machine "$machine" -cpu "$cpu" -smp "$smp" -m "$mem"
    -nographic -nic none -semihosting -no-reboot)
[[ -z $pidfile ]] || qemu+=(-pidfile "$pidfile")
((icount)) && qemu+=(-icount "shift=0,sleep=off")
if [[ -n $profile ]]; then
    [[ $profile != *,* ]] || die "--profile: the file name cannot contain a comma (QEMU's -plugin syntax)"
    [[ -z $image ]] || die "--profile names addresses from the kernel's ELF: boot a kernel built here, not --image"
    # memcpy, memset and their kin are counted per caller (profile/plugin).
    plugin=$("$root/profile/build-plugin.sh") || die "could not build the profiler"
    leaves=$("$(dirname "$plugin")/insn-profile" leaves --elf "$elf_path") || die "could not read the kernel's symbols"
    qemu+=(-plugin "$plugin,out=$profile,window=$profile_window${leaves:+,$leaves}")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ $uart == 16550 ]]; then
    # stdin/stdout (and QEMU's monitor, Ctrl-A c) go to the PCI 16550; the PL011 writes
    # to a file, so what reaches stdout came through the 16550.
    qemu+=(-chardev "stdio,id=console,mux=on" -mon "chardev=console,mode=readline"
        -device "pci-serial,chardev=console" -serial "file:$tmp/pl011.log")
fi
# This machine's DTB as QEMU builds it, packed by dtc (QEMU's own is 1 MiB of padding).
dump_dtb() {
    "$qemu_bin" -machine "$machine,dumpdtb=$tmp/virt.dtb" -cpu "$cpu" -smp "$smp" \
        -m "$mem" -nic none -display none -serial none -monitor none </dev/null 2>/dev/null ||
        die "QEMU could not dump the machine's DTB"
    dtc -q -I dtb -O dtb -o "$1" "$tmp/virt.dtb"
}
if ((uboot)); then
    [[ $cmdline != *$'\n'* ]] || die "the kernel command line cannot contain a newline"
    [[ -z $load_addr ]] || uboot_kernel_addr_r=$(check_load_addr "$load_addr")
    # U-Boot reads its environment from the second flash bank (0x4000000, 256 KiB,
    # CRC32 first). Giving it one with bootcmd and bootdelay=-2 (boot at once, do not
    # look at the keyboard) boots without racing its autoboot countdown, and leaves
    # stdin for the kernel. QEMU's generic loader puts the Image at kernel_addr_r;
    # U-Boot's fdtcontroladdr is QEMU's DTB; booti writes bootargs into its /chosen.
    # With --fit the loader puts the FIT there instead, and bootm takes the kernel and
    # the DTB from its configuration "qemu-virt" (this machine's DTB, dumped).
    env_size=$((0x40000))
    # shellcheck disable=SC2016 # ${...} is for U-Boot to expand, not bash
    bootcmd='booti ${kernel_addr_r} - ${fdtcontroladdr}'
    if ((fit)); then
        # The FIT away from where bootm copies the kernel (its load address, 0x40200000,
        # and the Image's whole footprint above it).
        [[ -n $load_addr ]] || uboot_kernel_addr_r=0x42000000
        dump_dtb "$tmp/qemu-virt.dtb"
        "$root/tools/mkboot.sh" fit --image "$image_path" --dtb "$tmp/qemu-virt.dtb" \
            --out "$tmp/Image.itb" >/dev/null
        image_path=$tmp/Image.itb
        # shellcheck disable=SC2016 # ${...} is for U-Boot to expand, not bash
        bootcmd='bootm ${kernel_addr_r}#qemu-virt'
    fi
    printf '%s\0' \
        "bootdelay=-2" \
        "kernel_addr_r=$uboot_kernel_addr_r" \
        "bootargs=$cmdline" \
        "bootcmd=$bootcmd" >"$tmp/env.data"
    truncate -s $((env_size - 4)) "$tmp/env.data"
    # gzip's trailer starts with the CRC32 of its input, little-endian as U-Boot wants.
    gzip -c "$tmp/env.data" | tail -c 8 | head -c 4 >"$tmp/flash1.img"
    cat "$tmp/env.data" >>"$tmp/flash1.img"
    truncate -s 64M "$tmp/flash1.img"
    qemu+=(-bios "$uboot_bin"
        -drive "if=pflash,unit=1,format=raw,readonly=on,file=$tmp/flash1.img"
        -device "loader,file=$image_path,addr=$uboot_kernel_addr_r,force-raw=on")
elif ((elf)); then
    # For an ELF QEMU passes no DTB pointer; it puts the DTB at the start of RAM only if
    # it fits below the kernel (512 KiB), and its own DTB is 1 MiB, mostly padding (it
    # then silently loads none). Hand it the same machine's DTB, packed by dtc: QEMU
    # adds /chosen/bootargs and places it at the start of RAM, where the kernel looks.
    dump_dtb "$tmp/packed.dtb"
    qemu+=(-kernel "$elf_path" -dtb "$tmp/packed.dtb" -append "$cmdline")
else
    qemu+=(-kernel "$image_path" -append "$cmdline")
fi
if ((gdb)); then
    qemu+=(-s -S)
    cat >&2 <<EOF
qemu-run.sh: QEMU waits for a debugger on localhost:1234. Attach with
(Debian packages gdb-multiarch or lldb; the ELF's symbols fit the Image too):
  gdb-multiarch $elf_path -ex 'target remote localhost:1234'
  lldb $elf_path -o 'gdb-remote localhost:1234'
EOF
fi
if ((timeout)); then
    qemu=(timeout --foreground -k 5 "$timeout" "${qemu[@]}")
fi


# Piped input: QEMU hands the PL011 its first byte before the kernel runs, and the
# kernel turning the UART's FIFO on drops it; lead with a newline (an empty line for
# scenario=shell), so what is piped arrives whole.
[[ -t 0 ]] || exec < <(printf '\n' && cat)
set +e
if [[ -n $image ]]; then
    # No ELF beside a prebuilt Image: backtraces stay addresses.
    "${qemu[@]}"
    status=$?
else
    host=$(rustc -vV | sed -n 's/^host: //p')
    symbolizer="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-symbolizer"
    [[ -x $symbolizer ]] || symbolizer=$(command -v llvm-symbolizer)
    "${qemu[@]}" | perl "$root/tools/symbolize-backtrace.pl" "$symbolizer" "$elf_path"
    status=${PIPESTATUS[0]}
fi
set -e
if [[ -s $tmp/pl011.log ]]; then
    echo "qemu-run.sh: the PL011 (not the console) said:" >&2
    sed 's/^/  pl011| /' "$tmp/pl011.log" >&2
fi
((status == 124 && timeout)) && echo "qemu-run.sh: timed out after $timeout s" >&2
exit "$status"
