//! The envelope dialect's wire format, as pure functions: classifying an incoming text
//! frame (envelope or legacy), parsing each request type into a [`Request`], and
//! rendering replies, errors and events. No I/O here, so every rule is unit-tested.
//!
//! Client → server: `{"type": T, "request_id"?: string|number, "data"?: {…}}`.
//! Server → client: `{"type": T, "request_id"?: …, "data": {…}, "timestamp": RFC 3339}`;
//! `request_id` is echoed exactly as given (string or number) and omitted when absent.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::core::{AddRequest, Command, CoreError, Reply, Selector, parse_duration};
use crate::domain::{Kind, MonitorId, rfc3339};
use crate::events::{ProbeEvent, StateEvent};

/// Largest text message the API accepts (interface.md: "over 1 MiB are refused").
pub const MAX_TEXT: usize = 1 << 20;

/// Largest duration accepted as a number of seconds (keeps `Duration` arithmetic sane).
const MAX_SECONDS: f64 = 1e9;

/// The error codes of the API (interface.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Not JSON, not an object, no `type`, binary frame, too large.
    InvalidMessageFormat,
    /// A `type` the server does not know.
    UnknownMessageType,
    /// Bad `data` (missing or mistyped field, bad value).
    ValidationError,
    /// No such monitor.
    NotFound,
    /// The same target is already watched.
    AlreadyExists,
    /// A token is configured and this connection has not presented it.
    AuthenticationRequired,
    /// Wrong token, or an operation the caller may not do.
    PermissionDenied,
    /// More messages per second than `UPBOT_WS_RATE`.
    RateLimitExceeded,
    /// Our fault (store failure…).
    InternalError,
}

impl ErrorCode {
    /// The wire form (`INVALID_MESSAGE_FORMAT`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessageFormat => "INVALID_MESSAGE_FORMAT",
            ErrorCode::UnknownMessageType => "UNKNOWN_MESSAGE_TYPE",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::AuthenticationRequired => "AUTHENTICATION_REQUIRED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }
}

/// An error to send back: code plus a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsError {
    /// The code.
    pub code: ErrorCode,
    /// What is wrong and what is expected.
    pub message: String,
}

impl WsError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn format(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidMessageFormat, message)
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }
}

impl From<CoreError> for WsError {
    fn from(e: CoreError) -> Self {
        let code = match &e {
            CoreError::Validation(_) => ErrorCode::ValidationError,
            CoreError::NotFound(_) => ErrorCode::NotFound,
            CoreError::AlreadyExists(_) => ErrorCode::AlreadyExists,
            CoreError::PermissionDenied(_) => ErrorCode::PermissionDenied,
            CoreError::Internal(_) => ErrorCode::InternalError,
        };
        debug_assert_eq!(code.as_str(), e.code());
        Self::new(code, e.to_string())
    }
}

/// A message that could not be accepted, with the `request_id` to echo if one was readable.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The request id, when the message got far enough to have one.
    pub request_id: Option<Value>,
    /// Why.
    pub error: WsError,
}

/// An envelope whose outer shape is valid; `data` is not looked at yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `type`.
    pub ty: String,
    /// `request_id`, a string or a number.
    pub request_id: Option<Value>,
    /// `data` (absent and `null` are the same).
    pub data: Option<Value>,
}

/// What a text frame is.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The legacy dialect: a JSON object with a `cmd` key.
    Legacy(Map<String, Value>),
    /// The envelope dialect.
    Envelope(Envelope),
}

/// Classifies one text frame. Size is checked by the caller (it has the raw length).
pub fn classify(text: &str) -> Result<Incoming, Rejected> {
    let reject = |request_id, msg: String| Rejected {
        request_id,
        error: WsError::format(msg),
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| reject(None, format!("message is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(reject(
            None,
            "message must be a JSON object like {\"type\":\"ping\"}".to_string(),
        ));
    };
    if obj.contains_key("cmd") {
        return Ok(Incoming::Legacy(obj));
    }
    let request_id = match obj.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(v @ (Value::String(_) | Value::Number(_))) => Some(v),
        Some(_) => return Err(reject(None, "request_id must be a string or a number".to_string())),
    };
    let ty = match obj.remove("type") {
        Some(Value::String(t)) if !t.is_empty() => t,
        Some(_) => return Err(reject(request_id, "type must be a non-empty string".to_string())),
        None => return Err(reject(request_id, "message has no \"type\"".to_string())),
    };
    let data = match obj.remove("data") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v),
    };
    Ok(Incoming::Envelope(Envelope { ty, request_id, data }))
}

