//! Pure parsers over bytes: every kernel file the tool reads, testable without `/proc`.
//! Each returns what it understood plus the lines it had to skip; none of them panics.

// The per-line parsers, built at full speed in their own crate (src/scan.rs).
pub use membudget_scan::parse::{kv, lines, maps, smaps};

pub mod df;
pub mod exhaustion;
pub mod kernel;
pub mod meminfo;
pub mod meta;
pub mod modules;
pub mod mounts;
pub mod passwd;
pub mod stat;
pub mod status;
pub mod swap;
pub mod sysvipc;
pub mod vm;
