//! Probes: one ICMP echo ([`icmp`]) or one TCP connect ([`tcp`]), with host names
//! resolved through a shared cache ([`dns`]). Every failure is classified into a
//! [`FailKind`] so the scheduler can decide what counts toward DOWN, and rendered as
//! the short text users see as an alert reason. No scheduling here.

pub mod dns;
pub mod icmp;
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

/// A classified probe failure. `Display` is the alert reason ("timeout",
/// "connection refused", "dns: no such host", …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// Classification.
    pub kind: FailKind,
    /// The variable part of the text (for `Unreachable`, `Dns`, `Permission`, `Other`).
    pub detail: String,
}

/// The result of one probe: the round-trip time, or why it failed.
pub type ProbeResult = Result<Duration, ProbeFailure>;

impl ProbeFailure {
    /// A failure of `kind` with `detail`.
    pub fn new(kind: FailKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// No answer in time.
    pub fn timeout() -> Self {
        Self::new(FailKind::Timeout, "")
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

    /// Classifies an I/O error from `connect`, `sendto` and friends. (A missing
    /// `CAP_NET_RAW` is found when the ICMP sockets are opened, not here.)
    pub fn from_io(e: &io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => return Self::refused(),
            Some(libc::EHOSTUNREACH) => return Self::unreachable("host unreachable"),
            Some(libc::ENETUNREACH) => return Self::unreachable("network unreachable"),
            Some(libc::ETIMEDOUT) => return Self::timeout(),
            // Refused at send time by this host (a netfilter rule): the target is not
            // reachable from here, which is what the monitor exists to report.
            Some(libc::EPERM | libc::EACCES) => return Self::unreachable(BLOCKED),
            _ => {}
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Self::refused(),
            io::ErrorKind::HostUnreachable => Self::unreachable("host unreachable"),
            io::ErrorKind::NetworkUnreachable => Self::unreachable("network unreachable"),
            io::ErrorKind::TimedOut => Self::timeout(),
            io::ErrorKind::PermissionDenied => Self::unreachable(BLOCKED),
            io::ErrorKind::ConnectionReset => Self::other("connection reset"),
            _ => Self::other(e.to_string()),
        }
    }
}

/// Reason for a send refused by this host's own firewall.
const BLOCKED: &str = "blocked by a local firewall rule";

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            FailKind::Timeout => f.write_str("timeout"),
            FailKind::Refused => f.write_str("connection refused"),
            FailKind::Unreachable if self.detail.is_empty() => f.write_str("host unreachable"),
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
        assert_eq!(os(libc::ENETUNREACH).to_string(), "network unreachable");
        assert_eq!(os(libc::EHOSTUNREACH).to_string(), "host unreachable");
        assert_eq!(os(libc::EPERM).kind, FailKind::Unreachable);
        assert_eq!(os(libc::EACCES).to_string(), "blocked by a local firewall rule");
        assert_eq!(os(libc::ETIMEDOUT).to_string(), "timeout");
        assert_eq!(os(libc::ECONNREFUSED).to_string(), "connection refused");
        let custom = ProbeFailure::from_io(&io::Error::new(io::ErrorKind::ConnectionRefused, "x"));
        assert_eq!(custom.kind, FailKind::Refused);
        let other = ProbeFailure::from_io(&io::Error::other("weird"));
        assert_eq!((other.kind, other.to_string()), (FailKind::Other, "weird".to_string()));
    }

    #[test]
    fn display_is_the_alert_reason() {
        assert_eq!(ProbeFailure::timeout().to_string(), "timeout");
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
