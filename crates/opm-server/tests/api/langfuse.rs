//! The Langfuse-compatible prompt API through the router: HTTP Basic auth mapped onto OPM keys,
//! the get/create/label-move/list/projects shapes the Langfuse SDKs parse, refusal of templates
//! the SDKs would render differently, and roles and audit exactly as for bearer keys.

use axum::http::{Method, StatusCode};
use base64::Engine;
use serde_json::{Value, json};

use crate::{ADMIN_SECRET, Reply, TestApp};

fn basic(public: &str, secret: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{public}:{secret}"));
    format!("Basic {encoded}")
}

fn key_id(secret: &str) -> String {
    opm_core::auth::key_id_of(secret).unwrap().to_owned()
}

async fn lf(app: &TestApp, secret: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
    let auth = basic(&key_id(secret), secret);
    app.call_with(method, path, None, body, &[("authorization", &auth)]).await
}

#[tokio::test]
async fn create_get_and_move_labels_like_the_sdk() {
    let app = TestApp::new().await;
    let editor = app.key("editor", Some("default")).await;
    // The Python SDK's text create: no `type`, `tags: null`.
    let create = json!({"name": "greet", "prompt": "Hello {{ name }}, about {{topic}}", "config": {"model": "openai/gpt-4o-mini",
        "temperature": 0.2, "supported_languages": ["en"]}, "labels": ["staging"], "commitMessage": "first", "tags": null});
    let reply = lf(&app, &editor, Method::POST, "/api/public/v2/prompts", Some(create)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["version"], 1);
    assert_eq!(reply.body["type"], "text");
    assert_eq!(reply.body["labels"], json!(["latest", "staging"]));
    assert_eq!(reply.body["tags"], json!([]));
    assert_eq!(reply.body["commitMessage"], "first");
    assert_eq!(
        reply.body["config"],
        json!({"model": "openai/gpt-4o-mini", "temperature": 0.2, "supported_languages": ["en"]})
    );
    // Stored as OPM content: declared string variables, provider/model, parameters.
    let version = app.admin(Method::GET, "/api/v1/prompts/greet/versions/1", None).await;
    let content = &version.body["content"];
    assert_eq!(content["variables"]["name"]["type"], "string");
    assert_eq!(content["variables"]["topic"]["required"], true);
    assert_eq!(content["model"]["provider"], "openai");
    assert_eq!(content["model"]["parameters"]["temperature"], 0.2);
    // No label asked: production, which does not exist yet.
    let missing = lf(&app, &editor, Method::GET, "/api/public/v2/prompts/greet", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{:?}", missing.body);
    let staging = lf(&app, &editor, Method::GET, "/api/public/v2/prompts/greet?label=staging", None).await;
    assert_eq!(staging.status, StatusCode::OK);
    assert_eq!(staging.body["prompt"], "Hello {{ name }}, about {{topic}}");
    // A chat version with `chatmessage` types (JS), then the label move (Python's update_prompt).
    let chat = json!({"name": "greet", "type": "chat", "prompt": [{"type": "chatmessage", "role": "system", "content": "Be {{tone}}"},
        {"role": "user", "content": "{{ question }}"}], "labels": [], "tags": ["support"]});
    let reply = lf(&app, &editor, Method::POST, "/api/public/v2/prompts", Some(chat)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["version"], 2);
    assert_eq!(reply.body["prompt"][0], json!({"role": "system", "content": "Be {{tone}}"}));
    assert_eq!(reply.body["tags"], json!(["support"]));
    assert_eq!(reply.body["config"], json!({}));
    let patch = json!({"newLabels": ["production", "latest"]});
    let reply = lf(&app, &editor, Method::PATCH, "/api/public/v2/prompts/greet/versions/2", Some(patch)).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["labels"], json!(["latest", "production"]));
    let prod = lf(&app, &editor, Method::GET, "/api/public/v2/prompts/greet", None).await;
    assert_eq!(prod.body["version"], 2);
    let v1 = lf(&app, &editor, Method::GET, "/api/public/v2/prompts/greet?version=1", None).await;
    assert_eq!(v1.body["labels"], json!(["staging"]));
    // The move is in the label history and the audit trail with its reason and actor.
    let history = app.admin(Method::GET, "/api/v1/prompts/greet/labels/production/history", None).await;
    assert_eq!(history.body["items"][0]["reason"], "via Langfuse API");
    let audit = app.admin(Method::GET, "/api/v1/audit?prompt=greet&action=label.set", None).await;
    let entries = audit.body["items"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["reason"] == "via Langfuse API" && e["actor"]["name"] == "editor-key"),
        "{entries:?}"
    );
    // Label and version together is Langfuse's 400.
    let both = lf(&app, &editor, Method::GET, "/api/public/v2/prompts/greet?label=staging&version=1", None).await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn templates_the_sdks_cannot_compile_are_refused_by_name() {
    let app = TestApp::new().await;
    let body = json!({"content": {"type": "text", "template": "Hi{% if vip %} VIP{% endif %}",
        "variables": {"vip": {"type": "boolean"}}}, "message": "m"});
    assert!(app.admin(Method::POST, "/api/v1/prompts/jinja/versions", Some(body)).await.status.is_success());
    let reply = lf(&app, ADMIN_SECRET, Method::GET, "/api/public/v2/prompts/jinja?label=latest", None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["code"], "langfuse_unsupported_template");
    assert!(reply.body["detail"].as_str().unwrap().contains("`{% if vip %}` in template"), "{:?}", reply.body);
    app.publish_text("flagged", "Hi {{ vip }}", json!({"vip": {"type": "boolean"}})).await;
    let reply = lf(&app, ADMIN_SECRET, Method::GET, "/api/public/v2/prompts/flagged?version=1", None).await;
    assert!(reply.body["detail"].as_str().unwrap().contains("declares `vip` as boolean"), "{:?}", reply.body);
    // Creating one through the Langfuse API is refused the same way; placeholders too.
    let create = json!({"name": "x", "prompt": "{{ name | upper }}"});
    let reply = lf(&app, ADMIN_SECRET, Method::POST, "/api/public/v2/prompts", Some(create)).await;
    assert_eq!(reply.body["code"], "langfuse_unsupported_template");
    assert!(reply.body["detail"].as_str().unwrap().contains("`{{ name | upper }}`"));
    let create = json!({"name": "x", "type": "chat", "prompt": [{"type": "placeholder", "name": "history"}]});
    let reply = lf(&app, ADMIN_SECRET, Method::POST, "/api/public/v2/prompts", Some(create)).await;
    assert_eq!(reply.body["code"], "langfuse_unsupported_prompt");
    assert!(reply.body["detail"].as_str().unwrap().contains("placeholder (`history`)"));
    // Folder names are not OPM names: a clear error.
    let create = json!({"name": "folder/x", "prompt": "hi"});
    let reply = lf(&app, ADMIN_SECRET, Method::POST, "/api/public/v2/prompts", Some(create)).await;
    assert_eq!(reply.body["code"], "invalid_name", "{:?}", reply.body);
}

