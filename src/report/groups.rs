//! The grouped views (`report --by program|library|user`) as a [`Section`] every layout
//! shows: one row per group, and with `--members` one indented row per member under it.

use super::document::Section;
use super::ReportOptions;
use crate::account::groups::{Group, GroupBy, Grouping};
use crate::account::{Figures, Measure};
use crate::budget::Budget;

/// How many mappers a library row names before "+N more" (all are in JSON).
const NAMED_MAPPERS: usize = 6;

fn opt(o: &ReportOptions, value: Option<u64>) -> String {
    value.map_or("-".into(), |v| o.size(v))
}

/// The measure's figure, or virtual where the group fell back to it.
fn measured(o: &ReportOptions, f: &Figures, measure: Measure, fallback: bool) -> String {
    let value = if fallback {
        Some(f.virtual_size)
    } else {
        f.get(measure)
    };
    opt(o, value)
}

fn all_measures(o: &ReportOptions, f: &Figures) -> Vec<String> {
    vec![
        o.size(f.virtual_size),
        opt(o, f.rss),
        opt(o, f.pss),
        opt(o, f.uss),
        opt(o, f.swap),
    ]
}

/// `name (pid)` of up to [`NAMED_MAPPERS`] mappers, then how many more.
fn mapped_by(g: &Group, names: &std::collections::BTreeMap<u32, &str>) -> String {
    let mut shown: Vec<String> = g
        .pids
        .iter()
        .take(NAMED_MAPPERS)
        .map(|pid| format!("{} ({pid})", names.get(pid).copied().unwrap_or("?")))
        .collect();
    if g.pids.len() > NAMED_MAPPERS {
        shown.push(format!("+{} more", g.pids.len() - NAMED_MAPPERS));
    }
    shown.join(", ")
}

/// Program and user rows; users have a uid column, programs no id column.
fn process_rows(s: &mut Section, g: &Grouping, o: &ReportOptions, indent: &str) {
    let with_id = g.by == GroupBy::User;
    for group in &g.groups {
        let fallback = group.measure_fallback;
        let mut row = vec![group.name.clone()];
        if with_id {
            row.push(group.id.clone().unwrap_or_default());
        }
        row.extend([
            group.pids.len().to_string(),
            measured(o, &group.private, g.measure, fallback),
            measured(o, &group.shared, g.measure, fallback),
            measured(o, &group.total, g.measure, fallback),
        ]);
        row.extend(all_measures(o, &group.total));
        s.rows.push(row);
        for m in &group.members {
            let mut total = m.private;
            total.add(&m.shared);
            let mut row = vec![format!("{indent}{} ({})", m.name, m.pid)];
            if with_id {
                row.push(String::new());
            }
            row.extend([
                String::new(),
                measured(o, &m.private, g.measure, fallback),
                measured(o, &m.shared, g.measure, fallback),
                measured(o, &total, g.measure, fallback),
            ]);
            row.extend(all_measures(o, &total));
            s.rows.push(row);
        }
    }
}

fn library_rows(s: &mut Section, b: &Budget, g: &Grouping, o: &ReportOptions, indent: &str) {
    let names: std::collections::BTreeMap<u32, &str> = b
        .accounting
        .processes
        .iter()
        .map(|p| (p.pid, p.name.as_str()))
        .collect();
    for group in &g.groups {
        let mut row = vec![
            group.name.clone(),
            group.id.clone().unwrap_or_default(),
            group.pids.len().to_string(),
        ];
        row.extend(all_measures(o, &group.total));
        row.push(mapped_by(group, &names));
        s.rows.push(row);
        for m in &group.members {
            let mut total = m.private;
            total.add(&m.shared);
            let mut row = vec![
                format!("{indent}{} ({})", m.name, m.pid),
                String::new(),
                String::new(),
            ];
            row.extend(all_measures(o, &total));
            row.push(String::new());
            s.rows.push(row);
        }
    }
}

/// The grouped view of a budget, when the report asked for one.
pub fn groups_section(b: &Budget, o: &ReportOptions, indent: &str) -> Option<Section> {
    let g = b.groups.as_ref()?;
    let title = format!(
        "By {} ({} groups; the largest {} by {})",
        g.by.name(),
        g.total_groups,
        g.groups.len(),
        g.measure.name()
    );
    let measure = g.measure.name();
    let mut s = Section::new(title);
    let right = |left: usize, n: usize| {
        let mut r = vec![false; left];
        r.extend(std::iter::repeat_n(true, n));
        r
    };
    if g.by == GroupBy::Library {
        let headers = [
            "file",
            "dev:inode",
            "procs",
            "virtual",
            "rss",
            "pss",
            "uss",
            "swap",
            "mapped by",
        ];
        let mut r = right(2, 6);
        r.push(false);
        s = s.table(&headers, &r);
        library_rows(&mut s, b, g, o, indent);
    } else {
        let private = format!("private {measure}");
        let shared = format!("shared once {measure}");
        let total = format!("total {measure}");
        let mut headers = vec![g.by.name()];
        if g.by == GroupBy::User {
            headers.push("uid");
        }
        let left = headers.len();
        headers.extend([
            "procs", &private, &shared, &total, "virtual", "rss", "pss", "uss", "swap",
        ]);
        s = s.table(&headers, &right(left, 9));
        process_rows(&mut s, g, o, indent);
    }
    if g.total_groups > g.groups.len() {
        s.notes.push(format!(
            "{} more groups not listed (--top).",
            g.total_groups - g.groups.len()
        ));
    }
    s.notes.extend(g.notes.iter().cloned());
    Some(s)
}
