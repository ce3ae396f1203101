//! A full disk and a read-only data directory on SQLite, without root:
//! - full disk: the running server's file-size limit (`RLIMIT_FSIZE`, set with util-linux's
//!   `prlimit --pid`, SIGXFSZ ignored so writes fail with EFBIG instead of killing the process) is
//!   lowered below the database's size; every write gets a 503 problem with code
//!   `store_not_writable`, reads keep working, nothing partial is written (version count, audit
//!   entries, chain), and once the limit is lifted writes succeed again with contiguous numbers;
//! - read-only data directory: `opm serve` on it serves reads and refuses every write with the same
//!   503 `store_not_writable` (nothing changes), whether the stopped server left a `-wal` file or
//!   not, and writes work on the intact data once the permissions are back (as root, run without `CAP_DAC_OVERRIDE` through `setpriv`, since root
//!   ignores file modes).

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::faults_common::{Answer, Http, all_versions, assert_audit_verifies, assert_sqlite_intact, text_version};
use crate::server::{Options, Server};

/// `command` run through `sh -c 'trap "" XFSZ; exec "$@"'` after `prefix` (ignored signals stay
/// ignored across exec, so the server sees EFBIG rather than dying).
fn wrapped(command: &Command, prefix: &[&str]) -> Command {
    let mut outer = Command::new("sh");
    outer.args(["-c", "trap '' XFSZ; exec \"$@\"", "sh"]).args(prefix).arg(command.get_program());
    outer.args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => outer.env(name, value),
            None => outer.env_remove(name),
        };
    }
    // The logs go to a pipe the harness drains: a log *file* past the size limit makes the
    // server stop answering (see docs/resilience.md), which is not what this test is about.
    outer.stdout(Stdio::piped()).stderr(Stdio::piped());
    outer
}

fn prlimit(pid: u32, limit: &str) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limit}")])
        .status()
        .expect("prlimit (util-linux) is needed to simulate a full disk");
    assert!(status.success(), "prlimit --fsize={limit} failed");
}

fn assert_not_writable(what: &str, answer: &Answer) {
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    assert_eq!(answer.content_type, "application/problem+json", "{what}");
    assert_eq!(answer.body["code"], "store_not_writable", "{what}: {}", answer.body);
}

