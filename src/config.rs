//! Typed configuration, read once at start from the environment, `.env` and an
//! optional `upbot.toml` (environment wins), and validated in full: a bad value names
//! its variable and stops the process. Secrets are redacted from `Debug`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every variable we read, with its TOML key (the name without `UPBOT_`, lower case).
pub const VARS: &[&str] = &[
    "UPBOT_DATA_DIR",
    "UPBOT_TELEGRAM_TOKENS",
    "UPBOT_TELEGRAM_API_URL",
    "UPBOT_ALLOWED_CHATS",
    "UPBOT_WS_ADDR",
    "UPBOT_WS_TOKEN",
    "UPBOT_WS_ORIGINS",
    "UPBOT_WS_RATE",
    "UPBOT_WS_MAX_CONNECTIONS",
    "UPBOT_WS_IDLE_TIMEOUT",
    "UPBOT_HTTP_ADDR",
    "UPBOT_PUBLIC_URL",
    "UPBOT_HTTP_MAX_CONNECTIONS",
    "UPBOT_HTTP_HEADER_TIMEOUT",
    "UPBOT_CHAT_TARGETS",
    "UPBOT_CHAT_MAX_MONITORS",
    "UPBOT_WS_AUTH_TIMEOUT",
    "UPBOT_NATS_URL",
    "UPBOT_SITE",
    "UPBOT_EXTRA_CA_FILE",
];

/// A configuration problem; always names the variable (or file) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable has a value we cannot use.
    #[error("{var}: {reason}")]
    Invalid {
        /// The variable (e.g. `UPBOT_WS_ADDR`).
        var: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A config file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A secret string (bot token, WS token, push signing secret) whose `Debug` never shows
/// it: it is kept in a [`secrecy::SecretString`], which redacts `Debug` and wipes the
/// memory on drop, so a future `tracing::debug!(?config)` or `?request` cannot leak one.
///
/// Command inputs carry secrets too (`add`'s `secret`, and its `bot`, which may be a
/// token), and one input type serves every front, so it also reads and writes as the
/// plain string: serde (the WS `data`, and the CLI sending it), clap (`FromStr`).
#[derive(Clone, Default)]
pub struct Secret(secrecy::SecretString);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(secrecy::SecretString::from(s.into()))
    }

    /// The secret itself; call only where it is needed (HTTP header, Bot API URL).
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // secrecy's own Debug, which names the type and never the value.
        self.0.fmt(f)
    }
}

