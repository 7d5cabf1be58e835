//! `status`: one monitor with its figures over the last 24 h, and its uptime over 24 h,
//! 7 days and 30 days from its history.

use super::Selector;
use super::Spec;
use crate::core::error::CoreError;
use crate::core::service::{Caller, Service, StatusView};
use crate::domain::history::{DAY_MS, HOUR_MS, MINUTE_MS};
use crate::domain::now_ms;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "status",
    args: "<id>",
    about: "state, RTT, loss, uptime over 24 h",
    example: "7",
    modifies: false,
};

pub(crate) fn run(svc: &Service, caller: &Caller, sel: &Selector) -> Result<StatusView, CoreError> {
    let m = svc.resolve(caller, sel)?;
    let (health, stats) = svc.live(&m)?;
    let now = now_ms();
    let mut summary = stats.summary(now);
    let day = svc.history(&m, now.saturating_sub(DAY_MS), now, MINUTE_MS, now)?;
    summary.uptime_24h_pct = day.totals().uptime_pct();
    let month = svc.history(&m, now.saturating_sub(30 * DAY_MS), now, HOUR_MS, now)?;
    // The last 7 days: the current (partial) hour and the 168 before it.
    let mut week = crate::domain::history::Bucket::default();
    month.buckets.iter().rev().take(7 * 24 + 1).for_each(|x| week.merge(x));
    summary.uptime_7d_pct = week.uptime_pct();
    summary.uptime_30d_pct = month.totals().uptime_pct();
    Ok(StatusView {
        monitor: svc.view(&m, Some((health, stats))),
        stats: summary,
    })
}
