//! `pause` and `resume`: stop or start running a monitor without deleting it. The
//! monitor is halted first, so no verdict lands between reading its state and
//! replacing it (it would be lost, or announced twice).

use std::sync::Arc;

use super::Selector;
use super::Spec;
use crate::core::error::CoreError;
use crate::core::service::{Caller, MonitorView, Service};
use crate::domain::now_ms;

/// Help and menu text of `pause`.
pub const PAUSE: Spec = Spec {
    name: "pause",
    args: "<id>",
    about: "stop probing without deleting",
    example: "7",
    modifies: true,
};

/// Help and menu text of `resume`.
pub const RESUME: Spec = Spec {
    name: "resume",
    args: "<id>",
    about: "start probing again",
    example: "7",
    modifies: true,
};

pub(crate) async fn run(svc: &Service, caller: &Caller, sel: &Selector, pause: bool) -> Result<MonitorView, CoreError> {
    svc.check_modify(caller)?;
    let _w = svc.lock_writes().await;
    let mut m = svc.resolve(caller, sel)?;
    let engine = svc.engines().of(m.kind);
    let (mut health, stats) = svc.halt(&m)?;
    let before = (m.clone(), health.clone());
    let now = now_ms();
    let transition = if pause { health.pause(now) } else { health.resume(now) };
    m.paused = pause;
    let Some(t) = &transition else {
        engine.upsert(Arc::new(before.0), before.1);
        return Ok(svc.view(&m, Some((health, stats))));
    };
    if let Err(e) = svc.store().put_monitor(&m, &health).await {
        engine.upsert(Arc::new(before.0), before.1);
        return Err(e.into());
    }
    let shared = Arc::new(m.clone());
    svc.write_monitors(|all| all.insert(m.id, shared.clone()));
    engine.upsert(shared, health.clone());
    svc.publish(&m, t);
    tracing::info!(monitor = %m.id, paused = pause, "monitor {}", if pause { "paused" } else { "resumed" });
    Ok(svc.view(&m, Some((health, stats))))
}
