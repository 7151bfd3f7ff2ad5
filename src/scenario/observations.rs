//! Observations: dated figures of what happened, held against what the model outputs.
//!
//! A scenario names a CSV file (`observations = "baseline/observed.csv"`, relative to the scenario
//! file) with one observation a row:
//!
//! | column | meaning |
//! |---|---|
//! | `date` | the day the figure refers to (for a flow, the end of its window) |
//! | `from` | first day of the window of a flow or ratio (empty: the reporting period holding `date`) |
//! | `metric` | a catalog metric (`tokens_served`, `chips_online`, `offshore_share`, ...), `tokens_per_day`, `offshore_vacancy`, or a context figure the model does not output (see [`CONTEXT`]) |
//! | `group` | `national`, `firm:<id>`, `site:<id>`, `jurisdiction:<code>` or `chip:<id>` |
//! | `value`, `low`, `high` | the figure and the range it is known to (`low <= value <= high`) |
//! | `unit` | as the source gives it (for the reader) |
//! | `source` | where it was published, with its date |
//! | `used_as_input` | `true` when the figure (or one it follows from) is also an input of the scenario: shown, never scored |
//! | `note` | anything the reader needs (which period, why out of sample) |
//!
//! Each row is checked at load, and a bad one is refused with its file, line and column. What a
//! row is held against ([`Target`]) is resolved here, against the world; the report computes it.

use chrono::NaiveDate;

use crate::metrics::{catalog, catalog::Metric, Members};
use crate::model::World;

use super::locate::Location;
use super::{did_you_mean, ScenarioError};

/// Figures the model does not output: shown beside the results for context, never scored.
pub const CONTEXT: &[&str] = &[
    "lease_usd_per_chip_hour",
    "training_run_flop",
    "chips_shipped",
    "installed_capacity_mw",
];

/// The columns, in the order the file must give them.
pub const COLUMNS: [&str; 11] = [
    "date",
    "from",
    "metric",
    "group",
    "value",
    "low",
    "high",
    "unit",
    "source",
    "used_as_input",
    "note",
];

/// Names that mean a catalog metric under another name.
const ALIASES: &[(&str, &str)] = &[("installed_base", "chips_online")];

/// One observation.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Its line in the file (1-based; the header is line 1).
    pub line: usize,
    /// The day it refers to (the end of the window of a flow).
    pub date: NaiveDate,
    /// The first day of the window, if given.
    pub from: Option<NaiveDate>,
    /// The metric as written.
    pub metric: String,
    /// The group as written.
    pub group: String,
    /// The figure.
    pub value: f64,
    /// The lowest value the source allows.
    pub low: f64,
    /// The highest.
    pub high: f64,
    /// Its unit as the source gives it.
    pub unit: String,
    /// Where it was published.
    pub source: String,
    /// Whether it is also an input (shown, never scored).
    pub used_as_input: bool,
    /// A note for the reader.
    pub note: String,
    /// What the model output it is held against; None for a context figure.
    pub target: Option<Target>,
}

/// A model output: a catalog metric over some sites or firms, maybe per day or as `1 - x`.
#[derive(Clone, Debug)]
pub struct Target {
    /// The catalog metric read.
    pub metric: &'static Metric,
    /// Whose rows.
    pub members: Members,
    /// Divide by the days of the window (a flow as a daily rate).
    pub per_day: bool,
    /// Take `1 - x` (vacancy from utilisation).
    pub complement: bool,
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        self.metric.name == other.metric.name
            && self.members == other.members
            && (self.per_day, self.complement) == (other.per_day, other.complement)
    }
}

impl Observation {
    /// Whether it counts toward the score: a model output, and not an input.
    pub fn scored(&self) -> bool {
        self.target.is_some() && !self.used_as_input
    }
}

