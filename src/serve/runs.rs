//! Live runs: one queue, one run at a time, each run's progress published to its listeners.
//!
//! A run is accepted with a name and a command line; a worker thread takes runs from the queue in
//! order and runs them with [`api::run_live`], which writes the same run folder as `capsim run`.
//! While it runs, each batch of finished replications becomes a `progress` snapshot (the charts
//! of those finished so far); listeners see the latest snapshot, then how it ended. A new run can
//! cancel the ones before it instead of queueing behind them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use crate::api;
use crate::experiment::{ExperimentError, Live};
use crate::report::charts::web;
use crate::report::{observed, view::RunView};
use crate::scenario::Scenario;

/// Most runs waiting in the queue; more are refused (429) until it drains.
pub const QUEUE_MAX: usize = 32;

/// Finished runs whose last charts are kept for late listeners.
const KEEP_CHARTS: usize = 8;

/// How often a run publishes its progress at most (the last replication always).
const EVERY: Duration = Duration::from_millis(200);

/// Where a run is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum State {
    /// Waiting in the queue.
    #[default]
    Queued,
    /// Running.
    Running,
    /// Its folder is written.
    Done,
    /// It failed (its message says why).
    Failed,
    /// Cancelled before it finished (nothing written).
    Cancelled,
}

impl State {
    /// As the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Running => "running",
            State::Done => "done",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
        }
    }

    /// Whether the run has ended.
    pub fn ended(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Cancelled)
    }
}

/// What listeners see of a run: its state, how far it is, its latest charts, and how it ended.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Where it is.
    pub state: State,
    /// Replications finished (as of the latest progress) and asked for.
    pub done: u64,
    /// Replications asked for.
    pub total: u64,
    /// The latest `progress` event's data (JSON), and its number (1, 2, ...).
    pub progress: Option<(u64, Arc<str>)>,
    /// The terminal event's data (JSON), once ended.
    pub end: Option<Arc<str>>,
}

/// One run.
pub struct Run {
    /// Its id in the API (`r1`, `r2`, ...).
    pub id: String,
    /// Its folder's name.
    pub name: String,
    /// The command line that writes the same folder.
    pub command: String,
    req: api::RunRequest,
    /// The scenario to run, taken when it starts (an ended run keeps none).
    scenario: Mutex<Option<Scenario>>,
    cancel: AtomicBool,
    accepted: Instant,
    tx: watch::Sender<Snapshot>,
}

impl Run {
    /// A receiver of the run's snapshots (the current one first).
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.tx.subscribe()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.tx.borrow().clone()
    }

    fn end(&self, state: State, data: serde_json::Value) {
        self.scenario
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.tx.send_modify(|s| {
            if !s.state.ended() {
                s.state = state;
                s.end = Some(data.to_string().into());
            }
        });
    }
}

struct Inner {
    queue: VecDeque<Arc<Run>>,
    current: Option<Arc<Run>>,
    all: HashMap<String, Arc<Run>>,
    finished: VecDeque<Arc<Run>>,
    next_id: u64,
    /// Run folder names handed out (each once per server).
    claimed: std::collections::HashSet<String>,
}

/// The queue and its worker.
pub struct Runs {
    inner: Mutex<Inner>,
    wake: Condvar,
    threads: Option<usize>,
}

/// Why a run was not accepted: the queue is full (429).
pub struct Full;

