//! Pure domain types and rules: monitors, targets, the debounce state machine, the
//! loss window of ping monitors, probe statistics, the downsampled history, the chat
//! target policy, the one duration format, the on-call decisions (acks, mutes,
//! reminders, parents, storms) and the http and dns settings (`kinds`). Nothing here
//! does I/O, so every rule is unit-testable.

pub mod duration;
pub mod history;
pub mod kinds;
pub mod loss;
pub mod monitor;
pub mod oncall;
pub mod policy;
pub mod state;
pub mod stats;
pub mod target;

pub use kinds::{DnsSettings, HttpSettings, RecordType};
pub use loss::{LossLimit, LossWindow, Packets, PingSettings};
pub use monitor::{Kind, Monitor, MonitorId, PushSettings};
pub use policy::TargetPolicy;
pub use state::{Health, Outcome, State, Transition};
pub use stats::{ProbeStats, StatsSummary};
pub use target::{Target, TargetError};

/// Milliseconds since the Unix epoch, the one clock format we persist.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 rendering (UTC, millisecond precision) of a [`now_ms`]-style timestamp.
pub fn rfc3339(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}
