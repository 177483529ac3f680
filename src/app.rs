//! membudget: does everything an embedded Linux board runs fit in its RAM?
//!
//! Everything but the per-mapping work (parsing, the model, accounting), which is the
//! `membudget-engine` crate, re-exported here so that `crate::collect` and the rest read as one
//! crate. Built for size: see `src/engine.rs`.
//!
//! The pipeline, one module per stage: [`collect`] (live `/proc`, snapshot directories and
//! archives) → [`model`] → [`account`] (classify every mapping, count shared memory once) →
//! [`budget`] (line items against the board profile, findings) → [`report`].

// Output goes through `output` (failed writes are errors; stderr failures are not panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub use membudget_engine::{account, collect, error, model, parse, size};

pub mod budget;
pub mod capture;
pub mod cli;
pub mod diff;
pub mod evidence;
pub mod export;
pub mod identity;
pub mod output;
pub mod profile;
pub mod profile_new;
pub mod redact;
pub mod report;
pub mod signals;
pub mod time;
pub mod trend;
pub mod whatif;
