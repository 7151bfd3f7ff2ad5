//! Serde mirror of the scenario TOML: every table as written, unknown keys refused, nothing checked
//! beyond types.
//!
//! These types are deserialized from the *merged* `toml::Value` (all `extends` layers applied), with
//! `serde_path_to_error` recording the field path of any failure. Semantic checks (ranges, references,
//! dates inside the horizon) live in `validate.rs`, which turns these into `model` types.
//!
//! Three things are deliberately looser here than the format, so that `validate.rs` can give a precise
//! message instead of serde's generic one:
//! - a policy is one flat struct with every rule's keys optional, not an internally tagged enum:
//!   serde buffers a tagged enum's fields before it picks the variant, which loses the field path of
//!   any later error (`policy[3]` instead of `policy[3].fee_fraction`);
//! - a workload likewise carries every kind's keys as options;
//! - numeric figures ([`RawQuantity`]) and `source` have hand-written visitors, so a wrong shape says
//!   which shapes exist (an untagged enum would only say "data did not match any variant").
//!
//! Every non-integer figure is a [`RawQuantity`]: a number, or a distribution. What a distribution
//! means depends on the field: on `size_flop` it is drawn per job by the model; on every other field
//! `validate.rs` resolves it once per replication (the nominal value, or a draw). Integer counts
//! (`gang_chips`, `initial_chips`, deliveries' `chips`, `max_chips`, `seed`) stay `u64`.

use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::model::RuleKind;

/// Keys of a chip table (kept beside the struct; a unit test checks them against serde's list).
pub const CHIP_KEYS: &[&str] = &[
    "vendor",
    "vendor_country",
    "bf16_dense_tflops",
    "memory_gb",
    "board_power_w",
    "all_in_power_w",
    "training_mfu",
    "inference_tokens_per_s",
    "purchase_usd",
    "lease_usd_per_chip_hour",
    "idle_power_fraction",
    "source",
];

/// Keys of a site table.
pub const SITE_KEYS: &[&str] = &[
    "jurisdiction",
    "operator",
    "chip",
    "pricing",
    "owner",
    "tenant",
    "term_years",
    "lease_usd_per_chip_hour",
    "lease_prices",
    "on_demand_premium",
    "amortisation_years",
    "electricity_usd_per_kwh",
    "pue",
    "mtbf_hours",
    "repair_hours",
    "power_cap_mw",
    "inference_priority",
    "initial_chips",
    "deliveries",
    "supply",
    "market",
    "reserves",
    "reserve_share",
    "reserve_markup",
    "procurement",
    "buying",
    "source",
];

/// Keys of a firm table.
pub const FIRM_KEYS: &[&str] = &[
    "headquarters",
    "sites",
    "placement",
    "workloads",
    "planning",
    "demand",
    "source",
];

/// Keys of a firm's `demand` table.
pub const DEMAND_KEYS: &[&str] = &["group", "written_at", "share", "source"];

/// Keys of a firm's `planning` table.
pub const PLANNING_KEYS: &[&str] = &[
    "every_days",
    "lead_days",
    "block_chips",
    "patience_days",
    "max_leased_chips",
    "order_share",
    "order_lead_days",
    "max_wait_days",
    "risk_aversion",
    "lease_ban_risk",
    "home_premium",
    "replace_refused",
    "switch_margin",
    "forecast_inference",
    "forecast_training",
    "source",
];

/// Keys of a market table.
pub const MARKET_KEYS: &[&str] = &[
    "jurisdiction",
    "capacity_mw",
    "open_share",
    "tight_above",
    "tight_premium",
    "source",
];

/// Keys every workload takes, whatever its kind.
pub const WORKLOAD_COMMON_KEYS: &[&str] = &["name", "kind", "start_date", "end_date", "source"];
/// Keys only training and fine-tuning workloads take.
pub const WORKLOAD_BATCH_KEYS: &[&str] = &[
    "arrivals",
    "size_flop",
    "gang_chips",
    "checkpoint_hours",
    "restart_hours",
    "data_class",
];
/// Keys only inference workloads take.
pub const WORKLOAD_INFERENCE_KEYS: &[&str] = &[
    "tokens_per_day",
    "growth_per_year",
    "daily_amplitude",
    "peak_hour",
    "batch_hours",
];

