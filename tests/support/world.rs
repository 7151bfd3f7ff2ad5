//! `WorldBuilder`: small test worlds written as scenario TOML and loaded through the real loader.
//!
//! A test says only what matters to it; everything else gets a quiet default (one firm-free world
//! over 2025, owned sites in China, no chip failures). The builder writes TOML text and loads it
//! with `capsim::scenario::load_str`, so every test world goes through the same parsing and
//! validation as a user's file, and a builder mistake is a located loader error, not a panic here.
//!
//! ```ignore
//! let sc = WorldBuilder::new()
//!     .horizon("2025-01-01", "2025-03-31")
//!     .chip(H100)
//!     .site("home", |s| s.chip("h100").chips(1024).domestic("CN"))
//!     .site("johor", |s| s.chip("h100").chips(4096).foreign("MY").lease(0.5))
//!     .firm("acme", |f| {
//!         f.sites(["johor", "home"])
//!             .placement("cheapest")
//!             .fine_tuning(|w| w.every_days(1.0).gang(256).size_flop(3e21))
//!     })
//!     .policy("ban", "lease_ban", "2025-02-01", |p| p.firms_headquartered_in("CN").grace_days(30.0))
//!     .build();
//! ```
//!
//! Values are written as TOML literals: numbers with `{:?}` (so `3e21` stays a float and `1024`
//! given as `u64` stays an integer), names as quoted strings, dates bare (`2025-01-01`).

// A small library for every layer's tests: not each test binary build uses every setter.
#![allow(dead_code)]

use capsim::scenario::{self, Scenario, ScenarioError};

/// A chip type, as in `[chips.<name>]`. Build variants with struct update syntax:
/// `Chip { name: "h800", training_mfu: 0.35, ..H100 }`.
#[derive(Clone, Copy, Debug)]
pub struct Chip {
    pub name: &'static str,
    pub vendor: &'static str,
    pub vendor_country: &'static str,
    pub bf16_dense_tflops: f64,
    pub memory_gb: f64,
    pub board_power_w: f64,
    pub all_in_power_w: f64,
    pub training_mfu: f64,
    pub inference_tokens_per_s: f64,
    pub purchase_usd: f64,
    pub lease_usd_per_chip_hour: f64,
}

/// Nvidia H100 SXM: figures from the Nvidia datasheet and the Llama 3 paper (as in the baseline).
pub const H100: Chip = Chip {
    name: "h100",
    vendor: "nvidia",
    vendor_country: "US",
    bf16_dense_tflops: 989.0,
    memory_gb: 80.0,
    board_power_w: 700.0,
    all_in_power_w: 1300.0,
    training_mfu: 0.40,
    inference_tokens_per_s: 2800.0,
    purchase_usd: 25000.0,
    lease_usd_per_chip_hour: 2.35,
};

/// Huawei Ascend 910C, a chip made in China (figures as in the baseline).
pub const ASCEND_910C: Chip = Chip {
    name: "ascend-910c",
    vendor: "huawei",
    vendor_country: "CN",
    bf16_dense_tflops: 780.0,
    memory_gb: 128.0,
    board_power_w: 700.0,
    all_in_power_w: 1460.0,
    training_mfu: 0.35,
    inference_tokens_per_s: 1900.0,
    purchase_usd: 28600.0,
    lease_usd_per_chip_hour: 2.69,
};

impl Chip {
    /// Useful FLOP/s of one chip in training (peak x MFU), as the model computes it.
    pub fn effective_flop_per_s(&self) -> f64 {
        self.bf16_dense_tflops * 1e12 * self.training_mfu
    }

    /// The chip's `[chips.<name>]` table, for tests that write their world by hand.
    pub fn toml(&self) -> String {
        format!(
            "[chips.{}]\nvendor = {:?}\nvendor_country = {:?}\nbf16_dense_tflops = {:?}\n\
             memory_gb = {:?}\nboard_power_w = {:?}\nall_in_power_w = {:?}\ntraining_mfu = {:?}\n\
             inference_tokens_per_s = {:?}\npurchase_usd = {:?}\nlease_usd_per_chip_hour = {:?}\n",
            quote_key(self.name),
            self.vendor,
            self.vendor_country,
            self.bf16_dense_tflops,
            self.memory_gb,
            self.board_power_w,
            self.all_in_power_w,
            self.training_mfu,
            self.inference_tokens_per_s,
            self.purchase_usd,
            self.lease_usd_per_chip_hour
        )
    }
}

