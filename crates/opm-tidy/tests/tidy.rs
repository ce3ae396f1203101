//! Keeps `ARCHITECTURE.md` true and the `//!` rule kept (rust-analyzer's tidy test, for OPM):
//! - every workspace member has a code-map section, and every section names existing crates or
//!   folders;
//! - every file path in backticks exists (relative to a folder of its section, found anywhere
//!   below it, or to the repository root);
//! - every Rust path (`error::status_for`, `Store::try_lead`, `opm_core::rollout::evaluate`) names
//!   modules or types that exist and an item defined in the section's crate;
//! - every type name (`PromptName`) is a `struct`, `enum`, `trait` or `type` (a Python `class`
//!   for the SDK) defined there, every function-looking name (`build_router`, `subscribe()`) a
//!   `fn` or `def` (or a name the source spells out: a string, an SQL identifier);
//! - every other plain word in backticks occurs in that source;
//! - every `.rs` file of the workspace opens with a `//!` module doc.
//!
//! Sections outside the code map (bird's-eye view, entry points, cross-cutting concerns) are
//! checked against the whole repository. A plain-text search, on purpose: it must be cheap, and it
//! fails on a name that was renamed or removed, which is what rots.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Names from outside the workspace (std, crates we use) the map may mention.
const EXTERNAL: [&str; 6] = ["Option", "None", "Debug", "Arc", "PgListener", "async_trait"];
/// Files named in the map that are not in the repository on purpose (written by users).
const NOT_IN_REPO: [&str; 1] = ["opm.toml"];
/// File extensions that make a backticked word a file path.
const FILE_EXTENSIONS: [&str; 11] =
    [".rs", ".py", ".sh", ".md", ".toml", ".yml", ".yaml", ".json", ".js", ".sql", ".css"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_default()
}

/// Every file below `dir` (sorted), skipping build output, virtual environments and VCS data.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "node_modules" | "__pycache__" | ".venv")
                    && !name.ends_with("venv")
                {
                    pending.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The workspace members of the root `Cargo.toml`.
fn workspace_members(root: &Path) -> Vec<String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    let Some(start) = manifest.find("members = [") else { return Vec::new() };
    let list = &manifest[start + "members = [".len()..];
    let list = &list[..list.find(']').unwrap_or(list.len())];
    list.split(',').map(|m| m.trim().trim_matches('"').to_owned()).filter(|m| !m.is_empty()).collect()
}

/// A `###` section of the code map, or a top-level part of the document.
#[derive(Debug)]
struct Section {
    title: String,
    /// The folders the heading names (empty: the whole repository).
    dirs: Vec<String>,
    /// `(line, backticked text)` in the body and heading.
    names: Vec<(usize, String)>,
}

fn backticked(line: &str) -> Vec<String> {
    line.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

fn sections(architecture: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut in_code_map = false;
    let mut in_fence = false;
    for (index, line) in architecture.lines().enumerate() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if let Some(title) = line.strip_prefix("## ") {
            in_code_map = title.trim() == "Code map";
            sections.push(Section { title: title.to_owned(), dirs: Vec::new(), names: Vec::new() });
            continue;
        }
        if let Some(title) = line.strip_prefix("### ") {
            let dirs = if in_code_map {
                backticked(title).into_iter().map(|d| d.trim_end_matches('/').to_owned()).collect()
            } else {
                Vec::new()
            };
            sections.push(Section { title: title.to_owned(), dirs, names: Vec::new() });
            continue;
        }
        if let Some(section) = sections.last_mut() {
            section.names.extend(backticked(line).into_iter().map(|name| (index + 1, name)));
        }
    }
    sections
}

/// The text the names of a section are looked up in, and its files.
struct Scope {
    files: Vec<PathBuf>,
    text: String,
}

impl Scope {
    fn new(root: &Path, dirs: &[String]) -> Self {
        let dirs: Vec<PathBuf> = if dirs.is_empty() {
            ["crates", "sdk", "bench", "ops", "tests", "scripts", "docs", "examples"]
                .iter()
                .map(|d| root.join(d))
                .collect()
        } else {
            dirs.iter().map(|d| root.join(d)).collect()
        };
        let files: Vec<PathBuf> = dirs.iter().flat_map(|dir| files_below(dir)).collect();
        let mut text = String::new();
        for file in &files {
            if let Ok(content) = fs::read_to_string(file) {
                text.push_str(&content);
                text.push('\n');
            }
        }
        Self { files, text }
    }

