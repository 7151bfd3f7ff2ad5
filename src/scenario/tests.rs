//! Unit tests of the scenario layer: a table of broken scenarios (each error located and explained),
//! a valid scenario in full, merging, and the embedded baseline.

use std::path::PathBuf;

use super::*;
use crate::engine::SimDuration;
use crate::model::{Arrivals, Operator, Pricing, Quantity, Rule, WorkloadKind};

/// A small valid scenario. Line numbers matter: the broken cases below edit single lines of it
/// and expect errors at those lines.
pub(super) const VALID: &str = r#"name = "t"
description = "minimal"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 7

[chips.h100]
vendor = "nvidia"
vendor_country = "US"
bf16_dense_tflops = 989
memory_gb = 80
board_power_w = 700
all_in_power_w = 1300
training_mfu = 0.4
inference_tokens_per_s = 2800
purchase_usd = 30000
lease_usd_per_chip_hour = 2.35
source = { bf16_dense_tflops = "Nvidia datasheet" }

[chips.ascend]
vendor = "huawei"
vendor_country = "CN"
bf16_dense_tflops = 750
memory_gb = 128
board_power_w = 600
all_in_power_w = 1000
training_mfu = 0.3
inference_tokens_per_s = 1500
purchase_usd = 20000
lease_usd_per_chip_hour = 1.5

[sites.johor]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "lease"
electricity_usd_per_kwh = 0.1
pue = 1.4
mtbf_hours = 50000
repair_hours = 48
deliveries = [{ date = 2025-01-01, chips = 1000 }, { date = 2025-06-01, chips = 500 }]
source = "Operator press release"

[sites.cn-east]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend"
pricing = "owned"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 30000
repair_hours = 72
supply = { chips_per_year = 12000 }

[firms.bytedance]
headquarters = "CN"
sites = ["johor", "cn-east"]
placement = "cheapest"

[[firms.bytedance.workloads]]
name = "pretraining"
kind = "training"
arrivals = { every_days = 60 }
size_flop = { lognormal = { median = 5e24, p95 = 1.5e25 } }
gang_chips = 512
checkpoint_hours = 1
restart_hours = 0.5
source = { size_flop = "Epoch AI" }

[[firms.bytedance.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 1e12
growth_per_year = 3

[[policy]]
name = "h20-licence"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = 0.15
from = 2024-06-01
source = { from = "BIS notice" }

[sources]
"sites.cn-east.pue" = "Operator report"
"#;

/// `VALID` with the first occurrence of `from` replaced by `to` (which must exist).
fn with(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "test bug: {from:?} not in VALID");
    VALID.replacen(from, to, 1)
}

/// A fresh, empty folder under the system temp dir, unique to this process and test.
pub(super) fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capsim-scenario-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub(super) fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write temp file");
    p
}

pub(super) fn err_of(r: Result<Scenario, ScenarioError>) -> String {
    match r {
        Ok(s) => panic!("expected an error, loaded '{}'", s.name),
        Err(e) => e.to_string(),
    }
}

pub(super) fn assert_mentions(msg: &str, parts: &[&str], case: &str) {
    for p in parts {
        assert!(
            msg.contains(p),
            "case {case}: message lacks {p:?}; message was:\n{msg}"
        );
    }
}

/// One broken single-file scenario: (case, text, expected `file:line:col`, path, help phrase).
type Case = (
    &'static str,
    String,
    &'static str,
    &'static str,
    &'static str,
);

fn single_file_cases() -> Vec<Case> {
    vec![
        (
            "unknown chip reference",
            with("chip = \"h100\"", "chip = \"H2O\""),
            "t.toml:35:8",
            "sites.johor.chip: unknown chip 'H2O'",
            "known chips: ascend, h100 (define it under [chips.H2O] or fix the name)",
        ),
        (
            "unknown key in a site",
            with("pue = 1.4", "pue2 = 1.4"),
            "t.toml:38:1",
            "sites.johor.pue2: unknown key 'pue2'",
            "allowed keys here: jurisdiction, operator, chip",
        ),
        (
            "unknown top-level key, with a suggestion",
            with("description = ", "descripton = "),
            "t.toml:2:1",
            "descripton: unknown key",
            "did you mean 'description'?",
        ),
        (
            "wrong type",
            with("gang_chips = 512", "gang_chips = \"512\""),
            "t.toml:65:14",
            "firms.bytedance.workloads.pretraining.gang_chips: wrong type",
            "write a whole number >= 0 here",
        ),
        (
            "negative integer for a count",
            with("chips = 500", "chips = -500"),
            "t.toml:41:81",
            "sites.johor.deliveries[1].chips",
            "write a whole number >= 0 here",
        ),
        (
            "negative quantity",
            with("mtbf_hours = 50000", "mtbf_hours = -5"),
            "t.toml:39:14",
            "sites.johor.mtbf_hours: must be a number in [1000, 1000000000], found -5",
            "mean time between failures",
        ),
        (
            "NaN",
            with("memory_gb = 80", "memory_gb = nan"),
            "t.toml:11:13",
            "chips.h100.memory_gb: must be a number in [0, 1000000], found NaN",
            "accelerator memory",
        ),
        (
            "infinity",
            with("electricity_usd_per_kwh = 0.08", "electricity_usd_per_kwh = inf"),
            "t.toml:49:27",
            "sites.cn-east.electricity_usd_per_kwh: must be a number in [0, 100], found inf",
            "USD per kWh",
        ),
        (
            "mfu above 1",
            with("training_mfu = 0.4", "training_mfu = 1.5"),
            "t.toml:14:16",
            "chips.h100.training_mfu: must be a number in [0.01, 1]",
            "0.40 means 40%",
        ),
        (
            "mfu of zero",
            with("training_mfu = 0.3", "training_mfu = 0"),
            "t.toml:27:16",
            "chips.ascend.training_mfu: must be a number in [0.01, 1]",
            "fraction of peak",
        ),
        (
            "pue below 1",
            with("pue = 1.3", "pue = 0.9"),
            "t.toml:50:7",
            "sites.cn-east.pue: must be a number in [1, 3], found 0.9",
            "at least 1",
        ),
        (
            "delivery outside the horizon",
            with("date = 2025-06-01", "date = 2026-06-01"),
            "t.toml:41:61",
            "sites.johor.deliveries[1].date: 2026-06-01 is outside the horizon 2025-01-01 to 2025-12-31",
            "move the date inside the horizon",
        ),
        (
            "end before start",
            with("end_date = 2025-12-31", "end_date = 2024-12-31"),
            "t.toml:4:12",
            "end_date: end_date 2024-12-31 is before start_date 2025-01-01",
            "make end_date no earlier than start_date",
        ),
        (
            "date with a time",
            with("start_date = 2025-01-01", "start_date = 2025-01-01T10:00:00"),
            "t.toml:3:14",
            "start_date: expected a date like 2025-01-01",
            "without a time",
        ),
        (
            "site that never receives chips",
            with("chips_per_year = 12000", "chips_per_year = 0"),
            "t.toml:44:1",
            "sites.cn-east: site 'cn-east' never receives chips",
            "initial_chips = 1000, deliveries = [",
        ),
        (
            "firm with no sites",
            with("sites = [\"johor\", \"cn-east\"]", "sites = []"),
            "t.toml:57:9",
            "firms.bytedance.sites: firm 'bytedance' has no sites",
            "known sites: cn-east, johor",
        ),
        (
            "unknown site reference",
            with("\"cn-east\"]", "\"cn-west\"]"),
            "t.toml:57:19",
            "firms.bytedance.sites[1]: unknown site 'cn-west'",
            "known sites: cn-east, johor; did you mean 'cn-east'?",
        ),
        (
            "unknown chip in a policy",
            with("chip = \"h100\"\nto = ", "chip = \"h200\"\nto = "),
            "t.toml:79:8",
            "policy.h20-licence.chip: unknown chip 'h200'",
            "did you mean 'h100'?",
        ),
        (
            "key of another rule",
            with("source = { from = \"BIS notice\" }", "grace_days = 30"),
            "t.toml:83:1",
            "policy.h20-licence.grace_days: 'grace_days' does not apply to rule 'licence_fee'",
            "rule 'licence_fee' takes chip, fee_fraction, to",
        ),
        (
            "unknown rule",
            with("rule = \"licence_fee\"", "rule = \"licence_fees\""),
            "t.toml:78:8",
            "policy.h20-licence.rule: 'licence_fees' is not one of the accepted values",
            "did you mean 'licence_fee'?",
        ),
        (
            "duplicate policy names",
            format!(
                "{VALID}\n[[policy]]\nname = \"h20-licence\"\nrule = \"export_ban\"\n\
                 chip = \"h100\"\nto = \"CN\"\nfrom = 2025-04-09\n"
            ),
            "t.toml:89:8",
            "policy.h20-licence: duplicate policy name 'h20-licence' (first used at line 77)",
            "must be unique within a file",
        ),
        (
            "policy after the end",
            with("from = 2024-06-01", "from = 2026-06-01"),
            "t.toml:82:8",
            "policy.h20-licence.from: from 2026-06-01 is after end_date 2025-12-31",
            "move it inside the horizon",
        ),
        (
            "invalid run name",
            with("name = \"t\"", "name = \"my run\""),
            "t.toml:1:8",
            "name: invalid run name 'my run'",
            "letters, digits, '-', '_' and '.' (not first) only",
        ),
        (
            "run name like a temporary folder",
            with("name = \"t\"", "name = \".t\""),
            "t.toml:1:8",
            "name: invalid run name '.t': it starts with '.'",
            "(not first)",
        ),
        (
            "missing key",
            with("vendor = \"huawei\"", "# vendor left out"),
            "t.toml:20:1",
            "chips.ascend.vendor: missing key 'vendor'",
            "add `vendor = ...` to [chips.ascend]",
        ),
        (
            "unknown enumeration value",
            with("operator = \"foreign\"", "operator = \"foriegn\""),
            "t.toml:34:12",
            "sites.johor.operator: 'foriegn' is not one of the accepted values",
            "use one of: domestic, foreign",
        ),
        (
            "key of another workload kind",
            with("growth_per_year = 3", "gang_chips = 8"),
            "t.toml:74:1",
            "firms.bytedance.workloads.chat.gang_chips: 'gang_chips' does not apply to an inference workload",
            "an inference workload takes tokens_per_day",
        ),
        (
            "bad distribution",
            with("p95 = 1.5e25", "p95 = 1e24"),
            "t.toml:64:27",
            "firms.bytedance.workloads.pretraining.size_flop.lognormal: lognormal p95 must be >= median",
            "median = 5e24, p95 = 1.5e25",
        ),
        (
            "unknown distribution",
            with("{ lognormal = { median", "{ lognormol = { median"),
            "t.toml:64:15",
            "firms.bytedance.workloads.pretraining.size_flop.lognormol: unknown key",
            "allowed keys here: lognormal, uniform, triangular; did you mean 'lognormal'?",
        ),
        (
            "source for a field the table lacks",
            with("source = { bf16_dense_tflops = ", "source = { bf16_tflops = "),
            "t.toml:18:12",
            "chips.h100.source.bf16_tflops: 'bf16_tflops' is not a field of this table",
            "source keys name fields of the table",
        ),
        (
            "[sources] path to an undefined entry",
            with("\"sites.cn-east.pue\" =", "\"sites.cn-west.pue\" ="),
            "t.toml:86:1",
            "sources.\"sites.cn-west.pue\": 'sites.cn-west.pue' names no defined entry of [sites]",
            "did you mean 'cn-east'?",
        ),
        (
            "lower-case country code",
            with("jurisdiction = \"MY\"", "jurisdiction = \"my\""),
            "t.toml:33:16",
            "sites.johor.jurisdiction: 'my' is not a country code",
            "did you mean 'MY'?",
        ),
        (
            "arrivals with two forms",
            with("{ every_days = 60 }", "{ every_days = 60, mean_gap_days = 30 }"),
            "t.toml:63:31",
            "firms.bytedance.workloads.pretraining.arrivals.mean_gap_days: arrivals takes one of",
            "{ every_days = 60 }",
        ),
        (
            "syntax error keeps toml's span",
            with("pue = 1.4", "pue = = 1.4"),
            "t.toml:38:7",
            "TOML syntax error",
            "fix the TOML at this point",
        ),
    ]
}

