//! Stripe-Signature verification: `t=<unix>,v1=<hex>` where v1 is HMAC-SHA256 of `"{t}.{body}"`
//! with the endpoint's secret. Any matching v1 under any configured secret passes (rotation),
//! compared in constant time, within a tolerance of the timestamp.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is more than 5 minutes away")]
    Stale,
    #[error("no signature matches the body with a configured secret")]
    Mismatch,
}

/// The `v1` signature of `body` at `t` under `secret`, in hex (what we send with our own
/// webhooks too).
pub fn v1(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `header` against the raw `body` with any of `secrets`, at time `now` (unix seconds).
pub fn verify(
    body: &[u8],
    header: Option<&str>,
    secrets: &[String],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        for sig in &signatures {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(t.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            // verify_slice compares in constant time.
            if mac.verify_slice(sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &[u8]) -> String {
        format!("t={t},v1={}", v1(secret, t, body))
    }

    #[test]
    fn a_signature_of_any_configured_secret_within_five_minutes_passes() {
        let body = br#"{"id":"evt_1"}"#;
        let secrets = vec!["whsec_old".to_string(), "whsec_new".to_string()];
        let now = 1_800_000_000;
        assert_eq!(
            verify(
                body,
                Some(&sign("whsec_new", now - 10, body)),
                &secrets,
                now
            ),
            Ok(())
        );
        assert_eq!(
            verify(body, Some(&sign("whsec_old", now, body)), &secrets, now),
            Ok(())
        );
        // Several v1 values, one of them right.
        let header = format!(
            "t={now},v1=00ff,{}",
            sign("whsec_new", now, body).split(',').nth(1).unwrap()
        );
        assert_eq!(verify(body, Some(&header), &secrets, now), Ok(()));
    }

    #[test]
    fn everything_else_is_refused_for_its_reason() {
        let body = br#"{"id":"evt_1"}"#;
        let secrets = vec!["whsec_right".to_string()];
        let now = 1_800_000_000;
        assert_eq!(
            verify(body, None, &secrets, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(body, Some("garbage"), &secrets, now),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(body, Some(&sign("whsec_wrong", now, body)), &secrets, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"{\"id\":\"evt_2\"}",
                Some(&sign("whsec_right", now, body)),
                &secrets,
                now
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                body,
                Some(&sign("whsec_right", now - 301, body)),
                &secrets,
                now
            ),
            Err(SignatureError::Stale)
        );
    }
}
