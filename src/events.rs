//! The event stream out of the scheduler: probe results and state changes, plus
//! notices from the fronts (a bot removed from a chat, a group migrated).
//!
//! Separate broadcast channels, so the kinds of event get different guarantees:
//! probe events are plentiful and a slow subscriber may lose some (its receiver
//! reports how many, and fronts pass that on as `events_dropped`); state events are
//! rare and sit in a channel deep enough that a subscriber which reads at all never
//! lags. Publishing never blocks, so no subscriber can stall probing.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use crate::domain::{Monitor, MonitorId, State, Transition};

/// Capacity of the probe channel: a few seconds of 10k probes/s.
pub const PROBE_CAPACITY: usize = 1 << 15;
/// Capacity of the state channel: far more transitions than can happen at once.
pub const STATE_CAPACITY: usize = 1 << 16;

/// One probe result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeEvent {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// Owning chat (for subscription filters).
    #[serde(skip)]
    pub chat_id: Option<i64>,
    /// Whether the probe succeeded.
    pub ok: bool,
    /// Round-trip time of a successful probe, ms.
    pub rtt_ms: Option<f64>,
    /// Failure text of a failed probe.
    pub error: Option<String>,
    /// Requests sent: echo requests for ping (retries included), connect attempts
    /// for tcp; 0 when the probe could not send (DNS, no raw socket).
    pub sent: u8,
    /// Replies received (0 or 1: a probe ends at its first answer).
    pub received: u8,
    /// When the probe finished, ms since the epoch.
    #[serde(skip)]
    pub at_ms: u64,
}

/// One state change of a monitor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateEvent {
    /// The monitor.
    pub monitor_id: MonitorId,
    /// Owning chat.
    pub chat_id: Option<i64>,
    /// Monitor name.
    pub name: String,
    /// Monitor target (`host`, `host:port`).
    pub target: String,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Why.
    pub reason: String,
    /// Whether the owning chat is told (pause/resume and unchanged post-resume verdicts are not).
    pub announce: bool,
    /// On recovery, how long the outage lasted, ms.
    pub down_for_ms: Option<u64>,
    /// When, ms since the epoch.
    #[serde(skip)]
    pub at_ms: u64,
    /// An on-call change this event reports instead of a state change (`ack`, `mute`,
    /// `unmute`, `remind`; `from` and `to` are then the unchanged state); absent for
    /// state changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oncall: Option<&'static str>,
    /// With `oncall`: who acked the current incident.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_by: Option<String>,
    /// With `oncall`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_reason: Option<String>,
    /// With `oncall`: end of the mute holding its alerts (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
}

/// Capacity of the notice channel: notices are rare (one per chat-wide change).
pub const NOTICE_CAPACITY: usize = 1 << 10;

/// What a [`NoticeEvent`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The bot was kicked, blocked or the chat is gone: the chat's monitors of that
    /// bot were paused and their pending alerts dropped.
    BotRemoved,
    /// A group became a supergroup: its monitors moved to `new_chat_id`.
    ChatMigrated,
}

/// Something the operator should know that is not a monitor's state change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoticeEvent {
    /// What happened.
    pub kind: NoticeKind,
    /// Username of the bot concerned.
    pub bot: String,
    /// The chat concerned.
    pub chat_id: i64,
    /// The chat's new id (migrations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_chat_id: Option<i64>,
    /// Monitors affected.
    pub monitor_ids: Vec<MonitorId>,
    /// Human-readable detail (Telegram's error text, …).
    pub message: String,
}

impl StateEvent {
    /// The event for transition `t` of monitor `m`.
    pub fn new(m: &Monitor, t: &Transition) -> Self {
        Self {
            monitor_id: m.id,
            chat_id: m.chat_id,
            name: m.name.clone(),
            target: m.target(),
            from: t.from,
            to: t.to,
            reason: t.reason.clone(),
            announce: t.announce,
            down_for_ms: t.down_for_ms,
            at_ms: t.at_ms,
            oncall: None,
            acked_by: None,
            ack_reason: None,
            muted_until: None,
        }
    }
}

/// Publisher side; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    probe: broadcast::Sender<Arc<ProbeEvent>>,
    state: broadcast::Sender<Arc<StateEvent>>,
    notice: broadcast::Sender<Arc<NoticeEvent>>,
}

/// A subscriber's two receivers.
pub struct Subscription {
    /// Probe results (lossy for slow readers: `RecvError::Lagged(n)`).
    pub probe: broadcast::Receiver<Arc<ProbeEvent>>,
    /// State changes.
    pub state: broadcast::Receiver<Arc<StateEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with the default capacities.
    pub fn new() -> Self {
        Self::with_capacity(PROBE_CAPACITY, STATE_CAPACITY)
    }

    /// A bus with explicit capacities (tests use small ones to provoke lag).
    pub fn with_capacity(probe: usize, state: usize) -> Self {
        Self {
            probe: broadcast::channel(probe).0,
            state: broadcast::channel(state).0,
            notice: broadcast::channel(NOTICE_CAPACITY).0,
        }
    }

    /// Subscribes to notices from now on.
    pub fn subscribe_notices(&self) -> broadcast::Receiver<Arc<NoticeEvent>> {
        self.notice.subscribe()
    }

    /// Publishes a notice; never blocks.
    pub fn notice(&self, ev: NoticeEvent) {
        let _ = self.notice.send(Arc::new(ev));
    }

    /// Subscribes to both streams from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            probe: self.probe.subscribe(),
            state: self.state.subscribe(),
        }
    }

    /// Whether anyone listens to probe events (lets the hot path skip building them).
    pub fn wants_probes(&self) -> bool {
        self.probe.receiver_count() > 0
    }

    /// Publishes a probe result; never blocks.
    pub fn probe(&self, ev: ProbeEvent) {
        let _ = self.probe.send(Arc::new(ev));
    }

    /// Publishes a state change; never blocks.
    pub fn state(&self, ev: StateEvent) {
        let _ = self.state.send(Arc::new(ev));
    }
}
