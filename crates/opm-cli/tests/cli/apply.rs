//! Prompts as code: `opm apply` plans, idempotence, dry runs, validation before writing, export.

use crate::harness::{TestServer, examples_dir};

const EXAMPLES: [&str; 5] = ["tone-guide", "support-reply", "summarize", "classify-ticket", "hello-mock"];

fn examples() -> String {
    examples_dir().display().to_string()
}

#[test]
fn applying_the_examples_creates_them_and_a_second_apply_is_a_noop() {
    let server = TestServer::start();
    let first = server.opm(&["apply", "-f", &examples()]).success();
    for name in EXAMPLES {
        assert!(first.plan_line(name).starts_with("create"), "{}", first.stdout);
    }
    assert!(first.stdout.contains("plan: 5 create, 0 new version, 0 update, 0 unchanged"), "{}", first.stdout);
    // The included snippet is created before the prompt that includes it.
    let tone = first.stdout.find("applied tone-guide").unwrap();
    let reply = first.stdout.find("applied support-reply").unwrap();
    assert!(tone < reply, "{}", first.stdout);

    let second = server.opm(&["apply", "-f", &examples()]).success();
    for name in EXAMPLES {
        assert!(second.plan_line(name).starts_with("unchanged"), "{}", second.stdout);
        assert_eq!(server.version_count(name), 1, "{name}");
    }
    assert!(second.stdout.contains("nothing to do"), "{}", second.stdout);
    assert!(!second.stdout.contains("applied"), "{}", second.stdout);
}

