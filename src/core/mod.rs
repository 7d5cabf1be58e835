//! The command core: every front (Telegram, WebSocket, CLI via WS, HTTP) turns its
//! input into a [`Command`], runs it through the one [`Service`], and renders the
//! [`Reply`] or [`CoreError`] in its own syntax.
//!
//! Where things are, one hop each:
//! - a command's input, help, validation and run: [`cmd`] (one file per command);
//! - the door, the cache of monitors, ids and limits: [`service`];
//! - what fronts show: [`view`];
//! - the errors and their codes: [`error`];
//! - the engines behind one trait (probe scheduler, push engine): [`engine`];
//! - whole-chat operations (migration, a removed bot): `chat.rs`;
//! - published status pages and the data they show: [`pages`];
//! - the periodic save of the engines' recorded history: [`history`];
//! - Telegram bots as the core needs them: [`gateway`];
//! - acks, mutes, reminders and chat settings, and the on-call clock: [`oncall`];
//! - cluster mode as the core sees it (verdicts, sites, changes from other nodes):
//!   [`replica`].

mod chat;
pub mod cmd;
pub mod door;
pub mod engine;
pub mod error;
pub mod gateway;
pub mod history;
pub mod oncall;
pub mod pages;
pub mod replica;
pub mod service;
pub mod view;

pub use cmd::{
    AckRequest, AddRequest, ById, Command, Every, LangRequest, ListRequest, MuteRequest, QuietRequest, RemindRequest,
    SPECS, Scope, Selector, Spec, UnmuteRequest, parse_duration,
};
pub use door::EngineHealth;
pub use engine::{Engine, Engines};
pub use error::{CoreError, ErrorCode};
pub use gateway::{BotGateway, ResolveFuture};
pub use service::{Caller, ChatSafety, Service};
pub use view::{LangView, MonitorView, MuteView, QuietView, RemindView, Reply, StatusView, UnmuteView};
