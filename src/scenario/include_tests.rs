//! Unit tests of `include`: a scenario split over files loads to the same scenario as the single
//! file; keys written twice within a layer, cycles, missing files and errors inside included files
//! are refused at the right file, line and column; policies concatenate in include order; `extends`
//! works over an including base; the embedded baseline resolves its includes among the built-in
//! files.

use std::path::{Path, PathBuf};

use super::merge::{embedded_join, FileSource, Folder};
use super::tests::{assert_mentions, err_of, temp_dir, VALID};
use super::*;

/// Writes `dir/name` (folders created), returns its path.
fn put(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    std::fs::write(&p, text).expect("write temp file");
    p
}

/// `VALID` split in three: the top-level keys and `[sources]` (root.toml, which includes the
/// others), the chips (chips.toml) and the sites, firms and policy (world.toml).
struct Split {
    root: String,
    chips: String,
    world: String,
}

fn split() -> Split {
    let chips_at = VALID.find("[chips.h100]").expect("chips");
    let sites_at = VALID.find("[sites.johor]").expect("sites");
    let sources_at = VALID.find("[sources]").expect("sources");
    Split {
        root: format!(
            "include = [\"chips.toml\", \"world.toml\"]\n{}{}",
            &VALID[..chips_at],
            &VALID[sources_at..]
        ),
        chips: VALID[chips_at..sites_at].to_string(),
        world: VALID[sites_at..sources_at].to_string(),
    }
}

/// Writes a split (after `edit` on its parts) into a fresh folder; returns (folder, root path).
fn write_split(test: &str, edit: impl FnOnce(&mut Split)) -> (PathBuf, PathBuf) {
    let dir = temp_dir(test);
    let mut s = split();
    edit(&mut s);
    put(&dir, "chips.toml", &s.chips);
    put(&dir, "world.toml", &s.world);
    let root = put(&dir, "root.toml", &s.root);
    (dir, root)
}

/// `file:line:col` of the first occurrence of `needle` in `text` (col of its first character,
/// plus `skip` characters).
fn at(file: &Path, text: &str, needle: &str, skip: usize) -> String {
    let i = text
        .find(needle)
        .unwrap_or_else(|| panic!("test bug: {needle:?}"));
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |n| n + 1) + 1 + skip;
    format!("{}:{line}:{col}", file.display())
}

#[test]
fn a_split_scenario_loads_to_the_same_scenario_as_the_single_file() {
    let (dir, root) = write_split("include-same", |_| {});
    let split = load_file(&root).unwrap_or_else(|e| panic!("split: {e}"));
    let single = load_str(VALID, "t.toml", None).expect("single");
    assert_eq!(split.world, single.world);
    assert_eq!(split.provenance, single.provenance);
    assert_eq!(split.policy_dates, single.policy_dates);
    assert_eq!(split.inputs, single.inputs);
    assert_eq!(
        (
            split.name.as_str(),
            split.seed,
            split.start_date,
            split.end_date
        ),
        (
            single.name.as_str(),
            single.seed,
            single.start_date,
            single.end_date
        )
    );
    let shown = |n: &str| dir.join(n).display().to_string();
    assert_eq!(
        split.files,
        [shown("root.toml"), shown("chips.toml"), shown("world.toml")]
    );
    // The hash covers every file: editing an included one changes it.
    put(&dir, "chips.toml", &split_chips_edited());
    let edited = load_file(&root).expect("edited");
    assert_ne!(edited.content_hash, split.content_hash);
    assert_ne!(edited.world, split.world);
    let _ = std::fs::remove_dir_all(&dir);
}

fn split_chips_edited() -> String {
    split()
        .chips
        .replace("training_mfu = 0.4", "training_mfu = 0.41")
}

