//! Schemas of names on the wire: the naming rule of `opm_core::names` (1 to 128 lowercase letters,
//! digits, `-`, `_` or `.`, starting with a letter or digit), for `schema_with`.

use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

/// Most tags a prompt may have.
pub const MAX_TAGS: usize = 32;

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

/// A name, or `null` for "not given".
pub fn optional_name() -> Object {
    let mut schema = name();
    schema.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    schema
}

/// A list of names (tags), at most [`MAX_TAGS`].
pub fn names() -> Array {
    ArrayBuilder::new().items(name()).max_items(Some(MAX_TAGS)).build()
}

/// A list of names, or `null` for "leave as it is".
pub fn optional_names() -> Array {
    let mut schema = names();
    schema.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    schema
}
