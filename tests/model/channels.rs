//! The channels a planning firm weighs besides leases: planned deliveries a rule refuses are
//! replaced, smuggled chips are bought when cheapest and seized as enforcement decides, imports
//! follow the rules on deliveries and their fees; every option weighed is a row of the decision log.
//!
//! The world: firm `acme` owns an H100 fleet at home (4,096 chips, 2,048 more on the first of each
//! month), may lease H100 in Malaysia ($2.00 an hour, plenty of room) and, by test, buy H100 through
//! a grey or an import channel for a second home site. Its training work: a 2,048-chip, ~15-day job
//! every 5 days, from January (and two more streams from February where a test wants waiting work).

use capsim::metrics::{Channel, Decision, LeaseAction, RunMetrics, Why};

use crate::support::{load, run, site_index, H100_TOML as H100};

const EXPORT_BAN: &str = r#"
[[policy]]
name = "h100-ban"
rule = "export_ban"
chip = "h100"
to = "CN"
from = 2025-04-01
"#;

/// The world; `channel` is the second home site's `procurement` (or `None`), `extra` is appended.
fn world(channel: Option<&str>, second_stream: bool, replace_refused: bool, extra: &str) -> String {
    let deliveries: Vec<String> = (1..=12)
        .map(|m| format!("{{ date = 2025-{m:02}-01, chips = 2048 }}"))
        .collect();
    let mut workloads = String::new();
    let streams: &[(&str, &str)] = if second_stream {
        &[
            ("a", "2025-01-01"),
            ("b", "2025-02-01"),
            ("c", "2025-02-01"),
        ]
    } else {
        &[("a", "2025-01-01")]
    };
    for (name, start) in streams {
        workloads.push_str(&format!(
            r#"
[[firms.acme.workloads]]
name = "{name}"
kind = "training"
start_date = {start}
end_date = 2025-12-31
arrivals = {{ every_days = 5 }}
size_flop = 1.05e24
gang_chips = 2048
checkpoint_hours = 1.0
restart_hours = 0.5
"#
        ));
    }
    let (bought, listed) = match channel {
        Some(p) => (
            format!(
                r#"
[sites.bought]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
procurement = {p}
"#
            ),
            r#", "bought""#,
        ),
        None => (String::new(), ""),
    };
    format!(
        r#"name = "channels"
description = "a firm that weighs leases, smuggled chips and imports"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 11
{H100}
[markets.my]
jurisdiction = "MY"
capacity_mw = [{{ from = 2025-01-01, mw = 1000.0 }}]
open_share = 1.0
tight_above = 1.0
tight_premium = 0.0

[sites.home]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
initial_chips = 4096
deliveries = [{deliveries}]
{bought}
[sites.my-acme]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "contract"
tenant = "acme"
term_years = 1.0
market = "my"
lease_usd_per_chip_hour = 2.0
electricity_usd_per_kwh = 0.10
pue = 1.4
mtbf_hours = 1e9
repair_hours = 24.0

[firms.acme]
headquarters = "CN"
sites = ["home", "my-acme"{listed}]
placement = "earliest_finish"

[firms.acme.planning]
every_days = 30
lead_days = 30
block_chips = 1024
patience_days = 14
max_leased_chips = 1000000
replace_refused = {replace_refused}
{workloads}
{extra}"#,
        deliveries = deliveries.join(", "),
    )
}

fn of(m: &RunMetrics, action: LeaseAction) -> Vec<Decision> {
    m.decisions
        .iter()
        .copied()
        .filter(|d| d.action == action)
        .collect()
}

fn chips(ds: &[Decision]) -> u64 {
    ds.iter().map(|d| d.chips).sum()
}

const DAY: u64 = 86_400;

#[test]
fn planned_deliveries_a_rule_refuses_are_replaced_at_the_next_reviews() {
    // One stream of work: the home fleet keeps up and nothing waits, so only the plan gap can set
    // a lease off. Control: no ban, no decision at all.
    let m = &run(&load(&world(None, false, true, "")), 1).runs[0];
    assert!(m.decisions.is_empty(), "{:?}", m.decisions);
    // The ban refuses the 2,048 chips due on the first of each month from April (9 x 2,048): the
    // firm leases as many H100 abroad (whole lots of 1,024), at reviews from the ban on.
    let sc = load(&world(None, false, true, EXPORT_BAN));
    let m = &run(&sc, 1).runs[0];
    let signed = of(m, LeaseAction::Sign);
    let refused: u64 = m.site[site_index(&sc, "home")]
        .iter()
        .map(|p| p.chips_refused)
        .sum();
    assert_eq!(refused, 9 * 2048);
    assert!(signed
        .iter()
        .all(|d| d.at.0 >= 90 * DAY && d.gap_pflops > 0.0));
    assert!(signed.iter().all(|d| d.need_chips == 0), "{signed:?}");
    // Reviews come every 30 days from day 30; the last refusal (Dec 1) is replaced at the review
    // of Dec 26 (day 360), so all 18,432 are replaced.
    assert_eq!(chips(&signed), 9 * 2048, "{signed:?}");
    // The gap left at the end is nothing; what was replaced shows abroad.
    assert_eq!(m.firm[0].last().unwrap().plan_gap_pflops, 0.0);
    // Switched off, the same ban sets nothing off (nothing waits).
    let m = &run(&load(&world(None, false, false, EXPORT_BAN)), 1).runs[0];
    assert!(of(m, LeaseAction::Sign).is_empty(), "{:?}", m.decisions);

    // With three streams of work the refused chips also leave work waiting: the waiting gangs and
    // the gap are one shortfall, so replacing the plan adds less than the refused chips to what
    // the firm leases for its waiting work alone.
    let leased = |replace: bool| -> u64 {
        let m = &run(&load(&world(None, true, replace, EXPORT_BAN)), 1).runs[0];
        chips(&of(m, LeaseAction::Sign))
    };
    let (waiting_only, both) = (leased(false), leased(true));
    assert!(waiting_only > 0);
    assert!(both >= waiting_only, "{both} vs {waiting_only}");
    assert!(both < waiting_only + 9 * 2048, "{both} vs {waiting_only}");
}

