//! The settings of the `http` and `dns` monitor kinds and their pure rules: accepted
//! status lists, keywords, the certificate-expiry steps, DNS record types and how an
//! answer is matched against `expect`. No I/O: the probes in `crate::probe` apply
//! these to what the network said.
//!
//! Both kinds keep their settings out of the common [`super::Monitor`] record (boxed,
//! `None` for ping, tcp and push monitors), so monitors of the other kinds do not grow.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::i18n::{Msg, msg};

/// Default days before a certificate's expiry from which an https monitor is DEGRADED.
pub const DEFAULT_CERT_DAYS: u32 = 14;
/// Largest `cert_days`.
pub const MAX_CERT_DAYS: u32 = 365;
/// Longest keyword.
pub const MAX_KEYWORD: usize = 256;
/// Longest URL.
pub const MAX_URL: usize = 2048;

/// Settings of an `http` monitor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSettings {
    /// The URL probed (normalised: scheme and host in lower case, no fragment).
    pub url: String,
    /// `GET` (default) or `HEAD`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Status codes that count as up (default `200-299`).
    #[serde(default)]
    pub expect: StatusList,
    /// Text the body must (or, with `!`, must not) contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<Keyword>,
    /// Slower than this (the whole answer, body included) is DEGRADED.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::monitor::opt_ms")]
    pub degraded: Option<Duration>,
    /// DEGRADED from this many days before the certificate expires (0: only DOWN once
    /// it has expired).
    #[serde(default = "default_cert_days")]
    pub cert_days: u32,
    /// Verify the server's certificate (expiry is watched either way).
    #[serde(default = "yes")]
    pub tls_verify: bool,
}

fn default_cert_days() -> u32 {
    DEFAULT_CERT_DAYS
}

fn yes() -> bool {
    true
}

/// The request method of an http probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    /// Fetch the answer with its body.
    #[default]
    Get,
    /// Headers only (no keyword check possible).
    Head,
}

impl HttpMethod {
    /// `GET` or `HEAD`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }

    /// Parses `get`/`head`, any case.
    pub fn parse(s: &str) -> Result<Self, Msg> {
        match s.trim().to_ascii_uppercase().as_str() {
            "GET" => Ok(HttpMethod::Get),
            "HEAD" => Ok(HttpMethod::Head),
            _ => Err(msg!("err-method", got = format!("{s:?}"))),
        }
    }
}

/// Accepted HTTP status codes: ranges and single codes (`200-299,301`, `2xx`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList(Vec<(u16, u16)>);

impl Default for StatusList {
    fn default() -> Self {
        Self(vec![(200, 299)])
    }
}

impl StatusList {
    /// Parses `200-299,301`, `2xx,304`; every code must be 100-599.
    pub fn parse(s: &str) -> Result<Self, Msg> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || msg!("err-expect-status", part = format!("{part:?}"));
            let code = |t: &str| -> Result<u16, Msg> {
                match t.trim().parse::<u16>() {
                    Ok(c) if (100..=599).contains(&c) => Ok(c),
                    _ => Err(bad()),
                }
            };
            let range = if let Some((a, b)) = part.split_once('-') {
                (code(a)?, code(b)?)
            } else if part.len() == 3 && part[1..].eq_ignore_ascii_case("xx") {
                let hundreds = code(&format!("{}00", &part[..1]))?;
                (hundreds, hundreds + 99)
            } else {
                let c = code(part)?;
                (c, c)
            };
            if range.0 > range.1 {
                return Err(bad());
            }
            out.push(range);
        }
        if out.is_empty() {
            return Err(msg!("err-expect-codes"));
        }
        Ok(Self(out))
    }

    /// Whether `code` is accepted.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&code))
    }
}

impl fmt::Display for StatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, b)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

impl Serialize for StatusList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A keyword check: the body must contain `text`, or with `absent` must not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyword {
    /// The text, compared byte for byte (case-sensitive).
    pub text: String,
    /// `!text`: the body must not contain it.
    pub absent: bool,
}

