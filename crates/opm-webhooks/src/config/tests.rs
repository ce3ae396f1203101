//! Tests of `[[webhooks]]` parsing and validation, from TOML as it appears in `opm.toml`.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    webhooks: Vec<WebhookConfig>,
}

fn parse(text: &str) -> Result<Vec<WebhookConfig>, String> {
    toml::from_str::<File>(text).map(|file| file.webhooks).map_err(|error| error.to_string())
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Parses one entry and resolves it with `env` as the environment.
fn resolve(text: &str, env: &[(&str, &str)]) -> Result<Endpoint, String> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let lookup = move |name: &str| env.get(name).cloned();
    let configs = parse(text)?;
    let config = configs.first().ok_or("no entry")?;
    config.resolve(0, &lookup).map_err(|error| error.to_string())
}

fn check_error(text: &str, expected: &str) {
    match resolve(text, &[]) {
        Ok(endpoint) => panic!("accepted {endpoint:?}, expected an error containing {expected:?}"),
        Err(error) => assert!(error.contains(expected), "{error:?} does not contain {expected:?}"),
    }
}

#[test]
fn defaults() {
    let configs = parse("[[webhooks]]\nurl = \"https://hooks.example.com/opm\"\nsecret = \"0123456789abcdef\"\n");
    let config = configs.ok().and_then(|c| c.into_iter().next());
    assert_eq!(config, Some(WebhookConfig::new("https://hooks.example.com/opm", "0123456789abcdef")));
    let config = WebhookConfig::new("x", "y");
    assert_eq!(config.events, ["*"]);
    assert_eq!(config.projects, None);
    assert_eq!(config.timeout, Duration::from_secs(5));
    assert_eq!(config.max_attempts, 8);
    assert_eq!(config.initial_backoff, Duration::from_millis(500));
    assert_eq!(config.max_backoff, Duration::from_secs(60));
}

#[test]
fn every_key() {
    let text = r#"
        [[webhooks]]
        url = "http://127.0.0.1:9000/hook?token=abc"
        secret_env = "OPM_HOOK_SECRET"
        events = ["label.*", "version.publish"]
        projects = ["shop"]
        timeout = "2s 500ms"
        max_attempts = 3
        initial_backoff = "100ms"
        max_backoff = "10s"

        [[webhooks]]
        url = "https://b.example.com"
        secret = "another secret of enough length"
    "#;
    let configs = parse(text).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(configs.len(), 2);
    let endpoint = configs[0]
        .resolve(0, &|name: &str| (name == "OPM_HOOK_SECRET").then(|| "s".repeat(32)))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(endpoint.label, "127.0.0.1:9000");
    assert_eq!(endpoint.secret.bytes(), "s".repeat(32).as_bytes());
    assert_eq!(endpoint.timeout, Duration::from_millis(2500));
    assert_eq!(endpoint.max_attempts, 3);
    assert_eq!(endpoint.initial_backoff, Duration::from_millis(100));
    assert_eq!(endpoint.max_backoff, Duration::from_secs(10));
    let second = configs[1].resolve(1, &no_env).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(second.label, "b.example.com");
}

#[test]
fn secret_or_secret_env() {
    let url = "[[webhooks]]\nurl = \"https://h.example.com/x\"\n";
    check_error(url, "webhooks[0] (h.example.com): a signing secret is required: set `secret` or `secret_env`");
    check_error(&format!("{url}secret = \"0123456789abcdef\"\nsecret_env = \"X\"\n"), "not both");
    check_error(
        &format!("{url}secret_env = \"OPM_TEST_UNSET_SECRET\"\n"),
        "the environment variable `OPM_TEST_UNSET_SECRET` named by `secret_env` is not set",
    );
    let from_env = resolve(&format!("{url}secret_env = \"HOOK\"\n"), &[("HOOK", "from the environment!")]);
    assert_eq!(from_env.map(|e| e.secret.bytes().to_vec()), Ok(b"from the environment!".to_vec()));
}

#[test]
fn short_secrets_are_refused_with_a_clear_message() {
    let text = "[[webhooks]]\nurl = \"https://h.example.com\"\nsecret = \"too-short\"\n";
    check_error(
        text,
        "invalid webhook configuration: webhooks[0] (h.example.com): the secret is 9 bytes long; at least 16 are \
         required (generate one with `openssl rand -hex 32`)",
    );
    let error = resolve(text, &[]).err().unwrap_or_default();
    assert!(!error.contains("too-short"), "the secret leaked into {error:?}");
    let from_env = resolve("[[webhooks]]\nurl = \"https://h.example.com\"\nsecret_env = \"S\"\n", &[("S", "short")]);
    assert!(from_env.is_err_and(|error| error.contains("5 bytes long") && !error.contains("short\"")));
    assert!(resolve(&text.replace("too-short", "exactly-16-bytes"), &[]).is_ok());
}

#[test]
fn bad_urls() {
    let entry = |url: &str| format!("[[webhooks]]\nurl = \"{url}\"\nsecret = \"0123456789abcdef\"\n");
    check_error(&entry("not a url"), "webhooks[0]: invalid `url`: relative URL without a base");
    check_error(&entry("ftp://h.example.com/x"), "`url` must be http or https, not `ftp`");
    check_error(&entry("https://"), "invalid `url`: empty host");
    check_error(&entry(""), "invalid `url`");
}

#[test]
fn other_invalid_values() {
    let entry = "[[webhooks]]\nurl = \"https://h.example.com\"\nsecret = \"0123456789abcdef\"\n";
    check_error(&format!("{entry}max_attempts = 0\n"), "`max_attempts` must be at least 1");
    check_error(&format!("{entry}timeout = \"0s\"\n"), "`timeout` must be longer than zero");
    check_error(
        &format!("{entry}initial_backoff = \"2m\"\n"),
        "`initial_backoff` (2m) is longer than `max_backoff` (1m)",
    );
    check_error(&format!("{entry}events = [\"ro*\"]\n"), "event pattern `ro*` is not valid");
    check_error(&format!("{entry}events = []\n"), "`events` is empty");
    check_error(&format!("{entry}projects = []\n"), "`projects` is empty");
    check_error(&format!("{entry}timeout = \"soon\"\n"), "timeout");
    check_error(&format!("{entry}max_attempts = -1\n"), "max_attempts");
    check_error(&format!("{entry}retries = 3\n"), "unknown field `retries`");
}

#[test]
fn debug_output_hides_the_secret_and_the_query() {
    let mut config = WebhookConfig::new("https://h.example.com/hook?token=query-token", "super-secret-value-1234");
    let debug = format!("{config:?}");
    assert!(!debug.contains("super-secret-value-1234"), "{debug}");
    assert!(!debug.contains("query-token"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains("https://h.example.com/hook?<redacted>"), "{debug}");
    let endpoint = config.resolve(0, &no_env).unwrap_or_else(|error| panic!("{error}"));
    let debug = format!("{endpoint:?}");
    assert!(!debug.contains("super-secret-value-1234"), "{debug}");
    assert!(!debug.contains("query-token"), "{debug}");
    assert!(debug.contains("h.example.com"), "{debug}");
    config.secret = None;
    config.secret_env = Some("HOOK_SECRET".into());
    assert!(format!("{config:?}").contains("HOOK_SECRET"), "the variable's name is not secret");
}
