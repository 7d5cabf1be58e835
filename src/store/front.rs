//! The narrow handles the fronts get, through the service, instead of the whole store:
//! each is one capability a front needs and nothing else.
//!
//! - [`Outbox`]: what an alert sender does with the durable outbox (read a chat's
//!   alerts, remove delivered ones, wait for new ones, move or drop a chat's);
//! - [`AllowList`]: the chats allowed implicitly (the Telegram front's access rules);
//! - [`WebhookIds`]: Standard Webhooks ids already used (the HTTP receiver's replay
//!   protection).
//!
//! Monitors, health, statistics and everything else stay behind the command core.

use tokio::sync::watch;

use super::{Alert, Store, StoreError};
use crate::domain::MonitorId;

/// The outbox as an alert sender sees it.
#[derive(Clone)]
pub struct Outbox(Store);

impl Outbox {
    /// Chats `bot` has pending alerts for (no row is read).
    pub fn chats(&self, bot: &str) -> Vec<i64> {
        self.0.outbox_chats(bot)
    }

    /// Pending alerts of `bot` for `chat`, oldest first, with their keys.
    pub fn for_chat(&self, bot: &str, chat: i64) -> Result<Vec<(u64, Alert)>, StoreError> {
        self.0.outbox_for_chat(bot, chat)
    }

    /// Removes delivered (or folded) alerts, flushed before it returns.
    pub async fn remove(&self, keys: &[u64]) -> Result<(), StoreError> {
        self.0.outbox_remove(keys).await
    }

    /// Drops every pending alert of `bot` for `chat`; returns how many.
    pub async fn drop_chat(&self, bot: &str, chat: i64) -> Result<usize, StoreError> {
        self.0.outbox_drop_chat(bot, chat).await
    }

    /// Moves every pending alert for chat `old` to `new`; returns how many.
    pub async fn rechat(&self, old: i64, new: i64) -> Result<usize, StoreError> {
        self.0.outbox_rechat(old, new).await
    }

    /// Changes whenever alerts enter the outbox.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.0.outbox_watch()
    }

    /// Number of alerts waiting.
    pub fn len(&self) -> usize {
        self.0.outbox_len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Err(why)` while the store cannot write, so a delivery could not be recorded.
    pub fn write_health(&self) -> Result<(), String> {
        self.0.write_health()
    }
}

/// Chats allowed implicitly (an operator named them), beside the configured list.
#[derive(Clone)]
pub struct AllowList(Store);

impl AllowList {
    /// Whether `chat` was allowed implicitly.
    pub fn contains(&self, chat: i64) -> Result<bool, StoreError> {
        self.0.chat_allowed(chat)
    }

    /// Allows `chat`, durably.
    pub async fn allow(&self, chat: i64) -> Result<(), StoreError> {
        self.0.allow_chat(chat).await
    }
}

/// Standard Webhooks ids already used, per monitor (replay protection that survives a
/// restart; the tree is described in `store/replay.rs`).
#[derive(Clone)]
pub struct WebhookIds(Store);

impl WebhookIds {
    /// Whether `msg_id` was already accepted for `monitor` and is still in its window.
    pub fn seen(&self, monitor: MonitorId, msg_id: &str, now_s: u64) -> Result<bool, StoreError> {
        self.0.webhook_id_seen(monitor, msg_id, now_s)
    }

    /// Records `msg_id` until `expires`; `false` when it is a replay (atomic).
    pub fn first_use(&self, monitor: MonitorId, msg_id: &str, expires: u64, now_s: u64) -> Result<bool, StoreError> {
        self.0.webhook_id_first_use(monitor, msg_id, expires, now_s)
    }

    /// Forgets `msg_id` (its request was not applied after all).
    pub fn forget(&self, monitor: MonitorId, msg_id: &str) -> Result<(), StoreError> {
        self.0.webhook_id_forget(monitor, msg_id)
    }

    /// Removes the ids whose window closed; returns how many.
    pub fn prune(&self, now_s: u64) -> Result<usize, StoreError> {
        self.0.prune_webhook_ids(now_s)
    }

    /// Makes recorded ids durable (when the report itself wrote nothing).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.0.flush().await
    }
}

impl Store {
    /// The outbox handle for alert senders.
    pub fn outbox_handle(&self) -> Outbox {
        Outbox(self.clone())
    }

    /// The implicit allow-list handle.
    pub fn allow_list(&self) -> AllowList {
        AllowList(self.clone())
    }

    /// The webhook-id handle.
    pub fn webhook_ids(&self) -> WebhookIds {
        WebhookIds(self.clone())
    }
}
