//! The dated policy timeline: each rule is one variant of [`Rule`], judged in one place.
//!
//! Three questions are asked of the timeline, each answered by one function over all rules:
//! - [`Timeline::allows`]: may this work run at this site now? (export controls on leasing,
//!   data residency);
//! - [`Timeline::price_factor`]: by how much do rules raise the price of a chip-hour here?
//!   (licence fees, tariffs);
//! - [`Timeline::delivery`]: what happens to a shipment of chips arriving now? (export bans, caps,
//!   permit delays, supply shocks).
//!
//! [`Timeline::domestic_inference_share`] answers the one question specific to inference mandates,
//! and [`Timeline::supply_factor`] the one specific to supply shocks.
//!
//! Every query matches every [`Rule`] variant by name (no `_ =>` arm; clippy's
//! `wildcard_enum_match_arm` is denied here), so a new rule is one variant, one [`RuleKind`] (its
//! name as written in scenarios, listed once in [`RuleKind::ALL`]), and one arm in each function
//! that the compiler points at: here, in the scenario layer (`scenario/raw.rs`: its keys;
//! `scenario/validate.rs`: reading it), nowhere else. CONTRIBUTING.md has the recipe.
//!
//! A rule is in force from 00:00 on its `from` day through the end of its `until` day: scenario
//! dates are inclusive, so the scenario layer sets [`Policy::until`] to 00:00 on the day *after*
//! the `until` the file writes, and [`Policy::in_force`] holds on `[from, until)` in simulation
//! time. Rules whose `from` precedes the scenario start are in force from the start. A lease ban forbids new placements from `from` and evicts running work at
//! `from + grace`.

#![deny(clippy::wildcard_enum_match_arm)]

use crate::engine::{SimDuration, SimTime};

use super::chip::Chip;
use super::firm::{Firm, FirmId};
use super::site::{Operator, Pricing, Site};

/// One rule of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// Deliveries of `chip` to sites in `to` stop.
    ExportBan {
        /// Chip name.
        chip: String,
        /// Destination jurisdiction.
        to: String,
    },
    /// A fee or tariff raises the price of `chip` at sites in `to` by `fee_fraction`.
    LicenceFee {
        /// Chip name.
        chip: String,
        /// Jurisdiction where the fee applies.
        to: String,
        /// Uplift as a fraction (0.15 = +15%).
        fee_fraction: f64,
    },
    /// Firms headquartered in `firms_headquartered_in` may not use foreign-operated capacity outside
    /// that country: no new placements from `from`; running work evicted at `from + grace`.
    LeaseBan {
        /// Home country of the firms the ban applies to.
        firms_headquartered_in: String,
        /// From `from`, no new contracts (lots signed or renewed, hours on demand) and no new work
        /// but on capacity the firm holds under contract; at `from + grace` the contracts end and
        /// running work is evicted.
        grace: SimDuration,
    },
    /// Work on data of `data_class` must run in the firm's home jurisdiction.
    DataResidency {
        /// The data class, e.g. `customer_private`.
        data_class: String,
    },
    /// Deliveries into `country` stop once its sites hold `max_chips` chips (of `chip`, or of any).
    ChipCap {
        /// Country capped.
        country: String,
        /// Only this chip, or all chips when `None`.
        chip: Option<String>,
        /// The cap.
        max_chips: u64,
    },
    /// Deliveries to sites in `through` (of `chip`, or any) arrive `delay` late.
    PermitDelay {
        /// Jurisdiction whose permits delay shipments.
        through: String,
        /// Only this chip, or all chips when `None`.
        chip: Option<String>,
        /// Added delay.
        delay: SimDuration,
    },
    /// At least `share` of the inference of firms headquartered in `firms_headquartered_in` must be
    /// served on chips made in that country.
    DomesticMandate {
        /// Home country of the firms the mandate applies to.
        firms_headquartered_in: String,
        /// Share of inference demand (0..1).
        share: f64,
    },
    /// Steady supply of `chip` is multiplied by `factor` (e.g. HBM runs out).
    SupplyShock {
        /// Chip name.
        chip: String,
        /// Multiplier on the supply rate (0..).
        factor: f64,
    },
    /// Grey-market lots (of `chip`, or of any) bound for `to` are seized with chance `seizure`
    /// (enforcement raised or lowered; the highest rule in force wins over a site's own chance).
    GreyEnforcement {
        /// Jurisdiction the smuggled chips are bound for.
        to: String,
        /// Only this chip, or all chips when `None`.
        chip: Option<String>,
        /// Chance a lot is seized (0..1).
        seizure: f64,
    },
    /// Each daily lot of the uncommitted national output of `chip` (or of any) in `country` (the
    /// supply of the sites no firm owns) goes first to firms' open orders, up to `orders_share`
    /// of it: to the firms in `priority` first, in that order, then to the others in proportion
    /// to their open orders (pro rata). Without such a rule, each firm takes up to its own
    /// `order_share` of each lot (see `model/sim/orders.rs`).
    OutputAllocation {
        /// Country whose output is allocated.
        country: String,
        /// Only this chip, or all chips when `None`.
        chip: Option<String>,
        /// Share of each lot that open orders may take together (0..1).
        orders_share: f64,
        /// Firms served first, in this order (names); empty: all pro rata.
        priority: Vec<String>,
    },
}

