//! Capacity as the outcome of decisions: a firm reviews its capacity every month and leases lots of
//! chips in an offshore market when its work waits. Each test checks the mechanism (what set the
//! decision off, what it cost, what ended it) against a control run without the trigger.
//!
//! The world: firm `acme` owns an H100 fleet at home, 6,144 chips that grow by 2,048 on the first
//! of every month (while exports are allowed), and may lease H100 in Malaysia's market (100 MW, half
//! of it open to the scenario's firms; prices rise above half of that held, +100% when full). Its
//! training work grows: a 2,048-chip, ~15-day job every 5 days from January, a second such stream
//! from May and a third from August.

use capsim::engine::SimTime;
use capsim::metrics::{Decision, LeaseAction, RunMetrics};

use crate::support::{load, run, site_index, H100_TOML as H100};

/// The world in the module docs; `extra` is appended (policies), `open_share` and `work_until` (the
/// last day work arrives) vary by test.
/// The firm does not replace the deliveries a rule refuses: these tests look at waiting work alone
/// (`world_replacing` switches it on).
fn world(extra: &str, open_share: f64, work_until: &str) -> String {
    world_replacing(extra, open_share, work_until, false)
}

fn world_replacing(
    extra: &str,
    open_share: f64,
    work_until: &str,
    replace_refused: bool,
) -> String {
    let deliveries: Vec<String> = (1..=12)
        .map(|m| format!("{{ date = 2025-{m:02}-01, chips = 2048 }}"))
        .collect();
    let mut workloads = String::new();
    for (name, start) in [
        ("a", "2025-01-01"),
        ("b", "2025-05-01"),
        ("c", "2025-08-01"),
    ] {
        workloads.push_str(&format!(
            r#"
[[firms.acme.workloads]]
name = "{name}"
kind = "training"
start_date = {start}
end_date = {work_until}
arrivals = {{ every_days = 5 }}
size_flop = 1.05e24
gang_chips = 2048
checkpoint_hours = 1.0
restart_hours = 0.5
"#
        ));
    }
    format!(
        r#"name = "leasing"
description = "a firm that leases abroad when its work waits"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 7
{H100}
[markets.my]
jurisdiction = "MY"
capacity_mw = [{{ from = 2025-01-01, mw = 100.0 }}]
open_share = {open_share:?}
tight_above = 0.5
tight_premium = 1.0

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
initial_chips = 6144
deliveries = [{deliveries}]

[sites.my-acme]
jurisdiction = "MY"
operator = "foreign"
chip = "h100"
pricing = "contract"
tenant = "acme"
term_years = {term:?}
market = "my"
lease_usd_per_chip_hour = 2.0
electricity_usd_per_kwh = 0.10
pue = 1.4
mtbf_hours = 1e9
repair_hours = 24.0

[firms.acme]
headquarters = "CN"
sites = ["home", "my-acme"]
placement = "earliest_finish"

[firms.acme.planning]
every_days = 30
lead_days = 30
block_chips = 1024
patience_days = 14
max_leased_chips = 65536
replace_refused = {replace_refused}
{workloads}
{extra}"#,
        deliveries = deliveries.join(", "),
        term = 91.0 / 365.0,
    )
}

const EXPORT_BAN: &str = r#"
[[policy]]
name = "h100-ban"
rule = "export_ban"
chip = "h100"
to = "CN"
from = 2025-04-01
"#;

const LEASE_BAN: &str = r#"
[[policy]]
name = "lease-ban"
rule = "lease_ban"
firms_headquartered_in = "CN"
from = 2025-10-01
grace_days = 30
"#;

