//! Board profiles: the TOML files in `budgets/` that state a board's RAM and the promises made
//! about it. Unknown keys are rejected and every error names the file, line and column: a
//! typo in a budget must never silently turn a limit off.

use crate::account::classify::Class;
use crate::account::Measure;
use crate::error::{Error, Result};
use crate::size::parse_size;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// The profile used when none is given: RAM read from the machine itself, the article's
/// 30 MiB for disk cache and network buffers, 10 % headroom.
pub const DEFAULT_PROFILE: &str = include_str!("../budgets/default.toml");
pub const DEFAULT_PROFILE_NAME: &str = "budgets/default.toml (built in)";
/// The environment variable that names a profile when `--profile` is not given.
pub const PROFILE_ENV: &str = "MEMBUDGET_PROFILE";
/// The profile a command picks up from its working directory when nothing names one.
pub const LOCAL_PROFILE: &str = "membudget.toml";

/// A size in bytes, written as `"64MiB"`, `"512k"` or a plain integer of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Size(pub u64);

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = Size;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as \"64MiB\", \"512KiB\" or a whole number of bytes")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Size, E> {
        Ok(Size(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Size, E> {
        u64::try_from(v)
            .map(Size)
            .map_err(|_| E::custom(format!("size {v} is negative")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Size, E> {
        parse_size(v).map(Size).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Size, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

/// A size, or a percentage of the board's RAM (`"10%"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Amount {
    Bytes(u64),
    Percent(f64),
}

impl Amount {
    pub fn resolve(self, ram: u64) -> u64 {
        match self {
            Amount::Bytes(b) => b,
            Amount::Percent(p) => (ram as f64 * p / 100.0).round() as u64,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Bytes(b) => f.write_str(&crate::size::human(*b)),
            Amount::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Amount, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"8MiB\" or a percentage of RAM such as \"10%\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Amount, E> {
                Ok(Amount::Bytes(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Amount, E> {
                SizeVisitor.visit_i64(v).map(|s| Amount::Bytes(s.0))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Amount, E> {
                match v.trim().strip_suffix('%') {
                    Some(p) => {
                        let p: f64 = p
                            .trim()
                            .parse()
                            .map_err(|_| E::custom(format!("{v:?} is not a percentage")))?;
                        if !(0.0..=100.0).contains(&p) {
                            return Err(E::custom(format!(
                                "percentage {v:?} is not between 0% and 100%"
                            )));
                        }
                        Ok(Amount::Percent(p))
                    }
                    None => SizeVisitor.visit_str(v).map(|s| Amount::Bytes(s.0)),
                }
            }
        }
        d.deserialize_any(AmountVisitor)
    }
}

/// The board's physical RAM: stated, or `"auto"` (read from the snapshot's boot log, else
/// MemTotal plus carve-outs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Ram {
    Auto,
    Bytes(u64),
}

impl<'de> Deserialize<'de> for Ram {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Ram, D::Error> {
        struct RamVisitor;
        impl Visitor<'_> for RamVisitor {
            type Value = Ram;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the board's RAM as a size such as \"64MiB\", or \"auto\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Ram, E> {
                Ok(Ram::Bytes(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Ram, E> {
                SizeVisitor.visit_i64(v).map(|s| Ram::Bytes(s.0))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Ram, E> {
                if v.trim() == "auto" {
                    Ok(Ram::Auto)
                } else {
                    SizeVisitor.visit_str(v).map(|s| Ram::Bytes(s.0))
                }
            }
        }
        d.deserialize_any(RamVisitor)
    }
}

/// A compiled regular expression that remembers its source text.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex_lite::Regex);

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Pattern, D::Error> {
        let text = String::deserialize(d)?;
        regex_lite::Regex::new(&text)
            .map(Pattern)
            .map_err(|e| de::Error::custom(format!("bad regular expression: {e}")))
    }
}

/// What a per-process limit is compared with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitOf {
    /// The process's own memory (heap, stacks, data, anon): what it alone adds to the board.
    #[default]
    Private,
    /// Private plus every shared mapping it uses, in full.
    Total,
}

/// `[[process]]`: a limit for the processes whose name (or command line, for `regex`) matches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessLimit {
    pub name: Option<String>,
    pub regex: Option<Pattern>,
    pub max: Size,
    #[serde(default)]
    pub of: LimitOf,
}

impl ProcessLimit {
    pub fn describe(&self) -> String {
        match (&self.name, &self.regex) {
            (Some(n), _) => n.clone(),
            (None, Some(r)) => format!("/{}/", r.0.as_str()),
            (None, None) => "?".into(),
        }
    }

    pub fn matches(&self, name: &str, cmdline: &str) -> bool {
        self.name.as_deref() == Some(name)
            || self
                .regex
                .as_ref()
                .is_some_and(|r| r.0.is_match(name) || r.0.is_match(cmdline))
    }
}

/// `[leak]`: when growth over a series counts as a leak.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakSettings {
    /// Growth below this many bytes per hour is noise.
    pub min_rate_per_hour: Option<Size>,
    /// Fewer samples than this cannot show a trend.
    pub min_samples: Option<u32>,
    /// A series shorter than this many seconds cannot show a trend.
    pub min_span_seconds: Option<u64>,
    /// The fitted line must explain at least this share of the variation (R², 0..=1):
    /// growth that jumps about is not the steady climb of a leak.
    pub min_fit: Option<f64>,
    /// At least this share of sample-to-sample steps must not shrink (0..=1).
    pub min_steady_share: Option<f64>,
    /// At least this many steps must grow: one allocation between two samples is not a leak.
    pub min_growth_steps: Option<u32>,
}

/// `[pressure]`: memory pressure (PSI, `/proc/pressure/memory` avg10, in percent of wall
/// time) above which the board is short of memory now, even if the sums fit: a warning.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PressureLimits {
    /// Share of the last 10 s in which some task stalled waiting for memory.
    pub some_avg10: Option<f64>,
    /// Share of the last 10 s in which every non-idle task stalled waiting for memory.
    pub full_avg10: Option<f64>,
}

/// The longest profile read: the largest in budgets/ is a few KiB. A profile that is a link to
/// `/dev/zero` was read until memory ran out.
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;
/// The most carve-outs and reserves may declare together (1 EiB): far above any board, far
/// enough below `u64::MAX` that the budget's sums with MemTotal cannot overflow.
pub const MAX_DECLARED: u64 = 1 << 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub ram: Ram,
    /// What-if: the RAM of a board variant to project the capture to (`--ram` overrides).
    pub what_if_ram: Option<Size>,
    /// Board variants the capture is projected to, one row each in the report.
    #[serde(default, rename = "variant")]
    pub variants: Vec<Variant>,
    /// Memory taken from Linux before it boots (MMZ, framebuffer, DSP...): outside MemTotal.
    #[serde(default)]
    pub carveouts: BTreeMap<String, Size>,
    /// Memory set aside for the kernel's dynamic needs: disk cache, skb, ...
    #[serde(default)]
    pub reserves: BTreeMap<String, Size>,
    pub min_headroom: Option<Amount>,
    #[serde(default)]
    pub measure: Measure,
    pub thread_stack_size: Option<Size>,
    /// System-wide limit per mapping class (`heap = "16MiB"`).
    #[serde(default)]
    pub classes: BTreeMap<Class, Size>,
    #[serde(default, rename = "process")]
    pub processes: Vec<ProcessLimit>,
    /// Processes (by name) that must be running.
    #[serde(default)]
    pub expect: Vec<String>,
    #[serde(default)]
    pub leak: LeakSettings,
    #[serde(default)]
    pub pressure: PressureLimits,
    /// Reports hide command-line arguments (as `--redact` does), keeping the program name.
    #[serde(default)]
    pub redact: bool,
    /// Where it was read from, for messages and reports.
    #[serde(skip)]
    pub source: String,
    /// Why this profile and not another (see [`Profile::discover`]), for the report's header.
    #[serde(skip)]
    pub chosen_by: String,
}

/// A board variant of `[[variant]]`: its RAM and, when it differs, its carve-outs (the
/// profile's otherwise).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub ram: Size,
    pub carveouts: Option<BTreeMap<String, Size>>,
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// A whole configuration file as text, errors naming it.
/// A TOML file the user named (a profile, export's profile map), read whole up to
/// [`MAX_PROFILE_BYTES`]: a link to `/dev/zero` is refused, not read until memory runs out.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path.display(), &e))?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Error::in_file(
            path.display().to_string(),
            format!(
                "longer than {MAX_PROFILE_BYTES} bytes: not a board profile (a link to /dev/zero?)"
            ),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::in_file(path.display().to_string(), "not UTF-8 text"))
}

/// TOML text into `T`, an error naming `source`, line and column. Shared by every TOML file
/// the tool reads (profiles, export's profile map), so they all point at the mistake alike.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, source: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let message = e.message().to_string();
        match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                Error::at(source, line, Some(column), message)
            }
            None => Error::in_file(source, message),
        }
    })
}

