//! Label actions (move to a version or a split, roll back; a reason is always required) and a
//! label's history.

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::Method;
use maud::html;
use opm_api::Page as ApiPage;
use opm_api::labels::{LabelChangeDto, LabelDto, RollbackRequest, SetLabelRequest, SplitArmDto};

use super::respond;
use crate::error::{UiError, UiResult};
use crate::layout::{page, prompt_tabs, target, time};
use crate::session::{Page, Posted};

/// Parses `1=90,2=10` into split arms.
pub fn parse_split(text: &str) -> UiResult<Vec<SplitArmDto>> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (version, weight) = part
                .split_once('=')
                .ok_or_else(|| UiError::form(format!("split arm `{part}` is not VERSION=PERCENT (e.g. 2=10)")))?;
            let version = version.trim().trim_start_matches('v').parse::<u32>();
            let weight = weight.trim().trim_end_matches('%').parse::<u32>();
            match (version, weight) {
                (Ok(version), Ok(weight)) => Ok(SplitArmDto { version, weight }),
                _ => Err(UiError::form(format!("split arm `{part}` is not VERSION=PERCENT (e.g. 2=10)"))),
            }
        })
        .collect()
}

/// Moves a label to a version or a split.
pub async fn move_label(Path(name): Path<String>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let label = fields.required("label", "the label")?.to_owned();
            let reason = fields.required("reason", "a reason")?.to_owned();
            let split = fields.get("split");
            let request = if split.is_empty() {
                let version = fields.required("version", "a version")?;
                let version =
                    version.trim_start_matches('v').parse::<u32>().map_err(|_| UiError::form("pick a version"))?;
                SetLabelRequest { version: Some(version), split: None, reason }
            } else {
                SetLabelRequest { version: None, split: Some(parse_split(split)?), reason }
            };
            let path = format!("/api/v1/prompts/{name}/labels/{label}");
            let moved: LabelDto = state.api.json(&session.credentials, Method::PUT, &path, &request).await?;
            tracing::debug!(label = %moved.name, "label moved from the UI");
            Ok(Redirect::to(&format!("/ui/prompts/{name}")).into_response())
        }
        .await,
    )
}

/// Rolls a label back to its previous target.
pub async fn rollback(Path(name): Path<String>, posted: Posted) -> Response {
    let Posted { state, session, fields } = posted;
    respond(
        &session,
        async {
            let label = fields.required("label", "the label")?.to_owned();
            let request = RollbackRequest { reason: fields.required("reason", "a reason")?.to_owned() };
            let path = format!("/api/v1/prompts/{name}/labels/{label}/rollback");
            let _: LabelDto = state.api.json(&session.credentials, Method::POST, &path, &request).await?;
            Ok(Redirect::to(&format!("/ui/prompts/{name}")).into_response())
        }
        .await,
    )
}

/// `/ui/prompts/{name}/labels/{label}`: every move, newest first.
pub async fn history(Page { state, session }: Page, Path((name, label)): Path<(String, String)>) -> Response {
    respond(
        &session,
        async {
            let path = format!("/api/v1/prompts/{name}/labels/{label}/history");
            let changes: ApiPage<LabelChangeDto> = state.api.get(&session.credentials, &path).await?;
            let body = html! {
                h1 { (name) " · " (label) }
                (prompt_tabs(&name, "", &session))
                h2 { "History" }
                div.scroll {
                table #label-history {
                    thead { tr { th { "When" } th { "Change" } th { "From" } th { "To" } th { "By" } th { "Reason" } } }
                    tbody {
                        @for c in &changes.items {
                            tr {
                                td { (time(&c.at)) } td { (c.kind) }
                                td { @if let Some(from) = &c.from { (target(from)) } @else { "—" } }
                                td { (target(&c.to)) } td { (c.actor.name) } td { (c.reason) }
                            }
                        }
                    }
                }
                }
            };
            Ok(page(&session, &format!("{name} {label}"), body))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        let arms = parse_split("1=90, v2=10%").unwrap();
        assert_eq!(arms, vec![SplitArmDto { version: 1, weight: 90 }, SplitArmDto { version: 2, weight: 10 }]);
        assert!(parse_split("1:90").is_err());
        assert!(parse_split("a=b").is_err());
    }
}