async fn audit_entries(http: &Http, base: &str) -> u64 {
    http.ok(&format!("{base}/api/v1/audit/verify")).await["checked"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_full_disk_refuses_writes_cleanly_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::spawn(wrapped(&Server::command(dir.path(), None, &Options::default()), &[]));
    let (http, base) = (Http::new(Duration::from_secs(10)), server.url.clone());
    for marker in ["one", "two", "three"] {
        let answer = http.post(&format!("{base}/api/v1/prompts/disk/versions"), &text_version(marker)).await.unwrap();
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    let production = format!("{base}/api/v1/prompts/disk/labels/production");
    assert_eq!(http.put(&production, &json!({"version": 3, "reason": "ship"})).await.unwrap().status, 200);
    let entries_before = audit_entries(&http, &base).await;

    // The disk is "full": no file of the process may grow past 4 KiB (every WAL frame is larger).
    prlimit(server.pid(), "4096:unlimited");
    let mut slowest = Duration::ZERO;
    let attempts = [
        ("publish", reqwest::Method::POST, format!("{base}/api/v1/prompts/disk/versions"), text_version("four")),
        ("label move", reqwest::Method::PUT, production.clone(), json!({"version": 1, "reason": "full"})),
        ("new prompt", reqwest::Method::POST, format!("{base}/api/v1/prompts/other/versions"), text_version("x")),
        (
            "key",
            reqwest::Method::POST,
            format!("{base}/api/v1/keys"),
            json!({"name": "full", "role": "viewer", "project": null}),
        ),
    ];
    for _round in 0..3 {
        for (what, method, url, body) in &attempts {
            let started = Instant::now();
            let answer = http.call(method.clone(), url, Some(body)).await.unwrap();
            slowest = slowest.max(started.elapsed());
            assert_not_writable(what, &answer);
        }
    }
    // Reads still work, from the data as it was.
    let resolved = http.ok(&format!("{base}/api/v1/prompts/disk/resolve?label=production")).await;
    assert_eq!(resolved["version"], 3, "{resolved}");
    assert_eq!(all_versions(&http, &base, "disk").await.len(), 3);
    assert_eq!(http.get(&format!("{base}/api/v1/prompts/other")).await.unwrap().status, 404);
    assert_eq!(audit_entries(&http, &base).await, entries_before, "a refused write left an audit entry");
    assert_audit_verifies(&http, &base).await;

    // Space returns: writes go through at once, numbers stay contiguous.
    prlimit(server.pid(), "unlimited:unlimited");
    let recovered = Instant::now();
    let answer = http.post(&format!("{base}/api/v1/prompts/disk/versions"), &text_version("four")).await.unwrap();
    assert_eq!(answer.status, 201, "after space returned: {}", answer.body);
    assert_eq!(answer.body["version"]["version"], 4);
    let recovery = recovered.elapsed();
    assert_eq!(http.put(&production, &json!({"version": 4, "reason": "space back"})).await.unwrap().status, 200);
    let numbers: Vec<u32> = all_versions(&http, &base, "disk").await.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    assert_eq!(audit_entries(&http, &base).await, entries_before + 2);
    assert_audit_verifies(&http, &base).await;
    println!(
        "full disk: 12 refused writes, slowest refusal {slowest:?}; first write after space returned {recovery:?}"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert_sqlite_intact(&dir.path().join("opm.db"));
}

fn set_mode(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The data directory and its files made read-only (0555 / 0444), or back (0755 / 0644).
fn read_only(dir: &std::path::Path, on: bool) {
    for entry in std::fs::read_dir(dir).unwrap() {
        set_mode(&entry.unwrap().path(), if on { 0o444 } else { 0o644 });
    }
    set_mode(dir, if on { 0o555 } else { 0o755 });
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_only_data_dir_serves_reads_and_refuses_writes_cleanly() {
    // Both states a stopped server leaves: the log checkpointed away (a clean close), and a
    // `-wal` file still there (a kill). SQLite needs different read-only opens for the two.
    read_only_case(false).await;
    read_only_case(true).await;
}

async fn read_only_case(wal_left: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let server = Server::start(&data, None);
    let http = Http::new(Duration::from_secs(10));
    let answer = http.post(&format!("{}/api/v1/prompts/ro/versions", server.url), &text_version("kept")).await.unwrap();
    assert_eq!(answer.status, 201);
    if wal_left {
        server.kill_9();
    } else {
        assert!(server.terminate().success());
        // The last connection to close after a full checkpoint removes the `-wal` and `-shm` files.
        let output = Command::new("sqlite3").arg(data.join("opm.db")).arg("PRAGMA wal_checkpoint(TRUNCATE);").output();
        assert!(output.expect("sqlite3").status.success());
    }
    assert_eq!(data.join("opm.db-wal").exists(), wal_left);

    read_only(&data, true);
    // Root ignores file modes; without CAP_DAC_OVERRIDE it is held to them like anyone else.
    let prefix: &[&str] =
        if is_root() { &["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] } else { &[] };
    let server = Server::spawn(wrapped(&Server::command(&data, None, &Options::default()), prefix));
    let base = server.url.clone();
    // Reads are served; every write is refused with the stable code, and nothing changes.
    let resolved = http.ok(&format!("{base}/api/v1/prompts/ro/resolve?version=1")).await;
    assert_eq!(resolved["version"], 1, "{resolved}");
    let entries_before = audit_entries(&http, &base).await;
    let started = Instant::now();
    for marker in ["a", "b", "c"] {
        let answer = http.post(&format!("{base}/api/v1/prompts/ro/versions"), &text_version(marker)).await.unwrap();
        assert_not_writable("publish on a read-only data dir", &answer);
    }
    let answer =
        http.put(&format!("{base}/api/v1/prompts/ro/labels/production"), &json!({"version": 1, "reason": "ro"})).await;
    assert_not_writable("label move on a read-only data dir", &answer.unwrap());
    println!(
        "read-only data dir ({}): 4 writes refused with store_not_writable in {:?} in all",
        if wal_left { "-wal left" } else { "checkpointed" },
        started.elapsed()
    );
    assert_eq!(audit_entries(&http, &base).await, entries_before);
    drop(server);

    read_only(&data, false);
    let server = Server::start(&data, None);
    let stored = all_versions(&http, &server.url, "ro").await;
    assert_eq!(stored, [(1, "kept".to_owned())]);
    let answer = http.post(&format!("{}/api/v1/prompts/ro/versions", server.url), &text_version("again")).await;
    assert_eq!(answer.unwrap().status, 201, "writes work once the permissions are back");
    assert_audit_verifies(&http, &server.url).await;
    assert!(server.terminate().success());
    assert_sqlite_intact(&data.join("opm.db"));
}
