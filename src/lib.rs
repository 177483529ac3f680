//! membudget: does everything an embedded Linux board runs fit in its RAM?
//!
//! The pipeline, one module per stage: [`collect`] (live `/proc`, snapshot directories and
//! archives) → [`model`] → [`account`] (classify every mapping, count shared memory once) →
//! [`budget`] (line items against the board profile, findings) → [`report`].

// Output goes through `output` (failed writes are errors; stderr failures are not panics).
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod account;
pub mod budget;
pub mod capture;
pub mod cli;
pub mod collect;
pub mod diff;
pub mod error;
pub mod evidence;
pub mod export;
pub mod identity;
pub mod model;
pub mod output;
pub mod parse;
pub mod profile;
pub mod profile_new;
pub mod redact;
pub mod report;
pub mod signals;
pub mod size;
pub mod time;
pub mod trend;
pub mod whatif;