/// How the output of a chip is allocated among firms' open orders, by the rule in force.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allocation<'a> {
    /// Share of each lot that open orders may take together.
    pub orders_share: f64,
    /// Firms served first, in this order; then the others pro rata.
    pub priority: &'a [String],
}

impl Rule {
    /// One line for tables and chart labels, e.g. `export ban: h20 to CN`.
    pub fn describe(&self) -> String {
        let chip_or_all = |c: &Option<String>| c.clone().unwrap_or_else(|| "all chips".into());
        match self {
            Rule::ExportBan { chip, to } => format!("export ban: {chip} to {to}"),
            Rule::LicenceFee {
                chip,
                to,
                fee_fraction,
            } => format!("licence fee: +{:.0}% on {chip} in {to}", fee_fraction * 100.0),
            Rule::LeaseBan {
                firms_headquartered_in,
                grace,
            } => format!(
                "lease ban: {firms_headquartered_in} firms off foreign capacity abroad ({:.0}-day grace)",
                grace.as_days_f64()
            ),
            Rule::DataResidency { data_class } => format!("data residency: {data_class} stays home"),
            Rule::ChipCap {
                country,
                chip,
                max_chips,
            } => format!("chip cap: {max_chips} {} in {country}", chip_or_all(chip)),
            Rule::PermitDelay {
                through,
                chip,
                delay,
            } => format!(
                "permit delay: {} through {through} +{:.0} days",
                chip_or_all(chip),
                delay.as_days_f64()
            ),
            Rule::DomesticMandate {
                firms_headquartered_in,
                share,
            } => format!(
                "domestic mandate: {:.0}% of {firms_headquartered_in} firms' inference on home chips",
                share * 100.0
            ),
            Rule::SupplyShock { chip, factor } => format!("supply shock: {chip} supply x{factor}"),
            Rule::GreyEnforcement { to, chip, seizure } => format!(
                "grey enforcement: {:.0}% of smuggled {} to {to} seized",
                seizure * 100.0,
                chip_or_all(chip)
            ),
            Rule::OutputAllocation {
                country,
                chip,
                orders_share,
                priority,
            } => {
                let order = if priority.is_empty() {
                    "pro rata".to_string()
                } else {
                    format!("{} first, then pro rata", priority.join(", "))
                };
                format!(
                    "output allocation: up to {:.0}% of {} made in {country} to orders, {order}",
                    orders_share * 100.0,
                    chip_or_all(chip)
                )
            }
        }
    }

