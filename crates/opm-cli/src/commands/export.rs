//! `opm export DIR`: every non-archived prompt's latest version as `DIR/NAME.yaml` (or, with
//! `--format prompty`, `DIR/NAME.prompty`), in a format `opm apply` reads, so that export followed
//! by apply changes nothing. A prompt Prompty cannot hold (a text prompt, tools…) is skipped, said on stderr.

use std::process::ExitCode;

use anyhow::Context;
use opm_client::{PageQuery, PromptQuery, Selector};
use serde::Serialize;

use crate::args::{ExportArgs, ExportFormat};
use crate::output::emit;
use crate::prompt_file::{dto_to_content, prompty, to_yaml};
use crate::settings::Settings;

/// One written file.
#[derive(Debug, Serialize)]
struct Exported {
    name: String,
    version: u32,
    file: String,
}

/// Runs `opm export`.
pub async fn export(settings: &Settings, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let client = &settings.client;
    let query = PromptQuery { page: PageQuery { cursor: None, limit: Some(100) }, ..PromptQuery::default() };
    let prompts = client.list_all_prompts(&query).await.context("cannot list prompts")?;
    std::fs::create_dir_all(&args.dir).with_context(|| format!("cannot create {}", args.dir.display()))?;
    let mut written = Vec::new();
    for prompt in prompts.iter().filter(|prompt| !prompt.archived) {
        if prompt.latest_version.is_none() {
            eprintln!("skipped {}: it has no version yet", prompt.name);
            continue;
        }
        let resolved = client
            .resolve(&prompt.name, &Selector::Label("latest".into()))
            .await
            .with_context(|| format!("cannot read the latest version of `{}`", prompt.name))?;
        let (text, extension) = match args.format {
            ExportFormat::Yaml => (
                to_yaml(&prompt.name, &prompt.description, &prompt.tags, &resolved.content)
                    .with_context(|| format!("cannot write `{}` as YAML", prompt.name))?,
                "yaml",
            ),
            ExportFormat::Prompty => {
                let content = dto_to_content(&resolved.content)?;
                match prompty::to_prompty(&prompt.name, &prompt.description, &prompt.tags, &content) {
                    Ok(text) => (text, "prompty"),
                    Err(why) => {
                        eprintln!("skipped {}: {why}", prompt.name);
                        continue;
                    }
                }
            }
        };
        let path = args.dir.join(format!("{}.{extension}", prompt.name));
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(Exported {
            name: prompt.name.clone(),
            version: resolved.version,
            file: path.display().to_string(),
        });
    }
    emit(settings.output, &written, |written| {
        for file in written {
            println!("wrote {} (v{}) to {}", file.name, file.version, file.file);
        }
        println!("exported {} prompt(s) to {}", written.len(), args.dir.display());
    })?;
    Ok(ExitCode::SUCCESS)
}
