//! `/proc/PID/stat`: one line of space-separated fields. Native captures use it for the start
//! time (telling a restarted process from the same one across a series); smem's captures have
//! no `status`, so there it is also where a process's name, thread count and size come from.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat {
    /// Field 2, the command name (`comm`) without its parentheses.
    pub name: Option<String>,
    /// Field 20, `num_threads`.
    pub threads: Option<u32>,
    /// Field 22, `starttime`: clock ticks since boot.
    pub start_time: Option<u64>,
    /// Field 23, `vsize`, in bytes: the same figure as `VmSize` in status.
    pub vm_size: Option<u64>,
}

/// Parses `stat`. The command name may hold spaces and parentheses (`(my (odd) prog)`), so the
/// name runs from the first `(` to the last `)`, and the numbered fields are counted after it.
/// Missing or malformed fields are `None`, never an error: smemcap writes an empty file for a
/// pid it could not read.
pub fn parse_stat(bytes: &[u8]) -> Stat {
    let text = String::from_utf8_lossy(bytes);
    let (Some(open), Some(close)) = (text.find('('), text.rfind(')')) else {
        return Stat::default();
    };
    if close < open {
        return Stat::default();
    }
    // Field 3 (state) is the first after the name, so field N is at index N - 3.
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Stat {
        name: Some(super::status::name_text(&text[open + 1..close])),
        threads: field(20).and_then(|f| f.parse().ok()),
        start_time: field(22).and_then(|f| f.parse().ok()),
        vm_size: field(23).and_then(|f| f.parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_after_an_odd_comm() {
        // Fields 1..=24 written out; 20 = 3 threads, 22 = 123456 ticks, 23 = 4096000 bytes.
        let stat = b"42 (my (odd) prog) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 123456 4096000 10";
        let s = parse_stat(stat);
        assert_eq!(s.name.as_deref(), Some("my (odd) prog"));
        assert_eq!(s.threads, Some(3));
        assert_eq!(s.start_time, Some(123456));
        assert_eq!(s.vm_size, Some(4_096_000));
    }

    #[test]
    fn empty_or_truncated_is_not_an_error() {
        assert_eq!(parse_stat(b""), Stat::default());
        let s = parse_stat(b"7 (sh) S 1");
        assert_eq!(s.name.as_deref(), Some("sh"));
        assert_eq!(s.threads, None);
    }
}
