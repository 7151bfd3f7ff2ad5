//! The scenarios a server offers, and edits to them (set fields, added rules) checked by the
//! loader as `capsim run --set` checks them.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};

use crate::api;
use crate::experiment::sweep::parse_setting;
use crate::scenario::{self, Scenario, ScenarioError};

/// One scenario offered.
pub struct Entry {
    /// URL-safe id: `baseline` for the built-in baseline, else the file's stem (`-2`, `-3`, ...
    /// for repeats).
    pub id: String,
    /// The file as given (None: the built-in baseline).
    pub file: Option<PathBuf>,
    /// The scenario as loaded.
    pub scenario: Scenario,
}

/// The scenarios offered, in the order listed.
pub struct Catalog {
    /// The entries.
    pub entries: Vec<Entry>,
}

/// An edit the loader refused: the field it is about (as `set` names it) and its message.
#[derive(Clone, Debug, Serialize)]
pub struct FieldError {
    /// Field path (`chips.h100.training_mfu`), `add_policies[i]`, or None.
    pub path: Option<String>,
    /// The loader's message: `file:line:col: path: what is wrong`, then a `help:` line.
    pub message: String,
    /// The help line alone, if there is one.
    pub help: Option<String>,
}

impl FieldError {
    fn new(path: Option<String>, message: String) -> FieldError {
        let help = message
            .lines()
            .find_map(|l| l.trim().strip_prefix("help: "))
            .map(str::to_string);
        FieldError {
            path,
            message,
            help,
        }
    }
}

/// Edits to a scenario, as a request gives them.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edits {
    /// The scenario's id.
    pub scenario: String,
    /// `PATH=VALUE` overrides, applied in order after the added rules.
    #[serde(default)]
    pub set: Vec<String>,
    /// Rules to add: each the TOML body of one `[[policy]]` entry.
    #[serde(default)]
    pub add_policies: Vec<String>,
}

/// A scenario with edits applied: the scenario, the file to run (None: the built-in baseline),
/// and the scenario text that adds the rules (to be written at `file` before running).
pub struct Edited {
    /// The scenario, edits applied.
    pub scenario: Scenario,
    /// The file `capsim run` is given (the overlay's, when rules are added).
    pub file: Option<PathBuf>,
    /// The overlay's text, when rules are added.
    pub overlay: Option<String>,
}

/// Why an edit request cannot be served.
pub enum EditError {
    /// No scenario with that id (404).
    UnknownScenario(String),
    /// The loader refused the edits (422).
    Refused(Vec<FieldError>),
}

