//! Probe failure reasons in the chat's language.
//!
//! A reason is stored as English text with the monitor's state (`Health::reason`, the
//! outbox row's transition) and is what the WS API's `state` events, `/metrics`-side
//! tools and records written before translations existed carry. It is translated
//! only when a chat is told: [`localize`] recognises the texts upbot itself writes
//! (`connection refused`, `timed out after 2s`, `3 of 3 pings lost`, `no heartbeat
//! for 6m`, `dns: no such host`, …) and renders their message in the chat's language;
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
];

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
        assert_eq!(localize(Lang::Ru, "disk full"), "disk full", "a service's own words");
        assert_eq!(localize(Lang::En, "anything"), "anything");
    }
}
