//! Which events an endpoint receives: event-name patterns (`*`, `label.set`, `rollout.*`) and an
//! optional list of projects.

use opm_api::events::ChangeEventDto;

/// The events and projects one endpoint subscribed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventFilter {
    events: Vec<EventPattern>,
    /// `None` = every project.
    projects: Option<Vec<String>>,
}

/// One entry of `events`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum EventPattern {
    /// `*`: every event.
    Any,
    /// An exact name such as `label.set`.
    Exact(String),
    /// `rollout.*`, stored as `rollout.`: every event whose name starts with it.
    Prefix(String),
}

impl EventFilter {
    /// Validates the patterns and the project list; the error is a message for the config error.
    pub(crate) fn new(events: &[String], projects: Option<&[String]>) -> Result<Self, String> {
        if events.is_empty() {
            return Err("`events` is empty: leave it out (or write `[\"*\"]`) to receive every event".into());
        }
        let events = events.iter().map(|text| EventPattern::parse(text)).collect::<Result<Vec<_>, _>>()?;
        let projects = match projects {
            None => None,
            Some([]) => return Err("`projects` is empty: leave it out to receive every project".into()),
            Some(projects) => {
                if let Some(blank) = projects.iter().find(|project| project.trim().is_empty()) {
                    return Err(format!("`projects` contains a blank name `{blank}`"));
                }
                Some(projects.to_vec())
            }
        };
        Ok(Self { events, projects })
    }

    /// Whether `event` should be posted to the endpoint.
    pub(crate) fn matches(&self, event: &ChangeEventDto) -> bool {
        let project_ok = self.projects.as_ref().is_none_or(|projects| projects.contains(&event.project));
        project_ok && self.events.iter().any(|pattern| pattern.matches(&event.event))
    }
}

impl EventPattern {
    fn parse(text: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "event pattern `{text}` is not valid: use an exact name such as `label.set`, a prefix such as \
                 `rollout.*`, or `*`"
            )
        };
        if text == "*" {
            return Ok(EventPattern::Any);
        }
        if let Some(prefix) = text.strip_suffix(".*") {
            return if is_event_name(prefix) { Ok(EventPattern::Prefix(format!("{prefix}."))) } else { Err(invalid()) };
        }
        if is_event_name(text) { Ok(EventPattern::Exact(text.to_owned())) } else { Err(invalid()) }
    }

    fn matches(&self, event: &str) -> bool {
        match self {
            EventPattern::Any => true,
            EventPattern::Exact(name) => name == event,
            EventPattern::Prefix(prefix) => event.starts_with(prefix.as_str()),
        }
    }
}

/// Dot-separated segments of lowercase letters, digits, `_` and `-`.
fn is_event_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"_-".contains(&byte))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, project: &str) -> ChangeEventDto {
        ChangeEventDto {
            id: 1,
            event: name.into(),
            project: project.into(),
            prompt: None,
            label: None,
            actor: "test".into(),
            at: chrono::DateTime::UNIX_EPOCH,
            reason: None,
            data: None,
        }
    }

    fn filter(events: &[&str], projects: Option<&[&str]>) -> Result<EventFilter, String> {
        let events: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        let projects: Option<Vec<String>> = projects.map(|ps| ps.iter().map(|p| p.to_string()).collect());
        EventFilter::new(&events, projects.as_deref())
    }

    fn check(events: &[&str], projects: Option<&[&str]>, name: &str, project: &str, expected: bool) {
        let filter = filter(events, projects).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(filter.matches(&event(name, project)), expected, "{events:?} {projects:?} vs {name} in {project}");
    }

    #[test]
    fn patterns_match() {
        check(&["*"], None, "label.set", "default", true);
        check(&["label.set"], None, "label.set", "default", true);
        check(&["label.set"], None, "label.rollback", "default", false);
        check(&["rollout.*"], None, "rollout.start", "default", true);
        check(&["rollout.*"], None, "rollout.abort", "default", true);
        check(&["rollout.*"], None, "rollout", "default", false);
        check(&["rollout.*"], None, "rollouts.start", "default", false);
        check(&["rollout.*"], None, "label.set", "default", false);
        check(&["label.set", "version.*"], None, "version.publish", "default", true);
        check(&["*"], Some(&["shop"]), "label.set", "shop", true);
        check(&["*"], Some(&["shop"]), "label.set", "default", false);
        check(&["label.*"], Some(&["shop", "blog"]), "label.set", "blog", true);
        check(&["label.*"], Some(&["shop", "blog"]), "version.publish", "blog", false);
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for bad in ["", "ro*", "rollout*", "*.start", "rollout.", ".x", "Label.Set", "a..b", "label set", "*.*"] {
            let error = filter(&[bad], None).err().unwrap_or_default();
            assert!(error.contains(&format!("event pattern `{bad}` is not valid")), "{bad}: {error}");
        }
        assert!(filter(&[], None).is_err_and(|error| error.contains("`events` is empty")));
        assert!(filter(&["*"], Some(&[])).is_err_and(|error| error.contains("`projects` is empty")));
        assert!(filter(&["*"], Some(&[" "])).is_err_and(|error| error.contains("blank")));
    }
}
