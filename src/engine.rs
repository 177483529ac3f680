//! membudget's per-process work: parsing `/proc` files, building the snapshot model from a live
//! system, a directory or an archive, and accounting every mapping. Its per-line part (finding
//! lines, smaps fields, maps headers, packing mappings) is the `membudget-scan` crate
//! (src/scan.rs), re-exported in `parse` and `model`.
//!
//! Crates of their own because Cargo sets the optimisation level per package: the scan keeps
//! full optimisation, this crate is built for size (`opt-level = "s"`, its cost follows the
//! processes and files rather than the bytes) and the rest of the tool, run once per command
//! (reports, the CLI), for size too (docs/performance.md, "Binary size"). Their files stay in
//! the top-level `src/`.

// Output goes through `output` (failed writes are errors; stderr failures are not panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod account;
pub mod collect;
pub mod error;
pub mod model;
pub mod parse;
pub mod size;
