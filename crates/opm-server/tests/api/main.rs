//! Router tests without a socket: every route with every role, problem documents, the full
//! registry flow, rendering, caching headers and the OpenAPI document. Backed by a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod contract;
mod flow;
mod gateway;
mod governance;
mod keys;
mod langfuse;
mod limits;
mod mcp;
mod problems;
mod roles;
mod splits;
mod telemetry;
mod tracing;
mod ui_support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use opm_registry::Registry;
use opm_server::{AppState, build_router};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ADMIN_SECRET: &str = "opm_bootstrap_admin-secret-for-tests";

/// A router over a fresh SQLite store with a known admin key.
pub struct TestApp {
    pub router: axum::Router,
    pub registry: Arc<Registry>,
    _dir: tempfile::TempDir,
}

/// A response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("opm.db").display());
        let store = opm_store::connect(&url).await.unwrap();
        let registry = Registry::new(store);
        opm_server::bootstrap_admin_key(
            registry.store().as_ref(),
            dir.path(),
            Some(ADMIN_SECRET),
            registry.clock().now(),
        )
        .await
        .unwrap();
        let router = build_router(AppState::with_default_gateway(registry.clone()).unwrap());
        Self { router, registry, _dir: dir }
    }

    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, key, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = match body {
            Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        if headers.get("content-type").is_some_and(|v| v == "text/event-stream") {
            // An event stream does not end; its status and headers are the answer.
            return Reply { status, headers, body: Value::Null };
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, Some(ADMIN_SECRET), body).await
    }

    /// Creates a key and returns its secret.
    pub async fn key(&self, role: &str, project: Option<&str>) -> String {
        let mut body = json!({"name": format!("{role}-key"), "role": role});
        if let Some(project) = project {
            body["project"] = json!(project);
        }
        let reply = self.admin(Method::POST, "/api/v1/keys", Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["secret"].as_str().unwrap().to_owned()
    }

    /// Publishes a text version and returns its number.
    pub async fn publish_text(&self, name: &str, template: &str, variables: Value) -> u64 {
        let body =
            json!({"content": {"type": "text", "template": template, "variables": variables}, "message": "test"});
        let reply = self.admin(Method::POST, &format!("/api/v1/prompts/{name}/versions"), Some(body)).await;
        assert!(reply.status.is_success(), "{:?}", reply.body);
        reply.body["version"]["version"].as_u64().unwrap()
    }
}
