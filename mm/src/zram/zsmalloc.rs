//! zsmalloc's object allocator for the compressed store: size classes 16 bytes apart, each
//! packing its objects into "zspages" of 1-4 frames taken from the `FrameSource` (objects
//! may straddle frames, as in zsmalloc). Descriptors live out of band in a table the
//! caller lent, never in the arena, so corrupt arena bytes cannot mislead the allocator.
//! Owns the frames it took and nothing else; knows nothing of slots or compression.

use super::{FrameSource, StoreError};
use crate::addr::{PAGE_SIZE, Pfn};

/// Smallest object class (zsmalloc's `ZS_MIN_ALLOC_SIZE`).
pub const ZS_MIN_ALLOC_SIZE: usize = 32;
/// Distance between size classes (zsmalloc's `ZS_SIZE_CLASS_DELTA`).
pub const ZS_SIZE_CLASS_DELTA: usize = 16;
/// Compressed sizes above this are stored as a whole page (zram's `huge_class_size`).
pub const HUGE_CLASS_SIZE: usize = 3072;
/// Frames per zspage at most (zsmalloc's `ZS_MAX_PAGES_PER_ZSPAGE`).
pub const ZS_MAX_PAGES_PER_ZSPAGE: usize = 4;
/// Objects per zspage at most: bounds the out-of-band allocation bitmap to 128 bits.
const ZS_MAX_OBJS_PER_ZSPAGE: usize = 128;
/// Number of packed classes; the whole-page class comes after them.
pub const NR_SIZE_CLASSES: usize = (HUGE_CLASS_SIZE - ZS_MIN_ALLOC_SIZE) / ZS_SIZE_CLASS_DELTA + 1;
/// Index of the class of pages stored whole, one per frame.
pub const HUGE_CLASS: usize = NR_SIZE_CLASSES;

#[derive(Copy, Clone)]
struct ClassInfo {
    size: usize,
    pages: usize,
    objs: usize,
}

/// Per class, the frames per zspage that waste the smallest fraction of the zspage
/// (zsmalloc's `get_pages_per_zspage`), keeping at most 128 objects per zspage.
const CLASSES: [ClassInfo; NR_SIZE_CLASSES + 1] = build_classes();

const fn build_classes() -> [ClassInfo; NR_SIZE_CLASSES + 1] {
    let mut table = [ClassInfo {
        size: PAGE_SIZE,
        pages: 1,
        objs: 1,
    }; NR_SIZE_CLASSES + 1];
    let mut class = 0;
    while class < NR_SIZE_CLASSES {
        let size = ZS_MIN_ALLOC_SIZE + class * ZS_SIZE_CLASS_DELTA;
        let (mut best_pages, mut best_waste) = (0, 0);
        let mut pages = 1;
        while pages <= ZS_MAX_PAGES_PER_ZSPAGE {
            let bytes = pages * PAGE_SIZE;
            let objs = bytes / size;
            let waste = bytes - objs * size;
            // waste/bytes < best_waste/best_bytes, without division.
            if objs <= ZS_MAX_OBJS_PER_ZSPAGE
                && (best_pages == 0 || waste * best_pages < best_waste * pages)
            {
                best_pages = pages;
                best_waste = waste;
            }
            pages += 1;
        }
        table[class] = ClassInfo {
            size,
            pages: best_pages,
            objs: best_pages * PAGE_SIZE / size,
        };
        class += 1;
    }
    table
}

/// The packed class holding objects of `len` bytes (1..=`HUGE_CLASS_SIZE`).
pub const fn class_of_len(len: usize) -> Option<usize> {
    if len == 0 || len > HUGE_CLASS_SIZE {
        None
    } else if len <= ZS_MIN_ALLOC_SIZE {
        Some(0)
    } else {
        Some((len - ZS_MIN_ALLOC_SIZE).div_ceil(ZS_SIZE_CLASS_DELTA))
    }
}

const NIL: u32 = u32::MAX;

const ZS_FREE: u8 = 0;
const ZS_NONFULL: u8 = 1;
const ZS_FULL: u8 = 2;
/// Picked by compaction as a source: no allocation from it until it is released.
const ZS_ISOLATED: u8 = 3;

/// Out-of-band descriptor of one zspage. Integers only, so every bit pattern is a valid
/// value: the table is caller memory reinterpreted in place.
#[repr(C)]
#[derive(Copy, Clone)]
pub struct ZsPage {
    pfns: [u64; ZS_MAX_PAGES_PER_ZSPAGE],
    used: [u64; 2],
    next: u32,
    prev: u32,
    inuse: u16,
    class: u8,
    state: u8,
    _pad: u32,
}

