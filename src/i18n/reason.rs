//! Probe failure reasons in the chat's language.
//!
//! A reason is stored as English text with the monitor's state (`Health::reason`, the
//! outbox row's transition) and is what the WS API's `state` events, `/metrics`-side
//! tools and records written before translations existed carry. It is translated
//! only when a chat is told: [`localize`] recognises the texts upbot itself writes
//! (`connection refused`, `timed out after 2s`, `3 of 3 pings lost`, `no heartbeat
//! for 6m`, `dns: no such host`, `HTTP 503 Service Unavailable (expected 200-299)`,
//! `certificate expires in 5 days`, `NXDOMAIN: x.example does not exist`, …) and
//! renders their message in the chat's language (values such as an HTTP status name
//! or a TLS library's detail stay as written);
//! any other text (a push service's own message, a library's detail) is shown as it
//! was written.
//!
//! Why at render time and not a reason code stored beside the text: the English text
//! is already the stored and published form, so records of every age (and nodes of a
//! cluster on different versions) render the same without a schema change; the set of
//! texts is closed and made in a few places, and the test below runs every producer's
//! text through the recogniser, so a reworded producer fails the build instead of
//! silently falling back to English.

use super::{Arg, Lang, Msg, msg};

/// Texts that are a message as they are.
const PHRASES: &[(&str, &str)] = &[
    ("timed out", "reason-timed-out"),
    ("connection refused", "reason-refused"),
    ("host unreachable", "reason-host-unreachable"),
    ("network unreachable", "reason-network-unreachable"),
    ("network is down", "reason-network-down"),
    ("blocked by a local firewall rule", "reason-blocked"),
    ("connection reset", "reason-reset"),
    ("connection aborted", "reason-aborted"),
    ("connection closed", "reason-closed"),
    ("no local address can reach this target", "reason-no-local-address"),
    ("no free local port", "reason-no-local-port"),
    ("this address family is not supported here", "reason-no-family"),
    ("too many open files on the monitoring host", "reason-too-many-files"),
    ("out of memory on the monitoring host", "reason-out-of-memory"),
    ("network error", "reason-network-error"),
    ("communication administratively prohibited", "reason-prohibited"),
    ("destination unreachable", "reason-destination-unreachable"),
    ("time exceeded in transit", "reason-time-exceeded"),
    ("no such host", "reason-no-such-host"),
    ("no addresses", "reason-no-addresses"),
    ("lookup timed out", "reason-lookup-timed-out"),
    ("temporary failure in name resolution", "reason-dns-temporary"),
    ("ICMP needs CAP_NET_RAW", "reason-no-raw-socket"),
    ("reported down", "reason-reported-down"),
    ("reported degraded", "reason-reported-degraded"),
    ("push monitors are not probed", "reason-not-probed"),
    // http(s) monitors
    ("certificate expired", "reason-cert-expired"),
    ("certificate is not valid yet", "reason-cert-not-yet"),
    (
        "certificate not trusted: unknown issuer (self-signed, or signed by a private CA)",
        "reason-cert-untrusted",
    ),
    ("certificate revoked", "reason-cert-revoked"),
    ("certificate has a bad signature", "reason-cert-signature"),
    ("the server presented no certificate", "reason-no-certificate"),
    ("connection closed during the TLS handshake", "reason-tls-closed"),
    ("connection closed before the response", "reason-closed-early"),
    ("the server's answer is not valid HTTP", "reason-not-http"),
    ("HTTP request failed", "reason-http-failed"),
    ("body read failed", "reason-body-failed"),
    ("URL without a host", "reason-url-no-host"),
    ("redirect with an unreadable Location", "reason-redirect-unreadable"),
];

/// How the dns probe names the resolver when no `server` is set.
const SYSTEM_RESOLVER: &str = "the system resolver";

/// What the value in a text must be.
#[derive(Clone, Copy)]
enum Value {
    /// Anything (a library's or a server's words, a URL as written).
    Text,
    /// One word: a host, a name, a URL.
    Word,
    /// A DNS server: `host:port`, or the system resolver.
    Server,
}

