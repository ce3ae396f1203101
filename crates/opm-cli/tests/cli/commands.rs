//! Client commands other than apply: render, labels and rollback, audit, output formats, errors,
//! keys, and the server-side `migrate`.

use crate::harness::{ADMIN_KEY, TestServer, examples_dir, run};

fn with_examples() -> TestServer {
    let server = TestServer::start();
    server.opm(&["apply", "-f", &examples_dir().display().to_string()]).success();
    server
}

#[test]
fn render_takes_vars_as_json_or_strings_and_resolves_includes() {
    let server = with_examples();
    let run = server
        .opm(&[
            "render",
            "support-reply",
            "--label",
            "latest",
            "--var",
            "customer_name=Ada",
            "--var",
            "ticket=My invoice is wrong",
            "--var",
            r#"previous_replies=["We are looking into it."]"#,
        ])
        .success();
    assert!(run.stdout.starts_with("[system]\nYou are a support agent for Acme Cloud.\n"), "{}", run.stdout);
    assert!(run.stdout.contains("Write in plain, friendly English."), "include not rendered: {}", run.stdout);
    assert!(
        run.stdout.contains("Customer: Ada\n") && run.stdout.contains("- We are looking into it."),
        "{}",
        run.stdout
    );

    let vars_file = server.path("vars.json");
    std::fs::write(&vars_file, r#"{"document": "OPM stores prompts.", "max_words": 10}"#).unwrap();
    let vars_file = vars_file.display().to_string();
    let args = ["render", "summarize", "--version", "1", "--vars-file", &vars_file, "--var", "max_words=25"];
    let text = server.opm(&args).success();
    assert!(text.stdout.starts_with("Summarise the following document in at most 25 words."), "{}", text.stdout);
    let json = server.opm(&["render", "summarize", "--version", "1", "--var", "document=x", "-o", "json"]).success();
    assert_eq!(json.json()["type"], "text");

    let wrong_type =
        server.opm(&["render", "summarize", "--version", "1", "--var", "document=x", "--var", "max_words=many"]);
    let wrong_type = wrong_type.failure();
    assert!(wrong_type.stderr.contains("max_words"), "{}", wrong_type.stderr);
}

#[test]
fn label_set_then_rollback() {
    let server = with_examples();
    let dir = server.copy_examples("prompts");
    let file = dir.join("summarize.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("Keep names", "Keep all names")).unwrap();
    server.opm(&["apply", "-f", &dir.display().to_string()]).success();

    let set = server.opm(&["label", "set", "summarize", "production", "1", "--reason", "first release"]).success();
    assert!(set.stdout.contains("label `production` of `summarize` now points at v1"), "{}", set.stdout);
    server.opm(&["label", "set", "summarize", "production", "2", "--reason", "tighter wording"]).success();
    let resolved = server.opm(&["get", "prompt", "summarize", "--label", "production", "-o", "json"]).success().json();
    assert_eq!(resolved["version"]["version"], 2);

    let back = server.opm(&["rollback", "summarize", "production", "--reason", "summaries got worse"]).success();
    assert!(back.stdout.contains("rolled back to v1"), "{}", back.stdout);
    let resolved = server.opm(&["get", "prompt", "summarize", "--label", "production", "-o", "json"]).success().json();
    assert_eq!(resolved["version"]["version"], 1);
    let history = server.opm(&["label", "history", "summarize", "production"]).success();
    assert!(
        history.stdout.contains("rollback") && history.stdout.contains("summaries got worse"),
        "{}",
        history.stdout
    );
    let diff = server.opm(&["diff", "summarize", "1", "2"]).success();
    assert!(diff.stdout.contains("-  Keep names") && diff.stdout.contains("+  Keep all names"), "{}", diff.stdout);
}

#[test]
fn audit_lists_changes_and_verifies_the_chain() {
    let server = with_examples();
    let verify = server.opm(&["audit", "verify"]).success();
    assert!(verify.stdout.starts_with("audit chain ok:"), "{}", verify.stdout);
    let verdict = server.opm(&["audit", "verify", "-o", "json"]).success().json();
    assert_eq!(verdict["ok"], true);
    let entries = server.opm(&["audit", "--prompt", "summarize", "-o", "json"]).success().json();
    let entries = entries.as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|entry| entry["target"].as_str().unwrap().contains("summarize")), "{entries:?}");
    let limited = server.opm(&["audit", "--limit", "2", "-o", "json"]).success().json();
    assert_eq!(limited.as_array().unwrap().len(), 2);
}

#[test]
fn json_and_yaml_outputs_parse() {
    let server = with_examples();
    let prompts = server.opm(&["get", "prompts", "-o", "json"]).success().json();
    assert_eq!(prompts.as_array().unwrap().len(), 5);
    let tagged = server.opm(&["get", "prompts", "--tag", "support", "-o", "json"]).success().json();
    assert_eq!(tagged.as_array().unwrap().len(), 2, "{tagged}");
    let prompt = server.opm(&["get", "prompt", "classify-ticket", "-o", "json"]).success().json();
    assert_eq!(prompt["version"]["content"]["model"]["response_format"]["type"], "json_schema");
    let history = server.opm(&["history", "classify-ticket", "-o", "json"]).success().json();
    assert_eq!(history[0]["version"], 1);
    let yaml = server.opm(&["get", "prompts", "-o", "yaml"]).success();
    assert!(yaml.stdout.contains("name: classify-ticket"), "{}", yaml.stdout);
    let table = server.opm(&["get", "prompts"]).success();
    assert!(table.stdout.starts_with("NAME"), "{}", table.stdout);
}

