//! insn-profile: where a reclaimed page's guest instructions go. Reads the counts
//! profile/plugin wrote (`dump`), names each address (`symbols`), charges it to a
//! step of the page's life (`steps`, rules in profile/steps.conf), and turns two
//! runs (under pressure, with RAM to spare) into instructions per reclaimed page
//! (`per_page`). The command line is in main.rs; docs/perf.md explains the method.

pub mod attribute;
pub mod dump;
pub mod per_page;
pub mod steps;
pub mod svg;
pub mod symbols;
