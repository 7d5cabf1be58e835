//! Probes: an ICMP echo, retried when unanswered ([`icmp`]), a TCP connect, tried once
//! more when it times out ([`tcp`]), one HTTP(S) request ([`http`]) or one DNS query
//! ([`records`]), with host names resolved through a shared cache ([`dns`]). Every
//! failure is classified into a [`FailKind`] so the scheduler can decide what counts
//! toward DOWN, and rendered as the short text users see as an alert reason. No
//! scheduling here.

pub mod dns;
pub mod http;
pub mod icmp;
pub mod records;
pub mod tcp;

use std::io;
use std::net::IpAddr;
use std::time::Duration;

/// What kind of failure a probe had; decides how the scheduler treats it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailKind {
    /// No answer within the probe timeout.
    Timeout,
    /// The target actively refused (TCP RST).
    Refused,
    /// A router or the local stack said the host or network cannot be reached.
    Unreachable,
    /// The host name did not resolve.
    Dns,
    /// This process may not probe (no `CAP_NET_RAW`, or a local firewall refused the send).
    /// Never counts toward DOWN: the target is not at fault.
    Permission,
    /// Anything else.
    Other,
}

/// A classified probe failure. `Display` is the alert reason, worded as a person
/// would write it ("timed out after 2s", "connection refused", "host unreachable",
/// "dns: no such host"). Raw OS error texts ("No buffer space available (os error
/// 105)") never reach it: [`ProbeFailure::from_io`] maps each errno to such a text and
/// leaves the raw error to the debug log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// Classification.
    pub kind: FailKind,
    /// The variable part of the text (for `Unreachable`, `Dns`, `Permission`, `Other`;
    /// for `Timeout`, the probe timeout as people write it, e.g. `2s`, or empty).
    pub detail: String,
}

/// The result of one probe: the round-trip time, or why it failed.
pub type ProbeResult = Result<Duration, ProbeFailure>;

/// The requests one probe sent (echo requests, connect attempts) and which one was
/// answered. A probe that could not send anything (DNS, no raw socket) sent 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tries {
    /// Requests sent, retries included.
    pub sent: u8,
    /// Index of the request whose answer ended the probe (0 = the first).
    pub answered: Option<u8>,
}

impl Tries {
    /// One request, answered.
    pub const FIRST: Self = Self {
        sent: 1,
        answered: Some(0),
    };

    /// Replies received: 1 or 0 (a probe ends at its first answer).
    pub fn received(&self) -> u8 {
        u8::from(self.answered.is_some())
    }

    /// As the loss window counts them: the requests sent before the answered one are
    /// lost, those sent after it are not counted (their fate is unknown); with no
    /// answer, every one is lost.
    pub fn packets(&self) -> crate::domain::Packets {
        crate::domain::Packets {
            lost: self.answered.unwrap_or(self.sent),
            received: self.answered.is_some(),
        }
    }
}

/// A probe's result and the requests it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// RTT or failure.
    pub result: ProbeResult,
    /// Requests sent and answered.
    pub tries: Tries,
}

impl Probed {
    /// A probe that failed before sending anything.
    pub fn unsent(f: ProbeFailure) -> Self {
        Self {
            result: Err(f),
            tries: Tries::default(),
        }
    }
}

/// A probe that got an answer: how long it took and, when the answer was a poor one
/// (slow, a certificate near its expiry), why the target is DEGRADED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Time to the answer.
    pub rtt: Duration,
    /// Why the answer counts as DEGRADED, if it does.
    pub degraded: Option<Degraded>,
}

/// Why an answer counts as DEGRADED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Degraded {
    /// The reason users see ("certificate expires in 5 days").
    pub reason: String,
    /// How far the cause has gone, for causes announced once per step (a certificate's
    /// 14, 3 and 1 days as levels 1, 2, 3; higher is worse); see
    /// `Health::observe_stepped`.
    pub step: Option<std::num::NonZeroU8>,
}

impl From<Duration> for Answer {
    fn from(rtt: Duration) -> Self {
        Self { rtt, degraded: None }
    }
}

/// The result of one probe of any kind: its answer, or why it failed.
pub type Checked = Result<Answer, ProbeFailure>;

