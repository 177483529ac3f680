//! The real captures the parser tests read (tests/fixtures/real): every file whose name holds
//! a given word, found by walking the fixture tree.

use std::path::PathBuf;

/// The bytes of every file under tests/fixtures/real whose name contains `word`.
pub(crate) fn files_named(word: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let real = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/real");
    let mut found = Vec::new();
    let mut dirs = vec![PathBuf::from(real)];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains(word))
            {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path, bytes));
            }
        }
    }
    found
}
