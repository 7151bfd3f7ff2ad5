//! A bounded, seeded mutation campaign against the real `capsim` binary (issue 10, "Fuzzing in the
//! project"). CI runs it for a fixed number of cases (`.ci/mutation.sh`); run it longer by hand:
//!
//! ```text
//! cargo build --release --bin capsim && cargo build --release -p mutation-campaign
//! target/release/mutation_campaign --cases 3000 --seed 1
//! target/release/mutation_campaign --seed 1 --case 1234   # one case again, kept on disk
//! ```
//!
//! Each case takes one shipped scenario (`scenarios/*.toml`), applies one mutation of one class
//! (the classes take turns; the file, the place and the new text are drawn from a generator seeded
//! by `--seed` and the case number, so a case is the same on every machine and for any `--jobs`),
//! writes it into a folder of its own beside pristine copies of the other shipped files, and runs
//!
//! 1. `capsim validate FILE`, then
//! 2. `capsim run FILE --replications 1 --threads 1 --quiet --period P --out OUT` (OUT absent
//!    before; P is month for most cases, week or day for some), and
//! 3. when the run succeeds, `capsim compare REF out/NAME --out cmp`, REF being the shipped
//!    baseline's run of the same period (made once, at the start), and
//! 4. when the file validates and has a `[sweep]` section, `capsim sweep FILE --replications 1
//!    --headline-only ...` (checked as `run` is).
//!
//! A case passes when: no command panics (exit 101), dies of a signal, runs past `--timeout-s` or
//! uses more than `--max-rss-mb` of memory; each exits 0 or 2; an exit 2 prints
//! `error: FILE:LINE:COL: ...` (the line inside that file when it is one) and a `help:` line; `run`
//! agrees with `validate`; a run that fails leaves OUT absent and no temporary folder; a run that
//! succeeds writes exactly OUT/<name>/, of at most `--max-output-mb`, and every number in every CSV
//! under it is finite; `compare` and `sweep` likewise (exit 0 with finite CSVs, or 2 with a message
//! and help and nothing written). Failures are saved, with the commands and their output, under
//! `WORK/failures/`; the process exits 1 if there is any.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use clap::Parser;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

/// Mutates the shipped scenarios and checks what the capsim binary does with them.
#[derive(Parser, Debug)]
struct Args {
    /// Number of cases (numbered 0..CASES).
    #[arg(long, default_value_t = 400)]
    cases: usize,
    /// Master seed: case K is the same for the same seed, wherever it runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run only this case, and keep its folder.
    #[arg(long)]
    case: Option<usize>,
    /// Run only the cases of this class (e.g. edge-values), among the first CASES.
    #[arg(long)]
    class: Option<String>,
    /// The capsim binary under test.
    #[arg(long, default_value = "target/release/capsim")]
    bin: PathBuf,
    /// The folder of the shipped scenarios.
    #[arg(long, default_value = "scenarios")]
    scenarios: PathBuf,
    /// Working folder (its cases/ and failures/ are emptied first).
    #[arg(long, default_value = "target/mutation-campaign")]
    work: PathBuf,
    /// Cases run at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seconds a command may take before the case counts as a hang.
    #[arg(long, default_value_t = 60)]
    timeout_s: u64,
    /// Peak memory (MiB) a command may use before the case counts as a failure.
    #[arg(long, default_value_t = 4096)]
    max_rss_mb: u64,
    /// Size (MiB) of a run folder (or sweep folder) beyond which the case counts as a failure.
    /// The largest legitimate case, the national baseline moved to a 15-year daily horizon,
    /// writes about 1.2 GiB (mostly summary.csv: 12 million rows, each naming its run, scenario
    /// and period bounds since they became tidy; 790 MiB before); the unbounded jobs.csv this
    /// limit was made to catch was 1.9 GB, and grew with the horizon without bound.
    #[arg(long, default_value_t = 2048)]
    max_output_mb: u64,
    /// Keep every case's folder, not only the failures'.
    #[arg(long)]
    keep: bool,
    /// One line per case.
    #[arg(long)]
    verbose: bool,
}

// ------------------------------------------------------------------------------------------------
// Mutation classes

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    DeleteLine,
    DuplicateLine,
    SwapLines,
    Truncate,
    ExtremeNumber,
    ScaleNumber,
    ExtremeDate,
    RenameKey,
    StringValue,
    TypeFlip,
    TableHeader,
    ShuffleArray,
    LongArray,
    ExtendsTarget,
    InvertDistribution,
    WidenDistribution,
    EdgeValues,
    Stacked,
}

const CLASSES: [Class; 18] = [
    Class::DeleteLine,
    Class::DuplicateLine,
    Class::SwapLines,
    Class::Truncate,
    Class::ExtremeNumber,
    Class::ScaleNumber,
    Class::ExtremeDate,
    Class::RenameKey,
    Class::StringValue,
    Class::TypeFlip,
    Class::TableHeader,
    Class::ShuffleArray,
    Class::LongArray,
    Class::ExtendsTarget,
    Class::InvertDistribution,
    Class::WidenDistribution,
    Class::EdgeValues,
    Class::Stacked,
];

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::DeleteLine => "delete-line",
            Class::DuplicateLine => "duplicate-line",
            Class::SwapLines => "swap-lines",
            Class::Truncate => "truncate",
            Class::ExtremeNumber => "extreme-number",
            Class::ScaleNumber => "scale-number",
            Class::ExtremeDate => "extreme-date",
            Class::RenameKey => "rename-key",
            Class::StringValue => "string-value",
            Class::TypeFlip => "type-flip",
            Class::TableHeader => "table-header",
            Class::ShuffleArray => "shuffle-array",
            Class::LongArray => "long-array",
            Class::ExtendsTarget => "extends-target",
            Class::InvertDistribution => "invert-distribution",
            Class::WidenDistribution => "widen-distribution",
            Class::EdgeValues => "edge-values",
            Class::Stacked => "stacked",
        }
    }
}

// ------------------------------------------------------------------------------------------------
// A small TOML scanner: where the keys and values of a scenario file are (no full parse, so that
// it works on any text, and mutations keep the rest of the file byte for byte).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Key,
    Number,
    Date,
    Bool,
    Str,
    Array,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    kind: Tok,
}

const DELIMS: &[u8] = b" \t\r\n=,[]{}#\"'";