impl ProbeFailure {
    /// A failure of `kind` with `detail`.
    pub fn new(kind: FailKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// No answer in time (the limit unknown: an OS-level `ETIMEDOUT`).
    pub fn timeout() -> Self {
        Self::new(FailKind::Timeout, "")
    }

    /// No answer within the probe timeout `after` ("timed out after 2s").
    pub fn timed_out(after: Duration) -> Self {
        // Whole milliseconds: a 1.5 s timeout reads "1s 500ms", never nanoseconds.
        let ms = Duration::from_millis(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
        Self::new(FailKind::Timeout, humantime::format_duration(ms).to_string())
    }

    /// Connection refused.
    pub fn refused() -> Self {
        Self::new(FailKind::Refused, "")
    }

    /// Unreachable, with what exactly ("host unreachable", "network unreachable", …).
    pub fn unreachable(detail: impl Into<String>) -> Self {
        Self::new(FailKind::Unreachable, detail)
    }

    /// Name resolution failed.
    pub fn dns(detail: impl Into<String>) -> Self {
        Self::new(FailKind::Dns, detail)
    }

    /// Not allowed to probe.
    pub fn permission(detail: impl Into<String>) -> Self {
        Self::new(FailKind::Permission, detail)
    }

    /// Anything else.
    pub fn other(detail: impl Into<String>) -> Self {
        Self::new(FailKind::Other, detail)
    }

    /// Classifies an I/O error from `connect`, `sendto` and friends into a text a
    /// person would write ([`io_text`]); the raw error goes to the debug log only. (A
    /// missing `CAP_NET_RAW` is found when the ICMP sockets are opened, not here.)
    pub fn from_io(e: &io::Error) -> Self {
        let f = match e.raw_os_error() {
            Some(n) => io_text(n),
            None => match e.kind() {
                io::ErrorKind::ConnectionRefused => Self::refused(),
                io::ErrorKind::HostUnreachable => Self::unreachable(HOST_UNREACHABLE),
                io::ErrorKind::NetworkUnreachable => Self::unreachable("network unreachable"),
                io::ErrorKind::TimedOut => Self::timeout(),
                io::ErrorKind::PermissionDenied => Self::unreachable(BLOCKED),
                io::ErrorKind::ConnectionReset => Self::other("connection reset"),
                io::ErrorKind::ConnectionAborted => Self::other("connection aborted"),
                _ => Self::other(NETWORK_ERROR),
            },
        };
        tracing::debug!(error = %e, reason = %f, "probe I/O error");
        f
    }
}

/// The person-readable failure for OS error number `errno` (Linux numbering, through
/// `libc`). Anything not listed reads "network error"; the raw text is only logged.
pub fn io_text(errno: i32) -> ProbeFailure {
    match errno {
        libc::ECONNREFUSED => ProbeFailure::refused(),
        libc::EHOSTUNREACH | libc::EHOSTDOWN => ProbeFailure::unreachable(HOST_UNREACHABLE),
        // Linux answers a send to an on-link address whose neighbour (ARP/NDP) entry
        // never resolves with ENOBUFS once that entry's queue is full: the host is not
        // there. This is what a storm of dead hosts on one link produces.
        libc::ENOBUFS => ProbeFailure::unreachable(HOST_UNREACHABLE),
        libc::ENETUNREACH => ProbeFailure::unreachable("network unreachable"),
        libc::ENETDOWN => ProbeFailure::unreachable("network is down"),
        libc::ETIMEDOUT => ProbeFailure::timeout(),
        // Refused at send time by this host (a netfilter rule): the target is not
        // reachable from here, which is what the monitor exists to report.
        libc::EPERM | libc::EACCES => ProbeFailure::unreachable(BLOCKED),
        libc::ECONNRESET => ProbeFailure::other("connection reset"),
        libc::ECONNABORTED => ProbeFailure::other("connection aborted"),
        libc::EPIPE => ProbeFailure::other("connection closed"),
        libc::EADDRNOTAVAIL => ProbeFailure::other("no local address can reach this target"),
        libc::EADDRINUSE => ProbeFailure::other("no free local port"),
        libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT => ProbeFailure::other("this address family is not supported here"),
        libc::EMFILE | libc::ENFILE => ProbeFailure::other("too many open files on the monitoring host"),
        libc::ENOMEM => ProbeFailure::other("out of memory on the monitoring host"),
        _ => ProbeFailure::other(NETWORK_ERROR),
    }
}

/// Reason for a host the stack or a router says cannot be reached.
const HOST_UNREACHABLE: &str = "host unreachable";
/// Reason for an I/O error with no better text.
const NETWORK_ERROR: &str = "network error";
/// Reason for a send refused by this host's own firewall.
const BLOCKED: &str = "blocked by a local firewall rule";

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            FailKind::Timeout if self.detail.is_empty() => f.write_str("timed out"),
            FailKind::Timeout => write!(f, "timed out after {}", self.detail),
            FailKind::Refused => f.write_str("connection refused"),
            FailKind::Unreachable if self.detail.is_empty() => f.write_str(HOST_UNREACHABLE),
            FailKind::Dns => write!(f, "dns: {}", self.detail),
            FailKind::Permission => write!(f, "permission denied: {}", self.detail),
            FailKind::Unreachable | FailKind::Other => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for ProbeFailure {}

/// Picks the address to probe among `addrs`: the one in use if it is still listed (so a
/// monitor keeps its family and its ICMP identifier across re-resolutions), else the
/// first usable IPv4, else the first usable IPv6, else the first at all.
pub fn choose_addr(current: Option<IpAddr>, addrs: &[IpAddr], usable: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    if let Some(cur) = current.filter(|c| addrs.contains(c)) {
        return Some(cur);
    }
    addrs
        .iter()
        .find(|a| a.is_ipv4() && usable(**a))
        .or_else(|| addrs.iter().find(|a| a.is_ipv6() && usable(**a)))
        .or_else(|| addrs.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let os = |n| ProbeFailure::from_io(&io::Error::from_raw_os_error(n));
        assert_eq!(os(libc::ECONNREFUSED).kind, FailKind::Refused);
        assert_eq!(os(libc::EHOSTUNREACH).kind, FailKind::Unreachable);
        assert_eq!(os(libc::EPERM).kind, FailKind::Unreachable);
        assert_eq!(os(libc::ENOBUFS).kind, FailKind::Unreachable);
        assert_eq!(os(libc::ETIMEDOUT).kind, FailKind::Timeout);
        let custom = ProbeFailure::from_io(&io::Error::new(io::ErrorKind::ConnectionRefused, "x"));
        assert_eq!(custom.kind, FailKind::Refused);
        // An error with no OS number is not echoed either.
        let other = ProbeFailure::from_io(&io::Error::other("weird internal text"));
        assert_eq!(
            (other.kind, other.to_string()),
            (FailKind::Other, "network error".to_string())
        );
    }

    /// The errno table: every entry reads as a person writes it, and no text carries
    /// the OS's own wording or number.
    #[test]
    fn errno_texts_are_human() {
        let table = [
            (libc::ECONNREFUSED, "connection refused"),
            (libc::EHOSTUNREACH, "host unreachable"),
            (libc::EHOSTDOWN, "host unreachable"),
            (libc::ENOBUFS, "host unreachable"),
            (libc::ENETUNREACH, "network unreachable"),
            (libc::ENETDOWN, "network is down"),
            (libc::ETIMEDOUT, "timed out"),
            (libc::EPERM, "blocked by a local firewall rule"),
            (libc::EACCES, "blocked by a local firewall rule"),
            (libc::ECONNRESET, "connection reset"),
            (libc::ECONNABORTED, "connection aborted"),
            (libc::EPIPE, "connection closed"),
            (libc::EADDRNOTAVAIL, "no local address can reach this target"),
            (libc::EADDRINUSE, "no free local port"),
            (libc::EAFNOSUPPORT, "this address family is not supported here"),
            (libc::EMFILE, "too many open files on the monitoring host"),
            (libc::ENFILE, "too many open files on the monitoring host"),
            (libc::ENOMEM, "out of memory on the monitoring host"),
            (libc::EIO, "network error"),
            (libc::EPROTO, "network error"),
        ];
        for (errno, want) in table {
            let e = io::Error::from_raw_os_error(errno);
            let got = ProbeFailure::from_io(&e).to_string();
            assert_eq!(got, want, "errno {errno} ({e})");
            assert!(!got.contains("os error"), "{got}");
            // Not the OS's wording (ETIMEDOUT's "Connection timed out" vs "timed out").
            assert_ne!(got, e.to_string(), "errno {errno} echoes the OS text");
        }
    }

    #[test]
    fn display_is_the_alert_reason() {
        assert_eq!(ProbeFailure::timeout().to_string(), "timed out");
        assert_eq!(
            ProbeFailure::timed_out(Duration::from_secs(2)).to_string(),
            "timed out after 2s"
        );
        assert_eq!(
            ProbeFailure::timed_out(Duration::from_micros(1_500_400)).to_string(),
            "timed out after 1s 500ms"
        );
        assert_eq!(ProbeFailure::dns("no such host").to_string(), "dns: no such host");
        assert_eq!(
            ProbeFailure::permission("ICMP needs CAP_NET_RAW").to_string(),
            "permission denied: ICMP needs CAP_NET_RAW"
        );
        assert_eq!(ProbeFailure::unreachable("").to_string(), "host unreachable");
    }

    #[test]
    fn address_choice_prefers_current_then_v4() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v4b: IpAddr = "192.0.2.2".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let all = |_| true;
        assert_eq!(choose_addr(None, &[v6, v4], all), Some(v4));
        assert_eq!(choose_addr(Some(v6), &[v4, v6], all), Some(v6));
        assert_eq!(choose_addr(Some(v4b), &[v6, v4], all), Some(v4));
        assert_eq!(choose_addr(None, &[v6], all), Some(v6));
        assert_eq!(choose_addr(None, &[v4, v6], |a: IpAddr| a.is_ipv6()), Some(v6));
        assert_eq!(choose_addr(None, &[v4], |_| false), Some(v4));
        assert_eq!(choose_addr(None, &[], all), None);
    }
}
