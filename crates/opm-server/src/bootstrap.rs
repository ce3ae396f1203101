//! First start: when the store has no API keys, create the first global admin key, from
//! `OPM_BOOTSTRAP_ADMIN_KEY` or freshly generated and written to a 0600 file in the data directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use opm_core::auth::{Role, generate_key, hash_secret, key_id_of};
use opm_core::prompt::Actor;
use opm_store::{MutationContext, NewApiKey, Store};

use crate::ServerError;

/// Name of the file holding a generated admin key, inside the data directory.
pub const ADMIN_KEY_FILE: &str = "admin.key";

/// What bootstrapping did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootstrapOutcome {
    AlreadyHadKeys,
    FromEnvironment,
    Generated { secret: String, path: PathBuf },
}

/// Creates the first admin key if the store has none.
pub async fn bootstrap_admin_key(
    store: &dyn Store,
    data_dir: &Path,
    from_environment: Option<&str>,
) -> Result<BootstrapOutcome, ServerError> {
    if store.count_keys().await? > 0 {
        return Ok(BootstrapOutcome::AlreadyHadKeys);
    }
    let ctx = MutationContext { actor: Actor::system("bootstrap"), request_id: None };
    let (id, secret, generated) = match from_environment {
        Some(secret) => {
            let secret = secret.trim();
            if secret.len() < 16 {
                return Err(ServerError::BootstrapKey("use at least 16 characters".into()));
            }
            let id = key_id_of(secret).map(str::to_owned).unwrap_or_else(|| "bootstrap".to_owned());
            (id, secret.to_owned(), false)
        }
        None => {
            let key = generate_key(&mut rand::rng());
            (key.id, key.secret, true)
        }
    };
    let new = NewApiKey {
        id,
        name: "bootstrap-admin".to_owned(),
        role: Role::Admin,
        project: None,
        secret_hash: hash_secret(&secret),
        expires_at: None,
    };
    store.create_key(&new, &ctx).await?;
    if !generated {
        return Ok(BootstrapOutcome::FromEnvironment);
    }
    let path = data_dir.join(ADMIN_KEY_FILE);
    write_private(&path, &secret).map_err(|source| ServerError::KeyFile { path: path.clone(), source })?;
    Ok(BootstrapOutcome::Generated { secret, path })
}

fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(format!("{secret}\n").as_bytes())?;
    file.sync_all()
}
