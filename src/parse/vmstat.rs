//! `/proc/vmstat`, minimally: the one counter the verdict needs, `oom_kill` (kernel 4.13 and
//! later), the number of processes the OOM killer has killed since boot. Tolerant: lines that
//! are not `name number` are skipped, and a missing counter is `None`, never 0.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Vmstat {
    pub oom_kill: Option<u64>,
}

pub fn parse_vmstat(bytes: &[u8]) -> Vmstat {
    let mut out = Vmstat::default();
    for line in bytes.split(|&c| c == b'\n') {
        let text = String::from_utf8_lossy(line);
        let mut words = text.split_whitespace();
        if let (Some("oom_kill"), Some(value), None) = (words.next(), words.next(), words.next()) {
            out.oom_kill = value.parse().ok();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_oom_kill_and_skips_the_rest() {
        let v = parse_vmstat(b"nr_free_pages 1234\ngarbage\noom_kill 2\npgfault 9\n");
        assert_eq!(v.oom_kill, Some(2));
        assert_eq!(parse_vmstat(b"nr_free_pages 1\n").oom_kill, None);
        assert_eq!(parse_vmstat(b"oom_kill x\n").oom_kill, None);
    }
}