/// An ordered list of `key = literal` lines: the body of one TOML table.
#[derive(Clone, Debug, Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    /// Sets `key` (replacing an earlier value, keeping its place).
    fn set(&mut self, key: &str, literal: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(kv) => kv.1 = literal,
            None => self.0.push((key.to_string(), literal)),
        }
    }

    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    fn write(&self, out: &mut String) {
        for (k, v) in &self.0 {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
}

fn string(s: &str) -> String {
    format!("{s:?}")
}

fn quote_key(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_string()
    } else {
        format!("{name:?}")
    }
}

/// A test world: chips, sites, firms and policies, written as scenario TOML.
#[derive(Clone, Debug)]
pub struct WorldBuilder {
    head: Fields,
    chips: Vec<Chip>,
    sites: Vec<(String, SiteBuilder)>,
    firms: Vec<(String, FirmBuilder)>,
    policies: Vec<PolicyBuilder>,
    /// Extra keys of chip tables: (chip, key, TOML literal).
    chip_fields: Vec<(String, String, String)>,
}

impl Default for WorldBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl WorldBuilder {
    /// An empty world over 2025 with seed 7.
    pub fn new() -> Self {
        let mut head = Fields::default();
        head.set("name", string("test-world"));
        head.set("description", string("a test world from WorldBuilder"));
        head.set("start_date", "2025-01-01".into());
        head.set("end_date", "2025-12-31".into());
        head.set("seed", "7".into());
        WorldBuilder {
            head,
            chips: Vec::new(),
            sites: Vec::new(),
            firms: Vec::new(),
            policies: Vec::new(),
            chip_fields: Vec::new(),
        }
    }

    /// The scenario's name (its output folder).
    pub fn name(mut self, name: &str) -> Self {
        self.head.set("name", string(name));
        self
    }

    /// First and last day (inclusive), as `YYYY-MM-DD`.
    pub fn horizon(mut self, start: &str, end: &str) -> Self {
        self.head.set("start_date", start.into());
        self.head.set("end_date", end.into());
        self
    }

    /// The master seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.head.set("seed", seed.to_string());
        self
    }

    /// Adds a chip type.
    pub fn chip(mut self, chip: Chip) -> Self {
        self.chips.push(chip);
        self
    }

    /// Sets another key of chip `chip`'s table, given as a TOML literal
    /// (`chip_set("h100", "idle_power_fraction", "0.3")`).
    pub fn chip_set(mut self, chip: &str, key: &str, literal: &str) -> Self {
        self.chip_fields
            .push((chip.to_string(), key.to_string(), literal.to_string()));
        self
    }

    /// Adds a site; `f` sets what differs from the defaults (see [`SiteBuilder`]).
    pub fn site(mut self, name: &str, f: impl FnOnce(SiteBuilder) -> SiteBuilder) -> Self {
        self.sites.push((name.to_string(), f(SiteBuilder::new())));
        self
    }

    /// Adds a firm; `f` sets its sites, placement and workloads (see [`FirmBuilder`]).
    pub fn firm(mut self, name: &str, f: impl FnOnce(FirmBuilder) -> FirmBuilder) -> Self {
        self.firms
            .push((name.to_string(), f(FirmBuilder::new(name))));
        self
    }

    /// Adds a `[[policy]]` of `rule` in force from `from`; `f` sets its rule's keys.
    pub fn policy(
        mut self,
        name: &str,
        rule: &str,
        from: &str,
        f: impl FnOnce(PolicyBuilder) -> PolicyBuilder,
    ) -> Self {
        let mut p = PolicyBuilder::default();
        p.0.set("name", string(name));
        p.0.set("rule", string(rule));
        p.0.set("from", from.into());
        self.policies.push(f(p));
        self
    }

    /// Changes one site after the fact (to derive a control world from a shared one).
    pub fn edit_site(mut self, name: &str, f: impl FnOnce(SiteBuilder) -> SiteBuilder) -> Self {
        let i = self
            .sites
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no site '{name}' in this WorldBuilder"));
        let site = std::mem::take(&mut self.sites[i].1);
        self.sites[i].1 = f(site);
        self
    }

    /// Changes one firm after the fact.
    pub fn edit_firm(mut self, name: &str, f: impl FnOnce(FirmBuilder) -> FirmBuilder) -> Self {
        let i = self
            .firms
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no firm '{name}' in this WorldBuilder"));
        let firm = std::mem::replace(&mut self.firms[i].1, FirmBuilder::new(name));
        self.firms[i].1 = f(firm);
        self
    }

    /// The scenario TOML.
    pub fn toml(&self) -> String {
        let mut out = String::new();
        self.head.write(&mut out);
        for c in &self.chips {
            out.push('\n');
            out.push_str(&c.toml());
            for (_, key, literal) in self.chip_fields.iter().filter(|(n, _, _)| n == c.name) {
                out.push_str(&format!("{key} = {literal}\n"));
            }
        }
        for (name, s) in &self.sites {
            out.push_str(&format!("\n[sites.{}]\n", quote_key(name)));
            s.fields.write(&mut out);
            if !s.deliveries.is_empty() {
                let list: Vec<String> = s
                    .deliveries
                    .iter()
                    .map(|(d, n)| format!("{{ date = {d}, chips = {n} }}"))
                    .collect();
                out.push_str(&format!("deliveries = [{}]\n", list.join(", ")));
            }
        }
        for (name, f) in &self.firms {
            out.push_str(&format!("\n[firms.{}]\n", quote_key(name)));
            f.fields.write(&mut out);
            for w in &f.workloads {
                out.push_str(&format!("\n[[firms.{}.workloads]]\n", quote_key(name)));
                w.write(&mut out);
            }
        }
        for p in &self.policies {
            out.push_str("\n[[policy]]\n");
            p.0.write(&mut out);
        }
        out
    }

    /// Loads the world through the scenario loader.
    pub fn try_build(&self) -> Result<Scenario, ScenarioError> {
        scenario::load_str(&self.toml(), "test.toml", None)
    }

    /// Loads the world, panicking with the loader's message and the TOML if it is invalid.
    pub fn build(&self) -> Scenario {
        self.try_build().unwrap_or_else(|e| {
            panic!(
                "test world does not load: {e}\n--- TOML ---\n{}",
                self.toml()
            )
        })
    }
}

