//! The channels through which a firm that plans acquires capacity, and the two that buy chips
//! from abroad: licensed imports and the grey market.
//!
//! A firm's review (`model/sim/leasing.rs`) weighs one option per channel and site:
//! - [`Channel::Lease`]: a lot at one of its market sites (`model/market.rs`);
//! - [`Channel::Domestic`]: an order of domestic chips from limited national output
//!   (`model/sim/orders.rs`);
//! - [`Channel::Import`]: chips bought abroad and shipped in under the rules in force (a ban
//!   refuses them, a licence fee raises their price, a permit delays them, a cap takes what fits);
//! - [`Channel::Grey`]: smuggled chips, at a premium over the purchase price, that no export rule
//!   stops but that enforcement may seize on the way (a lot is seized whole with the chance the
//!   rules in force set, [`super::Timeline::seizure`], else the site's own).
//!
//! Import and grey chips go to a firm's own site that names the channel
//! (`procurement = { channel, ... }`): the site starts with what it lists, and grows only by the
//! firm's orders, at most `chips_per_year` a year (what the channel can bring: an export quota, a
//! smuggling network's reach): the channel sends orders one after another at that pace, and each
//! arrives `lead` after the channel has finished sending it.

use crate::engine::{SimDuration, SimTime};

use super::{Chip, Firm, FirmId, Pricing, Site, SiteId, Timeline};

pub use crate::metrics::Channel;

/// How a firm's own site buys chips from abroad, when its owner orders them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Procurement {
    /// [`Channel::Import`] or [`Channel::Grey`].
    pub channel: Channel,
    /// The most chips the channel brings in a year.
    pub chips_per_year: f64,
    /// From the channel sending an order to its chips at the site.
    pub lead: SimDuration,
    /// Orders are taken from here (the channel opens).
    pub from: SimTime,
    /// No chips are sent at or after this instant.
    pub until: SimTime,
    /// Price above the chip's purchase price (0.5: +50%); grey chips only.
    pub premium: f64,
    /// Chance that a grey lot is seized on the way when no rule sets one.
    pub seizure: f64,
    /// Chips per lot bought through the channel, if not the firm's `block_chips` (smuggled
    /// servers come in smaller lots than leased halls).
    pub lot_chips: Option<u64>,
}

/// The channel through which site `s` gets new capacity for firm `f`, if any: a lease at its
/// market sites, an import or grey purchase at its own sites that name one, a domestic order at its
/// own supplied sites at home (see [`super::order_sites`]).
pub fn site_channel(firms: &[Firm], sites: &[Site], f: usize, s: SiteId) -> Option<Channel> {
    let site = &sites[s.0 as usize];
    match site.pricing {
        Pricing::Contract {
            market: Some(_),
            tenant,
            ..
        } if tenant == FirmId(f as u32) => Some(Channel::Lease),
        Pricing::Contract {
            reserves: Some(_),
            tenant,
            ..
        } if tenant == FirmId(f as u32) => Some(Channel::Cloud),
        Pricing::Owned { owner: Some(o), .. } if o == FirmId(f as u32) => match site.procurement {
            Some(p) => Some(p.channel),
            None => super::order_sites(firms, sites, f)
                .contains(&s)
                .then_some(Channel::Domestic),
        },
        _ => None,
    }
}

/// What a chip bought for `site` costs at `t`, as a multiple of its purchase price: the rules'
/// licence fees and duties, or, through a grey channel, `1 + premium` instead (smuggled chips pay
/// no fee).
pub fn purchase_factor(timeline: &Timeline, site: &Site, chip: &Chip, t: SimTime) -> f64 {
    match site.procurement {
        Some(pr) if pr.channel == Channel::Grey => 1.0 + pr.premium,
        _ => timeline.price_factor(site, chip, t),
    }
}
