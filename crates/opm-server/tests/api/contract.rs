//! The OpenAPI document's shared rules (`openapi/contract.rs`): error responses as problem+json
//! with the catalogue's codes, open routes without security, parameters where they really are.
//! schemathesis (`scripts/contract.sh`) checks the running server against the same document.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use crate::TestApp;

const OPEN: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

async fn document() -> Value {
    let app = TestApp::new().await;
    let reply = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.body
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    found
}

#[tokio::test]
async fn problem_codes_are_the_catalogue() {
    let document = document().await;
    let codes: Vec<&str> = document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let catalogue = include_str!("../../../../docs/errors.md");
    for code in ["unauthenticated", "forbidden", "key_expired", "last_admin_key", "self_revocation", "invalid_body"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
        assert!(catalogue.contains(&format!("`{code}`")), "{code} missing from docs/errors.md");
    }
    assert!(codes.len() >= 50, "{codes:?}");
}

#[tokio::test]
async fn open_routes_have_no_security_and_the_rest_document_401_and_403_as_problems() {
    let document = document().await;
    assert!(document["security"].as_array().is_some_and(|s| !s.is_empty()), "bearer by default");
    for (path, method, operation) in operations(&document) {
        if OPEN.contains(&path.as_str()) {
            assert_eq!(operation["security"], serde_json::json!([{}]), "{method} {path} is open by design");
            continue;
        }
        for status in ["401", "403"] {
            let content = &operation["responses"][status]["content"];
            if path.starts_with("/v1/") {
                // The OpenAI- and Anthropic-compatible ingress answers errors in the client's format.
                let error = &content["application/json"]["schema"]["properties"]["error"];
                assert!(error.is_object(), "{method} {path} {status}: {content}");
                continue;
            }
            assert!(
                content["application/problem+json"]["schema"]["$ref"].as_str().is_some_and(|r| r.ends_with("/Problem")),
                "{method} {path} {status}: {content}"
            );
        }
        // No error documented as plain JSON with a Problem body: the server sends problem+json.
        for (status, response) in operation["responses"].as_object().unwrap() {
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            assert!(!schema.as_str().is_some_and(|r| r.ends_with("/Problem")), "{method} {path} {status}");
        }
    }
}

#[tokio::test]
async fn parameters_are_where_the_server_reads_them() {
    let document = document().await;
    for (path, method, operation) in operations(&document) {
        let has_body = operation.get("requestBody").is_some();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap();
            match parameter["in"].as_str().unwrap() {
                "path" => {
                    assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: `{name}` is not in the path")
                }
                "query" => {}
                other => panic!("{method} {path}: unexpected parameter location {other}"),
            }
        }
        if has_body {
            assert!(operation["responses"].get("415").is_some(), "{method} {path} reads a body: 415 documented");
        }
    }
    let name = &document["paths"]["/api/v1/prompts/{name}"]["get"]["parameters"][0]["schema"];
    assert_eq!(name["pattern"], "^[a-z0-9][a-z0-9_.-]{0,127}$");
    let revoke = &document["paths"]["/api/v1/keys/{id}"]["delete"]["parameters"];
    assert!(revoke.as_array().unwrap().iter().any(|p| p["name"] == "force" && p["in"] == "query"));
}