/// Message types an unauthenticated connection may still send.
pub fn allowed_unauthenticated(ty: &str) -> bool {
    matches!(ty, "ping" | "auth")
}

/// Event streams a connection can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// Every probe result.
    Probe,
    /// State changes.
    State,
}

impl EventType {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Probe => "probe",
            EventType::State => "state",
        }
    }
}

/// A `subscribe` request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeRequest {
    /// Streams to add.
    pub event_types: BTreeSet<EventType>,
    /// Only these monitors (`None` = all).
    pub monitor_ids: Option<BTreeSet<MonitorId>>,
    /// Only monitors of these chats (`None` = all).
    pub chat_ids: Option<BTreeSet<i64>>,
}

/// A parsed envelope request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A command for the core (`add`, `del`, `list`, `status`, `pause`, `resume`).
    Command(Command),
    /// `subscribe`.
    Subscribe(SubscribeRequest),
    /// `unsubscribe` (the types to remove).
    Unsubscribe(BTreeSet<EventType>),
    /// `ping`.
    Ping,
    /// `auth` with the token.
    Auth(String),
}

const ADD_FIELDS: &[&str] = &[
    "target",
    "kind",
    "port",
    "interval",
    "fails",
    "recovers",
    "timeout",
    "name",
    "chat_id",
    "thread_id",
    "bot",
    "heartbeat",
    "grace",
    "secret",
];

/// Parses an envelope's `type` and `data` into a request.
pub fn parse_request(env: &Envelope) -> Result<Request, WsError> {
    let ty = env.ty.as_str();
    let data = env.data.as_ref();
    match ty {
        "ping" => Ok(Request::Ping),
        "add" => {
            let f = Fields::new(ty, data, ADD_FIELDS)?;
            let kind =
                match f.string("kind")? {
                    None => None,
                    Some(k) => Some(Kind::parse(&k).ok_or_else(|| {
                        WsError::validation(format!("kind: unknown kind {k:?}; use ping, tcp or push"))
                    })?),
                };
            let req = AddRequest {
                target: f
                    .string("target")?
                    .ok_or_else(|| WsError::validation("target is required (a host, host:port or tcp://host:port)"))?,
                kind,
                port: f.port("port")?,
                interval: f.duration("interval")?,
                fails: f.count("fails")?,
                recovers: f.count("recovers")?,
                timeout: f.duration("timeout")?,
                name: f.string("name")?,
                chat_id: f.chat_id("chat_id")?,
                thread_id: f.thread_id("thread_id")?,
                bot: f.string("bot")?,
                heartbeat: f.duration("heartbeat")?,
                grace: f.duration("grace")?,
                secret: f.string("secret")?,
            };
            Ok(Request::Command(Command::Add(Box::new(req))))
        }
        "del" | "status" | "pause" | "resume" | "rotate" => {
            let f = Fields::new(ty, data, &["id"])?;
            let id = f.id("id")?.ok_or_else(|| {
                WsError::validation(format!("id is required: {{\"type\":\"{ty}\",\"data\":{{\"id\":7}}}}"))
            })?;
            let sel = Selector::Id(id);
            Ok(Request::Command(match ty {
                "del" => Command::Del(sel),
                "status" => Command::Status(sel),
                "pause" => Command::Pause(sel),
                "rotate" => Command::Rotate(sel),
                _ => Command::Resume(sel),
            }))
        }
        "list" => {
            let f = Fields::new(ty, data, &["chat_id"])?;
            Ok(Request::Command(Command::List {
                chat_id: f.chat_id("chat_id")?,
            }))
        }
        "subscribe" => {
            let f = Fields::new(ty, data, &["event_types", "filters"])?;
            let event_types = f
                .event_types()?
                .unwrap_or_else(|| [EventType::Probe, EventType::State].into());
            let (monitor_ids, chat_ids) = match f.get("filters") {
                None => (None, None),
                Some(v) => {
                    let ff = Fields::new("filters", Some(v), &["monitor_ids", "chat_ids"])?;
                    let monitor_ids = ff
                        .list("monitor_ids", |v| ff_id(v, "monitor_ids"))?
                        .map(|v| v.into_iter().collect::<BTreeSet<_>>());
                    let chat_ids = ff
                        .list("chat_ids", |v| number_i64(v, "chat_ids"))?
                        .map(|v| v.into_iter().collect::<BTreeSet<_>>());
                    // An empty list is read as "no filter": it is what UIs send for "all".
                    (
                        monitor_ids.filter(|s| !s.is_empty()),
                        chat_ids.filter(|s| !s.is_empty()),
                    )
                }
            };
            Ok(Request::Subscribe(SubscribeRequest {
                event_types,
                monitor_ids,
                chat_ids,
            }))
        }
        "unsubscribe" => {
            let f = Fields::new(ty, data, &["event_types"])?;
            Ok(Request::Unsubscribe(
                f.event_types()?
                    .unwrap_or_else(|| [EventType::Probe, EventType::State].into()),
            ))
        }
        "auth" => {
            let f = Fields::new(ty, data, &["token"])?;
            let token = f.string("token")?.ok_or_else(|| {
                WsError::validation("token is required: {\"type\":\"auth\",\"data\":{\"token\":\"…\"}}")
            })?;
            Ok(Request::Auth(token))
        }
        other => Err(WsError::new(
            ErrorCode::UnknownMessageType,
            format!(
                "unknown message type {other:?}; known: add, del, list, status, pause, resume, subscribe, unsubscribe, ping, auth"
            ),
        )),
    }
}

