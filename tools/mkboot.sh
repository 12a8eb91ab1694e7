#!/usr/bin/env bash
# Packs the kernel's arm64 Image and boards' DTBs into what a board's bootloader takes:
# a FIT (U-Boot bootm), an Android boot image v2 (fastboot, Android bootloaders) or a
# ChromeOS kernel partition (depthcharge), with Debian's tools (tools/setup.sh installs
# them). Writes only the artifact (and a scratch directory); never touches a device.
# tools/mkboot.sh --help for the options; docs/boards.md for what to do with each.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
devkeys=/usr/share/vboot/devkeys
# Where the Image runs from a FIT: bootm copies the kernel to its load address and
# jumps there, unmoved. The Image runs at any 2 MiB-aligned address (text_offset 0,
# docs/boot.md); this one is its link address (DRAM base 0x4000_0000 + 2 MiB, on
# QEMU virt and MediaTek SoCs alike), so no relocation is needed.
kernel_load=0x40200000
# Android boot image addresses, as base + offsets: the kernel where it runs (above),
# the DTB at MediaTek Genio's fdt_addr_r (0x4400_0000).
bootimg_base=0x40000000 bootimg_kernel_offset=0x00200000 bootimg_dtb_offset=0x04000000

usage() {
    cat <<EOF
usage: tools/mkboot.sh fit|bootimg|kpart --dtb FILE [--dtb FILE]... [options]

  fit      a FIT image (mkimage): the Image and each DTB, one configuration per DTB
           named after its file (mt8183-evb.dtb: mt8183-evb), the first the default;
           U-Boot: bootm \${kernel_addr_r}#mt8183-evb. Kernel load/entry $kernel_load.
  bootimg  an Android boot image, header v2 (mkbootimg): the Image, the DTBs
           concatenated, the command line; base $bootimg_base, kernel +$bootimg_kernel_offset, dtb +$bootimg_dtb_offset
  kpart    a ChromeOS kernel partition (futility vbutil_kernel, arm64): a FIT as above,
           the command line and a dummy bootloader stub, signed with the developer keys

options:
  --dtb FILE       a board's DTB; at least one
  --image FILE     the arm64 Image (default: build it with ./qemu-run.sh --build-only)
  --out FILE       the artifact (default: target/boot/Image.itb, boot.img or kernel.kpart)
  --cmdline TEXT   bootimg and kpart: the kernel command line (default: scenario=boot);
                   a FIT has none (U-Boot's bootargs give it)
  --keys DIR       kpart: the vboot keys (default $devkeys, Debian's vboot-utils)
  -h, --help       this text

Prints the artifact's path. Examples:
  tools/mkboot.sh fit --dtb mt8183-evb.dtb --dtb mt8195-demo.dtb
  tools/mkboot.sh kpart --dtb mt8192-asurada-spherion-r0.dtb --cmdline "scenario=boot"
EOF
}

die() {
    echo "mkboot.sh: $*" >&2
    exit 2
}

(($#)) || die "no artifact kind: fit, bootimg or kpart (see --help)"
case $1 in
fit | bootimg | kpart) kind=$1; shift ;;
-h | --help) usage; exit 0 ;;
*) die "unknown artifact kind '$1': fit, bootimg or kpart" ;;
esac

dtbs=() image='' out='' cmdline='' keys=$devkeys
need_value() { [[ $# -ge 2 && -n $2 ]] || die "option $1 needs a value (see --help)"; }
while (($#)); do
    case $1 in
    --dtb) need_value "$@"; dtbs+=("$2"); shift 2 ;;
    --image) need_value "$@"; image=$2; shift 2 ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    --cmdline) need_value "$@"; cmdline=$2; shift 2 ;;
    --keys) need_value "$@"; keys=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done

((${#dtbs[@]})) || die "$kind needs at least one --dtb FILE"
# A DTB starts with the FDT magic d00dfeed; anything else would boot a board blind.
names=()
for dtb in "${dtbs[@]}"; do
    [[ -f $dtb ]] || die "no DTB '$dtb'"
    [[ $(od -An -tx1 -N4 "$dtb" | tr -d ' ') == d00dfeed ]] || die "'$dtb' is not a DTB (no FDT magic)"
    name=$(basename "$dtb" .dtb)
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9._,+-]*$ ]] || die "DTB file name '$name' cannot name a FIT configuration (letters, digits, . _ , + -)"
    for seen in "${names[@]}"; do
        [[ $seen != "$name" ]] || die "two DTBs named '$name': a FIT configuration per name"
    done
    names+=("$name")
done
if [[ $kind == fit ]]; then
    [[ -z $cmdline ]] || die "a FIT carries no command line: set U-Boot's bootargs"
fi
cmdline=${cmdline:-scenario=boot}
[[ $cmdline != *$'\n'* ]] || die "the kernel command line cannot contain a newline"

case $kind in
fit) tools=(mkimage fdtget) package="u-boot-tools and device-tree-compiler" ;;
bootimg) tools=(mkbootimg) package=mkbootimg ;;
kpart) tools=(mkimage fdtget futility) package="u-boot-tools, device-tree-compiler and vboot-kernel-utils" ;;
esac
for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || die "no '$tool': run tools/setup.sh (Debian $package)"
done
if [[ $kind == kpart ]]; then
    for key in kernel.keyblock kernel_data_key.vbprivk; do
        [[ -f $keys/$key ]] || die "no $keys/$key: run tools/setup.sh (Debian vboot-utils), or give --keys"
    done
