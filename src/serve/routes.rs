//! The HTTP routes: requests in, [`crate::api`] and report calls made off the async threads,
//! JSON out. Every refusal is a 4xx with `{"error": ...}`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State as AxState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::assets;
use super::catalog::{self, Catalog, EditError, Edits};
use super::runs::{self, Runs, State};
use crate::api;
use crate::metrics::PeriodKind;
use crate::report::charts::{self, web};
use crate::report::compare;
use crate::report::folders::Format;
use crate::report::manifest::Manifest;
use crate::report::view::RunView;

/// What every handler shares.
pub struct AppState {
    /// The run queue.
    pub runs: Arc<Runs>,
    /// The scenarios offered.
    pub catalog: Catalog,
    /// The folder of the run folders.
    pub out: PathBuf,
}

type Shared = Arc<AppState>;

/// Largest request body (a scenario's edits are a few kilobytes).
const BODY_MAX: usize = 256 * 1024;

/// Most replications a page may ask for.
const REPLICATIONS_MAX: u64 = 1000;

/// Every route.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
        .route("/api/scenarios", get(scenarios))
        .route("/api/scenarios/{id}", get(scenario))
        .route("/api/check", post(check))
        .route("/api/runs", post(submit))
        .route("/api/runs/{id}", get(run_state))
        .route("/api/runs/{id}/events", get(events))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/folders", get(folders))
        .route("/api/folders/{name}/charts", get(folder_charts))
        .route("/api/folders/{name}/files/{*path}", get(folder_file))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page or API route") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "this route does not take that method (pages and lists are GET; checks, runs and \
                 cancels are POST)",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .with_state(state)
}

/// A JSON error response.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A refusal on its way out of a step (boxed: a response is large).
type Fail = Box<Response>;

/// [`error`], boxed.
fn fail(status: StatusCode, message: impl Into<String>) -> Fail {
    Box::new(error(status, message))
}

/// Runs blocking work (loading, simulating, reading folders) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Fail> {
    tokio::task::spawn_blocking(f).await.map_err(|_| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "capsim failed unexpectedly (a bug: please report it)",
        )
    })
}

/// The body as JSON of `T`, or a 400 that says what is wrong with it.
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, Fail> {
    b.map(|Json(t)| t).map_err(|r| {
        let status = if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        };
        fail(status, r.body_text())
    })
}

async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        assets::INDEX,
    )
        .into_response()
}

async fn asset(UrlPath(path): UrlPath<String>) -> Response {
    match assets::get(&path) {
        Some((ty, bytes)) => ([(header::CONTENT_TYPE, ty)], bytes).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no asset '{path}'")),
    }
}

async fn scenarios(AxState(s): AxState<Shared>) -> Response {
    Json(s.catalog.list()).into_response()
}

async fn scenario(AxState(s): AxState<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match s.catalog.get(&id) {
        Some(e) => Json(catalog::details(e)).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no scenario '{id}'")),
    }
}

fn overlay_dir(out: &Path) -> PathBuf {
    out.join("serve-scenarios")
}

fn refused(e: EditError) -> Response {
    match e {
        EditError::UnknownScenario(id) => {
            error(StatusCode::NOT_FOUND, format!("no scenario '{id}'"))
        }
        EditError::Refused(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "ok": false,
                "error": format!("{} error{} in the edits", errors.len(), if errors.len() == 1 { "" } else { "s" }),
                "errors": errors,
            })),
        )
            .into_response(),
    }
}

async fn check(AxState(s): AxState<Shared>, b: Result<Json<Edits>, JsonRejection>) -> Response {
    let edits = match body(b) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let result = blocking(move || {
        s.catalog
            .edit(&edits, &overlay_dir(&s.out))
            .map(|e| e.scenario.overrides())
    })
    .await;
    match result {
        Err(r) => *r,
        Ok(Err(e)) => refused(e),
        Ok(Ok(overrides)) => Json(json!({ "ok": true, "overrides": overrides })).into_response(),
    }
}

/// `POST /api/runs`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunBody {
    #[serde(flatten)]
    edits: EditsBody,
    #[serde(default = "one")]
    replications: u64,
    #[serde(default = "month")]
    period: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default = "queue")]
    when_busy: String,
}

