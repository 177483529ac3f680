//! Accounting: from classified mappings to per-process and system-wide figures, counting
//! shared memory once (DESIGN.md). Every figure is kept for every measure the data allows;
//! the profile's measure only decides which one the budget sums.

pub mod classify;
pub mod dynamic;
pub mod groups;
pub mod held;
pub mod shmem;

use crate::model::{Mapping, Process, Snapshot};
use crate::parse::smaps::SmapsFields;
use classify::{Class, Classifier, Counting};
use serde::{Deserialize, Serialize};
use shmem::{ObjectKind, ShmObject, ShmObjects};
use std::collections::BTreeMap;
use std::sync::mpsc::sync_channel;

/// Which figure of a mapping the budget sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// end - start: the article's method, a ceiling, available from maps alone.
    #[default]
    Virtual,
    /// Resident pages (smaps `Rss`): pages of shared mappings (code, rodata, shared anon)
    /// counted once system-wide, but a process's private pages count in full for every
    /// process, including copy-on-write pages a forked child still shares with its parent.
    /// Not "shared counted once": an upper bound for private memory after fork.
    Rss,
    /// Proportional set size (smaps `Pss`): shared pages already split, no dedupe needed.
    Pss,
}

impl Measure {
    pub fn name(self) -> &'static str {
        match self {
            Measure::Virtual => "virtual",
            Measure::Rss => "rss",
            Measure::Pss => "pss",
        }
    }
}

/// The measures of a set of mappings. smaps-based figures are `None` without smaps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    #[serde(rename = "virtual")]
    pub virtual_size: u64,
    pub rss: Option<u64>,
    pub pss: Option<u64>,
    pub uss: Option<u64>,
    pub swap: Option<u64>,
    /// How many mappings (VMAs) make it up.
    pub mappings: u64,
}

/// The larger of two optional figures; one alone when the other is missing.
fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

pub(crate) fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.saturating_add(y)),
        (x, y) => x.or(y),
    }
}

impl Figures {
    fn of_mapping(size: u64, smaps: Option<&SmapsFields>) -> Figures {
        Figures {
            virtual_size: size,
            rss: smaps.and_then(|s| s.rss),
            pss: smaps.and_then(|s| s.pss),
            uss: smaps.map(SmapsFields::uss),
            swap: smaps.and_then(|s| s.swap),
            mappings: 1,
        }
    }

    /// A private mapping of a file in RAM (tmpfs, initramfs, memfd): only the pages the
    /// process wrote (smaps `Anonymous`, its copy-on-write copies) are its own; the pages it
    /// only read are the file's, counted with the file. Without `Anonymous` (kernels before
    /// 2.6.25) every resident page counts, an upper bound; `virtual` is the whole mapping.
    fn of_written_pages(size: u64, smaps: Option<&SmapsFields>) -> Figures {
        let mut figures = Figures::of_mapping(size, smaps);
        if let Some(written) = smaps.and_then(|s| s.anonymous) {
            let at_most = |v: Option<u64>| v.map(|v| v.min(written));
            figures.rss = Some(written);
            figures.pss = at_most(figures.pss);
            figures.uss = at_most(figures.uss);
        }
        figures
    }

    pub fn add(&mut self, other: &Figures) {
        self.virtual_size = self.virtual_size.saturating_add(other.virtual_size);
        self.rss = add_opt(self.rss, other.rss);
        self.pss = add_opt(self.pss, other.pss);
        self.uss = add_opt(self.uss, other.uss);
        self.swap = add_opt(self.swap, other.swap);
        self.mappings = self.mappings.saturating_add(other.mappings);
    }

    pub fn get(&self, measure: Measure) -> Option<u64> {
        match measure {
            Measure::Virtual => Some(self.virtual_size),
            Measure::Rss => self.rss,
            Measure::Pss => self.pss,
        }
    }

