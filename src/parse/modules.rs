//! `/proc/modules`: loaded kernel modules and the memory each takes (`name size refs deps
//! state address`). Module memory is vmalloc'd: on kernels that leave `VmallocUsed` at 0
//! (4.4 to 5.2) it is one thing the kernel still lets you say about unattributed memory.

use super::lines::lines;
use super::maps::LineIssue;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Module {
    pub name: String,
    pub size: u64,
}

pub fn parse_modules(bytes: &[u8]) -> (Vec<Module>, Vec<LineIssue>) {
    let mut modules = Vec::new();
    let mut issues = Vec::new();
    for (number, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        match fields.get(1).and_then(|s| s.parse::<u64>().ok()) {
            Some(size) => modules.push(Module {
                name: fields[0].to_string(),
                size,
            }),
            None => issues.push(LineIssue {
                line: number,
                message: "expected `name size refs deps state address`".into(),
            }),
        }
    }
    (modules, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes() {
        let (m, issues) = parse_modules(
            b"zram 32768 1 - Live 0xbf000000\nzsmalloc 24576 1 zram, Live 0xbf010000\nbroken\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].name, "zsmalloc");
        assert_eq!(m.iter().map(|m| m.size).sum::<u64>(), 57344);
        assert_eq!(issues[0].line, 3);
    }
}