/// Texts that are a prefix and then one value: (prefix, message, its variable, value).
const AFTER: &[(&str, &str, &str, Value)] = &[
    ("invalid certificate: ", "reason-cert-invalid", "detail", Value::Text),
    ("certificate is not valid for ", "reason-cert-name", "host", Value::Word),
    ("TLS handshake failed: ", "reason-tls-failed", "detail", Value::Text),
    ("invalid URL ", "reason-invalid-url", "url", Value::Word),
    (
        "redirect to an invalid URL ",
        "reason-redirect-invalid",
        "url",
        Value::Text,
    ),
    (
        "redirect to a URL that is not http(s): ",
        "reason-redirect-scheme",
        "url",
        Value::Text,
    ),
    ("SERVFAIL from ", "reason-servfail", "server", Value::Server),
    ("REFUSED by ", "reason-dns-refused", "server", Value::Server),
    ("DNS lookup failed: ", "reason-dns-failed", "detail", Value::Text),
    (
        "cannot read the system resolver configuration: ",
        "reason-resolver-config",
        "detail",
        Value::Text,
    ),
];

/// Texts that are one word and then a suffix: (suffix, message, its variable).
const BEFORE: &[(&str, &str, &str)] = &[
    (" is not a valid TLS server name", "reason-tls-name", "host"),
    (": no address allowed", "reason-no-address-allowed", "host"),
    (": no address", "reason-server-no-address", "host"),
    (" is not a DNS name", "reason-not-dns-name", "name"),
];

/// The message of a text of [`AFTER`] or [`BEFORE`].
fn affixed(reason: &str) -> Option<Msg> {
    let after = AFTER.iter().find_map(|(prefix, id, var, value)| {
        let v = reason.strip_prefix(prefix)?;
        let arg = match value {
            Value::Text => Arg::from(v),
            Value::Word => Arg::from(word(v)?),
            Value::Server => server(v)?,
        };
        Some(Msg::new(id).with(var, arg))
    });
    after.or_else(|| {
        BEFORE.iter().find_map(|(suffix, id, var)| {
            let v = word(reason.strip_suffix(suffix)?)?;
            Some(Msg::new(id).with(var, v))
        })
    })
}

