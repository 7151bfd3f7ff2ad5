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