/// The `data` object of one request, with typed, field-naming accessors.
struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Fields<'a> {
    /// Checks that `data` is an object (or absent) holding only `allowed` keys.
    fn new(ty: &str, data: Option<&'a Value>, allowed: &[&str]) -> Result<Self, WsError> {
        let map = match data {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                return Err(WsError::validation(format!("{ty}: data must be a JSON object")));
            }
        };
        if let Some(m) = map {
            if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(WsError::validation(format!(
                    "{ty}: unknown field {k:?}; known: {}",
                    allowed.join(", ")
                )));
            }
        }
        Ok(Self { map })
    }

    /// A field's value; `null` counts as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>, WsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(WsError::validation(format!("{key} must be a string"))),
        }
    }

    fn unsigned(&self, key: &str, max: u64, what: &str) -> Result<Option<u64>, WsError> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(WsError::validation(format!(
                "{key} must be {what} (a JSON number or numeric string), got {v}"
            ))),
        }
    }

    fn id(&self, key: &str) -> Result<Option<MonitorId>, WsError> {
        Ok(self.unsigned(key, u64::MAX, "a monitor id")?.map(MonitorId))
    }

    fn port(&self, key: &str) -> Result<Option<u16>, WsError> {
        match self.unsigned(key, u64::from(u16::MAX), "a port 1-65535")? {
            Some(0) => Err(WsError::validation("port must be a port 1-65535, got 0")),
            Some(p) => Ok(u16::try_from(p).ok()),
            None => Ok(None),
        }
    }

    fn count(&self, key: &str) -> Result<Option<u32>, WsError> {
        Ok(self
            .unsigned(key, u64::from(u32::MAX), "a whole number")?
            .and_then(|n| u32::try_from(n).ok()))
    }

    fn chat_id(&self, key: &str) -> Result<Option<i64>, WsError> {
        self.get(key).map(|v| number_i64(v, key)).transpose()
    }

    fn thread_id(&self, key: &str) -> Result<Option<i32>, WsError> {
        match self.chat_id(key)? {
            None => Ok(None),
            Some(n) => i32::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| WsError::validation(format!("{key} must be a forum topic id, got {n}"))),
        }
    }

    fn duration(&self, key: &str) -> Result<Option<Duration>, WsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(s) if (0.0..=MAX_SECONDS).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
                _ => Err(WsError::validation(format!(
                    "{key} must be a number of seconds between 0 and {MAX_SECONDS}, got {n}"
                ))),
            },
            Some(Value::String(s)) => parse_duration(s)
                .map(Some)
                .map_err(|e| WsError::validation(format!("{key}: {e}"))),
            Some(_) => Err(WsError::validation(format!(
                "{key} must be a number of seconds or a duration string like \"30s\""
            ))),
        }
    }

    fn list<T>(&self, key: &str, item: impl Fn(&Value) -> Result<T, WsError>) -> Result<Option<Vec<T>>, WsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a.iter().map(item).collect::<Result<Vec<_>, _>>().map(Some),
            Some(_) => Err(WsError::validation(format!("{key} must be an array"))),
        }
    }

    fn event_types(&self) -> Result<Option<BTreeSet<EventType>>, WsError> {
        let one = |v: &Value| match v.as_str() {
            Some("probe") => Ok(EventType::Probe),
            Some("state") => Ok(EventType::State),
            _ => Err(WsError::validation(format!(
                "event_types: unknown event type {v}; use \"probe\" and/or \"state\""
            ))),
        };
        match self.get("event_types") {
            // A single string is accepted for convenience.
            Some(v @ Value::String(_)) => Ok(Some([one(v)?].into())),
            _ => Ok(self
                .list("event_types", one)?
                .map(|v| v.into_iter().collect::<BTreeSet<_>>())),
        }
    }
}

