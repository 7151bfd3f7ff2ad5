//! Every field of a scenario that [`Scenario::set_field`] can set, for forms that edit any of them
//! (`capsim serve`): the fields the files write, and the optional ones they leave to their
//! defaults, found from the scenario format's own JSON Schema.

use serde_json::Value as Json;

use super::locate::{fmt_key, Seg};
use super::{field_unit, json_schema, raw, table_keys, Scenario};

/// What a field holds, for choosing how to edit it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A number, or a figure that may also be given as a distribution.
    Number,
    /// A figure given as a distribution (`{ triangular = [..] }`).
    Distribution,
    /// A date.
    Date,
    /// `true` or `false`.
    Bool,
    /// Text (a name, a country code, a rule).
    Text,
    /// An array (dated steps, deliveries, names), edited as TOML.
    List,
}

impl FieldKind {
    /// The kind as forms name it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Number => "number",
            FieldKind::Distribution => "table",
            FieldKind::Date => "date",
            FieldKind::Bool => "bool",
            FieldKind::Text => "text",
            FieldKind::List => "list",
        }
    }
}

/// One field a scenario can set.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The path, as [`Scenario::set_field`] takes it (`chips.h100.training_mfu`).
    pub path: String,
    /// The value as the scenario writes it (overrides included); None: the file leaves it out and
    /// its default applies.
    pub value: Option<toml::Value>,
    /// What it holds.
    pub kind: FieldKind,
    /// Its unit, from its name (empty where it has none).
    pub unit: &'static str,
    /// The source the scenario gives for it or for the table it is in.
    pub source: Option<String>,
}

/// Keys that identify, describe or assemble a scenario rather than set a figure of the world.
const TOP_SKIPPED: &[&str] = &[
    "name",
    "description",
    "extends",
    "include",
    "sources",
    "observations",
    "sweep",
];

/// Keys of an entry that name it or cite it.
const ENTRY_SKIPPED: &[&str] = &["name", "source"];

impl Scenario {
    /// Every field [`Scenario::set_field`] can set, in the order of the merged document: each
    /// value the files write (a distribution as one field; an array of unnamed tables, such as
    /// dated capacity steps, as one field), then, for each table, the optional fields it leaves to
    /// their defaults (those `set_field` can add, of the workload's kind). A rule's fields left
    /// out are not listed: which ones it takes depends on its kind.
    pub fn fields(&self) -> Vec<Field> {
        let schema = json_schema();
        let walker = Walker {
            defs: &schema["definitions"],
            provenance: &self.provenance,
        };
        let mut out = Vec::new();
        if let toml::Value::Table(t) = &self.source.0.merged {
            walker.table(t, &schema, "", &[], &mut out);
        }
        out
    }
}

struct Walker<'a> {
    defs: &'a Json,
    provenance: &'a [super::Provenance],
}

