//! `--redact` (or `redact = true` in the profile): command lines carry pool users, passwords,
//! tokens and customer paths, and reports travel to reviews and CI logs. Redaction keeps the
//! program (what a reader needs to recognise the process) and drops every argument, in every
//! format, after the analysis (matching and pairing still see the whole command line).

use crate::budget::Budget;
use crate::diff::Diff;
use crate::trend::Trend;

/// What replaces the arguments.
pub const MARK: &str = "[arguments redacted]";

/// `innominer_T2 -u pool.1 -p x` → `innominer_T2 [arguments redacted]`; a command line with
/// no arguments is left as it is.
pub fn command_line(cmdline: &str) -> String {
    let cmdline = cmdline.trim();
    match cmdline.split_once(char::is_whitespace) {
        Some((program, _)) => format!("{program} {MARK}"),
        None => cmdline.to_string(),
    }
}

pub fn budget(b: &mut Budget) {
    for p in &mut b.accounting.processes {
        p.cmdline = command_line(&p.cmdline);
    }
}

pub fn diff(d: &mut Diff) {
    for p in &mut d.processes {
        p.cmdline = command_line(&p.cmdline);
    }
}

pub fn trend(t: &mut Trend) {
    for p in &mut t.processes {
        p.cmdline = command_line(&p.cmdline);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_program_and_drops_the_arguments() {
        assert_eq!(
            command_line("innominer_T2 -o stratum+tcp://pool:17001 -u ChaosMine.1x43 -p x"),
            "innominer_T2 [arguments redacted]"
        );
        assert_eq!(command_line("/sbin/getty"), "/sbin/getty");
        assert_eq!(command_line(""), "");
    }
}
