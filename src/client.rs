//! The CLI client: `upbot add|del|list|status|pause|resume|rotate|graph|page|ack|mute|
//! unmute|remind|quiet|watch` and the legacy
//! `add-mon|del-mon|list-mon` aliases, as a thin layer over the WebSocket API. Owns the
//! argument definitions (clap), the request/reply exchange, human and JSON output, and
//! the exit-code policy: 0 success, 1 the server answered an error, 2 usage, 3 cannot
//! connect or the connection was lost. Every failure is one line on stderr.

use std::io::Write;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::Secret;
use crate::core::cmd::{
    self, AckRequest, AddRequest, ById, GraphRequest, LangRequest, ListRequest, MuteRequest, PageRequest, QuietRequest,
    RemindRequest, UnmuteRequest,
};

/// Server used when neither `--server` nor `UPBOT_SERVER` is given.
pub const DEFAULT_SERVER: &str = "ws://127.0.0.1:8765";
/// Longest wait for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection flags: global, so they are accepted before or after the subcommand.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Common {
    /// WebSocket API URL; http:// is read as ws:// [env: UPBOT_SERVER] [default: ws://127.0.0.1:8765]
    #[arg(long, global = true, value_name = "URL", visible_alias = "server_address")]
    pub server: Option<String>,
    /// API token, sent as `Authorization: Bearer` [env: UPBOT_WS_TOKEN]; for add-mon, the bot token
    #[arg(long, global = true, value_name = "TOKEN")]
    pub token: Option<Secret>,
    /// Print raw JSON (`list --json` prints an array of monitors)
    #[arg(long, global = true)]
    pub json: bool,
}

/// The client subcommands: the core's commands with their one input type each (the
/// same types the WS API reads; see [`crate::core::cmd`]), plus `watch` and the legacy
/// aliases.
#[derive(clap::Subcommand, Debug, Clone)]
// Parsed once per process: the size of `add`'s variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum ClientCommand {
    #[command(about = cmd::add::SPEC.about, long_about = None)]
    /// The core's `add` (help from its definition).
    Add(AddRequest),
    #[command(about = cmd::remove::SPEC.about, long_about = None)]
    /// The core's `del` (help from its definition).
    Del(ById),
    #[command(about = "list monitors", long_about = None)]
    /// The core's `list` (help from its definition).
    List(ListRequest),
    #[command(about = cmd::status::SPEC.about, long_about = None)]
    /// The core's `status` (help from its definition).
    Status(ById),
    #[command(about = cmd::pause::PAUSE.about, long_about = None)]
    /// The core's `pause` (help from its definition).
    Pause(ById),
    #[command(about = cmd::pause::RESUME.about, long_about = None)]
    /// The core's `resume` (help from its definition).
    Resume(ById),
    #[command(about = cmd::rotate::SPEC.about, long_about = None)]
    /// The core's `rotate` (help from its definition).
    Rotate(ById),
    #[command(about = cmd::graph::SPEC.about, long_about = None)]
    /// The core's `graph`: writes the PNG to a file and prints the figures.
    Graph {
        /// The core's input.
        #[command(flatten)]
        req: GraphRequest,
        /// Where to write the PNG [default: monitor-<id>-<period>.png]
        #[arg(long, short, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    #[command(about = cmd::page::SPEC.about, long_about = None)]
    /// The core's `page` (help from its definition).
    Page(PageRequest),
    #[command(about = cmd::ack::SPEC.about, long_about = None)]
    /// The core's `ack` (help from its definition).
    Ack(AckRequest),
    #[command(about = cmd::mute::SPEC.about, long_about = None)]
    /// The core's `mute` (help from its definition).
    Mute(MuteRequest),
    #[command(about = cmd::unmute::SPEC.about, long_about = None)]
    /// The core's `unmute` (help from its definition).
    Unmute(UnmuteRequest),
    #[command(about = cmd::remind::SPEC.about, long_about = None)]
    /// The core's `remind` (help from its definition).
    Remind(RemindRequest),
    #[command(about = cmd::quiet::SPEC.about, long_about = None)]
    /// The core's `quiet` (help from its definition).
    Quiet(QuietRequest),
    #[command(about = cmd::lang::SPEC.about, long_about = None)]
    /// The core's `lang` (help from its definition).
    Lang(LangRequest),
    /// Stream events as JSON lines until the server closes or Ctrl-C
    Watch {
        /// Event types: probe, state (comma-separated)
        #[arg(long, value_delimiter = ',', default_value = "probe,state", value_parser = ["probe", "state"])]
        types: Vec<String>,
        /// Only this monitor (repeatable)
        #[arg(long = "monitor", value_parser = cmd::args::monitor_id, value_name = "ID")]
        monitors: Vec<u64>,
        /// Only monitors of this chat (repeatable)
        #[arg(long = "chat", allow_negative_numbers = true, value_name = "ID")]
        chats: Vec<i64>,
    },
    /// Legacy: add a monitor that alerts a chat through the bot given with --token; prints its id
    #[command(name = "add-mon")]
    AddMon {
        /// Telegram chat to alert
        #[arg(long = "chat_id", allow_negative_numbers = true, value_name = "ID")]
        chat_id: i64,
        /// Host to monitor
        #[arg(long = "ip_address", value_name = "HOST")]
        ip_address: String,
        /// ping or tcp
        #[arg(long = "mon_type", value_parser = ["ping", "tcp"])]
        mon_type: Option<String>,
    },
    /// Legacy: delete a monitor
    #[command(name = "del-mon")]
    DelMon {
        /// Monitor id
        #[arg(long, value_parser = cmd::args::monitor_id)]
        id: u64,
    },
    /// Legacy: list monitors
    #[command(name = "list-mon")]
    ListMon,
}

