//! `status`: one monitor with its figures over the last 24 h.

use super::Selector;
use super::Spec;
use crate::core::error::CoreError;
use crate::core::service::{Caller, Service, StatusView};
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
    let summary = stats.summary(now_ms());
    Ok(StatusView {
        monitor: svc.view(&m, Some((health, stats))),
        stats: summary,
    })
}
