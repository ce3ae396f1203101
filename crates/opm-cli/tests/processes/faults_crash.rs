//! The crash loop: a write storm (new versions, label moves, rollout start and abort) from several
//! concurrent clients while `opm serve` is killed with SIGKILL and restarted every few hundred
//! milliseconds, on SQLite and on PostgreSQL. Afterwards every acknowledged write is there, version
//! numbers are contiguous per prompt, the audit chain verifies, no request got a 500, and the
//! SQLite file passes `PRAGMA integrity_check`.
//!
//! `OPM_FAULTS_CRASH_SECS` sets how long the storm lasts per backend (default 15 s).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::faults_common::{
    Http, all_versions, assert_audit_verifies, assert_sqlite_intact, env_duration, text_version,
};
use crate::server::Server;

const WRITERS: usize = 4;
const PROMPTS: [&str; 2] = ["storm-0", "storm-1"];
const ROLLED: &str = "storm-rollout";

/// What the clients were told succeeded, and every status they saw.
#[derive(Default)]
struct Ledger {
    /// (prompt, version) → marker.
    versions: BTreeMap<(String, u32), String>,
    /// (prompt, label, reason, version).
    label_moves: Vec<(String, String, String, u32)>,
    started: Vec<i64>,
    aborted: Vec<i64>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    /// The first answer that was neither a success nor an expected conflict, for the report.
    first_refusal: Option<String>,
}

/// The URL of the server that is up right now, if any.
type Current = Arc<RwLock<Option<String>>>;

fn current(url: &Current) -> Option<String> {
    url.read().unwrap().clone()
}

/// A small xorshift generator: the restart rhythm need not be cryptographic, only irregular.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn writer(id: usize, url: Current, http: Http, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let label = format!("w{id}");
    let mut latest_acked: HashMap<&str, u32> = HashMap::new();
    let mut attempted: HashMap<&str, u32> = HashMap::new();
    let mut step = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        step += 1;
        let Some(base) = current(&url) else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let prompt = PROMPTS[usize::try_from(step).unwrap() % PROMPTS.len()];
        let latest = latest_acked.get(prompt).copied().unwrap_or(0);
        // A label move only to a version this writer never asked for before, so that every
        // acknowledged move really changes the target and leaves a history entry.
        let move_label = step.is_multiple_of(4) && latest > attempted.get(prompt).copied().unwrap_or(0);
        let answer = if move_label {
            attempted.insert(prompt, latest);
            let reason = format!("{label}-{step}");
            let answer = http
                .put(
                    &format!("{base}/api/v1/prompts/{prompt}/labels/{label}"),
                    &json!({"version": latest, "reason": reason}),
                )
                .await;
            if let Ok(a) = &answer
                && a.status == 200
            {
                ledger.lock().unwrap().label_moves.push((prompt.into(), label.clone(), reason, latest));
            }
            answer
        } else {
            let marker = format!("{label}-{step}");
            let answer = http.post(&format!("{base}/api/v1/prompts/{prompt}/versions"), &text_version(&marker)).await;
            if let Ok(a) = &answer
                && (a.status == 201 || a.status == 200)
            {
                assert_eq!(a.body["created"], true, "{}", a.body);
                let version = u32::try_from(a.body["version"]["version"].as_u64().unwrap()).unwrap();
                let previous = ledger.lock().unwrap().versions.insert((prompt.into(), version), marker);
                assert!(previous.is_none(), "version {version} of {prompt} acknowledged twice");
                latest_acked.insert(prompt, version);
            }
            answer
        };
        note(&ledger, &answer);
        if answer.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn note(ledger: &Mutex<Ledger>, answer: &Result<crate::faults_common::Answer, reqwest::Error>) {
    let mut ledger = ledger.lock().unwrap();
    match answer {
        Ok(a) => {
            *ledger.statuses.entry(a.status).or_default() += 1;
            if a.status >= 400 && a.status != 409 && a.status != 422 && ledger.first_refusal.is_none() {
                ledger.first_refusal = Some(format!("{}: {}", a.status, a.body));
            }
        }
        Err(_) => ledger.transport_errors += 1,
    }
}

/// Starts and aborts rollouts of `storm-rollout` in a loop; after a lost answer it finds the active
/// rollout and aborts it, so the next start can go through.
async fn rollout_writer(url: Current, http: Http, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let start = json!({"label": "production", "to": 2, "steps": [10, 50, 100], "interval": "10m",
        "reason": "storm rollout"});
    while !stop.load(Ordering::Relaxed) {
        let Some(base) = current(&url) else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let rollouts = format!("{base}/api/v1/prompts/{ROLLED}/rollouts");
        let answer = http.post(&rollouts, &start).await;
        note(&ledger, &answer);
        let active = match answer {
            Ok(a) if a.status == 201 => {
                let id = a.body["id"].as_i64().unwrap();
                ledger.lock().unwrap().started.push(id);
                Some(id)
            }
            // An active rollout whose start or abort answer was lost: 409, or 422 because the label
            // is a split (the start refuses a split label before it looks for an active rollout).
            Ok(a) if a.status == 409 || a.status == 422 => {
                let list = http.get(&rollouts).await;
                note(&ledger, &list);
                list.ok().and_then(|l| {
                    l.body["items"].as_array().and_then(|items| {
                        items
                            .iter()
                            .find(|r| r["state"] == "progressing" || r["state"] == "paused")
                            .and_then(|r| r["id"].as_i64())
                    })
                })
            }
            _ => None,
        };
        let Some(id) = active else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let answer = http.post(&format!("{rollouts}/{id}/abort"), &json!({"reason": "storm abort"})).await;
        note(&ledger, &answer);
        if matches!(&answer, Ok(a) if a.status == 200) {
            ledger.lock().unwrap().aborted.push(id);
        }
    }
}

