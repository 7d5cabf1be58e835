//! The command core: every front (Telegram, WebSocket, CLI via WS, HTTP) turns its
//! input into a [`Command`], runs it through the one [`Service`], and maps the
//! [`Reply`] or [`CoreError`] back to its own syntax. Validation, ownership rules and
//! durability (reply only after flush) live here once.

pub mod command;
pub mod error;
pub mod gateway;
pub mod service;

pub use command::{AddRequest, Command, Selector, parse_duration};
pub use error::CoreError;
pub use gateway::{BotGateway, ResolveFuture};
pub use service::{Caller, MonitorView, Reply, Service, StatusView};