/// A `[sites.<name>]` table. Defaults: an owned, domestic site in China on `h100` with no chips,
/// electricity 0.08 USD/kWh, PUE 1.3, and no failures (MTBF 1e9 hours).
#[derive(Clone, Debug, Default)]
pub struct SiteBuilder {
    fields: Fields,
    deliveries: Vec<(String, u64)>,
}

impl SiteBuilder {
    fn new() -> Self {
        let mut f = Fields::default();
        f.set("jurisdiction", string("CN"));
        f.set("operator", string("domestic"));
        f.set("chip", string("h100"));
        f.set("pricing", string("owned"));
        f.set("electricity_usd_per_kwh", "0.08".into());
        f.set("pue", "1.3".into());
        f.set("mtbf_hours", "1e9".into());
        f.set("repair_hours", "24.0".into());
        SiteBuilder {
            fields: f,
            deliveries: Vec::new(),
        }
    }

    /// The chip type (by name).
    pub fn chip(mut self, name: &str) -> Self {
        self.fields.set("chip", string(name));
        self
    }

    /// Chips installed at the start.
    pub fn chips(mut self, n: u64) -> Self {
        self.fields.set("initial_chips", n.to_string());
        self
    }

    /// In `country`, run by a firm of that country.
    pub fn domestic(mut self, country: &str) -> Self {
        self.fields.set("jurisdiction", string(country));
        self.fields.set("operator", string("domestic"));
        self
    }

    /// In `country`, run by a foreign operator (what a lease ban is about).
    pub fn foreign(mut self, country: &str) -> Self {
        self.fields.set("jurisdiction", string(country));
        self.fields.set("operator", string("foreign"));
        self
    }

    /// Leased at `usd_per_chip_hour` per busy chip-hour.
    pub fn lease(mut self, usd_per_chip_hour: f64) -> Self {
        self.fields.set("pricing", string("lease"));
        self.fields
            .set("lease_usd_per_chip_hour", format!("{usd_per_chip_hour:?}"));
        self
    }

    /// Owned (the default): amortised capex plus electricity.
    pub fn owned(mut self) -> Self {
        self.fields.set("pricing", string("owned"));
        self.fields.remove("lease_usd_per_chip_hour");
        self
    }

    /// Electricity price, USD per kWh.
    pub fn electricity(mut self, usd_per_kwh: f64) -> Self {
        self.fields
            .set("electricity_usd_per_kwh", format!("{usd_per_kwh:?}"));
        self
    }

    /// Power usage effectiveness.
    pub fn pue(mut self, pue: f64) -> Self {
        self.fields.set("pue", format!("{pue:?}"));
        self
    }

    /// Per-chip mean time between failures, hours (the default 1e9 means none).
    pub fn mtbf_hours(mut self, hours: f64) -> Self {
        self.fields.set("mtbf_hours", format!("{hours:?}"));
        self
    }