    /// `wanted` when these figures have it, else the next measure down the chain
    /// pss -> rss -> virtual (2.6.18 smaps have no `Pss`; a trimmed smaps may lack `Rss`;
    /// maps alone have only virtual). Never a missing figure as 0.
    pub fn available(&self, wanted: Measure) -> Measure {
        let chain: &[Measure] = match wanted {
            Measure::Pss => &[Measure::Pss, Measure::Rss],
            Measure::Rss => &[Measure::Rss],
            Measure::Virtual => &[],
        };
        chain
            .iter()
            .copied()
            .find(|m| self.get(*m).is_some())
            .unwrap_or(Measure::Virtual)
    }

    /// The figure in `available(wanted)`, and which measure that is.
    pub fn by_chain(&self, wanted: Measure) -> (Measure, u64) {
        let measure = self.available(wanted);
        (measure, self.get(measure).unwrap_or(self.virtual_size))
    }
}

/// One process's figures by class.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessAccount {
    pub pid: u32,
    pub name: String,
    pub cmdline: String,
    pub threads: u32,
    pub start_time: Option<u64>,
    pub classes: ClassFigures,
    /// Private classes (heap, stack, thread stacks, data, anon): this process's own demand.
    pub private: Figures,
    /// Shared classes as this process maps them (counted once system-wide, not here).
    pub shared: Figures,
    /// The budget measure of `private` (`measure_used`).
    pub demand: u64,
    /// The measure `demand` is in: the profile's, or the next one down the chain
    /// pss -> rss -> virtual when this process lacks its figures.
    pub measure_used: Measure,
    /// `VmRSS` and `VmHWM` (peak resident) from status, when the snapshot has them.
    pub vm_rss: Option<u64>,
    pub vm_hwm: Option<u64>,
    /// `VmSize` from status, and whether the maps add up to it exactly.
    pub vm_size: Option<u64>,
    pub vm_size_matches: Option<bool>,
    pub has_smaps: bool,
}

impl ProcessAccount {
    pub fn class(&self, class: Class) -> Figures {
        self.classes.get(class).unwrap_or_default()
    }

    /// A class's figure in the measure `demand` uses (virtual where smaps are missing), so
    /// that the private classes of a process add up to its demand in every report.
    pub fn in_measure(&self, class: Class, measure: Measure) -> u64 {
        let figures = self.class(class);
        figures
            .get(measure)
            .filter(|_| self.has_smaps || measure == Measure::Virtual)
            .unwrap_or(figures.virtual_size)
    }
}

/// One process's figures per class, only the classes it has, in class order.
///
/// A fleet snapshot has tens of thousands of processes, and this table is most of what each
/// account holds: as a `BTreeMap<Class, Figures>` it took one 900-byte B-tree node per process
/// (19 MB of a 21000-process snapshot); packed like this, 64 bytes per class present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClassFigures {
    entries: Vec<(Class, PackedFigures)>,
}

/// `Figures` without the `Option` tags: the optional figures' presence is one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedFigures {
    /// virtual, rss, pss, uss, swap, mappings.
    values: [u64; 6],
    /// Bit i set: the optional `values[i]` (rss, pss, uss or swap: 1 to 4) is present.
    present: u8,
}

impl From<&Figures> for PackedFigures {
    fn from(f: &Figures) -> Self {
        let optional = [f.rss, f.pss, f.uss, f.swap];
        let mut present = 0;
        for (i, value) in optional.iter().enumerate() {
            if value.is_some() {
                present |= 1 << (i + 1);
            }
        }
        let [rss, pss, uss, swap] = optional.map(|v| v.unwrap_or(0));
        PackedFigures {
            values: [f.virtual_size, rss, pss, uss, swap, f.mappings],
            present,
        }
    }
}

impl From<&PackedFigures> for Figures {
    fn from(p: &PackedFigures) -> Self {
        let optional = |i: usize| (p.present & (1 << i) != 0).then_some(p.values[i]);
        Figures {
            virtual_size: p.values[0],
            rss: optional(1),
            pss: optional(2),
            uss: optional(3),
            swap: optional(4),
            mappings: p.values[5],
        }
    }
}