/// [`Edits`] inside a run request (flattened, so without `deny_unknown_fields`).
#[derive(Deserialize)]
struct EditsBody {
    scenario: String,
    #[serde(default)]
    set: Vec<String>,
    #[serde(default)]
    add_policies: Vec<String>,
}

fn one() -> u64 {
    1
}
fn month() -> String {
    "month".into()
}
fn queue() -> String {
    "queue".into()
}

/// A name for a run folder, by the rule every writer follows ([`output::name_problem`]).
fn valid_name(name: &str) -> bool {
    crate::report::output::name_problem(name).is_none()
}

async fn submit(AxState(s): AxState<Shared>, b: Result<Json<RunBody>, JsonRejection>) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let Some(period) = PeriodKind::parse(&b.period) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "period '{}': use day, week, month, quarter or year",
                b.period
            ),
        );
    };
    if !(1..=REPLICATIONS_MAX).contains(&b.replications) {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "replications {}: use 1 to {REPLICATIONS_MAX}",
                b.replications
            ),
        );
    }
    let cancel_busy = match b.when_busy.as_str() {
        "cancel" => true,
        "queue" => false,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("when_busy '{other}': use cancel or queue"),
            )
        }
    };
    if let Some(n) = &b.name {
        if !valid_name(n) {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "name '{n}': {}",
                    crate::report::output::name_problem(n).unwrap_or_default()
                ) + "; "
                    + crate::report::output::NAME_HELP,
            );
        }
    }
    let edits = Edits {
        scenario: b.edits.scenario,
        set: b.edits.set,
        add_policies: b.edits.add_policies,
    };
    let state = Arc::clone(&s);
    let accepted = blocking(
        move || -> Result<(api::RunRequest, crate::scenario::Scenario), Fail> {
            let s = state;
            let dir = overlay_dir(&s.out);
            let edited = s
                .catalog
                .edit(&edits, &dir)
                .map_err(|e| Box::new(refused(e)))?;
            let name = match b.name {
                Some(n) => {
                    if !s.runs.claim(&s.out, &n) {
                        return Err(fail(
                            StatusCode::CONFLICT,
                            format!(
                            "a run folder '{n}' exists or is on its way: what was run is kept; \
                             choose another name"
                        ),
                        ));
                    }
                    n
                }
                None => {
                    let base = catalog::url_safe(&edited.scenario.name);
                    s.runs.claim_next(&s.out, &base)
                }
            };
            let file = match &edited.overlay {
                None => edited.file.clone(),
                Some(text) => {
                    let path = dir.join(format!("{name}.toml"));
                    let write =
                        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text));
                    if let Err(e) = write {
                        return Err(fail(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format!("cannot write {}: {e}", path.display()),
                        ));
                    }
                    Some(path)
                }
            };
            let req = api::RunRequest {
                scenario: file,
                set: edits.set.clone(),
                seed: None,
                replications: b.replications,
                period,
                format: Format::Csv,
                threads: None,
                out: s.out.clone(),
                name: Some(name),
            };
            // The scenario exactly as `capsim run` with these arguments loads it.
            let sc = api::scenario_for(&req)
                .map_err(|e| fail(StatusCode::UNPROCESSABLE_ENTITY, format!("{e}")))?;
            Ok((req, sc))
        },
    )
    .await;
    let (req, sc) = match accepted {
        Err(r) | Ok(Err(r)) => return *r,
        Ok(Ok(x)) => x,
    };
    match s.runs.submit(req, sc, cancel_busy) {
        Ok(run) => (
            StatusCode::ACCEPTED,
            Json(json!({ "id": run.id, "name": run.name, "command": run.command })),
        )
            .into_response(),
        Err(runs::Full) => error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} runs are waiting: wait for some to finish, or run with when_busy = cancel",
                runs::QUEUE_MAX
            ),
        ),
    }
}

async fn run_state(AxState(s): AxState<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(run) = s.runs.get(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no run '{id}'"));
    };
    let snap = run.snapshot();
    Json(json!({
        "id": run.id,
        "name": run.name,
        "command": run.command,
        "state": snap.state.as_str(),
        "done": snap.done,
        "total": snap.total,
    }))
    .into_response()
}

