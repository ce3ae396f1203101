//! Signing deliveries and verifying signatures: `x-opm-signature: t=<unix seconds>,v1=<hex>`.
//!
//! `v1` is the lowercase hex HMAC-SHA256, keyed with the endpoint's secret, of the bytes
//! `<t>.<raw body>`: binding the timestamp into the MAC lets a receiver refuse replays of an old
//! delivery (the scheme Stripe uses). Verification compares in constant time (`hmac`'s `verify_slice`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::WebhookError;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-opm-signature";

/// How far from now a signature's timestamp may be by default in [`verify_signature`]: five minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

/// The `x-opm-signature` value for `body` sent at `timestamp` (unix seconds): `t=<timestamp>,v1=<hex>`.
pub fn signature_header(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let mac = signed_mac(secret, timestamp, body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks an `x-opm-signature` header against the raw request body.
///
/// Accepts when the header's `t` is within `tolerance` of `now` (either side) and one of its `v1`
/// values (several may be sent while a secret is being rotated) is the HMAC-SHA256 of `<t>.<body>`
/// under `secret`. Unknown keys are ignored so that later schemes can be added beside `v1`.
/// Pass the body exactly as received: re-serialized JSON will not match.
pub fn verify_signature(
    secret: &[u8],
    header_value: &str,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let malformed = |reason: &str| WebhookError::SignatureMalformed { reason: reason.to_owned() };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header_value.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(malformed("expected comma-separated `key=value` pairs"));
        };
        match key {
            "t" => {
                let seconds = value.parse::<u64>().map_err(|_| malformed("`t` is not a unix timestamp in seconds"))?;
                if timestamp.replace(seconds).is_some() {
                    return Err(malformed("`t` appears twice"));
                }
            }
            "v1" => signatures.push(hex::decode(value).map_err(|_| malformed("`v1` is not hexadecimal"))?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed("no `t=` timestamp"))?;
    if signatures.is_empty() {
        return Err(malformed("no `v1=` signature"));
    }
    let sent = UNIX_EPOCH + Duration::from_secs(timestamp);
    let age = now.duration_since(sent).unwrap_or_else(|early| early.duration());
    if age > tolerance {
        return Err(WebhookError::SignatureExpired { age, tolerance });
    }
    let expected = signed_mac(secret, timestamp, body);
    if signatures.iter().any(|signature| expected.clone().verify_slice(signature).is_ok()) {
        Ok(())
    } else {
        Err(WebhookError::SignatureMismatch)
    }
}

/// The HMAC state after absorbing `<timestamp>.<body>`.
fn signed_mac(secret: &[u8], timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = new_mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed first), so this never fails; the
    // fallback keeps the function total without a panic path.
    <HmacSha256 as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmac_hex(key: &[u8], message: &[u8]) -> String {
        let mut mac = new_mac(key);
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn rfc_4231_test_vectors() {
        // Test case 1.
        let key = [0x0b; 20];
        let expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
        assert_eq!(hmac_hex(&key, b"Hi There"), expected);
        // Test case 2.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hmac_hex(b"Jefe", b"what do ya want for nothing?"), expected);
        // Test case 6: a key longer than the block size.
        let key = [0xaa; 131];
        let expected = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
        assert_eq!(hmac_hex(&key, b"Test Using Larger Than Block-Size Key - Hash Key First"), expected);
    }

    #[test]
    fn the_header_signs_timestamp_dot_body() {
        // RFC 4231 test case 2 with the message split as `<t>.<body>`: "what do ya want for nothing?"
        // cannot be split that way, so check against the generic HMAC of the joined message instead.
        let header = signature_header(b"Jefe", 1_700_000_000, b"{\"id\":1}");
        let expected = hmac_hex(b"Jefe", b"1700000000.{\"id\":1}");
        assert_eq!(header, format!("t=1700000000,v1={expected}"));
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn verify_accepts_and_refuses() {
        let secret = b"0123456789abcdef0123";
        let body = br#"{"id":7,"event":"label.set"}"#;
        let header = signature_header(secret, 1_000, body);
        let tolerance = Duration::from_secs(300);
        assert_eq!(verify_signature(secret, &header, body, at(1_000), tolerance), Ok(()));
        assert_eq!(verify_signature(secret, &header, body, at(1_300), tolerance), Ok(()));
        assert_eq!(verify_signature(secret, &header, body, at(700), tolerance), Ok(()), "a clock behind");
        assert!(matches!(
            verify_signature(secret, &header, body, at(1_301), tolerance),
            Err(WebhookError::SignatureExpired { .. })
        ));
        let tampered = br#"{"id":8,"event":"label.set"}"#;
        assert_eq!(
            verify_signature(secret, &header, tampered, at(1_000), tolerance),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            verify_signature(b"another secret, same length", &header, body, at(1_000), tolerance),
            Err(WebhookError::SignatureMismatch)
        );
        // A replay with a fresh timestamp but the old MAC fails: the timestamp is signed.
        let v1 = header.split_once(",v1=").map(|(_, v1)| v1.to_owned()).unwrap_or_default();
        let replay = format!("t=2000,v1={v1}");
        assert_eq!(verify_signature(secret, &replay, body, at(2_000), tolerance), Err(WebhookError::SignatureMismatch));
    }

    #[test]
    fn verify_accepts_any_of_several_v1_and_ignores_unknown_keys() {
        let secret = b"0123456789abcdef";
        let body = b"{}";
        let good = signature_header(secret, 50, body);
        let v1 = good.split_once(",v1=").map(|(_, v1)| v1.to_owned()).unwrap_or_default();
        let header = format!("t=50, v0=zz, v1={}, v1={v1}", "00".repeat(32));
        assert_eq!(verify_signature(secret, &header, body, at(50), DEFAULT_TOLERANCE), Ok(()));
    }

    #[test]
    fn malformed_headers() {
        let check = |header: &str, reason: &str| {
            let error = verify_signature(b"0123456789abcdef", header, b"{}", at(0), DEFAULT_TOLERANCE);
            assert_eq!(error, Err(WebhookError::SignatureMalformed { reason: reason.to_owned() }), "{header}");
        };
        check("", "expected comma-separated `key=value` pairs");
        check("v1=00", "no `t=` timestamp");
        check("t=1", "no `v1=` signature");
        check("t=soon,v1=00", "`t` is not a unix timestamp in seconds");
        check("t=1,t=2,v1=00", "`t` appears twice");
        check("t=1,v1=xyz", "`v1` is not hexadecimal");
    }
}
