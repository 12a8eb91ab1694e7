#!/usr/bin/env bash
# The kernel beside Linux on the same QEMU machine and the same workload: Debian's
# arm64 Linux 6.1 with zram (tools/linux-guest.sh, kswapd compressing synchronously,
# as Linux has no kcompressd), then this kernel's bench in sync and async mode, one
# after the other on this host. Prints one table of medians with the bench's names,
# then the noise-free yardstick (guest instructions per reclaimed page, under
# -icount), and RESULT {"scenario":"linux-compare","linux":{..},"sync":{..},"async":{..}}.
#
#   tools/compare-linux.sh [--runs N] [--linux-mem SIZE] [--no-icount] [--small] [--profile] [--logs DIR]
#     --runs N          runs of each side (default 3: medians of 3)
#     --linux-mem SIZE  Linux guest RAM (default 124M: MemFree about the bench's 64 MiB)
#     --no-icount       skip the instructions-per-page yardstick (4 more boots)
#     --small           a tiny workload (16 MiB RAM, 1,024 accesses): the smoke test
#     --profile         the yardstick's boots under the instruction profiler too: where
#                       each side's instructions per reclaimed page go, by step of the
#                       page's life and by vCPU (profile/, docs/perf.md); the raw
#                       per-function counts are kept next to the logs
#     --logs DIR        where the consoles, profiles and tables go (default
#                       target/compare-linux; each run empties nothing, it overwrites)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/result-json.sh
source "$root/tools/result-json.sh"
runs=3 linux_mem=124M icount=1 small=0 profile=0 log_dir=$root/target/compare-linux

die() {
    echo "compare-linux.sh: $*" >&2
    exit 2
}
while (($#)); do
    case $1 in
    --runs) [[ -n ${2:-} ]] || die "--runs needs a value"; runs=$2; shift 2 ;;
    --linux-mem) [[ -n ${2:-} ]] || die "--linux-mem needs a value"; linux_mem=$2; shift 2 ;;
    --no-icount) icount=0; shift ;;
    --small) small=1; shift ;;
    --profile) profile=1; shift ;;
    --logs) [[ -n ${2:-} ]] || die "--logs needs a value"; log_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive number, not '$runs'"
((!profile || icount)) || die "--profile profiles the yardstick's boots: it cannot go with --no-icount"

# The same workload on both sides: the bench's, at its RAM (64 MiB) or the smoke
# test's (16 MiB); anonymous memory twice the RAM, 8 apps, 12 switches, seed 1.
if ((small)); then
    ram_mib=16 ops=1024 linux_mem_pressure=76M
else
    ram_mib=64 ops='' linux_mem_pressure=$linux_mem
fi
pages=$((ram_mib * 2 * 256))
linux_words=("pages=$pages")
kernel_words=(scenario=bench "bench_ram=$ram_mib")
# The same workload with RAM to spare (four times the pressure run's RAM).
kernel_spare_words=(scenario=bench "bench_ram=$((ram_mib * 4))" "bench_anon=$((ram_mib * 2))")
if [[ -n $ops ]]; then
    linux_words+=("ops=$ops")
    kernel_words+=("ops=$ops")
    kernel_spare_words+=("ops=$ops")
fi

mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)
echo "compare-linux.sh: host $(uname -m), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); logs in $log_dir"

# --- Linux: one boot, N runs of the workload.
"$root/tools/linux-guest.sh" --mem "$linux_mem_pressure" --runs "$runs" --timeout $((300 * runs)) \
    -- "${linux_words[@]}" >"$log_dir/linux.log" 2>&1 || die "the Linux guest failed: $log_dir/linux.log"
