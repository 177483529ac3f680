//! `/proc/mounts`: which paths live on RAM-backed filesystems.

use super::lines::lines;
use super::maps::{Issues, LineIssue};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    pub source: String,
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
}

impl Mount {
    /// Filesystems whose files are RAM that cannot be reclaimed (page cache with no backing
    /// store). `rootfs` on an initramfs board is ramfs or tmpfs.
    pub fn is_ram_backed(&self) -> bool {
        matches!(self.fs_type.as_str(), "tmpfs" | "ramfs" | "rootfs")
    }

    /// ramfs has no size accounting: statfs reports 0 used, so its usage comes from `du`.
    pub fn is_ramfs(&self) -> bool {
        self.fs_type == "ramfs" || (self.fs_type == "rootfs" && !self.options.contains("size="))
    }
}

/// Undoes the kernel's octal escapes in mount fields (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match octal {
            Some(v) => {
                out.push(v);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mounts(bytes: &[u8]) -> (Vec<Mount>, Issues) {
    let mut mounts = Vec::new();
    let mut issues = Issues::default();
    for (number, line) in lines(bytes) {
        let line = String::from_utf8_lossy(line);
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 3 {
            issues.push(LineIssue {
                line: number,
                message: "expected `source mountpoint type options ...`".into(),
            });
            continue;
        }
        mounts.push(Mount {
            source: unescape(fields[0]),
            mount_point: unescape(fields[1]),
            fs_type: fields[2].to_string(),
            options: fields.get(3).unwrap_or(&"").to_string(),
        });
    }
    (mounts, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_unescapes() {
        let (m, issues) = parse_mounts(
            b"none /tmp tmpfs rw,nodev,relatime,size=524288k 0 0\n/dev/sda1 /mnt/my\\040disk ext4 rw 0 0\nbad\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(issues.len(), 1);
        assert!(m[0].is_ram_backed());
        assert_eq!(m[1].mount_point, "/mnt/my disk");
        assert!(!m[1].is_ram_backed());
    }
}
