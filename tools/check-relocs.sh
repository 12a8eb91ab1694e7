#!/usr/bin/env bash
# Refuses a kernel ELF that would not run from any load address: boot/head.s applies
# only R_AARCH64_RELATIVE entries, from linker.ld's __rela_start..__rela_end, and never
# patches code. Run by kernel/mkimage.sh after every build; exit 1 with one line saying
# what is wrong, 0 (silent) when the ELF is fit.
#   tools/check-relocs.sh KERNEL_ELF
set -euo pipefail
die() { echo "check-relocs.sh: $*" >&2; exit 1; }
[[ $# -eq 1 ]] || { echo "usage: tools/check-relocs.sh KERNEL_ELF" >&2; exit 2; }
elf=$1
[[ -f $elf ]] || die "no such file: $elf"
readobj="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-readobj"
readelf() { "$readobj" --elf-output-style=GNU -W "$@" "$elf" 2>/dev/null; }
sections=$(readelf -S) || die "$elf is not an ELF file"
relocs=$(readelf -r)
symbols=$(readelf -s)

# Every relocation section and entry: only .rela.dyn, only R_AARCH64_RELATIVE, each an
# 8-byte-aligned word (the pass stores with the MMU off, where memory is Device memory
# and an unaligned store faults).
# (Each awk reads all its input and says the first problem at the end: an early exit
# would kill its writer with SIGPIPE, which pipefail turns into a silent failure.)
bad=$(awk '/^Relocation section/ { sec = $3; gsub("\x27", "", sec)
                                   if (sec != ".rela.dyn" && bad == "") bad = "relocation section " sec }
           /^[0-9a-f]+ +[0-9a-f]+ / { if ($3 != "R_AARCH64_RELATIVE" && bad == "") bad = $3 " at 0x" $1
                                      if ($1 !~ /[08]$/ && bad == "") bad = "unaligned relocation at 0x" $1 }
           END { print bad }' <<<"$relocs")
[[ -z $bad ]] || die "$bad: boot/head.s applies only 8-byte-aligned R_AARCH64_RELATIVE entries from .rela.dyn"

# No relocation lands in an executable section (code is PC-relative; the pass never
# writes it).
bad=$( { sed -E 's/^ *\[ *[0-9]+\] *//' <<<"$sections" | awk '$7 ~ /X/ { print "X", $1, $3, $5 }'
         awk '/^[0-9a-f]+ +[0-9a-f]+ / { print "R", $1 }' <<<"$relocs"; } |
       awk 'function hex(s,  i, v) { v = 0; s = tolower(s)
                                     for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
                                     return v }
            $1 == "X" { n++; name[n] = $2; lo[n] = hex($3); hi[n] = hex($3) + hex($4); next }
            bad == "" { a = hex($2); for (i = 1; i <= n; i++) if (a >= lo[i] && a < hi[i]) bad = "relocation at 0x" $2 " in " name[i] }
            END { print bad }')
[[ -z $bad ]] || die "$bad: code must not need relocating (build it position-independent)"

# The pass reads exactly .rela.dyn.
sym() { awk -v n="$1" '$8 == n { v = $2 } END { print v }' <<<"$symbols"; }
rela=$(sed -E 's/^ *\[ *[0-9]+\] *//' <<<"$sections" | awk '$1 == ".rela.dyn" { print $3, $5 }')
start=$(sym __rela_start) end=$(sym __rela_end)
[[ -n $start && -n $end ]] || die "no __rela_start/__rela_end symbols (linker.ld)"
if [[ -n $rela ]]; then
    read -r addr size <<<"$rela"
    ((16#$start == 16#$addr && 16#$end == 16#$addr + 16#$size)) ||
        die "__rela_start..__rela_end (0x$start..0x$end) is not .rela.dyn (0x$addr, 0x$size bytes)"
elif ((16#$start != 16#$end)); then
    die "__rela_start..__rela_end is not empty but there is no .rela.dyn"
fi