/// Keys every policy takes, whatever its rule.
pub const POLICY_COMMON_KEYS: &[&str] = &["name", "rule", "from", "until", "enabled", "source"];

/// Prefix of the message for a malformed date (so the error layer can offer date-specific help).
pub const DATE_MESSAGE: &str = "expected a date like 2025-01-01";

/// A table of named entries (`[chips.<name>]`, ...) in the order the merged file lists them.
///
/// A `Vec` rather than a map: the order becomes the order of ids in the world, and toml's
/// `preserve_order` feature keeps file order in the merged value this is read from.
#[derive(Clone, Debug)]
pub struct Named<T>(pub Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of named entries")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named<T>, A::Error> {
                let mut v = Vec::new();
                // next_key / next_value (not a bulk collect) so serde_path_to_error sees every key.
                while let Some(k) = map.next_key::<String>()? {
                    let val = map.next_value::<T>()?;
                    v.push((k, val));
                }
                Ok(Named(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A calendar date written as a TOML local date (`2025-01-01`).
///
/// `toml::Value` hands dates to serde as strings, so `toml::value::Datetime` (which wants toml's
/// private map form) cannot be used here; this parses the string and refuses times and offsets.
/// A side effect: a quoted `"2025-01-01"` is accepted too, which is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawDate(pub NaiveDate);

impl<'de> Deserialize<'de> for RawDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date like 2025-01-01")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawDate, E> {
                // Exactly YYYY-MM-DD: a time or an offset would be silently dropped otherwise.
                let shaped = s.len() == 10
                    && s.bytes().enumerate().all(|(i, b)| match i {
                        4 | 7 => b == b'-',
                        _ => b.is_ascii_digit(),
                    });
                let parsed = if shaped {
                    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
                } else {
                    None
                };
                parsed.map(RawDate).ok_or_else(|| {
                    E::custom(format!(
                        "{DATE_MESSAGE} (a local date, no time or offset), found `{s}`"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A whole scenario layer set, merged.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Run name (output folder).
    pub name: String,
    /// One or two sentences.
    pub description: String,
    /// First day of the horizon.
    pub start_date: RawDate,
    /// Last day of the horizon (inclusive).
    pub end_date: RawDate,
    /// Master seed.
    pub seed: u64,
    /// Provenance by field path.
    #[serde(default)]
    pub sources: Named<String>,
    /// Chip types.
    #[serde(default)]
    pub chips: Named<RawChip>,
    /// Sites.
    #[serde(default)]
    pub sites: Named<RawSite>,
    /// Firms.
    #[serde(default)]
    pub firms: Named<RawFirm>,
    /// Offshore lease markets.
    #[serde(default)]
    pub markets: Named<RawMarket>,
    /// The policy timeline (disabled entries already removed by the merge).
    #[serde(default)]
    pub policy: Vec<RawPolicy>,
    /// A sweep this scenario is meant to be run over (`capsim sweep` without `--vary`).
    #[serde(default)]
    pub sweep: Option<RawSweep>,
    /// A CSV file of observations to hold the run against, relative to the file that names it.
    #[serde(default)]
    pub observations: Option<String>,
}

/// `[sweep]`: axes in the command line's `--vary` syntax.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    /// Axes, each `PATH=VALUES` as for `--vary`.
    pub vary: Vec<String>,
    /// `grid` or `one-at-a-time`.
    pub design: Option<String>,
    /// Replications per point.
    pub replications: Option<u64>,
}

/// `source = "..."` (the whole table) or `source = { field = "..." }`.
#[derive(Clone, Debug)]
pub enum RawSource {
    /// Source of the whole table.
    Whole(String),
    /// Source per field.
    Fields(Named<String>),
}

impl<'de> Deserialize<'de> for RawSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, or a table from field name to source text")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawSource, E> {
                Ok(RawSource::Whole(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSource, A::Error> {
                let mut v = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    v.push((k, map.next_value::<String>()?));
                }
                Ok(RawSource::Fields(Named(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[chips.<name>]`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChip {
    pub vendor: String,
    pub vendor_country: String,
    pub bf16_dense_tflops: RawQuantity,
    pub memory_gb: RawQuantity,
    pub board_power_w: RawQuantity,
    pub all_in_power_w: RawQuantity,
    pub training_mfu: RawQuantity,
    pub inference_tokens_per_s: RawQuantity,
    pub purchase_usd: RawQuantity,
    pub lease_usd_per_chip_hour: RawQuantity,
    pub idle_power_fraction: Option<RawQuantity>,
    pub source: Option<RawSource>,
}

/// `operator = "domestic" | "foreign"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawOperator {
    Domestic,
    Foreign,
}

/// `pricing = "lease" | "owned"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawPricing {
    Lease,
    Contract,
    Owned,
}

/// `[sites.<name>]`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub jurisdiction: String,
    pub operator: RawOperator,
    pub chip: String,
    pub pricing: RawPricing,
    pub owner: Option<String>,
    pub tenant: Option<String>,
    pub term_years: Option<RawQuantity>,
    pub lease_usd_per_chip_hour: Option<RawQuantity>,
    pub lease_prices: Option<Vec<RawLeasePrice>>,
    pub on_demand_premium: Option<RawQuantity>,
    pub amortisation_years: Option<RawQuantity>,
    pub electricity_usd_per_kwh: RawQuantity,
    pub pue: RawQuantity,
    pub mtbf_hours: RawQuantity,
    pub repair_hours: RawQuantity,
    pub power_cap_mw: Option<RawQuantity>,
    pub inference_priority: Option<bool>,
    #[serde(default)]
    pub initial_chips: u64,
    #[serde(default)]
    pub deliveries: Vec<RawDelivery>,
    pub supply: Option<RawSupply>,
    pub market: Option<String>,
    pub reserves: Option<String>,
    pub reserve_share: Option<RawQuantity>,
    pub reserve_markup: Option<RawQuantity>,
    pub procurement: Option<RawProcurement>,
    pub buying: Option<RawBuying>,
    pub source: Option<RawSource>,
}

/// The keys of a site's `buying` table.
pub const BUYING_KEYS: &[&str] = &["from", "every_days", "busy_above"];

/// `buying = { from, every_days, busy_above }`: a domestic cloud buys its supply by its use.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBuying {
    pub from: Option<RawDate>,
    pub every_days: Option<RawQuantity>,
    pub busy_above: RawQuantity,
}

/// The keys of a site's `procurement` table.
pub const PROCUREMENT_KEYS: &[&str] = &[
    "channel",
    "chips_per_year",
    "lead_days",
    "from",
    "until",
    "premium",
    "seizure",
    "lot_chips",
];

/// `procurement = { channel, chips_per_year, lead_days, from, until, premium, seizure, lot_chips }`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProcurement {
    pub channel: RawChannel,
    pub chips_per_year: RawQuantity,
    pub lead_days: RawQuantity,
    pub from: Option<RawDate>,
    pub until: Option<RawDate>,
    pub premium: Option<RawQuantity>,
    pub seizure: Option<RawQuantity>,
    pub lot_chips: Option<u64>,
}

/// `channel = "import" | "grey"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawChannel {
    Import,
    Grey,
}

/// One `{ from, usd_per_chip_hour }` of `lease_prices`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLeasePrice {
    pub from: RawDate,
    pub usd_per_chip_hour: f64,
}

/// One `{ date, chips }` of `deliveries`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDelivery {
    pub date: RawDate,
    pub chips: u64,
}

/// `supply = { chips_per_year, from, until }`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSupply {
    pub chips_per_year: RawQuantity,
    pub from: Option<RawDate>,
    pub until: Option<RawDate>,
}

/// `placement = "cheapest" | "earliest_finish" | "home_first"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawPlacement {
    Cheapest,
    EarliestFinish,
    HomeFirst,
}

/// `[firms.<name>]`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFirm {
    pub headquarters: String,
    pub sites: Vec<String>,
    pub placement: RawPlacement,
    #[serde(default)]
    pub workloads: Vec<RawWorkload>,
    pub planning: Option<RawPlanning>,
    pub demand: Option<RawDemand>,
    pub source: Option<RawSource>,
}

