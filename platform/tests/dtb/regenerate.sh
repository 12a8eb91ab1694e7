#!/usr/bin/env bash
# Rebuilds the test DTBs in this folder:
#  - MediaTek boards from Debian's linux-source-6.1 (apt-get install linux-source-6.1
#    device-tree-compiler cpp), preprocessed the way the kernel's Makefile does;
#  - QEMU's own `virt` DTBs (apt-get install qemu-system-arm), dumped with dumpdtb.
# The fixtures copied from the project's shared fixtures (mt8183-evb.dtb,
# qemu-virt-*-256m.dtb) are not rebuilt here. Expected values live in ../dtb_boards.rs;
# re-check them with fdtget/dtc after regenerating.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src_tar=/usr/src/linux-source-6.1.tar.xz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tar -xJf "$src_tar" -C "$work" --wildcards \
    'linux-source-6.1/arch/arm64/boot/dts/mediatek/*' \
    'linux-source-6.1/include/dt-bindings/*' \
    'linux-source-6.1/include/uapi/linux/input-event-codes.h' \
    'linux-source-6.1/scripts/dtc/include-prefixes/*' \
    'linux-source-6.1/arch/arm/boot/dts/cros-*.dtsi'
linux="$work/linux-source-6.1"

boards=(
    mt2712-evb
    mt6797-x20-dev
    mt7622-rfb1
    mt8173-elm
    mt8183-kukui-krane-sku176
    mt8192-asurada-spherion-r0
    mt8195-cherry-tomato-r2
    mt8516-pumpkin
)
for b in "${boards[@]}"; do
    cpp -nostdinc -I "$linux/include" -I "$linux/scripts/dtc/include-prefixes" \
        -I "$linux/arch/arm64/boot/dts/mediatek" \
        -undef -D__DTS__ -x assembler-with-cpp \
        "$linux/arch/arm64/boot/dts/mediatek/$b.dts" -o "$work/$b.pre.dts"
    dtc -q -I dts -O dtb -o "$here/$b.dtb" "$work/$b.pre.dts"
    echo "built $b.dtb"
done

dump() { # name, then QEMU -machine suffix and extra options
    local name="$1" machine="$2"
    shift 2
    qemu-system-aarch64 -machine "virt,$machine,dumpdtb=$here/$name.dtb" -nographic -nic none "$@" >/dev/null
    echo "dumped $name.dtb"
}
dump qemu-virt-gic3-a53-smp4-5g gic-version=3 -cpu cortex-a53 -smp 4 -m 5G
dump qemu-virt-gic2-a72-smp2-512m gic-version=2 -cpu cortex-a72 -smp 2 -m 512M
# -append needs -kernel; an empty image is enough for QEMU to write /chosen/bootargs.
# The quote and backslash exercise dtb-info's JSON string escaping.
head -c 4096 /dev/zero >"$work/empty.img"
dump qemu-virt-el2-gic3-max-smp8-2g gic-version=3,virtualization=on -cpu max -smp 8 -m 2G \
    -kernel "$work/empty.img" -append 'scenario=boot exit=semihosting note="a\b"'
