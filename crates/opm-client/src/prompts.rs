//! Prompt routes: prompts, versions, diffs, resolution and rendering.

use opm_api::Page;
use opm_api::invoke::{InvokeRequest, InvokeResponse};
use opm_api::prompts::{
    CreatePromptRequest, CreateVersionRequest, DiffDto, PromptDto, PublishResponse, ResolveDto, UpdatePromptRequest,
    VersionDto,
};
use opm_api::render::{RenderRequest, RenderResponse};
use reqwest::Method;
use reqwest::header::{ETAG, IF_NONE_MATCH};

use crate::{Client, ClientError, PageQuery, page_pairs};

/// Filters of `GET /api/v1/prompts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptQuery {
    pub tag: Option<String>,
    pub label: Option<String>,
    pub include_archived: bool,
    pub page: PageQuery,
}

/// Which version to resolve: through a label (`production`, `latest`, …) or by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Label(String),
    Version(u32),
}

/// The answer of a conditional resolve.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// The version, with the `ETag` to send back next time.
    Found { resolved: Box<ResolveDto>, etag: Option<String> },
    /// `304`: the version is still the one the given `ETag` names.
    NotModified,
}

impl Client {
    /// `POST /api/v1/prompts`.
    pub async fn create_prompt(&self, request: &CreatePromptRequest) -> Result<PromptDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `GET /api/v1/prompts`: one page.
    pub async fn list_prompts(&self, query: &PromptQuery) -> Result<Page<PromptDto>, ClientError> {
        let [cursor, limit] = page_pairs(&query.page);
        let pairs = [
            ("tag", query.tag.clone()),
            ("label", query.label.clone()),
            ("include_archived", query.include_archived.then(|| "true".to_owned())),
            cursor,
            limit,
        ];
        let url = self.endpoint(&["api", "v1", "prompts"], &pairs)?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/prompts`, following `next_cursor` to the last page.
    pub async fn list_all_prompts(&self, query: &PromptQuery) -> Result<Vec<PromptDto>, ClientError> {
        let mut query = query.clone();
        let mut prompts = Vec::new();
        loop {
            let page = self.list_prompts(&query).await?;
            prompts.extend(page.items);
            match page.next_cursor {
                Some(cursor) if query.page.cursor.as_ref() != Some(&cursor) => query.page.cursor = Some(cursor),
                _ => return Ok(prompts),
            }
        }
    }

    /// `GET /api/v1/prompts/{name}`, with its labels.
    pub async fn get_prompt(&self, name: &str) -> Result<PromptDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name], &[])?;
        self.call(Method::GET, url).await
    }

    /// `PATCH /api/v1/prompts/{name}`.
    pub async fn update_prompt(&self, name: &str, request: &UpdatePromptRequest) -> Result<PromptDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name], &[])?;
        self.call_with(Method::PATCH, url, request).await
    }

    /// `POST /api/v1/prompts/{name}/archive`.
    pub async fn archive_prompt(&self, name: &str) -> Result<PromptDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "archive"], &[])?;
        self.call(Method::POST, url).await
    }

    /// `POST /api/v1/prompts/{name}/restore`.
    pub async fn restore_prompt(&self, name: &str) -> Result<PromptDto, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "restore"], &[])?;
        self.call(Method::POST, url).await
    }

    /// `POST /api/v1/prompts/{name}/versions`: publishes (and creates the prompt if missing).
    pub async fn publish_version(
        &self,
        name: &str,
        request: &CreateVersionRequest,
    ) -> Result<PublishResponse, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "versions"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `GET /api/v1/prompts/{name}/versions`: one page, newest first.
    pub async fn list_versions(&self, name: &str, page: &PageQuery) -> Result<Page<VersionDto>, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "versions"], &page_pairs(page))?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/prompts/{name}/versions/{n}`.
    pub async fn get_version(&self, name: &str, version: u32) -> Result<VersionDto, ClientError> {
        let number = version.to_string();
        let url = self.endpoint(&["api", "v1", "prompts", name, "versions", &number], &[])?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/prompts/{name}/diff?from=N&to=M`.
    pub async fn diff(&self, name: &str, from: u32, to: u32) -> Result<DiffDto, ClientError> {
        let pairs = [("from", Some(from.to_string())), ("to", Some(to.to_string()))];
        let url = self.endpoint(&["api", "v1", "prompts", name, "diff"], &pairs)?;
        self.call(Method::GET, url).await
    }

    /// `GET /api/v1/prompts/{name}/resolve`.
    pub async fn resolve(&self, name: &str, selector: &Selector) -> Result<ResolveDto, ClientError> {
        match self.resolve_if_changed(name, selector, None).await? {
            Resolved::Found { resolved, .. } => Ok(*resolved),
            Resolved::NotModified => Err(ClientError::Decode {
                url: self.base_url.to_string(),
                reason: "304 Not Modified to a request without If-None-Match".into(),
            }),
        }
    }

    /// `GET /api/v1/prompts/{name}/resolve` with `If-None-Match: etag` when one is given.
    pub async fn resolve_if_changed(
        &self,
        name: &str,
        selector: &Selector,
        etag: Option<&str>,
    ) -> Result<Resolved, ClientError> {
        let pair = match selector {
            Selector::Label(label) => ("label", Some(label.clone())),
            Selector::Version(version) => ("version", Some(version.to_string())),
        };
        let url = self.endpoint(&["api", "v1", "prompts", name, "resolve"], &[pair])?;
        let mut builder = self.http.get(url.clone());
        if let Some(etag) = etag {
            builder = builder.header(IF_NONE_MATCH, etag);
        }
        let response = self.send(builder, &url).await?;
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Resolved::NotModified);
        }
        let etag = response.headers().get(ETAG).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let resolved: ResolveDto = self.decode(response, &url).await?;
        Ok(Resolved::Found { resolved: Box::new(resolved), etag })
    }

    /// `POST /api/v1/prompts/{name}/render`.
    pub async fn render(&self, name: &str, request: &RenderRequest) -> Result<RenderResponse, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "render"], &[])?;
        self.call_with(Method::POST, url, request).await
    }

    /// `POST /api/v1/prompts/{name}/invoke`: runs the prompt on its configured model (non-streaming).
    pub async fn invoke(&self, name: &str, request: &InvokeRequest) -> Result<InvokeResponse, ClientError> {
        let url = self.endpoint(&["api", "v1", "prompts", name, "invoke"], &[])?;
        self.call_with(Method::POST, url, request).await
    }
}
