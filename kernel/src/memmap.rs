//! The kernel's final memory map, decided from the link-time layout and the board:
//! usable RAM read/write execute-never, kernel text read-only executable, rodata
//! read-only, data/BSS/stacks read/write, guard pages and the first 2 MiB unmapped,
//! devices Device-nGnRE. Writes into `PageTables`; knows nothing of registers.

use crate::pgtable::{MemAttr, PAGE_SIZE, PageTables, PgError};

/// Nothing is ever mapped below this address, so a null pointer (or a small offset
/// from one) always faults, even on boards whose RAM starts at 0.
pub const NULL_GUARD_END: u64 = 2 << 20;

/// A physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    /// The whole pages inside the span.
    const fn pages_inside(self) -> Span {
        Span::new(
            self.start.div_ceil(PAGE_SIZE) * PAGE_SIZE,
            self.end / PAGE_SIZE * PAGE_SIZE,
        )
    }

    /// The pages the span touches.
    const fn pages_around(self) -> Span {
        Span::new(
            self.start / PAGE_SIZE * PAGE_SIZE,
            self.end.div_ceil(PAGE_SIZE) * PAGE_SIZE,
        )
    }
}

/// The kernel image where it runs (linker.ld's section bounds at their run addresses,
/// which differ from the link addresses when the loader put the Image elsewhere), all
/// page-aligned.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// `__image_start..__text_end`: header and code.
    pub text: Span,
    /// `__text_end..__rodata_end`: read-only data and the relocation table.
    pub rodata: Span,
    /// `__rodata_end..__kernel_end`: data, BSS, page tables, stacks.
    pub data: Span,
}

/// Builds the final map: `ram` (usable memory), then the kernel image, the DTB
/// read-only, the devices, then unmaps `guards` and everything below
/// `NULL_GUARD_END`. Later steps win where ranges overlap.
pub fn build(
    tables: &mut PageTables<'_>,
    ram: &[Span],
    image: &KernelImage,
    dtb: Option<Span>,
    devices: &[Span],
    guards: &[Span],
) -> Result<(), PgError> {
    for r in ram {
        let r = r.pages_inside();
        let start = r.start.max(NULL_GUARD_END);
        if start < r.end {
            tables.map(start, r.end, MemAttr::NormalRw)?;
        }
    }
    tables.map(image.text.start, image.text.end, MemAttr::NormalRx)?;
    tables.map(image.rodata.start, image.rodata.end, MemAttr::NormalRo)?;
    tables.map(image.data.start, image.data.end, MemAttr::NormalRw)?;
    if let Some(dtb) = dtb {
        let d = dtb.pages_around();
        tables.map(d.start, d.end, MemAttr::NormalRo)?;
    }
    for dev in devices {
        let d = dev.pages_around();
        tables.map(d.start, d.end, MemAttr::Device)?;
    }
    for g in guards {
        tables.unmap(g.start, g.end)?;
    }
    tables.unmap(0, NULL_GUARD_END)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgtable::Table;

    const IMAGE: KernelImage = KernelImage {
        text: Span::new(0x4008_0000, 0x4009_0000),
        rodata: Span::new(0x4009_0000, 0x4009_4000),
        data: Span::new(0x4009_4000, 0x4020_0000),
    };

    #[test]
    fn qemu_like_board_is_wx_and_guarded() {
        let mut pool = vec![Table::EMPTY; 64];
        let mut t = PageTables::new(&mut pool).unwrap();
        let ram = [Span::new(0x4000_0000, 0x6000_0000)];
        let devices = [
            Span::new(0x0900_0000, 0x0900_0100),
            Span::new(0x0800_0000, 0x0801_0000),
        ];
        let guards = [Span::new(0x4010_0000, 0x4010_1000)];
        let dtb = Span::new(0x4800_0010, 0x4800_2000);
        build(&mut t, &ram, &IMAGE, Some(dtb), &devices, &guards).unwrap();

        let attr = |va| t.translate(va).map(|(a, _)| a);
        assert_eq!(attr(0), None);
        assert_eq!(attr(0x4008_0000), Some(MemAttr::NormalRx));
        assert_eq!(attr(0x4009_3fff), Some(MemAttr::NormalRo));
        assert_eq!(attr(0x4009_4000), Some(MemAttr::NormalRw));
        assert_eq!(attr(0x4010_0800), None);
        assert_eq!(attr(0x4800_0000), Some(MemAttr::NormalRo));
        assert_eq!(attr(0x4800_2000), Some(MemAttr::NormalRw));
        assert_eq!(attr(0x0900_0000), Some(MemAttr::Device));
        assert_eq!(attr(0x0900_1000), None);
        assert_eq!(attr(0x5fff_ffff), Some(MemAttr::NormalRw));
        assert_eq!(attr(0x6000_0000), None);
        // The only executable leaves are the kernel text.
        t.for_each_leaf(|start, end, a| {
            if a == MemAttr::NormalRx {
                assert!(start >= IMAGE.text.start && end <= IMAGE.text.end);
            }
        });
    }

    #[test]
    fn ram_at_zero_keeps_the_null_guard() {
        let mut pool = vec![Table::EMPTY; 64];
        let mut t = PageTables::new(&mut pool).unwrap();
        let ram = [
            Span::new(0, 0x1000_0000),
            Span::new(0x4000_0000, 0x4040_0000),
        ];
        build(&mut t, &ram, &IMAGE, None, &[Span::new(0, 0x1000)], &[]).unwrap();
        assert_eq!(t.translate(0), None);
        assert_eq!(t.translate(NULL_GUARD_END - 1), None);
        assert_eq!(
            t.translate(NULL_GUARD_END).map(|(a, _)| a),
            Some(MemAttr::NormalRw)
        );
    }

    #[test]
    fn unaligned_ram_is_trimmed_to_whole_pages() {
        let mut pool = vec![Table::EMPTY; 64];
        let mut t = PageTables::new(&mut pool).unwrap();
        let ram = [Span::new(0x5000_0800, 0x5000_3800)];
        build(&mut t, &ram, &IMAGE, None, &[], &[]).unwrap();
        assert_eq!(t.translate(0x5000_0000), None);
        assert!(t.translate(0x5000_1000).is_some());
        assert!(t.translate(0x5000_2fff).is_some());
        assert_eq!(t.translate(0x5000_3000), None);
    }
}