fn ff_id(v: &Value, key: &str) -> Result<MonitorId, WsError> {
    let n = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.map(MonitorId)
        .ok_or_else(|| WsError::validation(format!("{key} must hold monitor ids, got {v}")))
}

fn number_i64(v: &Value, key: &str) -> Result<i64, WsError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| {
        WsError::validation(format!(
            "{key} must be a chat id (a JSON number or numeric string), got {v}"
        ))
    })
}

/// What a connection is subscribed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Streams delivered.
    pub event_types: BTreeSet<EventType>,
    /// Only these monitors (`None` = all).
    pub monitor_ids: Option<BTreeSet<MonitorId>>,
    /// Only monitors of these chats (`None` = all).
    pub chat_ids: Option<BTreeSet<i64>>,
}

impl Subscription {
    /// Adds the requested streams; the request's filters replace the previous ones
    /// (a `subscribe` without `filters` clears them).
    pub fn subscribe(&mut self, req: &SubscribeRequest) {
        self.event_types.extend(req.event_types.iter().copied());
        self.monitor_ids.clone_from(&req.monitor_ids);
        self.chat_ids.clone_from(&req.chat_ids);
    }

    /// Removes streams; with none left, the filters are cleared too.
    pub fn unsubscribe(&mut self, types: &BTreeSet<EventType>) {
        self.event_types.retain(|t| !types.contains(t));
        if self.event_types.is_empty() {
            *self = Self::default();
        }
    }

    /// Whether `t` is subscribed.
    pub fn wants(&self, t: EventType) -> bool {
        self.event_types.contains(&t)
    }

    /// Whether an event about `monitor` (owned by `chat`) passes the filters (both must match).
    pub fn matches(&self, monitor: MonitorId, chat: Option<i64>) -> bool {
        self.monitor_ids.as_ref().is_none_or(|s| s.contains(&monitor))
            && self
                .chat_ids
                .as_ref()
                .is_none_or(|s| chat.is_some_and(|c| s.contains(&c)))
    }

    /// Whether an event about `chat` (and no particular monitor) passes the chat filter
    /// (a monitor filter alone does not exclude it).
    pub fn matches_chat(&self, chat: Option<i64>) -> bool {
        self.chat_ids
            .as_ref()
            .is_none_or(|s| chat.is_some_and(|c| s.contains(&c)))
    }

    /// The `subscribed` / `unsubscribed` reply data.
    pub fn to_json(&self) -> Value {
        json!({
            "event_types": self.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "filters": {
                "monitor_ids": self.monitor_ids,
                "chat_ids": self.chat_ids,
            },
        })
    }
}

