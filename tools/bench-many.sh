#!/usr/bin/env bash
# The headline benchmark where the host has cores to spare: picks a layout that gives
# every busy vCPU (kswapd, the kcompressd workers, the workloads) a host core of its
# own, boots a prebuilt Image once with scenario=bench comparing sync with async at
# 1, 2 and 4 workers (runs alternate: sync, 1w, 2w, 4w, sync, ...), and prints one
# table with the host's load during every run and a RESULT line. Nothing is compiled
# on the host that runs it: it needs bash, awk and QEMU (or tools/qemu-bundle.sh's).
#
#   tools/bench-many.sh [options] [-- more kernel command-line words]
#     --host-cores N   lay out for N host cores (default: nproc)
#     --image FILE     the kernel Image (default: build it here with ./qemu-run.sh)
#     --qemu BIN       qemu-system-aarch64 to run (default: the one on PATH)
#     --bundle FILE    unpack a tools/qemu-bundle.sh archive and run its QEMU
#     --runs N         rounds of runs (default 3: medians of 3)
#     --budget SECS    wall-clock budget for the boot (default 480); rounds that would
#                      not fit are not started, and QEMU is stopped at the budget
#     --ram MIB        RAM the bench leaves to reclaim (bench_ram=, default 64)
#     --log FILE       keep the kernel's whole output there
#     --dry-run        print the layout and the command, run nothing
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/result-json.sh
source "$root/tools/result-json.sh"
host_cores=$(nproc)
image='' qemu=qemu-system-aarch64 bundle='' runs=3 budget=480 ram=64 log='' dry=0

die() {
    echo "bench-many.sh: $*" >&2
    exit 2
}
need() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }
while (($#)); do
    case $1 in
    --host-cores) need "$@"; host_cores=$2; shift 2 ;;
    --image) need "$@"; image=$2; shift 2 ;;
    --qemu) need "$@"; qemu=$2; shift 2 ;;
    --bundle) need "$@"; bundle=$2; shift 2 ;;
    --runs) need "$@"; runs=$2; shift 2 ;;
    --budget) need "$@"; budget=$2; shift 2 ;;
    --ram) need "$@"; ram=$2; shift 2 ;;
    --log) need "$@"; log=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
extra=("$@")
for n in host_cores runs budget ram; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "--${n//_/-} wants a positive number, not '${!n}'"
done
((budget >= 60)) || die "--budget $budget: a boot needs at least 60 s"

# --- Layout: CPU 0 reports (asleep in WFI between progress lines), kswapd on CPU 1,
# up to 4 kcompressd workers, then up to 3 workloads, each busy vCPU on a host core;
# above 4 host cores one is left for QEMU's I/O thread and the host itself.
cores=$host_cores
((cores > 4)) && cores=$((cores - 1))
workloads=$(((cores - 2) / 2))
((workloads > 3)) && workloads=3
((workloads < 1)) && workloads=1
max_workers=$((cores - workloads - 1))
((max_workers > 4)) && max_workers=4
((max_workers < 1)) && max_workers=1
counts=()
for c in 1 2 4; do ((c <= max_workers)) && counts+=("$c"); done
most=${counts[-1]}
smp=$((2 + most + workloads))
busy=$((1 + most + workloads))
worker_cpus=$(seq -s, 2 $((1 + most)))
workload_cpus=$(seq -s, $((2 + most)) $((1 + most + workloads)))
count_list=$(
    IFS=,
    echo "${counts[*]}"
)
kernel_budget=$((budget - 30))
cmdline=(scenario=bench kswapd_cpu=1 "kcompressd_cpu=$worker_cpus" "workload_cpu=$workload_cpus"
    "bench_workers=$count_list" "bench_runs=$runs" "bench_ram=$ram"
    "bench_budget_s=$kernel_budget" "${extra[@]}")
layout="--smp $smp: cpu0 reports, kswapd cpu1, kcompressd cpu$worker_cpus, workloads cpu$workload_cpus; $busy busy vCPUs for $host_cores host cores"
echo "bench-many.sh: layout for $host_cores host cores: $layout"
((busy <= host_cores)) ||
    echo "bench-many.sh: warning: $busy busy vCPUs on $host_cores host cores: vCPUs share cores, so async cannot add reclaim throughput here"

if [[ -n $bundle ]]; then
    [[ -f $bundle ]] || die "--bundle: no file '$bundle'"
    unpacked=$(mktemp -d)
    trap 'rm -rf "$unpacked"' EXIT
    tar -xzf "$bundle" -C "$unpacked"
    qemu=$unpacked/qemu-bundle/bin/qemu-system-aarch64
fi
if [[ -z $image ]]; then
    ((dry)) && image="(built by ./qemu-run.sh --build-only)" ||
        image=$("$root/qemu-run.sh" --build-only | tail -1)