    fn has_word(&self, word: &str) -> bool {
        let bytes = self.text.as_bytes();
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut from = 0;
        while let Some(found) = self.text[from..].find(word) {
            let start = from + found;
            let end = start + word.len();
            let before = start.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(end).copied();
            if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
                return true;
            }
            from = start + 1;
        }
        false
    }

    /// `fn NAME`, `struct NAME`, … (`kinds`) followed by a non-identifier character.
    fn defines(&self, kinds: &[&str], name: &str) -> bool {
        kinds.iter().any(|kind| {
            let needle = format!("{kind} {name}");
            self.text.match_indices(&needle).any(|(at, _)| {
                let before = at.checked_sub(1).map(|i| self.text.as_bytes()[i]);
                let after = self.text.as_bytes().get(at + needle.len()).copied();
                !before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !after.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        })
    }

    /// A type: `struct|enum|trait|type|class NAME`, or a macro-made one (`name_type!(… NAME, …)`,
    /// the name alone on its line as the macro's argument).
    fn defines_type(&self, name: &str) -> bool {
        self.defines(&["struct", "enum", "trait", "type", "class"], name)
            || self.text.lines().any(|line| line.trim() == format!("{name},"))
    }

    fn defines_fn(&self, name: &str) -> bool {
        self.defines(&["fn", "def"], name)
    }

    /// A module: a `NAME.rs` / `NAME/` below the scope, or an inline `mod NAME`.
    fn has_module(&self, name: &str) -> bool {
        self.defines(&["mod"], name)
            || self.files.iter().any(|file| {
                file.file_stem().is_some_and(|stem| stem == name)
                    || file.parent().and_then(Path::file_name).is_some_and(|dir| dir == name)
            })
    }

    /// A path relative to one of the scope's files' folders (`engine/rollouts.rs`, `pages/`).
    fn has_path_suffix(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        self.files.iter().any(|file| {
            let file = file.to_string_lossy();
            file.ends_with(&format!("/{path}")) || file.contains(&format!("/{path}/"))
        })
    }
}

fn is_placeholder_segment(segment: &str) -> bool {
    segment.len() > 1 && segment.chars().all(|c| c.is_ascii_uppercase() || c == '_')
}

/// What is wrong with one backticked name in `scope`, if anything.
fn check_name(root: &Path, scope: &Scope, name: &str) -> Option<String> {
    let name = name.trim();
    // Snippets, commands, flags, routes, headers with values, patterns: not names.
    let snippet = name.is_empty()
        || name.contains(|c: char| " <>{}[]=;'\"…*|,".contains(c))
        || name.starts_with('-')
        || name.starts_with('/')
        || name.starts_with('.')
        || (name.contains(':') && !name.contains("::"));
    if snippet || EXTERNAL.contains(&name) || NOT_IN_REPO.contains(&name) {
        return None;
    }
    let call = name.find('(').map(|at| &name[..at]);
    if let Some(function) = call.filter(|_| name.ends_with(')')) {
        return (!scope.defines_fn(function)).then(|| format!("no `fn {function}`"));
    }
    if name.contains("::") {
        return check_rust_path(root, scope, name);
    }
    let looks_like_file = name.contains('/') || FILE_EXTENSIONS.iter().any(|ext| name.ends_with(ext));
    if looks_like_file {
        if name.split('/').any(is_placeholder_segment) {
            return None;
        }
        let exists = root.join(name).exists() || scope.has_path_suffix(name);
        return (!exists).then(|| "no such file or folder".to_owned());
    }
    let is_camel = name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
        && name.chars().any(|c| c.is_ascii_lowercase());
    if is_camel {
        return (!scope.defines_type(name)).then(|| "no struct, enum, trait or type of that name".to_owned());
    }
    let is_snake = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if is_snake && name.contains('_') {
        let spelled = scope.text.contains(&format!("\"{name}\""))
            || scope.text.contains(&format!("'{name}'"))
            || scope.files.iter().any(|f| f.extension().is_some_and(|e| e == "sql")) && scope.has_word(name);
        let found = scope.defines_fn(name) || scope.has_module(name) || spelled;
        return (!found).then(|| format!("no `fn {name}`, module or spelled-out name"));
    }
    // Plain words, dotted names (`auth.denied`), hyphenated names (a header may be a constant:
    // `Referrer-Policy` is `REFERRER_POLICY`), ALL_CAPS variables.
    let lower = scope.text.to_lowercase();
    let wanted = name.to_lowercase();
    let found = scope.has_word(name) || lower.contains(&wanted) || lower.contains(&wanted.replace('-', "_"));
    (!found).then(|| "does not occur in the source".to_owned())
}

/// `module::item`, `Type::method`, `opm_core::rollout::evaluate`, `tower::ServiceExt::oneshot`.
fn check_rust_path(root: &Path, scope: &Scope, name: &str) -> Option<String> {
    let segments: Vec<&str> = name.trim_end_matches("()").split("::").collect();
    let (first, rest) = segments.split_first()?;
    let own;
    let (scope, segments) = match first.strip_prefix("opm_") {
        Some(crate_name) => {
            let dir = format!("crates/opm-{}", crate_name.replace('_', "-"));
            if !root.join(&dir).is_dir() {
                return Some(format!("no crate folder `{dir}`"));
            }
            own = Scope::new(root, &[dir]);
            (&own, rest)
        }
        None if scope.has_module(first) || scope.defines_type(first) => (scope, &segments[..]),
        // A path into a crate from outside the workspace.
        None => return None,
    };
    let (last, parents) = segments.split_last()?;
    for parent in parents {
        if !scope.has_module(parent) && !scope.defines_type(parent) {
            return Some(format!("no module or type `{parent}`"));
        }
    }
    let defined = scope.defines_fn(last) || scope.defines_type(last) || scope.has_module(last);
    (!defined).then(|| format!("no `{last}` defined"))
}

#[test]
fn every_workspace_member_has_a_code_map_section_naming_real_folders() {
    let root = root();
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let sections = sections(&architecture);
    let mut problems = Vec::new();
    let code_map: Vec<&Section> = sections.iter().filter(|s| !s.dirs.is_empty()).collect();
    for section in &code_map {
        for dir in &section.dirs {
            if !root.join(dir).is_dir() {
                problems.push(format!("section `{}` names `{dir}`, which does not exist", section.title));
            } else if dir.starts_with("crates/") && !root.join(dir).join("Cargo.toml").is_file() {
                problems.push(format!("section `{}` names `{dir}`, which is not a crate", section.title));
            }
        }
    }
    for member in workspace_members(&root) {
        let covered = code_map.iter().any(|section| {
            section.dirs.iter().any(|dir| {
                *dir == member
                    || (member.starts_with(&format!("{dir}/"))
                        && section.names.iter().any(|(_, name)| name.trim_end_matches('/') == member))
            })
        });
        if !covered {
            problems.push(format!("workspace member `{member}` has no code-map section in ARCHITECTURE.md"));
        }
    }
    assert!(problems.is_empty(), "ARCHITECTURE.md's code map is out of date:\n{}", problems.join("\n"));
}

#[test]
fn every_name_in_backticks_exists() {
    let root = root();
    let architecture = fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
    let mut problems = Vec::new();
    let whole = Scope::new(&root, &[]);
    for section in sections(&architecture) {
        let own;
        let scope = if section.dirs.is_empty() {
            &whole
        } else {
            own = Scope::new(&root, &section.dirs);
            &own
        };
        let mut seen = BTreeSet::new();
        for (line, name) in &section.names {
            if !seen.insert(name.clone()) {
                continue;
            }
            if let Some(problem) = check_name(&root, scope, name) {
                problems.push(format!("ARCHITECTURE.md:{line} (section `{}`): `{name}`: {problem}", section.title));
            }
        }
    }
    assert!(problems.is_empty(), "ARCHITECTURE.md names things that do not exist:\n{}", problems.join("\n"));
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let root = root();
    let mut missing = Vec::new();
    let mut checked = 0;
    for dir in ["crates", "bench"] {
        for file in files_below(&root.join(dir)).into_iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
            checked += 1;
            let text = fs::read_to_string(&file).unwrap_or_default();
            if !text.starts_with("//!") {
                missing.push(file.strip_prefix(&root).unwrap_or(&file).display().to_string());
            }
        }
    }
    assert!(checked > 100, "only {checked} Rust files found under {}", root.display());
    assert!(missing.is_empty(), "these files do not open with a `//!` doc:\n{}", missing.join("\n"));
}