/// A grey channel for H100 at home: `per_year` chips a year, 14 days, +50% over the $25,000 list
/// price (capex $1.07 an hour: cheaper than the $2.00 lease), `seizure` its own chance.
fn grey(seizure: f64, per_year: u64) -> String {
    format!(
        "{{ channel = \"grey\", chips_per_year = {per_year}, lead_days = 14, premium = 0.5, \
         seizure = {seizure:?} }}"
    )
}

#[test]
fn smuggled_chips_are_bought_when_cheapest_and_the_review_logs_every_option() {
    let sc = load(&world(Some(&grey(0.0, 24_000)), true, false, ""));
    let m = &run(&sc, 1).runs[0];
    let bought = of(m, LeaseAction::Grey);
    assert!(!bought.is_empty(), "{:?}", m.decisions);
    // Every review that found need weighed both options: the grey one ranked first.
    for d in &bought {
        assert_eq!(
            (d.channel, d.rank, d.why),
            (Channel::Grey, 1, Why::Cheapest)
        );
        // Capex at list +50% over 4 years, $1.070 an hour, and energy (1.3 kW x 1.3 x $0.08).
        let want = 25_000.0 * 1.5 / (4.0 * 8_760.0) + 1.3 * 1.3 * 0.08;
        assert!((d.usd_per_chip_hour - want).abs() < 1e-9, "{d:?}");
        let lease = m
            .decisions
            .iter()
            .find(|x| x.at == d.at && x.channel == Channel::Lease)
            .expect("the lease was weighed too");
        assert_eq!(lease.rank, 2);
        assert!(lease.usd_per_pflop_day > d.usd_per_pflop_day);
        // The lease is taken only for what the grey lot could not cover.
        match lease.action {
            LeaseAction::Sign => assert!(d.chips < d.need_chips),
            LeaseAction::Pass => assert_eq!(lease.why, Why::NeedMet),
            other => panic!("{other:?}"),
        }
    }
    // What was bought arrives 14 days later, lot by lot, at the channel's pace (24,000 a year):
    // every chip bought before the last 14 days is at the site.
    let site = site_index(&sc, "bought");
    let delivered: u64 = m.site[site].iter().map(|p| p.chips_delivered).sum();
    let placed: u64 = m.firm[0].iter().map(|p| p.grey_chips_placed).sum();
    assert_eq!(placed, chips(&bought));
    let open = m.firm[0].last().unwrap().procured_chips_open;
    assert_eq!(delivered + open, placed);
    assert!(
        placed <= 24_000 + 1024,
        "the channel's pace binds: {placed}"
    );
    assert_eq!(
        m.firm[0].iter().map(|p| p.grey_chips_seized).sum::<u64>(),
        0
    );
}

