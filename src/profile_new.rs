//! `membudget profile new`: a starting profile written from a known-good snapshot, so a team
//! adopting the check does not hand-write TOML from a report. Every number says where it came
//! from, and what only a person can confirm (the chip's real size, vendor carve-outs) is left
//! as a comment to check. The profile passes `check` on the snapshot it was made from; a later
//! snapshot where a process, a class or the whole demand grew past the margin fails.

use crate::account::classify::Counting;
use crate::account::Measure;
use crate::budget::{evaluate, Budget};
use crate::error::Result;
use crate::model::Snapshot;
use crate::profile::Profile;
use crate::size::human;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The growth allowed over today's figures, in percent (`--margin 10%`).
pub fn parse_margin(text: &str) -> std::result::Result<f64, String> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim());
    match number.trim().parse::<f64>() {
        Ok(p) if (0.0..=1000.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{text:?} is not a margin between 0% and 1000% (such as 10%)"
        )),
    }
}

/// `bytes` plus `margin` percent, rounded up to a whole KiB.
fn with_margin(bytes: u64, margin: f64) -> u64 {
    let grown = (bytes as f64 * (1.0 + margin / 100.0)).ceil() as u64;
    grown.div_ceil(1024).saturating_mul(1024)
}

/// A size as the profile writes it: whole KiB where it is one, else bytes.
fn size(bytes: u64) -> String {
    if bytes % 1024 == 0 {
        format!("\"{}KiB\"", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

/// A TOML string (process names are the board's: quotes, backslashes, anything). A JSON
/// string is a valid TOML basic string: the same quotes, and escapes (`\"`, `\\`, `\n`,
/// `\uXXXX`...) that TOML reads alike; serde_json never writes the one it lacks (`\/`). DEL,
/// which JSON may carry raw but TOML may not, is escaped too.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('\u{7f}', "\\u007f")
}

/// Snapshot text inside a comment: one line, no control characters.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `pss` when every process has smaps with Pss (resident, shared pages split), else `virtual`
/// (the ceiling maps alone give).
fn chosen_measure(snapshot: &Snapshot) -> Measure {
    let all_pss = !snapshot.processes.is_empty()
        && snapshot.processes.iter().all(|p| {
            p.mappings
                .iter()
                .any(|m| m.smaps.is_some_and(|s| s.pss.is_some()))
        });
    if all_pss {
        Measure::Pss
    } else {
        Measure::Virtual
    }
}

/// Vendor command-line parameters that set memory aside from Linux (HiSilicon `mmz=`,
/// Ingenic `rmem=`): carve-out candidates, to confirm by hand.
const CARVEOUT_PARAMS: [&str; 2] = ["mmz", "rmem"];

/// A carve-out parameter's size: its first field with a K/M/G unit (`mmz=anonymous,0,
/// 0x82500000,27M` → 27 MiB, `rmem=18M@0x2e00000` → 18 MiB).
fn carveout_size(value: &str) -> Option<u64> {
    value
        .split([',', '@'])
        .filter(|field| field.ends_with(['k', 'K', 'm', 'M', 'g', 'G']))
        .find_map(|field| crate::size::parse_size(field).ok())
}

/// The carve-outs the kernel command line names, with their sizes: (name, bytes, parameter).
fn cmdline_carveouts(snapshot: &Snapshot) -> Vec<(String, u64, String)> {
    let params = snapshot
        .kernel_cmdline
        .as_ref()
        .map(|c| c.memory_params())
        .unwrap_or_default();
    params
        .into_iter()
        .filter(|(key, _)| CARVEOUT_PARAMS.contains(&key.as_str()))
        .filter_map(|(key, value)| {
            let bytes = carveout_size(&value)?;
            Some((key.clone(), bytes, comment_text(&format!("{key}={value}"))))
        })
        .collect()
}

/// RAM: what the kernel saw plus the command line's carve-outs. What the kernel saw is the
/// boot line, else MemTotal (then the kernel's static memory is missing from it). The comments
/// say which.
fn ram_line(snapshot: &Snapshot, carveouts: &[(String, u64, String)], out: &mut String) -> u64 {
    let hidden: u64 = carveouts.iter().map(|(_, bytes, _)| bytes).sum();
    let seen = kernel_ram(snapshot, out);
    if hidden > 0 {
        let _ = writeln!(
            out,
            "# CHECK: plus the carve-outs of the kernel command line ({}), declared below.",
            human(hidden)
        );
    }
    let _ = writeln!(out, "ram = {}", size(seen.saturating_add(hidden)));
    seen.saturating_add(hidden)
}

fn kernel_ram(snapshot: &Snapshot, out: &mut String) -> u64 {
    let mem_total = snapshot.meminfo.get("MemTotal").unwrap_or(0);
    match &snapshot.boot_memory {
        Some(boot) if boot.total >= mem_total => {
            let _ = writeln!(
                out,
                "# RAM the kernel saw: dmesg line {} (\"Memory: .../{}K\"). If the chip is larger\n# (mem= below, vendor carve-outs), set the chip's size and declare the rest in [carveouts].",
                boot.line,
                boot.total / 1024
            );
            boot.total
        }
        _ => {
            let _ = writeln!(
                out,
                "# CHECK: no boot log in the snapshot: this is MemTotal ({}), which leaves out the kernel's\n# own memory and everything hidden from it. Replace it with the board's RAM.",
                human(mem_total)
            );
            mem_total
        }
    }
}

/// What the kernel command line says about memory the kernel does not see, as comments.
fn cmdline_comments(snapshot: &Snapshot, out: &mut String) {
    let params = snapshot
        .kernel_cmdline
        .as_ref()
        .map(|c| c.memory_params())
        .unwrap_or_default();
    if params.is_empty() {
        let _ = writeln!(out, "# The kernel command line (proc/cmdline) sets no memory parameter: no mem=, cma=, mmz=.");
        return;
    }
    for (key, value) in params {
        let param = comment_text(&format!("{key}={value}"));
        let why = match key.as_str() {
            "mem" => "the kernel uses only this much: RAM above it is hidden from Linux (often a vendor carve-out); set ram to the chip and declare the hidden part in [carveouts]",
            "cma" => "CMA is carved from the RAM the kernel sees (inside the boot line): no carve-out to declare",
            key if CARVEOUT_PARAMS.contains(&key) => "memory kept from Linux: declared under [carveouts] and added to ram; confirm its size and that it lies outside the RAM the kernel saw",
            "initrd" | "ramdisk_size" | "vmalloc" => "not a carve-out",
            _ => "a vendor or reserved region: if it lies outside the RAM the kernel saw, declare it in [carveouts] (confirm its size)",
        };
        let _ = writeln!(out, "# proc/cmdline: {param}: {why}.");
    }
}

/// The budget of the snapshot under a bare profile: the figures the new profile starts from.
fn measure_today(
    snapshot: &Snapshot,
    ram: u64,
    measure: Measure,
    carveouts: &[(String, u64, String)],
) -> Result<Budget> {
    let mut text = format!(
        "ram = {ram}\nmeasure = \"{}\"\n[carveouts]\n",
        measure.name()
    );
    for (name, bytes, _) in carveouts {
        let _ = writeln!(text, "{name} = {bytes}");
    }
    let profile = Profile::parse(&text, "profile new (today's figures)")?;
    evaluate(snapshot, &profile)
}

fn headroom_line(budget: &Budget, margin: f64, out: &mut String) {
    let allowed_growth = (budget.demand as f64 * margin / 100.0) as i64;
    let min = (budget.headroom - allowed_growth).max(0) as u64 / 1024 * 1024;
    let _ = writeln!(
        out,
        "# Today: demand {} of RAM {}, headroom {}. The minimum headroom lets the demand grow by\n# the margin ({margin}% of today's demand) before it fails.",
        human(budget.demand),
        human(budget.ram),
        crate::size::human_signed(budget.headroom)
    );
    if budget.headroom < 0 {
        let _ = writeln!(
            out,
            "# CHECK: today's demand is already over RAM by this measure: check fails until that is resolved\n# (under virtual, thread stacks and reserved address space count in full: capture --smaps for pss)."
        );
    }
    let _ = writeln!(out, "min_headroom = {}", size(min));
}

fn expect_line(budget: &Budget, out: &mut String) {
    let names: std::collections::BTreeSet<&str> = budget
        .accounting
        .processes
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let _ = writeln!(
        out,
        "# Every user process running at capture (status Name). CHECK: keep the ones that must run;\n# remove shells, editors and one-off tools (sh, vi, getty...)."
    );
    let list: Vec<String> = names.iter().map(|n| toml_string(n)).collect();
    let _ = writeln!(out, "expect = [{}]", list.join(", "));
}

fn class_limits(budget: &Budget, margin: f64, out: &mut String) {
    let _ = writeln!(
        out,
        "\n# System-wide per class: today's {} figure (shared classes counted once) plus {margin}%.\n[classes]",
        budget.measure.name()
    );
    for (class, figures) in &budget.accounting.class_totals {
        if class.counting() == Counting::NotCounted {
            continue;
        }
        let today = figures.get(budget.measure).unwrap_or(figures.virtual_size);
        if today == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "{} = {}  # today {}",
            class.name(),
            size(with_margin(today, margin)),
            human(today)
        );
    }
}

fn process_limits(budget: &Budget, margin: f64, out: &mut String) {
    let mut largest: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    for p in &budget.accounting.processes {
        let entry = largest.entry(p.name.as_str()).or_insert((0, 0));
        entry.0 = entry.0.max(p.demand);
        entry.1 += 1;
    }
    let _ = writeln!(
        out,
        "\n# Per process (by status Name): today's private {} (heap, stacks, data, anon) plus {margin}%;\n# for a name that runs several times, the largest instance.",
        budget.measure.name()
    );
    for (name, (today, count)) in largest {
        let _ = writeln!(
            out,
            "\n[[process]]\nname = {}\nmax = {}  # today {}{}",
            toml_string(name),
            size(with_margin(today, margin)),
            human(today),
            if count > 1 {
                format!(", largest of {count}")
            } else {
                String::new()
            }
        );
    }
}

/// The starting profile for the board of `snapshot`, as TOML text with comments.
pub fn new_profile(snapshot: &Snapshot, margin: f64) -> Result<String> {
    let measure = chosen_measure(snapshot);
    let mut out = String::new();
    let host = snapshot.meta.get("host").unwrap_or("this board");
    let _ = writeln!(
        out,
        "# Starting profile written by `membudget profile new` from {} (margin {margin}%).\n# Lines marked CHECK need a person: the numbers are today's, not the board's promises.",
        comment_text(&snapshot.origin)
    );
    let _ = writeln!(
        out,
        "name = {}",
        toml_string(&format!(
            "{} (from {})",
            comment_text(host),
            comment_text(&snapshot.origin)
        ))
    );
    let carveouts = cmdline_carveouts(snapshot);
    let ram = ram_line(snapshot, &carveouts, &mut out);
    cmdline_comments(snapshot, &mut out);
    let budget = measure_today(snapshot, ram, measure, &carveouts)?;
    let _ = writeln!(
        out,
        "# {}: {}.",
        measure.name(),
        if measure == Measure::Pss {
            "every process has smaps with Pss, so shared pages are split among their users"
        } else {
            "the snapshot lacks smaps (or Pss) for some process: mapped size, a ceiling"
        }
    );
    let _ = writeln!(out, "measure = \"{}\"", measure.name());
    headroom_line(&budget, margin, &mut out);
    expect_line(&budget, &mut out);
    let _ = writeln!(
        out,
        "\n# CHECK: memory taken before Linux (MMZ, framebuffer, DSP) is invisible to a snapshot.\n# Declare it here when ram is the chip's size: name = \"size\".\n[carveouts]"
    );
    for (name, bytes, param) in &carveouts {
        let _ = writeln!(out, "{name} = {}  # CHECK: from {param}", size(*bytes));
    }
    let _ = writeln!(
        out,
        "\n# CHECK: the original method holds back at least 30 MiB for disk cache and network buffers;\n# uncomment when the headroom allows it.\n[reserves]\n# disk_cache_and_skb = \"30MiB\""
    );
    class_limits(&budget, margin, &mut out);
    process_limits(&budget, margin, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margins_and_sizes() {
        assert_eq!(parse_margin("10%"), Ok(10.0));
        assert_eq!(parse_margin(" 2.5 "), Ok(2.5));
        assert!(parse_margin("-1%").is_err());
        assert!(parse_margin("ten").is_err());
        assert_eq!(with_margin(1000 * 1024, 10.0), 1100 * 1024);
        assert_eq!(with_margin(1, 0.0), 1024);
        assert_eq!(size(2048), "\"2KiB\"");
        assert_eq!(size(100), "100");
        for name in ["a\"b", "back\\slash", "new\nline", "both'\""] {
            let doc: toml::Table = toml::from_str(&format!("x = {}", toml_string(name))).unwrap();
            assert_eq!(doc["x"].as_str(), Some(name));
        }
    }

    #[test]
    fn vendor_carveout_sizes() {
        assert_eq!(carveout_size("anonymous,0,0x82500000,27M"), Some(27 << 20));
        assert_eq!(carveout_size("18M@0x2e00000"), Some(18 << 20));
        assert_eq!(carveout_size("anonymous,0,0x82500000"), None);
    }
}
