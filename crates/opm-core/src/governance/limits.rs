//! Gateway limits: how many requests per second a project and each of its keys may send through
//! the three LLM routes (a token bucket), and how much they may spend per UTC day and month in the
//! price table's currency (US dollars). The decisions take the time and the spend so far as inputs
//! and do no IO; the server keeps the buckets and the spend (`opm-server/src/limits.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// Most per-key overrides in one policy.
pub const MAX_KEY_OVERRIDES: usize = 1000;
/// The highest request rate a limit may name (per second).
pub const MAX_RATE: f64 = 1_000_000.0;

/// One set of limits; an absent field does not limit.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Sustained requests per second (the bucket's refill rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Requests that may arrive at once (the bucket's size); defaults to one second's worth, at
    /// least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Spend per UTC day, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_usd: Option<f64>,
    /// Spend per UTC calendar month, in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
}

impl Limits {
    /// Whether nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.requests_per_second.is_none() && self.daily_usd.is_none() && self.monthly_usd.is_none()
    }

    /// Whether spend is limited.
    pub fn limits_spend(&self) -> bool {
        self.daily_usd.is_some() || self.monthly_usd.is_some()
    }

    /// The bucket size: `burst`, or one second's worth of the rate, at least 1.
    pub fn bucket_size(&self) -> f64 {
        match (self.burst, self.requests_per_second) {
            (Some(burst), _) => f64::from(burst.max(1)),
            (None, Some(rate)) => rate.max(1.0),
            (None, None) => 1.0,
        }
    }

    fn validate(&self, place: &str) -> Result<(), CoreError> {
        let invalid = |message: String| Err(CoreError::InvalidPolicy(format!("{place}: {message}")));
        if let Some(rate) = self.requests_per_second
            && !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE)
        {
            return invalid(format!("`requests_per_second` must be above 0 and at most {MAX_RATE}"));
        }
        if self.burst.is_some() && self.requests_per_second.is_none() {
            return invalid("`burst` needs `requests_per_second`".into());
        }
        if self.burst == Some(0) {
            return invalid("`burst` must be at least 1".into());
        }
        for (field, value) in [("daily_usd", self.daily_usd), ("monthly_usd", self.monthly_usd)] {
            if let Some(value) = value
                && !(value.is_finite() && value >= 0.0)
            {
                return invalid(format!("`{field}` must be a number of dollars, 0 or more"));
            }
        }
        Ok(())
    }
}

/// A project's gateway limits: for the project as a whole, for each of its keys, and overrides for
/// named keys (by key id) that replace the per-key limits for that key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayLimits {
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub project: Limits,
    #[serde(default, skip_serializing_if = "Limits::is_empty")]
    pub per_key: Limits,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub keys: BTreeMap<String, Limits>,
}

impl GatewayLimits {
    /// Whether nothing is limited (the gateway then skips the limiter entirely).
    pub fn is_empty(&self) -> bool {
        self.project.is_empty() && self.per_key.is_empty() && self.keys.values().all(Limits::is_empty)
    }

    /// Whether any budget is set (the project's, the per-key one or an override's).
    pub fn limits_spend(&self) -> bool {
        self.project.limits_spend() || self.per_key.limits_spend() || self.keys.values().any(Limits::limits_spend)
    }

    /// The limits that apply to key `key_id`.
    pub fn for_key(&self, key_id: &str) -> &Limits {
        self.keys.get(key_id).unwrap_or(&self.per_key)
    }

    /// Checks every number and the size of the override map.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.keys.len() > MAX_KEY_OVERRIDES {
            return Err(CoreError::InvalidPolicy(format!("at most {MAX_KEY_OVERRIDES} key overrides")));
        }
        self.project.validate("limits.project")?;
        self.per_key.validate("limits.per_key")?;
        for (key, limits) in &self.keys {
            if key.is_empty() || key.len() > 64 {
                return Err(CoreError::InvalidPolicy("limits.keys: a key id is 1 to 64 characters".into()));
            }
            limits.validate(&format!("limits.keys.{key}"))?;
        }
        Ok(())
    }
}

