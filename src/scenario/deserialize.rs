//! Reading the merged document into the raw types, reporting every type error in it rather than
//! the first.
//!
//! Serde stops at the first error. To find the next, the place of the one found is taken out of a
//! copy of the document (the key, or the entry whose required key was taken out) and the copy is
//! read again, until it reads or nothing more can be taken out. Paths found in the copy are
//! mapped back to the document (an array entry taken out shifts the ones after it), so every
//! error is located where the file writes it. When only unknown keys had to be taken out, the rest
//! of the file reads, and the loader checks its values too (`from_parts`).

use serde_path_to_error::Segment;

use super::locate::{Locator, Seg};
use super::{did_you_mean, raw, serde_error, ScenarioError};

/// At most this many type errors are reported for one file (a file that is not a scenario at all
/// would otherwise list one per key).
const MAX_ERRORS: usize = 50;

/// Why a document does not read as a scenario.
pub(super) struct TypeErrors {
    /// Every type error found, located, in the order found.
    pub errors: Vec<ScenarioError>,
    /// The document read with only its unknown keys taken out (which the loader never reads), and
    /// their paths: the rest of the file, whose values can be checked as if the keys were not
    /// there. None when anything else had to be taken out for it to read (a value of the wrong
    /// type, whose default would stand in for it; a table or an entry), or it still does not.
    pub rest: Option<Box<(raw::RawScenario, Vec<Vec<Seg>>)>>,
}

/// `merged` read as a scenario, or every type error in it.
pub(super) fn raw_scenario(
    merged: &toml::Value,
    loc: &Locator<'_>,
) -> Result<raw::RawScenario, TypeErrors> {
    let err = match serde_path_to_error::deserialize(merged.clone()) {
        Ok(raw) => return Ok(raw),
        Err(e) => e,
    };
    // Whether only unknown keys have been taken out so far, so that what reads is the file as the
    // loader sees it, less keys it would never read.
    let mut keys_only = true;
    let mut rest = None;
    let mut copy = merged.clone();
    // Array entries taken out of the copy so far: (the array's path in the document, the entry's
    // index in the document), in the order taken.
    let mut gone: Vec<(Vec<Seg>, usize)> = Vec::new();
    // Paths (in the document) taken out so far.
    let mut taken: Vec<Vec<Seg>> = Vec::new();
    // Unknown keys met so far: (the table's path, the key).
    let mut misspelt: Vec<(Vec<Seg>, String)> = Vec::new();
    let mut errors = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next.take() {
        let path = original(&copy_path(&err), &gone);
        let msg = err.inner().message().to_string();
        let missing = msg
            .trim()
            .strip_prefix("missing field ")
            .and_then(|r| r.split('`').nth(1))
            .map(str::to_string);
        // A required key taken out of the copy is no mistake of the file, and one misspelt is
        // reported once, as the unknown key that says what it may mean: take out its table.
        let consequence = missing.as_ref().is_some_and(|k| {
            let mut p = path.clone();
            p.push(Seg::Key(k.clone()));
            taken.contains(&p)
                || misspelt
                    .iter()
                    .any(|(at, u)| *at == path && !did_you_mean(u, &[k]).is_empty())
        });
        if !consequence {
            errors.push(serde_error(path.clone(), &msg, loc));
            if errors.len() >= MAX_ERRORS {
                break;
            }
        }
        let target = match (&missing, msg.trim().strip_prefix("unknown field ")) {
            // The table lacks the key: take out the table.
            (Some(_), _) => {
                keys_only = false;
                path
            }
            // The key is not one the table takes: take out the key.
            (None, Some(rest)) => {
                let k = rest.split('`').nth(1).unwrap_or_default().to_string();
                let mut p = path;
                if p.last() != Some(&Seg::Key(k.clone())) {
                    p.push(Seg::Key(k.clone()));
                }
                misspelt.push((p[..p.len() - 1].to_vec(), k));
                p
            }
            // A value of the wrong type: take out the value.
            (None, None) => {
                keys_only = false;
                path
            }
        };
        if target.is_empty() || taken.contains(&target) {
            break;
        }
        let Some(in_copy) = in_copy(&target, &gone) else {
            break;
        };
        if !take_out(&mut copy, &in_copy) {
            break;
        }
        if let Some(Seg::Index(i)) = target.last() {
            gone.push((target[..target.len() - 1].to_vec(), *i));
            keys_only = false;
        }
        taken.push(target);
        match serde_path_to_error::deserialize::<_, raw::RawScenario>(copy.clone()) {
            Ok(raw) => {
                if keys_only {
                    rest = Some(raw);
                }
            }
            Err(e) => next = Some(e),
        }
    }
    Err(TypeErrors {
        errors,
        rest: rest.map(|raw| Box::new((raw, taken))),
    })
}

