//! The retry policy: which answers are retried, and how long to wait before the next attempt
//! (exponential backoff with full jitter, or the receiver's `Retry-After`, both capped).

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// What an HTTP status means for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusClass {
    /// 2xx: the receiver has the event.
    Delivered,
    /// 408, 425, 429 and 5xx: try again later.
    Retryable,
    /// Any other status (other 4xx, and 1xx/3xx, since redirects are not followed): retrying would
    /// not help.
    Permanent,
}

/// Classifies a response status.
pub(crate) fn classify(status: StatusCode) -> StatusClass {
    match status.as_u16() {
        200..=299 => StatusClass::Delivered,
        408 | 425 | 429 | 500..=599 => StatusClass::Retryable,
        _ => StatusClass::Permanent,
    }
}

/// Exponential backoff: retry `n` (1 = the first retry) waits up to `initial × 2^(n-1)`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    /// Full jitter (a uniform draw between zero and the cap); off only in tests that time gaps.
    pub(crate) jitter: bool,
}

impl Backoff {
    /// The pause before retry `retry`: `Retry-After` when the receiver sent one, otherwise the
    /// jittered exponential backoff; never longer than `max`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max);
        }
        let cap = self.cap(retry);
        if !self.jitter || cap.is_zero() {
            return cap;
        }
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(0..=nanos))
    }

    /// The longest pause before retry `retry`.
    fn cap(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.initial.saturating_mul(1_u32 << exponent).min(self.max)
    }
}

/// `Retry-After` in whole seconds (the HTTP-date form is ignored: the backoff applies instead).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn statuses() {
        let check = |status: u16, expected: StatusClass| {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT);
            assert_eq!(classify(status), expected, "{status}");
        };
        for status in [200, 201, 202, 204, 299] {
            check(status, StatusClass::Delivered);
        }
        for status in [408, 425, 429, 500, 502, 503, 504, 599] {
            check(status, StatusClass::Retryable);
        }
        for status in [100, 301, 302, 307, 400, 401, 403, 404, 405, 409, 410, 413, 422] {
            check(status, StatusClass::Permanent);
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff = Backoff { initial: ms(100), max: ms(350), jitter: false };
        let delays: Vec<Duration> = (1..=5).map(|retry| backoff.delay(retry, None)).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(350), ms(350), ms(350)]);
        assert_eq!(backoff.delay(u32::MAX, None), ms(350), "huge retry numbers do not overflow");
        let huge = Backoff { initial: Duration::from_secs(u64::MAX / 2), max: Duration::MAX, jitter: false };
        assert_eq!(huge.delay(40, None), Duration::MAX, "saturates");
    }

    #[test]
    fn full_jitter_stays_below_the_cap_and_varies() {
        let backoff = Backoff { initial: ms(100), max: ms(350), jitter: true };
        for retry in 1..=5 {
            let cap = Backoff { jitter: false, ..backoff }.delay(retry, None);
            let draws: Vec<Duration> = (0..50).map(|_| backoff.delay(retry, None)).collect();
            assert!(draws.iter().all(|delay| *delay <= cap), "{draws:?} above {cap:?}");
            assert!(draws.iter().any(|delay| *delay != draws[0]), "no jitter: {draws:?}");
        }
        let zero = Backoff { initial: Duration::ZERO, max: ms(10), jitter: true };
        assert_eq!(zero.delay(3, None), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let backoff = Backoff { initial: ms(10), max: Duration::from_secs(5), jitter: true };
        assert_eq!(backoff.delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(backoff.delay(1, Some(Duration::from_secs(120))), Duration::from_secs(5));
        assert_eq!(backoff.delay(1, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn retry_after_header_forms() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
    }
}
