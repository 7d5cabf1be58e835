//! The command set, one file per command (mini-redis `src/cmd/*.rs`): each owns its
//! input type (serde for the WS API and chat `key=value` words, clap for the CLI), its
//! help text ([`Spec`]), its validation and its run against the [`Service`].
//!
//! Where a command goes, in one hop:
//! - WS `{"type":"add","data":{…}}` → [`Command::from_json`] → `add.rs`;
//! - chat `/add …` → `telegram::commands::action` → [`AddRequest::parse_chat`] → `add.rs`;
//! - CLI `upbot add …` → clap parses [`AddRequest`] → sent as the WS `add` above;
//! - the Telegram command menu and `/help` are rendered from [`SPECS`].

pub mod ack;
pub mod add;
pub mod args;
pub mod graph;
pub mod lang;
pub mod list;
pub mod mute;
pub mod page;
pub mod pause;
pub mod quiet;
pub mod remind;
pub mod remove;
pub mod rotate;
pub mod status;
pub mod unmute;

use crate::i18n::msg;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use ack::AckRequest;
pub use add::AddRequest;
pub use args::{Every, Scope};
pub use graph::{GraphRequest, GraphView, Period};
pub use lang::LangRequest;
pub use list::ListRequest;
pub use mute::MuteRequest;
pub use page::{PageRequest, PageView};
pub use quiet::QuietRequest;
pub use remind::RemindRequest;
pub use unmute::UnmuteRequest;

use super::error::{CoreError, invalid};
use super::service::{Caller, Reply, Service};
use crate::domain::MonitorId;

/// What a command is, for help texts and menus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// The name on every front (`add`: WS `type`, chat `/add`, CLI `upbot add`).
    pub name: &'static str,
    /// Its chat arguments, plain text (`<id>`).
    pub args: &'static str,
    /// What it does, for people (the CLI's `--help`, the chat menu and `/help`).
    pub about: &'static str,
    /// A short chat example of its arguments (`7`), shown in the command menu.
    pub example: &'static str,
    /// Whether it changes monitors (groups: admins only).
    pub modifies: bool,
}

impl Spec {
    /// The command menu line: `stop watching — /del 7`.
    pub fn menu(&self) -> String {
        if self.example.is_empty() {
            self.about.to_string()
        } else {
            format!("{} — /{} {}", self.about, self.name, self.example)
        }
    }
}

/// Every command of the core, in menu order.
pub const SPECS: &[Spec] = &[
    add::SPEC,
    remove::SPEC,
    list::SPEC,
    status::SPEC,
    pause::PAUSE,
    pause::RESUME,
    rotate::SPEC,
    graph::SPEC,
    page::SPEC,
    ack::SPEC,
    mute::SPEC,
    unmute::SPEC,
    remind::SPEC,
    quiet::SPEC,
    lang::SPEC,
];

/// Which monitor a command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// By id (`/del 7`).
    Id(MonitorId),
    /// By host or target, when unique among the caller's monitors (`/del db`).
    Host(String),
}

impl Selector {
    /// Parses `7` (or `#7`) as an id, anything else as a host.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(invalid(msg!("err-id-required")));
        }
        let digits = s.strip_prefix('#').unwrap_or(s);
        match digits.parse::<u64>() {
            Ok(n) => Ok(Selector::Id(MonitorId(n))),
            Err(_) if digits.chars().all(|c| c.is_ascii_digit()) => {
                Err(invalid(msg!("err-invalid-id", id = format!("{s:?}"))))
            }
            Err(_) => Ok(Selector::Host(s.to_string())),
        }
    }
}

/// The input of the commands about one monitor (`del`, `status`, `pause`, `resume`,
/// `rotate`): `{"id": 7}` on the WS API, `upbot del 7` on the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ById {
    /// Monitor id (7 or #7)
    #[arg(value_parser = args::monitor_id)]
    #[serde(with = "args::num")]
    pub id: u64,
}

impl ById {
    fn selector(self) -> Selector {
        Selector::Id(MonitorId(self.id))
    }
}