/// `[firms.<name>.demand]`: the firm's share of a demand path it splits with the other firms of
/// its `group`. Its inference segments are written at `written_at` (the group's sum to 1); each
/// replication scales them by its `share` over `written_at`, renormalised over the group (see
/// `scenario/template.rs`).
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDemand {
    pub group: String,
    pub written_at: f64,
    pub share: RawQuantity,
    pub source: Option<RawSource>,
}

/// `[firms.<name>.planning]`: how the firm reviews its capacity and leases more.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPlanning {
    pub every_days: f64,
    pub lead_days: f64,
    pub block_chips: u64,
    pub patience_days: f64,
    pub max_leased_chips: u64,
    pub order_share: Option<RawQuantity>,
    pub order_lead_days: Option<f64>,
    pub max_wait_days: Option<f64>,
    pub risk_aversion: Option<RawQuantity>,
    pub lease_ban_risk: Option<RawQuantity>,
    pub home_premium: Option<RawQuantity>,
    pub replace_refused: Option<bool>,
    pub switch_margin: Option<RawQuantity>,
    pub forecast_inference: Option<bool>,
    pub forecast_training: Option<bool>,
    pub source: Option<RawSource>,
}

/// `[markets.<name>]`: an offshore lease market.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMarket {
    pub jurisdiction: String,
    pub capacity_mw: Vec<RawCapacityStep>,
    pub open_share: f64,
    pub tight_above: f64,
    pub tight_premium: f64,
    pub source: Option<RawSource>,
}