#[test]
fn broken_scenarios_are_located_and_explained() {
    let cases = single_file_cases();
    assert!(cases.len() >= 15);
    for (case, text, at, path, help) in cases {
        let msg = err_of(load_str(&text, "t.toml", None));
        // Shown with --nocapture, to read the messages as a user would.
        eprintln!("{case}:\n{msg}\n");
        let at = format!("{at}: ");
        assert_mentions(&msg, &[&at, path, "\n  help: ", help], case);
    }
}

#[test]
fn broken_layered_scenarios_are_located_in_the_right_file() {
    let dir = temp_dir("broken-layers");
    write(&dir, "base.toml", VALID);
    let shown = |name: &str| dir.join(name).display().to_string();

    // A bad value in the extending file points into the extending file.
    let child = write(
        &dir,
        "child.toml",
        "extends = \"base.toml\"\nname = \"child\"\n\n[sites.johor]\npue = 0.5\n",
    );
    let msg = err_of(load_file(&child));
    assert_mentions(
        &msg,
        &[
            &format!("{}:5:7: sites.johor.pue: must be", shown("child.toml")),
            "at least 1",
        ],
        "override",
    );

    // A bad value the child does not touch points into the base.
    write(
        &dir,
        "bad-base.toml",
        &with("mtbf_hours = 50000", "mtbf_hours = -1"),
    );
    let child = write(
        &dir,
        "child2.toml",
        "extends = \"bad-base.toml\"\nname = \"child2\"\n",
    );
    let msg = err_of(load_file(&child));
    assert_mentions(
        &msg,
        &[&format!(
            "{}:39:14: sites.johor.mtbf_hours",
            shown("bad-base.toml")
        )],
        "base value",
    );

    // An appended policy is located in the file that appended it.
    let child = write(
        &dir,
        "child3.toml",
        "extends = \"base.toml\"\nname = \"c3\"\n\n[[policy]]\nname = \"hbm\"\n\
         rule = \"supply_shock\"\nchip = \"ascend\"\nfactor = -0.5\nfrom = 2025-03-01\n",
    );
    let msg = err_of(load_file(&child));
    assert_mentions(
        &msg,
        &[
            &format!(
                "{}:8:10: policy.hbm.factor: must be a number in [0, 1000]",
                shown("child3.toml")
            ),
            "0.5 halves it",
        ],
        "appended policy",
    );

    // A missing extends file.
    let msg = err_of(load_str(
        "extends = \"nope.toml\"\nname = \"x\"\n",
        "w.toml",
        Some(&dir),
    ));
    assert_mentions(
        &msg,
        &[
            "w.toml:1:11: extends: no such file 'nope.toml'",
            "relative to the folder of w.toml",
        ],
        "missing extends",
    );

    // A cycle of extends names the chain.
    let a = write(&dir, "a.toml", "extends = \"b.toml\"\nname = \"a\"\n");
    write(&dir, "b.toml", "name = \"b\"\nextends = \"a.toml\"\n");
    let msg = err_of(load_file(&a));
    assert_mentions(
        &msg,
        &[
            &format!(
                "{}:2:11: extends: cycle {} -> {} -> {}",
                shown("b.toml"),
                shown("a.toml"),
                shown("b.toml"),
                shown("a.toml")
            ),
            "remove `extends` from one of these files",
        ],
        "cycle",
    );

    // A file that extends itself.
    let own = write(&dir, "self.toml", "extends = \"self.toml\"\n");
    let msg = err_of(load_file(&own));
    assert_mentions(&msg, &["self.toml:1:11: extends: cycle"], "self cycle");

    // extends of the wrong type.
    let msg = err_of(load_str("extends = 3\n", "w.toml", Some(&dir)));
    assert_mentions(
        &msg,
        &["w.toml:1:11: extends: expected a file path string"],
        "type",
    );

    // Switching off a policy that the base does not define.
    let child = write(
        &dir,
        "child4.toml",
        "extends = \"base.toml\"\nname = \"c4\"\n[[policy]]\nname = \"h20-licnce\"\nenabled = false\n",
    );
    let msg = err_of(load_file(&child));
    assert_mentions(
        &msg,
        &[
            &format!(
                "{}:4:8: policy.h20-licnce.name: switches off policy 'h20-licnce'",
                shown("child4.toml")
            ),
            "did you mean 'h20-licence'?",
        ],
        "switch off unknown",
    );

    // Unreadable root file.
    let msg = err_of(load_file(&dir.join("absent.toml")));
    assert_mentions(&msg, &["absent.toml: cannot read the file"], "io");

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_expose_location_and_path() {
    // The CLI wraps it in anyhow, which needs these.
    fn send_sync<T: Send + Sync + std::error::Error + 'static>() {}
    send_sync::<ScenarioError>();
    let e = load_str(&with("pue = 1.3", "pue = 0.9"), "t.toml", None).unwrap_err();
    let at = e.location().expect("located");
    assert_eq!((at.file.as_str(), at.line, at.column), ("t.toml", 50, 7));
    assert!(at.span.is_some());
    assert_eq!(e.path(), Some("sites.cn-east.pue"));
    assert!(matches!(e, ScenarioError::Invalid { .. }));

    let e = load_str(&with("pue = 1.4", "pue2 = 1.4"), "t.toml", None).unwrap_err();
    match e {
        ScenarioError::UnknownKey { key, allowed, .. } => {
            assert_eq!(key, "pue2");
            assert!(allowed.iter().any(|a| a == "pue"), "{allowed:?}");
        }
        other => panic!("expected UnknownKey, got {other}"),
    }
}

#[test]
fn valid_scenario_loads() {
    let s = load_str(VALID, "t.toml", None).expect("valid");
    assert_eq!(s.name, "t");
    assert_eq!(s.description, "minimal");
    assert_eq!(s.seed, 7);
    assert_eq!(s.start_date, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    assert_eq!(s.end_date, NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    assert_eq!(s.files, vec!["t.toml".to_string()]);
    assert_eq!(s.content_hash.len(), 64);
    assert!(s.content_hash.bytes().all(|b| b.is_ascii_hexdigit()));

    let w = &s.world;
    assert_eq!(w.horizon, SimTime(365 * 86_400));
    // File order, not name order.
    let chips: Vec<&str> = w.chips.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(chips, ["h100", "ascend"]);
    assert_eq!(w.sites.len(), 2);
    assert_eq!(w.firms.len(), 1);
    assert_eq!(w.firms[0].workloads.len(), 2);
    assert_eq!(w.timeline.policies.len(), 1);

    let johor = &w.sites[0];
    assert_eq!(johor.chip, model::ChipId(0));
    assert_eq!(johor.operator, Operator::Foreign);
    // The lease price defaults to the chip's.
    assert_eq!(
        johor.pricing,
        Pricing::Lease {
            usd_per_chip_hour: 2.35,
            on_demand_premium: 0.0,
        }
    );
    let at: Vec<(u64, u64)> = johor.deliveries.iter().map(|d| (d.at.0, d.chips)).collect();
    assert_eq!(at, [(0, 1000), (151 * 86_400, 500)]);
    let east = &w.sites[1];
    assert_eq!(east.chip, model::ChipId(1));
    assert_eq!(
        east.pricing,
        Pricing::Owned {
            amortisation_years: 4.0,
            owner: None,
        }
    );
    let supply = east.supply.expect("supply");
    assert_eq!((supply.from, supply.until), (SimTime::ZERO, w.horizon));
    assert!(!east.inference_priority);

    let firm = &w.firms[0];
    assert_eq!(firm.sites, [model::SiteId(0), model::SiteId(1)]);
    let pre = &firm.workloads[0];
    assert_eq!((pre.start, pre.end), (SimTime::ZERO, w.horizon));
    match &pre.kind {
        WorkloadKind::Batch(b) => {
            assert_eq!(b.arrivals, Arrivals::Every(SimDuration::from_days(60)));
            assert_eq!(
                b.size_flop,
                Quantity::LogNormal {
                    median: 5e24,
                    p95: 1.5e25
                }
            );
            assert_eq!(b.gang_chips, 512);
            assert_eq!(b.checkpoint, SimDuration::from_hours(1));
            assert_eq!(b.restart, SimDuration::from_secs(1800));
        }
        other => panic!("expected a batch workload, got {other:?}"),
    }
    match &firm.workloads[1].kind {
        WorkloadKind::Inference(i) => {
            assert_eq!(i.tokens_per_day, 1e12);
            assert_eq!(i.growth_per_year, 3.0);
            assert_eq!(i.daily_amplitude, 0.0);
            assert_eq!(i.peak_hour, 14.0);
            assert_eq!(i.batch, SimDuration::from_hours(1));
        }
        other => panic!("expected inference, got {other:?}"),
    }

    // A `from` before the start is in force from the start.
    let p = &w.timeline.policies[0];
    assert_eq!(p.from, SimTime::ZERO);
    assert_eq!(p.until, None);
    assert_eq!(
        p.rule,
        Rule::LicenceFee {
            chip: "h100".into(),
            to: "MY".into(),
            fee_fraction: 0.15
        }
    );
    assert_eq!(p.source.as_deref(), Some("from: BIS notice"));

    let prov: Vec<(&str, &str)> = s
        .provenance
        .iter()
        .map(|p| (p.path.as_str(), p.source.as_str()))
        .collect();
    assert_eq!(
        prov,
        [
            ("chips.h100.bf16_dense_tflops", "Nvidia datasheet"),
            (
                "firms.bytedance.workloads.pretraining.size_flop",
                "Epoch AI"
            ),
            ("policy.h20-licence.from", "BIS notice"),
            ("sites.cn-east.pue", "Operator report"),
            ("sites.johor", "Operator press release"),
        ]
    );

    // Dates and times.
    let d = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    assert_eq!(s.date_to_time(d), SimTime(151 * 86_400));
    assert_eq!(s.time_to_date(SimTime(151 * 86_400 + 3_600)), d);
    assert_eq!(
        s.date_to_time(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()),
        SimTime::ZERO
    );
    assert_eq!(s.time_to_date(SimTime::MAX), NaiveDate::MAX);
}

#[test]
fn other_size_and_arrival_forms() {
    let text = with(
        "arrivals = { every_days = 60 }",
        "arrivals = { dates = [2025-09-01, 2025-03-01] }",
    )
    .replacen(
        "size_flop = { lognormal = { median = 5e24, p95 = 1.5e25 } }",
        "size_flop = { triangular = [1e24, 2e24, 5e24] }",
        1,
    );
    let s = load_str(&text, "t.toml", None).expect("valid");
    let WorkloadKind::Batch(b) = &s.world.firms[0].workloads[0].kind else {
        panic!("batch")
    };
    // Sorted.
    assert_eq!(
        b.arrivals,
        Arrivals::At(vec![SimTime(59 * 86_400), SimTime(243 * 86_400)])
    );
    assert_eq!(
        b.size_flop,
        Quantity::Triangular {
            low: 1e24,
            mode: 2e24,
            high: 5e24
        }
    );

    let text = with("{ every_days = 60 }", "{ mean_gap_days = 30 }").replacen(
        "size_flop = { lognormal = { median = 5e24, p95 = 1.5e25 } }",
        "size_flop = 3e24",
        1,
    );
    let s = load_str(&text, "t.toml", None).expect("valid");
    let WorkloadKind::Batch(b) = &s.world.firms[0].workloads[0].kind else {
        panic!("batch")
    };
    assert_eq!(
        b.arrivals,
        Arrivals::Poisson {
            mean_gap: SimDuration::from_days(30)
        }
    );
    assert_eq!(b.size_flop, Quantity::Fixed(3e24));

    let text = with(
        "size_flop = { lognormal = { median = 5e24, p95 = 1.5e25 } }",
        "size_flop = { uniform = [1e24] }",
    );
    let msg = err_of(load_str(&text, "t.toml", None));
    assert!(msg.contains("t.toml:64:25: firms.bytedance.workloads.pretraining.size_flop.uniform: uniform needs [low, high], found 1 numbers"), "{msg}");
}

#[test]
fn content_hash_follows_the_text() {
    let a = load_str(VALID, "t.toml", None).unwrap();
    let b = load_str(VALID, "t.toml", None).unwrap();
    let c = load_str(&with("seed = 7", "seed = 8"), "t.toml", None).unwrap();
    assert_eq!(a.content_hash, b.content_hash);
    assert_ne!(a.content_hash, c.content_hash);
}

#[test]
fn merging_overrides_appends_replaces_and_disables() {
    let dir = temp_dir("merge");
    let base = format!(
        "{VALID}\n[[policy]]\nname = \"cap\"\nrule = \"chip_cap\"\ncountry = \"CN\"\n\
         max_chips = 100000\nfrom = 2025-01-01\n\n[[policy]]\nname = \"permits\"\n\
         rule = \"permit_delay\"\nthrough = \"MY\"\ndelay_days = 30\nfrom = 2025-02-01\n\
         until = 2025-10-01\n"
    );
    write(&dir, "base.toml", &base);
    let child = write(
        &dir,
        "whatif.toml",
        r#"extends = "base.toml"
name = "whatif"

[chips.a100]
vendor = "nvidia"
vendor_country = "US"
bf16_dense_tflops = 312
memory_gb = 80
board_power_w = 400
all_in_power_w = 800
training_mfu = 0.45
inference_tokens_per_s = 1000
purchase_usd = 15000
lease_usd_per_chip_hour = 1.2

[sites.johor]
pue = 1.2

[[policy]]
name = "h20-licence"
rule = "export_ban"
chip = "h100"
to = "CN"
from = 2025-04-09
source = "BIS, April 2025"

[[policy]]
name = "hbm"
rule = "supply_shock"
chip = "ascend"
factor = 0.5
from = 2025-03-01

[[policy]]
name = "cap"
enabled = false
"#,
    );
    let s = load_file(&child).expect("merged scenario loads");
    assert_eq!(s.name, "whatif");
    assert_eq!(
        s.files,
        [
            child.display().to_string(),
            dir.join("base.toml").display().to_string()
        ]
    );
    // A number overridden; the rest of the table kept.
    let johor = &s.world.sites[0];
    assert_eq!(johor.pue, 1.2);
    assert_eq!(johor.mtbf_hours, 50000.0);
    // A new chip comes after the base's.
    let chips: Vec<&str> = s.world.chips.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(chips, ["h100", "ascend", "a100"]);
    // Replaced in place, disabled dropped, new appended.
    let names: Vec<&str> = s
        .world
        .timeline
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["h20-licence", "permits", "hbm"]);
    let p0 = &s.world.timeline.policies[0];
    assert_eq!(
        p0.rule,
        Rule::ExportBan {
            chip: "h100".into(),
            to: "CN".into()
        }
    );
    assert_eq!(p0.from, SimTime(98 * 86_400));
    // `until = 2025-10-01` is the last day in force: out of force from 00:00 on 2025-10-02.
    assert_eq!(
        s.world.timeline.policies[1].until,
        Some(SimTime(274 * 86_400))
    );
    // The replaced entry's provenance goes with it.
    let prov: Vec<&str> = s.provenance.iter().map(|p| p.path.as_str()).collect();
    assert!(prov.contains(&"policy.h20-licence"), "{prov:?}");
    assert!(!prov.contains(&"policy.h20-licence.from"), "{prov:?}");

    // Three layers: the middle one's extends is followed, and nothing is inherited twice.
    let grand = write(
        &dir,
        "grandchild.toml",
        "extends = \"whatif.toml\"\nname = \"grand\"\n[sites.cn-east]\nrepair_hours = 24\n",
    );
    let g = load_file(&grand).expect("three layers");
    assert_eq!(g.files.len(), 3);
    assert_eq!(g.world.sites[1].repair_hours, 24.0);
    assert_eq!(g.world.sites[0].pue, 1.2);
    assert_eq!(g.world.timeline.policies.len(), 3);
    assert_ne!(g.content_hash, s.content_hash);

    // load_str resolves extends in base_dir.
    let text = std::fs::read_to_string(&child).unwrap();
    let s2 = load_str(&text, "whatif.toml", Some(&dir)).expect("load_str with base_dir");
    assert_eq!(s2.world, s.world);

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_baseline_falls_back_to_the_embedded_one() {
    let dir = temp_dir("embedded");
    let child = write(
        &dir,
        "whatif.toml",
        "extends = \"baseline.toml\"\nname = \"whatif\"\n",
    );
    let s = load_file(&child).expect("extends the embedded baseline");
    assert_eq!(s.files[1], EMBEDDED_BASELINE);
    assert_eq!(s.name, "whatif");
    let b = baseline().expect("baseline");
    assert_eq!(s.world, b.world);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn embedded_baseline_loads() {
    let b = baseline().unwrap_or_else(|e| panic!("embedded baseline: {e}"));
    assert_eq!(b.files[0], EMBEDDED_BASELINE);
    assert!(b.end_date > b.start_date);
    let w = &b.world;
    let days = (b.end_date - b.start_date).num_days() as u64 + 1;
    assert_eq!(w.horizon, SimTime(days * 86_400));
    assert!(!w.chips.is_empty() && !w.sites.is_empty() && !w.firms.is_empty());
    for site in &w.sites {
        assert!((site.chip.0 as usize) < w.chips.len());
    }
    for firm in &w.firms {
        assert!(!firm.sites.is_empty());
        assert!(firm.sites.iter().all(|s| (s.0 as usize) < w.sites.len()));
    }
    assert!(b.provenance.windows(2).all(|p| p[0] <= p[1]));
    // Every file the baseline includes is built in, and shown as such.
    for f in &b.files[1..] {
        let rel = f.strip_prefix("<embedded>/").expect("a built-in file");
        assert!(embedded_file(rel).is_some(), "{f}");
    }
    // Loaded from disk, the same texts give the same world and hash (skipped while someone is
    // editing a built-in file and the binary still embeds the previous text).
    let scenarios = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
    let unchanged = EMBEDDED_FILES.iter().all(|(rel, text)| {
        std::fs::read_to_string(scenarios.join(rel)).ok().as_deref() == Some(*text)
    });
    if unchanged {
        let f = load_file(&scenarios.join("baseline.toml")).expect("on-disk baseline");
        assert_eq!(f.world, b.world);
        assert_eq!(f.content_hash, b.content_hash);
        assert_eq!(f.files.len(), b.files.len());
    }
}

/// The key lists that validate.rs and the help texts use must match what serde accepts.
#[test]
fn key_lists_match_serde() {
    fn serde_keys<T: serde::de::DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
        let mut t = toml::Table::new();
        t.insert("zz_not_a_key".into(), toml::Value::Integer(1));
        let e = toml::Value::Table(t).try_into::<T>().unwrap_err();
        let mut keys = backticked(e.message());
        keys.remove(0);
        keys.sort();
        keys
    }
    fn sorted(v: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }
    assert_eq!(serde_keys::<raw::RawChip>(), sorted(raw::CHIP_KEYS));
    assert_eq!(serde_keys::<raw::RawSite>(), sorted(raw::SITE_KEYS));
    assert_eq!(serde_keys::<raw::RawFirm>(), sorted(raw::FIRM_KEYS));
    assert_eq!(serde_keys::<raw::RawDemand>(), sorted(raw::DEMAND_KEYS));
    assert_eq!(
        serde_keys::<raw::RawProcurement>(),
        sorted(raw::PROCUREMENT_KEYS)
    );
    assert_eq!(serde_keys::<raw::RawBuying>(), sorted(raw::BUYING_KEYS));
    let workload: Vec<&str> = [
        raw::WORKLOAD_COMMON_KEYS,
        raw::WORKLOAD_BATCH_KEYS,
        raw::WORKLOAD_INFERENCE_KEYS,
    ]
    .concat();
    assert_eq!(serde_keys::<raw::RawWorkload>(), sorted(&workload));
    let mut policy: Vec<&str> = raw::POLICY_COMMON_KEYS.to_vec();
    for k in raw::RawRuleKind::all() {
        let (req, opt) = k.keys();
        policy.extend(
            req.iter()
                .chain(opt)
                .filter(|x| !policy.contains(x))
                .collect::<Vec<_>>(),
        );
    }
    policy.sort_unstable();
    policy.dedup();
    assert_eq!(serde_keys::<raw::RawPolicy>(), sorted(&policy));
}

/// No input panics: every line of the valid scenario dropped, or its value replaced by odd ones.
#[test]
fn odd_inputs_never_panic() {
    let odd = [
        "nan",
        "-inf",
        "-1",
        "0",
        "1e400",
        "\"\"",
        "[]",
        "{}",
        "2030-01-01",
        "18446744073709551615",
        "9223372036854775807",
        "true",
        "\"h100\"",
    ];
    let lines: Vec<&str> = VALID.lines().collect();
    for i in 0..lines.len() {
        let mut dropped = lines.clone();
        dropped.remove(i);
        let _ = load_str(&dropped.join("\n"), "t.toml", None);
        if let Some((k, _)) = lines[i].split_once(" = ") {
            for v in odd {
                let mut changed = lines.clone();
                let line = format!("{k} = {v}");
                changed[i] = &line;
                let r = load_str(&changed.join("\n"), "t.toml", None);
                if let Err(e) = r {
                    // Every error but I/O is located.
                    assert!(e.location().is_some(), "{e}");
                }
            }
        }
    }
    for text in [
        "",
        "\u{feff}",
        "[",
        "name = \"x\"",
        "policy = 3",
        "policy = [1, 2]",
        "chips = []",
    ] {
        let _ = load_str(text, "t.toml", None);
    }
}

// ---------------------------------------------------------------------------------------------
// Uncertain inputs: figures given as distributions, drawn once per replication.

/// `VALID` with two uncertain figures: a chip's MFU (triangular) and a workload's checkpoint
/// interval (lognormal, a duration).
fn uncertain() -> String {
    with(
        "training_mfu = 0.4",
        "training_mfu = { triangular = [0.30, 0.35, 0.41] }",
    )
    .replacen(
        "checkpoint_hours = 1",
        "checkpoint_hours = { lognormal = { median = 1, p95 = 2 } }",
        1,
    )
}

const MFU: &str = "chips.h100.training_mfu";
const CHECKPOINT: &str = "firms.bytedance.workloads.pretraining.checkpoint_hours";

fn checkpoint_of(w: &model::World) -> SimDuration {
    match &w.firms[0].workloads[0].kind {
        WorkloadKind::Batch(b) => b.checkpoint,
        other => panic!("expected a batch workload, got {other:?}"),
    }
}

/// The draw of the figure at `path`, as the documented stream contract defines it.
fn contract_draw(q: &Quantity, seed: u64, replication: u64, path: &str) -> f64 {
    let key = crate::engine::rng::fnv1a64(format!("input:{path}").as_bytes());
    q.sample(&mut crate::engine::rng::stream_by_key(
        seed,
        replication,
        key,
    ))
}

#[test]
fn scenario_is_shareable_across_threads() {
    fn shareable<T: Clone + std::fmt::Debug + PartialEq + Send + Sync>() {}
    shareable::<Scenario>();
    shareable::<UncertainInput>();
}

#[test]
fn certain_scenario_has_no_inputs_and_world_for_is_the_world() {
    let s = load_str(VALID, "t.toml", None).unwrap();
    assert!(s.inputs.is_empty());
    let (w, draws) = s.world_for(7, 3).unwrap();
    assert_eq!(w, s.world);
    assert!(draws.is_empty());
    // The embedded baseline's unknowns are ranges: it has uncertain inputs, and its replications
    // draw different worlds.
    let b = baseline().unwrap();
    assert!(!b.inputs.is_empty());
    assert_ne!(b.world_for(7, 0).unwrap().0, b.world_for(7, 1).unwrap().0);
}

#[test]
fn nominal_world_uses_median_mode_and_midpoint() {
    let s = load_str(&uncertain(), "t.toml", None).expect("valid");
    let paths: Vec<&str> = s.inputs.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, [MFU, CHECKPOINT]);
    assert_eq!(
        s.inputs[0].quantity,
        Quantity::Triangular {
            low: 0.30,
            mode: 0.35,
            high: 0.41
        }
    );
    assert_eq!(
        s.inputs[1].quantity,
        Quantity::LogNormal {
            median: 1.0,
            p95: 2.0
        }
    );
    assert_eq!((s.inputs[0].nominal, s.inputs[1].nominal), (0.35, 1.0));
    assert_eq!(s.world.chips[0].training_mfu, 0.35);
    assert_eq!(checkpoint_of(&s.world), SimDuration::from_hours(1));

    // A uniform's nominal value is its midpoint.
    let text = with("pue = 1.3", "pue = { uniform = [1.2, 1.6] }");
    let s = load_str(&text, "t.toml", None).unwrap();
    assert_eq!(s.inputs.len(), 1);
    assert_eq!(s.inputs[0].path, "sites.cn-east.pue");
    assert!((s.world.sites[1].pue - 1.4).abs() < 1e-12);

    // size_flop keeps its per-job meaning: a distribution there is no uncertain input.
    assert!(load_str(VALID, "t.toml", None).unwrap().inputs.is_empty());
}

#[test]
fn world_for_draws_inside_the_support_per_replication() {
    let s = load_str(&uncertain(), "t.toml", None).unwrap();
    let mut mfus = Vec::new();
    for r in 0..200 {
        let (w, draws) = s.world_for(11, r).unwrap();
        let paths: Vec<&str> = draws.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, [MFU, CHECKPOINT]);
        let (mfu, hours) = (draws[0].1, draws[1].1);
        assert!((0.30..=0.41).contains(&mfu), "replication {r}: {mfu}");
        assert!(hours.is_finite() && hours > 0.0, "replication {r}: {hours}");
        // The world carries the draws.
        assert_eq!(w.chips[0].training_mfu, mfu);
        assert_eq!(
            checkpoint_of(&w),
            SimDuration::from_secs_f64(hours * 3_600.0).max(SimDuration(1))
        );
        // The draws follow the documented stream contract.
        assert_eq!(mfu, contract_draw(&s.inputs[0].quantity, 11, r, MFU));
        assert_eq!(
            hours,
            contract_draw(&s.inputs[1].quantity, 11, r, CHECKPOINT)
        );
        // Everything else is the nominal world.
        let mut back = w.clone();
        back.chips[0].training_mfu = 0.35;
        if let WorkloadKind::Batch(b) = &mut back.firms[0].workloads[0].kind {
            b.checkpoint = SimDuration::from_hours(1);
        }
        assert_eq!(back, s.world, "replication {r}");
        // Same (seed, replication), same world.
        assert_eq!(s.world_for(11, r).unwrap(), (w, draws.clone()));
        mfus.push(mfu);
    }
    // Different across replications and seeds.
    let mut distinct = mfus.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    assert_eq!(distinct.len(), 200);
    let other_seed: Vec<f64> = (0..200)
        .map(|r| s.world_for(12, r).unwrap().1[0].1)
        .collect();
    assert_ne!(mfus, other_seed);
    // The draws follow the distribution: mean of a triangular is (low + mode + high) / 3.
    let mean = mfus.iter().sum::<f64>() / 200.0;
    assert!((mean - 0.3533).abs() < 0.01, "mean MFU {mean}");
    // A clone shares the source and draws the same.
    assert_eq!(
        s.clone().world_for(11, 5).unwrap(),
        s.world_for(11, 5).unwrap()
    );
}

#[test]
fn each_uncertain_input_has_its_own_stream() {
    let a = load_str(&uncertain(), "t.toml", None).unwrap();
    // B's distribution changes ...
    let b = load_str(
        &uncertain().replacen("median = 1, p95 = 2", "median = 2, p95 = 5", 1),
        "t.toml",
        None,
    )
    .unwrap();
    // ... and a third uncertain figure appears, between the two in validation order.
    let c = load_str(
        &uncertain().replacen("pue = 1.4", "pue = { uniform = [1.2, 1.5] }", 1),
        "t.toml",
        None,
    )
    .unwrap();
    let paths: Vec<&str> = c.inputs.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, [MFU, "sites.johor.pue", CHECKPOINT]);
    for r in 0..200 {
        let (_, da) = a.world_for(3, r).unwrap();
        let (_, db) = b.world_for(3, r).unwrap();
        let (_, dc) = c.world_for(3, r).unwrap();
        assert_eq!(
            da[0], db[0],
            "replication {r}: A's draw moved with B's distribution"
        );
        assert_ne!(da[1], db[1]);
        assert_eq!(
            da[0], dc[0],
            "replication {r}: A's draw moved when a figure was added"
        );
        assert_eq!(
            da[1], dc[2],
            "replication {r}: B's draw moved when a figure was added"
        );
        assert!((1.2..=1.5).contains(&dc[1].1));
    }
}

