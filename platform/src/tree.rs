//! Reading typed values out of a checked FDT: string and cell properties,
//! `reg` decoding with the parent's `#address-cells`/`#size-cells`, path lookup and
//! translation of bus addresses through `ranges`. Knows nothing about what a board has.

use crate::board::DtbError;
use crate::fdt::Node;
use crate::regions::Region;
use arrayvec::ArrayVec;

/// Deepest node path we follow or search (real trees are 4-5 levels deep); bounds the
/// recursion of the GIC search on hostile input.
pub(crate) const MAX_DEPTH: usize = 16;

/// A node together with its ancestors, root first, node last.
pub(crate) type NodePath<'a> = ArrayVec<Node<'a>, MAX_DEPTH>;

fn bad(property: &'static str, reason: &'static str) -> DtbError {
    DtbError::BadProperty { property, reason }
}

pub(crate) fn raw<'a>(node: &Node<'a>, name: &str) -> Option<&'a [u8]> {
    node.property(name)
}

/// A string property: bytes up to the first NUL, which must exist, as UTF-8.
pub(crate) fn string<'a>(node: &Node<'a>, name: &'static str) -> Result<Option<&'a str>, DtbError> {
    raw(node, name).map(|v| string_value(v, name)).transpose()
}

/// A string value: bytes up to the first NUL, which must exist, as UTF-8.
pub(crate) fn string_value<'a>(
    value: &'a [u8],
    property: &'static str,
) -> Result<&'a str, DtbError> {
    let nul = value
        .iter()
        .position(|&b| b == 0)
        .ok_or(bad(property, "string is not NUL-terminated"))?;
    core::str::from_utf8(&value[..nul]).map_err(|_| bad(property, "string is not UTF-8"))
}

/// Every string of a string-list property (e.g. `compatible`).
pub(crate) fn strings<'a>(
    node: &Node<'a>,
    name: &'static str,
) -> Result<impl Iterator<Item = &'a str> + Clone + use<'a>, DtbError> {
    let value = raw(node, name).unwrap_or(&[]);
    if value.last().is_some_and(|&b| b != 0) {
        return Err(bad(name, "string list is not NUL-terminated"));
    }
    if core::str::from_utf8(value).is_err() {
        return Err(bad(name, "string list is not UTF-8"));
    }
    Ok(value
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| core::str::from_utf8(s).ok()))
}

pub(crate) fn u32_prop(node: &Node<'_>, name: &'static str) -> Result<Option<u32>, DtbError> {
    match raw(node, name) {
        None => Ok(None),
        Some(&[a, b, c, d]) => Ok(Some(u32::from_be_bytes([a, b, c, d]))),
        Some(_) => Err(bad(name, "expected one 32-bit cell")),
    }
}

/// `status` absent, "okay" or "ok" (the old spelling Linux still accepts).
pub(crate) fn is_enabled(node: &Node<'_>) -> bool {
    matches!(string(node, "status"), Ok(None | Some("okay" | "ok")))
}

/// The `#address-cells` and `#size-cells` a node gives its children (defaults 2 and 1,
/// as in the devicetree specification).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cells {
    pub address: u32,
    pub size: u32,
}

pub(crate) fn child_cells(node: &Node<'_>) -> Result<Cells, DtbError> {
    Ok(Cells {
        address: u32_prop(node, "#address-cells")?.unwrap_or(2),
        size: u32_prop(node, "#size-cells")?.unwrap_or(1),
    })
}

