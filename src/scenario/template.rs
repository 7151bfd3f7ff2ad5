//! The validated template of a scenario's replications: the nominal world, plus where each figure
//! given as a distribution lands in it, so that a replication only draws its values and sets them
//! on a copy of the world, without validating the scenario again.
//!
//! Loading checked each distribution's whole support against the figure's range, so a draw is
//! always valid; [`Template::world_for`] still checks each drawn value against its range (a cheap
//! comparison) and reports a failure like a load error, naming the replication.

use crate::engine::{rng, SimDuration};
use crate::model::{self, Arrivals, Pricing, Rule, WorkloadKind};

use super::locate::Seg;
use super::validate::{drawn, input_key, Bound, Issue};
use super::UncertainInput;

/// Which entity of the world a figure belongs to, by index in the world's vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// `world.chips[i]`.
    Chip(usize),
    /// `world.sites[i]`.
    Site(usize),
    /// `world.firms[f]`: its planning, or its demand share.
    Firm(usize),
    /// `world.firms[f].workloads[w]`.
    Workload(usize, usize),
    /// `world.timeline.policies[i]`.
    Policy(usize),
}

/// A figure of a chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChipFigure {
    Bf16DenseTflops,
    MemoryGb,
    BoardPowerW,
    AllInPowerW,
    TrainingMfu,
    InferenceTokensPerS,
    PurchaseUsd,
    LeaseUsdPerChipHour,
    IdlePowerFraction,
}

/// A figure of a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SiteFigure {
    LeaseUsdPerChipHour,
    OnDemandPremium,
    AmortisationYears,
    ElectricityUsdPerKwh,
    Pue,
    MtbfHours,
    RepairHours,
    PowerCapMw,
    /// A steady supply's, or a procurement channel's, chips a year (a site has one or the other).
    SupplyChipsPerYear,
    ProcurementLeadDays,
    ProcurementPremium,
    ProcurementSeizure,
    ReserveShare,
    ReserveMarkup,
    BuyingBusyAbove,
}

/// A figure of a firm: of its planning, or its demand share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirmFigure {
    OrderShare,
    RiskAversion,
    LeaseBanRisk,
    HomePremium,
    SwitchMargin,
    /// `demand.share`: applied after every draw, by [`split_demand`].
    DemandShare,
}

/// A figure of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorkloadFigure {
    EveryDays,
    MeanGapDays,
    CheckpointHours,
    RestartHours,
    TokensPerDay,
    GrowthPerYear,
    DailyAmplitude,
    PeakHour,
    BatchHours,
}

/// A figure of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PolicyFigure {
    FeeFraction,
    GraceDays,
    DelayDays,
    InferenceShare,
    Factor,
    Seizure,
    OrdersShare,
}

/// One figure of the world, by owner and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Figure {
    Chip(usize, ChipFigure),
    Site(usize, SiteFigure),
    Firm(usize, FirmFigure),
    Workload(usize, usize, WorkloadFigure),
    Policy(usize, PolicyFigure),
}

