//! `/proc/sysvipc/shm`: every System V shared memory segment, attached or not.
//!
//! Segments live in shmem (they are in meminfo's `Shmem`) whether or not a process maps them,
//! so a segment no one has attached is memory in use that no maps shows. The `shmid` column is
//! the inode number of the segment's mappings in maps (`/SYSV<key> (deleted)`), which is how a
//! mapped segment is counted once. `rss`/`swap` (resident and swapped bytes) came with 2.6.31;
//! older kernels have no such columns and those figures are unknown.

use super::lines::lines;
use super::maps::LineIssue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ShmSegment {
    pub key: i64,
    pub shmid: u64,
    pub size: u64,
    pub nattch: u64,
    pub rss: Option<u64>,
    pub swap: Option<u64>,
}

/// Parses the table by its header, so column order and extra columns do not matter.
pub fn parse_sysvipc_shm(bytes: &[u8]) -> (Vec<ShmSegment>, Vec<LineIssue>) {
    let mut segments = Vec::new();
    let mut issues = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (number, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let Some(columns) = &header else {
            if fields.contains(&"shmid") && fields.contains(&"size") {
                header = Some(fields.iter().map(|f| f.to_string()).collect());
            } else {
                issues.push(LineIssue {
                    line: number,
                    message: "expected the header line (`key shmid perms size ...`)".into(),
                });
                return (segments, issues);
            }
            continue;
        };
        let column = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|i| fields.get(i))
        };
        let number_of = |name: &str| column(name).and_then(|v| v.parse::<u64>().ok());
        let segment = (|| {
            Some(ShmSegment {
                key: column("key")?.parse().ok()?,
                shmid: number_of("shmid")?,
                size: number_of("size")?,
                nattch: number_of("nattch")?,
                rss: number_of("rss"),
                swap: number_of("swap"),
            })
        })();
        match segment {
            Some(s) if fields.len() == columns.len() => segments.push(s),
            _ => issues.push(LineIssue {
                line: number,
                message: format!(
                    "expected {} columns of numbers as the header names them",
                    columns.len()
                ),
            }),
        }
    }
    (segments, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_is_no_segment() {
        let text = b"       key      shmid perms       size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime        rss       swap\n";
        let (s, issues) = parse_sysvipc_shm(text);
        assert!(s.is_empty() && issues.is_empty());
    }

    #[test]
    fn segments_new_and_old_kernels() {
        let text = b"       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n         0         32  1600              41943040  1234  1234      1  1000  1000  1000  1000 1700000000          0 1700000000              41943040                     0\n  12345678         33   666                  4096    10    10      0     0     0     0     0          0          0          0                     0                     0\n";
        let (s, issues) = parse_sysvipc_shm(text);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].shmid, 32);
        assert_eq!(s[0].rss, Some(41943040));
        assert_eq!(s[1].key, 12345678);
        assert_eq!(s[1].nattch, 0);
        let old = b"key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime\n1 5 666 8192 1 1 2 0 0 0 0 0 0 0\n2 6 666\n";
        let (s, issues) = parse_sysvipc_shm(old);
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].size, s[0].rss), (8192, None));
        assert_eq!(issues[0].line, 3);
    }

    #[test]
    fn no_header_is_an_issue() {
        let (s, issues) = parse_sysvipc_shm(b"1 2 3\n");
        assert!(s.is_empty());
        assert_eq!(issues[0].line, 1);
    }
}
