//! `--profile-map FILE`: which board profile each snapshot of a fleet is measured against,
//! chosen from its `meta` (host, board model, firmware...). A fleet mixes boards with different
//! RAM; one `-p` for all of them would give most of them a wrong verdict.
//!
//! ```toml
//! [[rule]]
//! match = { board = "^t2-zynq$" }          # every key's regex must match that meta field
//! profile = "zynq-innosilicon-t2-256m.toml" # relative to this file
//!
//! [[rule]]
//! match = { host = "^ont-", firmware = "^2\\." }
//! profile = "/etc/membudget/ont.toml"
//! ```
//! The first rule whose patterns all match wins; a snapshot no rule matches gets the `-p`
//! profile (or the built-in default). A rule naming a meta field the snapshot lacks does not
//! match it.

use crate::error::{Error, Result};
use crate::profile::{parse_toml, read_text, Pattern, Profile};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MapFile {
    #[serde(default)]
    rule: Vec<RuleText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    #[serde(rename = "match")]
    patterns: BTreeMap<String, Pattern>,
    profile: String,
}

struct Rule {
    patterns: BTreeMap<String, Pattern>,
    profile: Arc<Profile>,
}

/// The rules, with every profile they name already loaded (and checked) once.
pub struct ProfileMap {
    rules: Vec<Rule>,
    fallback: Arc<Profile>,
}

impl ProfileMap {
    /// Only `fallback`: every snapshot gets the same profile.
    pub fn single(fallback: Profile) -> ProfileMap {
        ProfileMap {
            rules: Vec::new(),
            fallback: Arc::new(fallback),
        }
    }

    /// Reads the map at `path`; its relative profile paths are relative to its directory.
    pub fn load(path: &Path, fallback: Profile) -> Result<ProfileMap> {
        let source = path.display().to_string();
        let file: MapFile = parse_toml(&read_text(path)?, &source)?;
        let base = path.parent().unwrap_or(Path::new(""));
        let mut loaded: BTreeMap<String, Arc<Profile>> = BTreeMap::new();
        let mut rules = Vec::new();
        for (index, rule) in file.rule.into_iter().enumerate() {
            if rule.patterns.is_empty() {
                return Err(Error::in_file(
                    &source,
                    format!("[[rule]] number {}: `match` names no meta field", index + 1),
                ));
            }
            let profile = match loaded.get(&rule.profile) {
                Some(p) => Arc::clone(p),
                None => {
                    let p = Arc::new(Profile::load(&base.join(&rule.profile))?);
                    loaded.insert(rule.profile.clone(), Arc::clone(&p));
                    p
                }
            };
            rules.push(Rule {
                patterns: rule.patterns,
                profile,
            });
        }
        Ok(ProfileMap {
            rules,
            fallback: Arc::new(fallback),
        })
    }

    /// The profile for a snapshot with these meta fields.
    pub fn pick(&self, meta: &BTreeMap<String, String>) -> &Profile {
        self.rules
            .iter()
            .find(|rule| {
                rule.patterns.iter().all(|(key, pattern)| {
                    meta.get(key).is_some_and(|value| pattern.0.is_match(value))
                })
            })
            .map_or(&self.fallback, |rule| &rule.profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn first_matching_rule_wins_and_the_rest_fall_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "name = \"A\"\nram = \"64MiB\"\n").unwrap();
        std::fs::write(
            dir.path().join("b.toml"),
            "name = \"B\"\nram = \"128MiB\"\n",
        )
        .unwrap();
        let map = dir.path().join("map.toml");
        std::fs::write(
            &map,
            "[[rule]]\nmatch = { board = \"^cam\", firmware = \"^2\\\\.\" }\nprofile = \"a.toml\"\n\
             [[rule]]\nmatch = { board = \"^cam\" }\nprofile = \"b.toml\"\n",
        )
        .unwrap();
        let fallback = Profile::parse("name = \"F\"\nram = \"auto\"\n", "f").unwrap();
        let map = ProfileMap::load(&map, fallback).unwrap();
        let name = |pairs: &[(&str, &str)]| map.pick(&meta(pairs)).display_name();
        assert_eq!(name(&[("board", "cam-v1"), ("firmware", "2.1")]), "A");
        assert_eq!(name(&[("board", "cam-v1"), ("firmware", "1.9")]), "B");
        assert_eq!(name(&[("board", "cam-v1")]), "B");
        assert_eq!(name(&[("board", "router")]), "F");
        assert_eq!(name(&[]), "F");
    }

    #[test]
    fn mistakes_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let map = dir.path().join("map.toml");
        let error_of = |text: &str| {
            std::fs::write(&map, text).unwrap();
            let fallback = Profile::parse("ram = \"auto\"\n", "f").unwrap();
            ProfileMap::load(&map, fallback).err().unwrap().to_string()
        };
        let e = error_of("[[rule]]\nmatch = { board = \"(\" }\nprofile = \"x\"\n");
        assert!(e.contains("map.toml:2"), "{e}");
        assert!(e.contains("regular expression"), "{e}");
        let e = error_of("[[rule]]\nmatch = { board = \"x\" }\nprofile = \"nope.toml\"\n");
        assert!(e.contains("nope.toml"), "{e}");
        let e = error_of("[[rule]]\nmatch = {}\nprofile = \"x\"\n");
        assert!(e.contains("names no meta field"), "{e}");
    }
}
