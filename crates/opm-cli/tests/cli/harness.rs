//! The test harness: a real `opm serve` child process on loopback, killed on drop, and a runner
//! for client commands pointed at it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

/// The bootstrap admin key every test server starts with.
pub const ADMIN_KEY: &str = "opm_test_admin_key_0123456789abcdef";

/// Environment variables of the developer's shell that must not leak into tests.
const OPM_VARIABLES: [&str; 9] = [
    "OPM_URL",
    "OPM_API_KEY",
    "OPM_PROJECT",
    "OPM_DATA_DIR",
    "OPM_DATABASE_URL",
    "OPM_ADDR",
    "OPM_TIMEOUT",
    "OPM_BOOTSTRAP_ADMIN_KEY",
    "RUST_LOG",
];

/// The `opm` binary under test.
pub fn opm_binary() -> &'static str {
    env!("CARGO_BIN_EXE_opm")
}

/// The example prompts shipped in the repository.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/prompts")
}

/// A running `opm serve` with its own data directory and a scratch working directory.
pub struct TestServer {
    child: Child,
    pub url: String,
    data: TempDir,
    pub work: TempDir,
}

impl TestServer {
    /// Starts the server with [`ADMIN_KEY`] as its bootstrap key.
    pub fn start() -> Self {
        Self::start_with(Some(ADMIN_KEY))
    }

    /// Starts the server and waits for its `opm listening on http://ADDR` line; without a
    /// bootstrap key the server generates one into `<data dir>/admin.key`.
    pub fn start_with(bootstrap_key: Option<&str>) -> Self {
        Self::start_serving(bootstrap_key, &[])
    }

    /// Starts the server with [`ADMIN_KEY`] and extra `opm serve` flags (e.g. `--adjustable-clock`).
    pub fn start_with_flags(flags: &[&str]) -> Self {
        Self::start_serving(Some(ADMIN_KEY), flags)
    }

    fn start_serving(bootstrap_key: Option<&str>, flags: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let mut command = Command::new(opm_binary());
        for variable in OPM_VARIABLES {
            command.env_remove(variable);
        }
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path().join("data"))
            .args(flags)
            .envs(bootstrap_key.map(|key| ("OPM_BOOTSTRAP_ADMIN_KEY", key)))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("cannot start `opm serve`");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("opm listening on ") {
                    let _ = sender.send(url.trim().to_owned());
                }
            }
        });
        let url = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(data.path().join("server.log")).unwrap_or_default();
                panic!("`opm serve` did not print its address; its log:\n{log}");
            }
        };
        Self { child, url, data, work }
    }

    /// Runs `opm ARGS` against this server with the admin key, in the scratch directory.
    pub fn opm(&self, args: &[&str]) -> Run {
        self.opm_with_key(ADMIN_KEY, args)
    }

    /// Runs `opm ARGS` against this server with `key`.
    pub fn opm_with_key(&self, key: &str, args: &[&str]) -> Run {
        run(self.work.path(), &[("OPM_URL", &self.url), ("OPM_API_KEY", key)], args)
    }

    /// Starts `opm ARGS` (a long-running command such as `watch`) with the admin key and stdout
    /// piped; the caller reads and kills it.
    pub fn spawn_opm(&self, args: &[&str]) -> Child {
        let mut command = Command::new(opm_binary());
        for variable in OPM_VARIABLES {
            command.env_remove(variable);
        }
        command
            .current_dir(self.work.path())
            .env("OPM_URL", &self.url)
            .env("OPM_API_KEY", ADMIN_KEY)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start `opm {}`: {error}", args.join(" ")))
    }

    /// The server's data directory (SQLite file, generated admin key).
    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }

    /// A typed client with the admin key.
    pub fn client(&self) -> opm_client::Client {
        let config = opm_client::ClientConfig {
            base_url: self.url.clone(),
            api_key: Some(ADMIN_KEY.into()),
            ..Default::default()
        };
        opm_client::Client::new(&config).unwrap()
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Copies the example prompts into the scratch directory and returns the copy's path.
    pub fn copy_examples(&self, name: &str) -> PathBuf {
        let target = self.path(name);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(examples_dir()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, target.join(path.file_name().unwrap())).unwrap();
        }
        target
    }

    /// The number of versions of a prompt (`opm history NAME -o json`).
    pub fn version_count(&self, name: &str) -> usize {
        self.opm(&["history", name, "-o", "json"]).success().json().as_array().unwrap().len()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default();
            eprintln!("--- log of the `opm serve` at {}:\n{log}", self.url);
        }
    }
}

/// Runs `opm ARGS` in `dir` with `env` (and no OPM variables from the surrounding shell).
pub fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut command = Command::new(opm_binary());
    for variable in OPM_VARIABLES {
        command.env_remove(variable);
    }
    let output = command.current_dir(dir).envs(env.iter().copied()).args(args).output().unwrap();
    Run {
        args: args.join(" "),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The outcome of one `opm` invocation.
#[derive(Debug)]
pub struct Run {
    pub args: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit status 0.
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "`opm {}` failed\nstdout:\n{}\nstderr:\n{}", self.args, self.stdout, self.stderr);
        self
    }

    /// Asserts a non-zero exit status.
    pub fn failure(self) -> Self {
        assert_ne!(self.code, 0, "`opm {}` should have failed\nstdout:\n{}", self.args, self.stdout);
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("`opm {}` did not print JSON ({error}):\n{}", self.args, self.stdout))
    }

    /// The stdout line about prompt `name` in an apply plan.
    pub fn plan_line(&self, name: &str) -> &str {
        self.stdout
            .lines()
            .filter(|line| !line.starts_with([' ', '-', '+']) && !line.starts_with("applied"))
            .find(|line| line.split_whitespace().any(|word| word == name))
            .unwrap_or_else(|| panic!("no plan line for `{name}` in:\n{}", self.stdout))
    }
}
