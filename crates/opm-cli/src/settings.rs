//! Flags resolved into settings: which server, which key (flag, env or the bootstrap key file),
//! which project and how to print.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use opm_client::{Client, ClientConfig, DEFAULT_URL};

use crate::args::{GlobalFlags, OutputFormat};

/// Everything a client command needs besides its own arguments.
#[derive(Debug)]
pub struct Settings {
    pub client: Client,
    pub output: OutputFormat,
    /// The project given with `--project` on the command line (not from `OPM_PROJECT`).
    pub explicit_project: Option<String>,
}

impl Settings {
    /// Resolves `flags`; `project_on_command_line` says whether `--project` was typed (not env).
    pub fn resolve(flags: &GlobalFlags, project_on_command_line: bool) -> anyhow::Result<Self> {
        let data_dir = std::env::var_os("OPM_DATA_DIR").map(PathBuf::from);
        let key = find_api_key(flags.api_key.as_deref(), data_dir.as_deref())?;
        let config = ClientConfig {
            base_url: flags.url.clone().unwrap_or_else(|| DEFAULT_URL.to_owned()),
            api_key: key,
            project: flags.project.clone().filter(|project| !project.is_empty()),
            timeout: Duration::from_secs(flags.timeout.max(1)),
        };
        let client = Client::new(&config)?;
        let explicit_project = if project_on_command_line { flags.project.clone() } else { None };
        Ok(Self { client, output: flags.output, explicit_project })
    }
}

/// The key from `--api-key`/`OPM_API_KEY`, else the bootstrap key file of `data_dir` (from
/// `OPM_DATA_DIR`) or of `./.opm`, else none.
pub fn find_api_key(given: Option<&str>, data_dir: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(key) = given.map(str::trim).filter(|key| !key.is_empty()) {
        return Ok(Some(key.to_owned()));
    }
    let candidates = [data_dir.map(|dir| dir.join("admin.key")), Some(PathBuf::from(".opm").join("admin.key"))];
    for path in candidates.into_iter().flatten() {
        if path.is_file() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the API key file {}", path.display()))?;
            let key = text.trim().to_owned();
            if !key.is_empty() {
                return Ok(Some(key));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_key_wins_over_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("admin.key"), "from-file\n").unwrap();
        assert_eq!(find_api_key(Some(" k1 "), Some(dir.path())).unwrap(), Some("k1".into()));
        assert_eq!(find_api_key(None, Some(dir.path())).unwrap(), Some("from-file".into()));
        assert_eq!(find_api_key(Some(""), Some(dir.path())).unwrap(), Some("from-file".into()));
    }
}