/// Whose limit a call hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Project,
    Key,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Project => "project",
            Scope::Key => "key",
        }
    }
}

/// Which limit a call hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    Rate,
    DailyBudget,
    MonthlyBudget,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Rate => "rate",
            LimitKind::DailyBudget => "daily_budget",
            LimitKind::MonthlyBudget => "monthly_budget",
        }
    }
}

/// A refused call: which limit, whose, and when trying again can succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct Exceeded {
    pub scope: Scope,
    pub kind: LimitKind,
    pub retry_after: Duration,
    /// For a budget: the limit and what was spent, in dollars.
    pub spent_usd: Option<(f64, f64)>,
}

impl Exceeded {
    /// The message clients see.
    pub fn message(&self) -> String {
        let whose = match self.scope {
            Scope::Project => "the project's",
            Scope::Key => "this key's",
        };
        let secs = self.retry_after.as_secs().max(1);
        match (self.kind, self.spent_usd) {
            (LimitKind::Rate, _) => format!("{whose} request rate limit is reached; retry in {secs} s"),
            (kind, Some((limit, spent))) => {
                let period = if kind == LimitKind::DailyBudget { "daily" } else { "monthly" };
                format!("{whose} {period} budget of ${limit:.2} is spent (${spent:.4} so far); it resets in {secs} s")
            }
            (_, None) => format!("{whose} budget is spent; it resets in {secs} s"),
        }
    }
}

/// A token bucket: `tokens` refill at the rate up to the bucket size; a call takes one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    /// Seconds on the caller's monotonic clock when `tokens` was last brought up to date.
    at: f64,
}

impl TokenBucket {
    /// A full bucket at `now` (seconds on a monotonic clock).
    pub fn full(limits: &Limits, now: f64) -> Self {
        Self { tokens: limits.bucket_size(), at: now }
    }

    /// Takes one token at `now`, or says how long until one is there. Without a rate, always
    /// succeeds.
    pub fn take(&mut self, limits: &Limits, now: f64) -> Result<(), Duration> {
        let Some(rate) = limits.requests_per_second else { return Ok(()) };
        let size = limits.bucket_size();
        let elapsed = (now - self.at).max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(size);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(((1.0 - self.tokens) / rate).max(0.001)))
        }
    }
}

/// The first UTC day of the month `day` is in.
pub fn month_start(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// The time from `now` to the next UTC midnight.
pub fn until_next_day(now: DateTime<Utc>) -> Duration {
    let next = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    until(now, next)
}

/// The time from `now` to the first of the next UTC month.
pub fn until_next_month(now: DateTime<Utc>) -> Duration {
    let day = now.date_naive();
    let next = if day.month() == 12 {
        NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)
    };
    until(now, next.unwrap_or(day))
}

fn until(now: DateTime<Utc>, day: NaiveDate) -> Duration {
    let midnight = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    (midnight - now).to_std().unwrap_or(Duration::from_secs(1))
}

