//! `etc/passwd` of a snapshot: user names by uid, for the per-user view. Only the name and the
//! uid are ever read; the password field (a hash on systems without shadow files) is skipped
//! and never kept, and the native capture writes the reduced `name:uid` form (the busybox
//! capture may do likewise), so both forms are read.

use std::collections::BTreeMap;

/// Names by uid. Lines that are neither `name:uid` nor the full seven-field form are skipped
/// (returned as 1-based line numbers); the first name of a uid wins, as `getpwuid` does.
pub fn parse_passwd(bytes: &[u8]) -> (BTreeMap<u32, String>, Vec<usize>) {
    let mut users = BTreeMap::new();
    let mut bad = Vec::new();
    for (index, line) in bytes.split(|&c| c == b'\n').enumerate() {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let uid_field = match fields.len() {
            2 => fields[1],
            n if n >= 3 => fields[2],
            _ => "",
        };
        match uid_field.trim().parse::<u32>() {
            Ok(uid) if !fields[0].is_empty() => {
                users.entry(uid).or_insert_with(|| fields[0].to_string());
            }
            _ => bad.push(index + 1),
        }
    }
    (users, bad)
}

/// The reduced form a capture writes: `name:uid` lines, nothing else of the file.
pub fn reduce_passwd(bytes: &[u8]) -> String {
    let (users, _) = parse_passwd(bytes);
    users
        .iter()
        .map(|(uid, name)| format!("{name}:{uid}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_reduced_forms_keep_only_names_and_uids() {
        let full = b"root:$6$salt$hash:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\nbroken\n\nalias:x:0:0::/:/bin/sh\n";
        let (users, bad) = parse_passwd(full);
        assert_eq!(users.get(&0).map(String::as_str), Some("root"));
        assert_eq!(users.get(&33).map(String::as_str), Some("www-data"));
        assert_eq!(bad, vec![3]);
        let reduced = reduce_passwd(full);
        assert_eq!(reduced, "root:0\nwww-data:33\n");
        assert!(!reduced.contains("hash"));
        assert_eq!(parse_passwd(reduced.as_bytes()).0, users);
    }
}
