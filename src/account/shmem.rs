//! Shmem taken apart, each byte once. meminfo's `Shmem` counts every page of shmem: files on
//! tmpfs (and on an initramfs root that is tmpfs), shared anonymous memory, and the shmem
//! objects that have no mount anyone can `df`: memfd, SysV segments, Android ashmem regions,
//! deleted files on a tmpfs that `du` no longer sees. The first two are measured elsewhere
//! (statfs/du; the process line's shared anonymous memory, once); the objects are found here by
//! inode in the maps (and SysV's table), and what is left of `Shmem` is the remainder: memory
//! in use that is still shmem (memfds held only by a descriptor, GPU buffers, tmpfs mounts
//! without a figure, other mount namespaces). ramfs is not shmem and is kept apart.

use super::{max_opt, Figures, Measure};
use crate::model::Snapshot;
use crate::parse::maps::MapLine;
use crate::parse::smaps::SmapsFields;
use serde::Serialize;
use std::collections::HashMap;

/// A shmem object found by its name in the maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Memfd,
    Sysv,
    Ashmem,
    /// A file on a tmpfs or initramfs root, deleted while still mapped.
    Deleted,
}

impl ObjectKind {
    /// Objects recognised by name alone, without knowing the mounts.
    pub fn of_path(path: &str) -> Option<ObjectKind> {
        if path.starts_with("/memfd:") {
            Some(ObjectKind::Memfd)
        } else if path.starts_with("/SYSV") {
            Some(ObjectKind::Sysv)
        } else if path.starts_with("/dev/ashmem") {
            Some(ObjectKind::Ashmem)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Memfd => "memfd",
            ObjectKind::Sysv => "SysV shm",
            ObjectKind::Ashmem => "ashmem",
            ObjectKind::Deleted => "deleted tmpfs file",
        }
    }
}

/// One shmem object, counted once however many processes map it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShmObject {
    pub kind: ObjectKind,
    pub name: String,
    pub inode: u64,
    /// The bytes of the object that any process maps (the union of the mapped file ranges),
    /// or a SysV segment's size: an upper bound of its resident pages.
    pub virtual_size: u64,
    /// Resident pages: SysV's own `rss` column, else the most any one process maps resident
    /// (smaps), a lower bound when mappers touched different parts. `None` without either.
    pub resident: Option<u64>,
    /// Processes that map it (0: a SysV segment no process read maps).
    pub processes: u32,
    /// The RAM-backed mount a deleted file was on.
    #[serde(skip)]
    pub mount: Option<String>,
}

impl ShmObject {
    pub fn figure(&self, measure: Measure) -> u64 {
        match measure {
            Measure::Virtual => self.virtual_size,
            Measure::Rss | Measure::Pss => self.resident.unwrap_or(self.virtual_size),
        }
    }
}

/// Collects the objects while accounting walks the mappings: by (device, inode), the mapped
/// ranges, and the resident bytes per process.
#[derive(Debug, Default)]
pub struct ShmObjects {
    building: HashMap<(u32, u32, u64), Building>,
}

#[derive(Debug)]
struct Building {
    object: ShmObject,
    ranges: Vec<(u64, u64)>,
    last_pid: u32,
    this_process: Option<u64>,
}

impl ShmObjects {
    pub fn add(
        &mut self,
        pid: u32,
        kind: ObjectKind,
        mount: Option<&str>,
        map: &MapLine,
        smaps: Option<&SmapsFields>,
    ) {
        let b = self
            .building
            .entry((map.dev_major, map.dev_minor, map.inode))
            .or_insert_with(|| Building {
                object: ShmObject {
                    kind,
                    name: map.path.as_deref().unwrap_or("").to_string(),
                    inode: map.inode,
                    virtual_size: 0,
                    resident: None,
                    processes: 0,
                    mount: mount.map(str::to_string),
                },
                ranges: Vec::new(),
                last_pid: pid,
                this_process: None,
            });
        if b.object.processes == 0 || b.last_pid != pid {
            b.object.resident = max_opt(b.object.resident, b.this_process.take());
            b.object.processes += 1;
            b.last_pid = pid;
        }
        b.ranges
            .push((map.offset, map.offset.saturating_add(map.size())));
        if let Some(rss) = smaps.and_then(|s| s.rss) {
            b.this_process = Some(b.this_process.unwrap_or(0).saturating_add(rss));
        }
    }

    pub fn finish(self) -> Vec<ShmObject> {
        let mut objects: Vec<ShmObject> = self
            .building
            .into_values()
            .map(|mut b| {
                b.object.resident = max_opt(b.object.resident, b.this_process);
                b.object.virtual_size = union_length(&mut b.ranges);
                b.object
            })
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name).then(a.inode.cmp(&b.inode)));
        objects
    }
}