/// Whether spend `today` and `this_month` (dollars) leave room under `limits` at `now`. A budget is
/// spent once the spend reaches it; calls already running finish (a budget is checked before a
/// call, and its cost is known only after it).
pub fn check_budget(
    limits: &Limits,
    scope: Scope,
    today: f64,
    this_month: f64,
    now: DateTime<Utc>,
) -> Result<(), Exceeded> {
    if let Some(limit) = limits.daily_usd
        && today >= limit
    {
        return Err(Exceeded {
            scope,
            kind: LimitKind::DailyBudget,
            retry_after: until_next_day(now),
            spent_usd: Some((limit, today)),
        });
    }
    if let Some(limit) = limits.monthly_usd
        && this_month >= limit
    {
        return Err(Exceeded {
            scope,
            kind: LimitKind::MonthlyBudget,
            retry_after: until_next_month(now),
            spent_usd: Some((limit, this_month)),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(rps: f64, burst: Option<u32>) -> Limits {
        Limits { requests_per_second: Some(rps), burst, ..Limits::default() }
    }

    #[test]
    fn a_bucket_admits_its_burst_then_the_rate() {
        let limits = rate(2.0, Some(3));
        let mut bucket = TokenBucket::full(&limits, 0.0);
        for _ in 0..3 {
            assert_eq!(bucket.take(&limits, 0.0), Ok(()));
        }
        let wait = bucket.take(&limits, 0.0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(bucket.take(&limits, 0.5), Ok(()));
        assert!(bucket.take(&limits, 0.5).is_err());
        // A long pause refills to the bucket size, not beyond.
        for _ in 0..3 {
            assert_eq!(bucket.take(&limits, 100.0), Ok(()));
        }
        assert!(bucket.take(&limits, 100.0).is_err());
    }

    #[test]
    fn the_default_burst_is_one_second_of_rate_and_at_least_one() {
        assert_eq!(rate(10.0, None).bucket_size(), 10.0);
        assert_eq!(rate(0.2, None).bucket_size(), 1.0);
        let slow = rate(0.5, None);
        let mut bucket = TokenBucket::full(&slow, 0.0);
        assert_eq!(bucket.take(&slow, 0.0), Ok(()));
        assert_eq!(bucket.take(&slow, 0.0).unwrap_err(), Duration::from_secs(2));
        assert_eq!(bucket.take(&Limits::default(), 0.0), Ok(()), "no rate: no limit");
    }

    #[test]
    fn budgets_reset_at_utc_midnight_and_the_first_of_the_month() {
        let now = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(until_next_day(now), Duration::from_secs(3600));
        assert_eq!(until_next_month(now), Duration::from_secs(3600));
        let mid = Utc.with_ymd_and_hms(2026, 2, 10, 12, 0, 0).unwrap();
        assert_eq!(until_next_month(mid), Duration::from_secs((18 * 24 + 12) * 3600));
        assert_eq!(month_start(mid.date_naive()), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());

        let limits = Limits { daily_usd: Some(1.0), monthly_usd: Some(10.0), ..Limits::default() };
        assert_eq!(check_budget(&limits, Scope::Key, 0.99, 5.0, mid), Ok(()));
        let day = check_budget(&limits, Scope::Key, 1.0, 5.0, mid).unwrap_err();
        assert_eq!((day.kind, day.retry_after), (LimitKind::DailyBudget, Duration::from_secs(12 * 3600)));
        assert!(day.message().contains("daily budget of $1.00"), "{}", day.message());
        let month = check_budget(&limits, Scope::Project, 0.5, 10.0, mid).unwrap_err();
        assert_eq!((month.kind, month.scope), (LimitKind::MonthlyBudget, Scope::Project));
    }

    #[test]
    fn validation_refuses_nonsense_and_overrides_replace_per_key_limits() {
        let mut limits = GatewayLimits::default();
        assert!(limits.is_empty());
        limits.per_key = rate(5.0, None);
        limits.keys.insert("k1".into(), Limits { daily_usd: Some(2.0), ..Limits::default() });
        assert!(limits.validate().is_ok());
        assert_eq!(limits.for_key("k1").daily_usd, Some(2.0));
        assert_eq!(limits.for_key("k1").requests_per_second, None);
        assert_eq!(limits.for_key("k2").requests_per_second, Some(5.0));
        for bad in [
            Limits { requests_per_second: Some(0.0), ..Limits::default() },
            Limits { requests_per_second: Some(f64::NAN), ..Limits::default() },
            Limits { burst: Some(3), ..Limits::default() },
            Limits { requests_per_second: Some(1.0), burst: Some(0), ..Limits::default() },
            Limits { daily_usd: Some(-1.0), ..Limits::default() },
        ] {
            let policy = GatewayLimits { project: bad, ..GatewayLimits::default() };
            assert!(policy.validate().is_err(), "{bad:?}");
        }
    }
}
