//! The `capsim` command line: parse, run, map errors to exit codes
//! (0 success, 2 bad input, 1 anything else).

mod cli;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<cli::AlreadyReported>() => ExitCode::from(2),
        Err(e)
            if e.is::<capsim::scenario::ScenarioError>()
                || e.is::<capsim::report::view::ReadError>()
                || e.is::<capsim::report::compare::CompareError>()
                || e.is::<capsim::experiment::sweep::SweepError>()
                || e.is::<capsim::report::sweep::MergeError>() =>
        {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
