//! The envelope dialect's wire format, as pure functions: classifying an incoming text
//! frame (envelope or legacy), parsing each request type into a [`Request`], and
//! rendering replies, errors and events. No I/O here, so every rule is unit-tested.
//!
//! Client → server: `{"type": T, "request_id"?: string|number, "data"?: {…}}`.
//! Server → client: `{"type": T, "request_id"?: …, "data": {…}, "timestamp": RFC 3339}`;
//! `request_id` is echoed exactly as given (string or number) and omitted when absent.

use std::collections::BTreeSet;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use crate::core::ErrorCode;
use crate::core::cmd::args;
use crate::core::{Command, CoreError, Reply, SPECS};
use crate::domain::{MonitorId, rfc3339};
use crate::events::{ProbeEvent, StateEvent};

/// Largest text message the API accepts (interface.md: "over 1 MiB are refused").
pub const MAX_TEXT: usize = 1 << 20;

/// Message types of the WS API that are not core commands.
pub const WS_TYPES: &[&str] = &["subscribe", "unsubscribe", "ping", "auth", "client_info"];

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

/// The core's one code mapping ([`CoreError::code`]), nothing added here.
impl From<CoreError> for WsError {
    fn from(e: CoreError) -> Self {
        Self::new(e.code(), e.to_string())
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

/// A JSON value read like `serde_json::Value`, except that an object with a repeated
/// key is refused: "last one wins" would let two parts of a system read two different
/// requests from one message.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Strict::deserialize(d).map(|s| s.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if out.contains_key(&k) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses one text frame as JSON, refusing repeated keys at any depth.
pub fn parse_json(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Strict>(text) {
        Ok(Strict(v)) => Ok(v),
        Err(e) if e.is_data() => Err(format!("message refused: {e}")),
        Err(e) => Err(format!("message is not valid JSON: {e}")),
    }
}

/// Classifies one text frame. Size is checked by the caller (it has the raw length).
pub fn classify(text: &str) -> Result<Incoming, Rejected> {
    let reject = |request_id, msg: String| Rejected {
        request_id,
        error: WsError::format(msg),
    };
    let value = parse_json(text).map_err(|e| reject(None, e))?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// A command for the core (`add`, `del`, `list`, `status`, `pause`, `resume`, `rotate`).
    Command(Command),
    /// `subscribe`.
    Subscribe(SubscribeRequest),
    /// `unsubscribe` (the types to remove).
    Unsubscribe(BTreeSet<EventType>),
    /// `ping`.
    Ping,
    /// `auth` with the token.
    Auth(String),
    /// `client_info`: a dashboard says what it is; answered with `connection_status`.
    ClientInfo,
}

/// `subscribe` data.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct SubscribeData {
    /// `"state"` or `["probe","state"]`.
    event_types: Option<Value>,
    filters: Option<Filters>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Filters {
    monitor_ids: Option<Vec<Num<u64>>>,
    chat_ids: Option<Vec<Num<i64>>>,
}

/// One number of a filter list (a number or a numeric string).
#[derive(Deserialize)]
struct Num<T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr>(#[serde(with = "args::num")] T);

/// `unsubscribe` data.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct UnsubscribeData {
    event_types: Option<Value>,
}

/// `auth` data.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthData {
    token: String,
}

/// The `data` of a non-command request as `T` (absent = empty object).
fn data_as<T: serde::de::DeserializeOwned>(ty: &str, data: Option<&Value>) -> Result<T, WsError> {
    let v = match data {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(WsError::validation(format!("{ty}: data must be a JSON object"))),
    };
    args::from_json(v).map_err(|e| WsError::validation(format!("{ty}: {e}")))
}

fn event_types(v: Option<Value>) -> Result<BTreeSet<EventType>, WsError> {
    let one = |v: Value| {
        serde_json::from_value::<EventType>(v.clone()).map_err(|_| {
            WsError::validation(format!(
                "event_types: unknown event type {v}; use \"probe\" and/or \"state\""
            ))
        })
    };
    match v {
        None | Some(Value::Null) => Ok([EventType::Probe, EventType::State].into()),
        // A single string is accepted for convenience.
        Some(v @ Value::String(_)) => Ok([one(v)?].into()),
        Some(Value::Array(a)) => a.into_iter().map(one).collect(),
        Some(_) => Err(WsError::validation("event_types must be an array")),
    }
}

/// Parses an envelope's `type` and `data` into a request: core commands through their
/// one definition ([`Command::from_json`]), the socket's own types here.
pub fn parse_request(env: &Envelope) -> Result<Request, WsError> {
    let ty = env.ty.as_str();
    if let Some(cmd) = Command::from_json(ty, env.data.clone()) {
        return cmd.map(Request::Command).map_err(WsError::from);
    }
    let data = env.data.as_ref();
    match ty {
        "ping" => Ok(Request::Ping),
        "client_info" => Ok(Request::ClientInfo),
        "subscribe" => {
            let d: SubscribeData = data_as(ty, data)?;
            let filters = d.filters.unwrap_or_default();
            // An empty list is read as "no filter": it is what UIs send for "all".
            let monitor_ids = filters
                .monitor_ids
                .map(|v| v.into_iter().map(|n| MonitorId(n.0)).collect::<BTreeSet<_>>())
                .filter(|s| !s.is_empty());
            let chat_ids = filters
                .chat_ids
                .map(|v| v.into_iter().map(|n| n.0).collect::<BTreeSet<_>>())
                .filter(|s| !s.is_empty());
            Ok(Request::Subscribe(SubscribeRequest {
                event_types: event_types(d.event_types)?,
                monitor_ids,
                chat_ids,
            }))
        }
        "unsubscribe" => {
            let d: UnsubscribeData = data_as(ty, data)?;
            Ok(Request::Unsubscribe(event_types(d.event_types)?))
        }
        "auth" => {
            let d: AuthData = data_as(ty, data)?;
            Ok(Request::Auth(d.token))
        }
        other => {
            let known: Vec<&str> = SPECS.iter().map(|s| s.name).chain(WS_TYPES.iter().copied()).collect();
            Err(WsError::new(
                ErrorCode::UnknownMessageType,
                format!("unknown message type {other:?}; known: {}", known.join(", ")),
            ))
        }
    }
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
        Reply::Graph(g) => ("graph", graph_data(&g)),
        Reply::Page(p) => ("page", v(serde_json::to_value(p))),
        Reply::ListDown(ms) => ("list", json!({ "monitors": v(serde_json::to_value(ms)) })),
        Reply::Acked(m) => ("acked", v(serde_json::to_value(m))),
        Reply::Muted(m) => ("muted", v(serde_json::to_value(m))),
        Reply::Unmuted(m) => ("unmuted", v(serde_json::to_value(m))),
        Reply::Reminders(r) => ("reminders", v(serde_json::to_value(r))),
        Reply::Quiet(q) => ("quiet", v(serde_json::to_value(q))),
        Reply::Lang(l) => ("lang", v(serde_json::to_value(l))),
    }
}

