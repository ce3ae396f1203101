//! The README's quick start, run top to bottom as a new user would: every `sh` block under
//! `## Quick start` is split into commands (continuation lines joined) and run in order with bash,
//! in a scratch directory holding a copy of `examples/`, against a real `opm serve` started there
//! the way the set-up section says (SQLite in `./.opm`, the generated admin key in
//! `.opm/admin.key`, where the CLI finds it). The README's `alias opm=…` line is kept verbatim: the
//! scratch directory's `target/release/opm` is the binary under test. The only differences from a
//! user's terminal: the server listens on a free port, so `OPM_URL` is set (the README's advice for
//! another address) and `http://127.0.0.1:8321` in commands is that address; the `GENERATION_ID`
//! placeholder is the id the previous `opm invoke` printed; `opm watch` (which streams until
//! stopped) passes when it is still running after a few seconds (then bash stops it). The first command that exits
//! non-zero fails the test with the command, its README line and its output.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The README's default address (also `opm serve`'s and the client's default).
const README_URL: &str = "http://127.0.0.1:8321";
/// Commands that stream until stopped: they pass when still running after [`STREAMING_FOR`].
const STREAMING: [&str; 1] = ["opm watch"];
const STREAMING_FOR: Duration = Duration::from_secs(3);
/// Any other command taking longer than this fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// A command of the README: the 1-based line it starts on and its text (continuations joined).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReadmeCommand {
    line: usize,
    text: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The commands of every ```` ```sh ```` block under the level-2 heading `section`.
fn commands_in(readme: &str, section: &str) -> Vec<ReadmeCommand> {
    let mut commands = Vec::new();
    let mut in_section = false;
    let mut in_block = false;
    let mut pending: Option<ReadmeCommand> = None;
    for (index, line) in readme.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            in_section = heading.trim() == section;
            continue;
        }
        if !in_section {
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_block = !in_block && trimmed == "```sh";
            continue;
        }
        if !in_block || (pending.is_none() && (trimmed.is_empty() || trimmed.starts_with('#'))) {
            continue;
        }
        let (text, continues) = match line.trim_end().strip_suffix('\\') {
            Some(head) => (head, true),
            None => (line, false),
        };
        let command = pending.get_or_insert_with(|| ReadmeCommand { line: index + 1, text: String::new() });
        command.text.push_str(text.trim());
        if continues {
            command.text.push(' ');
        } else if let Some(done) = pending.take() {
            commands.push(done);
        }
    }
    commands
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `opm serve` started in `work` as the set-up section runs it (default data dir, generated key).
fn serve_in(work: &Path) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opm"));
    for (name, _) in std::env::vars() {
        if name.starts_with("OPM_") {
            command.env_remove(name);
        }
    }
    let log = std::fs::File::create(work.join("serve.log")).unwrap();
    let mut child = command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(work)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start opm serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("opm serve exited before listening").unwrap();
        if let Some(url) = line.strip_prefix("opm listening on ") {
            break url.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// The output of a finished (or stopped) command.
struct Ran {
    status: Option<std::process::ExitStatus>,
    output: String,
}

fn run_bash(work: &Path, url: &str, prelude: &str, command: &str, streaming: bool) -> Ran {
    // A streaming command runs in the background of the same bash, which stops it after a while:
    // still running is a pass, an early exit passes on its status.
    let body = if streaming {
        // Without its trailing `# comment`, which would swallow the `&`; `$!` is then the command.
        let command = command.split(" #").next().unwrap_or(command).trim_end();
        format!(
            "{command} &\npid=$!\nsleep {}\nif kill -0 $pid 2>/dev/null; then kill $pid; wait $pid; exit 0; fi\nwait $pid\n",
            STREAMING_FOR.as_secs()
        )
    } else {
        format!("{command}\n")
    };
    let script = format!("set -o pipefail\nshopt -s expand_aliases\n{prelude}\n{body}");
    let output_path = work.join("command.out");
    let output = std::fs::File::create(&output_path).unwrap();
    let mut bash = Command::new("bash");
    for (name, _) in std::env::vars() {
        if name.starts_with("OPM_") {
            bash.env_remove(name);
        }
    }
    let mut child = bash
        .args(["-c", &script])
        .current_dir(work)
        .env("OPM_URL", url)
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    std::fs::File::open(&output_path).unwrap().read_to_string(&mut text).unwrap();
    Ran { status, output: text }
}

/// The id after the last `generation ` in `output` (what `opm invoke` prints).
fn generation_id(output: &str) -> Option<String> {
    let start = output.rfind("generation ")? + "generation ".len();
    let id: String = output[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    (!id.is_empty()).then_some(id)
}

#[test]
fn the_readme_set_up_names_the_real_server_command_and_test_script() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let set_up: Vec<String> = commands_in(&readme, "Set-up (fresh machine: Rust stable, Python 3)")
        .into_iter()
        .map(|command| command.text)
        .collect();
    assert_eq!(set_up, ["cargo run --release -p opm-cli -- serve", "scripts/test.sh"]);
    // `-p opm-cli` builds the binary the quick start's alias points at, and `serve` is its command.
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"opm-cli\"") && manifest.contains("name = \"opm\""), "{manifest}");
    let help = Command::new(env!("CARGO_BIN_EXE_opm")).args(["serve", "--help"]).output().unwrap();
    assert!(help.status.success());
    let script = repo_root().join("scripts/test.sh");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&script).unwrap().permissions());
    assert!(mode & 0o111 != 0, "scripts/test.sh is not executable");
}