async fn seed(http: &Http, base: &str) {
    for marker in ["stable", "canary"] {
        let answer = http.post(&format!("{base}/api/v1/prompts/{ROLLED}/versions"), &text_version(marker)).await;
        assert!(matches!(answer, Ok(ref a) if a.status == 201), "{answer:?}");
    }
    let answer = http
        .put(&format!("{base}/api/v1/prompts/{ROLLED}/labels/production"), &json!({"version": 1, "reason": "stable"}))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn crash_loop(database_url: Option<&str>, backend: &str) {
    let storm_for = env_duration("OPM_FAULTS_CRASH_SECS", Duration::from_secs(15));
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new(Duration::from_secs(5));
    let first = Server::start(dir.path(), database_url);
    seed(&http, &first.url).await;
    let url: Current = Arc::new(RwLock::new(Some(first.url.clone())));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));

    let mut tasks = Vec::new();
    for id in 0..WRITERS {
        tasks.push(tokio::spawn(writer(id, url.clone(), http.clone(), ledger.clone(), stop.clone())));
    }
    tasks.push(tokio::spawn(rollout_writer(url.clone(), http.clone(), ledger.clone(), stop.clone())));

    // The killer: every 150–450 ms, SIGKILL and start again (on the same data).
    let killer = {
        let (url, dir, database_url) = (url.clone(), dir.path().to_owned(), database_url.map(str::to_owned));
        std::thread::spawn(move || {
            let deadline = Instant::now() + storm_for;
            let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(std::process::id());
            let (mut server, mut kills, mut startup) = (first, 0_u32, Duration::ZERO);
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(150 + next_random(&mut seed) % 300));
                *url.write().unwrap() = None;
                server.kill_9();
                kills += 1;
                let started = Instant::now();
                server = Server::start(&dir, database_url.as_deref());
                startup = startup.max(started.elapsed());
                *url.write().unwrap() = Some(server.url.clone());
            }
            (server, kills, startup)
        })
    };
    let (server, kills, slowest_start) = tokio::task::spawn_blocking(move || killer.join().unwrap()).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    server.kill_9();

    // One last start on the same data, and the checks.
    let server = Server::start(dir.path(), database_url);
    let base = server.url.clone();
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    for prompt in PROMPTS {
        let stored = all_versions(&http, &base, prompt).await;
        let numbers: Vec<u32> = stored.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, (1..=u32::try_from(numbers.len()).unwrap()).collect::<Vec<_>>(), "{prompt}: gaps");
        let by_number: HashMap<u32, &String> = stored.iter().map(|(n, t)| (*n, t)).collect();
        for ((acked_prompt, version), marker) in &ledger.versions {
            if acked_prompt == prompt {
                assert_eq!(by_number.get(version).copied(), Some(marker), "{prompt} v{version} lost or changed");
            }
        }
    }
    for (prompt, label, reason, version) in &ledger.label_moves {
        let history = http.ok(&format!("{base}/api/v1/prompts/{prompt}/labels/{label}/history?limit=500")).await;
        let found = history["items"].as_array().unwrap().iter().any(|change| {
            change["reason"] == reason.as_str() && change["to"] == json!({"type": "version", "version": version})
        });
        assert!(found, "acknowledged label move {prompt}/{label} → {version} ({reason}) lost");
    }
    for id in &ledger.started {
        let rollout = http.get(&format!("{base}/api/v1/prompts/{ROLLED}/rollouts/{id}")).await.unwrap();
        assert_eq!(rollout.status, 200, "acknowledged rollout {id} lost: {}", rollout.body);
        if ledger.aborted.contains(id) {
            assert_eq!(rollout.body["state"], "aborted", "acknowledged abort of {id} lost: {}", rollout.body);
        }
    }
    assert_audit_verifies(&http, &base).await;
    let server_errors: u64 = ledger.statuses.iter().filter(|(s, _)| **s >= 500 && **s != 503).map(|(_, n)| n).sum();
    assert_eq!(server_errors, 0, "statuses seen: {:?}, first refusal {:?}", ledger.statuses, ledger.first_refusal);
    println!("first refusal: {:?}", ledger.first_refusal);
    let acked = ledger.versions.len() + ledger.label_moves.len() + ledger.started.len() + ledger.aborted.len();
    assert!(kills >= 3 && ledger.versions.len() >= 20, "the storm was too small to mean anything");
    println!(
        "crash loop ({backend}, {storm_for:?}): {kills} kill -9, slowest restart {slowest_start:?}, {acked} acknowledged \
         writes ({} versions, {} label moves, {} rollout starts, {} aborts) all present; statuses {:?}, {} transport errors",
        ledger.versions.len(),
        ledger.label_moves.len(),
        ledger.started.len(),
        ledger.aborted.len(),
        ledger.statuses,
        ledger.transport_errors
    );
    server.kill_9();
    if database_url.is_none() {
        assert_sqlite_intact(&dir.path().join("opm.db"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crash_loop_loses_no_acknowledged_write() {
    crash_loop(None, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_loop_loses_no_acknowledged_write() {
    let Some(url) = crate::postgres_database() else { return };
    crash_loop(Some(&url), "postgres").await;
}