mapfile -t linux_runs < <(results "$log_dir/linux.log")
((${#linux_runs[@]} == runs)) || die "Linux printed ${#linux_runs[@]} RESULT lines of $runs: $log_dir/linux.log"

# --- The kernel: sync and async, N runs each, alternating, one boot.
"$root/qemu-run.sh" --timeout $((300 * runs)) -- "${kernel_words[@]}" "bench_runs=$runs" \
    >"$log_dir/kernel.log" 2>&1 || die "the kernel bench failed: $log_dir/kernel.log"
kernel=$(results "$log_dir/kernel.log" | tail -1)
sync=$(object "$kernel" sync)
async=$(object "$kernel" async)

# Linux's medians (the lower middle run, as the kernel's), per key.
linux_median() {
    local key=$1 line
    for line in "${linux_runs[@]}"; do value "$line" "$key"; done |
        { grep -v '^n/a$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'
}
keys=(pgsteal_anon_per_s pgsteal_kswapd pgsteal_direct allocstall pswpout pswpin
    workingset_refault_anon compr_ratio mem_used_total ops_per_s elapsed_ms kswapd_busy_pct
    alloc_p99_ns verified_pages corrupt_pages)
linux='{'
for key in "${keys[@]}"; do
    v=$(linux_median "$key")
    [[ $v == n/a ]] && v=null
    linux+="\"$key\":$v,"
done
linux+="\"mem_free_kb\":$(linux_median mem_free_kb)"

# --- Guest instructions per reclaimed page: under -icount shift=0,sleep=off the guest
# clock advances 1 ns per instruction, vCPUs in turn, so (elapsed under pressure -
# elapsed of the same workload with RAM to spare) / pages reclaimed is the reclaim
# cost in instructions, whatever the host is doing.
per_page() { awk -v p="$1" -v s="$2" -v n="$3" 'BEGIN { if (n + 0 > 0 && p != "n/a" && s != "n/a") printf "%.0f", (p - s) * 1e6 / n; else print "n/a" }'; }
linux_ipp=n/a sync_ipp=n/a async_ipp=n/a
# --profile: each yardstick boot also writes its counts (profile/plugin), attributed
# below; the kernel's pressure and spare boots each hold a sync window, then an async one.
prof() { ((profile)) && echo "--profile" "$log_dir/$1.prof"; }
if ((icount)); then
    # shellcheck disable=SC2046 # prof prints nothing or two words
    if ! "$root/tools/linux-guest.sh" --icount $(prof linux-icount) --mem "$linux_mem_pressure" -- "${linux_words[@]}" \
        >"$log_dir/linux-icount.log" 2>&1 ||
        ! "$root/tools/linux-guest.sh" --icount $(prof linux-icount-spare) --mem 512M -- "${linux_words[@]}" \
            >"$log_dir/linux-icount-spare.log" 2>&1; then
        die "the Linux -icount runs failed: $log_dir/linux-icount*.log"
    fi
    lp=$(results "$log_dir/linux-icount.log" | tail -1)
    ls=$(results "$log_dir/linux-icount-spare.log" | tail -1)
    linux_ipp=$(per_page "$(value "$lp" elapsed_ms)" "$(value "$ls" elapsed_ms)" "$(value "$lp" pgsteal_anon)")
    # shellcheck disable=SC2046
    if ! "$root/qemu-run.sh" --icount $(prof kernel-icount) -- "${kernel_words[@]}" bench_runs=1 \
        >"$log_dir/kernel-icount.log" 2>&1 ||
        ! "$root/qemu-run.sh" --icount $(prof kernel-icount-spare) -- "${kernel_spare_words[@]}" bench_runs=1 \
            >"$log_dir/kernel-icount-spare.log" 2>&1; then
        die "the kernel -icount runs failed: $log_dir/kernel-icount*.log"
    fi
    kr=$(results "$log_dir/kernel-icount.log" | tail -1)
    ksr=$(results "$log_dir/kernel-icount-spare.log" | tail -1)
    kp=$(object "$kr" sync) ks=$(object "$ksr" sync)
    sync_ipp=$(per_page "$(value "$kp" elapsed_ms)" "$(value "$ks" elapsed_ms)" "$(value "$kp" pgsteal_anon)")
    # Async too: under -icount the guest clock counts every vCPU's instructions in
    # turn, kcompressd's included, so the same difference is its cost per page.
    kpa=$(object "$kr" async) ksa=$(object "$ksr" async)
    async_ipp=$(per_page "$(value "$kpa" elapsed_ms)" "$(value "$ksa" elapsed_ms)" "$(value "$kpa" pgsteal_anon)")
fi
linux+=",\"instructions_per_page\":${linux_ipp/n\/a/null}"
sync=${sync%\}},"\"instructions_per_page\":${sync_ipp/n\/a/null}"
async=${async%\}},"\"instructions_per_page\":${async_ipp/n\/a/null}"

# --- The profile: per step, (pressure - spare) / pages reclaimed, for each side.
if ((profile)); then
    insn=$("$root/profile/build-plugin.sh" | xargs dirname)/insn-profile
    elf=$("$root/qemu-run.sh" --build-only | head -1)
    read -r kswapd_cpu workers workload_cpus < <(bench_layout "$log_dir/kernel-icount.log")
    profile_side() { # NAME PROFILE SPARE_PROFILE WINDOW PAGES SYMBOLS... -- ROLES...
        local name=$1 p=$2 s=$3 w=$4 pages=$5
        shift 5
        local sym=() roles=()
        while (($#)) && [[ $1 != -- ]]; do sym+=("$1"); shift; done
        shift
        roles=("$@")
        "$insn" attribute "$p" --window "$w" "${sym[@]/@P@/$p}" --functions "$log_dir/$name-functions.tsv" \
            --calls "$log_dir/$name-calls.tsv" \
            >"$log_dir/$name-pressure.json" &&
            "$insn" attribute "$s" --window "$w" "${sym[@]/@P@/$s}" --functions "$log_dir/$name-spare-functions.tsv" \
                --calls "$log_dir/$name-spare-calls.tsv" \
                >"$log_dir/$name-spare.json" &&
            "$insn" per-page --pressure "$log_dir/$name-pressure.json" --spare "$log_dir/$name-spare.json" \
                --pages "$pages" "${roles[@]}" >"$log_dir/$name-per-page.json" ||
            die "profiling $name failed (logs in $log_dir)"
    }
    profile_side linux "$log_dir/linux-icount.prof" "$log_dir/linux-icount-spare.prof" 1 "$(value "$lp" pgsteal_anon)" \
        --kallsyms @P@.kallsyms --
    profile_side sync "$log_dir/kernel-icount.prof" "$log_dir/kernel-icount-spare.prof" 1 "$(value "$kp" pgsteal_anon)" \
        --elf "$elf" -- --role "kswapd=$kswapd_cpu" --role "workload=$workload_cpus"
    profile_side async "$log_dir/kernel-icount.prof" "$log_dir/kernel-icount-spare.prof" 2 "$(value "$kpa" pgsteal_anon)" \
        --elf "$elf" -- --role "kswapd=$kswapd_cpu" --role "kcompressd=$workers" --role "workload=$workload_cpus"
    # The steps object and the sum, in each side's RESULT object.
    steps_of() { # FILE: ,"steps":{..},"profiled_instructions_per_page":N
        local j
        j=$(tr -d '\n' <"$1")
        printf ',"steps":%s,"profiled_instructions_per_page":%s' \
            "$(grep -o '"steps":{[^}]*}' <<<"$j" | sed 's/^"steps"://')" \
            "$(grep -o '"profiled_instructions_per_page":-\{0,1\}[0-9]*' <<<"$j" | cut -d: -f2)"
    }
    linux+=$(steps_of "$log_dir/linux-per-page.json")
    sync+=$(steps_of "$log_dir/sync-per-page.json")
    async+=$(steps_of "$log_dir/async-per-page.json")
    read -r t_scan t_compress < <(pipeline_instructions "$log_dir/async-per-page.json" "$kpa")
    async+=",\"t_scan_instructions\":${t_scan/n\/a/null},\"t_compress_instructions\":${t_compress/n\/a/null}"
fi
linux+='}' sync+='}' async+='}'

# --- The table.
echo
echo "--- Linux 6.1 (zram, kswapd compressing) vs this kernel, sync and async: medians of $runs runs ---"
echo "machine: QEMU $(qemu-system-aarch64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'), cortex-a53, 4 vCPUs, GICv3; workload: $((pages / 256)) MiB anonymous in 8 apps, seed 1; Linux -m $linux_mem_pressure (MemFree $(value "$linux" mem_free_kb) kB before), kernel bench_ram=$ram_mib MiB"
printf '%-26s %12s %12s %12s %11s %11s\n' metric linux sync async sync/linux async/linux
for key in "${keys[@]}" instructions_per_page; do
    l=$(value "$linux" "$key") s=$(value "$sync" "$key") a=$(value "$async" "$key")
    printf '%-26s' "$key"
    for x in "$l" "$s" "$a"; do
        awk -v x="$x" 'BEGIN { if (x == "n/a") printf " %12s", x; else if (x == int(x) || x >= 100) printf " %12.0f", x; else printf " %12.2f", x }'
    done
    for x in "$s" "$a"; do
        awk -v x="$x" -v l="$l" 'BEGIN { if (x == "n/a" || l == "n/a" || l + 0 == 0) printf " %11s", "n/a"; else printf " %10.2fx", x / l }'
    done
    printf '\n'
done
echo "n/a: no figure (Linux's fault latency is not measured)"
if ((profile)); then
    echo
    echo "--- Where the instructions per reclaimed page go: (under pressure - RAM to spare) / pages, by step (profile/steps.conf) ---"
    "$insn" table "linux=$log_dir/linux-per-page.json" "sync=$log_dir/sync-per-page.json" "async=$log_dir/async-per-page.json"
    for side in linux sync async; do
        awk -v side=$side -v p="$(value "${!side}" profiled_instructions_per_page)" -v i="$(value "${!side}" instructions_per_page)" \
            'BEGIN { if (i != "n/a" && i + 0 != 0) printf "%s: profiled %s against -icount %s instructions per page (%+.1f %%)\n", side, p, i, (p - i) * 100 / i }'
    done
    echo "async pipeline in instructions: t_scan $t_scan per page kswapd reclaimed (its ring-full pages' compression taken out), t_compress $t_compress per page queued to kcompressd$(awk -v s="$t_scan" -v c="$t_compress" 'BEGIN { if (s != "n/a" && c != "n/a" && c + 0 != 0) printf ": t_scan/t_compress %.3f", s / c }')"
    echo "raw per-function counts: $log_dir/{linux,sync,async}{,-spare}-functions.tsv (step, function, total, per vCPU), calls in *-calls.tsv"
fi
echo "RESULT {\"scenario\":\"linux-compare\",\"runs\":$runs,\"linux\":$linux,\"sync\":$sync,\"async\":$async}"
