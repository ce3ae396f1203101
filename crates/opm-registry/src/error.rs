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
}

impl RegistryError {
    /// The protocol-neutral kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Core(error) => error.kind(),
            RegistryError::Store(error) => error.kind(),
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Core(error) => error.code(),
            RegistryError::Store(error) => error.code(),
        }
    }
}
