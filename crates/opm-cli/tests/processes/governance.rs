//! Governance on two real replicas sharing one PostgreSQL: a change request filed on one replica
//! and approved on the other moves the protected label for both (time measured and printed), a
//! stale request is refused, and a freeze set on one replica refuses moves on the other.

use std::time::{Duration, Instant};

use opm_api::governance::{LabelProtectionDto, PolicyRulesDto, SetPolicyRequest};
use opm_api::keys::CreateKeyRequest;
use opm_api::labels::SetLabelRequest;
use opm_client::prompts::Selector;
use opm_client::{Client, ClientConfig, ClientError};

use crate::server::Server;
use crate::{postgres_database, text_version, time_until};

async fn key_client(admin: &Client, server: &Server, name: &str, role: &str) -> Client {
    let request =
        CreateKeyRequest { name: name.into(), role: role.into(), project: Some("default".into()), expires_at: None };
    let created = admin.create_key(&request).await.unwrap();
    Client::new(&ClientConfig { base_url: server.url.clone(), api_key: Some(created.secret), ..Default::default() })
        .unwrap()
}

fn code(error: &ClientError) -> String {
    match error {
        ClientError::Api(problem) => problem.code.clone(),
        other => panic!("expected a problem, got {other:?}"),
    }
}

fn move_to(version: u32, reason: &str) -> SetLabelRequest {
    SetLabelRequest { version: Some(version), split: None, reason: reason.into() }
}

#[tokio::test]
async fn postgres_change_requests_apply_on_both_replicas() {
    let Some(url) = postgres_database() else { return };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(dir_a.path(), Some(&url));
    let b = Server::start(dir_b.path(), Some(&url));
    let (admin_a, admin_b) = (a.client(), b.client());
    for template in ["one", "two", "three"] {
        admin_a.publish_version("governed", &text_version(template)).await.unwrap();
    }
    admin_a.set_label("governed", "production", &move_to(1, "start")).await.unwrap();
    let rules = PolicyRulesDto {
        protected_labels: vec![LabelProtectionDto {
            label: "production".into(),
            move_role: "deployer".into(),
            approvals: 1,
        }],
        ..PolicyRulesDto::default()
    };
    let policy = SetPolicyRequest { rules, expected_revision: 0, reason: "protect production".into() };
    admin_a.set_policy(&policy).await.unwrap();
    let editor_a = key_client(&admin_a, &a, "author", "editor").await;
    let deployer_b = key_client(&admin_a, &b, "approver", "deployer").await;

    // The editor cannot move it on either replica; the request is filed on A, approved on B.
    let refused = editor_a.set_label("governed", "production", &move_to(2, "ship")).await.unwrap_err();
    assert_eq!(code(&refused), "label_protected");
    let production = Selector::Label("production".into());
    for client in [&admin_a, &admin_b] {
        assert_eq!(client.resolve("governed", &production).await.unwrap().version, 1);
    }
    let filed = editor_a.request_label_change("governed", "production", &move_to(2, "ship v2")).await.unwrap();
    let approved_at = Instant::now();
    let applied = deployer_b.decide_change_request(filed.id, "approve", "reviewed").await.unwrap();
    assert_eq!(applied.state, "applied");
    let on_b = time_until(Duration::from_secs(1), || async {
        admin_b.resolve("governed", &production).await.unwrap().version == 2
    })
    .await;
    let on_a = time_until(Duration::from_secs(1), || async {
        admin_a.resolve("governed", &production).await.unwrap().version == 2
    })
    .await;
    assert_eq!(admin_a.change_request(filed.id).await.unwrap().state, "applied");
    eprintln!(
        "approved on B: visible on B after {on_b:?}, on A after {on_a:?} (since approval {:?})",
        approved_at.elapsed()
    );

    // A request whose label moved meanwhile cannot apply, on any replica.
    let stale = editor_a.request_label_change("governed", "production", &move_to(3, "ship v3")).await.unwrap();
    // With an approval required nobody moves it directly, but a rollback never waits.
    let refused = admin_b.set_label("governed", "production", &move_to(1, "emergency")).await.unwrap_err();
    assert_eq!(code(&refused), "label_protected");
    admin_b
        .rollback_label("governed", "production", &opm_api::labels::RollbackRequest { reason: "bad".into() })
        .await
        .unwrap();
    let error = deployer_b.decide_change_request(stale.id, "approve", "").await.unwrap_err();
    assert_eq!(code(&error), "change_request_stale");
    assert_eq!(admin_a.change_request(stale.id).await.unwrap().state, "stale");
    assert_eq!(admin_a.resolve("governed", &production).await.unwrap().version, 1);

    // A freeze set on A refuses moves on B at once; rollbacks still pass; lifting it on B works.
    admin_a.freeze(true, "release weekend").await.unwrap();
    let frozen = admin_b.set_label("governed", "production", &move_to(2, "sneak")).await.unwrap_err();
    assert_eq!(code(&frozen), "change_freeze");
    admin_b
        .rollback_label("governed", "production", &opm_api::labels::RollbackRequest { reason: "r".into() })
        .await
        .unwrap();
    admin_b.freeze(false, "over").await.unwrap();
    let verify = admin_b.verify_audit().await.unwrap();
    assert!(verify.ok, "{verify:?}");
}

