//! Token prices and cost: the table shipped in `data/prices.toml`, per-provider overrides from the
//! configuration, and which providers are free (the mock always; OpenAI-compatible servers unless
//! the model is priced).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{GatewayError, ProviderKind, Usage};

/// The price table shipped with OPM (see its header for the source, the date and the caveats).
pub const BUILTIN_PRICES: &str = include_str!("../data/prices.toml");

/// One model's price in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cache reads; billed at `input` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<f64>,
}

impl Price {
    /// The cost of `usage`, or `None` when its input or output tokens are unknown. Cached input is
    /// billed at the cached rate and the rest of the input at the input rate.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        let input = usage.input_tokens?;
        let output = usage.output_tokens?;
        let cached = usage.cached_input_tokens.unwrap_or(0).min(input);
        let cached_rate = self.cached_input.unwrap_or(self.input);
        let micro_usd =
            (input - cached) as f64 * self.input + cached as f64 * cached_rate + output as f64 * self.output;
        Some(micro_usd / 1_000_000.0)
    }
}

/// How a provider is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Billing {
    /// Priced by the table; unknown models have no cost (`None`).
    Metered,
    /// Priced by the table when the model is in it, else free (local servers).
    LocalUnlessPriced,
    /// Always free.
    Free,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    meta: PriceMeta,
    models: BTreeMap<String, Price>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceMeta {
    source: String,
    as_of: String,
}

/// Prices by model, with per-provider overrides.
#[derive(Debug, Clone)]
pub struct PriceTable {
    meta: PriceMeta,
    models: BTreeMap<String, Price>,
    overrides: BTreeMap<(String, String), Price>,
    billing: BTreeMap<String, Billing>,
}

impl Default for PriceTable {
    /// An empty table in which only the `mock` provider is (free).
    fn default() -> Self {
        let mut billing = BTreeMap::new();
        billing.insert(crate::config::MOCK_PROVIDER.to_owned(), Billing::Free);
        Self { meta: PriceMeta::default(), models: BTreeMap::new(), overrides: BTreeMap::new(), billing }
    }
}

impl PriceTable {
    /// The table shipped in `data/prices.toml`.
    pub fn builtin() -> Self {
        match Self::from_toml(BUILTIN_PRICES) {
            Ok(table) => table,
            Err(error) => {
                tracing::error!(%error, "the shipped price table does not parse; costs will be unknown");
                Self::default()
            }
        }
    }

    /// Parses a price file: a `[meta]` table (`source`, `as_of`) and `[models."NAME"]` tables with
    /// `input`, `output` and optional `cached_input` in USD per million tokens.
    pub fn from_toml(text: &str) -> Result<Self, GatewayError> {
        let file: PriceFile =
            toml::from_str(text).map_err(|error| GatewayError::Config { message: format!("price table: {error}") })?;
        Ok(Self { meta: file.meta, models: file.models, ..Self::default() })
    }

    /// Where the prices come from, as stated in the file.
    pub fn source(&self) -> &str {
        &self.meta.source
    }

    /// The date the prices were taken, as stated in the file.
    pub fn as_of(&self) -> &str {
        &self.meta.as_of
    }

    /// Declares how `provider` is billed, from its kind: `mock` is free, `openai-compatible` is free
    /// unless the model is priced, `openai` and `anthropic` are metered.
    pub fn set_provider_kind(&mut self, provider: &str, kind: ProviderKind) {
        let billing = match kind {
            ProviderKind::Mock => Billing::Free,
            ProviderKind::OpenaiCompatible => Billing::LocalUnlessPriced,
            ProviderKind::Openai | ProviderKind::Anthropic => Billing::Metered,
        };
        self.billing.insert(provider.to_owned(), billing);
    }

    /// Prices `model` when served by `provider`, over the table.
    pub fn set_override(&mut self, provider: &str, model: &str, price: Price) {
        self.overrides.insert((provider.to_owned(), model.to_owned()), price);
    }

    /// The price of `model` at `provider`: an override, else the table entry for the name or for the
    /// name without a date or `-latest` suffix (`gpt-4o-2024-08-06` → `gpt-4o`).
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        model_candidates(model).into_iter().find_map(|name| {
            self.overrides.get(&(provider.to_owned(), name.to_owned())).or_else(|| self.models.get(name)).copied()
        })
    }

    /// The cost of `usage`: `Some(0.0)` for free providers, `None` when tokens are unknown or the
    /// model is not priced.
    pub fn cost(&self, provider: &str, model: &str, usage: &Usage) -> Option<f64> {
        let billing = self.billing.get(provider).copied().unwrap_or(Billing::Metered);
        let priced = || model_candidates(model).into_iter().any(|name| self.models.contains_key(name));
        let overridden = model_candidates(model)
            .into_iter()
            .any(|name| self.overrides.contains_key(&(provider.to_owned(), name.to_owned())));
        match billing {
            Billing::Free if !overridden => Some(0.0),
            Billing::LocalUnlessPriced if !overridden && !priced() => Some(0.0),
            _ => self.price(provider, model)?.cost(usage),
        }
    }
}

