//! smem's capture layout, read as a snapshot so teams with existing smem captures can use them.
//!
//! `smemcap` (and smem's own `--source` directories) hold, at the top level, `meminfo`,
//! `version`, and one directory per top-level /proc pid with `smaps`, `cmdline` and `stat`.
//! Each of those is a copy of the same kernel file our format keeps under `proc/`, so reading
//! smem is a path mapping and nothing more: `meminfo` → `proc/meminfo`, `PID/smaps` →
//! `proc/PID/smaps`. Our own snapshots never have a top-level `meminfo` or `PID/` directory,
//! so the mapping cannot misread one of them, and no separate detection pass is needed.
//!
//! What smem lacks is handled where the files meet: no `maps` (the builder reads the smaps
//! headers as the maps), no `status` (the builder names the process from `stat`), no `mounts`
//! (the builder warns that tmpfs files are then recognised by path only).
//!
//! smemcap writes a header with an uninitialised mode, owner and mtime, and an empty body, for
//! a pid it could not open; the tar reader ignores those header fields, and an empty smaps is
//! a process without an address space (left out, as kernel threads are).

/// The snapshot path of a file in smem's layout, or `None` if `path` is not one.
pub fn snapshot_path_of(path: &str) -> Option<String> {
    match path {
        "meminfo" => return Some("proc/meminfo".into()),
        "version" => return Some("proc/version".into()),
        _ => {}
    }
    let (pid, file) = path.split_once('/')?;
    let smem_file = matches!(file, "smaps" | "cmdline" | "stat");
    (smem_file && !pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()))
        .then(|| format!("proc/{pid}/{file}"))
}

#[cfg(test)]
mod tests {
    use super::snapshot_path_of;

    #[test]
    fn maps_smem_paths_and_nothing_else() {
        assert_eq!(snapshot_path_of("meminfo").unwrap(), "proc/meminfo");
        assert_eq!(snapshot_path_of("version").unwrap(), "proc/version");
        assert_eq!(snapshot_path_of("812/smaps").unwrap(), "proc/812/smaps");
        assert_eq!(snapshot_path_of("812/stat").unwrap(), "proc/812/stat");
        assert_eq!(snapshot_path_of("812/cmdline").unwrap(), "proc/812/cmdline");
        assert_eq!(snapshot_path_of("812/maps"), None);
        assert_eq!(snapshot_path_of("x12/smaps"), None);
        assert_eq!(snapshot_path_of("proc/meminfo"), None);
        assert_eq!(snapshot_path_of("meta"), None);
    }
}
