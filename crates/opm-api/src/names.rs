//! Schemas of names on the wire: the naming rule of `opm_core::names` (1 to 128 lowercase letters,
//! digits, `-`, `_` or `.`, starting with a letter or digit), for `schema_with`.

use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Type};

/// The naming rule as a JSON Schema pattern.
pub const NAME_PATTERN: &str = r"^[a-z0-9][a-z0-9_.-]{0,127}$";

/// One name.
pub fn name() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(NAME_PATTERN))
        .description(Some("1 to 128 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit"))
        .build()
}

/// A list of names (tags).
pub fn names() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new().items(name()).build()
}
