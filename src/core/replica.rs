//! The core's side of cluster mode: what the cluster layer ([`crate::cluster`]) tells
//! the core through the [`Cluster`] trait (the cluster's verdict on each monitor, what
//! fronts show of its sites, ids from the cluster's counter), and the changes the core
//! applies when another node changed a shared record ([`Service::apply_monitor`] and
//! friends).
//!
//! Applying a remote change follows the same rules as a command: under the write lock,
//! the monitor halted in its engine before its state is read, written through the local
//! store handle (so it is not sent back to the cluster), then handed back. Applying the
//! same record twice (a node hears its own writes) changes nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use super::error::{CoreError, invalid};
use super::service::Service;
use crate::domain::oncall::{ChatSettings, OnCall};
use crate::domain::{Health, Monitor, MonitorId, State, now_ms};
use crate::i18n::{Msg, msg};

/// A boxed future of the cluster layer.
pub type ClusterFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One site's view of a monitor, as fronts show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteView {
    /// The site.
    pub site: String,
    /// Its verdict (`None`: it has not reported one).
    pub state: Option<State>,
    /// Why (its reason for DOWN or DEGRADED).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Whether it is counted: it reported within the last 3 intervals.
    pub reporting: bool,
}

/// What fronts show of a monitor in cluster mode (the `cluster` field of the monitor
/// object).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMonitorView {
    /// Whether this node reaches the cluster; `false`: what it shows may be out of date.
    pub reachable: bool,
    /// How many of the counted sites must agree on DOWN or UP now.
    pub quorum: usize,
    /// Each site that probes it.
    pub sites: Vec<SiteView>,
}

/// One site as `/healthz` and `/metrics` show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteHealth {
    /// The site.
    pub site: String,
    /// Whether its heartbeat is recent (within 3 heartbeats).
    pub reporting: bool,
    /// Its last heartbeat (RFC 3339).
    pub last_seen: String,
    /// How many monitors it sees in each state (its latest verdicts).
    pub verdicts: std::collections::BTreeMap<&'static str, usize>,
}

/// This node in the cluster (`/healthz`'s `cluster`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterHealth {
    /// This node's site.
    pub site: String,
    /// This node (site and a per-process id).
    pub node: String,
    /// `connected` or `unreachable`.
    pub nats: &'static str,
    /// Whether this node holds the leader lease (sends alerts, polls the bots).
    pub leading: bool,
    /// The node that leads, as far as this node knows.
    pub leader: Option<String>,
    /// Every site the cluster knows.
    pub sites: Vec<SiteHealth>,
}

/// What the core asks of the cluster layer (registered with [`Service::set_cluster`]).
pub trait Cluster: Send + Sync + 'static {
    /// The cluster's verdict on `id` (`None`: none yet).
    fn verdict(&self, id: MonitorId) -> Option<Health>;
    /// What fronts show of `m`'s sites.
    fn show(&self, m: &Monitor) -> ClusterMonitorView;
    /// Where the sites are taking the cluster's verdict on `m` (see
    /// [`crate::cluster::quorum::heading`]).
    fn heading(&self, m: &Monitor) -> Option<State>;
    /// The next monitor id, from the cluster's counter.
    fn next_id(&self) -> ClusterFuture<'_, Result<MonitorId, CoreError>>;
    /// Every site known to the cluster.
    fn sites(&self) -> Vec<String>;
    /// Whether this node reaches the cluster.
    fn reachable(&self) -> bool;
    /// This node in the cluster, for `/healthz` and `/metrics`.
    fn health(&self) -> ClusterHealth;
}

impl Service {
    /// Puts the core in cluster mode (once, at start).
    pub fn set_cluster(&self, cluster: Arc<dyn Cluster>) {
        if self.cluster_slot().set(cluster).is_err() {
            tracing::warn!("the core already has a cluster; the second one is ignored");
        }
    }

