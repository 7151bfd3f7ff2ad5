//! Unit tests of the replication template: drawing onto the validated nominal world gives the very
//! world (and draws) that validating the whole scenario around the draws gives.

use super::*;

/// A scenario in which every figure that may be uncertain is, including a site whose lease price
/// follows its chip's and durations that can draw below one second.
const EVERY_FIGURE: &str = r#"name = "all-uncertain"
description = "every figure a distribution"
start_date = 2025-01-01
end_date = 2026-12-31
seed = 3

[chips.h100]
vendor = "nvidia"
vendor_country = "US"
bf16_dense_tflops = { lognormal = { median = 989, p95 = 1100 } }
memory_gb = { uniform = [64, 96] }
board_power_w = { triangular = [600, 700, 800] }
all_in_power_w = { uniform = [1200, 1400] }
training_mfu = { triangular = [0.30, 0.35, 0.41] }
inference_tokens_per_s = { lognormal = { median = 2800, p95 = 3500 } }
purchase_usd = { uniform = [25000, 35000] }
lease_usd_per_chip_hour = { triangular = [1.8, 2.2, 3.0] }

[sites.johor]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "lease"
electricity_usd_per_kwh = { uniform = [0.08, 0.12] }
pue = { uniform = [1.2, 1.4] }
mtbf_hours = { lognormal = { median = 50000, p95 = 80000 } }
repair_hours = { triangular = [24, 48, 72] }
power_cap_mw = { uniform = [50, 150] }
initial_chips = 1000

[sites.sg]
jurisdiction = "SG"
operator = "foreign"
chip = "h100"
pricing = "lease"
lease_usd_per_chip_hour = { uniform = [2.0, 2.5] }
electricity_usd_per_kwh = 0.1
pue = 1.3
mtbf_hours = 50000
repair_hours = 48
initial_chips = 500

[sites.home]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
amortisation_years = { uniform = [3, 5] }
electricity_usd_per_kwh = 0.07
pue = 1.3
mtbf_hours = 50000
repair_hours = 48
supply = { chips_per_year = { lognormal = { median = 12000, p95 = 16000 } } }

[firms.acme]
headquarters = "CN"
sites = ["johor", "sg", "home"]
placement = "cheapest"

[[firms.acme.workloads]]
name = "pretraining"
kind = "training"
arrivals = { every_days = { triangular = [45, 60, 90] } }
size_flop = { lognormal = { median = 5e24, p95 = 1.5e25 } }
gang_chips = 512
checkpoint_hours = { lognormal = { median = 0.01, p95 = 0.05 } }
restart_hours = { uniform = [0, 1] }

[[firms.acme.workloads]]
name = "tuning"
kind = "fine_tuning"
arrivals = { mean_gap_days = { uniform = [20, 40] } }
size_flop = 1e21
gang_chips = 8
checkpoint_hours = 1
restart_hours = 0.5