/// One outgoing message; field order is the wire order.
#[derive(Serialize)]
struct Outgoing<'a, T: Serialize> {
    #[serde(rename = "type")]
    ty: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a Value>,
    data: T,
    timestamp: String,
}

/// Renders a server message. `at_ms` is the timestamp (ms since the epoch).
pub fn message(ty: &str, request_id: Option<&Value>, data: impl Serialize, at_ms: u64) -> String {
    let out = Outgoing {
        ty,
        request_id,
        data,
        timestamp: rfc3339(at_ms),
    };
    match serde_json::to_string(&out) {
        Ok(s) => s,
        // Our types always serialise; should one ever not, say so instead of going silent.
        Err(e) => {
            tracing::error!(error = %e, ty, "cannot serialise a WS message");
            error_message(
                request_id,
                &WsError::new(ErrorCode::InternalError, "internal error: reply could not be encoded"),
                at_ms,
            )
        }
    }
}

/// Renders an error: `{"type":"error","request_id"?,"data":{"code","message"},"timestamp"}`.
pub fn error_message(request_id: Option<&Value>, err: &WsError, at_ms: u64) -> String {
    let out = Outgoing {
        ty: "error",
        request_id,
        data: json!({"code": err.code.as_str(), "message": err.message}),
        timestamp: rfc3339(at_ms),
    };
    serde_json::to_string(&out).unwrap_or_else(|_| {
        format!(
            "{{\"type\":\"error\",\"data\":{{\"code\":\"{}\",\"message\":\"error\"}}}}",
            err.code.as_str()
        )
    })
}

/// The reply type and data for a core reply.
pub fn reply_data(reply: Reply) -> (&'static str, Value) {
    let v = |x: Result<Value, serde_json::Error>| x.unwrap_or(Value::Null);
    match reply {
        Reply::Added(m) => ("added", v(serde_json::to_value(m))),
        Reply::Deleted(m) => ("deleted", v(serde_json::to_value(m))),
        Reply::List(ms) => ("list", json!({ "monitors": v(serde_json::to_value(ms)) })),
        Reply::Status(s) => ("status", v(serde_json::to_value(s))),
        Reply::Paused(m) => ("paused", v(serde_json::to_value(m))),
        Reply::Resumed(m) => ("resumed", v(serde_json::to_value(m))),
        Reply::Rotated(m) => ("rotated", v(serde_json::to_value(m))),
    }
}

/// The `pong` data.
pub fn pong_data(now_ms: u64) -> Value {
    json!({ "server_time": rfc3339(now_ms) })
}

/// The `authenticated` data.
pub fn authenticated_data() -> Value {
    json!({ "authenticated": true })
}

/// A `probe` event: data `{"monitor_id","ok","rtt_ms","error"}`, timestamp = probe time.
pub fn probe_event(ev: &ProbeEvent, now_ms: u64) -> String {
    message("probe", None, ev, if ev.at_ms > 0 { ev.at_ms } else { now_ms })
}

/// A `state` event: data `{"monitor_id","chat_id","name","target","from","to","reason",
/// "announce","down_for_ms"}`, timestamp = time of the change.
pub fn state_event(ev: &StateEvent, now_ms: u64) -> String {
    message("state", None, ev, if ev.at_ms > 0 { ev.at_ms } else { now_ms })
}

/// `{"type":"notice","data":{"kind","bot","chat_id","new_chat_id"?,"monitor_ids","message"},…}`:
/// something happened to a Telegram chat (a bot removed from it and its monitors
/// paused, or a group migrated to a supergroup).
pub fn notice_event(ev: &crate::events::NoticeEvent, now_ms: u64) -> String {
    message("notice", None, ev, now_ms)
}