#[tokio::test]
async fn basic_auth_roles_and_refusals_are_those_of_the_key() {
    let app = TestApp::new().await;
    app.publish_text("walk", "hi {{ name }}", json!({"name": {"type": "string"}})).await;
    let viewer = app.key("viewer", Some("default")).await;
    let editor = app.key("editor", Some("default")).await;
    let create = json!({"name": "walk", "prompt": "hi {{ name }}!"});
    let patch = json!({"newLabels": ["production"]});
    let routes = [
        (Method::GET, "/api/public/projects", None, "viewer"),
        (Method::GET, "/api/public/v2/prompts", None, "viewer"),
        (Method::GET, "/api/public/v2/prompts/walk?label=latest", None, "viewer"),
        (Method::POST, "/api/public/v2/prompts", Some(create), "editor"),
        (Method::PATCH, "/api/public/v2/prompts/walk/versions/1", Some(patch), "editor"),
    ];
    for (method, path, body, min_role) in routes {
        let none = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let v = lf(&app, &viewer, method.clone(), path, body.clone()).await;
        let e = lf(&app, &editor, method.clone(), path, body.clone()).await;
        assert!(e.status.is_success(), "editor {method} {path}: {:?}", e.body);
        if min_role == "viewer" {
            assert!(v.status.is_success(), "viewer {method} {path}: {:?}", v.body);
        } else {
            assert_eq!(v.status, StatusCode::FORBIDDEN, "viewer {method} {path}");
        }
        // A bearer key works on the same routes.
        let bearer = app.call(method.clone(), path, Some(&editor), body).await;
        assert!(bearer.status.is_success(), "bearer {method} {path}: {:?}", bearer.body);
    }
    // A public key that is not the secret's id, a wrong secret, garbage: the SDK's 401.
    for auth in [basic("someone-else", &editor), basic(&key_id(&editor), "opm_nope_nope"), "Basic !!!".to_owned()] {
        let reply = app.call_with(Method::GET, "/api/public/projects", None, None, &[("authorization", &auth)]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth}: {:?}", reply.body);
    }
    let projects = lf(&app, &viewer, Method::GET, "/api/public/projects", None).await;
    assert_eq!(projects.body["data"][0]["id"], "default");
    assert!(projects.body["data"][0]["organization"]["id"].is_string());
    let denied = app.admin(Method::GET, "/api/v1/audit?action=auth.denied", None).await;
    assert!(denied.body["items"].as_array().unwrap().len() >= 2, "viewer refusals are audited");
}

#[tokio::test]
async fn list_pages_and_filters() {
    let app = TestApp::new().await;
    for name in ["a-one", "b-two", "c-three"] {
        app.publish_text(name, "hi", json!({})).await;
    }
    let reply = lf(&app, ADMIN_SECRET, Method::GET, "/api/public/v2/prompts?limit=2&page=2", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["meta"], json!({"page": 2, "limit": 2, "totalItems": 3, "totalPages": 2}));
    assert_eq!(reply.body["data"][0]["name"], "c-three");
    assert_eq!(reply.body["data"][0]["versions"], json!([1]));
    assert_eq!(reply.body["data"][0]["labels"], json!(["latest"]));
    assert_eq!(reply.body["data"][0]["lastConfig"], json!({}));
    let reply = lf(&app, ADMIN_SECRET, Method::GET, "/api/public/v2/prompts?name=b-two", None).await;
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 1);
    let reply = lf(&app, ADMIN_SECRET, Method::GET, "/api/public/v2/prompts?fromUpdatedAt=x", None).await;
    assert_eq!(reply.body["code"], "invalid_query", "unsupported filters are named: {:?}", reply.body);
}