impl ClassFigures {
    pub fn get(&self, class: Class) -> Option<Figures> {
        self.entries
            .iter()
            .find(|(c, _)| *c == class)
            .map(|(_, f)| f.into())
    }

    pub fn iter(&self) -> impl Iterator<Item = (Class, Figures)> + '_ {
        self.entries.iter().map(|(c, f)| (*c, f.into()))
    }

    pub fn values(&self) -> impl Iterator<Item = Figures> + '_ {
        self.iter().map(|(_, f)| f)
    }
}

impl From<BTreeMap<Class, Figures>> for ClassFigures {
    fn from(by_class: BTreeMap<Class, Figures>) -> Self {
        ClassFigures {
            entries: by_class.iter().map(|(c, f)| (*c, f.into())).collect(),
        }
    }
}

impl Serialize for ClassFigures {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (class, figures) in self.iter() {
            map.serialize_entry(&class, &figures)?;
        }
        map.end()
    }
}

/// The system-wide result of accounting.
#[derive(Debug, Clone, Serialize)]
pub struct Accounting {
    pub measure: Measure,
    /// Processes, largest private demand first.
    pub processes: Vec<ProcessAccount>,
    /// Per class over all processes, shared classes counted once.
    pub class_totals: BTreeMap<Class, Figures>,
    /// The user-process line of the budget: private demand plus shared memory once.
    pub user_demand: u64,
    pub user_private: u64,
    pub user_shared: u64,
    /// Processes counted by another measure than the profile's (their `measure_used`).
    pub measure_fallback: Vec<u32>,
    /// memfd, SysV, ashmem and deleted-file shmem objects the processes map, once each.
    pub shm_objects: Vec<ShmObject>,
}

/// What makes two shared mappings "the same memory": the file pages (device, inode, offset,
/// length), or for shared anonymous memory the shmem inode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SharedKey {
    File(Class, u32, u32, u64, u64, u64),
    Shmem(u32, u32, u64),
}

pub(crate) fn shared_key(class: Class, m: &crate::parse::maps::MapLine) -> SharedKey {
    if class == Class::SharedAnon && m.inode != 0 {
        SharedKey::Shmem(m.dev_major, m.dev_minor, m.inode)
    } else {
        SharedKey::File(class, m.dev_major, m.dev_minor, m.inode, m.offset, m.size())
    }
}

/// Shared memory seen once: the largest figures any process shows for it (mappers of the
/// same pages may have touched different parts).
pub(crate) fn merge_max(into: &mut Figures, f: &Figures) {
    into.virtual_size = into.virtual_size.max(f.virtual_size);
    // The part of RSS every mapper shares; each mapper's own copies are added separately.
    // Saturating: a damaged smaps can claim more private pages than resident ones.
    into.rss = max_opt(
        into.rss,
        f.rss.map(|r| r.saturating_sub(f.uss.unwrap_or(0))),
    );
    into.uss = add_opt(into.uss, f.uss);
    into.swap = max_opt(into.swap, f.swap);
    into.mappings = 1;
}

/// `hidden_stack_guard`: the kernel's maps omit the stack guard page that `VmSize` counts.
/// Records a RAM-file mapping that is a shmem object (memfd, SysV, ashmem, deleted file).
fn note_shm_object(p: &Process, classifier: &Classifier, m: &Mapping, objects: &mut ShmObjects) {
    let Some(path) = m.map.path.as_deref() else {
        return;
    };
    let mount = classifier.ram_mount_of(path);
    let kind = ObjectKind::of_path(path).or_else(|| {
        (path.ends_with(" (deleted)") && mount.is_some()).then_some(ObjectKind::Deleted)
    });
    if let Some(kind) = kind {
        objects.add(p.pid, kind, mount, &m.map, m.smaps.as_ref());
    }
}