/// Days from the start of the horizon.
fn day(_: &RunMetrics, t: SimTime) -> f64 {
    t.0 as f64 / 86_400.0
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

/// Offshore and home compute over months `[a, b)`.
fn compute(m: &RunMetrics, a: usize, b: usize) -> (f64, f64) {
    let rows = &m.firm[0][a..b];
    (
        rows.iter().map(|p| p.compute_home_pflop_days).sum(),
        rows.iter().map(|p| p.compute_abroad_pflop_days).sum(),
    )
}

#[test]
fn leases_follow_the_export_ban_not_a_date() {
    // Control: home deliveries keep up, no job waits past the firm's patience, nothing is leased.
    let sc = load(&world("", 0.5, "2025-12-31"));
    let m = &run(&sc, 1).runs[0];
    assert!(m.decisions.is_empty(), "{:?}", m.decisions);
    assert_eq!(compute(m, 0, 12).1, 0.0);

    // The ban stops home deliveries from April: work waits, the firm signs leases at its next
    // reviews, and training moves offshore in the quarters after, not before.
    let sc = load(&world(EXPORT_BAN, 0.5, "2025-12-31"));
    let m = &run(&sc, 1).runs[0];
    let signed = of(m, LeaseAction::Sign);
    assert!(!signed.is_empty());
    let ban_day = 31.0 + 28.0 + 31.0;
    for d in &signed {
        assert!(day(m, d.at) > ban_day, "signed before the ban: {d:?}");
        assert!(d.need_chips > 0 && d.chips >= d.need_chips.min(1024));
        assert_eq!(d.chips % 1024, 0, "whole lots: {d:?}");
    }
    assert_eq!(compute(m, 0, 4).1, 0.0, "nothing offshore before the ban");
    let (home, abroad) = compute(m, 6, 12);
    assert!(abroad > 0.25 * home, "H2: home {home}, abroad {abroad}");
    // The firm holds what it signed (no lot has reached the end of a term with idle chips).
    let held = m.firm[0][11].lease_chips_held;
    assert_eq!(held, chips(&signed) - chips(&of(m, LeaseAction::Release)));
}

#[test]
fn a_lot_is_paid_busy_or_idle_at_its_price_from_online_to_its_end() {
    // Lots come online 30 days after signing; each is then paid, busy or idle, at the price of its
    // term (re-set at a renewal) until it is released or a lease ban ends it (deadline
    // 2025-10-31). What the firm pays abroad is, to a millionth, the sum over lots of chips x hours
    // x price, rebuilt here from the decisions alone.
    let sc = load(&world(
        &format!("{EXPORT_BAN}{LEASE_BAN}"),
        0.5,
        "2025-12-31",
    ));
    let m = &run(&sc, 1).runs[0];
    let mut open: std::collections::BTreeMap<u32, (SimTime, u64, f64)> = Default::default();
    let mut want = 0.0;
    let mut close = |from: SimTime, to: SimTime, n: u64, price: f64| {
        want += n as f64 * (to.0 - from.0) as f64 / 3_600.0 * price;
    };
    for d in &m.decisions {
        match d.action {
            LeaseAction::Sign => {
                let online = SimTime(d.at.0 + 30 * 86_400);
                open.insert(d.lot, (online, d.chips, d.usd_per_chip_hour));
            }
            // A term renewed, or held over, from here on at the row's price.
            LeaseAction::Renew | LeaseAction::HoldOver => {
                let (from, n, price) = open[&d.lot];
                close(from, d.at, n, price);
                open.insert(d.lot, (d.at, d.chips, d.usd_per_chip_hour));
            }
            // The lot, or the part of it replaced by owned capacity, goes.
            LeaseAction::Release | LeaseAction::EndedByRule => {
                let (from, n, price) = open.remove(&d.lot).expect("an open lot");
                close(from.min(d.at), d.at, n, price);
                if d.chips < n {
                    open.insert(d.lot, (d.at, n - d.chips, price));
                }
            }
            // Options a review passed change nothing.
            LeaseAction::Pass => {}
            LeaseAction::History
            | LeaseAction::Order
            | LeaseAction::Refused
            | LeaseAction::Import
            | LeaseAction::Grey
            | LeaseAction::Seized
            | LeaseAction::CloudBuys
            | LeaseAction::CloudDeclines => {
                unreachable!("no listed leases, orders, purchases or clouds that decide here")
            }
        }
    }
    assert!(open.is_empty(), "every lot ended: {open:?}");
    assert!(want > 0.0);
    let paid: f64 = m.firm[0].iter().map(|p| p.cost_abroad_usd).sum();
    assert!(
        (paid - want).abs() <= 1e-6 * want,
        "paid {paid}, want {want}"
    );
    // The site's cost is the same figure, split into what work used and what stood idle.
    let s = site_index(&sc, "my-acme");
    let cost: f64 = m.site[s].iter().map(|p| p.cost_usd).sum();
    assert!((cost - want).abs() <= 1e-6 * want);
    assert_eq!(m.site[s][11].cost_usd, 0.0, "nothing after the ban");
}

#[test]
fn a_lease_ban_ends_every_lot_and_the_chips_leave() {
    let sc = load(&world(
        &format!("{EXPORT_BAN}{LEASE_BAN}"),
        0.5,
        "2025-12-31",
    ));
    let m = &run(&sc, 1).runs[0];
    let signed = chips(&of(m, LeaseAction::Sign));
    let ended = of(m, LeaseAction::EndedByRule);
    assert!(!ended.is_empty());
    // Every lot ends: at the deadline, or let go at its term's end during the grace (no new work
    // may go there, so it stands idle and nothing counts as need for it).
    let released = of(m, LeaseAction::Release);
    assert_eq!(chips(&ended) + chips(&released), signed);
    assert!(ended.iter().all(|d| day(m, d.at) == 273.0 + 30.0));
    assert!(released.iter().all(|d| day(m, d.at) >= 273.0));
    let s = site_index(&sc, "my-acme");
    assert_eq!(m.site[s][10].chips_online, 0);
    assert_eq!(m.firm[0][10].lease_chips_held, 0);
    assert_eq!(
        m.firm[0].iter().map(|p| p.contracts_ended).sum::<u64>(),
        ended.len() as u64
    );
    // No new lease after the ban is announced (placement abroad is no longer allowed).
    assert!(of(m, LeaseAction::Sign)
        .iter()
        .all(|d| day(m, d.at) < 273.0));
    // Control: without the lease ban, lots are still held at the end and none ends by rule.
    let sc = load(&world(EXPORT_BAN, 0.5, "2025-12-31"));
    let m = &run(&sc, 1).runs[0];
    assert!(m.firm[0][11].lease_chips_held > 0);
    assert!(of(m, LeaseAction::EndedByRule).is_empty());
}

#[test]
fn the_market_room_binds_and_prices_rise_as_it_tightens() {
    // Open room: 100 MW x 0.05 = 5 MW of IT load; an H100 takes 1,300 W all in, so 3,846 chips:
    // three lots of 1,024. The need is larger; the firm gets three lots and no more.
    let sc = load(&world(EXPORT_BAN, 0.05, "2025-12-31"));
    let m = &run(&sc, 1).runs[0];
    let signed = of(m, LeaseAction::Sign);
    assert_eq!(chips(&signed), 3072, "{signed:?}");
    assert!(m.firm[0][11].lease_need_chips > 0, "need left unmet");
    // Every lot's price is the index ($2.00) x the market multiplier at the share held after it:
    // 1 up to half the open room, then rising linearly to 2 when full.
    for d in &signed {
        let mult = if d.market_held_share <= 0.5 {
            1.0
        } else {
            1.0 + (d.market_held_share - 0.5) / 0.5
        };
        assert!((d.usd_per_chip_hour - 2.0 * mult).abs() < 1e-9, "{d:?}");
        assert!(d.market_held_share <= 1.0);
    }
    // The tight market's last lot cost more than the loose market's first.
    assert!(signed.last().unwrap().usd_per_chip_hour > 2.0);
    // The site's price and tightness at the year's end, as timeseries.csv reports them, follow
    // from the decisions: the chip-weighted mean price of the lots still held at their latest
    // price, and the share the last decision left.
    let mut lots: std::collections::BTreeMap<u32, (u64, f64)> = Default::default();
    for d in &m.decisions {
        match d.action {
            LeaseAction::Sign | LeaseAction::Renew => {
                lots.insert(d.lot, (d.chips, d.usd_per_chip_hour));
            }
            _ => {
                lots.remove(&d.lot);
            }
        }
    }
    let chips_held: u64 = lots.values().map(|l| l.0).sum();
    let usd: f64 = lots.values().map(|l| l.0 as f64 * l.1).sum();
    let end = &m.site[site_index(&sc, "my-acme")][11];
    assert!(end.in_market);
    assert_eq!(end.lease_chips_active, chips_held);
    assert!((end.lease_usd_per_hour - usd).abs() < 1e-9 * usd);
    let last = m.decisions.last().unwrap();
    assert!((end.market_held_share - last.market_held_share).abs() < 1e-12);
}

#[test]
fn idle_lots_are_released_at_the_end_of_their_term() {
    // Work stops arriving on 2025-09-15: the queue drains, and every lot (online from 2025-07-30,
    // 08-29 and 09-28 on 91-day terms) is let go at the first end of term where it stands idle.
    let sc = load(&world(EXPORT_BAN, 0.5, "2025-09-15"));
    let m = &run(&sc, 1).runs[0];
    let released = of(m, LeaseAction::Release);
    assert_eq!(
        chips(&released),
        chips(&of(m, LeaseAction::Sign)),
        "{:?}",
        m.decisions
    );
    assert!(released.iter().all(|d| day(m, d.at) > 258.0));
    assert_eq!(m.firm[0][11].lease_chips_held, 0);
    assert_eq!(m.site[site_index(&sc, "my-acme")][11].chips_online, 0);
    // Control: with work arriving to the end, the firm keeps what its work still uses.
    let sc = load(&world(EXPORT_BAN, 0.5, "2025-12-31"));
    assert!(run(&sc, 1).runs[0].firm[0][11].lease_chips_held > 0);
}

#[test]
fn a_market_site_refuses_what_does_not_fit_a_lease() {
    let base = world("", 0.5, "2025-12-31");
    let cases = [
        (
            base.replace("market = \"my\"", "market = \"sg\""),
            "unknown market 'sg'",
        ),
        (
            base.replace(
                "[markets.my]\njurisdiction = \"MY\"",
                "[markets.my]\njurisdiction = \"SG\"",
            ),
            "market 'my' is in SG, but this site is in MY",
        ),
        (
            base.replace("market = \"my\"", "market = \"my\"\ninitial_chips = 100"),
            "initial_chips does not apply to a site leased in a market",
        ),
        (
            base.replace("tight_above = 0.5", "tight_above = 1.5"),
            "tight_above",
        ),
        (
            base.replace("block_chips = 1024", "block_chips = 0"),
            "block_chips must be at least 1",
        ),
        (
            base.replace("sites = [\"home\", \"my-acme\"]", "sites = [\"home\"]"),
            "leases in a market for 'acme', which does not list it",
        ),
        (
            base.replace("block_chips = 1024", "block_chips = 100000"),
            "more than the 65536 the firm may hold",
        ),
        (
            base.replace(
                "market = \"my\"\n",
                "deliveries = [{ date = 2025-01-01, chips = 1024 }]\n",
            ),
            "plans, but has nothing to lease or order",
        ),
    ];
    for (toml, want) in cases {
        let err = capsim::scenario::load_str(&toml, "t.toml", None)
            .err()
            .unwrap_or_else(|| panic!("accepted: {want}"))
            .to_string();
        assert!(err.contains(want), "{err}");
        assert!(err.contains("t.toml:"), "located: {err}");
        assert!(err.contains("help:"), "with help: {err}");
    }
}

#[test]
fn decisions_csv_lists_each_lot_s_life_with_one_type_per_column() {
    let dir = crate::support::tmp("decisions");
    let file = dir.join("lease.toml");
    std::fs::write(
        &file,
        world(&format!("{EXPORT_BAN}{LEASE_BAN}"), 0.5, "2025-12-31"),
    )
    .unwrap();
    let out = dir.join("out");
    let (code, _, err) = crate::support::capsim(&[
        "run".as_ref(),
        file.as_os_str(),
        "--replications".as_ref(),
        "2".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(out.join("leasing").join("decisions.csv")).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, capsim::report::csv::DECISIONS_COLUMNS);
    let mut actions = std::collections::BTreeSet::new();
    let mut rows = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        rows += 1;
        for c in ["replication", "lot", "chips", "need_chips"] {
            let i = header.iter().position(|h| h == c).unwrap();
            rec[i]
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{c}: {}", &rec[i]));
        }
        for c in ["usd_per_chip_hour", "market_held_share"] {
            let i = header.iter().position(|h| h == c).unwrap();
            let cell = &rec[i];
            assert!(
                cell.contains('.') || cell.contains('e'),
                "{c} is a float: {cell}"
            );
            cell.parse::<f64>().unwrap();
        }
        let col = |c: &str| &rec[header.iter().position(|h| h == c).unwrap()];
        assert_eq!(col("jurisdiction"), "MY");
        assert_eq!(col("chip"), "h100");
        actions.insert(col("action").to_string());
    }
    assert!(rows > 0);
    assert!(
        actions.contains("sign") && actions.contains("ended_by_rule"),
        "{actions:?}"
    );
    // The chart of what planning decided is drawn (and only where a firm leased or ordered).
    let charts = out.join("leasing").join("charts");
    assert!(charts.join("capacity-decisions.svg").is_file());
    let quiet = dir.join("quiet.toml");
    let toml = world("", 0.5, "2025-12-31").replace("name = \"leasing\"", "name = \"quiet\"");
    std::fs::write(&quiet, toml).unwrap();
    let (code, _, err) = crate::support::capsim(&[
        "run".as_ref(),
        quiet.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, 0, "{err}");
    let quiet_charts = out.join("quiet").join("charts");
    assert!(quiet_charts.join("compute-share.svg").is_file());
    assert!(!quiet_charts.join("capacity-decisions.svg").exists());
}

/// The leasing world with domestic chips: `acme` also owns an Ascend 910C site supplied with
/// 2,400 chips a year, and a domestic cloud (no owner, not among acme's sites) is supplied with
/// 48,000 a year: together the country's 910C output. Acme may order 910C: its orders take up to
/// `order_share` of each of the cloud's daily lots, arrive 30 days after, and it waits at most
/// 180 days. `extra` is appended (policies).
fn world_with_orders(extra: &str, order_share: f64) -> String {
    let base = world(extra, 0.5, "2025-12-31");
    let base = base.replace(
        "sites = [\"home\", \"my-acme\"]",
        "sites = [\"home\", \"my-acme\", \"home-910c\"]",
    );
    let base = base.replace(
        "max_leased_chips = 65536\n",
        &format!(
            "max_leased_chips = 65536\norder_share = {order_share:?}\norder_lead_days = 30\n\
             max_wait_days = 180\n"
        ),
    );
    format!(
        r#"{base}
[chips.ascend-910c]
vendor = "huawei"
vendor_country = "CN"
bf16_dense_tflops = 780
memory_gb = 128
board_power_w = 700
all_in_power_w = 1460
training_mfu = 0.35
inference_tokens_per_s = 1900
purchase_usd = 28600
lease_usd_per_chip_hour = 2.69

[sites.home-910c]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend-910c"
pricing = "owned"
owner = "acme"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
supply = {{ chips_per_year = 2400 }}

[sites.cloud-910c]
jurisdiction = "CN"
operator = "domestic"
chip = "ascend-910c"
pricing = "owned"
electricity_usd_per_kwh = 0.08
pue = 1.3
mtbf_hours = 1e9
repair_hours = 24.0
supply = {{ chips_per_year = 48000 }}
"#
    )
}

#[test]
fn orders_take_national_output_from_other_buyers_and_it_binds() {
    // Under the export ban acme's work waits; an owned 910C costs less per useful FLOP than a
    // leased H100, so it orders 910C first, and leases only what output cannot bring in time.
    let sc = load(&world_with_orders(EXPORT_BAN, 0.5));
    let m = &run(&sc, 1).runs[0];
    let orders = of(m, LeaseAction::Order);
    assert!(!orders.is_empty(), "{:?}", m.decisions);
    let first_order = orders[0].at;
    assert!(of(m, LeaseAction::Sign).iter().all(|d| d.at >= first_order));
    // What the orders took came out of the cloud's supply, one for one: the cloud's deliveries
    // plus what went to orders equal its deliveries when acme does not order (same lots).
    let cloud = site_index(&sc, "cloud-910c");
    let took: u64 = m.site[cloud].iter().map(|p| p.chips_to_orders).sum();
    let kept: u64 = m.site[cloud].iter().map(|p| p.chips_delivered).sum();
    assert!(took > 0);
    let control = load(&world_with_orders(EXPORT_BAN, 0.0));
    let c = &run(&control, 1).runs[0];
    assert!(of(c, LeaseAction::Order).is_empty());
    let alone: u64 = c.site[cloud].iter().map(|p| p.chips_delivered).sum();
    assert_eq!(kept + took, alone);
    // It binds: acme never got more than its half of each of the cloud's lots, and what it got
    // reached its site 30 days later (all but the last month's allocations, still on their way).
    assert!(took <= alone / 2 + 366, "took {took} of {alone}");
    let arrived: u64 = m.firm[0].iter().map(|p| p.order_chips_delivered).sum();
    let placed: u64 = m.firm[0].iter().map(|p| p.order_chips_placed).sum();
    assert!(arrived <= took && took <= placed);
    assert_eq!(placed, chips(&orders));
    let open_end = m.firm[0][11].order_chips_open;
    assert_eq!(open_end, placed - arrived);
    // The ordered chips are at acme's 910C site, on top of its own supply.
    let home = site_index(&sc, "home-910c");
    let at_home: u64 = m.site[home].iter().map(|p| p.chips_delivered).sum();
    let own: u64 = c.site[site_index(&control, "home-910c")]
        .iter()
        .map(|p| p.chips_delivered)
        .sum();
    assert_eq!(at_home, own + arrived);
}

#[test]
fn a_site_with_a_supply_of_0_receives_exactly_what_its_owner_orders() {
    // Acme's 910C site has no planned output (supply 0, as DeepSeek's 950 site in the baseline):
    // every chip it holds is one acme's orders took from the cloud's lots, 30 days after. An
    // owner that does not order leaves such a site with no chips: refused at load, located.
    let zero = |order_share: f64| {
        world_with_orders(EXPORT_BAN, order_share).replace(
            "supply = { chips_per_year = 2400 }",
            "supply = { chips_per_year = 0 }",
        )
    };
    let sc = load(&zero(0.5));
    let m = &run(&sc, 1).runs[0];
    let home = site_index(&sc, "home-910c");
    let at_home: u64 = m.site[home].iter().map(|p| p.chips_delivered).sum();
    let arrived: u64 = m.firm[0].iter().map(|p| p.order_chips_delivered).sum();
    assert!(arrived > 0);
    assert_eq!(at_home, arrived);
    let took: u64 = m.site[site_index(&sc, "cloud-910c")]
        .iter()
        .map(|p| p.chips_to_orders)
        .sum();
    assert!(arrived <= took);
    let err = capsim::scenario::load_str(&zero(0.0), "t.toml", None)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("site 'home-910c' never receives chips")
            && err.contains("t.toml:")
            && err.contains("order_share above 0"),
        "{err}"
    );
    // An owner that orders but does not list the site never orders for it: refused, located at
    // the site's owner, with the fix.
    let unlisted = zero(0.5).replace(
        "sites = [\"home\", \"my-acme\", \"home-910c\"]",
        "sites = [\"home\", \"my-acme\"]",
    );
    assert_ne!(unlisted, zero(0.5));
    let err = capsim::scenario::load_str(&unlisted, "t.toml", None)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("site 'home-910c' has a supply of 0")
            && err.contains("'acme' does not list it")
            && err.contains("sites.home-910c.owner")
            && err.contains("add \"home-910c\" to [firms.acme] sites"),
        "{err}"
    );
    // Listed but abroad: a firm orders domestic chips only for its sites at home.
    let abroad = zero(0.5).replacen(
        "[sites.home-910c]\njurisdiction = \"CN\"",
        "[sites.home-910c]\njurisdiction = \"MY\"",
        1,
    );
    assert_ne!(abroad, zero(0.5));
    let err = capsim::scenario::load_str(&abroad, "t.toml", None)
        .map(|_| ())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("site 'home-910c' has a supply of 0")
            && err.contains("'acme' orders only at home")
            && err.contains("sites.home-910c.owner"),
        "{err}"
    );
}

