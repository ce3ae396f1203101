//! API-key roles and secrets. Secrets are random, shown once, and stored only as a SHA-256 hash.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::canonical::sha256_hex;
use crate::names::ProjectName;

/// What a key may do. Roles are ordered: each includes everything the one before it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read, resolve and render.
    Viewer,
    /// Also create prompts and versions, move labels, archive.
    Editor,
    /// Also move protected labels (as the project's label protection allows) and approve change requests.
    Deployer,
    /// Also manage keys and projects.
    Admin,
}

impl Role {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = CoreError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "deployer" => Ok(Role::Deployer),
            "admin" => Ok(Role::Admin),
            other => Err(CoreError::UnknownRole(other.to_owned())),
        }
    }
}

/// A stored API key (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public identifier, also the middle part of the secret.
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The key's project; `None` for a global admin key that picks a project per request.
    pub project: Option<ProjectName>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key stops working; `None` for a key that never expires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key last authenticated a request, as of the last flush of the batched usage record.
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key has been revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// Whether the key has expired at `now` (a key expires at the instant of `expires_at`).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }

    /// Whether the key can authenticate at `now`: neither revoked nor expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.is_revoked() && !self.is_expired(now)
    }

    /// Whether this is a global (all-project) admin key, the kind that can always create more keys.
    pub fn is_global_admin(&self) -> bool {
        self.role == Role::Admin && self.project.is_none()
    }
}

/// Prefix of every secret, so leaked keys are easy to grep for.
pub const SECRET_PREFIX: &str = "opm_";

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_string(rng: &mut impl Rng, len: usize) -> String {
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A freshly generated key: its id and the secret to show once.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    pub id: String,
    pub secret: String,
}

/// Generates a key id and secret `opm_<id>_<32 random chars>` (~190 bits of entropy).
pub fn generate_key(rng: &mut impl Rng) -> GeneratedKey {
    let id = random_string(rng, 12);
    let secret = format!("{SECRET_PREFIX}{id}_{}", random_string(rng, 32));
    GeneratedKey { id, secret }
}

/// The stored hash of a secret. Secrets are long random strings, so a fast hash is enough.
pub fn hash_secret(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The key id embedded in a secret, if it has the expected shape.
pub fn key_id_of(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(SECRET_PREFIX)?;
    let (id, _) = rest.split_once('_')?;
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Deployer && Role::Deployer < Role::Admin);
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
        assert_eq!("deployer".parse::<Role>().unwrap(), Role::Deployer);
        assert_eq!(Role::Deployer.to_string(), "deployer");
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn generated_keys_are_unique_and_carry_their_id() {
        let mut rng = rand::rng();
        let a = generate_key(&mut rng);
        let b = generate_key(&mut rng);
        assert_ne!(a.secret, b.secret);
        assert_eq!(key_id_of(&a.secret), Some(a.id.as_str()));
        assert_eq!(a.secret.len(), 4 + 12 + 1 + 32);
        assert_ne!(hash_secret(&a.secret), hash_secret(&b.secret));
    }
}