impl Runs {
    /// The queue, with its worker thread started.
    pub fn start(threads: Option<usize>) -> Arc<Runs> {
        let runs = Arc::new(Runs {
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                current: None,
                all: HashMap::new(),
                finished: VecDeque::new(),
                next_id: 1,
                claimed: std::collections::HashSet::new(),
            }),
            wake: Condvar::new(),
            threads,
        });
        let worker = Arc::clone(&runs);
        std::thread::Builder::new()
            .name("capsim-serve-runs".into())
            .spawn(move || worker.work())
            .expect("the run worker thread starts");
        runs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims the run folder name `name` under `out`: false if its folder exists or it was
    /// handed out before.
    pub fn claim(&self, out: &std::path::Path, name: &str) -> bool {
        let mut inner = self.lock();
        if out.join(name).exists() || inner.claimed.contains(name) {
            return false;
        }
        inner.claimed.insert(name.to_string())
    }

    /// Claims `<base>-NNN`, the first number free under `out` and not handed out before.
    pub fn claim_next(&self, out: &std::path::Path, base: &str) -> String {
        let mut inner = self.lock();
        let name = (1..)
            .map(|k| format!("{base}-{k:03}"))
            .find(|n| !out.join(n).exists() && !inner.claimed.contains(n))
            .expect("a free name");
        inner.claimed.insert(name.clone());
        name
    }

    /// Queues a run of `scenario` (already edited and checked) as `req` asks; with `cancel_busy`,
    /// cancels every run queued or running first.
    pub fn submit(
        &self,
        req: api::RunRequest,
        scenario: Scenario,
        cancel_busy: bool,
    ) -> Result<Arc<Run>, Full> {
        let mut inner = self.lock();
        let name = req.name.clone().unwrap_or_default();
        if cancel_busy {
            for r in inner.queue.drain(..) {
                r.cancel.store(true, Ordering::Relaxed);
                r.end(State::Cancelled, json!({}));
            }
            if let Some(r) = &inner.current {
                r.cancel.store(true, Ordering::Relaxed);
            }
        } else if inner.queue.len() >= QUEUE_MAX {
            return Err(Full);
        }
        let id = format!("r{}", inner.next_id);
        inner.next_id += 1;
        let (tx, _) = watch::channel(Snapshot {
            total: req.replications,
            ..Snapshot::default()
        });
        let run = Arc::new(Run {
            id: id.clone(),
            name,
            command: super::catalog::command(&req),
            req,
            scenario: Mutex::new(Some(scenario)),
            cancel: AtomicBool::new(false),
            accepted: Instant::now(),
            tx,
        });
        inner.all.insert(id, Arc::clone(&run));
        inner.queue.push_back(Arc::clone(&run));
        drop(inner);
        self.wake.notify_all();
        Ok(run)
    }

    /// The run with id `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Run>> {
        self.lock().all.get(id).cloned()
    }

    /// Position of `run` in the queue (1 = next), None when not queued.
    pub fn position(&self, run: &Run) -> Option<usize> {
        let inner = self.lock();
        inner
            .queue
            .iter()
            .position(|r| r.id == run.id)
            .map(|i| i + 1)
    }

    /// Cancels a queued or running run (an ended one stays as it ended).
    pub fn cancel(&self, run: &Arc<Run>) {
        run.cancel.store(true, Ordering::Relaxed);
        let mut inner = self.lock();
        if let Some(i) = inner.queue.iter().position(|r| r.id == run.id) {
            inner.queue.remove(i);
            run.end(State::Cancelled, json!({}));
        }
    }

    fn work(self: Arc<Self>) {
        loop {
            let run = {
                let mut inner = self.lock();
                loop {
                    if let Some(r) = inner.queue.pop_front() {
                        inner.current = Some(Arc::clone(&r));
                        break r;
                    }
                    inner = self
                        .wake
                        .wait(inner)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            // A panic in a run must not take the server with it: it fails that run.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_one(&run)));
            if outcome.is_err() {
                run.end(
                    State::Failed,
                    json!({ "message": "capsim failed unexpectedly (a bug: please report it with the scenario and the command line)" }),
                );
            }
            let mut inner = self.lock();
            inner.current = None;
            inner.finished.push_back(Arc::clone(&run));
            // Old runs keep their state and how they ended, not their charts.
            while inner.finished.len() > KEEP_CHARTS {
                if let Some(old) = inner.finished.pop_front() {
                    old.tx.send_modify(|s| s.progress = None);
                }
            }
        }
    }

    fn run_one(&self, run: &Run) {
        if run.cancel.load(Ordering::Relaxed) {
            run.end(State::Cancelled, json!({}));
            return;
        }
        let Some(scenario) = run
            .scenario
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            run.end(State::Cancelled, json!({}));
            return;
        };
        run.tx.send_modify(|s| s.state = State::Running);
        let first: Mutex<Option<f64>> = Mutex::new(None);
        let last: Mutex<f64> = Mutex::new(0.0);
        let seq = std::sync::atomic::AtomicU64::new(0);
        let partial = |result: &crate::experiment::RunResult| {
            let k = result.runs.len() as u64;
            let name = run.req.name.as_deref().unwrap_or(&scenario.name);
            let view = RunView::from_run_named(&scenario, result, name);
            let held = observed::hold(&scenario, result);
            let charts = match web::charts(std::slice::from_ref(&view), &held) {
                Ok(c) => c,
                Err(_) => return,
            };
            let ms = run.accepted.elapsed().as_secs_f64() * 1e3;
            first
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(ms);
            if k == run.req.replications {
                *last.lock().unwrap_or_else(PoisonError::into_inner) = ms;
            }
            let data = json!({ "done": k, "total": run.req.replications, "charts": charts });
            // Replications finish on parallel workers, so a snapshot of fewer may arrive after
            // one of more: only a snapshot of more replications than shown is published.
            let data: Arc<str> = data.to_string().into();
            run.tx.send_if_modified(|s| {
                if k <= s.done {
                    return false;
                }
                let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
                s.done = k;
                s.progress = Some((n, Arc::clone(&data)));
                true
            });
        };
        let live = Live {
            cancel: &run.cancel,
            partial: &partial,
            every: EVERY,
        };
        let req = api::RunRequest {
            threads: run.req.threads.or(self.threads),
            ..run.req.clone()
        };
        match api::run_live(&req, &scenario, &live) {
            Ok(done) => {
                let files = list_files(&done.folder);
                let first = *first.lock().unwrap_or_else(PoisonError::into_inner);
                let last = *last.lock().unwrap_or_else(PoisonError::into_inner);
                run.end(
                    State::Done,
                    json!({
                        "name": done.run,
                        "folder": done.folder.display().to_string(),
                        "files": files,
                        "command": run.command,
                        "wall_time_s": done.wall_time_s,
                        "first_chart_ms": first,
                        "all_charts_ms": last,
                        "folder_ms": run.accepted.elapsed().as_secs_f64() * 1e3,
                    }),
                );
            }
            Err(e)
                if matches!(
                    e.downcast_ref::<ExperimentError>(),
                    Some(ExperimentError::Cancelled)
                ) =>
            {
                run.end(State::Cancelled, json!({}));
            }
            Err(e) => run.end(State::Failed, json!({ "message": format!("{e:#}") })),
        }
    }
}

/// The files of a run folder, relative to it, sorted.
pub fn list_files(folder: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(folder.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push((e.path(), format!("{rel}/"))),
                Ok(t) if t.is_file() => out.push(rel),
                _ => {}
            }
        }
    }
    out.sort();
    out
}
