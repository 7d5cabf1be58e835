//! `del`: remove a monitor. It stops changing (halted) before the store delete, and
//! stops being run only once the delete is durable: if the delete fails, the monitor
//! is handed back to its engine and keeps running, as the client was told.

use super::Selector;
use super::Spec;
use crate::core::error::CoreError;
use crate::core::service::{Caller, MonitorView, Service};

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "del",
    args: "<id|host>",
    about: "stop watching",
    example: "7",
    modifies: true,
};

pub(crate) async fn run(svc: &Service, caller: &Caller, sel: &Selector) -> Result<MonitorView, CoreError> {
    svc.check_modify(caller)?;
    let _w = svc.lock_writes().await;
    let m = svc.resolve(caller, sel)?;
    let engine = svc.engines().of(m.kind);
    let live = svc.halt(&m)?;
    let view = svc.view(&m, Some(live.clone()));
    if let Err(e) = svc.store().delete_monitor(m.id).await {
        engine.upsert(std::sync::Arc::new(m), live.0);
        return Err(e.into());
    }
    engine.remove(m.id);
    svc.write_monitors(|all| all.remove(&m.id));
    svc.forget_oncall(m.id);
    tracing::info!(monitor = %m.id, "monitor deleted");
    Ok(view)
}