#[test]
fn a_key_written_by_two_files_of_a_layer_names_both_places() {
    // A whole entry in two included files.
    let dup = "[chips.ascend]\nvendor = \"huawei\"\n";
    let (dir, root) = write_split("include-dup", |s| s.world.push_str(dup));
    let e = load_file(&root).unwrap_err();
    let chips = split().chips;
    let world = format!("{}{dup}", split().world);
    let msg = e.to_string();
    assert!(matches!(e, ScenarioError::DuplicateKey { .. }), "{msg}");
    assert_eq!(e.path(), Some("chips.ascend"));
    assert_mentions(
        &msg,
        &[
            &format!(
                "{}: chips.ascend: already defined at {}",
                at(&dir.join("world.toml"), &world, "[chips.ascend]", 7),
                at(&dir.join("chips.toml"), &chips, "[chips.ascend]", 7)
            ),
            "\n  help: ",
            "override it in a file that `extends` this one",
        ],
        "entry",
    );
    let _ = std::fs::remove_dir_all(&dir);

    // An entry's keys split between two files is the same entry twice.
    let (dir, root) = write_split("include-dup-field", |s| {
        s.world.push_str("[chips.h100.source]\nmemory_gb = \"x\"\n")
    });
    let msg = err_of(load_file(&root));
    assert_mentions(
        &msg,
        &["chips.h100: already defined at", "chips.toml:"],
        "field",
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A top-level key in an included file and in the including file.
    let (dir, root) = write_split("include-dup-top", |s| s.chips.insert_str(0, "seed = 8\n"));
    let root_text = split().root;
    let msg = err_of(load_file(&root));
    assert_mentions(
        &msg,
        &[&format!(
            "{}: seed: already defined at {}:1:1",
            at(&root, &root_text, "seed = 7", 0),
            dir.join("chips.toml").display()
        )],
        "top level",
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A key of [sources] in two files.
    let (dir, root) = write_split("include-dup-sources", |s| {
        s.chips
            .push_str("\n[sources]\n\"sites.cn-east.pue\" = \"elsewhere\"\n")
    });
    let msg = err_of(load_file(&root));
    assert_mentions(
        &msg,
        &[
            "root.toml:",
            "sources.\"sites.cn-east.pue\": already defined at",
            "chips.toml:",
        ],
        "sources",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_in_an_included_file_are_located_in_that_file() {
    // (case, file edited, text replaced, by, where the error is: needle and characters after it,
    // field path or kind of error)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        usize,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "validation",
            "world.toml",
            "pue = 1.3",
            "pue = 0.9",
            "pue = 0.9",
            6,
            "sites.cn-east.pue",
        ),
        (
            "unknown key",
            "chips.toml",
            "memory_gb = 128",
            "memry_gb = 128",
            "memry_gb",
            0,
            "chips.ascend.memry_gb",
        ),
        (
            "wrong type",
            "chips.toml",
            "memory_gb = 80",
            "memory_gb = \"80\"",
            "memory_gb = \"80\"",
            12,
            "chips.h100.memory_gb",
        ),
        (
            "bad date",
            "world.toml",
            "date = 2025-06-01",
            "date = 2025-06-01T10:00:00",
            "date = 2025-06-01T",
            7,
            "sites.johor.deliveries[1].date",
        ),
        (
            "policy",
            "world.toml",
            "fee_fraction = 0.15",
            "fee_fraction = -0.15",
            "fee_fraction = -0.15",
            15,
            "policy.h20-licence.fee_fraction",
        ),
        (
            "syntax",
            "chips.toml",
            "vendor = \"huawei\"",
            "vendor = huawei",
            "vendor = huawei",
            9,
            "TOML syntax error",
        ),
    ];
    for (case, file, from, to, needle, skip, path) in cases {
        let dir = temp_dir(&format!("include-err-{}", case.replace(' ', "-")));
        let mut s = split();
        let text = match *file {
            "world.toml" => &mut s.world,
            _ => &mut s.chips,
        };
        assert!(text.contains(from), "test bug: {from}");
        *text = text.replacen(from, to, 1);
        let edited = text.clone();
        put(&dir, "chips.toml", &s.chips);
        put(&dir, "world.toml", &s.world);
        let root = put(&dir, "root.toml", &s.root);
        let e = load_file(&root).unwrap_err();
        let msg = e.to_string();
        eprintln!("{case}:\n{msg}\n");
        let want = at(&dir.join(file), &edited, needle, *skip);
        assert_mentions(&msg, &[&format!("{want}: "), path, "\n  help: "], case);
        assert_eq!(
            e.location().map(|l| l.file.clone()),
            Some(dir.join(file).display().to_string()),
            "{case}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_missing_include_is_located_at_its_entry() {
    let (dir, root) = write_split("include-missing", |s| {
        s.root = s
            .root
            .replacen("\"world.toml\"]", "\"world.toml\", \"nope.toml\"]", 1)
    });
    let e = load_file(&root).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ScenarioError::IncludeNotFound { .. }), "{msg}");
    assert_eq!(e.path(), Some("include"));
    assert_mentions(
        &msg,
        &[
            &format!("{}:1:40: include: no such file 'nope.toml'", root.display()),
            &format!("looked for {}", dir.join("nope.toml").display()),
            "relative to the folder of",
        ],
        "missing",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cycles_repeats_extends_and_wrong_types_in_include_are_refused() {
    let dir = temp_dir("include-refused");
    let shown = |n: &str| dir.join(n).display().to_string();

    // A cycle names the chain, at the entry that closes it.
    let a = put(&dir, "a.toml", "include = [\"b.toml\"]\nname = \"a\"\n");
    put(&dir, "b.toml", "seed = 1\ninclude = [\"a.toml\"]\n");
    let e = load_file(&a).unwrap_err();
    assert!(matches!(e, ScenarioError::IncludeCycle { .. }), "{e}");
    assert_mentions(
        &e.to_string(),
        &[
            &format!(
                "{}:2:12: include: cycle {} -> {} -> {}",
                shown("b.toml"),
                shown("a.toml"),
                shown("b.toml"),
                shown("a.toml")
            ),
            "\n  help: ",
        ],
        "cycle",
    );
    let own = put(&dir, "self.toml", "include = [\"./self.toml\"]\n");
    let msg = err_of(load_file(&own));
    assert_mentions(&msg, &["self.toml:1:12: include: cycle"], "self");

    // The same file twice in one layer (not a cycle).
    put(&dir, "x.toml", "seed = 1\n");
    put(&dir, "y.toml", "include = [\"x.toml\"]\n");
    let r = put(&dir, "r.toml", "include = [\"x.toml\", \"y.toml\"]\n");
    let msg = err_of(load_file(&r));
    assert_mentions(
        &msg,
        &[
            &format!("{}:1:12: include[0]: 'x.toml'", shown("y.toml")),
            "already included in this layer",
        ],
        "twice",
    );

    // An included file may not extend.
    put(&dir, "ext.toml", "seed = 1\nextends = \"base.toml\"\n");
    let r = put(&dir, "r2.toml", "include = [\"ext.toml\"]\n");
    let msg = err_of(load_file(&r));
    assert_mentions(
        &msg,
        &[
            &format!(
                "{}:2:1: extends: an included file cannot extend",
                shown("ext.toml")
            ),
            "move `extends` to",
        ],
        "extends",
    );

    // Wrong types.
    let msg = err_of(load_str("include = \"x.toml\"\n", "w.toml", Some(&dir)));
    assert_mentions(
        &msg,
        &["w.toml:1:11: include: expected an array of file paths, found string"],
        "type",
    );
    let msg = err_of(load_str(
        "include = [\"x.toml\", 3]\n",
        "w.toml",
        Some(&dir),
    ));
    assert_mentions(
        &msg,
        &["w.toml:1:22: include[1]: expected a file path string, found integer"],
        "entry type",
    );

    // A folder is not a scenario file.
    std::fs::create_dir_all(dir.join("folder.toml")).expect("mkdir");
    let msg = err_of(load_str(
        "include = [\"folder.toml\"]\n",
        "w.toml",
        Some(&dir),
    ));
    assert_mentions(
        &msg,
        &["w.toml:1:12: include[0]: cannot read", "a folder"],
        "folder",
    );

    // A chain of includes deeper than MAX_INCLUDE_DEPTH (each file including the next).
    let chain = dir.join("chain");
    std::fs::create_dir_all(&chain).expect("mkdir");
    for i in 0..=merge::MAX_INCLUDE_DEPTH {
        put(
            &chain,
            &format!("{i}.toml"),
            &format!("include = [\"{}.toml\"]\n", i + 1),
        );
    }
    let msg = err_of(load_file(&chain.join("0.toml")));
    assert_mentions(
        &msg,
        &[
            &format!(
                "{}:1:12: include[0]: includes nested more than 64 deep",
                chain.join("63.toml").display()
            ),
            "\n  help: ",
        ],
        "too deep",
    );
    // A layer of more than MAX_LAYER_FILES files (here one file listing them all).
    let wide = dir.join("wide");
    std::fs::create_dir_all(&wide).expect("mkdir");
    let names: Vec<String> = (0..=merge::MAX_LAYER_FILES)
        .map(|i| {
            put(&wide, &format!("{i}.toml"), "# empty\n");
            format!("\"{i}.toml\"")
        })
        .collect();
    let root = put(
        &wide,
        "root.toml",
        &format!("include = [{}]\n", names.join(", ")),
    );
    let msg = err_of(load_file(&root));
    assert_mentions(
        &msg,
        &[
            &format!("{}:1:", root.display()),
            "include[999]: more than 1000 files",
            "\n  help: ",
        ],
        "too many",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn policies_concatenate_in_include_order_then_the_files_own() {
    let dir = temp_dir("include-policies");
    let policy = |name: &str, from: &str| {
        format!(
            "[[policy]]\nname = \"{name}\"\nrule = \"supply_shock\"\nchip = \"ascend\"\n\
             factor = 0.5\nfrom = {from}\n"
        )
    };
    let chips_at = VALID.find("[chips.h100]").expect("chips");
    let policy_at = VALID.find("[[policy]]").expect("policy");
    let sources_at = VALID.find("[sources]").expect("sources");
    // root: the world and the h20-licence policy; includes p1 (which includes nested/p0) and p2,
    // then adds p3 itself. Dates out of order: the timeline keeps file order.
    put(
        &dir,
        "p1.toml",
        &format!(
            "include = [\"nested/p0.toml\"]\n{}",
            policy("p1", "2025-02-01")
        ),
    );
    put(&dir, "nested/p0.toml", &policy("p0", "2025-05-01"));
    put(&dir, "p2.toml", &policy("p2", "2025-01-15"));
    let root_text = format!(
        "include = [\"p1.toml\", \"p2.toml\"]\n{}{}{}{}",
        &VALID[..chips_at],
        &VALID[chips_at..policy_at],
        &VALID[policy_at..sources_at],
        policy("p3", "2025-03-01"),
    );
    let root = put(&dir, "root.toml", &root_text);
    let s = load_file(&root).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = s
        .world
        .timeline
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["p0", "p1", "p2", "h20-licence", "p3"]);
    let shown = |n: &str| dir.join(n).display().to_string();
    assert_eq!(
        s.files,
        [
            shown("root.toml"),
            shown("p1.toml"),
            shown("nested/p0.toml"),
            shown("p2.toml")
        ]
    );

    // An error in an included policy points into its file, through the concatenation.
    put(
        &dir,
        "p2.toml",
        &policy("p2", "2025-01-15").replace("factor = 0.5", "factor = -1"),
    );
    let msg = err_of(load_file(&root));
    assert_mentions(
        &msg,
        &[&format!("{}:5:10: policy.p2.factor", shown("p2.toml"))],
        "located",
    );

    // A policy name used in two files of one layer.
    put(&dir, "p2.toml", &policy("p1", "2025-01-15"));
    let msg = err_of(load_file(&root));
    assert_mentions(
        &msg,
        &[&format!(
            "{}:2:8: policy.p1: duplicate policy name 'p1' (first used at {}:3:8)",
            shown("p2.toml"),
            shown("p1.toml")
        )],
        "duplicate name",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_what_if_extends_an_including_base_and_may_include_too() {
    let (dir, base) = write_split("include-extends", |_| {});
    std::fs::rename(&base, dir.join("base.toml")).expect("rename");
    let shown = |n: &str| dir.join(n).display().to_string();
    put(&dir, "extra.toml", "[sites.johor]\npue = 1.2\n");
    let child = put(
        &dir,
        "child.toml",
        "extends = \"base.toml\"\ninclude = [\"extra.toml\"]\nname = \"child\"\n\n\
         [chips.h100]\ntraining_mfu = 0.3\n",
    );
    let s = load_file(&child).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "child");
    assert_eq!(
        s.files,
        [
            shown("child.toml"),
            shown("extra.toml"),
            shown("base.toml"),
            shown("chips.toml"),
            shown("world.toml")
        ]
    );
    let h100 = s
        .world
        .chips
        .iter()
        .find(|c| c.name == "h100")
        .expect("h100");
    assert_eq!(h100.training_mfu, 0.3);
    let johor = s
        .world
        .sites
        .iter()
        .find(|c| c.name == "johor")
        .expect("johor");
    assert_eq!(johor.pue, 1.2);
    // The rest is the base's.
    let base = load_file(&dir.join("base.toml")).expect("base");
    assert_eq!(s.world.firms, base.world.firms);
    assert_eq!(s.world.timeline, base.world.timeline);

    // A bad value the child's include writes is located there; one in the base's included file,
    // there.
    put(&dir, "extra.toml", "[sites.johor]\npue = 0.5\n");
    let msg = err_of(load_file(&child));
    assert_mentions(
        &msg,
        &[&format!("{}:2:7: sites.johor.pue", shown("extra.toml"))],
        "child include",
    );
    put(&dir, "extra.toml", "[sites.johor]\npue = 1.2\n");
    let world = split()
        .world
        .replacen("repair_hours = 72", "repair_hours = -72", 1);
    put(&dir, "world.toml", &world);
    let msg = err_of(load_file(&child));
    assert_mentions(
        &msg,
        &[&format!(
            "{}: sites.cn-east.repair_hours",
            at(&dir.join("world.toml"), &world, "-72", 0)
        )],
        "base include",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn observations_are_relative_to_the_file_that_names_them() {
    let (dir, root) = write_split("include-observations", |s| {
        s.root = s
            .root
            .replacen("\"world.toml\"]", "\"world.toml\", \"sub/meta.toml\"]", 1)
    });
    put(&dir, "sub/meta.toml", "observations = \"obs.csv\"\n");
    put(
        &dir,
        "sub/obs.csv",
        "date,from,metric,group,value,low,high,unit,source,used_as_input,note\n\
         2025-03-31,,chips_online,site:johor,1000,900,1100,chips,test,true,\n",
    );
    let s = load_file(&root).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.observations.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_embedded_baseline_resolves_its_includes_among_the_built_in_files() {
    // A built-in file that includes the built-in baseline is the baseline.
    let layer = |text: &str| {
        merge::Layer::load(FileSource {
            name: "<embedded>/top.toml".to_string(),
            text: text.to_string(),
            folder: Folder::Embedded(String::new()),
            id: "<embedded>/top.toml".to_string(),
        })
    };
    let l = layer("include = [\"baseline.toml\"]\n").unwrap_or_else(|e| panic!("{e}"));
    let s = build(merge::load_chain(l).expect("chain")).unwrap_or_else(|e| panic!("{e}"));
    let b = baseline().expect("baseline");
    assert_eq!(s.world, b.world);
    let mut want = vec!["<embedded>/top.toml".to_string()];
    want.extend(
        super::EMBEDDED_FILES
            .iter()
            .filter(|(p, _)| p.ends_with(".toml"))
            .map(|(p, _)| format!("<embedded>/{p}")),
    );
    assert_eq!(s.files, want);

    // A built-in file may only include built-in files.
    let e = layer("include = [\"chips.toml\"]\n")
        .err()
        .expect("refused");
    assert_mentions(
        &e.to_string(),
        &[
            "<embedded>/top.toml:1:12: include: no such file 'chips.toml'",
            "scenario::EMBEDDED_FILES",
            "baseline.toml",
        ],
        "embedded missing",
    );

    // Every built-in file is looked up by its path relative to scenarios/.
    assert_eq!(embedded_file("baseline.toml"), Some(BASELINE_TOML));
    assert_eq!(
        embedded_file("baseline/observed.csv"),
        Some(BASELINE_OBSERVED)
    );
    assert_eq!(embedded_file("nope.toml"), None);
    assert_eq!(
        embedded_join("baseline", "chips.toml").as_deref(),
        Some("baseline/chips.toml")
    );
    assert_eq!(
        embedded_join("baseline", "../baseline.toml").as_deref(),
        Some("baseline.toml")
    );
    assert_eq!(
        embedded_join("", "./a/./b.toml").as_deref(),
        Some("a/b.toml")
    );
    assert_eq!(embedded_join("", "../x.toml"), None);
    assert_eq!(embedded_join("", "/etc/x.toml"), None);
}