impl Figure {
    /// The figure `key` (the last key of its field path) of `owner`, if it is one that may be a
    /// distribution.
    pub(crate) fn of(owner: Owner, key: &str) -> Option<Figure> {
        Some(match owner {
            Owner::Chip(i) => Figure::Chip(
                i,
                match key {
                    "bf16_dense_tflops" => ChipFigure::Bf16DenseTflops,
                    "memory_gb" => ChipFigure::MemoryGb,
                    "board_power_w" => ChipFigure::BoardPowerW,
                    "all_in_power_w" => ChipFigure::AllInPowerW,
                    "training_mfu" => ChipFigure::TrainingMfu,
                    "inference_tokens_per_s" => ChipFigure::InferenceTokensPerS,
                    "purchase_usd" => ChipFigure::PurchaseUsd,
                    "lease_usd_per_chip_hour" => ChipFigure::LeaseUsdPerChipHour,
                    "idle_power_fraction" => ChipFigure::IdlePowerFraction,
                    _ => return None,
                },
            ),
            Owner::Site(i) => Figure::Site(
                i,
                match key {
                    "lease_usd_per_chip_hour" => SiteFigure::LeaseUsdPerChipHour,
                    "on_demand_premium" => SiteFigure::OnDemandPremium,
                    "amortisation_years" => SiteFigure::AmortisationYears,
                    "electricity_usd_per_kwh" => SiteFigure::ElectricityUsdPerKwh,
                    "pue" => SiteFigure::Pue,
                    "mtbf_hours" => SiteFigure::MtbfHours,
                    "repair_hours" => SiteFigure::RepairHours,
                    "power_cap_mw" => SiteFigure::PowerCapMw,
                    "chips_per_year" => SiteFigure::SupplyChipsPerYear,
                    "lead_days" => SiteFigure::ProcurementLeadDays,
                    "premium" => SiteFigure::ProcurementPremium,
                    "seizure" => SiteFigure::ProcurementSeizure,
                    "reserve_share" => SiteFigure::ReserveShare,
                    "reserve_markup" => SiteFigure::ReserveMarkup,
                    "busy_above" => SiteFigure::BuyingBusyAbove,
                    _ => return None,
                },
            ),
            Owner::Firm(f) => Figure::Firm(
                f,
                match key {
                    "order_share" => FirmFigure::OrderShare,
                    "risk_aversion" => FirmFigure::RiskAversion,
                    "lease_ban_risk" => FirmFigure::LeaseBanRisk,
                    "home_premium" => FirmFigure::HomePremium,
                    "switch_margin" => FirmFigure::SwitchMargin,
                    "share" => FirmFigure::DemandShare,
                    _ => return None,
                },
            ),
            Owner::Workload(f, w) => Figure::Workload(
                f,
                w,
                match key {
                    "every_days" => WorkloadFigure::EveryDays,
                    "mean_gap_days" => WorkloadFigure::MeanGapDays,
                    "checkpoint_hours" => WorkloadFigure::CheckpointHours,
                    "restart_hours" => WorkloadFigure::RestartHours,
                    "tokens_per_day" => WorkloadFigure::TokensPerDay,
                    "growth_per_year" => WorkloadFigure::GrowthPerYear,
                    "daily_amplitude" => WorkloadFigure::DailyAmplitude,
                    "peak_hour" => WorkloadFigure::PeakHour,
                    "batch_hours" => WorkloadFigure::BatchHours,
                    _ => return None,
                },
            ),
            Owner::Policy(i) => Figure::Policy(
                i,
                match key {
                    "fee_fraction" => PolicyFigure::FeeFraction,
                    "grace_days" => PolicyFigure::GraceDays,
                    "delay_days" => PolicyFigure::DelayDays,
                    "inference_share" => PolicyFigure::InferenceShare,
                    "factor" => PolicyFigure::Factor,
                    "seizure" => PolicyFigure::Seizure,
                    "orders_share" => PolicyFigure::OrdersShare,
                    _ => return None,
                },
            ),
        })
    }
}

/// How a figure's value becomes the model's: as the number, or as a duration of so many seconds
/// per unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Conversion {
    /// The number as drawn.
    Number,
    /// A duration: the number times this many seconds.
    Duration(f64),
}

/// A value converted for the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Value {
    Number(f64),
    Duration(SimDuration),
}

/// Where one uncertain figure lands, and what its draws must satisfy.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Slot {
    /// The figure.
    pub figure: Figure,
    /// Its field path in the merged document (to locate an error).
    pub path: Vec<Seg>,
    /// Its range.
    pub bound: Bound,
    /// Number or duration.
    pub conversion: Conversion,
    /// What the figure is (the help of a range error).
    pub help: String,
    /// Sites whose lease price is this chip's (they leave `lease_usd_per_chip_hour` out), for a
    /// chip's lease price.
    pub followers: Vec<usize>,
}

/// Firms that split one demand path (`[firms.<name>.demand]` with the same `group`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Split {
    /// The group's name.
    pub group: String,
    /// Its firms, in the scenario's order.
    pub members: Vec<Member>,
}

/// One firm of a [`Split`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Member {
    /// Index of the firm in `world.firms`.
    pub firm: usize,
    /// The share its inference segments are written at (the group's sum to 1).
    pub written_at: f64,
    /// Its share in the nominal world (a distribution's nominal value).
    pub nominal: f64,
    /// `(workload index, tokens_per_day as written)` of each of its inference workloads.
    pub written: Vec<(usize, f64)>,
}

