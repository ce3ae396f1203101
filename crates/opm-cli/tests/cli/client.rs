//! The typed client against the real server: routes the CLI does not exercise (conditional
//! resolve, paging, health, OpenAPI, projects), and key discovery from the data directory.

use opm_api::keys::CreateProjectRequest;
use opm_client::{PageQuery, PromptQuery, Resolved, Selector};

use crate::harness::{ADMIN_KEY, TestServer, examples_dir, run};

fn with_examples() -> TestServer {
    let server = TestServer::start();
    server.opm(&["apply", "-f", &examples_dir().display().to_string()]).success();
    server
}

#[tokio::test]
async fn health_readiness_and_openapi_answer() {
    let server = TestServer::start();
    let client = server.client();
    assert_eq!(client.health().await.unwrap().status, "ok");
    assert_eq!(client.ready().await.unwrap().status, "ok");
    let document = client.openapi().await.unwrap();
    assert!(document["paths"]["/api/v1/prompts/{name}/resolve"].is_object(), "resolve missing from OpenAPI");
}

#[tokio::test]
async fn resolve_sends_an_etag_and_honours_if_none_match() {
    let server = with_examples();
    let client = server.client();
    let selector = Selector::Label("latest".into());
    let Resolved::Found { resolved, etag } = client.resolve_if_changed("summarize", &selector, None).await.unwrap()
    else {
        panic!("a first resolve cannot be 304");
    };
    assert_eq!(resolved.version, 1);
    let etag = etag.expect("resolve should send an ETag");
    let again = client.resolve_if_changed("summarize", &selector, Some(&etag)).await.unwrap();
    assert!(matches!(again, Resolved::NotModified), "{again:?}");
    let by_number = client.resolve("summarize", &Selector::Version(1)).await.unwrap();
    assert_eq!((by_number.version, by_number.label), (1, None));
    assert_eq!(client.get_version("summarize", 1).await.unwrap().content_hash, resolved.content_hash);
}

#[tokio::test]
async fn listings_page_with_cursors() {
    let server = with_examples();
    let client = server.client();
    let first = PromptQuery { page: PageQuery { cursor: None, limit: Some(3) }, ..PromptQuery::default() };
    let page = client.list_prompts(&first).await.unwrap();
    assert_eq!(page.items.len(), 3);
    let cursor = page.next_cursor.expect("a full page should have a next cursor");
    let second = PromptQuery { page: PageQuery { cursor: Some(cursor), limit: Some(3) }, ..PromptQuery::default() };
    let rest = client.list_prompts(&second).await.unwrap();
    assert_eq!(rest.items.len(), 2);
    let everything = client.list_all_prompts(&first).await.unwrap();
    let mut names: Vec<String> = everything.into_iter().map(|prompt| prompt.name).collect();
    names.sort();
    assert_eq!(names, ["classify-ticket", "hello-mock", "summarize", "support-reply", "tone-guide"]);
}

#[tokio::test]
async fn projects_scope_prompts_and_keys() {
    let server = with_examples();
    let client = server.client();
    client.create_project(&CreateProjectRequest { name: "team-a".into() }).await.unwrap();
    let projects = client.list_projects(&PageQuery::default()).await.unwrap();
    assert!(projects.items.iter().any(|project| project.name == "team-a"));

    let created = server.opm(&["keys", "create", "--name", "team-a-ci", "--role", "editor", "--project", "team-a"]);
    let secret = created.success().stdout.trim().to_owned();
    let keys = server.opm(&["keys", "list", "-o", "json"]).success().json();
    let key = keys.as_array().unwrap().iter().find(|key| key["name"] == "team-a-ci").unwrap().clone();
    assert_eq!(key["project"], "team-a");
    let team_prompts = server.opm_with_key(&secret, &["get", "prompts", "-o", "json"]).success().json();
    assert_eq!(team_prompts, serde_json::json!([]), "a new project starts empty");
    let listed = server.opm(&["projects", "list", "-o", "json"]).success().json();
    assert!(listed.as_array().unwrap().iter().any(|project| project["name"] == "team-a"), "{listed}");
    let scoped = server.opm(&["get", "prompts", "--project", "team-a", "-o", "json"]).success().json();
    assert_eq!(scoped, serde_json::json!([]));
}

#[test]
fn the_admin_key_is_found_in_the_data_directory() {
    let server = TestServer::start_with(None);
    let key_file = server.data_dir().join("admin.key");
    assert!(key_file.is_file(), "the server should write a generated key to {}", key_file.display());
    let data_dir = server.data_dir().display().to_string();
    let env = [("OPM_URL", server.url.as_str()), ("OPM_DATA_DIR", data_dir.as_str())];
    run(server.work.path(), &env, &["get", "prompts"]).success();
    let without = run(server.work.path(), &[("OPM_URL", server.url.as_str())], &["get", "prompts"]).failure();
    assert!(without.stderr.contains("(code "), "{}", without.stderr);
    assert_ne!(std::fs::read_to_string(key_file).unwrap().trim(), ADMIN_KEY);
}

#[tokio::test]
async fn publishing_equal_content_creates_no_version() {
    let server = with_examples();
    let client = server.client();
    let latest = client.resolve("tone-guide", &Selector::Label("latest".into())).await.unwrap();
    let request = opm_api::prompts::CreateVersionRequest {
        content: latest.content.clone(),
        message: "same again".into(),
        description: None,
        tags: None,
    };
    let answer = client.publish_version("tone-guide", &request).await.unwrap();
    assert!(!answer.created && !answer.prompt_created, "{answer:?}");
    assert_eq!(answer.version.version, 1);
    let diff = client.diff("tone-guide", 1, 1).await.unwrap();
    assert!(diff.unified.is_empty() && diff.changed_fields.is_empty(), "{diff:?}");
}
