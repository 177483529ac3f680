//! Grouped views of the user processes, the ones engineers know from other tools: by program
//! (ps_mem's `bash (8)`), by mapped file (smem -m, librank) and by user (smem -u).
//!
//! A group's memory is its members' private memory plus the shared memory they map, counted
//! once within the group (the same rule as the system-wide sum, DESIGN.md, applied to the
//! group). The same shared pages mapped from two groups are in both: groups overlap, so their
//! totals are not added up to a board total (the budget's process line is that total).
//! Every measure the snapshot supports is kept; a group with a member without smaps has no
//! smaps-based figure (unknown, never a partial sum).

use super::classify::{Class, Classifier, Counting};
use super::{add_opt, mapping_figures, merge_max, shared_key, Figures, Measure, SharedKey};
use crate::model::{Mapping, Process, Snapshot};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What the processes are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// The process name (status `Name`): all instances of one program together.
    Program,
    /// The mapped file, by (device, inode): shared libraries, executables, data files.
    Library,
    /// The real uid of the process (status `Uid:`), named from the snapshot's `etc/passwd`.
    User,
}

impl GroupBy {
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Program => "program",
            GroupBy::Library => "library",
            GroupBy::User => "user",
        }
    }
}

/// What to group by and how much to keep.
#[derive(Debug, Clone, Copy)]
pub struct GroupOptions {
    pub by: GroupBy,
    /// Keep each member's own figures (the split of the group to its processes).
    pub members: bool,
    /// Keep the largest `top` groups by the profile's measure.
    pub top: usize,
    /// The profile's measure, which ranks the groups.
    pub measure: Measure,
    /// The profile's `thread_stack_size`, so mappings are classified as the budget does.
    pub thread_stack_size: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    pub by: GroupBy,
    pub measure: Measure,
    /// How many groups there are; `groups` holds the largest `top` of them.
    pub total_groups: usize,
    pub groups: Vec<Group>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Program name, file path, or user name (the uid where the snapshot has no name).
    pub name: String,
    /// Library: `major:minor:inode` (hex device numbers, as maps prints them). User: the uid.
    pub id: Option<String>,
    /// The processes in the group (library: the processes that map the file), pid order.
    pub pids: Vec<u32>,
    /// Private memory: heap, stacks, data, anon (library: the file's written private pages).
    pub private: Figures,
    /// Shared memory the members map, counted once within the group.
    pub shared: Figures,
    /// `private` + `shared`.
    pub total: Figures,
    /// The profile's measure of `total`; `virtual` where a member has no smaps.
    pub demand: u64,
    /// Whether `demand` fell back to `virtual` (a member without smaps).
    pub measure_fallback: bool,
    /// Each member's own figures (empty unless asked for).
    pub members: Vec<Member>,
}

/// One process's part of a group: its private memory, and the shared memory as it maps it
/// (in full for virtual and rss; its own share for pss).
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub pid: u32,
    pub name: String,
    pub private: Figures,
    pub shared: Figures,
}

/// A group being built.
#[derive(Default)]
struct Pool {
    name: String,
    id: Option<String>,
    missing_smaps: bool,
    private: Figures,
    shared: HashMap<SharedKey, Figures>,
    members: BTreeMap<u32, Member>,
}

impl Pool {
    fn member(&mut self, p: &Process) -> &mut Member {
        self.members.entry(p.pid).or_insert_with(|| Member {
            pid: p.pid,
            name: p.name.clone(),
            private: Figures::default(),
            shared: Figures::default(),
        })
    }

    fn add(&mut self, p: &Process, has_smaps: bool, piece: &Piece) {
        self.missing_smaps |= !has_smaps;
        match &piece.key {
            None => {
                self.private.add(&piece.figures);
                self.member(p).private.add(&piece.figures);
            }
            Some(key) => {
                let once = self.shared.entry(key.clone()).or_default();
                merge_max(once, &piece.figures);
                once.pss = add_opt(once.pss, piece.figures.pss);
                self.member(p).shared.add(&piece.figures);
            }
        }
    }

