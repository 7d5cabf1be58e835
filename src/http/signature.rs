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
//!   be within [`TOLERANCE`] of the server clock in either direction and each id is
//!   accepted once per monitor ([`ReplayCache`]).
//!
//! When the Standard Webhooks headers are present they are the only thing checked (no
//! fallback to the replayable scheme). MACs are compared in constant time by
//! `hmac`'s `verify_slice`, after decoding to the fixed 32 bytes.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::MonitorId;

type HmacSha256 = Hmac<Sha256>;

/// Largest clock difference accepted for `webhook-timestamp`, either direction.
pub const TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// How long a `webhook-id` is remembered (twice the window, so any id that could still
/// pass the timestamp check is still remembered).
pub const REPLAY_TTL: Duration = Duration::from_secs(10 * 60);
/// Most ids remembered at once (bounded memory: about 100 bytes each). Past it the
/// oldest are forgotten early; producing that many valid signatures needs the secret.
pub const REPLAY_CAP: usize = 100_000;
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

/// Which scheme a request was verified with (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `X-Webhook-Signature`.
    Simple,
    /// Standard Webhooks headers.
    Standard,
}

/// `webhook-id`s seen recently, per monitor.
#[derive(Default)]
pub struct ReplayCache {
    inner: Mutex<ReplayInner>,
}

#[derive(Default)]
struct ReplayInner {
    seen: HashSet<(MonitorId, String)>,
    /// Insertion order, for expiry and the cap.
    order: VecDeque<(Instant, MonitorId, String)>,
}

impl ReplayCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `msg_id` for `monitor`; `false` if it was already there (a replay).
    pub fn first_use(&self, monitor: MonitorId, msg_id: &str, now: Instant) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((at, _, _)) = g.order.front() {
            if now.saturating_duration_since(*at) < REPLAY_TTL && g.order.len() < REPLAY_CAP {
                break;
            }
            if let Some((_, m, id)) = g.order.pop_front() {
                g.seen.remove(&(m, id));
            }
        }
        let key = (monitor, msg_id.to_string());
        if g.seen.contains(&key) {
            return false;
        }
        g.seen.insert(key);
        g.order.push_back((now, monitor, msg_id.to_string()));
        true
    }

    /// Ids currently remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).seen.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
/// seconds; `replay` remembers Standard Webhooks ids.
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_unix: i64,
    replay: &ReplayCache,
    monitor: MonitorId,
) -> Result<Scheme, SigError> {
    if let Some(sigs) = header(headers, "webhook-signature")? {
        return verify_standard(secret, headers, sigs, body, now_unix, replay, monitor).map(|()| Scheme::Standard);
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
    Ok(Scheme::Simple)
}

fn verify_standard(
    secret: &str,
    headers: &HeaderMap,
    sigs: &str,
    body: &[u8],
    now_unix: i64,
    replay: &ReplayCache,
    monitor: MonitorId,
) -> Result<(), SigError> {
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
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|_| secret.as_bytes().to_vec()),
        None => secret.as_bytes().to_vec(),
    };
    let mut signed = mac(&key);
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
    if !replay.first_use(monitor, id, Instant::now()) {
        return Err(SigError::Replayed);
    }
    Ok(())
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

    const M: MonitorId = MonitorId(1);

    #[test]
    fn simple_scheme_github_vector() {
        // GitHub's documented example.
        let (secret, body) = ("It's a Secret to Everybody", b"Hello, World!");
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let r = ReplayCache::new();
        for h in [
            headers(&[("x-webhook-signature", hex)]),
            headers(&[("x-webhook-signature", &format!("sha256={hex}"))]),
            headers(&[("x-webhook-signature", &hex.to_uppercase())]),
            headers(&[("x-hub-signature-256", &format!("sha256={hex}"))]),
        ] {
            assert_eq!(verify(secret, &h, body, 0, &r, M), Ok(Scheme::Simple));
        }
        let bad = format!("{}0", &hex[..63]);
        assert_eq!(
            verify(secret, &headers(&[("x-webhook-signature", &bad)]), body, 0, &r, M),
            Err(SigError::Mismatch)
        );
        assert_eq!(
            verify(
                secret,
                &headers(&[("x-webhook-signature", hex)]),
                b"Hello, World?",
                0,
                &r,
                M
            ),
            Err(SigError::Mismatch)
        );
        assert!(matches!(
            verify(secret, &headers(&[("x-webhook-signature", "xyz")]), body, 0, &r, M),
            Err(SigError::Malformed(_))
        ));
        assert_eq!(
            verify(secret, &HeaderMap::new(), body, 0, &r, M),
            Err(SigError::Missing)
        );
    }

    #[test]
    fn standard_webhooks_vector_window_and_replay() {
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
        let r = ReplayCache::new();
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        // rotation: a list where only the second entry is valid
        let list = format!("v1,AAAA v1a,xyz {sig}");
        assert_eq!(
            verify(secret, &h(id, &list), body, ts + 299, &r, M),
            Ok(Scheme::Standard)
        );
        assert_eq!(verify(secret, &h(id, sig), body, ts, &r, M), Err(SigError::Replayed));
        // the same id for another monitor is not a replay
        assert_eq!(
            verify(secret, &h(id, sig), body, ts, &r, MonitorId(2)),
            Ok(Scheme::Standard)
        );
        let r = ReplayCache::new();
        assert_eq!(verify(secret, &h(id, sig), body, ts + 301, &r, M), Err(SigError::Stale));
        assert_eq!(verify(secret, &h(id, sig), body, ts - 301, &r, M), Err(SigError::Stale));
        assert_eq!(verify(secret, &h(id, sig), b"{}", ts, &r, M), Err(SigError::Mismatch));
        // a refused request does not burn the id
        assert_eq!(verify(secret, &h(id, sig), body, ts, &r, M), Ok(Scheme::Standard));
        assert!(matches!(
            verify(secret, &h(id, "v2,abc"), body, ts, &r, M),
            Err(SigError::Malformed(_))
        ));
        assert!(matches!(
            verify(secret, &headers(&[("webhook-signature", sig)]), body, ts, &r, M),
            Err(SigError::Malformed(_))
        ));
    }

    #[test]
    fn replay_cache_expires_and_is_bounded() {
        let r = ReplayCache::new();
        let t0 = Instant::now();
        assert!(r.first_use(M, "a", t0));
        assert!(!r.first_use(M, "a", t0 + Duration::from_secs(599)));
        assert!(r.first_use(M, "b", t0 + REPLAY_TTL + Duration::from_secs(1)));
        // "a" expired when "b" came in
        assert_eq!(r.len(), 1);
        for i in 0..REPLAY_CAP + 10 {
            r.first_use(M, &i.to_string(), t0 + REPLAY_TTL * 2);
        }
        assert!(r.len() <= REPLAY_CAP);
    }
}
