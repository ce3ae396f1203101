//! The `opm serve` process harness: start on a free port, read the listening line, optionally
//! capture stderr (the logs), stop with SIGTERM or kill -9; bounded waits, so a server that
//! hangs fails its test with its logs instead of holding the run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use opm_client::{Client, ClientConfig};

pub const ADMIN: &str = "opm_proc_admin-key-for-process-tests";
/// Longest a server may take to print its listening line (migrations on a loaded machine).
pub const START_LIMIT: Duration = Duration::from_secs(60);
/// Longest a server may take to stop after SIGTERM: its drain (20 s by default) and flush.
pub const STOP_LIMIT: Duration = Duration::from_secs(40);

/// A running `opm serve`, killed on drop.
pub struct Server {
    child: Child,
    pub url: String,
    /// stderr lines, when captured.
    pub logs: Arc<Mutex<Vec<String>>>,
}

/// Extra flags and environment for [`Server::start_with`].
#[derive(Default)]
pub struct Options<'a> {
    pub args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    pub capture_logs: bool,
}

impl Server {
    pub fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> Self {
        Self::start_with(data_dir, database_url, &Options::default())
    }

    pub fn start_with(data_dir: &std::path::Path, database_url: Option<&str>, options: &Options<'_>) -> Self {
        Self::spawn(Self::command(data_dir, database_url, options))
    }

    /// The `opm serve` command [`Server::start_with`] runs, for tests that wrap or adjust it.
    pub fn command(data_dir: &std::path::Path, database_url: Option<&str>, options: &Options<'_>) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_opm"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(options.args)
            .env("OPM_BOOTSTRAP_ADMIN_KEY", ADMIN)
            .env("RUST_LOG", "warn")
            .env_remove("OPM_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(if options.capture_logs { Stdio::piped() } else { Stdio::inherit() });
        for (name, value) in options.env {
            command.env(name, value);
        }
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command
    }

    /// Runs `command` (an `opm serve`, perhaps wrapped) and waits for its listening line (at most
    /// [`START_LIMIT`]; a server that exits or hangs first fails the test with its logs).
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("start opm serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr_done = child.stderr.take().map(|stderr| {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            })
        });
        let stdout = child.stdout.take().unwrap();
        let (url_tx, url_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
            let url =
                lines.by_ref().find_map(|line| line.strip_prefix("opm listening on ").map(|u| u.trim().to_owned()));
            let _ = url_tx.send(url);
            for _ in lines {}
        });
        let url = match url_rx.recv_timeout(START_LIMIT) {
            Ok(Some(url)) => url,
            outcome => {
                let _ = child.kill();
                let status = child.wait();
                if let Some(done) = stderr_done {
                    let _ = done.join();
                }
                let why =
                    if outcome.is_err() { "did not listen within the start limit" } else { "exited before listening" };
                panic!("opm serve {why} ({status:?}); its logs:\n{}", logs.lock().unwrap().join("\n"));
            }
        };
        Server { child, url, logs }
    }

    pub fn client(&self) -> Client {
        Client::new(&ClientConfig { base_url: self.url.clone(), api_key: Some(ADMIN.into()), ..Default::default() })
            .unwrap()
    }

    /// The process id (of the wrapper, when the command was wrapped with `exec`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and waits for the process to exit (at most [`STOP_LIMIT`]: a server that
    /// does not stop fails the test instead of hanging it).
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "opm serve did not stop within {STOP_LIMIT:?} of SIGTERM; logs: {:?}",
                    self.logs.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