    /// A power cap on the site, MW.
    pub fn power_cap_mw(mut self, mw: f64) -> Self {
        self.fields.set("power_cap_mw", format!("{mw:?}"));
        self
    }

    /// No power cap (to derive a control world).
    pub fn no_power_cap(mut self) -> Self {
        self.fields.remove("power_cap_mw");
        self
    }

    /// Training leaves free the chips inference wanted.
    pub fn inference_priority(mut self) -> Self {
        self.fields.set("inference_priority", "true".into());
        self
    }

    /// No inference priority (to derive a control world).
    pub fn no_inference_priority(mut self) -> Self {
        self.fields.remove("inference_priority");
        self
    }

    /// A dated shipment of `chips` chips.
    pub fn delivery(mut self, date: &str, chips: u64) -> Self {
        self.deliveries.push((date.to_string(), chips));
        self
    }

    /// Steady supply of `chips_per_year`, in daily lots, over the whole horizon.
    pub fn supply(mut self, chips_per_year: f64) -> Self {
        self.fields.set(
            "supply",
            format!("{{ chips_per_year = {chips_per_year:?} }}"),
        );
        self
    }

    /// Any other key, given as a TOML literal (`set("amortisation_years", "3")`).
    pub fn set(mut self, key: &str, literal: &str) -> Self {
        self.fields.set(key, literal.to_string());
        self
    }
}

/// A `[firms.<name>]` table. Defaults: headquartered in China, no sites, `cheapest` placement.
#[derive(Clone, Debug)]
pub struct FirmBuilder {
    name: String,
    fields: Fields,
    workloads: Vec<Fields>,
}

impl FirmBuilder {
    fn new(name: &str) -> Self {
        let mut f = Fields::default();
        f.set("headquarters", string("CN"));
        f.set("sites", "[]".into());
        f.set("placement", string("cheapest"));
        FirmBuilder {
            name: name.to_string(),
            fields: f,
            workloads: Vec::new(),
        }
    }

    /// Country of the headquarters.
    pub fn headquarters(mut self, country: &str) -> Self {
        self.fields.set("headquarters", string(country));
        self
    }

    /// The sites the firm may use, by name.
    pub fn sites<const N: usize>(mut self, names: [&str; N]) -> Self {
        let list: Vec<String> = names.iter().map(|n| string(n)).collect();
        self.fields.set("sites", format!("[{}]", list.join(", ")));
        self
    }

    /// `cheapest`, `earliest_finish` or `home_first`.
    pub fn placement(mut self, strategy: &str) -> Self {
        self.fields.set("placement", string(strategy));
        self
    }

    fn workload(mut self, kind: &str, f: impl FnOnce(WorkloadBuilder) -> WorkloadBuilder) -> Self {
        let mut w = Fields::default();
        w.set(
            "name",
            string(&format!(
                "{}-{kind}-{}",
                self.name,
                self.workloads.len() + 1
            )),
        );
        w.set("kind", string(kind));
        if kind != "inference" {
            w.set("checkpoint_hours", "1.0".into());
            w.set("restart_hours", "0.0".into());
        }
        self.workloads.push(f(WorkloadBuilder(w)).0);
        self
    }

    /// A training workload (defaults: hourly checkpoints, free restarts).
    pub fn training(self, f: impl FnOnce(WorkloadBuilder) -> WorkloadBuilder) -> Self {
        self.workload("training", f)
    }

    /// A fine-tuning workload (defaults as for training).
    pub fn fine_tuning(self, f: impl FnOnce(WorkloadBuilder) -> WorkloadBuilder) -> Self {
        self.workload("fine_tuning", f)
    }

    /// An inference workload (defaults: the loader's: flat, hourly batches).
    pub fn inference(self, f: impl FnOnce(WorkloadBuilder) -> WorkloadBuilder) -> Self {
        self.workload("inference", f)
    }
}

/// One `[[firms.<firm>.workloads]]` entry.
#[derive(Clone, Debug)]
pub struct WorkloadBuilder(Fields);

impl WorkloadBuilder {
    /// Its name (default `<firm>-<kind>-<n>`).
    pub fn name(mut self, name: &str) -> Self {
        self.0.set("name", string(name));
        self
    }

    /// A job every `days` days from the start.
    pub fn every_days(mut self, days: f64) -> Self {
        self.0
            .set("arrivals", format!("{{ every_days = {days:?} }}"));
        self
    }

    /// Poisson arrivals with a mean gap of `days`.
    pub fn mean_gap_days(mut self, days: f64) -> Self {
        self.0
            .set("arrivals", format!("{{ mean_gap_days = {days:?} }}"));
        self
    }

