//! Target parsing: what a user types after `/add` or sends as `target` on the WS API,
//! turned into a probe kind, host and port. One parser for every front.

use std::net::IpAddr;

use super::monitor::Kind;

/// Default TCP port when a tcp target names none (interface.md: 443).
pub const DEFAULT_TCP_PORT: u16 = 443;

/// A parsed target: kind, host (name or literal IP, without brackets) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Probe kind the target's syntax implies (or the explicit kind).
    pub kind: Kind,
    /// Host name or IP literal; IPv6 without brackets.
    pub host: String,
    /// Port for tcp targets.
    pub port: Option<u16>,
}

/// Why a target string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Nothing was given.
    #[error("target is empty")]
    Empty,
    /// The host part is not a valid host name or IP address.
    #[error("invalid host {0:?}: expected a host name, IPv4 or IPv6 address")]
    BadHost(String),
    /// The port is not a number in 1..=65535.
    #[error("invalid port {0:?}: expected 1-65535")]
    BadPort(String),
    /// A port was given for a kind that takes none.
    #[error("a ping target takes no port")]
    PortOnPing,
    /// Unknown scheme prefix such as `http://`.
    #[error("unsupported scheme {0:?}: use a host, host:port or tcp://host:port")]
    BadScheme(String),
    /// An address that names no single host: unspecified (`0.0.0.0`, `::`), broadcast
    /// or multicast.
    #[error("{0} is not a host address (unspecified, broadcast or multicast)")]
    NotUnicast(String),
}

impl Target {
    /// Parses a target string. `kind` forces a kind (from `kind=` / WS `kind`),
    /// `port` an explicit port. Without them the syntax decides: `host` or IP →
    /// ping; `host:port`, `[v6]:port` or `tcp://host[:port]` → tcp.
    pub fn parse(input: &str, kind: Option<Kind>, port: Option<u16>) -> Result<Self, TargetError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        let (scheme_kind, rest) = match s.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "tcp" => (Some(Kind::Tcp), rest),
                "icmp" | "ping" => (Some(Kind::Ping), rest),
                other => return Err(TargetError::BadScheme(other.to_string())),
            },
            None => (None, s),
        };
        let rest = rest.trim_end_matches('/');
        let (host, parsed_port) = split_host_port(rest)?;
        validate_host(&host)?;
        let kind = kind
            .or(scheme_kind)
            .unwrap_or(if parsed_port.is_some() || port.is_some() {
                Kind::Tcp
            } else {
                Kind::Ping
            });
        let port = port.or(parsed_port);
        match kind {
            Kind::Ping if port.is_some() => Err(TargetError::PortOnPing),
            Kind::Ping | Kind::Push => Ok(Self { kind, host, port: None }),
            Kind::Tcp => Ok(Self {
                kind,
                host,
                port: Some(port.unwrap_or(DEFAULT_TCP_PORT)),
            }),
        }
    }

    /// The canonical text form: `host`, `host:port` or `[v6]:port`.
    pub fn display(&self) -> String {
        format_target(&self.host, self.port)
    }
}

/// Formats host and optional port, bracketing IPv6 literals when a port follows.
pub fn format_target(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if host.contains(':') => format!("[{host}]:{p}"),
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

fn parse_port(p: &str) -> Result<u16, TargetError> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(TargetError::BadPort(p.to_string())),
    }
}

fn split_host_port(s: &str) -> Result<(String, Option<u16>), TargetError> {
    if let Some(inner) = s.strip_prefix('[') {
        let Some((host, after)) = inner.split_once(']') else {
            return Err(TargetError::BadHost(s.to_string()));
        };
        if after.is_empty() {
            return Ok((host.to_string(), None));
        }
        let Some(p) = after.strip_prefix(':') else {
            return Err(TargetError::BadHost(s.to_string()));
        };
        return Ok((host.to_string(), Some(parse_port(p)?)));
    }
    // A bare IPv6 literal has several colons and no port.
    if s.matches(':').count() > 1 {
        return Ok((s.to_string(), None));
    }
    match s.split_once(':') {
        Some((h, p)) => Ok((h.to_string(), Some(parse_port(p)?))),
        None => Ok((s.to_string(), None)),
    }
}

fn validate_host(host: &str) -> Result<(), TargetError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if is_unicast(ip) {
            Ok(())
        } else {
            Err(TargetError::NotUnicast(host.to_string()))
        };
    }
    let bad = || TargetError::BadHost(host.to_string());
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.is_empty() || name.len() > 253 || name.contains(':') {
        return Err(bad());
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(bad());
        }
    }
    // All-numeric dotted names that failed IP parsing (e.g. 999.1.1.1) are typos, not hosts.
    if name.split('.').all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return Err(bad());
    }
    Ok(())
}

/// Whether `ip` names one host: not unspecified, not broadcast, not multicast (probing
/// those either hits the local machine in disguise or sprays a network).
pub fn is_unicast(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok: &[(&str, Kind, &str, Option<u16>)] = &[
            ("10.0.0.1", Kind::Ping, "10.0.0.1", None),
            ("example.com", Kind::Ping, "example.com", None),
            ("db:5432", Kind::Tcp, "db", Some(5432)),
            ("tcp://db", Kind::Tcp, "db", Some(443)),
            ("tcp://db:22/", Kind::Tcp, "db", Some(22)),
            ("[::1]:8080", Kind::Tcp, "::1", Some(8080)),
            ("::1", Kind::Ping, "::1", None),
            ("[fd00::2]", Kind::Ping, "fd00::2", None),
            ("  127.0.0.1  ", Kind::Ping, "127.0.0.1", None),
            ("my_host.lan", Kind::Ping, "my_host.lan", None),
        ];
        for (input, kind, host, port) in ok {
            let t = Target::parse(input, None, None).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((t.kind, t.host.as_str(), t.port), (*kind, *host, *port), "{input}");
        }
        let bad = [
            "",
            "db:0",
            "db:99999",
            "db:x",
            "http://x",
            "a b",
            "999.1.1.1",
            "[::1",
            "-x.com",
            "[::1]x",
            "0.0.0.0",
            "::",
            "[::]:80",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "::ffff:0.0.0.0",
        ];
        for input in bad {
            assert!(Target::parse(input, None, None).is_err(), "{input} should fail");
        }
    }

    #[test]
    fn explicit_kind_and_port() {
        let t = Target::parse("db", Some(Kind::Tcp), None).unwrap();
        assert_eq!(t.port, Some(443));
        let t = Target::parse("db", None, Some(22)).unwrap();
        assert_eq!((t.kind, t.port), (Kind::Tcp, Some(22)));
        assert_eq!(
            Target::parse("db:22", Some(Kind::Ping), None),
            Err(TargetError::PortOnPing)
        );
        assert_eq!(
            Target::parse("::1", Some(Kind::Tcp), Some(80)).unwrap().display(),
            "[::1]:80"
        );
    }
}