    /// The cluster layer, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<dyn Cluster>> {
        self.cluster_slot().get()
    }

    /// `sites` and `quorum` of a new monitor: only in cluster mode.
    pub(crate) fn check_sites(&self, m: &Monitor) -> Result<(), CoreError> {
        if self.cluster().is_none() && (!m.sites.is_empty() || m.quorum.is_some()) {
            return Err(invalid(msg!("err-sites-alone")));
        }
        Ok(())
    }

    /// Warnings for a monitor just added: sites the cluster has never heard from.
    pub(crate) fn site_warnings(&self, m: &Monitor) -> Vec<Msg> {
        let Some(c) = self.cluster() else { return Vec::new() };
        let known = c.sites();
        m.sites
            .iter()
            .filter(|s| !known.contains(s))
            .map(|s| msg!("warn-site-unknown", site = s.as_str()))
            .collect()
    }

    /// The state fronts show: the cluster's verdict in cluster mode, else `local`.
    pub(crate) fn shown_health(&self, id: MonitorId, local: Health) -> Health {
        match self.cluster().and_then(|c| c.verdict(id)) {
            // Paused is every node's own (the pause itself is shared).
            Some(v) if local.state != State::Paused => v,
            _ => local,
        }
    }

    /// A new monitor id: from the cluster's counter in cluster mode.
    pub(crate) async fn new_id(&self) -> Result<MonitorId, CoreError> {
        match self.cluster() {
            Some(c) => c.next_id().await,
            None => Ok(self.store().next_id()?),
        }
    }

    /// Another node added or changed monitor `m`: write it here and run it.
    pub async fn apply_monitor(&self, m: Monitor) -> Result<(), CoreError> {
        let _w = self.lock_writes().await;
        if self.is_reserved(m.id) {
            // This node's own `add`, heard back before it committed it.
            return Ok(());
        }
        let old = self.read_monitors(|all| all.get(&m.id).map(|o| Monitor::clone(o)));
        match old {
            Some(old) if old == m => Ok(()),
            None => {
                let h = match self.store().health(m.id)? {
                    Some(h) => h,
                    None if m.paused => Health::new_paused(now_ms()),
                    None => Health::new(now_ms()),
                };
                self.store().local().put_monitor(&m, &h).await?;
                let shared = Arc::new(m.clone());
                self.write_monitors(|all| all.insert(m.id, shared.clone()));
                self.engines().of(m.kind).upsert(shared, h);
                tracing::info!(monitor = %m.id, target = %m.target(), "monitor added on another node");
                Ok(())
            }
            Some(old) => {
                let engine = self.engines().of(old.kind);
                let (mut h, _) = self.halt(&old)?;
                let before = h.clone();
                let now = now_ms();
                let t = match (old.paused, m.paused) {
                    (false, true) => h.pause(now),
                    (true, false) => h.resume(now),
                    _ => None,
                };
                if let Err(e) = self.store().local().put_monitor(&m, &h).await {
                    engine.upsert(Arc::new(old), before);
                    return Err(e.into());
                }
                let shared = Arc::new(m.clone());
                self.write_monitors(|all| all.insert(m.id, shared.clone()));
                self.engines().of(m.kind).upsert(shared, h);
                if let Some(t) = &t {
                    self.publish(&m, t);
                }
                tracing::info!(monitor = %m.id, "monitor changed on another node");
                Ok(())
            }
        }
    }

    /// Another node deleted monitor `id`: forget it here.
    pub async fn apply_delete(&self, id: MonitorId) -> Result<(), CoreError> {
        let _w = self.lock_writes().await;
        let Some(m) = self.read_monitors(|all| all.get(&id).map(|m| Monitor::clone(m))) else {
            return Ok(());
        };
        let engine = self.engines().of(m.kind);
        let live = self.halt(&m)?;
        if let Err(e) = self.store().local().delete_monitor(id).await {
            engine.upsert(Arc::new(m), live.0);
            return Err(e.into());
        }
        engine.remove(id);
        self.write_monitors(|all| all.remove(&id));
        self.forget_oncall_here(id);
        tracing::info!(monitor = %id, "monitor deleted on another node");
        Ok(())
    }

    /// Every monitor id this node holds (the cluster compares them with its own).
    pub fn monitor_ids(&self) -> Vec<MonitorId> {
        self.read_monitors(|all| all.keys().copied().collect())
    }

    /// One monitor.
    pub fn monitor(&self, id: MonitorId) -> Option<Monitor> {
        self.read_monitors(|all| all.get(&id).map(|m| Monitor::clone(m)))
    }

    /// Every monitor this node holds.
    pub fn monitors(&self) -> Vec<Monitor> {
        self.read_monitors(|all| all.values().map(|m| Monitor::clone(m)).collect())
    }

    /// A monitor's health as this node's own engine has it (not the cluster's verdict).
    pub fn site_health(&self, m: &Monitor) -> Health {
        match self.engines().of(m.kind).live(m.id) {
            Some((h, _)) => h,
            None => self
                .store()
                .health(m.id)
                .ok()
                .flatten()
                .unwrap_or_else(|| Health::new(m.created_ms)),
        }
    }

    /// Another node changed a monitor's on-call record (`None`: removed it).
    pub fn apply_oncall(&self, id: MonitorId, rec: Option<OnCall>) -> Result<(), CoreError> {
        self.set_oncall_here(id, rec.unwrap_or_default())
    }

    /// Another node changed a chat's settings (`None`: back to the defaults).
    pub fn apply_chat_settings(&self, chat: i64, s: Option<ChatSettings>) -> Result<(), CoreError> {
        self.set_chat_here(chat, s.unwrap_or_default())
    }
}
