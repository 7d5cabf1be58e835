//! upbot: a Telegram-bot-first chat-ops uptime monitor.
//!
//! Data flows one way (see `../README.md`, "Architecture"):
//! fronts (Telegram, WebSocket, CLI over WS, HTTP) parse into [`core::Command`] and run
//! through [`core::Service`], which validates, persists to [`store::Store`] (flushing
//! before it acknowledges) and tells the [`scheduler::Scheduler`]. The scheduler probes
//! ([`probe`]), debounces ([`domain::state`]) and publishes on the [`events::EventBus`],
//! which the fronts subscribe to.
//!
//! Push monitors are passive: [`push::Push`] keeps their tokens and heartbeat
//! deadlines (the scheduler's counterpart), and [`http`] receives their webhooks.
//! [`metrics`] is a leaf every part reports into.
//!
//! Lower layers never import higher ones: `domain` ← `store`, `probe` ← `scheduler`
//! and `push` ← `core` ← `ws`, `http`, `telegram` ← `app`.

pub mod app;
pub mod client;
pub mod cluster;
pub mod config;
pub mod core;
pub mod domain;
pub mod events;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod pictures;
pub mod probe;
pub mod push;
pub mod scheduler;
pub mod store;
pub mod telegram;
pub mod ws;
