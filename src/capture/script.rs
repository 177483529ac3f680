//! The on-board capture script, shipped inside the binary: `membudget capture-script` prints
//! it, so a board with only busybox (no Python, no room or CPU for this binary) can still be
//! captured. The script lives in its own file so tests run that very file under `busybox sh`.

/// `membudget-capture.sh`: writes the snapshot layout of format 1 with `cat`, `df`, `du`,
/// `dmesg`, then packs it with `tar`/`gzip` where they exist. See docs/capture.md.
pub const CAPTURE_SCRIPT: &str = include_str!("membudget-capture.sh");