/// Which chats the bots serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedChats {
    /// `*`: every chat.
    Any,
    /// Only these chat ids (plus chats named through the WS API).
    List(Vec<i64>),
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `UPBOT_DATA_DIR`: the sled store.
    pub data_dir: PathBuf,
    /// `UPBOT_TELEGRAM_TOKENS` (or `TELOXIDE_TOKEN`): one bot per token.
    pub telegram_tokens: Vec<Secret>,
    /// `UPBOT_TELEGRAM_API_URL`, without a trailing slash.
    pub telegram_api_url: String,
    /// `UPBOT_ALLOWED_CHATS`.
    pub allowed_chats: AllowedChats,
    /// `UPBOT_WS_ADDR`.
    pub ws_addr: SocketAddr,
    /// `UPBOT_WS_TOKEN`: bearer token WS clients must present.
    pub ws_token: Option<Secret>,
    /// `UPBOT_WS_ORIGINS`: browser origins allowed to open the WS API.
    pub ws_origins: Vec<String>,
    /// `UPBOT_WS_RATE`: messages per second per connection, 0 = unlimited.
    pub ws_rate: u32,
    /// `UPBOT_WS_MAX_CONNECTIONS`: concurrent WS connections.
    pub ws_max_connections: usize,
    /// `UPBOT_WS_IDLE_TIMEOUT`: close a connection silent for this long.
    pub ws_idle_timeout: Duration,
    /// `UPBOT_HTTP_ADDR`: webhooks, /healthz, /metrics.
    pub http_addr: SocketAddr,
    /// `UPBOT_PUBLIC_URL`: base of webhook URLs shown to users, no trailing slash.
    pub public_url: String,
    /// `UPBOT_HTTP_MAX_CONNECTIONS`: connections the HTTP receiver serves at once
    /// (`None`: 1024, or a quarter of the open-file limit when that is smaller).
    pub http_max_connections: Option<usize>,
    /// `UPBOT_HTTP_HEADER_TIMEOUT`: time an HTTP connection has to send a request head,
    /// after opening or after its previous answer (also the keep-alive idle timeout).
    pub http_header_timeout: Duration,
    /// `UPBOT_CHAT_TARGETS`: addresses chat-added monitors may probe.
    pub chat_targets: crate::domain::TargetPolicy,
    /// `UPBOT_CHAT_MAX_MONITORS`: monitors per chat.
    pub chat_max_monitors: usize,
    /// `UPBOT_WS_AUTH_TIMEOUT`: with `UPBOT_WS_TOKEN` set, how long a connection may
    /// stay unauthenticated before it is closed.
    pub ws_auth_timeout: Duration,
    /// `UPBOT_EXTRA_CA_FILE`: PEM certificates https monitors trust besides Mozilla's
    /// roots (a private CA); checked at load.
    pub extra_ca_file: Option<PathBuf>,
    /// Whether the bots keep to Telegram's rate limits. Always on when loaded from the
    /// environment; only benchmarks against a fake Bot API turn it off in code.
    pub telegram_pacing: bool,
    /// `UPBOT_NATS_URL` and `UPBOT_SITE`: cluster mode (`None`: this node runs alone).
    pub cluster: Option<ClusterConfig>,
}

/// Cluster mode: the NATS server every node shares, and this node's site name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `UPBOT_NATS_URL` (it may carry a user and password, so it is a secret).
    pub nats_url: Secret,
    /// `UPBOT_SITE`: this node's site (default: the host name).
    pub site: String,
}

impl ClusterConfig {
    /// The NATS URL without any user or password, for logs and `/healthz`.
    pub fn nats_display(&self) -> String {
        match url::Url::parse(self.nats_url.expose()) {
            Ok(u) => format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or("?"),
                u.port().unwrap_or(4222)
            ),
            Err(_) => "(unparsable URL)".into(),
        }
    }
}

/// Longest site name.
pub const MAX_SITE: usize = 32;

/// A site name: 1 to [`MAX_SITE`] characters of `a-z`, `0-9`, `_` and `-`, starting
/// with a letter or digit (it names NATS subjects and keys, and appears in alerts).
pub fn check_site(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_lowercase();
    let ok = !s.is_empty()
        && s.len() <= MAX_SITE
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(s)
    } else {
        Err(format!(
            "{s:?} is not a site name: 1 to {MAX_SITE} characters of a-z, 0-9, _ and -"
        ))
    }
}

/// The host name as a site name (dots and other characters become `-`), or `node`.
fn host_site() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default();
    let first = raw.trim().split('.').next().unwrap_or_default();
    let cleaned: String = first
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' })
        .take(MAX_SITE)
        .collect();
    check_site(&cleaned).unwrap_or_else(|_| "node".into())
}

impl Default for Config {
    fn default() -> Self {
        Self::from_lookup(|_| None).expect("defaults are valid")
    }
}

