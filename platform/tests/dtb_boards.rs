//! Every DTB in tests/dtb parsed and checked field by field against values read once
//! with `fdtget`/`dtc -O dts` (see tests/dtb/regenerate.sh for where the files come from).
#![forbid(unsafe_code)]

use platform::{Board, ConsoleKind, PsciMethod, Region};

fn dtb(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/dtb/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Expected<'e> {
    model: &'e str,
    memory: &'e [(u64, u64)],
    reserved: &'e [(u64, u64)],
    usable: &'e [(u64, u64)],
    /// path, most specific compatible, kind, base, size, reg_shift, baud
    console: (&'e str, &'e str, ConsoleKind, u64, u64, u32, Option<u32>),
    /// version, distributor, redistributor (v3) or CPU interface (v2)
    gic: (u8, (u64, u64), (u64, u64)),
    psci: PsciMethod,
    /// (mpidr, capacity-dmips-mhz, compatible)
    cpus: &'e [(u64, Option<u32>, &'e str)],
    bootargs: &'e str,
}

fn regions(rs: &[(u64, u64)]) -> Vec<Region> {
    rs.iter().map(|&(b, s)| Region::new(b, s)).collect()
}

fn check(file: &str, e: Expected<'_>) {
    let bytes = dtb(file);
    let b = Board::from_dtb(&bytes).unwrap_or_else(|err| panic!("{file}: {err}"));
    assert_eq!(b.model, e.model, "{file}");
    assert_eq!(b.memory.as_slice(), regions(e.memory), "{file} memory");
    assert_eq!(
        b.reserved.as_slice(),
        regions(e.reserved),
        "{file} reserved"
    );
    assert_eq!(b.usable.as_slice(), regions(e.usable), "{file} usable");
    let c = b.console.unwrap_or_else(|| panic!("{file}: no console"));
    let (path, compatible, kind, base, size, reg_shift, baud) = e.console;
    assert_eq!(
        (
            c.path,
            c.compatible,
            c.kind,
            c.base,
            c.size,
            c.reg_shift,
            c.baud
        ),
        (path, compatible, kind, base, size, reg_shift, baud),
        "{file} console"
    );
    let g = b.gic.unwrap_or_else(|| panic!("{file}: no GIC"));
    let (version, dist, second) = e.gic;
    assert_eq!(g.version, version, "{file}");
    assert_eq!(g.distributor, Region::new(dist.0, dist.1), "{file}");
    let second = Some(Region::new(second.0, second.1));
    if version == 3 {
        assert_eq!((g.redistributor, g.cpu_interface), (second, None), "{file}");
    } else {
        assert_eq!((g.cpu_interface, g.redistributor), (second, None), "{file}");
    }
    assert_eq!(b.psci, Some(e.psci), "{file}");
    let cpus: Vec<_> = b
        .cpus
        .iter()
        .map(|c| (c.mpidr, c.capacity, c.compatible))
        .collect();
    assert_eq!(cpus, e.cpus, "{file} cpus");
    assert_eq!(b.bootargs, e.bootargs, "{file}");
}

const GIB: u64 = 1 << 30;
const A53: &str = "arm,cortex-a53";

/// `n` CPUs with MPIDR 0..n, no capacity, one compatible (QEMU virt).
fn uniform(n: u64, compatible: &str) -> Vec<(u64, Option<u32>, &str)> {
    (0..n).map(|i| (i, None, compatible)).collect()
}