/// The keys and values of `text`, in order (arrays after their elements).
fn scan(text: &str) -> Vec<Span> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut stack: Vec<(u8, usize)> = Vec::new();
    let mut after_eq = false;
    let mut i = 0;
    let followed_by_eq = |mut j: usize| {
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        j < b.len() && (b[j] == b'=' || b[j] == b'.')
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' => {
                if stack.is_empty() {
                    after_eq = false;
                }
            }
            b'=' => after_eq = true,
            b'"' | b'\'' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != c && b[i] != b'\n' {
                    if c == b'"' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let end = (i + 1).min(b.len());
                let kind = if followed_by_eq(end) {
                    Tok::Key
                } else {
                    Tok::Str
                };
                out.push(Span { start, end, kind });
                i = end;
                continue;
            }
            b'[' => {
                if after_eq || !stack.is_empty() {
                    stack.push((b'[', i));
                } else {
                    // A table header: skip the line.
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
            }
            b'{' => stack.push((b'{', i)),
            b']' | b'}' => {
                if let Some((open, start)) = stack.pop() {
                    if open == b'[' && c == b']' {
                        out.push(Span {
                            start,
                            end: i + 1,
                            kind: Tok::Array,
                        });
                    }
                }
            }
            b' ' | b'\t' | b'\r' | b',' => {}
            _ => {
                let start = i;
                while i < b.len() && !DELIMS.contains(&b[i]) {
                    i += 1;
                }
                let tok = &text[start..i];
                let kind = if followed_by_eq(i) {
                    Tok::Key
                } else if tok == "true" || tok == "false" {
                    Tok::Bool
                } else if tok.len() >= 10
                    && tok.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                    && tok.as_bytes()[4] == b'-'
                {
                    Tok::Date
                } else if tok.starts_with(|ch: char| ch.is_ascii_digit() || ch == '+' || ch == '-')
                    || matches!(tok, "nan" | "inf")
                {
                    Tok::Number
                } else {
                    Tok::Key
                };
                out.push(Span {
                    start,
                    end: i,
                    kind,
                });
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The top-level elements of an array span `[a, b, c]`: their byte ranges in the text.
fn elements(text: &str, array: Span) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = array.start + 1;
    let mut i = array.start + 1;
    let mut in_str: Option<u8> = None;
    while i < array.end - 1 {
        let c = b[i];
        if let Some(q) = in_str {
            if q == b'"' && c == b'\\' {
                i += 1;
            } else if c == q {
                in_str = None;
            }
        } else {
            match c {
                b'"' | b'\'' => in_str = Some(c),
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => {
                    out.push((start, i));
                    start = i + 1;
                }
                b'#' => {
                    while i < array.end - 1 && b[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    out.push((start, array.end - 1));
    out.into_iter()
        .filter(|&(s, e)| !text[s..e].trim().is_empty())
        .collect()
}

/// The line that `at` lies on, as a byte range without its newline.
fn line_of(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |p| p + 1);
    let end = text[at..].find('\n').map_or(text.len(), |p| at + p);
    &text[start..end]
}

fn splice(text: &str, start: usize, end: usize, with: &str) -> String {
    format!("{}{}{}", &text[..start], with, &text[end..])
}

fn pick<'a>(spans: &'a [Span], kinds: &[Tok], rng: &mut Pcg64) -> Option<&'a Span> {
    let of: Vec<&Span> = spans.iter().filter(|s| kinds.contains(&s.kind)).collect();
    of.choose(rng).copied()
}

/// Byte ranges (with their newline) of the lines that hold something: not blank, not a comment.
fn content_lines(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            out.push((start, start + line.len()));
        }
        start += line.len();
    }
    out
}

fn with_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// A number in TOML: an integer when `integral` and it fits, else a float in exponent form (`inf`
/// and `nan` as TOML writes them).
fn toml_number(v: f64, integral: bool) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if integral && v.fract() == 0.0 && v.abs() < 9.2e18 {
        format!("{}", v as i64)
    } else {
        format!("{v:e}")
    }
}

fn parse_number(tok: &str) -> Option<(f64, bool)> {
    let t = tok.replace('_', "");
    if let Ok(i) = t.parse::<i64>() {
        return Some((i as f64, true));
    }
    t.parse::<f64>().ok().map(|v| (v, false))
}

const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0.0",
    "1e308",
    "-1e308",
    "5e-324",
    "1e-300",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "nan",
    "inf",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999",
    "4294967296",
    "1e22",
    "0.0",
    "1",
    "0.5",
    "1e-9",
    "123456789012",
    "0x7fffffff",
    "1_000_000_000",
];

const EXTREME_DATES: &[&str] = &[
    "0001-01-01",
    "9999-12-31",
    "1970-01-01",
    "1900-01-01",
    "2262-04-12",
    "2099-12-31",
    "2024-02-29",
    "2025-02-29",
    "2025-12-32",
    "2025-00-10",
    "2025-01-01T00:00:00",
    "2025-01-01T12:30:00Z",
    "2025-06-30 08:00:00",
    "2025-01-01T00:00:00+08:00",
];

const STRINGS: &[&str] = &[
    "\"\"",
    "\" \"",
    "\"CN\"",
    "\"US\"",
    "\"h100\"",
    "\"baseline\"",
    "\"数据中心-✓-😀\"",
    "\"\\u202Eevil\"",
    "\"a\\u0000b\"",
    "\"tab\\there\"",
    "\"../../etc/passwd\"",
    "\"a/b\"",
    "\".\"",
    "\"..\"",
    "\"nan\"",
    "\"inf\"",
    "\"CON\"",
    "'literal with \"quotes\"'",
    "\"line\\nbreak\"",
];

const HEADERS: &[&str] = &[
    "[chips.h100]",
    "[chips.new-chip]",
    "[chips]",
    "[sites.johor-h100]",
    "[sites.new-site]",
    "[sites.johor-h100.supply]",
    "[sites.\"\"]",
    "[firms.bytedance]",
    "[firms.new-firm]",
    "[[firms.deepseek.workloads]]",
    "[[policy]]",
    "[policy]",
    "[[sites]]",
    "[sources]",
    "[sweep]",
    "[x]",
    "[\"数据\"]",
];

/// The range of each figure (README, "Scenario format"), and whether it is a whole count: the
/// edge-values class sets figures to the ends of what `validate` accepts.
const RANGES: &[(&str, f64, f64, bool)] = &[
    ("bf16_dense_tflops", 1.0, 1e6, false),
    ("memory_gb", 0.0, 1e6, false),
    ("board_power_w", 1.0, 1e5, false),
    ("all_in_power_w", 1.0, 1e5, false),
    ("training_mfu", 0.01, 1.0, false),
    ("inference_tokens_per_s", 1.0, 1e9, false),
    ("purchase_usd", 0.0, 1e9, false),
    ("lease_usd_per_chip_hour", 0.0, 1e4, false),
    ("amortisation_years", 0.1, 100.0, false),
    ("electricity_usd_per_kwh", 0.0, 100.0, false),
    ("fee_fraction", 0.0, 100.0, false),
    ("pue", 1.0, 3.0, false),
    ("mtbf_hours", 1000.0, 1e9, false),
    ("repair_hours", 0.0, 1e5, false),
    ("restart_hours", 0.0, 1e5, false),
    ("checkpoint_hours", 1e-6, 1e5, false),
    ("power_cap_mw", 1e-3, 1e5, false),
    ("chips_per_year", 0.0, 1e8, false),
    ("size_flop", 1e6, 1e30, false),
    ("median", 1e6, 1e30, false),
    ("p95", 1e6, 1e30, false),
    ("every_days", 0.01, 36_525.0, false),
    ("mean_gap_days", 0.01, 36_525.0, false),
    ("tokens_per_day", 0.0, 1e18, false),
    ("growth_per_year", 0.01, 100.0, false),
    ("batch_hours", 0.01, 8766.0, false),
    ("grace_days", 0.0, 36_525.0, false),
    ("delay_days", 0.0, 36_525.0, false),
    ("factor", 0.0, 1000.0, false),
    ("daily_amplitude", 0.0, 1.0, false),
    ("inference_share", 0.0, 1.0, false),
    ("peak_hour", 0.0, 23.999_999, false),
    ("gang_chips", 1.0, 1e8, true),
    ("initial_chips", 0.0, 1e8, true),
    ("chips", 0.0, 1e8, true),
    ("max_chips", 0.0, 1e8, true),
];

/// The key a value at `at` is written under (`key = value`, also inside an inline table).
fn key_before(text: &str, at: usize) -> Option<&str> {
    let before = text[..at].trim_end();
    let before = before.strip_suffix('=')?.trim_end();
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .map_or(0, |p| p + 1);
    let k = &before[start..];
    (!k.is_empty()).then_some(k)
}

