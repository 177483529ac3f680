//! Every report format on the three verdicts: the real Zynq capture (within budget once
//! `--allow-incomplete` accepts its missing min_free_kbytes, under the banner), the HiSilicon
//! fixture (over budget) and the real ZTE ONT capture (inconclusive: 5 processes cannot
//! explain its AnonPages): insta snapshots, the JSON against its schema, the JUnit XML parsed
//! back, the HTML rendered by headless chromium.

mod common;

use membudget::budget::{evaluate, Budget};
use membudget::collect::{load, LiveOptions};
use membudget::profile::Profile;
use membudget::report::{reporter, Format, ReportOptions};
use std::path::Path;
use std::process::Command;

const FORMATS: [(Format, &str); 5] = [
    (Format::Text, "text"),
    (Format::Markdown, "markdown"),
    (Format::Json, "json"),
    (Format::Junit, "junit"),
    (Format::Html, "html"),
];

fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn zynq() -> Budget {
    let mut budget = budget(
        &crate_dir().join("tests/fixtures/real/innosilicon-t2-zynq-snapshot"),
        "budgets/zynq-innosilicon-t2-256m.toml",
    );
    budget.allow_incomplete();
    budget
}

/// The inconclusive case: 5 of the ZTE ONT's processes against its own profile.
fn zte() -> Budget {
    budget(
        &crate_dir().join("tests/fixtures/real/zte-zx279128-ont-snapshot"),
        "budgets/zte-zx279128-ont-128m.toml",
    )
}

fn hisi() -> Budget {
    budget(
        &crate_dir().join("tests/fixtures/hisi-chacon-64m"),
        "budgets/hi3518ev300-64m.toml",
    )
}

/// The Zynq capture (it has smaps) under the `pss` measure.
fn zynq_pss() -> Budget {
    let path = crate_dir().join("budgets/zynq-innosilicon-t2-256m.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("measure = \"virtual\"", "measure = \"pss\"");
    assert!(text.contains("measure = \"pss\""), "the profile changed");
    let profile = Profile::parse(&text, "zynq-pss.toml").unwrap();
    let snapshot = load(
        Some(&crate_dir().join("tests/fixtures/real/innosilicon-t2-zynq-snapshot")),
        LiveOptions { smaps: false },
    )
    .unwrap();
    evaluate(&snapshot, &profile).unwrap()
}

fn budget(snapshot: &Path, profile: &str) -> Budget {
    let profile = Profile::load(&crate_dir().join(profile)).unwrap();
    let snapshot = load(Some(snapshot), LiveOptions { smaps: false }).unwrap();
    evaluate(&snapshot, &profile).unwrap()
}

/// Paths relative to the clone, so the snapshots match in any checkout directory.
fn stable(output: &str) -> String {
    output.replace(&format!("{}/", crate_dir().display()), "")
}

fn render(budget: &Budget, format: Format) -> String {
    stable(&reporter(format).report(budget, &ReportOptions::default()))
}

#[test]
fn every_format_of_both_fixtures_matches_its_snapshot() {
    for (name, budget) in [("zynq", zynq()), ("hisi", hisi()), ("zte", zte())] {
        for (format, format_name) in FORMATS {
            insta::assert_snapshot!(format!("{name}_{format_name}"), render(&budget, format));
        }
    }
}

