//! membudget: does everything an embedded Linux board runs fit in its RAM?
//!
//! The pipeline, one module per stage: [`collect`] (live `/proc`, snapshot directories and
//! archives) → [`model`] → [`account`] (classify every mapping, count shared memory once) →
//! [`budget`] (line items against the board profile, findings) → [`report`].

pub mod account;
pub mod budget;
pub mod capture;
pub mod cli;
pub mod collect;
pub mod diff;
pub mod error;
pub mod model;
pub mod parse;
pub mod profile;
pub mod profile_new;
pub mod report;
pub mod size;
pub mod trend;
