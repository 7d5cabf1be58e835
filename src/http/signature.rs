//! Webhook signature checks for push monitors that have a secret.
//!
//! Two schemes, both HMAC-SHA256 over the raw body bytes (never re-serialised JSON):
//! - simple: `X-Webhook-Signature: <hex>` or `sha256=<hex>` (`X-Hub-Signature-256` is
//!   accepted as an alias), key = the secret's UTF-8 bytes exactly as the user gave it,
//!   so `openssl dgst -sha256 -hmac "$SECRET"` produces it. It has no timestamp, so a
//!   captured request can be replayed; documented, and the reason the second scheme
//!   exists.
//! - Standard Webhooks v1: `webhook-id`, `webhook-timestamp`, `webhook-signature:
//!   v1,<base64> …`; signed content `{id}.{timestamp}.{body}`; key = base64 of the
//!   secret after `whsec_` (or its UTF-8 bytes without that prefix). The timestamp must
//!   be within [`TOLERANCE`] of the server clock in either direction. Each id is
//!   accepted once per monitor: [`verify`] hands it back ([`Verified::Standard`]) and
//!   the receiver records it in the store (`webhook_seen`) until the timestamp window
//!   closes, so a restart does not reopen it.
//!
//! When the Standard Webhooks headers are present they are the only thing checked (no
//! fallback to the replayable scheme). MACs are compared in constant time by
//! `hmac`'s `verify_slice`, after decoding to the fixed 32 bytes.

use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Largest clock difference accepted for `webhook-timestamp`, either direction.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// Longest `webhook-id` accepted.
pub const MAX_ID_LEN: usize = 256;

/// Why a request's signature was refused (all answered with 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// No signature header at all.
    #[error(
        "this webhook requires a signature: X-Webhook-Signature (hex HMAC-SHA256 of the body) or the Standard Webhooks headers"
    )]
    Missing,
    /// A header is present but unusable.
    #[error("{0}")]
    Malformed(&'static str),
    /// No signature matches.
    #[error("signature does not match")]
    Mismatch,
    /// `webhook-timestamp` is outside the window.
    #[error("webhook-timestamp is more than 5 minutes away from the server clock")]
    Stale,
    /// `webhook-id` was seen before.
    #[error("webhook-id was already used (replayed request)")]
    Replayed,
}

/// How a request was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// `X-Webhook-Signature` (no replay protection).
    Simple,
    /// Standard Webhooks headers: the id must now be recorded once
    /// ([`crate::store::Store::webhook_id_first_use`]), remembered until `expires`
    /// (Unix seconds), after which the timestamp check refuses it anyway.
    Standard {
        /// `webhook-id`.
        id: String,
        /// `webhook-timestamp` + [`TOLERANCE`].
        expires: u64,
    },
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, SigError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| SigError::Malformed("a signature header is not plain ASCII")),
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail; the
    // fallback only keeps the code panic-free.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()))
}

/// Checks a request to a monitor with `secret`. `now_unix` is the server clock in
/// seconds. A Standard Webhooks id is handed back, not recorded: the caller records
/// it once the request has passed its other gates (a request refused for its rate
/// must not burn an id its sender will retry with).
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8], now_unix: i64) -> Result<Verified, SigError> {
    if let Some(sigs) = header(headers, "webhook-signature")? {
        return verify_standard(secret, headers, sigs, body, now_unix);
    }
    let sig = match header(headers, "x-webhook-signature")? {
        Some(s) => s,
        None => header(headers, "x-hub-signature-256")?.ok_or(SigError::Missing)?,
    };
    let hex_sig = sig
        .strip_prefix("sha256=")
        .or_else(|| sig.strip_prefix("SHA256="))
        .unwrap_or(sig);
    let raw = hex::decode(hex_sig)
        .ok()
        .filter(|r| r.len() == 32)
        .ok_or(SigError::Malformed(
            "X-Webhook-Signature must be 64 hex digits (HMAC-SHA256), optionally prefixed sha256=",
        ))?;
    let mut m = mac(secret.as_bytes());
    m.update(body);
    m.verify_slice(&raw).map_err(|_| SigError::Mismatch)?;
    Ok(Verified::Simple)
}

/// The Standard Webhooks key of `secret`, as the official libraries derive it: the
/// base64-decoded bytes after `whsec_`. A secret without that prefix is used as its
/// UTF-8 bytes (what `openssl -hmac` does), so raw secrets keep working.
pub fn standard_key(secret: &str) -> Vec<u8> {
    match secret.strip_prefix("whsec_") {
        // Padding is optional in what people paste; the bytes are the same.
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64.trim_end_matches('=')))
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    }
}