impl Walker<'_> {
    /// The schema `node` stands for, `$ref`s and single `allOf`s followed, `null` alternatives
    /// dropped.
    fn resolve<'s>(&'s self, mut node: &'s Json) -> &'s Json {
        for _ in 0..16 {
            if let Some(r) = node.get("$ref").and_then(Json::as_str) {
                if ref_name(r) == Some("Quantity") || ref_name(r) == Some("Date") {
                    return node;
                }
                match ref_name(r).and_then(|n| self.defs.get(n)) {
                    Some(next) => node = next,
                    None => return node,
                }
            } else if let Some([one]) = node
                .get("allOf")
                .and_then(Json::as_array)
                .map(Vec::as_slice)
            {
                node = one;
            } else if let Some(alts) = node.get("anyOf").and_then(Json::as_array) {
                let real: Vec<&Json> = alts
                    .iter()
                    .filter(|a| a.get("type").and_then(Json::as_str) != Some("null"))
                    .collect();
                match real.as_slice() {
                    [one] => node = one,
                    _ => return node,
                }
            } else {
                return node;
            }
        }
        node
    }

    /// The kind of a field left out, from its schema; None for a table or anything else that is
    /// not set as one value.
    fn kind_of(&self, node: &Json) -> Option<FieldKind> {
        let node = self.resolve(node);
        if let Some(r) = node.get("$ref").and_then(Json::as_str) {
            return match ref_name(r) {
                Some("Quantity") => Some(FieldKind::Number),
                Some("Date") => Some(FieldKind::Date),
                _ => None,
            };
        }
        match node.get("type").and_then(Json::as_str) {
            Some("number" | "integer") => Some(FieldKind::Number),
            Some("boolean") => Some(FieldKind::Bool),
            Some("string") => Some(FieldKind::Text),
            Some("array") => Some(FieldKind::List),
            _ => None,
        }
    }

    /// The schema of key `k` of a table whose schema is `node` (a property, or a named entry).
    fn child<'s>(&'s self, node: &'s Json, k: &str) -> Option<&'s Json> {
        let node = self.resolve(node);
        node.get("properties")
            .and_then(|p| p.get(k))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
    }

    /// The source given for `path` or the nearest table above it.
    fn source(&self, path: &str) -> Option<String> {
        self.provenance
            .iter()
            .filter(|p| {
                path == p.path
                    || path
                        .strip_prefix(p.path.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .max_by_key(|p| p.path.len())
            .map(|p| p.source.clone())
    }

    fn leaf(
        &self,
        path: String,
        value: Option<toml::Value>,
        kind: FieldKind,
        out: &mut Vec<Field>,
    ) {
        out.push(Field {
            unit: field_unit(&path),
            source: self.source(&path),
            path,
            value,
            kind,
        });
    }

    /// The fields of table `t` (schema `node`) at `prefix` (`segs` in the document).
    fn table(
        &self,
        t: &toml::Table,
        node: &Json,
        prefix: &str,
        segs: &[Seg],
        out: &mut Vec<Field>,
    ) {
        let depth = segs.len();
        let down = |seg: Seg| {
            let mut v = segs.to_vec();
            v.push(seg);
            v
        };
        let join = |k: &str| {
            if prefix.is_empty() {
                fmt_key(k)
            } else {
                format!("{prefix}.{}", fmt_key(k))
            }
        };
        let skipped = if depth == 0 {
            TOP_SKIPPED
        } else {
            ENTRY_SKIPPED
        };
        let is_rule = matches!(segs, [Seg::Key(p), Seg::Index(_)] if p == "policy");
        // A rule switched off takes no setting but its switch (setting any other field would
        // change nothing, and `set_field` says so).
        let off = is_rule && t.get("enabled").and_then(toml::Value::as_bool) == Some(false);
        for (k, v) in t {
            if skipped.contains(&k.as_str()) || (off && k != "enabled") {
                continue;
            }
            let path = join(k);
            let schema = self.child(node, k);
            match v {
                toml::Value::Table(inner) if is_distribution(inner) => {
                    self.leaf(path, Some(v.clone()), FieldKind::Distribution, out)
                }
                toml::Value::Table(inner) => {
                    let sub = schema.unwrap_or(&Json::Null);
                    self.table(inner, sub, &path, &down(Seg::Key(k.clone())), out);
                }
                toml::Value::Array(items) if (k == "policy" && depth == 0) || k == "workloads" => {
                    let item = schema
                        .map(|s| self.resolve(s))
                        .and_then(|s| s.get("items"))
                        .unwrap_or(&Json::Null);
                    let array = down(Seg::Key(k.clone()));
                    for (i, e) in items.iter().enumerate() {
                        let (Some(et), Some(name)) =
                            (e.as_table(), e.get("name").and_then(toml::Value::as_str))
                        else {
                            continue;
                        };
                        let entry = format!("{path}.{}", fmt_key(name));
                        let mut at = array.clone();
                        at.push(Seg::Index(i));
                        self.table(et, item, &entry, &at, out);
                    }
                }
                toml::Value::Array(_) => self.leaf(path, Some(v.clone()), FieldKind::List, out),
                toml::Value::Integer(_) | toml::Value::Float(_) => {
                    self.leaf(path, Some(v.clone()), FieldKind::Number, out)
                }
                toml::Value::Datetime(_) => self.leaf(path, Some(v.clone()), FieldKind::Date, out),
                toml::Value::Boolean(_) => self.leaf(path, Some(v.clone()), FieldKind::Bool, out),
                toml::Value::String(_) => self.leaf(path, Some(v.clone()), FieldKind::Text, out),
            }
        }
        // The keys left out that `set_field` adds: those the table takes where the loader knows
        // them (not a rule's, which depend on its kind; a workload's of its own kind).
        let Some(mut keys) = table_keys(segs).filter(|_| depth > 0 && !is_rule) else {
            return;
        };
        if matches!(segs, [.., Seg::Key(w), Seg::Index(_)] if w == "workloads") {
            let own = match t.get("kind").and_then(toml::Value::as_str) {
                Some("inference") => raw::WORKLOAD_INFERENCE_KEYS,
                _ => raw::WORKLOAD_BATCH_KEYS,
            };
            keys = [raw::WORKLOAD_COMMON_KEYS, own].concat();
        }
        for k in keys {
            if t.contains_key(k) || ENTRY_SKIPPED.contains(&k) {
                continue;
            }
            if let Some(kind) = self.child(node, k).and_then(|p| self.kind_of(p)) {
                self.leaf(join(k), None, kind, out);
            }
        }
    }
}

/// The definition a `#/definitions/X` reference names.
fn ref_name(r: &str) -> Option<&str> {
    r.strip_prefix("#/definitions/")
}

/// Whether `t` is a figure given as a distribution.
fn is_distribution(t: &toml::Table) -> bool {
    t.len() == 1 && t.keys().all(|k| raw::QUANTITY_FORMS.contains(&k.as_str()))
}

#[cfg(test)]
mod tests {
    use crate::scenario;

    #[test]
    fn every_listed_field_can_be_set_to_its_own_value_and_left_out_ones_are_marked() {
        let sc = scenario::baseline().unwrap();
        let fields = sc.fields();
        let sourced = sc.inputs().len();
        assert!(
            fields.len() > sourced,
            "{} fields, {sourced} sourced",
            fields.len()
        );
        let find = |p: &str| fields.iter().find(|f| f.path == p);
        let mfu = find("chips.h100.training_mfu").expect("a chip's figure");
        assert!(mfu.value.is_some());
        assert!(mfu.source.is_some());
        assert!(find("seed").is_some(), "top-level fields are listed");
        assert!(find("name").is_none() && find("sources").is_none());
        assert!(
            fields
                .iter()
                .any(|f| f.path.starts_with("policy.") && f.path.ends_with(".from")),
            "rules go by name"
        );
        assert!(
            fields
                .iter()
                .all(|f| !f.path.ends_with(".source") && !f.path.ends_with(".name")),
            "names and citations are not fields"
        );
        let mut paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        let n = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), n, "each field once");
        // Every field written can be set to its own value (the loader takes the path), and a
        // left-out one is a field the loader knows: each path checked as `set_field` finds it,
        // and one in seven set in full (each a whole reload).
        for f in &fields {
            let merged = &sc.source.0.merged;
            let locator = sc.source.0.locator();
            if let Err(e) = super::super::field_exists(&f.path, merged, &locator) {
                panic!("{}: {e:?}", f.path);
            }
        }
        for f in fields.iter().step_by(7) {
            let mut copy = sc.clone();
            match &f.value {
                Some(v) => {
                    if let Err(e) = copy.set_field(&f.path, v.clone()) {
                        panic!("{}: {e}", f.path);
                    }
                }
                None => {
                    if let Err(e) = copy.set_field(&f.path, toml::Value::Boolean(true)) {
                        assert!(
                            !matches!(e, scenario::ScenarioError::UnknownKey { .. }),
                            "{}: {e}",
                            f.path
                        );
                    }
                }
            }
        }
        assert!(
            fields.iter().any(|f| f.value.is_none()),
            "optional fields are offered"
        );
    }
}