/// Size of a descriptor in 64-bit words.
pub const ZSPAGE_WORDS: usize = size_of::<ZsPage>() / 8;
const _: () = assert!(size_of::<ZsPage>() == 64 && align_of::<ZsPage>() <= 8);

/// Where an object lives: descriptor index and object index within the zspage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ObjRef {
    zspage: u32,
    obj: u8,
}

impl ObjRef {
    /// The handle stored in a slot.
    pub const fn raw(self) -> u64 {
        (self.zspage as u64) << 8 | self.obj as u64
    }
}

/// All zspages of all classes, over a descriptor table sized at creation.
pub struct Pool<'m> {
    zspages: &'m mut [ZsPage],
    /// Head of the list of unused descriptors.
    free_desc: u32,
    /// Per class, the zspages with at least one free object (zsmalloc's fullness lists,
    /// reduced to "not full").
    nonfull: [u32; NR_SIZE_CLASSES + 1],
    /// Sources picked by a compaction in progress.
    isolated: u32,
    frames_held: usize,
}

impl<'m> Pool<'m> {
    /// Takes over `zspages`, whatever it held.
    pub fn new(zspages: &'m mut [ZsPage]) -> Self {
        let count = zspages.len();
        for (i, desc) in zspages.iter_mut().enumerate() {
            *desc = ZsPage {
                pfns: [0; ZS_MAX_PAGES_PER_ZSPAGE],
                used: [0; 2],
                next: if i + 1 < count { (i + 1) as u32 } else { NIL },
                prev: NIL,
                inuse: 0,
                class: 0,
                state: ZS_FREE,
                _pad: 0,
            };
        }
        Pool {
            zspages,
            free_desc: if count > 0 { 0 } else { NIL },
            nonfull: [NIL; NR_SIZE_CLASSES + 1],
            isolated: NIL,
            frames_held: 0,
        }
    }

    /// Frames held by zspages (zsmalloc's `zs_get_total_pages`).
    pub fn frames_held(&self) -> usize {
        self.frames_held
    }

    /// Allocates an object of `class`, adding a zspage when every one is full. A new
    /// zspage that would take `frames_held` past `limit_frames` fails with `MemLimit`.
    pub fn alloc(
        &mut self,
        class: usize,
        frames: &mut impl FrameSource,
        limit_frames: Option<usize>,
    ) -> Result<ObjRef, StoreError> {
        if let Some(obj) = self.alloc_existing(class) {
            return Ok(obj);
        }
        let pages = CLASSES[class].pages;
        if limit_frames.is_some_and(|limit| self.frames_held + pages > limit) {
            return Err(StoreError::MemLimit);
        }
        if self.free_desc == NIL {
            return Err(StoreError::NoMemory);
        }
        let mut pfns = [0u64; ZS_MAX_PAGES_PER_ZSPAGE];
        for got in 0..pages {
            match frames.alloc_frame() {
                Some(pfn) => pfns[got] = pfn.0,
                None => {
                    for pfn in &pfns[..got] {
                        frames.free_frame(Pfn(*pfn));
                    }
                    return Err(StoreError::NoMemory);
                }
            }
        }
        let idx = self.free_desc;
        self.free_desc = self.zspages[idx as usize].next;
        self.zspages[idx as usize] = ZsPage {
            pfns,
            used: [0; 2],
            next: NIL,
            prev: NIL,
            inuse: 0,
            class: class as u8,
            state: ZS_NONFULL,
            _pad: 0,
        };
        list_push(self.zspages, &mut self.nonfull[class], idx);
        self.frames_held += pages;
        self.alloc_existing(class).ok_or(StoreError::NoMemory)
    }

    /// Allocates from a zspage that has room, never taking frames.
    pub fn alloc_existing(&mut self, class: usize) -> Option<ObjRef> {
        let idx = self.nonfull[class];
        if idx == NIL {
            return None;
        }
        let objs = CLASSES[class].objs;
        let desc = &mut self.zspages[idx as usize];
        let obj = (0..2).find_map(|word| {
            let free = !desc.used[word] & word_mask(word, objs);
            (free != 0).then(|| word * 64 + free.trailing_zeros() as usize)
        })?;
        desc.used[obj / 64] |= 1 << (obj % 64);
        desc.inuse += 1;
        if desc.inuse as usize == objs {
            list_remove(self.zspages, &mut self.nonfull[class], idx);
            self.zspages[idx as usize].state = ZS_FULL;
        }
        Some(ObjRef {
            zspage: idx,
            obj: obj as u8,
        })
    }