fi
pidfile=${TMPDIR:-/tmp}/bench-many.$$.pid
run=("$root/qemu-run.sh" --qemu "$qemu" --image "$image" --smp "$smp" --timeout "$budget"
    --pidfile "$pidfile" -- "${cmdline[@]}")
if ((dry)); then
    echo "bench-many.sh: would run: ${run[*]}"
    exit 0
fi
[[ -f $image ]] || die "--image: no file '$image'"
qemu_version=$("$qemu" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')
[[ -n $qemu_version ]] || die "'$qemu' does not run"

# --- Host load: QEMU's own CPU time (all its threads) and the whole host's busy time
# (/proc/stat; n/a where it does not move, as under some sandboxes), per run.
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
now() { echo "${EPOCHREALTIME:-$(date +%s.%N)}"; }
host_ticks() { awk '/^cpu /{ b = $2 + $3 + $4 + $7 + $8 + $9; printf "%d %d\n", b, b + $5 + $6; exit }' /proc/stat; }
qemu_ticks() { [[ -n $1 && -r /proc/$1/stat ]] && sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }' || echo 0; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$pidfile" ${unpacked:+"$unpacked"}' EXIT
log=${log:-$tmp/kernel.log}
hostlog=$tmp/host.txt
: >"$hostlog"
echo "bench-many.sh: host $(uname -m), nproc $(nproc), QEMU $qemu_version, budget $budget s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench-many.sh: ${run[*]}"
started=$(now)
set +e
"${run[@]}" 2>&1 | {
    pid='' t0=$(now) q0=0 b0=0 a0=0
    while IFS= read -r line; do
        line=${line%$'\r'}
        printf '%s\n' "$line" >>"$log"
        [[ -n $pid || ! -s $pidfile ]] || pid=$(<"$pidfile")
        case $line in
        "bench: "*" run "*" started")
            # The run's window opens: the same window as the guest's busy vCPUs.
            t0=$(now) q0=$(qemu_ticks "$pid")
            read -r b0 a0 < <(host_ticks)
            echo "$line"
            ;;
        "bench: "*" run "*" vcpus busy "*)
            # The window closes: what the guest asked for (vCPUs outside WFI), what
            # QEMU and the host used, and the guest's TLB shootdowns per second.
            t1=$(now) q1=$(qemu_ticks "$pid")
            read -r b1 a1 < <(host_ticks)
            guest=$(sed -n 's/.* vcpus busy \([0-9.]*\) of .*/\1/p' <<<"$line")
            flushes=$(sed -n 's/.*nr_tlb_remote_flush [0-9]* (\([0-9]*\)\/s).*/\1/p' <<<"$line")
            read -r _ m _ r _ <<<"$line"
            awk -v m="$m" -v r="$r" -v dt="$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')" \
                -v dq=$((q1 - q0)) -v db=$((b1 - b0)) -v da=$((a1 - a0)) -v hz="$clk_tck" \
                -v n="$(nproc)" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
                -v g="${guest:-n/a}" -v f="${flushes:-n/a}" 'BEGIN {
                    q = dt > 0 ? sprintf("%.2f", dq / hz / dt) : "n/a"
                    h = da > 0 ? sprintf("%.2f", n * db / da) : "n/a"
                    printf "%s %s %.1f %s %s %s %s %s\n", m, r, dt, g, q, h, l, f }' >>"$hostlog"
            echo "$line"
            ;;
        "bench: PROGRESS"*) ;;
        *) echo "$line" ;;
        esac
    done
}
status=${PIPESTATUS[0]}
set -e
wall=$(awk -v a="$started" -v b="$(now)" 'BEGIN{printf "%.0f", b - a}')