#[test]
fn server_errors_surface_with_code_request_id_and_exit_status() {
    let server = with_examples();
    let missing = server.opm(&["get", "prompt", "no-such-prompt"]).failure();
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.starts_with("error: prompt `no-such-prompt` does not exist (code prompt_not_found, request "),
        "{}",
        missing.stderr
    );
    let bad_version = server.opm(&["label", "set", "summarize", "production", "9", "--reason", "typo"]).failure();
    assert!(bad_version.stderr.contains("(code "), "{}", bad_version.stderr);
    let bad_key = server.opm_with_key("opm_not_a_real_key_000000000000", &["get", "prompts"]).failure();
    assert!(bad_key.stderr.starts_with("error: ") && bad_key.stderr.contains("(code "), "{}", bad_key.stderr);
}

#[test]
fn an_unreachable_server_is_named_with_a_hint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let run = run(dir.path(), &[("OPM_URL", &url), ("OPM_API_KEY", ADMIN_KEY)], &["get", "prompts"]).failure();
    let expected = format!("error: cannot reach OPM at {url}: connection refused; is `opm serve` running?");
    assert_eq!(run.stderr.trim(), expected);
}

#[test]
fn a_created_key_is_printed_once_and_works_within_its_role() {
    let server = with_examples();
    let created = server.opm(&["keys", "create", "--name", "reader", "--role", "viewer"]).success();
    let secret = created.stdout.trim().to_owned();
    assert!(!secret.is_empty() && !secret.contains(char::is_whitespace), "{}", created.stdout);
    assert!(created.stderr.contains("shown only now"), "{}", created.stderr);

    let listed = server.opm_with_key(&secret, &["get", "prompts", "-o", "json"]).success().json();
    assert_eq!(listed.as_array().unwrap().len(), 5);
    let denied = server.opm_with_key(&secret, &["archive", "summarize"]).failure();
    assert!(denied.stderr.contains("(code "), "{}", denied.stderr);

    let keys = server.opm(&["keys", "list", "-o", "json"]).success().json();
    let reader = keys.as_array().unwrap().iter().find(|key| key["name"] == "reader").unwrap();
    assert!(!keys.to_string().contains(&secret), "secrets must never be listed");
    let id = reader["id"].as_str().unwrap();
    server.opm(&["keys", "revoke", id]).success();
    server.opm_with_key(&secret, &["get", "prompts"]).failure();
}

#[test]
fn migrate_creates_the_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = run(dir.path(), &[], &["migrate", "--data-dir", &data.display().to_string()]).success();
    assert!(run.stdout.contains("database is up to date"), "{}", run.stdout);
    assert!(data.join("opm.db").is_file());
}

#[test]
fn invoke_runs_a_prompt_on_the_mock_provider() {
    let server = with_examples();
    server.opm(&["label", "set", "hello-mock", "production", "1", "--reason", "go"]).success();
    let run = server.opm(&["invoke", "hello-mock", "--var", "name=Ada"]).success();
    assert_eq!(run.stdout.trim(), "mock reply to: Say hello to Ada in one sentence.");
    assert!(run.stderr.contains("hello-mock v1 via mock/"), "{}", run.stderr);
    let answer = server.opm(&["invoke", "hello-mock", "--var", "name=Ada", "-o", "json"]).success().json();
    assert_eq!(answer["provider"], "mock");
    assert!(answer["usage"]["output_tokens"].as_u64().unwrap() > 0);
    let missing = server.opm(&["invoke", "hello-mock"]).failure();
    assert!(missing.stderr.contains("missing required variables: name"), "{}", missing.stderr);
}

#[test]
fn stats_and_feedback_after_invocations() {
    let server = with_examples();
    server.opm(&["label", "set", "hello-mock", "production", "1", "--reason", "go"]).success();
    let mut ids = Vec::new();
    for name in ["Ada", "Grace", "Linus"] {
        let answer = server.opm(&["invoke", "hello-mock", "--var", &format!("name={name}"), "-o", "json"]).success();
        ids.push(answer.json()["generation_id"].as_str().unwrap().to_owned());
    }
    let scored = server.opm(&["feedback", &ids[0], "--score", "1", "--comment", "good"]).success();
    assert!(scored.stdout.contains(&format!("recorded for generation {}", ids[0])), "{}", scored.stdout);
    server.opm(&["feedback", &ids[1], "--score", "-0.5"]).success();
    let unknown = server.opm(&["feedback", "no-such-generation", "--score", "1"]).failure();
    assert!(unknown.stderr.contains("no-such-generation"), "{}", unknown.stderr);

    let table = server.opm(&["stats", "hello-mock"]).success();
    assert!(table.stdout.starts_with("hello-mock by version, last 1h"), "{}", table.stdout);
    assert!(table.stdout.contains("0.25 (n=2)"), "mean feedback in the table: {}", table.stdout);
    let json = server.opm(&["stats", "hello-mock", "--by", "label", "--window", "24h", "-o", "json"]).success().json();
    assert_eq!(json["by"], "label");
    let group = &json["groups"][0];
    assert_eq!(group["group"], "production");
    assert_eq!(group["calls"], 3);
    assert_eq!(group["errors"], 0);
    assert!(group["tokens"]["output"].as_u64().unwrap() > 0);
    let bad = server.opm(&["stats", "hello-mock", "--window", "forever"]).failure();
    assert!(bad.stderr.contains("window"), "{}", bad.stderr);
}
