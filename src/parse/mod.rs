//! Pure parsers over bytes: every kernel file the tool reads, testable without `/proc`.
//! Each returns what it understood plus the lines it had to skip; none of them panics.

pub mod df;
pub mod exhaustion;
pub mod kernel;
pub mod kv;
pub mod lines;
pub mod maps;
pub mod meminfo;
pub mod meta;
pub mod modules;
pub mod mounts;
pub mod passwd;
pub mod smaps;
pub mod stat;
pub mod status;
pub mod swap;
pub mod sysvipc;
pub mod vm;
