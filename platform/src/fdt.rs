//! A small read-only flattened-devicetree (DTB) reader: header, memory-reservation
//! block, structure block tokens, strings block. `Fdt::new` checks the whole blob once
//! (offsets, sizes, overlaps, every token, name and string); the accessors then still
//! bounds-check every read and end an iteration instead of panicking. No allocation.
//! Knows the format only; what the nodes mean is board.rs's business.

use crate::board::DtbError;

const FDT_MAGIC: u32 = 0xd00d_feed;
const HEADER_SIZE: usize = 40;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_NOP: u32 = 4;
const FDT_END: u32 = 9;
/// Deepest nesting accepted (real trees are 4-6 levels deep).
pub(crate) const MAX_NESTING: usize = 32;

fn be32(data: &[u8], offset: usize) -> Option<u32> {
    let bytes = data.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn be64(data: &[u8], offset: usize) -> Option<u64> {
    Some(u64::from(be32(data, offset)?) << 32 | u64::from(be32(data, offset.checked_add(4)?)?))
}

/// The bytes of the NUL-terminated string at `offset`, without the NUL.
fn c_string(data: &[u8], offset: usize) -> Option<&[u8]> {
    let tail = data.get(offset..)?;
    let len = tail.iter().position(|&b| b == 0)?;
    tail.get(..len)
}

const fn align4(offset: usize) -> usize {
    (offset + 3) & !3
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fdt<'a> {
    structure: &'a [u8],
    strings: &'a [u8],
    reservations: &'a [u8],
}

fn malformed(offset: usize, reason: &'static str) -> DtbError {
    DtbError::Malformed { offset, reason }
}

/// A block `[offset, offset + size)` of the blob, checked to lie inside it.
fn block(
    blob: &[u8],
    offset: u32,
    size: u32,
    field: usize,
    what: &'static str,
) -> Result<(usize, usize), DtbError> {
    let start = offset as usize;
    let end = start
        .checked_add(size as usize)
        .filter(|&end| start >= HEADER_SIZE && end <= blob.len())
        .ok_or(malformed(field, what))?;
    Ok((start, end))
}

impl<'a> Fdt<'a> {
    /// Checks and opens a blob of exactly `totalsize` bytes.
    pub(crate) fn new(blob: &'a [u8]) -> Result<Self, DtbError> {
        let word = |i: usize| be32(blob, i * 4).ok_or(malformed(0, "shorter than the header"));
        if word(0)? != FDT_MAGIC {
            return Err(malformed(0, "bad magic"));
        }
        if word(1)? as usize != blob.len() {
            return Err(malformed(4, "totalsize differs from the blob length"));
        }
        let (version, last_compatible) = (word(5)?, word(6)?);
        if version < 17 || last_compatible > 17 {
            return Err(malformed(
                20,
                "unsupported FDT version (need 17-compatible)",
            ));
        }
        let (struct_start, struct_end) = block(
            blob,
            word(2)?,
            word(9)?,
            8,
            "structure block outside the blob",
        )?;
        let (strings_start, strings_end) = block(
            blob,
            word(3)?,
            word(8)?,
            12,
            "strings block outside the blob",
        )?;
        if struct_start < strings_end && strings_start < struct_end {
            return Err(malformed(8, "structure and strings blocks overlap"));
        }
        if !struct_start.is_multiple_of(4) {
            return Err(malformed(8, "structure block not 4-byte aligned"));
        }
        // The reservation block has no size field: it runs to its (0, 0) terminator,
        // which must come before the next block (or the end of the blob).
        let rsv_start = word(4)? as usize;
        let rsv_limit = [struct_start, strings_start, blob.len()]
            .into_iter()
            .filter(|&b| b > rsv_start)
            .min()
            .unwrap_or(rsv_start);
        if rsv_start < HEADER_SIZE || !rsv_start.is_multiple_of(8) || rsv_start >= blob.len() {
            return Err(malformed(16, "memory reservation block misplaced"));
        }
        let overlaps = |start: usize, end: usize| rsv_start < end && start <= rsv_start;
        if overlaps(struct_start, struct_end) || overlaps(strings_start, strings_end) {
            return Err(malformed(
                16,
                "memory reservation block overlaps another block",
            ));
        }
        let mut rsv_end = rsv_start;
        loop {
            let (address, size) = be64(blob, rsv_end)
                .zip(be64(blob, rsv_end + 8))
                .filter(|_| rsv_end + 16 <= rsv_limit)
                .ok_or(malformed(
                    rsv_end,
                    "memory reservation block not terminated",
                ))?;
            rsv_end += 16;
            if address == 0 && size == 0 {
                break;
            }
        }
        let fdt = Fdt {
            structure: &blob[struct_start..struct_end],
            strings: &blob[strings_start..strings_end],
            reservations: &blob[rsv_start..rsv_end - 16],
        };
        fdt.check_structure()
            .map_err(|(offset, reason)| malformed(struct_start + offset, reason))?;
        Ok(fdt)
    }

    /// One pass over every token: nesting, names, property bounds and name strings.
    fn check_structure(&self) -> Result<(), (usize, &'static str)> {
        let s = self.structure;
        let (mut offset, mut depth) = (0usize, 0usize);
        let (mut root_closed, mut properties_allowed) = (false, false);
        loop {
            let token = be32(s, offset).ok_or((offset, "structure block ends without FDT_END"))?;
            match token {
                FDT_BEGIN_NODE => {
                    if root_closed {
                        return Err((offset, "node after the root node"));
                    }
                    let name =
                        c_string(s, offset + 4).ok_or((offset, "node name not terminated"))?;
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Err((offset, "nodes nested too deep"));
                    }
                    offset = align4(offset + 4 + name.len() + 1);
                    properties_allowed = true;
                }
                FDT_END_NODE => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or((offset, "FDT_END_NODE without a node"))?;
                    root_closed = depth == 0;
                    properties_allowed = false;
                    offset += 4;
                }
                FDT_PROP => {
                    if !properties_allowed {
                        return Err((offset, "property outside a node or after a child node"));
                    }
                    let (len, name) = be32(s, offset + 4)
                        .zip(be32(s, offset + 8))
                        .ok_or((offset, "property header truncated"))?;
                    let end = (offset + 12)
                        .checked_add(len as usize)
                        .filter(|&end| end <= s.len())
                        .ok_or((offset, "property value runs past the structure block"))?;
                    c_string(self.strings, name as usize).ok_or((
                        offset,
                        "property name outside the strings block or not terminated",
                    ))?;
                    offset = align4(end);
                }
                FDT_NOP => offset += 4,
                FDT_END if root_closed => return Ok(()),
                FDT_END => return Err((offset, "FDT_END inside a node or before the root")),
                _ => return Err((offset, "unknown token")),
            }
        }
    }

    pub(crate) fn root(&self) -> Node<'a> {
        // The structure may open with NOPs; check_structure made sure a node follows.
        let mut offset = 0;
        while be32(self.structure, offset) == Some(FDT_NOP) {
            offset += 4;
        }
        Node { fdt: *self, offset }
    }

    /// `/memreserve/` entries as (address, size), terminator excluded.
    pub(crate) fn memory_reservations(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        let block = self.reservations;
        block
            .chunks_exact(16)
            .filter_map(|entry| Some((be64(entry, 0)?, be64(entry, 8)?)))
    }
}

