//! The `opm serve` process harness: start on a free port, read the listening line, optionally
//! capture stderr (the logs), stop with SIGTERM or kill -9.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use opm_client::{Client, ClientConfig};

pub const ADMIN: &str = "opm_proc_admin-key-for-process-tests";

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

    /// Runs `command` (an `opm serve`, perhaps wrapped) and waits for its listening line.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("start opm serve");
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("opm serve exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("opm listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
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

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