/// Why a client command failed; [`ClientError::exit_code`] gives the process status.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (exit 1).
    #[error("{code}: {message}")]
    Server {
        /// The API error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// Bad arguments the parser could not catch (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Cannot connect, or the connection was lost (exit 3).
    #[error("{0}")]
    Connection(String),
    /// Writing the output failed (exit 1).
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

impl ClientError {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Server { .. } | ClientError::Output(_) => 1,
            ClientError::Usage(_) => 2,
            ClientError::Connection(_) => 3,
        }
    }
}

/// Where and how to connect, after flags and environment are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `ws://` URL.
    pub server: String,
    /// Bearer token.
    pub token: Option<Secret>,
    /// Raw JSON output.
    pub json: bool,
}

/// Merges the flags, the environment (`UPBOT_SERVER`, `UPBOT_WS_TOKEN` via `env`) and
/// the defaults.
pub fn settings(flags: &Common, env: impl Fn(&str) -> Option<String>) -> Settings {
    let env = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    Settings {
        server: flags
            .server
            .clone()
            .or_else(|| env("UPBOT_SERVER"))
            .unwrap_or_else(|| DEFAULT_SERVER.to_string()),
        token: flags.token.clone().or_else(|| env("UPBOT_WS_TOKEN").map(Secret::from)),
        json: flags.json,
    }
}

/// Normalises a server address: `host:port` → `ws://host:port`, `http(s)://` → `ws(s)://`.
pub fn server_url(s: &str) -> String {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = s.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if s.contains("://") {
        s.to_string()
    } else {
        format!("ws://{s}")
    }
}

/// One connection to the WS API.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    server: String,
    next_id: u64,
}