/// Applies one mutation of `class` to `text` (the file `file`, among the shipped `names`).
/// Returns the new text and what was done, or `None` when the class finds nothing to change.
fn mutate(
    class: Class,
    text: &str,
    file: &str,
    names: &[String],
    rng: &mut Pcg64,
) -> Option<(String, String)> {
    let spans = scan(text);
    let lines = content_lines(text);
    let show = |s: &str| {
        let s = s.trim_end_matches('\n');
        if s.chars().count() > 80 {
            format!(
                "{}... ({} bytes)",
                s.chars().take(80).collect::<String>(),
                s.len()
            )
        } else {
            s.to_string()
        }
    };
    let line_no = |at: usize| text[..at].matches('\n').count() + 1;
    match class {
        Class::DeleteLine => {
            let &(s, e) = lines.choose(rng)?;
            Some((
                splice(text, s, e, ""),
                format!("deleted line {}: {}", line_no(s), show(&text[s..e])),
            ))
        }
        Class::DuplicateLine => {
            let &(s, e) = lines.choose(rng)?;
            let line = with_newline(&text[s..e]);
            let (at, where_) = if rng.random_bool(0.5) {
                (e, "after itself".to_string())
            } else {
                let &(t, _) = lines.choose(rng)?;
                (t, format!("before line {}", line_no(t)))
            };
            Some((
                splice(text, at, at, &line),
                format!("duplicated line {} {where_}: {}", line_no(s), show(&line)),
            ))
        }
        Class::SwapLines => {
            let &(s1, e1) = lines.choose(rng)?;
            let &(s2, e2) = lines.choose(rng)?;
            if s1 == s2 {
                return None;
            }
            let ((a, b), (c, d)) = if s1 < s2 {
                ((s1, e1), (s2, e2))
            } else {
                ((s2, e2), (s1, e1))
            };
            let first = with_newline(&text[a..b]);
            let second = with_newline(&text[c..d]);
            let out = format!(
                "{}{}{}{}{}",
                &text[..a],
                second,
                &text[b..c],
                first,
                &text[d..]
            );
            Some((
                out,
                format!(
                    "swapped lines {} and {}: {} <-> {}",
                    line_no(a),
                    line_no(c),
                    show(&first),
                    show(&second)
                ),
            ))
        }
        Class::Truncate => {
            let mut at = rng.random_range(0..text.len().max(1));
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            Some((
                text[..at].to_string(),
                format!(
                    "truncated to {at} of {} bytes (in line {})",
                    text.len(),
                    line_no(at)
                ),
            ))
        }
        Class::ExtremeNumber => {
            let s = pick(&spans, &[Tok::Number], rng)?;
            let new = *EXTREME_NUMBERS.choose(rng)?;
            Some((
                splice(text, s.start, s.end, new),
                format!(
                    "line {}: number {} -> {new}: {}",
                    line_no(s.start),
                    &text[s.start..s.end],
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::ScaleNumber => {
            let s = pick(&spans, &[Tok::Number], rng)?;
            let (v, integral) = parse_number(&text[s.start..s.end])?;
            let new_v = match rng.random_range(0..4) {
                0 => -v,
                1 => v * (1.0 + 1e-12),
                _ => {
                    let k = loop {
                        let k: i32 = rng.random_range(-30..=30);
                        if k != 0 {
                            break k;
                        }
                    };
                    v * 10f64.powi(k)
                }
            };
            let new = toml_number(new_v, integral);
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: number {} -> {new}: {}",
                    line_no(s.start),
                    &text[s.start..s.end],
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::ExtremeDate => {
            let s = pick(&spans, &[Tok::Date], rng)?;
            let old = &text[s.start..s.end];
            let new = if rng.random_bool(0.5) {
                EXTREME_DATES.choose(rng)?.to_string()
            } else {
                let d = NaiveDate::parse_from_str(old.get(..10)?, "%Y-%m-%d").ok()?;
                let days: u64 = *[1u64, 2, 30, 365, 3650, 18_263, 18_264, 40_000].choose(rng)?;
                let moved = if rng.random_bool(0.5) {
                    d.checked_add_days(Days::new(days))
                } else {
                    d.checked_sub_days(Days::new(days))
                }?;
                moved.format("%Y-%m-%d").to_string()
            };
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: date {old} -> {new}: {}",
                    line_no(s.start),
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::RenameKey => {
            let s = pick(&spans, &[Tok::Key], rng)?;
            let old = &text[s.start..s.end];
            let keys: Vec<&str> = spans
                .iter()
                .filter(|k| k.kind == Tok::Key)
                .map(|k| &text[k.start..k.end])
                .collect();
            let new = match rng.random_range(0..6) {
                0 if old.len() > 1 => {
                    let cut = rng.random_range(0..old.len());
                    if !old.is_char_boundary(cut) || !old.is_char_boundary(cut + 1) {
                        return None;
                    }
                    format!("{}{}", &old[..cut], &old[cut + 1..])
                }
                1 => old.to_uppercase(),
                2 => format!("{old}_x"),
                3 => keys.choose(rng)?.to_string(),
                4 => "\"\"".to_string(),
                _ => "\"ключ\"".to_string(),
            };
            if new == old {
                return None;
            }
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: key {old} -> {new}: {}",
                    line_no(s.start),
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::StringValue => {
            let s = pick(&spans, &[Tok::Str], rng)?;
            let new = match rng.random_range(0..5) {
                0 => format!("\"{}\"", "a".repeat(*[201, 10_000, 100_000].choose(rng)?)),
                1 => format!("\"{}\"", "名".repeat(*[67, 201, 5_000].choose(rng)?)),
                _ => STRINGS.choose(rng)?.to_string(),
            };
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: string -> {}: {}",
                    line_no(s.start),
                    show(&new),
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::TypeFlip => {
            let s = pick(
                &spans,
                &[Tok::Number, Tok::Date, Tok::Bool, Tok::Str, Tok::Array],
                rng,
            )?;
            let old = &text[s.start..s.end];
            let new = match (s.kind, rng.random_range(0..3)) {
                (Tok::Str, 0) => "0".to_string(),
                (Tok::Str, 1) => "true".to_string(),
                (Tok::Array, 0) => old
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
                (Tok::Array, 1) => "\"[]\"".to_string(),
                (_, 2) => format!("[{old}]"),
                (_, 1) => "{}".to_string(),
                _ => format!("\"{}\"", old.replace('"', "")),
            };
            if new.is_empty() || new == old {
                return None;
            }
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: {:?} {} -> {}",
                    line_no(s.start),
                    s.kind,
                    show(old),
                    show(&new)
                ),
            ))
        }
        Class::TableHeader => {
            let &(at, _) = lines.choose(rng)?;
            let header = *HEADERS.choose(rng)?;
            Some((
                splice(text, at, at, &format!("{header}\n")),
                format!("inserted {header} before line {}", line_no(at)),
            ))
        }
        Class::ShuffleArray => {
            let arrays: Vec<&Span> = spans
                .iter()
                .filter(|s| s.kind == Tok::Array && elements(text, **s).len() >= 2)
                .collect();
            let s = **arrays.choose(rng)?;
            let els = elements(text, s);
            let items: Vec<&str> = els.iter().map(|&(a, b)| text[a..b].trim()).collect();
            let mut shuffled = items.clone();
            shuffled.shuffle(rng);
            if shuffled == items {
                shuffled.reverse();
            }
            if shuffled == items {
                return None;
            }
            let new = format!("[{}]", shuffled.join(", "));
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: array shuffled to {}",
                    line_no(s.start),
                    show(&new)
                ),
            ))
        }
        Class::LongArray => {
            let arrays: Vec<&Span> = spans
                .iter()
                .filter(|s| s.kind == Tok::Array && !elements(text, **s).is_empty())
                .collect();
            let s = **arrays.choose(rng)?;
            let items: Vec<&str> = elements(text, s)
                .iter()
                .map(|&(a, b)| text[a..b].trim())
                .collect();
            let n = *[3usize, 50, 1_000, 10_001].choose(rng)?;
            let long: Vec<&str> = items.iter().copied().cycle().take(n).collect();
            let new = format!("[{}]", long.join(", "));
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: array of {} made {n} long: {}",
                    line_no(s.start),
                    items.len(),
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::ExtendsTarget => {
            let mut targets: Vec<String> = [
                "\"baseline.toml\"",
                "\"missing.toml\"",
                "\"\"",
                "\".\"",
                "\"..\"",
                "\"/dev/null\"",
                "\"/dev/zero\"",
                "\"/dev/urandom\"",
                "\"fifo.toml\"",
                "\"/proc/self/status\"",
                "\"/etc/hostname\"",
                "\"sub/../baseline.toml\"",
                "\"./baseline.toml\"",
                "\"baseline.toml\\u0000x\"",
                "42",
                "[\"baseline.toml\"]",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            targets.extend(names.iter().map(|n| format!("{n:?}")));
            targets.push(format!("{file:?}"));
            let new = targets.choose(rng)?.clone();
            let existing = spans.iter().find(|k| {
                k.kind == Tok::Key
                    && &text[k.start..k.end] == "extends"
                    && line_of(text, k.start).trim_start().starts_with("extends")
            });
            match existing {
                Some(k) => {
                    let line = line_of(text, k.start);
                    let line_start = k.start - (line.len() - line.trim_start().len());
                    let line_end = line_start + line.len();
                    Some((
                        splice(text, line_start, line_end, &format!("extends = {new}")),
                        format!("line {}: extends -> {new}", line_no(k.start)),
                    ))
                }
                None => Some((
                    format!("extends = {new}\n{text}"),
                    format!("line 1: added extends = {new}"),
                )),
            }
        }
        Class::InvertDistribution => {
            let dists: Vec<&Span> = spans
                .iter()
                .filter(|s| {
                    s.kind == Tok::Array && {
                        let before = text[..s.start].trim_end();
                        let before = before.strip_suffix('=').unwrap_or(before).trim_end();
                        before.ends_with("triangular") || before.ends_with("uniform")
                    }
                })
                .collect();
            if let Some(s) = dists.choose(rng).copied() {
                let s = *s;
                let items: Vec<&str> = elements(text, s)
                    .iter()
                    .map(|&(a, b)| text[a..b].trim())
                    .collect();
                let mut inv = items.clone();
                inv.reverse();
                if inv == items {
                    return None;
                }
                let new = format!("[{}]", inv.join(", "));
                return Some((
                    splice(text, s.start, s.end, &new),
                    format!("line {}: distribution inverted to {new}", line_no(s.start)),
                ));
            }
            // A lognormal with p95 below its median, or a number made an inverted distribution.
            let medians: Vec<usize> = text.match_indices("median = ").map(|(i, _)| i).collect();
            if !medians.is_empty() && rng.random_bool(0.5) {
                let at = *medians.choose(rng)?;
                let line = line_of(text, at);
                let line_start = at - text[..at].rfind('\n').map_or(at, |p| at - p - 1);
                let (m, p) = (line.find("median = ")?, line.find("p95 = ")?);
                let num = |from: usize| {
                    let rest = &line[from..];
                    let end = rest.find([',', ' ', '}']).unwrap_or(rest.len());
                    (from, from + end)
                };
                let (ms, me) = num(m + 9);
                let (ps, pe) = num(p + 6);
                let (first, second) = ((ms, me), (ps, pe));
                let mut new_line = line.to_string();
                let (a, b) = (&line[first.0..first.1], &line[second.0..second.1]);
                if a == b {
                    return None;
                }
                new_line.replace_range(second.0..second.1, a);
                new_line.replace_range(first.0..first.1, b);
                return Some((
                    splice(text, line_start, line_start + line.len(), &new_line),
                    format!("line {}: lognormal median and p95 swapped", line_no(at)),
                ));
            }
            let s = pick(&spans, &[Tok::Number], rng)?;
            let (v, _) = parse_number(&text[s.start..s.end])?;
            let f = *[1.01, 2.0, 10.0, 1e6].choose(rng)?;
            let (lo, hi) = (toml_number(v / f, false), toml_number(v * f, false));
            let x = toml_number(v, false);
            let new = match rng.random_range(0..4) {
                0 => format!("{{ triangular = [{hi}, {x}, {lo}] }}"),
                1 => format!("{{ triangular = [{x}, {lo}, {hi}] }}"),
                2 => format!("{{ uniform = [{hi}, {lo}] }}"),
                _ => format!("{{ lognormal = {{ median = {x}, p95 = {lo} }} }}"),
            };
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: {} -> {new}: {}",
                    line_no(s.start),
                    &text[s.start..s.end],
                    show(line_of(text, s.start))
                ),
            ))
        }
        Class::Stacked => {
            // Two to four mutations of the classes that most often still validate, one after the
            // other: a long horizon with short gaps, a wide distribution on an edge, ...
            const STACKABLE: [Class; 7] = [
                Class::ScaleNumber,
                Class::ExtremeDate,
                Class::EdgeValues,
                Class::WidenDistribution,
                Class::LongArray,
                Class::StringValue,
                Class::DeleteLine,
            ];
            let n = rng.random_range(2..=4);
            let mut out = text.to_string();
            let mut what = Vec::new();
            for _ in 0..n {
                let class = *STACKABLE.choose(rng)?;
                if let Some((next, w)) = mutate(class, &out, file, names, rng) {
                    out = next;
                    what.push(format!("{}: {w}", class.name()));
                }
            }
            if what.is_empty() {
                return None;
            }
            Some((out, what.join(" | ")))
        }
        Class::EdgeValues => {
            // One to six figures set to an end of their range (or just inside it), all at once.
            let figures: Vec<(&Span, f64, f64, bool)> = spans
                .iter()
                .filter(|s| s.kind == Tok::Number)
                .filter_map(|s| {
                    let k = key_before(text, s.start)?;
                    let &(_, lo, hi, whole) = RANGES.iter().find(|r| r.0 == k)?;
                    Some((s, lo, hi, whole))
                })
                .collect();
            if figures.is_empty() {
                return None;
            }
            let n = rng.random_range(1..=6usize).min(figures.len());
            let mut chosen: Vec<&(&Span, f64, f64, bool)> =
                figures.choose_multiple(rng, n).collect();
            // Splice from the end so that earlier offsets stay valid.
            chosen.sort_by_key(|f| std::cmp::Reverse(f.0.start));
            let mut out = text.to_string();
            let mut what = Vec::new();
            for &&(s, lo, hi, whole) in &chosen {
                let v = match rng.random_range(0..4) {
                    0 => lo,
                    1 | 2 => hi,
                    _ if whole => (hi - 1.0).max(lo),
                    _ => hi * (1.0 - 1e-9),
                };
                let new = toml_number(v, whole);
                what.push(format!(
                    "line {}: {} = {new}",
                    line_no(s.start),
                    key_before(text, s.start).unwrap_or("?")
                ));
                out = splice(&out, s.start, s.end, &new);
            }
            what.reverse();
            Some((out, format!("edges: {}", what.join("; "))))
        }
        Class::WidenDistribution => {
            let s = pick(&spans, &[Tok::Number], rng)?;
            let (v, _) = parse_number(&text[s.start..s.end])?;
            let f = *[1.0001, 2.0, 10.0, 1e3, 1e10, 1e100, 1e300].choose(rng)?;
            let (lo, hi) = (toml_number(v / f, false), toml_number(v * f, false));
            let x = toml_number(v, false);
            let new = match rng.random_range(0..5) {
                0 => format!("{{ uniform = [{lo}, {hi}] }}"),
                1 => format!("{{ triangular = [{lo}, {x}, {hi}] }}"),
                2 => format!("{{ triangular = [0, {x}, {hi}] }}"),
                3 => format!("{{ triangular = [{x}, {x}, {x}] }}"),
                _ => format!("{{ lognormal = {{ median = {x}, p95 = {hi} }} }}"),
            };
            Some((
                splice(text, s.start, s.end, &new),
                format!(
                    "line {}: {} -> {new}: {}",
                    line_no(s.start),
                    &text[s.start..s.end],
                    show(line_of(text, s.start))
                ),
            ))
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Cases

struct Case {
    index: usize,
    class: Class,
    /// The shipped file mutated.
    file: String,
    text: String,
    what: String,
    /// The run's `--period`.
    period: &'static str,
}

/// Case `index` under `seed`: the same on every machine.
fn make_case(index: usize, seed: u64, shipped: &[(String, String)]) -> Case {
    let class = CLASSES[index % CLASSES.len()];
    let mut rng = Pcg64::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let names: Vec<String> = shipped.iter().map(|(n, _)| n.clone()).collect();
    for _ in 0..50 {
        // The baseline is most of what there is to mutate: four cases in ten.
        let (file, text) = if rng.random_bool(0.4) {
            shipped
                .iter()
                .find(|(n, _)| n == "baseline.toml")
                .unwrap_or(&shipped[0])
        } else {
            shipped.choose(&mut rng).expect("shipped scenarios")
        };
        if let Some((text, what)) = mutate(class, text, file, &names, &mut rng) {
            // Most runs report by month; some by week or day (many more rows).
            let period = *["month", "month", "month", "month", "week", "day"]
                .choose(&mut rng)
                .expect("periods");
            return Case {
                index,
                class,
                file: file.clone(),
                text,
                what,
                period,
            };
        }
    }
    let (file, text) = &shipped[0];
    Case {
        index,
        class,
        file: file.clone(),
        text: text.clone(),
        what: "no mutation of this class applied: the file as shipped".into(),
        period: "month",
    }
}

// ------------------------------------------------------------------------------------------------
// Running the binary

#[derive(Debug)]
enum Exit {
    Code(i32),
    Signal(i32),
    Timeout,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
            Exit::Timeout => write!(f, "timed out"),
        }
    }
}

struct Exec {
    exit: Exit,
    stdout: String,
    stderr: String,
    secs: f64,
    /// Peak resident memory, KiB, where the platform says.
    max_rss_kb: Option<u64>,
}

impl Exec {
    fn code(&self) -> Option<i32> {
        match self.exit {
            Exit::Code(c) => Some(c),
            _ => None,
        }
    }
}

fn exec(bin: &Path, args: &[&str], cwd: &Path, timeout: Duration) -> std::io::Result<Exec> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let (exit, max_rss_kb) = wait(&mut child, started, timeout)?;
    let stdout = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    Ok(Exec {
        exit,
        stdout,
        stderr,
        secs: started.elapsed().as_secs_f64(),
        max_rss_kb,
    })
}

/// Waits for `child`, killing it after `timeout`; returns how it ended and its peak resident
/// memory in KiB (from `wait4`'s rusage).
#[cfg(unix)]
fn wait(
    child: &mut std::process::Child,
    started: Instant,
    timeout: Duration,
) -> std::io::Result<(Exit, Option<u64>)> {
    let pid = child.id() as libc::pid_t;
    let mut killed = false;
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `rusage` is plain data, zeroed, which `wait4` fills in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if killed { 0 } else { libc::WNOHANG };
        // SAFETY: `pid` is our child, not yet reaped (std never waited for it); the pointers are
        // to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r == pid {
            let exit = if killed {
                Exit::Timeout
            } else if libc::WIFEXITED(status) {
                Exit::Code(libc::WEXITSTATUS(status))
            } else if libc::WIFSIGNALED(status) {
                Exit::Signal(libc::WTERMSIG(status))
            } else {
                Exit::Signal(0)
            };
            return Ok((exit, u64::try_from(usage.ru_maxrss).ok()));
        }
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if !killed && started.elapsed() > timeout {
            child.kill()?;
            killed = true;
            continue;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(not(unix))]
fn wait(
    child: &mut std::process::Child,
    started: Instant,
    timeout: Duration,
) -> std::io::Result<(Exit, Option<u64>)> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status.code().map_or(Exit::Signal(0), Exit::Code), None));
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok((Exit::Timeout, None));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ------------------------------------------------------------------------------------------------
// Checks

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Failure {
    /// Exit 101: a Rust panic.
    Panic,
    /// Killed by a signal (a crash, an abort, out of memory).
    Signal,
    /// Ran past the timeout.
    Hang,
    /// Used more memory than `--max-rss-mb`.
    Memory,
    /// Wrote a folder larger than `--max-output-mb`.
    BigOutput,
    /// An exit code other than 0, 2 (and 101).
    BadExit,
    /// Exit 2 without `error: FILE:LINE:COL:`.
    Unlocated,
    /// A location past the end of its file.
    BadLocation,
    /// Exit 2 without a `help:` line.
    NoHelp,
    /// `validate` accepted the file and `run` failed (exit 1 or 2).
    RunFailed,
    /// `validate` refused the file and `run` accepted it.
    Disagree,
    /// A failed run left something under --out, or a temporary folder.
    WroteWhenRefused,
    /// A successful run wrote something else than OUT/<name>/, or no CSV.
    BadOutput,
    /// inf or NaN in a CSV of a successful run.
    NonFinite,
}