/// A request to the command core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Create a monitor.
    Add(Box<AddRequest>),
    /// Remove a monitor.
    Del(Selector),
    /// List monitors (optionally of one chat; chat callers always see only theirs).
    List {
        /// Chat filter for operator callers.
        chat_id: Option<i64>,
    },
    /// Details of one monitor.
    Status(Selector),
    /// Stop probing without deleting.
    Pause(Selector),
    /// Start probing again.
    Resume(Selector),
    /// Give a push monitor a new token (its old webhook URLs stop working).
    Rotate(Selector),
    /// A response-time chart of one monitor over a period.
    Graph(Selector, Period),
    /// Publish, take down or show the chat's status page.
    Page(PageRequest),
    /// The monitors not UP (`list down`).
    ListDown {
        /// Chat filter for operator callers.
        chat_id: Option<i64>,
    },
    /// Someone is on it.
    Ack(AckRequest),
    /// Hold alerts for a while.
    Mute(MuteRequest),
    /// End a mute now.
    Unmute(UnmuteRequest),
    /// Remind while DOWN.
    Remind(RemindRequest),
    /// Quiet recoveries.
    Quiet(QuietRequest),
    /// The chat's language.
    Lang(LangRequest),
}

impl Command {
    /// The command a WS message `type` names, with its `data` deserialised into the
    /// command's input type (unknown fields, duplicate fields and bad values are
    /// validation errors naming the field); `None` when `ty` is not a command.
    pub fn from_json(ty: &str, data: Option<Value>) -> Option<Result<Command, CoreError>> {
        if !SPECS.iter().any(|s| s.name == ty) {
            return None;
        }
        let data = match data {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(v @ Value::Object(_)) => v,
            Some(_) => return Some(Err(invalid(format!("{ty}: data must be a JSON object")))),
        };
        let by_id = |data: Value| args::from_json::<ById>(data).map(ById::selector);
        let cmd = match ty {
            "add" => args::from_json::<AddRequest>(data).map(|r| Command::Add(Box::new(r))),
            "del" => by_id(data).map(Command::Del),
            "status" => by_id(data).map(Command::Status),
            "pause" => by_id(data).map(Command::Pause),
            "resume" => by_id(data).map(Command::Resume),
            "rotate" => by_id(data).map(Command::Rotate),
            "graph" => {
                args::from_json::<GraphRequest>(data).map(|g| Command::Graph(Selector::Id(MonitorId(g.id)), g.period))
            }
            "page" => args::from_json::<PageRequest>(data).map(Command::Page),
            "list" => args::from_json::<ListRequest>(data).map(|l| match l.down {
                Some(true) => Command::ListDown { chat_id: l.chat_id },
                _ => Command::List { chat_id: l.chat_id },
            }),
            "ack" => args::from_json::<AckRequest>(data).map(Command::Ack),
            "mute" => args::from_json::<MuteRequest>(data).map(Command::Mute),
            "unmute" => args::from_json::<UnmuteRequest>(data).map(Command::Unmute),
            "remind" => args::from_json::<RemindRequest>(data).map(Command::Remind),
            "quiet" => args::from_json::<QuietRequest>(data).map(Command::Quiet),
            "lang" => args::from_json::<LangRequest>(data).map(Command::Lang),
            _ => return None,
        };
        Some(cmd.map_err(|e| invalid(msg!("err-field", field = ty.to_string(), error = e))))
    }