/// One `{ from, mw }` of a market's `capacity_mw`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCapacityStep {
    pub from: RawDate,
    pub mw: f64,
}

/// `kind = "training" | "fine_tuning" | "inference"`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawWorkloadKind {
    Training,
    FineTuning,
    Inference,
}

impl RawWorkloadKind {
    /// As written in scenarios.
    pub fn as_str(self) -> &'static str {
        match self {
            RawWorkloadKind::Training => "training",
            RawWorkloadKind::FineTuning => "fine_tuning",
            RawWorkloadKind::Inference => "inference",
        }
    }
}

/// `[[firms.<name>.workloads]]`: every kind's keys, all optional here; `validate.rs` checks which
/// apply to the `kind`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub name: String,
    pub kind: RawWorkloadKind,
    pub start_date: Option<RawDate>,
    pub end_date: Option<RawDate>,
    pub source: Option<RawSource>,
    // training, fine_tuning
    pub arrivals: Option<RawArrivals>,
    pub size_flop: Option<RawQuantity>,
    pub gang_chips: Option<u64>,
    pub checkpoint_hours: Option<RawQuantity>,
    pub restart_hours: Option<RawQuantity>,
    pub data_class: Option<String>,
    // inference
    pub tokens_per_day: Option<RawQuantity>,
    pub growth_per_year: Option<RawQuantity>,
    pub daily_amplitude: Option<RawQuantity>,
    pub peak_hour: Option<RawQuantity>,
    pub batch_hours: Option<RawQuantity>,
}

impl RawWorkload {
    /// `(key, present)` for every kind-specific key, in the order of the format.
    pub fn kind_keys(&self) -> [(&'static str, bool); 11] {
        [
            ("arrivals", self.arrivals.is_some()),
            ("size_flop", self.size_flop.is_some()),
            ("gang_chips", self.gang_chips.is_some()),
            ("checkpoint_hours", self.checkpoint_hours.is_some()),
            ("restart_hours", self.restart_hours.is_some()),
            ("data_class", self.data_class.is_some()),
            ("tokens_per_day", self.tokens_per_day.is_some()),
            ("growth_per_year", self.growth_per_year.is_some()),
            ("daily_amplitude", self.daily_amplitude.is_some()),
            ("peak_hour", self.peak_hour.is_some()),
            ("batch_hours", self.batch_hours.is_some()),
        ]
    }
}

/// `arrivals = { every_days } | { mean_gap_days } | { dates }`: exactly one, checked in validate.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArrivals {
    pub every_days: Option<RawQuantity>,
    pub mean_gap_days: Option<RawQuantity>,
    pub dates: Option<Vec<RawDate>>,
}