impl Failure {
    fn name(self) -> &'static str {
        match self {
            Failure::Panic => "panic",
            Failure::Signal => "signal",
            Failure::Hang => "hang",
            Failure::Memory => "memory",
            Failure::BigOutput => "big-output",
            Failure::BadExit => "bad-exit",
            Failure::Unlocated => "unlocated",
            Failure::BadLocation => "bad-location",
            Failure::NoHelp => "no-help",
            Failure::RunFailed => "run-failed",
            Failure::Disagree => "disagree",
            Failure::WroteWhenRefused => "wrote-on-failure",
            Failure::BadOutput => "bad-output",
            Failure::NonFinite => "non-finite",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Validated, ran, finite outputs.
    Ok,
    /// Refused by both commands, located, nothing written.
    Refused,
    Failed(Failure),
}

/// The failure of a command that did not exit 0 or 2 (or used more than `max_rss_mb`), if so.
fn crash(e: &Exec, max_rss_mb: u64) -> Option<Failure> {
    if e.max_rss_kb
        .is_some_and(|kb| kb > max_rss_mb.saturating_mul(1024))
    {
        return Some(Failure::Memory);
    }
    match e.exit {
        Exit::Timeout => Some(Failure::Hang),
        Exit::Signal(_) => Some(Failure::Signal),
        Exit::Code(101) => Some(Failure::Panic),
        Exit::Code(0 | 2) => None,
        Exit::Code(_) if e.stderr.contains("panicked") => Some(Failure::Panic),
        Exit::Code(_) => None,
    }
}

/// An exit 2's message: `error: FILE:LINE:COL: ...` with the line inside FILE (resolved against
/// `cwd`) when it is a file, and a `help:` line.
fn check_refusal(stderr: &str, cwd: &Path) -> Result<(), (Failure, String)> {
    let Some(first) = stderr.lines().find_map(|l| l.strip_prefix("error: ")) else {
        return Err((Failure::Unlocated, "no 'error: ' line".into()));
    };
    let found = first.match_indices(':').find_map(|(i, _)| {
        let rest = &first[i + 1..];
        let (line, rest) = rest.split_once(':')?;
        let (col, rest) = rest.split_once(':')?;
        if !rest.starts_with(' ') {
            return None;
        }
        Some((
            &first[..i],
            line.parse::<usize>().ok()?,
            col.parse::<usize>().ok()?,
        ))
    });
    let Some((file, line, col)) = found else {
        return Err((Failure::Unlocated, first.to_string()));
    };
    if line == 0 || col == 0 {
        return Err((Failure::BadLocation, first.to_string()));
    }
    let path = cwd.join(file);
    if path.is_file() {
        if let Ok(text) = std::fs::read(&path) {
            let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
            if line > lines {
                return Err((
                    Failure::BadLocation,
                    format!("line {line} of a file of {lines} lines: {first}"),
                ));
            }
        }
    }
    if !stderr.lines().any(|l| l.trim_start().starts_with("help: ")) {
        return Err((Failure::NoHelp, first.to_string()));
    }
    Ok(())
}

/// Columns that hold names or dates, never numbers (a site may be named "nan").
const TEXT_COLUMNS: &[&str] = &[
    "field",
    "source",
    "firm",
    "headquarters",
    "metric",
    "group_kind",
    "group",
    "site",
    "sites",
    "jurisdiction",
    "operator",
    "chip",
    "workload",
    "kind",
    "final_state",
    "period_start",
    "arrived",
    "first_start",
    "completed",
    "label",
    "policy",
    "scenario",
    "run",
    "period_end",
    "unit",
];

/// The first non-finite number in the CSVs under `dir`, and how many CSVs there are.
fn non_finite_csv(dir: &Path) -> (usize, Option<String>) {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|e| e != "csv") {
                continue;
            }
            count += 1;
            // Inputs as the scenario writes them (text, TOML): not outputs to check.
            if p.file_name().is_some_and(|n| n == "inputs.csv") {
                continue;
            }
            let mut reader = match csv::Reader::from_path(&p) {
                Ok(r) => r,
                Err(e) => return (count, Some(format!("{}: {e}", p.display()))),
            };
            let headers: Vec<String> = match reader.headers() {
                Ok(h) => h.iter().map(str::to_string).collect(),
                Err(e) => return (count, Some(format!("{}: {e}", p.display()))),
            };
            for (row, rec) in reader.records().enumerate() {
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => return (count, Some(format!("{}: {e}", p.display()))),
                };
                for (col, cell) in rec.iter().enumerate() {
                    let header = headers.get(col).map_or("?", String::as_str);
                    if TEXT_COLUMNS.contains(&header) {
                        continue;
                    }
                    if let Ok(v) = cell.trim().parse::<f64>() {
                        if !v.is_finite() {
                            return (
                                count,
                                Some(format!(
                                    "{} row {} column {header}: {cell}",
                                    p.display(),
                                    row + 2
                                )),
                            );
                        }
                    }
                }
            }
        }
    }
    (count, None)
}

