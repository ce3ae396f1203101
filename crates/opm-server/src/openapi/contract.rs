//! The rules that make the OpenAPI document tell the truth about every route, applied once to the
//! whole document instead of copied into each handler's annotation:
//!
//! - every error a route can answer is documented as `application/problem+json` with the
//!   [`opm_api::Problem`] schema, whose `code` is an enum of the codes in `docs/errors.md`:
//!   401/403 on every route that needs a key, 503 wherever the store is read, 400 where a query
//!   string is parsed, 404 (and 422) where a path names something, 400/413/415/422 where a JSON
//!   body is read, 409 on every write;
//! - routes open by design (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`) have `security: []`;
//! - path parameters that are names carry the naming rule's pattern and length.
//!
//! Handlers document their success answers and anything route-specific (a 429, a 502, a 304).

use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, OpenApi, RefOr, Response, ResponseBuilder};

/// The error catalogue; its first column's backticked words are the stable codes.
const CATALOGUE: &str = include_str!("../../../../docs/errors.md");

/// Routes anyone may call: no key, no bearer scheme.
pub const OPEN_ROUTES: &[&str] = &["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// Path parameters that are names (prompt, label) and follow the naming rule.
const NAME_PARAMETERS: &[&str] = &["name", "label"];

/// The stable error codes listed in `docs/errors.md`, in catalogue order.
pub fn catalogue_codes() -> Vec<&'static str> {
    let mut codes = Vec::new();
    for line in CATALOGUE.lines() {
        let Some(first_cell) = line.strip_prefix("| ").and_then(|rest| rest.split(" |").next()) else {
            continue;
        };
        for part in first_cell.split('`').skip(1).step_by(2) {
            if !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                codes.push(part);
            }
        }
    }
    codes
}

/// Applies the rules to a generated document.
pub fn apply(openapi: &mut OpenApi) {
    set_problem_codes(openapi);
    add_document_route(openapi);
    for (path, item) in openapi.paths.paths.iter_mut() {
        let open = OPEN_ROUTES.contains(&path.as_str());
        let operations = [
            (&mut item.get, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.delete, true),
            (&mut item.patch, true),
        ];
        for (operation, writes) in operations {
            if let Some(operation) = operation.as_mut() {
                apply_to_operation(path, operation, open, writes);
            }
        }
    }
}

fn apply_to_operation(path: &str, operation: &mut Operation, open: bool, writes: bool) {
    if open {
        operation.security = Some(vec![SecurityRequirement::default()]);
    } else {
        add_problem(operation, 401, "No key, an unknown, revoked or expired key (`unauthenticated`, `key_expired`)");
        add_problem(operation, 403, "The key's role or project does not allow this (`forbidden`)");
    }
    if path != "/healthz" && path != "/metrics" {
        add_problem(operation, 503, "The database is unavailable; retry shortly");
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    let mut has_query = false;
    let mut has_path = false;
    for parameter in parameters.iter_mut() {
        let RefOr::T(parameter) = parameter else { continue };
        match parameter.parameter_in {
            ParameterIn::Query => has_query = true,
            ParameterIn::Path => {
                has_path = true;
                if NAME_PARAMETERS.contains(&parameter.name.as_str()) {
                    parameter.schema = Some(name_schema());
                }
            }
            _ => {}
        }
    }
    if parameters.is_empty() {
        operation.parameters = None;
    }
    if has_query {
        add_problem(operation, 400, "A query parameter is malformed (`invalid_query`)");
        add_problem(operation, 422, "A query parameter's value is not acceptable");
    }
    if has_path {
        add_problem(operation, 404, "The named prompt, version, label, key or rollout does not exist");
        add_problem(operation, 422, "A path segment breaks its rule (`invalid_name`, `invalid_version`)");
    }
    if let Some(RefOr::T(body)) = operation.request_body.as_ref()
        && is_json(body)
    {
        add_problem(operation, 400, "The body is not JSON (`malformed_json`)");
        add_problem(operation, 413, "The body is larger than the limit (`body_too_large`)");
        add_problem(operation, 415, "The body is not sent as `application/json` (`unsupported_media_type`)");
        add_problem(operation, 422, "The body has unknown fields, wrong types or values that break a rule");
    }
    if writes {
        add_problem(operation, 409, "The change conflicts with the current state");
    }
    let problem = Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem"))));
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response
            && refers_to_problem(response)
        {
            fix_problem_content(response, problem.clone());
        }
    }
}

fn refers_to_problem(response: &Response) -> bool {
    response.content.values().any(|content| {
        matches!(content, RefOr::T(content)
            if matches!(&content.schema, Some(RefOr::Ref(reference)) if reference.ref_location.ends_with("/Problem")))
    })
}

fn is_json(body: &RequestBody) -> bool {
    body.content.keys().any(|media_type| media_type.starts_with("application/json"))
}

/// Adds a problem response for `status`, or makes an existing one a problem response.
fn add_problem(operation: &mut Operation, status: u16, description: &str) {
    let key = status.to_string();
    let responses = &mut operation.responses.responses;
    let problem = Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem"))));
    match responses.get_mut(&key) {
        Some(RefOr::T(response)) => fix_problem_content(response, problem),
        Some(RefOr::Ref(_)) => {}
        None => {
            let response = ResponseBuilder::new()
                .description(description)
                .content(opm_api::problem::PROBLEM_CONTENT_TYPE, problem);
            responses.insert(key, RefOr::T(response.build()));
        }
    }
}

/// A documented error response with a `Problem` body under `application/json` is really
/// `application/problem+json` (that is what [`crate::error::ApiError`] sends).
fn fix_problem_content(response: &mut Response, problem: Content) {
    if refers_to_problem(response) || response.content.is_empty() {
        response.content.shift_remove("application/json");
        response.content.insert(opm_api::problem::PROBLEM_CONTENT_TYPE.to_owned(), RefOr::T(problem));
    }
}

fn name_schema() -> RefOr<Schema> {
    RefOr::T(Schema::Object(opm_api::names::name()))
}

/// `Problem.code` becomes an enum of the catalogue's codes.
fn set_problem_codes(openapi: &mut OpenApi) {
    let Some(components) = openapi.components.as_mut() else { return };
    let Some(RefOr::T(Schema::Object(problem))) = components.schemas.get_mut("Problem") else { return };
    let code: Object = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(catalogue_codes()))
        .description(Some("Stable machine-readable code, one of those in `docs/errors.md`."))
        .build();
    problem.properties.insert("code".to_owned(), RefOr::T(Schema::Object(code)));
}

/// `GET /openapi.json` itself, served outside the generated routes.
fn add_document_route(openapi: &mut OpenApi) {
    let ok = ResponseBuilder::new()
        .description("This document (OpenAPI 3.1)")
        .content("application/json", Content::new(Some(RefOr::T(Schema::Object(Object::new())))));
    let operation = OperationBuilder::new()
        .tag("health")
        .summary(Some("The OpenAPI document"))
        .operation_id(Some("openapi_document"))
        .response("200", ok.build())
        .build();
    openapi.paths.paths.insert("/openapi.json".to_owned(), PathItem::new(HttpMethod::Get, operation));
}
