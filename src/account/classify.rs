//! Classifying one maps line, exactly as DESIGN.md's table says (first match wins).

use crate::model::{Mapping, Mappings};
use crate::parse::maps::MapLine;
use crate::parse::mounts::Mount;
use foldhash::HashMap;
use serde::Serialize;
use std::cell::RefCell;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Guard,
    Kernel,
    Device,
    TmpfsFile,
    Heap,
    Stack,
    ThreadStack,
    Code,
    Rodata,
    Data,
    SharedAnon,
    Anon,
}

/// How a class enters the RAM sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Not RAM of the process (guard pages, kernel pseudo-mappings, devices, tmpfs files).
    NotCounted,
    /// The process's own memory: summed per process.
    Private,
    /// Shared between processes: counted once system-wide.
    Shared,
}

/// A class named in a profile (`[budget.classes]`, `[[class_limit]]`): by the name reports show.
impl<'de> serde::Deserialize<'de> for Class {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Class, D::Error> {
        let name = String::deserialize(d)?;
        Class::from_name(&name).ok_or_else(|| {
            let all: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
            serde::de::Error::custom(format!(
                "unknown class {name:?}; expected one of {}",
                all.join(", ")
            ))
        })
    }
}

impl Class {
    pub const ALL: [Class; 12] = [
        Class::Guard,
        Class::Kernel,
        Class::Device,
        Class::TmpfsFile,
        Class::Heap,
        Class::Stack,
        Class::ThreadStack,
        Class::Code,
        Class::Rodata,
        Class::Data,
        Class::SharedAnon,
        Class::Anon,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Guard => "guard",
            Class::Kernel => "kernel",
            Class::Device => "device",
            Class::TmpfsFile => "tmpfs_file",
            Class::Heap => "heap",
            Class::Stack => "stack",
            Class::ThreadStack => "thread_stack",
            Class::Code => "code",
            Class::Rodata => "rodata",
            Class::Data => "data",
            Class::SharedAnon => "shared_anon",
            Class::Anon => "anon",
        }
    }

    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn counting(self) -> Counting {
        match self {
            Class::Guard | Class::Kernel | Class::Device | Class::TmpfsFile => Counting::NotCounted,
            Class::Code | Class::Rodata | Class::SharedAnon => Counting::Shared,
            Class::Heap | Class::Stack | Class::ThreadStack | Class::Data | Class::Anon => {
                Counting::Private
            }
        }
    }
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const KERNEL_PSEUDO: [&str; 7] = [
    "[vdso]",
    "[vvar]",
    "[vvar_vclock]",
    "[vectors]",
    "[sigpage]",
    "[vsyscall]",
    "[uprobes]",
];

/// The largest guard region taken as a thread stack's guard page(s).
pub const MAX_THREAD_GUARD: u64 = 64 * 1024;

/// What classification needs beyond the line itself.
pub struct Classifier<'a> {
    /// RAM-backed mount points, longest first, so the deepest mount wins.
    ram_mounts: Vec<&'a str>,
    /// Mount points of other filesystems: a disk mounted below a tmpfs hides it.
    other_mounts: Vec<&'a str>,
    thread_stack_size: Option<u64>,
    /// [`Classifier::is_ram_file`] of each path met: the same library path comes back in
    /// every process, and walking the mount list for it was a tenth of a report.
    ram_files: RefCell<HashMap<Arc<str>, bool>>,
}

fn under(path: &str, mount_point: &str) -> bool {
    mount_point == "/"
        || path == mount_point
        || (path.starts_with(mount_point) && path.as_bytes().get(mount_point.len()) == Some(&b'/'))
}

impl<'a> Classifier<'a> {
    pub fn new(mounts: &'a [Mount], thread_stack_size: Option<u64>) -> Self {
        // The last mount at a mount point is the visible one.
        let mut visible: Vec<&Mount> = Vec::new();
        for m in mounts {
            visible.retain(|v| v.mount_point != m.mount_point);
            visible.push(m);
        }
        let mut ram_mounts: Vec<&str> = visible
            .iter()
            .filter(|m| m.is_ram_backed())
            .map(|m| m.mount_point.as_str())
            .collect();
        let mut other_mounts: Vec<&str> = visible
            .iter()
            .filter(|m| !m.is_ram_backed())
            .map(|m| m.mount_point.as_str())
            .collect();
        ram_mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        other_mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        Classifier {
            ram_mounts,
            other_mounts,
            thread_stack_size,
            ram_files: RefCell::default(),
        }
    }

