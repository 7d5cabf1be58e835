//! [`TargetPolicy`]: which addresses monitors added from a chat may probe
//! (`UPBOT_CHAT_TARGETS`). A chat must not turn upbot into a scanner of the host's own
//! loopback services or of the cloud metadata endpoint, so the policy is checked when
//! `/add` is typed and again on the resolved address at every probe (DNS rebinding
//! gains nothing). The operator (WS API, CLI) is not limited by it.
//!
//! Syntax: comma-separated CIDRs (a bare address is a /32 or /128), `!` in front to
//! deny. The first rule that contains the address decides; an address no rule contains
//! is refused. IPv4-mapped IPv6 addresses are read as the IPv4 address they carry.

use std::net::IpAddr;

use ipnet::IpNet;

/// The default policy (interface.md, "Chat safety"): anything but loopback and
/// link-local (which holds the 169.254.169.254 metadata service).
pub const DEFAULT_CHAT_TARGETS: &str = "!127.0.0.0/8,!::1/128,!169.254.0.0/16,!fe80::/10,0.0.0.0/0,::/0";

/// An ordered list of allow and deny rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPolicy {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    deny: bool,
    net: IpNet,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", if self.deny { "!" } else { "" }, self.net)
    }
}

impl Default for TargetPolicy {
    fn default() -> Self {
        Self::parse(DEFAULT_CHAT_TARGETS).unwrap_or(Self { rules: Vec::new() })
    }
}

impl TargetPolicy {
    /// The default policy, shared (for readers that have none set yet).
    pub fn default_ref() -> &'static Self {
        static DEFAULT: std::sync::LazyLock<TargetPolicy> = std::sync::LazyLock::new(TargetPolicy::default);
        &DEFAULT
    }

    /// A policy that allows every address (tests, trusted single-user set-ups).
    pub fn allow_all() -> Self {
        Self::parse("0.0.0.0/0,::/0").unwrap_or_default()
    }

    /// Parses `!127.0.0.0/8,10.0.0.0/8,…`; the error names the bad rule.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let (deny, cidr) = match word.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, word),
            };
            let net = cidr
                .parse::<IpNet>()
                .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{word:?} is not a CIDR (e.g. 10.0.0.0/8, or !127.0.0.0/8 to deny)"))?;
            rules.push(Rule { deny, net: net.trunc() });
        }
        Ok(Self { rules })
    }

    /// Why `ip` may not be probed (naming the rule), or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        let ip = ip.to_canonical();
        match self.rules.iter().find(|r| r.net.contains(&ip)) {
            Some(r) if r.deny => Some(format!("{ip} is refused by the UPBOT_CHAT_TARGETS rule {r}")),
            Some(_) => None,
            None => Some(format!("{ip} is not allowed by any UPBOT_CHAT_TARGETS rule")),
        }
    }

    /// Whether `ip` may be probed.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.refusal(ip).is_none()
    }
}

impl std::fmt::Display for TargetPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        f.write_str(&rules.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_denies_loopback_and_link_local_only() {
        let p = TargetPolicy::default();
        for bad in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!p.allows(ip(bad)), "{bad}");
        }
        for good in ["10.0.0.1", "192.0.2.7", "2001:db8::1", "8.8.8.8"] {
            assert!(p.allows(ip(good)), "{good}");
        }
        assert_eq!(
            p.refusal(ip("127.0.0.1")).unwrap(),
            "127.0.0.1 is refused by the UPBOT_CHAT_TARGETS rule !127.0.0.0/8"
        );
        assert_eq!(p.to_string(), DEFAULT_CHAT_TARGETS);
    }

    #[test]
    fn first_match_wins_and_unmatched_is_refused() {
        let p = TargetPolicy::parse("!10.0.0.5, 10.0.0.0/8").unwrap();
        assert!(!p.allows(ip("10.0.0.5")));
        assert!(p.allows(ip("10.1.2.3")));
        assert_eq!(
            p.refusal(ip("192.0.2.1")).unwrap(),
            "192.0.2.1 is not allowed by any UPBOT_CHAT_TARGETS rule"
        );
        assert!(TargetPolicy::allow_all().allows(ip("127.0.0.1")));
        for bad in ["10.0.0.0/33", "nope", "!", "10.0.0.0/8,x"] {
            assert!(TargetPolicy::parse(bad).is_err(), "{bad}");
        }
    }
}
