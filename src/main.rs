//! The `capsim` command line: parse, run, map errors to exit codes
//! (0 success, 2 bad input, 1 anything else).

mod cli;
mod progress;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    watch_signals();
    let args = cli::Cli::parse();
    match cli::execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<cli::AlreadyReported>() => ExitCode::from(2),
        Err(e) if capsim::api::is_input_error(&e) => {
            eprintln!("error: {e}");
            // (A sweep's point wraps the scenario's error, boxed: look through the chain.)
            use capsim::scenario::ScenarioError;
            if let Some(files) = e
                .chain()
                .find_map(|c| {
                    c.downcast_ref::<ScenarioError>()
                        .or_else(|| c.downcast_ref::<Box<ScenarioError>>().map(|b| &**b))
                })
                .map(ScenarioError::embedded_files)
                .filter(|f| !f.is_empty())
            {
                let src: Vec<String> = files
                    .iter()
                    .map(|f| f.replacen("<embedded>/", "scenarios/", 1))
                    .collect();
                eprintln!(
                    "  note: `<embedded>/` is the built-in baseline, compiled into capsim from {} \
                     in its source; `--set` changes it for one run, or copy scenarios/ and run \
                     `capsim run scenarios/baseline.toml` to edit it",
                    src.join(", ")
                );
            }
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP: removes this process's temporary output folders and exits with
/// 128 + the signal's number (130, 143, 129), as a shell reports a process killed by it.
///
/// The signals are blocked in the main thread before any other thread starts (threads inherit the
/// mask), and one thread waits for them with `sigwait`, so the cleanup is ordinary code, not a
/// signal handler.
#[cfg(unix)]
fn watch_signals() {
    // SAFETY: `sigset_t` is plain data that `sigemptyset` initialises; the calls get valid
    // pointers to it, and a null `oldset`, which `pthread_sigmask` allows.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    std::thread::spawn(move || loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is an initialised signal set and `sig` a valid place for the result.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 {
            capsim::report::output::abandon_and_exit(128 + sig);
        }
    });
}

#[cfg(not(unix))]
fn watch_signals() {}
