//! Target parsing: what a user types after `/add` or sends as `target` on the WS API,
//! turned into a probe kind, host and port. One parser for every front.

use std::net::IpAddr;

use super::kinds::MAX_URL;
use super::monitor::Kind;
use crate::i18n::{Msg, msg};

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
    /// The normalised URL of an http target.
    pub url: Option<String>,
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
    /// Unknown scheme prefix such as `ftp://`.
    #[error("unsupported scheme {0:?}: use a host, host:port, tcp://host:port or an http(s):// URL")]
    BadScheme(String),
    /// An http or dns target that does not fit its kind (the message says why).
    #[error("{0}")]
    Invalid(Msg),
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
            Some((scheme, _)) if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") => {
                return match kind {
                    None | Some(Kind::Http) => parse_url(s),
                    Some(k) => Err(TargetError::Invalid(msg!("err-target-url-kind", kind = k.as_str()))),
                };
            }
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "tcp" => (Some(Kind::Tcp), rest),
                "icmp" | "ping" => (Some(Kind::Ping), rest),
                other => return Err(TargetError::BadScheme(other.to_string())),
            },
            None => (None, s),
        };
        if kind == Some(Kind::Http) {
            return Err(TargetError::Invalid(msg!(
                "err-target-http-url",
                host = s.trim_end_matches('/')
            )));
        }
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
            Kind::Dns if port.is_some() || scheme_kind.is_some() => {
                Err(TargetError::Invalid(msg!("err-target-dns-port")))
            }
            Kind::Dns if host.parse::<IpAddr>().is_ok() => {
                Err(TargetError::Invalid(msg!("err-target-dns-address", host = host)))
            }
            Kind::Dns => Ok(Self {
                kind,
                host: host.trim_end_matches('.').to_ascii_lowercase(),
                port: None,
                url: None,
            }),
            Kind::Ping | Kind::Push => Ok(Self {
                kind,
                host,
                port: None,
                url: None,
            }),
            Kind::Tcp => Ok(Self {
                kind,
                host,
                port: Some(port.unwrap_or(DEFAULT_TCP_PORT)),
                url: None,
            }),
            // Returned above, before the host was split.
            Kind::Http => Err(TargetError::Invalid(msg!("err-target-http"))),
        }
    }

    /// The canonical text form: `host`, `host:port`, `[v6]:port`, or the URL.
    pub fn display(&self) -> String {
        match &self.url {
            Some(u) => u.clone(),
            None => format_target(&self.host, self.port),
        }
    }
}

/// An http(s) URL target: a host that is a name or a unicast address, no credentials
/// (they would show in every alert), no fragment; at most [`MAX_URL`] long.
fn parse_url(s: &str) -> Result<Target, TargetError> {
    let bad = |why: Msg| TargetError::Invalid(msg!("err-url", url = format!("{s:?}"), why = why));
    if s.len() > MAX_URL {
        return Err(bad(msg!("err-url-long", max = MAX_URL)));
    }
    // (The URL parser's own words stay English.)
    let mut url = url::Url::parse(s).map_err(|e| bad(Msg::raw(e.to_string())))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(msg!("err-url-credentials")));
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(v4)) => v4.to_string(),
        Some(url::Host::Ipv6(v6)) => v6.to_string(),
        None => return Err(bad(msg!("err-url-no-host"))),
    };
    validate_host(&host)?;
    url.set_fragment(None);
    Ok(Target {
        kind: Kind::Http,
        host,
        port: None,
        url: Some(url.to_string()),
    })
}

/// Parses a dns monitor's `server=`: `host`, `host:port`, `[v6]:port` or a bare IPv6
/// address (port 53 when none is given). Returns the canonical `host:port` form.
pub fn parse_server(s: &str) -> Result<String, TargetError> {
    let (host, port) = split_host_port(s.trim())?;
    validate_host(&host)?;
    Ok(format_target(&host, Some(port.unwrap_or(53))))
}

/// Host and port of a canonical `server` value (see [`parse_server`]).
pub fn split_server(s: &str) -> (String, u16) {
    match split_host_port(s) {
        Ok((h, p)) => (h, p.unwrap_or(53)),
        Err(_) => (s.to_string(), 53),
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
            "ftp://x",
            "http://user:pw@x/",
            "https://",
            "https://0.0.0.0/",
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
    fn urls_and_dns_names() {
        let t = Target::parse("HTTPS://Example.COM:8443/health?x=1#frag", None, None).unwrap();
        assert_eq!(t.kind, Kind::Http);
        assert_eq!(t.host, "example.com");
        assert_eq!(t.display(), "https://example.com:8443/health?x=1");
        let t = Target::parse("http://[::1]:8080/", Some(Kind::Http), None).unwrap();
        assert_eq!((t.host.as_str(), t.url.as_deref()), ("::1", Some("http://[::1]:8080/")));
        assert!(Target::parse("example.com/health", Some(Kind::Http), None).is_err());
        assert!(Target::parse("https://x", Some(Kind::Tcp), None).is_err());
        let t = Target::parse("Example.com.", Some(Kind::Dns), None).unwrap();
        assert_eq!((t.kind, t.host.as_str(), t.port), (Kind::Dns, "example.com", None));
        assert!(Target::parse("example.com:53", Some(Kind::Dns), None).is_err());
        assert!(Target::parse("192.0.2.1", Some(Kind::Dns), None).is_err());
        assert_eq!(parse_server("127.0.0.53").unwrap(), "127.0.0.53:53");
        assert_eq!(parse_server("[::1]:5353").unwrap(), "[::1]:5353");
        assert_eq!(parse_server("::1").unwrap(), "[::1]:53");
        assert_eq!(parse_server("dns.lan:54").unwrap(), "dns.lan:54");
        assert!(parse_server("dns.lan:0").is_err() && parse_server("0.0.0.0").is_err());
        assert_eq!(split_server("[::1]:5353"), ("::1".to_string(), 5353));
    }

    /// The refusals of http and dns targets are messages of the catalogues: English as
    /// it always read (the WS API, the CLI), a chat's language in a chat.
    #[test]
    fn url_and_name_errors_read_as_before_and_translate() {
        let err = |s: &str, k| Target::parse(s, k, None).unwrap_err();
        let long = format!("https://a.test/{}", "x".repeat(MAX_URL));
        let cases = [
            (
                err("https://x", Some(Kind::Tcp)),
                "a URL is an http target, not tcp".to_string(),
            ),
            (
                err("example.com/", Some(Kind::Http)),
                "an http target is a URL, e.g. https://example.com/health".into(),
            ),
            (
                err("example.com:53", Some(Kind::Dns)),
                "a dns target is a name to look up (give the server as server=host:port)".into(),
            ),
            (
                err("192.0.2.1", Some(Kind::Dns)),
                "a dns target is a name to look up, not an address (192.0.2.1)".into(),
            ),
            (
                err("http://ana:pw@h.test/", None),
                "invalid URL \"http://ana:pw@h.test/\": credentials in the URL are not supported".into(),
            ),
            (
                err(&long, None),
                format!("invalid URL {long:?}: longer than 2048 characters"),
            ),
            (err("http://", None), "invalid URL \"http://\": empty host".into()),
        ];
        for (e, english) in cases {
            assert_eq!(e.to_string(), english);
        }
        let TargetError::Invalid(m) = err("http://ana:pw@h.test/", None) else {
            panic!("an http target error");
        };
        assert_eq!(
            m.render(crate::i18n::Lang::Ru),
            "неверный URL \"http://ana:pw@h.test/\": логин и пароль в URL не поддерживаются"
        );
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