#[test]
fn an_order_share_may_be_a_range_drawn_per_replication() {
    // order_share = { triangular = [...] }: each replication draws its own share, so the chips
    // acme's orders take vary between replications, where a fixed share orders the same in every
    // replication of this world; a range that reaches beyond 1 is refused, located.
    let fixed: Vec<u64> = run(&load(&world_with_orders(EXPORT_BAN, 0.5)), 6)
        .runs
        .iter()
        .map(|m| chips(&of(m, LeaseAction::Order)))
        .collect();
    assert!(fixed.iter().all(|&n| n > 0 && n == fixed[0]), "{fixed:?}");
    let ranged = world_with_orders(EXPORT_BAN, 0.5).replace(
        "order_share = 0.5",
        "order_share = { triangular = [0.05, 0.3, 0.9] }",
    );
    assert_ne!(ranged, world_with_orders(EXPORT_BAN, 0.5));
    let sc = load(&ranged);
    let runs = run(&sc, 6).runs;
    let took: Vec<u64> = runs
        .iter()
        .map(|m| chips(&of(m, LeaseAction::Order)))
        .collect();
    assert!(took.iter().all(|&n| n > 0), "{took:?}");
    let mut distinct = took.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() > 1,
        "one share for every replication: {took:?}"
    );
    let err = capsim::scenario::load_str(
        &ranged.replace("[0.05, 0.3, 0.9]", "[0.05, 0.3, 1.5]"),
        "t.toml",
        None,
    )
    .map(|_| ())
    .expect_err("refused")
    .to_string();
    assert!(
        err.contains("order_share") && err.contains("t.toml:"),
        "{err}"
    );
}