/// Bytes of the files under `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Entries of `dir` (names), sorted; empty when it does not exist.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

struct Report {
    outcome: Outcome,
    detail: String,
    secs: f64,
    log: String,
    /// The largest peak memory of the case's commands, KiB.
    rss_kb: u64,
}

/// Writes the case's folder and runs it.
/// `peak` receives the largest peak memory (KiB) of the case's commands.
fn run_case(
    args: &Args,
    case: &Case,
    shipped: &[(String, String)],
    dir: &Path,
    peak: &std::cell::Cell<u64>,
) -> Report {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("cannot create a case folder");
    write_shipped(dir, shipped, Some(&case.file));
    write_at(dir, &case.file, case.text.as_bytes());
    if case.text.contains("\"fifo.toml\"") {
        let _ = Command::new("mkfifo").arg(dir.join("fifo.toml")).status();
    }
    let timeout = Duration::from_secs(args.timeout_s);
    let bin = std::fs::canonicalize(&args.bin).unwrap_or_else(|_| args.bin.clone());
    let mut log = format!(
        "case {} (seed {}), class {}: {} of {}\n",
        case.index,
        args.seed,
        case.class.name(),
        case.what,
        case.file
    );
    let mut secs = 0.0;
    let mut record = |what: &str, e: &Exec, log: &mut String| {
        secs += e.secs;
        peak.set(peak.get().max(e.max_rss_kb.unwrap_or(0)));
        log.push_str(&format!(
            "\n$ {what}\n{} after {:.2} s, peak memory {} MiB\n--- stdout\n{}--- stderr\n{}",
            e.exit,
            e.secs,
            e.max_rss_kb
                .map_or("?".to_string(), |kb| (kb / 1024).to_string()),
            tail(&e.stdout),
            tail(&e.stderr)
        ));
    };
    let fail = |f: Failure, detail: String, secs: f64, log: String| Report {
        outcome: Outcome::Failed(f),
        detail,
        secs,
        rss_kb: 0,
        log,
    };

    // An included fragment (`baseline/sites.toml`) is run through the file that includes it.
    let entry = match case.file.split_once('/') {
        Some((top, _)) => format!("{top}.toml"),
        None => case.file.clone(),
    };
    let validate = match exec(&bin, &["validate", &entry], dir, timeout) {
        Ok(e) => e,
        Err(e) => panic!("cannot start {}: {e}", bin.display()),
    };
    record(&format!("capsim validate {entry}"), &validate, &mut log);
    if let Some(f) = crash(&validate, args.max_rss_mb) {
        return fail(f, format!("validate: {}", validate.exit), secs, log);
    }
    let accepted = match validate.code() {
        Some(0) => true,
        Some(2) => {
            if let Err((f, d)) = check_refusal(&validate.stderr, dir) {
                return fail(f, format!("validate: {d}"), secs, log);
            }
            false
        }
        other => {
            return fail(
                Failure::BadExit,
                format!("validate: exit {other:?}"),
                secs,
                log,
            )
        }
    };

    let run_args = [
        "run",
        &entry,
        "--replications",
        "1",
        "--threads",
        "1",
        "--quiet",
        "--period",
        case.period,
        "--out",
        "out",
    ];
    let run = match exec(&bin, &run_args, dir, timeout) {
        Ok(e) => e,
        Err(e) => panic!("cannot start {}: {e}", bin.display()),
    };
    record(&format!("capsim {}", run_args.join(" ")), &run, &mut log);
    if let Some(f) = crash(&run, args.max_rss_mb) {
        return fail(f, format!("run: {}", run.exit), secs, log);
    }
    let out = dir.join("out");
    let hidden: Vec<String> = entries(dir)
        .into_iter()
        .filter(|n| n.starts_with('.'))
        .collect();
    match (accepted, run.code()) {
        (_, Some(c)) if c != 0 && c != 2 && !accepted => fail(
            Failure::BadExit,
            format!("run: exit {c} for a file validate refused"),
            secs,
            log,
        ),
        (true, Some(c)) if c != 0 => fail(
            Failure::RunFailed,
            format!(
                "validate ok, run exit {c}: {}",
                run.stderr.lines().next().unwrap_or("")
            ),
            secs,
            log,
        ),
        (false, Some(0)) => fail(
            Failure::Disagree,
            "validate refused, run accepted".into(),
            secs,
            log,
        ),
        (false, _) => {
            if let Err((f, d)) = check_refusal(&run.stderr, dir) {
                return fail(f, format!("run: {d}"), secs, log);
            }
            if out.exists() || !hidden.is_empty() {
                return fail(
                    Failure::WroteWhenRefused,
                    format!(
                        "after a refusal: out/ holds {:?}, hidden {:?}",
                        entries(&out),
                        hidden
                    ),
                    secs,
                    log,
                );
            }
            Report {
                outcome: Outcome::Refused,
                detail: validate.stderr.lines().next().unwrap_or("").to_string(),
                secs,
                rss_kb: 0,
                log,
            }
        }
        (true, _) => {
            let written = entries(&out);
            let hidden_out: Vec<&String> = written.iter().filter(|n| n.starts_with('.')).collect();
            if written.len() != 1 || !hidden.is_empty() || !hidden_out.is_empty() {
                return fail(
                    Failure::BadOutput,
                    format!("out/ holds {written:?}, hidden beside it {hidden:?}"),
                    secs,
                    log,
                );
            }
            let bytes = folder_bytes(&out.join(&written[0]));
            if bytes > args.max_output_mb << 20 {
                return fail(
                    Failure::BigOutput,
                    format!("the run folder holds {} MiB", bytes >> 20),
                    secs,
                    log,
                );
            }
            let (csvs, bad) = non_finite_csv(&out.join(&written[0]));
            if let Some(bad) = bad {
                return fail(Failure::NonFinite, bad, secs, log);
            }
            if csvs == 0 {
                return fail(Failure::BadOutput, "no CSV written".into(), secs, log);
            }
            let mut detail = format!("{csvs} CSVs finite");
            // The run against the shipped baseline's run of the same period: read back, compared.
            let reference = reference_run(&args.work, case.period);
            let run_dir = format!("out/{}", written[0]);
            let compare_args = [
                "compare",
                reference.to_str().expect("a UTF-8 path"),
                &run_dir,
                "--out",
                "cmp",
            ];
            let compare = match exec(&bin, &compare_args, dir, timeout) {
                Ok(e) => e,
                Err(e) => panic!("cannot start {}: {e}", bin.display()),
            };
            record(
                &format!("capsim {}", compare_args.join(" ")),
                &compare,
                &mut log,
            );
            if let Some(f) = crash(&compare, args.max_rss_mb) {
                return fail(f, format!("compare: {}", compare.exit), secs, log);
            }
            let cmp = dir.join("cmp");
            match compare.code() {
                Some(0) => {
                    let (csvs, bad) = non_finite_csv(&cmp);
                    if let Some(bad) = bad {
                        return fail(Failure::NonFinite, format!("compare: {bad}"), secs, log);
                    }
                    if csvs == 0 {
                        return fail(Failure::BadOutput, "compare wrote no CSV".into(), secs, log);
                    }
                    detail.push_str("; compared");
                }
                // Runs that cannot be compared (horizons apart): said, with help, nothing written.
                Some(2) => {
                    let said = compare.stderr.starts_with("error: ")
                        && compare.stderr.contains("\n  help: ");
                    if !said {
                        return fail(
                            Failure::NoHelp,
                            format!("compare: {}", compare.stderr.trim()),
                            secs,
                            log,
                        );
                    }
                    if cmp.exists() {
                        return fail(
                            Failure::WroteWhenRefused,
                            format!("compare refused, cmp/ holds {:?}", entries(&cmp)),
                            secs,
                            log,
                        );
                    }
                    detail.push_str("; compare refused");
                }
                other => {
                    return fail(
                        Failure::BadExit,
                        format!("compare: exit {other:?}"),
                        secs,
                        log,
                    )
                }
            }
            if case.text.contains("[sweep]") {
                // The file's own sweep, one replication per point, headline numbers only.
                let sweep_args = [
                    "sweep",
                    &entry,
                    "--replications",
                    "1",
                    "--headline-only",
                    "--threads",
                    "1",
                    "--quiet",
                    "--out",
                    "sweep-out",
                ];
                let sweep = match exec(&bin, &sweep_args, dir, timeout) {
                    Ok(e) => e,
                    Err(e) => panic!("cannot start {}: {e}", bin.display()),
                };
                record(
                    &format!("capsim {}", sweep_args.join(" ")),
                    &sweep,
                    &mut log,
                );
                let sweep_out = dir.join("sweep-out");
                if let Some(f) = crash(&sweep, args.max_rss_mb) {
                    return fail(f, format!("sweep: {}", sweep.exit), secs, log);
                }
                match sweep.code() {
                    Some(0) => {
                        let written = entries(&sweep_out);
                        if written.len() != 1 || written[0].starts_with('.') {
                            return fail(
                                Failure::BadOutput,
                                format!("sweep-out/ holds {written:?}"),
                                secs,
                                log,
                            );
                        }
                        let bytes = folder_bytes(&sweep_out.join(&written[0]));
                        if bytes > args.max_output_mb << 20 {
                            return fail(
                                Failure::BigOutput,
                                format!("the sweep folder holds {} MiB", bytes >> 20),
                                secs,
                                log,
                            );
                        }
                        let (csvs, bad) = non_finite_csv(&sweep_out.join(&written[0]));
                        if let Some(bad) = bad {
                            return fail(Failure::NonFinite, format!("sweep: {bad}"), secs, log);
                        }
                        detail.push_str(&format!("; sweep ran, {csvs} CSVs finite"));
                    }
                    Some(2) => {
                        if let Err((f, d)) = check_refusal(&sweep.stderr, dir) {
                            return fail(f, format!("sweep: {d}"), secs, log);
                        }
                        if sweep_out.exists() {
                            return fail(
                                Failure::WroteWhenRefused,
                                format!(
                                    "sweep refused, sweep-out/ holds {:?}",
                                    entries(&sweep_out)
                                ),
                                secs,
                                log,
                            );
                        }
                        detail.push_str("; sweep refused, located");
                    }
                    other => {
                        return fail(
                            Failure::BadExit,
                            format!("sweep: exit {other:?}"),
                            secs,
                            log,
                        )
                    }
                }
            }
            Report {
                outcome: Outcome::Ok,
                detail,
                secs,
                rss_kb: 0,
                log,
            }
        }
    }
}