/// Scales each member's inference segments by its share over the share they are written at,
/// renormalised so that the group's shares keep the sum of what they are written at (1):
/// `factor_i = (s_i / w_i) x (sum w / sum s)`. Every member's segments are its `w_i` of one path
/// `R(t)`, so the group's total `sum_i factor_i w_i R(t) = sum_i w_i R(t)` is as written; only its
/// split moves. `share(f)` is firm `f`'s share in this world. The segments must hold their written
/// values (or this replication's draws of them) when it is called.
pub(crate) fn split_demand(
    firms: &mut [model::Firm],
    splits: &[Split],
    share: impl Fn(usize) -> f64,
) {
    for split in splits {
        let shares: Vec<f64> = split.members.iter().map(|m| share(m.firm)).collect();
        if shares
            .iter()
            .zip(&split.members)
            .all(|(s, m)| *s == m.written_at)
        {
            // Every share at what the segments are written at: the world is the file as written.
            continue;
        }
        let written: f64 = split.members.iter().map(|m| m.written_at).sum();
        let drawn: f64 = shares.iter().sum();
        if drawn.is_nan() || drawn <= 0.0 {
            // Every share at 0 (ranges that reach 0): no split to renormalise.
            continue;
        }
        for (m, s) in split.members.iter().zip(&shares) {
            let factor = (s / m.written_at) * (written / drawn);
            let firm = &mut firms[m.firm];
            for &(w, _) in &m.written {
                if let WorkloadKind::Inference(i) = &mut firm.workloads[w].kind {
                    i.tokens_per_day *= factor;
                }
            }
        }
    }
}

/// Each member's share in the run, as [`split_demand`] applies it: its share x the sum of the
/// group's `written_at` / the sum of the group's shares (what the shares sum to then), or its
/// `written_at` where the shares sum to nothing (the segments stay as written). `(firm, share)`,
/// in the order of the splits and their members.
fn shares_in_run(splits: &[Split], share: impl Fn(usize) -> f64) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for split in splits {
        let shares: Vec<f64> = split.members.iter().map(|m| share(m.firm)).collect();
        let written: f64 = split.members.iter().map(|m| m.written_at).sum();
        let drawn: f64 = shares.iter().sum();
        for (m, s) in split.members.iter().zip(&shares) {
            let used = if drawn.is_nan() || drawn <= 0.0 {
                m.written_at
            } else {
                s * (written / drawn)
            };
            out.push((m.firm, used));
        }
    }
    out
}

/// The nominal world and the slots of its uncertain figures, in the order of the scenario's
/// inputs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Template {
    /// The nominal world, validated.
    pub world: model::World,
    /// `slots[i]` is where `inputs[i]` lands.
    pub slots: Vec<Slot>,
    /// The demand paths firms split, applied after every draw.
    pub splits: Vec<Split>,
}

impl Template {
    /// Replication `replication`'s world under `seed`, and the value drawn for each input: each
    /// from its own stream `rng::stream_by_key(seed, replication, input_key(path))`, in the order
    /// of `inputs`, set on a copy of the nominal world.
    pub(crate) fn world_for(
        &self,
        inputs: &[UncertainInput],
        seed: u64,
        replication: u64,
    ) -> Result<(model::World, Vec<(String, f64)>), Issue> {
        let mut world = self.world.clone();
        // The template world's segments are split at the nominal shares: start again from what
        // they are written at (a draw of one then replaces it), so that a replication's world is
        // the one validating around its draws builds, to the bit.
        for m in self.splits.iter().flat_map(|s| &s.members) {
            for &(w, tokens) in &m.written {
                if let WorkloadKind::Inference(i) = &mut world.firms[m.firm].workloads[w].kind {
                    i.tokens_per_day = tokens;
                }
            }
        }
        let mut draws = Vec::with_capacity(inputs.len());
        let mut shares: Vec<(usize, f64)> = Vec::new();
        for (input, slot) in inputs.iter().zip(&self.slots) {
            let mut g = rng::stream_by_key(seed, replication, input_key(&input.path));
            let v = input.quantity.sample(&mut g);
            let value = drawn(v, slot)?;
            if let Figure::Firm(f, FirmFigure::DemandShare) = slot.figure {
                shares.push((f, v));
                draws.push((input.path.clone(), v));
                continue;
            }
            set(&mut world, slot, value).map_err(|what| Issue {
                path: slot.path.clone(),
                want: super::locate::Want::Value,
                message: format!("internal error: the template world has no {what}"),
                help: "this is a bug in capsim; please report it with the scenario".into(),
            })?;
            draws.push((input.path.clone(), v));
        }
        split_demand(&mut world.firms, &self.splits, |f| self.share(&shares, f));
        Ok((world, draws))
    }

