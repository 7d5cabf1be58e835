//! `upbot healthcheck`: a tiny HTTP/1.1 client for container HEALTHCHECKs, which run
//! inside the image where there is no curl or wget (and no shell to need one). It asks
//! `GET /healthz` of the local receiver and succeeds on 200 ("ok" or "degraded": a
//! server without ICMP still serves everything else, and restarting it would not
//! give it the capability).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long the whole check may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read (the `/healthz` body is a few hundred bytes).
const MAX_ANSWER: u64 = 64 * 1024;

/// Why the check failed (the message printed before exiting non-zero).
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Could not connect, send or read in time.
    #[error("{addr}: {source}")]
    Io {
        /// The receiver's address.
        addr: SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// Answered, but not 200.
    #[error("{addr}: /healthz answered {status_line:?}: {body}")]
    Unhealthy {
        /// The receiver's address.
        addr: SocketAddr,
        /// The HTTP status line.
        status_line: String,
        /// The body (the JSON saying what fails).
        body: String,
    },
}

/// Where to check: the configured `UPBOT_HTTP_ADDR`, with an unspecified address
/// (`0.0.0.0`, `::`, as in the container image) replaced by loopback.
pub fn target(http_addr: SocketAddr) -> SocketAddr {
    let mut a = http_addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    a
}

/// Runs the check against `http_addr` (see [`target`]); `Ok` with the body on 200.
pub fn check(http_addr: SocketAddr) -> Result<String, HealthError> {
    let addr = target(http_addr);
    let io = |source| HealthError::Io { addr, source };
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: upbot-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER).read_to_end(&mut raw).map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status_line = head.lines().next().unwrap_or("").to_string();
    let ok = status_line.split_whitespace().nth(1) == Some("200");
    if ok {
        Ok(body.to_string())
    } else {
        Err(HealthError::Unhealthy {
            addr,
            status_line,
            body: body.trim().to_string(),
        })
    }
}

/// The `upbot healthcheck` subcommand: reads the configuration as `serve` does (for
/// `UPBOT_HTTP_ADDR`), checks, prints the body; returns the exit code (0 healthy, 1
/// not, 2 configuration error).
pub fn main(config_file: Option<&std::path::Path>) -> u8 {
    let config = match crate::config::Config::load(config_file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("upbot healthcheck: configuration error: {e}");
            return 2;
        }
    };
    match check(config.http_addr) {
        Ok(body) => {
            println!("{}", body.trim());
            0
        }
        Err(e) => {
            eprintln!("upbot healthcheck: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_checked_on_loopback() {
        let t = |s: &str| target(s.parse().unwrap()).to_string();
        assert_eq!(t("0.0.0.0:8766"), "127.0.0.1:8766");
        assert_eq!(t("[::]:8766"), "[::1]:8766");
        assert_eq!(t("10.1.2.3:80"), "10.1.2.3:80");
    }
}
