//! The engines that run monitors, behind one trait: the probe [`Scheduler`] (ping,
//! tcp, http, dns) and the [`Push`] engine (heartbeats and webhook reports). The service picks
//! the engine of a monitor's kind in one place ([`Engines::of`]) and otherwise never
//! branches on the kind.
//!
//! The contract every engine keeps, and why: a command that derives a new state from
//! the live one (pause, resume, migration, bot removal, delete, token rotation) first
//! [`Engine::halt`]s the monitor, so no verdict can land between reading the state and
//! handing the new one back with [`Engine::upsert`] (it would be overwritten, or
//! announced twice).

use std::sync::Arc;

use crate::domain::history::Bucket;
use crate::domain::{Health, Kind, Monitor, MonitorId, ProbeStats};
use crate::push::Push;
use crate::scheduler::Scheduler;

/// What the command core needs from an engine.
pub trait Engine: Send + Sync {
    /// Starts or restarts running `monitor` with `health` as its live state (a paused
    /// monitor is kept, not run). Ends a [`Engine::halt`].
    fn upsert(&self, monitor: Arc<Monitor>, health: Health);
    /// Stops running `id` and forgets it; once this returns nothing more is written or
    /// published for it.
    fn remove(&self, id: MonitorId);
    /// Stops every change of `id`'s state until the next [`Engine::upsert`] or
    /// [`Engine::remove`], and returns that state (`None`: unknown here).
    fn halt(&self, id: MonitorId) -> Option<(Health, ProbeStats)>;
    /// The live state of `id`.
    fn live(&self, id: MonitorId) -> Option<(Health, ProbeStats)>;
    /// The minutes of history `id`'s recorder holds and has not handed to the store
    /// yet, as of `now_ms` (readers lay them over what is stored).
    fn unsaved_history(&self, id: MonitorId, now_ms: u64) -> Vec<(u64, Bucket)>;
    /// Every monitor of this engine, in id order (the periodic save hands over their
    /// history a batch at a time).
    fn history_ids(&self) -> Vec<MonitorId>;
    /// Hands over the history minutes `ids` recorded since the last call.
    fn take_history(&self, ids: &[MonitorId], now_ms: u64) -> Vec<(MonitorId, Vec<(u64, Bucket)>)>;
}

impl Engine for Scheduler {
    fn upsert(&self, monitor: Arc<Monitor>, health: Health) {
        Scheduler::upsert_shared(self, monitor, health);
    }

    fn remove(&self, id: MonitorId) {
        Scheduler::remove(self, id);
    }

    fn halt(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        Scheduler::halt(self, id)
    }

    fn live(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        Scheduler::live(self, id)
    }

    fn unsaved_history(&self, id: MonitorId, now_ms: u64) -> Vec<(u64, Bucket)> {
        Scheduler::unsaved_history(self, id, now_ms)
    }

    fn history_ids(&self) -> Vec<MonitorId> {
        Scheduler::history_ids(self)
    }

    fn take_history(&self, ids: &[MonitorId], now_ms: u64) -> Vec<(MonitorId, Vec<(u64, Bucket)>)> {
        Scheduler::take_history(self, ids, now_ms)
    }
}

/// Push monitors have no probe statistics: their figures are the reports themselves.
impl Engine for Push {
    fn upsert(&self, monitor: Arc<Monitor>, health: Health) {
        Push::upsert(self, Monitor::clone(&monitor), health);
    }

    fn remove(&self, id: MonitorId) {
        Push::remove(self, id);
    }

    fn halt(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        Push::halt(self, id).map(|h| (h, ProbeStats::default()))
    }

    fn live(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        Push::live(self, id).map(|h| (h, ProbeStats::default()))
    }

    fn unsaved_history(&self, id: MonitorId, now_ms: u64) -> Vec<(u64, Bucket)> {
        Push::unsaved_history(self, id, now_ms)
    }

    fn history_ids(&self) -> Vec<MonitorId> {
        Push::history_ids(self)
    }

    fn take_history(&self, ids: &[MonitorId], now_ms: u64) -> Vec<(MonitorId, Vec<(u64, Bucket)>)> {
        Push::take_history(self, ids, now_ms)
    }
}

/// Both engines, and the one place that knows which kind runs where.
#[derive(Clone)]
pub struct Engines {
    /// Ping, tcp, http and dns monitors.
    pub scheduler: Scheduler,
    /// Push monitors.
    pub push: Push,
}

impl Engines {
    /// The probe scheduler as an [`Engine`].
    pub fn scheduler_engine(&self) -> &dyn Engine {
        &self.scheduler
    }

    /// The push engine as an [`Engine`].
    pub fn push_engine(&self) -> &dyn Engine {
        &self.push
    }

    /// The engine that runs monitors of `kind`.
    pub fn of(&self, kind: Kind) -> &dyn Engine {
        match kind {
            Kind::Push => &self.push,
            Kind::Ping | Kind::Tcp | Kind::Http | Kind::Dns => &self.scheduler,
        }
    }
}