#[test]
fn a_supply_shock_leaves_orders_short_and_leasing_fills_the_gap() {
    // Cutting the 910C output to a quarter from April: acme's own supply and what its orders can
    // reach shrink; no order exceeds what output can deliver within its 180-day wait, and acme
    // leases more abroad to fill the gap.
    const SHOCK: &str = r#"
[[policy]]
name = "hbm-squeeze"
rule = "supply_shock"
chip = "ascend-910c"
factor = 0.25
from = 2025-04-01
"#;
    let run_of = |extra: &str| {
        let sc = load(&world_with_orders(extra, 0.5));
        run(&sc, 1).runs.remove(0)
    };
    let normal = run_of(EXPORT_BAN);
    let squeezed = run_of(&format!("{EXPORT_BAN}{SHOCK}"));
    let ordered = |m: &RunMetrics| chips(&of(m, LeaseAction::Order));
    let leased = |m: &RunMetrics| chips(&of(m, LeaseAction::Sign));
    for m in [&normal, &squeezed] {
        for d in of(m, LeaseAction::Order) {
            assert!(d.market_held_share <= 1.0 + 1e-12, "{d:?}");
        }
        assert!(ordered(m) > 0);
    }
    assert!(
        leased(&squeezed) > leased(&normal),
        "{} vs {}",
        leased(&squeezed),
        leased(&normal)
    );
}

