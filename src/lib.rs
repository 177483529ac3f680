//! membudget: does everything an embedded Linux board runs fit in its RAM?
//!
//! The pipeline, one module per stage: [`collect`] (live `/proc`, snapshot directories and
//! archives) → [`model`] → [`account`] (classify every mapping, count shared memory once) →
//! [`budget`] (line items against the board profile, findings) → [`report`].
//!
//! The code lives in two crates built at different optimisation levels (the reading stage for
//! speed, the rest for size; docs/performance.md, "Binary size"); this one puts them back
//! together under one name, for the binary, the tests, the examples and the fuzz targets.

pub use membudget_app::*;