/// Distributions that do not fit their figure: (case, text, `file:line:col`, path and message,
/// help phrase).
fn misfit_cases() -> Vec<Case> {
    vec![
        (
            "lognormal MFU",
            with(
                "training_mfu = 0.4",
                "training_mfu = { lognormal = { median = 0.35, p95 = 0.9 } }",
            ),
            "t.toml:14:30",
            "chips.h100.training_mfu.lognormal: lognormal with median 0.35 and p95 0.9 is too \
             wide: its draws reach from",
            "training_mfu takes a number in [0.01, 1], or { uniform = [low, high] } or \
             { triangular = [low, mode, high] } inside that range",
        ),
        (
            "triangular MFU above 1",
            with(
                "training_mfu = 0.4",
                "training_mfu = { triangular = [0.3, 0.35, 1.2] }",
            ),
            "t.toml:14:31",
            "chips.h100.training_mfu.triangular: triangular [0.3, 0.35, 1.2] can draw values up \
             to 1.2, but training_mfu must be a number in [0.01, 1]",
            "e.g. training_mfu = { triangular = [0.3, 0.35, 0.4] }",
        ),
        (
            "uniform MFU from 0",
            with(
                "training_mfu = 0.3",
                "training_mfu = { uniform = [0, 0.4] }",
            ),
            "t.toml:27:28",
            "chips.ascend.training_mfu.uniform: uniform [0, 0.4] can draw values down to 0",
            "inside that range",
        ),
        (
            "PUE below 1",
            with("pue = 1.3", "pue = { uniform = [0.9, 1.4] }"),
            "t.toml:50:19",
            "sites.cn-east.pue.uniform: uniform [0.9, 1.4] can draw values down to 0.9, but pue \
             must be a number in [1, 3]",
            "inside that range",
        ),
        (
            "lognormal PUE",
            with(
                "pue = 1.3",
                "pue = { lognormal = { median = 1.3, p95 = 1.5 } }",
            ),
            "t.toml:50:21",
            "sites.cn-east.pue.lognormal: lognormal with median 1.3 and p95 1.5 is too wide: its \
             draws reach from",
            "PUE is facility power over IT power",
        ),
        (
            "MTBF from 0",
            with(
                "mtbf_hours = 50000",
                "mtbf_hours = { triangular = [0, 40000, 60000] }",
            ),
            "t.toml:39:29",
            "sites.johor.mtbf_hours.triangular: triangular [0, 40000, 60000] can draw values \
             down to 0, but mtbf_hours must be a number in [1000, 1000000000]",
            "inside that range",
        ),
        (
            "lognormal too wide",
            with(
                "mtbf_hours = 50000",
                "mtbf_hours = { lognormal = { median = 50000, p95 = 1e300 } }",
            ),
            "t.toml:39:28",
            "sites.johor.mtbf_hours.lognormal: lognormal with median 50000 and p95 1e300 is too \
             wide: its draws reach from",
            "mean time between failures",
        ),
        (
            "peak hour reaching 24",
            with(
                "growth_per_year = 3",
                "growth_per_year = 3\npeak_hour = { uniform = [20, 24] }",
            ),
            "t.toml:75:25",
            "firms.bytedance.workloads.chat.peak_hour.uniform: uniform [20, 24] can draw values \
             up to 24, but peak_hour must be an hour in [0, 24)",
            "with high < 24",
        ),
        (
            "malformed triangular on a figure",
            with(
                "training_mfu = 0.4",
                "training_mfu = { triangular = [0.3, 0.35] }",
            ),
            "t.toml:14:31",
            "chips.h100.training_mfu.triangular: triangular needs [low, mode, high], found 2 \
             numbers",
            "e.g. training_mfu = { triangular = [0.3, 0.35, 0.4] }, with low <= mode <= high",
        ),
        (
            "lognormal p95 below median on a figure",
            with(
                "mtbf_hours = 50000",
                "mtbf_hours = { lognormal = { median = 50000, p95 = 100 } }",
            ),
            "t.toml:39:28",
            "sites.johor.mtbf_hours.lognormal: lognormal p95 must be >= median",
            "e.g. mtbf_hours = { lognormal = { median = 50000, p95 = 80000 } }, with 0 < median \
             <= p95",
        ),
        (
            "uniform in the wrong order on a policy figure",
            with(
                "fee_fraction = 0.15",
                "fee_fraction = { uniform = [0.2, 0.1] }",
            ),
            "t.toml:81:28",
            "policy.h20-licence.fee_fraction.uniform: uniform bounds must be finite, >= 0 and \
             low <= high",
            "e.g. fee_fraction = { uniform = [0.1, 0.25] }, with 0 <= low <= high",
        ),
        (
            "unknown distribution on a figure",
            with("pue = 1.3", "pue = { normal = [1.2, 1.4] }"),
            "t.toml:50:9",
            "sites.cn-east.pue.normal: unknown key 'normal'",
            "allowed keys here: lognormal, uniform, triangular",
        ),
    ]
}