[[firms.acme.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = { lognormal = { median = 1e12, p95 = 2e12 } }
growth_per_year = { uniform = [1.5, 4] }
daily_amplitude = { uniform = [0.1, 0.5] }
peak_hour = { triangular = [12, 14, 16] }
batch_hours = { uniform = [0.5, 2] }

[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "MY"
fee_fraction = { uniform = [0.1, 0.25] }
from = 2025-06-01

[[policy]]
name = "off"
rule = "data_residency"
data_class = "x"
from = 2025-01-01
enabled = false

[[policy]]
name = "ban"
rule = "lease_ban"
firms_headquartered_in = "CN"
grace_days = { triangular = [30, 90, 180] }
from = 2026-01-01

[[policy]]
name = "permits"
rule = "permit_delay"
through = "MY"
delay_days = { uniform = [15, 60] }
from = 2025-01-01

[[policy]]
name = "mandate"
rule = "domestic_mandate"
firms_headquartered_in = "CN"
inference_share = { uniform = [0.2, 0.6] }
from = 2025-01-01

[[policy]]
name = "hbm"
rule = "supply_shock"
chip = "h100"
factor = { uniform = [0.3, 0.8] }
from = 2026-01-01
"#;

/// The reference: the whole scenario validated around one replication's draws.
fn revalidated(s: &Scenario, seed: u64, replication: u64) -> (model::World, Vec<(String, f64)>) {
    let src = &*s.source.0;
    let locator = src.locator();
    let raw: raw::RawScenario = serde_path_to_error::deserialize(src.merged.clone()).unwrap();
    let mode = validate::Mode::Sample { seed, replication };
    let v = validate::validate(&raw, mode, &|p| locator.display(p))
        .unwrap_or_else(|i| panic!("{}: {}", locator.display(&i[0].path), i[0].message));
    (v.world, v.draws)
}

#[test]
fn the_template_draws_the_world_that_validating_again_would_build() {
    let s = load_str(EVERY_FIGURE, "all.toml", None).unwrap_or_else(|e| panic!("{e}"));
    // Every figure that may be a distribution is one here (the disabled policy's none).
    assert_eq!(s.inputs.len(), 30, "{:#?}", s.inputs);
    for seed in [1, 20250101] {
        for r in 0..50 {
            let (world, draws) = s.world_for(seed, r).unwrap();
            let (reference, reference_draws) = revalidated(&s, seed, r);
            assert_eq!(draws, reference_draws, "seed {seed}, replication {r}");
            assert_eq!(world, reference, "seed {seed}, replication {r}");
        }
    }
    // The site without a price of its own follows its chip's draw; the other keeps its own.
    let (w, draws) = s.world_for(1, 0).unwrap();
    let chip_lease = draws
        .iter()
        .find(|(p, _)| p == "chips.h100.lease_usd_per_chip_hour")
        .unwrap()
        .1;
    assert_eq!(
        w.sites[0].pricing,
        model::Pricing::Lease {
            usd_per_chip_hour: chip_lease,
            on_demand_premium: 0.0,
        }
    );
    assert_ne!(
        w.sites[1].pricing,
        model::Pricing::Lease {
            usd_per_chip_hour: chip_lease,
            on_demand_premium: 0.0,
        }
    );
}

#[test]
fn a_template_world_for_a_set_field_follows_the_override() {
    let mut s = load_str(EVERY_FIGURE, "all.toml", None).unwrap();
    s.set_field("chips.h100.training_mfu", toml::Value::Float(0.5))
        .unwrap();
    assert_eq!(s.inputs.len(), 29);
    let (w, draws) = s.world_for(1, 0).unwrap();
    assert_eq!(w.chips[0].training_mfu, 0.5);
    assert!(draws.iter().all(|(p, _)| p != "chips.h100.training_mfu"));
    assert_eq!((w, draws), revalidated(&s, 1, 0));
}

#[test]
fn a_drawn_value_out_of_range_is_a_clear_error_not_a_panic() {
    let slot = template::Slot {
        figure: template::Figure::Chip(0, template::ChipFigure::TrainingMfu),
        path: vec![
            locate::key("chips"),
            locate::key("h100"),
            locate::key("training_mfu"),
        ],
        bound: validate::Bound::Fraction,
        conversion: template::Conversion::Number,
        help: "model-FLOPs utilisation".into(),
        followers: Vec::new(),
    };
    assert_eq!(
        validate::drawn(0.4, &slot).unwrap(),
        template::Value::Number(0.4)
    );
    let issue = validate::drawn(1.5, &slot).unwrap_err();
    assert_eq!(
        issue.message,
        "drawn value out of range: must be a number in [0, 1], found 1.5"
    );
    // A drawn duration below one second counts as one second.
    let short = template::Slot {
        bound: validate::Bound::Fraction,
        conversion: template::Conversion::Duration(3_600.0),
        ..slot
    };
    assert_eq!(
        validate::drawn(1e-9, &short).unwrap(),
        template::Value::Duration(crate::engine::SimDuration(1))
    );
}

/// Three firms that split one demand path (`[firms.<name>.demand]`), two shares drawn, one fixed.
const SPLIT: &str = r#"name = "split"
description = "three firms split one demand path"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 3

[chips.h100]
vendor = "nvidia"
vendor_country = "US"
bf16_dense_tflops = 989
memory_gb = 80
board_power_w = 700
all_in_power_w = 1300
training_mfu = 0.35
inference_tokens_per_s = 2800
purchase_usd = 30000
lease_usd_per_chip_hour = 2.2

[sites.home]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
amortisation_years = 4
electricity_usd_per_kwh = 0.07
pue = 1.3
mtbf_hours = 50000
repair_hours = 48
initial_chips = 1000

[firms.a]
headquarters = "CN"
sites = ["home"]
placement = "cheapest"

[firms.a.demand]
group = "rest"
written_at = 0.6
share = { triangular = [0.3, 0.6, 0.8] }

[[firms.a.workloads]]
name = "chat-2025h1"
kind = "inference"
tokens_per_day = 6e11
growth_per_year = 2
end_date = 2025-06-30

[[firms.a.workloads]]
name = "chat-2025h2"
kind = "inference"
tokens_per_day = { uniform = [8e11, 9e11] }
growth_per_year = 2
start_date = 2025-07-01

[[firms.a.workloads]]
name = "tuning"
kind = "fine_tuning"
arrivals = { every_days = 30 }
size_flop = 1e21
gang_chips = 8
checkpoint_hours = 1
restart_hours = 0.5

[firms.b]
headquarters = "CN"
sites = ["home"]
placement = "cheapest"

[firms.b.demand]
group = "rest"
written_at = 0.3
share = { uniform = [0.1, 0.5] }

[[firms.b.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 3e11
growth_per_year = 2

[firms.c]
headquarters = "CN"
sites = ["home"]
placement = "cheapest"

[firms.c.demand]
group = "rest"
written_at = 0.1
share = 0.1

[[firms.c.workloads]]
name = "chat"
kind = "inference"
tokens_per_day = 1e11
growth_per_year = 2
"#;

/// `(firm, workload) -> tokens_per_day` of every inference workload in `w`.
fn inference_tokens(w: &model::World) -> Vec<f64> {
    w.firms
        .iter()
        .flat_map(|f| &f.workloads)
        .filter_map(|w| match &w.kind {
            model::WorkloadKind::Inference(i) => Some(i.tokens_per_day),
            model::WorkloadKind::Batch(_) => None,
        })
        .collect()
}

#[test]
fn firms_that_split_a_demand_path_draw_their_shares_and_keep_the_group_total() {
    let s = load_str(SPLIT, "split.toml", None).unwrap_or_else(|e| panic!("{e}"));
    let paths: Vec<&str> = s.inputs.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "firms.a.workloads.chat-2025h2.tokens_per_day",
            "firms.a.demand.share",
            "firms.b.demand.share"
        ]
    );
    // The nominal world is the file as written, up to the rounding of the uniform's midpoint
    // (0.1 + 0.4 / 2 is a hair above b's written_at, 0.3).
    for (g, x) in inference_tokens(&s.world)
        .iter()
        .zip([6e11, 8.5e11, 3e11, 1e11])
    {
        assert!((g / x - 1.0).abs() < 1e-12, "{g} against {x}");
    }
    let mut seen_a = Vec::new();
    for r in 0..40 {
        let (w, draws) = s.world_for(7, r).unwrap();
        assert_eq!(
            (w.clone(), draws.clone()),
            revalidated(&s, 7, r),
            "replication {r}"
        );
        let drawn = |p: &str| draws.iter().find(|(q, _)| q == p).unwrap().1;
        let (sa, sb, sc) = (
            drawn("firms.a.demand.share"),
            drawn("firms.b.demand.share"),
            0.1,
        );
        let h2 = drawn("firms.a.workloads.chat-2025h2.tokens_per_day");
        // Each firm's segments scale by its share over the share they are written at,
        // renormalised over the group.
        let norm = 1.0 / (sa + sb + sc);
        let want = [
            6e11 * sa / 0.6 * norm,
            h2 * sa / 0.6 * norm,
            3e11 * sb / 0.3 * norm,
            1e11 * sc / 0.1 * norm,
        ];
        let got = inference_tokens(&w);
        for (g, x) in got.iter().zip(want) {
            assert!(
                (g / x - 1.0).abs() < 1e-12,
                "replication {r}: {got:?} against {want:?}"
            );
        }
        // What the replication ran with (draws.csv's `in_run`): a draw as drawn, a share
        // renormalised over the group, which is what its segments are scaled to.
        let in_run = s.in_run(&draws);
        assert_eq!(in_run[0], h2);
        for (i, (share, tokens, written)) in [(1, (sa, got[0], 6e11)), (2, (sb, got[2], 3e11))] {
            assert!(
                (in_run[i] / (share * norm) - 1.0).abs() < 1e-12,
                "replication {r}"
            );
            let written_at = [0.6, 0.3][i - 1];
            assert!(
                (tokens / (written / written_at * in_run[i]) - 1.0).abs() < 1e-12,
                "replication {r}: share {} in the run, tokens {tokens}",
                in_run[i]
            );
        }
        assert!((in_run[1] + in_run[2] + sc * norm - 1.0).abs() < 1e-12);
        // The group's path (its first half-year, where each firm is its nominal share of it) is
        // as written in every replication; only its split moves.
        let total = got[0] + got[2] + got[3];
        assert!(
            (total / 1e12 - 1.0).abs() < 1e-12,
            "replication {r}: total {total}"
        );
        // A firm with a fixed share still moves: the others' draws renormalise it.
        assert_ne!(got[3], 1e11);
        seen_a.push(got[0]);
    }
    seen_a.sort_by(f64::total_cmp);
    assert!(
        seen_a[39] > 1.3 * seen_a[0],
        "firm a's demand barely varies: {seen_a:?}"
    );
    // Fixed shares at what the segments are written at split nothing: the file as written.
    let fixed = SPLIT
        .replace("{ triangular = [0.3, 0.6, 0.8] }", "0.6")
        .replace("{ uniform = [0.1, 0.5] }", "0.3");
    let s = load_str(&fixed, "split.toml", None).unwrap();
    let (w, draws) = s.world_for(7, 3).unwrap();
    let h2 = draws
        .iter()
        .find(|(p, _)| p.ends_with("tokens_per_day"))
        .unwrap()
        .1;
    assert_eq!(inference_tokens(&w), [6e11, h2, 3e11, 1e11]);
    assert_eq!(
        s.in_run(&draws),
        draws.iter().map(|d| d.1).collect::<Vec<_>>()
    );
    // One share set on its own (as `--set` or a sweep point would) moves the split, and the
    // group's path stays as written: b at 0.5 of (0.6 + 0.5 + 0.1).
    let mut s = load_str(&fixed, "split.toml", None).unwrap();
    s.set_field("firms.b.demand.share", toml::Value::Float(0.5))
        .unwrap_or_else(|e| panic!("{e}"));
    let got = inference_tokens(&s.world);
    let want = [
        6e11 / 1.2,
        8.5e11 / 1.2,
        3e11 * (0.5 / 0.3) / 1.2,
        1e11 / 1.2,
    ];
    for (g, x) in got.iter().zip(want) {
        assert!((g / x - 1.0).abs() < 1e-12, "{got:?} against {want:?}");
    }
    assert!(((got[0] + got[2] + got[3]) / 1e12 - 1.0).abs() < 1e-12);
    assert_eq!(s.world_for(7, 3).unwrap(), revalidated(&s, 7, 3));
}

#[test]
fn a_demand_split_that_cannot_hold_is_refused_with_its_location_and_fix() {
    // Cases: the text, the line its error is at (the first that starts so) and column, message
    // and help.
    let cases: [(String, &str, usize, &str, &str); 5] = [
        (
            SPLIT.replace("written_at = 0.1", "written_at = 0.2"),
            "written_at = 0.2",
            14,
            "firms.c.demand.written_at: the written_at of demand group 'rest' sum to 1.1, not 1 \
             (a 0.6, b 0.3, c 0.2)",
            "each firm's inference segments are written at its share of it, so these shares sum to 1",
        ),
        (
            SPLIT.replace(
                "group = \"rest\"\nwritten_at = 0.3",
                "group = \"Rest\"\nwritten_at = 0.3",
            ),
            "written_at = 0.3",
            14,
            "firms.b.demand.written_at: the demand group 'Rest' has only one firm; did you mean \
             'rest'?",
            "give another firm the same group, or remove demand",
        ),
        (
            SPLIT.replace(
                "name = \"chat\"\nkind = \"inference\"\ntokens_per_day = 1e11\ngrowth_per_year = 2",
                "name = \"chat\"\nkind = \"fine_tuning\"\narrivals = { every_days = 30 }\nsize_flop = 1e21\ngang_chips = 8\ncheckpoint_hours = 1\nrestart_hours = 0.5",
            ),
            "[firms.c.demand]",
            10,
            "firm 'c' has a demand share but no inference workload for it to scale",
            "add them, or remove demand",
        ),
        (
            SPLIT.replace("share = 0.1", "share = 1.5"),
            "share = 1.5",
            9,
            "firms.c.demand.share: must be a number in [0, 1], found 1.5",
            "the firm's share of its group's demand path",
        ),
        (
            SPLIT.replace("written_at = 0.1", "written_at = 0"),
            "written_at = 0",
            14,
            "firms.c.demand.written_at: written_at is 0",
            "give the share they are written at, above 0",
        ),
    ];
    for (text, line, column, message, help) in cases {
        let e = load_str(&text, "split.toml", None)
            .expect_err(message)
            .to_string();
        let n = 1 + text.lines().position(|l| l == line).unwrap();
        let at = format!("split.toml:{n}:{column}:");
        assert!(e.contains(&at), "{e}\n(expected at {at})");
        assert!(e.contains(message), "{e}\n(expected {message})");
        assert!(e.contains(help), "{e}\n(expected {help})");
    }
}