    /// The rule's kind.
    pub fn rule_kind(&self) -> RuleKind {
        match self {
            Rule::ExportBan { .. } => RuleKind::ExportBan,
            Rule::LicenceFee { .. } => RuleKind::LicenceFee,
            Rule::LeaseBan { .. } => RuleKind::LeaseBan,
            Rule::DataResidency { .. } => RuleKind::DataResidency,
            Rule::ChipCap { .. } => RuleKind::ChipCap,
            Rule::PermitDelay { .. } => RuleKind::PermitDelay,
            Rule::DomesticMandate { .. } => RuleKind::DomesticMandate,
            Rule::SupplyShock { .. } => RuleKind::SupplyShock,
            Rule::GreyEnforcement { .. } => RuleKind::GreyEnforcement,
            Rule::OutputAllocation { .. } => RuleKind::OutputAllocation,
        }
    }

    /// The rule's kind as written in scenarios (`export_ban`, ...).
    pub fn kind(&self) -> &'static str {
        self.rule_kind().name()
    }
}

/// The kind of a [`Rule`], without its parameters: what a scenario writes as `rule = "..."`.
///
/// The one list of rule names: [`RuleKind::name`] spells each, [`RuleKind::ALL`] lists them in the
/// order of the format, and the scenario layer reads, checks and suggests names from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    /// [`Rule::ExportBan`].
    ExportBan,
    /// [`Rule::LicenceFee`].
    LicenceFee,
    /// [`Rule::LeaseBan`].
    LeaseBan,
    /// [`Rule::DataResidency`].
    DataResidency,
    /// [`Rule::ChipCap`].
    ChipCap,
    /// [`Rule::PermitDelay`].
    PermitDelay,
    /// [`Rule::DomesticMandate`].
    DomesticMandate,
    /// [`Rule::SupplyShock`].
    SupplyShock,
    /// [`Rule::GreyEnforcement`].
    GreyEnforcement,
    /// [`Rule::OutputAllocation`].
    OutputAllocation,
}

impl RuleKind {
    /// Every kind, in the order of the format (a unit test checks that none is missing).
    pub const ALL: [RuleKind; 10] = [
        RuleKind::ExportBan,
        RuleKind::LicenceFee,
        RuleKind::LeaseBan,
        RuleKind::DataResidency,
        RuleKind::ChipCap,
        RuleKind::PermitDelay,
        RuleKind::DomesticMandate,
        RuleKind::SupplyShock,
        RuleKind::GreyEnforcement,
        RuleKind::OutputAllocation,
    ];

    /// The name of every kind, in the order of [`RuleKind::ALL`] (for help texts, and for serde's
    /// "expected one of" list, which wants a `'static` slice).
    pub const NAMES: [&'static str; RuleKind::ALL.len()] = {
        let mut names = [""; RuleKind::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = RuleKind::ALL[i].name();
            i += 1;
        }
        names
    };

    /// The name as written in scenarios: `rule = "export_ban"`.
    pub const fn name(self) -> &'static str {
        match self {
            RuleKind::ExportBan => "export_ban",
            RuleKind::LicenceFee => "licence_fee",
            RuleKind::LeaseBan => "lease_ban",
            RuleKind::DataResidency => "data_residency",
            RuleKind::ChipCap => "chip_cap",
            RuleKind::PermitDelay => "permit_delay",
            RuleKind::DomesticMandate => "domestic_mandate",
            RuleKind::SupplyShock => "supply_shock",
            RuleKind::GreyEnforcement => "grey_enforcement",
            RuleKind::OutputAllocation => "output_allocation",
        }
    }

    /// The kind written `name` in scenarios, if any.
    pub fn from_name(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A rule with its name, dates and source.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Unique name (labels charts; lets a what-if replace or switch off the rule).
    pub name: String,
    /// In force from this instant (clamped to the start of the run).
    pub from: SimTime,
    /// Out of force from this instant, if ever: 00:00 on the day after the last day in force
    /// (the scenario's `until`).
    pub until: Option<SimTime>,
    /// What it does.
    pub rule: Rule,
    /// Where the rule comes from.
    pub source: Option<String>,
}

impl Policy {
    /// Whether the rule is in force at `t`.
    pub fn in_force(&self, t: SimTime) -> bool {
        t >= self.from && self.until.is_none_or(|u| t < u)
    }

