//! Split routing: which version of a label's weighted split serves a request, sticky by the caller's
//! key (or random without one), using the cached label entry and a cached entry per arm.
//!
//! The routing snapshot is the cache itself: a label move drops the label's entries (at once in this
//! process, on the store's change event in others), so the next request routes by the new target.

use std::sync::Arc;

use opm_core::names::{ProjectName, PromptName};
use opm_core::split::{Assignment, Split};
use opm_store::Selector;

use crate::entry::ResolvedEntry;
use crate::{Registry, RegistryError};

/// What served a request: the version's entry and, when the label is a split, the arm assigned.
#[derive(Debug, Clone)]
pub struct Served {
    pub entry: Arc<ResolvedEntry>,
    pub assignment: Option<Assignment>,
}

impl Served {
    /// The split the request was routed through, if any.
    pub fn split(&self) -> Option<&Split> {
        self.assignment.as_ref()?;
        self.entry.split()
    }
}

impl Registry {
    /// Resolves like [`Registry::resolve`], then routes a split label to one of its arms: by
    /// `sticky_key` when one is given (the same key gets the same arm while the split is unchanged),
    /// otherwise at random.
    pub async fn route(
        &self,
        project: &ProjectName,
        name: &PromptName,
        selector: &Selector,
        sticky_key: Option<&str>,
    ) -> Result<Served, RegistryError> {
        let entry = self.resolve(project, name, selector).await?;
        let Some(split) = entry.split() else {
            return Ok(Served { entry, assignment: None });
        };
        let assignment = split.assign(sticky_key, rand::random::<u32>);
        if assignment.version == entry.version {
            return Ok(Served { entry, assignment: Some(assignment) });
        }
        let store = &self.store;
        let version = assignment.version;
        let arm = self
            .cache
            .get_or_load(project, name, selector, Some(version), self.encoder(), || async move {
                // The arm is served as the label's: the label record is read with it.
                let mut resolved = store.resolve(project, name, selector).await?;
                let label = resolved.label.take();
                let mut arm = store.resolve(project, name, &Selector::Version(version)).await?;
                arm.label = label;
                Ok(arm)
            })
            .await?;
        Ok(Served { entry: arm, assignment: Some(assignment) })
    }
}
