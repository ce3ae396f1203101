//! What the fault tests share: a plain JSON HTTP client with a deadline per request, the seed
//! content they publish, duration knobs read from the environment, and the SQLite integrity check.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::ADMIN;

/// A JSON client whose every request has a deadline; transport errors are returned, not unwrapped.
#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
}

/// One answer: status and body (JSON, or the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
}

impl Http {
    pub fn new(timeout: Duration) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(timeout).pool_max_idle_per_host(4).build().unwrap();
        Self { client }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self.client.request(method, url).bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body, content_type })
    }

    pub async fn get(&self, url: &str) -> Result<Answer, reqwest::Error> {
        self.call(reqwest::Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, body: &Value) -> Result<Answer, reqwest::Error> {
        self.call(reqwest::Method::POST, url, Some(body)).await
    }

    pub async fn put(&self, url: &str, body: &Value) -> Result<Answer, reqwest::Error> {
        self.call(reqwest::Method::PUT, url, Some(body)).await
    }

    /// A GET that must answer 200.
    pub async fn ok(&self, url: &str) -> Value {
        let answer = self.get(url).await.unwrap();
        assert_eq!(answer.status, 200, "GET {url}: {}", answer.body);
        answer.body
    }
}

/// A text version whose template is `marker` (markers identify acknowledged writes afterwards).
pub fn text_version(marker: &str) -> Value {
    json!({"content": {"type": "text", "template": marker}, "message": marker})
}

/// Seconds from the environment variable `name`, or `default`.
pub fn env_duration(name: &str, default: Duration) -> Duration {
    std::env::var(name).ok().and_then(|value| value.parse::<f64>().ok()).map(Duration::from_secs_f64).unwrap_or(default)
}

/// Every version number of `prompt` with its template, in ascending order (all pages).
pub async fn all_versions(http: &Http, base: &str, prompt: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/prompts/{prompt}/versions?limit=500");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = http.ok(&url).await;
        for item in page["items"].as_array().unwrap() {
            let template = item["content"]["template"].as_str().unwrap_or_default().to_owned();
            out.push((u32::try_from(item["version"].as_u64().unwrap()).unwrap(), template));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    out.sort_unstable();
    out
}

/// Asserts the audit chain verifies.
pub async fn assert_audit_verifies(http: &Http, base: &str) {
    let verify = http.ok(&format!("{base}/api/v1/audit/verify")).await;
    assert_eq!(verify["ok"], true, "audit chain: {verify}");
}

/// `PRAGMA integrity_check` on a SQLite file with the `sqlite3` command (required when the file exists).
pub fn assert_sqlite_intact(database: &std::path::Path) {
    let output =
        std::process::Command::new("sqlite3").arg(database).arg("PRAGMA integrity_check;").output().expect("sqlite3");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text.trim(),
        "ok",
        "integrity_check of {}: {text} {}",
        database.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}
