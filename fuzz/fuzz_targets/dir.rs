//! The snapshot directory walker: the input becomes a directory tree (regular files, FIFOs,
//! symbolic links, deep and odd names), which `DirSource` then reads into a snapshot. No input
//! may panic or hang (a FIFO is never opened for reading), and a snapshot that loads holds
//! only files from inside the tree.
#![no_main]
use libfuzzer_sys::fuzz_target;
use membudget::collect::dir::DirSource;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let root = std::env::temp_dir().join(format!("membudget-fuzz-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // Records: a kind byte, a path, NUL, the contents, NUL.
    let mut records = data.split(|&c| c == 0);
    while let (Some(path), Some(contents)) = (records.next(), records.next()) {
        let Some((&kind, path)) = path.split_first() else {
            continue;
        };
        make(&root, kind, path, contents);
    }
    if let Ok(snapshot) = membudget::collect::collect(&mut DirSource::new(&root)) {
        assert!(snapshot.meminfo.get("MemTotal").is_some_and(|t| t > 0));
    }
    let _ = std::fs::remove_dir_all(&root);
});

/// Creates one entry under `root`; paths that leave it (`..`, absolute) are not created.
fn make(root: &Path, kind: u8, path: &[u8], contents: &[u8]) {
    let relative = Path::new(std::ffi::OsStr::from_bytes(path));
    if path.is_empty()
        || relative.is_absolute()
        || relative.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return;
    }
    let full = root.join(relative);
    // An earlier record may have made this path, or a directory on the way, a FIFO or a link:
    // writing there would block for ever, or go through the link to outside the tree.
    let mut on_the_way = root.to_path_buf();
    for part in relative.components() {
        on_the_way.push(part);
        if on_the_way
            .symlink_metadata()
            .is_ok_and(|m| !m.is_dir() || on_the_way == full)
        {
            return;
        }
    }
    if let Some(parent) = full.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
    }
    let _ = match kind % 4 {
        0 | 1 => std::fs::write(&full, contents),
        2 => std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(contents), &full),
        _ => {
            let c_path = std::ffi::CString::new(full.as_os_str().as_bytes()).unwrap();
            // SAFETY: mkfifo takes a NUL-terminated path and a mode.
            unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) };
            Ok(())
        }
    };
}
