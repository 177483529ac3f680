//! membudget's per-mapping work: parsing `/proc` files, building the snapshot model from a live
//! system, a directory or an archive, and accounting every mapping. The hot path of every
//! command: its cost grows with the number of processes and mappings.
//!
//! A crate of its own so that it keeps full optimisation (`opt-level = 3`) while the rest of
//! the tool, which runs once per command (reports, the CLI, accounting), is built for size:
//! Cargo sets the optimisation level per package, and the board binaries must stay small
//! (docs/performance.md, "Binary size"). Its files stay in the top-level `src/`.

// Output goes through `output` (failed writes are errors; stderr failures are not panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod account;
pub mod collect;
pub mod error;
pub mod model;
pub mod parse;
pub mod size;
