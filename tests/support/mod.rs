//! Helpers shared by every layer's tests: scratch folders, the `capsim` binary, loading and running
//! scenarios, reading results by name, and the [`WorldBuilder`] that writes small test worlds.

pub mod world;

pub use world::{Chip, WorldBuilder, ASCEND_910C, H100};

use capsim::experiment::{self, RunOptions, RunResult};
use capsim::metrics::PeriodKind;
use capsim::scenario::{self, Scenario};

/// A fresh, empty scratch folder for one test.
pub fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("capsim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the `capsim` binary: (exit code, stdout, stderr).
pub fn capsim<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads a scenario written inline in a test.
pub fn load(toml: &str) -> Scenario {
    scenario::load_str(toml, "test.toml", None).unwrap_or_else(|e| panic!("test scenario: {e}"))
}

/// Runs `replications` replications of a scenario, reported by month.
pub fn run(sc: &Scenario, replications: u64) -> RunResult {
    run_by(sc, replications, PeriodKind::Month)
}

/// Runs `replications` replications of a scenario, reported by `period`.
pub fn run_by(sc: &Scenario, replications: u64, period: PeriodKind) -> RunResult {
    experiment::execute(
        sc,
        RunOptions {
            seed: sc.seed,
            replications,
            period,
            threads: None,
        },
    )
    .unwrap_or_else(|e| panic!("run of '{}' failed: {e}", sc.name))
}

/// Index of the site called `name` (the `s` of `result.runs[r].site[s][p]`).
pub fn site_index(sc: &Scenario, name: &str) -> usize {
    sc.world
        .sites
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no site '{name}' in '{}'", sc.name))
}

/// Index of the firm called `name` (the `f` of `result.runs[r].firm[f][p]`).
pub fn firm_index(sc: &Scenario, name: &str) -> usize {
    sc.world
        .firms
        .iter()
        .position(|f| f.name == name)
        .unwrap_or_else(|| panic!("no firm '{name}' in '{}'", sc.name))
}

/// Sum of one figure over periods.
pub fn total<T>(rows: &[T], f: impl Fn(&T) -> f64) -> f64 {
    rows.iter().map(f).sum()
}

/// The H100 chip entry of [`two_sites`] (the builder's [`H100`] as TOML text).
pub const H100_TOML: &str = r#"
[chips.h100]
vendor = "nvidia"
vendor_country = "US"
bf16_dense_tflops = 989
memory_gb = 80
board_power_w = 700
all_in_power_w = 1300
training_mfu = 0.40
inference_tokens_per_s = 2800
purchase_usd = 25000
lease_usd_per_chip_hour = 2.35
"#;

/// A small two-site world: a foreign leased H100 site in Malaysia (0.5 USD per chip-hour, cheaper than
/// the home site's amortised capex plus electricity, about 0.83) and a domestic owned H100 stockpile
/// in China; one Chinese firm that may use both, preferring the cheapest.
/// `{policies}` and `{workloads}` are filled in by each test.
pub fn two_sites(policies: &str, workloads: &str) -> String {
    format!(
        r#"
name = "two-sites"
description = "test world"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 7
{H100_TOML}
[sites.johor]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "lease"
lease_usd_per_chip_hour = 0.5
electricity_usd_per_kwh = 0.10
pue = 1.4
mtbf_hours = 1e9
repair_hours = 24
deliveries = [{{ date = 2025-01-01, chips = 4096 }}]

[sites.home]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
electricity_usd_per_kwh = 0.07
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24
initial_chips = 4096

[firms.acme]
headquarters = "CN"
sites = ["johor", "home"]
placement = "cheapest"
{workloads}
{policies}
"#
    )
}

/// Writes `dir/tiny.toml`: the two-site world with one fine-tuning workload (a job every
/// `mean_gap_days` on average) and a lease ban from 2025-09-01, with chip failures at
/// `mtbf_hours` per chip (`None`: none). Returns its path. Quick to run: for CLI and sweep tests.
pub fn tiny_world(dir: &std::path::Path, mean_gap_days: u32, mtbf_hours: Option<u32>) -> String {
    let workloads = format!(
        r#"
[[firms.acme.workloads]]
name = "tuning"
kind = "fine_tuning"
arrivals = {{ mean_gap_days = {mean_gap_days} }}
size_flop = {{ lognormal = {{ median = 2e22, p95 = 8e22 }} }}
gang_chips = 1024
checkpoint_hours = 1
restart_hours = 0.2
"#
    );
    let policy = r#"
[[policy]]
name = "lease-ban"
rule = "lease_ban"
firms_headquartered_in = "CN"
grace_days = 30
from = 2025-09-01
"#;
    let mut text = two_sites(policy, &workloads);
    if let Some(h) = mtbf_hours {
        text = text.replace("mtbf_hours = 1e9", &format!("mtbf_hours = {h}"));
    }
    let path = dir.join("tiny.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}