/// The `graph` reply's data: the figures, the incidents and the PNG in base64.
fn graph_data(g: &crate::core::cmd::GraphView) -> Value {
    use base64::Engine as _;
    let t = &g.totals;
    let ms = |us: f64| us / 1000.0;
    let incidents: Vec<Value> = g
        .incidents
        .iter()
        .map(|i| {
            json!({
                "start": rfc3339(i.start_ms),
                "end": rfc3339(i.end_ms),
                "down_seconds": i.down_ms / 1000,
                "ongoing": i.ongoing,
            })
        })
        .collect();
    json!({
        "id": g.monitor.id,
        "name": g.monitor.name,
        "target": g.monitor.target,
        "period": g.period.as_str(),
        "from": rfc3339(g.from_ms),
        "to": rfc3339(g.to_ms),
        "uptime_pct": g.uptime_pct(),
        "down_seconds": t.down_ms / 1000,
        "degraded_seconds": t.degraded_ms / 1000,
        "probes": t.probes,
        "failures": t.failures,
        "rtt_min_ms": (t.rtt_count > 0).then(|| ms(f64::from(t.rtt_min_us))),
        "rtt_avg_ms": t.rtt_avg_us().map(ms),
        "rtt_max_ms": (t.rtt_count > 0).then(|| ms(f64::from(t.rtt_max_us))),
        "incidents": incidents,
        "content_type": "image/png",
        "width": crate::pictures::chart::WIDTH,
        "height": crate::pictures::chart::HEIGHT,
        "png_base64": base64::engine::general_purpose::STANDARD.encode(&g.png),
    })
}

/// The `pong` data.
pub fn pong_data(now_ms: u64) -> Value {
    json!({ "server_time": rfc3339(now_ms) })
}

/// The `authenticated` data.
pub fn authenticated_data() -> Value {
    json!({ "authenticated": true })
}