#[test]
fn changing_one_file_publishes_a_new_version_of_that_prompt_only() {
    let server = TestServer::start();
    let dir = server.copy_examples("prompts");
    let dir_text = dir.display().to_string();
    server.opm(&["apply", "-f", &dir_text]).success();
    let file = dir.join("summarize.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("in at most", "in no more than")).unwrap();

    let run = server.opm(&["apply", "-f", &dir_text]).success();
    let line = run.plan_line("summarize");
    assert!(line.starts_with("new version") && line.contains("v1 -> v2 (template)"), "{line}");
    for name in ["tone-guide", "support-reply", "classify-ticket"] {
        assert!(run.plan_line(name).starts_with("unchanged"), "{}", run.stdout);
        assert_eq!(server.version_count(name), 1);
    }
    assert!(run.stdout.contains("applied summarize: published v2"), "{}", run.stdout);
    assert_eq!(server.version_count("summarize"), 2);
}

#[test]
fn description_changes_are_patched_without_a_new_version() {
    let server = TestServer::start();
    let dir = server.copy_examples("prompts");
    let dir_text = dir.display().to_string();
    server.opm(&["apply", "-f", &dir_text]).success();
    let file = dir.join("tone-guide.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("tags: [shared, style]", "tags: [shared, style, house]")).unwrap();

    let run = server.opm(&["apply", "-f", &dir_text]).success();
    assert!(run.plan_line("tone-guide").starts_with("update"), "{}", run.stdout);
    assert_eq!(server.version_count("tone-guide"), 1);
    let prompt = server.opm(&["get", "prompt", "tone-guide", "-o", "json"]).success().json();
    assert_eq!(prompt["prompt"]["tags"], serde_json::json!(["shared", "style", "house"]));
    assert!(server.opm(&["apply", "-f", &dir_text]).success().stdout.contains("nothing to do"));
}

#[test]
fn dry_run_shows_the_plan_and_diff_and_writes_nothing() {
    let server = TestServer::start();
    let fresh = server.opm(&["apply", "-f", &examples(), "--dry-run"]).success();
    assert!(fresh.stdout.contains("dry run: nothing was written"), "{}", fresh.stdout);
    assert!(fresh.stdout.contains("+++ summarize (new)"), "{}", fresh.stdout);
    assert_eq!(server.opm(&["get", "prompts", "-o", "json"]).success().json(), serde_json::json!([]));

    let dir = server.copy_examples("prompts");
    let dir_text = dir.display().to_string();
    server.opm(&["apply", "-f", &dir_text]).success();
    let file = dir.join("summarize.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("temperature: 0.2", "temperature: 0.5")).unwrap();
    let run = server.opm(&["apply", "-f", &dir_text, "--dry-run"]).success();
    assert!(run.plan_line("summarize").contains("v1 -> v2 (model)"), "{}", run.stdout);
    assert!(run.stdout.contains("-    \"temperature\": 0.2"), "{}", run.stdout);
    assert!(run.stdout.contains("+    \"temperature\": 0.5"), "{}", run.stdout);
    assert_eq!(server.version_count("summarize"), 1);
}

#[test]
fn invalid_yaml_fails_naming_file_and_line_and_writes_nothing() {
    let server = TestServer::start();
    let dir = server.copy_examples("prompts");
    std::fs::write(dir.join("broken.yaml"), "name: broken\ntemplate: \"unclosed\n  more: [1, 2\n").unwrap();
    std::fs::write(dir.join("extra.yaml"), "name: extra\ntemplate: hi\ncolour: red\n").unwrap();
    let run = server.opm(&["apply", "-f", &dir.display().to_string()]).failure();
    assert!(run.stderr.contains("broken.yaml:2:"), "{}", run.stderr);
    assert!(run.stderr.contains("extra.yaml:3:1: unknown field `colour`"), "{}", run.stderr);
    assert!(run.stderr.contains("2 invalid prompt file(s); nothing was applied"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert_eq!(server.opm(&["get", "prompts", "-o", "json"]).success().json(), serde_json::json!([]));
}

#[test]
fn undeclared_template_variables_are_rejected_naming_the_file() {
    let server = TestServer::start();
    let dir = server.copy_examples("prompts");
    let oops = "name: oops\ndescription: forgot a declaration\ntemplate: |\n  Dear {{ whom }},\nvariables: {}\n";
    std::fs::write(dir.join("oops.yaml"), oops).unwrap();
    let run = server.opm(&["apply", "-f", &dir.display().to_string()]).failure();
    assert!(run.stderr.contains("oops.yaml:4: template `template` uses undeclared variables: whom"), "{}", run.stderr);
    assert!(run.stderr.contains("declare them under `variables:`"), "{}", run.stderr);
    assert_eq!(server.opm(&["get", "prompts", "-o", "json"]).success().json(), serde_json::json!([]));
}

#[test]
fn export_then_apply_is_a_noop() {
    let server = TestServer::start();
    server.opm(&["apply", "-f", &examples()]).success();
    let exported = server.path("exported");
    let exported_text = exported.display().to_string();
    let run = server.opm(&["export", &exported_text]).success();
    assert!(run.stdout.contains("exported 5 prompt(s)"), "{}", run.stdout);
    for name in EXAMPLES {
        assert!(exported.join(format!("{name}.yaml")).is_file(), "{name}.yaml missing");
    }
    let again = server.opm(&["apply", "-f", &exported_text]).success();
    for name in EXAMPLES {
        assert!(again.plan_line(name).starts_with("unchanged"), "{}", again.stdout);
    }
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
}

#[test]
fn apply_with_a_label_moves_it_once() {
    let server = TestServer::start();
    let args = ["apply", "-f", &examples(), "--label", "production", "--reason", "first release"];
    let first = server.opm(&args).success();
    assert!(first.stdout.contains("applied summarize: published v1; label production -> v1"), "{}", first.stdout);
    let labels = server.opm(&["label", "list", "summarize", "-o", "json"]).success().json();
    let production = labels.as_array().unwrap().iter().find(|label| label["name"] == "production").unwrap();
    assert_eq!((production["version"].as_u64(), production["reason"].as_str()), (Some(1), Some("first release")));

    let second = server.opm(&args).success();
    assert!(second.stdout.contains("nothing to do"), "{}", second.stdout);
    let history = server.opm(&["label", "history", "summarize", "production", "-o", "json"]).success().json();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
}

#[test]
fn archived_prompts_block_apply_until_restored() {
    let server = TestServer::start();
    server.opm(&["apply", "-f", &examples()]).success();
    server.opm(&["archive", "summarize"]).success();
    let listed = server.opm(&["get", "prompts", "-o", "json"]).success().json();
    assert!(listed.as_array().unwrap().iter().all(|prompt| prompt["name"] != "summarize"), "{listed}");
    let run = server.opm(&["apply", "-f", &examples()]).failure();
    assert!(run.stderr.contains("prompt `summarize` is archived; run `opm restore summarize` first"), "{}", run.stderr);
    server.opm(&["restore", "summarize"]).success();
    assert!(server.opm(&["apply", "-f", &examples()]).success().stdout.contains("nothing to do"));
}

#[test]
fn apply_json_output_is_a_report() {
    let server = TestServer::start();
    let report = server.opm(&["apply", "-f", &examples(), "-o", "json"]).success().json();
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["plan"].as_array().unwrap().len(), EXAMPLES.len());
    assert!(report["plan"].as_array().unwrap().iter().all(|item| item["action"] == "create"), "{report}");
    assert_eq!(report["applied"].as_array().unwrap().len(), EXAMPLES.len());
}

#[test]
fn a_changed_file_with_the_old_message_takes_the_reason_or_is_refused() {
    let server = TestServer::start();
    let dir = server.copy_examples("prompts");
    let dir_text = dir.display().to_string();
    server.opm(&["apply", "-f", &dir_text, "--label", "production", "--reason", "first release"]).success();
    let file = dir.join("support-reply.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("temperature: 0.3", "temperature: 0.2")).unwrap();

    // Without --reason: refused in the plan, dry run or not, naming the file and its `message:` line.
    for extra in [&["--dry-run"][..], &[]] {
        let run = server.opm(&[&["apply", "-f", &dir_text][..], extra].concat()).failure();
        assert!(run.stdout.contains("refused: "), "{}", run.stdout);
        assert!(
            run.stderr.contains(
                "support-reply.yaml:4: `message: First version of the support reply prompt` is the message of v1 \
                 this version replaces; change `message:` or give --reason"
            ),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
        assert_eq!(server.version_count("support-reply"), 1);
    }

    // With --reason: the plan says so, and v2 carries the reason as its message.
    let dry = server.opm(&["apply", "-f", &dir_text, "--dry-run", "--reason", "cooler answers"]).success();
    assert!(dry.stdout.contains("message from --reason: `message:` ("), "{}", dry.stdout);
    assert_eq!(server.version_count("support-reply"), 1);
    server.opm(&["apply", "-f", &dir_text, "--label", "production", "--reason", "cooler answers"]).success();
    let versions = server.opm(&["history", "support-reply", "-o", "json"]).success().json();
    let v2 = versions.as_array().unwrap().iter().find(|v| v["version"] == 2).unwrap();
    assert_eq!(v2["message"], "cooler answers", "{versions}");
}
