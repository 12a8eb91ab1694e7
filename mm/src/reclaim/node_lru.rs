//! The node's LRU, whichever of the two it is this run: the classic active/inactive
//! lists (`lru::Lru`) or the multi-gen LRU (`lru_gen::LruGen`), chosen with `lru=` and
//! switched in place between runs while empty. Owns only that choice and the calls
//! both share; each LRU keeps its own lists, and the policy drives both.

use crate::addr::Pfn;
use crate::frame::Zone;
use crate::lru::{Lru, LruError, LruList};
use crate::lru_gen::LruGen;

/// Which LRU reclaim uses (`lru=`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LruKind {
    /// Linux's two-list LRU with second chance (`lru=classic`, the default).
    Classic,
    /// Linux's multi-gen LRU (`lru=mglru`, `CONFIG_LRU_GEN_ENABLED`).
    Mglru,
}

/// The LRU could not be switched: pages are still on it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LruBusy {
    /// Pages on it.
    pub nr_pages: u64,
}

/// The node's anonymous LRU.
// One per node, switched in place and never moved in a hot path; boxing the larger
// variant would need an allocator, which `mm` does not have.
#[allow(clippy::large_enum_variant)]
pub enum NodeLru {
    /// The active and inactive lists.
    Classic(Lru),
    /// The generations.
    Mglru(LruGen),
}

impl From<Lru> for NodeLru {
    fn from(lru: Lru) -> Self {
        NodeLru::Classic(lru)
    }
}

impl NodeLru {
    /// An empty LRU of `kind`; `now_ns` is the multi-gen LRU's first birth time.
    pub fn new(kind: LruKind, now_ns: u64) -> Self {
        match kind {
            LruKind::Classic => NodeLru::Classic(Lru::new()),
            LruKind::Mglru => NodeLru::Mglru(LruGen::new(now_ns)),
        }
    }

    /// Which LRU this is.
    pub fn kind(&self) -> LruKind {
        match self {
            NodeLru::Classic(_) => LruKind::Classic,
            NodeLru::Mglru(_) => LruKind::Mglru,
        }
    }

    /// Becomes an empty LRU of `kind` (counters restart) unless it is one already;
    /// refused while pages are on it.
    pub fn switch(&mut self, kind: LruKind, now_ns: u64) -> Result<(), LruBusy> {
        if kind == self.kind() {
            return Ok(());
        }
        let nr_pages = self.nr_inactive_anon() + self.nr_active_anon();
        if nr_pages != 0 {
            return Err(LruBusy { nr_pages });
        }
        *self = NodeLru::new(kind, now_ns);
        Ok(())
    }

    /// The multi-gen LRU, if it is the one.
    pub fn lru_gen(&self) -> Option<&LruGen> {
        match self {
            NodeLru::Classic(_) => None,
            NodeLru::Mglru(lru_gen) => Some(lru_gen),
        }
    }

    /// `nr_inactive_anon`: the inactive list, or every generation but the two youngest.
    pub fn nr_inactive_anon(&self) -> u64 {
        match self {
            NodeLru::Classic(lru) => lru.nr_inactive_anon(),
            NodeLru::Mglru(lru_gen) => lru_gen.nr_inactive_anon(),
        }
    }

    /// `nr_active_anon`: the active list, or the two youngest generations.
    pub fn nr_active_anon(&self) -> u64 {
        match self {
            NodeLru::Classic(lru) => lru.nr_active_anon(),
            NodeLru::Mglru(lru_gen) => lru_gen.nr_active_anon(),
        }
    }

    /// A page newly mapped by its first fault: the inactive head, or `max_seq - 1`.
    pub fn add_new(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        match self {
            NodeLru::Classic(lru) => lru.add(zone, pfn, LruList::InactiveAnon),
            NodeLru::Mglru(lru_gen) => lru_gen.add_new(zone, pfn),
        }
    }

    /// Takes a page off the LRU for good (it is being unmapped and freed).
    pub fn del(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        match self {
            NodeLru::Classic(lru) => lru.del(zone, pfn),
            NodeLru::Mglru(lru_gen) => lru_gen.del(zone, pfn),
        }
    }

    /// An isolated page goes back (see each LRU's `putback`).
    pub fn putback(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        match self {
            NodeLru::Classic(lru) => lru.putback(zone, pfn),
            NodeLru::Mglru(lru_gen) => lru_gen.putback(zone, pfn),
        }
    }

    /// The LRU's own consistency check against the zone (for tests).
    pub fn check_invariants(&self, zone: &Zone) -> Result<(), &'static str> {
        match self {
            NodeLru::Classic(lru) => lru.check_invariants(zone),
            NodeLru::Mglru(lru_gen) => lru_gen.check_invariants(zone),
        }
    }
}
