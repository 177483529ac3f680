//! membudget's per-line work: finding the lines of a `/proc` text, reading smaps field lines and
//! maps headers, and packing each process's mappings. Every byte of a snapshot passes through
//! here, so this crate keeps full optimisation (`opt-level = 3`) while the rest of the engine,
//! whose cost follows the number of processes or files rather than bytes, is built for size
//! (docs/performance.md, "Binary size"). Its files stay in the top-level `src/`; the engine
//! re-exports them as `parse::{kv, lines, maps, smaps}` and `model::{Mappings, ...}`.

// Output goes through `output` (failed writes are errors; stderr failures are not panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod parse {
    pub mod kv;
    pub mod lines;
    pub mod maps;
    pub mod smaps;

    #[cfg(test)]
    pub(crate) mod real_fixtures;
}

pub mod model {
    pub mod mappings;
}