impl Profile {
    /// Parses profile text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Profile> {
        let mut profile: Profile = parse_toml(text, source)?;
        for (index, limit) in profile.processes.iter().enumerate() {
            if limit.name.is_some() == limit.regex.is_some() {
                return Err(Error::in_file(
                    source,
                    format!(
                        "[[process]] number {}: give exactly one of `name` or `regex`",
                        index + 1
                    ),
                ));
            }
        }
        profile.check_declared_total(source)?;
        profile.source = source.to_string();
        Ok(profile)
    }

    /// Refuses carve-outs and reserves that add up past [`MAX_DECLARED`]: a `u64::MAX`
    /// carve-out with `ram = "auto"` gave "headroom 0 B of 16 EiB", exit 0, because every sum
    /// with it saturated.
    fn check_declared_total(&self, source: &str) -> Result<()> {
        let total = self
            .carveouts
            .values()
            .chain(self.reserves.values())
            .map(|s| u128::from(s.0))
            .sum::<u128>();
        if total > u128::from(MAX_DECLARED) {
            return Err(Error::in_file(
                source,
                format!("carve-outs and reserves add up to {total} bytes, more than any board has (1 EiB at most): sums with them would overflow"),
            ));
        }
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Profile> {
        Profile::parse(&read_text(path)?, &path.display().to_string())
    }

    /// The profile at `path`, or the built-in default.
    pub fn load_or_default(path: Option<&Path>) -> Result<Profile> {
        match path {
            Some(p) => Profile::load(p),
            None => Profile::parse(DEFAULT_PROFILE, DEFAULT_PROFILE_NAME),
        }
    }

    /// Finds the profile a command measures against, first match wins: `--profile`, then
    /// `$MEMBUDGET_PROFILE`, then `./membudget.toml`, then the built-in default. A board's
    /// profile lying next to the user must not be passed over in silence, so the choice and its
    /// reason are kept in `chosen_by` for every report to show. A named file that cannot be
    /// read is an error (exit 2), never a quiet fall-back to the default.
    pub fn discover(flag: Option<&Path>) -> Result<Profile> {
        let env = std::env::var_os(PROFILE_ENV).filter(|v| !v.is_empty());
        let (path, chosen_by) = if let Some(path) = flag {
            (Some(path.to_path_buf()), "given with --profile")
        } else if let Some(path) = env {
            (Some(path.into()), "named by MEMBUDGET_PROFILE")
        } else if Path::new(LOCAL_PROFILE).is_file() {
            (Some(LOCAL_PROFILE.into()), "found as ./membudget.toml")
        } else {
            (
                None,
                "built-in default: no --profile, no MEMBUDGET_PROFILE, no ./membudget.toml",
            )
        };
        let mut profile = Profile::load_or_default(path.as_deref()).map_err(|mut e| {
            e.message = format!("{} (profile {chosen_by})", e.message);
            e
        })?;
        profile.chosen_by = chosen_by.to_string();
        Ok(profile)
    }

    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.source.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_parses() {
        let p = Profile::load_or_default(None).unwrap();
        assert_eq!(p.ram, Ram::Auto);
        assert_eq!(p.min_headroom, Some(Amount::Percent(10.0)));
    }

    #[test]
    fn errors_have_line_and_column() {
        let err =
            Profile::parse("ram = \"64MiB\"\nmin_headroom = \"lots\"\n", "p.toml").unwrap_err();
        assert_eq!(err.file.as_deref(), Some("p.toml"));
        assert_eq!(err.line, Some(2));
        assert_eq!(err.column, Some(16));
        let err = Profile::parse("ram = \"64MiB\"\nrma = 1\n", "p.toml").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("unknown field"), "{}", err.message);
        let err =
            Profile::parse("ram = \"64MiB\"\n[classes]\nhepa = \"1M\"\n", "p.toml").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("unknown class"), "{}", err.message);
    }

    #[test]
    fn percent_and_bytes() {
        assert_eq!(Amount::Percent(10.0).resolve(1000), 100);
        let p = Profile::parse("ram = 1048576\nmin_headroom = \"1MiB\"\n", "x").unwrap();
        assert_eq!(p.ram, Ram::Bytes(1 << 20));
        assert_eq!(p.min_headroom, Some(Amount::Bytes(1 << 20)));
    }
}