    /// Instants at which this rule changes what is allowed (start, end, lease-ban deadline).
    pub fn change_points(&self) -> Vec<SimTime> {
        let mut v = vec![self.from];
        if let Rule::LeaseBan { grace, .. } = &self.rule {
            v.push(self.from.saturating_add(*grace));
        }
        v.extend(self.until);
        v
    }
}

/// What is asked of a site: to place work there, to keep work there, or to sign (or renew) a
/// contract for capacity there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// A new placement (arrival, re-placement after eviction).
    Place,
    /// Work already running or queued at the site.
    Stay,
    /// A new contract for capacity at the site: a lease lot signed or renewed, an hour on demand
    /// bought, a block reserved, chips ordered.
    Sign,
}

/// The work being judged: whose it is and what data it carries.
#[derive(Clone, Copy, Debug)]
pub struct WorkRef<'a> {
    /// The firm that owns the work.
    pub firm: &'a Firm,
    /// Its index in the world.
    pub id: FirmId,
    /// The data class of the work, if any.
    pub data_class: Option<&'a str>,
}

/// What happens to a shipment of chips.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DeliveryVerdict {
    /// Deliver now, at most this many chips (a cap may cut the lot).
    Deliver {
        /// Chips allowed in.
        max_chips: u64,
    },
    /// Try again after `delay` (a permit); rule `rule` must not delay the same shipment again.
    Delay {
        /// Index of the delaying rule in the timeline.
        rule: usize,
        /// How long.
        delay: SimDuration,
    },
    /// The shipment is stopped.
    Banned,
}

/// All policies of a scenario, in scenario order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeline {
    /// The rules.
    pub policies: Vec<Policy>,
}

impl Timeline {
    /// May `work` be placed at (or stay at) `site` at `t`?
    pub fn allows(&self, work: WorkRef<'_>, site: &Site, t: SimTime, phase: Phase) -> bool {
        self.policies.iter().all(|p| {
            if !p.in_force(t) {
                return true;
            }
            match &p.rule {
                Rule::LeaseBan {
                    firms_headquartered_in,
                    grace,
                } => {
                    let applies = work.firm.headquarters == *firms_headquartered_in
                        && site.jurisdiction != *firms_headquartered_in
                        && site.operator == Operator::Foreign;
                    // From `from`: no new contracts; until the deadline, work keeps running where
                    // it runs, and may still be placed on capacity the firm holds under contract
                    // there (it pays for it until the deadline).
                    let deadline = p.from.saturating_add(*grace);
                    let contracted = matches!(
                        site.pricing,
                        Pricing::Contract { tenant, .. } if tenant == work.id
                    );
                    !applies
                        || (t < deadline
                            && match phase {
                                Phase::Stay => true,
                                Phase::Place => contracted,
                                Phase::Sign => false,
                            })
                }
                Rule::DataResidency { data_class } => {
                    work.data_class != Some(data_class.as_str())
                        || site.jurisdiction == work.firm.headquarters
                }
                // Rules on prices, deliveries, supply and inference shares: no say on where work
                // may run.
                Rule::ExportBan { .. }
                | Rule::LicenceFee { .. }
                | Rule::ChipCap { .. }
                | Rule::PermitDelay { .. }
                | Rule::DomesticMandate { .. }
                | Rule::SupplyShock { .. }
                | Rule::GreyEnforcement { .. }
                | Rule::OutputAllocation { .. } => true,
            }
        })
    }

    /// Multiplier on the chip-hour price of `chip` at `site` at `t` (1.0 when no rule applies).
    pub fn price_factor(&self, site: &Site, chip: &Chip, t: SimTime) -> f64 {
        self.policies
            .iter()
            .filter(|p| p.in_force(t))
            .map(|p| match &p.rule {
                Rule::LicenceFee {
                    chip: c,
                    to,
                    fee_fraction,
                } => {
                    if *c == chip.name && *to == site.jurisdiction {
                        1.0 + fee_fraction
                    } else {
                        1.0
                    }
                }
                Rule::ExportBan { .. }
                | Rule::LeaseBan { .. }
                | Rule::DataResidency { .. }
                | Rule::ChipCap { .. }
                | Rule::PermitDelay { .. }
                | Rule::DomesticMandate { .. }
                | Rule::SupplyShock { .. }
                | Rule::GreyEnforcement { .. }
                | Rule::OutputAllocation { .. } => 1.0,
            })
            .product()
    }