impl Keyword {
    /// Parses `text` or `!text`.
    pub fn parse(s: &str) -> Result<Self, Msg> {
        let (absent, text) = match s.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if text.is_empty() {
            return Err(msg!("err-keyword-empty"));
        }
        if text.chars().count() > MAX_KEYWORD {
            return Err(msg!("err-keyword-long", max = MAX_KEYWORD));
        }
        if text.chars().any(char::is_control) {
            return Err(msg!("err-keyword-control"));
        }
        Ok(Self {
            text: text.to_string(),
            absent,
        })
    }

    /// Why `body` fails this check, if it does.
    pub fn check(&self, body: &[u8]) -> Option<String> {
        let found = memchr::memmem::find(body, self.text.as_bytes()).is_some();
        match (found, self.absent) {
            (false, false) => Some(format!("keyword \"{}\" not found in the response", self.text)),
            (true, true) => Some(format!("keyword \"{}\" found in the response (must not be)", self.text)),
            _ => None,
        }
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.absent {
            f.write_str("!")?;
        }
        f.write_str(&self.text)
    }
}

impl Serialize for Keyword {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Keyword {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a certificate's expiry means for the monitor at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertVerdict {
    /// More than `cert_days` left (or `cert_days` is 0 and it has not expired).
    Fine,
    /// Within `cert_days`: DEGRADED with `reason`; `step` is the threshold reached
    /// (`cert_days`, 3 or 1 days), announced once each.
    Expiring {
        /// "certificate expires in 5 days".
        reason: String,
        /// The threshold in days reached.
        step: u32,
    },
    /// Expired: DOWN with the reason.
    Expired(String),
}

const DAY_MS: i64 = 86_400_000;

/// Judges a certificate valid until `not_after_ms` at `now_ms` (both ms since the
/// epoch). Days left are rounded up, so a certificate made to last 5 days reads
/// "expires in 5 days" for all of its fifth-last day. The reason text changes once a
/// day, but the `step` only at the thresholds: `cert_days`, 3 and 1 days (those not
/// above `cert_days`), so the chat hears of it once at each.
pub fn cert_verdict(not_after_ms: i64, now_ms: u64, cert_days: u32) -> CertVerdict {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let left = not_after_ms.saturating_sub(now);
    if left <= 0 {
        let ago = (now - not_after_ms) / DAY_MS;
        let when = match ago {
            0 => "today".to_string(),
            1 => "1 day ago".to_string(),
            n => format!("{n} days ago"),
        };
        return CertVerdict::Expired(format!("certificate expired {when} ({})", date(not_after_ms)));
    }
    let days = u64::try_from((left + DAY_MS - 1) / DAY_MS).unwrap_or(u64::MAX);
    let step = [1, 3, cert_days]
        .into_iter()
        .filter(|t| *t <= cert_days)
        .find(|t| days <= u64::from(*t));
    match step {
        None => CertVerdict::Fine,
        Some(step) => CertVerdict::Expiring {
            reason: format!("certificate expires in {days} day{}", if days == 1 { "" } else { "s" }),
            step,
        },
    }
}

impl CertVerdict {
    /// The step as a level for the state machine: 1 at `cert_days`, 2 at 3 days, 3 at
    /// 1 day (higher is worse); `None` unless expiring.
    pub fn level(&self) -> Option<std::num::NonZeroU8> {
        match self {
            CertVerdict::Expiring { step: 1, .. } => std::num::NonZeroU8::new(3),
            CertVerdict::Expiring { step: 3, .. } => std::num::NonZeroU8::new(2),
            CertVerdict::Expiring { .. } => std::num::NonZeroU8::new(1),
            _ => None,
        }
    }
}

/// `2026-11-30` for a time in ms since the epoch (UTC).
pub fn date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

/// The DNS record types a `dns` monitor asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// IPv4 address.
    #[default]
    A,
    /// IPv6 address.
    Aaaa,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Canonical name.
    Cname,
}