    /// Validates a handle read from a slot: a live zspage of `class` whose object is
    /// allocated. Anything else is a corrupt handle.
    pub fn locate(&self, handle: u64, class: usize) -> Option<ObjRef> {
        let zspage = u32::try_from(handle >> 8).ok()?;
        let obj = (handle & 0xff) as usize;
        let desc = self.zspages.get(zspage as usize)?;
        let live = matches!(desc.state, ZS_NONFULL | ZS_FULL | ZS_ISOLATED);
        let allocated = obj < CLASSES[class].objs && desc.used[obj / 64] & (1 << (obj % 64)) != 0;
        (live && desc.class as usize == class && allocated).then_some(ObjRef {
            zspage,
            obj: obj as u8,
        })
    }

    /// Whether compaction is moving objects out of this object's zspage.
    pub fn is_isolated(&self, obj: ObjRef) -> bool {
        self.zspages[obj.zspage as usize].state == ZS_ISOLATED
    }

    /// Copies the object's first `out.len()` bytes into `out`.
    pub fn read(&self, obj: ObjRef, out: &mut [u8]) {
        self.segments(obj, out.len(), |ptr, range| {
            let dst = &mut out[range];
            // SAFETY: the source range lies inside a frame held by this pool (see
            // `segments`) and cannot overlap `out`, which the caller owns.
            unsafe { core::ptr::copy_nonoverlapping(ptr, dst.as_mut_ptr(), dst.len()) };
        });
    }

    /// Writes `bytes` at the start of the object.
    pub fn write(&mut self, obj: ObjRef, bytes: &[u8]) {
        self.segments(obj, bytes.len(), |ptr, range| {
            let src = &bytes[range];
            // SAFETY: the destination range lies inside a frame held by this pool (see
            // `segments`), borrowed mutably through `&mut self`; `bytes` is not in it.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), ptr, src.len()) };
        });
    }

    /// Frees the object; a zspage left empty gives its frames back, unless compaction
    /// isolated it (then `release_isolated` does).
    pub fn free(&mut self, obj: ObjRef, frames: &mut impl FrameSource) {
        let idx = obj.zspage;
        let desc = &mut self.zspages[idx as usize];
        let class = desc.class as usize;
        desc.used[obj.obj as usize / 64] &= !(1 << (obj.obj % 64));
        desc.inuse -= 1;
        let (state, inuse) = (desc.state, desc.inuse);
        match state {
            ZS_FULL if inuse == 0 => self.release(idx, frames),
            ZS_FULL => {
                self.zspages[idx as usize].state = ZS_NONFULL;
                list_push(self.zspages, &mut self.nonfull[class], idx);
            }
            ZS_NONFULL if inuse == 0 => {
                list_remove(self.zspages, &mut self.nonfull[class], idx);
                self.release(idx, frames);
            }
            _ => {}
        }
    }

    /// zsmalloc's `zs_compact`, first half: in each class, takes the sparsest zspages
    /// whose objects fit in the free room of the others (`zs_can_compact`) off the
    /// allocation lists. Returns how many were isolated.
    pub fn isolate_sparse(&mut self) -> usize {
        let mut isolated = 0;
        for (class, info) in CLASSES[..NR_SIZE_CLASSES].iter().enumerate() {
            let objs = info.objs;
            let mut by_inuse = [0usize; ZS_MAX_OBJS_PER_ZSPAGE + 1];
            let mut free_objs = 0;
            let mut idx = self.nonfull[class];
            while idx != NIL {
                let desc = &self.zspages[idx as usize];
                by_inuse[desc.inuse as usize] += 1;
                free_objs += objs - desc.inuse as usize;
                idx = desc.next;
            }
            let wanted = free_objs / objs;
            if wanted == 0 {
                continue;
            }
            // Take every zspage below `threshold` in use, and `at_threshold` of those at it.
            let (mut threshold, mut below) = (0, 0);
            while below + by_inuse[threshold] < wanted {
                below += by_inuse[threshold];
                threshold += 1;
            }
            let mut at_threshold = wanted - below;
            let mut idx = self.nonfull[class];
            while idx != NIL {
                let desc = &self.zspages[idx as usize];
                let next = desc.next;
                let inuse = desc.inuse as usize;
                let take = inuse < threshold || (inuse == threshold && at_threshold > 0);
                if take {
                    if inuse == threshold {
                        at_threshold -= 1;
                    }
                    list_remove(self.zspages, &mut self.nonfull[class], idx);
                    self.zspages[idx as usize].state = ZS_ISOLATED;
                    list_push(self.zspages, &mut self.isolated, idx);
                    isolated += 1;
                }
                idx = next;
            }
        }
        isolated
    }

    /// zs_compact, second half: gives back the frames of every isolated zspage. The slot
    /// scan moved out every object a slot still points to, so what is left there is only
    /// objects leaked by frees of corrupt slots. Returns the frames freed.
    pub fn release_isolated(&mut self, frames: &mut impl FrameSource) -> usize {
        let mut freed = 0;
        while self.isolated != NIL {
            let idx = self.isolated;
            list_remove(self.zspages, &mut self.isolated, idx);
            freed += CLASSES[self.zspages[idx as usize].class as usize].pages;
            self.release(idx, frames);
        }
        freed
    }

