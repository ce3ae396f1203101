//! The registry's one error enum: domain or store errors, passed through with their kind and code.

use opm_core::{CoreError, ErrorKind};
use opm_store::StoreError;

/// Errors from the registry service.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An unpinned include whose prompt has neither the label it was asked at nor the fallback
    /// `production` (`fallback` is `None` when the label was `production` already).
    #[error("{}", include_label_message(prompt, label, fallback.as_deref(), including))]
    IncludeLabelNotFound { prompt: String, label: String, fallback: Option<String>, including: String },
}

fn include_label_message(prompt: &str, label: &str, fallback: Option<&str>, including: &str) -> String {
    match fallback {
        Some(fallback) => {
            format!("prompt `{prompt}` (included by `{including}`) has neither label `{label}` nor `{fallback}`")
        }
        None => format!("prompt `{prompt}` (included by `{including}`) has no label `{label}`"),
    }
}

impl RegistryError {
    /// The protocol-neutral kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Core(error) => error.kind(),
            RegistryError::Store(error) => error.kind(),
            RegistryError::IncludeLabelNotFound { .. } => ErrorKind::NotFound,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Core(error) => error.code(),
            RegistryError::Store(error) => error.code(),
            RegistryError::IncludeLabelNotFound { .. } => "label_not_found",
        }
    }
}
