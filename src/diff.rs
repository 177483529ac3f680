//! What changed between two snapshots of one board (two releases): the budget line items,
//! each process and each class, processes that appeared or went away, total demand and
//! headroom. Both sides are budgets against the same profile, so the deltas are differences
//! of figures the reports already show, never a second way of counting.

use crate::account::classify::Class;
use crate::account::{Measure, ProcessAccount};
use crate::budget::Budget;
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;

/// One figure on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    pub key: String,
    pub label: String,
    pub old: u64,
    pub new: u64,
    pub delta: i64,
}

impl Delta {
    fn new(key: &str, label: &str, old: u64, new: u64) -> Result<Delta> {
        Ok(Delta {
            key: key.into(),
            label: label.into(),
            old,
            new,
            delta: signed_change(label, old, new)?,
        })
    }
}

/// `new - old` as a signed figure. Beyond ±8 EiB it is no board's memory but a sum that
/// saturated (a mapping over the whole address space), and it is refused rather than wrapped:
/// a wrapped delta once read as a shrink and passed `--fail-above`.
fn signed_change(what: &str, old: u64, new: u64) -> Result<i64> {
    i64::try_from(i128::from(new) - i128::from(old)).map_err(|_| {
        Error::msg(format!(
            "{what} goes from {old} to {new} bytes: a change beyond 8 EiB is an overflowed sum, not memory; no verdict can rest on it"
        ))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Changed,
    Unchanged,
    Appeared,
    Gone,
}

/// One process matched across the two snapshots by name and command line (pids differ
/// between releases).
#[derive(Debug, Clone, Serialize)]
pub struct ProcessDelta {
    pub name: String,
    pub cmdline: String,
    pub old_pid: Option<u32>,
    pub new_pid: Option<u32>,
    pub change: Change,
    /// Private demand (the budget's measure) on each side; 0 where absent.
    pub old: u64,
    pub new: u64,
    pub delta: i64,
    /// Change per private class in the budget's measure, classes that changed only: they add
    /// up to `delta`.
    pub classes: BTreeMap<Class, i64>,
}

/// The largest growth a diff can report (its deltas are `i64`).
pub const MAX_GROWTH_LIMIT: u64 = i64::MAX as u64;

/// How much growth `--fail-above` tolerates: bytes, or a percentage of the old demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GrowthLimit {
    Bytes(u64),
    Percent(f64),
}

impl GrowthLimit {
    /// `"1MiB"`, `"524288"` or `"5%"`.
    pub fn parse(text: &str) -> std::result::Result<GrowthLimit, String> {
        match text.trim().strip_suffix('%') {
            Some(p) => match p.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(GrowthLimit::Percent(v)),
                _ => Err(format!("{text:?} is not a percentage such as \"5%\"")),
            },
            None => match crate::size::parse_size(text)? {
                bytes if bytes > MAX_GROWTH_LIMIT => Err(format!(
                    "{text:?} is larger than any growth can be ({MAX_GROWTH_LIMIT} bytes)"
                )),
                bytes => Ok(GrowthLimit::Bytes(bytes)),
            },
        }
    }

    /// The allowed growth in bytes, at most [`MAX_GROWTH_LIMIT`]: compared with a signed
    /// delta, a larger limit would wrap negative and fail every diff (`1e300%` did).
    pub fn resolve(self, old_demand: u64) -> u64 {
        match self {
            GrowthLimit::Bytes(b) => b.min(MAX_GROWTH_LIMIT),
            GrowthLimit::Percent(p) => {
                ((old_demand as f64 * p / 100.0).round() as u64).min(MAX_GROWTH_LIMIT)
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub origin: String,
    pub meta: BTreeMap<String, String>,
    pub ram: u64,
    pub demand: u64,
    pub headroom: i64,
    pub within_budget: bool,
    pub verdict: crate::budget::Verdict,
    pub processes: usize,
}

impl Side {
    fn of(b: &Budget) -> Side {
        Side {
            origin: b.origin.clone(),
            meta: b.meta.clone(),
            ram: b.ram,
            demand: b.demand,
            headroom: b.headroom,
            within_budget: b.within_budget,
            verdict: b.verdict,
            processes: b.accounting.processes.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub profile: String,
    /// Why this profile was used (see `Profile::discover`).
    pub profile_chosen_by: String,
    pub measure: crate::account::Measure,
    pub old: Side,
    pub new: Side,
    /// new demand - old demand.
    pub demand_delta: i64,
    /// new headroom - old headroom.
    pub headroom_delta: i64,
    /// Budget line items, in the budget's order.
    pub items: Vec<Delta>,
    /// System-wide class totals by virtual size (shared counted once), largest change first.
    pub classes: Vec<Delta>,
    /// Largest absolute change first; unchanged processes last.
    pub processes: Vec<ProcessDelta>,
    pub fail_above: Option<GrowthLimit>,
    /// The growth `fail_above` allows, in bytes.
    pub allowed_growth: Option<u64>,
    /// Demand grew more than allowed.
    pub exceeded: bool,
    /// Reasons to doubt the comparison (the snapshots come from different boards).
    pub warnings: Vec<String>,
}

impl Diff {
    pub fn appeared(&self) -> impl Iterator<Item = &ProcessDelta> {
        self.processes
            .iter()
            .filter(|p| p.change == Change::Appeared)
    }

    pub fn gone(&self) -> impl Iterator<Item = &ProcessDelta> {
        self.processes.iter().filter(|p| p.change == Change::Gone)
    }
}

fn process_delta(
    old: Option<&ProcessAccount>,
    new: Option<&ProcessAccount>,
    measure: Measure,
) -> Result<ProcessDelta> {
    let any = new.or(old).map_or(("", ""), |p| (&p.name, &p.cmdline));
    let mut classes = BTreeMap::new();
    for class in crate::report::sections::PRIVATE_CLASSES {
        let size = |p: Option<&ProcessAccount>| p.map_or(0, |p| p.in_measure(class, measure));
        let delta = signed_change(
            &format!("{} of {}", class.name(), any.0),
            size(old),
            size(new),
        )?;
        if delta != 0 {
            classes.insert(class, delta);
        }
    }
    let old_demand = old.map_or(0, |p| p.demand);
    let new_demand = new.map_or(0, |p| p.demand);
    let change = match (old, new) {
        (None, _) => Change::Appeared,
        (_, None) => Change::Gone,
        _ if old_demand == new_demand && classes.is_empty() => Change::Unchanged,
        _ => Change::Changed,
    };
    Ok(ProcessDelta {
        name: any.0.to_string(),
        cmdline: any.1.to_string(),
        old_pid: old.map(|p| p.pid),
        new_pid: new.map(|p| p.pid),
        change,
        old: old_demand,
        new: new_demand,
        delta: signed_change(&format!("demand of {}", any.0), old_demand, new_demand)?,
        classes,
    })
}

/// The processes of one (name, command line) on the old and on the new side.
type Pairing<'a> = (Vec<&'a ProcessAccount>, Vec<&'a ProcessAccount>);

/// Pairs the processes of both sides by (name, command line); several with the same key are
/// paired in order of size (the accounting lists processes largest first), the surplus
/// appeared or went away.
fn match_processes(
    old: &[ProcessAccount],
    new: &[ProcessAccount],
    measure: Measure,
) -> Result<Vec<ProcessDelta>> {
    let mut groups: BTreeMap<(&str, &str), Pairing> = BTreeMap::new();
    for p in old {
        groups.entry((&p.name, &p.cmdline)).or_default().0.push(p);
    }
    for p in new {
        groups.entry((&p.name, &p.cmdline)).or_default().1.push(p);
    }
    let mut out = Vec::new();
    for (olds, news) in groups.values() {
        for i in 0..olds.len().max(news.len()) {
            out.push(process_delta(
                olds.get(i).copied(),
                news.get(i).copied(),
                measure,
            )?);
        }
    }
    out.sort_unstable_by(|a, b| {
        b.delta
            .unsigned_abs()
            .cmp(&a.delta.unsigned_abs())
            .then_with(|| (a.change == Change::Unchanged).cmp(&(b.change == Change::Unchanged)))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.old_pid.cmp(&b.old_pid))
            .then_with(|| a.new_pid.cmp(&b.new_pid))
    });
    Ok(out)
}

/// Whether growth passes the allowance. Compared wide: an allowance above `i64::MAX`
/// (`--fail-above 16EiB`, or a huge percentage) wrapped to a negative one and failed every diff.
fn exceeds(growth: i64, allowed: u64) -> bool {
    i128::from(growth) > i128::from(allowed)
}

/// MemTotal as the budget shows it: RAM less carve-outs less kernel static memory.
fn mem_total(b: &Budget) -> Option<u64> {
    let bytes = |key: &str| b.item(key).and_then(|i| i.bytes);
    b.ram
        .checked_sub(bytes("carveouts")?)?
        .checked_sub(bytes("kernel_static")?)
}

/// Why the two snapshots may not be of one board: a different host, kernel or MemTotal makes
/// the deltas a comparison of two machines, not of two releases.
fn board_warnings(old: &Budget, new: &Budget) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["host", "uname"] {
        if let (Some(a), Some(b)) = (old.meta.get(key), new.meta.get(key)) {
            if a != b {
                out.push(format!(
                    "different boards? {key} differs: {a:?} (old) and {b:?} (new)"
                ));
            }
        }
    }
    if let (Some(a), Some(b)) = (mem_total(old), mem_total(new)) {
        if a != b {
            out.push(format!(
                "different boards? MemTotal differs: {} (old) and {} (new)",
                crate::size::human(a),
                crate::size::human(b)
            ));
        }
    }
    out
}

/// Compares two budgets evaluated against the same profile.
pub fn compare(old: &Budget, new: &Budget, fail_above: Option<GrowthLimit>) -> Result<Diff> {
    if old.profile_source != new.profile_source || old.measure != new.measure {
        return Err(Error::msg(format!(
            "cannot compare budgets of different profiles ({} and {})",
            old.profile_source, new.profile_source
        )));
    }
    let mut items: Vec<Delta> = old
        .items
        .iter()
        .map(|i| {
            let new_bytes = new.item(&i.key).and_then(|n| n.bytes);
            // An unknown side is named in the label (its figure shows as 0 B).
            let label = match (i.bytes, new_bytes) {
                (None, None) => format!("{} (unknown in both: 0 B here)", i.label),
                (None, Some(_)) => format!("{} (unknown in the old: 0 B here)", i.label),
                (Some(_), None) => format!("{} (unknown in the new: 0 B here)", i.label),
                _ => i.label.clone(),
            };
            Delta::new(&i.key, &label, i.bytes.unwrap_or(0), new_bytes.unwrap_or(0))
        })
        .collect::<Result<_>>()?;
    for i in new.items.iter().filter(|i| old.item(&i.key).is_none()) {
        items.push(Delta::new(&i.key, &i.label, 0, i.bytes.unwrap_or(0))?);
    }
    let total = |b: &Budget, c: Class| {
        b.accounting
            .class_totals
            .get(&c)
            .map_or(0, |f| f.virtual_size)
    };
    let mut classes: Vec<Delta> = Class::ALL
        .iter()
        .filter(|c| {
            old.accounting.class_totals.contains_key(c)
                || new.accounting.class_totals.contains_key(c)
        })
        .map(|&c| Delta::new(c.name(), c.name(), total(old, c), total(new, c)))
        .collect::<Result<_>>()?;
    classes.sort_unstable_by(|a, b| {
        b.delta
            .unsigned_abs()
            .cmp(&a.delta.unsigned_abs())
            .then_with(|| a.key.cmp(&b.key))
    });
    let demand_delta = signed_change("demand", old.demand, new.demand)?;
    let headroom_delta = new.headroom.checked_sub(old.headroom).ok_or_else(|| {
        Error::msg("headroom changes by more than 8 EiB: an overflowed sum, not memory")
    })?;
    let allowed_growth = fail_above.map(|l| l.resolve(old.demand));
    Ok(Diff {
        profile: new.profile.clone(),
        profile_chosen_by: new.profile_chosen_by.clone(),
        measure: new.measure,
        old: Side::of(old),
        new: Side::of(new),
        demand_delta,
        headroom_delta,
        items,
        classes,
        processes: match_processes(
            &old.accounting.processes,
            &new.accounting.processes,
            new.measure,
        )?,
        fail_above,
        allowed_growth,
        exceeded: allowed_growth.is_some_and(|allowed| exceeds(demand_delta, allowed)),
        warnings: board_warnings(old, new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_limits_never_wrap_negative() {
        assert_eq!(
            GrowthLimit::Percent(1e300).resolve(1 << 20),
            MAX_GROWTH_LIMIT
        );
        assert!(GrowthLimit::parse("9223372036854775808").is_err());
        assert_eq!(
            GrowthLimit::parse("9223372036854775807").map(|l| l.resolve(0)),
            Ok(MAX_GROWTH_LIMIT)
        );
    }

    #[test]
    fn growth_limits_parse_sizes_and_percentages() {
        assert_eq!(GrowthLimit::parse("1MiB"), Ok(GrowthLimit::Bytes(1 << 20)));
        assert_eq!(GrowthLimit::parse("5%"), Ok(GrowthLimit::Percent(5.0)));
        assert_eq!(GrowthLimit::Percent(5.0).resolve(1000), 50);
        assert!(GrowthLimit::parse("x%").is_err());
        assert!(GrowthLimit::parse("-3%").is_err());
    }

    #[test]
    fn huge_allowances_do_not_wrap() {
        assert!(!exceeds(1 << 20, u64::MAX));
        let allowed = GrowthLimit::parse("1e300%").unwrap().resolve(1000);
        assert!(!exceeds(i64::MAX, allowed));
        assert!(exceeds(101, 100) && !exceeds(100, 100));
    }

    #[test]
    fn changes_beyond_8_eib_are_refused_not_wrapped() {
        assert_eq!(signed_change("x", 5, 3).unwrap(), -2);
        assert_eq!(signed_change("x", 0, i64::MAX as u64).unwrap(), i64::MAX);
        let err = signed_change("demand", 32612352, u64::MAX).unwrap_err();
        assert!(
            err.message
                .starts_with("demand goes from 32612352 to 18446744073709551615 bytes"),
            "{err}"
        );
        assert!(signed_change("x", u64::MAX, 0).is_err());
    }
}
