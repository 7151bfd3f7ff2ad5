//! `capsim._capsim`: the Python extension module over [`capsim::api`]. The Python package
//! (`python/capsim/__init__.py`) wraps these calls and loads the folders they write as typed
//! DataFrames. Each call writes the same folder `capsim run`, `capsim sweep` or `capsim compare`
//! would, and raises `capsim.InputError` (a `ValueError`) with the same message, file, line and
//! column included, where the command line would exit with code 2.

use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use capsim::api;
use capsim::experiment::sweep::Design;
use capsim::metrics::PeriodKind;
use capsim::report::folders::Format;

create_exception!(
    _capsim,
    InputError,
    PyValueError,
    "A scenario, setting, folder or destination capsim refuses (the command line's exit code 2); \
     the message locates it (file:line:col) and says how to fix it."
);
create_exception!(
    _capsim,
    CapsimError,
    PyRuntimeError,
    "A failure that is not the input's fault (an I/O error, a broken invariant)."
);

fn to_py(e: anyhow::Error) -> PyErr {
    if api::is_input_error(&e) {
        InputError::new_err(format!("{e}"))
    } else {
        CapsimError::new_err(format!("{e:#}"))
    }
}

fn period(p: &str) -> PyResult<PeriodKind> {
    Ok(match p {
        "day" => PeriodKind::Day,
        "week" => PeriodKind::Week,
        "month" => PeriodKind::Month,
        "quarter" => PeriodKind::Quarter,
        "year" => PeriodKind::Year,
        other => {
            return Err(InputError::new_err(format!(
                "period '{other}': not a period\n  help: give day, week, month, quarter or year"
            )))
        }
    })
}

/// A count from 1 to `max`, refused as the command line refuses it (a negative number too, which
/// Python would otherwise refuse with an `OverflowError`).
fn count(what: &'static str, given: i128, max: u64) -> PyResult<u64> {
    api::whole(what, given, 1, max).map_err(|e| InputError::new_err(e.to_string()))
}

/// A seed: any whole number from 0 to 2^64 - 1.
fn seed(given: i128) -> PyResult<u64> {
    api::whole("seed", given, 0, u64::MAX).map_err(|e| InputError::new_err(e.to_string()))
}

/// Worker threads: 1 to 65535, as `--threads`.
fn threads(given: i128) -> PyResult<usize> {
    count("threads", given, api::THREADS_MAX).map(|t| t as usize)
}

/// Runs a scenario (None: the built-in baseline) and writes its run folder; returns its path.
#[pyfunction]
#[pyo3(signature = (scenario=None, *, set=Vec::new(), seed=None, replications=1, period="month", format="csv", threads=None, out="output".to_string(), name=None))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    scenario: Option<PathBuf>,
    set: Vec<String>,
    seed: Option<i128>,
    replications: i128,
    period: &str,
    format: &str,
    threads: Option<i128>,
    out: String,
    name: Option<String>,
) -> PyResult<String> {
    let req = api::RunRequest {
        scenario,
        set,
        seed: seed.map(self::seed).transpose()?,
        replications: count("replications", replications, api::RUN_REPLICATIONS_MAX)?,
        period: self::period(period)?,
        format: match format {
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            "both" => Format::Both,
            other => {
                return Err(InputError::new_err(format!(
                    "format '{other}': not a format\n  help: give csv, parquet or both"
                )))
            }
        },
        threads: threads.map(self::threads).transpose()?,
        out: PathBuf::from(out),
        name,
    };
    let done = py.detach(|| api::run(&req, &|| ())).map_err(to_py)?;
    Ok(done.folder.display().to_string())
}

/// Compares run folders (the first is the baseline); returns the comparison folder's path.
#[pyfunction]
#[pyo3(signature = (runs, *, out=None, period=None))]
fn compare(
    py: Python<'_>,
    runs: Vec<PathBuf>,
    out: Option<PathBuf>,
    period: Option<&str>,
) -> PyResult<String> {
    let period = period.map(self::period).transpose()?;
    let done = py
        .detach(|| api::compare(&runs, out.as_deref(), period))
        .map_err(to_py)?;
    Ok(done.folder.display().to_string())
}

/// Runs a sweep and writes its folder; returns its path.
#[pyfunction]
#[pyo3(signature = (scenario=None, *, vary=Vec::new(), design=None, replications=None, seed=None, period="month", headline_only=false, threads=None, out="output".to_string()))]
#[allow(clippy::too_many_arguments)]
fn sweep(
    py: Python<'_>,
    scenario: Option<PathBuf>,
    vary: Vec<String>,
    design: Option<&str>,
    replications: Option<i128>,
    seed: Option<i128>,
    period: &str,
    headline_only: bool,
    threads: Option<i128>,
    out: String,
) -> PyResult<String> {
    let design = match design {
        None => None,
        Some("grid") => Some(Design::Grid),
        Some("one-at-a-time") | Some("one_at_a_time") => Some(Design::OneAtATime),
        Some(other) => {
            return Err(InputError::new_err(format!(
                "design '{other}': not a design\n  help: give grid or one-at-a-time"
            )))
        }
    };
    let req = api::SweepRequest {
        scenario,
        vary,
        design,
        replications: replications
            .map(|r| count("replications", r, api::SWEEP_REPLICATIONS_MAX))
            .transpose()?,
        seed: seed.map(self::seed).transpose()?,
        shard: None,
        period: self::period(period)?,
        headline_only,
        out: PathBuf::from(out),
        threads: threads.map(self::threads).transpose()?,
    };
    let done = py
        .detach(|| api::sweep(&req, &|_| (), &|| ()))
        .map_err(to_py)?;
    Ok(done.folder.display().to_string())
}

/// The version of capsim this module was built from.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _capsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add("InputError", m.py().get_type::<InputError>())?;
    m.add("CapsimError", m.py().get_type::<CapsimError>())?;
    Ok(())
}