/// A figure: a number or one of the distribution tables. Array lengths, parameter order and the
/// distribution's support against the field's range are checked in validate.
#[derive(Clone, Debug, PartialEq)]
pub enum RawQuantity {
    /// A plain number.
    Fixed(f64),
    /// `{ lognormal = { median, p95 } }`.
    LogNormal(RawLogNormal),
    /// `{ uniform = [lo, hi] }`.
    Uniform(Vec<f64>),
    /// `{ triangular = [lo, mode, hi] }`.
    Triangular(Vec<f64>),
}

/// The parameters of `{ lognormal = { median, p95 } }`.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogNormal {
    pub median: f64,
    pub p95: f64,
}

/// The distribution names a figure accepts as a table key.
pub const QUANTITY_FORMS: &[&str] = &["lognormal", "uniform", "triangular"];

impl<'de> Deserialize<'de> for RawQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawQuantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a number, or a table such as { lognormal = { median = .., p95 = .. } }, \
                     { uniform = [lo, hi] } or { triangular = [lo, mode, hi] }",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawQuantity, E> {
                Ok(RawQuantity::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawQuantity, E> {
                Ok(RawQuantity::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawQuantity, E> {
                Ok(RawQuantity::Fixed(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawQuantity, A::Error> {
                let Some(form) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "empty table: expected one of `lognormal`, `uniform`, `triangular`",
                    ));
                };
                let q = match form.as_str() {
                    "lognormal" => RawQuantity::LogNormal(map.next_value()?),
                    "uniform" => RawQuantity::Uniform(map.next_value()?),
                    "triangular" => RawQuantity::Triangular(map.next_value()?),
                    other => return Err(de::Error::unknown_field(other, QUANTITY_FORMS)),
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "`{extra}` after `{form}`: a figure takes exactly one distribution"
                    )));
                }
                Ok(q)
            }
        }
        d.deserialize_any(V)
    }
}

/// `rule = "..."` of a policy: a [`RuleKind`], read by its name ([`RuleKind::name`], the one list of
/// rule names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRuleKind(pub RuleKind);

impl<'de> Deserialize<'de> for RawRuleKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawRuleKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule name such as \"export_ban\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawRuleKind, E> {
                RuleKind::from_name(s)
                    .map(RawRuleKind)
                    .ok_or_else(|| E::unknown_variant(s, &RuleKind::NAMES))
            }
        }
        d.deserialize_str(V)
    }
}

impl RawRuleKind {
    /// As written in scenarios.
    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    /// Parses the name as written in scenarios.
    pub fn from_name(name: &str) -> Option<Self> {
        RuleKind::from_name(name).map(RawRuleKind)
    }

    /// `(required, optional)` rule-specific keys.
    pub fn keys(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self.0 {
            RuleKind::ExportBan => (&["chip", "to"], &[]),
            RuleKind::LicenceFee => (&["chip", "to", "fee_fraction"], &[]),
            RuleKind::LeaseBan => (&["firms_headquartered_in", "grace_days"], &[]),
            RuleKind::DataResidency => (&["data_class"], &[]),
            RuleKind::ChipCap => (&["country", "max_chips"], &["chip"]),
            RuleKind::PermitDelay => (&["through", "delay_days"], &["chip"]),
            RuleKind::DomesticMandate => (&["firms_headquartered_in", "inference_share"], &[]),
            RuleKind::SupplyShock => (&["chip", "factor"], &[]),
            RuleKind::GreyEnforcement => (&["to", "seizure"], &["chip"]),
            RuleKind::OutputAllocation => (&["country", "orders_share"], &["chip", "priority"]),
        }
    }