fn verify_standard(
    secret: &str,
    headers: &HeaderMap,
    sigs: &str,
    body: &[u8],
    now_unix: i64,
) -> Result<Verified, SigError> {
    let need = "Standard Webhooks needs webhook-id, webhook-timestamp and webhook-signature";
    let id = header(headers, "webhook-id")?.ok_or(SigError::Malformed(need))?;
    let ts = header(headers, "webhook-timestamp")?.ok_or(SigError::Malformed(need))?;
    if id.is_empty() || id.len() > MAX_ID_LEN || id.contains('.') {
        return Err(SigError::Malformed(
            "webhook-id must be 1 to 256 characters without '.'",
        ));
    }
    let ts_n: i64 = ts
        .parse()
        .map_err(|_| SigError::Malformed("webhook-timestamp must be Unix seconds"))?;
    if now_unix.abs_diff(ts_n) > TOLERANCE.as_secs() {
        return Err(SigError::Stale);
    }
    let mut signed = mac(&standard_key(secret));
    signed.update(id.as_bytes());
    signed.update(b".");
    signed.update(ts.as_bytes());
    signed.update(b".");
    signed.update(body);
    let mut any_v1 = false;
    let mut ok = false;
    for entry in sigs.split_whitespace() {
        let Some(b64) = entry.strip_prefix("v1,") else { continue };
        any_v1 = true;
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            continue;
        };
        // Checked one by one (each in constant time); a list holds a few rotated keys.
        if signed.clone().verify_slice(&raw).is_ok() {
            ok = true;
        }
    }
    if !any_v1 {
        return Err(SigError::Malformed("webhook-signature has no v1,<base64> entry"));
    }
    if !ok {
        return Err(SigError::Mismatch);
    }
    Ok(Verified::Standard {
        id: id.to_string(),
        expires: u64::try_from(ts_n).unwrap_or(0).saturating_add(TOLERANCE.as_secs()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn simple_scheme_github_vector() {
        // GitHub's documented example.
        let (secret, body) = ("It's a Secret to Everybody", b"Hello, World!");
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        for h in [
            headers(&[("x-webhook-signature", hex)]),
            headers(&[("x-webhook-signature", &format!("sha256={hex}"))]),
            headers(&[("x-webhook-signature", &hex.to_uppercase())]),
            headers(&[("x-hub-signature-256", &format!("sha256={hex}"))]),
        ] {
            assert_eq!(verify(secret, &h, body, 0), Ok(Verified::Simple));
        }
        let bad = format!("{}0", &hex[..63]);
        assert_eq!(
            verify(secret, &headers(&[("x-webhook-signature", &bad)]), body, 0),
            Err(SigError::Mismatch)
        );
        assert_eq!(
            verify(secret, &headers(&[("x-webhook-signature", hex)]), b"Hello, World?", 0),
            Err(SigError::Mismatch)
        );
        assert!(matches!(
            verify(secret, &headers(&[("x-webhook-signature", "xyz")]), body, 0),
            Err(SigError::Malformed(_))
        ));
        assert_eq!(verify(secret, &HeaderMap::new(), body, 0), Err(SigError::Missing));
    }

    #[test]
    fn standard_webhooks_vector_and_window() {
        // The Standard Webhooks reference vector.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let ts = 1_614_265_330;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let h = |id: &str, sigs: &str| {
            headers(&[
                ("webhook-id", id),
                ("webhook-timestamp", &ts.to_string()),
                ("webhook-signature", sigs),
            ])
        };
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ok = Ok(Verified::Standard {
            id: id.into(),
            expires: ts as u64 + 300,
        });
        // rotation: a list where only the last entry is valid
        let list = format!("v1,AAAA v1a,xyz {sig}");
        assert_eq!(verify(secret, &h(id, &list), body, ts + 299), ok);
        assert_eq!(verify(secret, &h(id, sig), body, ts - 300), ok);
        assert_eq!(verify(secret, &h(id, sig), body, ts + 301), Err(SigError::Stale));
        assert_eq!(verify(secret, &h(id, sig), body, ts - 301), Err(SigError::Stale));
        assert_eq!(verify(secret, &h(id, sig), b"{}", ts), Err(SigError::Mismatch));
        assert!(matches!(
            verify(secret, &h("a.b", sig), body, ts),
            Err(SigError::Malformed(_))
        ));
        assert!(matches!(
            verify(secret, &h(id, "v2,abc"), body, ts),
            Err(SigError::Malformed(_))
        ));
        assert!(matches!(
            verify(secret, &headers(&[("webhook-signature", sig)]), body, ts),
            Err(SigError::Malformed(_))
        ));
    }

    #[test]
    fn standard_keys_follow_the_official_libraries() {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        let key = [0xA5u8; 32];
        // whsec_ + base64: the decoded bytes, padded or not
        assert_eq!(standard_key(&format!("whsec_{}", STANDARD.encode(key))), key);
        assert_eq!(standard_key(&format!("whsec_{}", STANDARD_NO_PAD.encode(key))), key);
        // a raw secret: its UTF-8 bytes, as openssl -hmac uses it
        assert_eq!(standard_key("s3cret"), b"s3cret");
    }
}
