//! `opm watch`: the project's changes, one line per event as they happen (JSON lines with
//! `-o json`, YAML documents with `-o yaml`), until interrupted or the server closes the stream.

use std::process::ExitCode;

use anyhow::Context;
use opm_api::events::ChangeEventDto;
use opm_api::labels::LabelTargetDto;
use serde_json::Value;

use crate::args::{OutputFormat, WatchArgs};
use crate::commands::labels::target;
use crate::output::{one_line, time, to_yaml};
use crate::settings::Settings;

/// `opm watch [--prompt NAME] [--after ID]`.
pub async fn watch(settings: &Settings, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let mut watch = settings.client.watch(args.after, args.prompt.as_deref()).await?;
    loop {
        let event = watch.next().await.with_context(|| resume_hint(watch.last_event_id()))?;
        let Some(event) = event else {
            anyhow::bail!("the server closed the stream; {}", resume_hint(watch.last_event_id()));
        };
        match settings.output {
            OutputFormat::Json => println!("{}", serde_json::to_string(&event)?),
            OutputFormat::Yaml => print!("---\n{}", to_yaml(&event)?),
            OutputFormat::Table => println!("{}", line(&event)),
        }
    }
}

fn resume_hint(last: Option<i64>) -> String {
    match last {
        Some(id) => format!("resume with `opm watch --after {id}`"),
        None => "run `opm watch` again".to_owned(),
    }
}

/// `12  2025-01-01 10:00:00  label.set  summarize/production  v2  by admin: why`.
fn line(event: &ChangeEventDto) -> String {
    let place = match (&event.prompt, &event.label) {
        (Some(prompt), Some(label)) => format!("{prompt}/{label}"),
        (Some(prompt), None) => prompt.clone(),
        _ => "-".to_owned(),
    };
    let mut text = format!("{}  {}  {}  {place}", event.id, time(&event.at), event.event);
    if let Some(what) = event.data.as_ref().and_then(summary) {
        text.push_str("  ");
        text.push_str(&what);
    }
    text.push_str("  by ");
    text.push_str(&event.actor);
    if let Some(reason) = event.reason.as_deref().filter(|reason| !reason.is_empty()) {
        text.push_str(": ");
        text.push_str(&one_line(reason, 80));
    }
    text
}

/// What changed, in a few words: the new label target, version or rollout state.
fn summary(data: &Value) -> Option<String> {
    let label_target = |value: &Value| serde_json::from_value::<LabelTargetDto>(value.clone()).ok().map(|t| target(&t));
    let label = data.get("target").or_else(|| data.get("label_target")).and_then(label_target);
    let state = data
        .get("state")
        .or_else(|| data.get("rollout").and_then(|rollout| rollout.get("state")))
        .and_then(|state| state.get("state"))
        .and_then(Value::as_str);
    match (state, label) {
        (Some(state), Some(label)) => Some(format!("{state}, label → {label}")),
        (Some(state), None) => Some(state.to_owned()),
        (None, Some(label)) => Some(format!("→ {label}")),
        (None, None) => data.get("version").and_then(Value::as_u64).map(|version| format!("v{version}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(data: Value, expected: Option<&str>) {
        assert_eq!(summary(&data).as_deref(), expected, "{data}");
    }

    #[test]
    fn summaries_name_the_new_target_version_or_state() {
        check(json!({"target": {"type": "version", "version": 2}}), Some("→ v2"));
        check(json!({"version": 3, "content_hash": "sha256:x"}), Some("v3"));
        check(json!({"state": {"state": "paused", "step_index": 0}, "revision": 2}), Some("paused"));
        check(
            json!({"state": {"state": "aborted"}, "label_target": {"type": "version", "version": 1}}),
            Some("aborted, label → v1"),
        );
        let split = json!({"type": "split", "arms": [{"version": 1, "weight": 95}, {"version": 2, "weight": 5}],
            "group": "default/p/production", "algorithm": "unleash-murmur3-x86_32", "algorithm_version": 1});
        check(
            json!({"rollout": {"state": {"state": "progressing"}}, "label_target": split}),
            Some("progressing, label → v1 95% + v2 5%"),
        );
        check(json!({"archived": true}), None);
    }
}