/// Bytes covered by a set of half-open ranges, overlaps once.
fn union_length(ranges: &mut [(u64, u64)]) -> u64 {
    ranges.sort_unstable();
    let mut total = 0u64;
    let mut reach = 0u64;
    for &(start, end) in ranges.iter() {
        let start = start.max(reach);
        if end > start {
            total = total.saturating_add(end - start);
            reach = end;
        }
    }
    total
}

/// Shmem's parts, and the RAM-backed files that are not shmem (ramfs).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShmemBreakdown {
    /// meminfo `Shmem` (kernels from 2.6.32; `None` before).
    pub shmem: Option<u64>,
    /// Used bytes of tmpfs mounts (df, or du), an initramfs root that is tmpfs included.
    pub tmpfs_files: u64,
    /// Used bytes of ramfs mounts (du), an initramfs root that is ramfs included: not shmem.
    pub ramfs_files: u64,
    /// Shared anonymous memory, once: resident (smaps) where every process has smaps,
    /// otherwise its virtual size (an upper bound).
    pub shared_anon: u64,
    pub shared_anon_resident: bool,
    /// Objects no filesystem figure holds.
    pub objects: Vec<ShmObject>,
    /// `Shmem` minus the parts above (resident figures where known), at least 0.
    pub remainder: Option<u64>,
    /// How far the parts exceed `Shmem` (virtual sizes are upper bounds); 0 when they fit.
    pub excess: u64,
}

impl ShmemBreakdown {
    pub fn objects_total(&self, measure: Measure) -> u64 {
        self.objects
            .iter()
            .map(|o| o.figure(measure))
            .fold(0, u64::saturating_add)
    }
}

/// Whether a RAM-backed mount's pages are shmem (tmpfs) rather than ramfs.
fn is_shmem_mount(snapshot: &Snapshot, mount_point: &str) -> bool {
    snapshot
        .mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == mount_point)
        .is_some_and(|m| !m.is_ramfs())
}

/// Takes `Shmem` apart for a snapshot already accounted (`objects` from [`ShmObjects`],
/// `shared_anon` the class totals' figures of shared anonymous memory).
pub fn breakdown(
    snapshot: &Snapshot,
    objects: &[ShmObject],
    shared_anon: &Figures,
    all_have_smaps: bool,
) -> ShmemBreakdown {
    let mut out = ShmemBreakdown {
        shmem: snapshot.meminfo.get("Shmem"),
        ..Default::default()
    };
    for usage in &snapshot.fs_usage {
        if is_shmem_mount(snapshot, &usage.mount_point) {
            out.tmpfs_files = out.tmpfs_files.saturating_add(usage.used);
        } else {
            out.ramfs_files = out.ramfs_files.saturating_add(usage.used);
        }
    }
    // A deleted file is still in its tmpfs's statfs figure, but no longer in du's.
    let statfs_counted = |mount: &Option<String>| {
        snapshot
            .fs_usage
            .iter()
            .any(|u| Some(&u.mount_point) == mount.as_ref() && u.method == "df")
    };
    out.objects = objects
        .iter()
        .filter(|o| !(o.kind == ObjectKind::Deleted && statfs_counted(&o.mount)))
        .cloned()
        .collect();
    merge_sysv_table(snapshot, &mut out.objects);
    out.shared_anon_resident = all_have_smaps && shared_anon.rss.is_some();
    out.shared_anon = if out.shared_anon_resident {
        shared_anon.rss.unwrap_or(0)
    } else {
        shared_anon.virtual_size
    };
    if let Some(shmem) = out.shmem {
        let parts = out
            .tmpfs_files
            .saturating_add(out.shared_anon)
            .saturating_add(out.objects_total(Measure::Rss));
        out.remainder = Some(shmem.saturating_sub(parts));
        out.excess = parts.saturating_sub(shmem);
    }
    out
}

