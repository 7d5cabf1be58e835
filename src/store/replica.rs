//! The store's one seam to cluster mode: the [`Replica`] that mirrors the shared parts
//! of the store (monitors, on-call records, chat settings, bots added through the API,
//! implicitly allowed chats) to the cluster, and takes over the outbox's intake.
//!
//! Without a replica (a node alone) nothing here runs and the store behaves exactly as
//! it always has. With one, every write of a shared record is first checked
//! ([`Replica::ready`]: a node cut off from the cluster refuses at once rather than
//! diverge), then written locally as before (sled stays each node's cache), then handed
//! to the replica in order. The async writers that acknowledge a change
//! (`put_monitor`, `delete_monitor`, …) wait for the replica too; the on-call writes,
//! which the core flushes together, are waited for by [`Store::settle`].
//!
//! Alerts: in cluster mode a site's own state changes queue nothing (the leader's quorum
//! step decides what the chat hears), and every other outbox row (a reminder, an ack
//! made through the API) goes to the cluster's outbox instead of this node's; the
//! leader copies rows into its local outbox ([`Store::outbox_ingest`]) and, once a row
//! is delivered, [`Store::outbox_remove`] tells the replica before the row leaves.
//!
//! Changes that come from the cluster are written through [`Store::local`], a handle
//! that never calls the replica.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{Alert, Store, StoreError};
use crate::domain::MonitorId;

/// A boxed future of the replica.
pub type ReplicaFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A shared record, by kind and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SharedKey {
    /// A monitor record.
    Monitor(MonitorId),
    /// A monitor's on-call record.
    OnCall(MonitorId),
    /// A chat's settings.
    Chat(i64),
    /// A bot added through the API (lower-case username).
    Bot(String),
    /// A chat allowed implicitly.
    Allowed(i64),
}

/// Where the shared parts of the store are mirrored (implemented by the cluster layer).
pub trait Replica: Send + Sync + 'static {
    /// `Err` while the cluster cannot take writes (the write is refused before anything
    /// changes here).
    fn ready(&self) -> Result<(), StoreError>;
    /// Queues the write of a shared record (`None` removes it), after every write
    /// queued before it; returns its place in the queue. `before` is the value it
    /// replaces here (records whose fields change independently, on-call records and
    /// chat settings, are merged field by field when another node wrote first).
    fn put(&self, key: SharedKey, before: Option<Vec<u8>>, value: Option<Vec<u8>>) -> u64;
    /// Queues an outbox row for the cluster's sender; returns its place in the queue.
    fn alert(&self, alert: &Alert) -> u64;
    /// Waits until every write queued up to `upto` (everything queued so far when
    /// `None`) has been taken by the cluster; `Err` if one of them was refused.
    fn settle(&self, upto: Option<u64>) -> ReplicaFuture<'_, Result<(), StoreError>>;
    /// Rows this node delivered (or dropped) that came from the cluster's outbox: the
    /// cluster forgets them before they leave the local outbox.
    fn delivered(&self, rows: Vec<u64>) -> ReplicaFuture<'_, ()>;
}

impl Store {
    /// Mirrors the shared parts of this store (and of every handle cloned from it) to
    /// `replica` from now on. Set once, before the store is used.
    pub fn set_replica(&self, replica: Arc<dyn Replica>) {
        if self.replica.set(replica).is_err() {
            tracing::warn!("the store already has a replica; the second one is ignored");
        }
    }

    /// A handle on the same store that never calls the replica: for writing what came
    /// from the cluster.
    pub fn local(&self) -> Store {
        Store {
            local: true,
            ..self.clone()
        }
    }

    /// The replica, unless this is a local handle or the node runs alone.
    pub(super) fn replica(&self) -> Option<&Arc<dyn Replica>> {
        if self.local { None } else { self.replica.get() }
    }

    /// Whether a replica is set (cluster mode), whatever the handle.
    pub fn replicated(&self) -> bool {
        self.replica.get().is_some()
    }

    /// Waits until every shared write queued so far has reached the cluster (no-op for
    /// a node alone). The core calls it after [`Store::flush`] where it acknowledges
    /// on-call changes.
    pub async fn settle(&self) -> Result<(), StoreError> {
        match self.replica() {
            Some(r) => r.settle(None).await,
            None => Ok(()),
        }
    }

    /// Refuses a shared write while the cluster cannot take it.
    pub(super) fn replica_ready(&self) -> Result<(), StoreError> {
        self.replica().map_or(Ok(()), |r| r.ready())
    }

    /// Hands a shared write to the replica (after the local write); returns its place.
    pub(super) fn replicate(&self, key: SharedKey, value: Option<Vec<u8>>) -> Option<u64> {
        self.replica().map(|r| r.put(key, None, value))
    }

    /// [`Store::replicate`] of a record that replaced `before` here.
    pub(super) fn replicate_over(
        &self,
        key: SharedKey,
        before: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
    ) -> Option<u64> {
        self.replica().map(|r| r.put(key, before, value))
    }

    /// Waits for the replicated writes up to `upto`.
    pub(super) async fn replicated_upto(&self, upto: Option<u64>) -> Result<(), StoreError> {
        match (self.replica(), upto) {
            (Some(r), Some(n)) => r.settle(Some(n)).await,
            _ => Ok(()),
        }
    }
}
