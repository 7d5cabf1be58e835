//! Probe statistics per monitor: hourly buckets over the last 24 h (probes, successes,
//! packets sent and lost, RTT min/sum/max), the last result, and a ping monitor's loss
//! window ([`LossWindow`]). Kept in memory by the scheduler and saved
//! periodically, so the hot path never writes to disk.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::loss::{LossWindow, Packets};

const HOUR_MS: u64 = 3_600_000;
const BUCKETS: usize = 24;

/// One hour of results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Start of the hour, ms since the epoch.
    pub hour_ms: u64,
    /// Probes made.
    pub probes: u32,
    /// Probes that succeeded.
    pub ok: u32,
    /// Sum of successful RTTs, µs.
    pub rtt_sum_us: u64,
    /// Smallest successful RTT, µs.
    pub rtt_min_us: u64,
    /// Largest successful RTT, µs.
    pub rtt_max_us: u64,
    /// Requests sent (echo requests, connect attempts; retries included).
    #[serde(default)]
    pub sent: u32,
    /// Requests that went unanswered ([`Packets::lost`]).
    #[serde(default)]
    pub lost: u32,
}

/// Rolling statistics of one monitor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeStats {
    /// Hourly buckets, oldest first, at most 24.
    pub buckets: VecDeque<Bucket>,
    /// RTT of the last successful probe, µs.
    pub last_rtt_us: Option<u64>,
    /// Error text of the last probe, if it failed.
    pub last_error: Option<String>,
    /// When the last probe finished, ms since the epoch.
    pub last_probe_ms: Option<u64>,
    /// Ping monitors: packet loss over the last probes (kept here so it is saved and
    /// restored with the rest).
    #[serde(default)]
    pub loss: LossWindow,
}

/// Figures over the last 24 h, as shown by `/status` and the WS `status` reply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatsSummary {
    /// Probes made.
    pub probes: u64,
    /// Probes that failed, as a percentage.
    pub loss_pct: f64,
    /// Successful probes, as a percentage (100 − `loss_pct`).
    pub uptime_pct: f64,
    /// Uptime over the last 24 h from the history: the share of the time with a verdict
    /// that was not DOWN (`None`: nothing known yet).
    pub uptime_24h_pct: Option<f64>,
    /// The same over the last 7 days.
    pub uptime_7d_pct: Option<f64>,
    /// The same over the last 30 days.
    pub uptime_30d_pct: Option<f64>,
    /// RTT minimum, ms.
    pub rtt_min_ms: Option<f64>,
    /// RTT average, ms.
    pub rtt_avg_ms: Option<f64>,
    /// RTT maximum, ms.
    pub rtt_max_ms: Option<f64>,
    /// Requests sent (echo requests for ping, retries included).
    pub packets_sent: u64,
    /// Requests that went unanswered.
    pub packets_lost: u64,
}

impl ProbeStats {
    /// Records one probe result at `now_ms`: its RTT or error, and the `sent`
    /// requests with what became of them.
    pub fn record(&mut self, now_ms: u64, rtt_us: Option<u64>, error: Option<String>, sent: u8, packets: Packets) {
        let hour = now_ms - now_ms % HOUR_MS;
        if self.buckets.back().is_none_or(|b| b.hour_ms != hour) {
            self.buckets.push_back(Bucket {
                hour_ms: hour,
                ..Bucket::default()
            });
            while self.buckets.len() > BUCKETS {
                self.buckets.pop_front();
            }
        }
        if let Some(b) = self.buckets.back_mut() {
            b.probes = b.probes.saturating_add(1);
            b.sent = b.sent.saturating_add(u32::from(sent));
            b.lost = b.lost.saturating_add(u32::from(packets.lost));
            if let Some(rtt) = rtt_us {
                b.rtt_min_us = if b.ok == 0 { rtt } else { b.rtt_min_us.min(rtt) };
                b.rtt_max_us = b.rtt_max_us.max(rtt);
                b.rtt_sum_us = b.rtt_sum_us.saturating_add(rtt);
                b.ok = b.ok.saturating_add(1);
            }
        }
        if rtt_us.is_some() {
            self.last_rtt_us = rtt_us;
        }
        self.last_error = error;
        self.last_probe_ms = Some(now_ms);
    }

