//! `/proc/PID/status`: the few fields the budget needs, VmSize/VmRSS for cross-checks, and
//! VmHWM, the peak resident size, which one snapshot cannot see otherwise.

use super::kv::{key_rests, trim_value, value_bytes};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub name: Option<String>,
    pub tgid: Option<u32>,
    pub pid: Option<u32>,
    pub ppid: Option<u32>,
    pub threads: Option<u32>,
    pub vm_size: Option<u64>,
    pub vm_rss: Option<u64>,
    /// Peak resident set size ("high water mark") since the process started.
    pub vm_hwm: Option<u64>,
    /// The real uid (first figure of `Uid:`), for the per-user view.
    pub uid: Option<u32>,
}

/// The kernel's `Name:` (and stat's comm) is at most 15 bytes (TASK_COMM_LEN); a longer one
/// is kept to this many characters and marked cut, so a hostile status cannot put megabytes
/// into every process.
const MAX_NAME_CHARS: usize = 64;

pub(crate) fn name_text(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_CHARS) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_string(),
    }
}

pub fn parse_status(bytes: &[u8]) -> Status {
    let mut status = Status::default();
    // Values are trimmed only for the keys read (most of status's 55 lines are not).
    for (_, key, rest) in key_rests(bytes) {
        let value = || trim_value(rest);
        match key {
            "Name" => status.name = Some(name_text(value())),
            "Tgid" => status.tgid = value().parse().ok(),
            "Pid" => status.pid = value().parse().ok(),
            "PPid" => status.ppid = value().parse().ok(),
            "Threads" => status.threads = value().parse().ok(),
            "VmSize" => status.vm_size = value_bytes(value()),
            "VmRSS" => status.vm_rss = value_bytes(value()),
            "VmHWM" => status.vm_hwm = value_bytes(value()),
            "Uid" => {
                status.uid = value()
                    .split_whitespace()
                    .next()
                    .and_then(|u| u.parse().ok())
            }
            _ => {}
        }
    }
    // `Name:` may legitimately hold a colon or be non-UTF-8 (then key_values skips it):
    // fall back to a lossy read of the first line so the process still has a name.
    if status.name.is_none() {
        if let Some(first) = bytes.split(|&c| c == b'\n').next() {
            if let Some(rest) = first.strip_prefix(b"Name:") {
                status.name = Some(name_text(String::from_utf8_lossy(rest).trim()));
            }
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields() {
        let s = parse_status(
            b"Name:\tftpd\nState:\tS (sleeping)\nTgid:\t7231\nPid:\t7231\nPPid:\t16649\nUid:\t33\t0\t0\t0\nVmSize:\t    3080 kB\nVmHWM:\t    1500 kB\nVmRSS:\t    1412 kB\nThreads:\t1\n",
        );
        assert_eq!(s.name.as_deref(), Some("ftpd"));
        assert_eq!(s.tgid, Some(7231));
        assert_eq!(s.threads, Some(1));
        assert_eq!(s.uid, Some(33));
        assert_eq!(s.vm_size, Some(3080 * 1024));
        assert_eq!(s.vm_rss, Some(1412 * 1024));
        assert_eq!(s.vm_hwm, Some(1500 * 1024));
    }

    #[test]
    fn overlong_names_are_cut() {
        let long = format!("Name:\t{}\nTgid:\t1\n", "n".repeat(1 << 20));
        let name = parse_status(long.as_bytes()).name.unwrap();
        assert_eq!(name, format!("{}…", "n".repeat(64)));
    }

    #[test]
    fn odd_names() {
        let s = parse_status(b"Name:\tweird: name\nTgid:\t1\n");
        assert_eq!(s.name.as_deref(), Some("weird: name"));
        let s = parse_status(b"Name:\t\xff\xfe\nTgid:\t1\n");
        assert_eq!(s.name.as_deref(), Some("\u{fffd}\u{fffd}"));
    }
}