    /// Multiplier on the steady supply rate of `chip` at `t`.
    pub fn supply_factor(&self, chip: &Chip, t: SimTime) -> f64 {
        self.policies
            .iter()
            .filter(|p| p.in_force(t))
            .map(|p| match &p.rule {
                Rule::SupplyShock { chip: c, factor } => {
                    if *c == chip.name {
                        *factor
                    } else {
                        1.0
                    }
                }
                Rule::ExportBan { .. }
                | Rule::LicenceFee { .. }
                | Rule::LeaseBan { .. }
                | Rule::DataResidency { .. }
                | Rule::ChipCap { .. }
                | Rule::PermitDelay { .. }
                | Rule::DomesticMandate { .. }
                | Rule::GreyEnforcement { .. }
                | Rule::OutputAllocation { .. } => 1.0,
            })
            .product()
    }

    /// The chance that a grey-market lot of `chip` bound for `site` is seized at `t`: the highest
    /// of the enforcement rules in force that reach it, else `own` (the channel's own chance).
    pub fn seizure(&self, site: &Site, chip: &Chip, t: SimTime, own: f64) -> f64 {
        let mut ruled: Option<f64> = None;
        for p in self.policies.iter().filter(|p| p.in_force(t)) {
            match &p.rule {
                Rule::GreyEnforcement {
                    to,
                    chip: c,
                    seizure,
                } => {
                    if *to == site.jurisdiction && c.as_ref().is_none_or(|c| *c == chip.name) {
                        ruled = Some(ruled.map_or(*seizure, |r: f64| r.max(*seizure)));
                    }
                }
                Rule::ExportBan { .. }
                | Rule::LicenceFee { .. }
                | Rule::LeaseBan { .. }
                | Rule::DataResidency { .. }
                | Rule::ChipCap { .. }
                | Rule::PermitDelay { .. }
                | Rule::DomesticMandate { .. }
                | Rule::SupplyShock { .. }
                | Rule::OutputAllocation { .. } => {}
            }
        }
        ruled.unwrap_or(own)
    }

    /// What happens to `chips` chips arriving at `site` at `t`.
    ///
    /// `already_delayed` lists rules (by index) that delayed this shipment before, so a permit
    /// delays a shipment once. `installed_in_country(chip_filter)` tells how many chips the sites of
    /// the site's country hold now (of one chip, or all when `None`), for caps.
    pub fn delivery(
        &self,
        site: &Site,
        chip: &Chip,
        chips: u64,
        t: SimTime,
        already_delayed: &[usize],
        installed_in_country: &dyn Fn(Option<&str>) -> u64,
    ) -> DeliveryVerdict {
        let mut max_chips = chips;
        for (i, p) in self.policies.iter().enumerate() {
            if !p.in_force(t) {
                continue;
            }
            let chip_matches = |c: &Option<String>| c.as_deref().is_none_or(|c| c == chip.name);
            match &p.rule {
                Rule::ExportBan { chip: c, to } => {
                    if *c == chip.name && *to == site.jurisdiction {
                        return DeliveryVerdict::Banned;
                    }
                }
                Rule::PermitDelay {
                    through,
                    chip: c,
                    delay,
                } => {
                    if *through == site.jurisdiction
                        && chip_matches(c)
                        && !already_delayed.contains(&i)
                    {
                        return DeliveryVerdict::Delay {
                            rule: i,
                            delay: *delay,
                        };
                    }
                }
                Rule::ChipCap {
                    country,
                    chip: c,
                    max_chips: cap,
                } => {
                    if *country == site.jurisdiction && chip_matches(c) {
                        let have = installed_in_country(c.as_deref());
                        max_chips = max_chips.min(cap.saturating_sub(have));
                    }
                }
                // Prices, where work runs, inference shares: no say on shipments. (A supply
                // shock scales the steady supply rate, see `supply_factor`, not a shipment.)
                Rule::LicenceFee { .. }
                | Rule::LeaseBan { .. }
                | Rule::DataResidency { .. }
                | Rule::DomesticMandate { .. }
                | Rule::SupplyShock { .. }
                | Rule::GreyEnforcement { .. }
                | Rule::OutputAllocation { .. } => {}
            }
        }
        DeliveryVerdict::Deliver { max_chips }
    }