fn bad(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var: var.to_string(),
        reason: reason.into(),
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn addr(var: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.trim().parse().map_err(|_| {
        bad(
            var,
            format!("invalid value {v:?}: expected ip:port, e.g. 127.0.0.1:8765"),
        )
    })
}

impl Config {
    /// Loads `.env` (if present), then `file` (or `./upbot.toml` if present), then the
    /// environment, which wins.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => {
                return Err(ConfigError::File {
                    path: ".env".into(),
                    reason: e.to_string(),
                });
            }
        }
        let default_file = Path::new("upbot.toml");
        let file_vars = match file {
            Some(p) => read_toml(p)?,
            None if default_file.exists() => read_toml(default_file)?,
            None => HashMap::new(),
        };
        Self::from_lookup(|var| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| file_vars.get(var).cloned())
        })
    }

    /// Builds and validates a config from a variable lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(get("UPBOT_DATA_DIR").unwrap_or_else(|| "./upbot-data".into()));

        let mut tokens = Vec::new();
        let token_var = if get("UPBOT_TELEGRAM_TOKENS").is_some() {
            "UPBOT_TELEGRAM_TOKENS"
        } else {
            "TELOXIDE_TOKEN"
        };
        for t in list(&get(token_var).unwrap_or_default()) {
            // Bot tokens look like 123456:ABC-def; checking the shape catches pasted junk
            // without ever echoing the token.
            let ok = t.split_once(':').is_some_and(|(id, rest)| {
                !id.is_empty()
                    && id.chars().all(|c| c.is_ascii_digit())
                    && !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
            if !ok {
                return Err(bad(
                    token_var,
                    format!("token #{} is not a bot token (expected 123456:ABC…)", tokens.len() + 1),
                ));
            }
            let s = Secret::new(t);
            if !tokens.contains(&s) {
                tokens.push(s);
            }
        }

        let api = get("UPBOT_TELEGRAM_API_URL").unwrap_or_else(|| "https://api.telegram.org".into());
        let api = api.trim().trim_end_matches('/').to_string();
        if !(api.starts_with("http://") || api.starts_with("https://")) || api.len() < 10 {
            return Err(bad(
                "UPBOT_TELEGRAM_API_URL",
                format!("invalid value {api:?}: expected an http(s):// URL"),
            ));
        }

        let allowed_chats = match get("UPBOT_ALLOWED_CHATS") {
            Some(v) if v.trim() == "*" => AllowedChats::Any,
            Some(v) => AllowedChats::List(
                list(&v)
                    .iter()
                    .map(|c| {
                        let id = c
                            .parse::<i64>()
                            .map_err(|_| bad("UPBOT_ALLOWED_CHATS", format!("{c:?} is not a chat id (or use *)")))?;
                        crate::core::service::validate_chat_id(id)
                            .map_err(|e| bad("UPBOT_ALLOWED_CHATS", e.to_string()))?;
                        Ok(id)
                    })
                    .collect::<Result<_, ConfigError>>()?,
            ),
            None => AllowedChats::List(Vec::new()),
        };

        let ws_addr = addr(
            "UPBOT_WS_ADDR",
            &get("UPBOT_WS_ADDR").unwrap_or_else(|| "127.0.0.1:8765".into()),
        )?;
        let ws_token = get("UPBOT_WS_TOKEN")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        let ws_origins = list(&get("UPBOT_WS_ORIGINS").unwrap_or_default());
        for o in &ws_origins {
            if o != "null" && !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(bad(
                    "UPBOT_WS_ORIGINS",
                    format!("{o:?} is not an origin (expected e.g. https://ops.example.com)"),
                ));
            }
        }
        let number = |var: &str, default: u64, max: u64| -> Result<u64, ConfigError> {
            match get(var) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(bad(
                        var,
                        format!("invalid value {v:?}: expected a whole number 0..={max}"),
                    )),
                },
            }
        };
        let ws_rate = number("UPBOT_WS_RATE", 1000, 1_000_000)? as u32;
        let ws_max_connections = number("UPBOT_WS_MAX_CONNECTIONS", 64, 100_000)? as usize;
        if ws_max_connections == 0 {
            return Err(bad("UPBOT_WS_MAX_CONNECTIONS", "must be at least 1"));
        }
        let ws_idle_timeout = match get("UPBOT_WS_IDLE_TIMEOUT") {
            None => Duration::from_secs(120),
            Some(v) => crate::domain::duration::parse(&v)
                .ok()
                .filter(|d| *d >= Duration::from_secs(1))
                .ok_or_else(|| {
                    bad(
                        "UPBOT_WS_IDLE_TIMEOUT",
                        format!("invalid value {v:?}: expected a duration of at least 1s, e.g. 120s"),
                    )
                })?,
        };
        let chat_targets = match get("UPBOT_CHAT_TARGETS") {
            None => crate::domain::TargetPolicy::default(),
            Some(v) => crate::domain::TargetPolicy::parse(&v).map_err(|e| bad("UPBOT_CHAT_TARGETS", e))?,
        };
        let chat_max_monitors = number(
            "UPBOT_CHAT_MAX_MONITORS",
            crate::core::service::DEFAULT_CHAT_MAX_MONITORS as u64,
            1_000_000,
        )? as usize;
        let ws_auth_timeout = match get("UPBOT_WS_AUTH_TIMEOUT") {
            None => Duration::from_secs(5),
            Some(v) => crate::domain::duration::parse(&v)
                .ok()
                .filter(|d| *d >= Duration::from_millis(100))
                .ok_or_else(|| {
                    bad(
                        "UPBOT_WS_AUTH_TIMEOUT",
                        format!("invalid value {v:?}: expected a duration of at least 100ms, e.g. 5s"),
                    )
                })?,
        };
        let http_addr = addr(
            "UPBOT_HTTP_ADDR",
            &get("UPBOT_HTTP_ADDR").unwrap_or_else(|| "127.0.0.1:8766".into()),
        )?;
        let public_url = get("UPBOT_PUBLIC_URL").unwrap_or_else(|| format!("http://{http_addr}"));
        let public_url = public_url.trim().trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(bad(
                "UPBOT_PUBLIC_URL",
                format!("invalid value {public_url:?}: expected an http(s):// URL"),
            ));
        }
        let http_max_connections = match get("UPBOT_HTTP_MAX_CONNECTIONS") {
            None => None,
            Some(_) => match number("UPBOT_HTTP_MAX_CONNECTIONS", 0, 1_000_000)? {
                0 => return Err(bad("UPBOT_HTTP_MAX_CONNECTIONS", "must be at least 1")),
                n => Some(n as usize),
            },
        };
        let http_header_timeout = match get("UPBOT_HTTP_HEADER_TIMEOUT") {
            None => crate::http::server::Limits::DEFAULT_HEADER_TIMEOUT,
            Some(v) => crate::core::parse_duration(&v)
                .ok()
                .filter(|d| (Duration::from_millis(100)..=Duration::from_secs(3600)).contains(d))
                .ok_or_else(|| {
                    bad(
                        "UPBOT_HTTP_HEADER_TIMEOUT",
                        format!("invalid value {v:?}: expected a duration from 100ms to 1h, e.g. 10s"),
                    )
                })?,
        };
        let cluster = match get("UPBOT_NATS_URL").map(|u| u.trim().to_string()) {
            None => {
                if get("UPBOT_SITE").is_some() {
                    return Err(bad(
                        "UPBOT_SITE",
                        "is set but UPBOT_NATS_URL is not (a site needs a cluster)",
                    ));
                }
                None
            }
            Some(u) => {
                let parsed = url::Url::parse(&u)
                    .ok()
                    .filter(|p| matches!(p.scheme(), "nats" | "tls") && p.host_str().is_some_and(|h| !h.is_empty()));
                if parsed.is_none() {
                    return Err(bad("UPBOT_NATS_URL", "expected nats://host:4222 (or tls://host:4222)"));
                }
                let site = match get("UPBOT_SITE") {
                    Some(s) => check_site(&s).map_err(|e| bad("UPBOT_SITE", e))?,
                    None => host_site(),
                };
                Some(ClusterConfig {
                    nats_url: Secret::new(u),
                    site,
                })
            }
        };
        let extra_ca_file = match get("UPBOT_EXTRA_CA_FILE") {
            None => None,
            Some(v) => {
                let path = PathBuf::from(v.trim());
                crate::probe::http::read_pem_roots(&path).map_err(|e| bad("UPBOT_EXTRA_CA_FILE", e))?;
                Some(path)
            }
        };
        Ok(Self {
            data_dir,
            telegram_tokens: tokens,
            telegram_api_url: api,
            allowed_chats,
            ws_addr,
            ws_token,
            ws_origins,
            ws_rate,
            ws_max_connections,
            ws_idle_timeout,
            http_addr,
            public_url,
            http_max_connections,
            http_header_timeout,
            chat_targets,
            chat_max_monitors,
            ws_auth_timeout,
            extra_ca_file,
            telegram_pacing: true,
            cluster,
        })
    }
}