    fn release(&mut self, idx: u32, frames: &mut impl FrameSource) {
        let desc = &mut self.zspages[idx as usize];
        let pages = CLASSES[desc.class as usize].pages;
        for pfn in &desc.pfns[..pages] {
            frames.free_frame(Pfn(*pfn));
        }
        desc.state = ZS_FREE;
        desc.next = self.free_desc;
        self.free_desc = idx;
        self.frames_held -= pages;
    }

    /// Calls `f(address, range within the object)` for each frame-contained piece of the
    /// object's first `len` bytes. `obj` came from `alloc*` or `locate`, so the object
    /// index is below its class's count and `len` is at most the class size: every piece
    /// lies within the zspage's frames.
    fn segments(
        &self,
        obj: ObjRef,
        len: usize,
        mut f: impl FnMut(*mut u8, core::ops::Range<usize>),
    ) {
        let desc = &self.zspages[obj.zspage as usize];
        let info = CLASSES[desc.class as usize];
        let len = len.min(info.size);
        let mut offset = obj.obj as usize * info.size;
        let mut done = 0;
        while done < len {
            let (frame, within) = (offset / PAGE_SIZE, offset % PAGE_SIZE);
            let piece = (PAGE_SIZE - within).min(len - done);
            let base = Pfn(desc.pfns[frame]).page_address();
            f(base.wrapping_add(within), done..done + piece);
            done += piece;
            offset += piece;
        }
    }
}

/// Bits of allocation-bitmap word `word` that stand for existing objects.
const fn word_mask(word: usize, objs: usize) -> u64 {
    let below = objs.saturating_sub(word * 64);
    if below >= 64 {
        u64::MAX
    } else {
        (1u64 << below) - 1
    }
}

fn list_push(zspages: &mut [ZsPage], head: &mut u32, idx: u32) {
    zspages[idx as usize].prev = NIL;
    zspages[idx as usize].next = *head;
    if *head != NIL {
        zspages[*head as usize].prev = idx;
    }
    *head = idx;
}

fn list_remove(zspages: &mut [ZsPage], head: &mut u32, idx: u32) {
    let ZsPage { prev, next, .. } = zspages[idx as usize];
    if prev == NIL {
        *head = next;
    } else {
        zspages[prev as usize].next = next;
    }
    if next != NIL {
        zspages[next as usize].prev = prev;
    }
}

/// Frames per zspage and objects per zspage of the class for `len` compressed bytes.
#[cfg(test)]
fn class_shape(len: usize) -> (usize, usize, usize) {
    let info = CLASSES[class_of_len(len).unwrap()];
    (info.size, info.pages, info.objs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_16_bytes_apart_and_cover_every_length() {
        assert_eq!(NR_SIZE_CLASSES, 191);
        for len in 1..=HUGE_CLASS_SIZE {
            let (size, pages, objs) = class_shape(len);
            assert!(size >= len && size < len.max(ZS_MIN_ALLOC_SIZE) + ZS_SIZE_CLASS_DELTA);
            assert!((1..=ZS_MAX_PAGES_PER_ZSPAGE).contains(&pages));
            assert!((1..=ZS_MAX_OBJS_PER_ZSPAGE).contains(&objs));
            assert!(objs * size <= pages * PAGE_SIZE);
        }
        assert_eq!(class_of_len(0), None);
        assert_eq!(class_of_len(HUGE_CLASS_SIZE + 1), None);
    }

    #[test]
    fn zspage_shapes_waste_little() {
        // zsmalloc's choice for a few classes, e.g. 3072-byte objects: 4 in 3 frames.
        assert_eq!(class_shape(3072), (3072, 3, 4));
        assert_eq!(class_shape(32), (32, 1, 128));
        let mut wasted = 0;
        let mut total = 0;
        for class in CLASSES[..NR_SIZE_CLASSES].iter() {
            wasted += class.pages * PAGE_SIZE - class.objs * class.size;
            total += class.pages * PAGE_SIZE;
        }
        // Under 4% of zspage memory, on average over the classes.
        assert!(wasted * 25 < total, "{wasted} of {total}");
    }

    #[test]
    fn word_masks_cover_exactly_the_objects() {
        assert_eq!(word_mask(0, 1), 1);
        assert_eq!(word_mask(1, 1), 0);
        assert_eq!(word_mask(0, 64), u64::MAX);
        assert_eq!(word_mask(1, 64), 0);
        assert_eq!(word_mask(1, 85), (1 << 21) - 1);
        assert_eq!(word_mask(1, 128), u64::MAX);
    }
}