    /// The RAM-backed filesystem a file path lives on, if any (the deepest mount decides).
    pub fn ram_mount_of(&self, path: &str) -> Option<&'a str> {
        let path = path.strip_suffix(" (deleted)").unwrap_or(path);
        let ram = self.ram_mounts.iter().find(|m| under(path, m));
        let other = self.other_mounts.iter().find(|m| under(path, m));
        match (ram, other) {
            (Some(r), Some(o)) if r.len() > o.len() => Some(r),
            (Some(r), None) => Some(r),
            _ => None,
        }
    }

    fn on_ram_fs(&self, path: &str) -> bool {
        self.ram_mount_of(path).is_some()
    }

    /// Whether a mapped path is a file in RAM-backed memory (shmem or ramfs): on a tmpfs,
    /// ramfs or initramfs mount, under `/dev/shm`, or a shmem object with no mount of its own
    /// (memfd, SysV segment, Android ashmem region, all backed by shmem files).
    pub fn is_ram_file(&self, path: &Arc<str>) -> bool {
        if let Some(&known) = self.ram_files.borrow().get(path) {
            return known;
        }
        let ram = self.is_ram_path(path);
        self.ram_files.borrow_mut().insert(Arc::clone(path), ram);
        ram
    }

    fn is_ram_path(&self, path: &str) -> bool {
        path.starts_with("/dev/shm/")
            || super::shmem::ObjectKind::of_path(path).is_some()
            || (path.starts_with('/') && !path.starts_with("/dev/") && self.on_ram_fs(path))
    }

    /// Classifies every line of one process; `previous` context finds glibc/musl thread
    /// stacks (an anonymous rw mapping starting where an anonymous guard ends).
    pub fn classify_all<'m>(&self, maps: impl Iterator<Item = &'m MapLine>) -> Vec<Class> {
        self.in_order(maps, |map| map)
            .map(|(_, class)| class)
            .collect()
    }

    /// Unpacks one process's mappings from the model and classifies them, each beside its
    /// class, one at a time: collected first, the mappings (some 180 bytes each) were copied
    /// three times over, a tenth of the time accounting took.
    pub fn classify_mappings<'m>(
        &'m self,
        mappings: &'m Mappings,
    ) -> impl Iterator<Item = (Mapping, Class)> + 'm {
        self.in_order(mappings.iter(), |mapping| &mapping.map)
    }

    /// One process's mappings in the kernel's order, each beside its class: the thread-stack
    /// test needs where the mapping before ended, when that one may be a guard.
    fn in_order<'m, T: 'm>(
        &'m self,
        items: impl Iterator<Item = T> + 'm,
        map_of: impl Fn(&T) -> &MapLine + 'm,
    ) -> impl Iterator<Item = (T, Class)> + 'm {
        let mut guard_end = None;
        items.map(move |item| {
            let map = map_of(&item);
            let class = self.classify(map, guard_end);
            guard_end = thread_guard_end(map);
            (item, class)
        })
    }

    /// The class of `map`; `guard_end` is where the mapping before it ends when that one may
    /// be a thread stack's guard ([`thread_guard_end`]).
    pub fn classify(&self, map: &MapLine, guard_end: Option<u64>) -> Class {
        let perms = map.perms;
        if perms.is_none() {
            return Class::Guard;
        }
        if let Some(shared) = &map.path {
            let p = &**shared;
            if KERNEL_PSEUDO.contains(&p) {
                return Class::Kernel;
            }
            if self.is_ram_file(shared) {
                // Pages written through a private mapping are the writer's own copies, not
                // the file's: a written private mapping is the process's data.
                return if perms.write && !perms.shared {
                    Class::Data
                } else {
                    Class::TmpfsFile
                };
            }
            let is_dev = p.starts_with("/dev/") && p != "/dev/zero" && !p.starts_with("/dev/zero ");
            if is_dev {
                return Class::Device;
            }
            if p == "[heap]" {
                return Class::Heap;
            }
            if p == "[stack]" {
                return Class::Stack;
            }
            if p.starts_with("[stack:") {
                return Class::ThreadStack;
            }
        }
        if map.is_anonymous() {
            // A pthread guard is one page by default (pthread_attr_setguardsize makes it a
            // few); the inaccessible tail of a glibc malloc arena, which the next arena can
            // follow directly, is hundreds of KiB. Only a small guard marks a thread stack.
            let after_guard = guard_end == Some(map.start);
            if (perms.read && perms.write && !perms.shared && after_guard)
                || self.thread_stack_size == Some(map.size())
            {
                return Class::ThreadStack;
            }
            return if perms.shared {
                Class::SharedAnon
            } else {
                Class::Anon
            };
        }
        if perms.exec {
            Class::Code
        } else if !perms.write || perms.shared {
            // A shared writable file mapping is page cache of that file, shared by all who map
            // it, like read-only data: counted once system-wide.
            Class::Rodata
        } else {
            Class::Data
        }
    }
}

