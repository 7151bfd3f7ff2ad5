//! The JSON Schema editors read (`capsim schema`, committed as `scenarios/capsim.schema.json`) is
//! the loader's own, and every shipped scenario file (what-ifs and included fragments too) uses
//! only keys it knows.

use std::path::Path;

use serde_json::Value as J;

fn schema() -> J {
    capsim::scenario::json_schema()
}

/// Resolves a `$ref` into the schema's definitions.
fn resolve<'a>(root: &'a J, s: &'a J) -> &'a J {
    match s.get("$ref").and_then(J::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            root.get("definitions")
                .or_else(|| root.get("$defs"))
                .and_then(|d| d.get(name))
                .unwrap_or_else(|| panic!("no definition {r}"))
        }
        None => s,
    }
}

/// The problems of `v` (at `path`) against schema `s`: unknown keys of closed tables, and a table
/// or array where the schema wants neither.
fn check(root: &J, s: &J, v: &toml::Value, path: &str, out: &mut Vec<String>) {
    let s = resolve(root, s);
    if let Some(all) = s.get("allOf").and_then(J::as_array) {
        for a in all {
            check(root, a, v, path, out);
        }
        return;
    }
    if let Some(alts) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(J::as_array)
    {
        // Fits if some alternative reports nothing; else the closest one's problems.
        let tries: Vec<Vec<String>> = alts
            .iter()
            .map(|a| {
                let mut o = Vec::new();
                check(root, a, v, path, &mut o);
                o
            })
            .collect();
        if tries.iter().all(|o| !o.is_empty()) {
            let closest = tries.into_iter().min_by_key(Vec::len).unwrap_or_default();
            out.extend(closest);
        }
        return;
    }
    let ty: Vec<&str> = match s.get("type") {
        Some(J::String(t)) => vec![t.as_str()],
        Some(J::Array(a)) => a.iter().filter_map(J::as_str).collect(),
        _ => vec![],
    };
    match v {
        toml::Value::Table(t) => {
            if !ty.is_empty() && !ty.contains(&"object") {
                out.push(format!("{path}: a table where the schema wants {ty:?}"));
                return;
            }
            let props = s.get("properties").and_then(J::as_object);
            for (k, x) in t {
                let sub = props.and_then(|p| p.get(k));
                match (sub, s.get("additionalProperties")) {
                    (Some(sub), _) => check(root, sub, x, &format!("{path}.{k}"), out),
                    (None, Some(J::Bool(false))) => out.push(format!("{path}.{k}: unknown key")),
                    (None, Some(extra @ J::Object(_))) => {
                        check(root, extra, x, &format!("{path}.{k}"), out)
                    }
                    _ => {}
                }
            }
        }
        toml::Value::Array(a) => {
            if !ty.is_empty() && !ty.contains(&"array") {
                out.push(format!("{path}: an array where the schema wants {ty:?}"));
                return;
            }
            if let Some(items) = s.get("items") {
                for (i, x) in a.iter().enumerate() {
                    check(root, items, x, &format!("{path}[{i}]"), out);
                }
            }
        }
        toml::Value::String(_) | toml::Value::Datetime(_) => {
            if !ty.is_empty() && !ty.contains(&"string") {
                out.push(format!(
                    "{path}: text or a date where the schema wants {ty:?}"
                ));
            }
        }
        toml::Value::Integer(_) | toml::Value::Float(_) => {
            if !ty.is_empty() && !ty.contains(&"number") && !ty.contains(&"integer") {
                out.push(format!("{path}: a number where the schema wants {ty:?}"));
            }
        }
        toml::Value::Boolean(_) => {
            if !ty.is_empty() && !ty.contains(&"boolean") {
                out.push(format!("{path}: a boolean where the schema wants {ty:?}"));
            }
        }
    }
}

fn toml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn the_committed_schema_is_the_loader_s_and_every_shipped_file_fits_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let committed = std::fs::read_to_string(root.join("capsim.schema.json")).unwrap();
    let made = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
    assert!(
        committed == made,
        "scenarios/capsim.schema.json is stale: run `cargo run --release -- schema > scenarios/capsim.schema.json`"
    );
    let s = schema();
    let mut files = Vec::new();
    toml_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.starts_with("#:schema "),
            "{} does not point to the schema",
            f.display()
        );
        let v: toml::Value = toml::from_str(&text).unwrap();
        let mut problems = Vec::new();
        check(&s, &s, &v, "", &mut problems);
        assert!(problems.is_empty(), "{}: {problems:?}", f.display());
    }
    // The checker finds what the loader refuses: an unknown key, a table for a number.
    let bad: toml::Value = toml::from_str(
        "[sites.x]\npue = { triangle = [1, 2, 3] }\n[firms.y.planning]\nevery_dayz = 30\n",
    )
    .unwrap();
    let mut problems = Vec::new();
    check(&s, &s, &bad, "", &mut problems);
    assert!(
        problems.iter().any(|p| p.contains("sites.x.pue")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("firms.y.planning.every_dayz: unknown key")),
        "{problems:?}"
    );
}