/// `model`, then the same without a trailing `-latest`, `-YYYY-MM-DD` or `-YYYYMMDD`.
fn model_candidates(model: &str) -> Vec<&str> {
    let mut names = vec![model];
    if let Some(base) = model.strip_suffix("-latest") {
        names.push(base);
    }
    let bytes = model.as_bytes();
    let is_digits = |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let len = bytes.len();
    // -YYYY-MM-DD
    if len > 11
        && bytes[len - 11] == b'-'
        && bytes[len - 6] == b'-'
        && bytes[len - 3] == b'-'
        && is_digits(len - 10..len - 6)
        && is_digits(len - 5..len - 3)
        && is_digits(len - 2..len)
    {
        names.push(&model[..len - 11]);
    } else if len > 9 && bytes[len - 9] == b'-' && is_digits(len - 8..len) {
        names.push(&model[..len - 9]);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, cached: Option<u64>) -> Usage {
        Usage { input_tokens: Some(input), output_tokens: Some(output), cached_input_tokens: cached }
    }

    #[test]
    fn builtin_table_parses_and_names_its_source() {
        let table = PriceTable::from_toml(BUILTIN_PRICES).unwrap();
        assert!(!table.source().is_empty());
        assert!(table.as_of().starts_with("20"));
        for model in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "o3",
            "o4-mini",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5-nano",
            "claude-opus-4-1",
            "claude-sonnet-4-5",
            "claude-haiku-4-5",
            "claude-3-5-haiku",
        ] {
            let price = table.price("openai", model).unwrap_or_else(|| panic!("{model} is not priced"));
            assert!(price.input > 0.0 && price.output >= price.input, "{model}: {price:?}");
            assert!(price.cached_input.unwrap_or(0.0) < price.input, "{model}: {price:?}");
        }
    }

    #[test]
    fn cost_bills_cached_input_at_the_cached_rate() {
        let price = Price { input: 2.0, output: 8.0, cached_input: Some(0.5) };
        // 600 uncached * 2 + 400 cached * 0.5 + 100 * 8 = 1200 + 200 + 800 micro-dollars.
        assert_eq!(price.cost(&usage(1000, 100, Some(400))), Some(0.0022));
        assert_eq!(price.cost(&usage(1000, 100, None)), Some(0.0028));
        let no_cache_rate = Price { cached_input: None, ..price };
        assert_eq!(no_cache_rate.cost(&usage(1000, 100, Some(400))), Some(0.0028));
        assert_eq!(price.cost(&Usage { output_tokens: Some(5), ..Usage::default() }), None);
    }

    #[test]
    fn providers_overrides_and_free_kinds() {
        let mut table = PriceTable::builtin();
        table.set_provider_kind("openai", ProviderKind::Openai);
        table.set_provider_kind("local", ProviderKind::OpenaiCompatible);
        table.set_provider_kind("demo", ProviderKind::Mock);
        let used = usage(1_000_000, 1_000_000, Some(0));
        assert_eq!(table.cost("openai", "gpt-4o", &used), Some(12.5));
        assert_eq!(table.cost("openai", "gpt-4o-2024-08-06", &used), Some(12.5));
        assert_eq!(table.cost("openai", "no-such-model", &used), None);
        assert_eq!(table.cost("openai", "gpt-4o", &Usage::default()), None);
        assert_eq!(table.cost("local", "llama-3.1-8b", &used), Some(0.0));
        assert_eq!(table.cost("local", "llama-3.1-8b", &Usage::default()), Some(0.0));
        assert_eq!(table.cost("local", "gpt-4o", &used), Some(12.5), "a priced model behind a proxy is billed");
        assert_eq!(table.cost("demo", "anything", &Usage::default()), Some(0.0));
        assert_eq!(table.cost("mock", "anything", &used), Some(0.0));

        table.set_override("local", "llama-3.1-8b", Price { input: 1.0, output: 1.0, cached_input: None });
        assert_eq!(table.cost("local", "llama-3.1-8b", &used), Some(2.0));
        table.set_override("openai", "gpt-4o", Price { input: 1.0, output: 2.0, cached_input: None });
        assert_eq!(table.cost("openai", "gpt-4o", &used), Some(3.0));
        assert_eq!(table.cost("other", "gpt-4o", &used), Some(12.5), "overrides are per provider");
    }

    #[test]
    fn date_and_latest_suffixes_are_stripped() {
        assert_eq!(model_candidates("gpt-4o-2024-08-06"), ["gpt-4o-2024-08-06", "gpt-4o"]);
        assert_eq!(model_candidates("claude-sonnet-4-5-20250929"), ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"]);
        assert_eq!(model_candidates("claude-3-5-haiku-latest"), ["claude-3-5-haiku-latest", "claude-3-5-haiku"]);
        assert_eq!(model_candidates("o3"), ["o3"]);
        assert_eq!(model_candidates("gpt-4.1-nano"), ["gpt-4.1-nano"]);
    }
}