    fn finish(self, options: &GroupOptions) -> Group {
        let mut shared = Figures::default();
        for once in self.shared.values() {
            // merge_max keeps the pages all mappers share in `rss` and the mappers' own
            // copies in `uss`: resident once is both.
            let resident = once.rss.map(|r| r.saturating_add(once.uss.unwrap_or(0)));
            shared.add(&Figures {
                rss: resident,
                ..*once
            });
        }
        let mut private = self.private;
        let mut total = private;
        total.add(&shared);
        if self.missing_smaps {
            for figures in [&mut private, &mut shared, &mut total] {
                *figures = without_smaps(figures);
            }
        }
        let demand = total.get(options.measure).unwrap_or(total.virtual_size);
        Group {
            name: self.name,
            id: self.id,
            pids: self.members.keys().copied().collect(),
            private,
            shared,
            total,
            demand,
            measure_fallback: total.get(options.measure).is_none(),
            members: if options.members {
                self.members.into_values().collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// Only the figures maps alone give: the smaps-based ones of a partial group are unknown.
fn without_smaps(f: &Figures) -> Figures {
    Figures {
        virtual_size: f.virtual_size,
        mappings: f.mappings,
        ..Figures::default()
    }
}

/// One counted mapping of a process: its figures, and the key of its pages when shared.
struct Piece {
    figures: Figures,
    key: Option<SharedKey>,
}

/// The counted mappings of a process, as the budget classifies them.
fn pieces(p: &Process, classifier: &Classifier) -> Vec<(Mapping, Class, Piece)> {
    classifier
        .classify_mappings(&p.mappings)
        .filter_map(|(mapping, class)| {
            let key = match class.counting() {
                Counting::NotCounted => return None,
                Counting::Private => None,
                Counting::Shared => Some(shared_key(class, &mapping.map)),
            };
            let figures = mapping_figures(classifier, class, &mapping);
            Some((mapping, class, Piece { figures, key }))
        })
        .collect()
}

/// The group a process belongs to (program, user).
fn process_group(
    p: &Process,
    by: GroupBy,
    users: &BTreeMap<u32, String>,
) -> (String, Option<String>) {
    match by {
        GroupBy::User => match p.uid {
            Some(uid) => (
                users.get(&uid).cloned().unwrap_or_else(|| uid.to_string()),
                Some(uid.to_string()),
            ),
            None => ("(uid unknown)".into(), None),
        },
        _ => (p.name.clone(), None),
    }
}

/// A mapped file's group: its (device, inode), and its path as the first mapper shows it.
fn file_group(class: Class, m: &Mapping) -> Option<((u32, u32, u64), String)> {
    let file_class = matches!(class, Class::Code | Class::Rodata | Class::Data);
    let path = m.map.path.as_deref()?;
    (file_class && m.map.inode != 0).then(|| {
        (
            (m.map.dev_major, m.map.dev_minor, m.map.inode),
            path.to_string(),
        )
    })
}

/// Groups the snapshot's processes.
pub fn group(snapshot: &Snapshot, options: &GroupOptions) -> Grouping {
    let classifier = Classifier::new(&snapshot.mounts, options.thread_stack_size);
    let mut pools: HashMap<String, Pool> = HashMap::new();
    let mut files: HashMap<(u32, u32, u64), Pool> = HashMap::new();
    let mut without_smaps = 0usize;
    for p in &snapshot.processes {
        let has_smaps = p.has_smaps();
        without_smaps += usize::from(!has_smaps);
        let pieces = pieces(p, &classifier);
        if options.by == GroupBy::Library {
            for (mapping, class, piece) in &pieces {
                if let Some((id, path)) = file_group(*class, mapping) {
                    let pool = files.entry(id).or_insert_with(|| Pool {
                        name: path,
                        id: Some(format!("{:02x}:{:02x}:{}", id.0, id.1, id.2)),
                        ..Pool::default()
                    });
                    pool.add(p, has_smaps, piece);
                }
            }
        } else {
            let (name, id) = process_group(p, options.by, &snapshot.users);
            let pool = pools.entry(name.clone()).or_insert_with(|| Pool {
                name,
                id,
                ..Pool::default()
            });
            for (_, _, piece) in &pieces {
                pool.add(p, has_smaps, piece);
            }
            // A process with no counted mapping still belongs to its group.
            pool.member(p);
        }
    }
    let mut groups: Vec<Group> = pools
        .into_values()
        .chain(files.into_values())
        .map(|pool| pool.finish(options))
        .collect();
    groups.sort_by(|a, b| b.demand.cmp(&a.demand).then_with(|| a.name.cmp(&b.name)));
    let total_groups = groups.len();
    groups.truncate(options.top);
    Grouping {
        by: options.by,
        measure: options.measure,
        total_groups,
        groups,
        notes: notes(snapshot, options, without_smaps),
    }
}

fn notes(snapshot: &Snapshot, options: &GroupOptions, without_smaps: usize) -> Vec<String> {
    let mut notes = vec![match options.by {
        GroupBy::Library => "Each file counted once by (device, inode): pss is the sum of every mapper's share; virtual and rss count a shared segment once and written private pages (data) per process.".to_string(),
        _ => "Shared memory (code, rodata, shared anon) counted once within each group; a library mapped from two groups is in both, so group totals are not added up (the budget's process line is the board total).".to_string(),
    }];
    if without_smaps > 0 {
        notes.push(format!(
            "{without_smaps} process(es) have no smaps: their groups show virtual size only (rss/pss unknown) and rank by it."
        ));
    }
    if options.by == GroupBy::User && snapshot.users.is_empty() {
        notes.push("No etc/passwd in the snapshot: users are shown by numeric uid.".into());
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::SnapshotBuilder;

    const LIBC: &str = "b6e00000-b6f00000 r-xp 00000000 1f:04 481 /lib/libc.so\n";
    const HEAP: &str = "00020000-00030000 rw-p 00000000 00:00 0 [heap]\n";

    fn smaps(maps_line: &str, rss_kb: u64, pss_kb: u64) -> String {
        format!(
            "{maps_line}Size: 1024 kB\nRss: {rss_kb} kB\nPss: {pss_kb} kB\nShared_Clean: 0 kB\nShared_Dirty: 0 kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: 0 kB\n"
        )
    }

    /// Two `app` processes, one captured with smaps and one without; a `tool` with smaps.
    fn snapshot() -> Snapshot {
        let mut b = SnapshotBuilder::new("test".into());
        b.add_file("proc/meminfo", b"MemTotal: 65536 kB\n").unwrap();
        for (pid, name, uid) in [(10, "app", 0), (11, "app", 33), (12, "tool", 33)] {
            let status = format!("Name:\t{name}\nTgid:\t{pid}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n");
            b.add_file(&format!("proc/{pid}/status"), status.as_bytes())
                .unwrap();
            let maps = format!("{HEAP}{LIBC}");
            b.add_file(&format!("proc/{pid}/maps"), maps.as_bytes())
                .unwrap();
            if pid != 11 {
                let text = smaps(HEAP, 8, 8) + &smaps(LIBC, 400, 200);
                b.add_file(&format!("proc/{pid}/smaps"), text.as_bytes())
                    .unwrap();
            }
        }
        b.add_file("etc/passwd", b"www-data:33\n").unwrap();
        b.finish().unwrap()
    }

    fn options(by: GroupBy) -> GroupOptions {
        GroupOptions {
            by,
            members: true,
            top: 10,
            measure: Measure::Pss,
            thread_stack_size: None,
        }
    }

    #[test]
    fn a_member_without_smaps_makes_the_resident_figures_unknown() {
        let g = group(&snapshot(), &options(GroupBy::Program));
        let app = g.groups.iter().find(|g| g.name == "app").unwrap();
        assert_eq!(app.pids, vec![10, 11]);
        assert_eq!(app.private.virtual_size, 2 * 64 * 1024);
        // libc's 1 MiB code once within the group.
        assert_eq!(app.shared.virtual_size, 1 << 20);
        assert_eq!(app.total.rss, None);
        assert_eq!(app.total.pss, None);
        assert!(app.measure_fallback);
        assert_eq!(app.demand, app.total.virtual_size);
        let tool = g.groups.iter().find(|g| g.name == "tool").unwrap();
        assert_eq!(tool.total.pss, Some(208 * 1024));
        assert!(!tool.measure_fallback);
    }

    #[test]
    fn users_are_named_from_passwd_and_files_grouped_by_inode() {
        let g = group(&snapshot(), &options(GroupBy::User));
        let names: Vec<(&str, Option<&str>)> = g
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.id.as_deref()))
            .collect();
        assert!(names.contains(&("www-data", Some("33"))));
        assert!(names.contains(&("0", Some("0"))));
        let g = group(&snapshot(), &options(GroupBy::Library));
        assert_eq!(g.total_groups, 1);
        let libc = &g.groups[0];
        assert_eq!(libc.id.as_deref(), Some("1f:04:481"));
        assert_eq!(libc.pids, vec![10, 11, 12]);
        // One mapper without smaps: pss unknown, not the partial 400 KiB.
        assert_eq!(libc.total.pss, None);
        assert_eq!(libc.total.virtual_size, 1 << 20);
    }
}