result=$(grep -a '^RESULT {"scenario":"bench"' "$log" | tail -1)
pipeline=$(grep -a '^PIPELINE ' "$log" | tail -1)
pipeline=${pipeline#PIPELINE }
[[ -n $result ]] || die "no RESULT from the kernel (QEMU status $status after $wall s; log: $log)"
done_runs=$(sed -n 's/.*"runs":\([0-9]*\).*/\1/p' <<<"$result")

label() { (($1 == 1)) && echo async || echo "async_$1w"; }
sync=$(object "$result" sync)
declare -A async
for c in "${counts[@]}"; do async[$c]=$(object "$result" "$(label "$c")"); done

# --- The table: medians from the kernel, async/sync ratios, n/a where sync is 0.
rows=(
    "pgsteal_anon/s pgsteal_anon_per_s 1"
    "pgsteal_kswapd/s pgsteal_kswapd_per_s 1"
    "pgsteal_direct pgsteal_direct 1"
    "allocstall allocstall 1"
    "fault_p99_us alloc_p99_ns 0.001"
    "fault_p50_us alloc_p50_ns 0.001"
    "accesses/s ops_per_s 1"
    "kswapd_busy_% kswapd_busy_pct 1"
    "kcompressd_busy_% kcompressd_busy_pct 1"
    "kswapd_ns/page kswapd_ns_per_page 1"
    "kcompressd_ns/page kcompressd_ns_per_page 1"
    "ring_full kcompressd_ring_full 1"
    "elapsed_ms elapsed_ms 1"
    "corrupt_pages corrupt_pages 1"
)
echo
echo "--- bench-many: sync vs kcompressd with ${count_list//,/, } worker(s), medians of $done_runs run(s), one boot ---"
echo "host: $(uname -m), nproc $(nproc), laid out for $host_cores cores; QEMU $qemu_version, cortex-a53, GICv3, $layout"
{
    printf '%-20s %12s' metric sync
    for c in "${counts[@]}"; do printf ' %12s' "${c}w"; done
    for c in "${counts[@]}"; do printf ' %9s' "${c}w/sync"; done
    printf '\n'
    for row in "${rows[@]}"; do
        read -r name key scale <<<"$row"
        s=$(value "$sync" "$key")
        if [[ $key == kcompressd_* ]]; then
            # Sync has no kcompressd: no figure, not a zero.
            s=n/a
        fi
        printf '%-20s %12s' "$name" "$(awk -v x="$s" -v k="$scale" 'BEGIN{ if (x == "n/a") print x; else printf "%.0f", x * k }')"
        for c in "${counts[@]}"; do
            printf ' %12s' "$(awk -v x="$(value "${async[$c]}" "$key")" -v k="$scale" 'BEGIN{ if (x == "n/a") print x; else printf "%.0f", x * k }')"
        done
        for c in "${counts[@]}"; do
            printf ' %9s' "$(awk -v a="$(value "${async[$c]}" "$key")" -v s="$s" \
                'BEGIN{ if (s == "n/a" || a == "n/a" || s + 0 == 0) print "n/a"; else printf "%.2fx", a / s }')"
        done
        printf '\n'
    done
}
if [[ -n $pipeline ]]; then
    echo "--- pipeline (ns per page kswapd reclaimed, from the kernel's PIPELINE line; the pages/s are a model, not a measurement or a bound) ---"
    echo "t_scan $(value "$pipeline" t_scan_ns), t_compress $(value "$pipeline" t_compress_ns), sync kswapd $(value "$pipeline" t_sync_ns); model pages/s: sync $(value "$pipeline" sync_model_per_s)$(
        for c in "${counts[@]}"; do printf ', %sw %s' "$c" "$(value "$pipeline" "$(label "$c")_model_per_s")"; done
    ); measured above its model: $(sed -n 's/.*"above_model":\[\([^]]*\)\].*/\1/p' <<<"$pipeline" | tr -d '"' | sed 's/^$/none/')"
fi
echo "--- host load during each run (from its start to the end of its workloads): vCPUs the guest kept busy (outside WFI), host cores QEMU's threads used, host cores busy in all, TLB shootdowns/s ---"
printf '%-10s %4s %8s %11s %11s %11s %9s %11s\n' mode run wall_s guest_vcpus qemu_cores host_busy loadavg1 shootdown/s
while read -r m r dt g q h l f; do
    printf '%-10s %4s %8s %11s %11s %11s %9s %11s\n' "$m" "$r" "$dt" "$g" "$q" "$h" "$l" "$f"
done <"$hostlog"
echo "wall clock: $wall s of a $budget s budget; QEMU status $status; kernel log: $log"

# --- RESULT: the kernel's medians per worker count, the layout, the host.
host_json=$(awk 'BEGIN{ORS=""; print "["} NR > 1 {print ","}
    function num(x) { return x == "n/a" ? "null" : x }
    { printf "{\"mode\":\"%s\",\"run\":%s,\"wall_s\":%s,\"guest_busy_vcpus\":%s,\"qemu_cores\":%s,\"host_busy_cores\":%s,\"loadavg1\":%s,\"tlb_shootdowns_per_s\":%s}",
      $1, $2, $3, num($4), num($5), num($6), $7, num($8) }
    END{print "]"}' "$hostlog")
workers_json=$(
    sep=
    for c in "${counts[@]}"; do
        printf '%s"%s":{"sync":%s,"async":%s}' "$sep" "$c" "$sync" "${async[$c]}"
        sep=,
    done
)
echo "RESULT {\"scenario\":\"bench-many\",\"host_cores\":$host_cores,\"nproc\":$(nproc),\"qemu\":\"$qemu_version\",\"smp\":$smp,\"busy_vcpus\":$busy,\"workloads\":$workloads,\"runs\":$done_runs,\"wall_s\":$wall,\"workers\":{$workers_json},\"pipeline\":${pipeline:-null},\"host\":$host_json}"
exit "$status"