/// Where `map` ends, when it may be a thread stack's guard: anonymous, no access, and small.
fn thread_guard_end(map: &MapLine) -> Option<u64> {
    (map.perms.is_none() && map.is_anonymous() && map.size() <= MAX_THREAD_GUARD).then_some(map.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::maps::parse_line;
    use crate::parse::mounts::parse_mounts;

    fn classes(maps: &str, mounts: &str, tss: Option<u64>) -> Vec<Class> {
        let (mounts, _) = parse_mounts(mounts.as_bytes());
        let c = Classifier::new(&mounts, tss);
        let lines: Vec<MapLine> = maps
            .lines()
            .map(|l| parse_line(l.as_bytes()).unwrap())
            .collect();
        c.classify_all(lines.iter())
    }

    #[test]
    fn the_design_table() {
        let got = classes(
            "\
00008000-0036a000 r-xp 00000000 00:0e 236 /home/hik/hicore
00372000-003a5000 rw-p 00362000 00:0e 236 /home/hik/hicore
003a5000-00e28000 rwxp 003a5000 00:00 0 [heap]
40000000-40005000 r--p 00000000 01:00 94 /lib/ld-uClibc.so.0
416db000-41770000 rw-s c2005000 00:0f 68 /dev/mem
50000000-50001000 ---p 00000000 00:00 0
50001000-50101000 rw-p 00000000 00:00 0
60000000-60100000 rw-s 00000000 00:04 7 /SYSV0000abab (deleted)
61000000-61100000 rw-s 00000000 00:01 9 /dev/zero (deleted)
62000000-62100000 rw-p 00000000 00:00 0
63000000-63001000 rw-s 00000000 00:11 5 /tmp/shared.bin
be93b000-be950000 rwxp befeb000 00:00 0 [stack]
be960000-be970000 rw-p 00000000 00:00 0 [stack:800]
ffff0000-ffff1000 r-xp 00000000 00:00 0 [vectors]
",
            "/dev/root / jffs2 ro 0 0\nnone /tmp tmpfs rw 0 0\n",
            None,
        );
        use Class::*;
        assert_eq!(
            got,
            vec![
                Code,
                Data,
                Heap,
                Rodata,
                Device,
                Guard,
                ThreadStack,
                TmpfsFile,
                SharedAnon,
                Anon,
                TmpfsFile,
                Stack,
                ThreadStack,
                Kernel
            ]
        );
    }

    /// Android ashmem regions are shmem, not device memory; a written private mapping of a
    /// file in RAM (initramfs `.data`, a COW-written tmpfs file) is the writer's data.
    #[test]
    fn ashmem_and_private_ram_files() {
        let got = classes(
            "\
1000-2000 rw-s 00000000 00:05 7 /dev/ashmem/GFXStats-4292 (deleted)
2000-3000 rw-p 00000000 00:05 8 /dev/ashmem/dalvik-heap (deleted)
3000-4000 r-xp 00000000 00:01 9 /bin/busybox
4000-5000 rw-p 00001000 00:01 9 /bin/busybox
5000-6000 rw-p 00000000 00:11 5 /tmp/cow.bin
6000-7000 rw-s 00000000 00:11 6 /tmp/shared.bin
7000-8000 rw-s 00000000 00:06 3 /dev/fb0
",
            "rootfs / rootfs rw 0 0\nnone /tmp tmpfs rw 0 0\nnone /dev tmpfs rw 0 0\n",
            None,
        );
        use Class::*;
        assert_eq!(
            got,
            vec![TmpfsFile, Data, TmpfsFile, Data, Data, TmpfsFile, Device]
        );
    }

    #[test]
    fn thread_stack_by_profile_size() {
        let got = classes("1000-3000 rw-p 00000000 00:00 0\n", "", Some(0x2000));
        assert_eq!(got, vec![Class::ThreadStack]);
    }

    #[test]
    fn deepest_mount_decides() {
        let got = classes(
            "1000-2000 r-xp 00000000 08:01 5 /tmp/disk/prog\n2000-3000 r-xp 00000000 00:10 5 /tmp/prog\n",
            "tmpfs /tmp tmpfs rw 0 0\n/dev/sda1 /tmp/disk ext4 rw 0 0\n",
            None,
        );
        assert_eq!(got, vec![Class::Code, Class::TmpfsFile]);
    }
}
