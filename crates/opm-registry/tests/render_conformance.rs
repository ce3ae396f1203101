//! The shared rendering conformance file (`tests/conformance/render.yaml`) run against the server's
//! renderer: every prompt and case is published into a real SQLite store and rendered through
//! [`Registry::render`], includes, labels and splits included. The Python SDK's suite runs the same
//! file against its local renderer (`sdk/python/tests/test_conformance.py`), so the file is the one
//! source of truth for what a template renders to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use opm_core::content::VersionContent;
use opm_core::label::LabelTarget;
use opm_core::names::{LabelName, ProjectName, PromptName};
use opm_core::prompt::Actor;
use opm_core::split::{Split, SplitArm, SplitArms, stickiness_group};
use opm_core::template::RenderedBody;
use opm_registry::{Registry, RegistryError};
use opm_store::{MutationContext, NewPrompt, NewVersion, Selector};
use serde::Deserialize;
use serde_json::{Map, Value, json};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Conformance {
    prompts: BTreeMap<String, FixturePrompt>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixturePrompt {
    versions: Vec<Value>,
    labels: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    content: Value,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    by_version: bool,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    output: Option<Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    publish_error: Option<String>,
    // A recorded difference of the Python SDK: checked there, not here.
    #[serde(default)]
    #[allow(dead_code)]
    sdk_output: Option<Value>,
    #[serde(default)]
    #[allow(dead_code)]
    sdk_error: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    difference: Option<String>,
}

fn ctx() -> MutationContext {
    MutationContext::new(Actor::system("conformance"), chrono::Utc::now())
}

fn conformance_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/render.yaml")
}

async fn publish(registry: &Registry, name: &str, content: &Value) -> Result<u32, RegistryError> {
    let project = ProjectName::default_project();
    let prompt = PromptName::parse(name).unwrap();
    let content: VersionContent = serde_json::from_value(content.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let new = NewVersion {
        content,
        message: String::new(),
        create_prompt: Some(NewPrompt {
            project: project.clone(),
            name: prompt.clone(),
            description: String::new(),
            tags: vec![],
        }),
    };
    Ok(registry.publish_version(&project, &prompt, &new, &ctx()).await?.version.version)
}

async fn set_label(registry: &Registry, name: &str, label: &str, target: &Value) {
    let project = ProjectName::default_project();
    let prompt = PromptName::parse(name).unwrap();
    let label = LabelName::parse(label).unwrap();
    let target = match target {
        Value::Number(version) => LabelTarget::Version { version: u32::try_from(version.as_u64().unwrap()).unwrap() },
        Value::Array(arms) => {
            let arms = arms
                .iter()
                .map(|arm| SplitArm {
                    version: u32::try_from(arm[0].as_u64().unwrap()).unwrap(),
                    weight: u32::try_from(arm[1].as_u64().unwrap()).unwrap(),
                })
                .collect();
            let group = stickiness_group(&project, &prompt, &label);
            LabelTarget::Split(Split::new(SplitArms::new(arms).unwrap(), group).unwrap())
        }
        other => panic!("{name}@{label}: a label target is a version or [[version, weight], …], got {other}"),
    };
    registry.set_label(&project, &prompt, &label, &target, "conformance", &ctx()).await.unwrap();
}

fn body_json(body: &RenderedBody) -> Value {
    match body {
        RenderedBody::Text { text } => json!(text),
        RenderedBody::Chat { messages } => serde_json::to_value(messages).unwrap(),
    }
}

/// Runs one case; `Err` describes how the server disagreed with the file.
async fn check(registry: &Registry, case: &Case) -> Result<(), String> {
    let name = format!("case-{}", case.name);
    let published = publish(registry, &name, &case.content).await;
    if let Some(expected) = &case.publish_error {
        return match published {
            Err(error) if error.code() == expected => Ok(()),
            Err(error) => Err(format!("publish failed with {} ({error}), expected {expected}", error.code())),
            Ok(_) => Err(format!("published, expected the publish to fail with {expected}")),
        };
    }
    let version = published.map_err(|e| format!("publish failed: {} ({e})", e.code()))?;
    let label = case.label.as_deref().unwrap_or("production");
    set_label(registry, &name, label, &json!(version)).await;
    let selector =
        if case.by_version { Selector::Version(version) } else { Selector::Label(LabelName::parse(label).unwrap()) };
    let project = ProjectName::default_project();
    let prompt = PromptName::parse(&name).unwrap();
    let rendered = registry.render(&project, &prompt, &selector, None, &case.variables).await;
    match (rendered, &case.output, &case.error) {
        (Ok(rendered), Some(expected), None) => {
            let actual = body_json(&rendered.body);
            if &actual == expected { Ok(()) } else { Err(format!("rendered {actual}, expected {expected}")) }
        }
        (Err(error), None, Some(code)) => {
            if error.code() != code {
                return Err(format!("failed with {} ({error}), expected {code}", error.code()));
            }
            match &case.message {
                Some(message) if *message != error.to_string() => {
                    Err(format!("message `{error}`, expected `{message}`"))
                }
                _ => Ok(()),
            }
        }
        (Ok(rendered), _, Some(code)) => Err(format!("rendered {}, expected error {code}", body_json(&rendered.body))),
        (Err(error), Some(_), _) => Err(format!("failed with {} ({error}), expected output", error.code())),
        (_, None, None) => Err("the case names neither `output`, `error` nor `publish_error`".to_owned()),
    }
}

#[tokio::test]
async fn the_server_renders_every_conformance_case_as_the_file_says() {
    let text = std::fs::read_to_string(conformance_file()).unwrap();
    let file: Conformance = serde_saphyr::from_str(&text).unwrap();
    assert!(file.cases.len() >= 40, "the file has {} cases", file.cases.len());

    let dir = tempfile::tempdir().unwrap();
    let store = opm_store::connect(&format!("sqlite://{}", dir.path().join("opm.db").display())).await.unwrap();
    let registry = Registry::new(store);
    for (name, prompt) in &file.prompts {
        for content in &prompt.versions {
            publish(&registry, name, content).await.unwrap_or_else(|e| panic!("fixture {name}: {e}"));
        }
    }
    for (name, prompt) in &file.prompts {
        for (label, target) in &prompt.labels {
            set_label(&registry, name, label, target).await;
        }
    }

    let mut failures = Vec::new();
    for case in &file.cases {
        if let Err(failure) = check(&registry, case).await {
            failures.push(format!("{}: {failure}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases disagree:\n{}", failures.len(), file.cases.len(), failures.join("\n"));
}
