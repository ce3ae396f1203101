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

/// A measured figure with three significant digits below 1,000 and whole (thousands separated)
/// from there: `0.412`, `12.3`, `123`, `1,234`, `0.0000120`; `0` for zero. Latencies and costs span from
/// microseconds (the mock, a local model) to minutes, so a fixed number of decimals hides one end.
pub fn significant(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    if value.abs() >= 999.5 {
        return thousands(value.round() as i64);
    }
    let magnitude = |v: f64| v.abs().log10().floor() as i32;
    let scale = 10f64.powi(magnitude(value) - 2);
    let rounded = (value / scale).round() * scale;
    let digits = magnitude(rounded);
    let decimals = usize::try_from(2 - digits).unwrap_or(0);
    format!("{rounded:.decimals$}")
}

/// [`significant`] with a sign: `+0.412`, `-12.3`, `+0`.
pub fn signed_significant(value: f64) -> String {
    if value.is_sign_negative() && value != 0.0 { significant(value) } else { format!("+{}", significant(value)) }
}

/// `1234567` → `1,234,567`.
fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0 { format!("-{out}") } else { out }
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
    fn figures_keep_three_significant_digits() {
        let check = |value: f64, expected: &str| assert_eq!(significant(value), expected, "{value}");
        check(0.0, "0");
        check(0.412, "0.412");
        check(0.41249, "0.412");
        check(0.0004, "0.000400");
        check(0.000012, "0.0000120");
        check(1.0, "1.00");
        check(9.996, "10.0");
        check(12.34, "12.3");
        check(99.96, "100");
        check(123.4, "123");
        check(999.6, "1,000");
        check(1234.0, "1,234");
        check(1_234_567.8, "1,234,568");
        check(-0.5, "-0.500");
        check(-1234.0, "-1,234");
        assert_eq!(signed_significant(0.412), "+0.412");
        assert_eq!(signed_significant(-12.34), "-12.3");
        assert_eq!(signed_significant(0.0), "+0");
    }

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