/// Reads `upbot.toml`: keys are the variable names without `UPBOT_`, lower case
/// (`ws_addr = "127.0.0.1:8765"`); lists may be arrays.
fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let err = |reason: String| ConfigError::File {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(e.message().to_string()))?;
    let mut out = HashMap::new();
    for (k, v) in table {
        let var = format!("UPBOT_{}", k.to_ascii_uppercase());
        if !VARS.contains(&var.as_str()) {
            return Err(err(format!("unknown key {k:?}")));
        }
        let s = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        out.insert(var, s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("./upbot-data"));
        assert_eq!(c.ws_addr.to_string(), "127.0.0.1:8765");
        assert_eq!(c.http_addr.to_string(), "127.0.0.1:8766");
        assert_eq!(c.public_url, "http://127.0.0.1:8766");
        assert_eq!(c.ws_rate, 1000);
        assert!(c.telegram_tokens.is_empty());
        assert_eq!(c.allowed_chats, AllowedChats::List(vec![]));
        assert_eq!(c.chat_targets.to_string(), crate::domain::policy::DEFAULT_CHAT_TARGETS);
        assert_eq!(c.chat_max_monitors, 200);
        assert_eq!(c.ws_auth_timeout, Duration::from_secs(5));
    }

    #[test]
    fn chat_safety_values() {
        let c = with(&[
            ("UPBOT_CHAT_TARGETS", "!10.0.0.5, 10.0.0.0/8"),
            ("UPBOT_CHAT_MAX_MONITORS", "3"),
            ("UPBOT_WS_AUTH_TIMEOUT", "1s"),
        ])
        .unwrap();
        assert!(!c.chat_targets.allows("10.0.0.5".parse().unwrap()));
        assert!(c.chat_targets.allows("10.9.0.5".parse().unwrap()));
        assert_eq!(c.chat_max_monitors, 3);
        assert_eq!(c.ws_auth_timeout, Duration::from_secs(1));
    }

    #[test]
    fn values_parse() {
        let c = with(&[
            ("UPBOT_TELEGRAM_TOKENS", "123:abc, 456:d-e_f,123:abc"),
            ("UPBOT_ALLOWED_CHATS", "-1001234567890, 42"),
            ("UPBOT_TELEGRAM_API_URL", "http://127.0.0.1:9/"),
            ("UPBOT_WS_RATE", "0"),
            ("UPBOT_WS_IDLE_TIMEOUT", "5m"),
        ])
        .unwrap();
        assert_eq!(c.telegram_tokens.len(), 2);
        assert_eq!(c.allowed_chats, AllowedChats::List(vec![-1001234567890, 42]));
        assert_eq!(c.telegram_api_url, "http://127.0.0.1:9");
        assert_eq!(c.ws_rate, 0);
        assert_eq!(c.ws_idle_timeout, Duration::from_secs(300));
        assert_eq!(
            with(&[("UPBOT_ALLOWED_CHATS", "*")]).unwrap().allowed_chats,
            AllowedChats::Any
        );
        assert_eq!(with(&[("TELOXIDE_TOKEN", "1:x")]).unwrap().telegram_tokens.len(), 1);
    }

    #[test]
    fn bad_values_name_the_variable_and_hide_secrets() {
        for (var, val) in [
            ("UPBOT_WS_ADDR", "nope"),
            ("UPBOT_HTTP_ADDR", "1.2.3.4"),
            ("UPBOT_WS_RATE", "-5"),
            ("UPBOT_ALLOWED_CHATS", "abc"),
            ("UPBOT_ALLOWED_CHATS", "-3000000000000"),
            ("UPBOT_TELEGRAM_API_URL", "ftp://x"),
            ("UPBOT_WS_ORIGINS", "evil"),
            ("UPBOT_WS_IDLE_TIMEOUT", "0s"),
            ("UPBOT_WS_MAX_CONNECTIONS", "0"),
            ("UPBOT_HTTP_MAX_CONNECTIONS", "0"),
            ("UPBOT_HTTP_HEADER_TIMEOUT", "0s"),
            ("UPBOT_PUBLIC_URL", "example.com"),
            ("UPBOT_TELEGRAM_TOKENS", "supersecretjunk"),
            ("UPBOT_CHAT_TARGETS", "10.0.0.0/33"),
            ("UPBOT_CHAT_MAX_MONITORS", "many"),
            ("UPBOT_WS_AUTH_TIMEOUT", "0s"),
            ("UPBOT_NATS_URL", "http://x:4222"),
            ("UPBOT_SITE", "fra"),
        ] {
            let e = with(&[(var, val)]).unwrap_err().to_string();
            assert!(e.starts_with(var), "{var}={val}: {e}");
            if var == "UPBOT_TELEGRAM_TOKENS" {
                assert!(!e.contains("supersecretjunk"), "{e}");
            }
        }
        assert!(!format!("{:?}", with(&[("UPBOT_WS_TOKEN", "hunter2")]).unwrap()).contains("hunter2"));
    }

    #[test]
    fn cluster_settings() {
        assert_eq!(with(&[]).unwrap().cluster, None);
        let c = with(&[("UPBOT_NATS_URL", "nats://u:pw@nats.lan:4333"), ("UPBOT_SITE", "FRA-1")])
            .unwrap()
            .cluster
            .unwrap();
        assert_eq!(c.site, "fra-1");
        assert_eq!(c.nats_display(), "nats://nats.lan:4333");
        assert!(!format!("{c:?}").contains("pw"), "the URL may hold a password");
        // default: the host name, made a valid site name
        let c = with(&[("UPBOT_NATS_URL", "nats://127.0.0.1:4222")])
            .unwrap()
            .cluster
            .unwrap();
        assert!(check_site(&c.site).is_ok(), "{}", c.site);
        for bad in ["", "a b", "-x", "x.y", &"s".repeat(33)] {
            let e = with(&[("UPBOT_NATS_URL", "nats://h:1"), ("UPBOT_SITE", bad)]).unwrap_err();
            assert!(e.to_string().starts_with("UPBOT_SITE"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let c = with(&[
            (
                "UPBOT_TELEGRAM_TOKENS",
                "123456:AAbbCCddEEff-secret_one,654321:ZZyy-secret_two",
            ),
            ("UPBOT_WS_TOKEN", "ws-hunter2-token"),
        ])
        .unwrap();
        assert_eq!(c.telegram_tokens[0].expose(), "123456:AAbbCCddEEff-secret_one");
        for text in [format!("{c:?}"), format!("{c:#?}")] {
            for leak in ["secret_one", "secret_two", "123456", "hunter2"] {
                assert!(!text.contains(leak), "{leak} in {text}");
            }
            assert!(text.contains("REDACTED"), "{text}");
        }
    }

    #[test]
    fn toml_file_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("upbot.toml");
        std::fs::write(
            &p,
            "ws_addr = \"127.0.0.1:9999\"\nallowed_chats = [42, 43]\nws_rate = 5\n",
        )
        .unwrap();
        let vars = read_toml(&p).unwrap();
        assert_eq!(vars["UPBOT_WS_ADDR"], "127.0.0.1:9999");
        assert_eq!(vars["UPBOT_ALLOWED_CHATS"], "42,43");
        std::fs::write(&p, "colour = \"red\"\n").unwrap();
        assert!(read_toml(&p).unwrap_err().to_string().contains("colour"));
        std::fs::write(&p, "ws_addr = \n").unwrap();
        assert!(read_toml(&p).is_err());
    }
}
