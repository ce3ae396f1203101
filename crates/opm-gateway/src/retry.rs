//! Retry timing: exponential backoff with full jitter, and reading `Retry-After`.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::RetryPolicy;

/// The longest `Retry-After` the gateway waits for; a longer one ends the retries at that target.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The pause before retry number `retry` (1 = the first retry): a uniformly random duration between
/// zero and `min(max_delay, base_delay * 2^(retry-1))` ("full jitter").
pub(crate) fn backoff_delay(policy: &RetryPolicy, retry: u32) -> Duration {
    let cap = backoff_cap(policy, retry);
    if cap == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::random_range(0..=cap))
}

fn backoff_cap(policy: &RetryPolicy, retry: u32) -> u64 {
    let exponent = retry.saturating_sub(1).min(32);
    policy.base_delay_ms.saturating_mul(1_u64 << exponent).min(policy.max_delay_ms)
}

/// `Retry-After` as seconds or an HTTP date, or OpenAI's `retry-after-ms`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(millis) = header(headers, "retry-after-ms").and_then(|text| text.trim().parse::<f64>().ok())
        && millis.is_finite()
        && millis >= 0.0
    {
        return Some(Duration::from_secs_f64(millis / 1000.0));
    }
    let text = header(headers, RETRY_AFTER.as_str())?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below_it() {
        let policy = RetryPolicy { max_attempts: 5, base_delay_ms: 100, max_delay_ms: 350 };
        let caps: Vec<u64> = (1..=5).map(|retry| backoff_cap(&policy, retry)).collect();
        assert_eq!(caps, [100, 200, 350, 350, 350]);
        for retry in 1..=5 {
            for _ in 0..20 {
                assert!(backoff_delay(&policy, retry) <= Duration::from_millis(350));
            }
        }
        let zero = RetryPolicy { base_delay_ms: 0, ..policy };
        assert_eq!(backoff_delay(&zero, 3), Duration::ZERO);
        assert_eq!(backoff_cap(&policy, 200), 350, "huge retry numbers do not overflow");
    }

    #[test]
    fn retry_after_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date means now");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