/// The `connection_status` data answering `client_info` (the seed dashboards' opening
/// handshake): `{"status","server_version","server_time","client_count",
/// "uptime_seconds","features"}`; `features` names every message type served.
pub fn connection_status_data(client_count: usize, uptime: std::time::Duration, now_ms: u64) -> Value {
    let features: Vec<&str> = SPECS.iter().map(|s| s.name).chain(WS_TYPES.iter().copied()).collect();
    json!({
        "status": "connected",
        "server_version": env!("CARGO_PKG_VERSION"),
        "server_time": rfc3339(now_ms),
        "client_count": client_count,
        "uptime_seconds": uptime.as_secs(),
        "features": features,
    })
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
    fn duplicate_keys_are_refused_at_any_depth() {
        for text in [
            r#"{"type":"ping","type":"add"}"#,
            r#"{"type":"add","data":{"target":"a","target":"b"}}"#,
            r#"{"type":"subscribe","data":{"filters":{"chat_ids":[1],"chat_ids":[2]}}}"#,
            r#"{"cmd":"monitor","host":"a","host":"b"}"#,
        ] {
            let r = classify(text).unwrap_err();
            assert_eq!(r.error.code, ErrorCode::InvalidMessageFormat, "{text}");
            assert!(r.error.message.contains("duplicate key"), "{}", r.error.message);
        }
        // the same key in different objects is fine
        assert!(classify(r#"{"type":"add","data":{"type":"tcp","target":"a"}}"#).is_ok());
    }

    #[test]
    fn commands_go_through_the_core_definition() {
        let r = parse(r#"{"type":"add","data":{"target":"db","port":"5432","interval":"30s"}}"#).unwrap();
        let Request::Command(Command::Add(a)) = r else {
            panic!("{r:?}")
        };
        assert_eq!((a.target.as_str(), a.port), ("db", Some(5432)));
        let (code, msg) = err_code(parse(r#"{"type":"add","data":{"target":"x","colour":"red"}}"#));
        assert_eq!(code, ErrorCode::ValidationError);
        assert!(msg.contains("colour"), "{msg}");
        assert_eq!(
            parse(r#"{"type":"del","data":{"id":"7"}}"#).unwrap(),
            Request::Command(Command::Del(crate::core::Selector::Id(MonitorId(7))))
        );
        assert_eq!(
            parse(r#"{"type":"list","data":{"chat_id":"-42"}}"#).unwrap(),
            Request::Command(Command::List { chat_id: Some(-42) })
        );
    }

    #[test]
    fn socket_types_and_unknown_types() {
        assert_eq!(parse("{\"type\":\"ping\",\"data\":[1]}").unwrap(), Request::Ping);
        assert_eq!(
            parse(r#"{"type":"client_info","data":{"client":"dashboard","version":"1.2"}}"#).unwrap(),
            Request::ClientInfo
        );
        assert_eq!(
            parse("{\"type\":\"auth\",\"data\":{\"token\":\"t\"}}").unwrap(),
            Request::Auth("t".into())
        );
        assert_eq!(err_code(parse("{\"type\":\"auth\"}")).0, ErrorCode::ValidationError);
        let (code, msg) = err_code(parse("{\"type\":\"launch\"}"));
        assert_eq!(code, ErrorCode::UnknownMessageType);
        assert!(msg.contains("add, del, list") && msg.contains("client_info"), "{msg}");
        assert!(allowed_unauthenticated("ping") && allowed_unauthenticated("auth"));
        assert!(!allowed_unauthenticated("list"));
        let v = connection_status_data(3, std::time::Duration::from_secs(61), 0);
        assert_eq!(v["status"], "connected");
        assert_eq!(
            (v["client_count"].as_u64(), v["uptime_seconds"].as_u64()),
            (Some(3), Some(61))
        );
        assert!(v["server_version"].is_string() && v["server_time"].is_string());
        assert!(v["features"].as_array().unwrap().iter().any(|f| f == "subscribe"));
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
    fn core_errors_render_with_the_core_code() {
        for e in [
            CoreError::Validation("v".into()),
            CoreError::NotFound("n".into()),
            CoreError::AlreadyExists("a".into()),
            CoreError::PermissionDenied("p".into()),
            CoreError::Internal("disk full".into()),
        ] {
            let w = WsError::from(e.clone());
            assert_eq!(w.code, e.code());
            assert_eq!(w.message, e.to_string());
            let v: Value = serde_json::from_str(&error_message(Some(&json!("r")), &w, 0)).unwrap();
            assert_eq!(v["type"], "error");
            assert_eq!(v["data"]["code"], e.code().as_str());
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
            sent: 3,
            received: 0,
            at_ms: 2_000,
        };
        let v: Value = serde_json::from_str(&probe_event(&p, 0)).unwrap();
        assert_eq!(
            v,
            json!({"type": "probe", "data": {"monitor_id": 4, "ok": false, "rtt_ms": null, "error": "timeout", "sent": 3, "received": 0},
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
            oncall: None,
            acked_by: None,
            ack_reason: None,
            muted_until: None,
        };
        let v: Value = serde_json::from_str(&state_event(&st, 5_000)).unwrap();
        assert_eq!(v["type"], "state");
        assert_eq!(v["data"]["from"], "up");
        assert_eq!(v["data"]["to"], "down");
        assert_eq!(v["data"]["reason"], "3 of 3 pings lost");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:05.000Z");
    }
}
