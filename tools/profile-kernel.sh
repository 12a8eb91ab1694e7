#!/usr/bin/env bash
# Where the kernel's instructions per reclaimed page go, by step of the page's life,
# for one or more bench RAM sizes: for each, the bench (sync, then async) under
# -icount and the instruction profiler, once under pressure (bench_ram=R, anonymous
# memory 2R) and once with RAM to spare (bench_ram=4R, the same 2R), then
# (pressure - spare) / pages reclaimed per step (profile/, docs/perf.md). No Linux:
# tools/compare-linux.sh --profile sets the kernel beside it.
#
#   tools/profile-kernel.sh [--ram MIB[,MIB...]] [--logs DIR] [-- extra kernel words]
#     --ram MIB    bench RAM sizes (default 64); the VM gets 4 x the largest + 512 MiB
#     --logs DIR   consoles, profiles, per-function counts and tables (default
#                  target/profile-kernel)
# Prints one table per mode with a column per size, then RESULT {"scenario":
# "profile-kernel","sizes":[{"ram_mib":R,"sync":{..},"async":{..}},..]}.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tools/result-json.sh
source "$root/tools/result-json.sh"
sizes=64 log_dir=$root/target/profile-kernel
die() {
    echo "profile-kernel.sh: $*" >&2
    exit 2
}
while (($#)); do
    case $1 in
    --ram) [[ -n ${2:-} ]] || die "--ram needs a value"; sizes=$2; shift 2 ;;
    --logs) [[ -n ${2:-} ]] || die "--logs needs a value"; log_dir=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
extra=("$@")
[[ $sizes =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--ram wants MiB sizes like 64,256, not '$sizes'"
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)
largest=$(tr ',' '\n' <<<"$sizes" | sort -n | tail -1)
mem=$((4 * largest + 512))M
elf=$("$root/qemu-run.sh" --build-only | head -1)
insn=$("$root/profile/build-plugin.sh" | xargs dirname)/insn-profile
echo "profile-kernel.sh: host $(uname -m), $(nproc) cores; QEMU $(qemu-system-aarch64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p'), cortex-a53, 4 vCPUs, -m $mem, -icount shift=0,sleep=off; logs in $log_dir"

json='{"scenario":"profile-kernel","sizes":['
first=1 pipeline=
for ram in ${sizes//,/ }; do
    for run in pressure spare; do
        words=(scenario=bench "bench_ram=$ram" bench_runs=1)
        [[ $run == spare ]] && words=(scenario=bench "bench_ram=$((4 * ram))" "bench_anon=$((2 * ram))" bench_runs=1)
        "$root/qemu-run.sh" --no-build --mem "$mem" --icount --profile "$log_dir/$ram-$run.prof" -- "${words[@]}" "${extra[@]}" \
            >"$log_dir/$ram-$run.log" 2>&1 || die "the $ram MiB $run boot failed: $log_dir/$ram-$run.log"
    done
    log=$log_dir/$ram-pressure.log
    read -r kswapd worker workloads < <(bench_layout "$log")
    result=$(results "$log" | tail -1)
    ((first)) || json+=','
    first=0
    json+="{\"ram_mib\":$ram"
    for mode in sync async; do
        w=1 roles=(--role "kswapd=$kswapd" --role "workload=$workloads")
        [[ $mode == async ]] && w=2 roles+=(--role "kcompressd=$worker")
        pages=$(value "$(object "$result" "$mode")" pgsteal_anon)
        for run in pressure spare; do
            "$insn" attribute "$log_dir/$ram-$run.prof" --window "$w" --elf "$elf" \
                --functions "$log_dir/$ram-$mode-$run-functions.tsv" --calls "$log_dir/$ram-$mode-$run-calls.tsv" \
                >"$log_dir/$ram-$mode-$run.json"
        done
        "$insn" per-page --pressure "$log_dir/$ram-$mode-pressure.json" --spare "$log_dir/$ram-$mode-spare.json" \
            --pages "$pages" "${roles[@]}" >"$log_dir/$ram-$mode-per-page.json"
        json+=",\"$mode\":$(tr -d '\n' <"$log_dir/$ram-$mode-per-page.json")"
        if [[ $mode == async ]]; then
            read -r t_scan t_compress < <(pipeline_instructions "$log_dir/$ram-$mode-per-page.json" "$(object "$result" async)")
            json=${json%\}},"\"t_scan_instructions\":${t_scan/n\/a/null},\"t_compress_instructions\":${t_compress/n\/a/null}}"
            pipeline+="$ram MiB: t_scan $t_scan, t_compress $t_compress; "
        fi
    done
    json+='}'
done
json+=']}'
for mode in sync async; do
    echo
    echo "--- $mode: instructions per reclaimed page by step, (pressure - spare) / pgsteal_anon, bench_ram in MiB ---"
    cols=()
    for ram in ${sizes//,/ }; do cols+=("${ram}MiB=$log_dir/$ram-$mode-per-page.json"); done
    "$insn" table "${cols[@]}"
done
echo "async pipeline in instructions (per page kswapd reclaimed, per page queued to kcompressd): ${pipeline%; }"
echo "raw per-function counts: $log_dir/<ram>-<mode>-<pressure|spare>-functions.tsv (step, function, total, per vCPU), calls in -calls.tsv"
echo "RESULT $json"