/// The figures of one mapping as its class counts them.
pub(crate) fn mapping_figures(classifier: &Classifier, class: Class, m: &Mapping) -> Figures {
    let written_copy = class == Class::Data
        && m.map
            .path
            .as_ref()
            .is_some_and(|p| classifier.is_ram_file(p));
    if written_copy {
        Figures::of_written_pages(m.map.size(), m.smaps.as_ref())
    } else {
        Figures::of_mapping(m.map.size(), m.smaps.as_ref())
    }
}

/// One process accounted, before its figures join the snapshot's totals.
struct Accounted {
    account: ProcessAccount,
    /// Each mapping's class, figures and (counted once) key.
    pieces: Vec<(Class, Figures, Option<SharedKey>)>,
    /// Its mappings of tmpfs files, in order: the shmem objects are collected from them in
    /// process order, after the processes' figures (which may be worked out on two threads).
    tmpfs_files: Vec<Mapping>,
}

/// What accounting a process needs besides the process.
struct Rules<'a> {
    mounts: &'a [crate::parse::mounts::Mount],
    thread_stack_size: Option<u64>,
    measure: Measure,
    hidden_stack_guard: bool,
}

impl Rules<'_> {
    fn classifier(&self) -> Classifier<'_> {
        Classifier::new(self.mounts, self.thread_stack_size)
    }
}

fn account_process(p: &Process, classifier: &Classifier, rules: &Rules) -> Accounted {
    let Rules {
        measure,
        hidden_stack_guard,
        ..
    } = *rules;
    let mut has_smaps = false;
    let mut by_class: BTreeMap<Class, Figures> = BTreeMap::new();
    let mut private = Figures::default();
    let mut shared = Figures::default();
    let mut pieces = Vec::with_capacity(p.mappings.len());
    let mut tmpfs_files = Vec::new();
    let mut kernel_vm_size = 0u64;
    for (mapping, class) in classifier.classify_mappings(&p.mappings) {
        has_smaps |= mapping.smaps.is_some();
        let figures = mapping_figures(classifier, class, &mapping);
        if !mapping.map.is_gate_area() {
            kernel_vm_size = kernel_vm_size.saturating_add(mapping.map.size());
        }
        if hidden_stack_guard && mapping.map.path.as_deref() == Some("[stack]") {
            // smaps `Size` shows the whole VMA; without smaps, one 4 KiB page.
            let vma = mapping
                .smaps
                .map_or(mapping.map.size().saturating_add(4096), |s| s.size);
            kernel_vm_size = kernel_vm_size.saturating_add(vma.saturating_sub(mapping.map.size()));
        }
        by_class.entry(class).or_default().add(&figures);
        let key = match class.counting() {
            Counting::Private => {
                private.add(&figures);
                None
            }
            Counting::Shared => {
                shared.add(&figures);
                Some(shared_key(class, &mapping.map))
            }
            Counting::NotCounted => None,
        };
        pieces.push((class, figures, key));
        if class == Class::TmpfsFile {
            tmpfs_files.push(mapping);
        }
    }
    // The measure of the whole process: any of its mappings having the figure will do.
    let mut all = private;
    all.add(&shared);
    let measure_used = all.available(measure);
    let demand = private.get(measure_used).unwrap_or(private.virtual_size);
    let account = ProcessAccount {
        pid: p.pid,
        name: p.name.clone(),
        cmdline: p.cmdline.clone(),
        threads: p.threads,
        start_time: p.start_time,
        classes: by_class.into(),
        private,
        shared,
        demand,
        measure_used,
        vm_rss: p.vm_rss,
        vm_hwm: p.vm_hwm,
        vm_size: p.vm_size,
        vm_size_matches: p.vm_size.map(|v| v == kernel_vm_size),
        has_smaps,
    };
    Accounted {
        account,
        pieces,
        tmpfs_files,
    }
}