    /// The command's name (`add`, `del`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Add(_) => add::SPEC.name,
            Command::Del(_) => remove::SPEC.name,
            Command::List { .. } => list::SPEC.name,
            Command::Status(_) => status::SPEC.name,
            Command::Pause(_) => pause::PAUSE.name,
            Command::Resume(_) => pause::RESUME.name,
            Command::Rotate(_) => rotate::SPEC.name,
            Command::Graph(..) => graph::SPEC.name,
            Command::Page(_) => page::SPEC.name,
            Command::ListDown { .. } => list::SPEC.name,
            Command::Ack(_) => ack::SPEC.name,
            Command::Mute(_) => mute::SPEC.name,
            Command::Unmute(_) => unmute::SPEC.name,
            Command::Remind(_) => remind::SPEC.name,
            Command::Quiet(_) => quiet::SPEC.name,
            Command::Lang(_) => lang::SPEC.name,
        }
    }

    /// Runs the command for `caller` (the one dispatch point).
    pub(crate) async fn run(self, svc: &Service, caller: &Caller) -> Result<Reply, CoreError> {
        match self {
            Command::Add(req) => add::run(svc, caller, *req).await.map(Reply::Added),
            Command::Del(sel) => remove::run(svc, caller, &sel).await.map(Reply::Deleted),
            Command::List { chat_id } => Ok(Reply::List(list::run(svc, caller, chat_id))),
            Command::Status(sel) => status::run(svc, caller, &sel).map(|s| Reply::Status(Box::new(s))),
            Command::Pause(sel) => pause::run(svc, caller, &sel, true).await.map(Reply::Paused),
            Command::Resume(sel) => pause::run(svc, caller, &sel, false).await.map(Reply::Resumed),
            Command::Rotate(sel) => rotate::run(svc, caller, &sel).await.map(Reply::Rotated),
            Command::Graph(sel, period) => graph::run(svc, caller, &sel, period)
                .await
                .map(|g| Reply::Graph(Box::new(g))),
            Command::Page(req) => page::run(svc, caller, req).await.map(Reply::Page),
            Command::ListDown { chat_id } => Ok(Reply::ListDown(list::run_down(svc, caller, chat_id))),
            Command::Ack(req) => ack::run(svc, caller, req).await.map(Reply::Acked),
            Command::Mute(req) => mute::run(svc, caller, req).await.map(Reply::Muted),
            Command::Unmute(req) => unmute::run(svc, caller, req).await.map(Reply::Unmuted),
            Command::Remind(req) => remind::run(svc, caller, req).await.map(Reply::Reminders),
            Command::Quiet(req) => quiet::run(svc, caller, req).await.map(Reply::Quiet),
            Command::Lang(req) => lang::run(svc, caller, req).await.map(Reply::Lang),
        }
    }
}

/// Parses a duration as users write it (kept for callers of the old core API; the one
/// parser is [`crate::domain::duration::parse`]).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, CoreError> {
    crate::domain::duration::parse(s).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ws(ty: &str, data: Value) -> Result<Command, CoreError> {
        Command::from_json(ty, Some(data)).expect("a command type")
    }

    #[test]
    fn selectors() {
        assert_eq!(Selector::parse("7").unwrap(), Selector::Id(MonitorId(7)));
        assert_eq!(Selector::parse("#7").unwrap(), Selector::Id(MonitorId(7)));
        assert_eq!(Selector::parse("db.lan").unwrap(), Selector::Host("db.lan".into()));
        assert!(Selector::parse("").is_err());
        assert!(Selector::parse("99999999999999999999999").is_err());
    }

    #[test]
    fn id_commands_take_numbers_and_numeric_strings_only() {
        for (ty, want) in [
            ("del", Command::Del(Selector::Id(MonitorId(7)))),
            ("status", Command::Status(Selector::Id(MonitorId(7)))),
            ("pause", Command::Pause(Selector::Id(MonitorId(7)))),
            ("resume", Command::Resume(Selector::Id(MonitorId(7)))),
            ("rotate", Command::Rotate(Selector::Id(MonitorId(7)))),
        ] {
            for id in [json!(7), json!("7"), json!(" 7 ")] {
                assert_eq!(ws(ty, json!({"id": id})).unwrap(), want);
            }
            for data in [
                json!({}),
                json!({"id": "db"}),
                json!({"id": -1}),
                json!({"id": 1.5}),
                json!({"id": null}),
                json!({"id": 1, "x": 2}),
                json!([1]),
            ] {
                let e = ws(ty, data.clone()).unwrap_err();
                assert_eq!(e.code(), "VALIDATION_ERROR", "{ty} {data}");
                assert!(e.to_string().starts_with(&format!("{ty}: ")), "{e}");
            }
        }
        assert!(Command::from_json("launch", None).is_none());
    }

    #[test]
    fn list_filter() {
        assert_eq!(ws("list", json!({})).unwrap(), Command::List { chat_id: None });
        assert_eq!(
            Command::from_json("list", None).unwrap().unwrap(),
            Command::List { chat_id: None }
        );
        assert_eq!(
            ws("list", json!({"chat_id": "-42"})).unwrap(),
            Command::List { chat_id: Some(-42) }
        );
        assert!(ws("list", json!({"chat_id": "abc"})).is_err());
    }

    #[test]
    fn menu_lines() {
        assert_eq!(
            add::SPEC.menu(),
            "watch a host, host:port, URL or DNS name — /add 192.0.2.10 interval=30s"
        );
        assert_eq!(list::SPEC.menu(), "this chat's monitors");
        let names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "add", "del", "list", "status", "pause", "resume", "rotate", "graph", "page", "ack", "mute", "unmute",
                "remind", "quiet", "lang"
            ]
        );
    }
}
