//! The service's front door: what the fronts ask the core for besides commands.
//!
//! The fronts never hold the store or an engine. They get narrow handles for the one
//! job each truly has ([`Outbox`] for the Telegram senders, [`AllowList`] for its
//! access rules, [`WebhookIds`] for the HTTP receiver's replay protection), and ask
//! here for the rest: resolving and reporting a push token, remembering a bot added
//! through the API, the engines' health, the `/metrics` text.
//!
//! Two things stay streams by nature, handed out as they are: the event bus
//! ([`Service::events`]: WS sessions subscribe to probe and state events, and the
//! Telegram front publishes chat notices into it) and the metrics
//! ([`Service::metrics`]: every front counts what it serves — webhooks, updates,
//! sends — into the one registry the scrape renders).

use super::service::Service;
use crate::domain::{Monitor, MonitorId};
use crate::metrics::{ClusterFigures, Format, MonitorSample, SiteFigures};
use crate::push::{Ack, PushError, Signal};
use crate::store::{AllowList, Outbox, StoreError, StoredBot, WebhookIds};

/// Whether the parts behind the core work (for `/healthz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineHealth {
    /// `Err(why)` when the store cannot write or read.
    pub store: Result<(), String>,
    /// The push engine runs.
    pub push: bool,
    /// The probe scheduler runs.
    pub scheduler: bool,
}

impl Service {
    /// The durable outbox, as the Telegram alert senders use it.
    pub fn outbox(&self) -> Outbox {
        self.store().outbox_handle()
    }

    /// The chats allowed implicitly (an operator named them).
    pub fn allow_list(&self) -> AllowList {
        self.store().allow_list()
    }

    /// Webhook ids already used (Standard Webhooks replay protection).
    pub fn webhook_ids(&self) -> WebhookIds {
        self.store().webhook_ids()
    }

    /// The push monitor a webhook token belongs to.
    pub fn push_lookup(&self, token: &str) -> Option<Monitor> {
        self.push().lookup(token)
    }

    /// Applies a push report (a heartbeat, an explicit up or down) to monitor `id`.
    pub async fn push_report(&self, id: MonitorId, signal: Signal) -> Result<Ack, PushError> {
        self.push().report(id, signal).await
    }

    /// Bots added through the API (they start again at boot).
    pub fn stored_bots(&self) -> Result<Vec<StoredBot>, StoreError> {
        self.store().bots()
    }

    /// Remembers a bot added through the API, durably.
    pub async fn remember_bot(&self, bot: &StoredBot) -> Result<(), StoreError> {
        self.store().put_bot(bot).await
    }

    /// Whether the store and the engines work.
    pub fn engine_health(&self) -> EngineHealth {
        let store = self.store();
        EngineHealth {
            store: store
                .write_health()
                .and_then(|()| store.schema_version().map(drop).map_err(|e| e.to_string())),
            push: self.push().alive(),
            scheduler: self.scheduler_alive(),
        }
    }

    /// The Prometheus text for `monitors` (with the outbox's length, and the
    /// cluster's figures in cluster mode).
    pub fn render_metrics(&self, monitors: &[MonitorSample<'_>], format: Format) -> String {
        let cluster = self.cluster().map(|c| c.health());
        let figures = cluster.as_ref().map(|h| ClusterFigures {
            leading: h.leading,
            sites: h
                .sites
                .iter()
                .map(|s| SiteFigures {
                    site: &s.site,
                    reporting: s.reporting,
                    verdicts: s.verdicts.iter().map(|(k, v)| (*k, *v)).collect(),
                })
                .collect(),
        });
        self.metrics()
            .render_with(monitors, self.store().outbox_len(), format, figures.as_ref())
    }
}