#[tokio::test]
async fn sqlite_opm_cli_request_and_approve() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), None);
    let admin = server.client();
    admin.publish_version("cli-governed", &text_version("one")).await.unwrap();
    admin.publish_version("cli-governed", &text_version("two")).await.unwrap();
    admin.set_label("cli-governed", "production", &move_to(1, "start")).await.unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "protected_labels:\n  - label: production\n    move_role: deployer\n    approvals: 1\n")
        .unwrap();
    let admin_secret = crate::server::ADMIN.to_owned();
    let opm = |secret: &str, args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_opm"))
            .args(["--url", &server.url, "--api-key", secret])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (ok, out) = opm(&admin_secret, &["policy", "set", policy.to_str().unwrap(), "--reason", "protect"]);
    assert!(ok, "{out}");
    assert!(out.contains("protected label `production`"), "{out}");
    let editor = admin
        .create_key(&CreateKeyRequest {
            name: "ed".into(),
            role: "editor".into(),
            project: Some("default".into()),
            expires_at: None,
        })
        .await
        .unwrap()
        .secret;
    let deployer = admin
        .create_key(&CreateKeyRequest {
            name: "dep".into(),
            role: "deployer".into(),
            project: Some("default".into()),
            expires_at: None,
        })
        .await
        .unwrap()
        .secret;
    let (ok, out) = opm(&editor, &["label", "set", "cli-governed", "production", "2", "--reason", "go"]);
    assert!(!ok && out.contains("is protected"), "{out}");
    let (ok, out) = opm(&editor, &["request", "cli-governed", "production", "2", "--reason", "go"]);
    assert!(ok && out.contains("change request 1 filed"), "{out}");
    let (ok, out) = opm(&deployer, &["requests", "--state", "pending"]);
    assert!(ok && out.contains("cli-governed"), "{out}");
    let (ok, out) = opm(&editor, &["approve", "1"]);
    assert!(!ok, "the author cannot approve: {out}");
    let (ok, out) = opm(&deployer, &["approve", "1", "--reason", "lgtm"]);
    assert!(ok && out.contains("approved and applied"), "{out}");
    let production = Selector::Label("production".into());
    assert_eq!(admin.resolve("cli-governed", &production).await.unwrap().version, 2);
}

/// Writes an `opm.toml` with one priced provider (`paid`, OpenAI-shaped, served by `opm-mock-llm`).
fn priced_config(dir: &std::path::Path, mock: &str) {
    std::fs::write(dir.join("upstream-key"), "test-key").unwrap();
    let config = format!(
        "[gateway.providers.paid]\ntype = \"openai\"\nbase_url = \"{mock}/v1\"\napi_key_file = \"{}\"\n",
        dir.join("upstream-key").display()
    );
    std::fs::write(dir.join("opm.toml"), config).unwrap();
}

/// One priced chat completion with `key`; returns the status and the OpenAI error code, if any.
async fn paid_call(http: &reqwest::Client, server: &Server, key: &str) -> (u16, String) {
    let body = serde_json::json!({"model": "paid/gpt-4o-mini", "messages": [{"role": "user", "content": "what does this cost"}]});
    let response =
        http.post(format!("{}/v1/chat/completions", server.url)).bearer_auth(key).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    (status, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn postgres_a_budget_spent_on_one_replica_is_refused_on_the_other_and_after_a_restart() {
    let Some(url) = postgres_database() else { return };
    let mock = opm_mock_llm::MockServer::start(opm_mock_llm::MockConfig::default()).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    priced_config(dir_a.path(), &mock.url());
    priced_config(dir_b.path(), &mock.url());
    let a = Server::start(dir_a.path(), Some(&url));
    let b = Server::start(dir_b.path(), Some(&url));
    let admin_a = a.client();
    // Each key may spend a millionth of a cent a day: one call of gpt-4o-mini spends more.
    let limits = opm_api::governance::GatewayLimitsDto {
        per_key: opm_api::governance::LimitsDto { daily_usd: Some(1e-8), ..Default::default() },
        ..Default::default()
    };
    let rules = PolicyRulesDto { limits, ..PolicyRulesDto::default() };
    let policy = SetPolicyRequest { rules, expected_revision: 0, reason: "budgets".into() };
    admin_a.set_policy(&policy).await.unwrap();
    let create = |name: &str| CreateKeyRequest {
        name: name.into(),
        role: "viewer".into(),
        project: Some("default".into()),
        expires_at: None,
    };
    let spender = admin_a.create_key(&create("spender")).await.unwrap().secret;
    let other = admin_a.create_key(&create("other")).await.unwrap().secret;
    let http = reqwest::Client::new();

    assert_eq!(paid_call(&http, &a, &spender).await, (200, String::new()), "under budget");
    assert_eq!(paid_call(&http, &a, &spender).await, (429, "budget_exceeded".into()), "A knows at once");
    let spent_at = Instant::now();
    let mut seen = None;
    while spent_at.elapsed() < Duration::from_secs(10) {
        let (status, code) = paid_call(&http, &b, &spender).await;
        if status == 429 {
            assert_eq!(code, "budget_exceeded");
            seen = Some(spent_at.elapsed());
            break;
        }
        assert_eq!(status, 200, "before B learns of the spend, the call is served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.expect("B refuses the spent key within 10 s");
    eprintln!("a budget spent on A is refused on B after {seen:?}");
    assert_eq!(paid_call(&http, &b, &other).await, (200, String::new()), "another key has its own budget");
    let scrape = http.get(format!("{}/metrics", b.url)).send().await.unwrap().text().await.unwrap();
    assert!(
        scrape.lines().any(|l| l.starts_with("opm_gateway_limited_total{") && l.contains("limit=\"daily_budget\"")),
        "{scrape}"
    );

    // The spend is in the database: a restarted replica refuses the key at its first call.
    drop(a);
    let a = Server::start(dir_a.path(), Some(&url));
    assert_eq!(paid_call(&http, &a, &spender).await, (429, "budget_exceeded".into()), "after a restart");
}