#[test]
fn commands_are_split_and_joined_like_a_shell_reads_them() {
    let readme = "## Other\n```sh\nnot this\n```\n## Quick start\ntext\n```sh\n# a comment\none  # trailing\n\ntwo \\\n  --flag\n```\n```python\nnot python\n```\n## Next\n```sh\nnor this\n```\n";
    let commands = commands_in(readme, "Quick start");
    assert_eq!(
        commands,
        [
            ReadmeCommand { line: 9, text: "one  # trailing".into() },
            ReadmeCommand { line: 11, text: "two --flag".into() },
        ]
    );
    assert_eq!(generation_id("x\n-- hello v1 … generation 0193-abc\n").as_deref(), Some("0193-abc"));
}

#[test]
fn the_readme_quick_start_runs_top_to_bottom() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = commands_in(&readme, "Quick start");
    assert!(commands.len() >= 20, "the quick start lost its commands: {commands:?}");
    let work = tempfile::tempdir().unwrap();
    copy_dir(&root.join("examples"), &work.path().join("examples"));
    // What the set-up's `cargo run --release -p opm-cli` leaves behind, for the alias to find.
    std::fs::create_dir_all(work.path().join("target/release")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_opm"), work.path().join("target/release/opm")).unwrap();
    let (mut server, url) = serve_in(work.path());
    let key = work.path().join(".opm/admin.key");
    assert!(key.exists(), "opm serve did not write .opm/admin.key");

    let mut prelude = String::new();
    let mut last_generation: Option<String> = None;
    let mut failure = None;
    for command in &commands {
        if command.text.starts_with("alias ") {
            prelude.push_str(&command.text);
            prelude.push('\n');
            continue;
        }
        let mut text = command.text.replace(README_URL, &url);
        if text.contains("GENERATION_ID") {
            let Some(id) = &last_generation else {
                failure = Some(format!("README.md:{}: `GENERATION_ID` before any `opm invoke`", command.line));
                break;
            };
            text = text.replace("GENERATION_ID", id);
        }
        let streaming = STREAMING.iter().any(|s| command.text.starts_with(s));
        let ran = run_bash(work.path(), &url, &prelude, &text, streaming);
        println!("README.md:{}: $ {text}\n{}", command.line, ran.output);
        if !ran.status.is_some_and(|status| status.success()) {
            let status = ran.status.map_or_else(|| format!("still running after {COMMAND_LIMIT:?}"), |s| s.to_string());
            failure = Some(format!("README.md:{}: `{text}` failed ({status}):\n{}", command.line, ran.output));
            break;
        }
        if text.starts_with("opm invoke") {
            last_generation = generation_id(&ran.output).or(last_generation);
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    if let Some(failure) = failure {
        let log = std::fs::read_to_string(work.path().join("serve.log")).unwrap_or_default();
        panic!("{failure}\n--- opm serve log:\n{log}");
    }
}