impl Catalog {
    /// The scenarios in `files`, or (none given) the built-in baseline and the scenarios found in
    /// `./scenarios/*.toml` that load (a shipped what-if that does not load is skipped, and said).
    pub fn load(files: &[PathBuf]) -> Result<Catalog, ScenarioError> {
        let mut found: Vec<(Option<PathBuf>, Scenario)> = Vec::new();
        if files.is_empty() {
            let mut listed: Vec<PathBuf> = std::fs::read_dir("scenarios")
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                        .collect()
                })
                .unwrap_or_default();
            listed.sort();
            if !listed.iter().any(|p| stem(p) == "baseline") {
                found.push((None, scenario::baseline()?));
            }
            for p in listed {
                match scenario::load_file(&p) {
                    Ok(sc) => found.push((Some(p), sc)),
                    Err(e) => eprintln!("capsim serve: skipping {}: {e}", p.display()),
                }
            }
        } else {
            for p in files {
                found.push((Some(p.clone()), scenario::load_file(p)?));
            }
        }
        let mut entries: Vec<Entry> = Vec::new();
        for (file, sc) in found {
            let base = file.as_deref().map_or("baseline".to_string(), stem);
            let mut id = base.clone();
            let mut k = 1;
            while entries.iter().any(|e| e.id == id) {
                k += 1;
                id = format!("{base}-{k}");
            }
            entries.push(Entry {
                id,
                file,
                scenario: sc,
            });
        }
        // The baseline first: the page opens on it, and every what-if is read against it.
        entries.sort_by_key(|e| e.id != "baseline");
        Ok(Catalog { entries })
    }

    /// The entry with id `id`.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// `GET /api/scenarios`.
    pub fn list(&self) -> Value {
        let list: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "name": e.scenario.name,
                    "description": e.scenario.description,
                    "file": e.file.as_ref().map(|p| p.display().to_string()),
                    "start_date": e.scenario.start_date.to_string(),
                    "end_date": e.scenario.end_date.to_string(),
                })
            })
            .collect();
        json!({ "scenarios": list })
    }

    /// Applies `edits` (rules added, then fields set, in order), collecting every refusal.
    /// `overlay_dir` is where the overlay that adds rules will be written.
    pub fn edit(&self, edits: &Edits, overlay_dir: &Path) -> Result<Edited, EditError> {
        let entry = self
            .get(&edits.scenario)
            .ok_or_else(|| EditError::UnknownScenario(edits.scenario.clone()))?;
        let mut errors = Vec::new();
        let (mut sc, file, overlay) = if edits.add_policies.is_empty() {
            (entry.scenario.clone(), entry.file.clone(), None)
        } else {
            let text = overlay_text(entry, &edits.add_policies)
                .map_err(|e| EditError::Refused(vec![e]))?;
            match scenario::load_str(&text, "added-rules.toml", Some(overlay_dir)) {
                Ok(sc) => (sc, None, Some(text)),
                Err(e) => {
                    let path = e.path().map(str::to_string).or(Some("add_policies".into()));
                    return Err(EditError::Refused(vec![FieldError::new(
                        path,
                        e.to_string(),
                    )]));
                }
            }
        };
        for spec in &edits.set {
            let named = spec.split_once('=').map(|(p, _)| p.trim().to_string());
            match parse_setting(spec) {
                Err(e) => errors.push(FieldError::new(named, e.to_string())),
                Ok((path, _)) if names_a_file(&path) => errors.push(FieldError::new(
                    Some(path.clone()),
                    format!(
                        "{path}: names a file, which the web app does not let a request choose \
                         (it would read any file on this machine)\n  help: set it in the \
                         scenario file and start capsim serve again"
                    ),
                )),
                Ok((path, value)) => {
                    if let Err(e) = sc.set_field(&path, value) {
                        errors.push(FieldError::new(Some(path), e.to_string()));
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(Edited {
                scenario: sc,
                file,
                overlay,
            })
        } else {
            Err(EditError::Refused(errors))
        }
    }
}

/// Whether a field path names a file the loader reads (`observations`): the web app refuses to
/// set it, so that no request can make it read a file of its choosing.
fn names_a_file(path: &str) -> bool {
    let first = path.split(['.', '[']).next().unwrap_or("").trim();
    first.trim_matches('"') == "observations"
}

/// The file stem of `p`, kept to URL-safe characters.
fn stem(p: &Path) -> String {
    let s = url_safe(
        &p.file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default(),
    );
    if s.is_empty() {
        "scenario".into()
    } else {
        s
    }
}

/// `s` with every character but ASCII letters, digits, `-`, `_` and `.` replaced by `-`: a name
/// that is safe in a URL and as a folder's name.
pub fn url_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A scenario file that extends `entry` and appends the rules `bodies` (each the TOML body of one
/// `[[policy]]` entry) to its timeline.
fn overlay_text(entry: &Entry, bodies: &[String]) -> Result<String, FieldError> {
    let extends = match &entry.file {
        // The built-in baseline: a missing `baseline.toml` falls back to it.
        None => "baseline.toml".to_string(),
        Some(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
    };
    let mut policies = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let table: toml::Table = toml::from_str(body).map_err(|e| {
            FieldError::new(
                Some(format!("add_policies[{i}]")),
                format!(
                    "added rule {}: not the body of one [[policy]] entry: {}\n  help: write \
                     key = value lines, e.g. name = \"my-ban\", rule = \"lease_ban\", \
                     from = 2027-01-01, source = \"assumption\"",
                    i + 1,
                    e.message()
                ),
            )
        })?;
        policies.push(toml::Value::Table(table));
    }
    let mut doc = toml::Table::new();
    doc.insert("extends".into(), toml::Value::String(extends));
    doc.insert("policy".into(), toml::Value::Array(policies));
    toml::to_string(&doc).map_err(|e| FieldError::new(Some("add_policies".into()), e.to_string()))
}

/// `GET /api/scenarios/{id}`: the scenario, its policy timeline (every rule, switched off ones
/// too) and every field it can set.
pub fn details(entry: &Entry) -> Value {
    let sc = &entry.scenario;
    let summaries = crate::report::view::policy_entries(sc);
    let text = |t: &toml::Table, k: &str| -> Option<String> {
        t.get(k).map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    let policies: Vec<Value> = match sc.field_value("policy") {
        Some(toml::Value::Array(list)) => list
            .iter()
            .filter_map(toml::Value::as_table)
            .map(|t| {
                let name = text(t, "name").unwrap_or_default();
                let summary = summaries
                    .iter()
                    .find(|p| p.name == name)
                    .map(|p| p.summary.clone());
                json!({
                    "name": name,
                    "rule": text(t, "rule"),
                    "from": text(t, "from"),
                    "until": text(t, "until"),
                    "enabled": t.get("enabled").and_then(toml::Value::as_bool).unwrap_or(true),
                    "source": text(t, "source"),
                    "summary": summary,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    // Every field the scenario can set: those its files write, and the optional ones left to
    // their defaults (value empty, `default` true).
    let inputs: Vec<Value> = sc
        .fields()
        .into_iter()
        .map(|f| {
            let value = match &f.value {
                None => String::new(),
                Some(toml::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            json!({
                "field": f.path,
                "value": value,
                "default": f.value.is_none(),
                "unit": f.unit,
                "source": f.source,
                "kind": f.kind.as_str(),
            })
        })
        .collect();
    json!({
        "id": entry.id,
        "name": sc.name,
        "description": sc.description,
        "file": entry.file.as_ref().map(|p| p.display().to_string()),
        "start_date": sc.start_date.to_string(),
        "end_date": sc.end_date.to_string(),
        "seed": sc.seed,
        "policies": policies,
        "inputs": inputs,
        "periods": ["day", "week", "month", "quarter", "year"],
    })
}

/// The command line that writes the same run folder as `req`.
pub fn command(req: &api::RunRequest) -> String {
    let mut words = vec!["capsim".to_string(), "run".to_string()];
    if let Some(f) = &req.scenario {
        words.push(quote(&f.display().to_string()));
    }
    for s in &req.set {
        words.push("--set".into());
        words.push(quote(s));
    }
    words.push(format!("--replications {}", req.replications));
    words.push(format!("--period {}", req.period.as_str()));
    match req.format {
        crate::report::folders::Format::Csv => {}
        crate::report::folders::Format::Parquet => words.push("--format parquet".into()),
        crate::report::folders::Format::Both => words.push("--format both".into()),
    }
    if let Some(seed) = req.seed {
        words.push(format!("--seed {seed}"));
    }
    if let Some(n) = &req.name {
        words.push(format!("--name {}", quote(n)));
    }
    words.push(format!("--out {}", quote(&req.out.display().to_string())));
    words.join(" ")
}

/// `s` quoted for a POSIX shell where it needs it.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell_only_where_needed() {
        assert_eq!(
            quote("policy.a.from=2027-01-01"),
            "policy.a.from=2027-01-01"
        );
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("x='y'"), r"'x='\''y'\'''");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn the_command_writes_the_same_tables() {
        let mut req = api::RunRequest {
            scenario: None,
            set: vec![],
            seed: Some(7),
            replications: 2,
            period: crate::metrics::PeriodKind::Month,
            format: crate::report::folders::Format::Csv,
            threads: None,
            out: "output".into(),
            name: Some("x".into()),
        };
        assert!(!command(&req).contains("--format"));
        req.format = crate::report::folders::Format::Parquet;
        assert!(
            command(&req).contains(" --format parquet "),
            "{}",
            command(&req)
        );
        req.format = crate::report::folders::Format::Both;
        assert!(
            command(&req).contains(" --format both "),
            "{}",
            command(&req)
        );
    }

    fn baseline_catalog() -> Catalog {
        Catalog {
            entries: vec![Entry {
                id: "baseline".into(),
                file: None,
                scenario: scenario::baseline().unwrap(),
            }],
        }
    }

    #[test]
    fn every_refused_setting_is_reported_with_its_field() {
        let cat = baseline_catalog();
        let edits = Edits {
            scenario: "baseline".into(),
            set: vec![
                "chips.h100.training_mfu=2".into(),
                "policy.us-ban-h100-cn.from=2025-01-01".into(),
                "chips.nope.training_mfu=0.3".into(),
                "no equals sign".into(),
            ],
            add_policies: vec![],
        };
        let Err(EditError::Refused(errors)) = cat.edit(&edits, Path::new("/nonexistent")) else {
            panic!("refused");
        };
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0].path.as_deref(), Some("chips.h100.training_mfu"));
        assert!(
            errors[0].message.contains("training_mfu"),
            "{}",
            errors[0].message
        );
        assert!(errors[0].help.is_some());
        assert_eq!(errors[1].path.as_deref(), Some("chips.nope.training_mfu"));
        assert_eq!(errors[2].path, None);
    }

    #[test]
    fn no_request_chooses_a_file_to_read() {
        let cat = baseline_catalog();
        for spec in [
            "observations=\"/etc/passwd\"",
            "\"observations\" = \"../../secret.csv\"",
        ] {
            let edits = Edits {
                scenario: "baseline".into(),
                set: vec![spec.into()],
                add_policies: vec![],
            };
            let Err(EditError::Refused(errors)) = cat.edit(&edits, Path::new("/nonexistent"))
            else {
                panic!("{spec}: refused");
            };
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].message.contains("names a file"), "{errors:?}");
            assert!(!errors[0].message.contains("root:"), "{errors:?}");
        }
        assert!(!names_a_file("chips.h100.training_mfu"));
        assert!(!names_a_file("firms.observations.x"));
    }

    #[test]
    fn an_added_rule_joins_the_timeline_and_a_bad_one_is_located() {
        let cat = baseline_catalog();
        let dir = std::env::temp_dir().join("capsim-serve-no-baseline-here");
        let good = Edits {
            scenario: "baseline".into(),
            set: vec!["policy.my-ban.grace_days=30".into()],
            add_policies: vec!["name = \"my-ban\"\nrule = \"lease_ban\"\n\
                firms_headquartered_in = \"CN\"\ngrace_days = 60\nfrom = 2027-01-01\nsource = \"assumption\""
                .into()],
        };
        let edited = match cat.edit(&good, &dir) {
            Ok(e) => e,
            Err(EditError::Refused(errors)) => panic!("refused: {errors:?}"),
            Err(EditError::UnknownScenario(id)) => panic!("unknown {id}"),
        };
        assert!(edited.overlay.is_some());
        let n = edited.scenario.world.timeline.policies.len();
        assert_eq!(n, cat.entries[0].scenario.world.timeline.policies.len() + 1);
        let bad = Edits {
            add_policies: vec!["name = \"x\"\nrule = \"no_such_rule\"\nfrom = 2027-01-01".into()],
            set: vec![],
            ..good
        };
        let Err(EditError::Refused(errors)) = cat.edit(&bad, &dir) else {
            panic!("refused");
        };
        assert!(
            errors[0].message.contains("added-rules.toml"),
            "{}",
            errors[0].message
        );
    }
}