/// Reads a big-endian number of `cells` 32-bit cells from the front of `bytes`.
fn take_number(bytes: &mut &[u8], cells: u32, property: &'static str) -> Result<u64, DtbError> {
    if cells > 2 {
        return Err(bad(property, "more than 2 cells (64 bits) in a number"));
    }
    let len = cells as usize * 4;
    let (number, rest) = bytes
        .split_at_checked(len)
        .ok_or(bad(property, "truncated"))?;
    *bytes = rest;
    Ok(number
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// Entries of a `reg`-like property made of (address, size) pairs, each region checked
/// not to wrap past 2^64.
pub(crate) fn regions<'v>(
    value: &'v [u8],
    cells: Cells,
    property: &'static str,
) -> Result<impl Iterator<Item = Result<Region, DtbError>> + 'v, DtbError> {
    let entry = (cells.address as usize + cells.size as usize) * 4;
    if entry == 0 || !value.len().is_multiple_of(entry) || cells.address > 2 || cells.size > 2 {
        return Err(bad(
            property,
            "length is not a multiple of (#address-cells + #size-cells), or cells > 2",
        ));
    }
    Ok(value.chunks_exact(entry).map(move |mut chunk| {
        let base = take_number(&mut chunk, cells.address, property)?;
        let size = take_number(&mut chunk, cells.size, property)?;
        base.checked_add(size).ok_or(bad(
            property,
            "region wraps past the end of the address space",
        ))?;
        Ok(Region::new(base, size))
    }))
}

/// Follows an absolute path (`/soc/serial@11002000`); a component without `@` matches
/// a node name without its unit address, as Linux does.
pub(crate) fn find_path<'a>(root: Node<'a>, path: &str) -> Result<Option<NodePath<'a>>, DtbError> {
    let mut nodes = NodePath::new();
    nodes.push(root);
    let mut node = root;
    for component in path.split('/').filter(|c| !c.is_empty()) {
        let Some(child) = node.child(component) else {
            return Ok(None);
        };
        node = child;
        nodes
            .try_push(node)
            .map_err(|_| DtbError::TooDeep { max: MAX_DEPTH })?;
    }
    Ok(Some(nodes))
}

/// The `reg` entries of the last node of `path`, translated to CPU physical addresses
/// through every ancestor bus's `ranges` (an empty `ranges` is the identity map).
pub(crate) fn translated_reg<'a>(
    path: &NodePath<'a>,
) -> Result<impl Iterator<Item = Result<Region, DtbError>> + use<'a>, DtbError> {
    let (node, ancestors) = path.split_last().ok_or(bad("reg", "node has no parent"))?;
    let parent = ancestors.last().ok_or(bad("reg", "node has no parent"))?;
    let value = raw(node, "reg").ok_or(bad("reg", "missing"))?;
    let entries = regions(value, child_cells(parent)?, "reg")?;
    let buses: NodePath<'a> = ancestors.iter().copied().collect();
    Ok(entries.map(move |entry| {
        let r = entry?;
        Ok(Region::new(translate(&buses, r.base)?, r.size))
    }))
}

/// Maps `addr`, an address on the bus of the last node of `buses`, up to the root.
pub(crate) fn translate(buses: &[Node<'_>], mut addr: u64) -> Result<u64, DtbError> {
    for pair in buses.windows(2).rev() {
        let (up, bus) = (&pair[0], &pair[1]);
        let ranges = raw(bus, "ranges").ok_or(bad(
            "ranges",
            "a bus between the device and the root has no ranges",
        ))?;
        if ranges.is_empty() {
            continue;
        }
        let own = child_cells(bus)?;
        let parent_address = child_cells(up)?.address;
        let entry = (own.address as usize + parent_address as usize + own.size as usize) * 4;
        if entry == 0 || !ranges.len().is_multiple_of(entry) {
            return Err(bad("ranges", "length is not a multiple of the entry size"));
        }
        let mut mapped = None;
        for mut chunk in ranges.chunks_exact(entry) {
            let child = take_number(&mut chunk, own.address, "ranges")?;
            let parent = take_number(&mut chunk, parent_address, "ranges")?;
            let size = take_number(&mut chunk, own.size, "ranges")?;
            if addr >= child && addr - child < size {
                mapped = Some(
                    parent
                        .checked_add(addr - child)
                        .ok_or(bad("ranges", "translated address wraps"))?,
                );
                break;
            }
        }
        addr = mapped.ok_or(bad("ranges", "address not covered by the bus's ranges"))?;
    }
    Ok(addr)
}