#[test]
fn markdown_leads_with_the_verdict_and_lists_failures_first() {
    let md = render(&hisi(), Format::Markdown);
    let mut lines = md.lines().filter(|l| !l.is_empty());
    assert_eq!(
        lines.nth(1),
        Some("OVER BUDGET: 3 rule(s) failed; headroom at most -86.52 MiB of 64 MiB RAM (minimum 2 MiB)")
    );
    let findings: Vec<&str> = md
        .lines()
        .filter(|l| {
            ["| FAIL", "| PASS", "| INCONCLUSIVE"]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .collect();
    assert_eq!(findings.len(), 7);
    assert!(findings[..3].iter().all(|l| l.starts_with("| FAIL")));
    // Its meminfo has MemTotal alone and no min_free_kbytes: unknown, not 0 B.
    assert!(findings[3].starts_with("| INCONCLUSIVE | unknown_items | unknown: kernel_dynamic (Slab, KernelStack, PageTables), min_free |"));
}

fn schema_validator() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate_dir().join("docs/report.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn json_validates_against_the_schema_with_every_figure_in_bytes() {
    let validator = schema_validator();
    for budget in [zynq(), hisi(), zte()] {
        let json: serde_json::Value = serde_json::from_str(&render(&budget, Format::Json)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "schema errors: {errors:#?}");
        assert_eq!(json["schema_version"], 1);
        let items: u64 = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["bytes"].as_u64())
            .sum();
        assert_eq!(json["demand"].as_u64(), Some(items));
        assert_eq!(
            json["headroom"].as_i64(),
            Some(json["ram"].as_i64().unwrap() - items as i64)
        );
    }
    // Hand-checked figures of the Zynq capture: 256 MiB declared, Slab 13264 + KernelStack
    // 880 + PageTables 372 kB of kernel dynamic memory.
    let json: serde_json::Value = serde_json::from_str(&render(&zynq(), Format::Json)).unwrap();
    assert_eq!(json["ram"], 256u64 << 20);
    let dynamic = common::keyed(&json["items"], "kernel_dynamic");
    assert_eq!(dynamic["bytes"], (13264u64 + 880 + 372) * 1024);
    assert_eq!(dynamic["files"][0], "proc/meminfo");
    assert_eq!(json["verdict"], "within_budget");
    assert!(json["banner"]
        .as_str()
        .unwrap()
        .starts_with("INCOMPLETE EVIDENCE"));
    assert_eq!(
        common::keyed(&json["items"], "min_free")["bytes"],
        serde_json::Value::Null
    );
    let json: serde_json::Value = serde_json::from_str(&render(&zte(), Format::Json)).unwrap();
    assert_eq!(json["verdict"], "inconclusive");
    assert_eq!(json["within_budget"], false);
}

#[test]
fn a_broken_report_fails_the_schema() {
    let mut json: serde_json::Value = serde_json::from_str(&render(&hisi(), Format::Json)).unwrap();
    json["items"][0]["bytes"] = serde_json::json!("27 MiB");
    assert!(!schema_validator().is_valid(&json));
}

struct JunitCounts {
    testcases: usize,
    failures: usize,
    failed_classes: Vec<String>,
}

fn junit_counts(xml: &str) -> JunitCounts {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .collect();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(
        suite.attribute("tests"),
        Some(cases.len().to_string().as_str())
    );
    assert_eq!(
        suite.attribute("failures"),
        Some(failed.len().to_string().as_str())
    );
    JunitCounts {
        testcases: cases.len(),
        failures: failed.len(),
        failed_classes: failed
            .iter()
            .map(|c| c.attribute("classname").unwrap().to_string())
            .collect(),
    }
}

#[test]
fn junit_has_one_testcase_per_rule_and_fails_the_three_broken_ones() {
    let hisi = junit_counts(&render(&hisi(), Format::Junit));
    // ram_fit, headroom, Sofia's process limit, expect Sofia, reconciliation, unknown items
    // (an error: inconclusive), exhaustion (its dmesg is clean).
    assert_eq!(hisi.testcases, 7);
    assert_eq!(hisi.failures, 3);
    assert_eq!(
        hisi.failed_classes,
        [
            "membudget.ram_fit",
            "membudget.headroom",
            "membudget.process_limit"
        ]
    );
    let within = zynq();
    let xml = render(&within, Format::Junit);
    let counts = junit_counts(&xml);
    // The banner comes first, as a skipped case.
    assert_eq!(counts.testcases, within.findings.len() + 1);
    assert_eq!(counts.failures, 0);
    assert!(xml.contains("errors=\"0\""));
    let first = xml.find("<testcase").unwrap();
    assert!(xml[first..].starts_with(
        "<testcase classname=\"membudget.evidence\" name=\"incomplete evidence allowed\""
    ));
    // Inconclusive without --allow-incomplete: an <error>, one per reason.
    let xml = render(&zte(), Format::Junit);
    assert!(xml.contains("errors=\"2\""), "{xml}");
    assert!(xml.contains("<error message=\"5 processes hold at most 568 KiB"));
}

/// A process name holding markup and control characters, as a hostile board could show.
fn hostile(mut budget: Budget) -> Budget {
    let name = "<b>&\"x'</b>\u{1}";
    budget.accounting.processes[0].name = name.into();
    for f in budget
        .findings
        .iter_mut()
        .filter(|f| f.rule == "process_limit")
    {
        f.subject = name.into();
        f.message = format!("{name} exceeds");
    }
    budget
}

#[test]
fn junit_and_html_escape_process_names() {
    let budget = hostile(hisi());
    let xml = render(&budget, Format::Junit);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let names: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(names.contains(&"<b>&\"x'</b>\u{FFFD}"), "{names:?}");

    let html = render(&budget, Format::Html);
    assert!(!html.contains("<b>"));
    assert!(html.contains("&lt;b&gt;&amp;&quot;x&#39;&lt;/b&gt;"));
}

#[test]
fn html_renders_in_headless_chromium_with_the_headline_figures() {
    let dir = tempfile::tempdir().unwrap();
    for (name, budget, headline) in [
        (
            "hisi",
            hisi(),
            [
                "OVER BUDGET: 3 rule(s) failed; headroom at most -86.52 MiB of 64 MiB RAM (minimum 2 MiB)",
                "150.52 MiB",
                "Sofia (1)",
            ],
        ),
        (
            "zynq",
            zynq(),
            [
                "WITHIN BUDGET: headroom at most 18.57 MiB of 256 MiB RAM (minimum 12.80 MiB)",
                "INCOMPLETE EVIDENCE (--allow-incomplete)",
                "innominer_T2 (18268)",
            ],
        ),
        (
            "zte",
            zte(),
            [
                "INCONCLUSIVE: the evidence cannot carry a verdict",
                "11.66 MiB unexplained",
                "logcat (607)",
            ],
        ),
    ] {
        let html = render(&budget, Format::Html);
        common::check_in_chromium(&html, dir.path(), name, &headline);
    }
}

/// The rows of the HTML table that follows `marker` in `html`: cells as the page shows them.
fn table_after(html: &str, marker: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let start = html.find(marker).unwrap_or_else(|| panic!("no {marker:?}"));
    let table = &html[start..];
    let table = &table[table.find("<table>").unwrap()..table.find("</table>").unwrap()];
    let cell = regex_lite::Regex::new(r"<t[dh][^>]*>(.*?)</t[dh]>").unwrap();
    let cells =
        |row: &str| -> Vec<String> { cell.captures_iter(row).map(|c| c[1].to_string()).collect() };
    let mut rows = table.split("<tr>").skip(1);
    let headers = cells(rows.next().unwrap());
    (headers, rows.map(cells).collect())
}

/// Every figure the charts draw is a figure of the table beside them: each process bar's
/// segments and total are the cells (row, column) they name, with the column's header naming
/// the class and the measure; each segment of the budget bar is the size of its row.
#[test]
fn every_chart_value_equals_a_table_value_in_the_same_document() {
    let segment = regex_lite::Regex::new(
        r#"data-row="(\d+)" data-column="(\d+)">(?:<title>([^<]*): ([^<]*)</title></rect>|([^<]*)</text>)"#,
    )
    .unwrap();
    let bar = regex_lite::Regex::new(r#"height="40" fill="[^"]*"><title>([^<]*): ([^<]*)</title>"#)
        .unwrap();
    for (name, budget) in [("zynq", zynq()), ("hisi", hisi()), ("zynq pss", zynq_pss())] {
        let html = render(&budget, Format::Html);
        let measure = budget.measure.name();
        let (headers, rows) = table_after(&html, "aria-label=\"Top processes");
        assert_eq!(rows.len(), budget.accounting.processes.len().min(15));
        let mut checked = 0;
        for c in segment.captures_iter(&html) {
            let (row, column): (usize, usize) = (c[1].parse().unwrap(), c[2].parse().unwrap());
            let value = c.get(4).or(c.get(5)).unwrap().as_str();
            assert_eq!(
                rows[row][column], value,
                "{name}: row {row} column {column}"
            );
            if let Some(title) = c.get(3) {
                // "NAME heap pss": the header of its column, which names the measure.
                assert!(
                    title.as_str().ends_with(&headers[column]),
                    "{name}: {title:?}"
                );
            }
            let short = if measure == "virtual" {
                "virt"
            } else {
                measure
            };
            assert!(
                headers[column].ends_with(short),
                "{name}: {}",
                headers[column]
            );
            checked += 1;
        }
        assert!(checked > rows.len(), "{name}: {checked} chart values");

        let (_, budget_rows) = table_after(&html, "aria-label=\"RAM budget");
        let mut segments = 0;
        for c in bar.captures_iter(&html) {
            let label = &c[1];
            let row = budget_rows
                .iter()
                .find(|r| r[0] == label)
                .unwrap_or_else(|| panic!("{name}: no budget row {label:?}"));
            assert_eq!(row[1], &c[2], "{name}: {label}");
            segments += 1;
        }
        assert!(segments >= 4, "{name}: {segments} budget segments");
    }
    // Under pss the process chart is pss: innominer_T2's private pss, not its virtual size.
    let pss = zynq_pss();
    let miner = pss
        .accounting
        .processes
        .iter()
        .find(|p| p.name == "innominer_T2")
        .unwrap();
    assert!(miner.demand < miner.private.virtual_size / 10);
    let html = render(&pss, Format::Html);
    let shown = format!(">{}</text>", membudget::size::human(miner.demand));
    assert!(html.contains(&shown), "{shown}");
}

/// Chromium prints a page to PDF; pdfinfo counts its pages and pdftoppm renders them.
fn printed_pages(page: &Path, dir: &Path) -> usize {
    let pdf = dir.join(format!(
        "{}.pdf",
        page.file_stem().unwrap().to_string_lossy()
    ));
    common::chromium(
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
        ],
        page,
    );
    let info = Command::new(common::require_tool("pdfinfo"))
        .arg(&pdf)
        .output()
        .unwrap();
    let info = String::from_utf8(info.stdout).unwrap();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no page count in {info}"))
        .trim()
        .parse()
        .unwrap();
    let prefix = dir.join("printed");
    let status = Command::new(common::require_tool("pdftoppm"))
        .args(["-r", "30", "-png"])
        .arg(&pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(status.success());
    let rendered = std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("printed") && name.ends_with(".png")
        })
        .count();
    assert_eq!(rendered, pages, "pdftoppm renders every page");
    // No page but the last ends on a section heading (a heading stranded at a page foot).
    let headings = regex_lite::Regex::new(r"<h2>([^<]*)</h2>").unwrap();
    let html = std::fs::read_to_string(page).unwrap();
    let titles: Vec<&str> = headings
        .captures_iter(&html)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    for n in 1..pages {
        let text = Command::new(common::require_tool("pdftotext"))
            .args(["-f", &n.to_string(), "-l", &n.to_string()])
            .arg(&pdf)
            .arg("-")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout).into_owned();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        assert!(
            !titles.iter().any(|t| last.trim() == *t),
            "page {n} ends on the heading {last:?}"
        );
    }
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("printed")
        {
            let (_, _, distinct) = common::colours(&path);
            assert!(distinct > 10, "{}: a blank printed page", path.display());
            std::fs::remove_file(path).unwrap();
        }
    }
    pages
}

/// Printed on A4, the print stylesheet keeps each report to two pages (it ran to three, with a
/// heading stranded at a page foot), none ending on a heading.
#[test]
fn html_prints_to_few_pages() {
    let dir = tempfile::tempdir().unwrap();
    for (name, budget, expected) in [("zynq", zynq(), 2), ("hisi", hisi(), 2)] {
        let page = dir.path().join(format!("{name}.html"));
        std::fs::write(&page, render(&budget, Format::Html)).unwrap();
        assert_eq!(printed_pages(&page, dir.path()), expected, "{name}");
    }
}