/// The other texts of http(s) and dns monitors that carry values, tried in order (the
/// more specific first). Each returns `None` when the text is not its form.
const PATTERNS: &[fn(&str) -> Option<Msg>] = &[
    |r| {
        let (status, expected) = r.strip_prefix("HTTP ")?.strip_suffix(')')?.split_once(" (expected ")?;
        Some(msg!("reason-http-status", status = status, expected = expected))
    },
    |r| {
        let n: u64 = r.strip_prefix("more than ")?.strip_suffix(" redirects")?.parse().ok()?;
        Some(msg!("reason-http-redirects", count = n))
    },
    |r| {
        let k = r
            .strip_prefix("keyword \"")?
            .strip_suffix("\" not found in the response")?;
        Some(msg!("reason-keyword-missing", keyword = k))
    },
    |r| {
        let k = r
            .strip_prefix("keyword \"")?
            .strip_suffix("\" found in the response (must not be)")?;
        Some(msg!("reason-keyword-present", keyword = k))
    },
    |r| {
        let (took, limit) = r
            .strip_prefix("slow response: ")?
            .strip_suffix(')')?
            .split_once(" (degraded above ")?;
        Some(msg!(
            "reason-slow",
            took = shown_duration(took)?,
            limit = shown_duration(limit)?
        ))
    },
    |r| {
        let rest = r.strip_prefix("certificate expires in ")?;
        let n = rest.strip_suffix(" days").or_else(|| rest.strip_suffix(" day"))?;
        Some(msg!("reason-cert-expires", days = n.parse::<u64>().ok()?))
    },
    |r| {
        let (when, date) = r
            .strip_prefix("certificate expired ")?
            .strip_suffix(')')?
            .split_once(" (")?;
        if when == "today" {
            return Some(msg!("reason-cert-expired-today", date = date));
        }
        let ago = when.strip_suffix(" ago")?;
        let n = ago.strip_suffix(" days").or_else(|| ago.strip_suffix(" day"))?;
        Some(msg!(
            "reason-cert-expired-ago",
            days = n.parse::<u64>().ok()?,
            date = date
        ))
    },
    |r| {
        let (host, names) = r
            .strip_prefix("certificate is not valid for ")?
            .strip_suffix(')')?
            .split_once(" (it is for ")?;
        Some(msg!("reason-cert-name-other", host = host, names = names))
    },
    |r| {
        let alert = r
            .strip_prefix("TLS handshake refused by the server (alert ")?
            .strip_suffix(')')?;
        Some(msg!("reason-tls-alert", alert = alert))
    },
    // dns monitors
    |r| {
        let (rt, name) = r
            .strip_prefix("no ")?
            .strip_suffix(" (empty answer)")?
            .split_once(" record for ")?;
        Some(msg!("reason-dns-empty", type = record_type(rt)?, name = word(name)?))
    },
    |r| {
        let (asked, rest) = r.split_once(" is ")?;
        let (name, rt) = asked.split_once(' ')?;
        let (answer, expected) = rest.split_once(", expected ")?;
        Some(msg!(
            "reason-dns-mismatch",
            name = word(name)?,
            type = record_type(rt)?,
            answer = answer,
            expected = expected
        ))
    },
    |r| {
        let name = r.strip_prefix("NXDOMAIN: ")?.strip_suffix(" does not exist")?;
        Some(msg!("reason-nxdomain", name = word(name)?))
    },
    |r| {
        let (said, from) = r.rsplit_once(" from ")?;
        let (code, detail) = said.strip_suffix(')')?.split_once(" (")?;
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(msg!(
            "reason-dns-code",
            code = code,
            detail = detail,
            server = server(from)?
        ))
    },
    |r| {
        let s = r.strip_prefix("no DNS server to ask (")?.strip_suffix(')')?;
        Some(msg!("reason-no-dns-server", server = server(s)?))
    },
    |r| {
        let (after, s) = r.strip_prefix("timed out after ")?.split_once(" waiting for ")?;
        Some(msg!(
            "reason-dns-timeout",
            duration = shown_duration(after)?,
            server = server(s)?
        ))
    },
    // A failure met asking a DNS server: `connection refused (192.0.2.53:53)`.
    |r| {
        let (detail, s) = r.strip_suffix(')')?.rsplit_once(" (")?;
        recognize(detail)?;
        Some(msg!(
            "reason-at-server",
            detail = Arg::Reason(detail.to_string()),
            server = server(s)?
        ))
    },
];

/// A duration as [`crate::domain::duration::human`] shows it (`1.234s` too).
fn shown_duration(s: &str) -> Option<std::time::Duration> {
    let parse = crate::domain::duration::parse;
    parse(s).ok().or_else(|| parse(s.strip_suffix('s')?).ok())
}

/// One word (a host, a name, a URL): no spaces.
fn word(s: &str) -> Option<&str> {
    (!s.is_empty() && !s.contains(char::is_whitespace)).then_some(s)
}

/// A record type as the dns probe writes it (`A`, `MX`, …).
fn record_type(s: &str) -> Option<&str> {
    crate::domain::kinds::RecordType::parse(s).filter(|t| t.as_str() == s)?;
    Some(s)
}

/// The DNS server a reason names: `host:port`, or the system resolver (in words).
fn server(s: &str) -> Option<Arg> {
    if s == SYSTEM_RESOLVER {
        return Some(Msg::new("reason-system-resolver").into());
    }
    word(s).map(Arg::from)
}

/// `reason` (English, as stored) in `lang`; unknown texts as they are.
pub fn localize(lang: Lang, reason: &str) -> String {
    if lang == Lang::En {
        return reason.to_string();
    }
    recognize(reason).map_or_else(|| reason.to_string(), |m| m.render(lang))
}

