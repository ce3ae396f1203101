//! The OpenAPI document's static parts: title, security scheme, tags. Paths and schemas are
//! collected from the handlers' `#[utoipa::path]` annotations by `utoipa-axum`; [`contract`]
//! then applies the rules every route shares (error responses, open routes, name patterns).

pub mod contract;
pub mod gateway;

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Open Prompt Manager", description = "Versioned prompt registry: prompts, immutable versions, movable labels, rendering, audit."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "prompts", description = "Prompts and their metadata"),
        (name = "versions", description = "Immutable versions and diffs"),
        (name = "labels", description = "Movable labels, history and rollback"),
        (name = "serving", description = "Resolve and render (the hot read path)"),
        (name = "audit", description = "The hash-chained audit trail"),
        (name = "keys", description = "API keys"),
        (name = "projects", description = "Projects (namespaces)"),
        (name = "gateway", description = "Run prompts on models: OpenAI- and Anthropic-compatible ingress, native invoke"),
        (name = "health", description = "Liveness and readiness"),
        (name = "governance", description = "Protected labels, change requests and approvals, change freezes, publish policies"),
    ),
    components(schemas(opm_api::Problem))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}