/// Parses and checks an observations file. `file` names it in errors.
pub fn parse(text: &str, file: &str, world: &World) -> Result<Vec<Observation>, ScenarioError> {
    let at = |line: usize, column: usize| {
        Box::new(Location {
            file: file.to_string(),
            line,
            column,
            span: None,
        })
    };
    let bad = |line: usize, column: usize, field: &str, message: String, help: String| {
        ScenarioError::Invalid {
            at: at(line, column),
            path: format!("observations.{field}"),
            message,
            help,
        }
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = rdr.headers().map_err(|e| {
        bad(
            1,
            1,
            "header",
            format!("not a CSV header: {e}"),
            "the first line names the columns".into(),
        )
    })?;
    if header.iter().collect::<Vec<_>>() != COLUMNS {
        return Err(bad(
            1,
            1,
            "header",
            format!("the columns are {:?}", header.iter().collect::<Vec<_>>()),
            format!("the first line must be exactly: {}", COLUMNS.join(",")),
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(1, |p| p.line() as usize);
            bad(
                line,
                1,
                "row",
                format!("not a CSV row: {e}"),
                "quote a cell that holds a comma or a quote (\"...\", with \"\" for a quote)"
                    .into(),
            )
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let raw_line = lines.get(line.saturating_sub(1)).copied().unwrap_or("");
        let col = |i: usize| column_of(raw_line, i);
        if rec.len() != COLUMNS.len() {
            return Err(bad(
                line,
                1,
                "row",
                format!("{} cells, the header has {}", rec.len(), COLUMNS.len()),
                format!("give every column: {}", COLUMNS.join(",")),
            ));
        }
        let field = |i: usize| rec[i].trim();
        let date_of = |i: usize| -> Result<NaiveDate, ScenarioError> {
            NaiveDate::parse_from_str(field(i), "%Y-%m-%d").map_err(|_| {
                bad(
                    line,
                    col(i),
                    COLUMNS[i],
                    format!("'{}' is not a date", field(i)),
                    "write dates as YYYY-MM-DD".into(),
                )
            })
        };
        let number = |i: usize| -> Result<f64, ScenarioError> {
            match field(i).parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(bad(
                    line,
                    col(i),
                    COLUMNS[i],
                    format!("'{}' is not a finite number", field(i)),
                    "write a number such as 1.4e14 or 0.35".into(),
                )),
            }
        };
        let date = date_of(0)?;
        let from = if field(1).is_empty() {
            None
        } else {
            Some(date_of(1)?)
        };
        if from.is_some_and(|f| f > date) {
            return Err(bad(
                line,
                col(1),
                "from",
                format!("the window starts ({}) after it ends ({date})", field(1)),
                "`from` is the first day of the window and `date` its last".into(),
            ));
        }
        let (value, low, high) = (number(4)?, number(5)?, number(6)?);
        if !(low <= value && value <= high) {
            return Err(bad(
                line,
                col(5),
                "low",
                format!("the range {low} to {high} does not hold the value {value}"),
                "give low <= value <= high (the range the source allows)".into(),
            ));
        }
        let used_as_input = match field(9) {
            "true" => true,
            "false" => false,
            other => {
                return Err(bad(
                    line,
                    col(9),
                    "used_as_input",
                    format!("'{other}' is not true or false"),
                    "write true when the figure is also an input of the scenario, else false"
                        .into(),
                ))
            }
        };
        if field(8).is_empty() {
            return Err(bad(
                line,
                col(8),
                "source",
                "no source".into(),
                "say where the figure was published, and when".into(),
            ));
        }
        let target = resolve(field(2), field(3), world).map_err(|(which, message, help)| {
            bad(line, col(which), COLUMNS[which], message, help)
        })?;
        out.push(Observation {
            line,
            date,
            from,
            metric: field(2).to_string(),
            group: field(3).to_string(),
            value,
            low,
            high,
            unit: field(7).to_string(),
            source: field(8).to_string(),
            used_as_input,
            note: field(10).to_string(),
            target,
        });
    }
    Ok(out)
}

/// What `metric` over `group` reads; Err: (column, message, help).
fn resolve(
    metric: &str,
    group: &str,
    world: &World,
) -> Result<Option<Target>, (usize, String, String)> {
    if CONTEXT.contains(&metric) {
        return Ok(None);
    }
    let name = ALIASES
        .iter()
        .find(|(a, _)| *a == metric)
        .map_or(metric, |(_, m)| m);
    let (name, per_day, complement) = match name {
        "tokens_per_day" => ("tokens_served", true, false),
        "offshore_vacancy" => ("utilisation", false, true),
        other => (other, false, false),
    };
    let site_metric = catalog::site_metric(name);
    let firm_metric = catalog::firm_metric(name);
    if site_metric.is_none() && firm_metric.is_none() {
        let mut known: Vec<&str> = catalog::SITE
            .iter()
            .chain(catalog::FIRM)
            .map(|m| m.name)
            .chain(["tokens_per_day", "offshore_vacancy"])
            .chain(ALIASES.iter().map(|(a, _)| *a))
            .chain(CONTEXT.iter().copied())
            .collect();
        known.sort_unstable();
        known.dedup();
        return Err((
            2,
            format!("unknown metric '{metric}'{}", did_you_mean(metric, &known)),
            format!("one of: {}", known.join(", ")),
        ));
    }
    let all_sites = || Members::Sites((0..world.sites.len()).collect());
    let sites_where = |f: &dyn Fn(usize) -> bool, what: &str, id: &str, options: Vec<&str>| {
        let members: Vec<usize> = (0..world.sites.len()).filter(|&s| f(s)).collect();
        if members.is_empty() {
            Err((
                3,
                format!("no site has {what} '{id}'{}", did_you_mean(id, &options)),
                format!("{what}s in this scenario: {}", options.join(", ")),
            ))
        } else {
            Ok(Members::Sites(members))
        }
    };
    let (kind, id) = group.split_once(':').unwrap_or((group, ""));
    let members = match (kind, id) {
        ("national", "") => {
            // A firm metric over every firm where there is one (tokens, offshore share), else
            // every site.
            if firm_metric.is_some() {
                Members::Firms((0..world.firms.len()).collect())
            } else {
                all_sites()
            }
        }
        ("firm", id) => {
            let names: Vec<&str> = world.firms.iter().map(|f| f.name.as_str()).collect();
            match names.iter().position(|n| *n == id) {
                Some(f) => Members::Firms(vec![f]),
                None => {
                    return Err((
                        3,
                        format!("no firm '{id}'{}", did_you_mean(id, &names)),
                        format!("firms in this scenario: {}", names.join(", ")),
                    ))
                }
            }
        }
        ("site", id) => {
            let names: Vec<&str> = world.sites.iter().map(|s| s.name.as_str()).collect();
            sites_where(&|s| world.sites[s].name == id, "name", id, names)?
        }
        ("jurisdiction", id) => {
            let mut codes: Vec<&str> = world
                .sites
                .iter()
                .map(|s| s.jurisdiction.as_str())
                .collect();
            codes.sort_unstable();
            codes.dedup();
            sites_where(
                &|s| world.sites[s].jurisdiction == id,
                "jurisdiction",
                id,
                codes,
            )?
        }
        ("chip", id) => {
            let mut chips: Vec<&str> = world
                .sites
                .iter()
                .map(|s| world.chips[s.chip.0 as usize].name.as_str())
                .collect();
            chips.sort_unstable();
            chips.dedup();
            sites_where(
                &|s| world.chips[world.sites[s].chip.0 as usize].name == id,
                "chip",
                id,
                chips,
            )?
        }
        _ => {
            return Err((
                3,
                format!("'{group}' is not a group"),
                "write national, firm:<id>, site:<id>, jurisdiction:<code> or chip:<id>".into(),
            ))
        }
    };
    let metric = match (&members, site_metric, firm_metric) {
        (Members::Sites(_), Some(m), _) | (Members::Firms(_), _, Some(m)) => m,
        (Members::Sites(_), None, _) => {
            return Err((
                3,
                format!("'{name}' is a firm metric, and '{group}' a group of sites"),
                "use national or firm:<id> for it".into(),
            ))
        }
        (Members::Firms(_), _, None) => {
            return Err((
                3,
                format!("'{name}' is a site metric, and '{group}' a group of firms"),
                "use national, site:<id>, jurisdiction:<code> or chip:<id> for it".into(),
            ))
        }
    };
    Ok(Some(Target {
        metric,
        members,
        per_day,
        complement,
    }))
}

/// The 1-based column (in characters) where cell `i` of a CSV line starts.
fn column_of(line: &str, i: usize) -> usize {
    let (mut cell, mut quoted) = (0, false);
    for (c, ch) in line.chars().enumerate() {
        if cell == i {
            return c + 1;
        }
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => cell += 1,
            _ => {}
        }
    }
    line.chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::column_of;

    #[test]
    fn columns_count_quoted_commas_as_text() {
        let line = r#"2025-01-01,,tokens_per_day,"a, b",3"#;
        assert_eq!(column_of(line, 0), 1);
        assert_eq!(column_of(line, 2), 13);
        assert_eq!(column_of(line, 3), 28);
        assert_eq!(column_of(line, 4), 35);
    }
}
