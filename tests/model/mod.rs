//! The world model checked end to end through the public API: shipped scenarios, policy behaviour,
//! calibration against published training runs, determinism, and the command line.

mod calibration;
mod cli;
mod determinism;
mod points;
mod policies;
mod report;
mod scenario_checks;
mod shipped;
mod sweep;

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
    experiment::execute(
        sc,
        RunOptions {
            seed: sc.seed,
            replications,
            period: PeriodKind::Month,
            threads: None,
        },
    )
    .unwrap_or_else(|e| panic!("run of '{}' failed: {e}", sc.name))
}

/// One H100 chip entry, with figures from the Nvidia datasheet and the Llama 3 paper.
pub const H100: &str = r#"
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
{H100}
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