#[test]
fn distributions_outside_a_figures_range_are_refused_at_load() {
    for (case, text, at, path, help) in misfit_cases() {
        let msg = err_of(load_str(&text, "t.toml", None));
        eprintln!("{case}:\n{msg}\n");
        let at = format!("{at}: ");
        assert_mentions(&msg, &[&at, path, "\n  help: ", help], case);
        assert!(!msg.contains("size_flop"), "case {case}: {msg}");
    }
}

#[test]
fn a_distribution_on_a_count_is_refused() {
    for (from, to, at, path) in [
        (
            "gang_chips = 512",
            "gang_chips = { uniform = [256, 512] }",
            "t.toml:65:14",
            "firms.bytedance.workloads.pretraining.gang_chips",
        ),
        (
            "chips = 500",
            "chips = { triangular = [400, 500, 600] }",
            "t.toml:41:81",
            "sites.johor.deliveries[1].chips",
        ),
    ] {
        let msg = err_of(load_str(&with(from, to), "t.toml", None));
        eprintln!("{msg}\n");
        let key = path.rsplit('.').next().unwrap();
        assert_mentions(
            &msg,
            &[
                &format!("{at}: {path}: {key} is a whole count and takes no distribution"),
                "help: write a whole number >= 0",
                "are the same in every replication",
            ],
            from,
        );
    }
}