#[test]
fn after_a_lease_ban_the_work_that_came_home_orders_domestic_chips() {
    // The lease ban (deadline 2025-10-31) evicts the leased work; it waits at home, and acme's
    // reviews turn it into orders of 910C. Orders placed from the deadline on: more with the ban.
    let deadline = SimTime((273 + 30) * 86_400);
    let after = |extra: &str| {
        let m = run(&load(&world_with_orders(extra, 0.5)), 1).runs.remove(0);
        let n: u64 = of(&m, LeaseAction::Order)
            .iter()
            .filter(|d| d.at >= deadline)
            .map(|d| d.chips)
            .sum();
        (n, m)
    };
    let (with_ban, m) = after(&format!("{EXPORT_BAN}{LEASE_BAN}"));
    let (without, _) = after(EXPORT_BAN);
    assert!(with_ban > without, "{with_ban} vs {without}");
    assert!(!of(&m, LeaseAction::EndedByRule).is_empty());
}

#[test]
fn a_past_lease_before_the_market_opens_is_priced_as_full_not_infinite() {
    // A listed lease dated before the market's first capacity step: the market counts as full,
    // so the lot costs the index x (1 + premium) = $4.00, and every figure stays finite.
    let toml = world("", 0.5, "2025-12-31")
        .replace(
            "capacity_mw = [{ from = 2025-01-01, mw = 100.0 }]",
            "capacity_mw = [{ from = 2025-06-01, mw = 100.0 }]",
        )
        .replace(
            "market = \"my\"\n",
            "market = \"my\"\ndeliveries = [{ date = 2025-02-01, chips = 1024 }]\n",
        );
    let sc = load(&toml);
    let m = &run(&sc, 1).runs[0];
    let history = of(m, LeaseAction::History);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].usd_per_chip_hour, 4.0);
    let s = site_index(&sc, "my-acme");
    assert!(m.site[s].iter().all(|p| p.cost_usd.is_finite()));
}

