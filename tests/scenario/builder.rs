//! The test-world builder goes through the real loader: what it writes is what the scenario holds,
//! and a mistake in a test world is the loader's located error, not a silent default.

use capsim::model::{Operator, PlacementStrategy, Rule};

use crate::support::{WorldBuilder, ASCEND_910C, H100};

fn two_site_world() -> WorldBuilder {
    WorldBuilder::new()
        .horizon("2025-01-01", "2025-03-31")
        .chip(H100)
        .chip(ASCEND_910C)
        .site("johor", |s| {
            s.chip("h100").chips(4096).foreign("MY").lease(0.5)
        })
        .site("home", |s| {
            s.chip("ascend-910c")
                .chips(1024)
                .power_cap_mw(5.0)
                .inference_priority()
                .delivery("2025-02-01", 512)
        })
        .firm("acme", |f| {
            f.sites(["johor", "home"])
                .placement("home_first")
                .fine_tuning(|w| w.every_days(1.0).gang(256).size_flop(3e21))
        })
        .policy("cap", "chip_cap", "2025-02-01", |p| {
            p.country("CN").max_chips(2000)
        })
}

#[test]
fn a_built_world_loads_with_what_the_builder_said() {
    let sc = two_site_world().build();
    let w = &sc.world;
    assert_eq!(sc.start_date.to_string(), "2025-01-01");
    assert_eq!(sc.end_date.to_string(), "2025-03-31");
    assert_eq!(w.chips.len(), 2);
    let (johor, home) = (&w.sites[0], &w.sites[1]);
    assert_eq!(
        (johor.name.as_str(), johor.jurisdiction.as_str()),
        ("johor", "MY")
    );
    assert_eq!(johor.operator, Operator::Foreign);
    assert_eq!(johor.initial_chips, 4096);
    assert_eq!(w.chips[home.chip.0 as usize].name, "ascend-910c");
    assert_eq!(home.operator, Operator::Domestic);
    assert_eq!(home.power_cap_mw, Some(5.0));
    assert!(home.inference_priority && !johor.inference_priority);
    assert_eq!(home.deliveries.len(), 1);
    assert_eq!(home.deliveries[0].chips, 512);
    let firm = &w.firms[0];
    assert_eq!(firm.headquarters, "CN");
    assert_eq!(firm.placement, PlacementStrategy::HomeFirst);
    assert_eq!(firm.workloads.len(), 1);
    assert_eq!(
        w.timeline.policies[0].rule,
        Rule::ChipCap {
            country: "CN".into(),
            chip: None,
            max_chips: 2000
        }
    );
}

#[test]
fn a_mistake_in_a_built_world_is_the_loaders_located_error() {
    // An unknown chip: the message names the site, the known chips and where to look.
    let err = two_site_world()
        .edit_site("home", |s| s.chip("ascend-9100"))
        .try_build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown chip 'ascend-9100'"), "{err}");
    assert!(err.contains("test.toml:"), "{err}");
    assert!(err.contains("h100"), "{err}");

    // A rule without one of its keys.
    let err = WorldBuilder::new()
        .chip(H100)
        .policy("ban", "export_ban", "2025-03-01", |p| p.chip("h100"))
        .try_build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("'to'"), "{err}");

    // A firm using a site nobody defined.
    let err = two_site_world()
        .edit_firm("acme", |f| f.sites(["johor", "nowhere"]))
        .try_build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("nowhere"), "{err}");
}