/// `{"type":"events_dropped","data":{"count":n},"timestamp":…}`: probe events lost
/// because this connection did not keep up.
pub fn events_dropped(count: u64, now_ms: u64) -> String {
    message("events_dropped", None, json!({ "count": count }), now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::State;

    fn env(text: &str) -> Envelope {
        match classify(text).unwrap() {
            Incoming::Envelope(e) => e,
            other => panic!("not an envelope: {other:?}"),
        }
    }

    fn parse(text: &str) -> Result<Request, WsError> {
        parse_request(&env(text))
    }

    fn add(data: Value) -> Result<AddRequest, WsError> {
        match parse(&json!({"type": "add", "data": data}).to_string())? {
            Request::Command(Command::Add(r)) => Ok(*r),
            other => panic!("{other:?}"),
        }
    }

    fn err_code(r: Result<impl std::fmt::Debug, WsError>) -> (ErrorCode, String) {
        let e = r.unwrap_err();
        (e.code, e.message)
    }

    #[test]
    fn classify_rejects_malformed_frames() {
        for (text, rid) in [
            ("not json", None),
            ("[1,2]", None),
            ("\"ping\"", None),
            ("{}", None),
            ("{\"type\":5}", None),
            ("{\"type\":\"\"}", None),
            ("{\"request_id\":[1]}", None),
            ("{\"request_id\":\"x\"}", Some(json!("x"))),
        ] {
            let r = classify(text).unwrap_err();
            assert_eq!(r.error.code, ErrorCode::InvalidMessageFormat, "{text}");
            assert_eq!(r.request_id, rid, "{text}");
        }
    }

    #[test]
    fn classify_dialects_and_request_ids() {
        assert!(matches!(
            classify("{\"cmd\":\"monitor\",\"type\":\"x\"}").unwrap(),
            Incoming::Legacy(_)
        ));
        let e = env("{\"type\":\"ping\",\"request_id\":7,\"data\":null}");
        assert_eq!((e.ty.as_str(), e.request_id, e.data), ("ping", Some(json!(7)), None));
        assert_eq!(env("{\"type\":\"ping\",\"request_id\":null}").request_id, None);
        assert_eq!(
            env("{\"type\":\"ping\",\"request_id\":\"a b\"}").request_id,
            Some(json!("a b"))
        );
        assert_eq!(
            env("{\"type\":\"ping\",\"request_id\":1.5}").request_id,
            Some(json!(1.5))
        );
    }

    #[test]
    fn add_fields_map_to_the_request() {
        let r = add(json!({
            "target": "db", "kind": "tcp", "port": "5432", "interval": "30s", "fails": 5,
            "recovers": "1", "timeout": 1.5, "name": "main", "chat_id": "-100", "bot": "b",
            "heartbeat": 60, "grace": "1m", "secret": "s", "thread_id": 3
        }))
        .unwrap();
        assert_eq!(r.target, "db");
        assert_eq!(r.kind, Some(Kind::Tcp));
        assert_eq!(r.port, Some(5432));
        assert_eq!(r.interval, Some(Duration::from_secs(30)));
        assert_eq!((r.fails, r.recovers), (Some(5), Some(1)));
        assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(r.name.as_deref(), Some("main"));
        assert_eq!(r.chat_id, Some(-100));
        assert_eq!(r.thread_id, Some(3));
        assert_eq!(r.bot.as_deref(), Some("b"));
        assert_eq!(r.heartbeat, Some(Duration::from_secs(60)));
        assert_eq!(r.grace, Some(Duration::from_secs(60)));
        assert_eq!(r.secret.as_deref(), Some("s"));
        // null is the same as absent
        let r = add(json!({"target": "x", "port": null, "name": null})).unwrap();
        assert_eq!((r.port, r.name), (None, None));
    }

    #[test]
    fn add_errors_name_the_field() {
        for (data, needle) in [
            (json!({}), "target is required"),
            (json!({"target": 5}), "target must be a string"),
            (json!({"target": "x", "colour": "red"}), "unknown field \"colour\""),
            (
                json!({"target": "x", "interval": "forever"}),
                "interval: invalid duration",
            ),
            (
                json!({"target": "x", "interval": -1}),
                "interval must be a number of seconds",
            ),
            (
                json!({"target": "x", "interval": true}),
                "interval must be a number of seconds",
            ),
            (json!({"target": "x", "port": 70000}), "port must be a port 1-65535"),
            (json!({"target": "x", "port": 0}), "port must be a port 1-65535"),
            (json!({"target": "x", "port": "http"}), "port must be"),
            (json!({"target": "x", "fails": -1}), "fails must be a whole number"),
            (json!({"target": "x", "fails": 1.5}), "fails must be a whole number"),
            (json!({"target": "x", "chat_id": "abc"}), "chat_id must be a chat id"),
            (json!({"target": "x", "kind": "http"}), "kind: unknown kind"),
            (json!({"target": "x", "thread_id": -1}), "thread_id must be"),
            (json!("x"), "data must be a JSON object"),
        ] {
            let (code, msg) = err_code(add(data.clone()));
            assert_eq!(code, ErrorCode::ValidationError, "{data}");
            assert!(msg.contains(needle), "{data}: {msg}");
        }
    }

    #[test]
    fn id_commands() {
        for (ty, want) in [
            ("del", Command::Del(Selector::Id(MonitorId(7)))),
            ("status", Command::Status(Selector::Id(MonitorId(7)))),
            ("pause", Command::Pause(Selector::Id(MonitorId(7)))),
            ("resume", Command::Resume(Selector::Id(MonitorId(7)))),
            ("rotate", Command::Rotate(Selector::Id(MonitorId(7)))),
        ] {
            for id in [json!(7), json!("7"), json!(" 7 ")] {
                let got = parse(&json!({"type": ty, "data": {"id": id}}).to_string()).unwrap();
                assert_eq!(got, Request::Command(want.clone()));
            }
            for data in [
                json!({}),
                json!({"id": "db"}),
                json!({"id": -1}),
                json!({"id": 1, "x": 2}),
            ] {
                let (code, _) = err_code(parse(&json!({"type": ty, "data": data}).to_string()));
                assert_eq!(code, ErrorCode::ValidationError, "{ty} {data}");
            }
        }
    }

    #[test]
    fn list_and_unknown_types() {
        assert_eq!(
            parse("{\"type\":\"list\"}").unwrap(),
            Request::Command(Command::List { chat_id: None })
        );
        assert_eq!(
            parse("{\"type\":\"list\",\"data\":{\"chat_id\":\"-42\"}}").unwrap(),
            Request::Command(Command::List { chat_id: Some(-42) })
        );
        assert_eq!(parse("{\"type\":\"ping\",\"data\":[1]}").unwrap(), Request::Ping);
        assert_eq!(
            parse("{\"type\":\"auth\",\"data\":{\"token\":\"t\"}}").unwrap(),
            Request::Auth("t".into())
        );
        assert_eq!(err_code(parse("{\"type\":\"auth\"}")).0, ErrorCode::ValidationError);
        assert_eq!(
            err_code(parse("{\"type\":\"launch\"}")).0,
            ErrorCode::UnknownMessageType
        );
        assert!(allowed_unauthenticated("ping") && allowed_unauthenticated("auth"));
        assert!(!allowed_unauthenticated("list"));
    }

    #[test]
    fn subscriptions() {
        let Request::Subscribe(req) = parse(
            "{\"type\":\"subscribe\",\"data\":{\"event_types\":[\"probe\"],\"filters\":{\"monitor_ids\":[1,\"2\"],\"chat_ids\":[]}}}",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(req.event_types, [EventType::Probe].into());
        assert_eq!(req.monitor_ids, Some([MonitorId(1), MonitorId(2)].into()));
        assert_eq!(req.chat_ids, None);
        let mut sub = Subscription::default();
        sub.subscribe(&req);
        assert!(sub.wants(EventType::Probe) && !sub.wants(EventType::State));
        assert!(sub.matches(MonitorId(1), None));
        assert!(!sub.matches(MonitorId(3), Some(5)));
        assert_eq!(
            sub.to_json(),
            json!({"event_types": ["probe"], "filters": {"monitor_ids": [1, 2], "chat_ids": null}})
        );
        sub.chat_ids = Some([5].into());
        assert!(sub.matches(MonitorId(1), Some(5)));
        assert!(!sub.matches(MonitorId(1), Some(6)));
        assert!(!sub.matches(MonitorId(1), None));
        sub.unsubscribe(&[EventType::Probe].into());
        assert_eq!(sub, Subscription::default());

        let Request::Subscribe(all) = parse("{\"type\":\"subscribe\"}").unwrap() else {
            panic!()
        };
        assert_eq!(all.event_types.len(), 2);
        assert_eq!(
            parse("{\"type\":\"subscribe\",\"data\":{\"event_types\":\"state\"}}").unwrap(),
            Request::Subscribe(SubscribeRequest {
                event_types: [EventType::State].into(),
                ..Default::default()
            })
        );
        for bad in [
            "{\"type\":\"subscribe\",\"data\":{\"event_types\":[\"probes\"]}}",
            "{\"type\":\"subscribe\",\"data\":{\"filters\":{\"hosts\":[]}}}",
            "{\"type\":\"subscribe\",\"data\":{\"filters\":{\"monitor_ids\":[\"x\"]}}}",
            "{\"type\":\"subscribe\",\"data\":{\"filters\":{\"monitor_ids\":5}}}",
            "{\"type\":\"unsubscribe\",\"data\":{\"event_types\":[\"all\"]}}",
        ] {
            assert_eq!(err_code(parse(bad)).0, ErrorCode::ValidationError, "{bad}");
        }
        assert_eq!(
            parse("{\"type\":\"unsubscribe\"}").unwrap(),
            Request::Unsubscribe([EventType::Probe, EventType::State].into())
        );
    }

    #[test]
    fn core_errors_map_to_codes() {
        for (e, code) in [
            (CoreError::Validation("v".into()), "VALIDATION_ERROR"),
            (CoreError::NotFound("n".into()), "NOT_FOUND"),
            (CoreError::AlreadyExists("a".into()), "ALREADY_EXISTS"),
            (CoreError::PermissionDenied("p".into()), "PERMISSION_DENIED"),
            (CoreError::Internal("disk full".into()), "INTERNAL_ERROR"),
        ] {
            let w = WsError::from(e.clone());
            assert_eq!(w.code.as_str(), code);
            assert_eq!(w.message, e.to_string());
            let v: Value = serde_json::from_str(&error_message(Some(&json!("r")), &w, 0)).unwrap();
            assert_eq!(v["type"], "error");
            assert_eq!(v["data"]["code"], code);
            assert_eq!(v["request_id"], "r");
        }
    }

    #[test]
    fn messages_render_in_wire_order() {
        let s = message("pong", Some(&json!(7)), pong_data(0), 0);
        assert_eq!(
            s,
            "{\"type\":\"pong\",\"request_id\":7,\"data\":{\"server_time\":\"1970-01-01T00:00:00.000Z\"},\"timestamp\":\"1970-01-01T00:00:00.000Z\"}"
        );
        let s = message("x", None, json!({}), 1_000);
        assert!(!s.contains("request_id"));
        assert_eq!(
            events_dropped(3, 0),
            "{\"type\":\"events_dropped\",\"data\":{\"count\":3},\"timestamp\":\"1970-01-01T00:00:00.000Z\"}"
        );
        let p = ProbeEvent {
            monitor_id: MonitorId(4),
            chat_id: Some(1),
            ok: false,
            rtt_ms: None,
            error: Some("timeout".into()),
            at_ms: 2_000,
        };
        let v: Value = serde_json::from_str(&probe_event(&p, 0)).unwrap();
        assert_eq!(
            v,
            json!({"type": "probe", "data": {"monitor_id": 4, "ok": false, "rtt_ms": null, "error": "timeout"},
                   "timestamp": "1970-01-01T00:00:02.000Z"})
        );
        let st = StateEvent {
            monitor_id: MonitorId(4),
            chat_id: None,
            name: "n".into(),
            target: "t".into(),
            from: State::Up,
            to: State::Down,
            reason: "3 of 3 pings lost".into(),
            announce: true,
            down_for_ms: None,
            at_ms: 0,
        };
        let v: Value = serde_json::from_str(&state_event(&st, 5_000)).unwrap();
        assert_eq!(v["type"], "state");
        assert_eq!(v["data"]["from"], "up");
        assert_eq!(v["data"]["to"], "down");
        assert_eq!(v["data"]["reason"], "3 of 3 pings lost");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:05.000Z");
    }
}
