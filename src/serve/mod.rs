//! `capsim serve`: a local web app to explore what-ifs live, on the analyst's own machine.
//!
//! The page (`assets/web/`, built into the binary, with its one library, uPlot, vendored) picks a
//! scenario, moves, switches off or adds dated rules, edits any sourced input (checked by the
//! loader, whose located message comes back beside the field), and runs it. Replications stream
//! in as server-sent events, each with the charts of the replications finished so far, drawn from
//! the same specs as the static report's charts ([`crate::report::charts::web`]). Every run is a
//! normal run folder under `--out`, written by [`crate::api::run_live`] exactly as `capsim run`
//! writes it (the page shows the equivalent command line), listed, compared and downloadable.
//!
//! This module is the only home of axum and tokio (feature `serve`). It holds no model logic: it
//! turns requests into [`crate::api`] calls and their results into JSON.
//!
//! # Routes
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `GET /assets/<file>` | the page and its scripts and styles |
//! | `GET /api/scenarios` | the scenarios served: id, name, description, file, horizon |
//! | `GET /api/scenarios/{id}` | one scenario: its policy timeline and every field it can set (path, value or default, unit, source) |
//! | `POST /api/check` | `{scenario, set, add_policies}`: 200 `{ok, overrides}`, or 422 with the loader's located errors, each with the field path it is about |
//! | `POST /api/runs` | the same plus `replications`, `period`, `name`, `when_busy` (`cancel` or `queue`): 202 `{id, name, command}` |
//! | `GET /api/runs/{id}` | a run's state |
//! | `GET /api/runs/{id}/events` | server-sent events: `queued`, `started`, `progress` (done, total, charts), then `done`, `failed` or `cancelled` |
//! | `POST /api/runs/{id}/cancel` | cancels a queued or running run |
//! | `GET /api/folders` | the run folders under `--out`, newest first, each with its command line |
//! | `GET /api/folders/{name}/charts?compare=<other>` | a folder's charts, overlaid on another's, with the paired differences of their headline numbers |
//! | `GET /api/folders/{name}/files/<path>` | a file of a run folder (`?download=1`: as an attachment) |
//!
//! Bad requests get a 4xx with a JSON `{"error": ...}`; nothing a request holds can crash the
//! server. Runs go one at a time through one queue (at most 32 waiting; more get a 429), on the
//! simulation's own thread pool, so several tabs can share one server.

mod assets;
mod catalog;
mod routes;
mod runs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

/// What `capsim serve` is asked to serve.
#[derive(Clone, Debug)]
pub struct Options {
    /// Scenario files (empty: the built-in baseline and the `*.toml` scenarios of `./scenarios`).
    pub scenarios: Vec<PathBuf>,
    /// Where to listen.
    pub addr: SocketAddr,
    /// The folder that receives the run folders.
    pub out: PathBuf,
    /// Worker threads of each run (None: every core).
    pub threads: Option<usize>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is taken or not ours to bind.
    #[error("cannot listen on {addr}: {source}\n  help: choose another port with --port (0 picks a free one)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Loads the scenarios (a bad one is refused with its located error, before anything listens),
/// listens on `opts.addr`, calls `ready` with the address bound, and serves until the process
/// ends.
pub fn serve(opts: Options, ready: impl FnOnce(SocketAddr)) -> anyhow::Result<()> {
    let catalog = catalog::Catalog::load(&opts.scenarios)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("capsim-serve")
        .enable_all()
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: opts.addr,
                source,
            })?;
        let addr = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let state = Arc::new(routes::AppState {
            runs: runs::Runs::start(opts.threads),
            catalog,
            out: opts.out,
        });
        ready(addr);
        axum::serve(listener, routes::router(state))
            .await
            .context("the server stopped")
    })
}