/// The shipped baseline's run folder reported by `period`, made by [`make_references`].
fn reference_run(work: &Path, period: &str) -> PathBuf {
    work.join("reference").join(period).join("baseline")
}

/// Runs the shipped baseline once per period, for the cases' `capsim compare`.
fn make_references(args: &Args, work: &Path, shipped: &[(String, String)]) {
    let dir = work.join("reference");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create the reference folder");
    assert!(
        shipped.iter().any(|(n, _)| n == "baseline.toml"),
        "a shipped baseline.toml"
    );
    write_shipped(&dir, shipped, None);
    for period in ["month", "week", "day"] {
        let run_args = [
            "run",
            "baseline.toml",
            "--replications",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--period",
            period,
            "--out",
            period,
        ];
        let e = exec(
            &args.bin,
            &run_args,
            &dir,
            Duration::from_secs(args.timeout_s),
        )
        .expect("cannot start capsim");
        if e.code() != Some(0) {
            eprintln!(
                "mutation_campaign: the shipped baseline does not run by {period}: {}\n{}",
                e.exit, e.stderr
            );
            std::process::exit(2);
        }
    }
}

fn tail(s: &str) -> String {
    const MAX: usize = 4000;
    let mut out = if s.len() > MAX {
        let mut at = s.len() - MAX;
        while !s.is_char_boundary(at) {
            at += 1;
        }
        format!("[... {} bytes cut]\n{}", at, &s[at..])
    } else {
        s.to_string()
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

// ------------------------------------------------------------------------------------------------

/// Non-TOML files of the shipped folder (path relative to it, bytes), written into every case.
static COMPANIONS: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();

/// Writes `bytes` at `dir/rel`, creating the folders between.
fn write_at(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("cannot create a case's subfolder");
    }
    std::fs::write(&p, bytes).expect("cannot write a shipped file");
}

/// Writes the shipped folder into `dir`: every TOML file but `except`, and the other files.
fn write_shipped(dir: &Path, shipped: &[(String, String)], except: Option<&str>) {
    for (name, text) in shipped {
        if Some(name.as_str()) != except {
            write_at(dir, name, text.as_bytes());
        }
    }
    for (name, bytes) in COMPANIONS.get().map(Vec::as_slice).unwrap_or_default() {
        write_at(dir, name, bytes);
    }
}

fn main() {
    let args = Args::parse();
    if !args.bin.is_file() {
        eprintln!(
            "mutation_campaign: no capsim binary at {} (cargo build --release first)",
            args.bin.display()
        );
        std::process::exit(2);
    }
    // Every TOML file under the folder (the baseline's included files too), named by its path
    // relative to it; other files (observations, notes) are copied into every case as they are.
    let mut shipped: Vec<(String, String)> = Vec::new();
    let mut companions: Vec<(String, Vec<u8>)> = Vec::new();
    let mut stack = vec![args.scenarios.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()))
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&args.scenarios)
                .expect("under the folder")
                .to_string_lossy()
                .into_owned();
            if p.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&p).expect("a shipped scenario");
                shipped.push((rel, text));
            } else {
                companions.push((rel, std::fs::read(&p).expect("a shipped file")));
            }
        }
    }
    companions.sort();
    shipped.sort();
    COMPANIONS.set(companions).expect("set once");
    assert!(
        !shipped.is_empty(),
        "no scenarios in {}",
        args.scenarios.display()
    );

    std::fs::create_dir_all(&args.work).expect("cannot create the work folder");
    let work = std::fs::canonicalize(&args.work).expect("the work folder");
    let args = Args {
        bin: std::fs::canonicalize(&args.bin).expect("the capsim binary"),
        work: work.clone(),
        ..args
    };
    make_references(&args, &work, &shipped);
    let cases_dir = args.work.join("cases");
    let failures_dir = args.work.join("failures");
    let _ = std::fs::remove_dir_all(&cases_dir);
    let _ = std::fs::remove_dir_all(&failures_dir);
    std::fs::create_dir_all(&cases_dir).expect("cannot create the work folder");

    let indexes: Vec<usize> = match args.case {
        Some(k) => vec![k],
        None => (0..args.cases)
            .filter(|i| {
                args.class
                    .as_deref()
                    .is_none_or(|c| CLASSES[i % CLASSES.len()].name() == c)
            })
            .collect(),
    };
    if let Some(c) = &args.class {
        if !CLASSES.iter().any(|k| k.name() == c) {
            let names: Vec<&str> = CLASSES.iter().map(|k| k.name()).collect();
            eprintln!(
                "mutation_campaign: no class '{c}'; the classes: {}",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Class, Report)>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = indexes.get(k) else {
                    break;
                };
                let case = make_case(index, args.seed, &shipped);
                let dir = cases_dir.join(format!("{index:06}"));
                let peak = std::cell::Cell::new(0);
                let mut report = run_case(&args, &case, &shipped, &dir, &peak);
                report.rss_kb = peak.get();
                if args.verbose {
                    eprintln!(
                        "case {index:6} {:<20} {:>6.2} s {:?}: {}",
                        case.class.name(),
                        report.secs,
                        report.outcome,
                        report
                            .detail
                            .lines()
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(160)
                            .collect::<String>()
                    );
                }
                if let Outcome::Failed(f) = report.outcome {
                    let keep =
                        failures_dir.join(format!("{index:06}-{}-{}", case.class.name(), f.name()));
                    let _ = std::fs::create_dir_all(&failures_dir);
                    let _ = std::fs::remove_dir_all(dir.join("out"));
                    let _ = std::fs::rename(&dir, &keep);
                    let _ = std::fs::write(
                        keep.join("REPRODUCE.txt"),
                        format!(
                            "{}\n\nAgain: mutation_campaign --seed {} --case {index}\n",
                            report.log, args.seed
                        ),
                    );
                    eprintln!(
                        "FAIL case {index} ({}, {}): {}\n  {}\n  saved in {}",
                        case.class.name(),
                        f.name(),
                        report.detail,
                        case.what,
                        keep.display()
                    );
                } else if !args.keep && args.case.is_none() {
                    let _ = std::fs::remove_dir_all(&dir);
                } else {
                    let _ = std::fs::write(dir.join("REPRODUCE.txt"), &report.log);
                }
                results
                    .lock()
                    .expect("no panic while holding the lock")
                    .push((index, case.class, report));
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let mut results = results
        .into_inner()
        .expect("no panic while holding the lock");
    results.sort_by_key(|r| r.0);

    // The summary: per class, outcomes; then failures by kind; then times.
    let mut table: BTreeMap<Class, [usize; 3]> = BTreeMap::new();
    let mut by_kind: BTreeMap<Failure, usize> = BTreeMap::new();
    let mut case_secs: Vec<(f64, usize)> = Vec::new();
    for (index, class, r) in &results {
        let row = table.entry(*class).or_default();
        match r.outcome {
            Outcome::Ok => row[0] += 1,
            Outcome::Refused => row[1] += 1,
            Outcome::Failed(f) => {
                row[2] += 1;
                *by_kind.entry(f).or_default() += 1;
            }
        }
        case_secs.push((r.secs, *index));
    }
    println!(
        "mutation campaign: {} cases, seed {}, {} classes, {} jobs, binary {}",
        results.len(),
        args.seed,
        table.len(),
        jobs,
        args.bin.display()
    );
    println!(
        "{:<22} {:>6} {:>6} {:>8} {:>8}",
        "class", "cases", "ok", "refused", "failed"
    );
    let mut total = [0usize; 3];
    for (class, row) in &table {
        println!(
            "{:<22} {:>6} {:>6} {:>8} {:>8}",
            class.name(),
            row.iter().sum::<usize>(),
            row[0],
            row[1],
            row[2]
        );
        for k in 0..3 {
            total[k] += row[k];
        }
    }
    println!(
        "{:<22} {:>6} {:>6} {:>8} {:>8}",
        "total",
        total.iter().sum::<usize>(),
        total[0],
        total[1],
        total[2]
    );
    if by_kind.is_empty() {
        println!("failures: none");
    } else {
        let kinds: Vec<String> = by_kind
            .iter()
            .map(|(f, n)| format!("{} {n}", f.name()))
            .collect();
        println!("failures by kind: {}", kinds.join(", "));
    }
    let (peak_kb, peak_case) = results
        .iter()
        .map(|(i, _, r)| (r.rss_kb, *i))
        .max()
        .unwrap_or((0, 0));
    case_secs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let sum: f64 = case_secs.iter().map(|c| c.0).sum();
    println!(
        "time: {wall:.1} s wall, {:.3} s per case (validate + run, one process at a time), \
         slowest case {} at {:.2} s",
        sum / results.len().max(1) as f64,
        case_secs.first().map_or(0, |c| c.1),
        case_secs.first().map_or(0.0, |c| c.0)
    );
    println!(
        "memory: peak {} MiB (case {peak_case}); limit {} MiB",
        peak_kb / 1024,
        args.max_rss_mb
    );
    if total[2] > 0 {
        println!("reproducers: {}", failures_dir.display());
        std::process::exit(1);
    }
}