#[test]
fn rules_on_deliveries_bind_leased_chips_too() {
    // An export ban on H100 to Malaysia: no lot is signed there (and nothing runs abroad).
    let ban_my = format!(
        "{EXPORT_BAN}\n[[policy]]\nname = \"h100-to-my\"\nrule = \"export_ban\"\nchip = \"h100\"\n\
         to = \"MY\"\nfrom = 2025-01-01\n"
    );
    let m = run(&load(&world(&ban_my, 0.5, "2025-12-31")), 1)
        .runs
        .remove(0);
    assert!(of(&m, LeaseAction::Sign).is_empty(), "{:?}", m.decisions);
    assert_eq!(compute(&m, 0, 12).1, 0.0);
    // A cap of 2,048 H100 in Malaysia: the firm holds no more than that.
    let cap_my = format!(
        "{EXPORT_BAN}\n[[policy]]\nname = \"my-cap\"\nrule = \"chip_cap\"\ncountry = \"MY\"\n\
         chip = \"h100\"\nmax_chips = 2048\nfrom = 2025-01-01\n"
    );
    let m = run(&load(&world(&cap_my, 0.5, "2025-12-31")), 1)
        .runs
        .remove(0);
    assert!(m.firm[0].iter().all(|p| p.lease_chips_held <= 2048));
    assert!(m.firm[0][11].lease_chips_held > 0);
    // A power cap of 2 MW at the site (1,300 W x PUE 1.4 a chip: 1,098 chips): one lot of 1,024.
    let capped = world(EXPORT_BAN, 0.5, "2025-12-31")
        .replace("market = \"my\"\n", "market = \"my\"\npower_cap_mw = 2.0\n");
    let sc = load(&capped);
    let m = run(&sc, 1).runs.remove(0);
    let s = site_index(&sc, "my-acme");
    assert!(m.site[s].iter().all(|p| p.chips_online <= 1098));
    assert_eq!(m.firm[0][11].lease_chips_held, 1024);
}

