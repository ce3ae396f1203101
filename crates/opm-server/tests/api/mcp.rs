//! The MCP prompts server at `/mcp` through the router: the handshake and its session, JSON-RPC
//! errors, auth, and prompts rendered by OPM with arguments converted to the declared types.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{ADMIN_SECRET, Reply, TestApp};

async fn rpc(app: &TestApp, key: Option<&str>, session: Option<&str>, method: &str, params: Value) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let headers: Vec<(&str, &str)> = session.map(|s| vec![("mcp-session-id", s)]).unwrap_or_default();
    app.call_with(Method::POST, "/mcp", key, Some(body), &headers).await
}

#[tokio::test]
async fn handshake_session_and_errors() {
    let app = TestApp::new().await;
    // The 2026 probe is "method not found", so clients fall back to initialize.
    let probe = rpc(&app, Some(ADMIN_SECRET), None, "server/discover", json!({})).await;
    assert_eq!(probe.body["error"]["code"], -32601);
    let init = rpc(&app, Some(ADMIN_SECRET), None, "initialize", json!({"protocolVersion": "2025-06-18"})).await;
    assert_eq!(init.status, StatusCode::OK);
    assert_eq!(init.body["id"], 7);
    assert_eq!(init.body["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init.body["result"]["capabilities"]["prompts"]["listChanged"], true);
    let session = init.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let unknown = rpc(&app, Some(ADMIN_SECRET), None, "initialize", json!({"protocolVersion": "1999-01-01"})).await;
    assert_eq!(unknown.body["result"]["protocolVersion"], "2025-11-25");
    // A notification is accepted without a body.
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let headers = [("mcp-session-id", session.as_str())];
    let reply = app.call_with(Method::POST, "/mcp", Some(ADMIN_SECRET), Some(note), &headers).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(rpc(&app, Some(ADMIN_SECRET), Some(&session), "ping", json!({})).await.body["result"], json!({}));
    // Another key cannot use the session; an unknown session is 404 (initialize again).
    let viewer = app.key("viewer", Some("default")).await;
    let stolen = rpc(&app, Some(&viewer), Some(&session), "ping", json!({})).await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    assert_eq!(rpc(&app, Some(ADMIN_SECRET), Some("nope"), "ping", json!({})).await.status, StatusCode::NOT_FOUND);
    // No key: 401 with a JSON-RPC error that says why.
    let anonymous = rpc(&app, None, None, "prompts/list", json!({})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["code"], -32001);
    assert_eq!(anonymous.headers["www-authenticate"], "Bearer");
    // GET without a session has no stream; DELETE ends the session once.
    assert_eq!(app.call(Method::GET, "/mcp", Some(ADMIN_SECRET), None).await.status, StatusCode::METHOD_NOT_ALLOWED);
    let stream = app.call_with(Method::GET, "/mcp", Some(ADMIN_SECRET), None, &headers).await;
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    let ended = app.call_with(Method::DELETE, "/mcp", Some(ADMIN_SECRET), None, &headers).await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let again = app.call_with(Method::DELETE, "/mcp", Some(ADMIN_SECRET), None, &headers).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let garbage = app.call(Method::POST, "/mcp", Some(ADMIN_SECRET), Some(json!([1]))).await;
    assert_eq!(garbage.body["error"]["code"], -32600);
}

#[tokio::test]
async fn prompts_are_listed_and_rendered_with_typed_arguments() {
    let app = TestApp::new().await;
    let body = json!({"content": {"type": "chat", "messages": [{"role": "system", "content": "Count {{ n * 2 }}"},
        {"role": "assistant", "content": "{{ items | join(',') }}"}],
        "variables": {"n": {"type": "number"}, "items": {"type": "array", "description": "things"}}}, "message": "m"});
    assert!(app.admin(Method::POST, "/api/v1/prompts/typed/versions", Some(body)).await.status.is_success());
    let label = json!({"version": 1, "reason": "r"});
    app.admin(Method::PUT, "/api/v1/prompts/typed/labels/production", Some(label)).await;
    app.publish_text("unlabelled", "hi", json!({})).await;
    let list = rpc(&app, Some(ADMIN_SECRET), None, "prompts/list", json!({})).await;
    let prompts = list.body["result"]["prompts"].as_array().unwrap();
    assert_eq!(prompts.len(), 1, "only prompts with the label: {prompts:?}");
    assert_eq!(prompts[0]["_meta"]["opm/version"], 1);
    assert_eq!(prompts[0]["arguments"][0], json!({"name": "items", "description": "things (array)", "required": true}));
    let params = json!({"name": "typed", "arguments": {"n": "21", "items": "[\"a\", \"b\"]"}});
    let got = rpc(&app, Some(ADMIN_SECRET), None, "prompts/get", params).await;
    let result = &got.body["result"];
    assert_eq!(result["messages"][0], json!({"role": "user", "content": {"type": "text", "text": "Count 42"}}));
    assert_eq!(result["messages"][1]["role"], "assistant");
    assert_eq!(result["messages"][1]["content"]["text"], "a,b");
    assert_eq!(result["_meta"]["opm/roles"], json!(["system", "assistant"]));
    let missing = rpc(&app, Some(ADMIN_SECRET), None, "prompts/get", json!({"name": "typed", "arguments": {}})).await;
    assert_eq!(missing.body["error"]["code"], -32602);
    assert_eq!(missing.body["error"]["message"], "Missing required arguments: [items, n]");
    let undeclared = json!({"name": "typed", "arguments": {"n": "1", "items": "[]", "extra": "x"}});
    let reply = rpc(&app, Some(ADMIN_SECRET), None, "prompts/get", undeclared).await;
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("extra"), "{:?}", reply.body);
}