/// Processes accounted as one round: the second thread works out the last 3/5 of a round
/// while this one works out the first 2/5, then goes on to the next round while this one sums.
/// Small enough that the rounds in flight hold little (pieces are about 130 bytes a mapping:
/// 64 processes of 40 mappings are 330 KiB), large enough that handing a half over costs
/// nothing next to working it out (256 was no faster).
const ROUND: usize = 64;

/// Each process's [`Accounted`], handed to `sum` in process order: on two threads when the
/// machine has them, with each thread's own classifier (its memo is not shared).
fn account_each(
    processes: &[Process],
    rules: &Rules,
    round: usize,
    two_threads: bool,
    mut sum: impl FnMut(&Process, Accounted, &Classifier),
) {
    let classifier = rules.classifier();
    // This thread sums every process too: it works out fewer of them.
    let mine = |round: &[Process]| round.len() * 2 / 5;
    let account_all = |processes: &[Process], classifier: &Classifier| -> Vec<Accounted> {
        processes
            .iter()
            .map(|p| account_process(p, classifier, rules))
            .collect()
    };
    if !two_threads || processes.len() <= round {
        for p in processes {
            sum(p, account_process(p, &classifier, rules), &classifier);
        }
        return;
    }
    std::thread::scope(|scope| {
        let (to_worker, second_halves) = sync_channel::<&[Process]>(1);
        let (to_summer, accounted) = sync_channel::<Vec<Accounted>>(1);
        scope.spawn(move || {
            let classifier = rules.classifier();
            for half in second_halves {
                if to_summer.send(account_all(half, &classifier)).is_err() {
                    break;
                }
            }
        });
        let rounds: Vec<&[Process]> = processes.chunks(round).collect();
        let second_half = |i: usize| rounds.get(i).map(|r| &r[mine(r)..]);
        // Each send and receive pairs with the worker's; it only stops early by panicking,
        // which the end of the scope passes on (no partial accounting is returned).
        if let Some(half) = second_half(0) {
            let _ = to_worker.send(half);
        }
        for (i, this_round) in rounds.iter().enumerate() {
            let first = account_all(&this_round[..mine(this_round)], &classifier);
            let Ok(second) = accounted.recv() else {
                break;
            };
            if let Some(half) = second_half(i + 1) {
                let _ = to_worker.send(half);
            }
            for (p, a) in this_round.iter().zip(first.into_iter().chain(second)) {
                sum(p, a, &classifier);
            }
        }
    });
}

/// Accounts every process of a snapshot.
pub fn account(
    snapshot: &Snapshot,
    measure: Measure,
    thread_stack_size: Option<u64>,
) -> Accounting {
    account_in_rounds(
        snapshot,
        measure,
        thread_stack_size,
        ROUND,
        crate::collect::second_thread_worthwhile(),
    )
}