#[test]
fn every_non_integer_figure_takes_a_distribution() {
    // Each figure of the format, written as a narrow uniform around a valid value.
    let text =
        format!(
        "{}\n[sites.extra]\njurisdiction = \"CN\"\noperator = \"domestic\"\nchip = \"ascend\"\n\
         pricing = \"owned\"\namortisation_years = {{ uniform = [3, 5] }}\n\
         electricity_usd_per_kwh = {{ uniform = [0.05, 0.1] }}\npue = {{ uniform = [1.1, 1.3] }}\n\
         mtbf_hours = {{ uniform = [20000, 40000] }}\nrepair_hours = {{ uniform = [24, 72] }}\n\
         power_cap_mw = {{ uniform = [50, 100] }}\n\
         supply = {{ chips_per_year = {{ uniform = [1000, 2000] }} }}\n\
         [[policy]]\nname = \"ban\"\nrule = \"lease_ban\"\nfirms_headquartered_in = \"CN\"\n\
         from = 2025-06-01\ngrace_days = {{ uniform = [30, 90] }}\n\
         [[policy]]\nname = \"permits\"\nrule = \"permit_delay\"\nthrough = \"MY\"\n\
         from = 2025-02-01\ndelay_days = {{ uniform = [10, 30] }}\n\
         [[policy]]\nname = \"mandate\"\nrule = \"domestic_mandate\"\n\
         firms_headquartered_in = \"CN\"\nfrom = 2025-02-01\n\
         inference_share = {{ uniform = [0.3, 0.6] }}\n\
         [[policy]]\nname = \"hbm\"\nrule = \"supply_shock\"\nchip = \"ascend\"\n\
         from = 2025-02-01\nfactor = {{ uniform = [0.3, 0.6] }}\n",
        VALID
            .replace("[sources]\n\"sites.cn-east.pue\" = \"Operator report\"\n", "")
            .replacen("bf16_dense_tflops = 989", "bf16_dense_tflops = { uniform = [900, 989] }", 1)
            .replacen("memory_gb = 80", "memory_gb = { uniform = [80, 96] }", 1)
            .replacen("board_power_w = 700", "board_power_w = { uniform = [650, 700] }", 1)
            .replacen("all_in_power_w = 1300", "all_in_power_w = { uniform = [1200, 1400] }", 1)
            .replacen(
                "inference_tokens_per_s = 2800",
                "inference_tokens_per_s = { uniform = [2500, 3000] }",
                1
            )
            .replacen("purchase_usd = 30000", "purchase_usd = { uniform = [25000, 35000] }", 1)
            .replacen(
                "lease_usd_per_chip_hour = 2.35",
                "lease_usd_per_chip_hour = { uniform = [2, 3] }",
                1
            )
            .replacen(
                "pricing = \"lease\"",
                "pricing = \"lease\"\nlease_usd_per_chip_hour = { uniform = [2.5, 3.5] }",
                1
            )
            .replacen(
                "{ every_days = 60 }",
                "{ every_days = { uniform = [50, 70] } }",
                1
            )
            .replacen("restart_hours = 0.5", "restart_hours = { uniform = [0.25, 1] }", 1)
            .replacen(
                "tokens_per_day = 1e12",
                "tokens_per_day = { lognormal = { median = 1e12, p95 = 3e12 } }\n\
                 daily_amplitude = { uniform = [0.2, 0.4] }\n\
                 peak_hour = { triangular = [12, 14, 16] }\n\
                 batch_hours = { uniform = [0.5, 2] }",
                1
            )
            .replacen("growth_per_year = 3", "growth_per_year = { uniform = [2, 4] }", 1)
            .replacen("fee_fraction = 0.15", "fee_fraction = { uniform = [0.1, 0.2] }", 1)
    );
    let s = load_str(&text, "t.toml", None).unwrap_or_else(|e| panic!("{e}"));
    let paths: Vec<&str> = s.inputs.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "chips.h100.bf16_dense_tflops",
            "chips.h100.memory_gb",
            "chips.h100.board_power_w",
            "chips.h100.all_in_power_w",
            "chips.h100.inference_tokens_per_s",
            "chips.h100.purchase_usd",
            "chips.h100.lease_usd_per_chip_hour",
            "sites.johor.lease_usd_per_chip_hour",
            "sites.extra.amortisation_years",
            "sites.extra.supply.chips_per_year",
            "sites.extra.power_cap_mw",
            "sites.extra.electricity_usd_per_kwh",
            "sites.extra.pue",
            "sites.extra.mtbf_hours",
            "sites.extra.repair_hours",
            "firms.bytedance.workloads.pretraining.arrivals.every_days",
            "firms.bytedance.workloads.pretraining.restart_hours",
            "firms.bytedance.workloads.chat.tokens_per_day",
            "firms.bytedance.workloads.chat.growth_per_year",
            "firms.bytedance.workloads.chat.daily_amplitude",
            "firms.bytedance.workloads.chat.peak_hour",
            "firms.bytedance.workloads.chat.batch_hours",
            "policy.h20-licence.fee_fraction",
            "policy.ban.grace_days",
            "policy.permits.delay_days",
            "policy.mandate.inference_share",
            "policy.hbm.factor",
        ]
    );
    for r in 0..20 {
        let (_, draws) = s.world_for(1, r).unwrap();
        assert_eq!(draws.len(), s.inputs.len());
    }
    // The other forms on a duration: mean_gap_days.
    let text = with(
        "{ every_days = 60 }",
        "{ mean_gap_days = { triangular = [20, 30, 50] } }",
    );
    let s = load_str(&text, "t.toml", None).unwrap();
    assert_eq!(
        s.inputs[0].path,
        "firms.bytedance.workloads.pretraining.arrivals.mean_gap_days"
    );
}