    /// Summary over the buckets of the last 24 h before `now_ms`.
    pub fn summary(&self, now_ms: u64) -> StatsSummary {
        let horizon = now_ms.saturating_sub(BUCKETS as u64 * HOUR_MS);
        let (mut probes, mut ok, mut sum) = (0u64, 0u64, 0u64);
        let (mut sent, mut lost) = (0u64, 0u64);
        let (mut min, mut max) = (u64::MAX, 0u64);
        for b in self.buckets.iter().filter(|b| b.hour_ms + HOUR_MS > horizon) {
            probes += u64::from(b.probes);
            ok += u64::from(b.ok);
            sum += b.rtt_sum_us;
            sent += u64::from(b.sent);
            lost += u64::from(b.lost);
            if b.ok > 0 {
                min = min.min(b.rtt_min_us);
                max = max.max(b.rtt_max_us);
            }
        }
        let pct = |n: u64| {
            if probes == 0 {
                0.0
            } else {
                n as f64 * 100.0 / probes as f64
            }
        };
        let ms = |us: u64| us as f64 / 1000.0;
        StatsSummary {
            probes,
            loss_pct: pct(probes - ok),
            uptime_pct: pct(ok),
            uptime_24h_pct: None,
            uptime_7d_pct: None,
            uptime_30d_pct: None,
            rtt_min_ms: (ok > 0).then(|| ms(min)),
            rtt_avg_ms: (ok > 0).then(|| sum as f64 / ok as f64 / 1000.0),
            rtt_max_ms: (ok > 0).then(|| ms(max)),
            packets_sent: sent,
            packets_lost: lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_loss_and_rtt() {
        let mut s = ProbeStats::default();
        let t0 = 10 * HOUR_MS;
        let ok = Packets {
            lost: 0,
            received: true,
        };
        s.record(t0, Some(1000), None, 1, ok);
        s.record(
            t0 + 1,
            Some(3000),
            None,
            2,
            Packets {
                lost: 1,
                received: true,
            },
        );
        s.record(
            t0 + 2,
            None,
            Some("timeout".into()),
            3,
            Packets {
                lost: 3,
                received: false,
            },
        );
        s.record(t0 + 3, Some(2000), None, 1, ok);
        let sum = s.summary(t0 + 4);
        assert_eq!(sum.probes, 4);
        assert_eq!(sum.loss_pct, 25.0);
        assert_eq!(sum.uptime_pct, 75.0);
        assert_eq!(
            (sum.rtt_min_ms, sum.rtt_avg_ms, sum.rtt_max_ms),
            (Some(1.0), Some(2.0), Some(3.0))
        );
        assert_eq!((sum.packets_sent, sum.packets_lost), (7, 4));
        assert_eq!(s.last_rtt_us, Some(2000));
        assert_eq!(s.last_error, None);
    }

    #[test]
    fn old_hours_fall_out() {
        let mut s = ProbeStats::default();
        for h in 0..30 {
            s.record(h * HOUR_MS, None, Some("x".into()), 1, Packets::default());
        }
        assert_eq!(s.buckets.len(), BUCKETS);
        s.record(
            30 * HOUR_MS,
            Some(5),
            None,
            1,
            Packets {
                lost: 0,
                received: true,
            },
        );
        let sum = s.summary(30 * HOUR_MS);
        assert_eq!(sum.probes, 24); // hours 7..=30
        assert_eq!(s.summary(100 * HOUR_MS).probes, 0);
    }

    #[test]
    fn statistics_saved_before_packets_were_counted_still_load() {
        let old = r#"{"buckets":[{"hour_ms":0,"probes":3,"ok":2,"rtt_sum_us":5,"rtt_min_us":2,"rtt_max_us":3}],"last_rtt_us":3,"last_error":null,"last_probe_ms":1}"#;
        let s: ProbeStats = serde_json::from_str(old).unwrap();
        let sum = s.summary(1);
        assert_eq!((sum.probes, sum.packets_sent, sum.packets_lost), (3, 0, 0));
        assert_eq!(s.loss, LossWindow::default());
    }
}
