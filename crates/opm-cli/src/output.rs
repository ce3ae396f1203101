//! Printing results: borderless tables (kubectl-style) for people, JSON or YAML for scripts.

use chrono::{DateTime, Utc};
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use crate::args::OutputFormat;

/// Prints `value` as JSON or YAML, or calls `human` for the table format.
pub fn emit<T: Serialize>(format: OutputFormat, value: &T, human: impl FnOnce(&T)) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Yaml => print!("{}", to_yaml(value)?),
        OutputFormat::Table => human(value),
    }
    Ok(())
}

/// `value` as YAML, fields in declaration order, long lines never folded.
pub fn to_yaml<T: Serialize>(value: &T) -> anyhow::Result<String> {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX };
    Ok(serde_saphyr::to_string_with_options(value, options)?)
}

/// A borderless table with upper-case headers.
pub fn table(headers: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(headers.iter().map(|header| header.to_uppercase()));
    table
}

/// Prints a table, trimming the padding comfy-table puts on the left edge.
pub fn print_table(table: &Table) {
    for line in table.to_string().lines() {
        println!("{}", line.strip_prefix(' ').unwrap_or(line).trim_end());
    }
}

/// A timestamp to the second, in UTC.
pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `value` or `-` when empty.
pub fn or_dash(value: &str) -> String {
    if value.is_empty() { "-".to_owned() } else { value.to_owned() }
}

/// The first `n` characters of a hash, after its `sha256:` prefix.
pub fn short_hash(hash: &str) -> String {
    hash.trim_start_matches("sha256:").chars().take(12).collect()
}

/// One line of at most `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max || text.lines().nth(1).is_some() {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_cuts_long_and_multiline_text() {
        assert_eq!(one_line("short", 10), "short");
        assert_eq!(one_line("a much longer line", 6), "a muc…");
        assert_eq!(one_line("first\nsecond", 20), "first…");
        assert_eq!(one_line("", 5), "");
    }

    #[test]
    fn tables_have_no_borders() {
        let mut table = table(&["name", "latest"]);
        table.add_row(vec!["greeting", "3"]);
        let text = table.to_string();
        assert!(text.contains("NAME") && text.contains("greeting"), "{text}");
        assert!(!text.contains('|') && !text.contains('+'), "{text}");
    }
}