#[test]
fn a_lot_is_not_released_from_under_a_queued_job() {
    // No planning: three listed 1,024-chip lots on 30-day terms; a 1,024-chip job runs 45 days
    // and a 3,072-chip job queues behind it. The lots renew while the big job waits, and it runs.
    let toml = world("", 0.5, "2025-12-31")
        .replace(
            "market = \"my\"\n",
            "market = \"my\"\ndeliveries = [{ date = 2025-01-01, chips = 1024 }, \
             { date = 2025-01-02, chips = 1024 }, { date = 2025-01-03, chips = 1024 }]\n",
        )
        .replace(
            &format!("term_years = {:?}", 91.0 / 365.0),
            &format!("term_years = {:?}", 30.0 / 365.0),
        );
    // Keep only acme's offshore site, and replace its work by the two jobs.
    let cut = toml.find("[firms.acme]").unwrap();
    let toml = format!(
        "{}[firms.acme]\nheadquarters = \"CN\"\nsites = [\"my-acme\"]\nplacement = \"earliest_finish\"\n\
         {}",
        &toml[..cut],
        r#"
[[firms.acme.workloads]]
name = "small"
kind = "training"
arrivals = { dates = [2025-01-04] }
size_flop = 1.58e24
gang_chips = 1024
checkpoint_hours = 1.0
restart_hours = 0.5

[[firms.acme.workloads]]
name = "big"
kind = "training"
arrivals = { dates = [2025-01-05] }
size_flop = 1.0e24
gang_chips = 3072
checkpoint_hours = 1.0
restart_hours = 0.5
"#
    );
    let sc = load(&toml.replace("owner = \"acme\"\n", ""));
    let m = run(&sc, 1).runs.remove(0);
    assert_eq!(m.jobs.completed, 2, "{:?} {:?}", m.jobs, m.decisions);
}