    /// One job on each date (`YYYY-MM-DD`, at midnight).
    pub fn dates<const N: usize>(mut self, dates: [&str; N]) -> Self {
        self.0
            .set("arrivals", format!("{{ dates = [{}] }}", dates.join(", ")));
        self
    }

    /// Size of each job, FLOP.
    pub fn size_flop(mut self, flop: f64) -> Self {
        self.0.set("size_flop", format!("{flop:?}"));
        self
    }

    /// Size of each job as a TOML literal (a distribution: `{ lognormal = { median = .., p95 = .. } }`).
    pub fn size(mut self, literal: &str) -> Self {
        self.0.set("size_flop", literal.to_string());
        self
    }

    /// Chips per job.
    pub fn gang(mut self, chips: u64) -> Self {
        self.0.set("gang_chips", chips.to_string());
        self
    }

    /// Hours between checkpoints.
    pub fn checkpoint_hours(mut self, hours: f64) -> Self {
        self.0.set("checkpoint_hours", format!("{hours:?}"));
        self
    }

    /// Hours lost at each restart.
    pub fn restart_hours(mut self, hours: f64) -> Self {
        self.0.set("restart_hours", format!("{hours:?}"));
        self
    }

    /// The data class of the work (for data residency).
    pub fn data_class(mut self, class: &str) -> Self {
        self.0.set("data_class", string(class));
        self
    }

    /// Mean inference demand, tokens per day.
    pub fn tokens_per_day(mut self, tokens: f64) -> Self {
        self.0.set("tokens_per_day", format!("{tokens:?}"));
        self
    }

    /// Hours per inference batch.
    pub fn batch_hours(mut self, hours: f64) -> Self {
        self.0.set("batch_hours", format!("{hours:?}"));
        self
    }

    /// Any other key, given as a TOML literal.
    pub fn set(mut self, key: &str, literal: &str) -> Self {
        self.0.set(key, literal.to_string());
        self
    }
}

/// One `[[policy]]`: its rule-specific keys (name, rule and `from` are set by
/// [`WorldBuilder::policy`]).
#[derive(Clone, Debug, Default)]
pub struct PolicyBuilder(Fields);

impl PolicyBuilder {
    /// Out of force from this date.
    pub fn until(mut self, date: &str) -> Self {
        self.0.set("until", date.into());
        self
    }

    /// The chip the rule is about.
    pub fn chip(mut self, name: &str) -> Self {
        self.0.set("chip", string(name));
        self
    }

    /// Destination jurisdiction (export bans, licence fees).
    pub fn to(mut self, country: &str) -> Self {
        self.0.set("to", string(country));
        self
    }

    /// Fee as a fraction of the price (licence fees).
    pub fn fee_fraction(mut self, fraction: f64) -> Self {
        self.0.set("fee_fraction", format!("{fraction:?}"));
        self
    }

    /// Home country of the firms a lease ban or mandate applies to.
    pub fn firms_headquartered_in(mut self, country: &str) -> Self {
        self.0.set("firms_headquartered_in", string(country));
        self
    }

    /// Grace period of a lease ban, days.
    pub fn grace_days(mut self, days: f64) -> Self {
        self.0.set("grace_days", format!("{days:?}"));
        self
    }

    /// Data class kept at home (data residency).
    pub fn data_class(mut self, class: &str) -> Self {
        self.0.set("data_class", string(class));
        self
    }

    /// Country capped (chip caps).
    pub fn country(mut self, country: &str) -> Self {
        self.0.set("country", string(country));
        self
    }

    /// The cap (chip caps).
    pub fn max_chips(mut self, chips: u64) -> Self {
        self.0.set("max_chips", chips.to_string());
        self
    }

    /// Jurisdiction whose permits delay shipments.
    pub fn through(mut self, country: &str) -> Self {
        self.0.set("through", string(country));
        self
    }

    /// Added delay of a permit, days.
    pub fn delay_days(mut self, days: f64) -> Self {
        self.0.set("delay_days", format!("{days:?}"));
        self
    }

    /// Share of inference on home-made chips (domestic mandates).
    pub fn inference_share(mut self, share: f64) -> Self {
        self.0.set("inference_share", format!("{share:?}"));
        self
    }

    /// Multiplier on the supply rate (supply shocks).
    pub fn factor(mut self, factor: f64) -> Self {
        self.0.set("factor", format!("{factor:?}"));
        self
    }

    /// Any other key, given as a TOML literal.
    pub fn set(mut self, key: &str, literal: &str) -> Self {
        self.0.set(key, literal.to_string());
        self
    }
}