fi

if [[ -z $image ]]; then
    image=$("$root/qemu-run.sh" --build-only | sed -n 2p)
fi
[[ -f $image ]] || die "no Image '$image'"
# The arm64 Image header's magic "ARM\x64" at 0x38.
[[ $(od -An -tx1 -j56 -N4 "$image" | tr -d ' ') == 41524d64 ]] || die "'$image' is not an arm64 Image (no ARM\\x64 magic at 0x38)"

target_dir=${CARGO_TARGET_DIR:-$root/target}
case $kind in
fit) out=${out:-$target_dir/boot/Image.itb} ;;
bootimg) out=${out:-$target_dir/boot/boot.img} ;;
kpart) out=${out:-$target_dir/boot/kernel.kpart} ;;
esac
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The FIT source: inputs copied under fixed names, so no path needs quoting in it.
# Each configuration carries its DTB's root compatible, which depthcharge matches
# against the board's (U-Boot picks the configuration by name).
fit() {
    local its=$tmp/image.its i compat
    cp "$image" "$tmp/Image"
    {
        printf '/dts-v1/;\n/ {\n\tdescription = "arm64 kernel, %d board(s)";\n\t#address-cells = <1>;\n' "${#dtbs[@]}"
        printf '\timages {\n\t\tkernel {\n\t\t\tdescription = "arm64 Image";\n'
        printf '\t\t\tdata = /incbin/("Image");\n\t\t\ttype = "kernel";\n\t\t\tarch = "arm64";\n\t\t\tos = "linux";\n'
        printf '\t\t\tcompression = "none";\n\t\t\tload = <%s>;\n\t\t\tentry = <%s>;\n' "$kernel_load" "$kernel_load"
        printf '\t\t\thash-1 { algo = "sha256"; };\n\t\t};\n'
        for i in "${!dtbs[@]}"; do
            cp "${dtbs[i]}" "$tmp/fdt-$i.dtb"
            printf '\t\tfdt-%d {\n\t\t\tdescription = "%s";\n\t\t\tdata = /incbin/("fdt-%d.dtb");\n' "$i" "${names[i]}" "$i"
            printf '\t\t\ttype = "flat_dt";\n\t\t\tarch = "arm64";\n\t\t\tcompression = "none";\n'
            printf '\t\t\thash-1 { algo = "sha256"; };\n\t\t};\n'
        done
        printf '\t};\n\tconfigurations {\n\t\tdefault = "%s";\n' "${names[0]}"
        for i in "${!dtbs[@]}"; do
            compat=$(fdtget -t s "${dtbs[i]}" / compatible 2>/dev/null) ||
                die "'${dtbs[i]}' has no root compatible"
            compat=\"${compat// /\", \"}\"
            printf '\t\t%s {\n\t\t\tdescription = "%s";\n\t\t\tkernel = "kernel";\n\t\t\tfdt = "fdt-%d";\n' "${names[i]}" "${names[i]}" "$i"
            printf '\t\t\tcompatible = %s;\n\t\t};\n' "$compat"
        done
        printf '\t};\n};\n'
    } >"$its"
    (cd "$tmp" && mkimage -f image.its "$1") >"$tmp/mkimage.log" 2>&1 ||
        die "mkimage failed: $(tail -1 "$tmp/mkimage.log")"
}

case $kind in
fit)
    fit "$tmp/out"
    ;;
bootimg)
    cat "${dtbs[@]}" >"$tmp/dtbs"
    mkbootimg --header_version 2 --kernel "$image" --dtb "$tmp/dtbs" --cmdline "$cmdline" \
        --base "$bootimg_base" --kernel_offset "$bootimg_kernel_offset" \
        --dtb_offset "$bootimg_dtb_offset" -o "$tmp/out" >"$tmp/mkbootimg.log" 2>&1 ||
        die "mkbootimg failed: $(tail -1 "$tmp/mkbootimg.log")"
    ;;
kpart)
    # depthcharge on arm64 boots a FIT; the bootloader stub is an x86 leftover it ignores.
    fit "$tmp/kernel.itb"
    printf '%s\n' "$cmdline" >"$tmp/cmdline"
    head -c 512 /dev/zero >"$tmp/bootloader"
    futility vbutil_kernel --pack "$tmp/out" --arch arm64 --version 1 \
        --keyblock "$keys/kernel.keyblock" --signprivate "$keys/kernel_data_key.vbprivk" \
        --vmlinuz "$tmp/kernel.itb" --config "$tmp/cmdline" --bootloader "$tmp/bootloader" \
        >"$tmp/futility.log" 2>&1 || die "futility vbutil_kernel failed: $(tail -1 "$tmp/futility.log")"
    ;;
esac
mv "$tmp/out" "$out"
echo "$out"
