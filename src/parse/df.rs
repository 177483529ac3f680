//! `df -k` (busybox and GNU) and `du -sk` output, which is how a capture taken on a board
//! records tmpfs/ramfs usage (statfs cannot be replayed from files).

use super::lines::lines;
use super::maps::{Issues, LineIssue};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DfEntry {
    pub filesystem: String,
    pub size: u64,
    pub used: u64,
    pub available: u64,
    pub mount_point: String,
}

/// Parses `df -k`. A long filesystem name makes df wrap its numbers onto the next line; the
/// two lines are joined. The header line and unparsable lines are skipped (the latter reported).
pub fn parse_df(bytes: &[u8]) -> (Vec<DfEntry>, Issues) {
    let mut entries = Vec::new();
    let mut issues = Issues::default();
    let mut pending: Option<String> = None;
    for (number, line) in lines(bytes) {
        let line = String::from_utf8_lossy(line);
        if line.starts_with("Filesystem") {
            continue;
        }
        let mut fields: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if fields.len() == 1 && pending.is_none() {
            pending = fields.pop();
            continue;
        }
        if let Some(name) = pending.take() {
            fields.insert(0, name);
        }
        // Filesystem 1K-blocks Used Available Use% Mounted-on (mount point may contain spaces).
        let parsed = (fields.len() >= 6)
            .then(|| {
                let kb = |s: &str| s.parse::<u64>().ok().and_then(|v| v.checked_mul(1024));
                Some(DfEntry {
                    filesystem: fields[0].clone(),
                    size: kb(&fields[1])?,
                    used: kb(&fields[2])?,
                    available: kb(&fields[3])?,
                    mount_point: fields[5..].join(" "),
                })
            })
            .flatten();
        match parsed {
            Some(e) => entries.push(e),
            None => issues.push(LineIssue {
                line: number,
                message: "expected `Filesystem 1K-blocks Used Available Use% Mounted-on`".into(),
            }),
        }
    }
    (entries, issues)
}

/// Parses `du -sk` lines: `KIB<tab>PATH`.
pub fn parse_du(bytes: &[u8]) -> (Vec<(String, u64)>, Issues) {
    let mut entries = Vec::new();
    let mut issues = Issues::default();
    for (number, line) in lines(bytes) {
        let line = String::from_utf8_lossy(line);
        let mut parts = line.trim().splitn(2, char::is_whitespace);
        let kb = parts.next().and_then(|s| s.parse::<u64>().ok());
        let path = parts.next().map(str::trim);
        match (kb.and_then(|k| k.checked_mul(1024)), path) {
            (Some(bytes), Some(path)) if !path.is_empty() => {
                entries.push((path.to_string(), bytes))
            }
            _ => issues.push(LineIssue {
                line: number,
                message: "expected `KIB PATH` (du -sk output)".into(),
            }),
        }
    }
    (entries, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_and_gnu_and_wrapped() {
        let text = b"Filesystem           1K-blocks      Used Available Use% Mounted on\ntmpfs                     4096      1536      2560  38% /var/volatile\n/dev/very/long/filesystem/name\n                          8192         0      8192   0% /tmp\n";
        let (e, issues) = parse_df(text);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].used, 1536 * 1024);
        assert_eq!(e[0].mount_point, "/var/volatile");
        assert_eq!(e[1].filesystem, "/dev/very/long/filesystem/name");
        assert_eq!(e[1].size, 8192 * 1024);
    }

    #[test]
    fn du_lines() {
        let (e, issues) = parse_du(b"120\t/home\nx /y\n");
        assert_eq!(e, vec![("/home".to_string(), 120 * 1024)]);
        assert_eq!(issues.len(), 1);
    }
}