impl RecordType {
    /// `A`, `AAAA`, `MX`, `TXT`, `CNAME`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Cname => "CNAME",
        }
    }

    /// Parses a type name, any case.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Some(RecordType::A),
            "AAAA" => Some(RecordType::Aaaa),
            "MX" => Some(RecordType::Mx),
            "TXT" => Some(RecordType::Txt),
            "CNAME" => Some(RecordType::Cname),
            _ => None,
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings of a `dns` monitor (the name asked for is the monitor's `host`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsSettings {
    /// The record type asked for (default A).
    #[serde(default)]
    pub record_type: RecordType,
    /// Records the answer must contain (normalised, see [`normalize_record`]); empty:
    /// any answer is up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
    /// The server to ask, `host:port`; `None`: the system resolver configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

impl DnsSettings {
    /// Parses `expect` for `rt`: a comma-separated list (a TXT value is one item and
    /// may hold commas). Each item is checked for the type and normalised.
    pub fn parse_expect(rt: RecordType, s: &str) -> Result<Vec<String>, Msg> {
        let items: Vec<&str> = match rt {
            RecordType::Txt => vec![s],
            _ => s.split(',').map(str::trim).filter(|p| !p.is_empty()).collect(),
        };
        if items.is_empty() || items.iter().all(|i| i.is_empty()) {
            return Err(msg!("err-expect-records"));
        }
        items.into_iter().map(|i| normalize_record(rt, i)).collect()
    }

    /// Which of the expected records `answer` (normalised records) lacks.
    pub fn missing<'a>(&'a self, answer: &[String]) -> Vec<&'a str> {
        self.expect
            .iter()
            .filter(|e| match self.record_type {
                RecordType::Txt => !answer.iter().any(|a| a.contains(e.as_str())),
                // An expected MX without a preference matches the name at any preference.
                RecordType::Mx => !answer
                    .iter()
                    .any(|a| a == *e || (!e.contains(' ') && a.split_once(' ').is_some_and(|(_, n)| n == *e))),
                _ => !answer.contains(e),
            })
            .map(String::as_str)
            .collect()
    }
}