/// Little cores then big cores: (MPIDRs, capacity, compatible) for each cluster.
fn big_little<'e>(
    little: (&[u64], Option<u32>, &'e str),
    big: (&[u64], Option<u32>, &'e str),
) -> Vec<(u64, Option<u32>, &'e str)> {
    let mut cpus = Vec::new();
    for (ids, capacity, compatible) in [little, big] {
        cpus.extend(ids.iter().map(|&mpidr| (mpidr, capacity, compatible)));
    }
    cpus
}

/// memory@40000000 (2 GiB) minus the SCP's reserved-memory 0x50000000 + 0x2900000.
const MT81XX_USABLE: &[(u64, u64)] = &[
    (0x4000_0000, 0x1000_0000),
    (0x5290_0000, 0xc000_0000 - 0x5290_0000),
];
const SCP_RESERVED: (u64, u64) = (0x5000_0000, 0x290_0000);
const QEMU_PL011: (&str, &str, ConsoleKind, u64, u64, u32, Option<u32>) = (
    "/pl011@9000000",
    "arm,pl011",
    ConsoleKind::Pl011,
    0x0900_0000,
    0x1000,
    0,
    None,
);
const QEMU_GIC2: (u8, (u64, u64), (u64, u64)) =
    (2, (0x0800_0000, 0x1_0000), (0x0801_0000, 0x1_0000));
const QEMU_GIC3: (u8, (u64, u64), (u64, u64)) =
    (3, (0x0800_0000, 0x1_0000), (0x080a_0000, 0xf6_0000));

#[test]
fn mt8183_evb() {
    let mt8183 = big_little(
        (&[0, 1, 2, 3], Some(741), A53),
        (&[0x100, 0x101, 0x102, 0x103], Some(1024), "arm,cortex-a73"),
    );
    for (file, model, baud) in [
        (
            "mt8183-evb.dtb",
            "MediaTek MT8183 evaluation board",
            921_600,
        ),
        (
            "mt8183-kukui-krane-sku176.dtb",
            "MediaTek krane sku176 board",
            115_200,
        ),
    ] {
        check(
            file,
            Expected {
                model,
                memory: &[(0x4000_0000, 2 * GIB)],
                reserved: &[SCP_RESERVED],
                usable: MT81XX_USABLE,
                console: (
                    "/soc/serial@11002000",
                    "mediatek,mt8183-uart",
                    ConsoleKind::Ns16550,
                    0x1100_2000,
                    0x1000,
                    2,
                    Some(baud),
                ),
                gic: (3, (0x0c00_0000, 0x4_0000), (0x0c10_0000, 0x20_0000)),
                psci: PsciMethod::Smc,
                cpus: &mt8183,
                bootargs: "",
            },
        );
    }
}

#[test]
fn mt8192_asurada_spherion() {
    check(
        "mt8192-asurada-spherion-r0.dtb",
        Expected {
            model: "Google Spherion (rev0 - 3)",
            memory: &[(0x4000_0000, 2 * GIB)],
            // wifi@c0000000 lies past the end of memory: reserved, but nothing to remove.
            reserved: &[SCP_RESERVED, (0xc000_0000, 0x400_0000)],
            usable: MT81XX_USABLE,
            console: (
                "/soc/serial@11002000",
                "mediatek,mt8192-uart",
                ConsoleKind::Ns16550,
                0x1100_2000,
                0x1000,
                2,
                Some(115_200),
            ),
            gic: (3, (0x0c00_0000, 0x4_0000), (0x0c04_0000, 0x20_0000)),
            psci: PsciMethod::Smc,
            cpus: &big_little(
                (&[0, 0x100, 0x200, 0x300], Some(427), "arm,cortex-a55"),
                (&[0x400, 0x500, 0x600, 0x700], Some(1024), "arm,cortex-a76"),
            ),
            bootargs: "",
        },
    );
}

#[test]
fn mt8195_cherry_tomato() {
    check(
        "mt8195-cherry-tomato-r2.dtb",
        Expected {
            model: "Acer Tomato (rev2) board",
            memory: &[(0x4000_0000, 2 * GIB)],
            reserved: &[SCP_RESERVED],
            usable: MT81XX_USABLE,
            console: (
                "/soc/serial@11001100",
                "mediatek,mt8195-uart",
                ConsoleKind::Ns16550,
                0x1100_1100,
                0x100,
                2,
                Some(115_200),
            ),
            gic: (3, (0x0c00_0000, 0x4_0000), (0x0c04_0000, 0x20_0000)),
            psci: PsciMethod::Smc,
            cpus: &big_little(
                (&[0, 0x100, 0x200, 0x300], Some(308), "arm,cortex-a55"),
                (&[0x400, 0x500, 0x600, 0x700], Some(1024), "arm,cortex-a78"),
            ),
            bootargs: "",
        },
    );
}

#[test]
fn mt8173_elm() {
    check(
        "mt8173-elm.dtb",
        Expected {
            model: "Google Elm",
            memory: &[(0x4000_0000, 2 * GIB)],
            reserved: &[(0xb700_0000, 0x50_0000)],
            usable: &[
                (0x4000_0000, 0xb700_0000 - 0x4000_0000),
                (0xb750_0000, 0xc000_0000 - 0xb750_0000),
            ],
            console: (
                "/soc/serial@11002000",
                "mediatek,mt8173-uart",
                ConsoleKind::Ns16550,
                0x1100_2000,
                0x400,
                2,
                Some(115_200),
            ),
            gic: (2, (0x1022_1000, 0x1000), (0x1022_2000, 0x2000)),
            psci: PsciMethod::Smc,
            cpus: &big_little(
                (&[0, 1], Some(740), A53),
                (&[0x100, 0x101], Some(1024), "arm,cortex-a72"),
            ),
            bootargs: "",
        },
    );
}

#[test]
fn mt7622_rfb1_and_mt8516_pumpkin() {
    // Both: secmon@43000000 (0x30000 bytes) reserved, GIC-400, 2-cell MPIDRs on MT7622.
    check(
        "mt7622-rfb1.dtb",
        Expected {
            model: "MediaTek MT7622 RFB1 board",
            memory: &[(0x4000_0000, 512 << 20)],
            reserved: &[(0x4300_0000, 0x3_0000)],
            usable: &[
                (0x4000_0000, 0x300_0000),
                (0x4303_0000, 0x6000_0000 - 0x4303_0000),
            ],
            console: (
                "/serial@11002000",
                "mediatek,mt7622-uart",
                ConsoleKind::Ns16550,
                0x1100_2000,
                0x400,
                2,
                Some(115_200),
            ),
            gic: (2, (0x1031_0000, 0x1000), (0x1032_0000, 0x1000)),
            psci: PsciMethod::Smc,
            cpus: &uniform(2, A53),
            bootargs: "earlycon=uart8250,mmio32,0x11002000 swiotlb=512",
        },
    );
    check(
        "mt8516-pumpkin.dtb",
        Expected {
            model: "Pumpkin MT8516",
            memory: &[(0x4000_0000, GIB)],
            reserved: &[(0x4300_0000, 0x3_0000)],
            usable: &[
                (0x4000_0000, 0x300_0000),
                (0x4303_0000, 0x8000_0000 - 0x4303_0000),
            ],
            console: (
                "/soc/serial@11005000",
                "mediatek,mt8516-uart",
                ConsoleKind::Ns16550,
                0x1100_5000,
                0x1000,
                2,
                Some(921_600),
            ),
            gic: (2, (0x1031_0000, 0x1000), (0x1032_f000, 0x2000)),
            psci: PsciMethod::Smc,
            cpus: &uniform(4, "arm,cortex-a35"),
            bootargs: "",
        },
    );
}

#[test]
fn mt2712_evb_and_mt6797_x20() {
    check(
        "mt2712-evb.dtb",
        Expected {
            model: "MediaTek MT2712 evaluation board",
            memory: &[(0x4000_0000, 2 * GIB)],
            reserved: &[],
            usable: &[(0x4000_0000, 2 * GIB)],
            console: (
                "/serial@11002000",
                "mediatek,mt2712-uart",
                ConsoleKind::Ns16550,
                0x1100_2000,
                0x400,
                2,
                Some(921_600),
            ),
            gic: (2, (0x1051_0000, 0x1_0000), (0x1052_0000, 0x2_0000)),
            psci: PsciMethod::Smc,
            cpus: &big_little(
                (&[0, 1], None, "arm,cortex-a35"),
                (&[0x200], None, "arm,cortex-a72"),
            ),
            bootargs: "",
        },
    );
    let mut x20 = big_little(
        (&[0, 1, 2, 3], None, A53),
        (&[0x100, 0x101, 0x102, 0x103], None, A53),
    );
    x20.extend([
        (0x200, None, "arm,cortex-a72"),
        (0x201, None, "arm,cortex-a72"),
    ]);
    check(
        "mt6797-x20-dev.dtb",
        Expected {
            model: "Mediatek X20 Development Board",
            memory: &[(0x4000_0000, 2 * GIB)],
            reserved: &[],
            usable: &[(0x4000_0000, 2 * GIB)],
            console: (
                "/serial@11003000",
                "mediatek,mt6797-uart",
                ConsoleKind::Ns16550,
                0x1100_3000,
                0x400,
                2,
                Some(115_200),
            ),
            gic: (3, (0x1900_0000, 0x1_0000), (0x1920_0000, 0x20_0000)),
            psci: PsciMethod::Smc,
            cpus: &x20,
            bootargs: "",
        },
    );
}

#[test]
fn qemu_virt() {
    let q = |memory: &'static [(u64, u64)],
             gic,
             psci,
             cpus: &[(u64, Option<u32>, &'static str)],
             bootargs| {
        Expected {
            model: "linux,dummy-virt",
            memory,
            reserved: &[],
            usable: memory,
            console: QEMU_PL011,
            gic,
            psci,
            cpus: cpus.to_vec().leak(),
            bootargs,
        }
    };
    check(
        "qemu-virt-a53-smp4-256m.dtb",
        q(
            &[(0x4000_0000, 256 << 20)],
            QEMU_GIC2,
            PsciMethod::Hvc,
            &uniform(4, A53),
            "",
        ),
    );
    check(
        "qemu-virt-el2-a53-smp4-256m.dtb",
        q(
            &[(0x4000_0000, 256 << 20)],
            QEMU_GIC2,
            PsciMethod::Smc,
            &uniform(4, A53),
            "",
        ),
    );
    check(
        "qemu-virt-gic2-a72-smp2-512m.dtb",
        q(
            &[(0x4000_0000, 512 << 20)],
            QEMU_GIC2,
            PsciMethod::Hvc,
            &uniform(2, "arm,cortex-a72"),
            "",
        ),
    );
    // 5 GiB: the bank runs past 4 GiB (0x4000_0000 + 0x1_4000_0000).
    check(
        "qemu-virt-gic3-a53-smp4-5g.dtb",
        q(
            &[(0x4000_0000, 5 * GIB)],
            QEMU_GIC3,
            PsciMethod::Hvc,
            &uniform(4, A53),
            "",
        ),
    );
    // `-cpu max` is described to the guest as a Cortex-A57.
    check(
        "qemu-virt-el2-gic3-max-smp8-2g.dtb",
        q(
            &[(0x4000_0000, 2 * GIB)],
            QEMU_GIC3,
            PsciMethod::Smc,
            &uniform(8, "arm,cortex-a57"),
            "scenario=boot exit=semihosting note=\"a\\b\"",
        ),
    );
}

#[test]
fn edge_cases() {
    let bytes = dtb("edge-cases.dtb");
    let b = Board::from_dtb(&bytes).unwrap();
    check(
        "edge-cases.dtb",
        Expected {
            model: "Edge \"case\" board\\1",
            // The disabled memory@c0000000 is skipped; the second bank sits at 256 GiB.
            memory: &[(0x8000_0000, GIB), (0x40_0000_0000, 4 * GIB)],
            // secmon (reg), then both /memreserve/ entries; dynamic-pool (size only)
            // and the disabled off@90000000 are not reserved.
            reserved: &[
                (0x8010_0000, 0x10_0000),
                (0x8000_0000, 0x1_0000),
                (0x40_0000_0000, 0x1000),
            ],
            usable: &[
                (0x8001_0000, 0xf_0000),
                (0x8020_0000, 0xc000_0000 - 0x8020_0000),
                (0x40_0000_1000, 4 * GIB - 0x1000),
            ],
            // serial@1000 on bus@20000000 (ranges 0 -> 0x20000000) under soc (identity).
            console: (
                "/soc/bus@20000000/serial@1000",
                "snps,dw-apb-uart",
                ConsoleKind::Ns16550,
                0x2000_1000,
                0x100,
                2,
                Some(1_500_000),
            ),
            gic: (3, (0x0c00_0000, 0x1_0000), (0x0c04_0000, 0x20_0000)),
            psci: PsciMethod::Smc,
            // cpu@200 is disabled; cpu@100000000 has a 2-cell MPIDR with Aff3 set.
            cpus: &[
                (0, Some(512), "arm,cortex-a55"),
                (1 << 32, Some(1024), "arm,cortex-a78"),
            ],
            bootargs: "scenario=protect exit=semihosting",
        },
    );
    assert_eq!(b.console.unwrap().reg_io_width, 4);
    let pci = b.pci.expect("edge-cases.dtb: pcie@30000000");
    assert_eq!(pci.ecam, Region::new(0x3000_0000, 0x20_0000));
    assert_eq!(
        (pci.bus_start, pci.bus_end),
        (0x10, 0x11),
        "cut to the window"
    );
    assert_eq!(
        pci.io.map(|w| (w.pci, w.cpu, w.size)),
        Some((0, 0x3eff_0000, 0x1_0000))
    );
    assert_eq!(
        pci.mem32.map(|w| (w.pci, w.cpu, w.size)),
        Some((0x1000_0000, 0x1000_0000, 0x100_0000))
    );
    assert_eq!(
        b.usable_bytes(),
        0xf_0000 + (0xc000_0000 - 0x8020_0000) + 4 * GIB - 0x1000
    );
}

/// `placement=capacity` on the real boards: compression on a big core, kswapd on a
/// little one; on QEMU's DTBs (no capacities) nothing is chosen.
#[test]
fn placement_by_capacity_on_real_boards() {
    use platform::placement::{PlacementError, by_capacity};
    for (file, kswapd, kcompressd, workload) in [
        ("mt8173-elm.dtb", 1, 2, 3),
        ("mt8183-evb.dtb", 1, 4, 5),
        ("mt8192-asurada-spherion-r0.dtb", 1, 4, 5),
        ("mt8195-cherry-tomato-r2.dtb", 1, 4, 5),
    ] {
        let bytes = dtb(file);
        let b = Board::from_dtb(&bytes).unwrap();
        let caps: Vec<Option<u32>> = b.cpus.iter().map(|c| c.capacity).collect();
        let online: Vec<u32> = (0..caps.len() as u32).collect();
        let p = by_capacity(&caps, &online, 1).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (p.kswapd, p.kcompressd.as_slice(), p.workload),
            (kswapd, &[kcompressd][..], workload),
            "{file}"
        );
    }
    let bytes = dtb("qemu-virt-a53-smp4-256m.dtb");
    let b = Board::from_dtb(&bytes).unwrap();
    let caps: Vec<Option<u32>> = b.cpus.iter().map(|c| c.capacity).collect();
    assert_eq!(
        by_capacity(&caps, &[0, 1, 2, 3], 1),
        Err(PlacementError::Uniform)
    );
}

/// QEMU virt's `pcie@10000000` (`pci-host-ecam-generic`): the high ECAM window for
/// buses 0-255, the 64 KiB I/O window at 0x3eff0000 and the 32-bit memory window; no
/// MediaTek board has a generic ECAM bridge (theirs are `mediatek,*-pcie`).
#[test]
fn generic_ecam_host_bridges() {
    use platform::pci::{PciHost, Window};
    let qemu = PciHost {
        ecam: Region::new(0x40_1000_0000, 0x1000_0000),
        bus_start: 0,
        bus_end: 255,
        io: Some(Window {
            pci: 0,
            cpu: 0x3eff_0000,
            size: 0x1_0000,
        }),
        mem32: Some(Window {
            pci: 0x1000_0000,
            cpu: 0x1000_0000,
            size: 0x2eff_0000,
        }),
    };
    for file in [
        "qemu-virt-a53-smp4-256m.dtb",
        "qemu-virt-gic2-a72-smp2-512m.dtb",
        "qemu-virt-el2-gic3-max-smp8-2g.dtb",
    ] {
        let bytes = dtb(file);
        let board = Board::from_dtb(&bytes).unwrap();
        assert_eq!(board.pci, Some(qemu), "{file}");
    }
    for file in ["mt8192-asurada-spherion-r0.dtb", "mt8183-evb.dtb"] {
        let bytes = dtb(file);
        assert_eq!(Board::from_dtb(&bytes).unwrap().pci, None, "{file}");
    }
}