async fn cancel(AxState(s): AxState<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(run) = s.runs.get(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no run '{id}'"));
    };
    s.runs.cancel(&run);
    Json(json!({})).into_response()
}

/// What a listener has been sent so far.
struct Sent {
    queued: Option<usize>,
    started: bool,
    progress: u64,
    ended: bool,
}

async fn events(AxState(s): AxState<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(run) = s.runs.get(&id) else {
        return error(StatusCode::NOT_FOUND, format!("no run '{id}'"));
    };
    let rx = run.subscribe();
    let sent = Sent {
        queued: None,
        started: false,
        progress: 0,
        ended: false,
    };
    let stream = futures_util::stream::unfold(
        (rx, sent, run, s),
        |(mut rx, mut sent, run, s)| async move {
            if sent.ended {
                return None;
            }
            loop {
                let snap = rx.borrow_and_update().clone();
                let event = next_event(&snap, &mut sent, &run, &s.runs);
                if let Some(ev) = event {
                    return Some((Ok::<Event, Infallible>(ev), (rx, sent, run, s)));
                }
                if snap.state == State::Queued {
                    // The position moves without a new snapshot: look again now and then.
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_millis(500), rx.changed())
                            .await;
                } else if rx.changed().await.is_err() {
                    return None;
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The next event a listener that has been sent `sent` should get, if any.
fn next_event(
    snap: &runs::Snapshot,
    sent: &mut Sent,
    run: &runs::Run,
    runs: &Runs,
) -> Option<Event> {
    let ev = |name: &str, data: &str| Event::default().event(name).data(data);
    if snap.state == State::Queued {
        let pos = runs.position(run).unwrap_or(0);
        if sent.queued != Some(pos) {
            sent.queued = Some(pos);
            return Some(ev("queued", &json!({ "position": pos }).to_string()));
        }
        return None;
    }
    if !sent.started && snap.state != State::Cancelled {
        sent.started = true;
        return Some(ev(
            "started",
            &json!({ "replications": snap.total }).to_string(),
        ));
    }
    if let Some((n, data)) = &snap.progress {
        if *n > sent.progress {
            sent.progress = *n;
            return Some(ev("progress", data));
        }
    }
    if let Some(data) = &snap.end {
        sent.ended = true;
        return Some(ev(snap.state.as_str(), data));
    }
    None
}

/// The run folders of `out`: (name, manifest), newest first.
fn run_folders(out: &Path) -> Vec<(String, Manifest)> {
    let mut found: Vec<(std::time::SystemTime, String, Manifest)> = std::fs::read_dir(out)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_string();
                    if !valid_name(&name) {
                        return None;
                    }
                    let path = e.path().join("manifest.json");
                    let text = std::fs::read(&path).ok()?;
                    let m: Manifest = serde_json::from_slice(&text).ok()?;
                    let when = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
                    Some((when, name, m))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    found.into_iter().map(|(_, n, m)| (n, m)).collect()
}

/// The command line that writes the folder `name` again, from its manifest.
fn folder_command(out: &Path, name: &str, m: &Manifest) -> String {
    let file = m
        .files
        .first()
        .filter(|f| !f.starts_with("<embedded>/"))
        .map(PathBuf::from);
    let set = m
        .overrides
        .iter()
        .map(|o| match o.split_once(" = ") {
            Some((p, v)) => format!("{p}={}", v.trim_matches('"')),
            None => o.clone(),
        })
        .collect();
    let req = api::RunRequest {
        scenario: file,
        set,
        seed: Some(m.seed),
        replications: m.replications,
        period: PeriodKind::parse(&m.period).unwrap_or(PeriodKind::Month),
        // The manifest does not say which tables were written: the folder does.
        format: {
            let has = |ext: &str| out.join(name).join(format!("summary.{ext}")).is_file();
            match (has("csv"), has("parquet")) {
                (false, true) => Format::Parquet,
                (true, true) => Format::Both,
                _ => Format::Csv,
            }
        },
        threads: None,
        out: out.to_path_buf(),
        name: Some(name.to_string()),
    };
    catalog::command(&req)
}

async fn folders(AxState(s): AxState<Shared>) -> Response {
    let out = s.out.clone();
    let list = blocking(move || {
        run_folders(&out)
            .into_iter()
            .map(|(name, m)| {
                json!({
                    "name": name,
                    "scenario": m.scenario,
                    "replications": m.replications,
                    "period": m.period,
                    "seed": m.seed,
                    "overrides": m.overrides,
                    "start_date": m.start_date,
                    "end_date": m.end_date,
                    "command": folder_command(&out, &name, &m),
                    "files": runs::list_files(&out.join(&name)),
                })
            })
            .collect::<Vec<_>>()
    })
    .await;
    match list {
        Ok(list) => Json(json!({ "folders": list })).into_response(),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
struct ChartsQuery {
    compare: Option<String>,
}

async fn folder_charts(
    AxState(s): AxState<Shared>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<ChartsQuery>,
) -> Response {
    let names: Vec<String> = q.compare.iter().cloned().chain([name]).collect();
    if let Some(bad) = names.iter().find(|n| !valid_name(n)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("'{bad}' is not a run folder's name"),
        );
    }
    let out = s.out.clone();
    let result = blocking(move || -> Result<Value, Fail> {
        let views = names
            .iter()
            .map(|n| {
                RunView::read(&out.join(n))
                    .map_err(|e| fail(StatusCode::NOT_FOUND, format!("run folder '{n}': {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let charts = web::charts(&views, &[])
            .map_err(|e| fail(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
        let comparison = if views.len() == 2 {
            let c = compare::compare(&views)
                .map_err(|e| fail(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
            Some(comparison_json(&names, &c))
        } else {
            None
        };
        Ok(json!({ "charts": charts, "comparison": comparison }))
    })
    .await;
    match result {
        Err(r) | Ok(Err(r)) => *r,
        Ok(Ok(v)) => Json(v).into_response(),
    }
}

fn comparison_json(names: &[String], c: &compare::Comparison) -> Value {
    let rows: Vec<Value> = c
        .rows
        .iter()
        .map(|r| {
            let v = |i: usize| r.values.get(i).copied().flatten();
            let paired = r.paired.get(1).copied().flatten();
            json!({
                "metric": r.name,
                "title": charts::headline_title(&r.name),
                "group": r.group,
                "scope": r.scope.as_str(),
                "unit": r.unit(),
                "share": r.is_share(),
                "baseline_mean": v(0).map(|x| x.mean),
                "run_mean": v(1).map(|x| x.mean),
                "diff_mean": paired.map(|p| p.mean).or_else(|| r.diff(1)),
                "diff_p05": paired.and_then(|p| p.band).map(|b| b.0),
                "diff_p95": paired.and_then(|p| p.band).map(|b| b.1),
                "paired": paired.is_some(),
            })
        })
        .collect();
    json!({
        "baseline": names[0],
        "run": names[1],
        "window": [c.window.from.to_string(), c.window.until.to_string()],
        "rows": rows,
    })
}

#[derive(Deserialize)]
struct FileQuery {
    download: Option<String>,
}

async fn folder_file(
    AxState(s): AxState<Shared>,
    UrlPath((name, path)): UrlPath<(String, String)>,
    Query(q): Query<FileQuery>,
) -> Response {
    let safe_path = !path.is_empty() && path.split('/').all(valid_name);
    if !valid_name(&name) || !safe_path {
        return error(StatusCode::BAD_REQUEST, "not a file of a run folder");
    }
    let folder = s.out.join(&name);
    let file = folder.join(&path);
    let read = blocking(move || {
        if !folder.join("manifest.json").is_file() {
            return None;
        }
        std::fs::read(&file).ok()
    })
    .await;
    let bytes = match read {
        Err(r) => return *r,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no file '{path}' in run folder '{name}'"),
            )
        }
        Ok(Some(b)) => b,
    };
    let ty = match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    };
    let mut resp = ([(header::CONTENT_TYPE, ty)], bytes).into_response();
    if q.download.is_some() {
        let file_name = path.rsplit('/').next().unwrap_or(&path);
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{name}-{file_name}\""))
        {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    resp
}