    /// Share of `firm`'s inference that must run on chips made in its home country, at `t`.
    pub fn domestic_inference_share(&self, firm: &Firm, t: SimTime) -> f64 {
        self.policies
            .iter()
            .filter(|p| p.in_force(t))
            .filter_map(|p| match &p.rule {
                Rule::DomesticMandate {
                    firms_headquartered_in,
                    share,
                } => (*firms_headquartered_in == firm.headquarters).then_some(*share),
                Rule::ExportBan { .. }
                | Rule::LicenceFee { .. }
                | Rule::LeaseBan { .. }
                | Rule::DataResidency { .. }
                | Rule::ChipCap { .. }
                | Rule::PermitDelay { .. }
                | Rule::SupplyShock { .. }
                | Rule::GreyEnforcement { .. }
                | Rule::OutputAllocation { .. } => None,
            })
            .fold(0.0, f64::max)
    }

    /// How the output of `chip` made in `country` is allocated among open orders at `t`: by the
    /// last `output_allocation` rule in force that reaches it (in timeline order), or `None`
    /// (each firm takes up to its own `order_share`).
    pub fn allocation(&self, country: &str, chip: &Chip, t: SimTime) -> Option<Allocation<'_>> {
        let mut found = None;
        for p in self.policies.iter().filter(|p| p.in_force(t)) {
            match &p.rule {
                Rule::OutputAllocation {
                    country: c,
                    chip: only,
                    orders_share,
                    priority,
                } => {
                    if c == country && only.as_ref().is_none_or(|x| *x == chip.name) {
                        found = Some(Allocation {
                            orders_share: *orders_share,
                            priority,
                        });
                    }
                }
                Rule::ExportBan { .. }
                | Rule::LicenceFee { .. }
                | Rule::LeaseBan { .. }
                | Rule::DataResidency { .. }
                | Rule::ChipCap { .. }
                | Rule::PermitDelay { .. }
                | Rule::DomesticMandate { .. }
                | Rule::SupplyShock { .. }
                | Rule::GreyEnforcement { .. } => {}
            }
        }
        found
    }

    /// Every instant at which some rule changes what is allowed, sorted, without duplicates.
    pub fn change_points(&self) -> Vec<SimTime> {
        let mut v: Vec<SimTime> = self
            .policies
            .iter()
            .flat_map(|p| p.change_points())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_kind_has_one_name_that_reads_back() {
        let mut names = RuleKind::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RuleKind::ALL.len(), "{:?}", RuleKind::NAMES);
        for (k, name) in RuleKind::ALL.into_iter().zip(RuleKind::NAMES) {
            assert_eq!(k.name(), name);
            assert_eq!(RuleKind::from_name(name), Some(k));
        }
        assert_eq!(RuleKind::from_name("export-ban"), None);
    }

    #[test]
    fn a_rule_reports_its_kind() {
        let ban = Rule::ExportBan {
            chip: "h20".into(),
            to: "CN".into(),
        };
        assert_eq!(ban.rule_kind(), RuleKind::ExportBan);
        assert_eq!(ban.kind(), "export_ban");
        let shock = Rule::SupplyShock {
            chip: "910c".into(),
            factor: 0.5,
        };
        assert_eq!(shock.kind(), "supply_shock");
    }

    #[test]
    fn in_force_holds_on_from_to_the_instant_before_until() {
        let p = Policy {
            name: "fee".into(),
            from: SimTime(10),
            until: Some(SimTime(20)),
            rule: Rule::DataResidency {
                data_class: "x".into(),
            },
            source: None,
        };
        assert!(!p.in_force(SimTime(9)));
        assert!(p.in_force(SimTime(10)));
        assert!(p.in_force(SimTime(19)));
        assert!(!p.in_force(SimTime(20)));
    }
}