#[test]
fn enforcement_seizes_lots_on_the_way_and_prices_the_channel_out() {
    // From March 15 every smuggled lot bound for China is seized: what arrives after is lost (paid
    // for, never delivered: the lot bought on day 60 is on its way), and reviews from then on
    // price the channel at 1 / (1 - 1) = never.
    let rule = r#"
[[policy]]
name = "crackdown"
rule = "grey_enforcement"
to = "CN"
seizure = 1.0
from = 2025-03-15
"#;
    let sc = load(&world(Some(&grey(0.0, 240_000)), true, false, rule));
    let m = &run(&sc, 1).runs[0];
    let crackdown = 73 * DAY;
    let seized = of(m, LeaseAction::Seized);
    assert!(!seized.is_empty(), "{:?}", m.decisions);
    assert!(seized.iter().all(|d| d.at.0 >= crackdown));
    assert!(of(m, LeaseAction::Grey).iter().all(|d| d.at.0 < crackdown));
    let site = site_index(&sc, "bought");
    let delivered: u64 = m.site[site].iter().map(|p| p.chips_delivered).sum();
    let placed: u64 = m.firm[0].iter().map(|p| p.grey_chips_placed).sum();
    let lost: u64 = m.firm[0].iter().map(|p| p.grey_chips_seized).sum();
    assert_eq!(lost, chips(&seized));
    // Paid for, at the list price with the grey premium, and in no site's cost.
    let seized_usd: f64 = m.firm[0].iter().map(|p| p.seized_usd).sum();
    assert!((seized_usd - lost as f64 * 25_000.0 * 1.5).abs() < 1e-6 * seized_usd);
    assert_eq!(
        delivered + lost + m.firm[0].last().unwrap().procured_chips_open,
        placed
    );
    // Reviews after the crackdown do not buy: the channel is closed as enforced.
    let enforced: Vec<Decision> = of(m, LeaseAction::Pass)
        .into_iter()
        .filter(|d| d.channel == Channel::Grey && d.at.0 >= crackdown)
        .collect();
    assert!(!enforced.is_empty());
    assert!(
        enforced.iter().all(|d| d.why == Why::Enforced),
        "{enforced:?}"
    );
    // Leases take over: signed after the crackdown, and more than without it.
    let base = &run(&load(&world(Some(&grey(0.0, 240_000)), true, false, "")), 1).runs[0];
    let after = |m: &RunMetrics| -> u64 {
        chips(
            &of(m, LeaseAction::Sign)
                .into_iter()
                .filter(|d| d.at.0 >= crackdown)
                .collect::<Vec<_>>(),
        )
    };
    assert!(
        after(m) > after(base),
        "{} vs {}: {:?}",
        after(m),
        after(base),
        m.decisions
    );

    // A site's own chance: at 60% the expected price of a delivered chip is $1.07 / 0.4 = $2.68,
    // above the lease: the firm leases and logs the grey option as passed (need met).
    let m = &run(&load(&world(Some(&grey(0.6, 24_000)), true, false, "")), 1).runs[0];
    assert!(of(m, LeaseAction::Grey).is_empty());
    let passed: Vec<Decision> = of(m, LeaseAction::Pass)
        .into_iter()
        .filter(|d| d.channel == Channel::Grey)
        .collect();
    assert!(!passed.is_empty());
    assert!(passed.iter().all(|d| d.rank == 2 && d.why == Why::NeedMet));
}

/// An import channel for H100 at home: 48,000 a year, 30 days.
const IMPORT: &str = r#"{ channel = "import", chips_per_year = 48000, lead_days = 30 }"#;

#[test]
fn imports_follow_the_rules_on_deliveries_and_their_fees() {
    // With the H100 banned into China from April, the import channel is closed from then on
    // (logged as banned), and its earlier purchases are refused when they arrive after the ban.
    let sc = load(&world(Some(IMPORT), true, false, EXPORT_BAN));
    let m = &run(&sc, 1).runs[0];
    let imports = of(m, LeaseAction::Import);
    assert!(!imports.is_empty());
    assert!(imports.iter().all(|d| d.at.0 < 90 * DAY), "{imports:?}");
    // Bought before the ban, arriving after it: refused at the site, all of it.
    let site = site_index(&sc, "bought");
    let refused: u64 = m.site[site].iter().map(|p| p.chips_refused).sum();
    let delivered: u64 = m.site[site].iter().map(|p| p.chips_delivered).sum();
    assert_eq!(delivered + refused, chips(&imports));
    assert!(refused > 0);
    let banned: Vec<Decision> = of(m, LeaseAction::Pass)
        .into_iter()
        .filter(|d| d.channel == Channel::Import)
        .collect();
    assert!(!banned.is_empty());
    assert!(banned
        .iter()
        .all(|d| d.why == Why::Banned && d.at.0 >= 90 * DAY));

    // Without the ban the firm imports (owning is cheaper than leasing); a 25% licence fee raises
    // the import's cost per PFLOP-day as ranked by 25% of its capex.
    let free = &run(&load(&world(Some(IMPORT), true, false, "")), 1).runs[0];
    let fee = r#"
[[policy]]
name = "fee"
rule = "licence_fee"
chip = "h100"
to = "CN"
fee_fraction = 0.25
from = 2025-01-01
"#;
    let taxed = &run(&load(&world(Some(IMPORT), true, false, fee)), 1).runs[0];
    let first = |m: &RunMetrics| of(m, LeaseAction::Import)[0];
    let (a, b) = (first(free), first(taxed));
    assert!(a.chips > 0 && b.chips > 0);
    // Capex 25,000 / (4 x 8,760) = $0.713 an hour; energy 1.3 kW x PUE 1.3 x $0.08 = $0.135.
    let ratio = b.usd_per_chip_hour / a.usd_per_chip_hour;
    let want = (0.713 * 1.25 + 0.135) / (0.713 + 0.135);
    assert!((ratio - want).abs() < 0.01, "{ratio} vs {want}");
    assert!((b.usd_per_pflop_day / a.usd_per_pflop_day - ratio).abs() < 1e-9);

    // What the firm committed to, rebuilt from the decisions: each import at the list price plus
    // the 25% fee, each lease term signed or renewed at its price for the whole term.
    let sc = load(&world(Some(IMPORT), true, false, fee));
    let term_hours = match sc.world.sites[site_index(&sc, "my-acme")].pricing {
        capsim::model::Pricing::Contract { term, .. } => term.as_secs_f64() / 3_600.0,
        _ => unreachable!(),
    };
    let want: f64 = taxed
        .decisions
        .iter()
        .map(|d| match d.action {
            LeaseAction::Import => d.chips as f64 * 25_000.0 * 1.25,
            LeaseAction::Sign | LeaseAction::Renew => {
                d.chips as f64 * d.usd_per_chip_hour * term_hours
            }
            _ => 0.0,
        })
        .sum();
    let got: f64 = taxed.firm[0].iter().map(|p| p.commitments_usd).sum();
    assert!(
        want > 0.0 && (got - want).abs() <= 1e-9 * want,
        "{got} vs {want}"
    );
}

