//! Fault injection settings and their text grammar (the `x-mock-fault` header and `--fault`).
//!
//! A spec is a list of items separated by `,` or `;`, each `key=value` or a bare flag:
//!
//! | item | effect |
//! |---|---|
//! | `status=N` | answer N (400–599) with the format's error body, on every request |
//! | `retry-after=S` | add `Retry-After: S` to an injected error |
//! | `fail-first=N` | only the first N requests of the `x-mock-key` fail (with `status`, default 503) |
//! | `latency=MS` | wait before sending response headers (errors included) |
//! | `ttft=MS` | in a stream, wait before the first event |
//! | `drip=MS` | in a stream, wait between events |
//! | `reset-after=N` | drop the connection after N stream events (N body bytes when not streaming) |
//! | `error-after=N` | in a stream, send the format's in-stream error event after N events, then end |
//! | `malformed` | invalid JSON body; in a stream, the first content event's data is invalid JSON |
//! | `no-usage` | omit usage everywhere |
//! | `cached=N` | report N prompt tokens as read from the cache |
//!
//! Model names may carry a fault too: a name ending in `-fail-N` injects `status=N`, and one ending in
//! `-slow-MS` injects `latency=MS` (e.g. `mock-fail-503`, `gpt-4o-slow-200`).
//! Precedence, field by field: header, then model suffix, then the server's default fault.

use std::time::Duration;

use crate::MockError;

/// One request's fault settings; the default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fault {
    /// Status to fail with (every request, or only the first `fail_first` ones).
    pub status: Option<u16>,
    /// Seconds for the `Retry-After` header of an injected error.
    pub retry_after: Option<u64>,
    /// Fail only the first N requests of a key.
    pub fail_first: Option<u64>,
    /// Delay before the response headers.
    pub latency: Option<Duration>,
    /// Delay before the first stream event.
    pub ttft: Option<Duration>,
    /// Delay between stream events.
    pub drip: Option<Duration>,
    /// Abort the connection after this many stream events (body bytes when not streaming).
    pub reset_after: Option<usize>,
    /// Send an in-stream error event after this many stream events.
    pub error_after: Option<usize>,
    /// Send invalid JSON.
    pub malformed: bool,
    /// Omit usage.
    pub no_usage: bool,
    /// Prompt tokens reported as cache reads.
    pub cached_tokens: Option<u64>,
}

/// The status `fail-first` uses when the spec names none.
pub const DEFAULT_FAIL_FIRST_STATUS: u16 = 503;

impl Fault {
    /// Parses a spec such as `status=429, retry-after=2` or `ttft=50;drip=5;reset-after=3`.
    pub fn parse(spec: &str) -> Result<Self, MockError> {
        let mut fault = Self::default();
        for item in spec.split([',', ';']).map(str::trim).filter(|item| !item.is_empty()) {
            fault.apply_item(item)?;
        }
        Ok(fault)
    }

    /// The fault a model name asks for through a `-fail-N` or `-slow-MS` suffix (none otherwise).
    pub fn from_model_name(model: &str) -> Self {
        let suffix_number =
            |marker: &str| model.rfind(marker).and_then(|at| model[at + marker.len()..].parse::<u64>().ok());
        let mut fault = Self::default();
        if let Some(status) = suffix_number("-fail-").and_then(|n| u16::try_from(n).ok()) {
            if (400..=599).contains(&status) {
                fault.status = Some(status);
            }
        } else if let Some(ms) = suffix_number("-slow-") {
            fault.latency = Some(Duration::from_millis(ms));
        }
        fault
    }

    /// Fills every field this fault leaves unset from `fallback`; flags are or-ed.
    #[must_use]
    pub fn or(self, fallback: Self) -> Self {
        Self {
            status: self.status.or(fallback.status),
            retry_after: self.retry_after.or(fallback.retry_after),
            fail_first: self.fail_first.or(fallback.fail_first),
            latency: self.latency.or(fallback.latency),
            ttft: self.ttft.or(fallback.ttft),
            drip: self.drip.or(fallback.drip),
            reset_after: self.reset_after.or(fallback.reset_after),
            error_after: self.error_after.or(fallback.error_after),
            malformed: self.malformed || fallback.malformed,
            no_usage: self.no_usage || fallback.no_usage,
            cached_tokens: self.cached_tokens.or(fallback.cached_tokens),
        }
    }