    /// Firm `f`'s share in a replication that drew `shares` (`(firm, draw)`): its draw, or its
    /// nominal share where it has none.
    fn share(&self, shares: &[(usize, f64)], f: usize) -> f64 {
        shares.iter().find(|&&(g, _)| g == f).map_or_else(
            || {
                let mut members = self.splits.iter().flat_map(|s| &s.members);
                members.find(|m| m.firm == f).map_or(0.0, |m| m.nominal)
            },
            |&(_, v)| v,
        )
    }

    /// The value each of `draws` (as [`Template::world_for`] returns them, in the order of the
    /// inputs) has in the replication: the draw itself, but for a firm's `demand.share`, its share
    /// in the run ([`shares_in_run`]: renormalised over its group).
    pub(crate) fn in_run(&self, draws: &[(String, f64)]) -> Vec<f64> {
        let share_slot = |slot: &Slot| match slot.figure {
            Figure::Firm(f, FirmFigure::DemandShare) => Some(f),
            _ => None,
        };
        let shares: Vec<(usize, f64)> = self
            .slots
            .iter()
            .zip(draws)
            .filter_map(|(slot, &(_, v))| share_slot(slot).map(|f| (f, v)))
            .collect();
        let in_run = shares_in_run(&self.splits, |f| self.share(&shares, f));
        self.slots
            .iter()
            .zip(draws)
            .map(|(slot, &(_, v))| {
                share_slot(slot)
                    .and_then(|f| in_run.iter().find(|&&(g, _)| g == f))
                    .map_or(v, |&(_, used)| used)
            })
            .collect()
    }
}