/// A firm whose home fleet (4,096 H100) a long run fills from 2 January, with a 2,048-chip run
/// planned for 20 March and a Malaysian market to lease in (30 days' lead, reviews every 30 days,
/// patience 14 days). `forecast` switches `forecast_training`.
fn world_planned_run(forecast: bool, run_date: &str) -> String {
    format!(
        r#"name = "planned"
description = "a firm that leases ahead of a planned run"
start_date = 2025-01-01
end_date = 2025-12-31
seed = 7
{H100}
[markets.my]
jurisdiction = "MY"
capacity_mw = [{{ from = 2025-01-01, mw = 100.0 }}]
open_share = 0.5
tight_above = 0.5
tight_premium = 1.0

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
sites = ["home", "my-acme"]
placement = "earliest_finish"

[firms.acme.planning]
every_days = 30
lead_days = 30
block_chips = 1024
patience_days = 14
max_leased_chips = 65536
forecast_training = {forecast}

[[firms.acme.workloads]]
name = "long"
kind = "training"
arrivals = {{ dates = [2025-01-02] }}
size_flop = 4e25
gang_chips = 4096
checkpoint_hours = 1.0
restart_hours = 0.5

[[firms.acme.workloads]]
name = "planned"
kind = "training"
arrivals = {{ dates = [{run_date}] }}
size_flop = 3.4e23
gang_chips = 2048
checkpoint_hours = 1.0
restart_hours = 0.5
"#
    )
}

/// The planned run's wait before it first started, days.
fn planned_wait_days(m: &RunMetrics) -> f64 {
    let r = m
        .job_records
        .iter()
        .find(|r| r.workload == 1)
        .expect("the planned run arrived");
    let start = r.first_start.expect("it started");
    (start.0 - r.arrived.0) as f64 / 86_400.0
}

#[test]
fn a_firm_that_forecasts_its_training_leases_before_a_planned_run_arrives() {
    // The long run holds the whole home fleet for ~286 days (4e25 FLOP at 4,096 x 396 TFLOP/s).
    // The run due on 20 March (day 78) is inside the review of 30 January's window (next review +
    // lead: day 89), and it would wait far beyond the firm's patience: 2,048 chips are signed then,
    // online on 1 March, and the run starts the day it arrives.
    let sc = load(&world_planned_run(true, "2025-03-20"));
    let m = &run(&sc, 1).runs[0];
    let signed = of(m, LeaseAction::Sign);
    let first = signed.first().expect("a lease is signed");
    assert_eq!(day(m, first.at), 30.0, "{first:?}");
    assert_eq!(first.planned_chips, 2048, "{first:?}");
    assert_eq!(first.need_chips, 2048, "{first:?}");
    assert_eq!(first.chips, 2048, "whole lots of 1,024 covering the gang");
    assert!(planned_wait_days(m) < 1e-6, "{}", planned_wait_days(m));

    // Without the forecast the run arrives to a full fleet; it counts as need once it has waited
    // its patience (the 30 March review sees ~200 days of expected wait), and starts when that lease
    // comes online a month later.
    let sc = load(&world_planned_run(false, "2025-03-20"));
    let m = &run(&sc, 1).runs[0];
    let signed = of(m, LeaseAction::Sign);
    let first = signed.first().expect("a lease is signed");
    assert!(day(m, first.at) > 78.0, "{first:?}");
    assert_eq!(first.planned_chips, 0);
    let wait = planned_wait_days(m);
    assert!((30.0..60.0).contains(&wait), "waited {wait} days");

    // A run due beyond the window (the 30 January review sees up to day 89, the 1 March one up
    // to day 119; 1 July is day 181) counts only at a review whose window reaches it: 31 May
    // (day 150, window to day 210), when it would still wait ~105 days.
    let sc = load(&world_planned_run(true, "2025-07-01"));
    let m = &run(&sc, 1).runs[0];
    let first = of(m, LeaseAction::Sign)[0];
    let at = day(m, first.at);
    assert_eq!(at, 150.0, "signed on day {at}");
    assert_eq!(first.planned_chips, 2048);
}

#[test]
fn a_planned_run_with_room_waiting_for_it_is_no_need() {
    // The long run is gone (its 2 January arrival moved past the planned run's window) so the
    // home fleet has room: the planned run would not wait, and nothing is signed for it.
    let toml = world_planned_run(true, "2025-03-20").replace("2025-01-02", "2025-11-01");
    let sc = load(&toml);
    let m = &run(&sc, 1).runs[0];
    let before = m
        .decisions
        .iter()
        .filter(|d| d.action == LeaseAction::Sign && day(m, d.at) < 300.0)
        .count();
    assert_eq!(before, 0, "{:?}", m.decisions);
    assert!(m.decisions.iter().all(|d| d.planned_chips == 0));
    assert!(planned_wait_days(m) < 1e-6);
}