#[test]
fn the_checks_catch_what_they_are_for() {
    let root = root();
    let server = Scope::new(&root, &["crates/opm-server".to_owned()]);
    let store = Scope::new(&root, &["crates/opm-store".to_owned()]);
    let check = |scope: &Scope, name: &str| check_name(&root, scope, name);
    // Real names pass.
    for name in ["error::status_for", "build_router", "Caller", "routes/llm.rs", "require(role)", "metrics.rs"] {
        assert_eq!(check(&server, name), None, "{name}");
    }
    for name in ["Store::try_lead", "engine/rollouts.rs", "opm_core::rollout::evaluate", "audit_head", "pg_notify"] {
        assert_eq!(check(&store, name), None, "{name}");
    }
    // Wrong ones fail.
    for name in ["error::status_fo", "build_routr", "Callr", "routes/lm.rs", "require_it(role)", "nonexistent_fn"] {
        assert!(check(&server, name).is_some(), "{name} passed");
    }
    for name in ["Store::try_leed", "opm_core::rollout::evaluat", "opm_nothing::x", "Stor"] {
        assert!(check(&store, name).is_some(), "{name} passed");
    }
    // Snippets are not names.
    assert_eq!(check(&server, "{\"type\": \"version\"}"), None);
    assert_eq!(check(&server, "/api/v1/watch"), None);
    assert_eq!(check(&server, "prompt/NAME/label/LABEL/rollout/ID"), None);
}