    /// The status to fail the `request_number`-th request (1-based, per key) with, if any.
    pub fn injected_status(&self, request_number: u64) -> Option<u16> {
        match self.fail_first {
            Some(first) if request_number <= first => Some(self.status.unwrap_or(DEFAULT_FAIL_FIRST_STATUS)),
            Some(_) => None,
            None => self.status,
        }
    }

    fn apply_item(&mut self, item: &str) -> Result<(), MockError> {
        let invalid = |reason: &str| MockError::FaultSpec { spec: item.to_owned(), reason: reason.to_owned() };
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (item, None),
        };
        let number = || -> Result<u64, MockError> {
            value.ok_or_else(|| invalid("expected `=N`"))?.parse().map_err(|_| invalid("expected a whole number"))
        };
        let millis = || number().map(Duration::from_millis);
        let count = || number().and_then(|n| usize::try_from(n).map_err(|_| invalid("number too large")));
        let flag = |set: &mut bool| match value {
            None => {
                *set = true;
                Ok(())
            }
            Some(_) => Err(invalid("this flag takes no value")),
        };
        match key {
            "status" => {
                let status = number()?;
                if !(400..=599).contains(&status) {
                    return Err(invalid("status must be between 400 and 599"));
                }
                self.status = u16::try_from(status).ok();
            }
            "retry-after" => self.retry_after = Some(number()?),
            "fail-first" => self.fail_first = Some(number()?),
            "latency" => self.latency = Some(millis()?),
            "ttft" => self.ttft = Some(millis()?),
            "drip" => self.drip = Some(millis()?),
            "reset-after" => self.reset_after = Some(count()?),
            "error-after" => self.error_after = Some(count()?),
            "cached" => self.cached_tokens = Some(number()?),
            "malformed" => flag(&mut self.malformed)?,
            "no-usage" => flag(&mut self.no_usage)?,
            _ => return Err(invalid("unknown item")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &str, expected: Fault) {
        assert_eq!(Fault::parse(spec).unwrap(), expected, "spec {spec:?}");
    }

    #[test]
    fn parses_every_item() {
        check("", Fault::default());
        check("status=429, retry-after=2", Fault { status: Some(429), retry_after: Some(2), ..Fault::default() });
        check(
            "ttft=50;drip=5 ; reset-after=3",
            Fault {
                ttft: Some(Duration::from_millis(50)),
                drip: Some(Duration::from_millis(5)),
                reset_after: Some(3),
                ..Fault::default()
            },
        );
        check("fail-first=2,status=500", Fault { fail_first: Some(2), status: Some(500), ..Fault::default() });
        check("latency=100", Fault { latency: Some(Duration::from_millis(100)), ..Fault::default() });
        check("malformed,no-usage", Fault { malformed: true, no_usage: true, ..Fault::default() });
        check("error-after=1,cached=7", Fault { error_after: Some(1), cached_tokens: Some(7), ..Fault::default() });
    }

    #[test]
    fn rejects_bad_items() {
        for spec in ["status=200", "status=abc", "latency", "malformed=1", "explode", "drip=-1"] {
            let error = Fault::parse(spec).unwrap_err();
            assert!(matches!(error, MockError::FaultSpec { .. }), "{spec}: {error}");
        }
    }

    #[test]
    fn model_suffixes() {
        assert_eq!(Fault::from_model_name("mock-fail-500").status, Some(500));
        assert_eq!(Fault::from_model_name("gpt-4o-slow-200").latency, Some(Duration::from_millis(200)));
        assert_eq!(Fault::from_model_name("mock-fail-200"), Fault::default());
        assert_eq!(Fault::from_model_name("gpt-4o"), Fault::default());
        assert_eq!(Fault::from_model_name("mock-fail-"), Fault::default());
    }

    #[test]
    fn precedence_and_fail_first() {
        let header = Fault::parse("status=429").unwrap();
        let default = Fault::parse("status=500,latency=10,no-usage").unwrap();
        let merged = header.or(default);
        assert_eq!(merged.status, Some(429));
        assert_eq!(merged.latency, Some(Duration::from_millis(10)));
        assert!(merged.no_usage);

        let fail_first = Fault::parse("fail-first=2").unwrap();
        let statuses: Vec<_> = (1..=3).map(|n| fail_first.injected_status(n)).collect();
        assert_eq!(statuses, [Some(503), Some(503), None]);
        assert_eq!(Fault::parse("status=502").unwrap().injected_status(9), Some(502));
    }
}