    /// Every rule kind, in the order of the format.
    pub fn all() -> impl Iterator<Item = RawRuleKind> {
        RuleKind::ALL.into_iter().map(RawRuleKind)
    }
}

/// `[[policy]]`: the common keys plus every rule's keys as options; `validate.rs` checks which apply.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: String,
    pub rule: RawRuleKind,
    pub from: RawDate,
    pub until: Option<RawDate>,
    pub enabled: Option<bool>,
    pub source: Option<RawSource>,
    pub chip: Option<String>,
    pub to: Option<String>,
    pub fee_fraction: Option<RawQuantity>,
    pub firms_headquartered_in: Option<String>,
    pub grace_days: Option<RawQuantity>,
    pub data_class: Option<String>,
    pub country: Option<String>,
    pub max_chips: Option<u64>,
    pub through: Option<String>,
    pub delay_days: Option<RawQuantity>,
    pub inference_share: Option<RawQuantity>,
    pub factor: Option<RawQuantity>,
    pub seizure: Option<RawQuantity>,
    pub orders_share: Option<RawQuantity>,
    pub priority: Option<Vec<String>>,
}

impl RawPolicy {
    /// `(key, present)` for every rule-specific key.
    pub fn rule_keys(&self) -> [(&'static str, bool); 15] {
        [
            ("chip", self.chip.is_some()),
            ("to", self.to.is_some()),
            ("fee_fraction", self.fee_fraction.is_some()),
            (
                "firms_headquartered_in",
                self.firms_headquartered_in.is_some(),
            ),
            ("grace_days", self.grace_days.is_some()),
            ("data_class", self.data_class.is_some()),
            ("country", self.country.is_some()),
            ("max_chips", self.max_chips.is_some()),
            ("through", self.through.is_some()),
            ("delay_days", self.delay_days.is_some()),
            ("inference_share", self.inference_share.is_some()),
            ("factor", self.factor.is_some()),
            ("seizure", self.seizure.is_some()),
            ("orders_share", self.orders_share.is_some()),
            ("priority", self.priority.is_some()),
        ]
    }
}

// ----- JSON Schema of the file format (`capsim schema`) -------------------------------------------
//
// The types above with hand-written `Deserialize` impls describe themselves here; the rest derive
// `JsonSchema` from the same serde attributes, so the schema follows the loader.

impl<T: schemars::JsonSchema> schemars::JsonSchema for Named<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Named_{}", T::schema_name()).into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let entry = g.subschema_for::<T>();
        schemars::json_schema!({
            "type": "object",
            "description": "Named entries: each key is an entry's name.",
            "additionalProperties": entry,
        })
    }
}

impl schemars::JsonSchema for RawDate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date",
            "description": "A local date, e.g. 2025-01-01.",
        })
    }
}

impl schemars::JsonSchema for RawSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Source".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Where the figures come from: one text for the whole table, or a table from field name to text.",
            "anyOf": [
                { "type": "string" },
                { "type": "object", "additionalProperties": { "type": "string" } },
            ],
        })
    }
}

impl schemars::JsonSchema for RawQuantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number, or an uncertain figure drawn once per replication: { lognormal = { median, p95 } }, { uniform = [lo, hi] } or { triangular = [lo, mode, hi] }.",
            "anyOf": [
                { "type": "number" },
                {
                    "type": "object",
                    "properties": { "lognormal": {
                        "type": "object",
                        "properties": { "median": { "type": "number" }, "p95": { "type": "number" } },
                        "required": ["median", "p95"],
                        "additionalProperties": false,
                    } },
                    "required": ["lognormal"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": { "uniform": { "type": "array", "items": { "type": "number" }, "minItems": 2, "maxItems": 2 } },
                    "required": ["uniform"],
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "properties": { "triangular": { "type": "array", "items": { "type": "number" }, "minItems": 3, "maxItems": 3 } },
                    "required": ["triangular"],
                    "additionalProperties": false,
                },
            ],
        })
    }
}

impl schemars::JsonSchema for RawRuleKind {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rule".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": RuleKind::NAMES,
            "description": "The policy's rule; each takes its own keys (README, `[[policy]]`).",
        })
    }
}
