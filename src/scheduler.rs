//! Probe scheduler (STUB: public API fixed, implementation pending).

use crate::domain::{Health, Monitor, MonitorId, ProbeStats};
use crate::events::EventBus;
use crate::store::Store;

/// What the probe engine could set up at start (logged, shown in README).
#[derive(Debug, Clone)]
pub struct ProbeStatus {
    /// `Ok` or why ICMPv4 is unavailable.
    pub icmp_v4: Result<(), String>,
    /// `Ok` or why ICMPv6 is unavailable.
    pub icmp_v6: Result<(), String>,
}

/// Handle to the scheduler; cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    _store: Store,
    _events: EventBus,
}

impl Scheduler {
    /// Starts the probe engine.
    pub fn start(
        store: Store,
        events: EventBus,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> std::io::Result<Self> {
        let _ = shutdown;
        Ok(Self {
            _store: store,
            _events: events,
        })
    }

    /// What is available.
    pub fn status(&self) -> ProbeStatus {
        ProbeStatus {
            icmp_v4: Ok(()),
            icmp_v6: Ok(()),
        }
    }

    /// Starts, restarts or (if paused) stops probing `monitor`, with `health` as its live state.
    pub fn upsert(&self, monitor: Monitor, health: Health) {
        let _ = (monitor, health);
    }

    /// Stops probing at once and forgets the monitor.
    pub fn remove(&self, id: MonitorId) {
        let _ = id;
    }

    /// Live health and statistics.
    pub fn live(&self, id: MonitorId) -> Option<(Health, ProbeStats)> {
        let _ = id;
        None
    }
}

impl Scheduler {
    /// Stops every probe, saves statistics, and waits for the engine thread to end.
    pub async fn shutdown(&self) {}
}