/// The national baseline, and 4 replications of it with and without the April 2025 H20 rule
/// (`us-h20-licence-cn` switched off: the same world in which the H20 arrive).
fn h20_runs() -> (
    capsim::scenario::Scenario,
    capsim::experiment::RunResult,
    capsim::experiment::RunResult,
) {
    let ban = capsim::scenario::baseline().unwrap();
    let mut free = ban.clone();
    free.set_field(
        "policy.us-h20-licence-cn.enabled",
        toml::Value::Boolean(false),
    )
    .unwrap();
    let (b, f) = (run(&ban, 4), run(&free, 4));
    (ban, b, f)
}

#[test]
fn on_the_national_baseline_the_h20_ban_sets_off_leases_orders_and_grey_purchases() {
    // The April 2025 H20 rule refuses the H20 that ByteDance and Alibaba had ordered (Nvidia's
    // $2.5bn that could not ship and ~$8bn lost, dated 2025-04-20 and 2025-06-12): their reviews
    // replace that plan through the channels open to them. Without the rule (the same world, the
    // policy switched off) the H20 arrive and no review finds a gap. Means over 4 replications.
    let (ban, b, f) = h20_runs();
    let april = ban.date_to_time(chrono::NaiveDate::from_ymd_opt(2025, 4, 9).unwrap());
    let sept = ban.date_to_time(chrono::NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
    let acquired = |r: &capsim::experiment::RunResult, action: LeaseAction| -> u64 {
        r.runs
            .iter()
            .flat_map(|m| m.decisions.iter())
            .filter(|d| d.action == action && d.at >= april && d.at < sept)
            .map(|d| d.chips)
            .sum()
    };
    for action in [LeaseAction::Sign, LeaseAction::Order, LeaseAction::Grey] {
        let (with, without) = (acquired(&b, action), acquired(&f, action));
        assert!(
            with > 0 && with > 2 * without,
            "{action:?}: {with} vs {without}"
        );
    }
    // The reviews that acted name the gap, not waiting work.
    let gapped = b
        .runs
        .iter()
        .flat_map(|m| m.decisions.iter())
        .filter(|d| d.at >= april && d.at < sept && d.action == LeaseAction::Sign)
        .all(|d| d.gap_pflops > 0.0);
    assert!(gapped);
    // Each firm signs leases abroad in those months; without the rule neither does.
    let firm = |name: &str| ban.world.firms.iter().position(|x| x.name == name).unwrap();
    let (bytedance, alibaba) = (firm("bytedance"), firm("alibaba"));
    let signed = |r: &capsim::experiment::RunResult, f: usize| -> u64 {
        r.runs
            .iter()
            .flat_map(|m| m.decisions.iter())
            .filter(|d| d.firm as usize == f && d.action == LeaseAction::Sign)
            .filter(|d| d.at >= april && d.at < sept)
            .map(|d| d.chips)
            .sum()
    };
    for x in [bytedance, alibaba] {
        assert!(signed(&b, x) > 0 && signed(&f, x) == 0, "firm {x}");
    }
    // Those leases show as training abroad in the quarters after (monthly periods from January
    // 2024): Alibaba's in Oct-Dec 2025 more than twice what it is without the rule; ByteDance's,
    // whose home fleets and reported offshore blocks are far larger, in Oct 2025-Mar 2026 more
    // than 5% above it (the FT's "offshore training rose steadily after the ban", RESEARCH 6.21).
    let abroad = |r: &capsim::experiment::RunResult, f: usize, periods: std::ops::Range<usize>| {
        r.runs
            .iter()
            .map(|m| {
                m.firm[f][periods.clone()]
                    .iter()
                    .map(|p| p.compute_abroad_pflop_days)
                    .sum::<f64>()
            })
            .sum::<f64>()
    };
    let (a_with, a_without) = (abroad(&b, alibaba, 21..24), abroad(&f, alibaba, 21..24));
    assert!(a_with > 2.0 * a_without, "alibaba {a_with} vs {a_without}");
    let (b_with, b_without) = (abroad(&b, bytedance, 21..27), abroad(&f, bytedance, 21..27));
    assert!(
        b_with > 1.05 * b_without,
        "bytedance {b_with} vs {b_without}"
    );
}

#[test]
fn on_the_national_baseline_every_firm_reviews_and_tencent_and_baidu_replace_their_refused_h20() {
    // Every one of the nine firms plans (RESEARCH 6.22), and its reviews weigh only its own
    // options (orders of the chips its own sites are supplied with, blocks at the clouds it
    // rents from, its grey site). A review that finds no need logs nothing (Zhipu's find none
    // here); Tencent, Baidu and DeepSeek log reviews in every replication, the other developers
    // in most (since they share the other-domestic cloud with three more renters, RESEARCH 6.23,
    // some replications find them no need: 18 of 20 in the baseline). The H20 rule refuses Tencent's and Baidu's planned H20 too: with it, their
    // reviews from April to September 2025 order domestic chips (Tencent also reserves cloud
    // blocks) to replace them, and acquire more than without it.
    let (ban, b, f) = h20_runs();
    let firms = &ban.world.firms;
    assert_eq!(firms.len(), 9);
    for (i, firm) in firms.iter().enumerate() {
        assert!(firm.planning.is_some(), "{} plans", firm.name);
        let acts = ["tencent", "baidu", "deepseek"].contains(&firm.name.as_str());
        if firm.name == "other-cn" {
            assert!(
                b.runs
                    .iter()
                    .any(|m| m.decisions.iter().any(|d| d.firm as usize == i)),
                "other-cn reviews"
            );
        }
        for m in &b.runs {
            let own: Vec<&Decision> = m
                .decisions
                .iter()
                .filter(|d| d.firm as usize == i)
                .collect();
            assert!(!acts || !own.is_empty(), "{} reviews", firm.name);
            for d in own {
                let site = &ban.world.sites[d.site as usize];
                assert!(
                    firm.sites.iter().any(|s| s.0 == d.site),
                    "{} weighs {} which it does not list",
                    firm.name,
                    site.name
                );
            }
        }
    }
    let april = ban.date_to_time(chrono::NaiveDate::from_ymd_opt(2025, 4, 9).unwrap());
    let oct = ban.date_to_time(chrono::NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
    let firm = |name: &str| firms.iter().position(|x| x.name == name).unwrap();
    let acquired = |r: &capsim::experiment::RunResult, f: usize| -> u64 {
        r.runs
            .iter()
            .flat_map(|m| m.decisions.iter())
            .filter(|d| d.firm as usize == f && d.at >= april && d.at < oct)
            .filter(|d| matches!(d.action, LeaseAction::Order | LeaseAction::Sign))
            .map(|d| d.chips)
            .sum()
    };
    // Tencent starts replacing its refused H20 (201,600 planned) with orders and blocks: about
    // 50,000 chips a replication by October, where without the rule it takes none.
    let tencent = firm("tencent");
    let (with, without) = (acquired(&b, tencent), acquired(&f, tencent));
    assert!(
        with > 20_000 * 4 && without == 0,
        "tencent: {with} vs {without}"
    );
    let orders_name_the_gap = b
        .runs
        .iter()
        .flat_map(|m| m.decisions.iter())
        .filter(|d| d.firm as usize == tencent && d.at >= april && d.at < oct)
        .filter(|d| d.action == LeaseAction::Order)
        .all(|d| d.gap_pflops > 0.0);
    assert!(orders_name_the_gap);
    // Baidu's only option is its share of the Kunlunxin line (about 35,000 chips a year), too
    // small to replace its refused 42,000 H20 within 180 days: it orders more than without the
    // rule, and its reviews pass the order as too slow while the gap is open.
    let baidu = firm("baidu");
    let (with, without) = (acquired(&b, baidu), acquired(&f, baidu));
    assert!(with > without, "baidu: {with} vs {without}");
    let too_slow = b
        .runs
        .iter()
        .flat_map(|m| m.decisions.iter())
        .filter(|d| d.firm as usize == baidu && d.at >= april && d.at < oct)
        .filter(|d| d.action == LeaseAction::Pass && d.gap_pflops > 0.0)
        .all(|d| d.why == Why::TooSlow);
    assert!(too_slow);
    let gapped = |r: &capsim::experiment::RunResult| {
        r.runs
            .iter()
            .flat_map(|m| m.decisions.iter())
            .filter(|d| d.firm as usize == baidu && d.at >= april && d.at < oct)
            .filter(|d| d.gap_pflops > 0.0)
            .count()
    };
    assert!(gapped(&b) > 0 && gapped(&f) == 0);
}

#[test]
fn a_supply_shock_s_cut_of_planned_supply_is_replaced_too() {
    // The home fleet grows by a steady 24,576 a year instead of monthly lots; from April a supply
    // shock halves it. The cut (12,288 a year over the 275 days left, ~9,250 chips) joins the
    // plan gap and is leased abroad in whole lots; without the shock nothing is.
    let supplied = |extra: &str| -> String {
        let w = world(None, false, true, extra);
        let start = w.find("deliveries = [").unwrap();
        let end = start + w[start..].find(']').unwrap() + 1;
        format!(
            "{}supply = {{ chips_per_year = 24576 }}{}",
            &w[..start],
            &w[end..]
        )
    };
    // Control: a lot early in January for work that waits (the first months' supply is slower to
    // come than a monthly lot), none after.
    let m = &run(&load(&supplied("")), 1).runs[0];
    assert!(
        of(m, LeaseAction::Sign).iter().all(|d| d.at.0 < 90 * DAY),
        "{:?}",
        m.decisions
    );
    let shock = r#"
[[policy]]
name = "shock"
rule = "supply_shock"
chip = "h100"
factor = 0.5
from = 2025-04-01
"#;
    let m = &run(&load(&supplied(shock)), 1).runs[0];
    let after: Vec<Decision> = of(m, LeaseAction::Sign)
        .into_iter()
        .filter(|d| d.at.0 >= 90 * DAY)
        .collect();
    assert!(after.iter().all(|d| d.gap_pflops > 0.0), "{after:?}");
    let signed = chips(&after);
    let cut = 12_288.0 * 275.0 / 365.25;
    // Replaced up to the last review (day 360): all but the last few days' cut, in whole lots.
    assert!(
        (signed as f64) >= cut - 2.0 * 1024.0 && (signed as f64) <= cut + 1024.0,
        "{signed} vs {cut}"
    );
}

/// The world with a second market, the UAE's, where `acme` may also lease H100 at `ae_price` an
/// hour; Malaysia's market holds `my_mw` MW.
fn two_markets(my_mw: f64, ae_price: f64) -> String {
    let w = world(None, true, false, "");
    let w = w.replace(
        "capacity_mw = [{ from = 2025-01-01, mw = 1000.0 }]",
        &format!("capacity_mw = [{{ from = 2025-01-01, mw = {my_mw:?} }}]"),
    );
    let w = w.replace(
        r#"sites = ["home", "my-acme"]"#,
        r#"sites = ["home", "my-acme", "ae-acme"]"#,
    );
    format!(
        r#"{w}
[markets.ae]
jurisdiction = "AE"
capacity_mw = [{{ from = 2025-01-01, mw = 1000.0 }}]
open_share = 1.0
tight_above = 1.0
tight_premium = 0.0

[sites.ae-acme]
jurisdiction = "AE"
operator = "foreign"
chip = "h100"
pricing = "contract"
tenant = "acme"
term_years = 1.0
market = "ae"
lease_usd_per_chip_hour = {ae_price:?}
electricity_usd_per_kwh = 0.08
pue = 1.4
mtbf_hours = 1e9
repair_hours = 24.0
"#
    )
}

#[test]
fn leasing_moves_to_a_second_market_only_when_the_first_is_full_or_dearer() {
    let signed_in = |m: &RunMetrics, sc: &capsim::scenario::Scenario, site: &str| -> u64 {
        let s = site_index(sc, site) as u32;
        chips(
            &of(m, LeaseAction::Sign)
                .into_iter()
                .filter(|d| d.site == s)
                .collect::<Vec<_>>(),
        )
    };
    // Malaysia has room and is cheaper ($2.00 against $2.50): every lot is signed there, and the
    // UAE is weighed second and passed.
    let sc = load(&two_markets(1000.0, 2.5));
    let m = &run(&sc, 1).runs[0];
    assert!(signed_in(m, &sc, "my-acme") > 0);
    assert_eq!(signed_in(m, &sc, "ae-acme"), 0);
    let ae = site_index(&sc, "ae-acme") as u32;
    assert!(of(m, LeaseAction::Pass)
        .iter()
        .filter(|d| d.site == ae)
        .all(|d| d.rank == 2 && d.why == Why::NeedMet));
    // Malaysia's open room holds about 1,500 H100 (2 MW at 1.3 kW all-in; one lot of 1,024 fits):
    // once it is full, reviews log it as having no room and lease in the UAE.
    let sc = load(&two_markets(2.0, 2.5));
    let m = &run(&sc, 1).runs[0];
    assert_eq!(signed_in(m, &sc, "my-acme"), 1024);
    assert!(signed_in(m, &sc, "ae-acme") > 0);
    let my = site_index(&sc, "my-acme") as u32;
    assert!(of(m, LeaseAction::Pass)
        .iter()
        .any(|d| d.site == my && d.why == Why::NoRoom));
    // The UAE cheaper ($1.80): it comes first, though Malaysia has room.
    let sc = load(&two_markets(1000.0, 1.8));
    let m = &run(&sc, 1).runs[0];
    assert!(signed_in(m, &sc, "ae-acme") > 0);
    assert_eq!(signed_in(m, &sc, "my-acme"), 0);
}

/// The world with quarterly lease terms, imports open from May, and `switch_margin`.
fn replacing_world(switch_margin: f64) -> String {
    replacing_world_with(switch_margin, "")
}

fn replacing_world_with(switch_margin: f64, extra: &str) -> String {
    let import =
        r#"{ channel = "import", chips_per_year = 48000, lead_days = 30, from = 2025-05-01 }"#;
    world(Some(import), true, false, extra)
        .replace("term_years = 1.0", "term_years = 0.25")
        .replace(
            "replace_refused = false",
            &format!("replace_refused = false\nswitch_margin = {switch_margin}"),
        )
}

#[test]
fn imports_cheaper_by_the_switch_margin_replace_leases_at_their_term_end() {
    // Leases ($2.00 an hour) are signed from January; imports (H100 at $0.848 an hour all in,
    // 58% cheaper) open in May. A review within `max_wait` of a lot's term end buys imports for
    // the lot's capacity, to arrive by then; at the term end the lot is released as far as they
    // arrived (held over month by month while they are on their way), its running work moving.
    let m = &run(&load(&replacing_world(0.25)), 1).runs[0];
    let bought: Vec<Decision> = of(m, LeaseAction::Import)
        .into_iter()
        .filter(|d| d.why == Why::ReplacesLease)
        .collect();
    assert!(!bought.is_empty(), "{:?}", m.decisions);
    assert!(bought
        .iter()
        .all(|d| d.at.0 >= 120 * DAY && d.channel == Channel::Import));
    // A replacement is logged with the lease's cost beaten: its cost as ranked, and the lot's
    // chips as the need it answers.
    assert!(bought
        .iter()
        .all(|d| d.usd_per_chip_hour < 0.9 && d.need_chips > 0));
    let released: Vec<Decision> = of(m, LeaseAction::Release)
        .into_iter()
        .filter(|d| d.why == Why::Replaced)
        .collect();
    assert!(!released.is_empty());
    let replaced: u64 = m.firm[0].iter().map(|p| p.lease_chips_replaced).sum();
    assert_eq!(replaced, chips(&released));
    // None goes before the first replacement was bought.
    let first = bought.iter().map(|d| d.at).min().unwrap();
    assert!(released.iter().all(|d| d.at > first));

    // Never replacing (switch_margin = 1): the same leases are renewed or let go idle, none is
    // replaced, and the firm pays more abroad.
    let never = &run(&load(&replacing_world(1.0)), 1).runs[0];
    assert!(never
        .decisions
        .iter()
        .all(|d| d.why != Why::ReplacesLease && d.why != Why::Replaced));
    assert_eq!(
        never.firm[0]
            .iter()
            .map(|p| p.lease_chips_replaced)
            .sum::<u64>(),
        0
    );
    // With steady work (the leases stay busy), replacing them costs the firm less abroad and in
    // all.
    let steady = |margin: f64| {
        let w = steady_world(30, 100).replace(
            "max_wait_days",
            &format!("switch_margin = {margin}\nmax_wait_days"),
        );
        run(&load(&w), 1).runs.remove(0)
    };
    let (a, b) = (steady(0.25), steady(1.0));
    let sum = |m: &RunMetrics, f: fn(&capsim::metrics::FirmPeriod) -> f64| {
        m.firm[0].iter().map(f).sum::<f64>()
    };
    assert!(sum(&a, |p| p.cost_abroad_usd) < 0.8 * sum(&b, |p| p.cost_abroad_usd));
    assert!(sum(&a, |p| p.cost_usd()) < sum(&b, |p| p.cost_usd()));
}

#[test]
fn a_lease_is_replaced_only_when_the_option_beats_it_by_the_switch_margin() {
    // The import costs 1 - 0.848 / 2.00 = 57.6% less than renewing: a margin just under that
    // replaces, one just over it does not.
    let replaces = |margin: f64| {
        let m = &run(&load(&replacing_world(margin)), 1).runs[0];
        m.decisions.iter().any(|d| d.why == Why::ReplacesLease)
    };
    assert!(replaces(0.55));
    assert!(!replaces(0.60));
}

/// A firm with no chips at home, steady work (a 4,096-chip, ~60-day job every 20 days: about
/// 12,000 chips busy), quarterly leases at $2.00 an hour, and H100 imports from March with a
/// `lead_days` lead, bought at most `max_wait_days` ahead.
fn steady_world(lead_days: u32, max_wait_days: u32) -> String {
    format!(
        r#"name = "steady"
description = "steady work on leases that imports replace"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 5
{H100}
[markets.my]
jurisdiction = "MY"
capacity_mw = [{{ from = 2025-01-01, mw = 1000.0 }}]
open_share = 1.0
tight_above = 1.0
tight_premium = 0.0

[sites.bought]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
procurement = {{ channel = "import", chips_per_year = 200000, lead_days = {lead_days}, from = 2025-03-01 }}

[sites.my-acme]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "contract"
tenant = "acme"
term_years = 0.25
market = "my"
lease_usd_per_chip_hour = 2.0
electricity_usd_per_kwh = 0.10
pue = 1.4
mtbf_hours = 1e9
repair_hours = 24.0

[firms.acme]
headquarters = "CN"
sites = ["bought", "my-acme"]
placement = "earliest_finish"

[firms.acme.planning]
every_days = 30
lead_days = 10
block_chips = 1024
patience_days = 3
max_leased_chips = 1000000
max_wait_days = {max_wait_days}

[[firms.acme.workloads]]
name = "steady"
kind = "training"
start_date = 2025-01-01
end_date = 2025-12-31
arrivals = {{ every_days = 20 }}
size_flop = 8.4e24
gang_chips = 4096
checkpoint_hours = 1.0
restart_hours = 0.5
"#
    )
}

#[test]
fn a_busy_lease_is_held_over_until_its_replacement_arrives_then_its_work_moves() {
    // Imports take 75 days and are bought at most 60 days ahead: what replaces a lot cannot
    // arrive by its term end, so the lot is held over month by month at the day's price; once the
    // imports are in, the replaced chips go and the work running on them is checkpointed and
    // placed again (counted as evictions, no job lost).
    let m = &run(&load(&steady_world(75, 100)), 1).runs[0];
    let held = of(m, LeaseAction::HoldOver);
    assert!(!held.is_empty(), "{:?}", m.decisions);
    assert!(held
        .iter()
        .all(|d| d.why == Why::Replaced && d.usd_per_chip_hour > 0.0));
    let released: Vec<Decision> = of(m, LeaseAction::Release)
        .into_iter()
        .filter(|d| d.why == Why::Replaced)
        .collect();
    assert!(!released.is_empty());
    let first = of(m, LeaseAction::Import)
        .iter()
        .filter(|d| d.why == Why::ReplacesLease)
        .map(|d| d.at)
        .min()
        .unwrap();
    assert!(held.iter().chain(&released).all(|d| d.at > first));
    let evicted: u64 = m.firm[0].iter().map(|p| p.evictions).sum();
    assert!(evicted > 0, "{:?}", m.decisions);
    assert!(m.jobs.is_conserved());
}

/// A firm serving inference on 1,000 H100 at home (2,800 tokens/s each), with demand growing x4 a
/// year from half their capacity (peak = mean, no daily cycle): it outgrows them at the end of
/// June. It may buy H100 through an import channel (30 days' lead); no training work waits.
fn serving_world(forecast: bool) -> String {
    format!(
        r#"name = "serving"
description = "inference demand that outgrows a fleet"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 3
{H100}
[sites.home]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
initial_chips = 1000

[sites.bought]
jurisdiction = "CN"
operator = "domestic"
chip = "h100"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
procurement = {{ channel = "import", chips_per_year = 100000, lead_days = 30, from = 2025-01-01 }}

[firms.acme]
headquarters = "CN"
sites = ["home", "bought"]
placement = "cheapest"

[firms.acme.planning]
every_days = 30
lead_days = 30
block_chips = 64
patience_days = 14
max_leased_chips = 0
max_wait_days = 90
forecast_inference = {forecast}

[[firms.acme.workloads]]
name = "chat"
kind = "inference"
start_date = 2025-01-01
end_date = 2025-12-31
tokens_per_day = 1.2096e11
growth_per_year = 4.0
batch_hours = 1
"#
    )
}

#[test]
fn a_firm_that_forecasts_inference_buys_ahead_of_its_demand() {
    let served_share = |m: &RunMetrics| {
        let (d, s) = m.firm[0].iter().fold((0.0, 0.0), |(d, s), p| {
            (d + p.tokens_demanded, s + p.tokens_served)
        });
        s / d
    };
    // Without the forecast nothing waits, so the firm never buys: from July demand outgrows the
    // fleet and tokens go unserved.
    let blind = &run(&load(&serving_world(false)), 1).runs[0];
    assert!(of(blind, LeaseAction::Import).is_empty());
    assert!(served_share(blind) < 0.99, "{}", served_share(blind));

    // With it, the review that sees demand 90 days ahead outgrow the fleet buys the difference:
    // the peak demand on day t + 90 less 1,000 chips' 2.8e6 tokens/s, in whole lots of 64, and
    // every token is served.
    let sc = load(&serving_world(true));
    let m = &run(&sc, 1).runs[0];
    let bought = of(m, LeaseAction::Import);
    assert!(!bought.is_empty(), "{:?}", m.decisions);
    let first = &bought[0];
    let day = first.at.0 as f64 / DAY as f64;
    let demand = |day: f64| 1.2096e11 / 86_400.0 * 4f64.powf(day / 365.25);
    let expected = demand(day + 90.0) - 1000.0 * 2800.0;
    assert!(
        (first.inference_need_tokens_per_s / expected - 1.0).abs() < 1e-9,
        "day {day}: {} vs {expected}",
        first.inference_need_tokens_per_s
    );
    // The review before it saw no shortfall: it is the first whose horizon passes the crossing.
    assert!(demand(day - 30.0 + 90.0) <= 1000.0 * 2800.0);
    assert_eq!(
        first.chips,
        ((expected / 2800.0).ceil() as u64).div_ceil(64) * 64
    );
    assert!(first.why == Why::Cheapest && first.need_chips == 0);
    // It arrives before demand passes the fleet (day ~182).
    assert!(day + 30.0 < 182.0, "day {day}");
    assert!(served_share(m) > 0.999_999, "{}", served_share(m));
    // Reviews weigh the inference shortfall in every option's row; none over-buys: the chips
    // bought never exceed the peak demand at the horizon's end by more than a lot.
    let total: u64 = bought.iter().map(|d| d.chips).sum();
    assert!((1000 + total) as f64 * 2800.0 <= demand(365.0) + 64.0 * 2800.0);
}