/// Sets `value` on the figure `slot` names; `Err` names what the world lacks (a bug).
fn set(world: &mut model::World, slot: &Slot, value: Value) -> Result<(), String> {
    let number = |what: &str| match value {
        Value::Number(v) => Ok(v),
        Value::Duration(_) => Err(format!("number for {what}")),
    };
    let duration = |what: &str| match value {
        Value::Duration(d) => Ok(d),
        Value::Number(_) => Err(format!("duration for {what}")),
    };
    match slot.figure {
        Figure::Chip(i, figure) => {
            let chip = world.chips.get_mut(i).ok_or(format!("chip {i}"))?;
            let v = number("a chip figure")?;
            let field = match figure {
                ChipFigure::Bf16DenseTflops => &mut chip.bf16_dense_tflops,
                ChipFigure::MemoryGb => &mut chip.memory_gb,
                ChipFigure::BoardPowerW => &mut chip.board_power_w,
                ChipFigure::AllInPowerW => &mut chip.all_in_power_w,
                ChipFigure::TrainingMfu => &mut chip.training_mfu,
                ChipFigure::InferenceTokensPerS => &mut chip.inference_tokens_per_s,
                ChipFigure::PurchaseUsd => &mut chip.purchase_usd,
                ChipFigure::LeaseUsdPerChipHour => &mut chip.lease_usd_per_chip_hour,
                ChipFigure::IdlePowerFraction => &mut chip.idle_power_fraction,
            };
            *field = v;
            if figure == ChipFigure::LeaseUsdPerChipHour {
                for &s in &slot.followers {
                    let site = world.sites.get_mut(s).ok_or(format!("site {s}"))?;
                    match &mut site.pricing {
                        Pricing::Lease {
                            usd_per_chip_hour, ..
                        }
                        | Pricing::Contract {
                            usd_per_chip_hour, ..
                        } => *usd_per_chip_hour = v,
                        Pricing::Owned { .. } => return Err(format!("lease price at site {s}")),
                    }
                }
            }
        }
        Figure::Site(i, figure) => {
            let site = world.sites.get_mut(i).ok_or(format!("site {i}"))?;
            let v = number("a site figure")?;
            match figure {
                SiteFigure::LeaseUsdPerChipHour => match &mut site.pricing {
                    Pricing::Lease {
                        usd_per_chip_hour, ..
                    }
                    | Pricing::Contract {
                        usd_per_chip_hour, ..
                    } => *usd_per_chip_hour = v,
                    Pricing::Owned { .. } => return Err(format!("lease price at site {i}")),
                },
                SiteFigure::ReserveShare => match &mut site.pricing {
                    Pricing::Contract { reserve_share, .. } => *reserve_share = v,
                    _ => return Err(format!("reserve share at site {i}")),
                },
                SiteFigure::ReserveMarkup => match &mut site.pricing {
                    Pricing::Contract { reserve_markup, .. } => *reserve_markup = v,
                    _ => return Err(format!("reserve markup at site {i}")),
                },
                SiteFigure::OnDemandPremium => match &mut site.pricing {
                    Pricing::Lease {
                        on_demand_premium, ..
                    } => *on_demand_premium = v,
                    _ => return Err(format!("on-demand premium at site {i}")),
                },
                SiteFigure::AmortisationYears => match &mut site.pricing {
                    Pricing::Owned {
                        amortisation_years, ..
                    } => *amortisation_years = v,
                    _ => return Err(format!("amortisation at site {i}")),
                },
                SiteFigure::BuyingBusyAbove => match &mut site.buying {
                    Some(b) => b.busy_above = v,
                    None => return Err(format!("buying at site {i}")),
                },
                SiteFigure::ElectricityUsdPerKwh => site.electricity_usd_per_kwh = v,
                SiteFigure::Pue => site.pue = v,
                SiteFigure::MtbfHours => site.mtbf_hours = v,
                SiteFigure::RepairHours => site.repair_hours = v,
                SiteFigure::PowerCapMw => site.power_cap_mw = Some(v),
                SiteFigure::SupplyChipsPerYear => match (&mut site.supply, &mut site.procurement) {
                    (Some(supply), _) => supply.chips_per_year = v,
                    (None, Some(pr)) => pr.chips_per_year = v,
                    (None, None) => return Err(format!("supply at site {i}")),
                },
                SiteFigure::ProcurementLeadDays
                | SiteFigure::ProcurementPremium
                | SiteFigure::ProcurementSeizure => {
                    let pr = site
                        .procurement
                        .as_mut()
                        .ok_or(format!("procurement at site {i}"))?;
                    match figure {
                        SiteFigure::ProcurementLeadDays => {
                            pr.lead = SimDuration::from_secs_f64(v * 86_400.0)
                        }
                        SiteFigure::ProcurementPremium => pr.premium = v,
                        _ => pr.seizure = v,
                    }
                }
            }
        }
        Figure::Firm(_, FirmFigure::DemandShare) => {
            // Applied after every draw, by `split_demand`.
        }
        Figure::Firm(f, figure) => {
            let v = number("a firm's planning figure")?;
            let pl = world
                .firms
                .get_mut(f)
                .and_then(|firm| firm.planning.as_mut())
                .ok_or(format!("planning of firm {f}"))?;
            *match figure {
                FirmFigure::OrderShare => &mut pl.order_share,
                FirmFigure::RiskAversion => &mut pl.risk_aversion,
                FirmFigure::LeaseBanRisk => &mut pl.lease_ban_risk,
                FirmFigure::HomePremium => &mut pl.home_premium,
                FirmFigure::SwitchMargin => &mut pl.switch_margin,
                FirmFigure::DemandShare => return Ok(()),
            } = v;
        }
        Figure::Workload(f, w, figure) => {
            let wl = world
                .firms
                .get_mut(f)
                .and_then(|firm| firm.workloads.get_mut(w))
                .ok_or(format!("workload {w} of firm {f}"))?;
            let what = format!("workload {w} of firm {f}");
            match (&mut wl.kind, figure) {
                (WorkloadKind::Batch(b), WorkloadFigure::EveryDays) => match &mut b.arrivals {
                    Arrivals::Every(d) => *d = duration(&what)?,
                    Arrivals::Poisson { .. } | Arrivals::At(_) => {
                        return Err(format!("every_days arrivals in {what}"))
                    }
                },
                (WorkloadKind::Batch(b), WorkloadFigure::MeanGapDays) => match &mut b.arrivals {
                    Arrivals::Poisson { mean_gap } => *mean_gap = duration(&what)?,
                    Arrivals::Every(_) | Arrivals::At(_) => {
                        return Err(format!("Poisson arrivals in {what}"))
                    }
                },
                (WorkloadKind::Batch(b), WorkloadFigure::CheckpointHours) => {
                    b.checkpoint = duration(&what)?
                }
                (WorkloadKind::Batch(b), WorkloadFigure::RestartHours) => {
                    b.restart = duration(&what)?
                }
                (WorkloadKind::Inference(i), WorkloadFigure::TokensPerDay) => {
                    i.tokens_per_day = number(&what)?
                }
                (WorkloadKind::Inference(i), WorkloadFigure::GrowthPerYear) => {
                    i.growth_per_year = number(&what)?
                }
                (WorkloadKind::Inference(i), WorkloadFigure::DailyAmplitude) => {
                    i.daily_amplitude = number(&what)?
                }
                (WorkloadKind::Inference(i), WorkloadFigure::PeakHour) => {
                    i.peak_hour = number(&what)?
                }
                (WorkloadKind::Inference(i), WorkloadFigure::BatchHours) => {
                    i.batch = duration(&what)?
                }
                (
                    WorkloadKind::Batch(_),
                    WorkloadFigure::TokensPerDay
                    | WorkloadFigure::GrowthPerYear
                    | WorkloadFigure::DailyAmplitude
                    | WorkloadFigure::PeakHour
                    | WorkloadFigure::BatchHours,
                )
                | (
                    WorkloadKind::Inference(_),
                    WorkloadFigure::EveryDays
                    | WorkloadFigure::MeanGapDays
                    | WorkloadFigure::CheckpointHours
                    | WorkloadFigure::RestartHours,
                ) => return Err(format!("{figure:?} in {what}")),
            }
        }
        Figure::Policy(i, figure) => {
            let p = world
                .timeline
                .policies
                .get_mut(i)
                .ok_or(format!("policy {i}"))?;
            let what = format!("{figure:?} in policy '{}'", p.name);
            match (&mut p.rule, figure) {
                (Rule::LicenceFee { fee_fraction, .. }, PolicyFigure::FeeFraction) => {
                    *fee_fraction = number(&what)?
                }
                (Rule::LeaseBan { grace, .. }, PolicyFigure::GraceDays) => {
                    *grace = duration(&what)?
                }
                (Rule::PermitDelay { delay, .. }, PolicyFigure::DelayDays) => {
                    *delay = duration(&what)?
                }
                (Rule::DomesticMandate { share, .. }, PolicyFigure::InferenceShare) => {
                    *share = number(&what)?
                }
                (Rule::SupplyShock { factor, .. }, PolicyFigure::Factor) => {
                    *factor = number(&what)?
                }
                (Rule::GreyEnforcement { seizure, .. }, PolicyFigure::Seizure) => {
                    *seizure = number(&what)?
                }
                (Rule::OutputAllocation { orders_share, .. }, PolicyFigure::OrdersShare) => {
                    *orders_share = number(&what)?
                }
                (
                    Rule::ExportBan { .. }
                    | Rule::LicenceFee { .. }
                    | Rule::LeaseBan { .. }
                    | Rule::DataResidency { .. }
                    | Rule::ChipCap { .. }
                    | Rule::PermitDelay { .. }
                    | Rule::DomesticMandate { .. }
                    | Rule::SupplyShock { .. }
                    | Rule::GreyEnforcement { .. }
                    | Rule::OutputAllocation { .. },
                    _,
                ) => return Err(what),
            }
        }
    }
    Ok(())
}
