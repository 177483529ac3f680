//! RAM → boot line → MemTotal on real boards whose boot log and meminfo are both known
//! (tests/fixtures/reconcile/, cut from the real captures in tests/fixtures/real; see PROVENANCE.md there). The
//! expected figures are the kernel's own: the `Memory:` line, the `Freeing` lines (or, where
//! the console log lacks them, the init size and the `initrd=` span), and MemTotal.

use membudget::budget::{evaluate, Reconciliation};
use membudget::collect::{load, LiveOptions};
use membudget::profile::Profile;
use std::path::Path;

const KIB: i64 = 1024;

fn reconcile(board: &str) -> Reconciliation {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/reconcile")
        .join(board);
    let snapshot = load(Some(&dir), LiveOptions::default()).unwrap();
    let budget = evaluate(&snapshot, &Profile::load_or_default(None).unwrap()).unwrap();
    budget
        .reconciliation
        .expect("the fixture has a Memory: line")
}

fn row(r: &Reconciliation, prefix: &str) -> i64 {
    let found: Vec<i64> = r
        .rows
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one row starting {prefix:?} in {:?}",
        r.rows
    );
    found[0]
}

/// The table is a real derivation, not a list of unrelated figures: "RAM the kernel saw" less
/// the boot-time deductions is "available at boot", and that plus what was freed later is the
/// expected MemTotal.
fn assert_rows_add_up(r: &Reconciliation) {
    let position = |prefix: &str| {
        r.rows
            .iter()
            .position(|(name, _)| name.starts_with(prefix))
            .unwrap()
    };
    let (seen, available) = (
        position("RAM the kernel saw"),
        position("available at boot"),
    );
    let deducted: i64 = r.rows[seen..available].iter().map(|(_, v)| v).sum();
    assert_eq!(deducted, r.rows[available].1, "{:?}", r.rows);
    let expected: i64 = r.rows[available..].iter().map(|(_, v)| v).sum();
    assert_eq!(expected, r.expected_mem_total as i64, "{:?}", r.rows);
}

/// Fullhan FH8856, kernel 3.0.8: the old format `Memory: 31424k/31424k available, 5440k
/// reserved` (with `Memory: 36MB = 36MB total`) + `Freeing init memory: 884K` = 32308 kB.
#[test]
fn asecam_old_format_line_matches_exactly() {
    let r = reconcile("fullhan-fh8856-asecam");
    assert_eq!(row(&r, "RAM the kernel saw"), 36 * 1024 * KIB);
    assert_eq!(row(&r, "reserved at boot"), -5440 * KIB);
    assert_eq!(row(&r, "available at boot"), 31424 * KIB);
    assert_eq!(row(&r, "freed later: init"), 884 * KIB);
    assert_eq!(r.mem_total, 32308 * 1024);
    assert_eq!(r.gap, 0);
    assert!(!r.flagged);
    assert_rows_add_up(&r);
}

/// Fullhan FH8856V200, kernel 4.9.129: `Memory: 31432K/36864K available (... 824K init ...
/// 5432K reserved ...)` + `Freeing unused kernel memory: 824K` = 32256 kB.
#[test]
fn jieuno_matches_exactly() {
    let r = reconcile("fullhan-fh8856v200-jieuno");
    assert_eq!(row(&r, "RAM the kernel saw"), 36864 * KIB);
    assert_eq!(row(&r, "reserved at boot"), -5432 * KIB);
    assert_eq!(row(&r, "freed later: unused kernel"), 824 * KIB);
    assert_eq!(r.mem_total, 32256 * 1024);
    assert_eq!(r.gap, 0);
    assert_rows_add_up(&r);
}

/// JBL Bar 9.1 (MT8531, ARM kernel 4.9.134): `Memory: 454528K/514048K available (... 1024K
/// init ... 59520K reserved ...)`; the serial log holds no Freeing lines, so init (1024 kB)
/// and the initrd (`initrd=0x0f000000,0x002e63ae`: 743 whole pages = 2972 kB, ARM frees the
/// partial last page too) are inferred: 454528 + 1024 + 2972 = 458524 kB = MemTotal.
#[test]
fn jbl_soundbar_matches_with_inferred_frees() {
    let r = reconcile("jbl-bar91-mt8531");
    assert_eq!(row(&r, "RAM the kernel saw"), 514048 * KIB);
    assert_eq!(row(&r, "available at boot"), 454528 * KIB);
    assert_eq!(row(&r, "freed later: init (no Freeing line"), 1024 * KIB);
    assert_eq!(row(&r, "freed later: initrd (no Freeing line"), 2972 * KIB);
    assert_eq!(r.mem_total, 458524 * 1024);
    assert_eq!(r.gap, 0);
    assert_rows_add_up(&r);
}