/// The path serde reports, in the copy.
fn copy_path(err: &serde_path_to_error::Error<toml::de::Error>) -> Vec<Seg> {
    let mut path = Vec::new();
    for s in err.path().iter() {
        match s {
            Segment::Seq { index } => path.push(Seg::Index(*index)),
            Segment::Map { key } => path.push(Seg::Key(key.clone())),
            Segment::Enum { .. } => {}
            Segment::Unknown => break,
        }
    }
    path
}

/// The indices taken out of the array at `array` (a path in the document), ascending.
fn gone_from(array: &[Seg], gone: &[(Vec<Seg>, usize)]) -> Vec<usize> {
    let mut v: Vec<usize> = gone
        .iter()
        .filter(|(a, _)| a == array)
        .map(|&(_, i)| i)
        .collect();
    v.sort_unstable();
    v
}

/// A path in the copy, mapped to the document.
fn original(path: &[Seg], gone: &[(Vec<Seg>, usize)]) -> Vec<Seg> {
    let mut out: Vec<Seg> = Vec::with_capacity(path.len());
    for seg in path {
        match seg {
            Seg::Index(j) => {
                let mut i = *j;
                for r in gone_from(&out, gone) {
                    if r <= i {
                        i += 1;
                    }
                }
                out.push(Seg::Index(i));
            }
            key => out.push(key.clone()),
        }
    }
    out
}

/// A path in the document, mapped to the copy; None if it lies in an entry taken out.
fn in_copy(path: &[Seg], gone: &[(Vec<Seg>, usize)]) -> Option<Vec<Seg>> {
    let mut out = Vec::with_capacity(path.len());
    for (depth, seg) in path.iter().enumerate() {
        match seg {
            Seg::Index(i) => {
                let removed = gone_from(&path[..depth], gone);
                if removed.contains(i) {
                    return None;
                }
                out.push(Seg::Index(i - removed.iter().filter(|&&r| r < *i).count()));
            }
            key => out.push(key.clone()),
        }
    }
    Some(out)
}

/// Takes the value at `path` out of `doc`; false if there is none.
fn take_out(doc: &mut toml::Value, path: &[Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = doc;
    for seg in parents {
        let next = match (seg, cur) {
            (Seg::Key(k), toml::Value::Table(t)) => t.get_mut(k.as_str()),
            (Seg::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => cur = v,
            None => return false,
        }
    }
    match (last, cur) {
        (Seg::Key(k), toml::Value::Table(t)) => t.remove(k.as_str()).is_some(),
        (Seg::Index(i), toml::Value::Array(a)) if *i < a.len() => {
            a.remove(*i);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_between_the_copy_and_the_document() {
        let arr = vec![Seg::Key("policy".into())];
        let gone = vec![(arr.clone(), 1), (arr.clone(), 3)];
        // Document entries 0 2 4 5 are the copy's 0 1 2 3.
        let at = |i| {
            vec![
                Seg::Key("policy".into()),
                Seg::Index(i),
                Seg::Key("from".into()),
            ]
        };
        assert_eq!(original(&at(0), &gone), at(0));
        assert_eq!(original(&at(1), &gone), at(2));
        assert_eq!(original(&at(2), &gone), at(4));
        assert_eq!(original(&at(3), &gone), at(5));
        for (copy, doc) in [(0, 0), (1, 2), (2, 4), (3, 5)] {
            assert_eq!(in_copy(&at(doc), &gone), Some(at(copy)));
        }
        assert_eq!(in_copy(&at(3), &gone), None);
    }
}
