//! Stopping on SIGTERM with clients that do not let go: an open `/api/v1/watch` stream ends
//! cleanly at once (the stop does not wait on it), a stalled half-sent request is dropped after
//! `--shutdown-grace`, and the generations acknowledged before the signal are stored either way.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use crate::server::{ADMIN, Options, Server};
use crate::telemetry::{invoke_latest, publish_greet};

const CALLS: usize = 20;

async fn publish_and_call(server: &Server) {
    let client = server.client();
    publish_greet(&client).await;
    let invoke = invoke_latest();
    for _ in 0..CALLS {
        client.invoke("greet", &invoke).await.unwrap();
    }
}

/// SIGTERM, timed; the blocking wait runs off the runtime so the test's own sockets keep moving.
async fn terminate_timed(server: Server) -> Duration {
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success(), "graceful exit: {status:?}");
    started.elapsed()
}

async fn stored_generations(dir: &std::path::Path) -> u64 {
    let store = opm_store::connect(&format!("sqlite://{}", dir.join("opm.db").display())).await.unwrap();
    store.count_generations().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_an_open_watch_stream_at_once_instead_of_waiting_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { args: &["--shutdown-grace", "30s"], ..Options::default() };
    let server = Server::start_with(dir.path(), None, &options);
    publish_and_call(&server).await;
    let http = reqwest::Client::new();
    let mut watch = http.get(format!("{}/api/v1/watch", server.url)).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(watch.status(), 200);
    // An idle keep-alive connection as well (the pool keeps the one the request above used).
    assert_eq!(http.get(format!("{}/healthz", server.url)).send().await.unwrap().status(), 200);

    let stopped_in = terminate_timed(server).await;
    println!("SIGTERM with a watch stream open: stopped in {stopped_in:?} (grace 30 s)");
    assert!(stopped_in < Duration::from_secs(10), "the stop waited on the watch stream: {stopped_in:?}");
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match watch.chunk().await {
                Ok(Some(_keep_alive_or_event)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await
    .expect("the watch stream ended");
    assert!(ended.is_ok(), "the watch stream ended with its last chunk, not a reset: {ended:?}");
    assert_eq!(stored_generations(dir.path()).await, CALLS as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drops_a_stalled_request_after_the_grace_and_still_writes_every_generation() {
    let dir = tempfile::tempdir().unwrap();
    let grace = Duration::from_secs(1);
    let options = Options { args: &["--shutdown-grace", "1s"], capture_logs: true, ..Options::default() };
    let server = Server::start_with(dir.path(), None, &options);
    publish_and_call(&server).await;
    // A client that sends the head of a request and half its body, then stalls: the request is
    // in flight (its handler waits for the body) and would hold an unbounded drain forever.
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/prompts/greet/invoke HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {ADMIN}\r\n\
         content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"label\""
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = server.logs.clone();
    let stopped_in = terminate_timed(server).await;
    println!("SIGTERM with a stalled request: stopped in {stopped_in:?} (grace {grace:?})");
    assert!(stopped_in >= grace, "the stalled request was given its grace: {stopped_in:?}");
    assert!(stopped_in < grace + Duration::from_secs(8), "the stop is bounded by the grace: {stopped_in:?}");
    let logs = logs.lock().unwrap().join("\n");
    assert!(logs.contains("connections still open after the grace"), "the drop is logged: {logs}");
    assert_eq!(stored_generations(dir.path()).await, CALLS as u64, "every acknowledged call is stored");
    drop(stalled);
}
