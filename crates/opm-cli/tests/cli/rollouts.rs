//! Safe delivery from the command line: `opm rollout …` through its states, invalid specs,
//! `opm watch` seeing changes as they happen, and `opm stats --by arm --label …` comparisons.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{TestServer, examples_dir};

/// A server with the examples applied and a second version of `hello-mock`.
fn with_two_versions() -> TestServer {
    add_two_versions(TestServer::start())
}

/// `server` with the examples applied and a second version of `hello-mock`.
fn add_two_versions(server: TestServer) -> TestServer {
    server.opm(&["apply", "-f", &examples_dir().display().to_string()]).success();
    let dir = server.copy_examples("prompts");
    let file = dir.join("hello-mock.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text =
        text.replace("in one sentence", "in one short sentence").replace("message: first version", "message: shorter");
    std::fs::write(&file, text).unwrap();
    server.opm(&["apply", "-f", &dir.display().to_string()]).success();
    assert_eq!(server.version_count("hello-mock"), 2);
    server
}

/// The `production` label's target, from `opm label list -o json`.
fn production_target(server: &TestServer) -> Value {
    let labels = server.opm(&["label", "list", "hello-mock", "-o", "json"]).success().json();
    let production = labels.as_array().unwrap().iter().find(|label| label["name"] == "production");
    production.unwrap_or_else(|| panic!("no production label in {labels}"))["target"].clone()
}

const START: [&str; 16] = [
    "rollout",
    "start",
    "hello-mock",
    "--to",
    "2",
    "--steps",
    "5,25,50,100",
    "--interval",
    "10m",
    "--max-error-rate",
    "0.02",
    "--max-p95-latency-ms",
    "3000",
    "--min-samples",
    "200",
    "--reason",
];

#[test]
fn a_rollout_starts_pauses_resumes_and_aborts_back_to_the_stable_version() {
    let server = with_two_versions();
    // A split label is no stable version to roll out from.
    server.opm(&["label", "set", "hello-mock", "production", "--split", "1=90,2=10", "--reason", "a/b"]).success();
    let refused = server.opm(&[&START[..], &["canary v2"]].concat()).failure();
    assert!(
        refused.stderr.contains("is a split") && refused.stderr.contains("code invalid_rollout"),
        "{}",
        refused.stderr
    );

    server.opm(&["label", "set", "hello-mock", "production", "1", "--reason", "stable"]).success();
    let started = server.opm(&[&START[..], &["canary v2"]].concat()).success();
    assert!(
        started.stdout.contains("started: label `production` sends 5% to v2, the rest to v1"),
        "{}",
        started.stdout
    );
    let status = server.opm(&["rollout", "status", "hello-mock"]).success().stdout;
    for expected in [
        "state:       progressing",
        "canary:      5% (step 1/4 of steps 5,25,50,100)",
        "every 10m",
        "last check:  none yet",
    ] {
        assert!(status.contains(expected), "`{expected}` missing from:\n{status}");
    }
    assert!(status.contains("error rate ≤ 2.00%, p95 ≤ 3000 ms, 200 calls per arm"), "{status}");
    let json = server.opm(&["rollout", "status", "hello-mock", "--label", "production", "-o", "json"]).success().json();
    assert_eq!(
        (json["state"].as_str(), json["canary_percent"].as_u64(), json["step"].as_u64()),
        (Some("progressing"), Some(5), Some(0))
    );
    let id = json["id"].as_i64().unwrap().to_string();
    let target = production_target(&server);
    assert_eq!(target["arms"], json!([{"version": 1, "weight": 95}, {"version": 2, "weight": 5}]), "{target}");

    let paused = server.opm(&["rollout", "pause", "hello-mock", "--reason", "holiday"]).success();
    assert!(paused.stdout.contains("paused: label `production` holds v2 at 5%"), "{}", paused.stdout);
    let status = server.opm(&["rollout", "status", "hello-mock", "--id", &id]).success().stdout;
    assert!(status.contains("state:       paused since ") && status.contains(": holiday"), "{status}");
    let twice = server.opm(&["rollout", "pause", "hello-mock", "--id", &id, "--reason", "again"]).failure();
    assert!(twice.stderr.contains("(code "), "{}", twice.stderr);

    let resumed = server.opm(&["rollout", "resume", "hello-mock", "--reason", "back"]).success();
    assert!(resumed.stdout.contains("resumed at 5% (v2)"), "{}", resumed.stdout);
    let aborted = server.opm(&["rollout", "abort", "hello-mock", "--reason", "changed our mind"]).success();
    assert!(aborted.stdout.contains("aborted: label `production` back at v1"), "{}", aborted.stdout);
    assert_eq!(production_target(&server), json!({"type": "version", "version": 1}));

    let status = server.opm(&["rollout", "status", "hello-mock"]).success().stdout;
    assert!(status.contains("state:       aborted at ") && status.contains("changed our mind"), "{status}");
    let list = server.opm(&["rollout", "list", "hello-mock"]).success().stdout;
    assert!(list.starts_with("ID") && list.contains("aborted"), "{list}");
    let nothing = server.opm(&["rollout", "promote", "hello-mock", "--reason", "late"]).failure();
    assert!(nothing.stderr.contains("label `production` of `hello-mock` has no active rollout"), "{}", nothing.stderr);
}

#[test]
fn invalid_rollouts_are_refused_with_a_clear_error_and_change_nothing() {
    let server = with_two_versions();
    server.opm(&["label", "set", "hello-mock", "production", "1", "--reason", "stable"]).success();
    let start =
        |steps: &str| server.opm(&["rollout", "start", "hello-mock", "--to", "2", "--steps", steps, "--reason", "r"]);
    let decreasing = start("50,25,100").failure();
    assert_eq!(decreasing.code, 1);
    assert!(decreasing.stderr.starts_with("error: ") && decreasing.stderr.contains("steps"), "{}", decreasing.stderr);
    assert!(decreasing.stderr.contains("code invalid_rollout"), "{}", decreasing.stderr);
    let not_a_number = start("5,lots").failure();
    assert!(not_a_number.stderr.contains("--steps") && not_a_number.stderr.contains("lots"), "{}", not_a_number.stderr);
    let unknown_version = server.opm(&["rollout", "start", "hello-mock", "--to", "9", "--reason", "r"]).failure();
    assert!(unknown_version.stderr.contains("(code "), "{}", unknown_version.stderr);
    assert_eq!(production_target(&server), json!({"type": "version", "version": 1}));
    let none = server.opm(&["rollout", "status", "hello-mock"]).failure();
    assert!(none.stderr.contains("has no rollouts; start one with `opm rollout start"), "{}", none.stderr);
}

/// A running `opm watch`, its stdout lines on a channel; killed on drop.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Watcher {
    fn start(server: &TestServer, args: &[&str]) -> Self {
        let mut child = server.spawn_opm(args);
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// The first line (seen before or arriving within 30 s) matching `wanted`.
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.seen.iter().find(|line| wanted(line)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let stderr = std::io::read_to_string(self.child.stderr.take().unwrap()).unwrap_or_default();
        panic!("`opm watch` printed no {what}; its lines:\n{}\nstderr:\n{stderr}", self.seen.join("\n"))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_replays_history_and_prints_label_moves_as_they_happen() {
    let server = with_two_versions();
    let mut lines = Watcher::start(&server, &["watch", "--after", "0"]);
    let mut json_lines = Watcher::start(&server, &["watch", "--prompt", "hello-mock", "-o", "json"]);
    // The replay shows what happened before the watch began.
    lines.wait_for("version.create line", |line| line.contains("version.create  hello-mock  v2"));
    // Give the live-only watch time to subscribe before the change it must see.
    std::thread::sleep(Duration::from_millis(500));

    server.opm(&["label", "set", "hello-mock", "production", "2", "--reason", "ship it"]).success();
    let line = lines.wait_for("label.set line", |line| line.contains("label.set  hello-mock/production"));
    assert!(line.contains("→ v2  by ") && line.ends_with(": ship it"), "{line}");
    let event = json_lines.wait_for("label.set JSON line", |line| line.contains("\"label.set\""));
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!((event["prompt"].as_str(), event["label"].as_str()), (Some("hello-mock"), Some("production")));
    assert_eq!(event["data"]["target"], json!({"type": "version", "version": 2}));
    assert!(event["id"].as_i64().unwrap() > 0);
    // Other prompts are filtered out of the per-prompt watch.
    server.opm(&["label", "set", "summarize", "production", "1", "--reason", "other prompt"]).success();
    lines.wait_for("summarize line", |line| line.contains("label.set  summarize/production"));
    assert!(json_lines.seen.iter().all(|line| !line.contains("summarize")), "{:?}", json_lines.seen);
}

#[test]
fn stats_by_arm_through_a_label_compares_the_arms() {
    let server = with_two_versions();
    let empty = server.opm(&["stats", "hello-mock", "--by", "arm", "--label", "production"]).success();
    assert!(empty.stdout.starts_with("hello-mock through label `production` by arm"), "{}", empty.stdout);
    server.opm(&["label", "set", "hello-mock", "production", "--split", "1=50,2=50", "--reason", "a/b"]).success();
    for key in 0..12 {
        let user = format!("user-{key}");
        server.opm(&["invoke", "hello-mock", "--var", "name=Ada", "--key", &user]).success();
    }
    // The recorder writes generations in the background: wait until all twelve are stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats =
            server.opm(&["stats", "hello-mock", "--by", "arm", "--label", "production", "-o", "json"]).success();
        let stats = stats.json();
        let groups = stats["groups"].as_array().unwrap();
        let calls: u64 = groups.iter().map(|group| group["calls"].as_u64().unwrap()).sum();
        if calls == 12 || Instant::now() > deadline {
            assert_eq!(calls, 12, "{stats}");
            break stats;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!((stats["by"].as_str(), stats["label"].as_str()), (Some("arm"), Some("production")));
    assert_eq!(
        (stats["baseline"].as_str(), stats["comparisons"][0]["group"].as_str()),
        (Some("1"), Some("2")),
        "{stats}"
    );
    let table = server.opm(&["stats", "hello-mock", "--by", "arm", "--label", "production"]).success().stdout;
    assert!(table.contains("UNSTICKY"), "{table}");
    assert!(table.contains("against baseline arm 1 (two-sided tests):"), "{table}");
    assert!(table.contains("  arm 2: error rate +0.00 pp, p=1.000 not significant; latency "), "{table}");
}

/// Waits up to 30 s for `done` to hold of `opm rollout status hello-mock -o json`.
fn wait_status(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = server.opm(&["rollout", "status", "hello-mock", "-o", "json"]).success().json();
        if done(&status) || Instant::now() > deadline {
            assert!(done(&status), "{status}");
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn status_shows_the_last_check_with_both_arms_and_the_tests() {
    let server = add_two_versions(TestServer::start_with_flags(&["--adjustable-clock", "--rollout-tick", "100ms"]));
    server.opm(&["label", "set", "hello-mock", "production", "1", "--reason", "stable"]).success();
    let start = ["rollout", "start", "hello-mock", "--to", "2", "--steps", "50,75,100", "--interval", "1m"];
    let gates = ["--min-samples", "2", "--max-error-rate", "0.5", "--max-p95-latency-ms", "3000", "--reason", "canary"];
    server.opm(&[&start[..], &gates[..]].concat()).success();
    for key in 0..16 {
        let user = format!("user-{key}");
        server.opm(&["invoke", "hello-mock", "--var", "name=Ada", "--key", &user]).success();
    }
    // Wait until every call is stored, then let the interval pass on the server's clock.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let stats =
            server.opm(&["stats", "hello-mock", "--by", "arm", "--label", "production", "-o", "json"]).success();
        let groups = stats.json()["groups"].as_array().unwrap().clone();
        if groups.iter().map(|group| group["calls"].as_u64().unwrap()).sum::<u64>() == 16 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The clock route is a test aid outside the typed client; reqwest needs a crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let advanced = reqwest::Client::new()
        .post(format!("{}/api/v1/clock/advance", server.url))
        .bearer_auth(crate::harness::ADMIN_KEY)
        .json(&json!({"by": "2m"}))
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 200);

    let checked = wait_status(&server, |status| status["checks"].as_u64() >= Some(1));
    assert_eq!((checked["state"].as_str(), checked["canary_percent"].as_u64()), (Some("progressing"), Some(75)));
    let status = server.opm(&["rollout", "status", "hello-mock"]).success().stdout;
    for expected in [
        "canary:      75% (step 2/3 of steps 50,75,100)",
        "checks:      1",
        "last check:  passed",
        "ARM     VERSION  CALLS",
        "tests (canary vs stable, α 0.01): error rate p=1.000 (not significant); latency p=",
    ] {
        assert!(status.contains(expected), "`{expected}` missing from:\n{status}");
    }
    let arms: Vec<&str> =
        status.lines().filter(|line| line.starts_with("stable ") || line.starts_with("canary ")).collect();
    assert_eq!(arms.len(), 2, "{status}");
    assert!(arms[0].contains("v1") && arms[1].contains("v2") && arms[1].contains("0.00%"), "{status}");
}