#[test]
fn uncertain_figures_in_an_extending_file() {
    let dir = temp_dir("uncertain-layers");
    write(&dir, "base.toml", VALID);
    let child = write(
        &dir,
        "child.toml",
        "extends = \"base.toml\"\nname = \"child\"\n\n[sites.johor]\n\
         pue = { triangular = [1.1, 1.2, 1.5] }\n",
    );
    let s = load_file(&child).unwrap();
    assert_eq!(s.inputs.len(), 1);
    assert_eq!(s.inputs[0].path, "sites.johor.pue");
    assert_eq!(s.world.sites[0].pue, 1.2);
    let (w, d) = s.world_for(5, 0).unwrap();
    assert_eq!(w.sites[0].pue, d[0].1);

    // A misfit in the child is located in the child.
    let bad = write(
        &dir,
        "bad.toml",
        "extends = \"base.toml\"\nname = \"bad\"\n\n[sites.johor]\n\
         pue = { triangular = [0.9, 1.2, 1.5] }\n",
    );
    let msg = err_of(load_file(&bad));
    assert_mentions(
        &msg,
        &[&format!(
            "{}:5:22: sites.johor.pue.triangular: triangular [0.9, 1.2, 1.5] can draw values down \
             to 0.9",
            dir.join("bad.toml").display()
        )],
        "child misfit",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn set_field_overrides_one_field_and_validates_again() {
    let base = load_str(VALID, "t.toml", None).unwrap();
    let mut s = base.clone();
    s.set_field(MFU, toml::Value::Float(0.5)).unwrap();
    assert_eq!(s.world.chips[0].training_mfu, 0.5);
    assert_ne!(s.content_hash, base.content_hash);
    assert_eq!(s.provenance, base.provenance);
    assert!(s.inputs.is_empty());
    // Nothing else moves.
    let mut back = s.world.clone();
    back.chips[0].training_mfu = 0.4;
    assert_eq!(back, base.world);

    // The same override gives the same hash; a second override changes it again.
    let mut again = base.clone();
    again.set_field(MFU, toml::Value::Float(0.5)).unwrap();
    assert_eq!(again.content_hash, s.content_hash);
    assert_eq!(again, s);

    // A date, a quoted entry name, a workload by name, a nested table, an optional key the file
    // leaves out, and a distribution (which becomes an uncertain input).
    let date: toml::value::Datetime = "2025-03-01".parse().unwrap();
    s.set_field("policy.h20-licence.from", toml::Value::Datetime(date))
        .unwrap();
    assert_eq!(s.world.timeline.policies[0].from, SimTime(59 * 86_400));
    assert_eq!(
        s.policy_dates[0].from,
        NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
    );
    s.set_field("sites.\"johor\".mtbf_hours", toml::Value::Integer(40_000))
        .unwrap();
    assert_eq!(s.world.sites[0].mtbf_hours, 40_000.0);
    s.set_field(
        "firms.bytedance.workloads.chat.tokens_per_day",
        toml::Value::Float(2e12),
    )
    .unwrap();
    s.set_field(
        "firms.bytedance.workloads.chat.daily_amplitude",
        toml::Value::Float(0.3),
    )
    .unwrap();
    match &s.world.firms[0].workloads[1].kind {
        WorkloadKind::Inference(i) => {
            assert_eq!((i.tokens_per_day, i.daily_amplitude), (2e12, 0.3));
        }
        other => panic!("expected inference, got {other:?}"),
    }
    s.set_field(
        "sites.cn-east.supply.chips_per_year",
        toml::Value::Integer(24_000),
    )
    .unwrap();
    assert_eq!(s.world.sites[1].supply.unwrap().chips_per_year, 24_000.0);
    let pue: toml::Value = toml::from_str::<toml::Table>("v = { uniform = [1.2, 1.4] }")
        .unwrap()
        .remove("v")
        .unwrap();
    s.set_field("sites.cn-east.pue", pue).unwrap();
    assert_eq!(s.inputs.len(), 1);
    assert_eq!(s.inputs[0].path, "sites.cn-east.pue");
    let (w, d) = s.world_for(1, 0).unwrap();
    assert_eq!(w.sites[1].pue, d[0].1);
    assert!((1.2..=1.4).contains(&d[0].1));
    // Earlier overrides hold in every replication's world.
    assert_eq!(w.sites[0].mtbf_hours, 40_000.0);
    assert_eq!(s.provenance, base.provenance);

    // Top-level keys.
    s.set_field("seed", toml::Value::Integer(99)).unwrap();
    assert_eq!(s.seed, 99);
}

#[test]
fn set_field_errors_name_the_path_and_leave_the_scenario_unchanged() {
    let base = load_str(VALID, "t.toml", None).unwrap();
    let cases: Vec<(&str, toml::Value, &[&str])> = vec![
        (
            "chips.h10.training_mfu",
            toml::Value::Float(0.5),
            &[
                "t.toml:7:2: chips.h10: unknown key 'h10'",
                "no chip 'h10' in chips; defined: ascend, h100; did you mean 'h100'?",
            ],
        ),
        (
            "chips.h100.training_muf",
            toml::Value::Float(0.5),
            &[
                "chips.h100.training_muf: unknown key 'training_muf'",
                "chips.h100 has all_in_power_w, bf16_dense_tflops",
                "did you mean 'training_mfu'?",
            ],
        ),
        (
            "policy.h20.from",
            toml::Value::Float(0.5),
            &["no policy 'h20' in policy; defined: h20-licence"],
        ),
        (
            "firms.bytedance.workloads.chatbot.tokens_per_day",
            toml::Value::Float(1.0),
            &["no workload 'chatbot' in firms.bytedance.workloads; defined: chat, pretraining"],
        ),
        (
            "sites.johor.supply.chips_per_year",
            toml::Value::Float(1.0),
            &["sites.johor has chip", "it also takes", "supply"],
        ),
        (
            "sites.johor.pue.low",
            toml::Value::Float(1.0),
            &["sites.johor.pue is a value, not a table"],
        ),
        (
            "chipz.h100.training_mfu",
            toml::Value::Float(1.0),
            &["the top level has chips", "did you mean 'chips'?"],
        ),
        (
            "chips..training_mfu",
            toml::Value::Float(1.0),
            &["chips..training_mfu: setting a field: cannot read the field path: empty key"],
        ),
        (
            MFU,
            toml::Value::Float(1.5),
            &[
                "t.toml:14:16: chips.h100.training_mfu: must be a number in [0.01, 1], found 1.5 \
                 (after setting chips.h100.training_mfu = 1.5)",
                "0.40 means 40%",
            ],
        ),
        (
            MFU,
            toml::Value::String("high".into()),
            &[
                "t.toml:14:16: chips.h100.training_mfu: wrong type",
                "(after setting chips.h100.training_mfu = \"high\")",
            ],
        ),
        (
            "sites.johor.pue",
            toml::from_str::<toml::Table>("v = { lognormal = { median = 1.3, p95 = 1.5 } }")
                .unwrap()
                .remove("v")
                .unwrap(),
            &["sites.johor.pue.lognormal: lognormal with median 1.3 and p95 1.5 is too wide"],
        ),
        (
            "firms.bytedance.workloads.pretraining.gang_chips",
            toml::Value::Float(1.5),
            &["firms.bytedance.workloads.pretraining.gang_chips: wrong type"],
        ),
    ];
    for (path, value, parts) in cases {
        let mut s = base.clone();
        let e = s.set_field(path, value).unwrap_err();
        let msg = e.to_string();
        eprintln!("{path}:\n{msg}\n");
        assert!(e.location().is_some(), "{msg}");
        assert_mentions(&msg, parts, path);
        assert_eq!(s, base, "{path}: the scenario changed on error");
    }
}

/// The 1-based line of `VALID`-like `text` where `needle` first appears.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("test bug: {needle:?} not in the text"))
        + 1
}

/// The errors of a failed load, as (line, path) in the order given.
fn lines_and_paths(e: &ScenarioError) -> Vec<(usize, String)> {
    let one = |e: &ScenarioError| {
        (
            e.location().map_or(0, |l| l.line),
            e.path().unwrap_or_default().to_string(),
        )
    };
    match e {
        ScenarioError::Several { errors } => errors.iter().map(one).collect(),
        e => vec![one(e)],
    }
}

#[test]
fn every_value_out_of_range_is_reported_at_once_in_file_order() {
    // Two in one chip, one in a site, one in a rule: each kind checked on past the others.
    let text = VALID
        .replacen("memory_gb = 80", "memory_gb = -80", 1)
        .replacen("training_mfu = 0.4", "training_mfu = 1.4", 1)
        .replacen("pue = 1.4", "pue = 0.5", 1)
        .replacen("fee_fraction = 0.15", "fee_fraction = -1", 1);
    let e = load_str(&text, "t.toml", None).unwrap_err();
    let got = lines_and_paths(&e);
    let want = vec![
        (
            line_of(&text, "memory_gb = -80"),
            "chips.h100.memory_gb".to_string(),
        ),
        (
            line_of(&text, "training_mfu = 1.4"),
            "chips.h100.training_mfu".to_string(),
        ),
        (line_of(&text, "pue = 0.5"), "sites.johor.pue".to_string()),
        (
            line_of(&text, "fee_fraction = -1"),
            "policy.h20-licence.fee_fraction".to_string(),
        ),
    ];
    assert_eq!(got, want, "{e}");
    let shown = e.to_string();
    assert!(shown.contains("(4 errors in all)"), "{shown}");
    // Fixing one leaves the others, and fixing all loads.
    let fixed = text.replacen("pue = 0.5", "pue = 1.4", 1);
    assert_eq!(
        lines_and_paths(&load_str(&fixed, "t.toml", None).unwrap_err()).len(),
        3
    );
    assert!(load_str(VALID, "t.toml", None).is_ok());
}

#[test]
fn every_type_error_is_reported_once_without_the_consequences_of_reading_on() {
    // A required figure of the wrong type (its table would then lack it: not reported), a figure
    // of another chip, a key misspelt (reported once, as unknown, not also as missing), and a
    // rule whose required date is text (the rule is taken out to read on: the rule after it is
    // still located in its own lines).
    let text = format!(
        "{}\n[[policy]]\nname = \"later\"\nrule = \"licence_fee\"\nchip = \"h100\"\nto = \"MY\"\n\
         fee_fraction = \"high\"\nfrom = 2025-06-01\nsource = \"test\"\n",
        VALID
            .replacen("memory_gb = 80", "memory_gb = \"eighty\"", 1)
            .replacen("bf16_dense_tflops = 750", "bf16_dense_tflops = \"lots\"", 1)
            .replacen("pue = 1.3", "pues = 1.3", 1)
            .replacen("from = 2024-06-01", "from = \"soon\"", 1)
    );
    let e = load_str(&text, "t.toml", None).unwrap_err();
    let got = lines_and_paths(&e);
    let want = vec![
        (
            line_of(&text, "memory_gb = \"eighty\""),
            "chips.h100.memory_gb".to_string(),
        ),
        (
            line_of(&text, "bf16_dense_tflops = \"lots\""),
            "chips.ascend.bf16_dense_tflops".to_string(),
        ),
        (
            line_of(&text, "pues = 1.3"),
            "sites.cn-east.pues".to_string(),
        ),
        (
            line_of(&text, "from = \"soon\""),
            "policy.h20-licence.from".to_string(),
        ),
        (
            line_of(&text, "fee_fraction = \"high\""),
            "policy.later.fee_fraction".to_string(),
        ),
    ];
    assert_eq!(got, want, "{e}");
    assert!(!e.to_string().contains("missing"), "{e}");
}

#[test]
fn a_rule_key_misspelt_is_reported_once_as_unknown_not_also_as_missing() {
    // The rule's required key is misspelt: one error, at the misspelling, with what it may mean;
    // the rest of the file is still checked (the wrong pue).
    let text = VALID
        .replacen("fee_fraction = 0.15", "fee_fracton = 0.15", 1)
        .replacen("pue = 1.4", "pue = 0.5", 1);
    let e = load_str(&text, "t.toml", None).unwrap_err();
    let got = lines_and_paths(&e);
    let want = vec![
        (line_of(&text, "pue = 0.5"), "sites.johor.pue".to_string()),
        (
            line_of(&text, "fee_fracton = 0.15"),
            "policy.h20-licence.fee_fracton".to_string(),
        ),
    ];
    assert_eq!(got, want, "{e}");
    assert!(e.to_string().contains("did you mean 'fee_fraction'"), "{e}");
    assert!(!e.to_string().contains("needs"), "{e}");
    // Taken out altogether, it is reported as missing, at the rule.
    let text = VALID.replacen("fee_fraction = 0.15\n", "", 1);
    let e = load_str(&text, "t.toml", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("rule 'licence_fee' needs 'fee_fraction'"),
        "{e}"
    );
}

#[test]
fn unknown_keys_and_wrong_values_are_reported_together() {
    // An unknown key is never read: the rest of the file is checked too. A value of the wrong type
    // is not (its default would stand in for it), so its file's values wait until it is fixed.
    let text = VALID
        .replacen("training_mfu = 0.4", "training_mfu = 1.4\nmfu_note = 1", 1)
        .replacen("pue = 1.4", "pue = 0.5", 1);
    let e = load_str(&text, "t.toml", None).unwrap_err();
    let got = lines_and_paths(&e);
    let want = vec![
        (
            line_of(&text, "training_mfu = 1.4"),
            "chips.h100.training_mfu".to_string(),
        ),
        (
            line_of(&text, "mfu_note = 1"),
            "chips.h100.mfu_note".to_string(),
        ),
        (line_of(&text, "pue = 0.5"), "sites.johor.pue".to_string()),
    ];
    assert_eq!(got, want, "{e}");
    let typed = text.replacen("memory_gb = 80", "memory_gb = \"eighty\"", 1);
    let e = load_str(&typed, "t.toml", None).unwrap_err();
    let paths: Vec<String> = lines_and_paths(&e).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        paths,
        ["chips.h100.memory_gb", "chips.h100.mfu_note"],
        "{e}"
    );
}
