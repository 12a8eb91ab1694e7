# shellcheck shell=bash
# Reading the kernel's flat RESULT and PIPELINE JSON from bash, for the scripts in
# tools/ that run on hosts with nothing but bash, sed and awk (no jq). Sourced, not run.

# The RESULT objects of a console log, one per line, without the prefix.
results() { grep -a "^RESULT " "$1" | sed 's/^RESULT //' | tr -d '\r'; }

# The flat object under KEY in JSON: object JSON KEY.
object() { grep -o "\"$2\":{[^}]*}" <<<"$1" | head -1 | sed "s/^\"$2\"://"; }

# A number of a flat JSON object, or n/a for null (no figure) or a missing key:
# value JSON KEY.
value() {
    local v
    v=$(sed -n "s/.*[{,]\"$2\":\\([-0-9.e+]*\\|null\\)[,}].*/\\1/p" <<<"$1")
    [[ -n $v && $v != null ]] && echo "$v" || echo n/a
}

# The CPUs of a bench console's layout lines: "KSWAPD WORKER WORKLOADS" (WORKER: the
# first kcompressd CPU, the async column's; WORKLOADS: comma-separated), from
# "bench: kswapd on cpu1, kcompressd (async) on cpus 2,3, ..." and "bench:
# workload(s) on cpu4: ...": bench_layout CONSOLE_LOG.
bench_layout() {
    local layout loads
    layout=$(grep -a '^bench: kswapd on' "$1" | head -1)
    loads=$(grep -a '^bench: workload(s) on' "$1" | head -1)
    # cpus LINE WORD: the CPU numbers the line gives after "WORD on".
    cpus() { sed -n "s/.*$2 on \(cpus [0-9,]*\|cpu[0-9][0-9]*\).*/\1/p" <<<"$1" | head -1 | tr -dc '0-9,'; }
    local workers
    workers=$(cpus "$layout" '(async)')
    echo "$(cpus "$layout" kswapd) ${workers%%,*} $(cpus "$loads" 'workload(s)')"
}

# The async pipeline's two costs in guest instructions (docs/perf.md), from a profile's
# per-page JSON (insn-profile per-page with roles kswapd and kcompressd) and the async
# RESULT object: t_scan = (kswapd's instructions - ring-full pages x t_compress) /
# pgsteal_kswapd, as the PIPELINE line computes it from busy time; t_compress =
# kcompressd's instructions / pages queued to it. Prints "T_SCAN T_COMPRESS", n/a for
# a figure with no pages under it: pipeline_instructions PER_PAGE_FILE RESULT_OBJECT.
pipeline_instructions() {
    local j roles
    j=$(tr -d '\n' <"$1")
    roles=$(object "$j" roles)
    awk -v n="$(value "$j" pages)" -v ks="$(value "$roles" kswapd)" -v kc="$(value "$roles" kcompressd)" \
        -v victims="$(value "$2" pgsteal_kswapd)" -v queued="$(value "$2" kcompressd_queued)" \
        -v full="$(value "$2" kcompressd_ring_full)" 'BEGIN {
            if (kc == "n/a" || queued + 0 == 0) { print "n/a n/a"; exit }
            tc = kc * n / queued
            ts = (ks == "n/a" || victims + 0 == 0) ? "n/a" : sprintf("%.0f", (ks * n - full * tc) / victims)
            printf "%s %.0f\n", ts, tc
        }'
}