/// A node: the offset of its FDT_BEGIN_NODE token in the structure block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    fdt: Fdt<'a>,
    offset: usize,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Property<'a> {
    pub name: &'a [u8],
    pub value: &'a [u8],
}

impl<'a> Node<'a> {
    /// Full name with unit address (`serial@11002000`); empty for the root.
    pub(crate) fn name(&self) -> &'a [u8] {
        c_string(self.fdt.structure, self.offset + 4).unwrap_or(&[])
    }

    /// Offset of the first token after the name.
    fn body(&self) -> usize {
        align4(self.offset + 4 + self.name().len() + 1)
    }

    pub(crate) fn properties(&self) -> impl Iterator<Item = Property<'a>> + use<'a> {
        let (s, strings) = (self.fdt.structure, self.fdt.strings);
        let mut offset = self.body();
        core::iter::from_fn(move || {
            loop {
                match be32(s, offset)? {
                    FDT_NOP => offset += 4,
                    FDT_PROP => {
                        let len = be32(s, offset + 4)? as usize;
                        let name = c_string(strings, be32(s, offset + 8)? as usize)?;
                        let value = s.get(offset + 12..(offset + 12).checked_add(len)?)?;
                        offset = align4(offset + 12 + len);
                        return Some(Property { name, value });
                    }
                    _ => return None,
                }
            }
        })
    }

    pub(crate) fn property(&self, name: &str) -> Option<&'a [u8]> {
        self.properties()
            .find(|p| p.name == name.as_bytes())
            .map(|p| p.value)
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = Node<'a>> + use<'a> {
        let fdt = self.fdt;
        let s = fdt.structure;
        // Skip this node's properties; then each child starts at a BEGIN_NODE.
        let mut offset = self.body();
        while let Some(FDT_NOP | FDT_PROP) = be32(s, offset) {
            offset = match be32(s, offset) {
                Some(FDT_PROP) => {
                    be32(s, offset + 4).map_or(s.len(), |len| align4(offset + 12 + len as usize))
                }
                _ => offset + 4,
            };
        }
        core::iter::from_fn(move || {
            loop {
                match be32(s, offset)? {
                    FDT_NOP => offset += 4,
                    FDT_BEGIN_NODE => {
                        let child = Node { fdt, offset };
                        offset = child.end()?;
                        return Some(child);
                    }
                    _ => return None,
                }
            }
        })
    }

    /// Offset just past this node's FDT_END_NODE.
    fn end(&self) -> Option<usize> {
        let s = self.fdt.structure;
        let (mut offset, mut depth) = (self.offset, 0usize);
        loop {
            match be32(s, offset)? {
                FDT_BEGIN_NODE => {
                    depth += 1;
                    offset = align4(offset + 4 + c_string(s, offset + 4)?.len() + 1);
                }
                FDT_END_NODE => {
                    depth = depth.checked_sub(1)?;
                    offset += 4;
                    if depth == 0 {
                        return Some(offset);
                    }
                }
                FDT_PROP => offset = align4(offset + 12 + be32(s, offset + 4)? as usize),
                FDT_NOP => offset += 4,
                _ => return None,
            }
        }
    }

    /// The child called `name`; without `@` in `name`, the unit address is ignored
    /// (`memory` matches `memory@40000000`), as Linux's path lookup does.
    pub(crate) fn child(&self, name: &str) -> Option<Node<'a>> {
        let want = name.as_bytes();
        let with_address = want.contains(&b'@');
        self.children().find(|c| {
            let full = c.name();
            let base = if with_address {
                full
            } else {
                full.split(|&b| b == b'@').next().unwrap_or(full)
            };
            base == want
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid blob: header, empty reservation map, root with one property
    /// `a = <7>` and one child `c@1`.
    fn tiny() -> Vec<u8> {
        let mut structure = Vec::new();
        let mut put = |w: u32| structure.extend_from_slice(&w.to_be_bytes());
        put(FDT_BEGIN_NODE);
        put(0);
        put(FDT_PROP);
        put(4);
        put(0);
        put(7);
        put(FDT_BEGIN_NODE);
        put(u32::from_be_bytes(*b"c@1\0"));
        put(FDT_END_NODE);
        put(FDT_END_NODE);
        put(FDT_END);
        let strings = b"a\0";
        let rsv = 40;
        let st = rsv + 16;
        let sg = st + structure.len();
        let total = sg + strings.len();
        let mut blob = Vec::new();
        for w in [
            FDT_MAGIC,
            total as u32,
            st as u32,
            sg as u32,
            rsv as u32,
            17,
            16,
            0,
            strings.len() as u32,
            structure.len() as u32,
        ] {
            blob.extend_from_slice(&w.to_be_bytes());
        }
        blob.extend_from_slice(&[0; 16]);
        blob.extend_from_slice(&structure);
        blob.extend_from_slice(strings);
        blob
    }

    #[test]
    fn reads_a_minimal_blob() {
        let blob = tiny();
        let fdt = Fdt::new(&blob).unwrap();
        let root = fdt.root();
        assert_eq!(root.property("a"), Some(&[0, 0, 0, 7][..]));
        assert_eq!(root.child("c").map(|c| c.name()), Some(&b"c@1"[..]));
        assert!(root.child("c@2").is_none());
        assert_eq!(fdt.memory_reservations().count(), 0);
    }

    fn reason(blob: &[u8]) -> &'static str {
        match Fdt::new(blob) {
            Err(DtbError::Malformed { reason, .. }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn refuses_each_kind_of_damage() {
        let good = tiny();
        let patch = |at: usize, w: u32| {
            let mut b = good.clone();
            b[at..at + 4].copy_from_slice(&w.to_be_bytes());
            b
        };
        let st = 56;
        assert_eq!(reason(&patch(0, 0)), "bad magic");
        assert_eq!(
            reason(&good[..good.len() - 1]),
            "totalsize differs from the blob length"
        );
        assert_eq!(
            reason(&patch(20, 16)),
            "unsupported FDT version (need 17-compatible)"
        );
        assert_eq!(
            reason(&patch(36, 0x1000)),
            "structure block outside the blob"
        );
        assert_eq!(
            reason(&patch(12, st as u32)),
            "structure and strings blocks overlap"
        );
        assert_eq!(reason(&patch(16, 44)), "memory reservation block misplaced");
        assert_eq!(
            reason(&patch(40, 1)),
            "memory reservation block not terminated"
        );
        assert_eq!(
            reason(&patch(st + 16, 99)),
            "property name outside the strings block or not terminated"
        );
        assert_eq!(
            reason(&patch(st + 12, 0x100)),
            "property value runs past the structure block"
        );
        assert_eq!(
            reason(&patch(st, FDT_END_NODE)),
            "FDT_END_NODE without a node"
        );
        assert_eq!(reason(&patch(st + 24, 0x77)), "unknown token");
        assert_eq!(
            reason(&patch(st + 36, FDT_END)),
            "FDT_END inside a node or before the root"
        );
        // The structure block cut right after the child's name, whose NUL is gone.
        let mut cut = patch(st + 28, u32::from_be_bytes(*b"c@1x"));
        cut[36..40].copy_from_slice(&32u32.to_be_bytes());
        assert_eq!(reason(&cut), "node name not terminated");
    }
}