/// SysV's own table is the authority on its segments: their size and resident bytes, and the
/// segments that no process read maps (detached, or mapped by a process that was skipped).
fn merge_sysv_table(snapshot: &Snapshot, objects: &mut Vec<ShmObject>) {
    let Some(segments) = &snapshot.kernel_files.sysv_shm else {
        return;
    };
    for seg in segments {
        let mapped = objects
            .iter_mut()
            .find(|o| o.kind == ObjectKind::Sysv && o.inode == seg.shmid);
        match mapped {
            Some(o) => {
                o.virtual_size = o.virtual_size.max(seg.size);
                o.resident = seg.rss.or(o.resident);
            }
            None => objects.push(ShmObject {
                kind: ObjectKind::Sysv,
                name: format!(
                    "SysV key {:#010x} shmid {} (mapped by no process read)",
                    seg.key, seg.shmid
                ),
                inode: seg.shmid,
                virtual_size: seg.size,
                resident: seg.rss,
                processes: 0,
                mount: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::maps::parse_line;

    fn snapshot(mounts: &str, df: &[(&str, &str, u64)], sysv: &str) -> Snapshot {
        let mut s = Snapshot {
            mounts: crate::parse::mounts::parse_mounts(mounts.as_bytes()).0,
            fs_usage: df
                .iter()
                .map(|(point, method, used)| crate::model::FsUsage {
                    mount_point: point.to_string(),
                    fs_type: "tmpfs".into(),
                    size: 0,
                    used: *used,
                    method: method.to_string(),
                })
                .collect(),
            ..Default::default()
        };
        s.meminfo.fields.insert("Shmem".into(), 10 << 20);
        s.kernel_files.sysv_shm = Some(crate::parse::sysvipc::parse_sysvipc_shm(sysv.as_bytes()).0);
        s
    }

    fn object(kind: ObjectKind, inode: u64, size: u64, mount: Option<&str>) -> ShmObject {
        ShmObject {
            kind,
            name: format!("object {inode}"),
            inode,
            virtual_size: size,
            resident: Some(size),
            processes: 1,
            mount: mount.map(str::to_string),
        }
    }

    /// A deleted file still counts in its tmpfs's statfs figure but not in du's; a SysV
    /// segment no process maps (orphaned, nattch 0) still holds its pages; a mapped one takes
    /// its size and resident bytes from the table. Shmem's rest is what none of them holds.
    #[test]
    fn objects_once_beside_the_filesystem_figures() {
        let s = snapshot(
            "tmpfs /dev/shm tmpfs rw 0 0\nrootfs / rootfs rw 0 0\n",
            &[("/dev/shm", "df", 1 << 20), ("/", "du", 2 << 20)],
            "key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap\n0 7 600 3145728 1 1 1 0 0 0 0 0 0 0 1048576 0\n99 8 600 2097152 1 1 0 0 0 0 0 0 0 0 2097152 0\n",
        );
        let objects = [
            object(ObjectKind::Deleted, 1, 4096, Some("/dev/shm")),
            object(ObjectKind::Deleted, 2, 8192, Some("/")),
            object(ObjectKind::Sysv, 7, 1 << 20, None),
        ];
        let b = breakdown(&s, &objects, &Figures::default(), true);
        assert_eq!(b.tmpfs_files, 1 << 20);
        assert_eq!(b.ramfs_files, 2 << 20);
        let found: Vec<(u64, u64, Option<u64>, u32)> = b
            .objects
            .iter()
            .map(|o| (o.inode, o.virtual_size, o.resident, o.processes))
            .collect();
        assert_eq!(
            found,
            [
                (2, 8192, Some(8192), 1),
                (7, 3 << 20, Some(1 << 20), 1),
                (8, 2 << 20, Some(2 << 20), 0),
            ]
        );
        // 10 MiB - tmpfs 1 MiB - objects resident (8 KiB + 1 MiB + 2 MiB)
        assert_eq!(b.remainder, Some((6 << 20) - 8192));
        assert_eq!(b.excess, 0);
    }

    #[test]
    fn ranges_count_once() {
        assert_eq!(union_length(&mut [(0, 10), (5, 20), (30, 40)]), 30);
        assert_eq!(union_length(&mut [(0, 100), (10, 20)]), 100);
    }

    #[test]
    fn an_object_is_counted_once_at_its_largest_mapper() {
        let mut objects = ShmObjects::default();
        let a = parse_line(b"1000-5000 rw-s 00000000 00:05 42 /memfd:pool (deleted)").unwrap();
        let b = parse_line(b"7000-9000 rw-s 00002000 00:05 42 /memfd:pool (deleted)").unwrap();
        let rss = |kib: u64| SmapsFields {
            rss: Some(kib * 1024),
            ..Default::default()
        };
        objects.add(1, ObjectKind::Memfd, None, &a, Some(&rss(8)));
        objects.add(1, ObjectKind::Memfd, None, &b, Some(&rss(4)));
        objects.add(2, ObjectKind::Memfd, None, &b, Some(&rss(8)));
        let got = objects.finish();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].virtual_size, 0x4000);
        assert_eq!(got[0].resident, Some(12 * 1024));
        assert_eq!(got[0].processes, 2);
    }
}