/// One record value as compared: addresses in canonical form, names in lower case
/// without the final dot, MX as `preference name` or just `name` (an expected MX
/// without a preference matches any), TXT as is.
pub fn normalize_record(rt: RecordType, s: &str) -> Result<String, Msg> {
    let s = s.trim();
    let value = || format!("{s:?}");
    let name = |n: &str| -> Result<String, Msg> {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if n.is_empty() || n.len() > 253 || n.contains(char::is_whitespace) {
            return Err(msg!("err-expect-host", value = value()));
        }
        Ok(n)
    };
    match rt {
        RecordType::A => match s.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) => Ok(v4.to_string()),
            _ => Err(msg!("err-expect-a", value = value())),
        },
        RecordType::Aaaa => match s.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => Ok(v6.to_string()),
            _ => Err(msg!("err-expect-aaaa", value = value())),
        },
        RecordType::Cname => name(s),
        RecordType::Mx => match s.split_once(char::is_whitespace) {
            Some((pref, host)) => {
                let p: u16 = pref.parse().map_err(|_| msg!("err-expect-mx", value = value()))?;
                Ok(format!("{p} {}", name(host)?))
            }
            None => name(s),
        },
        RecordType::Txt if s.is_empty() => Err(msg!("err-expect-txt")),
        RecordType::Txt => Ok(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lists() {
        let l = StatusList::parse("200-299, 301").unwrap();
        assert!(l.contains(200) && l.contains(299) && l.contains(301));
        assert!(!l.contains(300) && !l.contains(404));
        assert_eq!(l.to_string(), "200-299,301");
        assert_eq!(StatusList::parse("2xx,404").unwrap().to_string(), "200-299,404");
        assert_eq!(StatusList::default().to_string(), "200-299");
        for bad in ["", "abc", "99", "600", "299-200", "2xy", "200-", ","] {
            assert!(StatusList::parse(bad).is_err(), "{bad}");
        }
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(json, "\"200-299,301\"");
        assert_eq!(serde_json::from_str::<StatusList>(&json).unwrap(), l);
    }

    #[test]
    fn keywords() {
        let k = Keyword::parse("healthy").unwrap();
        assert_eq!(k.check(b"all healthy here"), None);
        assert_eq!(
            k.check(b"degraded").as_deref(),
            Some("keyword \"healthy\" not found in the response")
        );
        let not = Keyword::parse("!error").unwrap();
        assert!(not.absent);
        assert_eq!(not.to_string(), "!error");
        assert_eq!(not.check(b"fine"), None);
        assert_eq!(
            not.check(b"an error").as_deref(),
            Some("keyword \"error\" found in the response (must not be)")
        );
        assert!(Keyword::parse("").is_err() && Keyword::parse("!").is_err());
        assert!(Keyword::parse(&"x".repeat(MAX_KEYWORD + 1)).is_err());
    }

    #[test]
    fn certificate_steps_change_only_at_14_3_and_1_days() {
        let now: u64 = 1_800_000_000_000;
        let at = |days: f64| now as i64 + (days * DAY_MS as f64) as i64;
        let v = |days: f64| cert_verdict(at(days), now, DEFAULT_CERT_DAYS);
        assert_eq!(v(30.0), CertVerdict::Fine);
        assert_eq!(v(14.1), CertVerdict::Fine);
        let step = |days: f64| match v(days) {
            CertVerdict::Expiring { step, .. } => step,
            other => panic!("{days}: {other:?}"),
        };
        // A certificate made for 5 days reads 5 days just after it was made.
        assert_eq!(
            v(5.0 - 1e-6),
            CertVerdict::Expiring {
                reason: "certificate expires in 5 days".into(),
                step: 14
            }
        );
        let steps: Vec<u32> = [14.0, 13.0, 7.5, 4.0, 3.0, 2.5, 1.5, 1.0, 0.5, 0.01]
            .iter()
            .map(|d| step(*d))
            .collect();
        assert_eq!(steps, [14, 14, 14, 14, 3, 3, 3, 1, 1, 1]);
        match v(0.5) {
            CertVerdict::Expiring { reason, .. } => assert_eq!(reason, "certificate expires in 1 day"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            v(-2.5),
            CertVerdict::Expired(format!("certificate expired 2 days ago ({})", date(at(-2.5))))
        );
        assert!(matches!(v(-0.1), CertVerdict::Expired(r) if r.starts_with("certificate expired today")));
        // cert_days below 3: the steps above it are skipped; 0 only reports expiry.
        assert!(matches!(cert_verdict(at(2.5), now, 2), CertVerdict::Fine));
        assert!(matches!(
            cert_verdict(at(1.5), now, 2),
            CertVerdict::Expiring { step: 2, .. }
        ));
        assert!(matches!(
            cert_verdict(at(0.5), now, 2),
            CertVerdict::Expiring { step: 1, .. }
        ));
        assert!(matches!(cert_verdict(at(0.5), now, 0), CertVerdict::Fine));
        assert!(matches!(cert_verdict(at(-0.5), now, 0), CertVerdict::Expired(_)));
        assert!(matches!(
            cert_verdict(at(40.0), now, 60),
            CertVerdict::Expiring { step: 60, .. }
        ));
        let level = |d: f64, cd: u32| cert_verdict(at(d), now, cd).level().map(u8::from);
        assert_eq!(
            [
                level(10.0, 14),
                level(2.0, 14),
                level(0.5, 14),
                level(1.5, 2),
                level(20.0, 14)
            ],
            [Some(1), Some(2), Some(3), Some(1), None]
        );
        assert_eq!(date(0), "1970-01-01");
    }

    /// The errors of the http and dns fields are messages of the catalogues: English as
    /// it always read (the WS API, the CLI), a chat's language in a chat.
    #[test]
    fn field_errors_read_as_before_and_translate() {
        use crate::i18n::Lang;
        let cases = [
            (
                HttpMethod::parse("post").unwrap_err(),
                "method must be GET or HEAD, got \"post\"",
            ),
            (
                StatusList::parse("20x").unwrap_err(),
                "expect: \"20x\" is not a status code, a range like 200-299, or 2xx",
            ),
            (
                StatusList::parse(" , ").unwrap_err(),
                "expect: give status codes, e.g. 200-299,301",
            ),
            (
                Keyword::parse("!").unwrap_err(),
                "keyword must not be empty (keyword=text, or keyword=!text for must-not-contain)",
            ),
            (
                Keyword::parse(&"x".repeat(MAX_KEYWORD + 1)).unwrap_err(),
                "keyword is longer than 256 characters",
            ),
            (
                Keyword::parse("a\tb").unwrap_err(),
                "keyword must not contain control characters",
            ),
            (
                DnsSettings::parse_expect(RecordType::Mx, "ten mail").unwrap_err(),
                "expect: \"ten mail\" is not an MX record (e.g. \"10 mail.example.com\")",
            ),
            (
                DnsSettings::parse_expect(RecordType::A, "::1").unwrap_err(),
                "expect: \"::1\" is not an IPv4 address (type A)",
            ),
            (
                DnsSettings::parse_expect(RecordType::Cname, " , ").unwrap_err(),
                "expect: give the records the answer must contain",
            ),
        ];
        for (m, english) in cases {
            assert_eq!(m.to_string(), english);
        }
        assert_eq!(
            HttpMethod::parse("post").unwrap_err().render(Lang::Pt),
            "method deve ser GET ou HEAD, veio \"post\""
        );
        assert_eq!(
            Keyword::parse(&"x".repeat(MAX_KEYWORD + 1))
                .unwrap_err()
                .render(Lang::Ru),
            "keyword длиннее 256 символов"
        );
        assert_eq!(
            DnsSettings::parse_expect(RecordType::A, "::1")
                .unwrap_err()
                .render(Lang::Ko),
            "expect: \"::1\" 은(는) IPv4 주소가 아닙니다(A 유형)"
        );
    }

    #[test]
    fn dns_expectations() {
        let s = |rt, e: &str| DnsSettings {
            record_type: rt,
            expect: DnsSettings::parse_expect(rt, e).unwrap(),
            server: None,
        };
        let a = s(RecordType::A, "192.0.2.1, 192.0.2.2");
        assert_eq!(a.missing(&["192.0.2.2".into(), "192.0.2.1".into()]), Vec::<&str>::new());
        assert_eq!(a.missing(&["192.0.2.1".into()]), ["192.0.2.2"]);
        assert!(DnsSettings::parse_expect(RecordType::A, "::1").is_err());
        assert!(DnsSettings::parse_expect(RecordType::Aaaa, "1.2.3.4").is_err());
        assert_eq!(
            DnsSettings::parse_expect(RecordType::Aaaa, "2001:DB8::0001").unwrap(),
            ["2001:db8::1"]
        );
        let mx = s(RecordType::Mx, "Mail.Example.com.");
        assert_eq!(mx.expect, ["mail.example.com"]);
        assert!(mx.missing(&["10 mail.example.com".into()]).is_empty());
        assert_eq!(mx.missing(&["10 other.example.com".into()]), ["mail.example.com"]);
        let mx10 = s(RecordType::Mx, "10 mail.example.com");
        assert_eq!(mx10.missing(&["20 mail.example.com".into()]), ["10 mail.example.com"]);
        assert_eq!(
            normalize_record(RecordType::Mx, "10 mail.example.com").unwrap(),
            "10 mail.example.com"
        );
        let txt = s(RecordType::Txt, "v=spf1, include");
        assert_eq!(txt.expect, ["v=spf1, include"]);
        assert!(txt.missing(&["v=spf1, include:x ~all".into()]).is_empty());
        assert!(DnsSettings::parse_expect(RecordType::Cname, " , ").is_err());
        assert_eq!(RecordType::parse("aaaa"), Some(RecordType::Aaaa));
        assert_eq!(RecordType::parse("SRV"), None);
    }
}
