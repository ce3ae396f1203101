//! `opm backup` against a live server: a backup taken by the real binary during a write storm
//! holds every write acknowledged before it started, restores into a new data directory, serves,
//! and passes `opm audit verify`; restoring over the live database is refused. `opm healthcheck`
//! (the container's health check) exits 0 against a server and 1 without one.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opm_api::labels::SetLabelRequest;

use crate::server::{ADMIN, Server};
use crate::text_version;

fn opm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_opm"))
        .args(args)
        .env("OPM_API_KEY", ADMIN)
        .env_remove("OPM_DATABASE_URL")
        .env_remove("OPM_DATA_DIR")
        .output()
        .expect("run opm")
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Acknowledged writes of one writer: (prompt, version, when the answer arrived).
type Acks = Vec<(String, u32, Instant)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_during_a_write_storm_restores_every_write_acknowledged_before_it() {
    let live_dir = tempfile::tempdir().unwrap();
    let restored_dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let server = Server::start(live_dir.path(), None);
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let client = server.client();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let name = format!("storm-{writer}");
            let mut acks: Acks = Vec::new();
            let mut index = 0;
            while !stop.load(Ordering::Relaxed) && index < 2000 {
                let published =
                    client.publish_version(&name, &text_version(&format!("w{writer} {index}"))).await.unwrap();
                let number = published.version.version;
                acks.push((name.clone(), number, Instant::now()));
                if index % 5 == 0 {
                    let request = SetLabelRequest { version: Some(number), split: None, reason: "storm".into() };
                    client.set_label(&name, "production", &request).await.unwrap();
                }
                index += 1;
            }
            acks
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let file = backups.path().join("opm-backup.db");
    let backup_started = Instant::now();
    let create = {
        let (data_dir, file) = (live_dir.path().to_owned(), file.clone());
        tokio::task::spawn_blocking(move || {
            opm(&["backup", "create", path_str(&file), "--data-dir", path_str(&data_dir)])
        })
        .await
        .unwrap()
    };
    let backup_took = backup_started.elapsed();
    // Keep writing a little after the backup: those writes must not matter to it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acks: Acks = Vec::new();
    for writer in writers {
        acks.extend(writer.await.unwrap());
    }
    assert!(create.status.success(), "{}", String::from_utf8_lossy(&create.stderr));
    let before: Vec<_> = acks.iter().filter(|(_, _, at)| *at < backup_started).collect();
    let after = acks.len() - before.len();
    println!("backup under load: {} acknowledged before, {after} during or after, took {backup_took:?}", before.len());
    assert!(before.len() >= 8 && after > 0, "the storm did not overlap the backup: {} / {after}", before.len());

    // Restoring over the live database is refused while the server has it open.
    let refused = opm(&["backup", "restore", path_str(&file), "--force", "--data-dir", path_str(live_dir.path())]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("running process"), "{refused:?}");

    let restore = opm(&["backup", "restore", path_str(&file), "--data-dir", path_str(restored_dir.path())]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    // Restoring again onto the restored database needs --force.
    let again = opm(&["backup", "restore", path_str(&file), "--data-dir", path_str(restored_dir.path())]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("--force"), "{again:?}");
    drop(server);

    let restored = Server::start(restored_dir.path(), None);
    let client = restored.client();
    for writer in 0..4 {
        let name = format!("storm-{writer}");
        let needed = before.iter().filter(|(prompt, _, _)| *prompt == name).map(|(_, v, _)| *v).max().unwrap_or(0);
        let prompt = client.get_prompt(&name).await.unwrap();
        let latest = prompt.latest_version.unwrap_or(0);
        assert!(latest >= needed, "{name}: restored up to version {latest}, acknowledged {needed} before the backup");
        let page =
            client.list_versions(&name, &opm_client::PageQuery { cursor: None, limit: Some(500) }).await.unwrap();
        let mut numbers: Vec<u32> = page.items.iter().map(|v| v.version).collect();
        numbers.sort_unstable();
        if latest <= 500 {
            assert_eq!(numbers, (1..=latest).collect::<Vec<u32>>(), "{name}");
        }
    }
    let verify = opm(&["audit", "verify", "--url", &restored.url]);
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let checked = opm(&["backup", "verify", path_str(&file)]);
    assert!(String::from_utf8_lossy(&checked.stdout).contains("audit chain verified"), "{checked:?}");
}

#[tokio::test]
async fn healthcheck_exits_0_against_a_server_and_1_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    for flags in [&["healthcheck"][..], &["healthcheck", "--ready"][..]] {
        let output = opm(&[flags, &["--url", &server.url, "--timeout", "2"]].concat());
        assert!(output.status.success(), "{output:?}");
    }
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let output = opm(&["healthcheck", "--url", &format!("http://{free}"), "--timeout", "2"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}