impl Client {
    /// Connects (with `Authorization: Bearer` when a token is given).
    pub async fn connect(server: &str, token: Option<&str>) -> Result<Self, ClientError> {
        let url = server_url(server);
        let mut req = url
            .as_str()
            .into_client_request()
            .map_err(|e| ClientError::Usage(format!("invalid server URL {url:?}: {e}")))?;
        if let Some(t) = token {
            let v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| ClientError::Usage("the token contains characters a header cannot carry".into()))?;
            req.headers_mut().insert("authorization", v);
        }
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(req))
            .await
            .map_err(|_| ClientError::Connection(format!("cannot connect to {url}: timed out")))?;
        let (ws, _) = connected.map_err(|e| connect_error(&url, e))?;
        Ok(Self {
            ws,
            server: url,
            next_id: 1,
        })
    }

    /// Sends one request and returns the reply's `data`; an `error` reply is
    /// [`ClientError::Server`].
    pub async fn request(&mut self, ty: &str, data: Value) -> Result<Value, ClientError> {
        let rid = format!("cli-{}", self.next_id);
        self.next_id += 1;
        let msg = json!({"type": ty, "request_id": rid, "data": data});
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .map_err(|e| self.lost(e))?;
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.next_json()).await.map_err(|_| {
                ClientError::Connection(format!("no reply from {} within {REPLY_TIMEOUT:?}", self.server))
            })?;
            let Some(v) = next? else {
                return Err(ClientError::Connection(format!(
                    "{} closed the connection before replying",
                    self.server
                )));
            };
            if v.get("request_id").and_then(Value::as_str) != Some(rid.as_str()) {
                continue;
            }
            let data = v.get("data").cloned().unwrap_or(Value::Null);
            if v.get("type").and_then(Value::as_str) == Some("error") {
                let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                return Err(ClientError::Server {
                    code: field("code"),
                    message: one_line(&field("message")),
                });
            }
            return Ok(data);
        }
    }

    /// The next JSON text message; `None` when the server closed the connection cleanly.
    pub async fn next_json(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            match self.next_text().await? {
                None => return Ok(None),
                Some(t) => match serde_json::from_str::<Value>(&t) {
                    Ok(v) => return Ok(Some(v)),
                    Err(_) => continue,
                },
            }
        }
    }

    /// The next text message, raw; `None` when the server closed the connection cleanly.
    pub async fn next_text(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            match self.ws.next().await {
                None => return Ok(None),
                Some(Err(tungstenite::Error::ConnectionClosed)) => return Ok(None),
                Some(Err(e)) => return Err(self.lost(e)),
                Some(Ok(Message::Text(t))) => return Ok(Some(t.to_string())),
                Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Closes politely (errors are irrelevant: we are done either way).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    fn lost(&self, e: tungstenite::Error) -> ClientError {
        ClientError::Connection(format!("connection to {} lost: {e}", self.server))
    }
}

fn connect_error(url: &str, e: tungstenite::Error) -> ClientError {
    match e {
        tungstenite::Error::Http(resp) => {
            let body = resp
                .body()
                .as_deref()
                .map(|b| one_line(&String::from_utf8_lossy(b)))
                .filter(|b| !b.is_empty());
            let hint = if resp.status().as_u16() == 401 {
                " (check --token / UPBOT_WS_TOKEN)"
            } else {
                ""
            };
            ClientError::Connection(format!(
                "{url} refused the connection: HTTP {}{}{hint}",
                resp.status(),
                body.map(|b| format!(": {b}")).unwrap_or_default()
            ))
        }
        tungstenite::Error::Url(u) => ClientError::Usage(format!("invalid server URL {url:?}: {u}")),
        other => ClientError::Connection(format!("cannot connect to {url}: {other}")),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs one client command, writing its output to `out`.
pub async fn run(
    cmd: ClientCommand,
    flags: &Common,
    env: impl Fn(&str) -> Option<String>,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let s = settings(flags, &env);
    match cmd {
        ClientCommand::Add(a) => {
            let m = one_request(&s, "add", data(&a)).await?;
            for w in m.get("warnings").and_then(Value::as_array).into_iter().flatten() {
                eprintln!("upbot: warning: {}", w.as_str().unwrap_or_default());
            }
            print_monitor(out, &s, "added", &m, true)
        }
        ClientCommand::Del(id) => by_id(out, &s, "del", "deleted", id).await,
        ClientCommand::Pause(id) => by_id(out, &s, "pause", "paused", id).await,
        ClientCommand::Resume(id) => by_id(out, &s, "resume", "resumed", id).await,
        ClientCommand::Rotate(id) => by_id(out, &s, "rotate", "rotated", id).await,
        ClientCommand::Status(id) => {
            let v = one_request(&s, "status", data(&id)).await?;
            if s.json {
                print_json(out, &v)
            } else {
                writeln!(out, "{}", status_line(&v))?;
                Ok(())
            }
        }
        ClientCommand::List(l) => {
            let v = one_request(&s, "list", data(&l)).await?;
            print_list(out, &s, &v)
        }
        ClientCommand::Graph { req, out: file } => graph(out, &s, req, file).await,
        ClientCommand::Page(p) => {
            let v = one_request(&s, "page", data(&p)).await?;
            if s.json {
                return print_json(out, &v);
            }
            match v.get("url").and_then(Value::as_str) {
                Some(url) => writeln!(
                    out,
                    "status page of chat {}: {url} (targets {})",
                    v.get("chat_id").unwrap_or(&Value::Null),
                    if v.get("targets").and_then(Value::as_bool) == Some(true) {
                        "shown"
                    } else {
                        "hidden"
                    }
                )?,
                None => writeln!(
                    out,
                    "chat {} has no status page",
                    v.get("chat_id").unwrap_or(&Value::Null)
                )?,
            }
            Ok(())
        }
        ClientCommand::Ack(a) => {
            let m = one_request(&s, "ack", data(&a)).await?;
            if s.json {
                return print_json(out, &m);
            }
            let why = m
                .get("ack_reason")
                .and_then(Value::as_str)
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            writeln!(
                out,
                "acked #{} {} (by {}{why})",
                id_of(&m),
                str_of(&m, "name"),
                str_of(&m, "acked_by")
            )?;
            Ok(())
        }
        ClientCommand::Mute(a) => {
            let v = one_request(&s, "mute", data(&a)).await?;
            oncall_line(out, &s, &v, &format!("muted until {}", str_of(&v, "muted_until")))
        }
        ClientCommand::Unmute(a) => {
            let v = one_request(&s, "unmute", data(&a)).await?;
            let changed = v.get("changed").and_then(Value::as_u64).unwrap_or(0);
            oncall_line(out, &s, &v, &format!("unmuted; {changed} changed while muted"))
        }
        ClientCommand::Remind(a) => {
            let v = one_request(&s, "remind", data(&a)).await?;
            let what = match v.get("remind").and_then(Value::as_f64) {
                Some(secs) => format!("a reminder every {} while DOWN", fmt_secs(secs)),
                None => "no reminders".into(),
            };
            oncall_line(out, &s, &v, &what)
        }
        ClientCommand::Quiet(a) => {
            let v = one_request(&s, "quiet", data(&a)).await?;
            if s.json {
                return print_json(out, &v);
            }
            let on = v.get("quiet").and_then(Value::as_bool).unwrap_or(false);
            writeln!(
                out,
                "quiet recoveries {} for chat {}",
                if on { "on" } else { "off" },
                v.get("chat_id").unwrap_or(&Value::Null)
            )?;
            Ok(())
        }
        ClientCommand::Lang(a) => {
            let v = one_request(&s, "lang", data(&a)).await?;
            if s.json {
                return print_json(out, &v);
            }
            writeln!(
                out,
                "language {} for chat {}",
                v.get("lang").and_then(Value::as_str).unwrap_or("en"),
                v.get("chat_id").unwrap_or(&Value::Null)
            )?;
            Ok(())
        }
        ClientCommand::Watch { types, monitors, chats } => watch(&s, types, monitors, chats, out).await,
        ClientCommand::AddMon {
            chat_id,
            ip_address,
            mon_type,
        } => {
            // The old tool's --token named the bot; the API token then comes from the
            // environment only.
            let bot = flags
                .token
                .clone()
                .ok_or_else(|| ClientError::Usage("add-mon needs --token (the bot token or username)".into()))?;
            let s = Settings {
                token: env("UPBOT_WS_TOKEN").filter(|t| !t.trim().is_empty()).map(Secret::from),
                ..s
            };
            let req = AddRequest {
                target: ip_address,
                kind: mon_type.as_deref().and_then(crate::domain::Kind::parse),
                chat_id: Some(chat_id),
                bot: Some(bot),
                ..AddRequest::default()
            };
            let m = one_request(&s, "add", data(&req)).await?;
            writeln!(out, "{}", m.get("id").unwrap_or(&Value::Null))?;
            Ok(())
        }
        ClientCommand::DelMon { id } => by_id(out, &s, "del", "deleted", ById { id }).await,
        ClientCommand::ListMon => {
            let v = one_request(&s, "list", json!({})).await?;
            print_list(out, &s, &v)
        }
    }
}

/// A command input as the WS request `data`: the fields given (unset ones are left
/// out rather than sent as `null`).
pub fn data(input: &impl Serialize) -> Value {
    match serde_json::to_value(input) {
        Ok(Value::Object(mut m)) => {
            m.retain(|_, v| !v.is_null());
            Value::Object(m)
        }
        Ok(other) => other,
        Err(_) => json!({}),
    }
}

async fn by_id(out: &mut impl Write, s: &Settings, ty: &str, verb: &str, id: ById) -> Result<(), ClientError> {
    let m = one_request(s, ty, data(&id)).await?;
    print_monitor(out, s, verb, &m, false)
}

/// `upbot graph`: asks for the chart, writes the PNG, prints the figures (or, with
/// `--json`, the reply without the image).
async fn graph(
    out: &mut impl Write,
    s: &Settings,
    req: GraphRequest,
    file: Option<std::path::PathBuf>,
) -> Result<(), ClientError> {
    use base64::Engine as _;
    let mut v = one_request(s, "graph", data(&req)).await?;
    let png = v
        .get("png_base64")
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| ClientError::Connection("the server's graph reply carries no PNG".into()))?;
    let path = file.unwrap_or_else(|| format!("monitor-{}-{}.png", req.id, req.period).into());
    std::fs::write(&path, &png)?;
    if let Some(m) = v.as_object_mut() {
        m.remove("png_base64");
        m.insert("file".into(), Value::String(path.display().to_string()));
    }
    if s.json {
        return print_json(out, &v);
    }
    let pct = crate::pictures::page::pct(v.get("uptime_pct").and_then(Value::as_f64));
    let incidents = v.get("incidents").and_then(Value::as_array).map_or(0, Vec::len);
    writeln!(
        out,
        "#{} {}: uptime {pct} over {}, {incidents} incident(s), RTT avg {}; chart written to {}",
        id_of(&v),
        str_of(&v, "name"),
        str_of(&v, "period"),
        fmt_ms(v.get("rtt_avg_ms").and_then(Value::as_f64)),
        path.display()
    )?;
    Ok(())
}

async fn one_request(s: &Settings, ty: &str, data: Value) -> Result<Value, ClientError> {
    let mut c = Client::connect(&s.server, s.token.as_ref().map(Secret::expose)).await?;
    let r = c.request(ty, data).await;
    c.close().await;
    r
}

async fn watch(
    s: &Settings,
    types: Vec<String>,
    monitors: Vec<u64>,
    chats: Vec<i64>,
    out: &mut impl Write,
) -> Result<(), ClientError> {
    let mut c = Client::connect(&s.server, s.token.as_ref().map(Secret::expose)).await?;
    let mut data = json!({"event_types": types});
    if !monitors.is_empty() || !chats.is_empty() {
        data["filters"] = json!({"monitor_ids": monitors, "chat_ids": chats});
    }
    c.request("subscribe", data).await?;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let next = tokio::select! {
            _ = &mut ctrl_c => {
                c.close().await;
                return Ok(());
            }
            n = c.next_text() => n?,
        };
        let Some(text) = next else { return Ok(()) };
        let is_event = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
            .is_some_and(|t| matches!(t.as_str(), "probe" | "state" | "events_dropped"));
        if is_event {
            writeln!(out, "{text}")?;
            out.flush()?;
        }
    }
}

fn print_json(out: &mut impl Write, v: &Value) -> Result<(), ClientError> {
    let text = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    writeln!(out, "{text}")?;
    Ok(())
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn id_of(v: &Value) -> String {
    v.get("id").map(|i| i.to_string()).unwrap_or_else(|| "?".into())
}

/// `5` → `5s`, `300` → `5m`, `1.5` → `1.5s`: the one duration format.
pub fn fmt_secs(secs: f64) -> String {
    crate::domain::duration::human_secs(secs)
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |ms| format!("{ms:.1} ms"))
}

/// `#7 web, #8 db: muted until …` (or the JSON): the reply of an on-call command
/// about one or more monitors.
fn oncall_line(out: &mut impl Write, s: &Settings, v: &Value, what: &str) -> Result<(), ClientError> {
    if s.json {
        return print_json(out, v);
    }
    let monitors: Vec<String> = v
        .get("monitors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| format!("#{} {}", id_of(m), str_of(m, "name")))
        .collect();
    let who = match (v.get("all").and_then(Value::as_bool), monitors.as_slice()) {
        (Some(true), ms) => format!(
            "all {} monitors of chat {}",
            ms.len(),
            v.get("chat_id").unwrap_or(&Value::Null)
        ),
        (_, [one]) => one.clone(),
        (_, ms) if ms.len() <= 5 => ms.join(", "),
        (_, ms) => format!("{} monitors", ms.len()),
    };
    writeln!(out, "{who}: {what}")?;
    Ok(())
}

fn print_monitor(out: &mut impl Write, s: &Settings, verb: &str, m: &Value, details: bool) -> Result<(), ClientError> {
    if s.json {
        return print_json(out, m);
    }
    let target = str_of(m, "target");
    if str_of(m, "kind") == "push" {
        writeln!(out, "{verb} #{} {} (push)", id_of(m), str_of(m, "name"))?;
        for key in ["webhook_url", "heartbeat_url"] {
            if let Some(url) = m.get(key).and_then(Value::as_str) {
                writeln!(out, "  {key}: {url}")?;
            }
        }
        return Ok(());
    }
    if details {
        let interval = m
            .get("interval")
            .and_then(Value::as_f64)
            .map(fmt_secs)
            .unwrap_or_default();
        writeln!(
            out,
            "{verb} #{} {target} ({}, every {interval})",
            id_of(m),
            str_of(m, "kind")
        )?;
    } else {
        writeln!(out, "{verb} #{} {target}", id_of(m))?;
    }
    Ok(())
}

fn print_list(out: &mut impl Write, s: &Settings, v: &Value) -> Result<(), ClientError> {
    let empty = Vec::new();
    let monitors = v.get("monitors").and_then(Value::as_array).unwrap_or(&empty);
    if s.json {
        return print_json(out, &Value::Array(monitors.clone()));
    }
    write!(out, "{}", table(monitors))?;
    Ok(())
}

/// The human `list` table (header always present).
pub fn table(monitors: &[Value]) -> String {
    let header = ["ID", "STATE", "KIND", "NAME", "TARGET", "INTERVAL", "LAST RTT"].map(String::from);
    let rows: Vec<[String; 7]> = monitors
        .iter()
        .map(|m| {
            [
                id_of(m),
                str_of(m, "state").to_string(),
                str_of(m, "kind").to_string(),
                str_of(m, "name").to_string(),
                str_of(m, "target").to_string(),
                m.get("interval")
                    .and_then(Value::as_f64)
                    .map(fmt_secs)
                    .unwrap_or_default(),
                {
                    let rtt = fmt_ms(m.get("last_rtt_ms").and_then(Value::as_f64));
                    // A DEGRADED ping monitor: how lossy (the loss window).
                    match m.get("window_loss_pct").and_then(Value::as_f64) {
                        Some(loss) if str_of(m, "state") == "degraded" => format!("{rtt}, {loss:.0}% loss"),
                        _ => rtt,
                    }
                },
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut text = String::new();
    for r in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = r.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// The human `status` line.
pub fn status_line(v: &Value) -> String {
    let stats = v.get("stats").cloned().unwrap_or(Value::Null);
    let f = |k: &str| stats.get(k).and_then(Value::as_f64);
    let reason = str_of(v, "reason");
    let reason = if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    };
    // Ping monitors: packets over 24 h and the loss window now.
    let mut packets = String::new();
    if v.get("window").is_some_and(Value::is_u64) {
        let n = |k: &str| stats.get(k).and_then(Value::as_u64).unwrap_or(0);
        packets = format!("; packets 24h: {} sent, {} lost", n("packets_sent"), n("packets_lost"));
        if let (Some(loss), Some(probes)) = (
            v.get("window_loss_pct").and_then(Value::as_f64),
            v.get("window_probes").and_then(Value::as_u64),
        ) {
            packets.push_str(&format!("; last {probes} probes: {loss:.1}% loss"));
        }
    }
    format!(
        "#{} {} ({}) {} since {}{reason}; last RTT {}; 24h: uptime {:.2}%, loss {:.2}%, RTT min/avg/max {}/{}/{} over {} probes{packets}",
        id_of(v),
        str_of(v, "target"),
        str_of(v, "kind"),
        str_of(v, "state").to_uppercase(),
        str_of(v, "since"),
        fmt_ms(v.get("last_rtt_ms").and_then(Value::as_f64)),
        f("uptime_pct").unwrap_or(0.0),
        f("loss_pct").unwrap_or(0.0),
        fmt_ms(f("rtt_min_ms")),
        fmt_ms(f("rtt_avg_ms")),
        fmt_ms(f("rtt_max_ms")),
        stats.get("probes").and_then(Value::as_u64).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_merge() {
        let flags = Common {
            server: Some("ws://top".into()),
            token: Some("t".into()),
            json: true,
        };
        let env = |k: &str| match k {
            "UPBOT_SERVER" => Some("ws://env".to_string()),
            "UPBOT_WS_TOKEN" => Some("envtok".to_string()),
            _ => None,
        };
        let s = settings(&flags, env);
        assert_eq!(
            s,
            Settings {
                server: "ws://top".into(),
                token: Some("t".into()),
                json: true
            }
        );
        let s = settings(&Common::default(), env);
        assert_eq!(
            (s.server.as_str(), s.token.as_ref().map(Secret::expose)),
            ("ws://env", Some("envtok"))
        );
        let s = settings(&Common::default(), |_| Some(" ".into()));
        assert_eq!((s.server.as_str(), s.token), (DEFAULT_SERVER, None));
    }

    #[test]
    fn urls_and_formats() {
        assert_eq!(server_url("localhost:8765"), "ws://localhost:8765");
        assert_eq!(server_url("http://h:1/ws"), "ws://h:1/ws");
        assert_eq!(server_url("ws://h:1"), "ws://h:1");
        assert_eq!(fmt_secs(5.0), "5s");
        assert_eq!(fmt_secs(300.0), "5m");
        assert_eq!(fmt_secs(7200.0), "2h");
        assert_eq!(fmt_secs(90.0), "1m 30s");
        assert_eq!(server_url("http://0.0.0.0:8500"), "ws://0.0.0.0:8500");
        assert_eq!(fmt_secs(1.5), "1.5s");
        assert_eq!(cmd::args::monitor_id("#7"), Ok(7));
        assert!(cmd::args::monitor_id("x").is_err());
    }

    #[test]
    fn table_layout() {
        let t = table(&[
            json!({"id": 7, "state": "up", "kind": "tcp", "name": "db", "target": "db:5432",
                               "interval": 5.0, "last_rtt_ms": 1.25}),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ID  STATE  KIND  NAME  TARGET   INTERVAL  LAST RTT");
        assert_eq!(lines[1], "7   up     tcp   db    db:5432  5s        1.2 ms");
        assert_eq!(table(&[]).lines().count(), 1);
    }

    #[test]
    fn ping_monitors_show_packets_and_their_loss() {
        let v = json!({"id": 3, "state": "degraded", "kind": "ping", "name": "branch", "target": "10.8.0.1",
                       "interval": 5.0, "last_rtt_ms": 31.0, "window": 20, "window_loss_pct": 26.9,
                       "window_probes": 20, "since": "s", "reason": "27% loss over the last 20 probes",
                       "stats": {"probes": 720, "packets_sent": 1000, "packets_lost": 290}});
        let line = status_line(&v);
        assert!(
            line.ends_with("over 720 probes; packets 24h: 1000 sent, 290 lost; last 20 probes: 26.9% loss"),
            "{line}"
        );
        assert!(table(&[v]).lines().nth(1).unwrap().ends_with("31.0 ms, 27% loss"));
        let tcp = json!({"id": 4, "state": "up", "kind": "tcp", "target": "db:5432", "stats": {"probes": 3}});
        assert!(status_line(&tcp).ends_with("over 3 probes"), "{}", status_line(&tcp));
    }

    /// The client's flags and subcommands as `upbot` parses them.
    #[derive(clap::Parser)]
    struct T {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        cmd: ClientCommand,
    }

    fn cli<const N: usize>(args: [&str; N]) -> T {
        <T as clap::Parser>::parse_from(args)
    }

    #[test]
    fn add_takes_the_http_and_dns_fields_as_flags() {
        let t = cli([
            "upbot",
            "add",
            "--url",
            "https://example.com/health",
            "--expect",
            "200-299,301",
            "--keyword",
            "!error",
            "--degraded",
            "800ms",
            "--cert-days",
            "7",
            "--tls-verify",
            "false",
            "--server",
            "ws://x",
        ]);
        let ClientCommand::Add(a) = t.cmd else { panic!() };
        assert_eq!(
            data(&a),
            json!({"url": "https://example.com/health", "expect": "200-299,301", "keyword": "!error",
                   "degraded": 0.8, "cert_days": 7, "tls_verify": false})
        );
        assert_eq!(t.common.server.as_deref(), Some("ws://x"));
        let t = cli([
            "upbot",
            "add",
            "example.com",
            "--kind",
            "dns",
            "--record-type",
            "MX",
            "--dns-server",
            "127.0.0.53:53",
        ]);
        let ClientCommand::Add(a) = t.cmd else { panic!() };
        assert_eq!(
            data(&a),
            json!({"target": "example.com", "kind": "dns", "record_type": "MX", "server": "127.0.0.53:53"})
        );
        // Neither a target nor --url: a usage error.
        assert!(<T as clap::Parser>::try_parse_from(["upbot", "add", "--keyword", "x"]).is_err());
    }

    #[test]
    fn add_data_has_only_given_fields() {
        let t = cli([
            "upbot",
            "--server",
            "ws://x",
            "add",
            "db:5432",
            "--interval",
            "30s",
            "--fails",
            "5",
            "--chat-id",
            "-100",
            "--json",
        ]);
        let ClientCommand::Add(a) = t.cmd else { panic!() };
        assert_eq!(
            data(&a),
            json!({"target": "db:5432", "interval": 30.0, "fails": 5, "chat_id": -100})
        );
        assert_eq!((t.common.server.as_deref(), t.common.json), (Some("ws://x"), true));
        // what the CLI sends, the server reads back into the same request
        let back: AddRequest = cmd::args::from_json(data(&a)).unwrap();
        assert_eq!(back, a);
        let t = cli(["upbot", "list-mon", "--server_address=http://0.0.0.0:8500"]);
        assert_eq!(t.common.server.as_deref(), Some("http://0.0.0.0:8500"));
        let t = cli([
            "upbot",
            "add-mon",
            "--chat_id",
            "-5",
            "--token",
            "1:a",
            "--ip_address",
            "h",
        ]);
        assert_eq!(t.common.token.as_ref().map(Secret::expose), Some("1:a"));
        let t = cli([
            "upbot",
            "add",
            "n",
            "--kind",
            "push",
            "--secret",
            "s",
            "--sign-heartbeats",
        ]);
        let ClientCommand::Add(a) = t.cmd else { panic!() };
        assert_eq!(a.sign_heartbeats, Some(true));
    }

    #[test]
    fn exit_codes() {
        assert_eq!(
            ClientError::Server {
                code: "X".into(),
                message: "m".into()
            }
            .exit_code(),
            1
        );
        assert_eq!(ClientError::Usage("u".into()).exit_code(), 2);
        assert_eq!(ClientError::Connection("c".into()).exit_code(), 3);
    }
}
