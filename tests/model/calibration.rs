//! Calibration against published training runs: the Llama 3 paper (Llama 3.1 405B on 16,384 H100)
//! and the DeepSeek-V3 technical report (2,048 H800).

use crate::support::{load, run, H100};

/// One site, one firm, one training job of `size_flop` on `gang` chips at `t = 10 days`.
/// The MTBF comes from Llama 3: 419 unexpected interruptions in 54 days on 16,384 GPUs gives a
/// per-GPU MTBF of 16,384 x 54 x 24 / 419 = 50,680 hours.
fn one_run(chip: &str, chip_name: &str, chips: u64, gang: u64, size_flop: f64) -> String {
    format!(
        r#"
name = "calibration"
description = "one published training run"
start_date = 2024-01-01
end_date = 2024-12-31
seed = 3
{chip}
[sites.cluster]
jurisdiction = "US"
operator = "domestic"
chip = "{chip_name}"
pricing = "lease"
electricity_usd_per_kwh = 0.08
pue = 1.2
mtbf_hours = 50680
repair_hours = 24
initial_chips = {chips}

[firms.lab]
headquarters = "US"
sites = ["cluster"]
placement = "cheapest"

[[firms.lab.workloads]]
name = "pretraining"
kind = "training"
arrivals = {{ dates = [2024-01-11] }}
size_flop = {size_flop:e}
gang_chips = {gang}
# Llama 3 reports > 90% effective training time with frequent checkpoints and fast restarts:
# 20-minute checkpoints (10 minutes lost on average) and 12-minute restarts.
checkpoint_hours = 0.333
restart_hours = 0.2
"#
    )
}

#[test]
fn llama_3_405b_interruptions_and_gpu_hours_match_the_paper() {
    // 3.8e25 FLOP: 6 x 405e9 parameters x 15.6e12 tokens (Llama 3 paper); 16,384 H100 at MFU 0.40,
    // with 256 spares for chips in repair.
    let sc = load(&one_run(H100, "h100", 16_384 + 256, 16_384, 3.8e25));
    let r = run(&sc, 4);
    for m in &r.runs {
        assert_eq!(m.jobs.completed, 1, "{:?}", m.jobs);
        let gpu_hours: f64 = m.firm[0].iter().map(|p| p.chip_hours_home).sum();
        let failures: u64 = m.site[0].iter().map(|p| p.failures).sum();
        let days = m.site[0]
            .iter()
            .find_map(|p| p.completion_hours.mean())
            .expect("the job completed")
            / 24.0;
        // Completion time from arrival equals run time: the cluster is idle when the job arrives.
        let per_54_days = failures as f64 / (days / 54.0);
        assert!(
            (per_54_days / 419.0 - 1.0).abs() < 0.20,
            "replication {}: {per_54_days:.0} interruptions per 54 days (paper: 419 +/- 20%); \
             {failures} failures over {days:.1} days",
            m.replication
        );
        assert!(
            (gpu_hours / 30.8e6 - 1.0).abs() < 0.15,
            "replication {}: {:.2} M GPU-hours (paper: 30.8 M +/- 15%)",
            m.replication,
            gpu_hours / 1e6
        );
    }
}

#[test]
fn deepseek_v3_gpu_hours_match_the_report() {
    // H800: same compute as the H100 (989 TFLOP/s dense BF16), cut NVLink; DeepSeek-V3 report
    // (Dec 2024): 2,048 H800, 2.664 M GPU-hours for pre-training; 3.3e24 FLOP = 6 x 37e9 active
    // parameters x 14.8e12 tokens; MFU 0.35 is what those figures imply.
    let h800 = H100
        .replace("[chips.h100]", "[chips.h800]")
        .replace("training_mfu = 0.40", "training_mfu = 0.35");
    let sc = load(&one_run(&h800, "h800", 2_048 + 32, 2_048, 3.3e24));
    let r = run(&sc, 4);
    for m in &r.runs {
        assert_eq!(m.jobs.completed, 1, "{:?}", m.jobs);
        let gpu_hours: f64 = m.firm[0].iter().map(|p| p.chip_hours_home).sum();
        assert!(
            (gpu_hours / 2.664e6 - 1.0).abs() < 0.10,
            "replication {}: {:.3} M GPU-hours (report: 2.664 M +/- 10%)",
            m.replication,
            gpu_hours / 1e6
        );
    }
}

#[test]
fn a_broken_failure_model_would_fail_calibration() {
    // The same Llama run with ten times the failure rate must leave the paper's band: the check above
    // is sensitive to the failure model, not satisfied by construction.
    let toml = one_run(H100, "h100", 16_384 + 256, 16_384, 3.8e25)
        .replace("mtbf_hours = 50680", "mtbf_hours = 5068");
    let r = run(&load(&toml), 1);
    let m = &r.runs[0];
    let failures: u64 = m.site[0].iter().map(|p| p.failures).sum();
    let days = m.site[0]
        .iter()
        .find_map(|p| p.completion_hours.mean())
        .unwrap()
        / 24.0;
    assert!(failures as f64 / (days / 54.0) > 419.0 * 1.2);
}