/// The message a reason text is, if upbot wrote it.
pub fn recognize(reason: &str) -> Option<Msg> {
    if let Some((_, id)) = PHRASES.iter().find(|(text, _)| *text == reason) {
        return Some(Msg::new(id));
    }
    // Several reasons at once (an https monitor's expiring certificate and slow answer).
    if let Some((first, second)) = reason.split_once("; ") {
        if recognize(first).is_some() && recognize(second).is_some() {
            return Some(msg!(
                "reason-and",
                first = Arg::Reason(first.to_string()),
                second = Arg::Reason(second.to_string())
            ));
        }
    }
    if let Some(m) = affixed(reason).or_else(|| PATTERNS.iter().find_map(|p| p(reason))) {
        return Some(m);
    }
    let dur = |s: &str| crate::domain::duration::parse(s).ok();
    if let Some(d) = reason.strip_prefix("timed out after ").and_then(dur) {
        return Some(msg!("reason-timed-out-after", duration = d));
    }
    if let Some(d) = reason.strip_prefix("no heartbeat for ").and_then(dur) {
        return Some(msg!("reason-no-heartbeat", duration = d));
    }
    if let Some(rest) = reason.strip_suffix(" pings lost") {
        let (a, b) = rest.split_once(" of ")?;
        let n: u64 = a.parse().ok()?;
        return (b.parse::<u64>().ok()? == n).then(|| msg!("reason-pings-lost", count = n));
    }
    if let Some((pct, rest)) = reason.split_once("% loss over the last ") {
        let count: u64 = rest.strip_suffix(" probes")?.parse().ok()?;
        let pct: u64 = pct.parse().ok()?;
        return Some(msg!("reason-loss-window", pct = pct, count = count));
    }
    if let Some(detail) = reason.strip_prefix("dns: ") {
        return Some(msg!("reason-dns", detail = Arg::Reason(detail.to_string())));
    }
    if let Some(rest) = reason.strip_prefix("permission denied opening a raw ") {
        let (family, detail) = rest.split_once(" socket: ")?;
        return Some(msg!(
            "reason-raw-socket-denied",
            family = family,
            detail = Arg::Reason(detail.to_string())
        ));
    }
    if let Some(detail) = reason.strip_prefix("permission denied: ") {
        return Some(msg!("reason-permission", detail = Arg::Reason(detail.to_string())));
    }
    if let Some((ip, rule)) = reason.split_once(" is refused by the UPBOT_CHAT_TARGETS rule ") {
        return Some(msg!("reason-rule-refused", ip = ip, rule = rule));
    }
    if let Some(ip) = reason.strip_suffix(" is not allowed by any UPBOT_CHAT_TARGETS rule") {
        return Some(msg!("reason-rule-none", ip = ip));
    }
    if let Some(rest) = reason.strip_prefix("unexpected ICMP type ") {
        let (ty, code) = rest.split_once(" code ")?;
        return Some(msg!("reason-icmp-unexpected", type = ty, code = code));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ProbeFailure, io_text};
    use std::time::Duration;

    /// Every text a producer writes is recognised, so it reaches every chat translated.
    #[test]
    fn every_producer_text_is_recognised() {
        let mut texts: Vec<String> = [
            libc::ECONNREFUSED,
            libc::EHOSTUNREACH,
            libc::ENETUNREACH,
            libc::ENETDOWN,
            libc::ETIMEDOUT,
            libc::EPERM,
            libc::ECONNRESET,
            libc::ECONNABORTED,
            libc::EPIPE,
            libc::EADDRNOTAVAIL,
            libc::EADDRINUSE,
            libc::EAFNOSUPPORT,
            libc::EMFILE,
            libc::ENOMEM,
            libc::EIO,
        ]
        .into_iter()
        .map(|e| io_text(e).to_string())
        .collect();
        texts.extend(
            [
                ProbeFailure::timed_out(Duration::from_secs(2)),
                ProbeFailure::timed_out(Duration::from_millis(1500)),
                ProbeFailure::unreachable(""),
                ProbeFailure::unreachable("communication administratively prohibited"),
                ProbeFailure::unreachable("destination unreachable"),
                ProbeFailure::unreachable("time exceeded in transit"),
                ProbeFailure::dns("no such host"),
                ProbeFailure::dns("no addresses"),
                ProbeFailure::dns("lookup timed out"),
                ProbeFailure::dns("temporary failure in name resolution"),
                ProbeFailure::permission(crate::probe::icmp::NO_RAW_SOCKET),
                ProbeFailure::other("unexpected ICMP type 5 code 1"),
                ProbeFailure::other("push monitors are not probed"),
            ]
            .iter()
            .map(ToString::to_string),
        );
        let policy = crate::domain::policy::TargetPolicy::default_ref();
        texts.extend(policy.refusal("127.0.0.1".parse().unwrap()));
        texts.push("3 of 3 pings lost".into());
        texts.push(format!(
            "permission denied opening a raw ICMPv4 socket: {}",
            crate::probe::icmp::NO_RAW_SOCKET
        ));
        texts.push(format!(
            "no heartbeat for {}",
            crate::domain::duration::human(Duration::from_secs(363))
        ));
        texts.extend(["reported down".into(), "reported degraded".into()]);
        // The loss window's DEGRADED reason.
        let mut w = crate::domain::LossWindow::default();
        let s = crate::domain::PingSettings::default();
        for i in 0..20 {
            let p = crate::domain::Packets {
                lost: u8::from(i % 4 == 0),
                received: true,
            };
            w.step(&s, p, crate::domain::Outcome::Up, crate::domain::State::Up);
        }
        texts.push(w.reason());
        // http(s) and dns monitors: the pure producers, then the probes' texts as
        // they write them (probe::http, probe::records).
        let day = 86_400_000_i64;
        let now = 1_800_000_000_000_u64;
        for left in [5 * day, day / 2, -day / 2, -day - 1, -3 * day] {
            let v = crate::domain::kinds::cert_verdict(now as i64 + left, now, 14);
            match v {
                crate::domain::kinds::CertVerdict::Expiring { reason, .. } => texts.push(reason),
                crate::domain::kinds::CertVerdict::Expired(why) => texts.push(why),
                crate::domain::kinds::CertVerdict::Fine => panic!("{left}: fine"),
            }
        }
        let k = crate::domain::kinds::Keyword::parse("all \"good\"").unwrap();
        texts.extend(k.check(b"bad"));
        let k = crate::domain::kinds::Keyword::parse("!error").unwrap();
        texts.extend(k.check(b"an error"));
        texts.extend(
            [
                "HTTP 404 Not Found (expected 200-299)",
                "HTTP 599 (expected 200-299,301)",
                "more than 10 redirects",
                "slow response: 1.234s (degraded above 800ms)",
                "slow response: 2m 5s (degraded above 1m)",
                "certificate expires in 5 days; slow response: 900ms (degraded above 800ms)",
                "invalid URL http://a.test/x",
                "redirect with an unreadable Location",
                "redirect to an invalid URL \"http://[x\"",
                "redirect to a URL that is not http(s): ftp://c.test/",
                "body read failed",
                "HTTP request failed",
                "the server's answer is not valid HTTP",
                "connection closed before the response",
                "connection closed during the TLS handshake",
                "certificate expired",
                "certificate is not valid yet",
                "certificate not trusted: unknown issuer (self-signed, or signed by a private CA)",
                "certificate is not valid for a.test (it is for b.test, c.test)",
                "certificate is not valid for a.test",
                "certificate revoked",
                "certificate has a bad signature",
                "invalid certificate: BadEncoding",
                "TLS handshake refused by the server (alert HandshakeFailure)",
                "the server presented no certificate",
                "TLS handshake failed: peer is incompatible",
                "URL without a host",
                "a.test: no address allowed",
                "a.test is not a valid TLS server name",
                "dns.lan: no address",
                "a..b is not a DNS name",
                "no MX record for example.com (empty answer)",
                "example.com A is 192.0.2.1, 192.0.2.2, expected 192.0.2.9",
                "example.com TXT is v=spf1 -all, expected v=spf1, include",
                "NXDOMAIN: nx.example.com does not exist",
                "SERVFAIL from 127.0.0.1:53",
                "REFUSED by the system resolver",
                "NOTIMP (Not Implemented) from [::1]:53",
                "connection refused (127.0.0.1:5353)",
                "no DNS server to ask (the system resolver)",
                "timed out after 5s waiting for 127.0.0.53:53",
                "timed out after 300ms waiting for the system resolver",
                "DNS lookup failed: proto error",
                "cannot read the system resolver configuration: no such file",
            ]
            .map(String::from),
        );
        for t in &texts {
            let m = recognize(t).unwrap_or_else(|| panic!("{t:?} is not recognised"));
            // (A timeout's stored form is humantime's `1s 500ms`; the message's is `1.5s`.)
            if !t.starts_with("timed out after 1s ") {
                assert_eq!(m.render(Lang::En), *t, "English renders the stored text again");
            }
            for lang in [Lang::Pt, Lang::Ru, Lang::Ko] {
                let l = localize(lang, t);
                assert_ne!(l, "", "{t:?} in {lang}");
            }
        }
    }

    #[test]
    fn reasons_read_naturally_and_free_text_stays() {
        assert_eq!(localize(Lang::Ru, "connection refused"), "соединение отклонено");
        assert_eq!(localize(Lang::Ru, "3 of 3 pings lost"), "потеряны 3 из 3 пингов");
        assert_eq!(localize(Lang::Ru, "1 of 1 pings lost"), "потерян 1 из 1 пинга");
        assert_eq!(localize(Lang::Ko, "timed out after 2s"), "2초 안에 응답 없음");
        assert_eq!(localize(Lang::Pt, "no heartbeat for 6m"), "sem heartbeat há 6 min");
        assert_eq!(localize(Lang::Pt, "dns: no such host"), "dns: host inexistente");
        assert_eq!(
            localize(Lang::Ru, "27% loss over the last 20 probes"),
            "потери 27% за последние 20 проверок"
        );
        assert_eq!(
            localize(Lang::Pt, "27% loss over the last 20 probes"),
            "27% de perda nas últimas 20 verificações"
        );
        assert_eq!(
            localize(Lang::Ko, "27% loss over the last 20 probes"),
            "최근 검사 20회 동안 손실 27%"
        );
        assert_eq!(
            localize(Lang::Pt, "HTTP 503 Service Unavailable (expected 200-299)"),
            "HTTP 503 Service Unavailable (esperado 200-299)"
        );
        assert_eq!(
            localize(Lang::Ru, "keyword \"ok\" not found in the response"),
            "ключевое слово «ok» не найдено в ответе"
        );
        assert_eq!(
            localize(Lang::Ru, "certificate expires in 2 days"),
            "сертификат истекает через 2 дня"
        );
        assert_eq!(
            localize(
                Lang::Pt,
                "certificate expires in 5 days; slow response: 1.5s (degraded above 800ms)"
            ),
            "o certificado expira em 5 dias; resposta lenta: 1,5 s (DEGRADED acima de 800 ms)"
        );
        assert_eq!(
            localize(Lang::Ko, "SERVFAIL from the system resolver"),
            "시스템 리졸버의 SERVFAIL"
        );
        assert_eq!(
            localize(Lang::Ru, "connection refused (127.0.0.1:53)"),
            "соединение отклонено (127.0.0.1:53)"
        );
        assert_eq!(localize(Lang::Ru, "disk full"), "disk full", "a service's own words");
        assert_eq!(localize(Lang::Ru, "disk full; try later"), "disk full; try later");
        assert_eq!(localize(Lang::En, "anything"), "anything");
    }
}
