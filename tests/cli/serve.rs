//! `capsim serve` over real HTTP on loopback: a run from the page writes the folder its command
//! line writes, bad requests get a 4xx and leave the server up, runs queue and cancel.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::tmp;

/// A server on a free port, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    out: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scenario(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn start(name: &str) -> Server {
    let out = tmp(name).join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(["serve", "--port", "0", "--threads", "2", "--out"])
        .arg(&out)
        .arg(scenario("lease-ban-2026.toml"))
        .arg(scenario("baseline.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("http://")
        .and_then(|a| a.strip_suffix('/'))
        .unwrap_or_else(|| panic!("no address on stdout: {line:?}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "loopback by default: {addr}"
    );
    Server { child, addr, out }
}

/// One request: (status, body).
fn request(s: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(&s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        s.addr,
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text[9..12].parse().unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The events of a run's stream, (name, data), until it ends.
fn events(s: &Server, id: &str) -> Vec<(String, serde_json::Value)> {
    let (status, body) = request(s, "GET", &format!("/api/runs/{id}/events"), None);
    assert_eq!(status, 200);
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for l in block.lines() {
                if let Some(n) = l.strip_prefix("event: ").or(l.strip_prefix("event:")) {
                    name = Some(n.trim().to_string());
                } else if let Some(d) = l.strip_prefix("data: ").or(l.strip_prefix("data:")) {
                    data.push_str(d);
                }
            }
            Some((name?, json(&data)))
        })
        .collect()
}

fn submit(s: &Server, body: &str) -> serde_json::Value {
    let (status, resp) = request(s, "POST", "/api/runs", Some(body));
    assert_eq!(status, 202, "{resp}");
    json(&resp)
}

/// Every file of a folder, relative path -> bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The manifest without its wall time (which no two runs share).
fn without_wall_time(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.contains("\"wall_time_s\""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_run_from_the_page_streams_its_charts_and_writes_what_its_command_line_writes() {
    let s = start("serve-run");
    let run = submit(
        &s,
        r#"{"scenario": "lease-ban-2026", "set": ["policy.us-offshore-lease-ban-cn.from=2027-01-01"],
            "replications": 3, "period": "quarter"}"#,
    );
    let name = run["name"].as_str().unwrap().to_string();
    assert_eq!(name, "lease-ban-2026-001");
    let evs = events(&s, run["id"].as_str().unwrap());
    // A listener may come before the worker takes the run up: `queued` first, then `started`.
    let names: Vec<&str> = evs
        .iter()
        .map(|(n, _)| n.as_str())
        .skip_while(|n| *n == "queued")
        .collect();
    assert_eq!(names.first(), Some(&"started"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    let progress: Vec<&serde_json::Value> = evs
        .iter()
        .filter(|(n, _)| n == "progress")
        .map(|(_, d)| d)
        .collect();
    assert!(!progress.is_empty());
    let last = progress.last().unwrap();
    assert_eq!(last["done"], 3, "the last progress has every replication");
    let charts = last["charts"].as_array().unwrap();
    let compute = charts
        .iter()
        .find(|c| c["name"] == "throughput-compute")
        .unwrap();
    // The moved ban is on the charts' key, at its new date.
    let key = compute["key"].to_string();
    assert!(
        key.contains("2027-01-01") && key.contains("us-offshore-lease-ban-cn"),
        "{key}"
    );
    let done = &evs.last().unwrap().1;
    let command = done["command"].as_str().unwrap();
    assert!(
        command.contains("--set policy.us-offshore-lease-ban-cn.from=2027-01-01"),
        "{command}"
    );

    // The command line, run by hand into another folder, writes the same files, byte for byte.
    let again = tmp("serve-run-cli");
    let words: Vec<String> = command
        .split(' ')
        .skip(2)
        .map(str::to_string)
        .collect::<Vec<_>>();
    let out_at = words.iter().position(|w| w == "--out").unwrap();
    let mut args: Vec<String> = words[..out_at].to_vec();
    args.extend(["--out".into(), again.display().to_string(), "-q".into()]);
    let ran = Command::new(env!("CARGO_BIN_EXE_capsim"))
        .arg("run")
        .args(&args)
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let (a, b) = (files(&s.out.join(&name)), files(&again.join(&name)));
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((path, x), (_, y)) in a.iter().zip(&b) {
        if path == "manifest.json" {
            assert_eq!(without_wall_time(x), without_wall_time(y));
        } else {
            assert!(
                x == y,
                "{path} differs between the page's run and its command line"
            );
        }
    }

    // Listed with the command that writes it again; its charts and report can be fetched.
    let (_, list) = request(&s, "GET", "/api/folders", None);
    let list = json(&list);
    assert_eq!(list["folders"][0]["name"], name.as_str());
    let (status, report) = request(
        &s,
        "GET",
        &format!("/api/folders/{name}/files/report.html?download=1"),
        None,
    );
    assert_eq!(status, 200);
    assert!(report.contains("<html"));
    // Compared with another run: overlaid charts and the paired differences.
    let base = submit(
        &s,
        r#"{"scenario": "baseline", "replications": 3, "period": "quarter"}"#,
    );
    let evs = events(&s, base["id"].as_str().unwrap());
    assert_eq!(evs.last().unwrap().0, "done");
    let (status, body) = request(
        &s,
        "GET",
        &format!("/api/folders/{name}/charts?compare=baseline-001"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let rows = v["comparison"]["rows"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|r| r["paired"] == true && r["diff_p05"].is_number()));
}

#[test]
fn bad_requests_get_a_4xx_that_says_why_and_the_server_lives_on() {
    let s = start("serve-bad");
    let cases: [(&str, &str, Option<&str>, u16, &str); 10] = [
        ("DELETE", "/api/scenarios", None, 405, "method"),
        ("POST", "/api/runs", Some("{not json"), 400, "JSON"),
        (
            "POST",
            "/api/runs",
            Some(r#"{"scenario": "nope"}"#),
            404,
            "no scenario",
        ),
        (
            "POST",
            "/api/runs",
            Some(r#"{"scenario": "baseline", "replications": 0}"#),
            400,
            "replications",
        ),
        (
            "POST",
            "/api/runs",
            Some(r#"{"scenario": "baseline", "period": "fortnight"}"#),
            400,
            "period",
        ),
        (
            "POST",
            "/api/runs",
            Some(r#"{"scenario": "baseline", "name": "../x"}"#),
            400,
            "name",
        ),
        (
            "POST",
            "/api/check",
            Some(r#"{"scenario": "baseline", "set": ["chips.h100.training_mfu=2"]}"#),
            422,
            "chips.h100.training_mfu",
        ),
        (
            "GET",
            "/api/folders/..%2F..%2Fetc/files/passwd",
            None,
            400,
            "not a file",
        ),
        ("GET", "/api/runs/r999/events", None, 404, "no run"),
        ("GET", "/no/such/page", None, 404, "no such page"),
    ];
    for (method, path, body, want, needle) in cases {
        let (status, resp) = request(&s, method, path, body);
        assert_eq!(status, want, "{method} {path}: {resp}");
        assert!(resp.contains(needle), "{method} {path}: {resp}");
        assert!(json(&resp)["error"].is_string(), "{resp}");
    }
    // The located message and the field it is about, for the page to show beside the field.
    let (_, resp) = request(
        &s,
        "POST",
        "/api/check",
        Some(r#"{"scenario": "baseline", "set": ["chips.h100.training_mfu=2"]}"#),
    );
    let e = &json(&resp)["errors"][0];
    assert_eq!(e["path"], "chips.h100.training_mfu");
    assert!(
        e["message"].as_str().unwrap().contains("chips.toml:"),
        "{e}"
    );
    // Too large a body.
    let big = format!(
        r#"{{"scenario": "baseline", "set": ["{}"]}}"#,
        "x".repeat(400_000)
    );
    let (status, _) = request(&s, "POST", "/api/check", Some(&big));
    assert_eq!(status, 413);
    let (status, _) = request(&s, "GET", "/api/scenarios", None);
    assert_eq!(status, 200, "the server is still up");
    assert!(!s.out.exists() || std::fs::read_dir(&s.out).unwrap().next().is_none());
}

#[test]
fn runs_queue_one_behind_another_and_a_cancelled_run_writes_nothing() {
    let s = start("serve-queue");
    let long = submit(
        &s,
        r#"{"scenario": "baseline", "replications": 400, "period": "year"}"#,
    );
    let queued = submit(
        &s,
        r#"{"scenario": "baseline", "replications": 1, "period": "year", "when_busy": "queue"}"#,
    );
    let (_, state) = request(
        &s,
        "GET",
        &format!("/api/runs/{}", queued["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(json(&state)["state"], "queued");
    let started = Instant::now();
    let (status, _) = request(
        &s,
        "POST",
        &format!("/api/runs/{}/cancel", long["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, 200);
    let evs = events(&s, long["id"].as_str().unwrap());
    assert_eq!(evs.last().unwrap().0, "cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "cancelling stops the run"
    );
    assert!(
        !s.out.join(long["name"].as_str().unwrap()).exists(),
        "a cancelled run writes nothing"
    );
    // The queued one runs once the first is out of the way.
    let evs = events(&s, queued["id"].as_str().unwrap());
    assert_eq!(evs.last().unwrap().0, "done");
    assert!(s
        .out
        .join(queued["name"].as_str().unwrap())
        .join("manifest.json")
        .is_file());
    // Runs asked for at the same moment get names of their own, and all of them run.
    let ids: Vec<(String, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let r = submit(
                        &s,
                        r#"{"scenario": "baseline", "replications": 1, "period": "year"}"#,
                    );
                    (
                        r["id"].as_str().unwrap().to_string(),
                        r["name"].as_str().unwrap().to_string(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut names: Vec<&String> = ids.iter().map(|(_, n)| n).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "{ids:?}");
    for (id, name) in &ids {
        assert_eq!(events(&s, id).last().unwrap().0, "done");
        assert!(s.out.join(name).join("manifest.json").is_file());
    }
    // A new run may cancel the one in progress instead of queueing.
    let first = submit(
        &s,
        r#"{"scenario": "baseline", "replications": 400, "period": "year"}"#,
    );
    let second = submit(
        &s,
        r#"{"scenario": "baseline", "replications": 1, "period": "year", "when_busy": "cancel"}"#,
    );
    assert_eq!(
        events(&s, first["id"].as_str().unwrap()).last().unwrap().0,
        "cancelled"
    );
    assert_eq!(
        events(&s, second["id"].as_str().unwrap()).last().unwrap().0,
        "done"
    );
}
