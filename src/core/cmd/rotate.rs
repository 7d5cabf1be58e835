//! `rotate`: give a push monitor a new token; its old webhook URLs stop working once
//! this returns.

use super::Selector;
use super::Spec;
use crate::core::error::{CoreError, invalid};
use crate::core::service::{Caller, MonitorView, Service};
use crate::i18n::msg;

/// Help and menu text.
pub const SPEC: Spec = Spec {
    name: "rotate",
    args: "<id>",
    about: "new webhook URLs for a push monitor",
    example: "7",
    modifies: true,
};

pub(crate) async fn run(svc: &Service, caller: &Caller, sel: &Selector) -> Result<MonitorView, CoreError> {
    svc.check_modify(caller)?;
    let _w = svc.lock_writes().await;
    let mut m = svc.resolve(caller, sel)?;
    let before = m.clone();
    let Some(p) = m.push.as_mut() else {
        return Err(invalid(msg!("err-not-push", id = m.id.to_string())));
    };
    p.token = svc.fresh_token();
    let engine = svc.engines().of(m.kind);
    let (health, stats) = svc.halt(&m)?;
    if let Err(e) = svc.store().put_monitor(&m, &health).await {
        engine.upsert(before, health);
        return Err(e.into());
    }
    svc.write_monitors(|all| all.insert(m.id, m.clone()));
    engine.upsert(m.clone(), health.clone());
    tracing::info!(monitor = %m.id, "push token rotated");
    Ok(svc.view(&m, Some((health, stats))))
}