/// [`account`], with `round` processes at a time and on one thread or two.
fn account_in_rounds(
    snapshot: &Snapshot,
    measure: Measure,
    thread_stack_size: Option<u64>,
    round: usize,
    two_threads: bool,
) -> Accounting {
    let rules = Rules {
        mounts: &snapshot.mounts,
        thread_stack_size,
        measure,
        hidden_stack_guard: snapshot
            .kernel_release()
            .is_some_and(crate::parse::kernel::maps_hides_stack_guard),
    };
    let mut processes = Vec::with_capacity(snapshot.processes.len());
    let mut class_totals: BTreeMap<Class, Figures> = BTreeMap::new();
    // foldhash, not SipHash: every shared mapping of every process is looked up here.
    let mut shared_once: foldhash::HashMap<SharedKey, (Class, Figures, u64)> =
        foldhash::HashMap::default();
    let mut measure_fallback = Vec::new();
    let mut user_private = 0u64;
    let mut pss_shared = 0u64;
    let mut private_in_shared = 0u64;
    let mut own_copies: BTreeMap<Class, u64> = BTreeMap::new();
    let mut objects = ShmObjects::default();
    account_each(
        &snapshot.processes,
        &rules,
        round,
        two_threads,
        |p, accounted, classifier| {
            let Accounted {
                account: acc,
                pieces,
                tmpfs_files,
            } = accounted;
            for mapping in &tmpfs_files {
                note_shm_object(p, classifier, mapping, &mut objects);
            }
            let use_measure = acc.measure_used;
            if use_measure != measure {
                measure_fallback.push(p.pid);
            }
            user_private = user_private.saturating_add(acc.demand);
            for (class, figures, key) in pieces {
                let value = figures.get(use_measure).unwrap_or(figures.virtual_size);
                match key {
                    None => {
                        class_totals.entry(class).or_default().add(&figures);
                    }
                    Some(key) => {
                        // PSS already divides shared pages among their mappers: sum it as is.
                        pss_shared = pss_shared.saturating_add(value);
                        // Pages of a "shared" mapping that are private to this process (RELRO
                        // pages relocated copy-on-write, written MAP_PRIVATE data) are its own
                        // copy: under RSS they count per process, and only the rest counts once.
                        let own_copy = figures.uss.unwrap_or(0);
                        if use_measure == Measure::Rss {
                            private_in_shared = private_in_shared.saturating_add(own_copy);
                        }
                        let copies = own_copies.entry(class).or_default();
                        *copies = copies.saturating_add(own_copy);
                        let entry =
                            shared_once
                                .entry(key)
                                .or_insert((class, Figures::default(), 0));
                        merge_max(&mut entry.1, &figures);
                        entry.1.pss = add_opt(entry.1.pss, figures.pss);
                        let once = match use_measure {
                            Measure::Rss => value.saturating_sub(own_copy),
                            _ => value,
                        };
                        entry.2 = entry.2.max(once);
                    }
                }
            }
            processes.push(acc);
        },
    );
    let mut user_shared = private_in_shared;
    for (class, figures, value) in shared_once.values() {
        class_totals.entry(*class).or_default().add(figures);
        user_shared = user_shared.saturating_add(*value);
    }
    for (class, copies) in own_copies {
        if let Some(rss) = class_totals.get_mut(&class).and_then(|f| f.rss.as_mut()) {
            *rss = rss.saturating_add(copies);
        }
    }
    if measure == Measure::Pss {
        user_shared = pss_shared;
    }
    // A total order (pids are unique), so the unstable sort gives the same order without the
    // stable sort's buffer of one more copy of every account.
    processes.sort_unstable_by(|a, b| b.demand.cmp(&a.demand).then(a.pid.cmp(&b.pid)));
    Accounting {
        measure,
        processes,
        class_totals,
        user_demand: user_private.saturating_add(user_shared),
        user_private,
        user_shared,
        measure_fallback,
        shm_objects: objects.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::{account_in_rounds, Measure, ROUND};
    use crate::collect::{load, LiveOptions};
    use std::fmt::Write;

    /// One mapping of smaps, its figures in kB.
    fn mapping(out: &mut String, header: &str, size: u64, rss: u64, pss: u64, private: u64) {
        let shared = rss - private;
        writeln!(
            out,
            "{header}\nSize: {size} kB\nRss: {rss} kB\nPss: {pss} kB\nShared_Clean: {shared} kB\n\
             Shared_Dirty: 0 kB\nPrivate_Clean: 0 kB\nPrivate_Dirty: {private} kB\n\
             Anonymous: {private} kB\nSwap: 0 kB"
        )
        .unwrap();
    }

    /// `processes` processes that share a library, a file on a tmpfs, a memfd and a shared
    /// anonymous segment, each with its own figures (every fourth without smaps): what the fold
    /// sums in process order (shared pieces counted once, shmem objects by inode, the list of
    /// processes whose figures fell back to another measure).
    fn board(dir: &std::path::Path, processes: u64) {
        let proc = dir.join("proc");
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(dir.join("meta"), "format=1\nsmaps=1\n").unwrap();
        std::fs::write(proc.join("meminfo"), "MemTotal: 262144 kB\n").unwrap();
        std::fs::write(
            proc.join("mounts"),
            "tmpfs /dev/shm tmpfs rw 0 0\n/dev/root / ext4 rw 0 0\n",
        )
        .unwrap();
        for n in 1..=processes {
            let pid = proc.join(n.to_string());
            std::fs::create_dir_all(&pid).unwrap();
            let mut smaps = String::new();
            let k = n % 7;
            mapping(
                &mut smaps,
                "00010000-00012000 r-xp 00000000 1f:02 10 /bin/app",
                8,
                8,
                4,
                0,
            );
            mapping(
                &mut smaps,
                "00022000-00023000 rw-p 00002000 1f:02 10 /bin/app",
                4,
                4,
                4,
                4,
            );
            mapping(
                &mut smaps,
                "00030000-00040000 rw-p 00000000 00:00 0 [heap]",
                64,
                4 * k,
                4 * k,
                4 * k,
            );
            mapping(
                &mut smaps,
                "b6e00000-b6f00000 r-xp 00000000 1f:02 20 /lib/libc.so",
                1024,
                4 * (k + 1),
                k + 1,
                0,
            );
            let shm_offset = (n % 3) * 0x1000;
            let shm = format!("b7000000-b7004000 rw-s {shm_offset:08x} 00:13 77 /dev/shm/seg");
            mapping(&mut smaps, &shm, 16, 4 * (n % 4), 4, 0);
            let gone =
                format!("b7080000-b7081000 rw-s {shm_offset:08x} 00:13 78 /dev/shm/old (deleted)");
            mapping(&mut smaps, &gone, 4, 4 * (n % 2), 2, 0);
            mapping(
                &mut smaps,
                "b7100000-b7102000 rw-s 00000000 00:05 88 /memfd:pool (deleted)",
                8,
                4 * (n % 2),
                2,
                0,
            );
            mapping(
                &mut smaps,
                "b7200000-b7210000 rw-s 00000000 00:01 99 /dev/zero (deleted)",
                64,
                4 * (n % 5),
                2,
                0,
            );
            if n % 4 == 0 {
                // maps alone: its figures fall back to the virtual size, listed by pid.
                let headers: String = smaps
                    .lines()
                    .filter(|l| !l.contains(':') || l.contains('-'))
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(pid.join("maps"), headers).unwrap();
            } else {
                std::fs::write(pid.join("smaps"), smaps).unwrap();
            }
            std::fs::write(
                pid.join("status"),
                format!("Name:\tapp{n}\nTgid:\t{n}\nPid:\t{n}\nThreads:\t1\n"),
            )
            .unwrap();
        }
    }

    /// Issue 18: the accounts are the same however the processes are split into rounds and
    /// whether one thread or two work them out: every figure, and the order of everything.
    #[test]
    fn rounds_and_threads_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        board(dir.path(), 50);
        let snapshot = load(Some(dir.path()), LiveOptions::default()).unwrap();
        assert_eq!(snapshot.processes.len(), 50);
        for measure in [Measure::Virtual, Measure::Rss, Measure::Pss] {
            let one = account_in_rounds(&snapshot, measure, None, ROUND, false);
            assert_eq!(one.shm_objects.len(), 2, "{:?}", one.shm_objects);
            assert_eq!(one.processes.len(), 50);
            if measure != Measure::Virtual {
                assert_eq!(
                    one.measure_fallback,
                    (4..=48).step_by(4).collect::<Vec<u32>>()
                );
            }
            let one = format!("{one:?}");
            for round in [1, 2, 7, 49, 50, ROUND] {
                for two_threads in [false, true] {
                    let other = account_in_rounds(&snapshot, measure, None, round, two_threads);
                    assert!(
                        one == format!("{other:?}"),
                        "{measure:?}, rounds of {round}, two threads: {two_threads}"
                    );
                }
            }
        }
    }
}
